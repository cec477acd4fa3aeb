"""pytest-benchmark suites: fastnet against scikit-learn, one epoch at a time.

Run ``pytest benchmarks/ --benchmark-only``.  Each benchmark times whole
``partial_fit`` epochs of models built by
``fastnet.bench.classifiers.classifier`` (the same arguments for both
libraries); the session ends with µs per sample and the ratios to fastnet
(see conftest.py).  scikit-learn's per-sample SGD is
slow, so it trains on a subset and is reported per sample.  Timings are
never asserted.
"""
import pytest
from threadpoolctl import threadpool_limits

import fastnet
from sklearn import neural_network as sklearn_mlp

from fastnet.bench.classifiers import classifier
from fastnet.bench.data import load_digits_split, load_mnist_sized, repeat_rows
from fastnet.bench.inference import LATENCY_METHODS, fitted_pair, one_row_call
from fastnet.bench.settings import (CLASSES, DIGITS_HIDDEN, INFERENCE_HIDDEN, INFERENCE_ROWS,
                                    MNIST_HIDDEN)
from fastnet.bench.timing import quiet

MNIST_SAMPLES = 1000
SKLEARN_DIGITS_SAMPLES = 300
SKLEARN_MNIST_SAMPLES = 100


@pytest.fixture(scope="module")
def digits():
    X_train, _, y_train, _ = load_digits_split()
    return X_train, y_train


@pytest.fixture(scope="module")
def mnist():
    X, y, _ = load_mnist_sized(MNIST_SAMPLES)
    return X, y


def time_epochs(epoch_benchmark, label, library, X, y, hidden, setup, rounds,
                dtype="float64", n_jobs=1):
    """Benchmark ``partial_fit`` epochs of a fresh model after a warm-up epoch.

    ``setup`` names one of ``fastnet.bench.classifiers.SETUPS``.
    """
    X = X.astype(dtype)
    model = classifier(library, hidden, setup, n_jobs, dtype)
    with threadpool_limits(limits=n_jobs, user_api="blas"):
        quiet(lambda: model.partial_fit(X, y, classes=CLASSES))
        epoch_benchmark(label, lambda: quiet(lambda: model.partial_fit(X, y)), len(X), rounds)


@pytest.mark.benchmark(group="per-sample SGD, digits 64-100-10")
def test_per_sample_sgd_digits_fastnet(epoch_benchmark, digits):
    time_epochs(epoch_benchmark, "fastnet float64", fastnet, *digits, DIGITS_HIDDEN, "sgd",
                rounds=20)


@pytest.mark.benchmark(group="per-sample SGD, MNIST-sized 784-256-128-10")
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("n_jobs", [1, 2])
def test_per_sample_sgd_mnist_fastnet(epoch_benchmark, mnist, dtype, n_jobs):
    label = f"fastnet {dtype}" + (f" n_jobs={n_jobs}" if n_jobs > 1 else "")
    time_epochs(epoch_benchmark, label, fastnet, *mnist,
                MNIST_HIDDEN, "sgd", rounds=5, dtype=dtype, n_jobs=n_jobs)


# scikit-learn's per-sample SGD takes ~0.2-0.5 ms per digits sample and ~4 ms
# per MNIST-sized one: it trains on a subset
SKLEARN_PER_SAMPLE = {
    "digits": ("per-sample SGD, digits 64-100-10", DIGITS_HIDDEN, SKLEARN_DIGITS_SAMPLES),
    "mnist": ("per-sample SGD, MNIST-sized 784-256-128-10", MNIST_HIDDEN, SKLEARN_MNIST_SAMPLES),
}


@pytest.mark.parametrize("data", list(SKLEARN_PER_SAMPLE))
def test_per_sample_sgd_sklearn(epoch_benchmark, request, data):
    group, hidden, n = SKLEARN_PER_SAMPLE[data]
    request.getfixturevalue("benchmark").group = group
    X, y = request.getfixturevalue(data)
    time_epochs(epoch_benchmark, f"scikit-learn float64 ({n} samples)", sklearn_mlp,
                X[:n], y[:n], hidden, "sgd", rounds=3)


@pytest.mark.benchmark(group="Adam batch 200, digits 64-100-10")
@pytest.mark.parametrize("library", [fastnet, sklearn_mlp], ids=["fastnet", "scikit-learn"])
def test_adam_digits(epoch_benchmark, digits, library):
    label = "fastnet" if library is fastnet else "scikit-learn"
    time_epochs(epoch_benchmark, f"{label} float64", library, *digits, DIGITS_HIDDEN, "adam",
                rounds=20)


@pytest.mark.benchmark(group="Adam batch 200, MNIST-sized 784-256-128-10")
@pytest.mark.parametrize("library", [fastnet, sklearn_mlp], ids=["fastnet", "scikit-learn"])
def test_adam_mnist(epoch_benchmark, mnist, library):
    label = "fastnet" if library is fastnet else "scikit-learn"
    time_epochs(epoch_benchmark, f"{label} float64", library, *mnist, MNIST_HIDDEN, "adam",
                rounds=10)


@pytest.mark.benchmark(group="SGD batch 200, digits 64-100-10")
@pytest.mark.parametrize("library", [fastnet, sklearn_mlp], ids=["fastnet", "scikit-learn"])
def test_sgd_batch_digits(epoch_benchmark, digits, library):
    label = "fastnet" if library is fastnet else "scikit-learn"
    time_epochs(epoch_benchmark, f"{label} float64", library, *digits, DIGITS_HIDDEN,
                "sgd-batch", rounds=20)


# ---------------------------------------------------------------------------
# Predictions and online learning: one-row calls (the median of many) and
# predict_proba on many rows, the same fitted architecture in both libraries.
# ---------------------------------------------------------------------------

@pytest.mark.benchmark(group="latency, one row, digits 64-100-10 (µs per call)")
@pytest.mark.parametrize("method", LATENCY_METHODS)
@pytest.mark.parametrize("library", ["fastnet", "scikit-learn"])
def test_one_row_latency(latency_benchmark, digits, method, library):
    X, y = digits
    with threadpool_limits(limits=1, user_api="blas"):
        model = fitted_pair(DIGITS_HIDDEN, X, y)[library]
        call = one_row_call(model, method, X, y)
        calls = iter(range(10**9))
        latency_benchmark(f"{library} float64", lambda: call(next(calls)), rounds=2000)


@pytest.mark.benchmark(group=f"predict_proba, {INFERENCE_ROWS} rows, 784-512-512-10")
@pytest.mark.parametrize("library", ["fastnet", "scikit-learn"])
def test_predict_proba_many_rows(epoch_benchmark, mnist, library):
    X, y = mnist
    rows = repeat_rows(X, INFERENCE_ROWS)
    with threadpool_limits(limits=1, user_api="blas"):
        model = fitted_pair(INFERENCE_HIDDEN, X, y)[library]
        epoch_benchmark(f"{library} float64", lambda: model.predict_proba(rows),
                        INFERENCE_ROWS, rounds=3)


# ---------------------------------------------------------------------------
# Whole fits on digits: the drop-in switch, identical parameters, both
# libraries' test accuracy (they reproduce each other, so they should agree).
# ---------------------------------------------------------------------------

DIGITS_FITS = {
    # per-sample SGD: scikit-learn's slowest mode; 5 epochs keep it ~5 s
    "per-sample SGD (sgd, batch_size=1, 5 epochs)": dict(
        solver="sgd", batch_size=1, learning_rate_init=0.01, max_iter=5),
    # scikit-learn's defaults (adam, batch 200, up to 200 epochs)
    "defaults (adam, batch_size='auto')": dict(),
}


@pytest.mark.parametrize("setting", list(DIGITS_FITS))
@pytest.mark.parametrize("library", [fastnet, sklearn_mlp], ids=["fastnet", "scikit-learn"])
def test_digits_fit(benchmark, record_fit, setting, library):
    X_train, X_test, y_train, y_test = load_digits_split()
    benchmark.group = f"digits fit, {setting}"
    params = dict(hidden_layer_sizes=DIGITS_HIDDEN, random_state=0, **DIGITS_FITS[setting])

    def fit():
        return quiet(lambda: library.MLPClassifier(**params).fit(X_train, y_train))

    with threadpool_limits(limits=1, user_api="blas"):
        model = benchmark.pedantic(fit, rounds=3 if library is fastnet else 1, iterations=1)
    label = "fastnet" if library is fastnet else "scikit-learn"
    record_fit(setting, label, model.score(X_test, y_test), model.n_iter_)
