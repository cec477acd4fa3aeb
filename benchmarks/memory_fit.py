"""Peak memory of fitting on a large float32 X (issue: <= 1.2 x X + weights).

Run: ``/usr/bin/time -v python benchmarks/memory_fit.py [GB]`` and read
"Maximum resident set size"; the script itself prints the tracemalloc peak
of everything allocated after X (NumPy reports its buffers to tracemalloc),
so a copy of X would show up as a peak of at least X's size.
"""
import sys
import time
import tracemalloc
import warnings

import numpy as np


def main(gigabytes=1.0, n_features=256):
    from fastnet import MLPClassifier

    n_samples = int(gigabytes * 2**30 / (4 * n_features))
    rng = np.random.default_rng(0)
    X = rng.random((n_samples, n_features), dtype=np.float32)
    y = (X[:, 0] > 0.5).astype(np.int64)
    model = MLPClassifier(hidden_layer_sizes=(16,), solver="sgd", batch_size=1,
                          learning_rate_init=0.01, max_iter=1, random_state=0)
    tracemalloc.start()
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X, y)
    seconds = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"X: {X.nbytes / 2**30:.2f} GiB float32 ({n_samples} x {n_features}); "
          f"coefs dtype {model.coefs_[0].dtype}")
    print(f"fit: {seconds:.1f} s; peak allocated during fit beyond X: "
          f"{peak / 2**20:.1f} MiB ({peak / X.nbytes:.3f} x X)")


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 1.0)
