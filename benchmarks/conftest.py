"""Shared pieces of the pytest-benchmark suites.

``epoch_benchmark`` times whole training epochs and records microseconds per
training sample; at the end of the session the ratios to fastnet within each
benchmark group are printed.  Nothing here asserts a timing.
"""
import pytest

from fastnet.bench.report import faster_text, significant

# group -> {label: µs per training sample}, filled as the benchmarks run
SPEEDS = {}
REFERENCE = "fastnet float64"
# setting -> {library: (seconds of the fastest fit, test accuracy, epochs)}
FITS = {}


@pytest.fixture
def epoch_benchmark(benchmark):
    """``run(label, epoch, n_samples, rounds)``: benchmark ``epoch()``, record µs/sample.

    The label names the tool and setting in the ratio summary; a group's
    ``REFERENCE`` row (fastnet, float64, one thread) is what the others are
    compared with.
    """
    def run(label, epoch, n_samples, rounds):
        benchmark.pedantic(epoch, rounds=rounds, iterations=1)
        if benchmark.stats is None:  # --benchmark-disable: ran once, untimed
            return
        us_per_sample = benchmark.stats["min"] / n_samples * 1e6
        benchmark.extra_info.update(label=label, n_samples=n_samples,
                                    us_per_sample=us_per_sample)
        SPEEDS.setdefault(benchmark.group, {})[label] = us_per_sample

    return run


@pytest.fixture
def latency_benchmark(benchmark):
    """``run(label, call, rounds)``: benchmark single calls, record their median µs.

    For calls too short for a minimum to mean much (one-row predict and
    partial_fit): the median of ``rounds`` calls, as ``fastnet bench`` takes.
    """
    def run(label, call, rounds):
        benchmark.pedantic(call, rounds=rounds, iterations=1, warmup_rounds=rounds // 10)
        if benchmark.stats is None:
            return
        us_per_call = benchmark.stats["median"] * 1e6
        benchmark.extra_info.update(label=label, us_per_call=us_per_call)
        SPEEDS.setdefault(benchmark.group, {})[label] = us_per_call

    return run


@pytest.fixture
def record_fit(benchmark):
    """``record(setting, library, accuracy, epochs)`` after a benchmarked fit."""
    def record(setting, library, accuracy, epochs):
        if benchmark.stats is not None:
            FITS.setdefault(setting, {})[library] = (benchmark.stats["min"], accuracy, epochs)
        benchmark.extra_info.update(test_accuracy=accuracy, epochs=epochs)

    return record


def _fits_summary(write):
    """Whole digits fits: seconds, test accuracy, and the speed ratio."""
    for setting, fits in FITS.items():
        write(f"digits fit, {setting}")
        for library, (seconds, accuracy, epochs) in fits.items():
            ratio = ""
            if library != "fastnet" and "fastnet" in fits:
                ratio = faster_text(seconds, fits["fastnet"][0])
            write(f"  {library:<14} {significant(seconds):>8} s  {epochs:>3} epochs  "
                  f"test accuracy {accuracy:.4f}  {ratio}".rstrip())


def pytest_terminal_summary(terminalreporter):
    """Per group: µs per sample (minimum round) and how many times faster fastnet is."""
    if not SPEEDS and not FITS:
        return
    write = terminalreporter.write_line
    terminalreporter.section("fastnet against its peers (fastest round; ratios of this run)")
    for group, speeds in SPEEDS.items():
        write(group)
        for label, us in speeds.items():
            ratio = ""
            if REFERENCE in speeds and label != REFERENCE:
                if label.startswith("fastnet"):  # a variant: its own speed-up
                    ratio = faster_text(speeds[REFERENCE], us, "") + f" than {REFERENCE}"
                else:  # a peer: how much faster fastnet is
                    ratio = faster_text(us, speeds[REFERENCE], f"{REFERENCE} is")
            write(f"  {label:<40} {significant(us):>8} µs/sample  {ratio}".rstrip())
    _fits_summary(write)
