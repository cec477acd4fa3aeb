"""The ``fastnet bench`` command: options, the order of the sections, the printout."""
import argparse
import tempfile
import time

from .data import load_digits_split, load_mnist_sized
from .fann import FannDriver, find_fann_version
from .inference import latency_section, predict_proba_section
from .machine import busy_note, machine_lines
from .race import race_section
from .report import COLUMNS, Report, format_table
from .roofline import Roofline
from .settings import DIGITS_HIDDEN, FULL, MNIST_HIDDEN, QUICK, Architecture
from .targets import format_targets
from .timing import optional_module
from .training import (ADAM, EPOCHS_PER_TURN, SGD_BATCH, Peers, minibatch_section,
                       per_sample_section, wide_section)


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="fastnet bench",
        description="fastnet vs scikit-learn, PyTorch and FANN: µs per training sample per "
                    "epoch against the machine's FMA peak and weight-traffic bandwidth, "
                    "thread scaling, float32, minibatch SGD and Adam, one-row latencies, "
                    "bulk predict_proba, time to 97 % on digits, and a targets summary.")
    parser.add_argument("--quick", action="store_true",
                        help="smaller samples and subsets: about a minute on 2 cores")
    parser.add_argument("--markdown", action="store_true", help="print the tables as Markdown")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], metavar="N",
                        help="thread counts (fastnet n_jobs, BLAS threads) besides 1 "
                             "(default: 1 2)")
    parser.add_argument("--no-torch", action="store_true", help="leave PyTorch out")
    parser.add_argument("--no-fann", action="store_true", help="leave FANN out")
    return parser.parse_args(argv)


def start_peers(args, workdir, notes):
    """The peers this run uses; why the others are left out goes to ``notes``."""
    peers = Peers()
    if args.no_torch:
        notes.append("PyTorch: skipped (--no-torch)")
    else:
        peers.torch = optional_module("torch")
        if peers.torch is None:
            notes.append("PyTorch: skipped (not installed)")
    if args.no_fann:
        notes.append("FANN: skipped (--no-fann)")
    else:
        peers.fann, why_not = FannDriver.build(workdir)
        if why_not:
            notes.append(why_not)
    return peers


def run_sections(report, budget, thread_counts, peers):
    """Every section, in the order of the table."""
    digits = load_digits_split()
    X_digits, _, y_digits, _ = digits
    X_mnist, y_mnist, mnist_source = load_mnist_sized(budget.mnist_samples)
    print(f"data: digits {len(X_digits)} training samples; MNIST-sized: {mnist_source}")
    digits_net = Architecture(X_digits.shape[1], DIGITS_HIDDEN)
    mnist_net = Architecture(X_mnist.shape[1], MNIST_HIDDEN)

    # digits' layers are below fastnet's threading threshold: its 2-thread
    # row shows that asking for threads there costs nothing
    per_sample_section(report, "digits", X_digits, y_digits, digits_net, budget,
                       budget.digits_peer_samples, thread_counts, peers)
    per_sample_section(report, "MNIST-sized", X_mnist, y_mnist, mnist_net, budget,
                       budget.mnist_peer_samples, thread_counts, peers)
    wide_section(report, X_mnist, y_mnist, budget, thread_counts)
    for title, X, y, net in (("digits", X_digits, y_digits, digits_net),
                             ("MNIST-sized", X_mnist, y_mnist, mnist_net)):
        minibatch_section(report, SGD_BATCH, "sgd-batch", title, X, y, net, budget, [1],
                          peers.torch)
        minibatch_section(report, ADAM, "adam", title, X, y, net, budget, thread_counts)
    latency_section(report, digits, budget)
    predict_proba_section(report, X_mnist, y_mnist, budget)
    race_section(report, digits, budget, peers.fann)


def print_report(report, budget, markdown):
    """The table, the targets summary and the notes."""
    print()
    print(format_table(COLUMNS, [row.cells() for row in report.rows], markdown))
    print()
    print("targets (one thread, ratios of this run):")
    print(format_targets(report.figures, markdown))
    print()
    print(report.roofline.describe_bandwidths())
    for note in report.notes:
        print(f"note: {note}")
    print(f"note: µs/sample is training time per sample per epoch (per row for predict_proba); "
          f"each timing is the minimum of {budget.repeats} or more epochs, each latency the "
          "median of single calls; fastnet's one-thread per-sample rows, FANN and "
          "scikit-learn where it trains on all the samples take turns, "
          f"each turn the fastest of {EPOCHS_PER_TURN} epochs back to back (FANN's driver "
          "times its turn so); "
          "per-sample scikit-learn and PyTorch rows time a subset "
          "where shown; 'comparison' is a ratio of timings of this run")
    print("note: GFLOP/s counts 6 flops per weight per training sample, 2 fewer per "
          "first-layer weight (nothing backpropagates into the inputs), and 2 per weight per "
          "row of inference; fastnet's minibatch and predict_proba rows count only the "
          "first-layer work on the inputs it does not leave out (see its note); GB/s counts "
          "the weights' traffic, 3 × their bytes per sample (read "
          "forward, read and write in the update; 2 × for the first layer of per-sample SGD, "
          "whose update sweep also computes the next sample's forward pass, times the share "
          "of it the sweep visits; per batch of 200 "
          "in minibatch rows, Adam's moment arrays not counted); % of bound = the longer of the FMA-peak time and the "
          "traffic time at the bandwidth of the level that holds the weights, over the "
          "measured time, with what binds (see fastnet/bench/roofline.py); fastnet skips "
          "the update of rows whose ReLU is inactive, so it moves fewer bytes than counted "
          "and can pass 100 %")


def main(argv=None):
    """Run the benchmark and print the tables; returns the exit status (0)."""
    args = parse_args(argv)
    budget = QUICK if args.quick else FULL
    started = time.perf_counter()
    thread_counts = sorted({1, *args.threads})
    notes = [note for note in (busy_note(),) if note]

    with tempfile.TemporaryDirectory(prefix="fastnet-bench-") as workdir:
        peers = start_peers(args, workdir, notes)
        print(f"fastnet bench{' --quick' if args.quick else ''}")
        for line in machine_lines(peers.torch, None if args.no_fann else find_fann_version()):
            print(line)
        roofline, why_not = Roofline.build(workdir, thread_counts, peers.torch)
        notes += [why_not] if why_not else []
        for line in roofline.describe(thread_counts):
            print(line)
        report = Report(roofline)
        report.notes += notes
        run_sections(report, budget, thread_counts, peers)

    print_report(report, budget, args.markdown)
    print(f"total bench time: {time.perf_counter() - started:.1f} s")
    return 0
