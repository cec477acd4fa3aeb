"""Tests of ``fastnet.save`` / ``fastnet.load`` (``fastnet/persistence.py``).

A loaded model must predict as the saved one and train on along exactly the
same trajectory (bit-identical weights); files that are not fastnet model
files, are corrupt, come from a newer format, carry a pickle or name any
type outside the trusted list are refused with ValueError, and nothing in
them runs.
"""
import io
import json
import pickle
import warnings
import zipfile

import joblib
import numpy as np
import pytest
import skops.io
from numpy.testing import assert_array_equal
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier as SkMLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MaxAbsScaler, MinMaxScaler, RobustScaler, StandardScaler

import fastnet
from fastnet import persistence

X_ALL, LABELS_ALL = load_digits(return_X_y=True)
X = X_ALL[:240] / 16.0
LABELS = LABELS_ALL[:240]
KINDS = ["Network", "MLPClassifier", "MLPRegressor"]


@pytest.fixture(autouse=True)
def _quiet_convergence():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


def make(kind, solver="adam", dtype="float64", random_state=0, **extra):
    """A small estimator of ``kind`` and its targets on the digits subset."""
    params = dict(hidden_layer_sizes=(16, 8), solver=solver, batch_size=16,
                  learning_rate_init=0.01, max_iter=3, random_state=random_state,
                  dtype=dtype, **extra)
    if solver == "sgd":
        params.update(momentum=0.9, nesterovs_momentum=True)
    if kind == "Network":
        est = fastnet.Network(output_activation="softmax", loss="cross_entropy", **params)
        return est, np.eye(10)[LABELS]
    if kind == "MLPClassifier":
        return fastnet.MLPClassifier(**params), LABELS
    # two outputs, so the regressor's multi-output path is kept too
    return fastnet.MLPRegressor(**params), np.c_[LABELS / 9.0, (LABELS % 2)]


def round_trip(model, tmp_path, **kwargs):
    path = tmp_path / "model.fastnet"
    fastnet.save(model, path, **kwargs)
    return fastnet.load(path)


def assert_same_state(a, b):
    """Bit-identical weights (and dtype) and the same training record."""
    for wa, wb in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_, strict=True):
        assert wa.dtype == wb.dtype
        assert_array_equal(wa, wb, strict=True)
    assert a.loss_curve_ == b.loss_curve_
    assert (a.n_iter_, a.t_) == (b.n_iter_, b.t_)


# ------------------------------------------------------------ round trips
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("solver", ["sgd", "adam"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_continuation_is_bit_identical(kind, solver, dtype, tmp_path):
    """partial_fit and warm-start fit after load follow the saved model's
    trajectory exactly: weights, optimizer state (momentum velocities, Adam
    moments and step) and the random stream of the shuffles all survive."""
    est, y = make(kind, solver, dtype, random_state=np.random.RandomState(7))
    est.fit(X, y)
    loaded = round_trip(est, tmp_path)
    assert_same_state(est, loaded)
    for model in (est, loaded):
        model.partial_fit(X, y)
        model.partial_fit(X[:100], y[:100])
        model.set_params(warm_start=True, max_iter=2).fit(X, y)
        model.partial_fit(X, y)
    assert_same_state(est, loaded)


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_continuation_needs_the_optimizer_state(solver):
    """The control of the test above: the same weights without the optimizer
    state (velocities, Adam's moments and step) train on differently."""
    est, y = make("MLPClassifier", solver)
    est.fit(X, y)
    weights_only = clone(est).set_params(max_iter=1).fit(X, y)
    weights_only.coefs_ = est.coefs_
    weights_only.intercepts_ = est.intercepts_
    est.partial_fit(X, y)
    weights_only.partial_fit(X, y)
    assert not np.array_equal(est.coefs_[0], weights_only.coefs_[0])


def test_warm_start_with_early_stopping_continues_exactly(tmp_path):
    est, y = make("MLPClassifier", early_stopping=True, validation_fraction=0.2)
    est.fit(X, y)
    loaded = round_trip(est, tmp_path)
    for model in (est, loaded):
        model.set_params(warm_start=True, max_iter=4).fit(X, y)
    assert_same_state(est, loaded)
    assert est.validation_scores_ == loaded.validation_scores_
    assert est.best_validation_score_ == loaded.best_validation_score_


@pytest.mark.parametrize("kind", KINDS)
def test_unfitted_round_trip(kind, tmp_path):
    est, _ = make(kind, activation=[fastnet.Logistic(k=2.0), fastnet.ELU(alpha=0.5)])
    loaded = round_trip(est, tmp_path)
    assert type(loaded) is type(est)
    assert loaded.get_params() == est.get_params()
    assert not hasattr(loaded, "coefs_")


def test_activation_objects_and_float32_type_parameter(tmp_path):
    est = fastnet.Network(hidden_layer_sizes=(12, 6),
                          activation=[fastnet.Logistic(L=2.0, k=0.5), fastnet.ELU(0.3)],
                          output_activation=fastnet.Logistic(), loss="binary_cross_entropy",
                          max_iter=2, random_state=0, dtype=np.float32)
    y = (LABELS[:, None] == np.arange(3)).astype(float)
    est.fit(X, y)
    loaded = round_trip(est, tmp_path)
    assert loaded.get_params() == est.get_params()
    assert loaded.dtype is np.float32
    assert_array_equal(loaded.predict(X), est.predict(X), strict=True)
    est.partial_fit(X, y)
    loaded.partial_fit(X, y)
    assert_same_state(est, loaded)


@pytest.mark.parametrize("labels", ["strings", "objects"])
def test_string_labels(labels, tmp_path):
    names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven",
                      "eight", "nine"])[LABELS]
    y = names if labels == "strings" else names.astype(object)
    est = fastnet.MLPClassifier(hidden_layer_sizes=(10,), max_iter=3, random_state=0).fit(X, y)
    loaded = round_trip(est, tmp_path)
    assert_array_equal(loaded.classes_, est.classes_)
    assert_array_equal(loaded.predict(X), est.predict(X))
    assert_array_equal(loaded.predict_proba(X), est.predict_proba(X), strict=True)


@pytest.mark.parametrize("scaler", [StandardScaler, MinMaxScaler, MaxAbsScaler, RobustScaler])
def test_pipeline_of_scalers(scaler, tmp_path):
    est, y = make("MLPClassifier")
    pipe = make_pipeline(scaler(), est)
    assert_pipeline_round_trips(pipe, y, tmp_path)


def test_pipeline_of_several_scalers_and_a_network(tmp_path):
    est, y = make("Network", solver="sgd")
    pipe = make_pipeline(MinMaxScaler(), StandardScaler(), est)
    assert_pipeline_round_trips(pipe, y, tmp_path)


def assert_pipeline_round_trips(pipe, y, tmp_path):
    unfitted = round_trip(pipe, tmp_path)
    assert [type(step) for _, step in unfitted.steps] == [type(s) for _, s in pipe.steps]
    pipe.fit(X * 3.0 + 1.0, y)
    loaded = round_trip(pipe, tmp_path)
    assert_array_equal(loaded.predict(X), pipe.predict(X), strict=True)
    Xt = pipe[:-1].transform(X)
    assert_array_equal(loaded[:-1].transform(X), Xt, strict=True)
    pipe[-1].partial_fit(Xt, y)
    loaded[-1].partial_fit(Xt, y)
    assert_same_state(pipe[-1], loaded[-1])


def test_lbfgs_model_round_trip(tmp_path):
    est, y = make("MLPRegressor", solver="lbfgs", max_fun=50)
    est.fit(X, y)
    loaded = round_trip(est, tmp_path)
    assert_array_equal(loaded.predict(X), est.predict(X), strict=True)


@pytest.mark.parametrize("dump", ["pickle", "joblib"])
@pytest.mark.parametrize("kind", KINDS)
def test_pickle_and_joblib_keep_working(dump, kind, tmp_path):
    est, y = make(kind, solver="sgd")
    est.fit(X, y)
    if dump == "pickle":
        restored = pickle.loads(pickle.dumps(est))
    else:
        joblib.dump(est, tmp_path / "model.joblib")
        restored = joblib.load(tmp_path / "model.joblib")
    est.partial_fit(X, y)
    restored.partial_fit(X, y)
    assert_same_state(est, restored)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_parameters_start_on_a_cache_line(dtype, tmp_path):
    """The flat parameter buffer starts on a 64-byte boundary when a fit
    makes it and when pickle, joblib or fastnet.load bring it back (numpy
    would put it anywhere on 16 bytes; the kernels' loads then straddle
    cache lines, fastnet/layout.py)."""
    from fastnet.layout import BUFFER_ALIGNMENT
    est, y = make("MLPClassifier", solver="sgd", dtype=dtype)
    est.fit(X, y)
    joblib.dump(est, tmp_path / "model.joblib")
    copies = [est, pickle.loads(pickle.dumps(est)), joblib.load(tmp_path / "model.joblib"),
              round_trip(est, tmp_path)]
    for model in copies:
        assert model._params.ctypes.data % BUFFER_ALIGNMENT == 0
        assert model._params.dtype == dtype
        assert_array_equal(model._params, est._params, strict=True)
    assert BUFFER_ALIGNMENT == 64


def test_manifest_and_metadata(tmp_path):
    est, y = make("MLPClassifier")
    pipe = make_pipeline(StandardScaler(), est).fit(X, y)
    path = tmp_path / "model.fastnet"
    fastnet.save(pipe, path, metadata={"target": "digit", "features": ["a", "b"]})
    manifest = persistence.read_manifest(path)
    assert manifest["format"] == "fastnet-model"
    assert manifest["version"] == persistence.FORMAT_VERSION == 1
    assert manifest["fastnet"] == fastnet.__version__
    assert manifest["model"] == "Pipeline(StandardScaler, MLPClassifier)"
    assert manifest["metadata"] == {"target": "digit", "features": ["a", "b"]}
    with zipfile.ZipFile(path) as archive:
        assert archive.namelist()[0] == "fastnet.json"
        assert json.loads(archive.read("fastnet.json")) == manifest
    # a file object works as well as a path
    buffer = io.BytesIO()
    fastnet.save(pipe, buffer)
    buffer.seek(0)
    assert_array_equal(fastnet.load(buffer).predict(X), pipe.predict(X))


def test_bad_metadata_leaves_an_existing_file_alone(tmp_path):
    path = tmp_path / "model.fastnet"
    est, y = make("MLPClassifier")
    fastnet.save(est.fit(X, y), path)
    with pytest.raises(ValueError):
        fastnet.save(est, path, metadata={"bad": float("nan")})
    assert_array_equal(fastnet.load(path).predict(X), est.predict(X))
    assert [p.name for p in tmp_path.iterdir()] == ["model.fastnet"]


def test_saved_file_has_the_mode_of_any_new_file(tmp_path):
    (tmp_path / "plain").write_text("")
    fastnet.save(fastnet.MLPClassifier(), tmp_path / "model.fastnet")
    assert (tmp_path / "model.fastnet").stat().st_mode == (tmp_path / "plain").stat().st_mode


@pytest.mark.parametrize("model", [
    SkMLPClassifier(),
    make_pipeline(PCA(), fastnet.MLPClassifier()),
    make_pipeline(StandardScaler(), SkMLPClassifier()),
    make_pipeline(StandardScaler()),
    type("MyMLP", (fastnet.MLPClassifier,), {})(),
], ids=["sklearn-mlp", "pca", "sklearn-final", "no-estimator", "subclass"])
def test_save_refuses_other_models(model, tmp_path):
    with pytest.raises(TypeError, match="fastnet model files hold"):
        fastnet.save(model, tmp_path / "model.fastnet")


# ----------------------------------------------------------------- refusals
class _Marker:
    """A pickle payload that creates a file when unpickled."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.fixture
def saved(tmp_path):
    """(path, estimator) of a fitted MLPClassifier saved with fastnet.save."""
    est, y = make("MLPClassifier")
    est.fit(X, y)
    path = tmp_path / "model.fastnet"
    fastnet.save(est, path)
    return path, est


def rewrite(path, schema=None, manifest=None, members=None):
    """Rewrite a model file: ``schema`` / ``manifest`` change the parsed JSON in
    place, ``members`` maps member names to new bytes."""
    with zipfile.ZipFile(path) as archive:
        contents = {name: archive.read(name) for name in archive.namelist()}
    for name, change in (("schema.json", schema), ("fastnet.json", manifest)):
        if change is not None:
            tree = json.loads(contents[name])
            change(tree)
            contents[name] = json.dumps(tree).encode()
    contents.update(members or {})
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in contents.items():
            archive.writestr(name, content)


def attribute_node(schema, name):
    """The schema node of the saved estimator's attribute ``name``."""
    return schema["content"]["content"][name]


def refused(path, match):
    with pytest.raises(ValueError, match=match):
        fastnet.load(path)


def test_refuses_a_file_that_is_no_zip(tmp_path):
    path = tmp_path / "model.fastnet"
    path.write_text("a,b\n1,2\n")
    refused(path, "is not a fastnet model file")
    with pytest.raises(ValueError, match="is not a fastnet model file"):
        persistence.read_manifest(path)


def test_refuses_a_pickle_and_runs_nothing(saved, tmp_path):
    path, est = saved
    marker = tmp_path / "pwned"
    path.write_bytes(pickle.dumps([est, _Marker(marker)]))
    refused(path, "looks like a pickle")
    assert not marker.exists()


def test_refuses_a_pickle_inside_an_array_and_runs_nothing(saved, tmp_path):
    path, _ = saved
    marker = tmp_path / "pwned"
    buffer = io.BytesIO()
    np.save(buffer, np.array([_Marker(marker)], dtype=object), allow_pickle=True)

    def point_params_at_pickle(schema):
        attribute_node(schema, "_params")["file"] = "evil.npy"

    rewrite(path, schema=point_params_at_pickle, members={"evil.npy": buffer.getvalue()})
    refused(path, "corrupt fastnet model file")
    assert not marker.exists()


def test_refuses_truncated_and_corrupt_files(saved):
    path, _ = saved
    data = path.read_bytes()
    for cut in (len(data) // 2, len(data) - 30, 10):
        path.write_bytes(data[:cut])
        refused(path, "not a fastnet model file|corrupt")
    # flip bytes inside an array member: its CRC no longer matches
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        info = next(i for i in archive.infolist() if i.filename.endswith(".npy"))
    start = info.header_offset + 30 + len(info.filename) + 100
    corrupt = bytearray(data)
    corrupt[start:start + 8] = bytes(8)
    path.write_bytes(bytes(corrupt))
    refused(path, "corrupt fastnet model file")


def test_refuses_a_skops_file_without_manifest(saved):
    path, est = saved
    skops.io.dump(est, path)
    refused(path, r"not a fastnet model file \(no fastnet.json\)")


def test_refuses_another_format_and_a_newer_version(saved):
    path, _ = saved
    rewrite(path, manifest=lambda m: m.update(format="something-else"))
    refused(path, "not a fastnet model file")
    rewrite(path, manifest=lambda m: m.update(format="fastnet-model", version=2))
    refused(path, "format version 2.*newer.*reads \\(up to 1\\); upgrade fastnet")
    with pytest.raises(ValueError, match="newer"):
        persistence.read_manifest(path)
    rewrite(path, manifest=lambda m: m.update(version="1"))
    refused(path, "corrupt")


@pytest.mark.parametrize("module, name", [
    ("sklearn.ensemble._forest", "RandomForestClassifier"),  # trusted by skops' defaults
    ("sklearn.neural_network._multilayer_perceptron", "MLPClassifier"),
    ("subprocess", "Popen"),
])
def test_refuses_a_type_outside_the_trusted_list(saved, module, name):
    path, _ = saved

    def retype(schema):
        schema["__module__"], schema["__class__"] = module, name

    rewrite(path, schema=retype)
    refused(path, f"type {module}.{name}, which is not among the types")


def test_refuses_functions_and_other_node_kinds(saved):
    path, _ = saved

    def add_function(schema):
        attribute_node(schema, "activation").update(
            {"__loader__": "FunctionNode", "__module__": "os", "__class__": "system"})

    rewrite(path, schema=add_function)
    refused(path, "FunctionNode \\(os.system\\), which fastnet model files never contain")


def test_refuses_a_network_whose_layout_disagrees_with_its_buffers(saved, tmp_path):
    """A file stores each network's units per layer, from which the offsets
    into the weight buffer are derived again; units that disagree with the
    buffers (or are not units at all) are refused."""
    path, est = saved
    data = path.read_bytes()
    units = est._layout.units
    disagree, corrupt = "layout and weight buffers disagree", "corrupt fastnet model file"
    for attribute, values, message in [
            ("_layer_units", units * 2, disagree), ("_layer_units", units - units, disagree),
            ("_params", est._params[:-1], disagree), ("_layer_units", units[:1], corrupt),
            ("_layer_units", np.array(["a", "b"]), corrupt)]:
        path.write_bytes(data)
        buffer = io.BytesIO()
        np.save(buffer, values, allow_pickle=False)

        def point_at_new_array(schema):
            node = attribute_node(schema, attribute)
            node["file"] = "changed.npy"
            del node["__id__"]

        rewrite(path, schema=point_at_new_array, members={"changed.npy": buffer.getvalue()})
        refused(path, message)


def test_skops_reads_fastnet_files_with_the_trusted_types(saved):
    """A fastnet model file is a skops file with one more member."""
    path, est = saved
    loaded = skops.io.load(path, trusted=[f"{c.__module__}.{c.__name__}"
                                          for c in persistence.TRUSTED_CLASSES])
    assert_array_equal(loaded.predict(X), est.predict(X))
