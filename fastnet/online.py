"""partial_fit's fast path: a call on plain arrays with the settings of the
last call.

A stream of one-row ``partial_fit`` calls is what online learning looks like
from Python, and a stream of epochs (a digits epoch of per-sample SGD takes
about 2 ms) is what a training loop around ``partial_fit`` looks like.  The
full path (fastnet/network.py ``_fit``) re-validates the hyper-parameters,
resolves the layers, converts the arrays and builds the objects of a whole
fit before it trains, which costs several times a one-row step and 3 % of a
digits epoch.  When the settings are those of the last call that went the
full way and the data would pass every check as they are, this path does
the same with less:

- the checks that stay: X a finite float ndarray of the fitted width and
  dtype, given to a model fitted without feature names; y numeric and
  finite with X's rows, a classifier's labels all in ``classes_``;
- the hyper-parameters and the model's state are those of the last call
  that went the full way (its settings are remembered and compared);
- a call of several steps runs the full path's epoch loop
  (``StochasticSolver._train_samples``: checkpoint, shuffle, kernels,
  bookkeeping) on samples built here;
- a call of one step skips the checkpoint's copies too: the kernel's
  ``Plan.train_step`` keeps what the step overwrites and puts it back itself
  if the step fails (DivergenceError); Python puts it back when Ctrl-C stops
  the call before its bookkeeping is done.

The result is bit-identical to the full path's (tests/test_online.py
compares both on streams of calls).  Anything else goes the full way: the
first call, sample weights, sparse or non-contiguous X, other dtypes,
feature names, early stopping, ``warm_start``, verbose output.
"""
import functools
import operator
import warnings

import numpy as np

from . import kernels
from .checkpoint import RECORDS
from .progress import Progress
from .threads import single_threaded_blas
from .training import Diverged, _shuffled, dead_layers

# a one-row call visits its one sample
_FIRST_ROW = np.zeros(1, dtype=np.intp)
# the fast path shows no progress (verbose calls take the full path)
_NO_PROGRESS = Progress(False, 1, incremental=True)


class _Settings:
    """An estimator's hyper-parameters as a full call left them.

    ``same(estimator)`` compares the values it holds now: by identity or
    ==, and lists or arrays (which can be edited in place) by content."""

    _readers = {}   # estimator class: itemgetter of its parameters

    def __init__(self, estimator):
        cls = type(estimator)
        if cls not in self._readers:   # the signature is slow to inspect
            self._readers[cls] = operator.itemgetter(*cls._get_param_names())
        self._read = self._readers[cls]
        self._values = self._read(estimator.__dict__)
        self._mutable = [(i, _contents(v)) for i, v in enumerate(self._values)
                         if isinstance(v, (list, np.ndarray))]

    def same(self, estimator):
        values = self._read(estimator.__dict__)
        try:
            if values != self._values:
                return False
        except ValueError:   # a new array: its == gives no single answer
            return False
        return all(_contents(values[i]) == contents for i, contents in self._mutable)


def _contents(value):
    return tuple(np.asarray(value).ravel().tolist())


class OnlineStep:
    """The fast path of BaseNetwork.partial_fit (see the module docstring)."""

    def _remember_online_settings(self):
        """A full partial_fit or fit call with a stochastic solver just
        succeeded: later calls with these settings may take the fast path."""
        if self.solver in ("sgd", "adam") and not self.early_stopping \
                and not self.warm_start and not self.verbose:
            self._online_key = _Settings(self)

    def _forget_online_settings(self):
        self.__dict__.pop("_online_key", None)

    def _fast_partial_fit(self, X, y):
        """Train on (X, y) by the fast path if the call qualifies; returns
        whether it did (False: nothing was changed; the full path checks
        the call again)."""
        key = self.__dict__.get("_online_key")
        # the cheap checks first, the values' last
        if (key is None or type(X) is not np.ndarray or X.ndim != 2
                or X.dtype != self._params.dtype or not X.flags.c_contiguous
                or not key.same(self) or not self._plain_targets(X, y)):
            return False
        Y = self._online_targets(y)
        if Y is None:
            return False
        samples = kernels.Samples.dense(X, Y)
        if self._one_step(X.shape[0]):
            train = functools.partial(self._train_one_step, samples)
        else:
            train = functools.partial(self._train_plain_epoch, samples)
        self._train_or_explain(train, False, None)
        return True

    def _one_step(self, n_samples):
        """Whether the stochastic solver takes one step on n_samples rows."""
        batch_size = self.batch_size
        if batch_size == "auto":
            return n_samples <= 200
        return batch_size == "full" or batch_size == n_samples

    def _online_targets(self, y):
        """y as the kernels' targets (n_samples, n_outputs) in the weights'
        dtype, or None when only the full path can check them."""
        if y.ndim == 1:
            if self.n_outputs_ != 1:
                return None
            Y = y.reshape(-1, 1)
        elif y.shape[1] == self.n_outputs_:
            Y = y
        else:
            return None
        Y = np.ascontiguousarray(Y, dtype=self._params.dtype)
        self._check_targets(Y)
        if y.ndim == 1:
            self._y_1d = True
        return Y

    def _train_plain_epoch(self, samples):
        """The full path's epoch of several steps, after what _prepare
        would do on this call: draw from a fresh random state."""
        if self._draws_random_numbers(samples.n_samples):
            self._renew_random_state()
        self._train_samples(samples, None, None, incremental=True)

    def _train_one_step(self, samples):
        """The epoch loop of a one-step call, with the kernel's undo in place
        of the checkpoint's copies."""
        plan = self._kernel_plan()
        records = _Records(self)
        one_step = _OneStepEpoch(self, plan, samples)
        # Before the try: from here on, undo_step takes back exactly the step
        # of this call, whenever Ctrl-C arrives (the kernel sets the flag as
        # it takes the step).
        plan.forget_undo()
        with single_threaded_blas(samples.n_samples > 1):
            try:
                self.n_iter_ = 0
                self._run_epochs(one_step, None, True, None, _NO_PROGRESS, 1)
            except KeyboardInterrupt:
                one_step.undo()
                records.restore()
                warnings.warn("Training interrupted by user.")
            except Diverged:
                records.restore()   # the kernel has restored the arrays
                raise


class _Records:
    """The training records and the optimizer's scalars before a one-step
    call (a Checkpoint without the arrays, which the kernel keeps).  Without
    early stopping, loss_curve_ is the one list an epoch appends to."""

    def __init__(self, estimator):
        self._estimator = estimator
        self._state = dict(estimator.__dict__)
        self._optimizer = dict(vars(estimator._optimizer))
        self._curve_length = len(estimator.loss_curve_)

    def restore(self):
        est = self._estimator
        for name in RECORDS:
            if name in self._state:
                setattr(est, name, self._state[name])
        del est.loss_curve_[self._curve_length:]
        vars(est._optimizer).update(self._optimizer)


class _OneStepEpoch:
    """The epochs object (see training._Epochs) of a one-step call."""

    def __init__(self, estimator, plan, samples):
        self.est, self.plan, self.samples = estimator, plan, samples
        self.n_samples = samples.n_samples

    def run(self, progress):
        est, optimizer = self.est, self.est._optimizer
        if self.n_samples == 1:
            order = _FIRST_ROW
        else:
            order = np.arange(self.n_samples, dtype=np.intp)
            if est.shuffle:   # the full path's draws: a fresh RandomState, one shuffle
                est._renew_random_state()
                order = _shuffled(order, est._random_state)
        first, second = optimizer.moments()
        loss_sum, steps, done, diverged = self.plan.train_step(
            est._params, first, second, self.samples, order, optimizer.kernel_step())
        if diverged:
            raise Diverged(est.n_iter_ + 1, done, self.n_samples, self.n_samples, 0,
                           by_loss=done < self.n_samples)
        optimizer.steps_taken(steps)
        return loss_sum

    def undo(self):
        """Take this call's step back, if the kernel took it."""
        first, second = self.est._optimizer.moments()
        self.plan.undo_step(self.est._params, first, second)

    def dead_layers(self):
        return dead_layers(self.est, self.plan)
