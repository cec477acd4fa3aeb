"""Single-row and few-row calls take a fast path through validation that
keeps every check: the same results, errors and warnings as the full path
(scikit-learn's validate_data) and as scikit-learn's own MLP."""
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning, DataConversionWarning
from sklearn.neural_network import MLPClassifier as SkClassifier
from sklearn.preprocessing import LabelBinarizer

import fastnet

X, y = load_digits(return_X_y=True)
X = X[:200] / 16
y = y[:200]
REGRESSION_Y = X @ np.linspace(-1, 1, 64)


def fitted(kind):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        if kind == "classifier":
            return fastnet.MLPClassifier(hidden_layer_sizes=(16,), max_iter=5,
                                         random_state=0).fit(X, y)
        if kind == "binary":
            return fastnet.MLPClassifier(hidden_layer_sizes=(16,), max_iter=5,
                                         random_state=0).fit(X, y % 2)
        if kind == "regressor":
            return fastnet.MLPRegressor(hidden_layer_sizes=(16,), max_iter=5,
                                        random_state=0).fit(X, REGRESSION_Y)
        return fastnet.Network(hidden_layer_sizes=(16,), max_iter=5,
                               random_state=0).fit(X, REGRESSION_Y)


@pytest.mark.parametrize("kind", ["classifier", "binary", "regressor", "network"])
def test_plain_and_converted_inputs_predict_alike(kind):
    """A plain ndarray (fast path) and the same rows as a list of lists or a
    Fortran-ordered array (the full path) give identical predictions."""
    est = fitted(kind)
    for rows in (X[:1], X[:7], X):
        want = est.predict(rows.tolist())
        np.testing.assert_array_equal(est.predict(rows), want)
        np.testing.assert_array_equal(est.predict(np.asfortranarray(rows)), want)
        if hasattr(est, "predict_proba"):
            np.testing.assert_array_equal(est.predict_proba(rows),
                                          est.predict_proba(rows.tolist()))


@pytest.mark.parametrize("bad, message", [
    (np.full((1, 64), np.nan), "Input X contains NaN"),
    (np.full((1, 64), np.inf), "Input X contains infinity"),
    (X[:1, :3], "X has 3 features, but MLPClassifier is expecting 64 features"),
    (np.empty((0, 64)), "0 sample"),
])
def test_bad_rows_keep_scikit_learns_errors(bad, message):
    est = fitted("classifier")
    with pytest.raises(ValueError, match=message):
        est.predict(bad)
    with pytest.raises(ValueError, match=message):
        SkClassifier(hidden_layer_sizes=(4,), max_iter=1).fit(X, y).predict(bad)


def test_feature_name_warning_survives():
    """A model fitted on a DataFrame warns, as scikit-learn's does, when it
    predicts on an ndarray (no feature names)."""
    frame = pd.DataFrame(X, columns=[f"pixel{i}" for i in range(64)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = fastnet.MLPClassifier(hidden_layer_sizes=(8,), max_iter=2,
                                    random_state=0).fit(frame, y)
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        est.predict(X[:1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        est.predict(frame.iloc[:1])


def test_partial_fit_fast_path_keeps_label_and_shape_checks():
    est = fastnet.MLPClassifier(hidden_layer_sizes=(8,), random_state=0)
    est.partial_fit(X[:20], y[:20], classes=np.arange(10))
    est.partial_fit(X[:1], y[:1])                       # known label
    est.partial_fit(X[:1], y[:1].astype(float))         # the same label as a float
    with pytest.raises(ValueError, match="`y` has classes not in `self.classes_`"):
        est.partial_fit(X[:1], np.array([11]))
    with pytest.raises(ValueError, match="Input y contains NaN|Unknown label type"):
        est.partial_fit(X[:1], np.array([np.nan]))
    with pytest.warns(DataConversionWarning):
        est.partial_fit(X[:2], y[:2].reshape(-1, 1))
    with pytest.raises(ValueError, match="X has 63 features"):
        est.partial_fit(X[:1, :63], y[:1])


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_single_row_stream_follows_scikit_learn(solver):
    """200 partial_fit calls of one row each, with an int random_state (which
    scikit-learn reseeds on every call): the same weights as scikit-learn's."""
    params = dict(hidden_layer_sizes=(12,), solver=solver, random_state=0,
                  learning_rate_init=0.01)
    ours, theirs = fastnet.MLPClassifier(**params), SkClassifier(**params)
    for est in (ours, theirs):
        est.partial_fit(X[:10], y[:10], classes=np.arange(10))
        for i in range(10, 200):
            est.partial_fit(X[i:i + 1], y[i:i + 1])
    for got, want in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-10)
    assert ours.t_ == theirs.t_ and ours.n_iter_ == theirs.n_iter_
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-6)


@pytest.mark.parametrize("classes", [np.arange(10), np.array([3, 7]), np.array(["a", "b", "c"])])
def test_decoding_is_label_binarizers(classes):
    """The written-out decoding equals LabelBinarizer.inverse_transform on
    random outputs, exact ties and values at the 0.5 threshold included."""
    rng = np.random.default_rng(0)
    binarizer = LabelBinarizer().fit(classes)
    est = fastnet.MLPClassifier()
    est._label_binarizer, est.classes_ = binarizer, binarizer.classes_
    width = 1 if len(classes) == 2 else len(classes)
    Y = rng.uniform(size=(500, width))
    Y[::7] = 0.5                           # ties, and the threshold itself
    Y[::11, :1] = np.nextafter(0.5, 1)
    np.testing.assert_array_equal(est._decode_targets(Y), binarizer.inverse_transform(
        Y.ravel() if width == 1 else Y))
