# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
# The same kernels as _kernels.pyx, compiled with -mavx2 -mfma (see setup.py);
# fastnet/kernels.py picks this build when the CPU has AVX2 and FMA.
include "_kernels.pyx"
