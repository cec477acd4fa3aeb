"""Training on data read lazily from disk: fastnet.dask.fit streams Parquet blocks.

The script writes the digits (scaled, 1,347 training images) to a Parquet
data set in a temporary directory, reads it back with dask as a user would
read files too large for memory, and trains fastnet's MLPClassifier (Adam)
by streaming the blocks through a LocalCluster of two worker processes:
each epoch visits the blocks in a new order while the next block loads.
It prints the accuracy on held-out images next to an in-memory fit with
the same settings, then removes its files.  Needs ``fastnet[dask]``.

Run: python examples/dask_streaming.py
"""
import tempfile
import warnings
from pathlib import Path

import dask.dataframe as dd
import pandas as pd
from distributed import Client, LocalCluster
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import fastnet
import fastnet.dask

warnings.simplefilter("ignore", ConvergenceWarning)

if __name__ == "__main__":
    X, y = load_digits(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=0)
    features = [f"pixel{i}" for i in range(X.shape[1])]
    params = dict(hidden_layer_sizes=(64,), learning_rate_init=0.01, max_iter=15,
                  random_state=0)

    with tempfile.TemporaryDirectory() as folder, \
            LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster, \
            Client(cluster):
        table = pd.DataFrame(X_train, columns=features).assign(label=y_train)
        path = str(Path(folder) / "digits.parquet")
        dd.from_pandas(table, chunksize=200, sort=False).to_parquet(path)

        frame = dd.read_parquet(path)   # lazy: nothing is read yet
        print(f"Parquet data set: {len(table)} rows in {frame.npartitions} files")
        streamed = fastnet.dask.fit(fastnet.MLPClassifier(**params),
                                    frame[features], frame["label"])
        print(f"streamed: {streamed.n_iter_} epochs, final loss {streamed.loss_:.4f}")

    in_memory = fastnet.MLPClassifier(**params).fit(pd.DataFrame(X_train, columns=features),
                                                    y_train)
    test = pd.DataFrame(X_test, columns=features)
    print(f"streamed accuracy on {len(y_test)} held-out images: "
          f"{streamed.score(test, y_test):.3f}")
    print(f"in-memory accuracy on {len(y_test)} held-out images: "
          f"{in_memory.score(test, y_test):.3f}")
