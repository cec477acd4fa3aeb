"""A diverging, interrupted, threaded or forked fit never corrupts a model or
hangs a process.

Expected values come from independent runs: the same fit with fewer epochs
(the state a restore must return to), sequential runs (for threads), scipy's
and scikit-learn's own behaviour, and the model's state before the call.
"""
import _thread
import multiprocessing
import subprocess
import sys
import textwrap
import threading
import time
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_diabetes, load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPRegressor as SkRegressor
from sklearn.utils.estimator_checks import (check_estimators_partial_fit_n_features,
                                            check_regressor_data_not_an_array,
                                            check_regressor_multioutput)

import fastnet
import fastnet.slicing
import fastnet.training
from fastnet import DeadUnitsWarning, DivergenceError, MLPClassifier, MLPRegressor, Network

X_DIABETES, Y_DIABETES = load_diabetes(return_X_y=True)
X_RAW, _ = load_diabetes(return_X_y=True, scaled=False)


def params_of(est):
    return [a.copy() for a in est.coefs_ + est.intercepts_]


def assert_same_params(a, b):
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)


def quiet(call, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", DeadUnitsWarning)
        return call(*args, **kwargs)


# ---------------------------------------------------------------------------
# 1. Divergence
# ---------------------------------------------------------------------------

def test_diverging_network_restores_and_explains(monkeypatch):
    """Network() on raw diabetes (the issue's report): a DivergenceError (a
    ValueError) naming the epoch and sample and the advice; finite weights,
    exactly the initial ones (nothing finished), and predict works."""
    with monkeypatch.context() as patch:   # a fit that stops after initialising
        patch.setattr(Network, "_fit_stochastic", lambda *args: None)
        initial = Network(random_state=0).fit(X_RAW, Y_DIABETES)
    net = Network(random_state=0)
    with pytest.raises(DivergenceError) as raised:
        net.fit(X_RAW, Y_DIABETES)
    message = str(raised.value)
    assert isinstance(raised.value, ValueError)
    assert message.startswith("Training diverged.")
    assert "in epoch 1 at sample" in message and "of 442" in message
    assert "Scale X and y, e.g. with StandardScaler and TransformedTargetRegressor" in message
    assert "lower learning_rate_init (now 0.01)" in message
    assert_same_params(params_of(net), params_of(initial))
    assert np.isfinite(net.predict(X_RAW[:5])).all()
    assert net.n_iter_ == 0 and net.loss_curve_ == []


def diverging_at_epoch_3(**extra):
    """A fit that runs finitely for two epochs and diverges in the third:
    Adam's rate grows with the step count at this learning rate."""
    rng = np.random.default_rng(3)
    X = rng.uniform(-1, 1, (60, 4))
    y = 50 * (X @ [1.0, -2.0, 0.5, 3.0])
    params = dict(hidden_layer_sizes=(16,), random_state=0, n_iter_no_change=100, **extra)
    return X, y, params


def find_divergence(X, y, params, max_epochs=40):
    """The first epoch of a fit with these parameters that diverges."""
    for epochs in range(1, max_epochs):
        try:
            quiet(Network(max_iter=epochs, **params).fit, X, y)
        except DivergenceError:
            return epochs
    raise AssertionError("no divergence")


@pytest.mark.parametrize("extra", [dict(learning_rate_init=0.3),
                                   dict(learning_rate_init=0.3, batch_size=8, momentum=0.9)],
                         ids=["per_sample", "minibatch_momentum"])
def test_divergence_in_a_later_epoch_restores_the_previous_epoch(extra):
    """The model goes back exactly to the end of the last finite epoch: the
    weights, loss curve and counters of the same fit stopped one epoch
    earlier."""
    X, y, params = diverging_at_epoch_3(**extra)
    k = find_divergence(X, y, params)
    assert k > 1
    net = Network(max_iter=k, **params)
    with pytest.raises(DivergenceError, match=f"in epoch {k} at sample .*; the model is back "
                                              f"at the end of epoch {k - 1}"):
        quiet(net.fit, X, y)
    reference = quiet(Network(max_iter=k - 1, **params).fit, X, y)
    assert_same_params(params_of(net), params_of(reference))
    assert net.loss_curve_ == reference.loss_curve_ and net.n_iter_ == k - 1
    assert net.t_ == reference.t_
    # and it trains on from there
    np.testing.assert_array_equal(net.predict(X), reference.predict(X))


def test_diverging_partial_fit_keeps_the_state_before_the_call():
    X, y, params = diverging_at_epoch_3(learning_rate_init=0.3)
    net = quiet(Network(**params).partial_fit, X[:4], y[:4] / 50)
    before, records = params_of(net), (net.n_iter_, net.t_, list(net.loss_curve_))
    with pytest.raises(DivergenceError, match="back at its state before this call"):
        for _ in range(50):
            net.partial_fit(X * 1e3, y * 1e3)
            before, records = params_of(net), (net.n_iter_, net.t_, list(net.loss_curve_))
    assert_same_params(params_of(net), before)
    assert (net.n_iter_, net.t_, net.loss_curve_) == records


def test_diverging_refit_keeps_the_fitted_model():
    """A new fit (not warm) of a fitted model that diverges in its first epoch
    leaves the old model, classes and all, as it was."""
    X, y = X_DIABETES, (Y_DIABETES - Y_DIABETES.mean()) / Y_DIABETES.std()
    net = quiet(Network(hidden_layer_sizes=(8,), activation="identity", max_iter=5,
                        random_state=0).fit, X, y)
    before, predictions = params_of(net), net.predict(X)
    with pytest.raises(DivergenceError, match="left as it was before this call"):
        net.fit(X_RAW, Y_DIABETES * 1e6)
    assert_same_params(params_of(net), before)
    np.testing.assert_array_equal(net.predict(X), predictions)
    assert net.n_features_in_ == 10


def test_drop_ins_keep_scikit_learns_sentence():
    est = MLPRegressor(activation="identity", solver="sgd", learning_rate_init=10.0,
                       max_iter=5, random_state=0)
    with pytest.raises(ValueError) as raised:
        quiet(est.fit, X_RAW * 1e3, Y_DIABETES * 1e8)
    assert str(raised.value).startswith(
        "Solver produced non-finite parameter weights. The input data may contain large "
        "values and need to be preprocessed. The loss or the weights became non-finite")
    assert all(np.isfinite(p).all() for p in params_of(est))


def test_scikit_learn_raises_the_same_sentence():
    """The sentence the drop-ins keep is scikit-learn's for the same fit."""
    with pytest.raises(ValueError, match="Solver produced non-finite parameter weights. "
                                         "The input data may contain large values"):
        quiet(SkRegressor(activation="identity", solver="sgd", learning_rate_init=10.0,
                          max_iter=5, random_state=0).fit, X_RAW * 1e3, Y_DIABETES * 1e8)


def test_drop_in_with_early_stopping_ends_like_scikit_learn():
    """scikit-learn's MLP with early stopping trains through a diverged epoch
    (loss and validation score NaN) and keeps its best weights; the drop-in
    stops at the diverged epoch with those records and the same outcome."""
    params = dict(hidden_layer_sizes=100, activation="identity", solver="sgd",
                  learning_rate_init=1, max_iter=20, early_stopping=True, random_state=0)
    X, y = load_digits(return_X_y=True)
    X, y = X[:300] / 16, y[:300].astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = MLPRegressor(**params).fit(X, y)
        theirs = SkRegressor(**params).fit(X, y)
    assert np.isnan(ours.validation_scores_[-1]) and np.isnan(theirs.validation_scores_[-1])
    assert ours.best_validation_score_ == pytest.approx(theirs.best_validation_score_,
                                                        rel=1e-6)
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-6, atol=1e-8)


def test_lbfgs_non_finite_solution_restores_and_raises(monkeypatch):
    """A non-finite L-BFGS solution (forced here) leaves the weights as they
    were before the call."""
    net = quiet(Network(hidden_layer_sizes=(4,), solver="lbfgs", max_iter=3,
                        warm_start=True, random_state=0).fit, X_DIABETES, Y_DIABETES / 100)
    before = params_of(net)
    real = fastnet.lbfgs.scipy.optimize.minimize

    def poisoned(*args, **kwargs):
        result = real(*args, **kwargs)
        result.x[0] = np.nan
        return result

    monkeypatch.setattr(fastnet.lbfgs.scipy.optimize, "minimize", poisoned)
    with pytest.raises(DivergenceError, match="in L-BFGS"):
        net.fit(X_DIABETES, Y_DIABETES / 100)
    assert_same_params(params_of(net), before)


@pytest.mark.parametrize("check", [check_regressor_data_not_an_array,
                                   check_estimators_partial_fit_n_features,
                                   check_regressor_multioutput])
def test_network_defaults_fail_checks_only_by_diverging(check, monkeypatch):
    """Network() with its defaults fails these scikit-learn checks (listed as
    expected failures in test_estimators.py) only because the checks'
    unscaled targets make it diverge: with DivergenceError, never with NaN
    weights left in the model."""
    models = []
    real_fit = Network._fit

    def recording_fit(self, *args, **kwargs):
        models.append(self)
        return real_fit(self, *args, **kwargs)

    monkeypatch.setattr(Network, "_fit", recording_fit)
    with pytest.raises(DivergenceError):
        quiet(check, "Network", Network())
    assert models and all(np.isfinite(p).all() for m in models if hasattr(m, "_params")
                          for p in params_of(m))


# ---------------------------------------------------------------------------
# 2. Interruption, and the slices that make it prompt
# ---------------------------------------------------------------------------

INTERRUPT = textwrap.dedent("""
    import os, signal, threading, time, warnings
    import numpy as np
    import fastnet
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40000, 784)); y = rng.integers(0, 10, 40000)
    net = fastnet.MLPClassifier(hidden_layer_sizes=(256, 128), solver="sgd", batch_size=1,
                                max_iter=3, random_state=0, n_jobs=1)
    sent = {}
    def interrupt():
        time.sleep(1.0)
        sent["at"] = time.perf_counter()
        os.kill(os.getpid(), signal.SIGINT)
    threading.Thread(target=interrupt).start()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        net.fit(X, y)
    seconds = time.perf_counter() - sent["at"]
    print(repr((seconds, [str(w.message) for w in caught], net.n_iter_, net.loss_curve_,
                all(np.isfinite(c).all() for c in net.coefs_))))
    net.set_params(warm_start=True, max_iter=1)
    net.fit(X[:500], y[:500])
    print(net.n_iter_, len(net.loss_curve_))
""")


def test_sigint_mid_epoch_returns_a_consistent_model(fastnet_env, tmp_path):
    """Ctrl-C one second into an epoch of about four seconds (40,000 samples of
    784-256-128-10 per sample) returns before the epoch could have ended,
    warns as scikit-learn does, and leaves the last completed epoch (here:
    none, so no record and the initial weights); warm_start trains on."""
    run = subprocess.run([sys.executable, "-c", INTERRUPT], capture_output=True, text=True,
                         timeout=300, cwd=tmp_path, env=fastnet_env)
    assert run.returncode == 0, run.stderr
    first, second = run.stdout.strip().splitlines()
    seconds, warned, n_iter, curve, finite = eval(first)  # printed by our own script
    assert warned == ["Training interrupted by user."]
    assert (n_iter, curve, finite) == (0, [], True)
    assert seconds < 2.0, f"returned {seconds:.2f} s after SIGINT"
    assert second == "1 1"


class _RecordingPlan:
    """A kernel plan whose train_epoch calls note how many samples each
    trained before it returned or raised."""

    def __init__(self, plan, calls):
        self._plan, self._calls = plan, calls

    def __getattr__(self, name):
        return getattr(self._plan, name)

    def train_epoch(self, params, first, second, samples, order, *args):
        before = self._plan.activity_samples
        try:
            return self._plan.train_epoch(params, first, second, samples, order, *args)
        finally:
            self._calls.append((self._plan.activity_samples - before, len(order)))


def test_ctrl_c_stops_a_kernel_call_between_two_steps(monkeypatch):
    """Even a kernel call over a whole epoch stops at Ctrl-C: its loop runs
    Python's signal handlers between steps (epoch.pxi), so a core held by
    another process cannot delay the interrupt until the call ends."""
    monkeypatch.setattr(fastnet.slicing, "SLICE_SECONDS", 1e9)   # one call per epoch
    calls = []
    original = fastnet.training._Epochs.__init__

    def recording(epochs, *args):
        original(epochs, *args)
        epochs.plan = _RecordingPlan(epochs.plan, calls)

    monkeypatch.setattr(fastnet.training._Epochs, "__init__", recording)
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((20000, 784)), rng.integers(0, 10, 20000)
    net = MLPClassifier(hidden_layer_sizes=(256, 128), solver="sgd", batch_size=1,
                        max_iter=2, random_state=0, n_jobs=1)
    timer = threading.Timer(0.3, _thread.interrupt_main)
    timer.start()
    with pytest.warns(UserWarning, match="Training interrupted by user."):
        net.fit(X, y)
    timer.join()
    (trained, epoch_length), = calls      # the first epoch's only call, cut short
    assert 0 < trained < epoch_length
    assert net.n_iter_ == 0 and net.loss_curve_ == []
    assert all(np.isfinite(c).all() for c in net.coefs_)


def test_a_fit_in_another_thread_leaves_ctrl_c_to_the_main_thread():
    """Python runs signal handlers on the main thread only: Ctrl-C while
    another thread trains interrupts the main thread, not that fit."""
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((20000, 784)), rng.integers(0, 10, 20000)
    results, started = {}, threading.Event()

    def fit():
        net = MLPClassifier(hidden_layer_sizes=(256, 128), solver="sgd", batch_size=1,
                            max_iter=1, random_state=0, n_jobs=1)
        started.set()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            net.fit(X, y)
        results["n_iter"] = net.n_iter_
        results["warnings"] = [str(w.message) for w in caught]

    worker = threading.Thread(target=fit)
    worker.start()
    started.wait()
    interrupted = False
    try:
        time.sleep(0.3)
        _thread.interrupt_main()
        worker.join()
    except KeyboardInterrupt:
        interrupted = True
    worker.join()
    assert interrupted
    assert results["n_iter"] == 1
    assert "Training interrupted by user." not in results["warnings"]


@pytest.mark.parametrize("params", [
    dict(batch_size=1), dict(batch_size=1, momentum=0.9, alpha=0.01),
    dict(batch_size=3, solver="adam"), dict(batch_size=7, momentum=0.5),
], ids=["sgd1", "momentum1_l2", "adam3", "momentum7"])
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_slicing_an_epoch_changes_no_bit(monkeypatch, params, sparse):
    """Epochs run as many one-batch kernel calls give exactly the weights and
    loss curve of one call per epoch."""
    rng = np.random.default_rng(5)
    X = rng.uniform(-1, 1, (50, 6))
    X[X < -0.3] = 0
    y = X @ rng.standard_normal(6)
    X = sp.csr_matrix(X) if sparse else X
    fits = []
    for assumed_flops in (1e15, 1.0):   # one call per epoch / the smallest slices
        monkeypatch.setattr(fastnet.slicing, "ASSUMED_FLOPS", assumed_flops)
        monkeypatch.setattr(fastnet.slicing, "SLICE_SECONDS", 1e-9 if assumed_flops == 1.0
                            else 1e6)
        fits.append(quiet(Network(hidden_layer_sizes=(5,), max_iter=4, random_state=0,
                                  **params).fit, X, y))
    assert_same_params(params_of(fits[0]), params_of(fits[1]))
    assert fits[0].loss_curve_ == fits[1].loss_curve_


def test_slicing_an_lbfgs_gradient_changes_no_bit(monkeypatch):
    """Full-batch gradients summed over slices of 256 samples (the BLAS
    chunk) equal the one-call gradient: L-BFGS follows the same path."""
    X, y = load_digits(return_X_y=True)
    fits = []
    for seconds in (1e6, 1e-9):
        monkeypatch.setattr(fastnet.slicing, "SLICE_SECONDS", seconds)
        fits.append(quiet(MLPClassifier(hidden_layer_sizes=(20,), solver="lbfgs",
                                        max_iter=15, random_state=0).fit, X / 16, y))
    assert_same_params(params_of(fits[0]), params_of(fits[1]))
    assert fits[0].loss_ == fits[1].loss_


def test_slicer_cuts_whole_batches_and_adapts():
    slicer = fastnet.slicing.Slicer(granularity=7, flops_per_sample=1e9)
    first = list(slicer.slices(100))
    assert first[0] == (0, 7)                       # at least one whole batch
    assert all(start % 7 == 0 for start, _ in first)
    assert first[-1][1] == 100 and all(b == c for (_, b), (c, _) in zip(first, first[1:]))
    # nearly no time between pairs: the next run's slices are far longer
    assert len(list(slicer.slices(100))) == 1


# ---------------------------------------------------------------------------
# 3. A network that cannot learn says so
# ---------------------------------------------------------------------------

def test_dead_relu_layer_warns_once_with_advice():
    """The issue's case: scaled diabetes X, raw y; every hidden ReLU dies."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        quiet_fit = Network(random_state=0, max_iter=20)
        quiet_fit.fit(X_DIABETES, Y_DIABETES)
    dead = [w for w in caught if issubclass(w.category, DeadUnitsWarning)]
    assert len(dead) == 1
    message = str(dead[0].message)
    assert "hidden layer 1 (100 ReLU units)" in message
    assert "Scale y" in message and "learning_rate_init (now 0.01)" in message
    # and it is true: the hidden layer is zero on every sample
    hidden = np.maximum(X_DIABETES @ quiet_fit.coefs_[0] + quiet_fit.intercepts_[0], 0)
    assert not hidden.any()


def test_healthy_network_and_drop_ins_do_not_warn():
    X, y = load_digits(return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeadUnitsWarning)
        quiet_fit = Network(max_iter=3, random_state=0, output_activation="softmax",
                            loss="cross_entropy")
        quiet_fit.fit(X / 16, np.eye(10)[y])
        MLPRegressor(solver="sgd", max_iter=5, random_state=0).fit(X_DIABETES, Y_DIABETES)


@pytest.mark.parametrize("params, y, message", [
    (dict(output_activation="softmax", loss="cross_entropy"), np.ones(20),
     "softmax' over a single output"),
    (dict(output_activation="softmax", loss="cross_entropy"), np.full((20, 3), 0.5),
     "probability distribution"),
    (dict(output_activation="softmax", loss="cross_entropy"), np.eye(3)[np.arange(20) % 3] * 2,
     "summing to 1"),
    (dict(output_activation="logistic", loss="binary_cross_entropy"), np.arange(20.0),
     r"targets in \[0, 1\]"),
    (dict(output_activation="exp", loss="poisson"), -np.ones(20), "non-negative targets"),
], ids=["softmax_one_output", "ce_not_normalised", "ce_scaled_one_hot", "bce_range",
        "poisson_negative"])
def test_targets_the_loss_cannot_take_are_refused(params, y, message):
    X = np.random.default_rng(0).uniform(size=(20, 3))
    with pytest.raises(ValueError, match=message):
        Network(max_iter=1, **params).fit(X, y)


# ---------------------------------------------------------------------------
# 4. Sample weights per sample (Network)
# ---------------------------------------------------------------------------

def test_per_sample_weight_scales_the_step():
    """Weight w multiplies the first step's change (T.3a): exactly w times the
    unit-weight change, for the one sample trained."""
    X, y = X_DIABETES[:1], np.array([0.5])
    moves = {}
    for w in (1.0, 2.0, 0.5):
        net = Network(hidden_layer_sizes=(6,), activation="tanh", max_iter=1, shuffle=False,
                      random_state=0, warm_start=True)
        quiet(net.fit, X, y, sample_weight=[1e-300])   # lays out the initial weights
        start = params_of(net)
        quiet(net.fit, X, y, sample_weight=[w])
        moves[w] = [a - b for a, b in zip(params_of(net), start)]
    for w in (2.0, 0.5):
        for got, unit in zip(moves[w], moves[1.0]):
            # w scales every product exactly; only the final w_new - w_old
            # rounds differently
            np.testing.assert_allclose(got, w * unit, rtol=1e-9, atol=1e-300)


def test_weight_two_is_close_to_seeing_the_sample_twice():
    """An epoch with every weight 2 is close to two epochs with weight 1
    (and not to one): the issue's 'weight 2 is close to seeing it twice'."""
    X, y = X_DIABETES[:100], (Y_DIABETES[:100] - 150) / 80
    common = dict(hidden_layer_sizes=(8,), random_state=0, learning_rate_init=1e-3,
                  shuffle=False)
    doubled = quiet(Network(max_iter=1, **common).fit, X, y, sample_weight=np.full(100, 2.0))
    twice = quiet(Network(max_iter=2, **common).fit, X, y)
    once = quiet(Network(max_iter=1, **common).fit, X, y)
    d_twice = np.abs(doubled.predict(X) - twice.predict(X)).max()
    d_once = np.abs(doubled.predict(X) - once.predict(X)).max()
    assert d_twice < 0.2 * d_once


def test_drop_ins_keep_scikit_learns_per_sample_weights():
    """MLPRegressor at batch_size=1 divides the weight out again, as
    scikit-learn's does: without L2, weights 1 and 3 everywhere train alike
    (to rounding: 3 g / 3)."""
    fits = [quiet(MLPRegressor(solver="sgd", batch_size=1, max_iter=2, alpha=0.0,
                               random_state=0).fit,
                  X_DIABETES[:50], Y_DIABETES[:50] / 100, sample_weight=np.full(50, w))
            for w in (1.0, 3.0)]
    for a, b in zip(params_of(fits[0]), params_of(fits[1])):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-12)


# ---------------------------------------------------------------------------
# 5. Threads
# ---------------------------------------------------------------------------

def test_predict_from_many_threads_equals_sequential():
    X, y = load_digits(return_X_y=True)
    net = quiet(MLPClassifier(hidden_layer_sizes=(64,), max_iter=3, random_state=0).fit,
                X / 16, y)
    want = net.predict_proba(X / 16)
    results = [None] * 8

    def predict(i):
        for _ in range(5):
            results[i] = net.predict_proba(X / 16)

    threads = [threading.Thread(target=predict, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for got in results:
        np.testing.assert_array_equal(got, want)


def test_two_fits_in_two_threads_equal_sequential_fits():
    """Per-sample and minibatch (BLAS) fits at once: each equals its fit run
    alone, bit for bit (the one-thread BLAS limit is shared)."""
    X, y = load_digits(return_X_y=True)
    X = X / 16
    specs = [dict(batch_size=1, max_iter=3), dict(solver="adam", batch_size=64, max_iter=8)]
    make = lambda spec: MLPClassifier(hidden_layer_sizes=(50,), random_state=0, **spec)
    alone = [quiet(make(spec).fit, X, y) for spec in specs]
    together = [make(spec) for spec in specs]
    threads = [threading.Thread(target=quiet, args=(est.fit, X, y)) for est in together]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for a, b in zip(alone, together):
        assert_same_params(params_of(a), params_of(b))


def test_python_threads_run_while_a_fit_is_in_the_kernels():
    """A progress thread keeps counting during a fit: the kernels release the
    GIL, and Python holds it only between kernel calls."""
    X = np.random.default_rng(0).standard_normal((3000, 400))
    y = X[:, 0]
    ticks, done = [], threading.Event()

    def count():
        while not done.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.005)

    counter = threading.Thread(target=count)
    counter.start()
    started = time.perf_counter()
    quiet(Network(hidden_layer_sizes=(200,), max_iter=2, learning_rate_init=1e-4,
                  random_state=0, n_jobs=1).fit, X, y)
    seconds = time.perf_counter() - started
    done.set()
    counter.join()
    during = [t for t in ticks if started <= t <= started + seconds]
    # a 5 ms sleep loop ticks seconds / 5 ms times; demand a fifth of that
    assert len(during) >= max(3, seconds / 0.005 / 5), (len(during), seconds)


# ---------------------------------------------------------------------------
# 6. Fork safety
# ---------------------------------------------------------------------------

FORK_POOL = textwrap.dedent("""
    import multiprocessing as mp, warnings
    import numpy as np
    import fastnet
    warnings.simplefilter("ignore")
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 300)); y = X[:, 0]

    def work(seed):
        net = fastnet.Network(hidden_layer_sizes=(300,), max_iter=2, n_jobs=2,
                              random_state=seed, learning_rate_init=1e-4)
        net.fit(X, y)
        return (fastnet.threads.in_forked_child(), net._kernel_plan().n_threads,
                bool(np.isfinite(net.predict(X)).all()))

    parent = fastnet.Network(hidden_layer_sizes=(300,), max_iter=2, n_jobs=2,
                             random_state=0, learning_rate_init=1e-4).fit(X, y)
    assert parent._kernel_plan().n_threads == 2 and fastnet.kernels.has_openmp()
    with mp.get_context("fork").Pool(2) as pool:
        print(pool.map(work, range(4)))
""")


def test_fork_pool_after_threaded_fit_finishes(fastnet_env, tmp_path):
    """A parent that trained on 2 OpenMP threads (a 90,000-weight layer), then
    a 'fork' pool whose workers fit and predict with n_jobs=2: the workers run
    serially and finish (GNU OpenMP would hang them)."""
    run = subprocess.run([sys.executable, "-c", FORK_POOL], capture_output=True, text=True,
                         timeout=120, cwd=tmp_path, env=fastnet_env)
    assert run.returncode == 0, run.stderr
    assert eval(run.stdout.strip()) == [(True, 1, True)] * 4


def test_this_process_is_not_a_forked_child():
    assert not fastnet.threads.in_forked_child()
    assert fastnet.threads.n_threads(2) == min(2, fastnet.kernels.max_threads())
    assert multiprocessing.current_process().name == "MainProcess"
