"""The ``Network`` estimator: Python decisions around the Cython kernels.

Everything that is cheap and done once per epoch happens here, in the same
order and with the same random-number calls as scikit-learn's MLP (so seeds
give the same weights, splits and shuffles): validation, initialisation, the
early-stopping split, the per-epoch permutation, learning-rate schedules and
stopping rules.  One kernel call then runs the whole epoch without the GIL.
"""
import contextlib
import functools
import warnings
from numbers import Integral, Real

import numpy as np
import scipy.optimize
import scipy.sparse as sp
from sklearn.base import BaseEstimator, RegressorMixin, _fit_context, is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import r2_score
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state, shuffle
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.optimize import _check_optimize_result
from threadpoolctl import ThreadpoolController
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from . import kernels as _kernels
from .activations import CODES, ELU, Logistic, resolve, resolve_hidden

# Parameter constraints of activations (a list's entries are checked at fit,
# which knows the number of hidden layers).
OUTPUT_ACTIVATION = [StrOptions(set(CODES)), Logistic, ELU]
HIDDEN_ACTIVATION = OUTPUT_ACTIVATION + [list, tuple]

LOSS_CODES = {"squared_error": 0, "cross_entropy": 1, "binary_cross_entropy": 2, "poisson": 3}
OPTIMIZER_CODES = {"sgd": 0, "momentum": 1, "adam": 2}

# A layer runs its neurons on several OpenMP threads once it holds this many
# weights; below it, starting threads costs more than it saves.  Chosen by
# measurement (benchmarks/, README "Performance").
PARALLEL_MIN_WEIGHTS = 65536

# Positions in the kernels' hyper-parameter array (H_* in _kernels.pyx).
H_LR, H_MOMENTUM, H_NESTEROV, H_BETA1, H_BETA2, H_EPSILON, H_ALPHA, H_LR_INIT = range(8)


@functools.lru_cache(maxsize=1)
def _blas_controller():
    """One threadpoolctl controller, made on first use (after the kernels
    loaded SciPy's BLAS): creating one per fit costs half a millisecond."""
    return ThreadpoolController()


class _LayerList(list):
    """``coefs_`` / ``intercepts_``: views of the flat parameter buffer.

    Assigning an element (``net.coefs_[0] = W``) copies into the buffer, so
    the network trains on from the assigned values.
    """

    def __setitem__(self, index, value):
        view = self[index]
        value = np.asarray(value)
        if value.shape != view.shape:
            raise ValueError(f"expected shape {view.shape}, got {value.shape}")
        view[...] = value


class BaseNetwork(BaseEstimator):
    """Shared machinery of ``Network``, ``MLPClassifier`` and ``MLPRegressor``."""

    _parameter_constraints: dict = {
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
        "n_jobs": [Integral, None],
    }

    # MLPRegressor reports scikit-learn's squared error, which also averages
    # over the outputs; Network reports 1/2 sum_k (a_k - t_k)^2 per sample.
    _squared_error_averages_outputs = False

    # scikit-learn's batch loss (np.average) raises ZeroDivisionError on a
    # batch whose sample weights sum to zero, and the drop-ins do the same;
    # Network lets the kernels skip such a batch.
    _zero_weight_batch_raises = False

    # ------------------------------------------------------------------ layout
    def _build_layout(self, layer_units):
        """Offsets of every layer in the flat buffers (see _kernels.pyx)."""
        units = np.asarray(layer_units, dtype=np.intp)
        w_off, b_off, a_off = [], [], []
        pos = act = 0
        for n_in, n_out in zip(units[:-1], units[1:]):
            w_off.append(pos)
            pos += n_in * n_out
            b_off.append(pos)
            pos += n_out
            a_off.append(act)
            act += n_out
        self._units = units
        self._w_off = np.asarray(w_off, dtype=np.intp)
        self._b_off = np.asarray(b_off, dtype=np.intp)
        self._a_off = np.asarray(a_off, dtype=np.intp)
        self._n_params = pos
        self._n_units = act

    def _views(self, buffer):
        """(weights as (n_in, n_out) views, biases) of a flat buffer."""
        coefs, intercepts = [], []
        for l in range(len(self._units) - 1):
            n_in, n_out = self._units[l], self._units[l + 1]
            w0, b0 = self._w_off[l], self._b_off[l]
            coefs.append(buffer[w0:w0 + n_in * n_out].reshape(n_out, n_in).T)
            intercepts.append(buffer[b0:b0 + n_out])
        return coefs, intercepts

    @property
    def coefs_(self):
        """List of (n_in, n_out) weight matrices: views of the row-major w_ij."""
        if "_params" not in self.__dict__:
            raise AttributeError("coefs_ exists once the network is fitted")
        return _LayerList(self._views(self._params)[0])

    @coefs_.setter
    def coefs_(self, values):
        self._assign(values, 0, "coefs_")

    @property
    def intercepts_(self):
        """List of bias vectors, one per layer after the input."""
        if "_params" not in self.__dict__:
            raise AttributeError("intercepts_ exists once the network is fitted")
        return _LayerList(self._views(self._params)[1])

    @intercepts_.setter
    def intercepts_(self, values):
        self._assign(values, 1, "intercepts_")

    def _assign(self, values, which, name):
        if "_params" not in self.__dict__:
            raise AttributeError(f"{name} can be assigned once the network is fitted "
                                 "(fit or partial_fit sets its layout)")
        views = self._views(self._params)[which]
        if len(values) != len(views):
            raise ValueError(f"{name} needs {len(views)} arrays, got {len(values)}")
        for view, value in zip(views, values):
            value = np.asarray(value)
            if value.shape != view.shape:
                raise ValueError(f"{name}: expected shape {view.shape}, got {value.shape}")
            if not np.all(np.isfinite(value)):
                raise ValueError(f"{name} must be finite")
        for view, value in zip(views, values):
            view[...] = value

    # -------------------------------------------------------------- settings
    def _n_threads(self):
        if self.n_jobs is None or self.n_jobs < 0:
            return max(1, _kernels.max_threads())
        if self.n_jobs == 0:
            raise ValueError("n_jobs == 0 has no meaning; use None, -1 or a positive int")
        return int(self.n_jobs)

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
        if not hasattr(sizes, "__iter__"):
            sizes = [sizes]
        sizes = list(sizes)
        if np.any(np.array(sizes) <= 0):
            raise ValueError("hidden_layer_sizes must be > 0, got %s." % sizes)
        return [int(s) for s in sizes]

    def _resolve_layers(self, n_hidden):
        """Activation objects per weight layer, loss name, fused-delta flag."""
        out_act, loss = self._output_spec()
        hidden = resolve_hidden(self.activation, n_hidden)
        out = resolve(out_act, "output_activation")
        if loss not in LOSS_CODES:
            raise ValueError(f"loss must be one of {sorted(LOSS_CODES)}, got {loss!r}")
        fused = (
            out.name == "step"  # the perceptron rule (seed 001)
            or (out.name == "softmax" and loss == "cross_entropy")  # (2.21)
            or (out.name == "logistic" and out.is_standard()
                and loss == "binary_cross_entropy")  # (2.28)
            or (out.name == "identity" and loss == "squared_error")
            or (out.name == "exp" and loss == "poisson")
        )
        return hidden + [out], loss, fused

    def _output_spec(self):
        return self.output_activation, self.loss

    # ---------------------------------------------------------- initialise
    def _init_bound(self, layer, fan_in, fan_out):
        act = self._layer_acts[layer].name
        if self.init == "sklearn":
            # scikit-learn's Glorot rule, keyed on the hidden activation
            if isinstance(self.activation, (list, tuple)):
                hidden = self._layer_acts[min(layer, len(self._layer_acts) - 2)].name
            else:
                hidden = resolve(self.activation, "activation").name
            factor = 2.0 if hidden == "logistic" else 6.0
            return np.sqrt(factor / (fan_in + fan_out))
        rule = self.init
        if rule == "auto":
            rule = "he" if act in ("relu", "elu") else "xavier"
        if rule == "he":
            return np.sqrt(6.0 / fan_in)  # He-uniform; (1.33) misprints 6/sqrt(fan_in)
        bound = np.sqrt(6.0 / (fan_in + fan_out))  # Xavier (1.34)
        if self.init == "auto" and act == "logistic":
            bound *= 4.0  # (1.35)
        return bound

    def _initialize(self, layer_units, dtype):
        self.n_iter_ = 0
        self.t_ = 0
        self.n_layers_ = len(layer_units)
        self.n_outputs_ = int(layer_units[-1])
        self._build_layout(layer_units)
        params = np.zeros(self._n_params, dtype=dtype)
        coefs, intercepts = self._views(params)
        for l in range(self.n_layers_ - 1):
            fan_in, fan_out = layer_units[l], layer_units[l + 1]
            bound = self._init_bound(l, fan_in, fan_out)
            # The same draws, in the same order, as scikit-learn's _init_coef.
            coefs[l][...] = self._random_state.uniform(-bound, bound, (fan_in, fan_out))
            if self.init == "sklearn":
                intercepts[l][...] = self._random_state.uniform(-bound, bound, fan_out)
        self._params = params
        if self.solver in ("sgd", "adam"):
            self.loss_curve_ = []
            self._no_improvement_count = 0
            if self.early_stopping:
                self.validation_scores_ = []
                self.best_validation_score_ = -np.inf
                self.best_loss_ = None
            else:
                self.best_loss_ = np.inf
                self.validation_scores_ = None
                self.best_validation_score_ = None
        self._best_params = params.copy()

    # --------------------------------------------------------- validation
    def _validate_input(self, X, y, incremental, reset):
        return validate_data(self, X, y, accept_sparse=["csr", "csc"], multi_output=True,
                             y_numeric=True, dtype=(np.float64, np.float32), reset=reset)

    def _kernel_arrays(self, X, dtype):
        """X as the kernels take it: dense C-contiguous, or CSR pieces."""
        empty = np.empty(0, dtype=dtype)
        if sp.issparse(X):
            X = sp.csr_matrix(X)
            X.sort_indices()
            return (np.empty((0, 0), dtype=dtype),
                    np.ascontiguousarray(X.data, dtype=dtype),
                    np.ascontiguousarray(X.indices, dtype=np.intp),
                    np.ascontiguousarray(X.indptr, dtype=np.intp))
        no_index = np.empty(0, dtype=np.intp)
        return np.ascontiguousarray(X, dtype=dtype), empty, no_index, no_index

    def _batch_buffers(self, rows, Xk, dtype):
        """Scratch for the BLAS minibatch path: inputs, activations, sensitivities.

        Sparse X (Xk[0] empty) and per-sample training take the per-sample
        path, which needs none (rows = 0)."""
        rows = rows if Xk[0].shape[0] > 0 else 0
        return (np.empty((rows, self._units[0]), dtype=dtype),
                np.empty((rows, self._n_units), dtype=dtype),
                np.empty((rows, self._n_units), dtype=dtype))

    def _shape_args(self):
        acts = self._layer_acts
        codes = np.array([CODES[a.name] for a in acts], dtype=np.intc)
        prms = np.array([a.params() for a in acts], dtype=np.float64).reshape(len(acts), 3)
        return (self._units, self._w_off, self._b_off, self._a_off, codes, prms)

    def _loss_scale(self):
        if self._loss == "squared_error" and self._squared_error_averages_outputs:
            return 1.0 / self.n_outputs_
        return 1.0

    # ------------------------------------------------------------------ fit
    def _fit(self, X, y, sample_weight=None, incremental=False):
        hidden = self._hidden_sizes()
        first_pass = "_params" not in self.__dict__ or (not self.warm_start and not incremental)
        X, y = self._validate_input(X, y, incremental, reset=first_pass)
        dtype = self._dtype_for(X) if first_pass else self._params.dtype.type
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, dtype=dtype)
        y_1d = y.ndim == 1
        if y_1d:
            y = y.reshape((-1, 1))
        Y = np.ascontiguousarray(y, dtype=dtype)
        n_samples, n_features = X.shape
        layer_units = [n_features] + hidden + [Y.shape[1]]
        if not first_pass and list(self._units) != layer_units:
            raise ValueError(
                f"the network has layers {list(self._units)} but this data needs "
                f"{layer_units}; fit from scratch (warm_start=False) to change them"
            )
        self.n_outputs_ = Y.shape[1]
        self._layer_acts, self._loss, self._fused = self._resolve_layers(len(hidden))
        # Network predicts 1-D when trained on 1-D y; set only once the
        # call has passed validation, so that a failing call changes nothing
        if y_1d or first_pass:
            self._y_1d = y_1d
        self.out_activation_ = self._layer_acts[-1].name
        self._random_state = check_random_state(self.random_state)
        if first_pass:
            self._initialize(layer_units, dtype)
        if self.solver in ("sgd", "adam"):
            self._fit_stochastic(X, Y, sample_weight, incremental)
        else:
            self._fit_lbfgs(X, Y, sample_weight)
        if not np.all(np.isfinite(self._params)):
            raise ValueError(
                "Solver produced non-finite parameter weights. The input data may"
                " contain large values and need to be preprocessed."
            )
        return self

    def _new_optimizer(self):
        """Optimizer state: learning rate, velocity or Adam moments, Adam's step."""
        if self.solver == "sgd":
            kind = "momentum" if self.momentum > 0 else "sgd"
        else:
            kind = "adam"
        self._optimizer = {
            "kind": kind,
            "learning_rate": float(self.learning_rate_init),
            "state1": np.zeros_like(self._params),
            "state2": np.zeros_like(self._params) if kind == "adam" else np.zeros(1, self._params.dtype),
            "t": 0,
        }

    def _batch_size(self, n_samples):
        if self.batch_size == "auto":
            return min(200, n_samples)
        if self.batch_size == "full":
            return n_samples
        if self.batch_size > n_samples:
            warnings.warn("Got `batch_size` less than 1 or larger than "
                          "sample size. It is going to be clipped")
        return int(np.clip(self.batch_size, 1, n_samples))

    def _fit_stochastic(self, X, Y, sample_weight, incremental):
        if not incremental or not hasattr(self, "_optimizer"):
            self._new_optimizer()
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        early_stopping = self.early_stopping
        if early_stopping:
            # same split as scikit-learn: stratified for single-output classifiers
            stratify = Y if is_classifier(self) and self.n_outputs_ == 1 else None
            arrays = (X, Y) if sample_weight is None else (X, Y, sample_weight)
            parts = train_test_split(*arrays, random_state=self._random_state,
                                     test_size=self.validation_fraction, stratify=stratify)
            X_train, X_val, Y_train, Y_val = parts[:4]
            sw_train, sw_val = (parts[4], parts[5]) if sample_weight is not None else (None, None)
            if X_val.shape[0] < 2:
                raise ValueError("The validation set is too small. Increase "
                                 "'validation_fraction' or the size of your dataset.")
            y_val = self._decode_targets(Y_val)
        else:
            X_train, Y_train, sw_train = X, Y, sample_weight
            X_val = y_val = sw_val = None

        dtype = self._params.dtype
        Xk = self._kernel_arrays(X_train, dtype)
        Yk = np.ascontiguousarray(Y_train, dtype=dtype)
        swk = (np.empty(0, dtype=dtype) if sw_train is None
               else np.ascontiguousarray(sw_train, dtype=dtype))
        n_samples = X_train.shape[0]
        batch_size = self._batch_size(n_samples)
        opt = self._optimizer
        hyper = np.zeros(8)
        hyper[H_MOMENTUM] = self.momentum
        hyper[H_NESTEROV] = float(self.nesterovs_momentum)
        hyper[H_BETA1], hyper[H_BETA2], hyper[H_EPSILON] = self.beta_1, self.beta_2, self.epsilon
        hyper[H_ALPHA] = self.alpha
        hyper[H_LR_INIT] = self.learning_rate_init
        grad = np.zeros_like(self._params)
        acts = np.empty(self._n_units, dtype=dtype)
        deltas = np.empty(self._n_units, dtype=dtype)
        xdense = np.zeros(self._units[0] if Xk[0].shape[0] == 0 else 1, dtype=dtype)
        parts = np.empty(_kernels.lam_parts_size(self._units), dtype=dtype)
        rowsq = np.empty(self._n_units, dtype=dtype)
        batch_buffers = self._batch_buffers(batch_size if batch_size > 1 else 0, Xk, dtype)
        shape = self._shape_args()
        loss_scale = self._loss_scale()
        n_threads = self._n_threads()

        batch_starts = np.arange(0, n_samples, batch_size)

        def epoch(order):
            """One kernel call: the whole epoch, visiting samples in `order`."""
            if (self._zero_weight_batch_raises and sw_train is not None
                    and not np.all(np.add.reduceat(swk[order], batch_starts))):
                raise ZeroDivisionError("Weights sum to zero, can't be normalized")
            hyper[H_LR] = opt["learning_rate"]
            total, opt["t"] = _kernels.train_epoch(
                self._params, opt["state1"], opt["state2"], grad, acts, deltas, xdense,
                parts, rowsq, *batch_buffers, *shape, LOSS_CODES[self._loss], self._fused, loss_scale,
                *Xk, Yk, swk, order, batch_size, OPTIMIZER_CODES[opt["kind"]], hyper,
                opt["t"], PARALLEL_MIN_WEIGHTS, n_threads)
            return total

        self.n_iter_ = 0
        with self._blas_threads(uses_blas=batch_buffers[1].shape[0] > 0):
            self._run_epochs(epoch, n_samples, early_stopping, X_val, y_val, sw_val,
                             incremental)
        if early_stopping:
            self._params[...] = self._best_params

    @staticmethod
    def _blas_threads(uses_blas):
        """Run the minibatch path's GEMMs on one BLAS thread.

        Multithreaded BLAS may split a sum differently for other thread
        counts; one thread keeps results bit-identical for any n_jobs.
        """
        if uses_blas:
            return _blas_controller().limit(limits=1, user_api="blas")
        return contextlib.nullcontext()

    def _run_epochs(self, epoch, n_samples, early_stopping, X_val, y_val, sw_val,
                    incremental):
        """scikit-learn's epoch loop: shuffle, one kernel call, bookkeeping, stopping."""
        opt = self._optimizer
        sample_idx = np.arange(n_samples, dtype=int)
        for _ in range(self.max_iter):
            if self.shuffle:
                # shuffle the previous permutation, as scikit-learn does
                sample_idx = shuffle(sample_idx, random_state=self._random_state)
            total = epoch(np.ascontiguousarray(sample_idx, dtype=np.intp))
            self.n_iter_ += 1
            self.loss_ = total / n_samples
            self.t_ += n_samples
            self.loss_curve_.append(self.loss_)
            if self.verbose:
                print("Iteration %d, loss = %.8f" % (self.n_iter_, self.loss_))
            self._update_no_improvement_count(early_stopping, X_val, y_val, sw_val)
            if opt["kind"] != "adam" and self.learning_rate == "invscaling":
                opt["learning_rate"] = float(self.learning_rate_init) / (self.t_ + 1) ** self.power_t
            if self._no_improvement_count > self.n_iter_no_change:
                if early_stopping:
                    msg = ("Validation score did not improve more than tol=%f for %d "
                           "consecutive epochs." % (self.tol, self.n_iter_no_change))
                else:
                    msg = ("Training loss did not improve more than tol=%f for %d "
                           "consecutive epochs." % (self.tol, self.n_iter_no_change))
                if self._trigger_stopping(msg):
                    break
                self._no_improvement_count = 0
            if incremental:
                break
            if self.n_iter_ == self.max_iter:
                warnings.warn(
                    "Stochastic Optimizer: Maximum iterations (%d) reached and the "
                    "optimization hasn't converged yet." % self.max_iter,
                    ConvergenceWarning,
                )

    def _trigger_stopping(self, msg):
        """scikit-learn's rule: stop, unless 'adaptive' SGD can still divide by 5."""
        opt = self._optimizer
        if opt["kind"] == "adam" or self.learning_rate != "adaptive":
            if self.verbose:
                print(msg + " Stopping.")
            return True
        if opt["learning_rate"] <= 1e-6:
            if self.verbose:
                print(msg + " Learning rate too small. Stopping.")
            return True
        opt["learning_rate"] /= 5.0
        if self.verbose:
            print(msg + " Setting learning rate to %f" % opt["learning_rate"])
        return False

    def _update_no_improvement_count(self, early_stopping, X_val, y_val, sw_val):
        if early_stopping:
            score = self._score(X_val, y_val, sw_val)
            self.validation_scores_.append(score)
            if self.verbose:
                print("Validation score: %f" % score)
            if score < self.best_validation_score_ + self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if score > self.best_validation_score_:
                self.best_validation_score_ = score
                self._best_params = self._params.copy()
        else:
            if self.loss_curve_[-1] > self.best_loss_ - self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if self.loss_curve_[-1] < self.best_loss_:
                self.best_loss_ = self.loss_curve_[-1]

    def _fit_lbfgs(self, X, Y, sample_weight):
        """scipy's L-BFGS-B on the full-batch loss and gradient of the kernels.

        The parameter vector is packed in scikit-learn's order (all coefs_
        row-major as (n_in, n_out), then all intercepts_) so that L-BFGS sees
        the very same problem.
        """
        dtype = self._params.dtype
        Xk = self._kernel_arrays(X, dtype)
        swk = (np.empty(0, dtype=dtype) if sample_weight is None
               else np.ascontiguousarray(sample_weight, dtype=dtype))
        order = np.arange(X.shape[0], dtype=np.intp)
        grad = np.empty_like(self._params)
        acts = np.empty(self._n_units, dtype=dtype)
        deltas = np.empty(self._n_units, dtype=dtype)
        batch_buffers = self._batch_buffers(min(X.shape[0], 256), Xk, dtype)
        shape = self._shape_args()
        n_threads = self._n_threads()
        loss_scale = self._loss_scale()

        def loss_grad(packed):
            self._unpack(packed, self._params)
            loss = _kernels.loss_and_gradient(
                self._params, grad, acts, deltas, *batch_buffers, *shape,
                LOSS_CODES[self._loss],
                self._fused, loss_scale, float(self.alpha), *Xk, Y, swk, order,
                PARALLEL_MIN_WEIGHTS, n_threads)
            return loss, self._pack(grad)

        iprint = 1 if self.verbose is True or self.verbose >= 1 else -1
        options = {"maxfun": self.max_fun, "maxiter": self.max_iter, "gtol": self.tol}
        if tuple(int(v) for v in scipy.__version__.split(".")[:2]) < (1, 15):
            options["iprint"] = iprint
        with self._blas_threads(uses_blas=batch_buffers[1].shape[0] > 0):
            result = scipy.optimize.minimize(loss_grad, self._pack(self._params),
                                             method="L-BFGS-B", jac=True, options=options)
        self.n_iter_ = _check_optimize_result("lbfgs", result, self.max_iter)
        self.loss_ = result.fun
        if self.dtype is None:
            # scikit-learn's coefs_ become scipy's float64 solution, also
            # after training in float32 on float32 X
            self._params = self._params.astype(np.float64, copy=False)
        self._unpack(result.x, self._params)

    def _pack(self, buffer):
        coefs, intercepts = self._views(buffer)
        return np.hstack([c.ravel() for c in coefs] + list(intercepts)).astype(np.float64)

    def _unpack(self, packed, buffer):
        coefs, intercepts = self._views(buffer)
        pos = 0
        for c in coefs:
            c[...] = packed[pos:pos + c.size].reshape(c.shape)
            pos += c.size
        for b in intercepts:
            b[...] = packed[pos:pos + b.size]
            pos += b.size

    def _check_solver(self):
        """partial_fit's availability (scikit-learn's rule and message)."""
        if self.solver not in ("sgd", "adam"):
            raise AttributeError("partial_fit is only available for stochastic "
                                 "optimizers. %s is not stochastic." % self.solver)
        return True

    # ------------------------------------------------------------- predict
    def _forward_output(self, X):
        """Output activations (n_samples, n_outputs) of validated X.

        Computed in the wider of X's and the weights' precision, as numpy's
        promotion does in scikit-learn (float64 X on float32 weights gives
        float64)."""
        dtype = np.result_type(X.dtype, self._params.dtype)
        params = self._params.astype(dtype, copy=False)
        Xk = self._kernel_arrays(X, dtype)
        n = X.shape[0]
        n_threads = min(self._n_threads(), max(1, n // 64))
        out = np.empty((n, self.n_outputs_), dtype=dtype)
        acts = np.empty((n_threads, self._n_units), dtype=dtype)
        units, w_off, b_off, a_off, codes, prms = self._shape_args()
        _kernels.forward(params, acts, out, units, w_off, b_off, a_off, codes,
                         prms, *Xk, n_threads)
        return out

    def _check_X(self, X):
        check_is_fitted(self)
        return validate_data(self, X, accept_sparse=["csr", "csc"], reset=False,
                             dtype=(np.float64, np.float32))

    def _loss_and_gradient(self, X, y, sample_weight=None):
        """Full-batch loss and gradient at the current weights, as scikit-learn's
        ``_backprop``: returns (loss, coef_grads, intercept_grads) with the
        shapes of coefs_ and intercepts_.  Used by L-BFGS and gradient checks."""
        X = self._check_X(X)
        dtype = self._params.dtype
        Y = np.ascontiguousarray(np.asarray(y).reshape(X.shape[0], -1), dtype=dtype)
        swk = (np.empty(0, dtype=dtype) if sample_weight is None
               else np.ascontiguousarray(sample_weight, dtype=dtype))
        grad = np.empty_like(self._params)
        loss = _kernels.loss_and_gradient(
            self._params, grad, np.empty(self._n_units, dtype), np.empty(self._n_units, dtype),
            *self._batch_buffers(min(X.shape[0], 256), self._kernel_arrays(X, dtype), dtype),
            *self._shape_args(), LOSS_CODES[self._loss], self._fused, self._loss_scale(),
            float(self.alpha), *self._kernel_arrays(X, dtype), Y, swk,
            np.arange(X.shape[0], dtype=np.intp), PARALLEL_MIN_WEIGHTS, self._n_threads())
        coefs, intercepts = self._views(grad)
        return loss, [c.copy() for c in coefs], [b.copy() for b in intercepts]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


class Network(RegressorMixin, BaseNetwork):
    """A dense feed-forward network trained by per-sample Cython kernels.

    Parameters
    ----------
    hidden_layer_sizes : array-like of int, default=(100,)
        Units per hidden layer; ``()`` gives a single layer (perceptron,
        logistic or linear regression).
    activation : str, Logistic, ELU or list, default='relu'
        Hidden activation: 'identity', 'logistic', 'tanh', 'relu', 'elu',
        'softmax' (also allowed in hidden layers), or an object; a list gives
        one per hidden layer.  'step' is output-only.
    output_activation : str or object, default='identity'
        Activation of the output layer; 'step' trains by the perceptron rule.
    loss : {'squared_error', 'cross_entropy', 'binary_cross_entropy', 'poisson'}
        Per-sample loss; any output activation works with any loss.
    solver : {'sgd', 'adam', 'lbfgs'}, default='sgd'
    batch_size : int, 'auto' or 'full', default=1
        1 is per-sample SGD (seed 000 eq. 1.31); 'auto' is min(200, n);
        'full' is full-batch gradient descent.
    init : {'auto', 'he', 'xavier', 'sklearn'}, default='auto'
        'auto': He-uniform for relu/elu, Xavier for tanh/identity/softmax,
        4x Xavier for logistic (1.33-1.35); 'sklearn': scikit-learn's draws.
    dtype : {'float64', 'float32'}, default='float64'
    n_jobs : int or None, default=None
        OpenMP threads over the neurons of wide layers; None uses all the
        process may use.

    The other parameters are scikit-learn MLP's, with the same meaning.

    Attributes
    ----------
    coefs_, intercepts_, n_layers_, n_outputs_, out_activation_, loss_,
    loss_curve_, best_loss_, validation_scores_, best_validation_score_,
    n_iter_, t_, n_features_in_, feature_names_in_ : as scikit-learn's MLP.
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
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.output_activation = output_activation
        self.loss = loss
        self.solver = solver
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.alpha = alpha
        self.init = init
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.shuffle = shuffle
        self.random_state = random_state
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.warm_start = warm_start
        self.verbose = verbose
        self.dtype = dtype
        self.n_jobs = n_jobs

    _parameter_constraints: dict = {
        **BaseNetwork._parameter_constraints,
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "output_activation": OUTPUT_ACTIVATION,
        "loss": [StrOptions(set(LOSS_CODES))],
    }

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Train from scratch (or on from the current weights with warm_start).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=False)

    @available_if(lambda est: est._check_solver())
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over (X, y), continuing from the current weights."""
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)

    def predict(self, X):
        """Output activations; 1-D when the training y was 1-D."""
        out = self._forward_output(self._check_X(X))
        return out.ravel() if self._y_1d and out.shape[1] == 1 else out

    def _decode_targets(self, Y):
        return Y.ravel() if self._y_1d and Y.shape[1] == 1 else Y

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True  # y of shape (n, k) trains k outputs
        return tags

    def _score(self, X, y, sample_weight=None):
        """R^2 on already validated data (early stopping)."""
        y_pred = self._forward_output(X)
        y_pred = y_pred.ravel() if self._y_1d and y_pred.shape[1] == 1 else y_pred
        if not np.isfinite(y_pred).all():
            return np.nan
        return r2_score(y, y_pred, sample_weight=sample_weight)
