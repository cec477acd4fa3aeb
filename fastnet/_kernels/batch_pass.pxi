# Minibatches through BLAS: the same maths as the per-sample path, a whole
# batch at a time, in the batched form X_l = f(X_{l-1} W_l^T)  (T.12-T.14).
# Batch buffers are row-major (batch, n_units): row b holds sample b's layers
# side by side, so layer l is the column block at a_off[l] with leading
# dimension n_units.  BLAS is column-major: a row-major (r, c) matrix is the
# column-major (c, r) matrix it transposes.

cdef extern from "small_gemm.h":
    # Narrow layers' products without BLAS (see small_gemm.h), AVX-512 build only
    int FASTNET_SMALL_GEMM
    int FASTNET_GEMM_BYTES
    void fastnet_small_gemm_d(intp m, intp n, intp K, const double* A, intp ar, intp ak,
                              const double* B, intp ldb, const double* I, intp ir,
                              double* C, intp ldc, int padded) noexcept nogil
    void fastnet_small_gemm_f(intp m, intp n, intp K, const float* A, intp ar, intp ak,
                              const float* B, intp ldb, const float* I, intp ir,
                              float* C, intp ldc, int padded) noexcept nogil

cdef enum:
    GEMM_BLOCKS = 4     # most slices of a threaded layer's GEMMs (see _gemm_blocks)
    GEMM_PANEL = 16     # rows of a narrow layer's product activated while in L1
    UPDATE_BLOCK = 2048 # gradient values a minibatch step updates, then zeroes, at a time
    # A layer runs its minibatch products through small_gemm.h up to this many
    # weights (if never threaded): 6,400 to 32,768 ran at 64-76 GFLOP/s there.
    SMALL_GEMM_MAX_WEIGHTS = 65536

# Whether this build has small_gemm.h's kernels, and whether narrow layers
# use them (tests switch them off to compare with BLAS: use_small_gemms).
HAS_SMALL_GEMMS = bool(FASTNET_SMALL_GEMM)
cdef bint _small_gemms = FASTNET_SMALL_GEMM


def use_small_gemms(enabled):
    """Switch narrow layers' minibatch products between small_gemm.h and
    BLAS (where this build has small_gemm.h); returns the previous setting."""
    global _small_gemms
    previous = _small_gemms
    _small_gemms = bool(enabled) and FASTNET_SMALL_GEMM
    return previous


cdef struct BatchScratch:
    # Work space of a minibatch of at most `rows` samples (byte pointers).
    void* inputs            # (rows, n_in): the batch's inputs in visiting order
    void* acts              # (rows, n_units): activations
    void* deltas            # (rows, n_units): sensitivities
    void* transposed        # a narrow layer's W^T, rows padded (_transposed_size)
    LiveInputs live         # its inputs compacted in place (live.inputs == inputs)
    intp rows


cdef inline bint _small_layer(const Layout* net, intp l) noexcept nogil:
    """Whether layer l's minibatch products run in small_gemm.h."""
    return (_small_gemms and _threads_for(net, l) == 0
            and net.sizes[l] * net.sizes[l + 1] <= SMALL_GEMM_MAX_WEIGHTS)


cdef inline intp _padded(intp n, intp itemsize) noexcept nogil:
    """n rounded up to whole small_gemm.h vectors of this item size."""
    cdef intp lanes = FASTNET_GEMM_BYTES // itemsize
    return (n + lanes - 1) // lanes * lanes


cdef intp _transposed_size(const Layout* net, intp itemsize) noexcept nogil:
    """Elements of the buffer for any narrow layer's padded W^T."""
    cdef intp l, size = 0
    for l in range(net.n_layers):
        if net.sizes[l] * net.sizes[l + 1] <= SMALL_GEMM_MAX_WEIGHTS:
            size = max(size, net.sizes[l] * _padded(net.sizes[l + 1], itemsize))
    return size


cdef inline void _small_gemm(intp m, intp n, intp K, const floating* A, intp ar, intp ak,
                             const floating* B, intp ldb, const floating* I, intp ir,
                             floating* C, intp ldc, bint padded) noexcept nogil:
    """C = I + A B in small_gemm.h's form, in the buffers' precision."""
    if floating is double:
        fastnet_small_gemm_d(m, n, K, A, ar, ak, B, ldb, I, ir, C, ldc, padded)
    else:
        fastnet_small_gemm_f(m, n, K, A, ar, ak, B, ldb, I, ir, C, ldc, padded)


cdef void _transpose(const floating* W, intp n_out, intp n_in, floating* WT,
                     intp ld) noexcept nogil:
    """WT[j][i] = W[i][j]: layer weights (n_out, n_in) as (n_in, ld) rows,
    each padded with zeros from column n_out to ld.  Eight rows of W at a
    time, read along j side by side: eight streams, where one column at a
    time read each W[i][j] from another cache line."""
    cdef intp i, i0, i1, j
    for i0 in range(0, n_out, 8):
        i1 = min(i0 + 8, n_out)
        for j in range(n_in):
            for i in range(i0, i1):
                WT[j * ld + i] = W[i * n_in + j]
    for j in range(n_in):
        for i in range(n_out, ld):
            WT[j * ld + i] = 0


cdef inline void _gemm(char transa, char transb, int m, int n, int k,
                       const floating* A, int lda, const floating* B, int ldb,
                       floating beta, floating* C, int ldc) noexcept nogil:
    """C <- op(A) op(B) + beta C, column-major, in the buffers' precision."""
    cdef floating one = 1
    if floating is double:
        dgemm(&transa, &transb, &m, &n, &k, &one, <double*> A, &lda,
              <double*> B, &ldb, &beta, C, &ldc)
    else:
        sgemm(&transa, &transb, &m, &n, &k, &one, <float*> A, &lda,
              <float*> B, &ldb, &beta, C, &ldc)


cdef inline void _gemm_block(char transa, char transb, bint split_m, int m, int n,
                             int k, const floating* A, int lda, const floating* B,
                             int ldb, floating beta, floating* C, int ldc,
                             int i0, int i1) noexcept nogil:
    if i1 <= i0:
        return
    if split_m:
        _gemm(transa, transb, i1 - i0, n, k,
              A + (i0 * lda if transa == c'T' else i0), lda, B, ldb, beta,
              C + i0, ldc)
    else:
        _gemm(transa, transb, m, i1 - i0, k, A, lda,
              B + (i0 if transb == c'T' else i0 * ldb), ldb, beta,
              C + i0 * ldc, ldc)


cdef void _gemm_blocks(char transa, char transb, bint split_m, int m, int n,
                       int k, const floating* A, int lda, const floating* B,
                       int ldb, floating beta, floating* C, int ldc,
                       int nt, intp slice_rows) noexcept nogil:
    """C <- op(A) op(B) + beta C, for a layer that nt threads share (nt >= 1)
    or that is never threaded (nt == 0: one GEMM).

    A shared layer's output is cut into slices of its rows (split_m) or
    columns, never along the summed dimension k: as many as give each slice
    at least slice_rows of them, at most GEMM_BLOCKS (_gemm_slices).  The
    slices depend on the shape alone, never on the thread count, and each is
    one BLAS call on the same operands, so the result is bit-identical
    whether one thread or several take them (BLAS may sum a slice
    differently from the whole: its kernels for small matrices and for the
    edges of its tiles do).  Splitting rows of C needs rows of op(A): A + i
    (transa 'N') or A + i * lda ('T'); splitting columns needs columns of
    op(B): B + i * ldb ('N') or B + i ('T').
    """
    cdef int blk, extent = m if split_m else n
    cdef int n_slices = _gemm_slices(extent, slice_rows)
    cdef unsigned int fp_mode
    if nt == 0 or n_slices == 1:
        _gemm(transa, transb, m, n, k, A, lda, B, ldb, beta, C, ldc)
    elif nt == 1:
        for blk in range(n_slices):
            _gemm_block(transa, transb, split_m, m, n, k, A, lda, B, ldb, beta, C,
                        ldc, blk * extent // n_slices, (blk + 1) * extent // n_slices)
    else:
        with parallel(num_threads=nt):
            fp_mode = _flush_denormals()
            for blk in prange(n_slices, schedule='static'):
                _gemm_block(transa, transb, split_m, m, n, k, A, lda, B, ldb, beta,
                            C, ldc, blk * extent // n_slices,
                            (blk + 1) * extent // n_slices)
            _restore_fp_mode(fp_mode)


cdef inline int _gemm_slices(int extent, intp slice_rows) noexcept nogil:
    """Slices of a shared GEMM's output extent, each of at least slice_rows
    (Plan's gemm_slice_rows): every slice is one BLAS call that packs the
    operand all slices share again, about one copy per 2 * slice_rows flops."""
    return <int> max(1, min(GEMM_BLOCKS, extent // slice_rows))


cdef inline void _activate_rows(const Layout* net, intp l, floating* A, intp b0,
                                intp b1) noexcept nogil:
    """Rows b0 <= b < b1 of layer l's block of A through its activation (1.3)."""
    cdef intp b, U = net.n_units
    for b in range(b0, b1):
        _activate(net.act[l], net.prm + 3 * l, A + b * U + net.a_off[l], net.sizes[l + 1])
        _record_activity(net, l, A + b * U + net.a_off[l])


cdef inline void _backprop_rows(const Layout* net, intp l, const floating* A, floating* D,
                                intp b0, intp b1) noexcept nogil:
    """Rows b0 <= b < b1 of layer l's block of D (Lambda) through the
    derivative of its activation at A (2.12)."""
    cdef intp b, U = net.n_units
    for b in range(b0, b1):
        _activation_backprop(net.act[l], net.prm + 3 * l, A + b * U + net.a_off[l],
                             D + b * U + net.a_off[l], net.sizes[l + 1])


cdef void _batch_forward(const Layout* net, const floating* params, const floating* xb,
                         intp nb, floating* A, floating* WT,
                         const LiveInputs* live) noexcept nogil:
    """Activations of nb gathered inputs: Z = A_prev W^T + b, then sigma  (1.3).

    A narrow layer (_small_layer) copies W^T into WT (rows padded for
    small_gemm.h) and computes GEMM_PANEL rows at a time, each panel
    activated as soon as it is done; the others run BLAS, then activate.
    When _gather_batch compacted the batch (live.n_live < n_in), the first
    layer's GEMM takes its live inputs and W_1's live columns only."""
    cdef intp l, b, p, p1, U = net.n_units, n_l, n_prev, ld_t
    cdef const floating* inp = xb
    cdef intp ld_inp = net.sizes[0]
    cdef const floating* W
    for l in range(net.n_layers):
        n_l = net.sizes[l + 1]
        n_prev = net.sizes[l]
        W = params + net.w_off[l]
        if l == 0 and live != NULL and live.n_live < n_prev:
            _live_columns(W, n_l, n_prev, live, <floating*> live.weights)
            W = <const floating*> live.weights
            n_prev = live.n_live
            inp = <const floating*> live.inputs
            ld_inp = n_prev
        if _small_layer(net, l):
            ld_t = _padded(n_l, sizeof(floating))
            _transpose(params + net.w_off[l], n_l, n_prev, WT, ld_t)
            p = 0
            while p < nb:
                p1 = min(p + GEMM_PANEL, nb)
                _small_gemm(p1 - p, n_l, n_prev, inp + p * ld_inp, ld_inp, 1, WT, ld_t,
                            params + net.b_off[l], 0, A + p * U + net.a_off[l], U, True)
                _activate_rows(net, l, A, p, p1)
                p = p1
        else:
            for b in range(nb):
                memcpy(A + b * U + net.a_off[l], params + net.b_off[l],
                       n_l * sizeof(floating))
            _gemm_blocks(c'T', c'N', True, n_l, nb, n_prev, W, n_prev, inp, ld_inp, 1,
                         A + net.a_off[l], U,
                         _threads_for(net, l), net.slice_rows)
            _activate_rows(net, l, A, 0, nb)
        inp = A + net.a_off[l]
        ld_inp = U


cdef void _batch_backward(const Layout* net, const floating* params, floating* G,
                          const floating* xb, intp nb, const floating* A,
                          floating* D, const LiveInputs* live, bint defer) noexcept nogil:
    """G += S^T A_prev (1.29) layer by layer, last first, with the sensitivities
    passed back as Lambda = S W (1.23) and through each activation (2.12).

    A narrow layer (_small_layer) runs both products in small_gemm.h and
    takes Lambda through the activation GEMM_PANEL rows at a time, as each
    panel is done; the others run BLAS.  A compacted batch (_gather_batch)
    computes the first layer's gradient for its live inputs only, into
    live.weights, and adds it to their columns of G (the others get 0), or
    with defer leaves it there for _apply_gradient and G's first layer as it was."""
    cdef intp l, b, i, p, p1, U = net.n_units, n_l, n_prev
    cdef const floating* inp
    cdef intp ld_inp
    cdef floating* S
    cdef floating* gb
    cdef floating* Gw
    cdef bint small
    for l in range(net.n_layers - 1, -1, -1):
        n_l = net.sizes[l + 1]
        n_prev = net.sizes[l]
        S = D + net.a_off[l]
        inp = A + net.a_off[l - 1] if l > 0 else xb
        ld_inp = U if l > 0 else n_prev
        small = _small_layer(net, l)
        Gw = G + net.w_off[l]
        if l == 0 and live != NULL and live.n_live < n_prev:
            # (n_l, n_live) = S^T X_live, row-major: (n_live, n_l) column-major
            _gemm_blocks(c'N', c'T', False, live.n_live, n_l, nb,
                         <const floating*> live.inputs, live.n_live, S, U, 0,
                         <floating*> live.weights, live.n_live,
                         _threads_for(net, l), net.slice_rows)
            if not defer:
                _add_live_columns(<const floating*> live.weights, n_l, n_prev, live, Gw)
        elif small:   # G (n_l, n_prev) += S^T A_prev: A(i, b) = S[b U + i]
            _small_gemm(n_l, n_prev, nb, S, 1, U, inp, ld_inp, Gw, n_prev, Gw, n_prev, False)
        else:
            _gemm_blocks(c'N', c'T', False, n_prev, n_l, nb, inp, ld_inp, S, U, 1,
                         Gw, n_prev,
                         _threads_for(net, l), net.slice_rows)
        gb = G + net.b_off[l]
        for b in range(nb):
            for i in range(n_l):
                gb[i] = gb[i] + S[b * U + i]
        if l == 0:
            continue
        if small:   # Lambda (nb, n_prev) = S W, a panel at a time
            p = 0
            while p < nb:
                p1 = min(p + GEMM_PANEL, nb)
                _small_gemm(p1 - p, n_prev, n_l, S + p * U, U, 1, params + net.w_off[l],
                            n_prev, NULL, 0, D + p * U + net.a_off[l - 1], U, False)
                _backprop_rows(net, l - 1, A, D, p, p1)
                p = p1
        else:
            _gemm_blocks(c'N', c'N', True, n_prev, nb, n_l, params + net.w_off[l],
                         n_prev, S, U, 0, D + net.a_off[l - 1], U,
                         _threads_for(net, l), net.slice_rows)
            _backprop_rows(net, l - 1, A, D, 0, nb)


cdef double _chunk_gradient_blas(const Layout* net, const floating* params,
                                 floating* G, const SampleData* d, const intp* order,
                                 intp start, intp stop, const BatchScratch* scratch,
                                 LiveInputs* deferred) noexcept nogil:
    """G += sum over samples order[start:stop] of their weighted gradients;
    returns the weighted sum of their losses.  Dense inputs only.

    With deferred (not NULL), a compacted batch leaves the first layer's
    gradient in scratch.live.weights, for the live inputs only, and G's first
    layer as it was; deferred then describes it (_apply_gradient).  Otherwise,
    and when the batch was not compacted, deferred.n_live is n_in.

    BLAS itself runs on one thread (fastnet/threads.py holds it there): its
    own threading may sum an entry in another order for another thread count.
    Wide layers instead split each GEMM among our threads (_gemm_blocks).
    """
    cdef intp nb = stop - start, n_in = net.sizes[0], U = net.n_units, b, r
    cdef intp L = net.n_layers - 1, n_out = net.sizes[net.n_layers]
    cdef double loss = 0, weight = 1
    cdef const floating* X = <const floating*> d.X
    cdef const floating* Y = <const floating*> d.Y
    cdef floating* xb = <floating*> scratch.inputs
    cdef floating* A = <floating*> scratch.acts
    cdef floating* D = <floating*> scratch.deltas
    cdef LiveInputs live = scratch.live
    # the batch's inputs in visiting order, whole or their live inputs only
    _gather_batch(net, X, order + start, nb, xb, &live)
    _batch_forward(net, params, xb, nb, A, <floating*> scratch.transposed, &live)
    for b in range(nb):
        r = order[start + b]
        if d.weights != NULL:
            weight = (<const floating*> d.weights)[r]
        _output_delta(net, A + b * U + net.a_off[L], Y + r * n_out,
                      D + b * U + net.a_off[L], weight)
        loss += weight * _sample_loss(net.loss, A + b * U + net.a_off[L],
                                      Y + r * n_out, n_out)
    _batch_backward(net, params, G, xb, nb, A, D, &live, deferred != NULL)
    if deferred != NULL:
        deferred[0] = live
    return loss


cdef double _batch_gradient_blas(const Layout* net, const floating* params,
                                 floating* G, const SampleData* d, const intp* order,
                                 intp start, intp stop, const BatchScratch* scratch,
                                 double loss) noexcept nogil:
    """_chunk_gradient_blas over start..stop in chunks of at most scratch.rows
    samples, so full-batch gradients need little memory; returns loss plus the
    chunks' weighted losses."""
    cdef intp lo = start, hi
    while lo < stop:
        hi = lo + scratch.rows if lo + scratch.rows < stop else stop
        loss += _chunk_gradient_blas(net, params, G, d, order, lo, hi, scratch, NULL)
        lo = hi
    return loss


cdef void _apply_gradient(const Layout* net, const OptimizerStep* step,
                          floating* params, floating* G, floating* M, floating* V,
                          double gscale, double reg, const LiveInputs* deferred) noexcept nogil:
    """Minibatch step: g = gscale G + reg W (biases: gscale G); then G <- 0.
    Zeroed UPDATE_BLOCK values at a time, while they are still in L1.  A
    first layer whose gradient _chunk_gradient_blas deferred (deferred not
    NULL, deferred.n_live < n_in) takes it from deferred.weights for the live
    inputs and 0 for the others (_apply_live_gradient); its part of G was
    left zero."""
    cdef intp l, w0, b0, nw, nb, j, n
    for l in range(net.n_layers):
        w0 = net.w_off[l]
        b0 = net.b_off[l]
        nw = net.sizes[l] * net.sizes[l + 1]
        nb = net.sizes[l + 1]
        if l == 0 and deferred != NULL and deferred.n_live < net.sizes[0]:
            _apply_live_gradient(net, step, params, M, V, gscale, reg, deferred)
        else:
            j = 0
            while j < nw:
                n = min(<intp> UPDATE_BLOCK, nw - j)
                _update_row(step, params + w0 + j, _at(M, w0 + j), _at(V, w0 + j),
                            G + w0 + j, gscale, reg, n)
                memset(G + w0 + j, 0, n * sizeof(floating))
                j += n
        _update_row(step, params + b0, _at(M, b0), _at(V, b0), G + b0, gscale, 0, nb)
        memset(G + b0, 0, nb * sizeof(floating))


cdef inline floating* _at(floating* state, intp offset) noexcept nogil:
    """state + offset, or NULL for an optimizer state the step does not keep."""
    return state + offset if state != NULL else NULL
