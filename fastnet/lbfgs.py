"""Training with L-BFGS: SciPy's L-BFGS-B on the kernels' full-batch loss and
gradient, on the same problem scikit-learn hands it.

Each gradient is taken in slices of samples (fastnet/slicing.py), so that
Ctrl-C stops a long evaluation promptly: the model then goes back to its
weights before the call and the fit warns and returns, as the stochastic
solvers do.  A non-finite solution also goes back, and raises.
"""
import warnings

import numpy as np
import scipy
import scipy.optimize
from sklearn.utils.optimize import _check_optimize_result

from .checkpoint import Checkpoint
from .progress import Progress, shows_lines
from .samples import to_samples
from .slicing import Slicer
from .threads import single_threaded_blas
from .training import Diverged


class LbfgsSolver:
    """The 'lbfgs' solver of BaseNetwork (see fastnet/network.py)."""

    def _fit_lbfgs(self, X, Y, sample_weight):
        """Minimise the full-batch loss from the current weights."""
        samples = to_samples(X, self._params.dtype, Y, sample_weight)
        self._minimize_lbfgs(_FullBatch(self, samples), samples.n_samples,
                             uses_blas=not samples.is_sparse)

    def _minimize_lbfgs(self, loss_grad, n_samples, uses_blas, max_iter=None):
        """Run SciPy's L-BFGS-B on ``loss_grad`` (packed parameters to loss
        and packed gradient: a _FullBatch, or fastnet/dask.py's objective
        over blocks on a cluster) from the current weights.

        The parameter vector is packed in scikit-learn's order (all coefs_
        row-major as (n_in, n_out), then all intercepts_), so that L-BFGS
        sees the very same problem.
        """
        max_iter = self.max_iter if max_iter is None else max_iter
        iprint = 1 if self.verbose is True or self.verbose >= 1 else -1
        options = {"maxfun": self.max_fun, "maxiter": max_iter, "gtol": self.tol}
        if tuple(int(v) for v in scipy.__version__.split(".")[:2]) < (1, 15):
            options["iprint"] = iprint
        checkpoint = Checkpoint(self)
        # the progress bar (verbose=True) counts iterations; scikit-learn's
        # lines for L-BFGS are SciPy's own (iprint)
        progress = Progress(self.verbose if not shows_lines(self.verbose) else False,
                            max_iter, unit="iteration")

        def on_iteration(intermediate_result):   # SciPy passes its state by this name
            progress.epoch_end(progress.iterations + 1, intermediate_result.fun)

        with single_threaded_blas(uses_blas):
            try:
                result = scipy.optimize.minimize(
                    loss_grad, self._layout.pack(self._params), method="L-BFGS-B",
                    jac=True, options=options,
                    callback=on_iteration if progress.bar is not None else None)
            except KeyboardInterrupt:
                checkpoint.restore()
                warnings.warn("Training interrupted by user.")
                return
            finally:
                progress.close()
        if not (np.isfinite(result.fun) and np.all(np.isfinite(result.x))):
            checkpoint.restore()
            raise Diverged(None, 0, n_samples, n_samples, 0)
        self.n_iter_ = _check_optimize_result("lbfgs", result, max_iter)
        self.loss_ = result.fun
        if self.dtype is None:
            # scikit-learn's coefs_ become scipy's float64 solution, also
            # after training in float32 on float32 X
            self._params = self._params.astype(np.float64, copy=False)
        self._layout.unpack(result.x, self._params)


class _FullBatch:
    """L-BFGS's objective: (loss, gradient) at a packed parameter vector."""

    def __init__(self, estimator, samples):
        self.est, self.samples = estimator, samples
        self.plan = estimator._kernel_plan()
        self.grad = np.empty_like(estimator._params)
        self.weight_sum = samples.weight_sum()
        # dense gradients run in chunks of GRADIENT_CHUNK_ROWS samples, so
        # slices start on chunk boundaries to sum in the same order
        granularity = 1 if samples.is_sparse else estimator._kernel_chunk_rows()
        self.slicer = Slicer(granularity, 4.0 * estimator._layout.n_params)

    def __call__(self, packed):
        est, layout = self.est, self.est._layout
        layout.unpack(packed, est._params)
        self.grad[:] = 0
        loss_sum = 0.0
        for start, stop in self.slicer.slices(self.samples.n_samples):
            loss_sum = self.plan.add_gradient(est._params, self.grad, self.samples, start,
                                              stop, loss_sum)
        loss = self.plan.finish_gradient(est._params, self.grad, loss_sum, self.weight_sum)
        return loss, layout.pack(self.grad)
