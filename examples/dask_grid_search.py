"""Model search on a dask cluster: GridSearchCV through joblib's dask backend.

fastnet's estimators are scikit-learn estimators, so a grid search sends
their fits to a dask.distributed cluster unchanged: inside
``joblib.parallel_backend('dask')`` every (candidate, fold) fit of a
``StandardScaler`` + ``MLPClassifier`` pipeline runs as a task on a worker.
Each task trains on its share of the worker's threads (fastnet reads it
from the worker, where dask sets OMP_NUM_THREADS=1), so the cores are
never oversubscribed.  The script runs the search on a LocalCluster of two
single-threaded workers, checks it finds what the same search finds in
memory, and scores the best pipeline on held-out digits.  Needs
``fastnet[dask]``.

Run: python examples/dask_grid_search.py
"""
import time

import joblib
import numpy as np
from distributed import Client, LocalCluster
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import fastnet

if __name__ == "__main__":
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=0)
    pipeline = make_pipeline(
        StandardScaler(),
        fastnet.MLPClassifier(solver="sgd", learning_rate_init=0.05, max_iter=20,
                              random_state=0))
    grid = {"mlpclassifier__hidden_layer_sizes": [(32,), (64,)],
            "mlpclassifier__alpha": [1e-4, 1e-2]}

    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        threads = client.run(lambda: fastnet.MLPClassifier()._n_threads())
        print(f"fastnet threads per task on each worker: {sorted(threads.values())}")
        began = time.perf_counter()
        with joblib.parallel_backend("dask"):
            search = GridSearchCV(pipeline, grid, cv=3, n_jobs=-1).fit(X_train, y_train)
        print(f"searched {len(search.cv_results_['params'])} candidates x 3 folds on the "
              f"cluster in {time.perf_counter() - began:.1f} s")

    for params, score in zip(search.cv_results_["params"],
                             search.cv_results_["mean_test_score"]):
        shown = {name.split("__")[1]: value for name, value in params.items()}
        print(f"cross-validated accuracy {score:.3f}  {shown}")
    print(f"best: {search.best_params_}")
    in_memory = GridSearchCV(pipeline, grid, cv=3).fit(X_train, y_train)
    same = (in_memory.best_params_ == search.best_params_ and np.array_equal(
        in_memory.cv_results_["mean_test_score"], search.cv_results_["mean_test_score"]))
    print(f"same scores as the search in memory: {same}")
    print(f"test accuracy of the best pipeline: {search.score(X_test, y_test):.3f}")
