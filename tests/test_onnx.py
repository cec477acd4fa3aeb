"""Tests of ``fastnet.to_onnx``: the exported graph, run by onnxruntime, must
give what the fitted model's ``predict`` / ``predict_proba`` give.

The models here are fitted and predict in float64 (the default; one is
float32); onnxruntime runs the same float32 inputs through the weights rounded
to float32.  See ``assert_float32`` for the tolerance.
"""
import sys

import numpy as np
import onnx
import onnxruntime
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.decomposition import PCA
from sklearn.exceptions import NotFittedError
from sklearn.neural_network import MLPClassifier as SklearnMLPClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import MaxAbsScaler, MinMaxScaler, RobustScaler, StandardScaler

import fastnet
from fastnet import ELU, Logistic, MLPClassifier, MLPRegressor, Network, to_onnx

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

RTOL = 1e-5

_rng = np.random.RandomState(0)
# float32 values, so that onnxruntime and predict see the very same inputs
X = _rng.standard_normal((150, 6)).astype(np.float32)
_w = _rng.uniform(-1, 1, (6, 3))
Y_REAL = np.tanh(X @ _w) + 0.1 * _rng.standard_normal((150, 3))
LABELS = (X @ _w[:, 0] > 0).astype(int) + (X @ _w[:, 1] > 0.5).astype(int) * 2  # 4 classes


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

def run(model, X=X):
    """The outputs of ``to_onnx(model)`` on X, by name, from onnxruntime."""
    proto = to_onnx(model)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    session = onnxruntime.InferenceSession(
        proto.SerializeToString(), options, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(None, {"X": X}), strict=True))


def assert_float32(got, want):
    """onnxruntime's float32 output matches ``want`` (from predict or
    predict_proba, float64 unless the model is float32) to RTOL.

    The exporter rounds weights and every intermediate to float32, so each
    sum of a layer carries an error of about 1e-7 times the sum of the
    magnitudes of its terms, not of its result: an output that cancels to
    near zero has a small absolute error but a large relative one.  The
    absolute tolerance is therefore RTOL times the largest output of the same
    array, so any value of the size of the outputs is held to RTOL.  Measured
    over every case here: at most 3.6e-7 times that largest output, and at
    most 5.4e-7 relative for every probability; 20 of 15,600 regression
    outputs, all cancelling sums, differ by more than 1e-5 relative.
    """
    assert got.dtype == np.float32
    assert got.shape == want.shape
    assert_allclose(got, want.astype(np.float64), rtol=RTOL, atol=RTOL * np.abs(want).max())


def assert_labels(got, want, margin):
    """Labels equal, except where float32 rounding may decide otherwise:
    ``margin`` is False for samples within 1e-5 of a decision boundary."""
    assert got.shape == want.shape
    assert margin.mean() > 0.95  # the exclusion leaves a real test
    assert_array_equal(got[margin], want[margin])


def check_classifier(model, X=X):
    """Compares a classifier (or a Pipeline ending in one) with onnxruntime."""
    out = run(model, X)
    clf = model[-1] if isinstance(model, Pipeline) else model
    assert list(out) == ["label", "probabilities"]
    proba = model.predict_proba(X)
    assert_float32(out["probabilities"], proba)
    if proba.shape[1] == 2 and clf.n_outputs_ == 1:
        margin = np.abs(proba[:, 1] - 0.5) > 1e-5
    elif clf.out_activation_ == "softmax":
        top2 = np.sort(proba, axis=1)[:, -2:]
        margin = top2[:, 1] - top2[:, 0] > 1e-5
    else:  # multilabel: every output away from 0.5
        margin = (np.abs(proba - 0.5) > 1e-5).all(axis=1)
    assert_labels(out["label"], model.predict(X), margin)
    return out


def check_regressor(est, X=X):
    out = run(est, X)
    assert list(out) == ["variable"]
    assert_float32(out["variable"], est.predict(X))
    return out


def network(hidden=(8,), activation="tanh", output="identity", y=Y_REAL[:, :2], **kwargs):
    params = dict(hidden_layer_sizes=hidden, activation=activation, output_activation=output,
                  learning_rate_init=0.01, max_iter=5, random_state=0, **kwargs)
    return Network(**params).fit(X, y)


# ---------------------------------------------------------------------------
# 1. Network: every activation, hidden and output
# ---------------------------------------------------------------------------

ALL_HIDDEN = ["identity", "logistic", Logistic(L=2.0, k=0.5, x0=0.3), "tanh", "relu",
              "elu", ELU(0.5), "softmax"]


@pytest.mark.parametrize("activation", ALL_HIDDEN, ids=str)
def test_network_hidden_activation(activation):
    check_regressor(network(hidden=(9, 7), activation=activation))


@pytest.mark.parametrize("output", ["identity", "logistic", Logistic(L=2.0, k=0.5, x0=0.3),
                                    "tanh", "relu", "elu", ELU(0.5), "softmax"], ids=str)
def test_network_output_activation(output):
    check_regressor(network(output=output, y=np.abs(Y_REAL[:, :3]) / 2))


def test_network_exp_output_poisson():
    counts = _rng.poisson(np.exp(0.5 * X @ _w[:, 0])).astype(float)
    check_regressor(network(output="exp", loss="poisson", y=counts))


def test_network_step_output():
    """The perceptron: 0/1 outputs, equal except where z is within float32
    rounding of the threshold (z from an independent float64 forward pass)."""
    net = network(output="step", y=(Y_REAL[:, :2] > 0).astype(float))
    got = run(net)["variable"]
    hidden = np.tanh(X.astype(float) @ net.coefs_[0] + net.intercepts_[0])
    z = hidden @ net.coefs_[1] + net.intercepts_[1]
    margin = (np.abs(z) > 1e-5).all(axis=1)
    assert set(np.unique(got)) == {0.0, 1.0}
    assert_labels(got, net.predict(X), margin)


def test_network_per_layer_activations():
    acts = ["tanh", ELU(0.5), "softmax", Logistic(L=2.0, k=0.5, x0=0.3), "relu"]
    net = network(hidden=(9, 8, 7, 6, 5), activation=acts, output=Logistic(k=2.0))
    check_regressor(net)
    assert "tanh, elu, softmax, logistic, relu, logistic" in to_onnx(net).doc_string


@pytest.mark.parametrize("output", ["identity", "logistic", "softmax"])
def test_network_without_hidden_layers(output):
    check_regressor(network(hidden=(), output=output, y=np.abs(Y_REAL) / 2))


@pytest.mark.parametrize("y, shape", [(Y_REAL[:, 0], (len(X),)),
                                      (Y_REAL[:, :1], (len(X), 1)),
                                      (Y_REAL, (len(X), 3))])
def test_network_output_shape_follows_predict(y, shape):
    """1-D y gives a 1-D ``variable``, as predict does; 2-D y keeps 2-D."""
    net = network(y=y)
    assert check_regressor(net)["variable"].shape == shape == net.predict(X).shape


# ---------------------------------------------------------------------------
# 2. MLPClassifier and MLPRegressor
# ---------------------------------------------------------------------------

def classifier(y, **kwargs):
    params = dict(hidden_layer_sizes=(10,), max_iter=20, random_state=0, **kwargs)
    return MLPClassifier(**params).fit(X, y)


def test_classifier_multiclass():
    out = check_classifier(classifier(LABELS))
    assert out["label"].dtype == np.int64 and out["probabilities"].shape == (len(X), 4)


def test_classifier_binary_two_probability_columns():
    clf = classifier(np.where(LABELS % 2, 7, 3))  # classes 3 and 7
    out = check_classifier(clf)
    assert out["probabilities"].shape == (len(X), 2) and set(out["label"]) == {3, 7}
    assert_allclose(out["probabilities"].sum(axis=1), 1.0, rtol=1e-6)


def test_classifier_multilabel():
    Y = np.c_[LABELS % 2, LABELS < 2, LABELS == 3].astype(int)
    out = check_classifier(classifier(Y, activation="tanh"))
    assert out["label"].dtype == np.int64 and out["label"].shape == Y.shape


@pytest.mark.parametrize("names", [["cat", "dog", "emu", "yak"], ["no", "yes"]])
def test_classifier_string_labels(names):
    y = np.array(names)[LABELS % len(names)]
    out = check_classifier(classifier(y, activation=ELU(0.5)))
    assert out["label"].dtype == object and set(out["label"]) <= set(names)


@pytest.mark.parametrize("y", [LABELS % 2 == 1, LABELS.astype(float)], ids=["bool", "float"])
def test_classifier_numeric_labels_export_as_int64(y):
    """scikit-learn takes only whole-numbered float labels; like skl2onnx,
    numeric labels are exported as int64."""
    out = check_classifier(classifier(y))
    assert out["label"].dtype == np.int64


def test_classifier_object_string_labels():
    y = np.array(["low", "high"], dtype=object)[LABELS % 2]
    out = check_classifier(classifier(y))
    assert_array_equal(out["label"][:5], classifier(y).predict(X[:5]))


def test_classifier_single_class():
    """One class seen in training: predict gives it for every sample."""
    out = check_classifier(classifier(np.full(len(X), 4)))
    assert_array_equal(out["label"], 4)


def test_float32_model():
    """A model trained in float32 exports the same weights, and predicts
    in float32 too."""
    clf = classifier(LABELS, dtype="float32")
    assert clf.predict_proba(X).dtype == np.float32
    check_classifier(clf)


def regressor(y, **kwargs):
    params = dict(hidden_layer_sizes=(10, 6), max_iter=20, random_state=0, **kwargs)
    return MLPRegressor(**params).fit(X, y)


def test_regressor_single_output_is_1d():
    assert check_regressor(regressor(Y_REAL[:, 0]))["variable"].shape == (len(X),)


def test_regressor_multi_output():
    out = check_regressor(regressor(Y_REAL, activation="logistic"))
    assert out["variable"].shape == Y_REAL.shape


def test_regressor_poisson_exp_output():
    counts = _rng.poisson(np.exp(0.5 * X @ _w[:, 0])).astype(float)
    reg = regressor(counts, loss="poisson")
    assert reg.out_activation_ == "exp"
    check_regressor(reg)


# ---------------------------------------------------------------------------
# 3. Pipelines of scalers
# ---------------------------------------------------------------------------

def test_pipeline_standard_scaler_classifier():
    """What the CLI saves: make_pipeline(StandardScaler(), estimator)."""
    pipe = make_pipeline(StandardScaler(), MLPClassifier((10,), max_iter=20, random_state=0))
    X_scaled = 3 * X + 5
    check_classifier(pipe.fit(X_scaled, LABELS), X_scaled)


@pytest.mark.parametrize("scalers", [
    [StandardScaler(with_mean=False)],
    [StandardScaler(with_std=False), "passthrough"],
    [MinMaxScaler(feature_range=(-1, 2))],
    [MinMaxScaler(clip=True)],
    [MaxAbsScaler()],
    [RobustScaler(quantile_range=(10, 90))],
    [RobustScaler(with_centering=False), StandardScaler()],
], ids=str)
def test_pipeline_scalers_regressor(scalers):
    reg = MLPRegressor(hidden_layer_sizes=(8,), max_iter=20, random_state=0)
    pipe = make_pipeline(*scalers, reg)
    scales = np.arange(1, 7, dtype=np.float32)  # features of different scales
    pipe.fit(X[:100] * scales - 2, Y_REAL[:100])
    # the remaining rows are new data, and wider, so that MinMaxScaler(clip=True) clips
    check_regressor(pipe, X[100:] * scales * 1.5 - 2)


def test_pipeline_of_network_only():
    check_regressor(Pipeline([("net", network())]))


# ---------------------------------------------------------------------------
# 4. The ONNX model itself, and what cannot be exported
# ---------------------------------------------------------------------------

def test_model_metadata_and_signature():
    proto = to_onnx(classifier(LABELS))
    onnx.checker.check_model(proto, full_check=True)
    assert proto.producer_name == "fastnet"
    assert proto.producer_version == fastnet.__version__
    assert "MLPClassifier 6-10-4 (relu, softmax)" in proto.doc_string
    assert [(o.domain, o.version) for o in proto.opset_import] == [("", 13)]
    assert proto.ir_version == 7
    (x,) = proto.graph.input
    assert x.name == "X" and x.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    dims = x.type.tensor_type.shape.dim
    assert not dims[0].HasField("dim_value") and dims[1].dim_value == 6
    assert [o.name for o in proto.graph.output] == ["label", "probabilities"]


@pytest.mark.parametrize("model, error, match", [
    (Network(), NotFittedError, None),
    (make_pipeline(StandardScaler(), Network()), NotFittedError, None),
    (SklearnMLPClassifier(), TypeError, "fastnet Network, MLPClassifier or MLPRegressor"),
    (StandardScaler(), TypeError, "got StandardScaler"),
    (Pipeline([("pca", PCA(2)), ("net", Network())]), TypeError, "got PCA"),
    (make_pipeline(Network(), StandardScaler()), TypeError, "ending in one"),
], ids=["unfitted", "unfitted-pipeline", "sklearn-mlp", "scaler", "pca", "net-first"])
def test_rejects(model, error, match):
    if isinstance(model, Pipeline) and model.steps[0][0] == "pca":
        model.fit(X, Y_REAL[:, 0])
    with pytest.raises(error, match=match):
        to_onnx(model)


def test_missing_onnx_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)  # makes `import onnx` fail
    with pytest.raises(ImportError, match=r"fastnet\[onnx\]"):
        to_onnx(network())
