"""Drop-in replacements for scikit-learn's ``MLPClassifier`` and ``MLPRegressor``.

Same parameters, defaults, attributes, warnings and random-number use as
scikit-learn's, so ``from fastnet import MLPClassifier`` gives the same model;
the epochs run in fastnet's kernels.  fastnet's extras: ``init``, ``dtype``,
``n_jobs``, every fastnet activation and per-layer activation lists, and
``output_activation`` for the regressor.
"""
import numpy as np
from sklearn.base import ClassifierMixin, RegressorMixin, _fit_context
from sklearn.metrics import accuracy_score, r2_score
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import _check_partial_fit_first_call, type_of_target, unique_labels
from sklearn.utils.validation import column_or_1d, validate_data

from .network import OUTPUT_ACTIVATION, BaseNetwork, _own_arguments


class _DropIn(BaseNetwork):
    """What the two scikit-learn drop-ins share beyond BaseNetwork."""

    _zero_weight_batch_raises = True
    _weights_scale_steps = False
    _warns_dead_units = False
    _early_stopping_outlives_divergence = True
    # scikit-learn's message, then fastnet's account of what happened
    _divergence_sentence = ("Solver produced non-finite parameter weights. The input data "
                            "may contain large values and need to be preprocessed.")

    def _score(self, X, y, sample_weight=None):
        """Validation score on already validated data (early stopping)."""
        y_pred = self._predict_validated(X)
        if np.issubdtype(y_pred.dtype, np.floating) and not np.isfinite(y_pred).all():
            return np.nan
        return self._score_function(y, y_pred, sample_weight=sample_weight)

    def _validate_targets(self, X, y, reset, **checks):
        if not reset and self._plain_targets(X, y):
            return X, y
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], multi_output=True,
                             dtype=(np.float64, np.float32), reset=reset, **checks)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        return X, y


class MLPClassifier(ClassifierMixin, _DropIn):
    """Multi-layer perceptron classifier: scikit-learn's, trained by fastnet.

    Binary targets get one logistic output with binary cross entropy
    (docs/maths.md, 2.28), multiclass a softmax output with cross entropy
    (2.21), multilabel (2-D 0/1 y) logistic outputs with binary cross
    entropy.  Parameters are scikit-learn's ``MLPClassifier``'s plus:

    init : {'sklearn', 'auto', 'he', 'xavier'}, default='sklearn'
        'sklearn' draws the same weights as scikit-learn for the same seed.
    dtype : {None, 'float64', 'float32'}, default=None
        None trains in X's precision, as scikit-learn does.
    n_jobs : int or None, default=None
        OpenMP threads over the neurons of wide layers.

    Notes
    -----
    ``sample_weight`` follows scikit-learn: every step takes the weighted mean
    over its batch, so at ``batch_size=1`` a sample's weight divides out again
    (only a zero weight matters).  ``fastnet.Network`` instead scales a
    per-sample step by the weight.  A fit whose loss becomes non-finite raises
    scikit-learn's ValueError (a ``fastnet.DivergenceError``) and leaves the
    model at its last finite point; with early stopping it keeps the best
    weights, as scikit-learn does.  Ctrl-C stops a fit within about a tenth
    of a second and keeps the last completed epoch.
    """

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False,
                 momentum=0.9, nesterovs_momentum=True, early_stopping=False,
                 validation_fraction=0.1, beta_1=0.9, beta_2=0.999, epsilon=1e-8,
                 n_iter_no_change=10, max_fun=15000, init="sklearn", dtype=None,
                 n_jobs=None):
        super().__init__(**_own_arguments(locals()))

    _score_function = staticmethod(accuracy_score)

    def _output_spec(self):
        if self._label_binarizer.y_type_ == "multiclass":
            return "softmax", "cross_entropy"
        return "logistic", "binary_cross_entropy"

    def _validate_input(self, X, y, incremental, reset):
        X, y = self._validate_targets(X, y, reset)
        if not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer()
            self._label_binarizer.fit(y)
            self.classes_ = self._label_binarizer.classes_
        elif not self.warm_start and self._known_labels(y):
            pass   # partial_fit on labels all in classes_ (what unique_labels checks)
        else:
            classes = unique_labels(y)
            if self.warm_start:
                if set(classes) != set(self.classes_):
                    raise ValueError(
                        "warm_start can only be used where `y` has the same classes as "
                        f"in the previous call to fit. Previously got {self.classes_}, "
                        f"`y` has {classes}")
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError("`y` has classes not in `self.classes_`. `self.classes_` "
                                 f"has {self.classes_}. 'y' has {classes}.")
        return X, self._one_hot(y)

    def _known_labels(self, y):
        """Whether 1-D numeric y holds only labels of classes_ (binary or
        multiclass), so that unique_labels and the check against classes_
        would pass."""
        if y.ndim != 1 or y.dtype.kind not in "biuf" \
                or self._label_binarizer.y_type_ not in ("binary", "multiclass"):
            return False
        classes = self.classes_
        at = np.minimum(np.searchsorted(classes, y), len(classes) - 1)
        return bool(np.all(classes[at] == y))

    def _one_hot(self, y):
        """``self._label_binarizer.transform(y)`` as booleans.

        For 1-D binary or multiclass y, whose labels _validate_input has just
        checked against classes_, the indicator columns are built directly:
        LabelBinarizer.transform would re-derive the target type twice more,
        which costs more than a digits epoch of per-sample training and is
        paid on every partial_fit call."""
        binarizer = self._label_binarizer
        if y.ndim != 1 or binarizer.y_type_ not in ("binary", "multiclass") \
                or len(self.classes_) < 2:
            return binarizer.transform(y).astype(bool)
        if binarizer.y_type_ == "binary":
            return (y == self.classes_[1]).reshape(-1, 1)
        Y = np.zeros((len(y), len(self.classes_)), dtype=bool)
        Y[np.arange(len(y)), np.searchsorted(self.classes_, y)] = True
        return Y

    def _decode_targets(self, Y):
        """``self._label_binarizer.inverse_transform(Y)``.

        For binary and multiclass targets, decoded on every predict, scikit-
        learn's rule is written out: the class of the largest output, or of
        the output above the threshold 0.5."""
        kind, classes = self._label_binarizer.y_type_, self.classes_
        if kind == "multiclass":
            return classes[Y.argmax(axis=1)]
        if kind == "binary" and len(classes) == 2:
            return classes[(Y > 0.5).astype(np.intp).ravel()]
        return self._label_binarizer.inverse_transform(Y.ravel() if Y.shape[1] == 1 else Y)

    @available_if(lambda est: est._partial_fit_available())
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One epoch over (X, y), continuing from the current weights.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_classes)
        sample_weight : array-like of shape (n_samples,), default=None
        classes : array of shape (n_classes,), default=None
            Every class there will be; required on the first call.

        Returns
        -------
        self
        """
        if _check_partial_fit_first_call(self, classes):
            self._label_binarizer = LabelBinarizer()
            if type_of_target(y).startswith("multilabel"):
                self._label_binarizer.fit(y)
            else:
                self._label_binarizer.fit(classes)
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)

    def predict_proba(self, X):
        """Class probabilities, shape (n_samples, n_classes)."""
        y_pred = self._forward_output(self._check_X(X))
        if self.n_outputs_ == 1:
            return np.hstack([1 - y_pred, y_pred])
        return y_pred

    def predict_log_proba(self, X):
        """Logarithm of predict_proba."""
        y_prob = self.predict_proba(X)
        return np.log(y_prob, out=y_prob)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class MLPRegressor(RegressorMixin, _DropIn):
    """Multi-layer perceptron regressor: scikit-learn's, trained by fastnet.

    Identity output with squared error (or exp output with Poisson loss), for
    single and multi-output y.  Parameters are scikit-learn's ``MLPRegressor``'s
    plus ``init``, ``dtype`` and ``n_jobs`` (see ``MLPClassifier``) and:

    output_activation : str, fastnet activation or None, default=None
        None: 'identity' for squared error, 'exp' for Poisson.

    Notes
    -----
    Sample weights, divergence and Ctrl-C behave as for ``MLPClassifier``.
    """

    _parameter_constraints: dict = {
        **BaseNetwork._parameter_constraints,
        "loss": [StrOptions({"squared_error", "poisson"})],
        "output_activation": OUTPUT_ACTIVATION + [None],
    }
    _squared_error_averages_outputs = True
    _score_function = staticmethod(r2_score)

    def __init__(self, loss="squared_error", hidden_layer_sizes=(100,), activation="relu", *,
                 solver="adam", alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False,
                 momentum=0.9, nesterovs_momentum=True, early_stopping=False,
                 validation_fraction=0.1, beta_1=0.9, beta_2=0.999, epsilon=1e-8,
                 n_iter_no_change=10, max_fun=15000, output_activation=None,
                 init="sklearn", dtype=None, n_jobs=None):
        super().__init__(**_own_arguments(locals()))

    def _output_spec(self):
        if self.output_activation is not None:
            return self.output_activation, self.loss
        return ("exp" if self.loss == "poisson" else "identity"), self.loss

    def _validate_input(self, X, y, incremental, reset):
        return self._validate_targets(X, y, reset, y_numeric=True)

    def _decode_targets(self, Y):
        return Y.ravel() if Y.shape[1] == 1 else Y

    # scikit-learn 1.9's condition here is ``est._check_solver`` (the method,
    # never called, so always true): its MLPRegressor offers partial_fit for
    # every solver, and with 'lbfgs' it runs L-BFGS on from the current
    # weights.  The drop-in does the same.
    def _partial_fit_available(self):
        return True
