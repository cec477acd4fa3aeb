# Losses: the value of one sample, dc/da, and the output layer's sensitivity.


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


# The clipping bound of the logs: the machine epsilon of the buffers' dtype.
cdef double FLOAT32_EPS = 1.1920928955078125e-07
cdef double FLOAT64_EPS = 2.220446049250313e-16


cdef double _sample_loss(int loss, const floating* a, const floating* t,
                         intp n) noexcept nogil:
    """The loss of one sample."""
    cdef intp k
    cdef double total = 0.0, p, diff, eps = FLOAT32_EPS if floating is float else FLOAT64_EPS
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
        # -sum_k t_k log a_k + (1 - t_k) log(1 - a_k)  (2.23, P.5)
        for k in range(n):
            p = _clip(a[k], eps)
            total -= _xlogy(t[k], p) + _xlogy(1.0 - t[k], 1.0 - p)
        return total
    else:
        # Poisson deviance / 2: sum_k t log(t / a) - t + a  (P.6)
        for k in range(n):
            total += _xlogy(t[k], t[k] / a[k]) - t[k] + a[k]
        return total


cdef void _loss_gradient(int loss, const floating* a, const floating* t,
                         floating* d, intp n) noexcept nogil:
    """d <- dc/da of one sample (the lambda' of 2.16)."""
    cdef intp k
    cdef double p, eps = FLOAT32_EPS if floating is float else FLOAT64_EPS
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


cdef void _output_delta(const Layout* net, const floating* a, const floating* t,
                        floating* s, double weight) noexcept nogil:
    """s^L, the output layer's sensitivities, times the sample's weight.

    The canonical pairs (softmax + cross entropy, logistic + binary cross
    entropy, identity + squared error, exp + Poisson, and the step output's
    perceptron rule) simplify to s = a - t  (2.21, 2.28); net.fused_delta
    says so.  Other pairs take the general s = J^T dc/da  (2.16).
    """
    cdef intp k, n = net.sizes[net.n_layers], L = net.n_layers - 1
    if net.fused_delta:
        for k in range(n):
            s[k] = a[k] - t[k]
    else:
        _loss_gradient(net.loss, a, t, s, n)
        _activation_backprop(net.act[L], net.prm + 3 * L, a, s, n)
    if weight != 1.0:
        for k in range(n):
            s[k] = s[k] * weight
