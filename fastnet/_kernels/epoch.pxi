# The training loop of Plan.train_epoch: one batch (or sample) after another,
# each checked for a finite loss before its step is applied.
#
# Ctrl-C.  The loop runs without the GIL, so Python would run its signal
# handlers only when the call returns; Python's slices of an epoch
# (fastnet/slicing.py) last about 0.1 s, but a slice can take seconds when
# another process holds a core the loop's OpenMP threads wait for.  So on
# the main thread the loop also looks at the clock every SIGNAL_CHECK_STEPS
# steps and, once SIGNAL_CHECK_SECONDS have passed since it last did, takes
# the GIL and runs the handlers: a KeyboardInterrupt stops the loop between
# two steps and train_epoch raises it.  Other threads never take the GIL here
# (Python runs signal handlers on the main thread only).

cdef enum:
    SIGNAL_CHECK_STEPS = 8
cdef double SIGNAL_CHECK_SECONDS = 0.02
# the interpreter's main thread, the one Python's signal handlers run on
# (whichever thread imports fastnet)
cdef unsigned long MAIN_THREAD = threading.main_thread().ident

cdef struct EpochProgress:
    double loss_sum         # sum of batch_loss * batch_length  (T.5)
    long steps              # optimizer steps taken
    intp done               # positions of the order trained on
    bint diverged           # a batch's loss was not finite
    bint checks_signals     # on the main thread: run Python's signal handlers
    double checked_at       # when they last ran (_seconds)
    bint interrupted        # a handler raised; Plan._signal_error holds it


cdef int _handler_raised(Plan plan) noexcept with gil:
    """Run Python's signal handlers; 1 if one raised (kept on the plan)."""
    try:
        PyErr_CheckSignals()
    except BaseException as error:
        plan._signal_error = error
        return 1
    return 0


cdef inline bint _interrupted(Plan plan, EpochProgress* progress) noexcept nogil:
    """Whether a signal handler raised, looked at every SIGNAL_CHECK_STEPS
    steps and at most every SIGNAL_CHECK_SECONDS."""
    cdef double now
    if not progress.checks_signals or progress.steps % SIGNAL_CHECK_STEPS:
        return False
    now = _seconds()
    if now - progress.checked_at < SIGNAL_CHECK_SECONDS:
        return False
    progress.checked_at = now
    progress.interrupted = _handler_raised(plan) != 0
    return progress.interrupted


cdef void _train(Plan plan, floating* params, floating* M, floating* V,
                 const SampleData* d, const intp* order, intp n, intp batch_size,
                 const OptimizerStep* given, floating* grad, const BatchScratch* batch,
                 EpochProgress* progress) noexcept nogil:
    """Batches order[0:batch_size], order[batch_size:2 batch_size], ...: the
    mean-gradient step of each (per-sample when batch_size is 1)."""
    cdef intp start = 0, stop
    cdef double sw_sum, batch_loss
    cdef OptimizerStep step = given[0]
    cdef bint z1_ready = False     # the next sample's first layer is computed
    while start < n:
        stop = start + batch_size if start + batch_size < n else n
        sw_sum = _weight_sum(<const floating*> d.weights, order, start, stop)
        if sw_sum == 0:
            # a batch of zero-weight samples carries no gradient: skip it
            # (Network only; the drop-ins raise before the epoch, as
            # scikit-learn does)
            start = stop
            progress.done = stop
            continue
        _next_step(given, &step)
        if stop - start == 1 and batch_size == 1:
            batch_loss = _sample_step(plan, params, M, V, d, order, start, n, &step, sw_sum,
                                      &z1_ready)
        else:
            batch_loss = _batch_step(plan, params, M, V, d, order, start, stop, &step,
                                     sw_sum, grad, batch)
        if not _all_finite(&batch_loss, 1):
            progress.diverged = True
            return
        progress.steps += 1
        progress.loss_sum += batch_loss * (stop - start)
        start = stop
        progress.done = stop
        if _interrupted(plan, progress):
            return


cdef double _sample_step(Plan plan, floating* params, floating* M, floating* V,
                         const SampleData* d, const intp* order, intp k, intp n,
                         const OptimizerStep* step, double sw_sum,
                         bint* z1_ready) noexcept nogil:
    """The per-sample step (1.31, 1.31a) of sample order[k]; returns its
    batch_loss, or a non-finite loss without taking the step.

    scikit-learn's mean over a batch of one divides the sample's weight w out
    again: the loss is c and the step that of c's gradient.  With
    weights_scale_steps the weight scales both, w c (T.3a).  The L2 term of
    the loss uses the weights before the step, whose squares the update pass
    sums on its way.  z1_ready says, on entry, whether the previous step
    computed this sample's first pre-activations and, on return, whether
    this one computed the next sample's (_next_input).
    """
    cdef double weight = 1.0, norm = sw_sum, loss
    cdef intp r = order[k]
    cdef floating* acts = <floating*> plan._sample_buffers
    cdef floating* deltas = acts + plan.net.n_units
    cdef SampleScratch scratch = plan._sample_scratch()
    cdef InputRow x = _input_row(d, r)
    cdef const floating* x_next = NULL
    if d.weights != NULL:
        weight = (<const floating*> d.weights)[r]
    loss = plan.net.loss_scale * _forward_loss_delta(
        &plan.net, params, &x, <const floating*> d.Y + r * d.n_out, weight, acts, deltas,
        z1_ready[0])
    z1_ready[0] = False
    if not _all_finite(&loss, 1):
        return loss
    if plan.net.weights_scale_steps:
        norm = 1.0
        loss = weight * loss
    if step.kind == SGD and plan.net.alpha == 0 and d.X != NULL:
        x_next = _next_input(d, order, k, n, <const floating*> NULL)
        z1_ready[0] = x_next != NULL
    return loss + 0.5 * plan.net.alpha * _backward_update(
        &plan.net, step, params, M, V, &x, acts, deltas, &scratch, 1.0 / norm,
        plan.net.alpha / norm, x_next) / norm


cdef inline const floating* _next_input(const SampleData* d, const intp* order, intp k,
                                        intp n, const floating* typed) noexcept nogil:
    # The dense inputs of the sample after order[k] when its step follows
    # directly (it is in this call and its weight is not zero), else NULL.
    cdef intp r
    if k + 1 >= n:
        return NULL
    r = order[k + 1]
    if d.weights != NULL and (<const floating*> d.weights)[r] == 0:
        return NULL
    return <const floating*> d.X + r * d.n_in


cdef double _batch_step(Plan plan, floating* params, floating* M, floating* V,
                        const SampleData* d, const intp* order, intp start, intp stop,
                        const OptimizerStep* step, double sw_sum, floating* grad,
                        const BatchScratch* batch) noexcept nogil:
    """One minibatch step on the mean gradient (T.4); returns its batch_loss,
    or a non-finite loss without taking the step (grad is left zero)."""
    cdef double loss = 0
    cdef floating* acts = <floating*> plan._sample_buffers
    if plan.net.alpha > 0:
        loss = 0.5 * plan.net.alpha * _sum_squared_weights(&plan.net, params) / sw_sum
    if d.X != NULL:
        loss += plan.net.loss_scale * _batch_gradient_blas(
            &plan.net, params, grad, d, order, start, stop, batch, 0.0) / sw_sum
    else:
        loss += plan.net.loss_scale * _batch_gradient(
            &plan.net, params, grad, d, order, start, stop, acts,
            acts + plan.net.n_units, 0.0) / sw_sum
    if not _all_finite(&loss, 1):
        memset(grad, 0, plan.n_params * sizeof(floating))
        return loss
    _apply_gradient(&plan.net, step, params, grad, M, V, 1.0 / sw_sum,
                    plan.net.alpha / sw_sum)
    return loss
