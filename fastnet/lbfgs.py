"""Training with L-BFGS: SciPy's L-BFGS-B on the kernels' full-batch loss and
gradient, on the same problem scikit-learn hands it."""
import numpy as np
import scipy
import scipy.optimize
from sklearn.utils.optimize import _check_optimize_result

from .samples import to_samples
from .training import single_threaded_blas


class LbfgsSolver:
    """The 'lbfgs' solver of BaseNetwork (see fastnet/network.py)."""

    def _fit_lbfgs(self, X, Y, sample_weight):
        """Minimise the full-batch loss from the current weights.

        The parameter vector is packed in scikit-learn's order (all coefs_
        row-major as (n_in, n_out), then all intercepts_), so that L-BFGS
        sees the very same problem.
        """
        layout, plan = self._layout, self._kernel_plan()
        samples = to_samples(X, self._params.dtype, Y, sample_weight)
        grad = np.empty_like(self._params)

        def loss_grad(packed):
            layout.unpack(packed, self._params)
            loss = plan.loss_and_gradient(self._params, grad, samples)
            return loss, layout.pack(grad)

        iprint = 1 if self.verbose is True or self.verbose >= 1 else -1
        options = {"maxfun": self.max_fun, "maxiter": self.max_iter, "gtol": self.tol}
        if tuple(int(v) for v in scipy.__version__.split(".")[:2]) < (1, 15):
            options["iprint"] = iprint
        with single_threaded_blas(not samples.is_sparse):
            result = scipy.optimize.minimize(loss_grad, layout.pack(self._params),
                                             method="L-BFGS-B", jac=True, options=options)
        self.n_iter_ = _check_optimize_result("lbfgs", result, self.max_iter)
        self.loss_ = result.fun
        if self.dtype is None:
            # scikit-learn's coefs_ become scipy's float64 solution, also
            # after training in float32 on float32 X
            self._params = self._params.astype(np.float64, copy=False)
        layout.unpack(result.x, self._params)
