"""fastnet's and scikit-learn's ``MLPClassifier`` built alike, and their epoch timings."""
import time
import warnings

from threadpoolctl import threadpool_limits

from .settings import BATCH_SIZE, CLASSES, PER_SAMPLE_LEARNING_RATE
from .timing import interleaved_min_seconds, quiet

# The training setups compared: per-sample SGD and minibatch SGD are plain
# (no momentum, no L2 penalty, the same learning rate as PyTorch's
# optimizer.SGD gets), Adam keeps its defaults at batch size 200.
SETUPS = {
    "sgd": dict(solver="sgd", batch_size=1, learning_rate_init=PER_SAMPLE_LEARNING_RATE,
                momentum=0.0, alpha=0.0),
    "sgd-batch": dict(solver="sgd", batch_size=BATCH_SIZE,
                      learning_rate_init=PER_SAMPLE_LEARNING_RATE, momentum=0.0, alpha=0.0),
    "adam": dict(solver="adam", batch_size=BATCH_SIZE),
}


def classifier(library, hidden, setup, threads, dtype="float64"):
    """``library.MLPClassifier`` with the benchmark's ``setup`` (a key of SETUPS).

    fastnet's and scikit-learn's classes take the same arguments, so the
    models compared differ only by the library; fastnet also gets ``dtype``
    and ``n_jobs=threads``.
    """
    params = dict(SETUPS[setup])
    if library.__name__ == "fastnet":
        params.update(dtype=dtype, n_jobs=threads)
    return library.MLPClassifier(hidden_layer_sizes=hidden, max_iter=1, shuffle=True,
                                 random_state=0, **params)


def classifier_epochs(library, X, y, hidden, setup, threads, dtype="float64",
                      epochs_per_turn=1):
    """A measure (see timing.interleaved_min_seconds): the seconds of one
    ``partial_fit`` epoch of a classifier warmed up on a slice, the fastest
    of ``epochs_per_turn`` run back to back (as FANN's driver times its
    epochs: fann.FannDriver.epochs).

    scikit-learn uses ``threads`` BLAS threads, fastnet ``n_jobs=threads``.
    """
    X = X.astype(dtype)
    model = classifier(library, hidden, setup, threads, dtype)
    with threadpool_limits(limits=threads, user_api="blas"):
        # warm-up on a slice: initialisation and buffers outside the timing
        quiet(lambda: model.partial_fit(X[:200], y[:200], classes=CLASSES))

    def measure():
        with threadpool_limits(limits=threads, user_api="blas"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            best = float("inf")
            for _ in range(epochs_per_turn):
                start = time.perf_counter()
                model.partial_fit(X, y)
                best = min(best, time.perf_counter() - start)
            return best

    return measure


def time_classifier_epoch(library, X, y, hidden, setup, threads, repeats, dtype="float64"):
    """µs per sample of one ``partial_fit`` epoch, the minimum of ``repeats``."""
    measure = classifier_epochs(library, X, y, hidden, setup, threads, dtype)
    return interleaved_min_seconds({"": measure}, repeats)[""] / len(X) * 1e6
