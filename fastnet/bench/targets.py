"""The targets summary: the ratios the speed work is judged by, with raw figures.

Every ratio divides two timings of the same run; one thread throughout.
A target whose figures were not measured (a peer skipped) is left out.
Each target has a goal, a ratio fastnet should reach; "goal needs" says
what time that asks of fastnet, what share of its bound (the FMA peak or the
bandwidth that binds it, as in the result table) that time would be, and for
cases run as GEMMs the GFLOP/s it would take against the fastest GEMM
measured in the run.  A goal that needs more than 100 % of a bound cannot be
reached on this machine whatever fastnet does.  predict_proba's goal is also
set against the time its GEMMs alone take through BLAS (gemms.py): a goal
below that time cannot be reached by predicting through that BLAS.
"""
from dataclasses import dataclass

from .inference import GEMMS_ALONE, LATENCY, PREDICT_PROBA
from .report import faster_text, format_table, significant
from .settings import BATCH_SIZE, INFERENCE_HIDDEN, INFERENCE_ROWS
from .training import PER_SAMPLE, SGD_BATCH

COLUMNS = ("target", "fastnet", "peer", "peer's figure", "ratio", "goal",
           "fastnet % of bound", "goal needs")


@dataclass(frozen=True)
class Target:
    """fastnet's figure against a peer's, both named by their Report keys,
    and the goal: how many times faster than the peer fastnet should be."""

    name: str
    fastnet: tuple
    peer_name: str
    peer: tuple
    goal: float
    floor_name: str = None  # what fastnet's figure cannot go under, and its key
    floor: tuple = None


TARGETS = (
    Target("per-sample SGD, digits, float64", (PER_SAMPLE, "digits", "fastnet", "float64"),
           "FANN float32", (PER_SAMPLE, "digits", "FANN", "float32"), 8),
    Target("per-sample SGD, digits, float64", (PER_SAMPLE, "digits", "fastnet", "float64"),
           "scikit-learn batch 1", (PER_SAMPLE, "digits", "scikit-learn", "float64"), 150),
    Target("per-sample SGD, MNIST-sized, float64",
           (PER_SAMPLE, "MNIST-sized", "fastnet", "float64"),
           "FANN float32", (PER_SAMPLE, "MNIST-sized", "FANN", "float32"), 6),
    Target("per-sample SGD, MNIST-sized, float32",
           (PER_SAMPLE, "MNIST-sized", "fastnet", "float32"),
           "FANN float32", (PER_SAMPLE, "MNIST-sized", "FANN", "float32"), 12),
    Target(f"SGD batch {BATCH_SIZE}, digits", (SGD_BATCH, "digits", "fastnet"),
           "PyTorch", (SGD_BATCH, "digits", "PyTorch"), 2),
    Target(f"SGD batch {BATCH_SIZE}, MNIST-sized", (SGD_BATCH, "MNIST-sized", "fastnet"),
           "PyTorch", (SGD_BATCH, "MNIST-sized", "PyTorch"), 1.2),
    Target("predict, one row", (LATENCY, "predict", "fastnet"),
           "scikit-learn", (LATENCY, "predict", "scikit-learn"), 15),
    Target("MLPClassifier.partial_fit, one row", (LATENCY, "partial_fit", "fastnet"),
           "scikit-learn", (LATENCY, "partial_fit", "scikit-learn"), 40),
    Target(f"predict_proba, {INFERENCE_ROWS} rows, "
           f"784-{'-'.join(map(str, INFERENCE_HIDDEN))}-10",
           (PREDICT_PROBA, "fastnet"), "scikit-learn", (PREDICT_PROBA, "scikit-learn"), 1.5,
           "its GEMMs alone", (PREDICT_PROBA, GEMMS_ALONE)),
)


def target_rows(figures):
    """Table rows of the targets whose two figures ``figures`` holds."""
    rows = []
    for target in TARGETS:
        if target.fastnet not in figures or target.peer not in figures:
            continue
        ours, theirs = figures[target.fastnet], figures[target.peer]
        bound = (f"{significant(100 * ours.share, 2)} % {ours.binds}"
                 if ours.share is not None else "")
        goal_us = theirs.us / target.goal
        needs = goal_needs(ours, goal_us)
        floor = figures.get(target.floor)
        if floor is not None:
            needs += f"; {target.floor_name} take {floor}" + (
                ", more than the goal allows" if floor.us > goal_us else "")
        rows.append((target.name, str(ours), target.peer_name, str(theirs),
                     faster_text(theirs.us, ours.us), f"{target.goal:g}×", bound, needs))
    return rows


def goal_needs(ours, goal_us):
    """What reaching ``goal_us`` asks of fastnet's figure ``ours``: the time,
    its share of the bound, and for a GEMM-run case the GFLOP/s against the
    fastest GEMM of the run."""
    text = f"{significant(goal_us)} {ours.unit}"
    if ours.share is None:
        return text
    speedup = ours.us / goal_us
    text += f": {significant(100 * ours.share * speedup, 2)} % {ours.binds}"
    if ours.fastest_gemm is not None:
        gflops, name = ours.fastest_gemm
        needed = ours.gflops * speedup
        text += (f", {significant(needed)} GFLOP/s = {significant(100 * needed / gflops, 2)} % "
                 f"of {name}")
    return text


def format_targets(figures, markdown=False):
    """The targets summary as a table, or a line saying none were measured."""
    rows = target_rows(figures)
    if not rows:
        return "targets: none measured"
    return format_table(COLUMNS, rows, markdown)
