# The network as the loops see it: where each layer lives in the flat buffers,
# its activation, the loss, and the thread settings.  Plan builds one per fit.
#
# Storage (docs/maths.md, section 1.1): all parameters live in one flat
# buffer.  Layer l owns W[l] -- sizes[l+1] rows (neuron i) of sizes[l] inputs
# (j), row-major as w_ij -- at w_off[l] and its biases at b_off[l].
# Activations and sensitivities of layers 1..L live in flat work buffers at
# a_off[l] (layer l+1's units start at a_off[l]); the input layer is read
# straight from the samples.

cdef struct Layout:
    intp n_layers           # weight layers L
    const intp* sizes       # units per layer, L + 1 entries (input first)
    const intp* w_off       # offset of W[l] in params
    const intp* b_off       # offset of b[l] in params
    const intp* a_off       # offset of layer l+1's units in the work buffers
    intp n_units            # units of layers 1..L: the row width of batch buffers
    const int* act          # Activation code per weight layer
    const double* prm       # 3 activation parameters per weight layer
    int loss                # Loss code
    bint fused_delta        # the output delta is a - t  (2.21, 2.28)
    double loss_scale       # factor of the reported data loss
    double alpha            # L2 strength  (T.1)
    intp par_min            # weights per layer from which threads are used
    intp slice_rows         # fewest output rows a slice of a shared GEMM takes (_gemm_slices)
    int n_threads
    bint weights_scale_steps  # a sample's weight scales its per-sample step (T.3a)
    unsigned char* active   # per unit: 1 once a ReLU unit was > 0 (NULL: not recorded)


cdef inline int _threads_for(const Layout* net, intp l) noexcept nogil:
    """Threads for layer l: all of them once the layer is wide enough to pay;
    0 for a layer below that, which one thread runs whatever n_threads is
    (so its minibatch GEMMs need no slices: _gemm_blocks)."""
    if net.sizes[l] * net.sizes[l + 1] >= net.par_min:
        return net.n_threads
    return 0


# Parameters a plan may have (2**48 doubles are 2 PiB): far below where the
# offsets, intp, would wrap around.
MAX_PARAMETERS = 2 ** 48


def layer_offsets(layer_units):
    """Where each layer lives in the flat buffers, for these units per layer.

    Returns (w_off, b_off, a_off, n_params, n_units): layer l's weights W[l]
    start at w_off[l], its biases right after them at b_off[l]; layer l+1's
    units start at a_off[l] in the work buffers; n_params and n_units are the
    buffers' lengths.
    """
    units = [operator.index(u) for u in layer_units]
    if sum(i * o + o for i, o in zip(units[:-1], units[1:])) > MAX_PARAMETERS:
        raise ValueError(f"layers {units} hold more parameters than memory can")
    sizes = np.asarray(units, dtype=np.intp)
    n_layers = sizes.shape[0] - 1
    n_in, n_out = sizes[:n_layers], sizes[1:]
    w_off = np.zeros(n_layers, dtype=np.intp)
    a_off = np.zeros(n_layers, dtype=np.intp)
    w_off[1:] = np.cumsum(n_in * n_out + n_out)[:n_layers - 1]
    a_off[1:] = np.cumsum(n_out)[:n_layers - 1]
    b_off = w_off + n_in * n_out
    n_params = int(b_off[n_layers - 1] + n_out[n_layers - 1])
    return w_off, b_off, a_off, n_params, int(n_out.sum())
