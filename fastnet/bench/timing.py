"""Timing helpers: fastest of repeated runs, median latency, quiet fits."""
import importlib
import time
import warnings

import numpy as np


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


def median_call_seconds(call, n_calls, warm_up=20):
    """Median wall time of ``call(i)`` for i = 0 … n_calls - 1, after a warm-up.

    The median of many single calls, not the mean of a loop: a latency is
    what one call costs, and a shared machine's pauses would drag a mean.
    """
    for i in range(warm_up):
        call(i)
    seconds = np.empty(n_calls)
    clock = time.perf_counter
    for i in range(n_calls):
        start = clock()
        call(i)
        seconds[i] = clock() - start
    return float(np.median(seconds))


def quiet(model_call):
    """Run ``model_call()`` without warnings (ConvergenceWarnings of one-epoch fits)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model_call()


def optional_module(name):
    """The module ``name``, or None when it is not installed."""
    try:
        return importlib.import_module(name)
    except ImportError:
        return None
