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


cdef tuple _train_call(Plan plan, floating[::1] params, floating[::1] first_moment,
                       floating[::1] second_moment, Samples samples, const intp[::1] order,
                       intp batch_size, dict optimizer, double loss_sum, bint undoable):
    """Plan.train_epoch (and with undoable, Plan.train_step): check the
    arguments, train, and check the parameters at the end.  Returns
    (loss_sum, steps, done, diverged)."""
    cdef intp n = order.shape[0], size = plan.n_params * sizeof(floating)
    cdef floating* M = NULL
    cdef floating* V = NULL
    cdef BatchScratch batch
    cdef floating* grad = NULL
    cdef EpochProgress progress
    cdef OptimizerStep step
    cdef unsigned int fp_mode
    cdef char* undo = NULL
    cdef bint undone = False
    plan._undo_ready = False
    batch.rows = 0
    progress.loss_sum = loss_sum
    progress.steps = progress.done = 0
    progress.diverged = progress.interrupted = False
    # a step that can be undone is too short to look at signals in
    progress.checks_signals = PyThread_get_thread_ident() == MAIN_THREAD and not undoable
    progress.checked_at = _seconds()
    plan._check(&params[0], params.shape[0], sizeof(floating), samples, True)
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    _check_order(order, samples.n_samples)
    _checked_code(optimizer.get("kind"), Optimizer, "optimizer kind")
    step = _optimizer_step(optimizer)
    if step.kind != SGD:
        M = plan._state(first_moment, "first_moment")
    if step.kind == ADAM:
        V = plan._state(second_moment, "second_moment")
    if batch_size > 1:
        grad = <floating*> plan._gradient_buffer()
        if not samples.is_sparse:
            batch = plan._batch_scratch(min(batch_size, n))
    plan._columns_on = (batch_size == 1 and step.kind == SGD and plan.net.alpha == 0
                        and not samples.is_sparse and n >= COLUMN_MIN_STEPS
                        and _threads_for(&plan.net, 0) <= 1
                        and not undoable and plan._allocate_columns() == 0)
    if undoable:
        undo = plan._undo_buffer()
        plan._undo_moments = (M != NULL) + (V != NULL)
    with nogil:
        if undo != NULL:
            if batch_size > 1 or step.kind != SGD or plan.net.alpha != 0:
                # every parameter moves through _update_row, which keeps
                # what it overwrites while the rows are in cache
                step.undo = undo
                step.params = &params[0]
                step.n_params = plan.n_params
            else:
                # per-sample plain SGD updates rows in place elsewhere (and
                # skips those of dead units): copy its one array up front
                memcpy(undo, &params[0], size)
        fp_mode = _flush_denormals()   # this thread's share; workers set their own
        if plan._columns_on:
            # the first layer's steps go to the column copy (columns.pxi)
            _copy_columns(&params[plan.net.w_off[0]], <floating*> plan._columns.wt,
                          plan.net.sizes[1], plan.net.sizes[0], plan._columns.ld, False)
        _train(plan, &params[0], M, V, &samples.data, &order[0], n, batch_size,
               &step, grad, &batch, &progress)
        if plan._columns_on:
            # back, whatever ended the steps (the last, a non-finite loss, a signal)
            _copy_columns(&params[plan.net.w_off[0]], <floating*> plan._columns.wt,
                          plan.net.sizes[1], plan.net.sizes[0], plan._columns.ld, True)
            plan._columns_on = False
        if (not progress.diverged and not progress.interrupted
                and not _all_finite(&params[0], plan.n_params)):
            progress.diverged = True
        _restore_fp_mode(fp_mode)
        if undo != NULL and progress.diverged and progress.steps:
            # the step left a parameter non-finite: take it back
            memcpy(&params[0], undo, size)
            if M != NULL:
                memcpy(M, undo + size, size)
            if V != NULL:
                memcpy(V, undo + 2 * size, size)
            undone = True
    plan._undo_ready = undoable and progress.steps > 0 and not undone
    plan.activity_samples += progress.done
    if progress.interrupted:
        # the model is between two steps: the caller goes back to its checkpoint
        error, plan._signal_error = plan._signal_error, None
        raise error
    return progress.loss_sum, progress.steps, progress.done, progress.diverged


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
    _prefetch_inputs(d, order, k + 2, n)
    return loss + 0.5 * plan.net.alpha * _backward_update(
        &plan.net, step, params, M, V, &x, acts, deltas, &scratch, 1.0 / norm,
        plan.net.alpha / norm, x_next) / norm


cdef inline const floating* _next_input(const SampleData* d, const intp* order, intp k,
                                        intp n, const floating* typed) noexcept nogil:
    # The dense inputs of the sample whose step follows order[k]'s in this
    # call, else NULL: _train skips samples of weight zero without touching
    # the activations, so this is the next one of non-zero weight.  (The
    # column copy relies on it: only a call's first sample runs the first
    # layer's forward pass on W, columns.pxi.)
    cdef intp r
    k += 1
    while k < n:
        r = order[k]
        if d.weights == NULL or (<const floating*> d.weights)[r] != 0:
            return <const floating*> d.X + r * d.n_in
        k += 1
    return NULL


cdef double _batch_step(Plan plan, floating* params, floating* M, floating* V,
                        const SampleData* d, const intp* order, intp start, intp stop,
                        const OptimizerStep* step, double sw_sum, floating* grad,
                        const BatchScratch* batch) noexcept nogil:
    """One minibatch step on the mean gradient (T.4); returns its batch_loss,
    or a non-finite loss without taking the step (grad is left zero)."""
    cdef double loss = 0
    cdef floating* acts = <floating*> plan._sample_buffers
    cdef LiveInputs deferred
    cdef LiveInputs* first_layer = NULL     # its gradient, if deferred
    if plan.net.alpha > 0:
        loss = 0.5 * plan.net.alpha * _sum_squared_weights(&plan.net, params) / sw_sum
    if d.X != NULL and stop - start <= batch.rows:
        # one chunk: a compacted batch's first-layer gradient goes straight
        # into the update (_apply_gradient), never through G
        first_layer = &deferred
        loss += plan.net.loss_scale * _chunk_gradient_blas(
            &plan.net, params, grad, d, order, start, stop, batch, first_layer) / sw_sum
    elif d.X != NULL:
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
                    plan.net.alpha / sw_sum, first_layer)
    return loss
