"""The kernel build this CPU runs: the widest vector unit it has.

setup.py compiles the same Cython source (``fastnet/_kernels/``) once per
instruction set: ``_kernels_portable`` for any x86-64 (SSE2) and, where the
compiler accepts the flags, ``_kernels_avx2`` (AVX2 and FMA) and
``_kernels_avx512`` (AVX-512).  Set ``FASTNET_KERNELS`` to a build's name
(``portable``, ``avx2-fma``, ``avx512``) to force it.

Everything the rest of fastnet uses from the kernels goes through this
module: ``Plan``, ``Samples``, the code tables ``Activation``, ``Loss`` and
``Optimizer``, and the OpenMP queries.
"""
import importlib
import os

from . import _kernels_portable as portable

# Every build, slowest first, with the CPU query that says this machine runs it.
BUILDS = {"portable": "_kernels_portable", "avx2-fma": "_kernels_avx2",
          "avx512": "_kernels_avx512"}
_RUNS_ON_THIS_CPU = {"portable": lambda: True, "avx2-fma": portable.cpu_has_avx2_fma,
                     "avx512": portable.cpu_has_avx512}


def available_builds():
    """Names of the builds this machine can run (built, and supported by the
    CPU), slowest first."""
    return [name for name in BUILDS if _RUNS_ON_THIS_CPU[name]() and _importable(name)]


def load(name):
    """The kernel module of the build called ``name`` (see ``BUILDS``)."""
    if name not in BUILDS:
        raise ValueError(f"unknown kernel build {name!r}; known: {sorted(BUILDS)}")
    return importlib.import_module(f"{__package__}.{BUILDS[name]}")


def _importable(name):
    try:
        load(name)
    except ImportError:  # built without this variant
        return False
    return True


def choose(requested=None):
    """The build to run: ``requested`` (or $FASTNET_KERNELS) if given, else the
    fastest this CPU runs."""
    requested = requested or os.environ.get("FASTNET_KERNELS", "")
    builds = available_builds()
    if requested:
        if requested not in builds:
            raise ValueError(f"FASTNET_KERNELS={requested!r} is not available here; "
                             f"available: {builds}")
        return requested
    return builds[-1]


NAME = choose()
module = load(NAME)
Plan = module.Plan
Samples = module.Samples
PARALLEL_MIN_WEIGHTS = module.PARALLEL_MIN_WEIGHTS
GEMM_SLICE_ROWS = module.GEMM_SLICE_ROWS
GRADIENT_CHUNK_ROWS = module.GRADIENT_CHUNK_ROWS
FORWARD_BLOCK_ROWS = module.FORWARD_BLOCK_ROWS
all_finite = module.all_finite
leaves_out_dead_inputs = module.leaves_out_dead_inputs
layer_offsets = portable.layer_offsets
Activation = portable.Activation
Loss = portable.Loss
Optimizer = portable.Optimizer
max_threads = portable.max_threads
has_openmp = portable.has_openmp
