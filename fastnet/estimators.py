"""Drop-in replacements for scikit-learn's ``MLPClassifier`` and ``MLPRegressor``.

Same parameters, defaults, attributes, warnings and random-number use as
scikit-learn's, so ``from fastnet import MLPClassifier`` gives the same model;
the epochs run in fastnet's kernels.  fastnet's extras: ``init``, ``dtype``,
``n_jobs``, every fastnet activation and per-layer activation lists, and
``output_activation`` for the regressor.
"""
import numpy as np
from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.metrics import accuracy_score, r2_score
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import _check_partial_fit_first_call, type_of_target, unique_labels
from sklearn.utils.validation import column_or_1d, validate_data

from .network import OUTPUT_ACTIVATION, BaseNetwork, _own_arguments, fit_method

# partial_fit's fast path looks up at most this many labels one by one (a
# dict's lookups); more are searched by numpy, whose calls cost about as much
# as 32 lookups
FEW_LABELS = 32


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


# The docstrings' {shared parameters} and {shared attributes} lines are filled
# in from fastnet/_docstrings.py when fastnet is imported.
class MLPClassifier(ClassifierMixin, _DropIn):
    """Multi-layer perceptron classifier: scikit-learn's, trained by fastnet.

    A drop-in replacement for ``sklearn.neural_network.MLPClassifier``, with
    its parameters and defaults, fitted attributes, warnings, errors and
    random-number use: the same ``random_state`` gives scikit-learn's weights
    and loss curve, to rounding.  Binary targets get one logistic output with
    binary cross entropy (docs/maths.md, 2.28), multiclass targets a softmax
    output with cross entropy (2.21), multilabel targets (2-D 0/1 y) one
    logistic output per label.  fastnet's extras are ``init``, ``dtype``,
    ``n_jobs``, every fastnet activation and per-layer activation lists.

    Parameters
    ----------
    {shared parameters}

    Attributes
    ----------
    classes_ : ndarray or list of ndarray of shape (n_classes,)
        Class labels for each output.
    {shared attributes}

    See Also
    --------
    MLPRegressor : The regressor of the same kind.
    Network : The general estimator: any output activation with any loss.

    Notes
    -----
    ``sample_weight`` follows scikit-learn: every step takes the weighted
    mean over its batch (T.2), so at ``batch_size=1`` a sample's weight
    divides out of the step and scales only the L2 term (T.3); a batch whose
    weights sum to zero raises ZeroDivisionError, as in scikit-learn.
    ``fastnet.Network`` instead multiplies a per-sample step by the weight.

    A fit whose loss becomes non-finite raises scikit-learn's ValueError (a
    ``fastnet.DivergenceError`` that also says where training diverged) and
    leaves the model at its last finite point; with early stopping it keeps
    the best weights, as scikit-learn does.  Ctrl-C stops a fit within about
    a tenth of a second, warns "Training interrupted by user." and keeps the
    last completed epoch.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.neural_network import MLPClassifier as SklearnMLP
    >>> from sklearn.preprocessing import StandardScaler
    >>> from fastnet import MLPClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> X = StandardScaler().fit_transform(X)
    >>> params = dict(hidden_layer_sizes=(10,), solver='sgd',
    ...               learning_rate_init=0.1, random_state=0)
    >>> clf = MLPClassifier(**params).fit(X, y)
    >>> clf.predict(X[[0, 50, 100]])
    array([0, 1, 2])
    >>> bool(clf.score(X, y) > 0.95)
    True

    The same seed trains scikit-learn's model:

    >>> reference = SklearnMLP(**params).fit(X, y)
    >>> np.allclose(clf.loss_curve_, reference.loss_curve_)
    True
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
        positions = None   # of y's labels in classes_, when looked up here
        if not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer()
            self._label_binarizer.fit(y)
            self.classes_ = self._label_binarizer.classes_
        elif not self.warm_start and (positions := self._label_positions(y)) is not None:
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
        return X, self._one_hot(y, positions=positions)

    def _same_classes(self, classes):
        """Whether partial_fit's ``classes`` are left out or are ``classes_``
        as they are (what _check_partial_fit_first_call accepts without
        unique_labels)."""
        if classes is None:
            return True
        known = self.__dict__.get("classes_")
        return (known is not None and type(classes) is np.ndarray
                and classes.dtype == known.dtype and np.array_equal(classes, known))

    def _online_targets(self, y):
        # labels of classes_ only, as the rows of their targets
        targets = self._class_targets()
        if y.ndim != 1 or targets is None:
            return None
        index, rows = targets
        if len(y) > FEW_LABELS:   # numpy's search costs less than this many lookups
            positions = self._label_positions(y)
            return None if positions is None else rows.take(positions, axis=0)
        try:
            positions = [index[label] for label in y.tolist()]
        except KeyError:   # not a class: the full path says so
            return None
        return rows.take(positions, axis=0)

    def _class_targets(self):
        """({label: position in classes_}, the kernels' target row of each
        class in the weights' dtype) for binary or multiclass targets (None
        for others), kept while classes_ and the dtype stay; labels equal as
        numbers find each other, as in _label_positions."""
        cached = self.__dict__.get("_class_targets_of")
        if cached is not None and cached[0] is self.classes_ \
                and cached[1] == self._params.dtype:
            return cached[2]
        targets = None
        if self._label_binarizer.y_type_ in ("binary", "multiclass") \
                and self.classes_.dtype.kind in "biuf" and len(self.classes_) >= 2:
            index = {label: i for i, label in enumerate(self.classes_.tolist())}
            targets = index, self._one_hot(self.classes_, self._params.dtype)
        self._class_targets_of = (self.classes_, self._params.dtype, targets)
        return targets

    def _label_positions(self, y):
        """The positions in classes_ of 1-D numeric y's labels when all of
        them are labels of classes_ (binary or multiclass), so that
        unique_labels and the check against classes_ would pass; else None."""
        if y.ndim != 1 or y.dtype.kind not in "biuf" \
                or self._label_binarizer.y_type_ not in ("binary", "multiclass"):
            return None
        classes = self.classes_
        if (y.dtype.kind in "iu" and classes.dtype.kind in "iu" and len(y)
                and classes[0] == 0 and classes[-1] == len(classes) - 1):
            # classes_ is 0 .. K-1 (sorted and unique): a label is its own
            # position, and a range check replaces the search
            return y if 0 <= y.min() and y.max() < len(classes) else None
        at = np.minimum(np.searchsorted(classes, y), len(classes) - 1)
        return at if np.all(classes[at] == y) else None

    def _one_hot(self, y, dtype=bool, positions=None):
        """``self._label_binarizer.transform(y)`` as booleans (or ``dtype``).

        For 1-D binary or multiclass y, whose labels _validate_input has just
        checked against classes_, the indicator columns are built directly:
        LabelBinarizer.transform would re-derive the target type twice more,
        which costs more than a digits epoch of per-sample training and is
        paid on every partial_fit call.  ``positions`` are y's positions in
        classes_ when _label_positions has just found them."""
        binarizer = self._label_binarizer
        if y.ndim != 1 or binarizer.y_type_ not in ("binary", "multiclass") \
                or len(self.classes_) < 2:
            return binarizer.transform(y).astype(dtype)
        if binarizer.y_type_ == "binary":
            return (y == self.classes_[1]).reshape(-1, 1).astype(dtype)
        Y = np.zeros((len(y), len(self.classes_)), dtype=dtype)
        if positions is None:
            positions = np.searchsorted(self.classes_, y)
        Y[np.arange(len(y)), positions] = 1
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
    @fit_method
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """Train one epoch over (X, y), continuing from the current weights.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data of this batch.
        y : array-like of shape (n_samples,) or (n_samples, n_classes)
            Its class labels, or 0/1 indicator rows for multilabel targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the samples; None weighs them equally.
        classes : array-like of shape (n_classes,), default=None
            Every class the stream will ever hold, e.g. ``np.unique`` of all
            labels: required on the first call and may be left out after it
            (given again, it must be the same).  One call's y need not hold
            every class.

        Returns
        -------
        self : MLPClassifier
            The estimator, trained on this batch.

        Raises
        ------
        ValueError
            If y has a class outside ``classes_``, or with
            ``early_stopping=True``.

        Examples
        --------
        Iris in three chunks, as if they arrived one by one:

        >>> import numpy as np
        >>> from sklearn.datasets import load_iris
        >>> from fastnet import MLPClassifier
        >>> X, y = load_iris(return_X_y=True)
        >>> clf = MLPClassifier(random_state=0)
        >>> for chunk in range(3):
        ...     clf = clf.partial_fit(X[chunk::3], y[chunk::3], classes=np.unique(y))
        >>> clf.classes_, clf.t_
        (array([0, 1, 2]), 150)
        """
        if sample_weight is None and self._same_classes(classes) and self._fast_partial_fit(X, y):
            return self
        if _check_partial_fit_first_call(self, classes):
            self._label_binarizer = LabelBinarizer()
            if type_of_target(y).startswith("multilabel"):
                self._label_binarizer.fit(y)
            else:
                self._label_binarizer.fit(classes)
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)

    def predict_proba(self, X):
        """Probability estimates of the classes.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        y_prob : ndarray of shape (n_samples, n_classes)
            The probability of each class, in the order of ``classes_``: the
            softmax outputs for multiclass targets, [1 - p, p] for binary
            ones, and each label's own logistic output for multilabel ones.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn.datasets import load_iris
        >>> from fastnet import MLPClassifier
        >>> X, y = load_iris(return_X_y=True)
        >>> clf = MLPClassifier(solver='lbfgs', max_iter=1000, random_state=0).fit(X, y)
        >>> proba = clf.predict_proba(X[:5])
        >>> proba.shape, bool(np.allclose(proba.sum(axis=1), 1.0))
        ((5, 3), True)
        """
        y_pred = self._forward_output(self._check_X(X))
        if self.n_outputs_ == 1:
            return np.hstack([1 - y_pred, y_pred])
        return y_pred

    def predict_log_proba(self, X):
        """Logarithm of the probability estimates.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data, as for ``predict_proba``.

        Returns
        -------
        log_y_prob : ndarray of shape (n_samples, n_classes)
            ``log(predict_proba(X))``, classes in the order of ``classes_``.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn.datasets import load_breast_cancer
        >>> from sklearn.preprocessing import scale
        >>> from fastnet import MLPClassifier
        >>> X, y = load_breast_cancer(return_X_y=True)
        >>> clf = MLPClassifier(hidden_layer_sizes=(), solver='lbfgs', alpha=1.0)
        >>> log_proba = clf.fit(scale(X), y).predict_log_proba(scale(X))
        >>> log_proba.shape, bool(np.allclose(np.exp(log_proba).sum(axis=1), 1.0))
        ((569, 2), True)
        """
        y_prob = self.predict_proba(X)
        return np.log(y_prob, out=y_prob)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class MLPRegressor(RegressorMixin, _DropIn):
    """Multi-layer perceptron regressor: scikit-learn's, trained by fastnet.

    A drop-in replacement for ``sklearn.neural_network.MLPRegressor`` (see
    ``MLPClassifier``), for single- and multi-output y: an identity output
    with squared error, or an exp output with the Poisson loss.  fastnet's
    extras are ``init``, ``dtype``, ``n_jobs``, every fastnet activation,
    per-layer activation lists and ``output_activation``.

    Parameters
    ----------
    loss : {'squared_error', 'poisson'}, default='squared_error'
        The loss function: 'squared_error' is half the squared error,
        averaged over the outputs as in scikit-learn (T.1); 'poisson' is
        half the Poisson deviance (P.6) for targets y >= 0, with an exp
        output (a log link) unless ``output_activation`` says otherwise.
    {shared parameters}
    output_activation : str, Logistic, ELU or None, default=None
        Activation of the output layer, any fastnet activation (see
        ``activation``; also 'step', trained by the perceptron rule (P.3)).
        None is 'identity' for squared error and 'exp' for Poisson, as in
        scikit-learn.  Outputs other than these canonical ones train through
        the general output delta (2.16).

    Attributes
    ----------
    {shared attributes}

    See Also
    --------
    MLPClassifier : The classifier of the same kind.
    Network : The general estimator: any output activation with any loss.

    Notes
    -----
    Sample weights, divergence and Ctrl-C behave as for ``MLPClassifier``.

    Examples
    --------
    >>> from sklearn.datasets import make_regression
    >>> from fastnet import MLPRegressor
    >>> X, y = make_regression(n_samples=200, n_features=5, noise=1.0,
    ...                        random_state=0)
    >>> reg = MLPRegressor(hidden_layer_sizes=(20,), solver='lbfgs',
    ...                    random_state=0).fit(X, y / y.std())
    >>> bool(reg.score(X, y / y.std()) > 0.99)
    True

    Counts with the Poisson loss, predicted through an exp output:

    >>> import numpy as np
    >>> counts = np.random.RandomState(0).poisson(np.exp(X[:, 0] / 2))
    >>> poisson = MLPRegressor(loss='poisson', hidden_layer_sizes=(),
    ...                        solver='lbfgs', random_state=0).fit(X, counts)
    >>> poisson.out_activation_, bool(poisson.predict(X).min() > 0)
    ('exp', True)
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
