"""Validated arrays as the kernels take them (``kernels.Samples``).

Dense X becomes C-contiguous in the training dtype (no copy when it already
is); sparse X becomes CSR with sorted indices, the user's matrix untouched.
"""
import numpy as np
import scipy.sparse as sp

from . import kernels


def to_samples(X, dtype, Y=None, sample_weight=None):
    """``kernels.Samples`` of X (dense or sparse), targets Y (n_samples,
    n_outputs) and sample weights, all in ``dtype``; Y and sample_weight may be
    None."""
    if Y is not None:
        Y = np.ascontiguousarray(Y, dtype=dtype)
    if sample_weight is not None:
        sample_weight = np.ascontiguousarray(sample_weight, dtype=dtype)
    if sp.issparse(X):
        X = sp.csr_matrix(X)
        if not X.has_sorted_indices:
            X = X.sorted_indices()
        return kernels.Samples.csr(np.ascontiguousarray(X.data, dtype=dtype),
                                   np.ascontiguousarray(X.indices, dtype=np.intp),
                                   np.ascontiguousarray(X.indptr, dtype=np.intp),
                                   X.shape[1], Y, sample_weight)
    return kernels.Samples.dense(np.ascontiguousarray(X, dtype=dtype), Y, sample_weight)


def all_finite(array):
    """``np.isfinite(array).all()`` for a float ndarray: through the kernels
    when it is C-contiguous float32 or float64, without numpy's array of
    booleans (a large part of a partial_fit epoch's validation)."""
    if array.dtype in (np.float32, np.float64) and array.flags.c_contiguous:
        return kernels.all_finite(array.reshape(-1))
    return bool(np.isfinite(array).all())
