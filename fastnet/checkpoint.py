"""Going back to the last finite point of a training run.

A ``Checkpoint`` remembers, at the start of every epoch, the weights, the
optimizer's state and the estimator's training records (``n_iter_``, ``t_``,
``loss_curve_``, early stopping's scores and counters), so that an epoch that
diverges or is interrupted leaves the model exactly as the previous epoch
left it -- or as it was before the call.
"""
import numpy as np

# The estimator's training records, restored with the weights.
RECORDS = ("n_iter_", "t_", "loss_", "best_loss_", "best_validation_score_",
           "_no_improvement_count", "_best_params")
LISTS = ("loss_curve_", "validation_scores_")


class Checkpoint:
    """The state of ``estimator`` (and its optimizer, if any) when last saved."""

    def __init__(self, estimator, optimizer=None):
        self._estimator = estimator
        self._optimizer = optimizer
        self._arrays = [estimator._params] + ([] if optimizer is None
                                              else [a for a in optimizer.moments() if a.size])
        self._copies = [np.empty_like(a) for a in self._arrays]
        self.epoch = None
        self.save()

    def watches(self, estimator, optimizer):
        """Whether this checkpoint copies these objects' current buffers."""
        return (self._estimator is estimator and self._optimizer is optimizer
                and self._arrays[0] is estimator._params
                and all(a is b for a, b in zip(self._arrays[1:],
                                                [m for m in optimizer.moments() if m.size])))

    def save(self):
        """Remember the current state (the end of the last completed epoch)."""
        for copy, live in zip(self._copies, self._arrays):
            np.copyto(copy, live)
        est = self._estimator
        self._records = {name: getattr(est, name) for name in RECORDS if hasattr(est, name)}
        self._lengths = {name: len(getattr(est, name)) for name in LISTS
                         if getattr(est, name, None) is not None}
        if self._optimizer is not None:
            self._scalars = {name: value for name, value in vars(self._optimizer).items()
                             if not isinstance(value, np.ndarray)}
        self.epoch = getattr(est, "n_iter_", 0)

    def restore(self):
        """Put the saved state back."""
        for copy, live in zip(self._copies, self._arrays):
            np.copyto(live, copy)
        est = self._estimator
        for name, value in self._records.items():
            setattr(est, name, value)
        for name, length in self._lengths.items():
            del getattr(est, name)[length:]
        if self._optimizer is not None:
            vars(self._optimizer).update(self._scalars)
