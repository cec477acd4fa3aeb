# Minibatches through BLAS: the same maths as the per-sample path, a whole
# batch at a time, in the batched form X_l = f(X_{l-1} W_l^T)  (T.12-T.14).
# Batch buffers are row-major (batch, n_units): row b holds sample b's layers
# side by side, so layer l is the column block at a_off[l] with leading
# dimension n_units.  BLAS is column-major: a row-major (r, c) matrix is the
# column-major (c, r) matrix it transposes.

cdef enum:
    GEMM_BLOCKS = 4     # fixed slices of a threaded layer's GEMMs (see _gemm_blocks)

cdef struct BatchScratch:
    # Work space of a minibatch of at most `rows` samples (byte pointers).
    void* inputs            # (rows, n_in): the batch's inputs in visiting order
    void* acts              # (rows, n_units): activations
    void* deltas            # (rows, n_units): sensitivities
    intp rows


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
                       int nt) noexcept nogil:
    """C <- op(A) op(B) + beta C, for a layer that nt threads share (nt >= 1)
    or that is never threaded (nt == 0: one GEMM).

    A shared layer's output is cut into GEMM_BLOCKS slices of its rows
    (split_m) or columns, never along the summed dimension k.  The slices are
    the same for any thread count and each is one BLAS call on the same
    operands, so the result is bit-identical whether one thread or several
    take them (BLAS may sum a slice differently from the whole: its kernels
    for small matrices do).  Splitting rows of C needs rows of op(A): A + i
    (transa 'N') or A + i * lda ('T'); splitting columns needs columns of
    op(B): B + i * ldb ('N') or B + i ('T').
    """
    cdef int blk, extent = m if split_m else n
    cdef unsigned int fp_mode
    if nt == 0:
        _gemm(transa, transb, m, n, k, A, lda, B, ldb, beta, C, ldc)
    elif nt == 1:
        for blk in range(GEMM_BLOCKS):
            _gemm_block(transa, transb, split_m, m, n, k, A, lda, B, ldb, beta, C,
                        ldc, blk * extent // GEMM_BLOCKS,
                        (blk + 1) * extent // GEMM_BLOCKS)
    else:
        with parallel(num_threads=nt):
            fp_mode = _flush_denormals()
            for blk in prange(GEMM_BLOCKS, schedule='static'):
                _gemm_block(transa, transb, split_m, m, n, k, A, lda, B, ldb, beta,
                            C, ldc, blk * extent // GEMM_BLOCKS,
                            (blk + 1) * extent // GEMM_BLOCKS)
            _restore_fp_mode(fp_mode)


cdef void _batch_forward(const Layout* net, const floating* params, const floating* xb,
                         intp nb, floating* A) noexcept nogil:
    """Activations of nb gathered inputs: Z = A_prev W^T + b, then sigma  (1.3)."""
    cdef intp l, b, U = net.n_units, n_l
    cdef const floating* inp = xb
    cdef intp ld_inp = net.sizes[0]
    for l in range(net.n_layers):
        n_l = net.sizes[l + 1]
        for b in range(nb):
            memcpy(A + b * U + net.a_off[l], params + net.b_off[l], n_l * sizeof(floating))
        _gemm_blocks(c'T', c'N', True, n_l, nb, net.sizes[l], params + net.w_off[l],
                     net.sizes[l], inp, ld_inp, 1, A + net.a_off[l], U,
                     _threads_for(net, l))
        for b in range(nb):
            _activate(net.act[l], net.prm + 3 * l, A + b * U + net.a_off[l], n_l)
            _record_activity(net, l, A + b * U + net.a_off[l])
        inp = A + net.a_off[l]
        ld_inp = U


cdef void _batch_backward(const Layout* net, const floating* params, floating* G,
                          const floating* xb, intp nb, const floating* A,
                          floating* D) noexcept nogil:
    """G += S^T A_prev (1.29) layer by layer, last first, with the sensitivities
    passed back as Lambda = S W (1.23) and through each activation (2.12)."""
    cdef intp l, b, i, U = net.n_units, n_l, n_prev
    cdef const floating* inp
    cdef intp ld_inp
    cdef floating* S
    cdef floating* gb
    for l in range(net.n_layers - 1, -1, -1):
        n_l = net.sizes[l + 1]
        n_prev = net.sizes[l]
        S = D + net.a_off[l]
        inp = A + net.a_off[l - 1] if l > 0 else xb
        ld_inp = U if l > 0 else n_prev
        _gemm_blocks(c'N', c'T', False, n_prev, n_l, nb, inp, ld_inp, S, U, 1,
                     G + net.w_off[l], n_prev, _threads_for(net, l))
        gb = G + net.b_off[l]
        for b in range(nb):
            for i in range(n_l):
                gb[i] = gb[i] + S[b * U + i]
        if l > 0:
            _gemm_blocks(c'N', c'N', True, n_prev, nb, n_l, params + net.w_off[l],
                         n_prev, S, U, 0, D + net.a_off[l - 1], U, _threads_for(net, l))
            for b in range(nb):
                _activation_backprop(net.act[l - 1], net.prm + 3 * (l - 1),
                                     A + b * U + net.a_off[l - 1],
                                     D + b * U + net.a_off[l - 1], n_prev)


cdef double _chunk_gradient_blas(const Layout* net, const floating* params,
                                 floating* G, const SampleData* d, const intp* order,
                                 intp start, intp stop,
                                 const BatchScratch* scratch) noexcept nogil:
    """G += sum over samples order[start:stop] of their weighted gradients;
    returns the weighted sum of their losses.  Dense inputs only.

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
    for b in range(nb):      # the batch's inputs, gathered in visiting order
        memcpy(xb + b * n_in, X + order[start + b] * n_in, n_in * sizeof(floating))
    _batch_forward(net, params, xb, nb, A)
    for b in range(nb):
        r = order[start + b]
        if d.weights != NULL:
            weight = (<const floating*> d.weights)[r]
        _output_delta(net, A + b * U + net.a_off[L], Y + r * n_out,
                      D + b * U + net.a_off[L], weight)
        loss += weight * _sample_loss(net.loss, A + b * U + net.a_off[L],
                                      Y + r * n_out, n_out)
    _batch_backward(net, params, G, xb, nb, A, D)
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
        loss += _chunk_gradient_blas(net, params, G, d, order, lo, hi, scratch)
        lo = hi
    return loss


cdef void _apply_gradient(const Layout* net, const OptimizerStep* step,
                          floating* params, floating* G, floating* M, floating* V,
                          double gscale, double reg) noexcept nogil:
    """Minibatch step: g = gscale G + reg W (biases: gscale G); then G <- 0."""
    cdef intp l, w0, b0, nw, nb
    for l in range(net.n_layers):
        w0 = net.w_off[l]
        b0 = net.b_off[l]
        nw = net.sizes[l] * net.sizes[l + 1]
        nb = net.sizes[l + 1]
        _update_row(step, params + w0, M + w0, V + w0, G + w0, gscale, reg, nw)
        _update_row(step, params + b0, M + b0, V + b0, G + b0, gscale, 0, nb)
        memset(G + w0, 0, (nw + nb) * sizeof(floating))
