"""The kernel build this CPU runs: AVX2/FMA when available, portable otherwise.

setup.py compiles the same Cython source twice: ``_kernels`` for any x86-64
(SSE2) and, where the compiler accepts the flags, ``_kernels_avx2`` with
``-mavx2 -mfma``, which runs the per-sample loops about twice as fast.  Set
``FASTNET_KERNELS=portable`` to force the portable build.
"""
import os

from . import _kernels as portable

kernels = portable
if os.environ.get("FASTNET_KERNELS", "") != "portable" and portable.cpu_has_avx2_fma():
    try:
        from . import _kernels_avx2 as kernels
    except ImportError:  # built without the AVX2 variant
        kernels = portable

train_epoch = kernels.train_epoch
loss_and_gradient = kernels.loss_and_gradient
forward = kernels.forward
lam_parts_size = kernels.lam_parts_size
max_threads = portable.max_threads
has_openmp = portable.has_openmp
NAME = "avx2-fma" if kernels is not portable else "portable"
