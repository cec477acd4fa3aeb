"""Training-speed sections: per-sample SGD, the wide network, minibatch Adam and SGD.

Each row is µs per training sample per epoch set against its roofline
bound; a peer's row says how many times faster fastnet is.  Figures the
targets summary quotes are recorded under keys ``(section, data, tool[, dtype])``.
"""
from dataclasses import dataclass

from .classifiers import classifier_epochs, time_classifier_epoch
from .report import faster_text, threads_text
from .roofline import Work, fastnet_live_share, visited_input_share
from .settings import BATCH_SIZE, WIDE_HIDDEN, Architecture
from .timing import interleaved_min_seconds
from .torch_peer import time_torch_epoch, torch_epochs

# Epochs a turn of the per-sample rows runs back to back, timing the fastest:
# FANN's driver's (fann.FannDriver.epochs), so that the tools' turns alike
# start on caches the other tools left and go on with warm ones.
EPOCHS_PER_TURN = 3

PER_SAMPLE = "per-sample SGD"
ADAM = f"Adam batch {BATCH_SIZE}"
SGD_BATCH = f"SGD batch {BATCH_SIZE}"


@dataclass
class Peers:
    """The optional peers of this run: the torch module and the FANN driver, or None."""

    torch: object = None
    fann: object = None


def fastnet_rows(report, measurement, X, y, architecture, budget, thread_counts,
                 note="", key=None, rivals=None):
    """fastnet's per-sample SGD in float64 and float32 at each thread count.

    Returns ({(dtype, threads): µs per sample}, {dtype: the rows' Work});
    each row is compared with the same dtype at one thread, or float32 at
    one thread with float64.
    One-thread rows are recorded under ``(*key, dtype)`` when ``key`` is given.
    ``rivals`` ({tool: measure of one turn}) are timed in turns with the
    one-thread rows (timing.interleaved_min_seconds), a turn being the
    fastest of EPOCHS_PER_TURN epochs; their µs per sample are returned
    under (tool, 1).
    """
    import fastnet

    share = visited_input_share(X)
    if share < 1:
        report.notes.append(
            f"{measurement}: per-sample SGD's first-layer sweep visits "
            f"{share:.0%} of that layer's weights on these inputs (the inputs zero in both "
            "the sample and the next are skipped); the row's GB/s and bound count that "
            "share")
    work = {dtype: Work.training(architecture, dtype, first_layer_share=share)
            for dtype in ("float64", "float32")}
    # with rivals, each turn is the fastest of as many epochs back to back as
    # FANN's turn runs: a turn's first epoch finds the caches as the other
    # tools left them
    per_turn = EPOCHS_PER_TURN if rivals else 1
    measures = {(dtype, 1): classifier_epochs(fastnet, X, y, architecture.hidden, "sgd", 1,
                                              dtype, epochs_per_turn=per_turn)
                for dtype in ("float64", "float32")}
    measures.update({(tool, 1): measure for tool, measure in (rivals or {}).items()})
    us = {tool: seconds / len(X) * 1e6
          for tool, seconds in interleaved_min_seconds(measures, budget.repeats).items()}
    for dtype in ("float64", "float32"):
        for threads in thread_counts:
            if threads > 1:
                us[dtype, threads] = time_classifier_epoch(fastnet, X, y, architecture.hidden,
                                                           "sgd", threads, budget.repeats, dtype)
                comparison = faster_text(us[dtype, 1], us[dtype, threads], threads_text(threads))
            elif dtype == "float32":
                comparison = faster_text(us["float64", 1], us[dtype, 1], "float32")
            else:
                comparison = ""
            report.throughput(measurement, "fastnet", us[dtype, threads],
                              work[dtype], threads, comparison, note,
                              key=(*key, dtype) if key and threads == 1 else None)
    return us, work


def per_sample_section(report, title, X, y, architecture, budget, peer_samples, thread_counts,
                       peers):
    """Per-sample SGD: fastnet, then scikit-learn, PyTorch and FANN when present.

    scikit-learn and PyTorch train on the first ``peer_samples`` samples only.
    FANN, and scikit-learn when it trains on all of them, take turns with
    fastnet's one-thread rows (fastnet_rows' rivals).
    """
    from sklearn import neural_network as sklearn_mlp

    measurement = f"{PER_SAMPLE}, {title} {architecture}"
    subset = slice(0, min(peer_samples, len(X)))
    # the per-sample targets' peers take turns with fastnet's epochs: FANN,
    # and scikit-learn where it trains on the same samples
    rivals = {} if peers.fann is None else {"FANN": peers.fann.epochs(
        X, y, architecture, epochs_per_run=EPOCHS_PER_TURN)}
    if subset.stop == len(X):
        rivals["scikit-learn"] = classifier_epochs(sklearn_mlp, X, y, architecture.hidden,
                                                   "sgd", 1, epochs_per_turn=EPOCHS_PER_TURN)
    fastnet_us, work = fastnet_rows(report, measurement, X, y, architecture, budget,
                                    thread_counts, key=(PER_SAMPLE, title, "fastnet"),
                                    rivals=rivals)

    def peer_row(tool, us, dtype, note=""):
        # the same work as fastnet's rows: what the task needs at the least
        report.throughput(measurement, tool, us, work[dtype], 1,
                          faster_text(us, fastnet_us[dtype, 1]), note,
                          key=(PER_SAMPLE, title, tool, dtype))

    note = f", {subset.stop} samples" if subset.stop < len(X) else ""
    peer_row("scikit-learn", fastnet_us["scikit-learn", 1] if "scikit-learn" in rivals else
             time_classifier_epoch(sklearn_mlp, X[subset], y[subset], architecture.hidden,
                                   "sgd", 1, budget.repeats), "float64", note)
    if peers.torch is not None:
        peer_row("PyTorch", time_torch_epoch(peers.torch, X[subset], y[subset], architecture,
                                             1, 1, budget.repeats), "float64", note)
    if peers.fann is not None:
        peer_row("FANN", fastnet_us["FANN", 1], "float32", ", tanh")


def wide_section(report, X, y, budget, thread_counts):
    """fastnet alone on the wide network, where threads pay off most."""
    X, y = X[:budget.wide_samples], y[:budget.wide_samples]
    architecture = Architecture(X.shape[1], WIDE_HIDDEN)
    fastnet_rows(report, f"{PER_SAMPLE}, wide {architecture}", X, y, architecture, budget,
                 thread_counts, f", {len(X)} samples")


def minibatch_section(report, section, setup, title, X, y, architecture, budget, thread_counts,
                      torch=None):
    """Minibatch training (``setup`` of classifiers.SETUPS), float64: fastnet vs its peers.

    scikit-learn at every thread count, PyTorch too when ``torch`` is given.
    """
    import fastnet
    from sklearn import neural_network as sklearn_mlp

    measurement = f"{section}, {title} {architecture}"
    work = Work.training(architecture, "float64", BATCH_SIZE)
    share = fastnet_live_share(X, architecture, BATCH_SIZE)
    own_work = Work.training(architecture, "float64", BATCH_SIZE, live_share=share)
    if share < 1:
        report.note_live_inputs(measurement, share)
    for threads in thread_counts:
        def add(tool, comparison=True):
            report.throughput(measurement, tool, us[tool],
                              own_work if tool == "fastnet" else work, threads,
                              faster_text(us[tool], us["fastnet"]) if comparison else "",
                              key=(section, title, tool) if threads == 1 else None,
                              gemm=True)

        # the tools take turns, epoch by epoch (timing.interleaved_min_seconds)
        measures = {tool: classifier_epochs(library, X, y, architecture.hidden, setup, threads)
                    for tool, library in (("fastnet", fastnet), ("scikit-learn", sklearn_mlp))}
        if torch is not None:
            measures["PyTorch"] = torch_epochs(torch, X, y, architecture, BATCH_SIZE, threads)
        us = {tool: seconds / len(X) * 1e6
              for tool, seconds in interleaved_min_seconds(measures, budget.repeats).items()}
        add("fastnet", comparison=False)
        add("scikit-learn")
        if torch is not None:
            add("PyTorch")
