# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""fastnet's kernels built with AVX-512 (512-bit vectors); see fastnet/_kernels/kernels.pxi."""
include "_kernels/kernels.pxi"
