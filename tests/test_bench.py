"""fastnet bench's own logic: the bound model, tables, targets, the C programs' contracts.

No timing is asserted: sections run on tiny data against a fixed roofline
and only the shape of what they report is checked.
"""
import dataclasses
import types

import numpy as np
import pytest

import fastnet.kernels
from fastnet.bench import classifiers
from fastnet.bench.command import parse_args
from fastnet.bench.data import repeat_rows
from fastnet.bench.fann import FannDriver
from fastnet.bench.gemms import blas_gemms
from fastnet.bench.inference import (GEMMS_ALONE, LATENCY, PREDICT_PROBA, latency_section,
                                     one_row_call)
from fastnet.bench.native import c_compiler, compile_program, run_program
from fastnet.bench.report import Figure, Report, faster_text, format_table, significant
from fastnet.bench.roofline import (Bound, Roofline, Work, fastnet_live_share, live_input_share,
                                    memory_level, visited_input_share)
from fastnet.bench.settings import QUICK, Architecture
from fastnet.bench.targets import TARGETS, target_rows
from fastnet.bench.timing import (interleaved_median_call_seconds, interleaved_min_seconds,
                                  median_call_seconds)
from fastnet.bench import training
from fastnet.bench.training import SGD_BATCH, minibatch_section

DIGITS = Architecture(64, (100,))
TINY = dataclasses.replace(QUICK, repeats=1, latency_calls=5)


class FixedRoofline:
    """A roofline whose every bound is 1 µs, bound by 'FMA', and whose
    fastest GEMM runs at 50 GFLOP/s."""

    def bound(self, work, threads):
        return Bound(1e-6, "FMA")

    def fastest_gemm(self, dtype, threads):
        return 50.0, "numpy GEMM 1024²"


def test_architecture_counts_connection_weights():
    assert DIGITS.units == (64, 100, 10)
    assert DIGITS.weights == 64 * 100 + 100 * 10
    assert str(Architecture(784, (256, 128))) == "784-256-128-10"


def test_training_work_reads_each_weight_once_and_updates_it_once():
    work = Work.training(DIGITS, "float64")
    # forward and update for every weight, backpropagation past the first layer
    assert work.flops == 6 * 7400 - 2 * 6400
    # read forward, read + write in the update; the first layer's update
    # sweep also computes the next sample's forward pass
    assert work.bytes == (2 * 6400 + 3 * 1000) * 8
    assert work.footprint == 7400 * 8
    batch = Work.training(DIGITS, "float32", batch_size=200)
    assert batch.bytes == 3 * 7400 * 4 / 200
    assert batch.flops == 6 * 7400 - 2 * 6400


def test_minibatch_work_counts_the_live_inputs_first_layer_gemms():
    # the first layer's forward and gradient GEMMs on a quarter of the inputs
    batch = Work.training(DIGITS, "float64", 200, live_share=0.25)
    assert batch.flops == 6 * 7400 - 2 * 6400 - 4 * 0.75 * 6400
    assert batch.bytes == 3 * 7400 * 8 / 200
    inference = Work.inference(DIGITS, "float64", rows=100, live_share=0.25)
    assert inference.flops == 2 * (7400 - 0.75 * 6400)


def test_live_input_share_follows_the_kernels_rule():
    # 64 inputs; rows 0..127 live in inputs 0..31 only, rows 128..159 in all
    X = np.zeros((160, 64))
    X[:128, :32] = 1.0
    X[128:, :] = 1.0
    # blocks of 64: two of half the inputs, then 32 rows (too few to compact)
    assert live_input_share(X, 64, shuffle=False) == pytest.approx((2 * 64 * 0.5 + 32) / 160)
    # blocks of 40: the fourth mixes both (all live), the others below 64 rows
    assert live_input_share(X, 40, shuffle=False) == 1.0
    # an eighth of the inputs dead is left out, less is not
    Y = np.ones((100, 64))
    Y[:, :8] = 0
    assert live_input_share(Y, 100, shuffle=False) == pytest.approx(56 / 64)
    Y[0, 0] = 1
    assert live_input_share(Y, 100, shuffle=False) == 1.0
    # a shuffled epoch: the same rows in another order
    assert live_input_share(X, 160) == pytest.approx(1.0)
    assert 0 < live_input_share(X[:128], 64) == pytest.approx(0.5)


def test_fastnet_live_share_is_whole_where_the_first_layer_leaves_nothing_out():
    X = np.zeros((128, 64))
    X[:, :32] = 1.0
    wide = Architecture(64, (2048,))           # 131,072 weights: BLAS, compacts
    assert fastnet_live_share(X, wide, 64, shuffle=False) == pytest.approx(0.5)
    narrow = fastnet_live_share(X, DIGITS, 64, shuffle=False)
    assert narrow == (1.0 if fastnet.kernels.module.HAS_SMALL_GEMMS else pytest.approx(0.5))


def test_fused_first_layer_counts_the_share_it_visits():
    work = Work.training(DIGITS, "float64", first_layer_share=0.25)
    assert work.bytes == (2 * 0.25 * 6400 + 3 * 1000) * 8
    assert work.flops == 6 * 7400 - 2 * 6400 and work.footprint == 7400 * 8
    # minibatch steps fuse nothing
    assert Work.training(DIGITS, "float64", 200, 0.25).bytes == 3 * 7400 * 8 / 200


def test_visited_input_share_counts_blocks_live_in_either_row():
    # 19 inputs: blocks 0..7 and 8..15, then 3 tail columns, always visited
    X = np.zeros((4, 19))
    X[0, 3] = X[1, 3] = 1.0        # block 0 live in half the rows
    X[:, 17] = 1.0                 # tail
    # block 0: 1 - (1 - 1/2)^2 = 3/4 of pairs visit it; block 1 never
    assert visited_input_share(X, block=8) == pytest.approx((0.75 * 8 + 3) / 19)
    assert visited_input_share(np.ones((3, 16)), block=8) == 1.0
    assert visited_input_share(np.zeros((3, 16)), block=8) == 0.0


def test_visited_input_share_counts_inputs_live_in_either_row():
    # the column copy's sweep: each input on its own
    X = np.zeros((4, 19))
    X[0, 3] = X[1, 3] = 1.0        # input 3 non-zero in half the rows
    X[:, 17] = 1.0                 # input 17 always
    # input 3: 1 - (1 - 1/2)^2 = 3/4 of pairs visit it; input 17 all; no other
    assert visited_input_share(X) == pytest.approx((0.75 + 1) / 19)
    assert visited_input_share(np.ones((3, 16))) == 1.0
    assert visited_input_share(np.zeros((3, 16))) == 0.0


def test_inference_work_reads_the_weights_once_per_call():
    work = Work.inference(DIGITS, "float64", rows=100)
    assert work.flops == 2 * 7400
    assert work.bytes == 7400 * 8 / 100


def roofline_with(fma_gflops, bandwidth_gbps):
    """A Roofline holding given measurements instead of running the probe."""
    roofline = Roofline([("AVX2", "never run")], gemm_peaks={})
    roofline._fma_peaks = {1: {"AVX2": (fma_gflops, 2 * fma_gflops)}}
    roofline._bandwidths = {(7400 * 8, 1): bandwidth_gbps}
    roofline.levels = [(1, 32 * 1024, False), (2, 1024 * 1024, False), (3, 2**25, True)]
    return roofline


def test_bound_is_the_longer_of_compute_and_traffic():
    work = Work.training(DIGITS, "float64")
    compute_bound = roofline_with(fma_gflops=10.0, bandwidth_gbps=100.0).bound(work, 1)
    assert compute_bound.binds == "FMA"
    assert compute_bound.seconds == pytest.approx((6 * 7400 - 2 * 6400) / 10e9)
    traffic_bound = roofline_with(fma_gflops=10.0, bandwidth_gbps=10.0).bound(work, 1)
    assert traffic_bound.binds == "L2"      # 59 200 bytes: above L1's 32 KiB, within L2
    assert traffic_bound.seconds == pytest.approx((2 * 6400 + 3 * 1000) * 8 / 10e9)


def test_bound_falls_back_to_numpy_gemm_without_the_probe():
    roofline = Roofline([], gemm_peaks={("float32", 2): 50.0})
    bound = roofline.bound(Work.training(DIGITS, "float32"), 2)
    assert bound == Bound((6 * 7400 - 2 * 6400) / 50e9, "GEMM")


def test_memory_level_counts_a_thread_share_in_private_caches():
    levels = [(1, 48 * 1024, False), (2, 2 * 2**20, False), (3, 256 * 2**20, True)]
    assert memory_level(30_000, 1, levels) == "L1"
    assert memory_level(60_000, 1, levels) == "L2"
    assert memory_level(60_000, 2, levels) == "L1"          # 30 000 bytes per thread
    assert memory_level(3 * 2**20, 2, levels) == "L2"
    assert memory_level(3 * 2**20, 1, levels) == "L3"
    assert memory_level(2**30, 2, levels) == "memory"
    assert memory_level(1, 1, []) == "bandwidth"


def test_significant_and_faster_text():
    assert significant(0.012345) == "0.0123"
    assert significant(4.8) == "4.80"
    assert significant(1234.4) == "1234"
    assert faster_text(10.0, 2.0) == "fastnet 5.00× faster"
    assert faster_text(2.0, 10.0, "2 threads") == "2 threads 5.00× slower"


def test_format_table_blanks_repeated_groups():
    rows = [("a", "1"), ("a", "22"), ("b", "3")]
    assert format_table(("x", "y"), rows).splitlines() == [
        "x  y", "-  --", "a  1", "   22", "b  3"]
    assert format_table(("x", "y"), rows, markdown=True).splitlines() == [
        "| x | y |", "|---|---|", "| a | 1 |", "|  | 22 |", "| b | 3 |"]


def test_target_rows_quote_both_figures_and_skip_missing_peers():
    digits_fann = TARGETS[0]
    assert digits_fann.goal == 8
    figures = {digits_fann.fastnet: Figure(4.0, "µs/sample", 0.5, "L2"),
               digits_fann.peer: Figure(20.0, "µs/sample", 0.1, "L1")}
    # 8x FANN's 20 µs is 2.5 µs: 4/2.5 = 1.6 times the 50 % fastnet is at now
    assert target_rows(figures) == [("per-sample SGD, digits, float64", "4.00 µs/sample",
                                     "FANN float32", "20.0 µs/sample", "fastnet 5.00× faster",
                                     "8×", "50 % L2", "2.50 µs/sample: 80 % L2")]
    del figures[digits_fann.peer]
    assert target_rows(figures) == []


def test_goal_needs_says_what_a_gemm_case_would_ask_of_the_fastest_gemm():
    batch = next(target for target in TARGETS if target.goal == 1.2)
    figures = {batch.fastnet: Figure(30.0, "µs/sample", 0.6, "FMA", 40.0, (50.0, "PyTorch")),
               batch.peer: Figure(30.0, "µs/sample", 0.6, "FMA", 40.0, (50.0, "PyTorch"))}
    [row] = target_rows(figures)
    # 1.2x faster than 30 µs: 25 µs, at 1.2 x 60 % of the FMA peak and
    # 1.2 x 40 = 48 GFLOP/s, 96 % of the fastest GEMM's 50
    assert row[4:] == ("fastnet 1.00× faster", "1.2×", "60 % FMA",
                       "25.0 µs/sample: 72 % FMA, 48.0 GFLOP/s = 96 % of PyTorch")
    latency = next(target for target in TARGETS if target.goal == 40)
    figures = {latency.fastnet: Figure(50.0, "µs/call"), latency.peer: Figure(2400.0, "µs/call")}
    assert target_rows(figures)[0][5:] == ("40×", "", "60.0 µs/call")


def test_a_goal_under_the_gemms_alone_says_so():
    proba = TARGETS[-1]
    assert proba.floor == (PREDICT_PROBA, GEMMS_ALONE)
    figures = {proba.fastnet: Figure(20.0, "µs/sample"), proba.peer: Figure(24.0, "µs/sample")}
    figures[proba.floor] = Figure(17.0, "µs/sample")
    # 24 / 1.5 = 16 µs, under the 17 µs of the GEMMs alone
    assert target_rows(figures)[0][-1] == ("16.0 µs/sample; its GEMMs alone take "
                                           "17.0 µs/sample, more than the goal allows")
    figures[proba.floor] = Figure(15.0, "µs/sample")
    assert target_rows(figures)[0][-1] == "16.0 µs/sample; its GEMMs alone take 15.0 µs/sample"


def test_blas_gemms_run_fastnets_layer_products_block_by_block(monkeypatch):
    import scipy.linalg.blas

    calls = []

    def dgemm(alpha, a, b, beta, c, trans_a, overwrite_c):
        assert (alpha, beta, trans_a, overwrite_c) == (1.0, 1.0, 1, 1)
        assert a.flags.f_contiguous and b.flags.f_contiguous and c.flags.f_contiguous
        calls.append((a.shape, b.shape, c.shape))

    monkeypatch.setattr(scipy.linalg.blas, "dgemm", dgemm)
    blas_gemms((6, 4, 3), n_rows=10, block_rows=4, live_share=0.5)()
    # blocks of 4, 4 and 2 rows; the first layer over 3 of the 6 inputs
    assert calls == [((3, 4), (3, rows), (4, rows)) if layer == 0 else
                     ((4, 3), (4, rows), (3, rows))
                     for rows in (4, 4, 2) for layer in (0, 1)]


def test_fastest_gemm_is_the_faster_of_numpy_and_pytorch():
    roofline = Roofline([], gemm_peaks={("float64", 1): 50.0},
                        torch_gemm_peaks={("float64", 1): 55.0})
    assert roofline.fastest_gemm("float64", 1) == (55.0, "PyTorch GEMM 1024²")
    roofline.torch_gemm_peaks = {}
    assert roofline.fastest_gemm("float64", 1) == (50.0, "numpy GEMM 1024²")


def test_report_records_throughput_against_its_bound():
    report = Report(FixedRoofline())
    report.throughput("m", "fastnet", 4.0, Work.training(DIGITS, "float64"), 1, key=("k",))
    row = report.rows[0]
    assert row.result == "4.00 µs/sample"
    flops = 6 * 7400 - 2 * 6400
    assert row.gflops == significant(flops / 4e3)
    assert row.gbps == significant((2 * 6400 + 3 * 1000) * 8 / 4e3)
    assert row.bound == "25 % FMA"
    assert report.figures[("k",)] == Figure(4.0, "µs/sample", 0.25, "FMA", flops / 4e3)
    report.throughput("m", "fastnet", 4.0, Work.training(DIGITS, "float64", 200), 1,
                      key=("g",), gemm=True)
    assert report.figures[("g",)].fastest_gemm == (50.0, "numpy GEMM 1024²")


def test_fann_data_file_layout(tmp_path):
    X = np.array([[0.5, 1.0], [0.25, 0.0]])
    path = FannDriver(str(tmp_path), "unused")._write_data("train.bin", X, np.array([3, 0]))
    raw = open(path, "rb").read()
    assert np.frombuffer(raw[:12], dtype=np.int32).tolist() == [2, 2, 10]
    rows = np.frombuffer(raw[12:], dtype=np.float32).reshape(2, 12)
    np.testing.assert_array_equal(rows[:, :2], X)
    np.testing.assert_array_equal(rows[:, 2:], np.eye(10)[[3, 0]])


@pytest.mark.skipif(c_compiler() is None, reason="no C compiler")
def test_roofline_probe_prints_positive_figures(tmp_path):
    executable = str(tmp_path / "roofline")
    assert compile_program("roofline.c", executable) is None
    float64, float32 = map(float, run_program([executable, "fma", "1"]).split())
    assert float64 > 0 and float32 > 0
    assert float(run_program([executable, "stream", "100000", "1"])) > 0
    assert run_program([executable, "nonsense"]) is None


def test_median_call_seconds_calls_each_index_once_after_the_warm_up():
    calls = []
    seconds = median_call_seconds(calls.append, 7, warm_up=3)
    assert calls == [0, 1, 2, 0, 1, 2, 3, 4, 5, 6]
    assert seconds >= 0


def test_interleaved_tools_take_turns_and_keep_their_fastest():
    calls = []
    times = {"a": iter([3.0, 1.0, 2.0]), "b": iter([5.0, 6.0, 4.0])}

    def measure(tool):
        def run():
            calls.append(tool)
            return next(times[tool])
        return run

    best = interleaved_min_seconds({tool: measure(tool) for tool in times}, 3,
                                   at_least_seconds=0)
    assert calls == ["a", "b"] * 3
    assert best == {"a": 1.0, "b": 4.0}


def test_interleaved_short_measurements_repeat_until_enough_time_passed():
    rounds = []
    best = interleaved_min_seconds({"a": lambda: rounds.append(1) or 0.1}, 2,
                                   at_least_seconds=0.55)
    assert len(rounds) == 6 and best == {"a": 0.1}


def test_interleaved_calls_take_turns_block_by_block():
    calls = []
    seconds = interleaved_median_call_seconds(
        {"a": lambda i: calls.append(("a", i)), "b": lambda i: calls.append(("b", i))}, 5,
        warm_up=1, block=2)
    # each block: one warm-up call, then the block's calls
    assert calls == [("a", 0), ("a", 0), ("a", 1), ("b", 0), ("b", 0), ("b", 1),
                     ("a", 2), ("a", 2), ("a", 3), ("b", 2), ("b", 2), ("b", 3),
                     ("a", 4), ("a", 4), ("b", 4), ("b", 4)]
    assert set(seconds) == {"a", "b"} and min(seconds.values()) >= 0


def test_classifier_turn_keeps_the_fastest_of_its_epochs(monkeypatch):
    """A turn of epochs_per_turn epochs back to back (as FANN's driver runs
    them) reports its fastest epoch; the warm-up call is not timed."""
    calls = []

    class Recorder:
        def __init__(self, **params):
            pass

        def partial_fit(self, X, y, classes=None):
            calls.append(len(X))

    library = types.SimpleNamespace(__name__="peer", MLPClassifier=Recorder)
    clock = iter([0.0, 3.0, 10.0, 11.0, 20.0, 22.0])     # epochs of 3, 1 and 2 s
    monkeypatch.setattr(classifiers, "time", types.SimpleNamespace(perf_counter=lambda: next(clock)))
    X, y = np.zeros((300, 2)), np.zeros(300, dtype=int)
    measure = classifiers.classifier_epochs(library, X, y, (4,), "sgd", 1, epochs_per_turn=3)
    assert calls == [200]
    assert measure() == 1.0
    assert calls == [200, 300, 300, 300]


def test_repeat_rows_cycles_through_the_rows():
    X = np.arange(6.0).reshape(3, 2)
    rows = repeat_rows(X, 7)
    assert rows.flags.c_contiguous
    np.testing.assert_array_equal(rows, X[[0, 1, 2, 0, 1, 2, 0]])


def test_one_row_call_passes_one_row_and_its_label():
    class Recorder:
        def __init__(self):
            self.seen = []

        def partial_fit(self, X, y):
            self.seen.append((X.tolist(), y.tolist()))

    model = Recorder()
    call = one_row_call(model, "partial_fit", np.array([[1.0], [2.0]]), np.array([5, 6]))
    call(0)
    call(3)
    assert model.seen == [([[1.0]], [5]), ([[2.0]], [6])]


def test_sections_report_rows_and_target_figures():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X, y = X[:60] / 16.0, y[:60]
    report = Report(FixedRoofline())
    minibatch_section(report, SGD_BATCH, "sgd-batch", "digits", X, y, DIGITS, TINY, [1])
    latency_section(report, (X, None, y, None), TINY)
    assert [row.tool for row in report.rows[:2]] == ["fastnet", "scikit-learn"]
    assert (SGD_BATCH, "digits", "fastnet") in report.figures
    assert report.figures[(LATENCY, "partial_fit", "scikit-learn")].unit == "µs/call"
    assert len(report.rows) == 2 + 6


@pytest.mark.parametrize("peer_samples", [40, 20])
def test_per_sample_section_times_scikit_learn_in_turns_on_all_samples(peer_samples,
                                                                      monkeypatch):
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X, y = X[:40] / 16.0, y[:40]
    turns = []
    original = interleaved_min_seconds

    def recording(measures, repeats, **kwargs):
        turns.append(sorted(map(str, measures)))
        return original(measures, repeats, **kwargs)

    monkeypatch.setattr(training, "interleaved_min_seconds", recording)
    report = Report(FixedRoofline())
    training.per_sample_section(report, "digits", X, y, DIGITS, TINY, peer_samples, [1],
                                training.Peers())
    in_turns = peer_samples == len(X)
    assert ("scikit-learn" in str(turns[0])) == in_turns
    [row] = [row for row in report.rows if row.tool == "scikit-learn"]
    assert row.setting == "float64, 1 thread" + ("" if in_turns else ", 20 samples")
    assert ("per-sample SGD", "digits", "scikit-learn", "float64") in report.figures


def test_command_line_defaults():
    args = parse_args([])
    assert (args.quick, args.markdown, args.threads, args.no_torch, args.no_fann) == (
        False, False, [1, 2], False, False)
    assert parse_args(["--quick", "--threads", "4", "--no-fann"]).threads == [4]
