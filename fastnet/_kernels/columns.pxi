# The first layer of per-sample plain SGD, input-major, for a call of many
# steps (epoch.pxi): _train_call copies W[0] into Plan's column copy before
# the steps and back after them, and the steps in between sweep only the rows
# of the inputs that are not zero (columns.h).  The results are bit-identical
# to the row-major sweeps' (layer_pass.pxi), so which one a call uses changes
# nothing but its speed.  A first layer that runs on several threads keeps
# the row-major sweep, each thread on its own rows of W: on MNIST-sized
# 784-256-128-10 in float64 with two threads it took 23-29 us/sample against
# 37-39 for the column copy split by neurons.

cdef enum:
    # Steps a call needs before copying the first layer pays (the two copies
    # cost about as much as a few steps save).
    COLUMN_MIN_STEPS = 16
    # The largest next layer whose weights a step prefetches during its sweep
    # (a third of a 48 kB L1: more would push out the rows being swept).
    PREFETCH_MAX_BYTES = 16384

column_min_steps = COLUMN_MIN_STEPS     # for the tests

cdef extern from "columns.h":
    void* _pages "fastnet_pages"(size_t size) noexcept nogil
    void _free_pages "fastnet_free_pages"(void* p, size_t size) noexcept nogil
    intp COLUMN_ALIGN_D "FASTNET_COLUMN_ALIGN_D"
    intp COLUMN_ALIGN_F "FASTNET_COLUMN_ALIGN_F"
    void _visited_inputs_d "fastnet_visited_inputs_d"(
        const double* a, const double* x, intp n, intp n8, intp* lists, intp cap,
        intp* counts, unsigned char* live) noexcept nogil
    void _visited_inputs_f "fastnet_visited_inputs_f"(
        const float* a, const float* x, intp n, intp n8, intp* lists, intp cap,
        intp* counts, unsigned char* live) noexcept nogil
    void _columns_step_d "fastnet_columns_step_d"(
        double* wt, intp ld, intp c0, intp c1, const double* rate, const double* a,
        const double* x, const intp* lists, intp cap, const intp* counts, double* parts,
        double* dots, const char* ahead, intp ahead_bytes, int backwards) noexcept nogil
    void _columns_step_f "fastnet_columns_step_f"(
        float* wt, intp ld, intp c0, intp c1, const float* rate, const float* a,
        const float* x, const intp* lists, intp cap, const intp* counts, float* parts,
        float* dots, const char* ahead, intp ahead_bytes, int backwards) noexcept nogil


cdef struct Columns:
    # Plan's input-major copy of the first layer and its work space (byte
    # pointers: a struct cannot be fused-typed), all in one block of pages
    void* raw               # the block the others point into (_pages)
    size_t bytes            # its size
    void* wt                # n_in rows of ld: row j holds w_ij for each neuron i
    intp ld                 # row length: n_out rounded up (columns.h)
    void* rates             # ld: the step's learning rate times s_i; zero padding
    void* parts             # 8 rows of ld: the dot products' partial sums
    void* dots              # ld: the dot products
    intp* lists             # 9 lists of cap visited inputs (columns.h)
    intp cap
    unsigned char* live     # n_in: which inputs the step visits (columns.h)
    int backwards           # the direction of the next sweep, which alternates (columns.h)


cdef inline intp _column_ld(intp n_out, intp itemsize) noexcept nogil:
    cdef intp align = COLUMN_ALIGN_D if itemsize == 8 else COLUMN_ALIGN_F
    return (n_out + align - 1) // align * align


cdef void _copy_columns(floating* W, floating* wt, intp n_out, intp n_in, intp ld,
                        bint back) noexcept nogil:
    """wt <- W transposed (the padding zero), or back: W <- wt's columns."""
    cdef intp i, j, i0, j0
    if not back:
        memset(wt, 0, n_in * ld * sizeof(floating))
    # in tiles of 32 x 32, which keep both sides' lines in cache
    for i0 in range(0, (n_out + 31) // 32):
        for j0 in range(0, (n_in + 31) // 32):
            for i in range(32 * i0, min(32 * i0 + 32, n_out)):
                for j in range(32 * j0, min(32 * j0 + 32, n_in)):
                    if back:
                        W[i * n_in + j] = wt[j * ld + i]
                    else:
                        wt[j * ld + i] = W[i * n_in + j]


cdef void _columns_update_forward(const Layout* net, const OptimizerStep* step,
                                  floating* params, Columns* cols, const floating* s,
                                  const floating* a, const floating* x_next, floating* z,
                                  double gscale) noexcept nogil:
    """_layer_update_forward on the column copy: the first layer's plain SGD
    step for this sample (1.31, 1.31a) and, unless x_next is NULL, the next
    sample's pre-activations z = W x_next + b (1.3) with the stepped weights,
    visiting the rows of the inputs non-zero in a or x_next only."""
    cdef intp i, n_in = net.sizes[0], n_out = net.sizes[1], ld = cols.ld
    cdef intp n8 = n_in - n_in % 8
    cdef intp counts[9]
    cdef floating* wt = <floating*> cols.wt
    cdef floating* rates = <floating*> cols.rates
    cdef floating* parts = <floating*> cols.parts
    cdef floating* dots = <floating*> cols.dots
    cdef floating* b = params + net.b_off[0]
    cdef const char* ahead = NULL
    cdef intp ahead_bytes = 0
    for i in range(n_out):
        # as _rows_update_forward: a dead unit's rate is 0 (it moves nothing)
        rates[i] = step.learning_rate * gscale * s[i]
    if floating is double:
        _visited_inputs_d(a, x_next, n_in, n8, cols.lists, cols.cap, counts,
                           cols.live)
    else:
        _visited_inputs_f(a, x_next, n_in, n8, cols.lists, cols.cap, counts,
                           cols.live)
    if x_next != NULL and net.n_layers > 1:
        # the next layer's weights, which the sweep pushes out of L1, are
        # asked back during its last block, in time for their forward pass
        # (when they fit L1 comfortably)
        ahead = <const char*> (params + net.w_off[1])
        ahead_bytes = net.sizes[1] * net.sizes[2] * sizeof(floating)
        if ahead_bytes > PREFETCH_MAX_BYTES:
            ahead_bytes = 0
    if floating is double:
        _columns_step_d(wt, ld, 0, ld, rates, a, x_next, cols.lists, cols.cap, counts, parts,
                        dots, ahead, ahead_bytes, cols.backwards)
    else:
        _columns_step_f(wt, ld, 0, ld, rates, a, x_next, cols.lists, cols.cap, counts, parts,
                        dots, ahead, ahead_bytes, cols.backwards)
    cols.backwards = not cols.backwards
    _update_row(step, b, NULL, NULL, s, gscale, 0, n_out)
    if x_next != NULL:
        for i in range(n_out):
            z[i] = b[i] + dots[i]
