# One sample through the whole network: forward (1.3, 1.4), output delta,
# then backpropagation fused with the update, or accumulated into a gradient.

cdef struct SampleScratch:
    # Work space of the per-sample step beyond activations and sensitivities
    # (byte pointers: a struct cannot be fused-typed).
    void* parts             # chunk partial sums of lam (see _layer_backward_update)
    void* rowsq             # sum_j w_ij^2 per neuron, n_units
    void* xdense            # one sparse row spread out, n_in; zeros between uses
    intp* starts            # the first layer's visited blocks of eight inputs, n_in / 8
    Columns* cols           # the first layer's column copy when a call steps it, else NULL


cdef void _forward(const Layout* net, const floating* params, const InputRow* x,
                   floating* acts, bint threaded, bint z1_ready=False) noexcept nogil:
    """Forward pass of one sample  (1.3, 1.4); acts receives layers 1..L.
    z1_ready: the first layer's pre-activations are already in acts (the
    previous sample's step computed them, _layer_update_forward)."""
    cdef intp l
    cdef InputRow hidden
    cdef const InputRow* inp = x
    for l in range(net.n_layers):
        if l > 0 or not z1_ready:
            _layer_forward(params + net.w_off[l], params + net.b_off[l], inp,
                           acts + net.a_off[l], net.sizes[l + 1], net.sizes[l],
                           _threads_for(net, l) if threaded else 1)
        _activate(net.act[l], net.prm + 3 * l, acts + net.a_off[l], net.sizes[l + 1])
        _record_activity(net, l, acts + net.a_off[l])
        hidden = _dense_input(acts + net.a_off[l])
        inp = &hidden


cdef inline void _record_activity(const Layout* net, intp l, const floating* a) noexcept nogil:
    # Training notes which ReLU units of hidden layer l were active (> 0) on
    # this sample, so that it can tell a layer whose units all stayed dead.
    cdef intp i
    cdef unsigned char* active
    if net.active == NULL or l == net.n_layers - 1 or net.act[l] != RELU:
        return
    active = net.active + net.a_off[l]
    for i in range(net.sizes[l + 1]):
        active[i] |= a[i] > 0


cdef double _forward_loss_delta(const Layout* net, const floating* params,
                                const InputRow* x, const floating* t, double weight,
                                floating* acts, floating* deltas,
                                bint z1_ready=False) noexcept nogil:
    """Forward one sample, return its loss, leave s^L (times weight) in deltas."""
    cdef intp L = net.n_layers - 1
    cdef floating* a_out = acts + net.a_off[L]
    _forward(net, params, x, acts, True, z1_ready)
    _output_delta(net, a_out, t, deltas + net.a_off[L], weight)
    return _sample_loss(net.loss, a_out, t, net.sizes[net.n_layers])


cdef void _spread(const InputRow* x, floating* dense, bint clear) noexcept nogil:
    # a sparse row's non-zeros into (or, clearing, out of) a zeroed dense row;
    # a column listed twice gets the sum, as everywhere else (and in scipy)
    cdef intp k
    cdef const floating* val = <const floating*> x.values
    for k in range(x.nnz):
        dense[x.indices[k]] = 0 if clear else dense[x.indices[k]] + val[k]


cdef double _backward_update(const Layout* net, const OptimizerStep* step,
                             floating* params, floating* M, floating* V,
                             const InputRow* x, floating* acts, floating* deltas,
                             const SampleScratch* scratch, double gscale, double reg,
                             const floating* x_next=NULL) noexcept nogil:
    """Per-sample step of every layer, last layer first.

    Backpropagation (1.23 / 2.12) and the update (1.31, 1.32) share one pass
    over each W; the input layer needs no sensitivities.  A sparse input row
    moves only its non-zeros' weights under plain SGD; momentum, Adam and L2
    move every weight, so the row is spread out first.  Given the next
    sample's dense inputs x_next (plain SGD on dense rows without L2), the
    first layer's step also computes that sample's first pre-activations
    into acts, in the same sweep over W.  Returns ||W||^2 before the step
    when reg > 0 (for the L2 term of the loss), else 0.
    """
    cdef intp l, k
    cdef double total = 0
    cdef floating* lam
    cdef floating* rowsq = <floating*> scratch.rowsq
    cdef floating* xdense = <floating*> scratch.xdense
    cdef const floating* a_prev
    for l in range(net.n_layers - 1, -1, -1):
        if l > 0:
            a_prev = acts + net.a_off[l - 1]
            lam = deltas + net.a_off[l - 1]
        else:
            lam = NULL
            a_prev = <const floating*> x.dense
            if a_prev == NULL:
                if step.kind == SGD and reg == 0:
                    _sparse_input_sgd(net, step, params, deltas + net.a_off[0], x, gscale)
                    return 0
                _spread(x, xdense, False)
                a_prev = xdense
            elif scratch.cols != NULL and step.kind == SGD and reg == 0:
                # the call steps the column copy (columns.pxi), with or
                # without the next sample's forward pass
                _columns_update_forward(net, step, params, scratch.cols,
                                        deltas + net.a_off[0], a_prev, x_next, acts, gscale)
                return 0
            elif x_next != NULL:
                _layer_update_forward(net, step, params, deltas, a_prev, x_next, acts,
                                      gscale, scratch.starts)
                return 0
        _layer_backward_update(net, l, step, params, M, V, a_prev, lam, deltas,
                               <floating*> scratch.parts, rowsq, gscale, reg)
        if l > 0:
            _activation_backprop(net.act[l - 1], net.prm + 3 * (l - 1),
                                 acts + net.a_off[l - 1], lam, net.sizes[l])
        elif x.dense == NULL:
            _spread(x, xdense, True)
    if reg != 0:
        for k in range(net.n_units):     # rows in a fixed order: any n_jobs
            total += rowsq[k]
    return total


cdef void _backward_accumulate(const Layout* net, const floating* params,
                               floating* G, const InputRow* x, floating* acts,
                               floating* deltas) noexcept nogil:
    """Add one sample's gradient to G (laid out as params)  (1.29, 1.30)."""
    cdef intp l
    cdef InputRow hidden
    for l in range(net.n_layers - 1, -1, -1):
        if l > 0:
            hidden = _dense_input(acts + net.a_off[l - 1])
            _layer_backward_accumulate(net, l, params, G, deltas + net.a_off[l],
                                       &hidden, deltas + net.a_off[l - 1])
            _activation_backprop(net.act[l - 1], net.prm + 3 * (l - 1),
                                 acts + net.a_off[l - 1], deltas + net.a_off[l - 1],
                                 net.sizes[l])
        else:
            _layer_backward_accumulate(net, 0, params, G, deltas, x, NULL)


cdef double _sum_squared_weights(const Layout* net, const floating* params) noexcept nogil:
    # ||W||^2 over the weights (not the biases), for the L2 term of the loss
    cdef intp l, j, n
    cdef double total = 0
    cdef const floating* w
    for l in range(net.n_layers):
        w = params + net.w_off[l]
        n = net.sizes[l] * net.sizes[l + 1]
        for j in range(n):
            total += w[j] * w[j]
    return total


cdef double _batch_gradient(const Layout* net, const floating* params, floating* G,
                            const SampleData* d, const intp* order, intp start,
                            intp stop, floating* acts, floating* deltas,
                            double loss) noexcept nogil:
    """G += the weighted per-sample gradients of samples order[start:stop],
    one sample at a time; returns loss plus their weighted losses, added one
    by one (so that a sum taken in slices adds in the same order)."""
    cdef intp k, r
    cdef double weight = 1
    cdef const floating* Y = <const floating*> d.Y
    cdef InputRow x
    for k in range(start, stop):
        r = order[k]
        if d.weights != NULL:
            weight = (<const floating*> d.weights)[r]
        x = _input_row(d, r)
        loss += weight * _forward_loss_delta(net, params, &x, Y + r * d.n_out, weight,
                                             acts, deltas)
        _backward_accumulate(net, params, G, &x, acts, deltas)
    return loss
