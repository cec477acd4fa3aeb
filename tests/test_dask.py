"""fastnet.dask: streaming and distributed training on a local dask cluster.

One LocalCluster of two single-threaded worker processes serves the module;
the data sets are written to Parquet and Zarr in a temporary directory and
read back lazily, as a user's would be.
"""
import doctest
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_digits, make_regression
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import fastnet
import fastnet.dask
from fastnet import MLPClassifier, MLPRegressor, Network

da = pytest.importorskip("dask.array")
dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")
joblib = pytest.importorskip("joblib")
pytest.importorskip("zarr")

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _cluster(**kwargs):
    # the workers import the fastnet under test (installed, or built in place)
    root = str(Path(fastnet.__file__).resolve().parent.parent)
    return distributed.LocalCluster(processes=True, host="127.0.0.1", dashboard_address=None,
                                    env={"PYTHONPATH": root}, **kwargs)


@pytest.fixture(scope="module", autouse=True)
def environment_kept():
    """dask's nanny sets OMP_NUM_THREADS=1 and the like in this process's
    environment for the workers it spawns and leaves them there: the
    subprocesses of later tests would inherit them."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture(scope="module")
def client():
    with _cluster(n_workers=2, threads_per_worker=1) as cluster, \
            distributed.Client(cluster, timeout="60s") as client:
        client.wait_for_workers(2, timeout=60)
        yield client


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    """Scaled digits split into train and test; the training part on disk
    as Zarr (blocks of 200 rows) and as Parquet (the same blocks)."""
    X, y = load_digits(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y,
                                                        random_state=0)
    root = tmp_path_factory.mktemp("digits")
    da.from_array(X_train, chunks=(200, 64)).to_zarr(str(root / "X.zarr"))
    da.from_array(y_train, chunks=200).to_zarr(str(root / "y.zarr"))
    import pandas as pd
    frame = pd.DataFrame(X_train, columns=[f"pixel{i}" for i in range(64)])
    frame["label"] = y_train
    dd.from_pandas(frame, chunksize=200, sort=False).to_parquet(str(root / "digits.parquet"))
    return dict(X=X_train, y=y_train, X_test=X_test, y_test=y_test, root=root)


def zarr_digits(digits):
    return (da.from_zarr(str(digits["root"] / "X.zarr")),
            da.from_zarr(str(digits["root"] / "y.zarr")))


def parquet_digits(digits):
    frame = dd.read_parquet(str(digits["root"] / "digits.parquet"))
    return frame[[f"pixel{i}" for i in range(64)]], frame["label"]


@pytest.fixture(scope="module")
def regression(tmp_path_factory):
    X, y = make_regression(n_samples=1500, n_features=10, noise=5.0, random_state=0)
    X, y = StandardScaler().fit_transform(X), y / y.std()
    root = tmp_path_factory.mktemp("regression")
    import pandas as pd
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(10)])
    frame["target"] = y
    dd.from_pandas(frame, chunksize=250, sort=False).to_parquet(str(root / "data.parquet"))
    frame = dd.read_parquet(str(root / "data.parquet"))
    return dict(X=X, y=y, dX=frame[[f"x{i}" for i in range(10)]], dy=frame["target"])


# ------------------------------------------------------------- streaming
@pytest.mark.parametrize("solver, rate", [("adam", 0.01), ("sgd", 0.1)])
def test_streamed_classifier_is_as_accurate_as_in_memory(client, digits, solver, rate):
    params = dict(hidden_layer_sizes=(64,), solver=solver, learning_rate_init=rate,
                  max_iter=40, random_state=0)
    streamed = fastnet.dask.fit(MLPClassifier(**params), *zarr_digits(digits))
    in_memory = MLPClassifier(**params).fit(digits["X"], digits["y"])
    accuracy = streamed.score(digits["X_test"], digits["y_test"])
    reference = in_memory.score(digits["X_test"], digits["y_test"])
    print(f"{solver}: streamed accuracy {accuracy:.4f}, in memory {reference:.4f}")
    assert reference > 0.95
    assert abs(accuracy - reference) <= 0.01
    assert streamed.n_iter_ == len(streamed.loss_curve_) == 40
    assert streamed.t_ == 40 * len(digits["y"])
    # the loss curve is the epoch's loss sum over its samples, falling like the in-memory one
    assert streamed.loss_curve_[-1] < streamed.loss_curve_[0] / 5
    assert streamed.loss_curve_[-1] == pytest.approx(in_memory.loss_curve_[-1], rel=0.5)


def test_streamed_regressor_from_parquet_is_as_good_as_in_memory(client, regression):
    params = dict(hidden_layer_sizes=(32,), learning_rate_init=0.01, max_iter=30,
                  random_state=0)
    streamed = fastnet.dask.fit(MLPRegressor(**params), regression["dX"], regression["dy"])
    in_memory = MLPRegressor(**params).fit(regression["X"], regression["y"])
    r2 = streamed.score(regression["X"], regression["y"])
    reference = in_memory.score(regression["X"], regression["y"])
    print(f"regressor: streamed R^2 {r2:.4f}, in memory {reference:.4f}")
    assert reference > 0.95 and abs(r2 - reference) <= 0.01
    assert list(streamed.feature_names_in_) == [f"x{i}" for i in range(10)]


def test_dataframe_and_array_inputs_train_the_same_model(client, digits):
    """A DataFrame's partitions (as dask reads them: it may fuse small ones)
    are the blocks: an array cut into the same blocks trains the very same
    model, and the DataFrame's column names become feature_names_in_."""
    X_frame, y_series = parquet_digits(digits)
    blocks = X_frame.to_dask_array().compute_chunk_sizes().chunks[0]
    X, y = zarr_digits(digits)
    X, y = X.rechunk((blocks, 64)), y.rechunk((blocks,))
    params = dict(hidden_layer_sizes=(16,), max_iter=3, random_state=0)
    from_zarr = fastnet.dask.fit(MLPClassifier(**params), X, y)
    from_parquet = fastnet.dask.fit(MLPClassifier(**params), X_frame, y_series)
    assert from_parquet.feature_names_in_[0] == "pixel0"
    assert not hasattr(from_zarr, "feature_names_in_")
    for a, b in zip(from_zarr.coefs_, from_parquet.coefs_):
        np.testing.assert_array_equal(a, b)
    assert from_zarr.loss_curve_ == from_parquet.loss_curve_


@pytest.fixture
def block_orders(monkeypatch):
    """The block indices each streamed pass visits, in order."""
    seen = []
    load = fastnet.dask._Loader.load

    def recording(self, blocks, train=True):
        blocks = list(blocks)
        seen.append((train, blocks))
        return load(self, blocks, train)

    monkeypatch.setattr(fastnet.dask._Loader, "load", recording)
    return seen


def test_block_order_is_shuffled_and_reproducible(client, digits, block_orders):
    X, y = zarr_digits(digits)
    params = dict(hidden_layer_sizes=(16,), max_iter=4, random_state=3)
    first = fastnet.dask.fit(MLPClassifier(**params), X, y)
    orders = [blocks for _, blocks in block_orders]
    block_orders.clear()
    again = fastnet.dask.fit(MLPClassifier(**params), X, y)
    assert [blocks for _, blocks in block_orders] == orders
    np.testing.assert_array_equal(first.coefs_[0], again.coefs_[0])
    n_blocks = X.numblocks[0]
    assert len(orders) == 4 and all(sorted(o) == list(range(n_blocks)) for o in orders)
    assert len({tuple(o) for o in orders}) > 1   # a new order each epoch
    block_orders.clear()
    other = fastnet.dask.fit(MLPClassifier(**{**params, "random_state": 4}), X, y)
    assert [blocks for _, blocks in block_orders] != orders
    assert not np.array_equal(first.coefs_[0], other.coefs_[0])
    block_orders.clear()
    fastnet.dask.fit(MLPClassifier(**{**params, "shuffle": False}), X, y)
    assert all(blocks == list(range(n_blocks)) for _, blocks in block_orders)


def test_epochs_overrides_max_iter(client, regression):
    reg = fastnet.dask.fit(MLPRegressor(hidden_layer_sizes=(8,), max_iter=50, random_state=0),
                           regression["dX"], regression["dy"], epochs=2)
    assert reg.n_iter_ == 2 and len(reg.loss_curve_) == 2 and reg.max_iter == 50


def test_early_stopping_on_held_out_blocks(client, digits, block_orders, capsys):
    X, y = zarr_digits(digits)
    clf = fastnet.dask.fit(
        MLPClassifier(hidden_layer_sizes=(32,), early_stopping=True, validation_fraction=0.2,
                      n_iter_no_change=2, tol=0.05, max_iter=100, learning_rate_init=0.01,
                      random_state=0, verbose=2), X, y)
    assert 3 <= clf.n_iter_ < 100
    assert len(clf.validation_scores_) == len(clf.loss_curve_) == clf.n_iter_
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    printed = capsys.readouterr().out
    assert printed.count("Validation score:") == clf.n_iter_
    assert "Validation score did not improve more than tol=0.050000" in printed
    # two of the seven blocks are held out, the same ones every epoch, never trained on
    held_out = {tuple(blocks) for train, blocks in block_orders if not train}
    trained = {b for train, blocks in block_orders if train for b in blocks}
    assert len(held_out) == 1
    held_out = list(held_out.pop())
    assert len(held_out) == 2 and trained.isdisjoint(held_out)
    assert len(trained) + 2 == X.numblocks[0]
    # the best weights are kept, and their score on those blocks is the best score
    rows = np.concatenate([np.arange(b * 200, min((b + 1) * 200, len(digits["y"])))
                           for b in held_out])
    assert clf.score(digits["X"][rows], digits["y"][rows]) == pytest.approx(
        clf.best_validation_score_, abs=1e-12)


def test_early_stopping_regressor_scores_r2_over_blocks(client, regression, block_orders):
    reg = fastnet.dask.fit(
        Network(hidden_layer_sizes=(16,), early_stopping=True, validation_fraction=0.3,
                max_iter=4, batch_size=32, random_state=0),
        da.from_array(regression["X"], chunks=(250, 10)),
        da.from_array(regression["y"], chunks=250))
    held_out = next(blocks for train, blocks in block_orders if not train)
    assert len(held_out) == 2    # ceil(0.3 * 6 blocks)
    rows = np.concatenate([np.arange(b * 250, (b + 1) * 250) for b in held_out])
    assert reg.score(regression["X"][rows], regression["y"][rows]) == pytest.approx(
        reg.best_validation_score_, rel=1e-9)


def test_classes_given_or_found_in_a_first_pass(client, digits):
    X, y = zarr_digits(digits)
    params = dict(hidden_layer_sizes=(8,), max_iter=2, random_state=0)
    found = fastnet.dask.fit(MLPClassifier(**params), X, y)
    given = fastnet.dask.fit(MLPClassifier(**params), X, y, classes=np.arange(10))
    np.testing.assert_array_equal(found.classes_, np.arange(10))
    np.testing.assert_array_equal(found.coefs_[0], given.coefs_[0])
    wider = fastnet.dask.fit(MLPClassifier(**params), X, y, classes=np.arange(12))
    assert wider.n_outputs_ == 12 and list(wider.classes_) == list(range(12))
    with pytest.raises(ValueError, match="classes not in classes_"):
        fastnet.dask.fit(MLPClassifier(**params), X, y, classes=np.arange(9))


def test_bad_inputs_are_refused(client, digits):
    X, y = zarr_digits(digits)
    with pytest.raises(TypeError, match="dask array or a dask DataFrame"):
        fastnet.dask.fit(MLPClassifier(), digits["X"], y)
    with pytest.raises(ValueError, match="y has 100 rows"):
        fastnet.dask.fit(MLPRegressor(), X, y[:100])
    with pytest.raises(ValueError, match="epochs must be"):
        fastnet.dask.fit(MLPClassifier(), X, y, epochs=0)
    with pytest.raises(ValueError, match="holds out whole blocks"):
        fastnet.dask.fit(MLPClassifier(early_stopping=True), X.rechunk((2000, 64)), y)


def test_missing_dask_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "dask", None)
    with pytest.raises(ImportError, match=r"pip install 'fastnet\[dask\]'"):
        fastnet.dask.fit(MLPClassifier(), None, None)


def test_docstring_example():
    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    for test in finder.find(fastnet.dask.fit, "fastnet.dask.fit", globs={}):
        runner.run(test)
    assert runner.failures == 0 and runner.tries >= 6


# ----------------------------------------------------------------- L-BFGS
@pytest.mark.parametrize("kind", ["classifier", "regressor", "weighted network"])
def test_distributed_lbfgs_matches_in_memory(client, digits, regression, kind):
    sample_weight = None
    if kind == "classifier":
        model = MLPClassifier(hidden_layer_sizes=(32,), solver="lbfgs", max_iter=60,
                              random_state=0)
        dX, dy = zarr_digits(digits)
        X, y = digits["X"], digits["y"]
    else:
        model = (MLPRegressor if kind == "regressor" else Network)(
            hidden_layer_sizes=(16,), solver="lbfgs", max_iter=60, alpha=0.01,
            random_state=0)
        dX, dy, X, y = regression["dX"], regression["dy"], regression["X"], regression["y"]
        if kind == "weighted network":
            sample_weight = np.random.default_rng(0).uniform(0.5, 2.0, len(y))
    in_memory = model.__class__(**model.get_params()).fit(X, y, sample_weight=sample_weight)
    weights = None if sample_weight is None else da.from_array(sample_weight, chunks=500)
    distributed_fit = fastnet.dask.fit(model, dX, dy, sample_weight=weights)
    print(f"{kind}: final loss on the cluster {distributed_fit.loss_!r}, "
          f"in memory {in_memory.loss_!r}")
    assert distributed_fit.n_iter_ == in_memory.n_iter_
    assert distributed_fit.loss_ == pytest.approx(in_memory.loss_, rel=1e-4)
    assert distributed_fit.loss_ != pytest.approx(model.__class__(
        **{**model.get_params(), "max_iter": 5}).fit(X, y, sample_weight=sample_weight).loss_,
        rel=1e-2)   # the tolerance separates 60 iterations from 5


def test_lbfgs_gradient_is_a_tree_of_pairwise_sums(client, digits, monkeypatch):
    """Per evaluation: one gradient task per worker holding blocks (each sums
    its blocks), then the pairwise additions of a tree."""
    submitted = []
    submit = type(client).submit

    def recording(self, function, *args, **kwargs):
        submitted.append((function.__name__, len(args)))
        return submit(self, function, *args, **kwargs)

    monkeypatch.setattr(type(client), "submit", recording)
    model = fastnet.dask.fit(MLPClassifier(hidden_layer_sizes=(8,), solver="lbfgs",
                                           max_iter=3, random_state=0), *zarr_digits(digits))
    evaluations = []   # per evaluation: blocks of each gradient task, additions
    for name, n_args in submitted:
        if name == "_worker_gradient":
            if not evaluations or evaluations[-1][1]:
                evaluations.append(([], 0))
            evaluations[-1][0].append(n_args - 2)
        elif name == "_add_sums":
            evaluations[-1] = (evaluations[-1][0], evaluations[-1][1] + 1)
    assert len(evaluations) > model.n_iter_
    for blocks, additions in evaluations:
        assert sorted(blocks) == sorted(evaluations[0][0]) and sum(blocks) == 7
        assert len(blocks) == 2 and additions == 1   # the blocks are on both workers


# --------------------------------------------------------- model search
def test_grid_search_on_the_cluster_matches_in_memory(client, digits):
    X, y = digits["X"][:600], digits["y"][:600]
    pipeline = make_pipeline(StandardScaler(), MLPClassifier(solver="sgd", max_iter=15,
                                                             learning_rate_init=0.05,
                                                             random_state=0))
    grid = {"mlpclassifier__hidden_layer_sizes": [(16,), (32,)],
            "mlpclassifier__alpha": [1e-4, 1e-1]}
    reference = GridSearchCV(pipeline, grid, cv=3).fit(X, y)
    with joblib.parallel_backend("dask"):
        on_cluster = GridSearchCV(pipeline, grid, cv=3, n_jobs=-1).fit(X, y)
    assert on_cluster.best_params_ == reference.best_params_
    np.testing.assert_array_equal(on_cluster.cv_results_["mean_test_score"],
                                  reference.cv_results_["mean_test_score"])
    assert on_cluster.best_score_ > 0.85


def _threads_in_task(company=0):
    """(OpenMP's threads, fastnet's for n_jobs=None, an estimator's) in a
    worker task, asked once ``company`` other tasks run beside it."""
    from fastnet import kernels, threads
    worker, deadline = distributed.get_worker(), time.monotonic() + 20
    while len(worker.state.executing) < 1 + company and time.monotonic() < deadline:
        time.sleep(0.01)
    answer = kernels.max_threads(), threads.n_threads(None), MLPClassifier()._n_threads()
    time.sleep(0.5)   # still running while the others ask
    return answer


def test_worker_tasks_use_the_workers_threads(client):
    """dask starts workers with OMP_NUM_THREADS=1; fastnet follows the
    worker's threads instead, shared among the tasks it runs at once."""
    assert client.submit(_threads_in_task, pure=False).result(timeout=30) == (1, 1, 1)
    with _cluster(n_workers=1, threads_per_worker=2) as cluster, \
            distributed.Client(cluster, timeout="60s", set_as_default=False) as two_threads:
        two_threads.wait_for_workers(1, timeout=60)
        alone = two_threads.submit(_threads_in_task, pure=False).result(timeout=30)
        together = two_threads.gather([two_threads.submit(_threads_in_task, 1, pure=False)
                                       for _ in range(2)])
    assert alone == (1, 2, 2)        # OpenMP alone would give 1
    assert together == [(1, 1, 1)] * 2


# ----------------------------------------------------------------- memory
# The fit runs in a fresh Python connected to the module's cluster, so that
# tracemalloc sees only the streaming and this process never frees 10 MB
# buffers (glibc then raises its mmap threshold, and tests/test_leaks.py's
# RSS readings drift).
STREAM_AND_MEASURE = """
import sys, tracemalloc
import dask.array as da
from distributed import Client
import fastnet.dask
from fastnet import MLPClassifier

address, folder = sys.argv[1:]
with Client(address, timeout="60s"):
    X, y = da.from_zarr(folder + "/X.zarr"), da.from_zarr(folder + "/y.zarr")
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    clf = fastnet.dask.fit(MLPClassifier(hidden_layer_sizes=(8,), random_state=0), X, y,
                           epochs=1, classes=[0, 1])
    peak = tracemalloc.get_traced_memory()[1] - before
    tracemalloc.stop()
    accuracy = clf.score(X[:5000].compute(), y[:5000].compute())
print(X.nbytes / 2**20, peak / 2**20, clf.t_, accuracy)
"""


def test_client_memory_stays_bounded_by_a_few_blocks(client, tmp_path, fastnet_env):
    """200 MB of Zarr in 10 MB blocks streams through the client in < 60 MB."""
    n_features, block_rows, n_blocks = 50, 25_000, 20
    X = da.random.default_rng(0).standard_normal((block_rows * n_blocks, n_features),
                                                 chunks=(block_rows, n_features))
    y = (X[:, :5].sum(axis=1) > 0).astype(np.int64)
    da.to_zarr(X, str(tmp_path / "X.zarr"))   # written by the workers
    da.to_zarr(y, str(tmp_path / "y.zarr"))
    run = subprocess.run([sys.executable, "-c", STREAM_AND_MEASURE, client.scheduler.address,
                          str(tmp_path)], env=fastnet_env, capture_output=True, text=True,
                         timeout=300, check=False, cwd=tmp_path)   # not the source tree
    assert run.returncode == 0, run.stderr
    data_mb, peak_mb, trained, accuracy = map(float, run.stdout.split())
    print(f"streamed {data_mb:.0f} MB in blocks of {data_mb / n_blocks:.0f} MB; "
          f"client peak {peak_mb:.1f} MB")
    assert data_mb > 190
    assert 10 < peak_mb < 60     # at least a block went through; far from the data set
    assert trained == block_rows * n_blocks
    assert accuracy > 0.9
