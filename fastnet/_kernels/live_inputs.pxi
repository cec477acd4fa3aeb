# Live inputs: a minibatch's first layer without the inputs that are zero in
# every one of its samples (docs/maths.md, the paragraph after T.14).  Such
# an input adds w_ij * 0 to every first-layer sum (T.12) and 0 to its
# weights' gradients (1.29), so a batch in which enough of them are dead
# gathers the others and the matching columns of W_1 (_gather_batch,
# _live_columns) and runs the first layer's GEMMs on those (batch_pass.pxi).
# A minibatch step takes the gradient of the live columns straight into the
# update (_apply_live_gradient); the full-batch gradient adds it to G's
# columns (_add_live_columns).


cdef struct LiveInputs:
    # A batch's live inputs (_gather_batch), kept as runs of consecutive
    # inputs (an image's rows have one each), and room for what they gather.
    intp* runs              # (start, length) of each run, ascending; then n_in mask bytes
    intp n_runs
    intp n_live             # how many live inputs; n_in when the batch is not compacted
    void* inputs            # (rows, n_in): room for the batch's live inputs, (nb, n_live)
    void* weights           # (n_1, n_in): room for W_1's live columns, then their gradient
    void* row               # (n_in,): one first-layer gradient row (_apply_live_gradient)


cdef enum:
    # A batch of at least this many samples is compacted when at least one
    # input in COMPACT_MIN_DEAD_SHARE is zero in all of them: below that the
    # copies (inputs, W_1's live columns, their gradient back into G) cost
    # about what the GEMMs save.
    COMPACT_MIN_ROWS = 64
    COMPACT_MIN_DEAD_SHARE = 8


# Whether minibatches leave out their dead inputs (tests switch it off to
# compare: use_live_inputs), and how many batches have so far, a count for
# the tests (atomic: predicting threads compact at once).
cdef bint _live_inputs = True

cdef extern from *:
    """
    static long fastnet_compacted_batches = 0;
    static inline void fastnet_count_compacted(void) {
        __atomic_fetch_add(&fastnet_compacted_batches, 1, __ATOMIC_RELAXED);
    }
    static inline long fastnet_compacted(void) {
        return __atomic_load_n(&fastnet_compacted_batches, __ATOMIC_RELAXED);
    }
    """
    void fastnet_count_compacted() noexcept nogil
    long fastnet_compacted() noexcept nogil


def use_live_inputs(enabled):
    """Switch the compaction of minibatches to their live inputs
    (_gather_batch) on or off; returns the previous setting."""
    global _live_inputs
    previous = _live_inputs
    _live_inputs = bool(enabled)
    return previous


def leaves_out_dead_inputs(n_inputs, n_first):
    """Whether a one-thread plan whose first layer has these sizes leaves
    its minibatches' dead inputs out (_compacts): not where that layer runs
    in small_gemm.h."""
    return bool(_live_inputs and not (_small_gemms and n_inputs * n_first
                                      <= SMALL_GEMM_MAX_WEIGHTS))


def compacted_batches():
    """How many batches this process has compacted to their live inputs."""
    return fastnet_compacted()


cdef inline bint _compacts(const Layout* net) noexcept nogil:
    """Whether the first layer's minibatch GEMMs may leave out dead inputs:
    it runs BLAS (narrow layers keep small_gemm.h's own layout)."""
    return _live_inputs and not _small_layer(net, 0)


cdef intp _live_size(const Layout* net, intp rows) noexcept nogil:
    """Elements of a LiveInputs' buffers for batches of `rows` samples: the
    inputs, the weights and a gradient row (0 when the first layer does not compact)."""
    if not _compacts(net):
        return 0
    return (rows + net.sizes[1] + 1) * net.sizes[0]


cdef intp _live_index_size(const Layout* net) noexcept nogil:
    """intp elements of a LiveInputs' runs: at most n_in / 2 + 1 pairs, then
    the mask bytes."""
    return net.sizes[0] + 2 + net.sizes[0] // sizeof(intp) + 1


cdef inline const floating* _batch_row(const floating* X, intp n_in, const intp* rows,
                                       intp b) noexcept nogil:
    """Row b of a batch: X's row rows[b], or its row b when rows is NULL."""
    return X + (rows[b] if rows != NULL else b) * n_in


cdef void _gather_batch(const Layout* net, const floating* X, const intp* rows, intp nb,
                        floating* out, LiveInputs* live) noexcept nogil:
    """Find the live inputs of the batch's nb rows (_batch_row) and, if enough
    are dead (COMPACT_MIN_ROWS, COMPACT_MIN_DEAD_SHARE), write the rows' live
    inputs to live.inputs, (nb, n_live); then live.n_live < n_in.  Otherwise,
    when out is not NULL, copy the rows whole to out, (nb, n_in)."""
    cdef intp n_in = net.sizes[0], b, k, t, n_live = 0, n_runs = 0, start, length
    cdef unsigned char* mask
    cdef const floating* x
    cdef floating* dst
    live.n_live = n_in
    if nb >= COMPACT_MIN_ROWS and live.runs != NULL:
        mask = <unsigned char*> (live.runs + n_in + 2)
        memset(mask, 0, n_in)
        for b in range(nb):
            x = _batch_row(X, n_in, rows, b)
            for k in range(n_in):
                mask[k] |= x[k] != 0
        k = 0
        while k < n_in:
            if not mask[k]:
                k += 1
                continue
            start = k
            while k < n_in and mask[k]:
                k += 1
            live.runs[2 * n_runs] = start
            live.runs[2 * n_runs + 1] = k - start
            n_runs += 1
            n_live += k - start
        if (n_in - n_live) * COMPACT_MIN_DEAD_SHARE >= n_in:
            fastnet_count_compacted()
            live.n_live = n_live
            live.n_runs = n_runs
            dst = <floating*> live.inputs
            for b in range(nb):
                x = _batch_row(X, n_in, rows, b)
                for t in range(n_runs):
                    start = live.runs[2 * t]
                    length = live.runs[2 * t + 1]
                    for k in range(length):
                        dst[k] = x[start + k]
                    dst += length
            return
    if out != NULL:
        for b in range(nb):
            memcpy(out + b * n_in, _batch_row(X, n_in, rows, b), n_in * sizeof(floating))


cdef void _live_columns(const floating* W, intp n_out, intp n_in, const LiveInputs* live,
                        floating* out) noexcept nogil:
    """out (n_out, n_live) = the live inputs' columns of W (n_out, n_in)."""
    cdef intp i, t, k, start, length
    cdef const floating* w
    for i in range(n_out):
        w = W + i * n_in
        for t in range(live.n_runs):
            start = live.runs[2 * t]
            length = live.runs[2 * t + 1]
            for k in range(length):
                out[k] = w[start + k]
            out += length


cdef void _add_live_columns(const floating* Gc, intp n_out, intp n_in,
                            const LiveInputs* live, floating* G) noexcept nogil:
    """G (n_out, n_in) += Gc (n_out, n_live) in the live inputs' columns."""
    cdef intp i, t, k, start, length
    cdef floating* g
    for i in range(n_out):
        g = G + i * n_in
        for t in range(live.n_runs):
            start = live.runs[2 * t]
            length = live.runs[2 * t + 1]
            for k in range(length):
                g[start + k] += Gc[k]
            Gc += length


cdef void _apply_live_gradient(const Layout* net, const OptimizerStep* step,
                               floating* params, floating* M, floating* V, double gscale,
                               double reg, const LiveInputs* live) noexcept nogil:
    """The first layer's step from a deferred gradient (_apply_gradient):
    each row of W_1 in one _update_row, its gradient laid out in live.row,
    the live runs copied from live.weights (n_1, n_live), zeros between them.
    Each weight gets the same g as from G."""
    cdef intp i, t, k, start, length, n_in = net.sizes[0], w = net.w_off[0]
    cdef const floating* Gc = <const floating*> live.weights
    cdef floating* row = <floating*> live.row
    memset(row, 0, n_in * sizeof(floating))    # the dead inputs' places stay 0
    for i in range(net.sizes[1]):
        for t in range(live.n_runs):
            start = live.runs[2 * t]
            length = live.runs[2 * t + 1]
            for k in range(length):
                row[start + k] = Gc[k]
            Gc += length
        _update_row(step, params + w, _at(M, w), _at(V, w), row, gscale, reg, n_in)
        w += n_in
