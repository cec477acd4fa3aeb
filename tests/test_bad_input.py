"""Bad input never crashes the process and never changes a fitted model.

Every call under test runs in a child process (``run_isolated``), so that a
segmentation fault, an abort or a hang fails one test with a clear message
instead of ending the test run.  The child reports how the call ended: it
returned, raised (type and message), was killed by a signal, exited without
reporting, or was still running at the time limit.  A child may add at most
``ADDRESS_SPACE_HEADROOM`` bytes of address space, so that a call asking for
terabytes fails with MemoryError on every machine (whatever its overcommit
policy) instead of taking the memory of the machine.

Calls on a fitted model go through ``call_on_fitted``, which compares the
model's weights, biases, predictions and fitted attributes before and after
a call that raised: a failing call that changed the model fails the test.

Children are forked ('fork' start method), with n_jobs=1 models whose layers
are too small for threads: GNU OpenMP is not fork-safe, so a forked child of
a process that has started OpenMP threads may hang in its own parallel
region.  The few calls that need OpenMP threads run in a child of a
forkserver (a fresh interpreter that never starts threads itself).

Known bugs are marked ``xfail(strict=True)``; each reason is a one-line
reproduction.
"""
import fnmatch
import functools
import multiprocessing
import pickle
import re
import resource
import signal
import traceback
import warnings
from dataclasses import dataclass

import numpy as np
import pytest
import scipy.sparse as sp

import fastnet
import fastnet.kernels as kernels
from fastnet import ELU, Logistic

# Seconds a child may run; every call here takes milliseconds.
TIMEOUT = 60
# Address space a child may add to its parent's (bytes).
ADDRESS_SPACE_HEADROOM = 1 << 30


# ---------------------------------------------------------------------------
# 1. Running a call in a child process.
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Ending:
    """How a call in a child process ended.

    ``how`` is 'returned', 'raised', 'signal' (killed by signal ``detail``),
    'exit' (exited with status ``detail`` without reporting) or 'timeout'.
    For 'raised', ``error`` is the exception type and ``detail`` where it
    was raised; ``message`` is the exception's message or the returned value's
    repr.
    """

    how: str
    error: type = None
    message: str = ""
    detail: str = ""

    def __str__(self):
        if self.how == "returned":
            return f"returned {self.message}"
        if self.how == "raised":
            return f"raised {self.error.__name__}: {self.message}"
        if self.how == "signal":
            return f"was killed by signal {self.detail}"
        if self.how == "exit":
            return f"exited with status {self.detail} without reporting"
        return f"was still running after {TIMEOUT} s"


def _cap_address_space():
    with open("/proc/self/status") as status:
        kib = next(int(line.split()[1]) for line in status if line.startswith("VmSize:"))
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = kib * 1024 + ADDRESS_SPACE_HEADROOM
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _picklable(error_type):
    """error_type, or its nearest base class that pickles (by reference)."""
    for base in error_type.__mro__:
        try:
            pickle.dumps(base)
            return base
        except Exception:
            continue
    return BaseException


def _where(exc):
    """Where exc was raised, as 'file:line in function' lines; without the
    source lines, which would cost every child a read of the files."""
    frames = traceback.StackSummary.extract(traceback.walk_tb(exc.__traceback__),
                                            lookup_lines=False)
    return "\n".join(f"{f.filename}:{f.lineno} in {f.name}" for f in frames)


def _child(call, connection):
    """Run call() and send back how it ended."""
    _cap_address_space()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            value = call()
    except BaseException as exc:
        report = ("raised", _picklable(type(exc)), str(exc), _where(exc))
    else:
        report = ("returned", None, repr(value)[:300], "")
    connection.send(report)
    connection.close()


def run_isolated(call, start="fork"):
    """How ``call()`` ends when run in a child process (an ``Ending``).

    ``start`` is the multiprocessing start method: 'fork' runs any callable
    on a copy of this process; 'forkserver' forks the child from a fresh
    interpreter that has imported this module and never started OpenMP
    threads (the call must pickle), for calls that need threads.
    """
    context = multiprocessing.get_context(start)
    if start == "forkserver":
        context.set_forkserver_preload(["fastnet", __name__])
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(call, sender), daemon=True)
    process.start()
    sender.close()
    try:
        if not receiver.poll(TIMEOUT):
            process.kill()
            process.join()
            return Ending("timeout")
        try:
            report = receiver.recv()
        except EOFError:  # the child died before reporting
            report = None
    finally:
        receiver.close()
    process.join(TIMEOUT)
    if report is not None:
        return Ending(*report)
    if process.exitcode is None:
        process.kill()
        process.join()
        return Ending("timeout")
    if process.exitcode < 0:
        return Ending("signal", detail=signal_name(-process.exitcode))
    return Ending("exit", detail=str(process.exitcode))


def signal_name(number):
    """The name of a signal number (SIGSEGV), or the number."""
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)


def assert_raised(ending, errors=(ValueError, TypeError), match=None):
    """The ending is one of ``errors`` with a message matching the regular
    expression ``match`` (case-insensitive)."""
    names = " or ".join(e.__name__ for e in np.atleast_1d(errors))
    wanted = names + (f" matching {match!r}" if match else "")
    assert ending.how == "raised" and issubclass(ending.error, errors), (
        f"expected {wanted}, but the call {ending}\n{ending.detail[-3000:]}")
    assert match is None or re.search(match, ending.message, re.IGNORECASE), (
        f"expected {wanted}, but the call {ending}")


def expect_error(call, errors=(ValueError, TypeError), match=None, start="fork"):
    """Run call in a child; it must raise one of ``errors`` with a message
    matching ``match``."""
    assert_raised(run_isolated(call, start), errors, match)


def expect_return(call, start="fork"):
    """Run call in a child; it must return, and its result's repr is returned."""
    ending = run_isolated(call, start)
    assert ending.how == "returned", (
        f"expected the call to return, but it {ending}\n{ending.detail[-3000:]}")
    return ending.message


# ---------------------------------------------------------------------------
# 2. Data, models, and the fitted models' state.
# ---------------------------------------------------------------------------

RNG = np.random.default_rng(0)
X = RNG.uniform(-1, 1, (30, 3))
Y_REG = X @ [1.0, -1.0, 0.5]
LABELS = np.arange(30) % 3
TARGETS = {"Network": Y_REG, "MLPClassifier": LABELS, "MLPRegressor": Y_REG}
KINDS = list(TARGETS)
SMALL = dict(hidden_layer_sizes=(4,), max_iter=3, random_state=0, n_jobs=1)

# Fitted models: (estimator, targets).  The plain names are the three
# estimators fitted on TARGETS; the others vary the outputs.
FITTED = {
    **{kind: (kind, y) for kind, y in TARGETS.items()},
    "Network-2d": ("Network", np.c_[Y_REG, -Y_REG]),
    "MLPClassifier-binary": ("MLPClassifier", LABELS % 2),
    "MLPClassifier-multilabel": ("MLPClassifier", np.c_[LABELS == 0, LABELS < 2]),
    "MLPRegressor-2d": ("MLPRegressor", np.c_[Y_REG, -Y_REG]),
}


def new(kind, **params):
    """An unfitted small estimator: fastnet.<kind> with SMALL and params."""
    return getattr(fastnet, kind)(**{**SMALL, **params})


@functools.cache
def fitted(name):
    """A model of FITTED, fitted once in this process; children get copies."""
    kind, y = FITTED[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return new(kind).fit(X, y)


def kind_of(name):
    return FITTED[name][0]


def targets_of(name):
    return FITTED[name][1]


STATE_ATTRIBUTES = ("n_features_in_", "n_outputs_", "n_layers_", "classes_",
                    "out_activation_")


def model_state(model):
    """Everything a failing call must leave as it was: weights, biases,
    predictions (and probabilities) on X, and the fitted attributes."""
    state = {f"coefs_[{i}]": c.copy() for i, c in enumerate(model.coefs_)}
    state.update({f"intercepts_[{i}]": b.copy() for i, b in enumerate(model.intercepts_)})
    state["predict(X)"] = model.predict(X)
    if hasattr(model, "predict_proba"):
        state["predict_proba(X)"] = model.predict_proba(X)
    for name in STATE_ATTRIBUTES:
        if hasattr(model, name):
            state[name] = np.asarray(getattr(model, name)).copy()
    return state


def changes(before, model):
    """What differs from ``before`` in the model's state (empty if nothing)."""
    try:
        after = model_state(model)
    except Exception as exc:
        return [f"the model no longer predicts ({type(exc).__name__}: {exc})"]
    differ = [name for name in before.keys() | after.keys()
              if name not in before or name not in after
              or before[name].shape != after[name].shape
              or not np.array_equal(before[name], after[name])]
    return sorted(differ)


def call_on_fitted(model, before, call):
    """call(model); if it raises, the model must still have the state
    ``before`` (else an AssertionError naming what changed replaces the
    exception).  Parameters the call set are restored before the comparison:
    a failing call must keep what the model learnt, not the parameters it was
    given."""
    params = model.get_params(deep=False)
    try:
        return call(model)
    except BaseException as exc:
        model.set_params(**params)
        changed = changes(before, model)
        if changed:
            raise AssertionError(f"the failed call ({type(exc).__name__}: {exc}) changed "
                                 "the model: " + ", ".join(changed)) from exc
        raise


@functools.cache
def fitted_state(name):
    """model_state of fitted(name), computed once in this process."""
    return model_state(fitted(name))


def on_fitted(name, call):
    """A call for run_isolated: call(model) on a copy of fitted(name)."""
    model, before = fitted(name), fitted_state(name)  # here, before the fork
    return lambda: call_on_fitted(model, before, call)


# Known bugs: test-id patterns (fnmatch) and one-line reproductions.  In
# them, net/clf is a fitted Network/MLPClassifier, X and y its training data.
NAN_TARGET = ("Network().fit(X, np.array([None, *y[1:]], object)): the None becomes a "
              "NaN target, training runs, then 'Solver produced non-finite parameter "
              "weights' (a fitted model keeps the NaN weights)")
NON_FINITE_KEPT = ("net.partial_fit(X * 1e300, y) (or after set_params(alpha=np.nan)) raises "
                   "'Solver produced non-finite parameter weights' but keeps those weights")
BINARIZER_REPLACED = ("clf.fit(X, bad_y) raises after _validate_input replaced "
                      "clf._label_binarizer and classes_: clf.predict(X) fails or decodes "
                      "with other classes")
REFIT_REINITIALISES = ("net.fit(X, np.full(len(y), 'a')) raises only when to_samples "
                       "converts y, after new initial weights replaced the fitted ones")
FEATURES_RESET = ("net.fit(np.c_[X, X], y, sample_weight=np.ones(len(y) - 1)) raises "
                  "after n_features_in_ became 6: net.predict(X) then fails")
LAYOUT_REPLACED = ("net.set_params(hidden_layer_sizes=(10**6, 10**6)).fit(X, y) raises "
                   "after _initialize set the new layout: net.coefs_ and net.predict fail")
COUNT_WRAPS = ("the int64 parameter count wraps: Network(hidden_layer_sizes=((2**64 + 2) "
               "// 3,)).fit(X[:, :1], y) raises 'cannot reshape array of size 3', (2**62,) "
               "'negative dimensions are not allowed', (2**64,) OverflowError")
NON_INTEGER_SIZES = ("Network(hidden_layer_sizes=(3.5,)).fit(X, y) trains 3 units; (0.5,) "
                     "fails in the kernels' Plan ('a plan needs integer units'); ((3,),), "
                     "('a',), (nan,), (inf,) raise int()/ufunc TypeErrors or OverflowError "
                     "naming no parameter")
LATE_ACTIVATION_CHECK = ("net.set_params(activation=fastnet.Logistic(L=np.nan)).fit(X, y) "
                         "fails only in the kernels' Plan, after _fit stored the activations "
                         "(and new weights): net.predict(X) then fails (output_activation: "
                         "the message does not name it)")
BUGS = {}


def case(*values, id):
    """pytest.param(*values, id=id), xfail(strict) if id matches a known bug."""
    reasons = [reason for pattern, reason in BUGS.items() if fnmatch.fnmatchcase(id, pattern)]
    marks = [pytest.mark.xfail(strict=True, reason=reasons[0])] if reasons else []
    return pytest.param(*values, id=id, marks=marks)


# ---------------------------------------------------------------------------
# 3. Bad X, y and sample_weight at fit and partial_fit.
# ---------------------------------------------------------------------------

def _with(a, index, value, dtype=None):
    """A copy of a (as dtype) with a[index] = value."""
    a = np.array(a, dtype=dtype)
    a[index] = value
    return a


REGRESSION = ["Network", "MLPRegressor"]
# name: (X, y, sample_weight) from the good X and y, the estimators it is bad
# for, and a regular expression the error message must match.
DATA_CASES = {
    "X_nan": (lambda X, y: (_with(X, (0, 0), np.nan), y, None), KINDS, "NaN"),
    "X_inf": (lambda X, y: (_with(X, (1, 1), np.inf), y, None), KINDS, "infinity"),
    "X_object_none": (lambda X, y: (_with(X, (0, 1), None, object), y, None), KINDS, None),
    "X_complex": (lambda X, y: (X + 1j, y, None), KINDS, "complex"),
    "X_strings": (lambda X, y: (np.full(X.shape, "a"), y, None), KINDS, "convert"),
    "X_no_samples": (lambda X, y: (X[:0], y[:0], None), KINDS, "0 sample"),
    "X_no_features": (lambda X, y: (X[:, :0], y, None), KINDS, "0 feature"),
    "X_1d": (lambda X, y: (X[:, 0], y, None), KINDS, "2D array"),
    "X_3d": (lambda X, y: (X[:, :, None], y, None), KINDS, "dim 3"),
    "X_none": (lambda X, y: (None, y, None), KINDS, None),
    "X_ragged": (lambda X, y: ([[1.0, 2.0, 3.0]] * (len(y) - 1) + [[1.0]], y, None), KINDS,
                 None),
    "X_sparse_nan": (lambda X, y: (sp.csr_matrix(_with(X, (0, 0), np.nan)), y, None), KINDS,
                     "NaN"),
    "y_nan": (lambda X, y: (X, _with(y, 0, np.nan, float), None), KINDS, "NaN"),
    "y_object_none": (lambda X, y: (X, _with(y, 0, None, object), None), REGRESSION, "NaN"),
    "y_labels_with_none": (lambda X, y: (X, _with(y, 0, None, object), None),
                           ["MLPClassifier"], None),
    "y_complex": (lambda X, y: (X, y + 1j, None), KINDS, "complex"),
    "y_strings": (lambda X, y: (X, np.full(len(y), "a"), None), REGRESSION,
                  "needs numeric targets"),
    "y_continuous": (lambda X, y: (X, Y_REG, None), ["MLPClassifier"], "label type"),
    "y_short": (lambda X, y: (X, y[:-1], None), KINDS, "inconsistent"),
    "y_3d": (lambda X, y: (X, y[:, None, None], None), KINDS, None),
    "y_no_outputs": (lambda X, y: (X, np.ones((len(y), 0)), None), KINDS, None),
    "y_none": (lambda X, y: (X, None, None), KINDS, "requires y"),
    "sw_short": (lambda X, y: (X, y, np.ones(len(y) - 1)), KINDS, "sample.weight"),
    "sw_2d": (lambda X, y: (X, y, np.ones((len(y), 2))), KINDS, "sample.weight"),
    "sw_nan": (lambda X, y: (X, y, _with(np.ones(len(y)), 3, np.nan)), KINDS, "NaN"),
    "sw_inf": (lambda X, y: (X, y, _with(np.ones(len(y)), 3, np.inf)), KINDS, "infinity"),
    "sw_all_zero": (lambda X, y: (X, y, np.zeros(len(y))), KINDS, None),
    "sw_complex": (lambda X, y: (X, y, np.ones(len(y)) + 1j), KINDS, "complex"),
    # finite data so large that training makes the weights non-finite
    "X_huge_values": (lambda X, y: (X * 1e300, y, None), REGRESSION, "non-finite"),
    # bad sample weights after good data that differs from the fitted model's
    "X_wider_sw_short": (lambda X, y: (np.c_[X, X], y, np.ones(len(y) - 1)), KINDS,
                         "sample.weight|features"),
    "y_binary_sw_short": (lambda X, y: (X, y % 2, np.ones(len(y) - 1)), ["MLPClassifier"],
                          "sample.weight"),
}


def _fit_calls(kind, make):
    """The two ways a bad (X, y, sample_weight) reaches training: fit of a
    fitted model (warm_start=False: the code path of a new model's fit, which
    must also leave the model as it was) and partial_fit of a fitted model."""
    Xb, yb, sw = make(X, TARGETS[kind])
    return {
        "refit": on_fitted(kind, lambda m: m.fit(Xb, yb, sample_weight=sw)),
        "partial_fit": on_fitted(kind, lambda m: m.partial_fit(Xb, yb, sample_weight=sw)),
    }


DATA_PARAMS = [case(name, kind, method, id=f"data-{method}-{kind}-{name}")
               for name, (_, kinds, _) in DATA_CASES.items() for kind in kinds
               for method in ("refit", "partial_fit")]


@pytest.mark.parametrize("name, kind, method", DATA_PARAMS)
def test_bad_data_at_fit(name, kind, method):
    make, _, match = DATA_CASES[name]
    expect_error(_fit_calls(kind, make)[method], match=match)


# ---------------------------------------------------------------------------
# 4. Bad X at predict, predict_proba, predict_log_proba and score.
# ---------------------------------------------------------------------------

# name: (bad X for a model fitted on 3 features, message pattern)
PREDICT_CASES = {
    "two_features": (X[:, :2], "features"),
    "four_features": (np.c_[X, X[:, :1]], "features"),
    "nan": (_with(X, (0, 0), np.nan), "NaN"),
    "inf": (_with(X, (0, 0), np.inf), "infinity"),
    "object_none": (_with(X, (0, 1), None, object), None),
    "object_string": (_with(X, (0, 1), "a", object), "convert"),
    "complex": (X + 1j, "complex"),
    "strings": (np.full(X.shape, "a"), "convert"),
    "no_samples": (X[:0], "0 sample"),
    "no_features": (X[:, :0], "0 feature"),
    "1d": (X[0], "2D array"),
    "3d": (X[:, :, None], "dim 3"),
    "none": (None, None),
    "scalar": (1.0, None),
    "ragged": ([[1.0, 2.0, 3.0], [1.0]], None),
    "sparse_two_features": (sp.csr_matrix(X[:, :2]), "features"),
    "sparse_nan": (sp.csr_matrix(_with(X, (0, 0), np.nan)), "NaN"),
}

PREDICT_METHODS = {kind: ["predict"] + (["predict_proba", "predict_log_proba"]
                                         if kind == "MLPClassifier" else [])
                   for kind in KINDS}
PREDICT_PARAMS = [case(model, method, bad, id=f"predict-{method}-{model}-{bad}")
                  for model, methods in PREDICT_METHODS.items() for method in methods
                  for bad in PREDICT_CASES]


@pytest.mark.parametrize("model, method, bad", PREDICT_PARAMS)
def test_bad_X_at_predict(model, method, bad):
    Xb, match = PREDICT_CASES[bad]
    expect_error(on_fitted(model, lambda m: getattr(m, method)(Xb)), match=match)


# name: (X, y for a model fitted on 3 features and targets y, message pattern)
SCORE_CASES = {
    "y_short": (lambda y: (X, y[:-1]), "inconsistent"),
    "y_nan": (lambda y: (X, _with(y, 0, np.nan, float)), "NaN"),
    "X_two_features": (lambda y: (X[:, :2], y), "features"),
}


@pytest.mark.parametrize("bad", SCORE_CASES)
@pytest.mark.parametrize("model", KINDS)
def test_bad_data_at_score(model, bad):
    make, match = SCORE_CASES[bad]
    Xb, yb = make(targets_of(model))
    expect_error(on_fitted(model, lambda m: m.score(Xb, yb)), match=match)


# ---------------------------------------------------------------------------
# 5. partial_fit and warm_start fits that do not fit the fitted model.
# ---------------------------------------------------------------------------

def _other_outputs(name):
    """Targets with a number of outputs the model fitted as ``name`` lacks."""
    y = targets_of(name)
    if kind_of(name) == "MLPClassifier":
        # multilabel with one more column, or multilabel for a multiclass model
        return np.c_[y, y[:, :1]] if y.ndim == 2 else np.c_[y == 0, y == 1, y == 2, y == 0]
    return np.c_[y, y] if y.ndim == 1 else y[:, 0]


def _continue(method):
    """A way to train on from the fitted weights: partial_fit, or fit with
    warm_start=True."""
    if method == "partial_fit":
        return lambda m, *args, **kwargs: m.partial_fit(*args, **kwargs)
    return lambda m, *args, **kwargs: m.set_params(warm_start=True).fit(*args, **kwargs)


# name: (model -> args and keyword arguments of the call, models it applies
# to, message pattern)
MISMATCHES = {
    "two_features": (lambda name: ((X[:, :2], targets_of(name)), {}), list(FITTED),
                     "features"),
    "four_features": (lambda name: ((np.c_[X, X[:, :1]], targets_of(name)), {}),
                      list(FITTED), "features"),
    "other_outputs": (lambda name: ((X, _other_outputs(name)), {}),
                      [n for n in FITTED if n != "MLPClassifier-binary"], None),
    "new_label": (lambda name: ((X, _with(targets_of(name), 0, 7)), {}),
                  ["MLPClassifier", "MLPClassifier-binary"], "classes"),
    "string_labels": (lambda name: ((X, np.array(["a", "b", "c"])[LABELS]), {}),
                      ["MLPClassifier", "MLPClassifier-binary"], "classes"),
    "other_hidden_sizes": (lambda name: ((X, targets_of(name)), {}), list(FITTED),
                           "layers"),
}


def _mismatch_call(name, mismatch, method):
    make, _, _ = MISMATCHES[mismatch]
    args, kwargs = make(name)
    train_on = _continue(method)
    if mismatch == "other_hidden_sizes":
        return lambda m: train_on(m.set_params(hidden_layer_sizes=(5,)), *args, **kwargs)
    return lambda m: train_on(m, *args, **kwargs)


MISMATCH_PARAMS = [case(name, mismatch, method, id=f"mismatch-{method}-{name}-{mismatch}")
                   for mismatch, (_, names, _) in MISMATCHES.items() for name in names
                   for method in ("partial_fit", "warm_fit")]


@pytest.mark.parametrize("name, mismatch, method", MISMATCH_PARAMS)
def test_training_on_that_does_not_fit_the_model(name, mismatch, method):
    match = MISMATCHES[mismatch][2]
    expect_error(on_fitted(name, _mismatch_call(name, mismatch, method)), match=match)


def _partial_fit_classes(classes, first_call):
    """partial_fit with ``classes`` on a new classifier, or on the fitted one."""
    if first_call:
        return lambda: new("MLPClassifier").partial_fit(X, LABELS, classes=classes)
    return on_fitted("MLPClassifier", lambda m: m.partial_fit(X, LABELS, classes=classes))


@pytest.mark.parametrize("classes, first_call, match", [
    (None, True, "classes must be passed"),
    ([0, 1], True, "classes"),          # y has label 2
    ([0, 1, 2, 3], False, "classes"),   # not the classes of the first call
    ([0, 1], False, "classes"),
], ids=["first_without", "first_missing_label", "later_other", "later_fewer"])
def test_partial_fit_classes(classes, first_call, match):
    expect_error(_partial_fit_classes(classes, first_call), match=match)


@pytest.mark.parametrize("name", [n for n in FITTED if kind_of(n) != "MLPRegressor"])
def test_partial_fit_refuses_early_stopping(name):
    def call(m):
        return m.set_params(early_stopping=True).partial_fit(X, targets_of(name))
    expect_error(on_fitted(name, call), match="early_stopping")


# ---------------------------------------------------------------------------
# 6. Invalid parameter values.
# ---------------------------------------------------------------------------

# Values every estimator refuses, by parameter: scikit-learn's constraints
# (PARAMETER_CONSTRAINTS in fastnet/network.py) with a value or two each, and
# the values only fastnet's own checks at fit can refuse.
BAD_PARAMETERS = {
    "hidden_layer_sizes": [0, None, "abc", (4, -2), (0.5,), (3.5,), ((3,),), ("a",),
                           (np.nan,), (np.inf,)],
    # one hidden layer: lists of other lengths are wrong
    "activation": ["sigmoid", None, "step", ["step"], ["relu"] * 2, [], {"relu"},
                   Logistic(L=0), Logistic(L=np.nan), Logistic(L="a"), Logistic(k=np.inf),
                   ELU(alpha=np.nan)],
    "solver": ["foo"],
    "alpha": [-1.0, np.nan],
    "batch_size": [0, "big"],
    "learning_rate": ["fast"],
    "learning_rate_init": [0, np.nan],
    "power_t": [-1.0],
    "max_iter": [0, 1.5],
    "shuffle": ["yes"],
    "random_state": ["seed"],
    "tol": [-1.0],
    "verbose": ["loud"],
    "warm_start": ["no"],
    "momentum": [1.5],
    "nesterovs_momentum": ["yes"],
    "early_stopping": ["yes"],
    "validation_fraction": [1.0],
    "beta_1": [1.0],
    "beta_2": [1.0],
    "epsilon": [0.0],
    "n_iter_no_change": [0],
    "max_fun": [0],
    "init": ["glorot"],
    "dtype": ["float16", "int32", np.int64, complex],
    "n_jobs": [0, 1.5, "2"],
}
OUTPUT_ACTIVATIONS = ["sigmoid", 3, ["identity"], Logistic(L=0), Logistic(L=-2),
                      Logistic(x0=np.nan), ELU(alpha=np.inf)]
EXTRA_BAD_PARAMETERS = {
    "Network": {"output_activation": OUTPUT_ACTIVATIONS + [None],
                "loss": ["hinge", None, "log_loss"]},
    "MLPClassifier": {},
    "MLPRegressor": {"output_activation": OUTPUT_ACTIVATIONS,
                     "loss": ["hinge", None, "cross_entropy", "binary_cross_entropy"]},
}


# scikit-learn validates parameters in fit and in the first partial_fit, not
# in later partial_fit calls (sklearn.base._fit_context) or in predict; there
# fastnet, like scikit-learn, may use an invalid value instead of refusing it.
UNVALIDATED = ("partial_fit", "predict")
# Parameters checked inside fit, after scikit-learn's validation of the
# constraints (which runs before fit changes anything).
CHECKED_IN_FIT = {"hidden_layer_sizes", "activation", "output_activation", "loss", "dtype",
                  "n_jobs"}
# What a later partial_fit reads; the optimizer it continues keeps the
# learning rate, schedule, momentum and Adam settings it was made with, and
# the data type and initialisation are those of the fitted weights.
PARTIAL_FIT_READS = {"hidden_layer_sizes", "activation", "output_activation", "loss",
                     "solver", "alpha", "batch_size", "max_iter", "n_jobs"}
# Patterns the message must match where it names the value, not the parameter.
PARAMETER_MATCH = {"random_state": "random_state|seed"}


def _short(value):
    """A short test-id text for a parameter value."""
    text = value.__name__ if isinstance(value, type) else repr(value)
    return re.sub(r"[^\w.,()\[\]{}=+-]+", "", text)[:40]


def finite_weights(model):
    """The model, after checking that its weights and biases are finite."""
    assert all(np.isfinite(w).all() for w in model.coefs_ + model.intercepts_), (
        "the call left non-finite weights")
    return model


def _parameter_calls(kind, name, value):
    """The ways a bad parameter reaches training and prediction: fit of a new
    model, or, for the parameters checked inside fit, fit of a fitted model
    after set_params (the same code path, which must also leave the model as
    it was); partial_fit (for the parameters it reads) and predict (for
    n_jobs, the only one it reads) of a fitted model after set_params.  The
    first partial_fit of a new model validates as fit does."""
    y = TARGETS[kind]
    bad = {name: value}
    if name in CHECKED_IN_FIT:
        calls = {"refit": on_fitted(kind, lambda m: m.set_params(**bad).fit(X, y))}
    else:
        calls = {"fit": lambda: new(kind, **bad).fit(X, y)}
    if name in PARTIAL_FIT_READS:
        calls["partial_fit"] = on_fitted(
            kind, lambda m: finite_weights(m.set_params(**bad).partial_fit(X, y)))
    if name == "n_jobs":
        calls["predict"] = on_fitted(kind, lambda m: m.set_params(**bad).predict(X))
    return calls


def _parameters_to_try(kind):
    """The bad parameters to try on an estimator: all on Network; on the
    drop-ins those checked inside fit and their own, since the constraints
    of the others are the very objects Network's validation checks."""
    checked = {name: values for name, values in BAD_PARAMETERS.items()
               if kind == "Network" or name in CHECKED_IN_FIT}
    return {**checked, **EXTRA_BAD_PARAMETERS[kind]}


PARAMETER_PARAMS = [
    case(kind, name, value, method, id=f"param-{method}-{kind}-{name}={_short(value)}")
    for kind in KINDS
    for name, values in _parameters_to_try(kind).items()
    for value in values
    for method in _parameter_calls(kind, name, value)
]


@pytest.mark.parametrize("kind, name, value, method", PARAMETER_PARAMS)
def test_invalid_parameter(kind, name, value, method):
    """A ValueError or TypeError naming the parameter (scikit-learn's
    InvalidParameterError is a ValueError), which leaves a fitted model as it
    was.  partial_fit of a non-stochastic solver is an AttributeError, as in
    scikit-learn.  Where parameters are not validated (UNVALIDATED), the call
    may also return, with finite weights, or raise any ValueError or
    TypeError."""
    errors, match = (ValueError, TypeError), PARAMETER_MATCH.get(name, re.escape(name))
    if name == "solver" and method == "partial_fit":
        errors, match = errors + (AttributeError,), "solver|partial_fit"
    ending = run_isolated(_parameter_calls(kind, name, value)[method])
    if method in UNVALIDATED:
        if ending.how != "returned":
            assert_raised(ending, errors)
    else:
        assert_raised(ending, errors, match)


# ---------------------------------------------------------------------------
# 7. Assigning coefs_ and intercepts_ of a fitted model.
# ---------------------------------------------------------------------------

def _ragged(arrays):
    """The arrays as nested lists with the last row (or entry) one short."""
    return [a.tolist()[:-1] + [a.tolist()[-1][:-1]] if a.ndim == 2 else a.tolist()[:-1]
            for a in arrays]


# name: a bad replacement for a list of arrays (coefs_ or intercepts_)
BAD_LISTS = {
    "too_few": lambda arrays: arrays[:-1],
    "empty": lambda arrays: [],
    "transposed": lambda arrays: [a.T if a.ndim == 2 else a[:, None] for a in arrays],
    "one_short": lambda arrays: [a[:-1] for a in arrays],
    "nan_in_last": lambda arrays: arrays[:-1] + [_with(arrays[-1], 0, np.nan)],
    "inf_in_first": lambda arrays: [_with(arrays[0], 0, np.inf)] + arrays[1:],
    "complex": lambda arrays: [a + 1j for a in arrays],
    "strings": lambda arrays: [np.full(a.shape, "a") for a in arrays],
    "object_none": lambda arrays: [_with(a, 0, None, object) for a in arrays],
    "ragged": _ragged,
    "none": lambda arrays: None,
    "one_array": lambda arrays: arrays[0],
}
# name: (index, a bad replacement for that array) for item assignment
BAD_ITEMS = {
    "transposed": (0, lambda a: a.T if a.ndim == 2 else a[:, None]),
    "one_short": (-1, lambda a: a[:-1]),
    "nan": (0, lambda a: _with(a, 0, np.nan)),
    "complex": (-1, lambda a: a + 1j),
    "strings": (0, lambda a: np.full(a.shape, "a")),
    "none": (0, lambda a: None),
    "index_past_end": (5, lambda a: a),
}
# The message names the attribute, the shape, the count or finiteness.
WEIGHTS_MATCH = r"coefs_|intercepts_|shape|\bfinite|arrays|weights"


def _assignment(attribute, how, bad):
    """The call: assign a bad list to attribute, or a bad array to one item."""
    if how == "list":
        return lambda m: setattr(m, attribute, BAD_LISTS[bad](
            [a.copy() for a in getattr(m, attribute)]))
    index, make = BAD_ITEMS[bad]

    def assign_item(m):
        arrays = getattr(m, attribute)
        arrays[index] = make(arrays[min(index, len(arrays) - 1)].copy())
    return assign_item


ASSIGNMENT_PARAMS = [
    case(name, attribute, how, bad, id=f"assign-{attribute}-{how}-{name}-{bad}")
    for name in KINDS for attribute in ("coefs_", "intercepts_")
    for how, bads in (("list", BAD_LISTS), ("item", BAD_ITEMS)) for bad in bads
]


@pytest.mark.parametrize("name, attribute, how, bad", ASSIGNMENT_PARAMS)
def test_bad_weights_assignment(name, attribute, how, bad):
    """A ValueError or TypeError (IndexError past the last layer) that says
    what is wrong, and the model unchanged."""
    call = on_fitted(name, _assignment(attribute, how, bad))
    if bad == "index_past_end":
        expect_error(call, IndexError)
    elif bad == "none":  # e.g. Python's own "object of type 'NoneType' has no len()"
        expect_error(call)
    else:
        expect_error(call, match=WEIGHTS_MATCH)


# ---------------------------------------------------------------------------
# 8. Huge hidden_layer_sizes.
# ---------------------------------------------------------------------------

# The smallest hidden size whose parameter count wraps around in int64 to a
# handful for one input and one output: 3h + 1 = 2**64 + 3.
WRAPPING_SIZE = (2**64 + 2) // 3
HUGE_SIZES = [(10**6, 10**6), (10**10,), (2**40, 2**40), (2**62,), (2**63 - 1,), (2**64,),
              (WRAPPING_SIZE,), (10**5, 10**5, WRAPPING_SIZE)]
# A clear refusal says the memory cannot be had or the sizes are too large.
HUGE_MATCH = r"memory|allocate|too (big|large)|hidden_layer_sizes"
ONE_FEATURE = X[:, :1]


def _huge_calls(kind, sizes):
    """fit of a new model and of a fitted one; one input and one output, so
    that WRAPPING_SIZE wraps the parameter count to 3."""
    y = TARGETS[kind]
    return {
        "fit": lambda: new(kind, hidden_layer_sizes=sizes).fit(ONE_FEATURE, y),
        "refit": on_fitted(
            kind, lambda m: m.set_params(hidden_layer_sizes=sizes).fit(ONE_FEATURE, y)),
    }


HUGE_PARAMS = [case(kind, sizes, method, id=f"huge-{method}-{kind}-{_short(sizes)}")
               for kind in KINDS for sizes in HUGE_SIZES for method in ("fit", "refit")]


@pytest.mark.parametrize("kind, sizes, method", HUGE_PARAMS)
def test_huge_hidden_layer_sizes(kind, sizes, method):
    """A MemoryError or ValueError that says why, never a crash or a wrapped
    parameter count, and a fitted model left as it was."""
    expect_error(_huge_calls(kind, sizes)[method], (MemoryError, ValueError), HUGE_MATCH)


# ---------------------------------------------------------------------------
# 9. The kernels' entry points: Plan and Samples (beyond tests/test_kernels.py).
# ---------------------------------------------------------------------------

def plan_of(build, units, **settings):
    """An identity-activation, squared-error Plan of this build."""
    n_layers = len(units) - 1
    return build.Plan(units, [int(build.Activation.IDENTITY)] * n_layers,
                      np.zeros((n_layers, 3)), int(build.Loss.SQUARED_ERROR),
                      fused_delta=True, **settings)


def sgd_step(build, **changes):
    """train_epoch's optimizer dict for plain SGD, with changes."""
    return {"kind": int(build.Optimizer.SGD), "learning_rate": 0.1, "momentum": 0.0,
            "nesterov": False, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-8, "t": 0,
            **changes}


def train_small(build, samples, order=None, step=None):
    """train_epoch of a [3, 2] plan on samples, one sample at a time, from
    zero parameters (8 of them)."""
    order = np.arange(samples.n_samples, dtype=np.intp) if order is None else order
    return plan_of(build, [3, 2]).train_epoch(np.zeros(8), np.zeros(8), np.zeros(8), samples,
                                              order, 1, step or sgd_step(build))


def run_plan(build, plan, samples, batch_size=1):
    """One epoch of plain SGD, a full-batch gradient and a forward pass of
    plan on samples (with targets), from parameters spread over [-0.5, 0.5];
    returns [trained parameters, loss sum, steps, loss, gradient, outputs]."""
    n = plan.n_params
    params, trained = np.linspace(-0.5, 0.5, n), np.linspace(-0.5, 0.5, n)
    order = np.arange(samples.n_samples, dtype=np.intp)
    loss_sum, steps, _, _ = plan.train_epoch(trained, np.zeros(n), np.zeros(n), samples,
                                             order, batch_size, sgd_step(build))
    grad, out = np.empty(n), np.empty((samples.n_samples, samples.n_outputs))
    loss = plan.loss_and_gradient(params, grad, samples)
    plan.forward(params, samples, out)
    return [trained, loss_sum, steps, loss, grad, out]


def use_units(build, units, batch_size=1):
    """A Plan for these units, run on two samples."""
    samples = build.Samples.dense(np.ones((2, units[0])), np.ones((2, units[-1])))
    return run_plan(build, plan_of(build, units), samples, batch_size)


def dense(build, X=None, Y=None, sample_weight=None):
    """Samples.dense of a valid (4, 3) X unless X is given."""
    return build.Samples.dense(np.ones((4, 3)) if X is None else X, Y, sample_weight)


def csr(build, data=(1.0, 2.0), indices=(0, 2), indptr=(0, 1, 2), n_features=3, **kwargs):
    """Samples.csr of the arguments; sequences become float data and intp
    indices, arrays are passed as they are."""
    def as_array(a, dtype):
        return a if isinstance(a, np.ndarray) else np.array(a, dtype)
    return build.Samples.csr(as_array(data, float), as_array(indices, np.intp),
                             as_array(indptr, np.intp), n_features, **kwargs)


def _other_build(build):
    """The kernel module of the other build than ``build``."""
    return next(kernels.load(name) for name in kernels.available_builds()
                if kernels.load(name) is not build)


# name: call(build) -> anything; each must raise ValueError, TypeError or
# MemoryError
BAD_KERNEL_CALLS = {
    "plan_units_empty": lambda b: plan_of(b, []),
    "plan_units_none": lambda b: b.Plan(None, [0], np.zeros((1, 3)), 0, fused_delta=True),
    "plan_units_strings": lambda b: plan_of(b, ["3", "4", "2"]),
    "plan_units_bool": lambda b: plan_of(b, np.array([True, True])),
    "plan_units_float": lambda b: plan_of(b, [3.0, 4.0, 2.0]),
    "plan_units_uint64_huge": lambda b: plan_of(b, np.array([3, 2**63 + 5, 2], np.uint64)),
    "plan_units_1e6_1e6": lambda b: use_units(b, [3, 10**6, 10**6, 2]),
    "plan_units_1e10": lambda b: use_units(b, [3, 10**10, 2]),
    "plan_units_2p40_2p40": lambda b: use_units(b, [3, 2**40, 2**40, 2]),
    "plan_units_2p63": lambda b: use_units(b, [3, 2**63 - 1, 2]),
    "plan_units_2p64": lambda b: use_units(b, [3, 2**64, 2]),
    "plan_units_wrapping": lambda b: use_units(b, [1, WRAPPING_SIZE, 1]),
    "plan_units_wrapping_minibatch": lambda b: use_units(b, [1, WRAPPING_SIZE, 1], 2),
    "plan_activations_float": lambda b: b.Plan([3, 2], [0.5], np.zeros((1, 3)), 0,
                                               fused_delta=True),
    "plan_activations_2d": lambda b: b.Plan([3, 2], [[0]], np.zeros((1, 3)), 0,
                                            fused_delta=True),
    "plan_activation_params_nan": lambda b: b.Plan([3, 2], [0], np.full((1, 3), np.nan), 0,
                                                   fused_delta=True),
    "plan_activation_params_strings": lambda b: b.Plan([3, 2], [0], [["a", "b", "c"]], 0,
                                                       fused_delta=True),
    "plan_loss_float": lambda b: b.Plan([3, 2], [0], np.zeros((1, 3)), 0.5,
                                        fused_delta=True),
    "plan_dtype_float16": lambda b: plan_of(b, [3, 2], dtype="float16"),
    "plan_dtype_object": lambda b: plan_of(b, [3, 2], dtype=object),
    "plan_parallel_min_weights_negative": lambda b: plan_of(b, [3, 2],
                                                            parallel_min_weights=-1),
    "plan_gemm_slice_rows_zero": lambda b: plan_of(b, [3, 2], gemm_slice_rows=0),
    "dense_3d": lambda b: dense(b, np.ones((4, 3, 1))),
    "dense_0d": lambda b: dense(b, np.array(1.0)),
    "dense_none": lambda b: b.Samples.dense(None),
    "dense_complex": lambda b: dense(b, np.ones((4, 3), complex)),
    "dense_object": lambda b: dense(b, np.ones((4, 3), object)),
    "dense_float16": lambda b: dense(b, np.ones((4, 3), np.float16)),
    "dense_bool": lambda b: dense(b, np.ones((4, 3), bool)),
    "dense_big_endian": lambda b: dense(b, np.ones((4, 3), ">f8")),
    "dense_negative_strides": lambda b: dense(b, np.ones((4, 3))[::-1]),
    "dense_targets_list": lambda b: dense(b, Y=[[1.0]] * 4),
    "dense_targets_fortran": lambda b: dense(b, Y=np.asfortranarray(np.ones((4, 2)))),
    "dense_targets_3d": lambda b: dense(b, Y=np.ones((4, 1, 1))),
    "dense_targets_complex": lambda b: dense(b, Y=np.ones((4, 1), complex)),
    "dense_targets_big_endian": lambda b: dense(b, Y=np.ones((4, 1), ">f8")),
    "dense_weights_0d": lambda b: dense(b, sample_weight=np.array(1.0)),
    "dense_weights_int": lambda b: dense(b, sample_weight=np.ones(4, int)),
    "dense_weights_strided": lambda b: dense(b, sample_weight=np.ones(8)[::2]),
    "csr_negative_features": lambda b: csr(b, (), (), (0,), n_features=-3),
    "csr_features_none": lambda b: csr(b, n_features=None),
    "csr_data_2d": lambda b: csr(b, data=np.ones((2, 1))),
    "csr_data_complex": lambda b: csr(b, data=np.ones(2, complex)),
    "csr_indices_strided": lambda b: csr(b, indices=np.array([0, 9, 2, 9], np.intp)[::2]),
    "csr_indices_uint64": lambda b: csr(b, indices=np.array([0, 2], np.uint64)),
    "csr_indptr_2d": lambda b: csr(b, indptr=np.array([[0, 1, 2]], np.intp)),
    "csr_indptr_none": lambda b: csr(b, indptr=None),
    "csr_targets_rows": lambda b: csr(b, Y=np.ones((3, 1))),
    "csr_weights_rows": lambda b: csr(b, sample_weight=np.ones(1)),
    "forward_out_1d": lambda b: plan_of(b, [3, 2]).forward(np.zeros(8), dense(b),
                                                           np.empty(8)),
    "forward_out_read_only": lambda b: plan_of(b, [3, 2]).forward(
        np.zeros(8), dense(b), np.broadcast_to(np.empty(2), (4, 2))),
    "forward_params_none": lambda b: plan_of(b, [3, 2]).forward(None, dense(b),
                                                                np.empty((4, 2))),
    "forward_samples_of_other_build": lambda b: plan_of(b, [3, 2]).forward(
        np.zeros(8), dense(_other_build(b)), np.empty((4, 2))),
    "train_order_2d": lambda b: train_small(b, dense(b, Y=np.ones((4, 2))),
                                            order=np.zeros((4, 1), np.intp)),
    "train_learning_rate_string": lambda b: train_small(
        b, dense(b, Y=np.ones((4, 2))), step=sgd_step(b, learning_rate="fast")),
    "train_kind_float": lambda b: train_small(b, dense(b, Y=np.ones((4, 2))),
                                              step=sgd_step(b, kind=0.5)),
}
KERNEL_PARAMS = [case(name, id=f"kernels-{name}") for name in BAD_KERNEL_CALLS]


@pytest.mark.parametrize("name", KERNEL_PARAMS)
def test_bad_kernel_call(build, name):
    """A ValueError, TypeError or MemoryError, never a crash: the kernels
    check every shape, dtype, layout and size before they touch memory."""
    if name.endswith("_of_other_build") and len(kernels.available_builds()) < 2:
        pytest.skip("this machine runs one kernel build")
    expect_error(functools.partial(BAD_KERNEL_CALLS[name], build),
                 (ValueError, TypeError, MemoryError))


def _misaligned(values):
    """A copy of float64 values whose data starts one byte past an 8-byte
    boundary (numpy allows such arrays and calls them C-contiguous)."""
    a = np.frombuffer(bytearray(values.nbytes + 1), dtype=np.float64, count=values.size,
                      offset=1).reshape(values.shape)
    a[...] = values
    return a


def _aligned_equals_misaligned(b):
    """run_plan gives the same results on misaligned copies of the samples,
    per sample and in minibatches."""
    rng = np.random.default_rng(3)
    arrays = rng.uniform(-1, 1, (9, 5)), rng.uniform(-1, 1, (9, 2)), rng.uniform(0, 1, 9)
    results = [[run_plan(b, plan_of(b, [5, 7, 2]), b.Samples.dense(*copies), batch)
                for batch in (1, 4)]
               for copies in (arrays, [_misaligned(a) for a in arrays])]
    return all(np.array_equal(x, y) for x, y in zip(sum(results[0], []), sum(results[1], [])))


# name: call(build) -> a value; each must return it, without a crash
EDGE_KERNEL_CALLS = {
    "forward_no_samples": lambda b: plan_of(b, [3, 2]).forward(
        np.zeros(8), dense(b, np.empty((0, 3))), np.empty((0, 2))) is None,
    "forward_csr_no_rows": lambda b: plan_of(b, [3, 2]).forward(
        np.zeros(8), csr(b, (), (), (0,)), np.empty((0, 2))) is None,
    "forward_csr_empty_rows": lambda b: plan_of(b, [3, 2]).forward(
        np.zeros(8), csr(b, (), (), (0, 0, 0)), np.empty((2, 2))) is None,
    "train_no_samples": lambda b: train_small(
        b, dense(b, np.empty((0, 3)), np.empty((0, 2)))) == (0.0, 0, 0, False),
    "misaligned_arrays": _aligned_equals_misaligned,
}


@pytest.mark.parametrize("name", EDGE_KERNEL_CALLS)
def test_kernel_edge_cases_work(build, name):
    """Empty inputs and float64 arrays that are not 8-byte aligned (numpy
    allows them; the kernels read them through typed pointers) give the
    expected results."""
    assert expect_return(functools.partial(EDGE_KERNEL_CALLS[name], build)) == "True"


# ---------------------------------------------------------------------------
# 10. Thread counts (calls that start OpenMP threads run from a forkserver).
# ---------------------------------------------------------------------------

def fit_wide_network(n_jobs, batch_size):
    """Fit a network whose hidden layer (300 x 300 weights) is wide enough for
    threads, with n_jobs threads; return its finite predictions' sum."""
    rng = np.random.default_rng(1)
    Xw = rng.uniform(-1, 1, (40, 300))
    net = fastnet.Network(hidden_layer_sizes=(300,), max_iter=1, batch_size=batch_size,
                          n_jobs=n_jobs, random_state=0).fit(Xw, Xw[:, 0])
    return float(np.sum(finite_weights(net).predict(Xw)))


@pytest.mark.parametrize("batch_size", [1, 8], ids=["per_sample", "minibatch"])
@pytest.mark.parametrize("n_jobs", [
    case(10**6, id="threads-1e6"), case(2**31, id="threads-2p31"),
    case(2**63, id="threads-2p63")])
def test_huge_n_jobs(n_jobs, batch_size):
    """More threads than the machine has either train (on as many threads as
    OpenMP gives) or raise a ValueError naming n_jobs; never a crash."""
    ending = run_isolated(functools.partial(fit_wide_network, n_jobs, batch_size),
                          "forkserver")
    if ending.how != "returned":
        assert_raised(ending, ValueError, "n_jobs")
