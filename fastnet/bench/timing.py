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


def interleaved_min_seconds(measures, repeats, at_least_seconds=0.3):
    """Shortest of repeated measurements of several tools, taken in turns.

    ``measures`` maps a tool to a callable returning the seconds of one
    measurement.  Each round measures every tool once, so a shared machine's
    busy and quiet spells fall on all of them alike and their ratio is
    fair.  Rounds go on until every tool has ``repeats`` measurements and,
    for short ones, until ``at_least_seconds`` have passed (at most 100
    rounds), as in min_seconds.  Returns {tool: shortest seconds}.
    """
    best = {tool: float("inf") for tool in measures}
    spent = dict.fromkeys(measures, 0.0)
    rounds = 0
    while rounds < repeats or (min(spent.values()) < at_least_seconds and rounds < 100):
        for tool, measure in measures.items():
            seconds = measure()
            best[tool], spent[tool] = min(best[tool], seconds), spent[tool] + seconds
        rounds += 1
    return best


def timed(run):
    """A measure for interleaved_min_seconds: the wall time of ``run()``."""
    def measure():
        start = time.perf_counter()
        run()
        return time.perf_counter() - start
    return measure


def interleaved_median_call_seconds(calls, n_calls, warm_up=20, block=100):
    """Median wall time of single calls ``call(i)``, i = 0 … n_calls - 1, of
    several tools, which take turns ``block`` calls at a time (see
    interleaved_min_seconds), each block after ``warm_up`` untimed calls;
    {tool: seconds}.  Turns of single calls would measure each tool with
    caches the other one just filled."""
    seconds = {tool: np.empty(n_calls) for tool in calls}
    clock = time.perf_counter
    for first in range(0, n_calls, block):
        for tool, call in calls.items():
            for i in range(warm_up):
                call(first + i)
            for i in range(first, min(first + block, n_calls)):
                start = clock()
                call(i)
                seconds[tool][i] = clock() - start
    return {tool: float(np.median(values)) for tool, values in seconds.items()}


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
