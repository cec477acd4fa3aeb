"""Tests of ``fastnet.Network``: the maths through the estimator, its
behaviour, and its scikit-learn conventions.

Equation numbers refer to docs/maths.md.

Everything expected here is computed independently of fastnet: with numpy
(a reference forward pass and loss), by central finite differences, by hand
(the 2-2-1 example), or from scikit-learn.
"""
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

import fastnet
import fastnet.network
from fastnet import ELU, Logistic, Network
from reference import (FD_STEP, HIDDEN_SIZES, NumpyOptimizer, act_params,
                       assert_params_close, gradient_cases, gradient_data, np_forward,
                       np_loss, numpy_epoch, random_weights, step_cases)


# ---------------------------------------------------------------------------
# Helpers around the numpy reference network (tests/reference.py).
# ---------------------------------------------------------------------------

def fit_layout(X, Y, **params):
    """A Network fitted for one epoch: its layout exists, its weights are ours."""
    params.setdefault("max_iter", 1)
    params.setdefault("random_state", 0)
    net = Network(**params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        net.fit(X, Y)
    return net


def fit_quiet(net, *args, method="fit", **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return getattr(net, method)(*args, **kwargs)


def set_weights(net, coefs, intercepts):
    net.coefs_ = [np.array(c) for c in coefs]
    net.intercepts_ = [np.array(b) for b in intercepts]


def params_of(net):
    return [c.copy() for c in net.coefs_] + [b.copy() for b in net.intercepts_]


def finite_difference(net, X, Y, sw, h):
    """Central differences (f(w+h) - f(w-h)) / 2h of the network's own loss,
    for every weight and bias (coefs_/intercepts_ are views of the buffer)."""
    X = net._check_X(X)
    net._check_X = lambda X: X  # validated once: the loop's time is the kernels'
    grads = []
    try:
        for arrays in (net.coefs_, net.intercepts_):
            for arr in arrays:
                g = np.zeros(arr.shape)
                for idx in np.ndindex(arr.shape):
                    old = arr[idx]
                    arr[idx] = old + h
                    up = net._loss_and_gradient(X, Y, sw)[0]
                    arr[idx] = old - h
                    down = net._loss_and_gradient(X, Y, sw)[0]
                    arr[idx] = old
                    g[idx] = (up - down) / (2 * h)
                grads.append(g)
    finally:
        del net._check_X
    return grads


# ---------------------------------------------------------------------------
# 1. Gradient checks: every hidden x output activation x loss.
# ---------------------------------------------------------------------------

def gradient_problem(hidden, out, loss, variant, seed=0):
    """Data, targets, weights (tests/reference.py) and Network settings for
    one gradient check."""
    X, Y, sw, coefs, intercepts, alpha = gradient_data(hidden, out, loss, variant, seed)
    params = dict(hidden_layer_sizes=HIDDEN_SIZES, activation=hidden,
                  output_activation=out, loss=loss, alpha=alpha)
    return X, Y, sw, coefs, intercepts, params


@pytest.mark.parametrize("hidden, out, loss, variant", list(gradient_cases()))
def test_gradient_float64_finite_differences(hidden, out, loss, variant):
    """Kernel gradient (1.29 with 2.12 / 2.16 / 2.21 / 2.28) == central finite
    differences of the kernel's own loss, and that loss == numpy's."""
    X, Y, sw, coefs, intercepts, params = gradient_problem(hidden, out, loss, variant)
    net = fit_layout(X, Y, **params)
    set_weights(net, coefs, intercepts)
    loss_value, cg, ig = net._loss_and_gradient(X, Y, sw)
    acts = [hidden, hidden, out]
    expected_loss = np_loss(coefs, intercepts, acts, loss, X, Y, sw, params["alpha"])
    np.testing.assert_allclose(loss_value, expected_loss, rtol=1e-12)
    fd = finite_difference(net, X, Y, sw, FD_STEP)
    for got, want in zip(cg + ig, fd):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-9)
    # The same gradient through the per-sample accumulation path (sparse X).
    _, cg_sp, ig_sp = net._loss_and_gradient(sp.csr_matrix(X), Y, sw)
    for got, want in zip(cg_sp + ig_sp, cg + ig):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)
    assert any(np.abs(g).max() > 1e-3 for g in cg)  # a gradient worth checking


@pytest.mark.parametrize("hidden, out, loss, variant", list(gradient_cases()))
def test_gradient_float32_against_float64_differences(hidden, out, loss, variant):
    """float32 kernel gradient == float64 finite differences at the same
    (float32-representable) weights and data, to float32 accuracy."""
    X, Y, sw, coefs, intercepts, params = gradient_problem(hidden, out, loss, variant)
    f32 = lambda a: None if a is None else np.asarray(a, np.float32)
    X, Y, sw = f32(X), f32(Y), f32(sw)
    coefs, intercepts = [f32(c) for c in coefs], [f32(b) for b in intercepts]
    net32 = fit_layout(X, Y, dtype="float32", **params)
    set_weights(net32, coefs, intercepts)
    loss32, cg, ig = net32._loss_and_gradient(X, Y, sw)
    assert all(g.dtype == np.float32 for g in cg + ig)
    net64 = fit_layout(X.astype(np.float64), Y.astype(np.float64), **params)
    set_weights(net64, [c.astype(np.float64) for c in coefs],
                [b.astype(np.float64) for b in intercepts])
    X64, Y64 = X.astype(np.float64), Y.astype(np.float64)
    sw64 = None if sw is None else sw.astype(np.float64)
    loss64 = net64._loss_and_gradient(X64, Y64, sw64)[0]
    np.testing.assert_allclose(loss32, loss64, rtol=1e-5)
    fd = finite_difference(net64, X64, Y64, sw64, FD_STEP)
    scale = max(np.abs(g).max() for g in fd)
    for got, want in zip(cg + ig, fd):
        np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-5 * scale)


# ---------------------------------------------------------------------------
# 1b. The fused backward+update kernels take exactly the checked gradient.
# ---------------------------------------------------------------------------

def reference_epoch(oracle, start, X, Y, sw, batch_size, eta, kind="sgd", mu=0.9,
                    nesterov=False, alpha=0.0, b1=0.9, b2=0.999, eps=1e-8):
    """One epoch in visiting order 0..n-1, each step computed in numpy
    (tests/reference.py) from the gradient that ``_loss_and_gradient``
    (checked above) gives on the batch: SGD (1.31, 1.32), scikit-learn's
    momentum / Nesterov, or Adam.  A batch of one weighted sample takes
    Network's step, scaled by its weight."""
    n_layers = len(start) // 2

    def loss_and_gradient(params, X, Y, sw):
        set_weights(oracle, params[:n_layers], params[n_layers:])
        loss, cg, ig = oracle._loss_and_gradient(X, Y, sw)
        # Network's per-sample step scales by the sample's weight (T.3a)
        w = 1.0 if sw is None or len(X) > 1 else sw[0]
        return w * loss, [w * g for g in cg + ig]

    optimizer = NumpyOptimizer(kind, eta, start, mu, nesterov, b1, b2, eps)
    return numpy_epoch(loss_and_gradient, start, X, Y, sw, batch_size, optimizer)[0]


@pytest.mark.parametrize("hidden, out, loss, reg", list(step_cases()))
def test_per_sample_step_is_minus_eta_gradient(hidden, out, loss, reg):
    """One per-sample SGD step (1.31, 1.32) on one sample moves every weight by
    exactly -eta * (the finite-difference-checked gradient); with L2 and a
    sample weight w, Network's step scales by w (T.3a): -eta (w grad c +
    alpha W), which is w times the gradient of the weighted mean of one."""
    X, Y, _, coefs, intercepts, params = gradient_problem(hidden, out, loss, "single")
    sw = np.array([1.7]) if reg else None
    params["alpha"] = 0.2 if reg else 0.0
    eta = 0.1
    net = fit_layout(X, Y, batch_size=1, shuffle=False, learning_rate_init=eta,
                     warm_start=True, **params)
    set_weights(net, coefs, intercepts)
    _, cg, ig = net._loss_and_gradient(X, Y, sw)
    start, t_before = params_of(net), net.t_
    fit_quiet(net, X, Y, sample_weight=sw)  # warm start: one epoch from our weights
    moved = [after - before for after, before in zip(params_of(net), start)]
    w = 1.0 if sw is None else sw[0]
    assert_params_close(moved, [-eta * w * g for g in cg + ig], rtol=1e-9, atol=1e-14)
    assert net.n_iter_ == 1 and net.t_ == t_before + 1


OPT_CASES = {
    "sgd_batch2": dict(batch_size=2),
    "momentum_batch1": dict(batch_size=1, momentum=0.9),
    "nesterov_batch1": dict(batch_size=1, momentum=0.9, nesterovs_momentum=True),
    "momentum_batch2": dict(batch_size=2, momentum=0.9),
    "adam_batch1": dict(batch_size=1, solver="adam"),
    "adam_batch2": dict(batch_size=2, solver="adam"),
}


@pytest.mark.parametrize("case", list(OPT_CASES))
@pytest.mark.parametrize("reg", [False, True], ids=["plain", "l2_weighted"])
@pytest.mark.parametrize("hidden, out, loss", [
    ("tanh", "softmax", "cross_entropy"),
    ("relu", "identity", "squared_error"),
    (Logistic(L=2, k=0.5, x0=0.3), "logistic", "binary_cross_entropy"),
], ids=["tanh-softmax-ce", "relu-identity-se", "logistic2-logistic-bce"])
def test_optimizer_steps_follow_the_gradient(hidden, out, loss, case, reg):
    """Minibatch mean gradient, momentum (v2 = mu v1 - eta g2), Nesterov and
    Adam over four samples in order, against the same steps taken in numpy
    from ``_loss_and_gradient``."""
    X, Y, sw, coefs, intercepts, params = gradient_problem(hidden, out, loss, "batch")
    X, Y, sw = X[:4], Y[:4], (sw[:4] if reg else None)
    params["alpha"] = 0.3 if reg else 0.0
    opt = dict(OPT_CASES[case])
    eta = 0.05
    net = fit_layout(X, Y, shuffle=False, learning_rate_init=eta, warm_start=True,
                     **params, **opt)
    set_weights(net, coefs, intercepts)
    start = params_of(net)
    kind = "adam" if opt.get("solver") == "adam" else (
        "momentum" if opt.get("momentum", 0) > 0 else "sgd")
    want = reference_epoch(net, start, X, Y, sw, opt["batch_size"], eta, kind=kind,
                           nesterov=opt.get("nesterovs_momentum", False))
    set_weights(net, start[:3], start[3:])
    fit_quiet(net, X, Y, sample_weight=sw)
    assert_params_close(params_of(net), want)


# ---------------------------------------------------------------------------
# 2. Seed 004's output delta is wrong: softmax + CE gives s^L = a - t (2.21).
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("dense", [True, False], ids=["dense", "sparse"])
def test_softmax_cross_entropy_output_delta_is_a_minus_t(dense):
    """The output bias gradient of one sample is s^L = a - t (2.21, 1.29 with
    a = 1): every non-target class gets +a_k > 0.  Seed 004's -c (1 - A)
    would give those classes exactly 0."""
    rng = np.random.default_rng(4)
    X = rng.uniform(-1, 1, (1, 4))
    t = np.array([[0.0, 1.0, 0.0, 0.0]])
    net = fit_layout(X, t, hidden_layer_sizes=(6,), activation="relu",
                     output_activation="softmax", loss="cross_entropy")
    coefs, intercepts = random_weights(rng, [4, 6, 4])
    set_weights(net, coefs, intercepts)
    a_hidden, a = np_forward(coefs, intercepts, ["relu", "softmax"], X)[1]
    _, cg, ig = net._loss_and_gradient(X if dense else sp.csr_matrix(X), t)
    np.testing.assert_allclose(ig[-1], (a - t)[0], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(cg[-1], a_hidden.T @ (a - t), rtol=1e-12, atol=1e-15)
    others = t[0] == 0
    assert np.all(ig[-1][others] > 0)
    seed_004 = (-t * (1 - a))[0]
    assert not np.allclose(ig[-1], seed_004)


# ---------------------------------------------------------------------------
# 3. A 2-2-1 logistic network worked by hand.
# ---------------------------------------------------------------------------

def test_two_two_one_logistic_network_by_hand():
    """One SGD step, eta = 0.5, computed by hand (to 30 digits, then rounded).

    x = (1, 0.5), t = 1; w^1 = [[0.5, -1], [0.25, 0.75]] (rows: neuron i),
    b^1 = (0, -0.5); w^2 = [[1, -2]], b^2 = 0.5.
    Forward (1.1, 1.2, 1.8):
      z^1 = (0.5 - 0.5 + 0, 0.25 + 0.375 - 0.5) = (0, 0.125)
      a^1 = (0.5, 0.5312093733737563)
      z^2 = 0.5 - 2 * 0.5312093733737563 + 0.5 = -0.06241874674751251
      a^2 = 0.4844003777915388;  c = 1/2 (a - t)^2 = 0.1329214852107539
    Output delta (1.27 without the factor 2, our c being 1/2 (a - t)^2;
    squared error + logistic is not a fused pair, so this is (2.16)):
      s^2 = (a - t) a (1 - a) = -0.1287744353054033
    Hidden deltas (1.26): s^1_i = a_i (1 - a_i) w^2_i s^2
      s^1 = (0.25 * 1 * s^2, 0.2490228...*(-2) * s^2)
          = (-0.03219360882635082, 0.06413635861751212)
    Updates (1.31, 1.32): w -= eta s a^T, b -= eta s.
    """
    X = np.array([[1.0, 0.5]])
    y = np.array([1.0])
    net = fit_layout(X, y, hidden_layer_sizes=(2,), activation="logistic",
                     output_activation="logistic", loss="squared_error",
                     batch_size=1, learning_rate_init=0.5, shuffle=False,
                     warm_start=True)
    net.coefs_ = [np.array([[0.5, 0.25], [-1.0, 0.75]]), np.array([[1.0], [-2.0]])]
    net.intercepts_ = [np.array([0.0, -0.5]), np.array([0.5])]
    np.testing.assert_allclose(net.predict(X), [0.4844003777915388], rtol=1e-12)
    fit_quiet(net, X, y)
    # the epoch's loss is taken before the step (loss_curve_ keeps growing
    # over warm-start fits, as scikit-learn's does)
    np.testing.assert_allclose(net.loss_curve_[-1], 0.1329214852107539, rtol=1e-12)
    np.testing.assert_allclose(
        net.coefs_[0], [[0.5160968044131754, 0.2179318206912439],
                        [-0.9919515977934123, 0.7339659103456220]], rtol=0, atol=1e-9)
    np.testing.assert_allclose(net.intercepts_[0], [0.01609680441317541, -0.5320681793087561],
                               rtol=0, atol=1e-9)
    np.testing.assert_allclose(net.coefs_[1], [[1.032193608826351], [-1.965796906457429]],
                               rtol=0, atol=1e-9)
    np.testing.assert_allclose(net.intercepts_[1], [0.5643872176527016], rtol=0, atol=1e-9)


# ---------------------------------------------------------------------------
# 4. Seed 001's perceptron.
# ---------------------------------------------------------------------------

ALL_BINARY_3 = np.array([[x1, x2, x3] for x1 in (0, 1) for x2 in (0, 1) for x3 in (0, 1)],
                        dtype=float)


def test_football_perceptron_seed_001():
    """The perceptron (P.1)-(P.2): w = (3, 1, 5), threshold 3 (b = -3).  Output 1
    exactly for the five listed cases; (1, 0, 0) sits on the threshold
    (3 > 3 is false) and gives 0."""
    go = {(1, 1, 1), (1, 1, 0), (0, 1, 1), (1, 0, 1), (0, 0, 1)}  # the football example of section "The perceptron"
    y = np.array([float(tuple(int(v) for v in x) in go) for x in ALL_BINARY_3])
    net = fit_layout(ALL_BINARY_3, y, hidden_layer_sizes=(), output_activation="step")
    net.coefs_ = [np.array([[3.0], [1.0], [5.0]])]
    net.intercepts_ = [np.array([-3.0])]
    pred = net.predict(ALL_BINARY_3)
    for x, p in zip(ALL_BINARY_3, pred):
        assert p == (1.0 if tuple(int(v) for v in x) in go else 0.0), x
    assert pred.sum() == 5


@pytest.mark.parametrize("rule", ["and", "football"])
def test_perceptron_rule_learns_separable_problem(rule):
    """The step output trains by the perceptron rule w -= eta (a - t) x: a
    linearly separable problem is learned to 100 %."""
    X = ALL_BINARY_3
    if rule == "and":
        y = X.all(axis=1).astype(float)
    else:
        y = (X @ [3.0, 1.0, 5.0] > 3).astype(float)
    net = Network(hidden_layer_sizes=(), output_activation="step", batch_size=1,
                  learning_rate_init=0.1, max_iter=200, n_iter_no_change=1000,
                  random_state=0)
    fit_quiet(net, X, y)
    assert np.array_equal(net.predict(X), y)
    assert set(np.unique(net.predict(X))) <= {0.0, 1.0}


def test_hidden_step_activation_is_refused():
    X = ALL_BINARY_3
    with pytest.raises(ValueError, match="step"):
        Network(hidden_layer_sizes=(3,), activation="step").fit(X, X[:, 0])
    with pytest.raises(ValueError, match="step"):
        Network(hidden_layer_sizes=(3, 2), activation=["relu", "step"]).fit(X, X[:, 0])


# ---------------------------------------------------------------------------
# 5. Initialisation bounds (1.33 corrected, 1.34, 1.35) and scikit-learn's draws.
# ---------------------------------------------------------------------------

@pytest.fixture
def init_only(monkeypatch):
    """Network.fit stops right after initialisation: coefs_ are the initial draws."""
    monkeypatch.setattr(Network, "_fit_stochastic", lambda self, *args, **kwargs: None)


def he_bound(fan_in, fan_out):
    return np.sqrt(6.0 / fan_in)  # He-uniform; (1.33) misprints 6 / sqrt(fan_in)


def xavier_bound(fan_in, fan_out):
    # (1.34) with the weight matrix's fan-in and fan-out, as Glorot and
    # scikit-learn use them
    return np.sqrt(6.0 / (fan_in + fan_out))


def logistic_bound(fan_in, fan_out):
    return 4.0 * xavier_bound(fan_in, fan_out)  # (1.35)


AUTO_RULE = {"relu": he_bound, "elu": he_bound, "tanh": xavier_bound,
             "identity": xavier_bound, "softmax": xavier_bound, "exp": xavier_bound,
             "logistic": logistic_bound}


def expected_init(units, bounds, seed):
    """scikit-learn's draw order: each layer's coef (fan_in, fan_out) uniform."""
    rs = np.random.RandomState(seed)
    return [rs.uniform(-b, b, (i, o)) for i, o, b in zip(units[:-1], units[1:], bounds)]


@pytest.mark.parametrize("init, rule", [("he", he_bound), ("xavier", xavier_bound)])
def test_init_he_and_xavier_bounds(init_only, init, rule):
    """Every weight within the rule's bound, the bound reached on a large
    layer (60 000 draws), the exact draws reproduced, biases 0."""
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((10, 200)), rng.standard_normal(10)
    net = Network(hidden_layer_sizes=(300, 7), activation="logistic", init=init,
                  random_state=3).fit(X, y)
    units = [200, 300, 7, 1]
    bounds = [rule(i, o) for i, o in zip(units[:-1], units[1:])]
    for W, b, bound in zip(net.coefs_, net.intercepts_, bounds):
        assert np.abs(W).max() <= bound
        assert np.all(b == 0)
    assert np.abs(net.coefs_[0]).max() > 0.999 * bounds[0]
    for got, want in zip(net.coefs_, expected_init(units, bounds, 3)):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("hidden, out", [
    (["relu", "tanh", "logistic"], "softmax"),
    (["elu", "identity", "softmax"], "logistic"),
    ([ELU(alpha=0.5), Logistic(L=2, k=0.5, x0=0.3), "tanh"], "relu"),
    (["logistic", "logistic", "logistic"], "identity"),
    (["tanh", "relu", "relu"], "elu"),
])
def test_init_auto_follows_the_activation_each_layer_feeds(init_only, hidden, out):
    """init='auto': a weight layer's rule is that of the neurons it feeds
    (relu/elu He, tanh/identity/softmax Xavier, logistic 4x Xavier); the
    output layer's by the output activation."""
    rng = np.random.default_rng(1)
    X, Y = rng.standard_normal((10, 9)), rng.standard_normal((10, 2))
    net = Network(hidden_layer_sizes=(8, 6, 5), activation=hidden, output_activation=out,
                  init="auto", random_state=7).fit(X, Y)
    units = [9, 8, 6, 5, 2]
    names = [act_params(a)[0] for a in hidden + [out]]
    bounds = [AUTO_RULE[n](i, o) for n, i, o in zip(names, units[:-1], units[1:])]
    for got, want in zip(net.coefs_, expected_init(units, bounds, 7)):
        np.testing.assert_array_equal(got, want)
    assert all(np.all(b == 0) for b in net.intercepts_)


@pytest.mark.parametrize("activation", ["relu", "tanh", "logistic", "identity"])
def test_init_sklearn_matches_scikit_learn(monkeypatch, init_only, activation):
    """init='sklearn' draws scikit-learn's MLPRegressor initial weights and
    biases for the same random_state."""
    from sklearn.neural_network import MLPRegressor
    monkeypatch.setattr(MLPRegressor, "_fit_stochastic", lambda self, *a, **k: None)
    rng = np.random.default_rng(2)
    X, y = rng.standard_normal((12, 6)), rng.standard_normal(12)
    ours = Network(hidden_layer_sizes=(5, 3), activation=activation, init="sklearn",
                   random_state=0).fit(X, y)
    theirs = MLPRegressor(hidden_layer_sizes=(5, 3), activation=activation, solver="sgd",
                          random_state=0).fit(X, y)
    for got, want in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_array_equal(got, want)
    assert np.any(ours.intercepts_[0] != 0)


# ---------------------------------------------------------------------------
# 6. Results do not depend on n_jobs.
# ---------------------------------------------------------------------------

THREAD_CASES = {
    "sgd_batch1": dict(batch_size=1),
    "sgd_batch1_l2": dict(batch_size=1, alpha=0.01),
    "momentum_batch1": dict(batch_size=1, momentum=0.9),
    "adam_batch16": dict(solver="adam", batch_size=16, learning_rate_init=0.001),
    "sgd_batch16": dict(batch_size=16),
}


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
@pytest.mark.parametrize("case", list(THREAD_CASES))
def test_n_jobs_bit_identical(monkeypatch, request, case, sparse):
    """n_jobs=1 and n_jobs=2 give bit-identical weights and predictions.

    PARALLEL_MIN_WEIGHTS = 0 puts every layer on the threaded code and
    GEMM_SLICE_ROWS = 1 cuts its minibatch GEMMs into four slices; the
    second hidden layer's 100 neurons are four 32-row chunks whose partial
    sums of W^T s (1.20) must be added in one fixed order.  Without OpenMP
    (has_openmp() False) both runs are serial and the test holds trivially;
    the report's user_properties say which happened."""
    monkeypatch.setattr(fastnet.kernels, "PARALLEL_MIN_WEIGHTS", 0)
    monkeypatch.setattr(fastnet.kernels, "GEMM_SLICE_ROWS", 1)
    request.node.user_properties.append(("openmp_threads_ran", fastnet.kernels.has_openmp()))
    rng = np.random.default_rng(6)
    X = rng.uniform(-1, 1, (128, 20))
    X[X < 0.2] = 0.0  # zeros, so the sparse path has something to skip
    Y = np.eye(3)[rng.integers(0, 3, 128)]
    if sparse:
        X = sp.csr_matrix(X)
    fits = []
    for n_jobs in (1, 2):
        net = Network(hidden_layer_sizes=(40, 100), activation="tanh",
                      output_activation="softmax", loss="cross_entropy", max_iter=2,
                      random_state=0, n_jobs=n_jobs, **THREAD_CASES[case])
        fits.append(fit_quiet(net, X[:48], Y[:48]))  # per-sample threads are slow-ish
    for a, b in zip(params_of(fits[0]), params_of(fits[1])):
        assert np.array_equal(a, b)
    assert np.array_equal(fits[0].loss_curve_, fits[1].loss_curve_)
    assert np.array_equal(fits[0].predict(X), fits[1].predict(X))
    # the same prediction on 1 thread and on 2 (128 rows: predict splits them)
    fits[1].set_params(n_jobs=1)
    assert np.array_equal(fits[0].predict(X), fits[1].predict(X))


def test_n_jobs_bit_identical_default_threshold():
    """A layer above the real PARALLEL_MIN_WEIGHTS threads without patching."""
    rng = np.random.default_rng(7)
    n_in = 300
    hidden = fastnet.kernels.PARALLEL_MIN_WEIGHTS // n_in + 1
    X, Y = rng.uniform(-1, 1, (40, n_in)), rng.standard_normal((40, 2))
    fits = [fit_quiet(Network(hidden_layer_sizes=(hidden,), activation="relu",
                              learning_rate_init=0.001, max_iter=1, random_state=0,
                              n_jobs=n_jobs), X, Y) for n_jobs in (1, 2)]
    assert n_in * hidden >= fastnet.kernels.PARALLEL_MIN_WEIGHTS
    for a, b in zip(params_of(fits[0]), params_of(fits[1])):
        assert np.array_equal(a, b)


# ---------------------------------------------------------------------------
# 7-8. float32, and the digits acceptance test.
# ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X / 16, y, test_size=450, stratify=y, random_state=0)
    return X_train, X_test, y_train, y_test


def digits_network(**params):
    return Network(hidden_layer_sizes=(100,), activation="relu",
                   output_activation="softmax", loss="cross_entropy", batch_size=1,
                   learning_rate_init=0.01, random_state=0, max_iter=20, **params)


def test_digits_acceptance(digits):
    """The issue's done-criterion: >= 0.97 test accuracy within 20 epochs."""
    X_train, X_test, y_train, y_test = digits
    net = fit_quiet(digits_network(), X_train, np.eye(10)[y_train])
    assert net.n_iter_ <= 20
    accuracy = np.mean(net.predict(X_test).argmax(axis=1) == y_test)
    assert accuracy >= 0.97


def test_float32_trains_digits_like_float64(digits):
    X_train, X_test, y_train, y_test = digits
    Y = np.eye(10)[y_train]
    accuracy = {}
    for dtype in ("float64", "float32"):
        net = fit_quiet(digits_network(dtype=dtype), X_train.astype(dtype), Y)
        assert all(c.dtype == np.dtype(dtype) for c in net.coefs_ + net.intercepts_)
        pred = net.predict(X_test.astype(dtype))
        assert pred.dtype == np.dtype(dtype)
        accuracy[dtype] = np.mean(pred.argmax(axis=1) == y_test)
    assert accuracy["float32"] >= 0.95
    assert abs(accuracy["float32"] - accuracy["float64"]) <= 0.02


def test_float32_input_is_not_converted(monkeypatch):
    """float32 X with dtype='float32' reaches the kernels as the same memory;
    float64 X with dtype='float32' trains in float32; dtype=None follows X."""
    seen = []
    real = fastnet.kernels.Samples

    class SpySamples:
        """Records the dense inputs handed to the kernels."""

        @staticmethod
        def dense(X, *args):
            seen.append(X)
            return real.dense(X, *args)

    monkeypatch.setattr(fastnet.kernels, "Samples", SpySamples)
    rng = np.random.default_rng(8)
    X = rng.standard_normal((30, 5)).astype(np.float32)
    y = rng.standard_normal(30).astype(np.float32)
    net = fit_quiet(Network(hidden_layer_sizes=(4,), dtype="float32", max_iter=2), X, y)
    assert any(np.shares_memory(a, X) for a in seen)
    assert net.coefs_[0].dtype == np.float32 and net.predict(X).dtype == np.float32
    assert X.dtype == np.float32  # the caller's array untouched
    net = fit_quiet(Network(hidden_layer_sizes=(4,), dtype="float32", max_iter=2),
                    X.astype(np.float64), y)
    assert net.coefs_[0].dtype == np.float32
    net = fit_quiet(Network(hidden_layer_sizes=(4,), dtype=None, max_iter=2), X, y)
    assert net.coefs_[0].dtype == np.float32


# ---------------------------------------------------------------------------
# 9. Behaviour.
# ---------------------------------------------------------------------------

def separable_problem(seed=9, n=80):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, (n, 2))
    y = (X @ [1.0, -2.0] + 0.1 > 0).astype(float)
    keep = np.abs(X @ [1.0, -2.0] + 0.1) > 0.1  # a margin
    return X[keep], y[keep]


def test_no_hidden_layer_logistic_regression():
    """hidden_layer_sizes=(): one logistic neuron with BCE (2.28)."""
    X, y = separable_problem()
    net = fit_quiet(Network(hidden_layer_sizes=(), output_activation="logistic",
                            loss="binary_cross_entropy", learning_rate_init=0.5,
                            max_iter=300, random_state=0), X, y)
    assert len(net.coefs_) == 1 and net.coefs_[0].shape == (2, 1)
    assert np.array_equal(net.predict(X) > 0.5, y == 1)


def test_softmax_hidden_layer_trains(digits):
    """Softmax hidden layers backpropagate through their Jacobian (2.12)."""
    X_train, X_test, y_train, y_test = digits
    net = fit_quiet(Network(hidden_layer_sizes=(30,), activation="softmax",
                            output_activation="softmax", loss="cross_entropy",
                            learning_rate_init=0.1, max_iter=15, random_state=0),
                    X_train, np.eye(10)[y_train])
    # a softmax layer is a narrow bottleneck (its units sum to 1): it learns,
    # far above chance (0.1), but slower than relu
    assert net.loss_curve_[-1] < 0.5 * net.loss_curve_[0]
    assert np.mean(net.predict(X_test).argmax(axis=1) == y_test) > 0.5


def test_activation_list_one_per_hidden_layer():
    """A list gives each hidden layer its activation: predictions equal the
    numpy forward pass with those activations."""
    rng = np.random.default_rng(10)
    X, Y = rng.uniform(-1, 1, (20, 3)), rng.standard_normal((20, 2))
    acts = ["tanh", ELU(alpha=0.5), Logistic(L=2, k=0.5, x0=0.3)]
    net = fit_quiet(Network(hidden_layer_sizes=(4, 5, 3), activation=acts, max_iter=3,
                            random_state=0), X, Y)
    want = np_forward(net.coefs_, net.intercepts_, acts + ["identity"], X)[1][-1]
    np.testing.assert_allclose(net.predict(X), want, rtol=1e-12, atol=1e-14)
    with pytest.raises(ValueError, match="hidden layers"):
        Network(hidden_layer_sizes=(4, 5), activation=["tanh"]).fit(X, Y)
    with pytest.raises(ValueError, match="hidden layers"):
        Network(hidden_layer_sizes=(4,), activation=["tanh", "relu"]).fit(X, Y)


def small_fitted(y_2d=False, **params):
    rng = np.random.default_rng(11)
    X = rng.uniform(-1, 1, (30, 3))
    y = X @ [1.0, -1.0, 0.5]
    if y_2d:
        y = y[:, None]
    params = {"hidden_layer_sizes": (4,), "max_iter": 3, "random_state": 0, **params}
    return fit_quiet(Network(**params), X, y), X, y


def test_bad_inputs_raise_value_errors():
    net, X, y = small_fitted()
    Xnan = X.copy()
    Xnan[0, 0] = np.nan
    with pytest.raises(ValueError):
        Network(max_iter=1).fit(Xnan, y)
    Xinf = X.copy()
    Xinf[1, 1] = np.inf
    with pytest.raises(ValueError):
        Network(max_iter=1).fit(Xinf, y)
    ynan = y.copy()
    ynan[2] = np.nan
    with pytest.raises(ValueError):
        Network(max_iter=1).fit(X, ynan)
    with pytest.raises(ValueError):
        net.predict(X[:, :2])
    with pytest.raises(ValueError):
        net.predict(Xnan)
    with pytest.raises(ValueError):
        Network(max_iter=1).fit(X, y[:-1])
    with pytest.raises(ValueError):
        Network(max_iter=1).fit(X, y, sample_weight=np.ones(len(y) - 1))
    with pytest.raises(ValueError):
        Network(max_iter=1).fit(X, y, sample_weight=np.zeros(len(y)))
    with pytest.raises((ValueError, TypeError)):
        Network(max_iter=1).fit(X, np.array(["a"] * len(y)))
    with pytest.raises(ValueError):
        Network(max_iter=1, activation="sigmoid").fit(X, y)
    with pytest.raises(ValueError):
        Network(max_iter=1, loss="hinge").fit(X, y)


def test_negative_sample_weights_accepted_like_scikit_learn():
    """scikit-learn's MLP accepts negative sample weights (only an all-zero
    vector is refused); so does Network, with finite weights."""
    from sklearn.neural_network import MLPRegressor
    rng = np.random.default_rng(12)
    X, y = rng.uniform(-1, 1, (20, 3)), rng.standard_normal(20)
    sw = np.ones(20)
    sw[3] = -0.5
    fit_quiet(MLPRegressor(hidden_layer_sizes=(4,), solver="sgd", max_iter=2), X, y,
              sample_weight=sw)
    net = fit_quiet(Network(hidden_layer_sizes=(4,), max_iter=2, batch_size=4), X, y,
                    sample_weight=sw)
    assert all(np.isfinite(p).all() for p in params_of(net))


@pytest.mark.parametrize("batch_size", [1, 2])
def test_zero_sample_weight_is_skipped(batch_size):
    """A sample of weight 0 contributes nothing: with shuffle=False, training
    equals training without it -- also when a per-sample (or all-zero)
    batch has weight sum 0."""
    rng = np.random.default_rng(13)
    X, y = rng.uniform(-1, 1, (12, 3)), rng.standard_normal(12)
    sw = np.ones(12)
    sw[[4, 5]] = 0.0  # rows 4 and 5: one whole batch of 2
    keep = sw > 0
    params = dict(hidden_layer_sizes=(4,), max_iter=2, shuffle=False, random_state=0,
                  batch_size=batch_size, n_iter_no_change=100)
    with_zero = fit_quiet(Network(**params), X, y, sample_weight=sw)
    without = fit_quiet(Network(**params), X[keep], y[keep])
    assert_params_close(params_of(with_zero), params_of(without), rtol=1e-12, atol=1e-15)


def test_assigning_non_finite_or_misshaped_weights_raises():
    net, X, y = small_fitted()
    before = net.predict(X)
    bad = [c.copy() for c in net.coefs_]
    bad[1][0, 0] = np.nan
    with pytest.raises(ValueError):
        net.coefs_ = bad
    with pytest.raises(ValueError):
        net.intercepts_ = [b + np.inf for b in net.intercepts_]
    with pytest.raises(ValueError):
        net.coefs_ = [c.T for c in net.coefs_]
    with pytest.raises(ValueError):
        net.coefs_ = net.coefs_[:1]
    assert np.array_equal(net.predict(X), before)


@pytest.mark.parametrize("y_2d", [False, True], ids=["y1d", "y2d"])
def test_failed_partial_fit_leaves_model_unchanged(y_2d):
    """Calls that raise do not change the fitted model: same predictions,
    same shape, same weights."""
    net, X, y = small_fitted(y_2d=y_2d, warm_start=True)
    before, weights = net.predict(X), params_of(net)
    y_other = y.ravel() if y_2d else y[:, None]  # the other 1-D / 2-D form
    Xnan = X.copy()
    Xnan[0, 0] = np.nan
    failing = [
        lambda: net.partial_fit(X, np.c_[y, y]),               # 2 outputs, net has 1
        lambda: net.partial_fit(X[:, :2], y),                   # 2 features, net has 3
        lambda: net.partial_fit(Xnan, y),
        lambda: net.partial_fit(X, y[:-1]),
        lambda: net.partial_fit(X, y, sample_weight=np.ones(5)),
        lambda: net.partial_fit(X, y_other, sample_weight=np.ones(5)),
        lambda: net.partial_fit(X, np.c_[y_other, y_other]),
        lambda: net.fit(X, np.c_[y, y]),                        # warm_start fit
        lambda: net.fit(X, y_other, sample_weight=np.ones(5)),
    ]
    for call in failing:
        with pytest.raises(ValueError):
            call()
        after = net.predict(X)
        assert after.shape == before.shape
        assert np.array_equal(after, before)
        for a, b in zip(params_of(net), weights):
            assert np.array_equal(a, b)


def test_warm_start_and_partial_fit_continue_from_assigned_weights():
    """Both train on from coefs_/intercepts_ assigned by the user: one epoch
    of per-sample SGD over 5 samples in order equals the numpy reference."""
    rng = np.random.default_rng(14)
    X, Y = rng.uniform(-1, 1, (5, 3)), rng.standard_normal((5, 2))
    coefs, intercepts = random_weights(rng, [3, 4, 2])
    for method in ("fit", "partial_fit"):
        net = fit_layout(X, Y, hidden_layer_sizes=(4,), activation="tanh", shuffle=False,
                         warm_start=True, learning_rate_init=0.1)
        set_weights(net, coefs, intercepts)
        want = reference_epoch(net, coefs + intercepts, X, Y, None, 1, 0.1)
        set_weights(net, coefs, intercepts)
        fit_quiet(net, X, Y, method=method)
        assert_params_close(params_of(net), want)


def test_early_stopping_restores_best_weights(monkeypatch):
    """After early stopping the weights are those of the epoch with the best
    validation score, not the last epoch's."""
    snapshots = []
    original = Network._update_no_improvement_count

    def record(self, *args):
        original(self, *args)
        snapshots.append(params_of(self))

    monkeypatch.setattr(Network, "_update_no_improvement_count", record)
    rng = np.random.default_rng(15)
    X = rng.uniform(-1, 1, (60, 4))
    y = X @ [1.0, -1.0, 0.5, 2.0] + 0.5 * rng.standard_normal(60)
    net = fit_quiet(Network(hidden_layer_sizes=(30,), learning_rate_init=0.05,
                            early_stopping=True, validation_fraction=0.25,
                            n_iter_no_change=3, tol=0.0, max_iter=200, random_state=0),
                    X, y)
    scores = net.validation_scores_
    best = int(np.argmax(scores))
    assert len(scores) == len(snapshots) == net.n_iter_ == len(net.loss_curve_)
    assert best < len(scores) - 1  # stopped after the best epoch
    assert net.best_validation_score_ == scores[best]
    for got, want in zip(params_of(net), snapshots[best]):
        assert np.array_equal(got, want)
    assert not all(np.array_equal(g, w) for g, w in zip(params_of(net), snapshots[-1]))


@pytest.mark.parametrize("params", [
    dict(max_iter=7, n_iter_no_change=100),
    dict(max_iter=200, n_iter_no_change=2, tol=1.0),
    dict(max_iter=5, batch_size="full"),
])
def test_loss_curve_length_is_n_iter(params):
    net, X, y = small_fitted(**params)
    assert len(net.loss_curve_) == net.n_iter_
    assert np.all(np.isfinite(net.loss_curve_))


def test_full_batch_loss_curve_is_the_loss_before_the_step():
    """batch_size='full': epoch k's reported loss is _loss_and_gradient's
    (the checked loss) at the weights before that epoch's step."""
    rng = np.random.default_rng(16)
    X, y = rng.uniform(-1, 1, (25, 3)), rng.standard_normal(25)
    coefs, intercepts = random_weights(rng, [3, 4, 1])
    net = fit_layout(X, y, hidden_layer_sizes=(4,), batch_size="full", alpha=0.1,
                     warm_start=True)
    set_weights(net, coefs, intercepts)
    want = net._loss_and_gradient(X, y)[0]
    fit_quiet(net, X, y)
    np.testing.assert_allclose(net.loss_curve_[-1], want, rtol=1e-12)


@pytest.mark.parametrize("fmt", ["csr", "csc"])
@pytest.mark.parametrize("params", [
    dict(batch_size=1, alpha=0.0),
    dict(batch_size=8, alpha=0.01, momentum=0.9),
    dict(batch_size=1, alpha=0.01, momentum=0.9),
    dict(batch_size=4, solver="adam", learning_rate_init=0.001),
], ids=["sgd1", "momentum8_l2", "momentum1_l2", "adam4"])
def test_sparse_input_same_as_dense(fmt, params):
    rng = np.random.default_rng(17)
    X = rng.uniform(-1, 1, (40, 12))
    X[rng.uniform(size=X.shape) < 0.6] = 0.0
    Y = rng.standard_normal((40, 2))
    nets = [fit_quiet(Network(hidden_layer_sizes=(6, 5), activation="tanh", max_iter=3,
                              random_state=0, **params), data, Y)
            for data in (X, sp.csr_matrix(X) if fmt == "csr" else sp.csc_matrix(X))]
    assert_params_close(params_of(nets[1]), params_of(nets[0]), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(nets[1].predict(sp.csr_matrix(X)), nets[0].predict(X),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("params", [
    dict(hidden_layer_sizes=(64,), momentum=0.9),             # per-sample, 2 chunks
    dict(hidden_layer_sizes=(16,)),                           # fewer chunks than threads
    dict(hidden_layer_sizes=(64,), solver="adam", batch_size=16),  # minibatch GEMM slices
    dict(hidden_layer_sizes=(64,), solver="lbfgs"),           # loss_and_gradient
], ids=["momentum", "one_chunk", "adam_minibatch", "lbfgs"])
def test_denormals_flush_only_inside_training(monkeypatch, params):
    """Training flushes subnormal numbers to zero (FTZ/DAZ, see fastnet/_kernels/platform.pxi)
    and leaves no thread in that mode: numpy in the caller, and predict on
    the same OpenMP worker threads, still produce exact subnormals."""
    monkeypatch.setattr(fastnet.kernels, "PARALLEL_MIN_WEIGHTS", 0)
    rng = np.random.default_rng(7)
    # a linear network whose output 1e-310 is subnormal, predicted on 2 threads
    lin = Network(hidden_layer_sizes=(), activation="identity", n_jobs=2, max_iter=1)
    fit_quiet(lin, rng.uniform(size=(20, 1)), rng.uniform(size=20))
    lin.coefs_ = [np.array([[1e-10]])]
    lin.intercepts_ = [np.array([0.0])]
    subnormal = np.float64(1e-300) * np.float64(1e-10)
    assert subnormal != 0
    X = rng.uniform(-1, 1, (200, 40))
    fit_quiet(Network(max_iter=2, random_state=0, n_jobs=2, **params), X, X[:, 0] - X[:, 1])
    assert np.float64(1e-300) * np.float64(1e-10) == subnormal  # the calling thread
    out = lin.predict(np.full((256, 1), 1e-300))
    assert np.all(out == subnormal)                               # the workers
