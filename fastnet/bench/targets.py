"""The targets summary: the ratios the next speed work is judged by, with raw figures.

Every ratio divides two timings of the same run; one thread throughout.
A target whose figures were not measured (a peer skipped) is left out.
"""
from dataclasses import dataclass

from .inference import LATENCY, PREDICT_PROBA
from .report import faster_text, format_table, significant
from .settings import BATCH_SIZE, INFERENCE_HIDDEN, INFERENCE_ROWS
from .training import PER_SAMPLE, SGD_BATCH

COLUMNS = ("target", "fastnet", "peer", "peer's figure", "ratio", "fastnet % of bound")


@dataclass(frozen=True)
class Target:
    """fastnet's figure against a peer's, both named by their Report keys."""

    name: str
    fastnet: tuple
    peer_name: str
    peer: tuple


TARGETS = (
    Target("per-sample SGD, digits, float64", (PER_SAMPLE, "digits", "fastnet", "float64"),
           "FANN float32", (PER_SAMPLE, "digits", "FANN", "float32")),
    Target("per-sample SGD, digits, float64", (PER_SAMPLE, "digits", "fastnet", "float64"),
           "scikit-learn batch 1", (PER_SAMPLE, "digits", "scikit-learn", "float64")),
    Target("per-sample SGD, MNIST-sized, float64",
           (PER_SAMPLE, "MNIST-sized", "fastnet", "float64"),
           "FANN float32", (PER_SAMPLE, "MNIST-sized", "FANN", "float32")),
    Target("per-sample SGD, MNIST-sized, float32",
           (PER_SAMPLE, "MNIST-sized", "fastnet", "float32"),
           "FANN float32", (PER_SAMPLE, "MNIST-sized", "FANN", "float32")),
    Target(f"SGD batch {BATCH_SIZE}, digits", (SGD_BATCH, "digits", "fastnet"),
           "PyTorch", (SGD_BATCH, "digits", "PyTorch")),
    Target(f"SGD batch {BATCH_SIZE}, MNIST-sized", (SGD_BATCH, "MNIST-sized", "fastnet"),
           "PyTorch", (SGD_BATCH, "MNIST-sized", "PyTorch")),
    Target("predict, one row", (LATENCY, "predict", "fastnet"),
           "scikit-learn", (LATENCY, "predict", "scikit-learn")),
    Target("MLPClassifier.partial_fit, one row", (LATENCY, "partial_fit", "fastnet"),
           "scikit-learn", (LATENCY, "partial_fit", "scikit-learn")),
    Target(f"predict_proba, {INFERENCE_ROWS} rows, "
           f"784-{'-'.join(map(str, INFERENCE_HIDDEN))}-10",
           (PREDICT_PROBA, "fastnet"), "scikit-learn", (PREDICT_PROBA, "scikit-learn")),
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
        rows.append((target.name, str(ours), target.peer_name, str(theirs),
                     faster_text(theirs.us, ours.us), bound))
    return rows


def format_targets(figures, markdown=False):
    """The targets summary as a table, or a line saying none were measured."""
    rows = target_rows(figures)
    if not rows:
        return "targets: none measured"
    return format_table(COLUMNS, rows, markdown)
