"""The estimators' shared core, and ``Network``: Python decisions around the kernels.

Everything that is cheap and done once per call happens here, in the same
order and with the same random-number calls as scikit-learn's MLP:
validation, the layout and initial weights, the kernel plan, then one of the
solvers (``fastnet/training.py``: 'sgd' and 'adam'; ``fastnet/lbfgs.py``:
'lbfgs'), which run whole epochs in the kernels without the GIL.
"""
import functools
from numbers import Integral, Real

import numpy as np
from sklearn import config_context, get_config
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.metrics import r2_score
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from . import kernels, seeding, threads
from .activations import CODES, ELU, Logistic, output_range, resolve, resolve_hidden
from .exceptions import DivergenceError
from .initializers import initial_params
from .layout import LayerWeights, Layout, aligned
from .lbfgs import LbfgsSolver
from .online import OnlineStep
from .samples import all_finite, to_samples
from .training import Diverged, StochasticSolver

# Parameter constraints of activations (a list's entries are checked at fit,
# which knows the number of hidden layers).
OUTPUT_ACTIVATION = [StrOptions(set(CODES)), Logistic, ELU]
HIDDEN_ACTIVATION = OUTPUT_ACTIVATION + [list, tuple]

LOSSES = {code.name.lower(): code for code in kernels.Loss}

FLOAT_DTYPES = (np.dtype(np.float64), np.dtype(np.float32))

# Output activation and loss pairs whose delta is a - t (P.9); the step
# output's perceptron rule (P.3) takes it with any loss.
FUSED_PAIRS = {("softmax", "cross_entropy"), ("identity", "squared_error"),
               ("exp", "poisson")}

# scikit-learn's MLP parameters, checked by scikit-learn's validation, and fastnet's extras.
PARAMETER_CONSTRAINTS = {
    "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
    "activation": HIDDEN_ACTIVATION,
    "solver": [StrOptions({"lbfgs", "sgd", "adam"})],
    "alpha": [Interval(Real, 0, None, closed="left")],
    "batch_size": [StrOptions({"auto", "full"}), Interval(Integral, 1, None, closed="left")],
    "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
    "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
    "power_t": [Interval(Real, 0, None, closed="left")],
    "max_iter": [Interval(Integral, 1, None, closed="left")],
    "shuffle": ["boolean"],
    "random_state": ["random_state"],
    "tol": [Interval(Real, 0, None, closed="left")],
    "verbose": ["verbose"],
    "warm_start": ["boolean"],
    "momentum": [Interval(Real, 0, 1, closed="both")],
    "nesterovs_momentum": ["boolean"],
    "early_stopping": ["boolean"],
    "validation_fraction": [Interval(Real, 0, 1, closed="left")],
    "beta_1": [Interval(Real, 0, 1, closed="left")],
    "beta_2": [Interval(Real, 0, 1, closed="left")],
    "epsilon": [Interval(Real, 0, None, closed="neither")],
    "n_iter_no_change": [Interval(Integral, 1, None, closed="left"), Options(Real, {np.inf})],
    "max_fun": [Interval(Integral, 1, None, closed="left")],
    "init": [StrOptions({"auto", "he", "xavier", "sklearn"})],
    "dtype": [StrOptions({"float64", "float32"}), None, type],
    "n_jobs": [Interval(Integral, 1, None, closed="left"),
               Interval(Integral, None, -1, closed="right"), None],
}


def fit_method(method):
    """scikit-learn's ``_fit_context(prefer_skip_nested_validation=True)`` for
    fastnet's fit methods.

    As there, the parameters are validated on every call except partial_fit
    on a fitted model, and the call runs with the validation of nested
    scikit-learn functions off.  partial_fit on a fitted model calls no such
    function (it splits no validation set and refits no label binarizer), so
    it skips that context, whose cost is most of a one-row call's; and
    scikit-learn's callback context has nothing to do for estimators that
    take no callbacks."""
    @functools.wraps(method)
    def wrapper(estimator, *args, **kwargs):
        if method.__name__ == "partial_fit" and estimator.__sklearn_is_fitted__():
            return method(estimator, *args, **kwargs)
        if not get_config()["skip_parameter_validation"]:
            estimator._validate_params()
        with config_context(skip_parameter_validation=True):
            return method(estimator, *args, **kwargs)

    return wrapper


def _own_arguments(local_variables):
    """An __init__'s arguments from its locals(), for BaseNetwork.__init__."""
    return {name: value for name, value in local_variables.items()
            if name not in ("self", "__class__")}


class BaseNetwork(OnlineStep, StochasticSolver, LbfgsSolver, LayerWeights, BaseEstimator):
    """Shared machinery of ``Network``, ``MLPClassifier`` and ``MLPRegressor``.

    Subclasses define ``__init__`` (their signature and defaults) and pass
    their arguments on by keyword, ``_output_spec`` (output activation and
    loss), ``_validate_input``, ``_decode_targets`` (kernel outputs to
    predictions) and ``_score``.
    """

    _parameter_constraints: dict = PARAMETER_CONSTRAINTS

    # MLPRegressor reports scikit-learn's squared error, which also averages
    # over the outputs; Network reports 1/2 sum_k (a_k - t_k)^2 per sample.
    _squared_error_averages_outputs = False

    # scikit-learn's batch loss (np.average) raises ZeroDivisionError on a
    # batch whose sample weights sum to zero, and the drop-ins do the same;
    # Network lets the kernels skip such a batch.
    _zero_weight_batch_raises = False

    # Network's per-sample steps scale by the sample's weight (T.3a); the
    # drop-ins take scikit-learn's mean, which at batch size 1 divides the
    # weight out again.
    _weights_scale_steps = True

    # The first sentence of the error a diverging fit raises.
    _divergence_sentence = "Training diverged."

    # Network warns (DeadUnitsWarning) when a hidden ReLU layer dies; the
    # drop-ins warn exactly as scikit-learn does.
    _warns_dead_units = True

    # With early stopping, a diverging Network raises like any other fit;
    # the drop-ins end as scikit-learn's does (see _record_diverged_epoch).
    _early_stopping_outlives_divergence = False

    def __init__(self, **params):
        for name, value in params.items():
            setattr(self, name, value)

    # ----------------------------------------------------------- settings
    def _n_threads(self):
        return threads.n_threads(self.n_jobs)

    def _dtype_for(self, X):
        if self.dtype is None:
            # like scikit-learn: train in float32 when X is float32
            return np.float32 if getattr(X, "dtype", None) == np.float32 else np.float64
        dtype = np.dtype(self.dtype)
        if dtype not in (np.float32, np.float64):
            raise ValueError(f"dtype must be 'float64' or 'float32', got {self.dtype!r}")
        return dtype.type

    def _hidden_sizes(self):
        sizes = self.hidden_layer_sizes
        if not hasattr(sizes, "__iter__") or isinstance(sizes, str):
            sizes = [sizes]
        sizes = list(sizes)
        if not all(isinstance(s, Integral) and not isinstance(s, bool) for s in sizes):
            raise ValueError("hidden_layer_sizes must hold whole numbers of units, got "
                             f"{sizes!r}.")
        if any(s <= 0 for s in sizes):
            raise ValueError("hidden_layer_sizes must be > 0, got %s." % sizes)
        return [int(s) for s in sizes]

    def _resolve_layers(self, n_hidden):
        """Activation objects per weight layer, loss name, fused-delta flag."""
        out_act, loss = self._output_spec()
        hidden = resolve_hidden(self.activation, n_hidden)
        out = resolve(out_act, "output_activation")
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {sorted(LOSSES)}, got {loss!r}")
        fused = (out.name == "step"  # the perceptron rule (P.3)
                 or (out.name, loss) in FUSED_PAIRS  # (2.21)
                 or (out.name == "logistic" and out.is_standard()
                     and loss == "binary_cross_entropy"))  # (2.28)
        return hidden + [out], loss, fused

    def _loss_scale(self):
        if self._loss == "squared_error" and self._squared_error_averages_outputs:
            return 1.0 / self.n_outputs_
        return 1.0

    def _kernel_plan(self):
        """The kernels' plan for the current layout and settings, built once
        and rebuilt only when they change (a refit lays out new activation
        objects and a new layout, so they are compared by identity)."""
        acts, layout = self._layer_acts, self._layout
        settings = (self._loss, self._fused, self._loss_scale(), float(self.alpha),
                    self._params.dtype, self._n_threads(), kernels.PARALLEL_MIN_WEIGHTS,
                    kernels.GEMM_SLICE_ROWS, self._weights_scale_steps)
        cached = self.__dict__.get("_plan_key")
        if cached is None or cached[0] is not acts or cached[1] is not layout \
                or cached[2] != settings:
            (loss, fused, loss_scale, alpha, dtype, n_threads, par_min, slice_rows,
             scale) = settings
            self._plan = kernels.Plan(
                layout.units, [CODES[a.name] for a in acts], [a.params() for a in acts],
                LOSSES[loss], fused_delta=fused, loss_scale=loss_scale, alpha=alpha,
                dtype=dtype, n_threads=n_threads, parallel_min_weights=par_min,
                gemm_slice_rows=slice_rows, weights_scale_steps=scale)
            self._plan_key = (acts, layout, settings)
        return self._plan

    @staticmethod
    def _kernel_chunk_rows():
        """Samples per BLAS chunk of a full-batch gradient (GRADIENT_CHUNK_ROWS)."""
        return kernels.GRADIENT_CHUNK_ROWS

    def __getstate__(self):
        # The plan holds C buffers, the checkpoint copies of the weights; the
        # layout is kept as its units, from which the kernels derive the
        # offsets again.
        state = dict(super().__getstate__())
        for scratch in ("_plan", "_plan_key", "_saved", "_online_key",
                        "_class_targets_of"):   # rebuilt on first use
            state.pop(scratch, None)
        if "_layout" in state:
            state["_layer_units"] = state.pop("_layout").units
        if "_random_state" in state:
            state["_random_state"] = seeding.plain(state["_random_state"])
        return state

    def __setstate__(self, state):
        state = dict(state)
        units = state.pop("_layer_units", None)
        if "_params" in state:
            # unpickled arrays start wherever numpy puts them (layout.py)
            state["_params"] = aligned(state["_params"])
        super().__setstate__(state)
        if units is not None:
            self._layout = Layout(units)

    # ---------------------------------------------------------------- fit
    def _fit(self, X, y, sample_weight=None, incremental=False):
        """Validate, lay out and initialise as needed, then train.

        A call that fails before training leaves the model exactly as it was
        (new objects replace its arrays and lists when a fit starts from
        scratch, so the saved attributes are the old model).  Training itself
        restores its checkpoint when it diverges or is interrupted."""
        previous = dict(self.__dict__)
        try:
            first_pass, X, Y, sample_weight = self._prepare(X, y, sample_weight, incremental)
        except Exception:
            self.__dict__.clear()
            self.__dict__.update(previous)
            raise
        self._forget_online_settings()
        if self.solver in ("sgd", "adam"):
            train = functools.partial(self._fit_stochastic, X, Y, sample_weight, incremental)
        else:
            train = functools.partial(self._fit_lbfgs, X, Y, sample_weight)
        self._train_or_explain(train, first_pass, previous)
        self._remember_online_settings()
        return self

    def _train_or_explain(self, train, first_pass, previous):
        """Run ``train()``; a divergence becomes the DivergenceError users
        see, and a new fit of a fitted model that diverged before its first
        epoch ended keeps the ``previous`` model (its ``__dict__``)."""
        try:
            train()
        except Diverged as diverged:
            refitted = first_pass and "_params" in previous and diverged.completed == 0
            if refitted:   # a new fit of a fitted model: keep the old model
                self.__dict__.clear()
                self.__dict__.update(previous)
            raise DivergenceError(diverged.explain(self._divergence_sentence, refitted,
                                                   self.learning_rate_init)) from None
        return self

    def _prepare(self, X, y, sample_weight, incremental):
        """Everything before training: returns (first_pass, X, Y, sample_weight)."""
        hidden = self._hidden_sizes()
        self._n_threads()          # n_jobs is checked before anything changes
        first_pass = "_params" not in self.__dict__ or (not self.warm_start and not incremental)
        X, y = self._validate_input(X, y, incremental, reset=first_pass)
        dtype = self._dtype_for(X) if first_pass else self._params.dtype.type
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, dtype=dtype)
        y_1d = y.ndim == 1
        # converted to the training dtype only after the early-stopping split,
        # which stratifies on the targets as they are (scikit-learn's messages)
        Y = y.reshape((-1, 1)) if y_1d else y
        if Y.dtype.kind not in "biuf":
            try:
                Y = np.asarray(Y, dtype=np.float64)
            except (TypeError, ValueError):
                raise ValueError(f"{type(self).__name__} needs numeric targets; y holds "
                                 f"{Y.dtype} values") from None
        if Y.dtype.kind == "f" and not all_finite(Y):
            raise ValueError("Input y contains NaN or infinity.")
        layer_units = [X.shape[1]] + hidden + [Y.shape[1]]
        if not first_pass and list(self._layout.units) != layer_units:
            raise ValueError(
                f"the network has layers {[int(u) for u in self._layout.units]} but this "
                f"data needs {layer_units}; fit from scratch (warm_start=False) to change "
                "them")
        self.n_outputs_ = Y.shape[1]
        layer_acts, self._loss, self._fused = self._resolve_layers(len(hidden))
        if layer_acts != self.__dict__.get("_layer_acts"):   # keeps the plan's key
            self._layer_acts = layer_acts
        # Network predicts 1-D when trained on 1-D y
        if y_1d or first_pass:
            self._y_1d = y_1d
        self.out_activation_ = self._layer_acts[-1].name
        self._check_targets(Y)
        if first_pass or self._draws_random_numbers(Y.shape[0]):
            # seeding costs more than a one-row partial_fit, which draws
            # nothing (a permutation of one sample)
            self._renew_random_state()
        if first_pass:
            self._initialize(layer_units, dtype)
        self._kernel_plan()        # the kernels accept the layout and settings
        return first_pass, X, Y, sample_weight

    def _check_targets(self, Y):
        """Refuse targets the output layer and loss cannot learn (Network)."""

    def _renew_random_state(self):
        """``check_random_state(random_state)``, as scikit-learn's MLP calls
        it at the start of every fit and partial_fit (fastnet/seeding.py)."""
        self._random_state = seeding.fresh_random_state(
            self.random_state, self.__dict__.get("_random_state"))

    def _draws_random_numbers(self, n_samples):
        """Whether training on n_samples draws from the random state (the
        initial weights are drawn only by a first fit)."""
        return self.solver != "lbfgs" and (self.early_stopping
                                           or (self.shuffle and n_samples > 1))

    def _initialize(self, layer_units, dtype):
        """New weights and fresh training records, as scikit-learn's _initialize."""
        self.n_iter_ = 0
        self.t_ = 0
        self.n_layers_ = len(layer_units)
        self.n_outputs_ = int(layer_units[-1])
        self._layout = Layout(layer_units)
        self._params = initial_params(self._layout, self._layer_acts, self.init,
                                      self.activation, self._random_state, dtype)
        if self.solver in ("sgd", "adam"):
            self._start_records(fresh=True)
        self._best_params = self._params.copy()

    def _validate_input(self, X, y, incremental, reset):
        if not reset and self._plain_targets(X, y):
            return X, y
        return validate_data(self, X, y, accept_sparse=["csr", "csc"], multi_output=True,
                             y_numeric=True, dtype=(np.float64, np.float32), reset=reset)

    @fit_method
    def fit(self, X, y, sample_weight=None):
        """Fit the model to data matrix X and target(s) y.

        Trains from newly drawn weights, or on from the current ones with
        ``warm_start=True``, until the stopping rule (``tol``,
        ``n_iter_no_change``) or ``max_iter``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data; CSR or CSC matrices train without densifying
            them (the first layer touches only the non-zeros).
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            The target values: class labels (``MLPClassifier``), real
            numbers, or for ``Network`` whatever its loss takes (one-hot
            rows for 'cross_entropy', values in [0, 1] for
            'binary_cross_entropy', non-negative ones for 'poisson').
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the samples; None weighs them equally (see the
            class's Notes).

        Returns
        -------
        self : object
            The fitted estimator.

        Raises
        ------
        fastnet.DivergenceError
            If the loss or the weights become non-finite; the model keeps
            its last finite state.
        ValueError
            If the targets do not suit the output layer and loss, or
            ``warm_start`` meets data that needs other layer sizes.

        Warns
        -----
        sklearn.exceptions.ConvergenceWarning
            When ``max_iter`` ends training before the stopping rule does.
        fastnet.DeadUnitsWarning
            ``Network`` only: a hidden ReLU layer stayed dead for an epoch.

        Examples
        --------
        A line learnt by a network without hidden layer:

        >>> from fastnet import MLPRegressor
        >>> X, y = [[0.0], [0.5], [1.0], [1.5]], [0.0, 1.0, 2.0, 3.0]
        >>> reg = MLPRegressor(hidden_layer_sizes=(), solver='lbfgs').fit(X, y)
        >>> reg.predict([[2.0]]).round(2)
        array([4.])
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=False)

    def _partial_fit_available(self):
        """partial_fit's availability (scikit-learn's rule and message)."""
        if self.solver not in ("sgd", "adam"):
            raise AttributeError("partial_fit is only available for stochastic "
                                 "optimizers. %s is not stochastic." % self.solver)
        return True

    @available_if(lambda est: est._partial_fit_available())
    @fit_method
    def partial_fit(self, X, y, sample_weight=None):
        """Train one epoch over (X, y), continuing from the current weights.

        The first call starts from newly drawn weights; every call then
        trains on, as scikit-learn's ``partial_fit`` does (the optimizer's
        state and ``t_`` carry over, ``n_iter_`` counts this call's epoch).
        Only for 'sgd' and 'adam' (AttributeError otherwise), except
        ``MLPRegressor``, which like scikit-learn's also offers it for
        'lbfgs' and then runs L-BFGS on from the current weights.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data of this batch.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Its target values.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the samples; None weighs them equally.

        Returns
        -------
        self : object
            The estimator, trained on this batch.

        Examples
        --------
        >>> from fastnet import Network
        >>> X, y = [[0.0], [0.5], [1.0], [1.5]], [0.0, 1.0, 2.0, 3.0]
        >>> net = Network(hidden_layer_sizes=(), learning_rate_init=0.1,
        ...               random_state=0)
        >>> for epoch in range(50):
        ...     net = net.partial_fit(X, y)
        >>> net.t_, net.predict([[2.0]]).round(1)
        (200, array([4.]))
        """
        if sample_weight is None and self._fast_partial_fit(X, y):
            return self
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)

    # ------------------------------------------------------------ predict
    def _check_X(self, X):
        """X as scikit-learn's validate_data checks it for a fitted model.

        Plain input (see _plain_X) passes every one of those checks as it is
        and is returned without validate_data's cost, which is most of a
        one-row prediction's.  Anything else -- and any failure -- goes
        through validate_data, for its conversions, errors and feature-name
        warnings."""
        if self._plain_X(X):
            return X
        check_is_fitted(self)
        return validate_data(self, X, accept_sparse=["csr", "csc"], reset=False,
                             dtype=(np.float64, np.float32))

    def _plain_X(self, X):
        """Whether X is a finite float32/float64 ndarray of the fitted width,
        given to a model fitted without feature names."""
        return (type(X) is np.ndarray and X.ndim == 2 and X.dtype in FLOAT_DTYPES
                and "_params" in self.__dict__ and "feature_names_in_" not in self.__dict__
                and X.shape[1] == self.n_features_in_ and X.shape[0] > 0
                and all_finite(X))

    def _plain_targets(self, X, y):
        """Whether (X, y) pass validate_data's checks for a fitted model as
        they are: plain X, and y a finite numeric ndarray with X's rows, 1-D
        or with several columns (one column is raveled with a warning)."""
        return (self._plain_X(X) and type(y) is np.ndarray and y.dtype.kind in "biuf"
                and (y.ndim == 1 or (y.ndim == 2 and y.shape[1] > 1))
                and y.shape[0] == X.shape[0]
                and (y.dtype.kind != "f" or all_finite(y)))

    def _forward_output(self, X):
        """Output activations (n_samples, n_outputs) of validated X.

        Computed in the wider of X's and the weights' precision, as numpy's
        promotion does in scikit-learn (float64 X on float32 weights gives
        float64)."""
        dtype = np.result_type(X.dtype, self._params.dtype)
        out = np.empty((X.shape[0], self.n_outputs_), dtype=dtype)
        samples = to_samples(X, dtype)
        # many dense rows run as GEMM blocks on our threads, BLAS held to one
        blocked = not samples.is_sparse and X.shape[0] >= kernels.FORWARD_BLOCK_ROWS
        with threads.single_threaded_blas(blocked):
            self._kernel_plan().forward(self._params.astype(dtype, copy=False), samples,
                                        out, self._n_threads())
        return out

    def _predict_validated(self, X):
        return self._decode_targets(self._forward_output(X))

    def predict(self, X):
        """Predict using the trained network.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The samples to predict.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            ``Network``: the output activations; ``MLPRegressor``: the
            predicted values; ``MLPClassifier``: the predicted class labels
            (0/1 indicator rows for multilabel targets).  1-D for a single
            output (for ``Network``, when ``fit`` was given 1-D y).  Computed
            in the wider of X's and the weights' precision.

        Examples
        --------
        >>> import numpy as np
        >>> from fastnet import Network
        >>> X = np.linspace(-1, 1, 50).reshape(-1, 1)
        >>> net = Network(hidden_layer_sizes=(), random_state=0)
        >>> net.fit(X, 3 * X).predict([[0.5]]).round(2)
        array([[1.5]])
        >>> net.fit(X, 3 * X.ravel()).predict([[0.5]]).round(2)
        array([1.5])
        """
        return self._predict_validated(self._check_X(X))

    def _loss_and_gradient(self, X, y, sample_weight=None):
        """Full-batch loss and gradient at the current weights, as scikit-learn's
        ``_backprop``: returns (loss, coef_grads, intercept_grads) with the
        shapes of coefs_ and intercepts_.  Used by gradient checks."""
        X = self._check_X(X)
        dtype = self._params.dtype
        Y = np.asarray(y).reshape(X.shape[0], -1)
        grad = np.empty_like(self._params)
        loss = self._kernel_plan().loss_and_gradient(
            self._params, grad, to_samples(X, dtype, Y, sample_weight))
        coefs, intercepts = self._layout.views(grad)
        return loss, [c.copy() for c in coefs], [b.copy() for b in intercepts]

    def __sklearn_is_fitted__(self):
        # fitted once a fit laid out the weights (scikit-learn's default scans
        # every attribute, on every partial_fit call)
        return "_params" in self.__dict__

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


# The docstring's {shared parameters} and {shared attributes} lines are filled
# in from fastnet/_docstrings.py when fastnet is imported.
class Network(RegressorMixin, BaseNetwork):
    """A dense feed-forward network trained by fastnet's Cython kernels.

    The general estimator: any hidden layers and activations, any output
    activation with any loss, trained per sample (``batch_size=1``, the
    default), by minibatches or full batches, with momentum, Adam or L-BFGS.
    It follows scikit-learn's estimator contract (``fit``, ``partial_fit``,
    ``predict``, ``score`` as R^2, ``get_params``, pipelines, grid
    searches); ``predict`` returns the output activations, 1-D when ``fit``
    was given 1-D y.

    Parameters
    ----------
    output_activation : str, Logistic or ELU, default='identity'
        Activation of the output layer: any hidden activation (see
        ``activation``), with 'softmax' over all outputs (2.1), or 'step'
        (P.2), a perceptron output trained by the perceptron rule (P.3)
        whatever the loss.
    loss : str, default='squared_error'
        The per-sample cost: 'squared_error', half the squared error summed
        over the outputs (1.14); 'cross_entropy', categorical cross entropy
        (2.18), for rows of y that are probability distributions such as
        one-hot classes; 'binary_cross_entropy' (P.5), for targets in
        [0, 1]; 'poisson', half the Poisson deviance (P.6), for non-negative
        targets.  Targets the loss cannot take raise ValueError.  Any output
        activation trains with any loss, through the general output delta
        (2.16); the canonical pairs -- identity and squared error, softmax
        and cross entropy, the standard logistic and binary cross entropy,
        exp and Poisson -- use a - t (P.9).
    {shared parameters}

    Attributes
    ----------
    {shared attributes}

    See Also
    --------
    MLPClassifier : Scikit-learn's MLP classifier, trained by fastnet.
    MLPRegressor : Scikit-learn's MLP regressor, trained by fastnet.

    Notes
    -----
    ``sample_weight``: a per-sample step (``batch_size=1``) is multiplied by
    its sample's weight (T.3a), so weight 2 is close to seeing the sample
    twice and weight 0 skips it, where scikit-learn's mean over a batch of
    one divides the weight out again (T.3); minibatches take the weighted
    mean (T.2).

    A fit whose loss or weights become non-finite stops at that batch and
    raises ``fastnet.DivergenceError`` (a ValueError) saying where; the
    model keeps the end of the previous epoch, or its state before the call.
    A hidden ReLU layer that stays dead through an epoch warns
    ``fastnet.DeadUnitsWarning``.  Ctrl-C stops a fit within about a tenth
    of a second, warns "Training interrupted by user." and keeps the last
    completed epoch (weights, optimizer state and records agree);
    ``warm_start=True`` trains on from there.

    Examples
    --------
    XOR, learnt per sample by a tanh hidden layer:

    >>> import numpy as np
    >>> from fastnet import Network
    >>> X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]] * 25, dtype=float)
    >>> y = np.logical_xor(X[:, 0], X[:, 1]).astype(float)
    >>> net = Network(hidden_layer_sizes=(8,), activation='tanh',
    ...               learning_rate_init=0.05, random_state=0).fit(X, y)
    >>> (net.predict(X[:4]) > 0.5).astype(int)
    array([0, 1, 1, 0])
    >>> round(net.score(X, y), 3)
    1.0

    A perceptron (docs/maths.md, P.2): one step output, no hidden layer.

    >>> perceptron = Network(hidden_layer_sizes=(), output_activation='step',
    ...                      learning_rate_init=0.1, random_state=0)
    >>> perceptron.fit(X, np.logical_and(X[:, 0], X[:, 1])).predict(X[:4])
    array([0., 0., 0., 1.])
    """


    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        output_activation="identity",
        loss="squared_error",
        solver="sgd",
        batch_size=1,
        learning_rate="constant",
        learning_rate_init=0.01,
        power_t=0.5,
        momentum=0.0,
        nesterovs_momentum=False,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        alpha=0.0,
        init="auto",
        max_iter=200,
        tol=1e-4,
        n_iter_no_change=10,
        max_fun=15000,
        shuffle=True,
        random_state=None,
        early_stopping=False,
        validation_fraction=0.1,
        warm_start=False,
        verbose=False,
        dtype="float64",
        n_jobs=None,
    ):
        super().__init__(**_own_arguments(locals()))

    _parameter_constraints: dict = {
        **BaseNetwork._parameter_constraints,
        "output_activation": OUTPUT_ACTIVATION,
        "loss": [StrOptions(set(LOSSES))],
    }

    def _output_spec(self):
        return self.output_activation, self.loss

    def _check_targets(self, Y):
        out = self._layer_acts[-1].name
        low, high = output_range(self._layer_acts[-1])
        if (self._loss in ("cross_entropy", "binary_cross_entropy") and high > 1) or \
                (self._loss == "poisson" and (low < 0 or out in ("relu", "step"))):
            raise ValueError(
                f"loss={self._loss!r} takes the log of the outputs, which "
                f"output_activation={out!r} does not keep in "
                f"{'(0, 1)' if self._loss != 'poisson' else '(0, inf)'}: use 'softmax' or "
                "'logistic' (L <= 1) for the cross entropies, 'exp', 'softmax' or "
                "'logistic' for Poisson.")
        if out == "softmax" and Y.shape[1] == 1:
            raise ValueError(
                "output_activation='softmax' over a single output is the constant 1 and "
                "cannot learn: give y one column per class (one-hot rows), or use "
                "output_activation='logistic' with loss='binary_cross_entropy' for one "
                "binary target.")
        if self._loss == "cross_entropy":
            rows = np.asarray(Y, dtype=np.float64)
            if np.any(rows < 0) or not np.allclose(rows.sum(axis=1), 1.0, rtol=0, atol=1e-6):
                raise ValueError(
                    "loss='cross_entropy' needs each row of y to be a probability "
                    "distribution over the outputs (non-negative, summing to 1), such as "
                    "one-hot class indicators; use loss='binary_cross_entropy' for "
                    "independent 0/1 targets.")
        if self._loss == "binary_cross_entropy" and (np.any(Y < 0) or np.any(Y > 1)):
            raise ValueError("loss='binary_cross_entropy' needs targets in [0, 1].")
        if self._loss == "poisson" and np.any(Y < 0):
            raise ValueError("loss='poisson' needs non-negative targets (counts or rates).")

    def _decode_targets(self, Y):
        return Y.ravel() if self._y_1d and Y.shape[1] == 1 else Y

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True  # y of shape (n, k) trains k outputs
        return tags

    def _score(self, X, y, sample_weight=None):
        """R^2 on already validated data (early stopping)."""
        y_pred = self._predict_validated(X)
        if not np.isfinite(y_pred).all():
            return np.nan
        return r2_score(y, y_pred, sample_weight=sample_weight)
