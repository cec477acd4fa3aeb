# fastnet's kernels, one concept per file, compiled as one module per
# instruction set (fastnet/_kernels_portable.pyx, fastnet/_kernels_avx2.pyx)
# so that the compiler can inline across them.  fastnet/kernels.py picks the
# build the CPU runs.  Equation numbers refer to docs/maths.md.
#
# Everything here is maths on trusted, C-contiguous typed buffers: Plan and
# Samples check shapes and dtypes once, Python decides everything else.
cimport numpy as cnp
import numpy as np
import operator
import threading
from cython cimport floating
from cython.parallel cimport parallel, prange
from cpython.exc cimport PyErr_CheckSignals
from cpython.pythread cimport PyThread_get_thread_ident
from libc.math cimport log, sqrt, sqrtf, pow as cpow
from libc.stdlib cimport calloc, free, malloc
from libc.string cimport memcpy, memset
from scipy.linalg.cython_blas cimport dgemm, sgemm

cnp.import_array()

include "codes.pxi"
include "platform.pxi"
include "layout.pxi"
include "samples.pxi"
include "activations.pxi"
include "losses.pxi"
include "optimizers.pxi"
include "layer_pass.pxi"
include "columns.pxi"
include "network_pass.pxi"
include "live_inputs.pxi"
include "batch_pass.pxi"
include "plan.pxi"
include "epoch.pxi"
