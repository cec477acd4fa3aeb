"""Tests of the ``fastnet`` command, run as users run it: ``python -m fastnet ...``.

Every expectation is computed here independently: the same split and
estimator fitted in this process, scikit-learn's metrics on the loaded
model's predictions.
"""
import io
import os
import re
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import load_digits, load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import fastnet

# The subprocesses import the same fastnet as this process (the installed one,
# or the worktree's in-place build).
ENV = {**os.environ,
       "PYTHONPATH": os.pathsep.join(filter(None, [
           os.path.dirname(os.path.dirname(fastnet.__file__)),
           os.environ.get("PYTHONPATH")]))}
COMMANDS = ["train", "predict", "evaluate", "info", "digits"]


def run(*args, cwd):
    return subprocess.run([sys.executable, "-m", "fastnet", *map(str, args)], cwd=cwd,
                          env=ENV, capture_output=True, text=True, timeout=600)


def ok(*args, cwd):
    result = run(*args, cwd=cwd)
    assert result.returncode == 0, result.stderr
    return result.stdout


def row(stdout, name):
    """The value columns of the line starting with ``name`` in a report."""
    match = re.search(rf"^{re.escape(name)}\s+(.*)$", stdout, re.MULTILINE)
    assert match, f"no {name!r} line in:\n{stdout}"
    return match.group(1)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("cli")


def flowers(n=150, seed=0):
    """A CSV-like table: float features, string labels in a middle column."""
    X, y = load_iris(return_X_y=True)
    names = np.array(["setosa", "versicolor", "virginica"])
    return pd.DataFrame({"sepal_length": X[:, 0], "sepal_width": X[:, 1],
                         "species": names[y], "petal_length": X[:, 2],
                         "petal_width": X[:, 3]})


@pytest.fixture(scope="module")
def flower_model(workdir):
    """flowers.csv and the model `fastnet train` saved from it."""
    flowers().to_csv(workdir / "flowers.csv", index=False)
    stdout = ok("train", "flowers.csv", "--target", "species", "--hidden", "8",
                "--epochs", "40", "--validation-fraction", "0", "--test-size", "0.25",
                "--save", "flowers.fastnet", cwd=workdir)
    return workdir / "flowers.fastnet", stdout


# ------------------------------------------------------------- the command
def test_version(workdir):
    assert ok("--version", cwd=workdir).strip() == f"fastnet {fastnet.__version__}"


def test_help_lists_every_command(workdir):
    stdout = ok("--help", cwd=workdir)
    for command in COMMANDS + ["bench"]:
        assert re.search(rf"^  {command}\s", stdout, re.MULTILINE)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command, workdir):
    stdout = ok(command, "--help", cwd=workdir)
    assert stdout.startswith(f"Usage: fastnet {command} ")


def test_bench_passes_its_arguments_through(workdir):
    stdout = ok("bench", "--help", cwd=workdir)
    assert stdout.startswith("usage: fastnet bench")
    assert "--quick" in stdout


@pytest.mark.parametrize("args, named", [
    (["frobnicate"], "'frobnicate'"),
    (["train", "iris", "--frobnicate"], "'--frobnicate'"),
    (["predict", "--proba-bility", "m", "d"], "'--proba-bility'"),
])
def test_unknown_commands_and_options_name_themselves(args, named, workdir):
    result = run(*args, cwd=workdir)
    assert result.returncode == 2
    assert named in result.stderr


def test_digits_keeps_its_output(workdir):
    stdout = ok("digits", "--epochs", "2", "--n-jobs", "1", cwd=workdir)
    lines = stdout.splitlines()
    assert lines[0] == "digits 64-100-10, per-sample SGD (batch_size=1), 2 epochs on 1347 samples"
    assert re.fullmatch(r"training time: \d+\.\d{3} s \(\d+\.\d{2} ms per epoch, "
                        r"\d+\.\d{2} us per sample\)", lines[2])
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X / 16.0, y, test_size=450, stratify=y, random_state=0)
    net = fastnet.Network(hidden_layer_sizes=(100,), output_activation="softmax",
                          loss="cross_entropy", batch_size=1, learning_rate_init=0.01,
                          max_iter=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        net.fit(X_train, np.eye(10)[y_train])
    accuracy = np.mean(net.predict(X_test).argmax(axis=1) == y_test)
    assert lines[1] == f"test accuracy: {accuracy:.4f}"


# ------------------------------------------------------------------- train
def test_train_on_a_builtin_data_set_is_a_plain_fit(workdir):
    """`fastnet train iris` saves exactly the pipeline a plain fit gives with
    the documented defaults, reports its scores, and draws the plot."""
    stdout = ok("train", "iris", "--epochs", "60", "--save", "iris.fastnet",
                "--plot", "iris.png", cwd=workdir)
    assert "classify (inferred: 3 distinct integer values" in row(stdout, "task")
    frame = load_iris(as_frame=True).frame
    X, y = frame.drop(columns="target"), frame["target"].to_numpy()
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.2, random_state=0, stratify=y)
    plain = make_pipeline(StandardScaler(), fastnet.MLPClassifier(
        hidden_layer_sizes=(100,), activation="relu", solver="adam", batch_size=32,
        learning_rate_init=0.01, max_iter=60, early_stopping=True, validation_fraction=0.1,
        random_state=0, dtype="float64"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        plain.fit(X_train, y_train)
    saved = fastnet.load(workdir / "iris.fastnet")
    for a, b in zip(saved[-1].coefs_ + saved[-1].intercepts_,
                    plain[-1].coefs_ + plain[-1].intercepts_, strict=True):
        assert_array_equal(a, b, strict=True)
    assert saved[-1].loss_curve_ == plain[-1].loss_curve_

    assert row(stdout, "test").split()[:2] == ["30", f"{plain.score(X_test, y_test):.4f}"]
    assert row(stdout, "train").split()[:2] == ["120", f"{plain.score(X_train, y_train):.4f}"]
    assert row(stdout, "validation").split()[:2] == [
        "12", f"{plain[-1].best_validation_score_:.4f}"]
    assert row(stdout, "epochs").startswith(f"{plain[-1].n_iter_}, weights of epoch "
                                            f"{np.argmax(plain[-1].validation_scores_) + 1}")
    assert float(row(stdout, "time").split()[0]) > 0
    assert int(row(stdout, "samples/s").replace(",", "")) > 0
    png = (workdir / "iris.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000


def test_info_describes_the_model(workdir, flower_model):
    path, _ = flower_model
    stdout = ok("info", path.name, cwd=workdir)
    model = fastnet.load(path)
    n_params = sum(c.size for c in model[-1].coefs_ + model[-1].intercepts_)
    assert row(stdout, "model") == "Pipeline(StandardScaler, MLPClassifier)"
    assert row(stdout, "layers") == "4 -> 8 relu -> 3 softmax"
    assert row(stdout, "parameters") == f"{n_params:,} weights and biases, float64"
    assert row(stdout, "classes") == "setosa, versicolor, virginica"
    assert row(stdout, "target") == "'species' (classify)"
    assert row(stdout, "written by").startswith(f"fastnet {fastnet.__version__}, ")
    assert row(stdout, "training").startswith(f"{model[-1].n_iter_} epochs in ")


def test_train_reports_the_held_out_score(flower_model):
    path, stdout = flower_model
    frame = flowers()
    X, y = frame.drop(columns="species"), frame["species"].to_numpy()
    _, X_test, _, y_test = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
    model = fastnet.load(path)
    assert row(stdout, "task").startswith("classify (inferred: non-numeric labels")
    assert row(stdout, "test").split()[:2] == ["38", f"{model.score(X_test, y_test):.4f}"]
    assert "validation" not in stdout.split("rows")[1].split("epochs")[0]
    assert fastnet.persistence.read_manifest(path)["metadata"]["features"] == [
        "sepal_length", "sepal_width", "petal_length", "petal_width"]


def test_train_regression_on_a_parquet_file(workdir):
    frame = flowers().drop(columns="species")
    frame.to_parquet(workdir / "petals.parquet")
    stdout = ok("train", "petals.parquet", "--epochs", "20", "--save", "petals.fastnet",
                "--dtype", "float32", "--no-scale", "--solver", "sgd", "--batch-size", "1",
                "--lr", "0.001", cwd=workdir)
    assert row(stdout, "task") == "regress (inferred: numeric values; --task to override)"
    model = fastnet.load(workdir / "petals.fastnet")
    assert isinstance(model, fastnet.MLPRegressor) and model.coefs_[0].dtype == np.float32
    X, y = frame.iloc[:, :-1], frame["petal_width"]
    X_train, X_test, _, y_test = train_test_split(X, y, test_size=0.2, random_state=0)
    assert row(stdout, "test").split()[:2] == ["30", f"{model.score(X_test, y_test):.4f}"]
    assert re.match(r"\s+rows\s+R²", stdout.split("\n\n")[1])


# -------------------------------------------------------- predict, evaluate
def test_predict_to_stdout_ignores_the_target_column(workdir, flower_model):
    path, _ = flower_model
    table = pd.read_csv(io.StringIO(ok("predict", path.name, "flowers.csv", cwd=workdir)))
    frame = flowers()
    expected = fastnet.load(path).predict(frame.drop(columns="species"))
    assert list(table.columns) == ["prediction"]
    assert_array_equal(table["prediction"].to_numpy(), expected)


def test_predict_probabilities_to_a_file(workdir, flower_model):
    path, _ = flower_model
    frame = flowers().drop(columns="species")
    frame.to_parquet(workdir / "unlabelled.parquet")
    assert ok("predict", path.name, "unlabelled.parquet", "--proba", "--out", "out.csv",
              cwd=workdir) == ""
    table = pd.read_csv(workdir / "out.csv")
    assert list(table.columns) == ["prediction", "proba_setosa", "proba_versicolor",
                                   "proba_virginica"]
    model = fastnet.load(path)
    assert_allclose(table.iloc[:, 1:].to_numpy(), model.predict_proba(frame), rtol=1e-12)
    assert_array_equal(table["prediction"], model.predict(frame))


def test_predict_several_outputs(workdir):
    """A model saved from Python with two outputs and no metadata: columns
    prediction_0, prediction_1, features taken from DATA's columns."""
    X, y = load_iris(return_X_y=True)
    model = fastnet.MLPRegressor(hidden_layer_sizes=(5,), max_iter=5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, np.c_[y, y * 2.0])
    fastnet.save(model, workdir / "two.fastnet")
    pd.DataFrame(X, columns=list("abcd")).to_csv(workdir / "plain.csv", index=False)
    table = pd.read_csv(io.StringIO(ok("predict", "two.fastnet", "plain.csv", cwd=workdir)))
    assert list(table.columns) == ["prediction_0", "prediction_1"]
    assert_allclose(table.to_numpy(), model.predict(X), rtol=1e-12)


def test_evaluate(workdir, flower_model):
    path, _ = flower_model
    frame = flowers()
    model = fastnet.load(path)
    y_pred = model.predict(frame.drop(columns="species"))
    for args in ([], ["--target", "species"]):
        stdout = ok("evaluate", path.name, "flowers.csv", *args, cwd=workdir)
        assert row(stdout, "rows") == "150"
        assert row(stdout, "accuracy") == f"{accuracy_score(frame['species'], y_pred):.4f}"
        assert "log loss" in stdout


def test_evaluate_a_regressor(workdir):
    X, y = load_iris(return_X_y=True)
    frame = pd.DataFrame(X[:, :3], columns=["x0", "x1", "x2"]).assign(width=X[:, 3])
    frame.to_csv(workdir / "width.csv", index=False)
    ok("train", "width.csv", "--epochs", "10", "--save", "width.fastnet", cwd=workdir)
    stdout = ok("evaluate", "width.fastnet", "width.csv", cwd=workdir)
    model = fastnet.load(workdir / "width.fastnet")
    assert row(stdout, "R²") == f"{r2_score(frame['width'], model.predict(frame.iloc[:, :3])):.4f}"


# --------------------------------------------------------------- bad input
def bad_files(workdir):
    (workdir / "empty.csv").write_text("")
    (workdir / "header.csv").write_text("a,b,label\n")
    (workdir / "words.csv").write_text("a,b,label\n1,red,x\n2,blue,y\n3,red,x\n4,red,y\n")
    flowers().drop(columns="petal_width").to_csv(workdir / "short.csv", index=False)


@pytest.mark.parametrize("args, message", [
    (["train", "missing.csv"], "missing.csv: no such file"),
    (["train", "flowers.csv", "--target", "nope"], "flowers.csv: no column 'nope'"),
    (["train", "words.csv"], "words.csv: feature column 'b' is not numeric"),
    (["train", "empty.csv"], "empty.csv: the file is empty"),
    (["train", "header.csv"], "header.csv: the file has no rows"),
    (["train", "flowers.csv", "--save", "nowhere/m.fastnet"], "does not exist"),
    (["info", "flowers.csv"], "flowers.csv is not a fastnet model file"),
    (["info", "missing.fastnet"], "missing.fastnet: No such file or directory"),
    (["predict", "flowers.csv", "flowers.csv"], "flowers.csv is not a fastnet model file"),
    (["predict", "flowers.fastnet", "short.csv"], "short.csv: no column 'petal_width'"),
    (["predict", "flowers.fastnet", "missing.csv"], "missing.csv: no such file"),
    (["predict", "flowers.fastnet", "iris"], "iris: no column"),
    (["evaluate", "flowers.fastnet", "flowers.csv", "--target", "nope"], "no column 'nope'"),
    (["evaluate", "flowers.fastnet", "empty.csv"], "empty.csv: the file is empty"),
])
def test_bad_input_is_one_line_and_status_2(args, message, workdir, flower_model):
    bad_files(workdir)
    result = run(*args, cwd=workdir)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(f"fastnet {args[0]}: error: ")
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_proba_of_a_regressor_is_bad_input(workdir):
    X, y = load_iris(return_X_y=True)
    pd.DataFrame(X, columns=list("abcd")).to_csv(workdir / "plain.csv", index=False)
    model = fastnet.MLPRegressor(hidden_layer_sizes=(3,), max_iter=1, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fastnet.save(model.fit(X, y), workdir / "reg.fastnet")
    result = run("predict", "reg.fastnet", "plain.csv", "--proba", cwd=workdir)
    assert result.returncode == 2
    assert result.stderr == ("fastnet predict: error: --proba needs a classifier; "
                             "reg.fastnet holds a MLPRegressor\n")
