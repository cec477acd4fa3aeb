"""partial_fit's fast path (fastnet/online.py): a call on plain arrays with
the settings of the last full call skips the full path's validation and
set-up; a call that is one optimizer step also skips the checkpoint.

It must be invisible: the same weights, optimizer state, records and random
state as the full path, bit for bit, on streams of calls of one step and of
several; the same errors; and a failed or interrupted call leaves the model
as it was."""
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning

import fastnet
from fastnet import DivergenceError, kernels
from fastnet.online import _OneStepEpoch
from fastnet.training import _Epochs

X, y = load_digits(return_X_y=True)
X = X[:300] / 16
y = y[:300]
Y_REG = X @ np.linspace(-1, 1, 64)

SOLVERS = [dict(solver="adam"), dict(solver="sgd"), dict(solver="sgd", momentum=0.0),
           dict(solver="sgd", nesterovs_momentum=False, alpha=1e-3),
           dict(solver="sgd", learning_rate="invscaling"),
           dict(solver="sgd", learning_rate="adaptive", n_iter_no_change=2)]


def make(kind, **params):
    params = {"hidden_layer_sizes": (12,), "random_state": 0, **params}
    if kind == "classifier":
        return fastnet.MLPClassifier(**params)
    if kind == "regressor":
        return fastnet.MLPRegressor(**params)
    return fastnet.Network(**params)


def targets(kind, rows):
    if kind == "classifier":
        return y[rows]
    if kind == "binary":
        return y[rows] % 2
    if kind == "odd labels":   # classes_ 1, 3, ..., 19: labels searched, not ranged
        return 2 * y[rows] + 1
    return Y_REG[rows]


def start(kind, **params):
    est = make("classifier" if kind in ("binary", "odd labels") else kind, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        if kind in ("classifier", "binary", "odd labels"):
            est.partial_fit(X[:100], targets(kind, slice(0, 100)),
                            classes=np.unique(targets(kind, slice(None))))
        else:
            est.partial_fit(X[:100], targets(kind, slice(0, 100)))
    return est


def state(est):
    """Everything training changes, comparable with ==."""
    opt = est._optimizer
    return {
        "params": est._params.tobytes(),
        "moments": [m.tobytes() for m in opt.moments()],
        "optimizer": {k: v for k, v in vars(opt).items() if not isinstance(v, np.ndarray)},
        "records": (est.n_iter_, est.t_, est.loss_, est.best_loss_,
                    est._no_improvement_count, list(est.loss_curve_)),
        "random": est._random_state.get_state()[1].tobytes(),
    }


def stream(est, kind, rows, full_path):
    for i in range(100, 300, rows):
        if full_path:
            est.__dict__.pop("_online_key", None)
        est.partial_fit(X[i:i + rows], targets(kind, slice(i, i + rows)))
    return est


# (rows per call, batch_size): one step of one row or of several, then calls
# of several steps: three batches of 3, 3 and 1 rows, and 20 rows one by one
# (with shuffling, a fresh random state each call)
CALLS = [(1, "auto"), (7, "auto"), (7, 3), (20, 1)]


@pytest.mark.parametrize("kind", ["classifier", "binary", "odd labels", "regressor", "network"])
@pytest.mark.parametrize("rows, batch_size", CALLS + [(40, 1)], ids=lambda v: str(v))
@pytest.mark.parametrize("params", SOLVERS, ids=lambda p: "-".join(map(str, p.values())))
def test_fast_path_is_bit_identical_to_the_full_path(kind, rows, batch_size, params):
    params = dict(params, batch_size=batch_size)
    fast = stream(start(kind, **params), kind, rows, full_path=False)
    full = stream(start(kind, **params), kind, rows, full_path=True)
    assert state(fast) == state(full)
    np.testing.assert_array_equal(fast.predict(X), full.predict(X))


def test_unshuffled_epochs_are_bit_identical_to_the_full_path():
    fast = stream(start("classifier", batch_size=4, shuffle=False), "classifier", 30,
                  full_path=False)
    full = stream(start("classifier", batch_size=4, shuffle=False), "classifier", 30,
                  full_path=True)
    assert state(fast) == state(full)


@pytest.mark.parametrize("kind", ["classifier", "binary", "regressor", "network"])
@pytest.mark.parametrize("rows, batch_size", CALLS + [(200, "auto"), (201, "auto")],
                         ids=lambda v: str(v))
def test_plain_calls_take_the_fast_path(kind, rows, batch_size, monkeypatch):
    est = start(kind, batch_size=batch_size)
    monkeypatch.setattr(type(est), "_fit", lambda *a, **k: pytest.fail("took the full path"))
    one_step = rows == 1 or batch_size == "auto" and rows <= 200
    if one_step:   # no checkpoint: the kernel keeps what the step overwrites
        monkeypatch.setattr(type(est), "_checkpoint",
                            lambda *a: pytest.fail("a one-step call made a checkpoint"))
    t = est.t_
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.partial_fit(X[:rows], targets(kind, slice(0, rows)))
    assert est.t_ == t + rows and est.n_iter_ == 1


def test_one_row_partial_fit_follows_scikit_learn():
    """A stream of one-row calls (the fast path) stays on scikit-learn's
    trajectory."""
    from sklearn.neural_network import MLPClassifier as SkClassifier
    ours, theirs = start("classifier"), SkClassifier(hidden_layer_sizes=(12,), random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        theirs.partial_fit(X[:100], y[:100], classes=np.unique(y))
    for i in range(100, 200):
        ours.partial_fit(X[i:i + 1], y[i:i + 1])
        theirs.partial_fit(X[i:i + 1], y[i:i + 1])
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-6)
    assert ours.t_ == theirs.t_


def full_path_calls(est, monkeypatch):
    """A list that records each call of the full path."""
    calls = []
    original = type(est)._fit

    def recording(self, *args, **kwargs):
        calls.append(args)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(type(est), "_fit", recording)
    return calls


@pytest.mark.parametrize("call", [
    lambda est: est.partial_fit(X[100:101], y[100:101], sample_weight=[2.0]),
    lambda est: est.partial_fit(X[100:101], y[100:101], classes=list(range(10))),
    lambda est: est.partial_fit(X[100:101].astype(np.float32), y[100:101]),
    lambda est: est.partial_fit(np.asfortranarray(X[100:103]), y[100:103]),
    lambda est: est.partial_fit(X[100:101].tolist(), y[100:101]),
    lambda est: est.partial_fit(X[100:101], y[100:101].astype(str)),
    lambda est: est.partial_fit(sp.csr_matrix(X[100:105]), y[100:105]),
    lambda est: est.set_params(learning_rate_init=0.01).partial_fit(X[100:101], y[100:101]),
    lambda est: est.set_params(warm_start=True).partial_fit(X[100:110], y[100:110]),
    lambda est: est.set_params(verbose=True).partial_fit(X[100:101], y[100:101]),
], ids=["sample_weight", "classes as a list", "float32", "Fortran order", "list",
        "string labels", "sparse X", "new learning rate", "warm_start", "verbose"])
def test_other_calls_take_the_full_path(call, monkeypatch, capsys):
    est = start("classifier")
    calls = full_path_calls(est, monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            call(est)
        except ValueError:
            pass   # string labels of integer classes: the full path's error
    assert len(calls) == 1


def test_settings_changed_in_place_take_the_full_path(monkeypatch):
    est = start("network", hidden_layer_sizes=[12])
    calls = full_path_calls(est, monkeypatch)
    est.hidden_layer_sizes.append(3)
    with pytest.raises(ValueError, match="the network has layers"):
        est.partial_fit(X[100:101], Y_REG[100:101])
    assert len(calls) == 1


def test_a_new_full_call_is_fast_again_after_it(monkeypatch):
    est = start("classifier")
    est.set_params(learning_rate_init=0.01).partial_fit(X[100:101], y[100:101])
    calls = full_path_calls(est, monkeypatch)
    est.partial_fit(X[101:102], y[101:102])
    assert calls == []


def with_nan(rows):
    bad = X[100:100 + rows].copy()
    bad[rows // 2, 5] = np.nan
    return bad


def with_unknown_label(rows):
    labels = y[100:100 + rows].copy()
    labels[rows // 2] = 10
    return labels


@pytest.mark.parametrize("bad, error", [
    (lambda rows: (X[100:100 + rows], with_unknown_label(rows)),
     "`y` has classes not in `self.classes_`"),
    (lambda rows: (X[100:100 + rows], -1.0 * y[100:100 + rows]),
     "`y` has classes not in `self.classes_`"),
    (lambda rows: (with_nan(rows), y[100:100 + rows]), "Input X contains NaN"),
    (lambda rows: (X[100:100 + rows, :3], y[100:100 + rows]), "X has 3 features"),
], ids=["unknown label", "negative labels", "NaN", "3 features"])
@pytest.mark.parametrize("rows, batch_size", [(1, "auto"), (60, 1), (60, 7)],
                         ids=lambda v: str(v))
def test_bad_calls_fail_as_before_and_change_nothing(bad, error, rows, batch_size):
    """One row, and more rows than FEW_LABELS, whose labels are searched
    by numpy."""
    est = start("classifier", batch_size=batch_size)
    before = state(est)
    with pytest.raises(ValueError, match=error):
        est.partial_fit(*bad(rows))
    assert state(est) == before


def test_feature_names_warn_as_scikit_learn_does():
    frame = pd.DataFrame(X, columns=[f"pixel{i}" for i in range(64)])
    est = fastnet.MLPClassifier(hidden_layer_sizes=(12,), random_state=0)
    est.partial_fit(frame[:100], y[:100], classes=np.unique(y))
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        est.partial_fit(X[100:101], y[100:101])


def diverging(solver_params):
    """A linear Network whose next one-row step has a finite loss but
    overflows its weight: x = 1e300 and w = 1e-146 give the output 1e154,
    the loss 5e307 and the gradient inf."""
    net = fastnet.Network(hidden_layer_sizes=(), max_iter=2, random_state=0, **solver_params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        net.fit(X[:20, :1], X[:20, 0])
    net.coefs_[0][...] = 1e-146
    return net


@pytest.mark.parametrize("params", SOLVERS, ids=lambda p: "-".join(map(str, p.values())))
@pytest.mark.parametrize("full_path", [False, True])
def test_a_step_that_overflows_is_taken_back(params, full_path):
    net = diverging(params)
    before = state(net)
    if full_path:
        net.__dict__.pop("_online_key")
    with pytest.raises(DivergenceError, match="within its first 1 samples; the model is "
                                              "back at its state before this call"):
        net.partial_fit(np.array([[1e300]]), np.array([0.0]))
    assert state(net) == before
    assert np.all(np.isfinite(net.predict(X[:5, :1])))


@pytest.mark.parametrize("params", SOLVERS[:3], ids=lambda p: "-".join(map(str, p.values())))
def test_a_diverging_call_of_several_steps_is_taken_back_as_by_the_full_path(params):
    """The second of three per-sample steps overflows: the fast path's
    checkpoint puts back the state before the call, with the full path's
    message."""
    rows, targets_ = np.array([[0.5], [1e300], [0.25]]), np.zeros(3)
    messages = []
    for full_path in (False, True):
        net = diverging(params)
        before = state(net)
        if full_path:
            net.__dict__.pop("_online_key")
        with pytest.raises(DivergenceError, match="the model is back at its state before "
                                                  "this call") as raised:
            net.partial_fit(rows, targets_)
        messages.append(str(raised.value))
        assert state(net) == before
    assert messages[0] == messages[1]


def test_a_non_finite_loss_stops_before_the_step():
    net = diverging(dict(solver="adam"))
    before = state(net)
    with pytest.raises(DivergenceError, match="at sample 1 of 1"):
        net.partial_fit(np.array([[1e300]]), np.array([1e300]))
    assert state(net) == before


@pytest.mark.parametrize("after_kernel", [False, True])
def test_ctrl_c_leaves_the_model_as_before_the_call(after_kernel, monkeypatch):
    """Ctrl-C during a one-step call -- before its kernel call or after it,
    during the bookkeeping -- warns as scikit-learn does and leaves the
    state before the call (not the one before the call ahead of it)."""
    est = start("classifier")
    est.partial_fit(X[100:101], y[100:101])        # leaves a step the kernel could undo
    before = state(est)
    original = _OneStepEpoch.run

    def interrupted(self, progress):
        if after_kernel:
            original(self, progress)
        raise KeyboardInterrupt

    monkeypatch.setattr(_OneStepEpoch, "run", interrupted)
    with pytest.warns(UserWarning, match="Training interrupted by user."):
        assert est.partial_fit(X[101:102], y[101:102]) is est
    assert state(est) == before


@pytest.mark.parametrize("after_kernel", [False, True])
def test_ctrl_c_in_a_call_of_several_steps_leaves_the_model_as_before(after_kernel,
                                                                       monkeypatch):
    """As the full path does: the weights, optimizer and records as before
    the call; the random state as this call drew it afresh (scikit-learn's
    check_random_state at the start of every call)."""
    original = _Epochs.run

    def interrupted(self, progress):
        if after_kernel:
            original(self, progress)
        raise KeyboardInterrupt

    after = []
    for full_path in (False, True):
        est = start("classifier", batch_size=3)
        est.partial_fit(X[100:110], y[100:110])
        before = state(est)
        if full_path:
            est.__dict__.pop("_online_key")
        with monkeypatch.context() as patch, \
                pytest.warns(UserWarning, match="Training interrupted by user."):
            patch.setattr(_Epochs, "run", interrupted)
            if not full_path:
                patch.setattr(type(est), "_fit",
                              lambda *a, **k: pytest.fail("took the full path"))
            assert est.partial_fit(X[110:120], y[110:120]) is est
        after.append(state(est))
        before.pop("random")
        assert {k: v for k, v in after[-1].items() if k != "random"} == before
    assert after[0] == after[1]


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
@pytest.mark.parametrize("rows", [1, 4])
def test_train_step_is_train_epoch_with_one_batch(optimizer, rows):
    est = start("classifier", **{"sgd": dict(solver="sgd", momentum=0.0),
                                  "momentum": dict(solver="sgd"),
                                  "adam": dict(solver="adam")}[optimizer])
    plan, opt = est._kernel_plan(), est._optimizer
    samples = kernels.Samples.dense(X[:rows], est._online_targets(y[:rows]))
    order = np.arange(rows, dtype=np.intp)[::-1].copy()
    arrays = [est._params.copy()] + [m.copy() for m in opt.moments()]
    copies = [a.copy() for a in arrays]
    want = plan.train_epoch(*arrays, samples, order, rows, opt.kernel_step())
    got = plan.train_step(*copies, samples, order, opt.kernel_step())
    assert got == want
    for a, b in zip(arrays, copies):
        np.testing.assert_array_equal(a, b)
    assert plan.undo_step(*copies)
    np.testing.assert_array_equal(copies[0], est._params)
    for a, b in zip(copies[1:], opt.moments()):
        np.testing.assert_array_equal(a, b)
    assert not plan.undo_step(*copies)      # once only
    plan.train_step(*copies, samples, order, opt.kernel_step())
    plan.forget_undo()
    assert not plan.undo_step(*copies)


def test_train_step_refuses_a_dict_without_a_field():
    est = start("classifier")
    step = est._optimizer.kernel_step()
    del step["beta_2"]
    samples = kernels.Samples.dense(X[:1], est._online_targets(y[:1]))
    with pytest.raises(ValueError, match="beta_2"):
        est._kernel_plan().train_step(est._params.copy(), *est._optimizer.moments(), samples,
                                      np.zeros(1, dtype=np.intp), step)
