"""Tests of the scikit-learn drop-ins ``fastnet.MLPClassifier`` / ``MLPRegressor``
(and ``fastnet.Network``'s scikit-learn conventions).

The drop-ins must give scikit-learn 1.9's MLP exactly: the same parameters,
random stream, trajectories, attributes, warnings and errors.  The reference
for every number here is ``sklearn.neural_network`` fitted with the same
parameters on the same data.
"""
import re
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import sklearn
from numpy.testing import assert_allclose, assert_array_equal
from sklearn import neural_network as sknn
from sklearn.base import clone, is_classifier
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import (
    check_sample_weight_equivalence_on_dense_data,
    parametrize_with_checks,
)

import fastnet



def test_scikit_learn_is_the_pinned_version():
    """Parity below is verified against scikit-learn 1.9 (the test extra's pin)."""
    assert sklearn.__version__.startswith("1.9.")

# ---------------------------------------------------------------------------
# Data: a digits subset (64 features in [0, 1]) with five kinds of target.
# ---------------------------------------------------------------------------

_digits = load_digits()
X = _digits.data[:120] / 16.0
_labels = _digits.target[:120]
_rng = np.random.RandomState(0)
_w = _rng.uniform(-1, 1, (64, 2))

TARGETS = {
    "multiclass": (sknn.MLPClassifier, fastnet.MLPClassifier, _labels),
    "binary": (sknn.MLPClassifier, fastnet.MLPClassifier, _labels % 2),
    "multilabel": (sknn.MLPClassifier, fastnet.MLPClassifier,
                   np.c_[_labels % 2, _labels < 5, _labels % 3 == 0].astype(int)),
    "regression": (sknn.MLPRegressor, fastnet.MLPRegressor,
                   X @ _w[:, 0] + 0.1 * _rng.standard_normal(120)),
    "multioutput": (sknn.MLPRegressor, fastnet.MLPRegressor,
                    X @ _w + 0.1 * _rng.standard_normal((120, 2))),
}
# Poisson counts with a log-linear mean (MLPRegressor(loss='poisson')).
Y_COUNTS = _rng.poisson(np.exp(0.3 * X @ _w[:, 0])).astype(float)
SAMPLE_WEIGHT = _rng.uniform(0.2, 3.0, 120)

BASE = dict(hidden_layer_sizes=(7, 5), random_state=0, max_iter=3)


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

def _call_recording(est, method, *args, **kwargs):
    """Call ``est.method``; return the user-facing warnings it raised."""
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        getattr(est, method)(*args, **kwargs)
    return [(w.category, str(w.message)) for w in record
            if issubclass(w.category, UserWarning)]


def fit_both(target, method="fit", sk=None, fn=None, X=X, y=None, **kwargs):
    """Fit scikit-learn's and fastnet's estimator alike (new ones from
    ``BASE`` and ``TARGETS[target]`` unless given); assert that they warn
    alike (ConvergenceWarning included, same messages)."""
    sk_cls, fn_cls, y_default = TARGETS[target]
    if sk is None:
        params = {**BASE, **kwargs.pop("params", {})}
        sk, fn = sk_cls(**params), fn_cls(**params)
    y = y_default if y is None else y
    sk_warns = _call_recording(sk, method, X, y, **kwargs)
    fn_warns = _call_recording(fn, method, X, y, **kwargs)
    assert fn_warns == sk_warns
    return sk, fn


def _close_or_same(a, b, rtol):
    if a is None or b is None:
        assert a is None and b is None
    else:
        assert_allclose(np.asarray(b, dtype=float), np.asarray(a, dtype=float), rtol=rtol)


def assert_same_model(sk, fn, X=X, rtol=1e-6, atol=1e-10):
    """fastnet's fitted attributes and predictions equal scikit-learn's."""
    for name in ("n_layers_", "n_outputs_", "out_activation_", "n_iter_", "t_",
                 "n_features_in_"):
        assert getattr(fn, name) == getattr(sk, name), name
    if is_classifier(sk):
        assert_array_equal(fn.classes_, sk.classes_)
    for got, want in zip(fn.coefs_ + fn.intercepts_, sk.coefs_ + sk.intercepts_, strict=True):
        assert got.shape == want.shape and got.dtype == want.dtype
        assert_allclose(got, want, rtol=rtol, atol=atol)
    assert_allclose(fn.loss_, sk.loss_, rtol=rtol)
    for name in ("loss_curve_", "best_loss_", "validation_scores_", "best_validation_score_"):
        assert hasattr(fn, name) == hasattr(sk, name), name
        if hasattr(sk, name):
            _close_or_same(getattr(sk, name), getattr(fn, name), rtol)
    if is_classifier(sk):
        assert_array_equal(fn.predict(X), sk.predict(X))
        assert_allclose(fn.predict_proba(X), sk.predict_proba(X), rtol=rtol, atol=atol)
    else:
        assert_allclose(fn.predict(X), sk.predict(X), rtol=rtol, atol=atol)


# ---------------------------------------------------------------------------
# 1. Trajectory parity with scikit-learn
# ---------------------------------------------------------------------------

SGD_SETTINGS = [
    dict(solver="sgd", batch_size=batch, momentum=momentum, nesterovs_momentum=nesterov,
         learning_rate=schedule, learning_rate_init=0.05)
    for batch in (1, 32)
    for momentum, nesterov in ((0.0, False), (0.9, False), (0.9, True))
    for schedule in ("constant", "invscaling", "adaptive")
]


@pytest.mark.parametrize("target", list(TARGETS))
@pytest.mark.parametrize("params", SGD_SETTINGS, ids=str)
def test_sgd_trajectory(target, params):
    sk, fn = fit_both(target, params=params)
    assert_same_model(sk, fn)


@pytest.mark.parametrize("target", list(TARGETS))
@pytest.mark.parametrize("solver", [
    dict(solver="sgd", batch_size=1, momentum=0.9),
    dict(solver="adam", batch_size=16, learning_rate_init=0.01),
    dict(solver="lbfgs"),
], ids=lambda p: p["solver"])
@pytest.mark.parametrize("activation", ["relu", "tanh", "logistic", "identity"])
@pytest.mark.parametrize("alpha", [0.0, 1e-4, 1e-2])
def test_activation_and_alpha_trajectory(target, solver, activation, alpha):
    sk, fn = fit_both(target, params=dict(solver, activation=activation, alpha=alpha))
    assert_same_model(sk, fn)


@pytest.mark.parametrize("target", list(TARGETS))
@pytest.mark.parametrize("batch_size", [1, 7, "auto"])
def test_adam_trajectory(target, batch_size):
    sk, fn = fit_both(target, params=dict(solver="adam", batch_size=batch_size,
                                          learning_rate_init=0.01, beta_1=0.8))
    assert_same_model(sk, fn)


@pytest.mark.parametrize("target", list(TARGETS))
@pytest.mark.parametrize("params", [
    dict(solver="sgd", batch_size=1),
    dict(solver="sgd", batch_size=16, momentum=0.5, nesterovs_momentum=False),
    dict(solver="adam", batch_size=10),
], ids=str)
def test_early_stopping_trajectory(target, params):
    sk, fn = fit_both(target, params=dict(params, early_stopping=True, max_iter=4,
                                          learning_rate_init=0.05))
    assert fn.best_loss_ is None and len(fn.validation_scores_) == 4
    assert_same_model(sk, fn)


@pytest.mark.parametrize("target", list(TARGETS))
@pytest.mark.parametrize("params", [
    dict(solver="sgd", batch_size=1),
    dict(solver="sgd", batch_size=32, momentum=0.9),
    dict(solver="adam", batch_size=20),
    dict(solver="lbfgs"),
    dict(solver="sgd", batch_size=8, early_stopping=True),
    dict(solver="adam", early_stopping=True, alpha=1e-2),
], ids=str)
def test_sample_weight_trajectory(target, params):
    sk, fn = fit_both(target, params=params, sample_weight=SAMPLE_WEIGHT)
    assert_same_model(sk, fn)


@pytest.mark.parametrize("target", list(TARGETS))
@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_lbfgs_long_run(target, activation):
    """Many L-BFGS iterations: the same optimizer on the same loss and
    gradient, so the same iterates up to rounding that L-BFGS amplifies.

    40 iterations amplify one-ulp differences of the activations to about
    1e-7 in the weights (which are of order 0.1): with tanh, 6e-7 since
    fastnet's vectorised tanh (correctly rounded 90 % of the time) rounds
    otherwise than numpy's (80 %), against 3e-7 with libm's (74 %).  The
    final losses still agree to 1e-7."""
    sk, fn = fit_both(target, params=dict(solver="lbfgs", activation=activation,
                                          max_iter=40, alpha=1e-3))
    assert_same_model(sk, fn, rtol=1e-5, atol=1e-6)
    assert_allclose(fn.loss_, sk.loss_, rtol=1e-7)


@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
@pytest.mark.parametrize("target", list(TARGETS))
def test_float32_trajectory(target, solver):
    """float32 X: both train in float32, the same steps up to float32
    rounding.  L-BFGS's coefs_ end up float64 (scipy's solution vector), as
    scikit-learn's do."""
    X32 = X.astype(np.float32)
    sk, fn = fit_both(target, X=X32, params=dict(solver=solver, max_iter=2,
                                                 learning_rate_init=0.01))
    assert fn.coefs_[0].dtype == (np.float64 if solver == "lbfgs" else np.float32)
    assert_same_model(sk, fn, X=X32, rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
def test_poisson_loss(solver):
    """MLPRegressor(loss='poisson'): exp output, half Poisson deviance."""
    params = dict(BASE, loss="poisson", solver=solver, learning_rate_init=0.01,
                  batch_size=16, max_iter=5, alpha=1e-3)
    sk, fn = fit_both("regression", sk=sknn.MLPRegressor(**params),
                      fn=fastnet.MLPRegressor(**params), y=Y_COUNTS)
    assert fn.out_activation_ == "exp"
    assert np.all(fn.predict(X) > 0)
    assert_same_model(sk, fn)


def test_poisson_loss_with_sample_weight_and_early_stopping():
    params = dict(BASE, loss="poisson", solver="sgd", batch_size=4, early_stopping=True,
                  learning_rate_init=0.01)
    sk, fn = fit_both("regression", sk=sknn.MLPRegressor(**params),
                      fn=fastnet.MLPRegressor(**params), y=Y_COUNTS,
                      sample_weight=SAMPLE_WEIGHT)
    assert_same_model(sk, fn)


# ---- stopping rules over longer runs ----------------------------------------

@pytest.mark.parametrize("target", ["multiclass", "regression"])
def test_tol_stopping_and_adaptive_learning_rate(target, capsys):
    """No improvement by tol for n_iter_no_change epochs: 'adaptive' divides
    the learning rate by 5 (several times), then stops; the verbose log
    (losses, messages, learning rates) is scikit-learn's line for line."""
    params = dict(solver="sgd", learning_rate="adaptive", learning_rate_init=0.05,
                  batch_size=16, tol=1e-2, n_iter_no_change=2, max_iter=60, verbose=2)
    capsys.readouterr()
    sk, fn = fit_both(target, params=params)
    sk_log, fn_log = _split_verbose_log(capsys)
    assert sk.n_iter_ < 60  # stopped by the rule, not by max_iter
    assert sk._optimizer.learning_rate < 0.05 / 5  # divided at least twice
    assert_same_model(sk, fn)
    assert fn_log == sk_log


def _split_verbose_log(capsys):
    """fit_both's verbose output: (scikit-learn's, fastnet's)."""
    lines = capsys.readouterr().out.splitlines()
    firsts = [i for i, line in enumerate(lines) if line.startswith("Iteration 1,")]
    assert len(firsts) == 2
    return lines[:firsts[1]], lines[firsts[1]:]


@pytest.mark.parametrize("params", [
    dict(solver="sgd", learning_rate="constant", tol=1e-2, n_iter_no_change=3),
    dict(solver="sgd", learning_rate="invscaling", power_t=0.25, tol=1e-3),
    dict(solver="adam", tol=1e-2, n_iter_no_change=2),
    dict(solver="sgd", early_stopping=True, tol=0.05, n_iter_no_change=3),
    dict(solver="adam", early_stopping=True, tol=0.05, n_iter_no_change=2,
         validation_fraction=0.2),
], ids=str)
@pytest.mark.parametrize("target", ["binary", "multioutput"])
def test_stopping_rules_long_run(target, params, capsys):
    params = dict(params, max_iter=50, batch_size=16, learning_rate_init=0.02,
                  verbose=2)
    capsys.readouterr()
    sk, fn = fit_both(target, params=params)
    sk_log, fn_log = _split_verbose_log(capsys)
    assert_same_model(sk, fn)
    assert fn_log == sk_log


def test_max_iter_convergence_warning():
    for cls in (sknn.MLPClassifier, fastnet.MLPClassifier):
        with pytest.warns(ConvergenceWarning, match="Maximum iterations \\(2\\) reached"):
            cls(**dict(BASE, max_iter=2, solver="sgd")).fit(X, _labels)
        with pytest.warns(ConvergenceWarning, match="lbfgs failed to converge"):
            cls(**dict(BASE, max_iter=2, solver="lbfgs")).fit(X, _labels)


def test_batch_size_clipping_warning():
    sk, fn = fit_both("binary", params=dict(solver="sgd", batch_size=500))
    assert_same_model(sk, fn)


# ---- partial_fit and warm_start ---------------------------------------------

@pytest.mark.parametrize("target", list(TARGETS))
@pytest.mark.parametrize("params", [
    dict(solver="sgd", batch_size=1, momentum=0.9),
    dict(solver="sgd", batch_size=8, learning_rate="invscaling", learning_rate_init=0.1),
    dict(solver="adam", batch_size=10),
], ids=str)
def test_partial_fit_sequence(target, params):
    sk_cls, fn_cls, y = TARGETS[target]
    sk, fn = sk_cls(**BASE, **params), fn_cls(**BASE, **params)
    # classes: the labels, or for multilabel y the column indices
    extra = {"classes": np.unique(y) if y.ndim == 1 else np.arange(y.shape[1])} \
        if is_classifier(sk) else {}
    for part in np.array_split(np.arange(120), 4):
        sk_warns = _call_recording(sk, "partial_fit", X[part], y[part], **extra)
        assert _call_recording(fn, "partial_fit", X[part], y[part], **extra) == sk_warns
        extra = {}
        assert_same_model(sk, fn)
    assert fn.n_iter_ == 1 and fn.t_ == 120


def test_partial_fit_classes_not_all_seen_and_sample_weight():
    """Batches missing classes (given up front), and per-call sample weights."""
    sk = sknn.MLPClassifier(**BASE, solver="sgd", batch_size=5)
    fn = fastnet.MLPClassifier(**BASE, solver="sgd", batch_size=5)
    classes = np.arange(10)
    for i, part in enumerate([_labels < 4, (_labels >= 4) & (_labels < 8), _labels >= 2]):
        kw = dict(classes=classes) if i == 0 else {}
        sk.partial_fit(X[part], _labels[part], sample_weight=SAMPLE_WEIGHT[part], **kw)
        fn.partial_fit(X[part], _labels[part], sample_weight=SAMPLE_WEIGHT[part], **kw)
        assert_same_model(sk, fn)


@pytest.mark.parametrize("target", ["multiclass", "multilabel", "multioutput"])
@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
def test_warm_start_refits(target, solver):
    """fit, then with warm_start fit again (on other rows, other max_iter)."""
    sk_cls, fn_cls, y = TARGETS[target]
    params = dict(BASE, solver=solver, max_iter=2, learning_rate_init=0.02)
    sk, fn = fit_both(target, params=params)
    for est in (sk, fn):
        est.set_params(warm_start=True, max_iter=3)
    rows = np.arange(10, 120)
    fit_both(target, sk=sk, fn=fn, X=X[rows], y=y[rows])
    assert_same_model(sk, fn)
    for est in (sk, fn):
        est.set_params(warm_start=False)
    fit_both(target, sk=sk, fn=fn)  # from scratch again
    assert_same_model(sk, fn)


def test_warm_start_errors_match():
    sk, fn = fit_both("multiclass", params=dict(warm_start=True, max_iter=1))
    bad = _labels.copy()
    bad[bad == 9] = 8
    for est in (sk, fn):
        with pytest.raises(ValueError, match="warm_start can only be used where `y` has the same classes"):
            est.fit(X, bad)
    for est in (sknn.MLPClassifier(), fastnet.MLPClassifier()):
        with pytest.raises(ValueError, match="classes must be passed on the first call"):
            est.partial_fit(X, _labels)
    for cls in (sknn.MLPClassifier, fastnet.MLPClassifier):
        est = cls(**BASE, solver="sgd").partial_fit(X, _labels % 3, classes=[0, 1, 2])
        with pytest.raises(ValueError, match="`y` has classes not in `self.classes_`"):
            est.partial_fit(X, _labels)
        with pytest.raises(ValueError, match="partial_fit does not support early_stopping"):
            est.set_params(early_stopping=True).partial_fit(X, _labels % 3)


def test_partial_fit_lbfgs_regressor_runs_lbfgs_like_scikit_learn():
    """scikit-learn 1.9's MLPRegressor keeps partial_fit with 'lbfgs'
    (its availability check is never called) and runs L-BFGS from the
    current weights; the drop-in does the same."""
    sk, fn = fit_both("regression", method="partial_fit", params=dict(solver="lbfgs"))
    assert_same_model(sk, fn)
    fit_both("regression", method="partial_fit", sk=sk, fn=fn)
    assert_same_model(sk, fn, rtol=1e-5, atol=1e-8)


def test_zero_weight_batch_raises_like_scikit_learn():
    """A batch whose weights sum to zero: scikit-learn's MLP raises
    ZeroDivisionError (np.average), and so do the drop-ins."""
    sw = np.ones(120)
    sw[5] = 0.0
    for cls in (sknn.MLPRegressor, fastnet.MLPRegressor):
        with pytest.raises(ZeroDivisionError, match="Weights sum to zero"):
            cls(**BASE, solver="sgd", batch_size=1).fit(X, TARGETS["regression"][2],
                                                         sample_weight=sw)
    sk, fn = fit_both("regression", params=dict(solver="sgd", batch_size=2), sample_weight=sw)
    assert_same_model(sk, fn)  # zero weight inside a batch with a non-zero one


# ---------------------------------------------------------------------------
# 2. scikit-learn's estimator checks
# ---------------------------------------------------------------------------

# scikit-learn's test_common fits MLPs with max_iter=100 (INIT_PARAMS in
# sklearn/utils/_test_common/instance_generator.py) and lists no expected
# failures for them.  Network's defaults train per sample with plain SGD;
# learning_rate_init=3e-4 keeps that stable on the checks' unscaled targets
# (scikit-learn's MLP with the same settings diverges at 1e-3 as well).
PER_SAMPLE_SGD = dict(hidden_layer_sizes=(5,), max_iter=100, learning_rate_init=3e-4)
SAMPLE_WEIGHT_PER_SAMPLE = (
    "a per-sample step scales by its sample's weight (Network) or divides the "
    "weight out again (scikit-learn's mean over a batch of one), so weight 2 "
    "is not the same as the sample twice, which takes two steps at two points "
    "of the epoch; scikit-learn's MLP with batch_size=1 fails this check too "
    "(test_sample_weight_check_fails_for_scikit_learn_per_sample_sgd)"
)
# Network() with its defaults trains per sample at learning_rate_init=0.01:
# on these checks' unscaled targets that diverges, and fastnet says so.
DIVERGES_ON_UNSCALED_TARGETS = (
    "the check's unscaled regression targets make per-sample SGD at the default "
    "learning_rate_init=0.01 diverge: fit raises DivergenceError and keeps finite "
    "weights (test_reliability.py::test_network_defaults_fail_checks_only_by_diverging)"
)
DIVERGING_CHECKS = ("check_regressor_data_not_an_array", "check_estimators_partial_fit_n_features",
                    "check_regressor_multioutput")
CHECKED = [
    fastnet.MLPClassifier(max_iter=100),
    fastnet.MLPRegressor(max_iter=100),
    fastnet.MLPClassifier(hidden_layer_sizes=(5,), solver="lbfgs", max_iter=100),
    fastnet.MLPRegressor(solver="sgd", max_iter=100),
    fastnet.Network(hidden_layer_sizes=(5,), solver="adam", batch_size="auto", max_iter=100),
    fastnet.Network(**PER_SAMPLE_SGD),
    fastnet.Network(),
]


def _expected_failed_checks(estimator):
    expected = {}
    if estimator.get_params().get("batch_size") == 1:
        expected = {
            "check_sample_weight_equivalence_on_dense_data": SAMPLE_WEIGHT_PER_SAMPLE,
            "check_sample_weight_equivalence_on_sparse_data": SAMPLE_WEIGHT_PER_SAMPLE,
        }
    if estimator.get_params() == fastnet.Network().get_params():
        expected.update(dict.fromkeys(DIVERGING_CHECKS, DIVERGES_ON_UNSCALED_TARGETS))
    return expected


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@parametrize_with_checks(CHECKED, expected_failed_checks=_expected_failed_checks)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_sample_weight_check_fails_for_scikit_learn_per_sample_sgd():
    """The xfail above is shared by scikit-learn's own MLP at batch_size=1."""
    params = dict(PER_SAMPLE_SGD, solver="sgd", batch_size=1, momentum=0.0)
    for est in (sknn.MLPRegressor(**params), fastnet.MLPRegressor(**params)):
        with pytest.raises((ZeroDivisionError, AssertionError)):
            check_sample_weight_equivalence_on_dense_data(type(est).__name__, est)


# ---------------------------------------------------------------------------
# 3. Working with scikit-learn's tools; inputs and outputs
# ---------------------------------------------------------------------------

QUIET = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
SMALL = dict(hidden_layer_sizes=(6,), max_iter=20, random_state=0)


@QUIET
def test_pipeline_cross_val_score_and_clone():
    params = dict(SMALL, solver="sgd", learning_rate_init=0.05)
    scores = {}
    for mod in (sknn, fastnet):
        pipe = make_pipeline(StandardScaler(), mod.MLPClassifier(**params))
        scores[mod] = cross_val_score(pipe, X, _labels, cv=3)
        fitted = clone(pipe).fit(X, _labels)
        assert fitted[-1].n_features_in_ == 64
    assert_allclose(scores[fastnet], scores[sknn], rtol=1e-12)
    est = fastnet.MLPRegressor(**params, init="xavier", dtype="float32", n_jobs=1)
    copy = clone(est)
    assert copy is not est and copy.get_params() == est.get_params()
    assert not hasattr(copy, "coefs_")


@QUIET
def test_grid_search_two_jobs():
    grid = {"alpha": [1e-4, 1e-1], "hidden_layer_sizes": [(4,), (8,)]}
    results = {}
    for mod in (sknn, fastnet):
        search = GridSearchCV(mod.MLPClassifier(**dict(SMALL, solver="lbfgs")), grid,
                              cv=3, n_jobs=2).fit(X, _labels)
        results[mod] = search
    assert results[fastnet].best_params_ == results[sknn].best_params_
    assert_allclose(results[fastnet].cv_results_["mean_test_score"],
                    results[sknn].cv_results_["mean_test_score"], rtol=1e-9)
    assert isinstance(results[fastnet].best_estimator_, fastnet.MLPClassifier)



@QUIET
def test_dataframe_feature_names():
    df = pd.DataFrame(X[:, :5], columns=[f"f{i}" for i in range(5)])
    renamed = df.rename(columns={"f0": "other"})
    for est in (fastnet.MLPClassifier(**SMALL), fastnet.MLPRegressor(**SMALL),
                fastnet.Network(**SMALL)):
        y = _labels if is_classifier(est) else TARGETS["regression"][2]
        sk = (sknn.MLPClassifier if is_classifier(est) else sknn.MLPRegressor)(**SMALL)
        est.fit(df, y)
        sk.fit(df, y)
        assert_array_equal(est.feature_names_in_, df.columns)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            est.predict(df)
        with pytest.warns(UserWarning) as ours:
            est.predict(X[:, :5])
        with pytest.warns(UserWarning) as theirs:
            sk.predict(X[:, :5])
        assert [_unnamed(w.message, est) for w in ours] == \
            [_unnamed(w.message, sk) for w in theirs]
        with pytest.raises(ValueError, match="feature names should match") as ours:
            est.predict(renamed)
        with pytest.raises(ValueError, match="feature names should match") as theirs:
            sk.predict(renamed)
        assert _unnamed(ours.value, est) == _unnamed(theirs.value, sk)


def _unnamed(message, est):
    """A message without the estimator's class name."""
    return str(message).replace(type(est).__name__, "<estimator>")


@QUIET
@pytest.mark.parametrize("params", [
    dict(solver="sgd", batch_size=1, momentum=0.0, alpha=0.0),
    dict(solver="sgd", batch_size=1, momentum=0.9, alpha=1e-2),
    dict(solver="sgd", batch_size=16, momentum=0.9, nesterovs_momentum=False, alpha=1e-3),
    dict(solver="adam", batch_size=1, alpha=1e-3),
    dict(solver="adam", batch_size=32),
    dict(solver="lbfgs", alpha=1e-3),
], ids=str)
@pytest.mark.parametrize("target", ["multiclass", "multioutput"])
def test_sparse_input_same_as_dense(target, params):
    _, fn_cls, y = TARGETS[target]
    Xs = X.copy()
    Xs[Xs < 0.3] = 0.0  # a real sparsity pattern
    dense = fn_cls(**BASE, **params).fit(Xs, y)
    for fmt in (sp.csr_matrix, sp.csc_matrix, sp.csr_array):
        sparse = fn_cls(**BASE, **params).fit(fmt(Xs), y)
        for a, b in zip(sparse.coefs_ + sparse.intercepts_, dense.coefs_ + dense.intercepts_):
            assert_allclose(a, b, rtol=1e-10, atol=1e-12)
        assert_allclose(sparse.predict(fmt(Xs)) if target == "multioutput"
                        else sparse.predict_proba(fmt(Xs)),
                        dense.predict(Xs) if target == "multioutput" else dense.predict_proba(Xs),
                        rtol=1e-10, atol=1e-12)


@QUIET
def test_sparse_input_matches_scikit_learn():
    Xs = X.copy()
    Xs[Xs < 0.3] = 0.0
    sk, fn = fit_both("multiclass", X=sp.csr_matrix(Xs),
                      params=dict(solver="sgd", batch_size=4, alpha=1e-3))
    assert_same_model(sk, fn, X=sp.csr_matrix(Xs))


@QUIET
def test_float32_dtypes():
    X32 = X.astype(np.float32)
    for mod in (sknn, fastnet):
        clf = mod.MLPClassifier(**SMALL).fit(X32, _labels)
        assert clf.coefs_[0].dtype == np.float32 and clf.intercepts_[0].dtype == np.float32
        assert clf.predict_proba(X32).dtype == np.float32
        # float64 X on float32 weights: numpy promotes, scikit-learn gives float64
        assert clf.predict_proba(X).dtype == np.float64
        reg = mod.MLPRegressor(**SMALL).fit(X32, TARGETS["regression"][2])
        assert reg.predict(X32).dtype == np.float32
    sk = sknn.MLPClassifier(**SMALL).fit(X32, _labels)
    assert_allclose(clf.predict_proba(X), sk.predict_proba(X), rtol=1e-3, atol=1e-5)
    # dtype='float32' converts float64 input; dtype='float64' float32 input
    conv = fastnet.MLPClassifier(**SMALL, dtype="float32").fit(X, _labels)
    assert conv.coefs_[0].dtype == np.float32
    assert conv.predict_proba(X32).dtype == np.float32
    assert_allclose(conv.coefs_[0], clf.coefs_[0], rtol=1e-6, atol=1e-7)
    wide = fastnet.MLPClassifier(**SMALL, dtype="float64").fit(X32, _labels)
    assert wide.coefs_[0].dtype == np.float64


@QUIET
@pytest.mark.parametrize("labels", [
    _labels,
    np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight",
              "nine"])[_labels],
    _labels.astype(float) - 3.0,
    np.where(_labels % 2, "odd", "even"),
    np.where(_labels % 2, -1, 7),
], ids=["int", "str", "float", "str_binary", "int_binary"])
def test_label_types(labels):
    sk, fn = fit_both("multiclass", y=labels, params=dict(solver="sgd", max_iter=2))
    assert fn.predict(X).dtype == sk.predict(X).dtype
    assert_same_model(sk, fn)
    assert_allclose(fn.predict_log_proba(X), sk.predict_log_proba(X), rtol=1e-6, atol=1e-10)
    assert_allclose(fn.predict_log_proba(X), np.log(fn.predict_proba(X)))


def test_output_layers():
    kinds = {"binary": ("logistic", 1, (120, 2)), "multiclass": ("softmax", 10, (120, 10)),
             "multilabel": ("logistic", 3, (120, 3))}
    for target, (out, n_outputs, proba_shape) in kinds.items():
        sk, fn = fit_both(target, params=dict(max_iter=1))
        assert (fn.out_activation_, fn.n_outputs_) == (out, n_outputs)
        assert fn.predict_proba(X).shape == proba_shape
        assert fn.predict(X).shape == sk.predict(X).shape
    for target, n_outputs in (("regression", 1), ("multioutput", 2)):
        sk, fn = fit_both(target, params=dict(max_iter=1))
        assert (fn.out_activation_, fn.n_outputs_) == ("identity", n_outputs)
        assert fn.predict(X).shape == sk.predict(X).shape


@pytest.mark.parametrize("bad", [
    dict(solver="foo"), dict(alpha=-1), dict(batch_size=0), dict(batch_size="big"),
    dict(activation="foo"), dict(learning_rate="fast"), dict(learning_rate_init=0),
    dict(momentum=1.5), dict(max_iter=0), dict(validation_fraction=1.0), dict(beta_1=1),
    dict(n_iter_no_change=0), dict(tol=-1), dict(shuffle="yes"), dict(max_fun=0),
], ids=str)
@pytest.mark.parametrize("kind", ["MLPClassifier", "MLPRegressor"])
def test_invalid_parameters_raise_invalid_parameter_error(kind, bad):
    y = _labels if kind == "MLPClassifier" else TARGETS["regression"][2]
    with pytest.raises(InvalidParameterError) as theirs:
        getattr(sknn, kind)(**bad).fit(X, y)
    with pytest.raises(InvalidParameterError) as ours:
        getattr(fastnet, kind)(**bad).fit(X, y)
    name = next(iter(bad))
    assert str(ours.value).startswith(f"The {name!r} parameter of {kind} must be")
    if name not in ("batch_size", "activation"):  # fastnet accepts more of these
        assert _sorted_sets(ours.value) == _sorted_sets(theirs.value)


def _sorted_sets(message):
    """The message with each printed {set} sorted (set order is per process)."""
    return re.sub(r"\{([^{}]*)\}",
                  lambda m: "{" + ", ".join(sorted(m.group(1).split(", "))) + "}",
                  str(message))


def test_invalid_fastnet_parameters():
    with pytest.raises(InvalidParameterError):
        fastnet.MLPRegressor(loss="hinge").fit(X, TARGETS["regression"][2])
    with pytest.raises(InvalidParameterError):
        fastnet.MLPRegressor(output_activation="foo").fit(X, TARGETS["regression"][2])
    with pytest.raises(InvalidParameterError):
        fastnet.MLPClassifier(dtype="float16").fit(X, _labels)
    with pytest.raises(InvalidParameterError):
        fastnet.Network(activation=3).fit(X, _labels)
    with pytest.raises(ValueError, match="hidden_layer_sizes must be > 0"):
        fastnet.MLPClassifier(hidden_layer_sizes=[3, 0]).fit(X, _labels)
    with pytest.raises(ValueError, match="no gradient"):
        fastnet.MLPClassifier(activation="step").fit(X, _labels)


@pytest.mark.parametrize("solver", ["lbfgs", "sgd", "adam"])
def test_partial_fit_availability_matches_scikit_learn(solver):
    for kind in ("MLPClassifier", "MLPRegressor"):
        theirs = hasattr(getattr(sknn, kind)(solver=solver), "partial_fit")
        assert hasattr(getattr(fastnet, kind)(solver=solver), "partial_fit") == theirs
    assert hasattr(fastnet.Network(solver=solver), "partial_fit") == (solver != "lbfgs")
    if solver == "lbfgs":
        with pytest.raises(AttributeError) as theirs:
            sknn.MLPClassifier(solver="lbfgs").partial_fit(X, _labels, classes=range(10))
        with pytest.raises(AttributeError) as ours:
            fastnet.MLPClassifier(solver="lbfgs").partial_fit(X, _labels, classes=range(10))
        assert str(ours.value) == str(theirs.value)
        assert str(ours.value.__cause__) == str(theirs.value.__cause__)
        assert "not stochastic" in str(ours.value.__cause__)


@QUIET
def test_full_batch_size():
    """fastnet's extra batch_size='full': one step per epoch over all rows,
    the same as an int batch_size of n_samples."""
    for target in ("multiclass", "regression"):
        _, fn_cls, y = TARGETS[target]
        full = fn_cls(**BASE, solver="sgd", batch_size="full").fit(X, y)
        n = fn_cls(**BASE, solver="sgd", batch_size=120).fit(X, y)
        for a, b in zip(full.coefs_ + full.intercepts_, n.coefs_ + n.intercepts_):
            assert_array_equal(a, b)
    net = fastnet.Network(hidden_layer_sizes=(4,), batch_size="full", max_iter=3).fit(
        X, TARGETS["multioutput"][2])
    assert net.predict(X).shape == (120, 2)


def test_verbose_output_matches(capsys):
    """verbose >= 2 prints scikit-learn's lines (which scikit-learn prints for
    any verbose); verbose=True shows fastnet's progress bar instead."""
    for solver in ("sgd", "adam"):
        capsys.readouterr()
        fit_both("binary", params=dict(solver=solver, max_iter=2, verbose=2))
        sk_log, fn_log = _split_verbose_log(capsys)
        assert fn_log == sk_log and len(sk_log) == 2
