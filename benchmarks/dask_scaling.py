"""fastnet on dask: wall times on 1 and 2 workers, and the client's memory.

Run: ``python benchmarks/dask_scaling.py [--quick]`` (needs ``fastnet[dask]``;
from a source checkout, with the in-place build on PYTHONPATH so that the
workers import it).  It prints, for LocalClusters of 1 and 2 worker
processes of one thread each:

- a grid search (joblib's dask backend) over a StandardScaler +
  MLPClassifier pipeline on the digits, against the same search in memory on
  one core (the search and the networks with one thread each);
- distributed L-BFGS (``fastnet.dask.fit``) on a synthetic classification set
  held in blocks on the workers, against the in-memory fit on the client
  (``n_jobs=1``), with both final losses;

and then the client's peak traced memory (tracemalloc: NumPy's buffers and
everything the dask client receives) while streaming Zarr data sets of
growing size in blocks of 10 MB.  Every time is the minimum of ``--repeat``
runs (3 by default), and the load average is printed before and after: on
a shared machine other work competes for the same cores.
"""
import argparse
from collections import Counter
import os
import tempfile
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np


def best_of(repeat, run):
    """(the shortest wall time of ``repeat`` runs, the last run's result)."""
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - began)
    return min(times), result


def grid_search(n_jobs=None, threads=None):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from fastnet import MLPClassifier

    X, y = load_digits(return_X_y=True)
    pipeline = make_pipeline(StandardScaler(), MLPClassifier(
        solver="sgd", batch_size=1, learning_rate_init=0.01, max_iter=20, random_state=0,
        n_jobs=threads))
    grid = {"mlpclassifier__hidden_layer_sizes": [(128,), (256,)],
            "mlpclassifier__alpha": [1e-4, 1e-2]}
    return GridSearchCV(pipeline, grid, cv=3, n_jobs=n_jobs).fit(X, y)


def lbfgs_data(folder, n_samples, n_blocks):
    """A classification set in memory, and the same on disk as Zarr blocks
    read back lazily (the workers read their blocks; nothing is shipped from
    the client)."""
    import dask.array as da
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=n_samples, n_features=64, n_informative=32,
                               n_classes=4, random_state=0)
    rows = n_samples // n_blocks
    da.from_array(X, chunks=(rows, 64)).to_zarr(str(Path(folder) / "X.zarr"))
    da.from_array(y, chunks=rows).to_zarr(str(Path(folder) / "y.zarr"))
    return (X, y, da.from_zarr(str(Path(folder) / "X.zarr")),
            da.from_zarr(str(Path(folder) / "y.zarr")))


def lbfgs_model(hidden, threads=None):
    from fastnet import MLPClassifier
    return MLPClassifier(hidden_layer_sizes=(hidden,), solver="lbfgs", max_iter=20,
                         random_state=0, n_jobs=threads)


def memory_peak(folder, megabytes, block_megabytes=10, n_features=50):
    """The client's peak traced memory (MB) while one epoch streams a Zarr
    data set of about ``megabytes``."""
    import dask.array as da

    import fastnet.dask
    from fastnet import MLPClassifier

    rows = int(block_megabytes * 2**20 / (8 * n_features))
    n_blocks = max(1, round(megabytes / block_megabytes))
    X = da.random.default_rng(0).standard_normal((rows * n_blocks, n_features),
                                                 chunks=(rows, n_features))
    y = (X[:, :5].sum(axis=1) > 0).astype(np.int64)
    path = Path(folder) / f"{megabytes}"
    da.to_zarr(X, str(path / "X.zarr"))
    da.to_zarr(y, str(path / "y.zarr"))
    X, y = da.from_zarr(str(path / "X.zarr")), da.from_zarr(str(path / "y.zarr"))
    tracemalloc.start()
    began = time.perf_counter()
    before = tracemalloc.get_traced_memory()[0]
    fastnet.dask.fit(MLPClassifier(hidden_layer_sizes=(8,), random_state=0), X, y,
                     epochs=1, classes=[0, 1])
    peak = (tracemalloc.get_traced_memory()[1] - before) / 2**20
    tracemalloc.stop()
    return X.nbytes / 2**20, peak, time.perf_counter() - began


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller L-BFGS and memory runs")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    warnings.simplefilter("ignore")

    import joblib
    from distributed import Client, LocalCluster, get_task_stream

    import fastnet.dask

    print("load average (1, 5, 15 min): %.2f %.2f %.2f" % os.getloadavg())
    n_lbfgs, hidden = (20_000, 64) if args.quick else (100_000, 256)
    lbfgs_folder = tempfile.TemporaryDirectory()
    X, y, dX, dy = lbfgs_data(lbfgs_folder.name, n_lbfgs, n_blocks=8)
    seconds, search = best_of(args.repeat, lambda: grid_search(threads=1))
    print(f"grid search, in memory (one core): {seconds:.2f} s, best "
          f"{search.best_params_}")
    seconds, model = best_of(args.repeat, lambda: lbfgs_model(hidden, threads=1).fit(X, y))
    print(f"L-BFGS, in memory ({n_lbfgs} x 64, {hidden} hidden units, one core): "
          f"{seconds:.2f} s, "
          f"final loss {model.loss_!r}, {model.n_iter_} iterations")
    for n_workers in (1, 2):
        with LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                          host="127.0.0.1", dashboard_address=None) as cluster, \
                Client(cluster) as client:
            client.run(lambda: __import__("fastnet.dask"))   # warm workers
            with joblib.parallel_backend("dask"), get_task_stream() as tasks:
                seconds, found = best_of(args.repeat, lambda: grid_search(n_jobs=-1))
            same = np.array_equal(found.cv_results_["mean_test_score"],
                                  search.cv_results_["mean_test_score"])
            per_worker = Counter(task["worker"] for task in tasks.data)
            print(f"grid search, {n_workers} worker(s): {seconds:.2f} s "
                  f"(same scores as in memory: {same}; tasks per worker "
                  f"{sorted(per_worker.values())})")
            seconds, fitted = best_of(args.repeat,
                                      lambda: fastnet.dask.fit(lbfgs_model(hidden), dX, dy))
            print(f"L-BFGS, {n_workers} worker(s), 8 blocks: {seconds:.2f} s, "
                  f"final loss {fitted.loss_!r} (relative difference "
                  f"{abs(fitted.loss_ - model.loss_) / model.loss_:.1e}), "
                  f"{fitted.n_iter_} iterations")
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster, Client(cluster), \
            tempfile.TemporaryDirectory() as folder:
        for megabytes in ((50, 200) if args.quick else (50, 200, 800)):
            data, peak, seconds = memory_peak(folder, megabytes)
            print(f"streaming {data:.0f} MB of Zarr in 10 MB blocks: client peak "
                  f"{peak:.1f} MB, one epoch {seconds:.1f} s")
    lbfgs_folder.cleanup()
    print("load average (1, 5, 15 min): %.2f %.2f %.2f" % os.getloadavg())


if __name__ == "__main__":
    main()
