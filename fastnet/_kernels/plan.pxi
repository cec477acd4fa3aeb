# The entry points: a Plan is built once per fit from the layout, the
# activation and loss codes and the thread settings, owns the scratch buffers,
# and runs epochs, full-batch gradients and forward passes with a few named
# arguments.  Python prepares arrays, the visiting order and the schedule;
# every shape was checked when the Plan and the Samples were built.

# A layer runs its neurons on several OpenMP threads once it holds this many
# weights; below it, starting threads costs more than it saves.  Chosen by
# measurement (README, "Performance").
PARALLEL_MIN_WEIGHTS = 65536

# A threaded layer's minibatch GEMMs are cut into slices of at least this
# many output rows (batch_pass.pxi, _gemm_slices), the same for any thread
# count.  Chosen by measurement: on batch 200 of 784-256-128-10, slices of 64
# and 128 rows on two threads ran no faster than one GEMM on one thread.
GEMM_SLICE_ROWS = 256

# Rows of the BLAS path's buffers for full-batch gradients, which are taken
# in chunks of this many samples to bound memory.
GRADIENT_CHUNK_ROWS = 256

# Predictions of at least this many dense rows run through GEMMs in blocks of
# this many rows: a block's activations stay in cache while the weights
# stream past once per block instead of once per row.
cdef enum:
    BLOCK_ROWS = 1024
FORWARD_BLOCK_ROWS = BLOCK_ROWS


cdef class Plan:
    """The network's layout and settings as the kernels use them, built once per fit.

    Parameters
    ----------
    layer_units : sequence of int
        Units per layer, input first (L + 1 entries).
    activations : sequence of int
        An ``Activation`` code per weight layer.
    activation_params : array of shape (L, 3)
        Parameters per weight layer (generalised logistic: L, k, x0; ELU: alpha).
    loss : int
        A ``Loss`` code.
    fused_delta : bool
        Whether the output delta of this activation and loss is a - t (P.9).
    loss_scale : float
        Factor of the reported data loss (scikit-learn's squared error
        averages over the outputs).
    alpha : float
        L2 strength (T.1).
    dtype : float32 or float64
        Precision of the parameters and samples the plan trains on.
    n_threads : int
        OpenMP threads over the neurons of wide layers.
    parallel_min_weights : int
        Weights a layer needs before it uses more than one thread.
    gemm_slice_rows : int
        Fewest output rows of a slice of a threaded layer's minibatch GEMMs;
        the slices depend on the shapes alone, so results are the same bits
        for any n_threads.
    weights_scale_steps : bool
        Per-sample steps scale by the sample's weight (T.3, fastnet's
        Network), instead of scikit-learn's weighted mean, which at batch
        size 1 divides the weight out again.
    """
    cdef Layout net
    cdef object _owners             # the arrays net points into
    cdef readonly object dtype
    cdef readonly intp n_params
    cdef intp itemsize
    cdef char* _sample_buffers      # acts | deltas | parts | rowsq | xdense
    cdef intp* _starts              # SampleScratch.starts
    cdef Columns _columns           # the first layer input-major (columns.pxi)
    cdef bint _columns_on           # a per-sample call steps _columns.wt
    cdef intp _parts_size
    cdef char* _grad                # the minibatch gradient, zeros between steps
    cdef char* _batch_buffers       # live runs | inputs | acts | deltas | ... (_batch_scratch)
    cdef intp _batch_bytes          # their size
    cdef object _signal_error       # what a signal handler raised in train_epoch
    cdef readonly intp activity_samples  # samples trained on since reset_activity
    cdef char* _undo                # what train_step overwrote (see undo_step)
    cdef bint _undo_ready           # _undo holds a step that was taken
    cdef int _undo_moments          # moments in _undo: 0, 1 or 2

    def __init__(self, layer_units, activations, activation_params, loss, *,
                 bint fused_delta, double loss_scale=1.0, double alpha=0.0,
                 dtype=np.float64, int n_threads=1,
                 intp parallel_min_weights=PARALLEL_MIN_WEIGHTS,
                 intp gemm_slice_rows=GEMM_SLICE_ROWS, bint weights_scale_steps=False):
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise TypeError(f"dtype must be float32 or float64, not {self.dtype}")
        if n_threads < 1:
            raise ValueError(f"n_threads must be >= 1, got {n_threads}")
        if parallel_min_weights < 0:
            raise ValueError(f"parallel_min_weights must be >= 0, got {parallel_min_weights}")
        if gemm_slice_rows < 1:
            raise ValueError(f"gemm_slice_rows must be >= 1, got {gemm_slice_rows}")
        loss = _checked_code(loss, Loss, "loss")
        self.itemsize = self.dtype.itemsize
        self._set_layout(layer_units, activations, activation_params)
        self.net.loss = loss
        self.net.fused_delta = fused_delta
        self.net.loss_scale = loss_scale
        self.net.alpha = alpha
        self.net.n_threads = n_threads
        self.net.par_min = parallel_min_weights
        self.net.slice_rows = gemm_slice_rows
        self.net.weights_scale_steps = weights_scale_steps
        self._allocate_sample_buffers()

    def _set_layout(self, layer_units, activations, activation_params):
        cdef intp l
        sizes = np.asarray(layer_units)
        prm = np.ascontiguousarray(activation_params, dtype=np.float64)
        n_layers = sizes.shape[0] - 1 if sizes.ndim == 1 else 0
        if n_layers < 1 or sizes.dtype.kind not in "iu" or np.any(sizes < 1) \
                or len(activations) != n_layers or prm.shape != (n_layers, 3):
            raise ValueError("a plan needs integer units per layer (at least 2 "
                             "layers, each at least 1 unit), and an activation code "
                             "and 3 parameters per weight layer")
        codes = np.array([_checked_code(code, Activation, "activation")
                          for code in activations])
        logistic = codes == LOGISTIC
        if not np.all(np.isfinite(prm)) or np.any(prm[logistic, 0] == 0):
            raise ValueError("activation parameters must be finite, and a logistic's "
                             "L non-zero")
        sizes = np.ascontiguousarray(sizes, dtype=np.intp)
        codes = np.ascontiguousarray(codes, dtype=np.intc)
        w_off, b_off, a_off, self.n_params, self.net.n_units = layer_offsets(sizes)
        self._owners = (sizes, codes, prm, w_off, b_off, a_off)
        self.net.n_layers = n_layers
        self.net.sizes = <const intp*> cnp.PyArray_DATA(sizes)
        self.net.act = <const int*> cnp.PyArray_DATA(codes)
        self.net.prm = <const double*> cnp.PyArray_DATA(prm)
        self.net.w_off = <const intp*> cnp.PyArray_DATA(w_off)
        self.net.b_off = <const intp*> cnp.PyArray_DATA(b_off)
        self.net.a_off = <const intp*> cnp.PyArray_DATA(a_off)
        self._parts_size = 1
        for l in range(1, n_layers):
            if _n_chunks(sizes[l + 1]) > 1:
                self._parts_size = max(self._parts_size, _n_chunks(sizes[l + 1]) * sizes[l])

    def _allocate_sample_buffers(self):
        cdef intp n = (2 * self.net.n_units + self._parts_size + self.net.n_units
                       + self.net.sizes[0])
        self._sample_buffers = <char*> calloc(n, self.itemsize)
        self.net.active = <unsigned char*> calloc(self.net.n_units, 1)
        self._starts = <intp*> calloc(self.net.sizes[0] // 8 + 1, sizeof(intp))
        if self._sample_buffers == NULL or self.net.active == NULL or self._starts == NULL:
            raise MemoryError("cannot allocate the plan's buffers")

    cdef SampleScratch _sample_scratch(self) noexcept nogil:
        cdef SampleScratch s
        cdef intp U = self.net.n_units
        s.parts = self._sample_buffers + 2 * U * self.itemsize
        s.rowsq = self._sample_buffers + (2 * U + self._parts_size) * self.itemsize
        s.xdense = self._sample_buffers + (3 * U + self._parts_size) * self.itemsize
        s.starts = self._starts
        s.cols = &self._columns if self._columns_on else NULL
        return s

    cdef int _allocate_columns(self) except -1:
        """The column copy's buffers (columns.pxi), once, in one block of
        pages (columns.h says why not malloc's heap)."""
        cdef intp n_in = self.net.sizes[0], ld, floats, cap
        if self._columns.raw != NULL:
            return 0
        ld = _column_ld(self.net.sizes[1], self.itemsize)
        cap = n_in // 8 + 8
        floats = n_in * ld + ld + 8 * ld + ld      # wt | rates | parts | dots, then lists, live
        # pages start on a cache line, and so does each row of wt (ld is a
        # multiple of 64 bytes)
        self._columns.bytes = floats * self.itemsize + 9 * cap * sizeof(intp) + n_in
        self._columns.raw = _pages(self._columns.bytes)
        if self._columns.raw == NULL:
            raise MemoryError("cannot allocate the first layer's column copy")
        self._columns.ld = ld
        self._columns.cap = cap
        self._columns.wt = self._columns.raw
        self._columns.rates = <char*> self._columns.wt + n_in * ld * self.itemsize
        self._columns.parts = <char*> self._columns.rates + ld * self.itemsize
        self._columns.dots = <char*> self._columns.parts + 8 * ld * self.itemsize
        self._columns.lists = <intp*> (<char*> self._columns.dots + ld * self.itemsize)
        self._columns.live = <unsigned char*> (self._columns.lists + 9 * cap)
        return 0

    cdef BatchScratch _batch_scratch(self, intp rows) except *:
        """Buffers for minibatches of up to `rows` samples (grown on demand)."""
        cdef BatchScratch s
        cdef intp width = self.net.sizes[0] + 2 * self.net.n_units
        cdef intp transposed = _transposed_size(&self.net, self.itemsize)
        # the live inputs are compacted in place: room for the weights and the row only
        cdef intp live = _live_size(&self.net, 0)
        cdef intp index = _live_index_size(&self.net) if live > 0 else 0
        # (the layout depends on use_small_gemms: sized afresh each time)
        cdef intp size = index * sizeof(intp) + (rows * width + transposed + live) * self.itemsize
        if size > self._batch_bytes:
            free(self._batch_buffers)
            self._batch_bytes = 0
            self._batch_buffers = <char*> malloc(size)
            if self._batch_buffers == NULL:
                raise MemoryError(f"cannot allocate buffers for batches of {rows}")
            self._batch_bytes = size
        s.rows = rows
        # the live inputs' runs first, intp-aligned; the inputs are compacted in place
        s.live.runs = <intp*> self._batch_buffers if index > 0 else NULL
        s.inputs = self._batch_buffers + index * sizeof(intp)
        s.acts = <char*> s.inputs + rows * self.net.sizes[0] * self.itemsize
        s.deltas = <char*> s.acts + rows * self.net.n_units * self.itemsize
        s.transposed = <char*> s.deltas + rows * self.net.n_units * self.itemsize
        s.live.inputs = s.inputs
        s.live.weights = <char*> s.transposed + transposed * self.itemsize
        s.live.row = <char*> s.live.weights + self.net.sizes[0] * self.net.sizes[1] * self.itemsize
        s.live.n_live = self.net.sizes[0]
        return s

    cdef char* _gradient_buffer(self) except NULL:
        if self._grad == NULL:
            self._grad = <char*> calloc(self.n_params, self.itemsize)
            if self._grad == NULL:
                raise MemoryError("cannot allocate the gradient buffer")
        return self._grad

    def __dealloc__(self):
        free(self._sample_buffers)
        free(self.net.active)
        free(self._starts)
        _free_pages(self._columns.raw, self._columns.bytes)
        free(self._grad)
        free(self._batch_buffers)
        free(self._undo)

    @property
    def layer_units(self):
        return self._owners[0].copy()

    @property
    def n_threads(self):
        return self.net.n_threads

    def reset_activity(self):
        """Forget which ReLU units were active (training records it)."""
        memset(self.net.active, 0, self.net.n_units)
        self.activity_samples = 0

    def dead_layers(self):
        """Hidden ReLU layers (by weight-layer index) none of whose units was
        active on any sample trained since reset_activity."""
        cdef intp l, i
        dead = []
        for l in range(self.net.n_layers - 1):
            if self.net.act[l] == RELU and not any(
                    self.net.active[self.net.a_off[l] + i] for i in range(self.net.sizes[l + 1])):
                dead.append(l)
        return dead

    cdef Layout _unrecorded(self) noexcept nogil:
        # the layout for passes that must not touch the activity record:
        # predictions (perhaps from many threads) and gradient evaluations
        cdef Layout net = self.net
        net.active = NULL
        return net

    cdef _check_params(self, const void* params_data, intp n_params, intp itemsize):
        if itemsize != self.itemsize or n_params != self.n_params:
            raise ValueError(f"this plan takes {self.n_params} {self.dtype} parameters, "
                             f"got {n_params} of {itemsize} bytes")

    cdef _check(self, const void* params_data, intp n_params, intp itemsize,
                Samples samples, bint targets):
        self._check_params(params_data, n_params, itemsize)
        if samples.dtype != self.dtype:
            raise TypeError(f"samples are {samples.dtype}, the plan {self.dtype}")
        if samples.data.n_in != self.net.sizes[0]:
            raise ValueError(f"samples have {samples.data.n_in} features, the network "
                             f"{self.net.sizes[0]} inputs")
        if targets and (samples.data.Y == NULL
                        or samples.data.n_out != self.net.sizes[self.net.n_layers]):
            raise ValueError(f"training needs targets with "
                             f"{self.net.sizes[self.net.n_layers]} outputs")

    def train_epoch(self, floating[::1] params, floating[::1] first_moment,
                    floating[::1] second_moment, Samples samples, const intp[::1] order,
                    intp batch_size, dict optimizer, double loss_sum=0.0):
        """Train on the samples in `order`, batch_size at a time (1: per sample).

        params, first_moment and second_moment (momentum's velocity or Adam's
        moments; empty where the optimizer keeps none) are updated in place;
        `optimizer` holds OptimizerStep's fields as a dict.  A batch whose
        sample weights sum to zero is skipped.  An epoch may be run in slices
        of `order` that end on batch boundaries: passing each slice's
        returned loss_sum to the next gives the very same result as one call.

        Returns (loss_sum, steps, done, diverged).  loss_sum accumulates
        batch_loss * batch_length over the batches, as scikit-learn does (T.5),
        where batch_loss = loss_scale sum_s w_s c_s / sum_s w_s + alpha/2
        ||W||^2 / sum_s w_s (T.1) with the weights before the batch's step;
        steps counts the optimizer steps taken and done the positions of
        `order` trained on.  diverged is True when a batch's loss was not
        finite -- that batch was not applied and done is its start -- or when
        the parameters are not all finite at the end (done is then
        len(order)).  On the main thread, Python's signal handlers run every
        few hundredths of a second; what one raises (Ctrl-C's
        KeyboardInterrupt) is raised here, between two steps (epoch.pxi).
        """
        return _train_call(self, params, first_moment, second_moment, samples, order,
                           batch_size, optimizer, loss_sum, False)

    def train_step(self, floating[::1] params, floating[::1] first_moment,
                   floating[::1] second_moment, Samples samples, const intp[::1] order,
                   dict optimizer):
        """One optimizer step on all the samples in `order` (train_epoch with
        batch_size len(order)) that leaves nothing behind when it fails:
        partial_fit's one-step calls, which keep no checkpoint of their own.

        What the step overwrites is kept as it goes (each row as the
        optimizer reaches it; per-sample plain SGD copies its array first).  A
        batch whose loss is not finite is not applied, and a step that leaves
        a parameter non-finite is taken back at once; either way diverged is
        True and params and moments hold what they held before the call.  A
        step that succeeded can be taken back by undo_step until the next
        train_step.  Returns (loss_sum, steps, done, diverged) as train_epoch
        does.
        """
        return _train_call(self, params, first_moment, second_moment, samples, order,
                           max(order.shape[0], 1), optimizer, 0.0, True)

    def forget_undo(self):
        """undo_step does nothing until the next train_step takes a step."""
        self._undo_ready = False

    def undo_step(self, floating[::1] params, floating[::1] first_moment,
                  floating[::1] second_moment):
        """Put back the parameters and moments from before the last
        train_step, if it took its step (once); returns whether it did."""
        cdef intp size = self.n_params * self.itemsize
        if not self._undo_ready:
            return False
        self._check_params(&params[0], params.shape[0], sizeof(floating))
        self._undo_ready = False
        memcpy(&params[0], self._undo, size)
        if self._undo_moments > 0:
            memcpy(self._state(first_moment, "first_moment"), self._undo + size, size)
        if self._undo_moments > 1:
            memcpy(self._state(second_moment, "second_moment"), self._undo + 2 * size, size)
        return True

    cdef char* _undo_buffer(self) except NULL:
        # params | first moment | second moment before a train_step
        if self._undo == NULL:
            self._undo = <char*> malloc(3 * self.n_params * self.itemsize)
            if self._undo == NULL:
                raise MemoryError("cannot allocate the undo buffer")
        return self._undo

    cdef floating* _state(self, floating[::1] state, name) except NULL:
        if state.shape[0] != self.n_params:
            raise ValueError(f"{name} must hold {self.n_params} values, "
                             f"got {state.shape[0]}")
        return &state[0]

    def add_gradient(self, const floating[::1] params, floating[::1] grad,
                     Samples samples, intp start, intp stop, double loss_sum=0.0):
        """grad += the weighted per-sample gradients of samples start..stop
        (laid out as params); returns loss_sum plus their weighted losses.

        A full-batch gradient taken in slices that start at multiples of
        GRADIENT_CHUNK_ROWS, each given the previous loss_sum, is the very same
        as one slice; finish_gradient turns the sums into the mean.
        """
        cdef intp n = stop - start
        cdef BatchScratch batch
        cdef Layout net = self._unrecorded()
        cdef floating* acts = <floating*> self._sample_buffers
        cdef unsigned int fp_mode
        self._check(&params[0], params.shape[0], sizeof(floating), samples, True)
        if grad.shape[0] != self.n_params:
            raise ValueError(f"grad must hold {self.n_params} values")
        if not 0 <= start <= stop <= samples.n_samples:
            raise ValueError(f"samples {start}..{stop} of {samples.n_samples} do not exist")
        if n == 0:
            return loss_sum
        cdef const intp[::1] order = np.arange(samples.n_samples, dtype=np.intp)
        batch.rows = 0
        if not samples.is_sparse:
            batch = self._batch_scratch(min(n, GRADIENT_CHUNK_ROWS))
        with nogil:
            fp_mode = _flush_denormals()
            if samples.data.X != NULL:
                loss_sum = _batch_gradient_blas(&net, &params[0], &grad[0], &samples.data,
                                                &order[0], start, stop, &batch, loss_sum)
            else:
                loss_sum = _batch_gradient(&net, &params[0], &grad[0], &samples.data,
                                           &order[0], start, stop, acts,
                                           acts + self.net.n_units, loss_sum)
            _restore_fp_mode(fp_mode)
        return loss_sum

    def finish_gradient(self, const floating[::1] params, floating[::1] grad,
                        double loss_sum, double sw_sum):
        """The mean loss and gradient from add_gradient's sums over samples
        whose weights sum to sw_sum (Samples.weight_sum; the sum over all
        blocks when they are spread over several machines), as
        scikit-learn's ``_backprop``: loss_scale sum_s w_s c_s / sum w +
        alpha/2 ||W||^2 / sum w, gradient (sum_s w_s s a^T + alpha W) / sum w
        (T.1, T.2), written over grad; returns the loss."""
        cdef double reg_loss = 0, alpha = self.net.alpha
        if params.shape[0] != self.n_params or grad.shape[0] != self.n_params:
            raise ValueError("finish_gradient: parameters and gradient do not match the plan")
        if sw_sum == 0:
            raise ValueError("the sample weights sum to zero: the mean loss is undefined")
        with nogil:
            if alpha > 0:
                reg_loss = 0.5 * alpha * _sum_squared_weights(&self.net, &params[0]) / sw_sum
            _finish_gradient(&self.net, &params[0], &grad[0], alpha, sw_sum)
        return self.net.loss_scale * loss_sum / sw_sum + reg_loss

    def loss_and_gradient(self, const floating[::1] params, floating[::1] grad,
                          Samples samples):
        """Full-batch loss and gradient in one call (see finish_gradient)."""
        if samples.n_samples == 0:
            raise ValueError("a gradient needs at least one sample")
        grad[:] = 0
        loss_sum = self.add_gradient(params, grad, samples, 0, samples.n_samples)
        return self.finish_gradient(params, grad, loss_sum, samples.weight_sum())

    def small_gemm_layers(self):
        """The layers whose minibatch products run in small_gemm.h (batch_pass.pxi)."""
        return [l for l in range(self.net.n_layers) if _small_layer(&self.net, l)]

    def forward(self, const floating[::1] params, Samples samples, floating[:, ::1] out,
                int n_threads=1):
        """Output activations of every sample into out (n_samples, n_outputs).

        Dense inputs of at least FORWARD_BLOCK_ROWS rows run in blocks of
        that many rows through GEMMs (the batched form, T.12), one block per
        thread at a time; others one row at a time (1.3, 1.4).  Both agree to
        rounding.  Each thread has its own buffers, so many Python threads may
        predict with one plan at once.
        """
        cdef intp n = samples.n_samples, U = self.net.n_units
        cdef bint blocked = not samples.is_sparse and n >= BLOCK_ROWS
        cdef intp rows = BLOCK_ROWS if blocked else 1
        cdef intp n_tasks = (n + rows - 1) // rows
        cdef int nt = max(1, min(n_threads, n_tasks))
        cdef Layout net = self._unrecorded()
        cdef char* buffers
        cdef intp task
        if params.shape[0] != self.n_params or samples.data.itemsize != sizeof(floating) \
                or samples.data.n_in != self.net.sizes[0] or out.shape[0] != n \
                or out.shape[1] != self.net.sizes[self.net.n_layers]:
            raise ValueError("forward: parameters, samples and output do not match the plan")
        if n == 0:
            return
        net.par_min = MAX_PARAMETERS   # the threads share rows: each layer one GEMM
        # each thread's activations, then its narrow layers' W^T (batch_pass.pxi)
        # each thread's buffers (_forward_task), a whole number of cache lines
        cdef intp live = _live_size(&net, rows) if blocked else 0
        cdef intp index = _live_index_size(&net) if live > 0 else 0
        cdef intp per_thread = index * sizeof(intp) + (rows * U + live + (
            _transposed_size(&net, sizeof(floating)) if blocked else 0)) * sizeof(floating)
        per_thread = (per_thread + 63) // 64 * 64
        buffers = <char*> malloc(nt * per_thread)
        if buffers == NULL:
            raise MemoryError("cannot allocate the forward buffers")
        with nogil:
            if nt > 1:
                for task in prange(n_tasks, num_threads=nt, schedule='static'):
                    _forward_task(&net, &params[0], &samples.data, task, rows, n,
                                  buffers + _thread_id() * per_thread, index > 0,
                                  &out[0, 0], blocked)
            else:
                for task in range(n_tasks):
                    _forward_task(&net, &params[0], &samples.data, task, rows, n, buffers,
                                  index > 0, &out[0, 0], blocked)
        free(buffers)


cdef void _forward_task(const Layout* net, const floating* params, const SampleData* d,
                        intp task, intp rows, intp n, char* buffers, bint compacts,
                        floating* out, bint blocked) noexcept nogil:
    # rows task*rows .. of the samples: one GEMM block, or one sample.  buffers
    # holds (if compacts) the live inputs' runs, then rows activations, then
    # (blocked) the live inputs and W_1's live columns, and the narrow
    # layers' W^T (batch_pass.pxi)
    cdef intp r0 = task * rows, r1 = min(r0 + rows, n), b, k
    cdef intp last = net.a_off[net.n_layers - 1], n_out = net.sizes[net.n_layers]
    cdef LiveInputs live
    cdef floating* acts = <floating*> (buffers + (_live_index_size(net) * sizeof(intp)
                                                  if compacts else 0))
    cdef floating* more = acts + rows * net.n_units
    cdef const floating* X = <const floating*> d.X + r0 * d.n_in
    if not blocked:
        _forward_row(net, params, d, r0, acts, out + r0 * n_out)
        return
    live.runs = NULL
    live.n_live = net.sizes[0]
    if compacts:
        live.runs = <intp*> buffers
        live.inputs = more
        live.weights = more + rows * net.sizes[0]
        live.row = NULL        # (predictions take no step)
        more = more + _live_size(net, rows)
        _gather_batch(net, X, NULL, r1 - r0, NULL, &live)
    _batch_forward(net, params, X, r1 - r0, acts, more, &live)
    for b in range(r1 - r0):
        for k in range(n_out):
            out[(r0 + b) * n_out + k] = acts[b * net.n_units + last + k]


cdef void _forward_row(const Layout* net, const floating* params, const SampleData* d,
                       intp r, floating* acts, floating* out) noexcept nogil:
    cdef intp k, last = net.a_off[net.n_layers - 1]
    cdef InputRow x = _input_row(d, r)
    _forward(net, params, &x, acts, False)
    for k in range(net.sizes[net.n_layers]):
        out[k] = acts[last + k]


cdef void _finish_gradient(const Layout* net, const floating* params, floating* G,
                           double alpha, double sw_sum) noexcept nogil:
    # the mean gradient with the L2 term: (G + alpha W) / sum w; biases G / sum w
    cdef intp l, j
    for l in range(net.n_layers):
        for j in range(net.w_off[l], net.w_off[l] + net.sizes[l] * net.sizes[l + 1]):
            G[j] = (G[j] + alpha * params[j]) / sw_sum
        for j in range(net.b_off[l], net.b_off[l] + net.sizes[l + 1]):
            G[j] = G[j] / sw_sum


cdef double _weight_sum(const floating* weights, const intp* order, intp start,
                        intp stop) noexcept nogil:
    # sum of the weights of samples order[start:stop], in visiting order
    # (stop - start without weights)
    cdef intp k
    cdef double total = 0
    if weights == NULL:
        return stop - start
    for k in range(start, stop):
        total += weights[order[k]]
    return total


cdef _check_order(const intp[::1] order, intp n_samples):
    cdef intp k
    for k in range(order.shape[0]):
        if order[k] < 0 or order[k] >= n_samples:
            raise ValueError(f"order[{k}] = {order[k]} names no sample "
                             f"(there are {n_samples})")


cdef dict _KNOWN_CODES = {}


cdef int _checked_code(code, table, what) except? -1:
    """An integer code of the enum ``table``, or a ValueError naming ``what``."""
    known = _KNOWN_CODES.get(table)
    if known is None:
        known = _KNOWN_CODES[table] = frozenset(int(c) for c in table)
    try:
        value = operator.index(code)
    except TypeError:
        value = None
    if value not in known:
        raise ValueError(f"unknown {what} code {code!r}; known: {sorted(known)}")
    return value
