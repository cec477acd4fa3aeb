"""Training with the stochastic solvers ('sgd', 'adam'): scikit-learn's epoch
loop around the kernels.

Everything here happens once per epoch, in scikit-learn's order and with its
random-number calls, so the same seed gives the same split and shuffles: the
early-stopping split, the per-epoch permutation, the learning-rate schedule,
the stopping rules and the restoring of the best weights.

An epoch runs in kernel calls of about a tenth of a second (fastnet/slicing.py),
and the kernels' loop runs Python's signal handlers every few hundredths of a
second (fastnet/_kernels/epoch.pxi).  On Ctrl-C training stops, warns
"Training interrupted by user." as scikit-learn does, and returns the model
as the last completed epoch left it.  A batch whose loss is not finite stops the
epoch before its step; the model goes back to the last finite point and the
estimator raises a DivergenceError (fastnet/network.py).
"""
import warnings

import numpy as np
from sklearn.base import is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from .checkpoint import Checkpoint
from .exceptions import DeadUnitsWarning
from .optimizers import make_optimizer
from .progress import Progress
from .samples import to_samples
from .slicing import Slicer
from .threads import single_threaded_blas

# Dead ReLU layers are judged over at least this many samples (one epoch of
# fit, or several partial_fit calls): a small batch may leave a small layer
# silent without anything being wrong.
DEAD_LAYER_MIN_SAMPLES = 100


def _shuffled(indices, random_state):
    """``sklearn.utils.shuffle(indices, random_state=random_state)`` written
    out: the same call of the same RandomState (shuffling the previous
    permutation, as scikit-learn's MLP does), without its validation."""
    order = np.arange(len(indices))
    random_state.shuffle(order)
    return indices[order]


class Diverged(Exception):
    """Training met a non-finite loss (or weights) at ``sample`` of ``n`` in
    epoch ``epoch``; the model is back at the last finite point, after
    ``completed`` epochs of this call."""

    def __init__(self, epoch, sample, n, batch_size, completed, by_loss=True):
        super().__init__(epoch, sample)
        self.epoch, self.sample, self.n, self.batch_size = epoch, sample, n, batch_size
        self.completed, self.by_loss = completed, by_loss

    def explain(self, sentence, refitted, learning_rate_init):
        """The DivergenceError's message: ``sentence``, where training
        diverged, what the model holds now, and what to do."""
        if self.epoch is None:
            where = "in L-BFGS"
        elif self.by_loss:
            where = f"in epoch {self.epoch} at sample {self.sample + 1} of {self.n}"
            if self.batch_size > 1:
                where += f" (batch {self.sample // self.batch_size + 1})"
        else:
            where = f"in epoch {self.epoch}, within its first {self.sample} samples"
        if refitted:
            now = "the model is left as it was before this call"
        elif self.completed:
            now = f"the model is back at the end of epoch {self.completed}"
        else:
            now = "the model is back at its state before this call"
        return (f"{sentence} The loss or the weights became non-finite {where}; {now}. "
                "Scale X and y, e.g. with StandardScaler and TransformedTargetRegressor, "
                f"or lower learning_rate_init (now {learning_rate_init}).")


class _Epochs:
    """The kernel side of one fit/partial_fit call: runs epochs over the
    samples, shuffled as scikit-learn shuffles them, slice by slice.

    The epoch loop (``StochasticSolver._run_epochs``) asks an object like
    this one for ``n_samples``, ``run(progress)`` and ``dead_layers()``;
    fastnet/dask.py plugs in one that streams blocks of a larger data set.
    """

    def __init__(self, estimator, samples, batch_size, sample_weight):
        self.est, self.samples, self.batch_size = estimator, samples, batch_size
        self.plan = estimator._kernel_plan()
        self.slicer = Slicer(batch_size, 6.0 * estimator._layout.n_params)
        self.sample_weight = sample_weight
        self.n_samples = samples.n_samples
        self._sample_idx = np.arange(self.n_samples, dtype=int)

    def run(self, progress):
        """Train one epoch; returns its loss sum (T.5), or raises Diverged."""
        if self.est.shuffle:
            self._sample_idx = _shuffled(self._sample_idx, self.est._random_state)
        order = np.ascontiguousarray(self._sample_idx, dtype=np.intp)
        self.check_batch_weights(self.sample_weight, order)
        return self.train(self.samples, order, 0.0, 0, progress)

    def check_batch_weights(self, sample_weight, order):
        """scikit-learn's ZeroDivisionError for a batch whose weights sum to
        zero (the drop-ins; Network's kernels skip such a batch)."""
        if (self.est._zero_weight_batch_raises and sample_weight is not None
                and not np.all(np.add.reduceat(sample_weight[order],
                                               np.arange(0, len(order), self.batch_size)))):
            raise ZeroDivisionError("Weights sum to zero, can't be normalized")

    def train(self, samples, order, loss_sum, offset, progress):
        """Train on ``samples`` in ``order``, positions ``offset`` onwards of
        the epoch's n_samples; returns loss_sum with their batches' added."""
        est, optimizer = self.est, self.est._optimizer
        first, second = optimizer.moments()
        for start, stop in self.slicer.slices(len(order)):
            loss_sum, steps, done, diverged = self.plan.train_epoch(
                est._params, first, second, samples, order[start:stop],
                self.batch_size, optimizer.kernel_step(), loss_sum)
            optimizer.steps_taken(steps)
            if diverged:
                raise Diverged(est.n_iter_ + 1, offset + start + done, self.n_samples,
                               self.batch_size, est.n_iter_, by_loss=done < stop - start)
            progress.within_epoch(est.n_iter_, (offset + stop) / self.n_samples)
        return loss_sum

    def dead_layers(self):
        return dead_layers(self.est, self.plan)


def dead_layers(estimator, plan):
    """Hidden ReLU layers none of whose units fired on the samples ``plan``
    trained since the last look (when they are enough to judge)."""
    if not estimator._warns_dead_units or plan.activity_samples < DEAD_LAYER_MIN_SAMPLES:
        return []
    dead = plan.dead_layers()
    plan.reset_activity()
    return dead


class HeldOut:
    """The early-stopping validation set held in memory."""

    def __init__(self, X, y, sample_weight):
        self.X, self.y, self.sample_weight = X, y, sample_weight

    def score(self, estimator):
        """The estimator's validation score on it (accuracy or R^2)."""
        return estimator._score(self.X, self.y, self.sample_weight)


class StochasticSolver:
    """The stochastic solvers of BaseNetwork (see fastnet/network.py)."""

    def _fit_stochastic(self, X, Y, sample_weight, incremental):
        self._start_optimizer(incremental)
        X_train, Y_train, sw_train, validation = self._split_validation(X, Y, sample_weight)
        samples = to_samples(X_train, self._params.dtype, Y_train, sw_train)
        self._train_samples(samples, sw_train, validation, incremental)

    def _train_samples(self, samples, sample_weight, validation, incremental):
        """The epochs of a fit or partial_fit call on ``samples`` (a
        kernels.Samples), with the optimizer and records ready; partial_fit's
        fast path (fastnet/online.py) starts here."""
        batch_size = self._batch_size(samples.n_samples)
        self._train_epochs(_Epochs(self, samples, batch_size, sample_weight), validation,
                           incremental, uses_blas=batch_size > 1 and not samples.is_sparse)

    def _start_optimizer(self, incremental):
        """A new optimizer (or the last call's, for partial_fit) and the
        training records."""
        if not incremental or not hasattr(self, "_optimizer"):
            self._optimizer = make_optimizer(self, self._params)
        else:   # L-BFGS may have turned the weights into float64 since
            self._optimizer.to_dtype(self._params.dtype)
        self._start_records(fresh=False)
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")

    def _train_epochs(self, epochs, validation, incremental, uses_blas, max_iter=None):
        """Run the epoch loop over ``epochs`` (an _Epochs or an object with
        its interface) with the checkpoint, progress display, Ctrl-C and
        divergence handling of every fit; ``validation`` scores the
        early-stopping set (a HeldOut or an object with its ``score``)."""
        max_iter = self.max_iter if max_iter is None else max_iter
        checkpoint = self._checkpoint()
        progress = Progress(self.verbose, max_iter, incremental)
        self.n_iter_ = 0
        with single_threaded_blas(uses_blas):
            try:
                self._run_epochs(epochs, validation, incremental, checkpoint, progress,
                                 max_iter)
            except KeyboardInterrupt:
                checkpoint.restore()
                warnings.warn("Training interrupted by user.")
            except Diverged:
                checkpoint.restore()
                if validation is None or not self._early_stopping_outlives_divergence:
                    raise
                self._record_diverged_epoch(epochs.n_samples)
            finally:
                progress.close()
        if validation is not None:
            self._params[...] = self._best_params

    def _record_diverged_epoch(self, n_samples):
        """scikit-learn's MLP with early stopping trains on through a diverged
        epoch (its loss and validation score NaN) and keeps its best weights:
        the drop-ins stop there, with those records, and keep them too."""
        self.n_iter_ += 1
        self.t_ += n_samples
        self.loss_ = np.nan
        self.loss_curve_.append(np.nan)
        self.validation_scores_.append(np.nan)

    def _start_records(self, fresh):
        """The stochastic solvers' training records, as scikit-learn's
        _initialize makes them: all new (fresh), or those a model fitted
        with another solver or early-stopping setting lacks."""
        if fresh or not hasattr(self, "loss_curve_"):
            self.loss_curve_ = []
            self._no_improvement_count = 0
        if self.early_stopping and (fresh or getattr(self, "validation_scores_", None) is None):
            self.validation_scores_ = []
            self.best_validation_score_ = -np.inf
            self.best_loss_ = None
        elif not self.early_stopping and (fresh or getattr(self, "best_loss_", None) is None):
            self.best_loss_ = np.inf
            self.validation_scores_ = None
            self.best_validation_score_ = None

    def _checkpoint(self):
        """A Checkpoint of the state before this call; its copies are kept
        between calls (a stream of one-row partial_fit calls reuses them)."""
        checkpoint = self.__dict__.get("_saved")
        if checkpoint is not None and checkpoint.watches(self, self._optimizer):
            checkpoint.save()
        else:
            checkpoint = self._saved = Checkpoint(self, self._optimizer)
        return checkpoint

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
        return X_train, Y_train, sw_train, HeldOut(X_val, self._decode_targets(Y_val), sw_val)

    def _batch_size(self, n_samples):
        if self.batch_size == "auto":
            return min(200, n_samples)
        if self.batch_size == "full":
            return n_samples
        if self.batch_size > n_samples:
            warnings.warn("Got `batch_size` less than 1 or larger than "
                          "sample size. It is going to be clipped")
        return int(min(max(self.batch_size, 1), n_samples))

    def _run_epochs(self, epochs, validation, incremental, checkpoint, progress, max_iter):
        """scikit-learn's epoch loop: shuffle, train, bookkeeping, stopping.

        The checkpoint is saved as each epoch after the first begins, once
        the previous one's bookkeeping is done, so that an interrupted or
        diverging epoch leaves the records and weights of the last completed
        one (or, in the first epoch, the state before the call)."""
        n_samples = epochs.n_samples
        dead_warned = False
        for epoch in range(max_iter):
            if epoch:
                checkpoint.save()   # the end of the previous epoch, records and all
            total = epochs.run(progress)
            self.n_iter_ += 1
            self.loss_ = total / n_samples
            self.t_ += n_samples
            self.loss_curve_.append(self.loss_)
            progress.epoch_end(self.n_iter_, self.loss_)
            score = self._update_no_improvement_count(validation)
            if score is not None:
                progress.validated(score)
            self._optimizer.iteration_ends(self.t_)
            dead_warned = dead_warned or self._warn_dead_layers(epochs.dead_layers())
            stop = False
            if self._no_improvement_count > self.n_iter_no_change:
                message = self._stall_message(validation)
                stop = self._optimizer.trigger_stopping(message, progress.lines)
                if not progress.lines:   # the bar shows what scikit-learn prints
                    progress.note(message + (" Stopping." if stop else
                                             " Setting learning rate to %f"
                                             % self._optimizer.learning_rate))
                if not stop:
                    self._no_improvement_count = 0
            if stop or incremental:
                break
            if self.n_iter_ == max_iter:
                warnings.warn(
                    "Stochastic Optimizer: Maximum iterations (%d) reached and the "
                    "optimization hasn't converged yet." % max_iter,
                    ConvergenceWarning,
                )

    def _warn_dead_layers(self, dead):
        """Warn once per call that a hidden ReLU layer is dead; True if it did."""
        if not dead:
            return False
        layer = dead[0]
        warnings.warn(
            f"Every unit of hidden layer {layer + 1} ({self._layout.units[layer + 1]} ReLU "
            f"units) stayed inactive on every training sample through epoch {self.n_iter_}: "
            "the layer passes nothing on and the network cannot learn.  Scale y (e.g. "
            "TransformedTargetRegressor), lower learning_rate_init (now "
            f"{self.learning_rate_init}), or use another init or activation (e.g. 'elu').",
            DeadUnitsWarning)
        return True

    def _stall_message(self, validation):
        what = "Validation score" if validation is not None else "Training loss"
        return ("%s did not improve more than tol=%f for %d consecutive epochs."
                % (what, self.tol, self.n_iter_no_change))

    def _update_no_improvement_count(self, validation):
        """scikit-learn's rule: count epochs whose validation score (early
        stopping) or training loss did not improve by tol; keep the best.
        Returns the validation score (None without early stopping)."""
        if validation is not None:
            score = validation.score(self)
            self.validation_scores_.append(score)
            if score < self.best_validation_score_ + self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if score > self.best_validation_score_:
                self.best_validation_score_ = score
                self._best_params = self._params.copy()
            return score
        else:
            if self.loss_curve_[-1] > self.best_loss_ - self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if self.loss_curve_[-1] < self.best_loss_:
                self.best_loss_ = self.loss_curve_[-1]
