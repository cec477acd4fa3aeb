"""Property-based fuzzing of the estimators with hypothesis.

Each example draws a network (0 to 3 hidden layers, 1-wide ones and one 33
wide, two neuron chunks), activations (names, ``Logistic(L, k, x0)``,
``ELU(alpha)``, a list per layer), an output activation and loss, a solver
and its settings, a dtype, dense / CSR / CSC input (unsorted and duplicate
CSR entries too), sample weights, a thread count (also with
``PARALLEL_MIN_WEIGHTS = 0`` and ``GEMM_SLICE_ROWS = 1``, so that the threaded
loops and GEMM slices run on these small layers) and a kernel build.  The properties:

- with bounded data and small steps, a fit gives finite weights, or raises
  ValueError and leaves finite weights; its predictions equal the numpy
  reference network (tests/reference.py) on the fitted weights, the
  full-batch loss equals the reference loss, two threads train the same
  weights as one, bit for bit, and partial_fit stays finite
  (test_network_fuzz, test_dropin_fuzz);
- training on with partial_fit or a warm-started fit under changed settings
  does the same (test_training_on_with_changed_settings);
- a call that fails validation raises ValueError or TypeError and leaves a
  fitted model as it was (test_failing_calls_leave_model_unchanged);
- whatever the inputs (NaN, inf, huge or no values, bad weights, extreme
  parameters, any output with any loss), nothing crashes and errors are
  ValueError, TypeError or the drop-ins' ZeroDivisionError for a batch of
  zero sample weights, as scikit-learn's (test_hostile_inputs_...).

At the end: what the fuzz found, kept as tests.

The runs are deterministic (``derandomize=True``, no example database);
``FASTNET_FUZZ_EXAMPLES=n`` runs n examples per test instead, for a deeper
search by hand.  ``pytest --hypothesis-show-statistics`` counts the outcomes.
"""
import contextlib
import os
import warnings
from dataclasses import dataclass

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning, DataConversionWarning

import fastnet.kernels
from fastnet import ELU, Logistic, MLPClassifier, MLPRegressor, Network
from reference import np_forward, np_loss


def fuzz_settings(max_examples, shrink=True):
    """Deterministic settings: the same examples on every run."""
    phases = [Phase.explicit, Phase.generate] + ([Phase.shrink] if shrink else [])
    return settings(max_examples=int(os.environ.get("FASTNET_FUZZ_EXAMPLES", max_examples)),
                    derandomize=True, database=None, deadline=None, phases=phases,
                    suppress_health_check=[HealthCheck.too_slow])


def record(exc, est=None):
    """Count outcomes in hypothesis' statistics (--hypothesis-show-statistics)."""
    if exc is not None:
        event(f"{type(exc).__name__}: {str(exc)[:48]}")
    elif not np.isfinite(getattr(est, "loss_", 0.0)):
        event(f"fitted, finite weights, non-finite loss_ ({est.out_activation_}, {est._loss})")
    else:
        event("fitted")


# ---------------------------------------------------------------------------
# Strategies
# ---------------------------------------------------------------------------

NAMES = ["identity", "logistic", "tanh", "relu", "elu", "softmax"]
activations = st.one_of(
    st.sampled_from(NAMES),
    st.builds(Logistic, L=st.floats(0.2, 3), k=st.floats(-4, 4), x0=st.floats(-2, 2)),
    st.builds(ELU, alpha=st.floats(0, 3)),
)
# Output activations whose range the targets of each loss need (probabilities
# for the cross entropies, positive rates for Poisson), so that bounded data
# and small steps keep training finite.
probabilities = st.one_of(
    st.sampled_from(["logistic", "softmax", "step"]),
    st.builds(Logistic, L=st.floats(0.2, 1), k=st.floats(-4, 4), x0=st.floats(-2, 2)),
)
SANE_OUTPUTS = {
    "squared_error": st.one_of(activations, st.sampled_from(["step", "exp"])),
    "cross_entropy": probabilities,
    "binary_cross_entropy": probabilities,
    "poisson": st.one_of(st.sampled_from(["exp", "logistic", "softmax", "step"]),
                         st.builds(Logistic, L=st.floats(0.2, 3), k=st.floats(-4, 4))),
}
LOSSES = sorted(SANE_OUTPUTS)
layer_sizes = st.lists(st.one_of(st.just(1), st.integers(2, 8), st.just(33)), max_size=3)
INPUT_FORMATS = ["dense", "fortran", "float32", "csr", "csc", "csr_unsorted",
                 "csr_duplicates"]


@dataclass
class Data:
    """How to draw one data set (everything follows from the seed)."""

    n_samples: int
    n_features: int
    n_outputs: int
    y_1d: bool
    targets: str            # a loss name, or 'labels' / 'multilabel' / 'strings'
    fmt: str                # one of INPUT_FORMATS
    weights: str            # 'none', 'positive', 'some_zero'
    zeros: float            # fraction of X set to 0
    seed: int
    spoiled: tuple = ()     # names of SPOIL_DATA changes (hostile inputs)


@dataclass
class Case:
    """One fuzz example: estimator class and parameters, data, kernel settings."""

    estimator: type
    params: dict
    data: Data
    build: str
    threaded: bool


@st.composite
def training_params(draw, n_samples, stochastic_only=False):
    """Solver settings shared by every estimator, with small learning rates."""
    solver = draw(st.sampled_from(["sgd", "adam"] if stochastic_only
                                  else ["sgd", "adam", "lbfgs"]))
    batch_size = draw(st.one_of(st.just(1), st.integers(2, n_samples + 3),
                                st.sampled_from(["auto", "full"])))
    return dict(
        solver=solver, batch_size=batch_size,
        learning_rate=draw(st.sampled_from(["constant", "invscaling", "adaptive"])),
        learning_rate_init=draw(st.floats(1e-4, 0.02)),
        momentum=draw(st.sampled_from([0.0, 0.5, 0.9])),
        nesterovs_momentum=draw(st.booleans()),
        alpha=draw(st.sampled_from([0.0, 1e-4, 0.1, 1.0])),
        max_iter=draw(st.integers(1, 2)), n_iter_no_change=draw(st.integers(1, 3)),
        early_stopping=draw(st.booleans()) if solver != "lbfgs" else False,
        validation_fraction=draw(st.sampled_from([0.1, 0.3, 0.5])),
        shuffle=draw(st.booleans()), random_state=draw(st.integers(0, 3)),
        init=draw(st.sampled_from(["auto", "he", "xavier", "sklearn"])),
        n_jobs=draw(st.sampled_from([1, 2, None, -1])),
    )


@st.composite
def hidden_layers(draw):
    """(hidden_layer_sizes, activation): one activation or a list per layer."""
    sizes = tuple(draw(layer_sizes))
    per_layer = st.lists(activations, min_size=len(sizes), max_size=len(sizes))
    return sizes, draw(st.one_of(activations, per_layer))


@st.composite
def data_specs(draw, targets, n_outputs=None):
    n_outputs = n_outputs or draw(st.integers(1, 3))
    return Data(n_samples=draw(st.integers(1, 40)), n_features=draw(st.integers(1, 12)),
                n_outputs=n_outputs, y_1d=n_outputs == 1 and draw(st.booleans()),
                targets=targets, fmt=draw(st.sampled_from(INPUT_FORMATS)),
                weights=draw(st.sampled_from(["none", "positive", "some_zero"])),
                zeros=draw(st.sampled_from([0.0, 0.5, 0.9])),
                seed=draw(st.integers(0, 2 ** 16)))


def kernel_settings(threads):
    """The kernel build, and whether every layer runs threaded: in one case of
    four, as a thread team's start and barriers cost far more than these
    layers' arithmetic (above all on a machine whose cores are busy)."""
    return dict(build=st.sampled_from(fastnet.kernels.available_builds()),
                threaded=st.sampled_from([False, False, False, True]) if threads
                else st.just(False))


@st.composite
def network_cases(draw, threads=True):
    loss = draw(st.sampled_from(LOSSES))
    data = draw(data_specs(loss))
    sizes, activation = draw(hidden_layers())
    params = dict(hidden_layer_sizes=sizes, activation=activation,
                  output_activation=draw(SANE_OUTPUTS[loss]), loss=loss,
                  dtype=draw(st.sampled_from(["float64", "float32", np.float32])),
                  **draw(training_params(data.n_samples)))
    return Case(Network, params, data,
                **{k: draw(v) for k, v in kernel_settings(threads).items()})


@st.composite
def dropin_cases(draw, threads=True):
    estimator = draw(st.sampled_from([MLPClassifier, MLPRegressor]))
    if estimator is MLPClassifier:
        targets = draw(st.sampled_from(["labels", "multilabel", "strings"]))
        n_outputs = draw(st.integers(1, 4))
        extra = {}
    else:
        loss = draw(st.sampled_from(["squared_error", "poisson"]))
        targets, n_outputs = loss, None
        output = st.none() | (SANE_OUTPUTS["poisson"] if loss == "poisson"
                              else SANE_OUTPUTS["squared_error"])
        extra = dict(loss=loss, output_activation=draw(output))
    data = draw(data_specs(targets, n_outputs))
    sizes, activation = draw(hidden_layers())
    params = dict(hidden_layer_sizes=sizes, activation=activation,
                  dtype=draw(st.sampled_from([None, "float64", "float32"])),
                  **extra, **draw(training_params(data.n_samples)))
    return Case(estimator, params, data,
                **{k: draw(v) for k, v in kernel_settings(threads).items()})


# ---------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------

def draw_targets(rng, kind, n, k):
    """Targets in the range their loss (or the classifier) expects."""
    if kind == "squared_error":
        return rng.uniform(-1, 1, (n, k))
    if kind == "cross_entropy":
        return np.eye(k)[rng.integers(0, k, n)] if rng.random() < 0.5 \
            else rng.dirichlet(np.ones(k), size=n)
    if kind == "binary_cross_entropy":
        return rng.integers(0, 2, (n, k)).astype(float)
    if kind == "poisson":
        return rng.poisson(1.0, (n, k)).astype(float)
    if kind == "multilabel":
        return rng.integers(0, 2, (n, max(k, 2)))
    labels = rng.integers(0, k, n)
    return np.array(["ant", "bee", "cat", "dog"])[labels] if kind == "strings" else labels


def to_format(X, fmt):
    """X (dense float64) in the input format ``fmt``."""
    if fmt == "dense":
        return X
    if fmt == "fortran":
        return np.asfortranarray(X)
    if fmt == "float32":
        return X.astype(np.float32)
    if fmt == "csc":
        return sp.csc_matrix(X)
    M = sp.csr_matrix(X)
    if fmt == "csr_duplicates":
        # every stored entry split into two halves at the same column
        rows = np.repeat(np.arange(M.shape[0]), np.diff(M.indptr))
        return sp.csr_matrix((np.repeat(M.data / 2, 2),
                              (np.repeat(rows, 2), np.repeat(M.indices, 2))), shape=M.shape)
    # csr_unsorted: each row's entries in reverse column order
    for r in range(M.shape[0]):
        lo, hi = M.indptr[r], M.indptr[r + 1]
        M.indices[lo:hi] = M.indices[lo:hi][::-1].copy()
        M.data[lo:hi] = M.data[lo:hi][::-1].copy()
    M.has_sorted_indices = False
    return M


def make_data(spec):
    """(X in spec.fmt, X dense float64, y, sample_weight) of a Data spec."""
    rng = np.random.default_rng(spec.seed)
    X = rng.uniform(-1, 1, (spec.n_samples, spec.n_features))
    X[rng.random(X.shape) < spec.zeros] = 0.0
    y = draw_targets(rng, spec.targets, spec.n_samples, spec.n_outputs)
    if spec.y_1d and y.ndim == 2:
        y = y[:, 0]
    sw = None
    if spec.weights != "none":
        sw = rng.uniform(0.1, 2.0, spec.n_samples)
        if spec.weights == "some_zero":
            sw[rng.random(spec.n_samples) < 0.3] = 0.0
    for name in spec.spoiled:
        X, y, sw = SPOIL_DATA[name](X, y, sw)
    X_in = to_format(X, spec.fmt)
    if spec.fmt == "float32":
        X = X_in.astype(np.float64)
    return X_in, X, y, sw


# ---------------------------------------------------------------------------
# Running calls and checking their outcome
# ---------------------------------------------------------------------------

@contextlib.contextmanager
def kernel_context(case):
    """The case's kernel build and thread threshold, for the estimators."""
    module = fastnet.kernels.load(case.build)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(fastnet.kernels, "Plan", module.Plan)
        mp.setattr(fastnet.kernels, "Samples", module.Samples)
        if case.threaded:
            mp.setattr(fastnet.kernels, "PARALLEL_MIN_WEIGHTS", 0)
            mp.setattr(fastnet.kernels, "GEMM_SLICE_ROWS", 1)
        yield


def attempt(call, *args, errors=(ValueError,), **kwargs):
    """Run call; return the exception it raised (one of ``errors``) or None.
    Any other exception fails the test."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.filterwarnings("ignore", message="Got `batch_size`")
        warnings.simplefilter("ignore", DataConversionWarning)
        try:
            call(*args, **kwargs)
        except errors as exc:
            return exc
    return None


def weights_of(est):
    """The flat parameter buffer (a copy), or None before the first fit."""
    return est._params.copy() if "_params" in est.__dict__ else None


def assert_finite_outcome(est, exc):
    """A call gave finite weights, or raised and left finite weights."""
    params = weights_of(est)
    if exc is None:
        assert params is not None
    if params is not None:
        assert np.isfinite(params).all(), (
            f"non-finite weights after {'success' if exc is None else repr(exc)}")


@contextlib.contextmanager
def fitted(case, errors):
    """In the case's kernel settings: (estimator, fit's exception or None,
    (X_in, X, y, sample_weight)) after fitting on the case's data."""
    data = make_data(case.data)
    X_in, _, y, sw = data
    with kernel_context(case):
        est = case.estimator(**case.params)
        exc = attempt(est.fit, X_in, y, sample_weight=sw, errors=errors)
        record(exc, est)
        yield est, exc, data


def errors_for(case):
    """What fitting this case may raise: ValueError (early stopping's split of
    too few samples, divergence), and the drop-ins' scikit-learn errors."""
    errors = (ValueError,)
    if case.estimator is not Network and case.data.weights == "some_zero":
        errors += (ZeroDivisionError,)
    return errors


# ---------------------------------------------------------------------------
# Expectations from the numpy reference network
# ---------------------------------------------------------------------------

def plain(spec):
    """An activation as tests/reference.py reads it."""
    return spec if isinstance(spec, (Logistic, ELU)) else str(spec)


def reference_layers(est):
    """The activations of every layer by the estimators' documented rules:
    the hidden ones as given, the output one as given or the drop-in's."""
    params = est.get_params()
    activation, n_hidden = params["activation"], len(params["hidden_layer_sizes"])
    hidden = list(activation) if isinstance(activation, list) else [activation] * n_hidden
    if isinstance(est, MLPClassifier):
        out = "softmax" if est._label_binarizer.y_type_ == "multiclass" else "logistic"
    elif params["output_activation"] is not None:
        out = params["output_activation"]
    else:
        out = "exp" if params["loss"] == "poisson" else "identity"
    return [plain(a) for a in hidden + [out]]


def output_activations(est, X_in):
    """The network's output activations (n_samples, n_outputs) via the public API."""
    if isinstance(est, MLPClassifier):
        est.predict(X_in)
        proba = est.predict_proba(X_in)
        return proba[:, 1:] if est.n_outputs_ == 1 else proba
    return est.predict(X_in).reshape(X_in.shape[0], -1)


def float32_forward(est, X_in):
    """Whether predict computes in float32 (float32 X and weights)."""
    return est._params.dtype == np.float32 and getattr(X_in, "dtype", None) == np.float32


def assert_predictions_match_reference(est, X_in, X):
    """Finite predictions equal to the numpy forward pass on the fitted weights
    (float32 to float32 rounding; a step output where z is not at its jump)."""
    layers = reference_layers(est)
    with np.errstate(all="ignore"):
        zs, outs = np_forward(est.coefs_, est.intercepts_, layers, X)
    got = output_activations(est, X_in)
    assert np.isfinite(got).all(), "non-finite predictions from finite weights"
    rtol, atol = (1e-4, 1e-5) if float32_forward(est, X_in) else (1e-9, 1e-12)
    away = np.ones(got.shape, bool) if layers[-1] != "step" else np.abs(zs[-1]) > 1e3 * atol
    np.testing.assert_allclose(got[away], outs[-1][away], rtol=rtol, atol=atol)


def reference_targets(est, y):
    """(loss name, scale, Y as the kernels see it) of a fitted estimator."""
    if isinstance(est, MLPClassifier):
        Y = est._label_binarizer.transform(y).astype(float)
        multiclass = est._label_binarizer.y_type_ == "multiclass"
        return ("cross_entropy" if multiclass else "binary_cross_entropy"), 1.0, Y
    Y = np.asarray(y, float).reshape(len(y), -1)
    loss = est.loss
    averages = isinstance(est, MLPRegressor) and loss == "squared_error"
    return loss, (1.0 / Y.shape[1] if averages else 1.0), Y


def assert_loss_and_gradient_sound(est, X_in, X, y, sw):
    """_loss_and_gradient leaves the weights alone and gives finite gradients
    shaped as the weights; its loss is the numpy reference loss (float64)."""
    before = weights_of(est)
    loss_name, scale, Y = reference_targets(est, y)
    result = []
    exc = attempt(lambda: result.append(est._loss_and_gradient(X_in, Y, sw)))
    np.testing.assert_array_equal(weights_of(est), before)
    if exc is not None:
        assert sw is not None and sw.sum() == 0, repr(exc)
        return
    loss, coef_grads, intercept_grads = result[0]
    assert [g.shape for g in coef_grads] == [c.shape for c in est.coefs_]
    assert [g.shape for g in intercept_grads] == [b.shape for b in est.intercepts_]
    assert all(np.isfinite(g).all() for g in coef_grads + intercept_grads)
    if est._params.dtype == np.float64:
        with np.errstate(all="ignore"):
            want = scale * np_loss(est.coefs_, est.intercepts_, reference_layers(est),
                                   loss_name, X, Y, sw, est.alpha)
        want += (1 - scale) * est.alpha / 2 * sum((c ** 2).sum() for c in est.coefs_) \
            / (len(X) if sw is None else sw.sum())
        np.testing.assert_allclose(loss, want, rtol=1e-9, atol=1e-12)


def tiled(X_in, times):
    """X_in stacked `times` times (dense or sparse)."""
    if sp.issparse(X_in):
        return sp.vstack([X_in] * times, format=X_in.format)
    return np.tile(X_in, (times, 1))


def assert_threads_agree(est, case, X_in, y, sw, exc):
    """One thread trains the same weights as several, bit for bit, and the
    threaded forward pass (at least 64 rows per thread) gives every row's own
    prediction."""
    if est._n_threads() == 1:
        return
    serial = clone(est).set_params(n_jobs=1)
    serial_exc = attempt(serial.fit, X_in, y, sample_weight=sw, errors=errors_for(case))
    assert type(serial_exc) is type(exc)
    if exc is None:
        np.testing.assert_array_equal(serial._params, est._params)
        np.testing.assert_array_equal(serial.loss_curve_ if case.params["solver"] != "lbfgs"
                                      else serial.loss_, getattr(est, "loss_curve_", est.loss_))
        times = -(-128 // X_in.shape[0])
        many = est.predict(tiled(X_in, times))
        np.testing.assert_array_equal(many, np.concatenate([est.predict(X_in)] * times))


def assert_partial_fit_sound(est, case, X_in, y, sw):
    """partial_fit continues to finite weights; with early stopping it refuses
    (scikit-learn's ValueError) and leaves the model as it was."""
    try:
        partial_fit = est.partial_fit
    except AttributeError:   # not offered for this solver (scikit-learn's rule)
        assert case.params["solver"] == "lbfgs"
        return
    before = weights_of(est)
    exc = attempt(partial_fit, X_in, y, sample_weight=sw, errors=errors_for(case))
    if case.params["early_stopping"]:
        assert isinstance(exc, ValueError) and "early_stopping" in str(exc)
        np.testing.assert_array_equal(weights_of(est), before)
    assert_finite_outcome(est, exc)


def check_case(case):
    """Fit, then every check of a fitted model, for one sane case."""
    with fitted(case, errors_for(case)) as (est, exc, (X_in, X, y, sw)):
        event(f"{est._n_threads()} thread(s){', every layer' if case.threaded else ''}")
        assert_finite_outcome(est, exc)
        assert_threads_agree(est, case, X_in, y, sw, exc)
        if exc is not None:
            return
        assert_predictions_match_reference(est, X_in, X)
        assert_loss_and_gradient_sound(est, X_in, X, y, sw)
        assert_partial_fit_sound(est, case, X_in, y, sw)


@fuzz_settings(200)
@given(case=network_cases())
def test_network_fuzz(case):
    check_case(case)


@fuzz_settings(100)
@given(case=dropin_cases())
def test_dropin_fuzz(case):
    check_case(case)


# ---------------------------------------------------------------------------
# Training on: partial_fit and warm-started fits with changed settings
# ---------------------------------------------------------------------------

def setting_changes(case):
    """Settings a fitted model may train on with: the solver and its
    parameters, L2, threads, the hidden activation (early stopping has its
    own test: test_network_trains_on_after_changed_records)."""
    solvers = ["sgd", "adam", "lbfgs"]
    return st.fixed_dictionaries({}, optional=dict(
        solver=st.sampled_from(solvers), batch_size=st.sampled_from([1, 3, "auto", "full"]),
        learning_rate_init=st.floats(1e-4, 0.02), momentum=st.sampled_from([0.0, 0.9]),
        alpha=st.sampled_from([0.0, 0.1]), n_jobs=st.sampled_from([1, 2]),
        activation=activations))


@st.composite
def continuations(draw):
    """A case, then one to three (method, setting changes) to train on with."""
    case = draw(st.one_of(network_cases(), dropin_cases()))
    steps = st.tuples(st.sampled_from(["partial_fit", "warm_fit"]), setting_changes(case))
    return case, draw(st.lists(steps, min_size=1, max_size=3))


def train_on(est, method):
    """est.partial_fit where asked for and offered (scikit-learn's rule: sgd
    and adam, any solver of MLPRegressor), else fit with warm_start."""
    if method == "partial_fit" and (est.solver != "lbfgs" or isinstance(est, MLPRegressor)):
        return est.partial_fit
    return est.set_params(warm_start=True).fit


@fuzz_settings(100)
@given(plan=continuations())
def test_training_on_with_changed_settings(plan):
    """Each further call trains on to finite weights (or raises ValueError and
    leaves finite weights), whose predictions equal the numpy reference."""
    case, steps = plan
    with fitted(case, errors_for(case)) as (est, exc, (X_in, X, y, sw)):
        if exc is not None:
            return
        for method, changes in steps:
            call = train_on(est.set_params(**changes), method)
            exc = attempt(call, X_in, y, sample_weight=sw, errors=errors_for(case))
            record(exc, est)
            assert_finite_outcome(est, exc)
            if exc is None:
                assert_predictions_match_reference(est, X_in, X)


# ---------------------------------------------------------------------------
# Calls that must fail validation, on a fitted model
# ---------------------------------------------------------------------------

def with_nan(X_in):
    X = np.asarray(X_in.toarray() if sp.issparse(X_in) else X_in, dtype=float).copy()
    X.flat[0] = np.nan
    return X


def extra_column(X_in):
    if sp.issparse(X_in):
        return sp.hstack([X_in, sp.csr_matrix((X_in.shape[0], 1))], format=X_in.format)
    return np.hstack([X_in, np.zeros((X_in.shape[0], 1), X_in.dtype)])


def other_targets(est, y):
    """Targets the fitted network cannot take: one output more, or a new class."""
    if isinstance(est, MLPClassifier):
        return np.where(np.arange(len(y)) == 0, "new" if y.dtype.kind == "U" else 99, y) \
            if y.ndim == 1 else np.hstack([y, y[:, :1]])
    return np.hstack([np.asarray(y, float).reshape(len(y), -1)] * 2)


def train_more(est):
    """partial_fit where offered, else fit with warm_start."""
    try:
        return est.partial_fit
    except AttributeError:
        return lambda *args, **kwargs: est.set_params(warm_start=True).fit(*args, **kwargs)


# name: call(est, X_in, y, sw) that must raise ValueError or TypeError
BAD_CALLS = {
    "predict_extra_column": lambda est, X, y, sw: est.predict(extra_column(X)),
    "predict_nan": lambda est, X, y, sw: est.predict(with_nan(X)),
    "predict_inf": lambda est, X, y, sw: est.predict(with_nan(X) * 0 + np.inf),
    "predict_sparse_nan": lambda est, X, y, sw: est.predict(sp.csr_matrix(with_nan(X))),
    "predict_3d": lambda est, X, y, sw: est.predict(np.zeros((2, X.shape[1], 1))),
    "predict_strings": lambda est, X, y, sw: est.predict(np.full(X.shape, "a")),
    "predict_complex": lambda est, X, y, sw: est.predict(np.zeros(X.shape, complex)),
    "predict_no_rows": lambda est, X, y, sw: est.predict(np.zeros((0, X.shape[1]))),
    "train_nan": lambda est, X, y, sw: train_more(est)(with_nan(X), y, sample_weight=sw),
    "train_extra_column": lambda est, X, y, sw: train_more(est)(extra_column(X), y),
    "train_other_targets": lambda est, X, y, sw: train_more(est)(X, other_targets(est, y)),
    "train_short_weights": lambda est, X, y, sw: train_more(est)(
        X, y, sample_weight=np.ones(X.shape[0] + 1)),
    # fit validates parameters; partial_fit of a fitted model does not
    # (scikit-learn's _fit_context), so only fit can refuse them
    "warm_fit_bad_rate": lambda est, X, y, sw: est.set_params(
        warm_start=True, learning_rate_init=-1.0).fit(X, y),
    "train_activation_list": lambda est, X, y, sw: train_more(
        est.set_params(activation=["relu"] * (est.n_layers_ - 1)))(X, y),
    "gradient_other_targets": lambda est, X, y, sw: est._loss_and_gradient(
        X, np.zeros((X.shape[0], est.n_outputs_ + 1))),
}


def snapshot(est, X_in):
    """What a failed call must not change: weights, records, predictions."""
    return (weights_of(est), est.n_iter_, getattr(est, "t_", None),
            list(getattr(est, "loss_curve_", None) or []), est.predict(X_in))


@fuzz_settings(100)
@given(case=st.one_of(network_cases(threads=False), dropin_cases(threads=False)),
       call=st.sampled_from(sorted(BAD_CALLS)))
def test_failing_calls_leave_model_unchanged(case, call):
    """A call that fails validation raises ValueError or TypeError and leaves
    the weights, the training records and the predictions as they were."""
    with fitted(case, errors_for(case)) as (est, exc, (X_in, X, y, sw)):
        if exc is not None:
            return
        event(call)
        params = est.get_params()
        before = snapshot(est, X_in)
        exc = attempt(BAD_CALLS[call], est, X_in, y, sw, errors=(ValueError, TypeError))
        assert exc is not None, f"{call} did not raise"
        after = snapshot(est.set_params(**params), X_in)
        for was, now in zip(before, after):
            np.testing.assert_array_equal(now, was)


# ---------------------------------------------------------------------------
# Hostile inputs: anything may happen but a crash or an undocumented error
# ---------------------------------------------------------------------------

def numeric(y, change):
    """change(y) for numeric targets; labels stay as they are."""
    return change(np.asarray(y, float)) if np.asarray(y).dtype.kind in "fiu" else y


def set_first(a, value):
    a = np.array(a, dtype=float)
    if a.size:
        a.flat[0] = value
    return a


def weights(sw, n, change):
    return change(np.ones(n) if sw is None else sw)


# name: (X, y, sw) -> (X, y, sw)
SPOIL_DATA = {
    "huge_X": lambda X, y, sw: (X * 1e150, y, sw),
    "denormal_X": lambda X, y, sw: (X * 1e-310, y, sw),
    "nan_X": lambda X, y, sw: (set_first(X, np.nan), y, sw),
    "inf_X": lambda X, y, sw: (set_first(X, -np.inf), y, sw),
    "constant_X": lambda X, y, sw: (np.zeros_like(X), y, sw),
    "no_rows": lambda X, y, sw: (X[:0], y[:0], None if sw is None else sw[:0]),
    "no_features": lambda X, y, sw: (X[:, :0], y, sw),
    "huge_y": lambda X, y, sw: (X, numeric(y, lambda t: t * 1e150 + 1e150), sw),
    "nan_y": lambda X, y, sw: (X, numeric(y, lambda t: set_first(t, np.nan)), sw),
    "negative_weights": lambda X, y, sw: (X, y, weights(sw, len(X), lambda w: -w)),
    "zero_weights": lambda X, y, sw: (X, y, weights(sw, len(X), np.zeros_like)),
    "nan_weights": lambda X, y, sw: (X, y, weights(sw, len(X), lambda w: set_first(w, np.nan))),
    "huge_weights": lambda X, y, sw: (X, y, weights(sw, len(X), lambda w: w * 1e300)),
}
# name: parameters that replace the case's
SPOIL_PARAMS = {
    "big_rate": dict(learning_rate_init=10.0),
    "huge_rate": dict(learning_rate_init=1e200),
    "momentum_one": dict(momentum=1.0),
    "huge_alpha": dict(alpha=1e8),
    "steep_logistic": dict(activation=Logistic(L=1e-6, k=1e6, x0=0.0)),
    "huge_elu": dict(activation=ELU(alpha=1e200)),
    "adam_extremes": dict(beta_1=0.0, beta_2=0.0, epsilon=1e-300),
    "n_jobs_zero": dict(n_jobs=0),
    "zero_width_layer": dict(hidden_layer_sizes=(3, 0)),
    "batch_zero": dict(batch_size=0),
    "huge_batch": dict(batch_size=10 ** 9),
    "int_dtype": dict(dtype="int32"),
    "one_evaluation": dict(solver="lbfgs", max_fun=1),
    "all_validation": dict(early_stopping=True, validation_fraction=0.99),
}
ALL_OUTPUTS = NAMES + ["step", "exp"]


@st.composite
def hostile_cases(draw):
    """A case with some of its data and parameters spoiled; a Network may take
    any output activation with any loss."""
    case = draw(st.one_of(network_cases(threads=False), dropin_cases(threads=False)))
    case.data.spoiled = tuple(draw(st.lists(st.sampled_from(sorted(SPOIL_DATA)), max_size=2)))
    for name in draw(st.lists(st.sampled_from(sorted(SPOIL_PARAMS)), max_size=2)):
        case.params.update(SPOIL_PARAMS[name])
    if case.estimator is Network and draw(st.booleans()):
        case.params["output_activation"] = draw(st.sampled_from(ALL_OUTPUTS))
        case.params["loss"] = draw(st.sampled_from(LOSSES))
    return case


def hostile_errors(case):
    return errors_for(case) + (TypeError, ZeroDivisionError)


@fuzz_settings(150)
@given(case=hostile_cases())
def test_hostile_inputs_raise_documented_errors(case):
    """Whatever the inputs, fit, predict, partial_fit and the loss and
    gradient return or raise a documented error; a fit that returns has finite
    weights."""
    with fitted(case, hostile_errors(case)) as (est, exc, (X_in, X, y, sw)):
        if exc is not None:
            return
        assert np.isfinite(est._params).all()
        attempt(est.predict, X_in, errors=hostile_errors(case))
        Y = np.asarray(y).reshape(len(y), -1)
        attempt(est._loss_and_gradient, X_in, Y, sw, errors=hostile_errors(case))
        if hasattr(est, "partial_fit"):
            attempt(est.partial_fit, X_in, y, sample_weight=sw, errors=hostile_errors(case))


# ---------------------------------------------------------------------------
# What the fuzz found (fixed): training on after another solver or early-
# stopping setting, Adam after L-BFGS changed the dtype, diverging fits
# ---------------------------------------------------------------------------

def regression_data():
    rng = np.random.default_rng(0)
    return rng.uniform(-1, 1, (30, 3)), rng.uniform(-1, 1, 30)


@pytest.mark.parametrize("first, then, method", [
    ({"solver": "lbfgs"}, {"solver": "sgd"}, "partial_fit"),
    ({"solver": "lbfgs"}, {"solver": "sgd"}, "warm_fit"),
    ({"early_stopping": True}, {"early_stopping": False}, "partial_fit"),
    ({"early_stopping": True}, {"early_stopping": False}, "warm_fit"),
    ({"early_stopping": False}, {"early_stopping": True}, "warm_fit"),
])
def test_network_trains_on_after_changed_records(first, then, method):
    """A fitted Network trains on with another solver or early-stopping
    setting, or refuses with ValueError before touching its weights.  (The
    drop-ins fail here as scikit-learn 1.9's MLPs do.)"""
    X, y = regression_data()
    net = Network(hidden_layer_sizes=(4,), max_iter=2, random_state=0, **first)
    attempt(net.fit, X, y)
    before = weights_of(net)
    exc = attempt(train_on(net.set_params(**then), method), X, y)
    assert_finite_outcome(net, exc)
    if exc is not None:
        np.testing.assert_array_equal(weights_of(net), before)


def test_regressor_partial_fit_after_lbfgs():
    """MLPRegressor(dtype=None) on float32 X trains on with Adam after an
    L-BFGS partial_fit, as scikit-learn's does, in float64 (L-BFGS's)."""
    X, y = regression_data()
    X = X.astype(np.float32)
    est = MLPRegressor(hidden_layer_sizes=(5,), max_iter=3, random_state=0)
    attempt(est.fit, X, y)
    attempt(est.set_params(solver="lbfgs").partial_fit, X, y)
    assert attempt(est.set_params(solver="adam").partial_fit, X, y) is None
    assert est.coefs_[0].dtype == np.float64


@st.composite
def diverging_cases(draw):
    """Sane cases pushed to diverge: huge steps, or huge inputs or targets."""
    case = draw(st.one_of(network_cases(threads=False), dropin_cases(threads=False)))
    push = draw(st.sampled_from(["huge_rate", "huge_X", "huge_y"]))
    if push == "huge_rate":
        case.params.update(learning_rate_init=draw(st.sampled_from([1e3, 1e6, 1e12])),
                           solver=draw(st.sampled_from(["sgd", "adam"])))
    else:
        case.data.spoiled = (push,)
    return case


@fuzz_settings(100)
@given(case=diverging_cases())
def test_diverging_fits_keep_finite_weights(case):
    """A fit that diverges raises ValueError and leaves finite weights."""
    with fitted(case, errors_for(case)) as (est, exc, _):
        assert_finite_outcome(est, exc)
