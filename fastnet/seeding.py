"""The random state of a fit: ``check_random_state(random_state)``, without
building a new generator on every call.

scikit-learn's MLP calls ``check_random_state(self.random_state)`` at the
start of every fit and partial_fit call, so an int seed starts each call's
draws afresh (partial_fit shuffles every call's rows in the same order).
Building a ``RandomState`` costs about 150 µs -- NumPy first seeds the bit
generator from OS entropy, then the legacy seeding replaces that -- which is
a tenth of a digits epoch at batch size 200.  Reseeding one with
``RandomState.seed(seed)`` runs only the legacy seeding (about 2 µs) and
leaves the same state, so a generator made here from an int seed is reseeded
in place by the next call.  Pickles and model files get a plain RandomState
in the same state (``plain``): they hold no fastnet type for it.
"""
import numbers

import numpy as np
from sklearn.utils import check_random_state


class _SeededRandomState(np.random.RandomState):
    """A RandomState made here from an int seed: only the estimator that
    holds it draws from it, and it is reseeded before every use."""


def fresh_random_state(seed, previous=None):
    """``check_random_state(seed)``: for an int seed, ``previous`` reseeded
    when this module made it (a generator given by the user is never
    touched), else a new generator in the state ``RandomState(seed)`` starts
    in; for None or a RandomState, what check_random_state returns."""
    if not isinstance(seed, numbers.Integral):
        return check_random_state(seed)
    if type(previous) is _SeededRandomState:
        previous.seed(seed)
        return previous
    return _SeededRandomState(seed)


def plain(random_state):
    """``random_state`` as a plain RandomState in the same state, for pickles
    and model files (anything else as it is)."""
    if type(random_state) is not _SeededRandomState:
        return random_state
    copy = np.random.RandomState()
    copy.set_state(random_state.get_state())
    return copy
