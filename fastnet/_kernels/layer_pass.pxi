# One layer of the per-sample pass: z = W x + b, and the fused step that
# backpropagates through W and updates it in the same sweep.
#
# Threads: a layer whose weight count reaches Layout.par_min runs its neurons
# over n_threads OpenMP threads, in chunks of ROWS_PER_CHUNK neurons.  Every
# sum of one neuron is computed by one thread in a fixed order, and chunk
# partial sums are added in chunk order, so results are bit-identical for any
# thread count.

cdef enum:
    ROWS_PER_CHUNK = 32
    SORT_WINDOW = 64        # rows _rows_update_forward sorts at a time


cdef inline floating _dot(const floating* w, const floating* x, intp n) noexcept nogil:
    # z_i = sum_j w_ij a_j  (1.1).  Eight partial sums in a fixed order: the
    # compiler keeps them in vector registers, and the result does not depend
    # on the thread that computes it.
    cdef intp j, n8 = n - n % 8
    cdef floating s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0
    for j in range(0, n8, 8):
        s0 = s0 + w[j] * x[j]
        s1 = s1 + w[j + 1] * x[j + 1]
        s2 = s2 + w[j + 2] * x[j + 2]
        s3 = s3 + w[j + 3] * x[j + 3]
        s4 = s4 + w[j + 4] * x[j + 4]
        s5 = s5 + w[j + 5] * x[j + 5]
        s6 = s6 + w[j + 6] * x[j + 6]
        s7 = s7 + w[j + 7] * x[j + 7]
    for j in range(n8, n):
        s0 = _fma(w[j], x[j], s0)     # fused as rows.h's tails are
    return ((s0 + s4) + (s1 + s5)) + ((s2 + s6) + (s3 + s7))


cdef inline floating _fma(floating a, floating b, floating c) noexcept nogil:
    # a b + c, fused where the build has FMA (rows.h)
    if floating is double:
        return _fma_d(a, b, c)
    else:
        return _fma_f(a, b, c)


cdef inline double _sparse_dot(const floating* w, const floating* val,
                               const intp* ind, intp nnz) noexcept nogil:
    # (1.1) over the non-zero inputs only
    cdef intp k
    cdef double s = 0
    for k in range(nnz):
        s += w[ind[k]] * val[k]
    return s


cdef extern from "rows.h":
    # register-blocked kernels over four rows at once (see rows.h)
    void _dot4_d "fastnet_dot4_d"(double** w, const double* x, intp n,
                                  double* out) noexcept nogil
    void _dot4_f "fastnet_dot4_f"(float** w, const float* x, intp n,
                                  float* out) noexcept nogil
    void _dot8_d "fastnet_dot8_d"(double** w, const double* x, intp n,
                                  double* out) noexcept nogil
    void _dot8_f "fastnet_dot8_f"(float** w, const float* x, intp n,
                                  float* out) noexcept nogil
    bint _DOT8_PAYS_D "FASTNET_DOT8_PAYS_D"
    bint _DOT8_PAYS_F "FASTNET_DOT8_PAYS_F"
    void _step_dot4_d "fastnet_step_dot4_d"(double** w, const double* rate,
                                            const double* a, const double* x, intp n,
                                            double* out) noexcept nogil
    void _step_dot4_f "fastnet_step_dot4_f"(float** w, const float* rate, const float* a,
                                            const float* x, intp n, float* out) noexcept nogil
    void _dot4_blocks_d "fastnet_dot4_blocks_d"(
        double** w, const double* x, const intp* starts, intp n_blocks, intp n8, intp n,
        double* out) noexcept nogil
    void _dot4_blocks_f "fastnet_dot4_blocks_f"(
        float** w, const float* x, const intp* starts, intp n_blocks, intp n8, intp n,
        float* out) noexcept nogil
    void _step_dot4_blocks_d "fastnet_step_dot4_blocks_d"(
        double** w, const double* rate, const double* a, const double* x,
        const intp* starts, intp n_blocks, intp n8, intp n, double* out) noexcept nogil
    void _step_dot4_blocks_f "fastnet_step_dot4_blocks_f"(
        float** w, const float* rate, const float* a, const float* x,
        const intp* starts, intp n_blocks, intp n8, intp n, float* out) noexcept nogil
    double _step_dot1_blocks_d "fastnet_step_dot1_blocks_d"(
        double* w, double rate, const double* a, const double* x, const intp* starts,
        intp n_blocks, intp n8, intp n, int step) noexcept nogil
    float _step_dot1_blocks_f "fastnet_step_dot1_blocks_f"(
        float* w, float rate, const float* a, const float* x, const intp* starts,
        intp n_blocks, intp n8, intp n, int step) noexcept nogil
    double _fma_d "fastnet_fma_d"(double a, double b, double c) noexcept nogil
    float _fma_f "fastnet_fma_f"(float a, float b, float c) noexcept nogil
    void _step_row_d "fastnet_step_row_d"(double* w, double rate, const double* a,
                                          intp n) noexcept nogil
    void _step_row_f "fastnet_step_row_f"(float* w, float rate, const float* a,
                                          intp n) noexcept nogil
    void _back_rows4_d "fastnet_back_rows4_d"(double** w, const double* s,
                                              const double* rate, const double* a,
                                              double* lam, intp n) noexcept nogil
    void _back_rows4_f "fastnet_back_rows4_f"(float** w, const float* s, const float* rate,
                                              const float* a, float* lam,
                                              intp n) noexcept nogil
    void _back_rows_left_d "fastnet_back_rows_left_d"(
        double** w, int nr, const double* s, const double* rate, const double* a,
        double* lam, intp n) noexcept nogil
    void _back_rows_left_f "fastnet_back_rows_left_f"(
        float** w, int nr, const float* s, const float* rate, const float* a, float* lam,
        intp n) noexcept nogil
    intp _live_blocks_d "fastnet_live_blocks_d"(const double* a, const double* x, intp n8,
                                                intp* starts) noexcept nogil
    intp _live_blocks_f "fastnet_live_blocks_f"(const float* a, const float* x, intp n8,
                                                intp* starts) noexcept nogil


cdef inline void _dot4(floating** w, const floating* x, intp n, floating* out) noexcept nogil:
    # out[r] = w[r] . x for four rows, each bit-identical to _dot  (1.1)
    if floating is double:
        _dot4_d(w, x, n, out)
    else:
        _dot4_f(w, x, n, out)


cdef inline bint _dot8_pays(const floating* x) noexcept nogil:
    # whether _dot8 keeps each row's partial sums in one register (rows.h)
    if floating is double:
        return _DOT8_PAYS_D
    else:
        return _DOT8_PAYS_F


cdef inline void _dot8(floating** w, const floating* x, intp n, floating* out) noexcept nogil:
    # out[r] = w[r] . x for eight rows, eight chains in flight (rows.h)
    if floating is double:
        _dot8_d(w, x, n, out)
    else:
        _dot8_f(w, x, n, out)


cdef inline void _step_dot4(floating** w, const floating* rate, const floating* a,
                            const floating* x, intp n, floating* out) noexcept nogil:
    # four rows take w -= rate a (1.31), then out[r] = w[r] . x with the new weights
    if floating is double:
        _step_dot4_d(w, rate, a, x, n, out)
    else:
        _step_dot4_f(w, rate, a, x, n, out)


cdef struct Blocks:
    # The eight-column blocks of the first layer that a fused sweep visits
    # (rows.h): starts == NULL for all of them.
    const intp* starts
    intp count


cdef inline void _step_dot4_in(const Blocks* blocks, floating** w, const floating* rate,
                               const floating* a, const floating* x, intp n,
                               floating* out) noexcept nogil:
    # _step_dot4 over the visited blocks only
    cdef intp n8 = n - n % 8
    if blocks.starts == NULL:
        _step_dot4(w, rate, a, x, n, out)
    elif floating is double:
        _step_dot4_blocks_d(w, rate, a, x, blocks.starts, blocks.count, n8, n, out)
    else:
        _step_dot4_blocks_f(w, rate, a, x, blocks.starts, blocks.count, n8, n, out)


cdef inline void _dot4_in(const Blocks* blocks, floating** w, const floating* x, intp n,
                          floating* out) noexcept nogil:
    # _dot4 over the visited blocks only
    cdef intp n8 = n - n % 8
    if blocks.starts == NULL:
        _dot4(w, x, n, out)
    elif floating is double:
        _dot4_blocks_d(w, x, blocks.starts, blocks.count, n8, n, out)
    else:
        _dot4_blocks_f(w, x, blocks.starts, blocks.count, n8, n, out)


cdef inline floating _step_dot_in(const Blocks* blocks, floating* row, floating rate,
                                  const floating* a, const floating* x, intp n,
                                  bint step) noexcept nogil:
    # one row: the step w -= rate a if step (1.31), then w . x (1.1), over the
    # visited blocks only
    cdef intp n8 = n - n % 8
    if blocks.starts == NULL:
        if step:
            _step_row(row, rate, a, n)
        return _dot(row, x, n)
    elif floating is double:
        return _step_dot1_blocks_d(row, rate, a, x, blocks.starts, blocks.count, n8, n,
                                   step)
    else:
        return _step_dot1_blocks_f(row, rate, a, x, blocks.starts, blocks.count, n8, n,
                                   step)


cdef inline Blocks _visited_blocks(const floating* a, const floating* x_next, intp n,
                                   intp* starts) noexcept nogil:
    """The blocks of eight inputs where this sample's a or the next one's x_next
    has a non-zero: the others move no weight and add nothing to a dot
    product, so the fused sweep skips them (rows.h), bit for bit the same.
    All blocks live: starts NULL, the plain kernels."""
    cdef Blocks blocks
    cdef intp n8 = n - n % 8
    if floating is double:
        blocks.count = _live_blocks_d(a, x_next, n8, starts)
    else:
        blocks.count = _live_blocks_f(a, x_next, n8, starts)
    blocks.starts = starts if blocks.count < n8 // 8 else NULL
    return blocks


cdef inline intp _n_chunks(intp n_out) noexcept nogil:
    return (n_out + ROWS_PER_CHUNK - 1) // ROWS_PER_CHUNK


cdef inline intp _chunk_end(intp c, intp n_out) noexcept nogil:
    return min((c + 1) * ROWS_PER_CHUNK, n_out)


cdef void _rows_forward(const floating* W, const floating* b, const InputRow* x,
                        floating* z, intp i0, intp i1, intp n_in) noexcept nogil:
    """z_i = b_i + w_i . x for neurons i0..i1  (1.3); x dense or sparse."""
    cdef intp i, k
    cdef const floating* xd = <const floating*> x.dense
    cdef floating* rows[8]
    cdef floating dots[8]
    if xd != NULL:
        i = i0
        if _dot8_pays(xd):
            while i + 8 <= i1:      # eight rows share each load of x
                for k in range(8):
                    rows[k] = <floating*> W + (i + k) * n_in
                _dot8(rows, xd, n_in, dots)
                for k in range(8):
                    z[i + k] = b[i + k] + dots[k]
                i += 8
        while i + 4 <= i1:          # four rows share each load of x
            for k in range(4):
                rows[k] = <floating*> W + (i + k) * n_in
            _dot4(rows, xd, n_in, dots)
            for k in range(4):
                z[i + k] = b[i + k] + dots[k]
            i += 4
        if i < i1:
            # the one to three rows left, through _dot4 too (the last of them
            # in the spare places): each row's sum is its own, so the same bits
            for k in range(4):
                rows[k] = <floating*> W + min(i + k, i1 - 1) * n_in
            _dot4(rows, xd, n_in, dots)
            for k in range(i1 - i):
                z[i + k] = b[i + k] + dots[k]
    else:
        for i in range(i0, i1):
            z[i] = b[i] + _sparse_dot(W + i * n_in, <const floating*> x.values,
                                      x.indices, x.nnz)


cdef void _layer_forward(const floating* W, const floating* b, const InputRow* x,
                         floating* z, intp n_out, intp n_in, int nt) noexcept nogil:
    """z <- W x + b  (1.3).

    Threads take whole chunks of ROWS_PER_CHUNK neurons in a static schedule,
    the same chunks they update in _layer_backward_update, so each core keeps
    working on the rows of W already in its cache.
    """
    cdef intp c, nc = _n_chunks(n_out)
    cdef unsigned int fp_mode
    if nt > 1:
        with parallel(num_threads=nt):
            # every thread of the team, with or without a chunk, sets and
            # resets its mode (see platform.pxi)
            fp_mode = _flush_denormals()
            for c in prange(nc, schedule='static'):
                _rows_forward(W, b, x, z, c * ROWS_PER_CHUNK, _chunk_end(c, n_out), n_in)
            _restore_fp_mode(fp_mode)
    else:
        _rows_forward(W, b, x, z, 0, n_out, n_in)


cdef void _rows_backward_update(
        const Layout* net, intp l, const OptimizerStep* step, floating* params,
        floating* M, floating* V, const floating* a, floating* lam, floating* deltas,
        floating* rowsq, intp i0, intp i1, double gscale, double reg) noexcept nogil:
    """Neurons i0..i1 of layer l: backpropagate and update in one pass over W.

    lam_j += sum_i s_i w_ij with the weights before this step (1.20), then
    w_ij takes the step for g_ij = gscale s_i a_j + reg w_ij (1.29, 1.31, T.3)
    and b_i for gscale s_i (1.31a, 1.32); s is the layer's part of deltas.  lam is
    NULL for the first layer, which needs no sensitivities.  With L2
    (reg > 0), rowsq[i] receives sum_j w_ij^2 before the step, for the loss.
    M and V hold the optimizer's state, laid out as params.
    """
    cdef intp i, j, n_in = net.sizes[l], w0 = net.w_off[l], b0 = net.b_off[l]
    cdef const floating* s = deltas + net.a_off[l]
    cdef floating* row
    cdef floating si, rate     # the element type, so float32 loops stay float32
    if step.kind == SGD and reg == 0 and lam != NULL:
        _live_rows_backprop_step(params + w0, n_in, s, a, lam, i0, i1,
                                 step.learning_rate * gscale)
    else:
        for i in range(i0, i1):
            si = s[i]
            row = params + w0 + i * n_in
            if step.kind == SGD and reg == 0:
                # plain SGD: the update rides along the backpropagation sweep
                if si == 0:
                    continue        # a dead ReLU: nothing flows back, nothing moves
                # the first layer (lam NULL): the same arithmetic as the
                # fused sweeps' (rows.h, columns.h)
                rate = step.learning_rate * gscale * si
                _step_row(row, rate, a, n_in)
            else:
                if lam != NULL:
                    for j in range(n_in):
                        lam[j] = lam[j] + si * row[j]
                if reg != 0:
                    rowsq[net.a_off[l] + i] = _dot(row, row, n_in)
                _update_row(step, row, M + w0 + i * n_in, V + w0 + i * n_in, a, gscale * si,
                            reg, n_in)
    _update_row(step, params + b0 + i0, M + b0 + i0, V + b0 + i0, s + i0, gscale, 0,
                i1 - i0)


cdef void _live_rows_backprop_step(floating* W, intp n_in, const floating* s,
                                   const floating* a, floating* lam, intp i0, intp i1,
                                   double rate_scale) noexcept nogil:
    """Plain SGD of rows i0..i1 of a layer above the first: lam += s_i w_i
    (1.20) over the live rows in order, each row then stepping
    w_i -= rate_scale s_i a (1.31); four live rows at a time share each load
    and store of lam (rows.h).  A dead ReLU (s_i = 0) sends nothing back and
    moves nothing."""
    cdef intp i, n = 0
    cdef floating* rows[4]
    cdef floating sens[4]
    cdef floating rates[4]
    for i in range(i0, i1):
        if s[i] == 0:
            continue
        rows[n] = W + i * n_in
        sens[n] = s[i]
        rates[n] = rate_scale * s[i]
        n += 1
        if n == 4:
            if floating is double:
                _back_rows4_d(rows, sens, rates, a, lam, n_in)
            else:
                _back_rows4_f(rows, sens, rates, a, lam, n_in)
            n = 0
    if floating is double:
        _back_rows_left_d(rows, <int> n, sens, rates, a, lam, n_in)
    else:
        _back_rows_left_f(rows, <int> n, sens, rates, a, lam, n_in)


cdef void _layer_backward_update(
        const Layout* net, intp l, const OptimizerStep* step, floating* params,
        floating* M, floating* V, const floating* a, floating* lam, floating* deltas,
        floating* parts, floating* rowsq, double gscale, double reg) noexcept nogil:
    """Per-sample step of layer l: lam = W^T s (old W), then W and b move.

    Neurons are taken in chunks of ROWS_PER_CHUNK.  Chunk c sums its part of
    lam in parts[c] (rows in order), and lam_j = ((parts[0]_j + parts[1]_j)
    + parts[2]_j) + ...: the chunks and both orders are fixed, so lam is
    bit-identical for any thread count, while each thread owns whole rows of W
    (the rows it also computed in the forward pass).  The first layer (lam
    NULL) and one-chunk layers need no partial sums.
    """
    cdef intp c, blk, n_in = net.sizes[l], n_out = net.sizes[l + 1], nc = _n_chunks(n_out)
    cdef int nt = _threads_for(net, l)
    cdef bint partial = lam != NULL and nc > 1
    cdef unsigned int fp_mode
    if lam != NULL and not partial:
        memset(lam, 0, n_in * sizeof(floating))
    if nt > 1 and nc > 1:
        with parallel(num_threads=nt):
            fp_mode = _flush_denormals()
            for c in prange(nc, schedule='static'):
                _chunk_backward_update(net, l, step, params, M, V, a, lam, deltas,
                                       parts, rowsq, c, gscale, reg, partial)
            if partial:
                for blk in prange(nt, schedule='static'):
                    _sum_parts(parts, lam, nc, n_in, blk * n_in // nt,
                               (blk + 1) * n_in // nt)
            _restore_fp_mode(fp_mode)
    elif partial:
        for c in range(nc):
            _chunk_backward_update(net, l, step, params, M, V, a, lam, deltas, parts,
                                   rowsq, c, gscale, reg, partial)
        _sum_parts(parts, lam, nc, n_in, 0, n_in)
    else:
        _rows_backward_update(net, l, step, params, M, V, a, lam, deltas, rowsq, 0,
                              n_out, gscale, reg)


cdef inline void _chunk_backward_update(
        const Layout* net, intp l, const OptimizerStep* step, floating* params,
        floating* M, floating* V, const floating* a, floating* lam, floating* deltas,
        floating* parts, floating* rowsq, intp c, double gscale, double reg,
        bint partial) noexcept nogil:
    # chunk c's rows, summing its share of lam into parts[c] when partial
    cdef intp n_in = net.sizes[l]
    cdef floating* part = NULL
    if partial:
        part = parts + c * n_in
        memset(part, 0, n_in * sizeof(floating))
    _rows_backward_update(net, l, step, params, M, V, a, part, deltas, rowsq,
                          c * ROWS_PER_CHUNK, _chunk_end(c, net.sizes[l + 1]), gscale, reg)


cdef void _sum_parts(const floating* parts, floating* lam, intp nc, intp n_in,
                     intp j0, intp j1) noexcept nogil:
    """lam_j = sum of the chunks' partial sums, in chunk order, for j0 <= j < j1."""
    cdef intp c, j
    for j in range(j0, j1):
        lam[j] = parts[j]
    for c in range(1, nc):
        for j in range(j0, j1):
            lam[j] = lam[j] + parts[c * n_in + j]


cdef void _rows_update_forward(const Layout* net, const OptimizerStep* step,
                               floating* params, const floating* s, const floating* a,
                               const floating* x_next, floating* z, intp i0, intp i1,
                               double gscale, const Blocks* blocks) noexcept nogil:
    """Neurons i0..i1 of the first layer: this sample's plain SGD step (1.31,
    1.31a) and the next sample's pre-activation z = W x_next + b (1.3) with
    the stepped weights, in one sweep over W instead of two.

    The arithmetic is the separate passes', in their order: each new weight
    is rounded as the update stores it, and the dot product keeps _dot's
    eight partial sums, so the results are bit-identical.  Rows that step
    go four at a time through _step_dot4, rows whose sensitivity is zero (a
    dead ReLU: nothing moves) four at a time through _dot4, each over the
    blocks of inputs that are not zero in a or x_next (_visited_blocks).
    """
    cdef intp i, k, g, w0, n_in = net.sizes[0], n_live = 0, n_dead = 0
    cdef floating* W = params + net.w_off[0]
    cdef floating* b = params + net.b_off[0]
    cdef floating* rows[4]
    cdef floating rates[4]
    cdef floating dots[4]
    # Row numbers by kind, a window of SORT_WINDOW rows at a time after the
    # (fewer than four) left over from the window before.  Sorting without
    # a branch: a dead ReLU is about a third of the units, at random, which
    # a branch per row would mispredict.
    cdef intp live_at[SORT_WINDOW + 4]
    cdef intp dead_at[SORT_WINDOW + 4]
    cdef bint dead
    w0 = i0
    while w0 < i1:
        for i in range(w0, min(w0 + SORT_WINDOW, i1)):
            dead = s[i] == 0
            live_at[n_live] = i
            dead_at[n_dead] = i
            n_live += not dead
            n_dead += dead
        g = 0
        while g + 4 <= n_dead:
            for k in range(4):
                rows[k] = W + dead_at[g + k] * n_in
            _dot4_in(blocks, rows, x_next, n_in, dots)
            for k in range(4):
                z[dead_at[g + k]] = dots[k]
            g += 4
        for k in range(g, n_dead):
            dead_at[k - g] = dead_at[k]
        n_dead -= g
        g = 0
        while g + 4 <= n_live:
            for k in range(4):
                rows[k] = W + live_at[g + k] * n_in
                rates[k] = step.learning_rate * gscale * s[live_at[g + k]]
            _step_dot4_in(blocks, rows, rates, a, x_next, n_in, dots)
            for k in range(4):
                z[live_at[g + k]] = dots[k]
            g += 4
        for k in range(g, n_live):
            live_at[k - g] = live_at[k]
        n_live -= g
        w0 += SORT_WINDOW
    for k in range(n_dead):
        z[dead_at[k]] = _step_dot_in(blocks, W + dead_at[k] * n_in, 0, a, x_next, n_in,
                                     False)
    for k in range(n_live):
        i = live_at[k]
        z[i] = _step_dot_in(blocks, W + i * n_in, step.learning_rate * gscale * s[i], a,
                            x_next, n_in, True)
    _update_row(step, b + i0, NULL, NULL, s + i0, gscale, 0, i1 - i0)
    for i in range(i0, i1):
        z[i] = b[i] + z[i]


cdef inline void _step_row(floating* row, floating rate, const floating* a,
                           intp n) noexcept nogil:
    # one row's plain SGD step w -= rate a  (1.31), its tail fused (rows.h)
    if floating is double:
        _step_row_d(row, rate, a, n)
    else:
        _step_row_f(row, rate, a, n)


cdef void _layer_update_forward(const Layout* net, const OptimizerStep* step,
                                floating* params, const floating* s, const floating* a,
                                const floating* x_next, floating* z,
                                double gscale, intp* starts) noexcept nogil:
    """_rows_update_forward over the first layer, in the chunks and threads
    of _layer_forward; starts has room for the layer's blocks of eight
    inputs (_visited_blocks)."""
    cdef intp c, n_out = net.sizes[1], nc = _n_chunks(n_out)
    cdef int nt = _threads_for(net, 0)
    cdef unsigned int fp_mode
    cdef Blocks blocks = _visited_blocks(a, x_next, net.sizes[0], starts)
    if nt > 1 and nc > 1:
        with parallel(num_threads=nt):
            fp_mode = _flush_denormals()
            for c in prange(nc, schedule='static'):
                _rows_update_forward(net, step, params, s, a, x_next, z, c * ROWS_PER_CHUNK,
                                     _chunk_end(c, n_out), gscale, &blocks)
            _restore_fp_mode(fp_mode)
    else:
        _rows_update_forward(net, step, params, s, a, x_next, z, 0, n_out, gscale,
                             &blocks)


cdef void _sparse_input_sgd(const Layout* net, const OptimizerStep* step,
                            floating* params, const floating* s, const InputRow* x,
                            double gscale) noexcept nogil:
    """Plain SGD without L2 of the first layer on a sparse row: only the weights
    of the non-zero inputs move  (1.31, 1.31a)."""
    cdef intp i, k, n_in = net.sizes[0]
    cdef const floating* val = <const floating*> x.values
    cdef floating* W = params + net.w_off[0]
    cdef floating* b = params + net.b_off[0]
    cdef floating* row
    cdef floating rate
    for i in range(net.sizes[1]):
        if s[i] == 0:
            continue
        rate = step.learning_rate * gscale * s[i]
        row = W + i * n_in
        for k in range(x.nnz):
            row[x.indices[k]] = row[x.indices[k]] - rate * val[k]
        b[i] = b[i] - rate


cdef void _columns_backward_accumulate(
        const floating* W, floating* G, const floating* s, const floating* a,
        floating* lam, intp n_out, intp n_in, intp j0, intp j1) noexcept nogil:
    """Columns j0..j1: lam += W^T s (1.20) and G += s a^T (1.29) for a minibatch."""
    cdef intp i, j
    cdef const floating* row
    cdef floating* grow
    cdef floating si
    for i in range(n_out):
        si = s[i]
        if si == 0:
            continue
        row = W + i * n_in
        grow = G + i * n_in
        if lam != NULL:
            for j in range(j0, j1):
                lam[j] = lam[j] + si * row[j]
        for j in range(j0, j1):
            grow[j] = grow[j] + si * a[j]


cdef void _layer_backward_accumulate(
        const Layout* net, intp l, const floating* params, floating* G,
        const floating* s, const InputRow* x, floating* lam) noexcept nogil:
    """Add one sample's gradient of layer l to G; its input x dense or sparse."""
    cdef intp i, k, blk, n_in = net.sizes[l], n_out = net.sizes[l + 1]
    cdef int nt = _threads_for(net, l)
    cdef const floating* W = params + net.w_off[l]
    cdef const floating* a = <const floating*> x.dense
    cdef const floating* val = <const floating*> x.values
    cdef floating* Gw = G + net.w_off[l]
    cdef floating* Gb = G + net.b_off[l]
    cdef unsigned int fp_mode
    if lam != NULL:
        memset(lam, 0, n_in * sizeof(floating))
    if a != NULL and nt > 1:
        with parallel(num_threads=nt):
            fp_mode = _flush_denormals()
            for blk in prange(nt, schedule='static'):
                _columns_backward_accumulate(W, Gw, s, a, lam, n_out, n_in,
                                             blk * n_in // nt, (blk + 1) * n_in // nt)
            _restore_fp_mode(fp_mode)
    elif a != NULL:
        _columns_backward_accumulate(W, Gw, s, a, lam, n_out, n_in, 0, n_in)
    else:
        # a sparse input row: the first layer, so no lam
        for i in range(n_out):
            for k in range(x.nnz):
                Gw[i * n_in + x.indices[k]] = Gw[i * n_in + x.indices[k]] + s[i] * val[k]
    for i in range(n_out):
        Gb[i] = Gb[i] + s[i]
