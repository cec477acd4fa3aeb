# Activations: one small function per formula, evaluated from z in place, and
# their Jacobians applied to a sensitivity, written in terms of the activation
# a so that z need not be kept.  Each layer's parameters are three doubles
# (generalised logistic: L, k, x0; ELU: alpha).
#
# A layer's exponentials (logistic, tanh, ELU, exp, softmax) are computed
# several at a time by vmath.h's vectorised exp, within 1 to 3 units in the
# last place of the correctly rounded values (tests/test_vmath.py).

cdef extern from "vmath.h":
    void fastnet_exp_shifted_d(double* a, intp n, double shift) noexcept nogil
    void fastnet_exp_shifted_f(float* a, intp n, double shift) noexcept nogil
    void fastnet_logistic_d(double* a, intp n, double L, double k, double x0) noexcept nogil
    void fastnet_logistic_f(float* a, intp n, double L, double k, double x0) noexcept nogil
    void fastnet_tanh_d(double* a, intp n) noexcept nogil
    void fastnet_tanh_f(float* a, intp n) noexcept nogil
    void fastnet_elu_d(double* a, intp n, double alpha) noexcept nogil
    void fastnet_elu_f(float* a, intp n, double alpha) noexcept nogil


cdef inline double _relu(double z) noexcept nogil:
    # max(0, z)  (table 1.1)
    return z if z > 0 else 0.0


cdef inline double _step(double z) noexcept nogil:
    # the perceptron's threshold: 1 if z > 0 else 0  (P.2)
    return 1.0 if z > 0 else 0.0


cdef void _softmax(floating* a, intp n) noexcept nogil:
    # (2.1) made stable (N.1): subtracting max(z) leaves softmax unchanged and keeps
    # every exponent <= 0, so nothing overflows.
    cdef intp i
    cdef double zmax = a[0], total = 0.0
    for i in range(1, n):
        if a[i] > zmax:
            zmax = a[i]
    if floating is float:
        fastnet_exp_shifted_f(a, n, zmax)
    else:
        fastnet_exp_shifted_d(a, n, zmax)
    for i in range(n):
        total += a[i]
    for i in range(n):
        a[i] = a[i] / total


cdef void _activate(int code, const double* prm, floating* a, intp n) noexcept nogil:
    """a <- sigma(a) in place, for one layer holding z on entry.  (1.2)"""
    cdef intp i
    if code == IDENTITY:
        return
    elif code == LOGISTIC:
        # L / (1 + e^{k (x0 - z)})  (1.7), through expit without overflow (1.8)
        if floating is float:
            fastnet_logistic_f(a, n, prm[0], prm[1], prm[2])
        else:
            fastnet_logistic_d(a, n, prm[0], prm[1], prm[2])
    elif code == TANH:
        # (e^{2z} - 1) / (e^{2z} + 1)  (table 1.1)
        if floating is float:
            fastnet_tanh_f(a, n)
        else:
            fastnet_tanh_d(a, n)
    elif code == RELU:
        for i in range(n):
            a[i] = _relu(a[i])
    elif code == ELU:
        # z for z > 0, alpha (e^z - 1) otherwise  (table 1.1)
        if floating is float:
            fastnet_elu_f(a, n, prm[0])
        else:
            fastnet_elu_d(a, n, prm[0])
    elif code == STEP:
        for i in range(n):
            a[i] = _step(a[i])
    elif code == EXP:
        # e^z  (table 1.1)
        if floating is float:
            fastnet_exp_shifted_f(a, n, 0.0)
        else:
            fastnet_exp_shifted_d(a, n, 0.0)
    elif code == SOFTMAX:
        _softmax(a, n)


cdef void _activation_backprop(int code, const double* prm, const floating* a,
                               floating* d, intp n) noexcept nogil:
    """d <- J^T d: sensitivity from dc/da, J the activation's Jacobian.  (2.12)

    Softmax's full Jacobian diag(a) - a a^T (2.5) is applied in O(n):
    J^T d = a * (d - a.d)  (2.5a).
    """
    cdef intp i
    cdef double dot
    if code == IDENTITY:
        return
    elif code == LOGISTIC:
        # d/dz L sigma(k (z - x0)) = k a (1 - a / L)   (1.9a)
        for i in range(n):
            d[i] = d[i] * (prm[1] * a[i] * (1.0 - a[i] / prm[0]))
    elif code == TANH:
        for i in range(n):
            d[i] = d[i] * (1.0 - a[i] * a[i])
    elif code == RELU:
        # written as a select, not a conditional store, so that it vectorises
        for i in range(n):
            d[i] = 0 if a[i] <= 0 else d[i]
    elif code == ELU:
        # for z <= 0: d/dz alpha (e^z - 1) = alpha e^z = a + alpha
        for i in range(n):
            d[i] = d[i] * (a[i] + prm[0]) if a[i] <= 0 else d[i]
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


def activate(int code, const double[::1] params, floating[::1] z):
    """z <- sigma(z) in place for one layer of activation ``code`` with its
    three ``params``, by the kernels' own code (for the tests)."""
    if params.shape[0] != 3:
        raise ValueError("an activation takes three parameters")
    if z.shape[0] == 0:
        return
    with nogil:
        _activate(code, &params[0], &z[0], z.shape[0])
