# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Typed per-sample kernels of fastnet: forward pass, sensitivities, updates.

Everything here is maths on trusted, C-contiguous typed buffers; shapes and
codes were validated once in Python (``fastnet/network.py``) before any call.
Equation numbers refer to the design notes in ``shared/seeds`` (seed 000 unless
another seed is named).

Storage (seed 000 section 1.1): all parameters live in one flat buffer.  Layer
``l`` owns ``W[l]`` -- ``sizes[l+1]`` rows (neuron i) of ``sizes[l]`` inputs
(j), row-major as w_ij -- at ``w_off[l]`` and its biases at ``b_off[l]``.
Activations and sensitivities of layers 1..L live in flat work buffers at
``a_off[l]`` (layer l+1's units start at ``a_off[l]``); the input layer is read
straight from ``X``.

Threads: a layer whose weight count reaches ``par_min`` runs its neurons over
``n_threads`` OpenMP threads.  Every sum of one neuron is computed by one
thread in a fixed order, so results are bit-identical for any thread count.
"""
from cython cimport floating
from cython.parallel cimport parallel, prange
from libc.math cimport exp, expm1, log, sqrt, sqrtf, tanh, pow as cpow
from libc.string cimport memcpy, memset
from scipy.linalg.cython_blas cimport dgemm, sgemm

ctypedef Py_ssize_t intp

# Denormal numbers.  Optimizer state decays geometrically (momentum's
# velocity, Adam's moments of a dead ReLU's weights) into the subnormal range,
# where every x86 multiply takes a microcode assist: per-sample Adam on digits
# ran 10x slower after a few epochs.  The training kernels therefore run with
# flush-to-zero and denormals-are-zero set in MXCSR on every thread that
# runs them.  The calling thread gets its own mode back at the end; an OpenMP
# worker leaves with the two bits cleared, because a worker the library
# starts while the caller is inside train_epoch inherits the caller's MXCSR
# (clone copies it), so "restore what the worker had" would keep FTZ on in
# the shared pool.  Only values below 2.2e-308 (float32: 1.2e-38) change;
# NaN and inf behave as before.
cdef extern from *:
    """
    #if defined(__SSE2__) || defined(__x86_64__)
    #include <xmmintrin.h>
    #ifdef _OPENMP
    #include <omp.h>
    #define FASTNET_IS_WORKER() (omp_get_thread_num() != 0)
    #else
    #define FASTNET_IS_WORKER() 0
    #endif
    #define FASTNET_FTZ_DAZ 0x8040u  /* FTZ (bit 15) | DAZ (bit 6) */
    static inline unsigned int fastnet_flush_denormals(void) {
        unsigned int saved = _mm_getcsr();
        _mm_setcsr(saved | FASTNET_FTZ_DAZ);
        return saved;
    }
    static inline void fastnet_restore_fp_mode(unsigned int saved) {
        if (FASTNET_IS_WORKER())
            saved &= ~FASTNET_FTZ_DAZ;
        _mm_setcsr(saved);
    }
    #else
    static inline unsigned int fastnet_flush_denormals(void) { return 0; }
    static inline void fastnet_restore_fp_mode(unsigned int saved) { (void)saved; }
    #endif
    """
    unsigned int _flush_denormals "fastnet_flush_denormals"() noexcept nogil
    void _restore_fp_mode "fastnet_restore_fp_mode"(unsigned int saved) noexcept nogil

# Activation codes (Python side: fastnet/activations.py keeps the same table).
cdef enum:
    IDENTITY = 0
    LOGISTIC = 1
    TANH = 2
    RELU = 3
    ELU = 4
    SOFTMAX = 5
    STEP = 6
    EXP = 7

# Loss codes.
cdef enum:
    SQUARED_ERROR = 0
    CROSS_ENTROPY = 1
    BINARY_CROSS_ENTROPY = 2
    POISSON = 3

# Neurons per chunk of the per-sample path (see _layer_backward_update), and
# slices of a wide layer's minibatch GEMMs (see _gemm_blocks).
cdef enum:
    ROWS_PER_CHUNK = 32
    GEMM_BLOCKS = 4

# Optimizer codes: plain SGD (1.31), SGD with (Nesterov) momentum, Adam.
cdef enum:
    OPT_SGD = 0
    OPT_MOMENTUM = 1
    OPT_ADAM = 2

# Hyper-parameters of an optimizer step, in this order in the `hyper` array.
cdef enum:
    H_LR = 0          # learning rate (Adam: the bias-corrected rate of this step)
    H_MOMENTUM = 1
    H_NESTEROV = 2
    H_BETA1 = 3
    H_BETA2 = 4
    H_EPSILON = 5
    H_ALPHA = 6       # L2 strength, seed 001 eq. (19)-(21)
    H_LR_INIT = 7     # Adam's learning_rate_init, from which H_LR is derived
    N_HYPER = 8


# ---------------------------------------------------------------------------
# Activations: one small function per formula, evaluated from z.
# ---------------------------------------------------------------------------

cdef inline double _expit(double x) noexcept nogil:
    # 1 / (1 + e^-x) without overflow for either sign of x  (1.8)
    cdef double e
    if x >= 0:
        return 1.0 / (1.0 + exp(-x))
    e = exp(x)
    return e / (1.0 + e)


cdef inline double _logistic(double z, double L, double k, double x0) noexcept nogil:
    # L / (1 + e^{k (x0 - z)})  (1.7)
    return L * _expit(k * (z - x0))


cdef inline double _relu(double z) noexcept nogil:
    # max(0, z)  (table 1.1)
    return z if z > 0 else 0.0


cdef inline double _elu(double z, double alpha) noexcept nogil:
    # z for z > 0, alpha (e^z - 1) otherwise  (table 1.1)
    return z if z > 0 else alpha * expm1(z)


cdef inline double _step(double z) noexcept nogil:
    # perceptron threshold: 1 if z > 0 else 0  (seed 001 eq. 1-2)
    return 1.0 if z > 0 else 0.0


cdef void _activate(int code, const double* prm, floating* a, intp n) noexcept nogil:
    """a <- sigma(a) in place, for one layer holding z on entry.  (1.2)"""
    cdef intp i
    cdef double zmax, total
    if code == IDENTITY:
        return
    elif code == LOGISTIC:
        for i in range(n):
            a[i] = _logistic(a[i], prm[0], prm[1], prm[2])
    elif code == TANH:
        for i in range(n):
            a[i] = tanh(a[i])
    elif code == RELU:
        for i in range(n):
            a[i] = _relu(a[i])
    elif code == ELU:
        for i in range(n):
            a[i] = _elu(a[i], prm[0])
    elif code == STEP:
        for i in range(n):
            a[i] = _step(a[i])
    elif code == EXP:
        for i in range(n):
            a[i] = exp(a[i])
    elif code == SOFTMAX:
        # (2.1) made stable: subtracting max(z) leaves softmax unchanged and
        # keeps every exponent <= 0, so nothing overflows.
        zmax = a[0]
        for i in range(1, n):
            if a[i] > zmax:
                zmax = a[i]
        total = 0.0
        for i in range(n):
            a[i] = exp(a[i] - zmax)
            total += a[i]
        for i in range(n):
            a[i] = a[i] / total


cdef void _activation_backprop(int code, const double* prm, const floating* a,
                               floating* d, intp n) noexcept nogil:
    """d <- J^T d: sensitivity from dc/da, J the activation's Jacobian.  (2.12)

    Every derivative is written in terms of the activation a, so z need not be
    kept.  Softmax's full Jacobian diag(a) - a a^T (2.5) is applied in O(n):
    J^T d = a * (d - a.d).
    """
    cdef intp i
    cdef double dot
    if code == IDENTITY:
        return
    elif code == LOGISTIC:
        # d/dz L sigma(k (z - x0)) = k a (1 - a / L)   (1.9 generalised)
        for i in range(n):
            d[i] = d[i] * (prm[1] * a[i] * (1.0 - a[i] / prm[0]))
    elif code == TANH:
        for i in range(n):
            d[i] = d[i] * (1.0 - a[i] * a[i])
    elif code == RELU:
        for i in range(n):
            if a[i] <= 0:
                d[i] = 0
    elif code == ELU:
        # for z <= 0: d/dz alpha (e^z - 1) = alpha e^z = a + alpha
        for i in range(n):
            if a[i] <= 0:
                d[i] = d[i] * (a[i] + prm[0])
    elif code == EXP:
        for i in range(n):
            d[i] = d[i] * a[i]
    elif code == SOFTMAX:
        dot = 0.0
        for i in range(n):
            dot += a[i] * d[i]
        for i in range(n):
            d[i] = a[i] * (d[i] - dot)
    elif code == STEP:
        # The threshold has no gradient; Python refuses hidden step layers and
        # the output layer uses the perceptron rule (fused delta a - t).
        for i in range(n):
            d[i] = 0


# ---------------------------------------------------------------------------
# Losses: value per sample, and dc/da for the general output delta.
# ---------------------------------------------------------------------------

cdef inline double _clip(double p, double eps) noexcept nogil:
    # Probabilities are clipped to [eps, 1 - eps] as scikit-learn does, so
    # logs never give inf or NaN.
    if p < eps:
        return eps
    if p > 1.0 - eps:
        return 1.0 - eps
    return p


cdef inline double _xlogy(double x, double y) noexcept nogil:
    # x log y with 0 log 0 = 0 (targets are often exactly 0)
    if x == 0:
        return 0.0
    return x * log(y)


cdef double _sample_loss(int loss, const floating* a, const floating* t, intp n,
                         double eps) noexcept nogil:
    """The loss of one sample."""
    cdef intp k
    cdef double total = 0.0, p, diff
    if loss == SQUARED_ERROR:
        # 1/2 sum_k (a_k - t_k)^2  (1.11)
        for k in range(n):
            diff = a[k] - t[k]
            total += diff * diff
        return 0.5 * total
    elif loss == CROSS_ENTROPY:
        # -sum_k t_k log a_k  (2.18)
        for k in range(n):
            total -= _xlogy(t[k], _clip(a[k], eps))
        return total
    elif loss == BINARY_CROSS_ENTROPY:
        # -sum_k t_k log a_k + (1 - t_k) log(1 - a_k)  (2.23, seed 001 eq. 17)
        for k in range(n):
            p = _clip(a[k], eps)
            total -= _xlogy(t[k], p) + _xlogy(1.0 - t[k], 1.0 - p)
        return total
    else:
        # Poisson deviance / 2: sum_k t log(t / a) - t + a
        for k in range(n):
            total += _xlogy(t[k], t[k] / a[k]) - t[k] + a[k]
        return total


cdef void _loss_gradient(int loss, const floating* a, const floating* t,
                         floating* d, intp n, double eps) noexcept nogil:
    """d <- dc/da of one sample (the lambda' of 2.16)."""
    cdef intp k
    cdef double p
    for k in range(n):
        if loss == SQUARED_ERROR:
            d[k] = a[k] - t[k]
        elif loss == CROSS_ENTROPY:
            d[k] = -t[k] / _clip(a[k], eps)                          # (2.19)
        elif loss == BINARY_CROSS_ENTROPY:
            p = _clip(a[k], eps)
            d[k] = -t[k] / p + (1.0 - t[k]) / (1.0 - p)
        else:
            d[k] = 1.0 - t[k] / a[k]


cdef void _output_delta(int loss, bint fused, int code, const double* prm,
                        const floating* a, const floating* t, floating* s,
                        intp n, double weight, double eps) noexcept nogil:
    """s^L, the output layer's sensitivities, times the sample's weight.

    fused: the canonical pairs (softmax + cross entropy, logistic + binary
    cross entropy, identity + squared error, exp + Poisson, and the step
    output's perceptron rule) simplify to s = a - t  (2.21, 2.28).  Other
    pairs take the general s = J^T dc/da  (2.16).
    """
    cdef intp k
    if fused:
        for k in range(n):
            s[k] = a[k] - t[k]
    else:
        _loss_gradient(loss, a, t, s, n, eps)
        _activation_backprop(code, prm, a, s, n)
    if weight != 1.0:
        for k in range(n):
            s[k] = s[k] * weight


# ---------------------------------------------------------------------------
# Linear algebra on one sample.
# ---------------------------------------------------------------------------

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
        s0 = s0 + w[j] * x[j]
    return ((s0 + s4) + (s1 + s5)) + ((s2 + s6) + (s3 + s7))


cdef inline double _sparse_dot(const floating* w, const floating* val,
                               const intp* ind, intp nnz) noexcept nogil:
    # (1.1) over the non-zero inputs only
    cdef intp k
    cdef double s = 0
    for k in range(nnz):
        s += w[ind[k]] * val[k]
    return s


cdef inline intp _n_chunks(intp n_out) noexcept nogil:
    return (n_out + ROWS_PER_CHUNK - 1) // ROWS_PER_CHUNK


cdef inline void _rows_forward(const floating* W, const floating* b,
                               const floating* x, const floating* val,
                               const intp* ind, intp nnz, floating* z,
                               intp i0, intp i1, intp n_in) noexcept nogil:
    cdef intp i
    if x != NULL:
        for i in range(i0, i1):
            z[i] = b[i] + _dot(W + i * n_in, x, n_in)
    else:
        for i in range(i0, i1):
            z[i] = b[i] + _sparse_dot(W + i * n_in, val, ind, nnz)


cdef void _layer_forward(const floating* W, const floating* b, const floating* x,
                         const floating* val, const intp* ind, intp nnz,
                         floating* z, intp n_out, intp n_in, int nt) noexcept nogil:
    """z <- W x + b  (1.3); x dense, or sparse as (val, ind, nnz) when x is NULL.

    Threads take whole chunks of ROWS_PER_CHUNK neurons in a static schedule,
    the same chunks they update in _layer_backward_update, so each core keeps
    working on the rows of W already in its cache.
    """
    cdef intp c, nc = _n_chunks(n_out)
    cdef unsigned int fp_mode
    if nt > 1:
        with parallel(num_threads=nt):
            # every thread of the team, with or without a chunk, sets and
            # resets its mode (see _flush_denormals)
            fp_mode = _flush_denormals()
            for c in prange(nc, schedule='static'):
                _rows_forward(W, b, x, val, ind, nnz, z, c * ROWS_PER_CHUNK,
                              min((c + 1) * ROWS_PER_CHUNK, n_out), n_in)
            _restore_fp_mode(fp_mode)
    else:
        _rows_forward(W, b, x, val, ind, nnz, z, 0, n_out, n_in)


cdef inline void _opt_step(int opt, floating* w, floating* m, floating* v,
                           double g, const double* h) noexcept nogil:
    """One optimizer step of one parameter w with gradient g.

    SGD (1.31); momentum as scikit-learn's SGDOptimizer
    (v <- mu v - lr g; w <- w + v, or w + mu v - lr g for Nesterov);
    Adam as its AdamOptimizer, h[H_LR] being this step's bias-corrected rate.
    """
    cdef double vel
    if opt == OPT_SGD:
        w[0] = w[0] - h[H_LR] * g
    elif opt == OPT_MOMENTUM:
        vel = h[H_MOMENTUM] * m[0] - h[H_LR] * g
        m[0] = vel
        if h[H_NESTEROV] != 0:
            w[0] = w[0] + (h[H_MOMENTUM] * vel - h[H_LR] * g)
        else:
            w[0] = w[0] + vel
    else:
        m[0] = h[H_BETA1] * m[0] + (1 - h[H_BETA1]) * g
        v[0] = h[H_BETA2] * v[0] + (1 - h[H_BETA2]) * (g * g)
        w[0] = w[0] + (-h[H_LR] * m[0] / (sqrt(v[0]) + h[H_EPSILON]))


cdef inline floating _sqrt(floating x) noexcept nogil:
    if floating is float:
        return sqrtf(x)
    return sqrt(x)


cdef inline void _row_step(int opt, floating* w, floating* m, floating* v,
                           const floating* a, floating gs, floating reg, intp n,
                           const double* h) noexcept nogil:
    """One row's optimizer step for g_j = gs a_j + reg w_j  (1.29, 1.31).

    The same formulas as _opt_step, one loop per optimizer so that each
    vectorises: SGD w -= lr g; momentum v <- mu v - lr g, w += v (Nesterov:
    w += mu v - lr g); Adam as scikit-learn's AdamOptimizer.
    """
    cdef intp j
    cdef floating g, vel, lr = h[H_LR], mu = h[H_MOMENTUM]
    cdef floating b1 = h[H_BETA1], b2 = h[H_BETA2], eps = h[H_EPSILON]
    if opt == OPT_SGD:
        for j in range(n):
            w[j] = w[j] - lr * (gs * a[j] + reg * w[j])
    elif opt == OPT_MOMENTUM and h[H_NESTEROV] == 0:
        for j in range(n):
            g = gs * a[j] + reg * w[j]
            vel = mu * m[j] - lr * g
            m[j] = vel
            w[j] = w[j] + vel
    elif opt == OPT_MOMENTUM:
        for j in range(n):
            g = gs * a[j] + reg * w[j]
            vel = mu * m[j] - lr * g
            m[j] = vel
            w[j] = w[j] + (mu * vel - lr * g)
    else:
        for j in range(n):
            g = gs * a[j] + reg * w[j]
            m[j] = b1 * m[j] + (1 - b1) * g
            v[j] = b2 * v[j] + (1 - b2) * (g * g)
            w[j] = w[j] + (-lr * m[j] / (_sqrt(v[j]) + eps))


cdef void _rows_backward_update(
        floating* W, floating* b, floating* M, floating* V, floating* Mb,
        floating* Vb, const floating* s, const floating* a, floating* lam,
        floating* rowsq, intp i0, intp i1, intp n_in, int opt, const double* h,
        double gscale, double reg) noexcept nogil:
    """Neurons i0..i1 of one layer: backpropagate and update in one pass over W.

    lam_j += sum_i s_i w_ij with the weights before this step (1.20), then
    w_ij takes the step for g_ij = gscale s_i a_j + reg w_ij (1.29, 1.31,
    seed 001 eq. 21) and b_i for gscale s_i (1.32).  lam is NULL for the
    first layer, which needs no sensitivities.  With L2 (reg > 0), rowsq[i]
    receives sum_j w_ij^2 before the step, for the loss.  M and V hold the
    optimizer's state (unused by plain SGD).
    """
    cdef intp i, j
    cdef floating* row
    cdef floating si, step     # the element type, so float32 loops stay float32
    for i in range(i0, i1):
        si = s[i]
        row = W + i * n_in
        if opt == OPT_SGD and reg == 0:
            if si == 0:
                continue        # a dead ReLU: nothing flows back, nothing moves
            step = h[H_LR] * gscale * si
            if lam != NULL:
                for j in range(n_in):
                    lam[j] = lam[j] + si * row[j]
                    row[j] = row[j] - step * a[j]
            else:
                for j in range(n_in):
                    row[j] = row[j] - step * a[j]
        else:
            if lam != NULL:
                for j in range(n_in):
                    lam[j] = lam[j] + si * row[j]
            if reg != 0:
                rowsq[i] = _dot(row, row, n_in)
            _row_step(opt, row, M + i * n_in, V + i * n_in, a, gscale * si, reg,
                      n_in, h)
        _opt_step(opt, b + i, Mb + i, Vb + i, gscale * si, h)


cdef void _layer_backward_update(
        floating* W, floating* b, floating* M, floating* V, floating* Mb,
        floating* Vb, const floating* s, const floating* a, floating* lam,
        floating* parts, floating* rowsq, intp n_out, intp n_in, int opt,
        const double* h, double gscale, double reg, int nt) noexcept nogil:
    """Per-sample step of one layer: lam = W^T s (old W), then W and b move.

    Neurons are taken in chunks of ROWS_PER_CHUNK.  Chunk c sums its part of
    lam in parts[c] (rows in order), and lam_j = ((parts[0]_j + parts[1]_j)
    + parts[2]_j) + ...: the chunks and both orders are fixed, so lam is
    bit-identical for any thread count, while each thread owns whole rows of W
    (the rows it also computed in the forward pass).
    """
    cdef intp c, j, blk, nc = _n_chunks(n_out)
    cdef intp j0, j1
    cdef unsigned int fp_mode
    if lam == NULL or nc == 1:
        if lam != NULL:
            memset(lam, 0, n_in * sizeof(floating))
        if nt > 1 and nc > 1:
            with parallel(num_threads=nt):
                fp_mode = _flush_denormals()
                for c in prange(nc, schedule='static'):
                    _rows_backward_update(W, b, M, V, Mb, Vb, s, a, NULL, rowsq,
                                          c * ROWS_PER_CHUNK,
                                          min((c + 1) * ROWS_PER_CHUNK, n_out),
                                          n_in, opt, h, gscale, reg)
                _restore_fp_mode(fp_mode)
        else:
            _rows_backward_update(W, b, M, V, Mb, Vb, s, a, lam, rowsq, 0, n_out, n_in,
                                  opt, h, gscale, reg)
        return
    if nt > 1:
        with parallel(num_threads=nt):
            fp_mode = _flush_denormals()
            for c in prange(nc, schedule='static'):
                memset(parts + c * n_in, 0, n_in * sizeof(floating))
                _rows_backward_update(W, b, M, V, Mb, Vb, s, a, parts + c * n_in, rowsq,
                                      c * ROWS_PER_CHUNK,
                                      min((c + 1) * ROWS_PER_CHUNK, n_out),
                                      n_in, opt, h, gscale, reg)
            for blk in prange(nt, schedule='static'):
                _sum_parts(parts, lam, nc, n_in, blk * n_in // nt,
                           (blk + 1) * n_in // nt)
            _restore_fp_mode(fp_mode)
    else:
        for c in range(nc):
            memset(parts + c * n_in, 0, n_in * sizeof(floating))
            _rows_backward_update(W, b, M, V, Mb, Vb, s, a, parts + c * n_in, rowsq,
                                  c * ROWS_PER_CHUNK,
                                  min((c + 1) * ROWS_PER_CHUNK, n_out),
                                  n_in, opt, h, gscale, reg)
        _sum_parts(parts, lam, nc, n_in, 0, n_in)


cdef void _sum_parts(const floating* parts, floating* lam, intp nc, intp n_in,
                     intp j0, intp j1) noexcept nogil:
    """lam_j = sum of the chunks' partial sums, in chunk order, for j0 <= j < j1."""
    cdef intp c, j
    for j in range(j0, j1):
        lam[j] = parts[j]
    for c in range(1, nc):
        for j in range(j0, j1):
            lam[j] = lam[j] + parts[c * n_in + j]


cdef void _first_layer_sparse_sgd(floating* W, floating* b, const floating* s,
                                  const floating* val, const intp* ind, intp nnz,
                                  intp n_out, intp n_in, double lr,
                                  double gscale) noexcept nogil:
    """Plain SGD without L2 on sparse input: only the non-zero inputs move."""
    cdef intp i, k
    cdef floating* row
    cdef floating step
    for i in range(n_out):
        if s[i] == 0:
            continue
        step = lr * gscale * s[i]
        row = W + i * n_in
        for k in range(nnz):
            row[ind[k]] = row[ind[k]] - step * val[k]
        b[i] = b[i] - step


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
        const floating* W, floating* G, floating* Gb, const floating* s,
        const floating* a, const floating* val, const intp* ind, intp nnz,
        floating* lam, intp n_out, intp n_in, int nt) noexcept nogil:
    """Accumulate one sample's gradient of one layer; a dense, or sparse (val, ind)."""
    cdef intp i, k, blk
    cdef floating* grow
    cdef unsigned int fp_mode
    if lam != NULL:
        memset(lam, 0, n_in * sizeof(floating))
    if a != NULL:
        if nt > 1:
            with parallel(num_threads=nt):
                fp_mode = _flush_denormals()
                for blk in prange(nt, schedule='static'):
                    _columns_backward_accumulate(W, G, s, a, lam, n_out, n_in,
                                                 blk * n_in // nt,
                                                 (blk + 1) * n_in // nt)
                _restore_fp_mode(fp_mode)
        else:
            _columns_backward_accumulate(W, G, s, a, lam, n_out, n_in, 0, n_in)
    else:
        # sparse input: the first layer, so no lam
        for i in range(n_out):
            grow = G + i * n_in
            for k in range(nnz):
                grow[ind[k]] = grow[ind[k]] + s[i] * val[k]
    for i in range(n_out):
        Gb[i] = Gb[i] + s[i]


# ---------------------------------------------------------------------------
# The network: one sample forward and back, one epoch, full-batch gradient.
# ---------------------------------------------------------------------------

cdef struct Shape:
    # Where things are in the flat buffers; built once per call.
    intp n_layers           # weight layers L
    const intp* sizes       # units per layer, L + 1 entries (input first)
    const intp* w_off       # offset of W[l] in params
    const intp* b_off       # offset of b[l] in params
    const intp* a_off       # offset of layer l+1's units in the work buffers
    const int* act          # activation code per weight layer
    const double* prm       # 3 activation parameters per weight layer
    int loss
    bint fused_delta
    double eps              # the dtype's machine epsilon for clipping logs
    intp par_min            # weights per layer from which threads are used
    int n_threads
    intp n_units            # units of layers 1..L: the row width of batch buffers


cdef inline int _threads_for(const Shape* sh, intp l) noexcept nogil:
    if sh.sizes[l] * sh.sizes[l + 1] >= sh.par_min:
        return sh.n_threads
    return 1


cdef void _forward(const Shape* sh, const floating* params, const floating* x,
                   const floating* val, const intp* ind, intp nnz,
                   floating* acts, bint threaded) noexcept nogil:
    """Forward pass of one sample  (1.3, 1.4); acts receives layers 1..L."""
    cdef intp l
    cdef const floating* inp = x
    for l in range(sh.n_layers):
        _layer_forward(params + sh.w_off[l], params + sh.b_off[l], inp, val, ind,
                       nnz, acts + sh.a_off[l], sh.sizes[l + 1], sh.sizes[l],
                       _threads_for(sh, l) if threaded else 1)
        _activate(sh.act[l], sh.prm + 3 * l, acts + sh.a_off[l], sh.sizes[l + 1])
        inp = acts + sh.a_off[l]


cdef double _forward_loss_delta(const Shape* sh, const floating* params,
                                const floating* x, const floating* val,
                                const intp* ind, intp nnz, const floating* t,
                                double weight, floating* acts,
                                floating* deltas) noexcept nogil:
    """Forward one sample, return its loss, leave s^L in deltas."""
    cdef intp L = sh.n_layers - 1
    cdef intp n_out = sh.sizes[sh.n_layers]
    cdef floating* a_out = acts + sh.a_off[L]
    _forward(sh, params, x, val, ind, nnz, acts, True)
    _output_delta(sh.loss, sh.fused_delta, sh.act[L], sh.prm + 3 * L, a_out, t,
                  deltas + sh.a_off[L], n_out, weight, sh.eps)
    return _sample_loss(sh.loss, a_out, t, n_out, sh.eps)


cdef double _backward_update(const Shape* sh, floating* params, floating* M,
                             floating* V, const floating* x, const floating* val,
                             const intp* ind, intp nnz, floating* xdense,
                             floating* parts, floating* rowsq, floating* acts,
                             floating* deltas, int opt, const double* h,
                             double gscale, double reg) noexcept nogil:
    """Per-sample SGD/momentum/Adam step of every layer, last layer first.

    Backpropagation (1.23 / 2.12) and the update (1.31, 1.32) share one pass
    over each W; the input layer needs no sensitivities.  Returns ||W||^2
    before the step when reg > 0 (for the L2 term of the loss), else 0.
    """
    cdef intp l, k, n_in, n_out
    cdef double total = 0
    cdef floating* lam
    cdef const floating* a_prev
    for l in range(sh.n_layers - 1, -1, -1):
        n_in = sh.sizes[l]
        n_out = sh.sizes[l + 1]
        if l > 0:
            a_prev = acts + sh.a_off[l - 1]
            lam = deltas + sh.a_off[l - 1]
        else:
            lam = NULL
            a_prev = x
            if x == NULL:
                if opt == OPT_SGD and reg == 0:
                    _first_layer_sparse_sgd(params + sh.w_off[0],
                                            params + sh.b_off[0],
                                            deltas + sh.a_off[0], val, ind, nnz,
                                            n_out, n_in, h[H_LR], gscale)
                    return 0
                # momentum, Adam and L2 move every weight: spread the row out
                for k in range(nnz):
                    xdense[ind[k]] = val[k]
                a_prev = xdense
        _layer_backward_update(params + sh.w_off[l], params + sh.b_off[l],
                               M + sh.w_off[l], V + sh.w_off[l],
                               M + sh.b_off[l], V + sh.b_off[l],
                               deltas + sh.a_off[l], a_prev, lam, parts,
                               rowsq + sh.a_off[l], n_out, n_in, opt, h, gscale,
                               reg, _threads_for(sh, l))
        if l > 0:
            _activation_backprop(sh.act[l - 1], sh.prm + 3 * (l - 1),
                                 acts + sh.a_off[l - 1], lam, n_in)
        elif x == NULL:
            for k in range(nnz):
                xdense[ind[k]] = 0
    if reg != 0:
        for k in range(sh.n_units):     # rows in a fixed order: any n_jobs
            total += rowsq[k]
    return total


cdef void _backward_accumulate(const Shape* sh, const floating* params,
                               floating* G, const floating* x,
                               const floating* val, const intp* ind, intp nnz,
                               floating* acts, floating* deltas) noexcept nogil:
    """Add one sample's gradient to G (same layout as params)."""
    cdef intp l
    cdef floating* lam
    cdef const floating* a_prev
    for l in range(sh.n_layers - 1, -1, -1):
        if l > 0:
            a_prev = acts + sh.a_off[l - 1]
            lam = deltas + sh.a_off[l - 1]
        else:
            a_prev = x
            lam = NULL
        _layer_backward_accumulate(params + sh.w_off[l], G + sh.w_off[l],
                                   G + sh.b_off[l], deltas + sh.a_off[l], a_prev,
                                   val, ind, nnz, lam, sh.sizes[l + 1],
                                   sh.sizes[l], _threads_for(sh, l))
        if l > 0:
            _activation_backprop(sh.act[l - 1], sh.prm + 3 * (l - 1),
                                 acts + sh.a_off[l - 1], lam, sh.sizes[l])


cdef double _sum_squared_weights(const Shape* sh, const floating* params) noexcept nogil:
    # ||W||^2 over the weights (not the biases), for the L2 term of the loss
    cdef intp l, j, n
    cdef double total = 0
    cdef const floating* w
    for l in range(sh.n_layers):
        w = params + sh.w_off[l]
        n = sh.sizes[l] * sh.sizes[l + 1]
        for j in range(n):
            total += w[j] * w[j]
    return total


cdef double _batch_gradient(const Shape* sh, const floating* params, floating* G,
                            const floating* X, const floating* Xval,
                            const intp* Xind, const intp* Xptr,
                            const floating* Y, const floating* sw,
                            const intp* order, intp start, intp stop,
                            floating* acts, floating* deltas) noexcept nogil:
    """G <- sum over the batch of the weighted per-sample gradients; returns
    the weighted sum of the per-sample losses."""
    cdef intp k, r, n_in = sh.sizes[0], n_out = sh.sizes[sh.n_layers]
    cdef double loss = 0, weight = 1
    cdef const floating* x = NULL
    cdef const floating* val = NULL
    cdef const intp* ind = NULL
    cdef intp nnz = 0
    for k in range(start, stop):
        r = order[k]
        if sw != NULL:
            weight = sw[r]
        if X != NULL:
            x = X + r * n_in
        else:
            val = Xval + Xptr[r]
            ind = Xind + Xptr[r]
            nnz = Xptr[r + 1] - Xptr[r]
        loss += weight * _forward_loss_delta(sh, params, x, val, ind, nnz,
                                             Y + r * n_out, weight, acts, deltas)
        _backward_accumulate(sh, params, G, x, val, ind, nnz, acts, deltas)
    return loss


# ---------------------------------------------------------------------------
# Minibatches through BLAS: the same maths as the per-sample path, a whole
# batch at a time (seed 002's batched form X_l = f(X_{l-1} W_l^T)).
# Batch buffers are row-major (batch, n_units): row b holds sample b's layers
# side by side, so layer l is the column block at a_off[l] with leading
# dimension n_units.  BLAS is column-major: a row-major (r, c) matrix is the
# column-major (c, r) matrix it transposes.
# ---------------------------------------------------------------------------

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


cdef void _gemm_blocks(char transa, char transb, bint split_m, int m, int n,
                       int k, const floating* A, int lda, const floating* B,
                       int ldb, floating beta, floating* C, int ldc,
                       int nt) noexcept nogil:
    """C <- op(A) op(B) + beta C as GEMM_BLOCKS single-threaded GEMMs.

    The output is cut into GEMM_BLOCKS slices of its rows (split_m) or
    columns, never along the summed dimension k.  The slices are the same for
    any thread count and each is one BLAS call on the same operands, so the
    result is bit-identical whether one thread or several take the slices.
    Splitting rows of C needs rows of op(A): A + i (transa 'N') or
    A + i * lda ('T'); splitting columns needs columns of op(B): B + i * ldb
    ('N') or B + i ('T').
    """
    cdef int blk, i0, i1, extent = m if split_m else n
    cdef unsigned int fp_mode
    if nt <= 1:
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


cdef double _chunk_gradient_blas(const Shape* sh, const floating* params,
                                 floating* G, const floating* X,
                                 const floating* Y, const floating* sw,
                                 const intp* order, intp start, intp stop,
                                 floating* xb, floating* A,
                                 floating* D) noexcept nogil:
    """G += sum over samples start..stop of their weighted gradients; returns
    the weighted sum of their losses.  Dense X only.

    Forward (1.3) as Z = A_prev W^T + b, backward (1.23) as
    Lambda = S W, gradient (1.29) as G = S^T A_prev.  BLAS itself runs on
    one thread (network.py holds it there): its own threading may sum an entry
    in another order for another thread count.  Wide layers instead split
    each GEMM into fixed slices that our threads share (_gemm_blocks).
    """
    cdef intp nb = stop - start, n_in = sh.sizes[0], U = sh.n_units
    cdef intp L = sh.n_layers, l, b, i, n_l, n_prev
    cdef intp n_out = sh.sizes[L]
    cdef double loss = 0, weight = 1
    cdef const floating* inp
    cdef intp ld_inp
    cdef floating* S
    cdef floating* gb
    for b in range(nb):      # the batch's inputs, gathered in visiting order
        memcpy(xb + b * n_in, X + order[start + b] * n_in, n_in * sizeof(floating))
    inp = xb
    ld_inp = n_in
    for l in range(L):
        n_l = sh.sizes[l + 1]
        for b in range(nb):
            memcpy(A + b * U + sh.a_off[l], params + sh.b_off[l], n_l * sizeof(floating))
        _gemm_blocks(c'T', c'N', True, n_l, nb, sh.sizes[l], params + sh.w_off[l],
                     sh.sizes[l], inp, ld_inp, 1, A + sh.a_off[l], U,
                     _threads_for(sh, l))
        for b in range(nb):
            _activate(sh.act[l], sh.prm + 3 * l, A + b * U + sh.a_off[l], n_l)
        inp = A + sh.a_off[l]
        ld_inp = U
    for b in range(nb):
        if sw != NULL:
            weight = sw[order[start + b]]
        _output_delta(sh.loss, sh.fused_delta, sh.act[L - 1], sh.prm + 3 * (L - 1),
                      A + b * U + sh.a_off[L - 1], Y + order[start + b] * n_out,
                      D + b * U + sh.a_off[L - 1], n_out, weight, sh.eps)
        loss += weight * _sample_loss(sh.loss, A + b * U + sh.a_off[L - 1],
                                      Y + order[start + b] * n_out, n_out, sh.eps)
    for l in range(L - 1, -1, -1):
        n_l = sh.sizes[l + 1]
        n_prev = sh.sizes[l]
        S = D + sh.a_off[l]
        if l > 0:
            inp = A + sh.a_off[l - 1]
            ld_inp = U
        else:
            inp = xb
            ld_inp = n_in
        _gemm_blocks(c'N', c'T', False, n_prev, n_l, nb, inp, ld_inp, S, U, 1,
                     G + sh.w_off[l], n_prev, _threads_for(sh, l))
        gb = G + sh.b_off[l]
        for b in range(nb):
            for i in range(n_l):
                gb[i] = gb[i] + S[b * U + i]
        if l > 0:
            _gemm_blocks(c'N', c'N', True, n_prev, nb, n_l, params + sh.w_off[l],
                         n_prev, S, U, 0, D + sh.a_off[l - 1], U,
                         _threads_for(sh, l))
            for b in range(nb):
                _activation_backprop(sh.act[l - 1], sh.prm + 3 * (l - 1),
                                     A + b * U + sh.a_off[l - 1],
                                     D + b * U + sh.a_off[l - 1], n_prev)
    return loss


cdef double _batch_gradient_blas(const Shape* sh, const floating* params,
                                 floating* G, const floating* X,
                                 const floating* Y, const floating* sw,
                                 const intp* order, intp start, intp stop,
                                 floating* xb, floating* A, floating* D,
                                 intp chunk) noexcept nogil:
    """_chunk_gradient_blas over start..stop in chunks of at most `chunk` rows
    (the batch buffers' height), so full-batch gradients need little memory."""
    cdef double loss = 0
    cdef intp lo = start, hi
    while lo < stop:
        hi = lo + chunk if lo + chunk < stop else stop
        loss += _chunk_gradient_blas(sh, params, G, X, Y, sw, order, lo, hi, xb, A, D)
        lo = hi
    return loss


cdef void _apply_gradient(const Shape* sh, floating* params, floating* G,
                          floating* M, floating* V, int opt, const double* h,
                          double gscale, double reg) noexcept nogil:
    """Minibatch step: g = gscale G + reg W (biases: gscale G); then G <- 0."""
    cdef intp l, w0, b0, nw, nb
    for l in range(sh.n_layers):
        w0 = sh.w_off[l]
        b0 = sh.b_off[l]
        nw = sh.sizes[l] * sh.sizes[l + 1]
        nb = sh.sizes[l + 1]
        _row_step(opt, params + w0, M + w0, V + w0, G + w0, gscale, reg, nw, h)
        _row_step(opt, params + b0, M + b0, V + b0, G + b0, gscale, 0, nb, h)
        memset(G + w0, 0, (nw + nb) * sizeof(floating))


cdef Shape _make_shape(const intp[::1] sizes, const intp[::1] w_off,
                       const intp[::1] b_off, const intp[::1] a_off,
                       const int[::1] act, const double[:, ::1] prm, int loss,
                       bint fused_delta, double eps, intp par_min,
                       int n_threads) noexcept:
    cdef Shape sh
    sh.n_layers = act.shape[0]
    sh.sizes = &sizes[0]
    sh.w_off = &w_off[0]
    sh.b_off = &b_off[0]
    sh.a_off = &a_off[0]
    sh.act = &act[0]
    sh.prm = &prm[0, 0]
    sh.loss = loss
    sh.fused_delta = fused_delta
    sh.eps = eps
    sh.par_min = par_min
    sh.n_threads = n_threads
    sh.n_units = a_off[sh.n_layers - 1] + sizes[sh.n_layers]
    return sh


def train_epoch(
        floating[::1] params,          # IN/OUT all weights and biases
        floating[::1] state1,          # IN/OUT momentum velocity or Adam's m
        floating[::1] state2,          # IN/OUT Adam's v
        floating[::1] grad,            # scratch: minibatch gradient, zero on entry
        floating[::1] acts,            # scratch: activations of layers 1..L
        floating[::1] deltas,          # scratch: sensitivities of layers 1..L
        floating[::1] xdense,          # scratch: one sparse row spread out, zeros
        floating[::1] parts,           # scratch: chunk partial sums, lam_parts_size
        floating[::1] rowsq,           # scratch: sum_j w_ij^2 per neuron (n_units)
        floating[:, ::1] xbatch,       # scratch: a minibatch's inputs (chunk, n_in)
        floating[:, ::1] bacts,        # scratch: its activations (chunk, n_units)
        floating[:, ::1] bdeltas,      # scratch: its sensitivities (chunk, n_units)
        const intp[::1] sizes, const intp[::1] w_off, const intp[::1] b_off,
        const intp[::1] a_off, const int[::1] act, const double[:, ::1] prm,
        int loss, bint fused_delta, double loss_scale,
        const floating[:, ::1] X,      # IN dense inputs, or shape (0, 0) if sparse
        const floating[::1] Xval,      # IN CSR values (empty if dense)
        const intp[::1] Xind, const intp[::1] Xptr,
        const floating[:, ::1] Y,      # IN targets (n_samples, n_outputs)
        const floating[::1] sw,        # IN sample weights, empty for none
        const intp[::1] order,         # IN samples in the order they are visited
        intp batch_size, int opt,
        double[::1] hyper,             # IN/OUT see H_*; H_LR rewritten for Adam
        long adam_t, intp par_min, int n_threads):
    """One epoch of minibatch (or, for batch_size 1, per-sample) training.

    Returns (accumulated_loss, adam_t): the sum over batches of
    batch_loss * batch_length, exactly as scikit-learn accumulates it, where
    batch_loss = loss_scale * sum_s w_s c_s / sum_s w_s
    + alpha / 2 ||W||^2 / sum_s w_s (weights before the batch's step).
    """
    cdef Shape sh = _make_shape(sizes, w_off, b_off, a_off, act, prm, loss,
                                fused_delta, 1.0, par_min, n_threads)
    cdef intp n = order.shape[0], n_in = sizes[0], n_out = Y.shape[1]
    cdef intp start, stop, k, r
    cdef bint per_sample
    cdef double sw_sum, batch_loss, total = 0, weight, alpha = hyper[H_ALPHA]
    cdef unsigned int fp_mode
    cdef floating* P = &params[0]
    cdef floating* M = &state1[0]
    cdef floating* V = &state2[0]
    cdef const floating* Xd = &X[0, 0] if X.shape[0] > 0 else NULL
    cdef const floating* Xv = &Xval[0] if X.shape[0] == 0 and Xval.shape[0] > 0 else NULL
    cdef const intp* Xi = &Xind[0] if X.shape[0] == 0 and Xind.shape[0] > 0 else NULL
    cdef const intp* Xp = &Xptr[0] if X.shape[0] == 0 else NULL
    cdef const floating* W = &sw[0] if sw.shape[0] > 0 else NULL
    cdef const floating* x = NULL
    cdef const floating* val = NULL
    cdef const intp* ind = NULL
    cdef intp nnz = 0
    cdef double* h = &hyper[0]
    cdef intp chunk = bacts.shape[0]
    sh.eps = 1.1920928955078125e-07 if floating is float else 2.220446049250313e-16
    if rowsq.shape[0] < sh.n_units:
        raise ValueError("the row-sum buffer is too small")
    if parts.shape[0] < lam_parts_size(sizes):
        raise ValueError("the partial-sum buffer is too small")
    if Xd != NULL and batch_size > 1 and (
            chunk == 0 or xbatch.shape[0] < chunk or bdeltas.shape[0] < chunk
            or xbatch.shape[1] != n_in or bacts.shape[1] != sh.n_units
            or bdeltas.shape[1] != sh.n_units):
        raise ValueError("minibatch buffers have the wrong shape")
    with nogil:
        fp_mode = _flush_denormals()   # this thread's share; workers set their own
        start = 0
        while start < n:
            stop = start + batch_size if start + batch_size < n else n
            if W != NULL:
                sw_sum = 0
                for k in range(start, stop):
                    sw_sum += W[order[k]]
            else:
                sw_sum = stop - start
            if sw_sum == 0:
                # a batch of zero-weight samples carries no gradient: skip it
                # (Network only; the drop-ins raise before the epoch, as
                # scikit-learn does)
                start = stop
                continue
            batch_loss = 0
            per_sample = stop - start == 1 and batch_size == 1
            if alpha > 0 and not per_sample:
                batch_loss = 0.5 * alpha * _sum_squared_weights(&sh, P) / sw_sum
            if opt == OPT_ADAM:
                adam_t += 1
                h[H_LR] = (h[H_LR_INIT] * sqrt(1 - cpow(h[H_BETA2], adam_t))
                           / (1 - cpow(h[H_BETA1], adam_t)))
            if per_sample:
                r = order[start]
                weight = W[r] if W != NULL else 1.0
                if Xd != NULL:
                    x = Xd + r * n_in
                else:
                    val = Xv + Xp[r]
                    ind = Xi + Xp[r]
                    nnz = Xp[r + 1] - Xp[r]
                batch_loss += loss_scale * _forward_loss_delta(
                    &sh, P, x, val, ind, nnz, &Y[r, 0], weight, &acts[0], &deltas[0])
                # the L2 term of the loss uses the weights before the step,
                # whose squares the update pass sums on its way
                batch_loss += 0.5 * alpha * _backward_update(
                    &sh, P, M, V, x, val, ind, nnz, &xdense[0], &parts[0],
                    &rowsq[0], &acts[0], &deltas[0], opt, h, 1.0 / sw_sum,
                    alpha / sw_sum) / sw_sum
            elif Xd != NULL:
                batch_loss += loss_scale * _batch_gradient_blas(
                    &sh, P, &grad[0], Xd, &Y[0, 0], W, &order[0], start, stop,
                    &xbatch[0, 0], &bacts[0, 0], &bdeltas[0, 0], chunk) / sw_sum
                _apply_gradient(&sh, P, &grad[0], M, V, opt, h, 1.0 / sw_sum,
                                alpha / sw_sum)
            else:
                batch_loss += loss_scale * _batch_gradient(
                    &sh, P, &grad[0], Xd, Xv, Xi, Xp, &Y[0, 0], W, &order[0],
                    start, stop, &acts[0], &deltas[0]) / sw_sum
                _apply_gradient(&sh, P, &grad[0], M, V, opt, h, 1.0 / sw_sum,
                                alpha / sw_sum)
            total += batch_loss * (stop - start)
            start = stop
        _restore_fp_mode(fp_mode)
    return total, adam_t


def lam_parts_size(const intp[::1] sizes):
    """Length of the `parts` scratch train_epoch needs (at least 1)."""
    cdef intp l, size = 1, nc
    for l in range(1, sizes.shape[0] - 1):
        nc = _n_chunks(sizes[l + 1])
        if nc > 1 and nc * sizes[l] > size:
            size = nc * sizes[l]
    return size


def loss_and_gradient(
        const floating[::1] params,    # IN all weights and biases
        floating[::1] grad,            # OUT gradient, same layout as params
        floating[::1] acts, floating[::1] deltas,
        floating[:, ::1] xbatch, floating[:, ::1] bacts, floating[:, ::1] bdeltas,
        const intp[::1] sizes, const intp[::1] w_off, const intp[::1] b_off,
        const intp[::1] a_off, const int[::1] act, const double[:, ::1] prm,
        int loss, bint fused_delta, double loss_scale, double alpha,
        const floating[:, ::1] X, const floating[::1] Xval,
        const intp[::1] Xind, const intp[::1] Xptr,
        const floating[:, ::1] Y, const floating[::1] sw,
        const intp[::1] order, intp par_min, int n_threads):
    """Full-batch loss and gradient (L-BFGS, gradient checks), as scikit-learn's
    ``_backprop``: loss_scale sum_s w_s c_s / sum w + alpha/2 ||W||^2 / sum w,
    gradient (sum_s w_s s a^T + alpha W) / sum w  (1.29, seed 001 eq. 21)."""
    cdef Shape sh = _make_shape(sizes, w_off, b_off, a_off, act, prm, loss,
                                fused_delta, 1.0, par_min, n_threads)
    cdef intp n = order.shape[0], k, l, j
    cdef double sw_sum, data_loss, reg_loss = 0
    cdef unsigned int fp_mode
    cdef const floating* Xd = &X[0, 0] if X.shape[0] > 0 else NULL
    cdef const floating* Xv = &Xval[0] if X.shape[0] == 0 and Xval.shape[0] > 0 else NULL
    cdef const intp* Xi = &Xind[0] if X.shape[0] == 0 and Xind.shape[0] > 0 else NULL
    cdef const intp* Xp = &Xptr[0] if X.shape[0] == 0 else NULL
    cdef const floating* W = &sw[0] if sw.shape[0] > 0 else NULL
    cdef floating* G = &grad[0]
    sh.eps = 1.1920928955078125e-07 if floating is float else 2.220446049250313e-16
    with nogil:
        fp_mode = _flush_denormals()
        memset(G, 0, grad.shape[0] * sizeof(floating))
        sw_sum = n
        if W != NULL:
            sw_sum = 0
            for k in range(n):
                sw_sum += W[order[k]]
        if Xd != NULL and bacts.shape[0] > 0:
            data_loss = _batch_gradient_blas(&sh, &params[0], G, Xd, &Y[0, 0], W,
                                             &order[0], 0, n, &xbatch[0, 0],
                                             &bacts[0, 0], &bdeltas[0, 0],
                                             bacts.shape[0])
        else:
            data_loss = _batch_gradient(&sh, &params[0], G, Xd, Xv, Xi, Xp,
                                        &Y[0, 0], W, &order[0], 0, n, &acts[0],
                                        &deltas[0])
        if alpha > 0:
            reg_loss = 0.5 * alpha * _sum_squared_weights(&sh, &params[0]) / sw_sum
        for l in range(sh.n_layers):
            for j in range(w_off[l], w_off[l] + sizes[l] * sizes[l + 1]):
                G[j] = (G[j] + alpha * params[j]) / sw_sum
            for j in range(b_off[l], b_off[l] + sizes[l + 1]):
                G[j] = G[j] / sw_sum
        _restore_fp_mode(fp_mode)
    return loss_scale * data_loss / sw_sum + reg_loss


def forward(
        const floating[::1] params,    # IN all weights and biases
        floating[:, ::1] acts,         # scratch: one row of layer units per thread
        floating[:, ::1] out,          # OUT output activations (n_samples, n_outputs)
        const intp[::1] sizes, const intp[::1] w_off, const intp[::1] b_off,
        const intp[::1] a_off, const int[::1] act, const double[:, ::1] prm,
        const floating[:, ::1] X, const floating[::1] Xval,
        const intp[::1] Xind, const intp[::1] Xptr, int n_threads):
    """Output activations for many samples; samples are spread over threads."""
    cdef Shape sh = _make_shape(sizes, w_off, b_off, a_off, act, prm, 0, False,
                                1.0, 0, 1)
    cdef intp n = out.shape[0], n_in = sizes[0], n_out = out.shape[1], r, k, tid
    cdef intp last = a_off[act.shape[0] - 1]
    cdef const floating* Xd = &X[0, 0] if X.shape[0] > 0 else NULL
    cdef const floating* Xv = &Xval[0] if X.shape[0] == 0 and Xval.shape[0] > 0 else NULL
    cdef const intp* Xi = &Xind[0] if X.shape[0] == 0 and Xind.shape[0] > 0 else NULL
    cdef const intp* Xp = &Xptr[0] if X.shape[0] == 0 else NULL
    cdef int nt = n_threads if n_threads < acts.shape[0] else acts.shape[0]
    if n == 0:
        return
    with nogil:
        for r in prange(n, num_threads=nt, schedule='static'):
            tid = _thread_id()
            if Xd != NULL:
                _forward(&sh, &params[0], Xd + r * n_in, NULL, NULL, 0,
                         &acts[tid, 0], False)
            else:
                _forward(&sh, &params[0], NULL, Xv + Xp[r], Xi + Xp[r],
                         Xp[r + 1] - Xp[r], &acts[tid, 0], False)
            for k in range(n_out):
                out[r, k] = acts[tid, last + k]


cdef extern from *:
    """
    #if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    static int fastnet_cpu_has_avx2_fma(void) {
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    }
    #else
    static int fastnet_cpu_has_avx2_fma(void) { return 0; }
    #endif
    #ifdef _OPENMP
    #include <omp.h>
    static int fastnet_thread_id(void) { return omp_get_thread_num(); }
    static int fastnet_max_threads(void) { return omp_get_max_threads(); }
    static int fastnet_has_openmp(void) { return 1; }
    #else
    static int fastnet_thread_id(void) { return 0; }
    static int fastnet_max_threads(void) { return 1; }
    static int fastnet_has_openmp(void) { return 0; }
    #endif
    """
    int _thread_id "fastnet_thread_id"() noexcept nogil
    int _max_threads "fastnet_max_threads"() noexcept nogil
    int _has_openmp "fastnet_has_openmp"() noexcept nogil
    int _cpu_has_avx2_fma "fastnet_cpu_has_avx2_fma"() noexcept nogil


def max_threads():
    """Threads OpenMP would use by default (1 when built without OpenMP)."""
    return _max_threads()


def has_openmp():
    """Whether the extension was compiled with OpenMP."""
    return bool(_has_openmp())


def cpu_has_avx2_fma():
    """Whether this CPU runs the AVX2/FMA build of these kernels."""
    return bool(_cpu_has_avx2_fma())
