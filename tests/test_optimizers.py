"""Tests of fastnet's optimizer objects (``fastnet/optimizers.py``): the same
schedules, stopping rules and state as scikit-learn's ``SGDOptimizer`` and
``AdamOptimizer``, which are the reference for every expected value here."""
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier as SkClassifier
from sklearn.neural_network._stochastic_optimizers import (AdamOptimizer as SkAdam,
                                                           SGDOptimizer as SkSGD)

import fastnet
from fastnet.kernels import Optimizer
from fastnet.optimizers import AdamOptimizer, SGDOptimizer, make_optimizer

PARAMS = np.zeros(7)
STEP_FIELDS = {"kind", "learning_rate", "momentum", "nesterov", "beta_1", "beta_2",
               "epsilon", "t"}


def test_invscaling_schedule_matches_scikit_learn():
    ours = SGDOptimizer(PARAMS, 0.2, "invscaling", power_t=0.7)
    theirs = SkSGD([PARAMS], 0.2, "invscaling", power_t=0.7)
    for time_step in (0, 5, 120, 7777):
        ours.iteration_ends(time_step)
        theirs.iteration_ends(time_step)
        assert ours.learning_rate == theirs.learning_rate
    assert ours.learning_rate == 0.2 / 7778 ** 0.7


@pytest.mark.parametrize("schedule", ["constant", "invscaling", "adaptive"])
def test_stopping_rule_matches_scikit_learn(schedule, capsys):
    """trigger_stopping's answers, learning rates and printed lines equal
    scikit-learn's through the adaptive schedule down to its 1e-6 floor."""
    ours = SGDOptimizer(PARAMS, 0.1, schedule)
    theirs = SkSGD([PARAMS], 0.1, schedule)
    answers = []
    for _ in range(12):
        answers.append(ours.trigger_stopping("stalled.", True))
        printed_ours = capsys.readouterr().out
        assert theirs.trigger_stopping("stalled.", True) == answers[-1]
        assert capsys.readouterr().out == printed_ours
        assert ours.learning_rate == theirs.learning_rate
    if schedule == "adaptive":
        # 0.1 / 5**7 = 1.28e-6 is still divided; 0.1 / 5**8 is below the floor
        assert answers[:8] == [False] * 8 and answers[8:] == [True] * 4
        assert ours.learning_rate == pytest.approx(0.1 / 5 ** 8, rel=1e-12)
    else:
        assert all(answers)


def test_adam_counts_steps_and_bias_corrects_like_scikit_learn():
    ours = AdamOptimizer(PARAMS, 0.01, 0.8, 0.95, 1e-7)
    theirs = SkAdam([PARAMS.copy()], 0.01, 0.8, 0.95, 1e-7)
    for n_steps in (1, 3, 0, 10):
        ours.steps_taken(n_steps)
        for _ in range(n_steps):
            theirs.update_params([np.zeros(7)], [np.ones(7)])
        assert ours.t == theirs.t
        if theirs.t:
            np.testing.assert_allclose(ours.learning_rate, theirs.learning_rate, rtol=1e-15)
    assert ours.kernel_step()["t"] == 14


def test_kernel_steps_name_every_field():
    """The kernels' OptimizerStep struct is filled from these dicts by name."""
    plain = SGDOptimizer(PARAMS, 0.3, momentum=0.0)
    momentum = SGDOptimizer(PARAMS, 0.3, momentum=0.9, nesterov=False)
    adam = AdamOptimizer(PARAMS, 0.003)
    for optimizer, kind in ((plain, Optimizer.SGD), (momentum, Optimizer.MOMENTUM),
                            (adam, Optimizer.ADAM)):
        step = optimizer.kernel_step()
        assert set(step) == STEP_FIELDS and step["kind"] == kind
    assert plain.kernel_step()["learning_rate"] == 0.3
    assert adam.kernel_step()["learning_rate"] == 0.003  # the initial rate: the
    # kernels bias-correct it per step
    assert plain.velocities.size == 0 and momentum.velocities.shape == PARAMS.shape
    first, second = adam.moments()
    assert first is adam.ms and second is adam.vs


def test_make_optimizer_follows_the_solver():
    clf = fastnet.MLPClassifier(solver="sgd", learning_rate="adaptive", momentum=0.5,
                                nesterovs_momentum=False, learning_rate_init=0.2)
    sgd = make_optimizer(clf, PARAMS)
    assert isinstance(sgd, SGDOptimizer)
    assert (sgd.lr_schedule, sgd.momentum, sgd.nesterov, sgd.learning_rate) == (
        "adaptive", 0.5, False, 0.2)
    clf.set_params(solver="adam", beta_1=0.7)
    assert isinstance(make_optimizer(clf, PARAMS), AdamOptimizer)
    assert make_optimizer(clf, PARAMS).beta_1 == 0.7


@pytest.mark.parametrize("params", [
    dict(solver="sgd", learning_rate="invscaling", momentum=0.9),
    dict(solver="sgd", learning_rate="adaptive", tol=10.0, n_iter_no_change=1),
    dict(solver="adam", batch_size=16),
], ids=["invscaling", "adaptive", "adam"])
def test_fitted_optimizer_state_equals_scikit_learns(params):
    """After a fit, ``_optimizer`` holds scikit-learn's learning rate, step
    count and per-weight state (in fastnet's flat layout: compared through
    the coefs_-shaped views)."""
    rng = np.random.default_rng(0)
    X, y = rng.uniform(-1, 1, (60, 4)), rng.integers(0, 3, 60)
    common = dict(hidden_layer_sizes=(5,), random_state=0, max_iter=6, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        theirs = SkClassifier(**common).fit(X, y)
        ours = fastnet.MLPClassifier(**common).fit(X, y)
    o, t = ours._optimizer, theirs._optimizer
    np.testing.assert_allclose(o.learning_rate, t.learning_rate, rtol=1e-12)
    if params["solver"] == "adam":
        assert o.t == t.t
        states = [(o.ms, t.ms), (o.vs, t.vs)]
    else:
        states = [(o.velocities, t.velocities)]
    for flat, per_layer in states:
        coefs, intercepts = ours._layout.views(flat)
        for got, want in zip(coefs + intercepts, per_layer, strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-12)
