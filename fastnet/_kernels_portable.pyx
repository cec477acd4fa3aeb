# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""fastnet's kernels built for any x86-64 (SSE2); see fastnet/_kernels/kernels.pxi."""
include "_kernels/kernels.pxi"
