"""Tests of ``fastnet.plot_loss_curve`` (``fastnet/plotting.py``)."""
import warnings

import matplotlib
import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.datasets import load_diabetes, load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import fastnet

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)

X, Y = load_digits(return_X_y=True)
X = X[:400] / 16.0
Y = Y[:400]


@pytest.fixture(autouse=True)
def _close_figures():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield
    plt.close("all")


def lines_by_label(ax):
    """{label: Line2D} over the Axes and its twin."""
    lines = [line for a in ax.figure.axes for line in a.get_lines()]
    return {line.get_label(): line for line in lines}


def test_loss_curve_and_validation_score_with_early_stopping():
    est = fastnet.MLPClassifier(hidden_layer_sizes=(20,), early_stopping=True,
                                max_iter=30, random_state=0).fit(X, Y)
    ax = fastnet.plot_loss_curve(est)
    epochs = np.arange(1, est.n_iter_ + 1)
    lines = lines_by_label(ax)
    assert_array_equal(lines["training loss"].get_xdata(), epochs)
    assert_array_equal(lines["training loss"].get_ydata(), est.loss_curve_)
    assert_array_equal(lines["validation accuracy"].get_ydata(), est.validation_scores_)
    best = int(np.argmax(est.validation_scores_))
    kept = next(line for label, line in lines.items() if label.startswith("weights kept"))
    assert kept.get_label() == (f"weights kept: epoch {best + 1} "
                                f"({est.validation_scores_[best]:.4f})")
    assert_array_equal(kept.get_xdata(), [best + 1])
    # the validation score lives on a second y axis sharing x
    twin = lines["validation accuracy"].axes
    assert twin is not ax and twin.get_shared_x_axes().joined(ax, twin)
    assert twin.get_ylabel() == "validation accuracy"
    assert ax.get_xlabel() == "epoch"
    assert ax.get_title() == f"MLPClassifier: {est.n_iter_} epochs, early stopping"
    legend = [text.get_text() for text in ax.get_legend().get_texts()]
    assert legend == ["training loss", "validation accuracy", kept.get_label()]


def test_log_scale_where_the_loss_spans_decades():
    est = fastnet.MLPClassifier(hidden_layer_sizes=(30,), max_iter=60,
                                learning_rate_init=0.01, random_state=0).fit(X, Y)
    assert max(est.loss_curve_) / min(est.loss_curve_) > 10
    ax = fastnet.plot_loss_curve(est)
    assert ax.get_yscale() == "log"
    assert ax.get_ylabel() == "training loss (log scale)"


def test_linear_scale_and_no_twin_without_early_stopping():
    est = fastnet.MLPClassifier(hidden_layer_sizes=(10,), max_iter=3, random_state=0).fit(X, Y)
    assert max(est.loss_curve_) / min(est.loss_curve_) < 10
    ax = fastnet.plot_loss_curve(est)
    assert ax.get_yscale() == "linear"
    assert len(ax.figure.axes) == 1
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["training loss"]


def test_pipeline_regressor_into_given_axes():
    X_reg, y_reg = load_diabetes(return_X_y=True)
    pipe = make_pipeline(StandardScaler(), fastnet.MLPRegressor(
        hidden_layer_sizes=(10,), early_stopping=True, max_iter=20, learning_rate_init=0.01,
        random_state=0)).fit(X_reg, y_reg)
    fig, ax = plt.subplots()
    assert fastnet.plot_loss_curve(pipe, ax=ax) is ax
    lines = lines_by_label(ax)
    assert_array_equal(lines["training loss"].get_ydata(), pipe[-1].loss_curve_)
    assert_array_equal(lines["validation R²"].get_ydata(), pipe[-1].validation_scores_)


def test_network():
    net = fastnet.Network(hidden_layer_sizes=(10,), max_iter=4, random_state=0)
    net.fit(X, Y.astype(float))
    ax = fastnet.plot_loss_curve(net)
    assert ax.get_title() == "Network: 4 epochs"


@pytest.mark.parametrize("fitted", [False, True], ids=["unfitted", "lbfgs"])
def test_no_loss_curve(fitted):
    est = fastnet.MLPClassifier(solver="lbfgs", max_iter=5)
    if fitted:
        est.fit(X, Y)
    with pytest.raises(ValueError, match="has no loss curve"):
        fastnet.plot_loss_curve(est)
