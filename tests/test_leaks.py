"""Memory does not grow over many fit / predict cycles.

The kernels allocate with malloc outside Python's view (the plan's sample,
gradient and batch buffers, the forward pass's buffers), so tracemalloc
cannot see a leak there: the test watches the resident set size instead.
After a warm-up (imports, caches, OpenMP's threads and their malloc arenas),
1000 cycles each build a new small network, fit it and predict, rotating
through every kernel path; the resident size may grow by at most
GROWTH_BOUND.

Why that bound: the smallest buffer the kernels allocate in a cycle is one
predict's forward buffer, the network's units in float64 (FORWARD_BUFFER,
2 kB); leaking even that once per cycle would add 2 MB, twice the bound,
and leaking the plan's buffers or an X far more.  Without leaks the growth
measured 0.06-0.08 MB (heap fragmentation), while a 2 kB leak per cycle,
injected by hand, showed as 1.98 MB.

glibc raises its mmap and trim thresholds each time the process frees a
large mmapped block (up to 32 and 64 MB), as earlier tests in the same
process do (one free of a 10 MB array is enough): the heap then keeps what
it frees and the resident size drifts by 2-3 MB without any leak.  The test
sets both back to glibc's defaults first (which also stops the adjusting),
so that it sees a fresh process's heap whatever ran before it.
"""
import ctypes
import gc
import os
import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning

from fastnet import MLPClassifier, MLPRegressor, Network

CYCLES, WARMUP = 1000, 100
N_SAMPLES, N_FEATURES, HIDDEN, N_OUTPUTS = 40, 10, 250, 3
# the smallest kernel allocation of a cycle: one predict's forward buffer, the
# network's units in float64 on one thread
FORWARD_BUFFER = (HIDDEN + N_OUTPUTS) * 8
GROWTH_BOUND = 1_000_000
# mallopt's parameters and glibc's default for both thresholds
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, DEFAULT_THRESHOLD = -1, -3, 128 * 1024


def default_malloc_thresholds():
    """glibc's default mmap and trim thresholds, fixed (see the docstring)."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:   # another C library: nothing to undo
        return
    libc.mallopt(M_MMAP_THRESHOLD, DEFAULT_THRESHOLD)
    libc.mallopt(M_TRIM_THRESHOLD, DEFAULT_THRESHOLD)


def rss():
    """Resident set size of this process in bytes (Linux)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def estimators():
    """A fresh estimator per kernel path, with the data form it trains on."""
    small = dict(hidden_layer_sizes=(HIDDEN,), max_iter=2, random_state=0)
    return [
        (Network(solver="sgd", batch_size=1, n_jobs=1, **small), "dense"),
        (Network(solver="sgd", batch_size=1, alpha=1e-3, n_jobs=2, **small), "csr"),
        (Network(solver="adam", batch_size=20, n_jobs=2, **small), "dense"),
        (Network(solver="sgd", batch_size=8, momentum=0.9, n_jobs=1, **small), "csr"),
        (Network(solver="lbfgs", n_jobs=1, **small), "dense"),
        (Network(solver="sgd", batch_size=1, dtype="float32", n_jobs=1, **small), "float32"),
        (MLPClassifier(n_jobs=1, **small), "float32"),
        (MLPRegressor(solver="lbfgs", n_jobs=1, **small), "csr"),
    ]


def cycle(k, data, Y, labels):
    """Build, fit and predict one network of the k-th kind."""
    est, form = estimators()[k % 8]
    target = labels if isinstance(est, MLPClassifier) else Y
    est.fit(data[form], target)
    est.predict(data[form])
    if isinstance(est, Network) and est.solver != "lbfgs":
        est.partial_fit(data[form], target)
    # 130 rows: 65 per thread, so that a two-thread network predicts on both
    est.predict(data["tall"])


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="needs /proc (Linux)")
def test_fit_predict_cycles_keep_memory_flat():
    # The n_jobs=2 networks predict on two threads, which allocate a buffer
    # each.  Their layers are too small to train on two threads (which
    # allocates nothing more, and on a busy machine waits for the cores).
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (N_SAMPLES, N_FEATURES))
    X[rng.random(X.shape) < 0.7] = 0.0
    data = {"dense": X, "csr": sp.csr_matrix(X), "float32": X.astype(np.float32),
            "tall": np.vstack([X] * 4)[:130]}
    Y, labels = rng.uniform(-1, 1, (N_SAMPLES, N_OUTPUTS)), rng.integers(0, 3, N_SAMPLES)
    default_malloc_thresholds()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for k in range(WARMUP):
            cycle(k, data, Y, labels)
        gc.collect()
        start = rss()
        for k in range(CYCLES):
            cycle(k, data, Y, labels)
        gc.collect()
        growth = rss() - start
    print(f"RSS growth over {CYCLES} fit/predict cycles: {growth / 1e6:.2f} MB")
    assert CYCLES * FORWARD_BUFFER >= 2 * GROWTH_BOUND   # a leak per cycle would show
    assert growth < GROWTH_BOUND
