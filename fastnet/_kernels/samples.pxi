# The samples a kernel call reads: inputs dense or CSR, targets, weights.
# Like scikit-learn's SequentialDataset, Samples hides which storage the
# inputs use; only the input layer's loops (layer_pass.pxi) look inside an
# InputRow.  Buffers are held as byte pointers because a struct cannot be
# fused-typed; the loops cast them to the element type Plan checked.

cdef struct InputRow:
    # One sample's input layer: its n_in values, or its non-zeros.
    const void* dense       # NULL when the row is given by its non-zeros
    const void* values
    const intp* indices
    intp nnz


cdef struct SampleData:
    const char* X           # dense inputs (n, n_in), row-major; NULL for CSR
    const char* data        # CSR values, column indices and row pointers
    const intp* indices
    const intp* indptr
    const char* Y           # targets (n, n_out); NULL when only predicting
    const char* weights     # sample weights (n,); NULL for none
    intp n_in
    intp n_out
    intp itemsize


cdef extern from *:
    void __builtin_prefetch(const void* address) noexcept nogil     # GCC's


cdef inline void _prefetch_inputs(const SampleData* d, const intp* order, intp k,
                                  intp n) noexcept nogil:
    # Ask the caches for the dense inputs of sample order[k] a step before
    # they are read: epochs take the rows of X in random order, which the
    # hardware prefetcher cannot guess, and a row's first reads would wait.
    cdef intp offset, size
    cdef const char* row
    if k >= n or d.X == NULL:
        return
    size = d.n_in * d.itemsize
    row = d.X + order[k] * size
    offset = 0
    while offset < size:
        __builtin_prefetch(row + offset)
        offset += 64
    __builtin_prefetch(row + size - 1)


cdef inline InputRow _input_row(const SampleData* d, intp r) noexcept nogil:
    cdef InputRow row
    if d.X != NULL:
        row.dense = d.X + r * d.n_in * d.itemsize
        row.values = NULL
        row.indices = NULL
        row.nnz = 0
    else:
        row.dense = NULL
        row.values = d.data + d.indptr[r] * d.itemsize
        row.indices = d.indices + d.indptr[r]
        row.nnz = d.indptr[r + 1] - d.indptr[r]
    return row


cdef inline InputRow _dense_input(const void* x) noexcept nogil:
    # a hidden layer's activations as the next layer's input
    cdef InputRow row
    row.dense = x
    row.values = NULL
    row.indices = NULL
    row.nnz = 0
    return row


cdef class Samples:
    """Inputs, targets and sample weights for the kernels, checked once.

    Build with ``Samples.dense(X, Y, sample_weight)`` or
    ``Samples.csr(data, indices, indptr, n_features, Y, sample_weight)``.
    Values, targets (n_samples, n_outputs) and weights (n_samples,) are
    C-contiguous ndarrays of one float dtype; indices and row pointers are
    intp.  Y and sample_weight may be None.
    """
    cdef SampleData data
    cdef readonly object dtype
    cdef readonly intp n_samples
    cdef object _arrays     # keeps the buffers alive

    @staticmethod
    def dense(X, Y=None, sample_weight=None):
        _check_array(X, 2, None)
        cdef Samples s = Samples._new(X.dtype, X.shape[0], X.shape[1], Y, sample_weight)
        s.data.X = <const char*> cnp.PyArray_DATA(X)
        s._arrays = (X, Y, sample_weight)
        return s

    @staticmethod
    def csr(data, indices, indptr, intp n_features, Y=None, sample_weight=None):
        if n_features < 0:
            raise ValueError(f"n_features must be >= 0, got {n_features}")
        _check_array(data, 1, None)
        _check_array(indices, 1, np.intp)
        _check_array(indptr, 1, np.intp)
        if indptr.shape[0] < 1 or indices.shape[0] != data.shape[0] \
                or indptr[0] != 0 or indptr[indptr.shape[0] - 1] != data.shape[0] \
                or np.any(np.diff(indptr) < 0) \
                or (data.shape[0] and (indices.min() < 0 or indices.max() >= n_features)):
            raise ValueError("the CSR arrays do not describe a matrix with "
                             f"{n_features} columns")
        cdef Samples s = Samples._new(data.dtype, indptr.shape[0] - 1, n_features, Y,
                                      sample_weight)
        s.data.data = <const char*> cnp.PyArray_DATA(data)
        s.data.indices = <const intp*> cnp.PyArray_DATA(indices)
        s.data.indptr = <const intp*> cnp.PyArray_DATA(indptr)
        s._arrays = (data, indices, indptr, Y, sample_weight)
        return s

    @staticmethod
    cdef Samples _new(dtype, intp n_samples, intp n_features, Y, sample_weight):
        cdef Samples s = Samples.__new__(Samples)
        s.dtype = dtype
        s.n_samples = n_samples
        s.data.n_in = n_features
        s.data.itemsize = dtype.itemsize
        if Y is not None:
            _check_array(Y, 2, dtype, n_samples)
            s.data.Y = <const char*> cnp.PyArray_DATA(Y)
            s.data.n_out = Y.shape[1]
        if sample_weight is not None:
            _check_array(sample_weight, 1, dtype, n_samples)
            s.data.weights = <const char*> cnp.PyArray_DATA(sample_weight)
        return s

    @property
    def is_sparse(self):
        return self.data.X == NULL

    @property
    def n_features(self):
        return self.data.n_in

    @property
    def n_outputs(self):
        return self.data.n_out if self.data.Y != NULL else 0

    def weight_sum(self):
        """The sum of the sample weights (the number of samples without
        weights), in sample order: the denominator of the mean loss and
        gradient (T.1, T.2) that Plan.finish_gradient takes."""
        cdef const intp[::1] order = np.arange(max(self.n_samples, 1), dtype=np.intp)
        if self.data.itemsize == sizeof(float):
            return _weight_sum(<const float*> self.data.weights, &order[0], 0, self.n_samples)
        return _weight_sum(<const double*> self.data.weights, &order[0], 0, self.n_samples)


cdef inline bint _all_finite(const floating* x, intp n) noexcept nogil:
    # x_i * 0 is 0 for a finite x_i and NaN for inf or NaN.  32 sums in
    # turn: one sum would wait for each add before the next (the compiler
    # may not reorder them), 4 cycles an element -- 10 us on digits' 7,510
    # parameters, a quarter of a one-row partial_fit; 32 keep eight vector
    # chains in flight, as many as two loads a cycle feed
    cdef intp i, k, n32 = n - n % 32
    cdef floating total[32]
    cdef floating sum_of_all = 0
    for k in range(32):
        total[k] = 0
    for i in range(0, n32, 32):
        for k in range(32):
            total[k] = total[k] + x[i + k] * 0
    for i in range(n32, n):
        total[0] = total[0] + x[i] * 0
    for k in range(32):
        sum_of_all = sum_of_all + total[k]
    return sum_of_all == 0


def all_finite(const floating[::1] values):
    """Whether values holds no inf or NaN: numpy's isfinite(values).all()
    without its array of booleans, 5-10 times faster (the validation of a
    partial_fit or predict call's X)."""
    if values.shape[0] == 0:
        return True
    return _all_finite(&values[0], values.shape[0])


cdef _check_array(array, int ndim, dtype, n_rows=None):
    """A C-contiguous ndarray of ndim dimensions and the dtype (None: a float
    dtype) with n_rows rows, or a ValueError/TypeError saying what is not."""
    if not isinstance(array, np.ndarray) or array.ndim != ndim \
            or not array.flags.c_contiguous:
        raise ValueError(f"expected a C-contiguous {ndim}-D ndarray")
    if dtype is None and array.dtype not in (np.float32, np.float64):
        raise TypeError(f"sample values must be float32 or float64, not {array.dtype}")
    if dtype is not None and array.dtype != dtype:
        raise TypeError(f"expected {np.dtype(dtype)}, got {array.dtype}")
    if n_rows is not None and array.shape[0] != n_rows:
        raise ValueError(f"expected {n_rows} rows, got {array.shape[0]}")
