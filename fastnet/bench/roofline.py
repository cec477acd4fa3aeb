"""Bounds of a training step on this machine: the FMA peak and the weight traffic.

A per-sample SGD step on a network of W weights of s bytes each (8 in
float64, 4 in float32) cannot beat either of two times:

compute
    6 W − 2 W_1 flops — a multiply and an add per weight in the forward
    pass (z_i = Σ_j w_ij a_j) and in the update (w_ij ← w_ij − η δ_i a_j),
    and per weight past the first layer in backpropagation (Σ_i w_ij δ_i:
    no tool propagates into the inputs) — at the machine's FMA peak.
weight traffic
    3 W s bytes — each weight is read in the forward pass, then read and
    written in the update (fastnet backpropagates through a row of W in
    the same pass that updates it) — at the bandwidth of the memory level
    that holds W: a network whose weights fit in L2 streams them from L2
    every sample, a larger one from L3 or main memory.  The first layer
    moves 2 W_1 s bytes instead: plain per-sample SGD (the benchmark's)
    computes sample t+1's first-layer pre-activations in the sweep that
    applies sample t's update, so each of its weights is read and written
    once per sample.  In an epoch (a call of 16 samples or more) that sweep
    runs on an input-major copy of W_1 and skips the inputs that are zero
    in both samples (their weights neither move nor add to a sum), so only
    the share of the first layer it visits on the run's data counts
    (``visited_input_share``: about two thirds on digits, a third on MNIST
    images, whose borders and strokes' surroundings are blank).

Biases, activations and the input row are left out (under 2 % of the
bytes for digits' 64-100-10, less for larger networks).  The model touches
every weight; fastnet skips the update of a row whose ReLU unit is
inactive for the sample (its δ_i is zero), so it moves fewer bytes and can
pass 100 % of a traffic bound.  Minibatch training
moves the weights once per batch of b samples (3 W s / b bytes per sample,
no fused first layer;
the GEMMs' re-reads of cached blocks are ignored), still at 6 W − 2 W_1
flops.  Inference costs 2 W flops and reads W once per call: W s bytes per
row for one row, W s / n per row for n rows.

fastnet's minibatch GEMMs leave out the inputs that are zero throughout a
batch (a share of the first layer's weights at least an eighth, in batches
of 64 rows or more: fastnet/_kernels/live_inputs.pxi), so its own rows
count only the first-layer flops it does (``live_input_share``), 4 s W_1
instead of 4 W_1 in training and 2 s W_1 instead of 2 W_1 in inference;
the peers' rows of the same measurement count the whole work.

A row's bound is the larger of the two times; "% of bound" is that time
over the measured time, named by what binds (FMA, or the L1 / L2 / L3 /
memory bandwidth).  Both ceilings are measured in the same run by
``roofline.c``, compiled at run time at each vector width the compiler
knows (128-bit, AVX2, AVX-512) and run at the widest the CPU executes:

- FMA peak: independent chains of fused multiply-adds, float64 and
  float32, on each thread count;
- bandwidth: the sample's traffic — one read pass, one read-and-write
  pass — over an array of the weights' size, split among the threads
  (each keeps its share in its own caches, like the kernels' fixed neuron
  chunks), so the array sits in the same memory level as the weights.

Without a C compiler numpy's GEMM stands in for the peak and no traffic
bound is given.  numpy's GEMM (OpenBLAS, as fastnet's minibatch path) and
PyTorch's (MKL) are measured anyway on 1024² matrices: the fastest of them is
what a GEMM-bound row can hope for on this machine, and the targets summary
says what share of it a goal would need (fastnet/bench/targets.py).
"""
import os
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from ..kernels import leaves_out_dead_inputs
from .native import compile_program, run_program
from .timing import min_seconds

FLOPS_PER_WEIGHT_TRAINING = 6
FLOPS_PER_WEIGHT_INFERENCE = 2
# weight bytes moved per sample in units of W s: read (forward) + read and write (update)
TRAINING_PASSES = 3
# the first layer of per-sample SGD: one read-and-write sweep that updates for
# this sample and computes the next sample's pre-activations
FUSED_FIRST_LAYER_PASSES = 2
# (name, vector bytes, compiler flags), narrowest first
VECTOR_ISAS = (("128-bit", 16, ()), ("AVX2", 32, ("-mavx2", "-mfma")),
               ("AVX-512", 64, ("-mavx512f", "-mfma")))


@dataclass(frozen=True)
class Work:
    """What one sample costs: flops, bytes of weight traffic, and the weights' size."""

    flops: float
    bytes: float
    footprint: int  # bytes of weights, which decide the memory level
    dtype: str

    @classmethod
    def training(cls, architecture, dtype, batch_size=1, first_layer_share=1.0,
                 live_share=1.0):
        """One sample of plain SGD at ``batch_size`` (see the module docstring);
        per sample, the fused first-layer sweep visits ``first_layer_share``
        of that layer's weights; in minibatches, the first layer's GEMMs run
        on ``live_share`` of its inputs (fastnet's rows: live_input_share)."""
        itemsize = np.dtype(dtype).itemsize
        size = architecture.weights * itemsize
        first_weights = architecture.units[0] * architecture.units[1]
        traffic = TRAINING_PASSES * size / batch_size
        if batch_size == 1:
            traffic += ((FUSED_FIRST_LAYER_PASSES * first_layer_share - TRAINING_PASSES)
                        * first_weights * itemsize)
        # backpropagation stops at the first layer: 2 flops per weight fewer there
        flops = (FLOPS_PER_WEIGHT_TRAINING * architecture.weights - 2 * first_weights
                 - 4 * (1 - live_share) * first_weights)
        return cls(flops, traffic, size, dtype)

    @classmethod
    def inference(cls, architecture, dtype, rows=1, live_share=1.0):
        """One row of a forward pass over ``rows`` rows at a time, its first
        layer on ``live_share`` of the inputs (fastnet's rows: live_input_share)."""
        size = architecture.weights * np.dtype(dtype).itemsize
        first_weights = architecture.units[0] * architecture.units[1]
        flops = FLOPS_PER_WEIGHT_INFERENCE * (architecture.weights
                                              - (1 - live_share) * first_weights)
        return cls(flops, size / rows, size, dtype)


def visited_input_share(X, block=1):
    """The expected share of the first layer's weights that per-sample SGD's
    fused sweep visits for two samples of ``X`` drawn at random: the inputs
    where either row has a non-zero (the column copy of an epoch,
    fastnet/_kernels/columns.h), or with ``block=8`` the blocks of eight
    inputs where either row has one, and the ``n_in % block`` columns after
    the last block (the row-major sweep of a call of a few samples,
    fastnet/_kernels/rows.h).
    """
    n_in = X.shape[1]
    n_blocked = n_in - n_in % block
    live = (X[:, :n_blocked].reshape(len(X), -1, block) != 0).any(axis=2)
    share_live = live.mean(axis=0)
    visited = np.sum(1 - (1 - share_live) ** 2) * block + (n_in - n_blocked)
    return float(visited / n_in)


# fastnet's rule for leaving dead inputs out of a minibatch's first-layer
# GEMMs (fastnet/_kernels/live_inputs.pxi: COMPACT_MIN_ROWS, COMPACT_MIN_DEAD_SHARE)
COMPACT_MIN_ROWS = 64
COMPACT_MIN_DEAD_SHARE = 1 / 8


def fastnet_live_share(X, architecture, batch_size, shuffle=True):
    """live_input_share for fastnet's rows of ``architecture``: 1 where its
    first layer leaves no input out (it runs in small_gemm.h)."""
    if not leaves_out_dead_inputs(*architecture.units[:2]):
        return 1.0
    return live_input_share(X, batch_size, shuffle)


def live_input_share(X, batch_size, shuffle=True, seed=0):
    """The share of the first layer's GEMM work fastnet's minibatches do on
    ``X``: batches of ``batch_size`` rows (one epoch in a random order, or
    consecutive blocks without ``shuffle``), each counting the inputs not
    zero throughout it where fastnet leaves the others out, and all of them
    where it does not (fewer than COMPACT_MIN_ROWS rows, or fewer than
    COMPACT_MIN_DEAD_SHARE of the inputs dead).  fastnet_live_share checks
    first that the network's first layer leaves any out at all."""
    order = np.random.default_rng(seed).permutation(len(X)) if shuffle else np.arange(len(X))
    done = 0.0
    for start in range(0, len(X), batch_size):
        rows = X[order[start:start + batch_size]]
        live = float((rows != 0).any(axis=0).mean())
        compacted = len(rows) >= COMPACT_MIN_ROWS and 1 - live >= COMPACT_MIN_DEAD_SHARE
        done += len(rows) * (live if compacted else 1.0)
    return done / len(X)


@dataclass(frozen=True)
class Bound:
    """The shortest time a sample could take, and what sets it."""

    seconds: float
    binds: str  # "FMA", "GEMM", or the memory level: "L1", "L2", "L3", "memory"


def gemm_gflops(dtype, threads, size=1024, repeats=10):
    """GFLOP/s of numpy's matmul on ``size``² matrices with ``threads`` BLAS threads."""
    rng = np.random.default_rng(0)
    a = rng.random((size, size)).astype(dtype)
    b = rng.random((size, size)).astype(dtype)
    with threadpool_limits(limits=threads, user_api="blas"):
        a @ b  # warm-up: BLAS thread start and buffer allocation
        seconds = min_seconds(lambda: a @ b, repeats)
    return 2 * size**3 / seconds / 1e9


def torch_gemm_gflops(torch, dtype, threads, size=1024, repeats=10):
    """GFLOP/s of PyTorch's matmul on ``size``² matrices with ``threads`` threads."""
    rng = np.random.default_rng(0)
    a = torch.from_numpy(rng.random((size, size)).astype(dtype))
    b = torch.from_numpy(rng.random((size, size)).astype(dtype))
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        a @ b  # warm-up
        seconds = min_seconds(lambda: a @ b, repeats)
    finally:
        torch.set_num_threads(previous)
    return 2 * size**3 / seconds / 1e9


def cache_levels():
    """[(level, bytes, shared)] of the data caches of CPU 0, from Linux's sysfs.

    ``shared`` says whether other CPUs share the cache.  Empty elsewhere.
    """
    levels = []
    root = "/sys/devices/system/cpu/cpu0/cache"
    try:
        for index in sorted(name for name in os.listdir(root) if name.startswith("index")):
            def read(name):
                with open(os.path.join(root, index, name)) as file:
                    return file.read().strip()
            if read("type") == "Instruction":
                continue
            size = read("size")
            multiplier = {"K": 2**10, "M": 2**20, "G": 2**30}.get(size[-1], 1)
            shared = "," in read("shared_cpu_list") or "-" in read("shared_cpu_list")
            levels.append((int(read("level")), int(size.rstrip("KMG")) * multiplier, shared))
    except (OSError, ValueError):
        return []
    return sorted(levels)


def memory_level(footprint, threads, levels):
    """'L1', 'L2', … or 'memory': the first cache that holds a thread's share.

    A private cache holds one thread's share of the weights, a shared one
    all of them.
    """
    if not levels:
        return "bandwidth"
    for level, size, shared in levels:
        if (footprint if shared else footprint / threads) <= size:
            return f"L{level}"
    return "memory"


class Roofline:
    """The ceilings of this run: FMA peaks and weight-traffic bandwidths.

    Each figure is measured the first time a row asks for it and kept.
    """

    def __init__(self, probes, gemm_peaks, torch_gemm_peaks=None):
        self.probes = probes          # [(ISA name, executable)] that run here, narrowest first
        self.gemm_peaks = gemm_peaks  # {(dtype, threads): GFLOP/s of numpy's GEMM}
        self.torch_gemm_peaks = torch_gemm_peaks or {}   # the same of PyTorch's (if any)
        self.levels = cache_levels()
        self._fma_peaks = {}
        self._bandwidths = {}

    @classmethod
    def build(cls, workdir, thread_counts, torch=None):
        """Compile the probe at each vector width, keep those this CPU runs.

        Returns (roofline, note or None); numpy's GEMM (and PyTorch's, given
        the module) is measured for every dtype and thread count either way.
        """
        keys = [(dtype, threads) for dtype in ("float64", "float32") for threads in thread_counts]
        gemm = {key: gemm_gflops(*key) for key in keys}
        torch_gemm = {key: torch_gemm_gflops(torch, *key) for key in keys} if torch else {}
        probes, error = [], None
        for name, vector_bytes, flags in VECTOR_ISAS:
            executable = os.path.join(workdir, f"roofline-{vector_bytes}")
            defines = (f"-DVECTOR_BYTES={vector_bytes}", *flags)
            # with OpenMP if the compiler has it, else serial (one thread only)
            error = compile_program("roofline.c", executable, ("-fopenmp", *defines))
            if error is not None:
                error = compile_program("roofline.c", executable, defines)
            if error is None and run_program([executable, "fma", "1"]) is not None:
                probes.append((name, executable))
        if not probes:
            return cls([], gemm, torch_gemm), (f"roofline probe: not built ({error}); the "
                                               "bound is numpy's GEMM, without a traffic bound")
        return cls(probes, gemm, torch_gemm), None

    @property
    def isa(self):
        """Name of the widest vector width the probe runs at, or 'GEMM'."""
        return self.probes[-1][0] if self.probes else "GEMM"

    def fma_peaks(self, threads):
        """{ISA: (float64, float32) GFLOP/s} of every probe on ``threads`` threads."""
        if threads not in self._fma_peaks:
            peaks = {}
            for name, executable in self.probes:
                output = run_program([executable, "fma", str(threads)])
                if output is not None:
                    peaks[name] = tuple(float(value) for value in output.split())
            self._fma_peaks[threads] = peaks
        return self._fma_peaks[threads]

    def peak(self, dtype, threads):
        """(GFLOP/s, 'FMA') at the widest vector width, else (numpy's GEMM, 'GEMM')."""
        peaks = self.fma_peaks(threads)
        if self.isa in peaks:
            float64, float32 = peaks[self.isa]
            return (float32 if dtype == "float32" else float64), "FMA"
        return self.gemm_peaks[dtype, threads], "GEMM"

    def fastest_gemm(self, dtype, threads):
        """(GFLOP/s, name) of the fastest 1024² GEMM measured: numpy's or PyTorch's."""
        figures = [(self.gemm_peaks[dtype, threads], "numpy GEMM 1024²")]
        if (dtype, threads) in self.torch_gemm_peaks:
            figures.append((self.torch_gemm_peaks[dtype, threads], "PyTorch GEMM 1024²"))
        return max(figures)

    def bandwidth(self, footprint, threads):
        """GB/s of the weight traffic over ``footprint`` bytes, or None."""
        if not self.probes:
            return None
        key = (int(footprint), threads)
        if key not in self._bandwidths:
            output = run_program([self.probes[-1][1], "stream", str(key[0]), str(threads)])
            self._bandwidths[key] = float(output) if output else None
        return self._bandwidths[key]

    def bound(self, work, threads):
        """The larger of the compute time and the traffic time of ``work``."""
        gflops, peak_name = self.peak(work.dtype, threads)
        bound = Bound(work.flops / (gflops * 1e9), peak_name)
        bandwidth = self.bandwidth(work.footprint, threads)
        if bandwidth is not None and work.bytes / (bandwidth * 1e9) > bound.seconds:
            bound = Bound(work.bytes / (bandwidth * 1e9),
                          memory_level(work.footprint, threads, self.levels))
        return bound

    def describe_bandwidths(self):
        """One line: every weight-traffic bandwidth measured so far, with its level."""
        figures = [f"{footprint / 1e6:.3g} MB on {threads} thread(s) {gbps:.3g} "
                   f"({memory_level(footprint, threads, self.levels)})"
                   for (footprint, threads), gbps in sorted(self._bandwidths.items())
                   if gbps is not None]
        return ("weight-traffic bandwidth, GB/s (read pass + read-and-write pass, "
                f"{self.isa}): " + "; ".join(figures or ["not measured"]))

    def describe(self, thread_counts):
        """Lines for the header: every probe's FMA peak, and numpy's GEMM."""
        lines = [f"bound: FMA peak at {self.isa} width and the measured weight-traffic "
                 "bandwidth"]
        for threads in thread_counts:
            peaks = self.fma_peaks(threads)
            text = ", ".join(f"{name} {float64:.3g} / {float32:.3g}"
                             for name, (float64, float32) in peaks.items())
            gemm = f"{self.gemm_peaks['float64', threads]:.3g} / " \
                   f"{self.gemm_peaks['float32', threads]:.3g}"
            if ("float64", threads) in self.torch_gemm_peaks:
                gemm += (f"; PyTorch GEMM 1024² {self.torch_gemm_peaks['float64', threads]:.3g}"
                         f" / {self.torch_gemm_peaks['float32', threads]:.3g}")
            lines.append(f"peak GFLOP/s float64 / float32, {threads} thread(s): "
                         f"FMA {text or 'not measured'}; numpy GEMM 1024² {gemm}")
        return lines
