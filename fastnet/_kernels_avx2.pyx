# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""fastnet's kernels built with -mavx2 -mfma; see fastnet/_kernels/kernels.pxi."""
include "_kernels/kernels.pxi"
