"""Training on data larger than one machine's memory, on Dask: ``fit``.

X and y are dask arrays or dask DataFrames/Series (read lazily, e.g. from
Parquet or Zarr), cut into blocks of rows: a dask array's row chunks, a
DataFrame's partitions.  The model stays an ordinary in-memory estimator.

- 'sgd' and 'adam' stream the blocks through the client.  Each epoch visits
  the training blocks in a new order drawn from the model's random state and
  the samples of each block in a new order too; a block is one series of
  kernel calls, its loss sum carried on to the next (so ``loss_curve_`` is
  the epoch's loss sum over its samples, as in memory).  While a block
  trains, a background thread has the next one computed on the cluster and
  brought over: the client holds about three blocks whatever the data's size.
  The estimator's own epoch loop runs it (fastnet/training.py): optimizer,
  learning-rate schedule, stopping rules, early stopping -- on a held-out
  set of whole blocks, scored block by block --, progress display, and the
  checkpoint restored on divergence or Ctrl-C.  A batch never spans two
  blocks.
- 'lbfgs' runs full-batch L-BFGS with the blocks persisted on the workers.
  Each evaluation broadcasts the parameters, every worker adds up its
  blocks' loss and gradient with fastnet's kernels in one task, the
  workers' sums are added pairwise as a tree on the cluster, and SciPy's
  L-BFGS-B runs on the client exactly as for in-memory data
  (fastnet/lbfgs.py).

Needs the optional extra ``fastnet[dask]``; 'lbfgs' needs a
``dask.distributed`` Client, the streaming solvers use whatever scheduler
dask uses (a Client when one exists).
"""
import itertools
import math
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from numbers import Integral

import numpy as np
from sklearn import config_context
from sklearn.base import is_classifier
from sklearn.utils.validation import _check_sample_weight

from .samples import to_samples
from .slicing import Slicer
from .threads import single_threaded_blas
from .training import _Epochs, _shuffled

# Blocks computed ahead of the one training: one hides the loading of the
# next block behind the training of this one, and keeps the client's memory
# at about three blocks (the one training, the next, the one being handed
# over).
PREFETCH_BLOCKS = 1


def _dask():
    """The dask modules fit uses, or an ImportError saying how to get them."""
    try:
        import dask
        import dask.array as da
        import dask.dataframe as dd
    except ImportError as error:
        raise ImportError("fastnet.dask needs dask: pip install 'fastnet[dask]'") from error
    return dask, da, dd


def fit(model, X, y, *, epochs=None, sample_weight=None, classes=None):
    """Fit a fastnet estimator to dask data too large for one machine's memory.

    Parameters
    ----------
    model : Network, MLPClassifier or MLPRegressor
        The estimator, with its usual parameters (``solver``,
        ``early_stopping``, ``warm_start``, ``random_state``, ...).
    X : dask array or dask DataFrame of shape (n_samples, n_features)
        The input data, in blocks of rows (row chunks or partitions).
    y : dask array, Series or DataFrame of shape (n_samples,) or (n_samples, n_outputs)
        The targets, row for row with X (cut into X's blocks).  Classifiers
        take 1-D class labels.
    epochs : int, default=None
        Epochs (L-BFGS iterations) at most; None takes ``model.max_iter``.
    sample_weight : dask array or Series of shape (n_samples,), default=None
        Weights of the samples, row for row with X.
    classes : array-like, default=None
        Every class label y holds (classifiers); None finds them in a first
        pass over y.

    Returns
    -------
    model : object
        The fitted in-memory estimator.

    Raises
    ------
    ImportError
        Without dask (``pip install 'fastnet[dask]'``).
    ValueError
        For 'lbfgs' without a dask.distributed Client, y or sample_weight
        with other rows than X, labels outside ``classes``, or early
        stopping with too few blocks to hold some out.

    Examples
    --------
    >>> import dask.array as da
    >>> from fastnet import MLPRegressor
    >>> from fastnet.dask import fit
    >>> X = da.random.default_rng(0).normal(size=(600, 3), chunks=(200, 3))
    >>> y = X @ da.from_array([1.0, -2.0, 0.5])
    >>> reg = fit(MLPRegressor(hidden_layer_sizes=(), learning_rate_init=0.1,
    ...                        random_state=0), X, y)
    >>> reg.coefs_[0].ravel().round(1)
    array([ 1. , -2. ,  0.5])
    """
    _dask()
    model._validate_params()
    if epochs is not None and not (isinstance(epochs, Integral) and epochs >= 1):
        raise ValueError(f"epochs must be a whole number >= 1 or None, got {epochs!r}")
    with config_context(skip_parameter_validation=True):
        data = _Blocks(X, y, sample_weight, need_classes=is_classifier(model) and classes is None)
        if is_classifier(model) and classes is None:
            classes = data.classes
        previous = dict(model.__dict__)
        try:
            X_first, y_first = data.prototype(classes if is_classifier(model) else None)
            first_pass = model._prepare(X_first, y_first, None, False)[0]
        except Exception:
            model.__dict__.clear()
            model.__dict__.update(previous)
            raise
        solve = _stream if model.solver in ("sgd", "adam") else _cluster_lbfgs
        return model._train_or_explain(lambda: solve(model, data, epochs), first_pass,
                                       previous)


class _Blocks:
    """X, y and the sample weights cut into the same blocks of rows: a
    delayed object per block and part, and the blocks' lengths."""

    def __init__(self, X, y, sample_weight, need_classes):
        dask, da, dd = _dask()
        self._dask = dask
        self.columns = None
        if isinstance(X, dd.DataFrame):
            # a DataFrame's partitions become the blocks (dask may fuse small
            # ones when it reads fewer columns, so y is cut by row position;
            # the lengths come from a first pass, compute_chunk_sizes)
            self.columns = X._meta
            X = X.to_dask_array()
        if not isinstance(X, da.Array) or X.ndim != 2:
            raise TypeError("X must be a 2-D dask array or a dask DataFrame, got "
                            f"{type(X).__name__}")
        if any(math.isnan(c) for c in X.chunks[0]):
            X = X.compute_chunk_sizes()
        X = X.rechunk({1: -1})
        self.n_features = X.shape[1]
        self.float32 = self.columns is None and X.dtype == np.float32
        lengths = np.asarray(X.chunks[0], dtype=np.intp)
        y = self._rows(y, lengths, "y")
        if need_classes:
            if y.ndim != 1:
                raise ValueError("fastnet.dask.fit trains classifiers on 1-D class labels")
            self.classes = np.unique(da.unique(y).compute())
        x_parts = X.to_delayed().ravel()
        y_parts = y.to_delayed().ravel()
        w_parts = ([None] * len(lengths) if sample_weight is None else
                   self._rows(sample_weight, lengths, "sample_weight").to_delayed().ravel())
        keep = lengths > 0
        self.lengths = lengths[keep]
        self.parts = [parts for parts, kept in zip(zip(x_parts, y_parts, w_parts), keep)
                      if kept]
        if not self.parts:
            raise ValueError("X holds no samples")

    @staticmethod
    def _rows(values, lengths, name):
        """``values`` (dask or in memory) as a dask array cut into X's blocks."""
        _, da, dd = _dask()
        if isinstance(values, (dd.DataFrame, dd.Series)):
            values = values.to_dask_array()
        values = da.asarray(values)
        if any(math.isnan(c) for c in values.chunks[0]):
            values = values.compute_chunk_sizes()
        if values.shape[0] != lengths.sum():
            raise ValueError(f"{name} has {values.shape[0]} rows, X {lengths.sum()}")
        return values.rechunk((tuple(int(n) for n in lengths),)
                              + tuple((n,) for n in values.shape[1:]))

    @property
    def n_blocks(self):
        return len(self.parts)

    def compute(self, block):
        """(X, y, sample_weight) of a block, in memory (X a pandas
        DataFrame when it came from one)."""
        X, y, sample_weight = self._dask.compute(*self.parts[block])
        if self.columns is not None:   # the feature names fit saw
            import pandas as pd
            X = pd.DataFrame(X, columns=self.columns.columns, copy=False)
        return X, y, sample_weight

    def prototype(self, classes):
        """A few rows that stand for the data set when fit lays the network out
        (features, their names, outputs, classes): for a classifier one zero
        row per class with the classes as labels, else the first block."""
        if classes is None:
            X, y, _ = self.compute(0)
            return X, y
        classes = np.asarray(classes)
        if classes.ndim != 1:
            raise ValueError("classes must be 1-D: the labels y holds")
        zeros = np.zeros((len(classes), self.n_features),
                         dtype=np.float32 if self.float32 else np.float64)
        if self.columns is not None:
            import pandas as pd
            zeros = pd.DataFrame(zeros, columns=self.columns.columns).astype(
                self.columns.dtypes.to_dict())
        return zeros, classes


class _Block:
    """One block in memory, checked: the kernels' Samples (training
    blocks), and X, y as prediction and scoring take them."""

    def __init__(self, model, X, y, sample_weight, train):
        if is_classifier(model):
            X, y = model._validate_targets(X, y, reset=False)
            if y.ndim != 1:
                raise ValueError("fastnet.dask.fit trains classifiers on 1-D class labels")
            unknown = np.setdiff1d(y, model.classes_)
            if unknown.size:
                raise ValueError(f"y has classes not in classes_ {model.classes_}: "
                                 f"{unknown[:10]}; give every class in classes=")
            Y = model._one_hot(y)
        else:
            X, y = model._validate_input(X, y, True, reset=False)
            Y = y.reshape(-1, 1) if y.ndim == 1 else y
            model._check_targets(Y)
        dtype = model._params.dtype
        if sample_weight is not None:
            sample_weight = _check_sample_weight(np.asarray(sample_weight), X, dtype=dtype)
        if train:
            X = np.ascontiguousarray(X, dtype=dtype)
            Y = np.ascontiguousarray(Y, dtype=dtype)
        self.X, self.y, self.Y, self.sample_weight = X, y, Y, sample_weight
        self.samples = to_samples(X, dtype, Y, sample_weight) if train else None


class _Loader:
    """Blocks brought into memory by a background thread, PREFETCH_BLOCKS
    ahead of the one in use."""

    def __init__(self, model, data):
        self.model, self.data = model, data
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="fastnet-dask-loader")

    def _load(self, block, train):
        return _Block(self.model, *self.data.compute(block), train)

    def load(self, blocks, train=True):
        """Yield the blocks (indices) in order, checked (see _Block)."""
        blocks = iter(blocks)
        pending = deque(self._thread.submit(self._load, block, train)
                        for block in itertools.islice(blocks, PREFETCH_BLOCKS))
        while pending:
            loaded = pending.popleft().result()
            for block in itertools.islice(blocks, 1):
                pending.append(self._thread.submit(self._load, block, train))
            yield loaded
            del loaded

    def close(self):
        self._thread.shutdown(wait=True, cancel_futures=True)


class _BlockEpochs(_Epochs):
    """The epoch runner of streamed training (see _Epochs): every epoch
    visits the training blocks in a new order and each block's samples in
    a new order, both drawn from the model's random state."""

    def __init__(self, estimator, loader, blocks, batch_size):
        self.est, self.batch_size = estimator, batch_size
        self.plan = estimator._kernel_plan()
        self.slicer = Slicer(batch_size, 6.0 * estimator._layout.n_params)
        self.loader, self.blocks = loader, np.asarray(blocks)
        self.n_samples = int(loader.data.lengths[self.blocks].sum())

    def run(self, progress):
        random_state = self.est._random_state
        blocks = random_state.permutation(self.blocks) if self.est.shuffle else self.blocks
        loss_sum, done = 0.0, 0
        for block in self.loader.load(blocks):
            order = np.arange(block.samples.n_samples, dtype=np.intp)
            if self.est.shuffle:
                order = np.ascontiguousarray(_shuffled(order, random_state))
            self.check_batch_weights(block.sample_weight, order)
            loss_sum = self.train(block.samples, order, loss_sum, done, progress)
            done += len(order)
        return loss_sum


class _StreamedValidation:
    """The early-stopping blocks, scored block by block as scikit-learn
    scores the whole set: accuracy (classifiers) or R^2 averaged over the
    outputs, both weighted by the sample weights."""

    def __init__(self, loader, blocks):
        self.loader, self.blocks = loader, blocks

    def score(self, estimator):
        classifier = is_classifier(estimator)
        total = None
        for block in self.loader.load(self.blocks, train=False):
            predicted = estimator._predict_validated(block.X)
            if predicted.dtype.kind == "f" and not np.isfinite(predicted).all():
                return np.nan
            weights = (np.ones(len(block.y)) if block.sample_weight is None
                       else np.asarray(block.sample_weight, dtype=np.float64))
            if classifier:
                part = np.array([weights @ (predicted == block.y), weights.sum()])
                total = part if total is None else total + part
            else:
                part = _Moments(weights, block.y, predicted)
                total = part if total is None else total.merge(part)
        if classifier:
            return total[0] / total[1]
        return total.r2()


class _Moments:
    """Weighted sums for R^2 over several blocks: the weight, the targets'
    weighted mean and sum of squared deviations (merged as Chan et al.'s
    parallel variance), and the residuals' weighted sum of squares."""

    def __init__(self, weights, y, predicted):
        y = np.asarray(y, dtype=np.float64).reshape(len(weights), -1)
        predicted = np.asarray(predicted, dtype=np.float64).reshape(y.shape)
        self.weight = weights.sum()
        self.mean = weights @ y / self.weight
        self.deviations = weights @ (y - self.mean) ** 2
        self.residuals = weights @ (y - predicted) ** 2

    def merge(self, other):
        weight = self.weight + other.weight
        delta = other.mean - self.mean
        self.deviations = (self.deviations + other.deviations
                           + delta ** 2 * self.weight * other.weight / weight)
        self.mean = self.mean + delta * other.weight / weight
        self.weight = weight
        self.residuals = self.residuals + other.residuals
        return self

    def r2(self):
        # scikit-learn's force_finite: a constant target scores 1 if predicted
        # exactly, else 0
        with np.errstate(divide="ignore", invalid="ignore"):
            scores = np.where(self.deviations > 0, 1 - self.residuals / self.deviations,
                              np.where(self.residuals == 0, 1.0, 0.0))
        return float(scores.mean())


def _stream(model, data, epochs):
    """'sgd' / 'adam': the estimator's epoch loop over streamed blocks."""
    model._start_optimizer(incremental=False)
    blocks = np.arange(data.n_blocks)
    loader = _Loader(model, data)
    validation = None
    if model.early_stopping:
        n_held_out = math.ceil(model.validation_fraction * data.n_blocks)
        if not 0 < n_held_out < data.n_blocks:
            raise ValueError(f"early stopping holds out whole blocks: validation_fraction="
                             f"{model.validation_fraction} of {data.n_blocks} blocks leaves "
                             "none to validate or to train on; cut the data into more blocks")
        drawn = model._random_state.permutation(data.n_blocks)
        validation = _StreamedValidation(loader, np.sort(drawn[:n_held_out]))
        blocks = np.sort(drawn[n_held_out:])
    n_samples = int(data.lengths[blocks].sum())
    batch_size = model._batch_size(n_samples)
    runner = _BlockEpochs(model, loader, blocks, batch_size)
    try:
        model._train_epochs(runner, validation, False, uses_blas=batch_size > 1,
                            max_iter=epochs)
    finally:
        loader.close()


def _client():
    """The dask.distributed Client in use, or a ValueError."""
    try:
        from distributed import get_client
        return get_client()
    except (ImportError, ValueError):
        raise ValueError("solver='lbfgs' on dask data runs on a dask.distributed cluster: "
                         "start a Client first (pip install 'fastnet[dask]')") from None


def _cluster_lbfgs(model, data, epochs):
    """'lbfgs': SciPy's L-BFGS-B on the client, the loss and gradient summed
    over the blocks persisted on the workers."""
    from distributed import wait

    client = _client()
    shipped = client.scatter(model, broadcast=True, hash=False)
    blocks = []
    for block in range(data.n_blocks):
        parts = [None if part is None else client.compute(part) for part in data.parts[block]]
        blocks.append(client.submit(_worker_block, shipped, *parts, pure=False))
        del parts   # released once the checked block holds what it needs
    wait(blocks)
    weight = sum(client.gather([client.submit(_weight_sum, block, pure=False)
                                for block in blocks]))
    objective = _ClusterFullBatch(model, client, shipped, blocks, weight)
    model._minimize_lbfgs(objective, int(data.lengths.sum()), uses_blas=False,
                          max_iter=epochs)


def _worker_block(model, X, y, sample_weight):
    """On a worker: a block checked, as (X, Y, sample_weight) arrays in the
    training dtype that the kernels take without copying (kept there)."""
    block = _Block(model, X, y, sample_weight, train=True)
    return block.X, block.Y, block.sample_weight


def _weight_sum(block):
    """On a worker: the block's weight sum, as the in-memory fit sums it."""
    X, Y, sample_weight = block
    return to_samples(X, X.dtype, Y, sample_weight).weight_sum()


def _worker_gradient(model, params, *blocks):
    """On a worker: (loss sum, gradient sum) of its blocks' samples at
    ``params``, from the kernels (plan.add_gradient); a plan of its own, as
    a worker may run several of these at once."""
    local = object.__new__(type(model))
    local.__dict__.update(model.__dict__)
    for cached in ("_plan", "_plan_key"):
        local.__dict__.pop(cached, None)
    plan = local._kernel_plan()
    grad = np.zeros_like(params)
    loss_sum = 0.0
    with single_threaded_blas(True):
        for X, Y, sample_weight in blocks:
            samples = to_samples(X, params.dtype, Y, sample_weight)
            loss_sum = plan.add_gradient(params, grad, samples, 0, samples.n_samples, loss_sum)
    return loss_sum, grad


def _add_sums(first, second):
    return first[0] + second[0], first[1] + second[1]


class _ClusterFullBatch:
    """L-BFGS's objective over blocks on the cluster: (loss, gradient) at a
    packed parameter vector, as fastnet/lbfgs.py's _FullBatch computes it.

    Each worker sums the blocks it holds in one task (the blocks stay where
    they were computed), and the workers' sums are added pairwise, a tree."""

    def __init__(self, estimator, client, model, blocks, weight_sum):
        self.est, self.client, self.model = estimator, client, model
        self.weight_sum = weight_sum
        self.plan = estimator._kernel_plan()
        self.grad = np.empty_like(estimator._params)
        holders = client.who_has(blocks)
        self.groups = {}
        for block in blocks:
            self.groups.setdefault(sorted(holders[block.key])[0], []).append(block)

    def __call__(self, packed):
        est, client = self.est, self.client
        est._layout.unpack(packed, est._params)
        params = client.scatter(est._params.copy(), broadcast=True, hash=False)
        sums = [client.submit(_worker_gradient, self.model, params, *blocks, workers=[worker],
                              allow_other_workers=True, pure=False)
                for worker, blocks in sorted(self.groups.items())]
        while len(sums) > 1:   # a tree: pairs, then pairs of pairs
            sums = [client.submit(_add_sums, *sums[i:i + 2], pure=False)
                    if i + 1 < len(sums) else sums[i] for i in range(0, len(sums), 2)]
        loss_sum, grad = sums[0].result()
        self.grad[...] = grad
        loss = self.plan.finish_gradient(est._params, self.grad, loss_sum, self.weight_sum)
        return loss, est._layout.pack(self.grad)
