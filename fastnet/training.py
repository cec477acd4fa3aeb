"""Training with the stochastic solvers ('sgd', 'adam'): scikit-learn's epoch
loop around one kernel call per epoch.

Everything here happens once per epoch, in scikit-learn's order and with its
random-number calls, so the same seed gives the same split and shuffles: the
early-stopping split, the per-epoch permutation, the learning-rate schedule,
the stopping rules and the restoring of the best weights.
"""
import contextlib
import functools
import warnings

import numpy as np
from sklearn.base import is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import shuffle
from threadpoolctl import ThreadpoolController

from .optimizers import make_optimizer
from .samples import to_samples


@functools.lru_cache(maxsize=1)
def _blas_controller():
    """One threadpoolctl controller, made on first use (after the kernels
    loaded SciPy's BLAS): creating one per fit costs half a millisecond."""
    return ThreadpoolController()


def single_threaded_blas(uses_blas):
    """Run the minibatch path's GEMMs on one BLAS thread.

    Multithreaded BLAS may split a sum differently for other thread counts;
    one thread keeps results bit-identical for any n_jobs (the kernels share
    wide GEMMs among their own threads in fixed slices instead).
    """
    if uses_blas:
        return _blas_controller().limit(limits=1, user_api="blas")
    return contextlib.nullcontext()


class StochasticSolver:
    """The stochastic solvers of BaseNetwork (see fastnet/network.py)."""

    def _fit_stochastic(self, X, Y, sample_weight, incremental):
        if not incremental or not hasattr(self, "_optimizer"):
            self._optimizer = make_optimizer(self, self._params)
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        X_train, Y_train, sw_train, validation = self._split_validation(X, Y, sample_weight)
        n_samples = X_train.shape[0]
        batch_size = self._batch_size(n_samples)
        samples = to_samples(X_train, self._params.dtype, Y_train, sw_train)
        if self._zero_weight_batch_raises and sw_train is not None:
            batch_starts = np.arange(0, n_samples, batch_size)
            check = lambda order: np.all(np.add.reduceat(sw_train[order], batch_starts))
        else:
            check = None

        def epoch(order):
            """One kernel call: the whole epoch, visiting samples in `order`."""
            if check is not None and not check(order):
                raise ZeroDivisionError("Weights sum to zero, can't be normalized")
            first, second = self._optimizer.moments()
            total, steps = self._kernel_plan().train_epoch(
                self._params, first, second, samples, order, batch_size,
                self._optimizer.kernel_step())
            self._optimizer.steps_taken(steps)
            return total

        self.n_iter_ = 0
        with single_threaded_blas(batch_size > 1 and not samples.is_sparse):
            self._run_epochs(epoch, n_samples, validation, incremental)
        if validation is not None:
            self._params[...] = self._best_params

    def _split_validation(self, X, Y, sample_weight):
        """(X, Y, sample_weight) to train on and the held-out validation set
        (None without early stopping), split as scikit-learn splits: stratified
        for single-output classifiers."""
        if not self.early_stopping:
            return X, Y, sample_weight, None
        stratify = Y if is_classifier(self) and self.n_outputs_ == 1 else None
        arrays = (X, Y) if sample_weight is None else (X, Y, sample_weight)
        parts = train_test_split(*arrays, random_state=self._random_state,
                                 test_size=self.validation_fraction, stratify=stratify)
        X_train, X_val, Y_train, Y_val = parts[:4]
        sw_train, sw_val = (parts[4], parts[5]) if sample_weight is not None else (None, None)
        if X_val.shape[0] < 2:
            raise ValueError("The validation set is too small. Increase "
                             "'validation_fraction' or the size of your dataset.")
        return X_train, Y_train, sw_train, (X_val, self._decode_targets(Y_val), sw_val)

    def _batch_size(self, n_samples):
        if self.batch_size == "auto":
            return min(200, n_samples)
        if self.batch_size == "full":
            return n_samples
        if self.batch_size > n_samples:
            warnings.warn("Got `batch_size` less than 1 or larger than "
                          "sample size. It is going to be clipped")
        return int(np.clip(self.batch_size, 1, n_samples))

    def _run_epochs(self, epoch, n_samples, validation, incremental):
        """scikit-learn's epoch loop: shuffle, one kernel call, bookkeeping, stopping."""
        sample_idx = np.arange(n_samples, dtype=int)
        for _ in range(self.max_iter):
            if self.shuffle:
                # shuffle the previous permutation, as scikit-learn does
                sample_idx = shuffle(sample_idx, random_state=self._random_state)
            total = epoch(np.ascontiguousarray(sample_idx, dtype=np.intp))
            self.n_iter_ += 1
            self.loss_ = total / n_samples
            self.t_ += n_samples
            self.loss_curve_.append(self.loss_)
            if self.verbose:
                print("Iteration %d, loss = %.8f" % (self.n_iter_, self.loss_))
            self._update_no_improvement_count(validation)
            self._optimizer.iteration_ends(self.t_)
            if self._no_improvement_count > self.n_iter_no_change:
                if self._optimizer.trigger_stopping(self._stall_message(validation),
                                                    self.verbose):
                    break
                self._no_improvement_count = 0
            if incremental:
                break
            if self.n_iter_ == self.max_iter:
                warnings.warn(
                    "Stochastic Optimizer: Maximum iterations (%d) reached and the "
                    "optimization hasn't converged yet." % self.max_iter,
                    ConvergenceWarning,
                )

    def _stall_message(self, validation):
        what = "Validation score" if validation is not None else "Training loss"
        return ("%s did not improve more than tol=%f for %d consecutive epochs."
                % (what, self.tol, self.n_iter_no_change))

    def _update_no_improvement_count(self, validation):
        """scikit-learn's rule: count epochs whose validation score (early
        stopping) or training loss did not improve by tol; keep the best."""
        if validation is not None:
            score = self._score(*validation)
            self.validation_scores_.append(score)
            if self.verbose:
                print("Validation score: %f" % score)
            if score < self.best_validation_score_ + self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if score > self.best_validation_score_:
                self.best_validation_score_ = score
                self._best_params = self._params.copy()
        else:
            if self.loss_curve_[-1] > self.best_loss_ - self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if self.loss_curve_[-1] < self.best_loss_:
                self.best_loss_ = self.loss_curve_[-1]
