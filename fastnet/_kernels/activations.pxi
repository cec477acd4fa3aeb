# Activations: one small function per formula, evaluated from z in place, and
# their Jacobians applied to a sensitivity, written in terms of the activation
# a so that z need not be kept.  Each layer's parameters are three doubles
# (generalised logistic: L, k, x0; ELU: alpha).


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
    for i in range(n):
        a[i] = exp(a[i] - zmax)
        total += a[i]
    for i in range(n):
        a[i] = a[i] / total


cdef void _activate(int code, const double* prm, floating* a, intp n) noexcept nogil:
    """a <- sigma(a) in place, for one layer holding z on entry.  (1.2)"""
    cdef intp i
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
