# Optimizer steps: the update of one row of parameters, written once for
# weights and biases, per-sample and minibatch alike.

cdef struct OptimizerStep:
    # The hyper-parameters of a step.  Python passes them as a dict with these
    # keys (fastnet/optimizers.py); inside an epoch the kernel keeps a working
    # copy whose learning_rate is Adam's bias-corrected rate of the step.
    int kind                 # Optimizer.SGD, MOMENTUM or ADAM
    double learning_rate     # SGD's rate; Adam's learning_rate_init
    double momentum
    bint nesterov
    double beta_1
    double beta_2
    double epsilon
    long t                   # Adam: the steps taken before this one
    # Plan.train_step: _update_row first copies what it overwrites into undo
    # (NULL otherwise), laid out as params | first moment | second moment,
    # at the row's offset from params
    void* undo
    const void* params
    intp n_params


cdef OptimizerStep _optimizer_step(dict given) except *:
    """The OptimizerStep of a dict with its hyper-parameter fields (Python's
    form, fastnet/optimizers.py); nothing to undo."""
    cdef OptimizerStep step
    try:
        step.kind = given["kind"]
        step.learning_rate = given["learning_rate"]
        step.momentum = given["momentum"]
        step.nesterov = given["nesterov"]
        step.beta_1 = given["beta_1"]
        step.beta_2 = given["beta_2"]
        step.epsilon = given["epsilon"]
        step.t = given["t"]
    except KeyError as missing:
        raise ValueError(f"the optimizer dict has no {missing} field") from None
    step.undo = NULL
    step.params = NULL
    step.n_params = 0
    return step


cdef inline void _next_step(const OptimizerStep* given, OptimizerStep* step) noexcept nogil:
    """Advance the working copy to the next step: Adam counts it and derives
    its bias-corrected rate lr_init sqrt(1 - beta_2^t) / (1 - beta_1^t)  (T.8)."""
    if given.kind == ADAM:
        step.t += 1
        step.learning_rate = (given.learning_rate * sqrt(1 - cpow(given.beta_2, step.t))
                              / (1 - cpow(given.beta_1, step.t)))


cdef inline floating _sqrt(floating x) noexcept nogil:
    if floating is float:
        return sqrtf(x)
    else:
        return sqrt(x)


cdef inline void _update_row(const OptimizerStep* step, floating* w, floating* m,
                             floating* v, const floating* a, floating gs,
                             floating reg, intp n) noexcept nogil:
    """One optimizer step of the n parameters w for the gradient
    g_j = gs a_j + reg w_j  (1.29, 1.31; with L2: T.2, T.3).

    A bias row passes its sensitivities as a and reg = 0.  One loop per
    optimizer, so that each vectorises, in the element type (float32 stays
    float32).  SGD: w -= lr g.  Momentum as scikit-learn's SGDOptimizer:
    v <- mu v - lr g, w += v (T.6; Nesterov: w += mu v - lr g, T.7).  Adam
    as its AdamOptimizer with the step's bias-corrected rate  (T.8).
    """
    cdef intp j
    cdef floating g, vel, lr = step.learning_rate, mu = step.momentum
    cdef floating b1 = step.beta_1, b2 = step.beta_2, eps = step.epsilon
    if step.undo != NULL:
        _keep_for_undo(step, w, m, v, n)
    if step.kind == SGD:
        for j in range(n):
            w[j] = w[j] - lr * (gs * a[j] + reg * w[j])
    elif step.kind == MOMENTUM and not step.nesterov:
        for j in range(n):
            g = gs * a[j] + reg * w[j]
            vel = mu * m[j] - lr * g
            m[j] = vel
            w[j] = w[j] + vel
    elif step.kind == MOMENTUM:
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


cdef inline void _keep_for_undo(const OptimizerStep* step, const floating* w,
                                const floating* m, const floating* v, intp n) noexcept nogil:
    # the n parameters at w, and the optimizer's state for them, as they are
    # before the step: copied to their places in step.undo
    cdef intp at = w - <const floating*> step.params
    cdef floating* undo = <floating*> step.undo
    memcpy(undo + at, w, n * sizeof(floating))
    if step.kind != SGD:
        memcpy(undo + step.n_params + at, m, n * sizeof(floating))
    if step.kind == ADAM:
        memcpy(undo + 2 * step.n_params + at, v, n * sizeof(floating))
