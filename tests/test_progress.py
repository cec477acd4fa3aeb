"""What a fit shows by ``verbose`` (fastnet/progress.py): nothing, a progress
bar on stderr, or scikit-learn's lines on stdout."""
import re
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning

import fastnet.slicing
from fastnet import MLPClassifier, MLPRegressor, Network

X, y = load_digits(return_X_y=True)
X = X[:300] / 16
y = y[:300]


def fit(est, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(*args, **kwargs)


@pytest.mark.parametrize("make", [
    lambda v: MLPClassifier(hidden_layer_sizes=(10,), max_iter=3, verbose=v, random_state=0),
    lambda v: MLPRegressor(hidden_layer_sizes=(10,), solver="lbfgs", max_iter=3, verbose=v,
                           random_state=0),
    lambda v: Network(hidden_layer_sizes=(10,), max_iter=3, verbose=v, random_state=0),
], ids=["classifier_adam", "regressor_lbfgs", "network_sgd"])
def test_quiet_by_default(make, capsys):
    fit(make(False), X, y)
    out, err = capsys.readouterr()
    assert out == "" and err == ""


def test_progress_bar_shows_epochs_loss_and_validation(capsys):
    est = fit(MLPClassifier(hidden_layer_sizes=(10,), max_iter=4, early_stopping=True,
                            n_iter_no_change=100, verbose=True, random_state=0), X, y)
    out, err = capsys.readouterr()
    assert out == ""                               # nothing on stdout
    final = err.replace("\r", "\n").strip().splitlines()[-1]
    assert "4.0/4 epochs" in final and "100%" in final
    assert f"loss={est.loss_curve_[-1]:.4g}" in final
    assert f"validation={est.validation_scores_[-1]:.4g}" in final


def test_progress_inside_long_epochs(monkeypatch):
    """With slices shorter than an epoch, the bar moves by parts of an epoch
    (recorded here: tqdm itself redraws at most ten times a second)."""
    import tqdm.auto

    positions = []

    class RecordingBar(tqdm.auto.tqdm):
        def update(self, n=1):
            super().update(n)
            positions.append(self.n)

    monkeypatch.setattr(tqdm.auto, "tqdm", RecordingBar)
    monkeypatch.setattr(fastnet.slicing, "SLICE_SECONDS", 1e-9)
    monkeypatch.setattr(fastnet.slicing, "ASSUMED_FLOPS", 1.0)
    fit(Network(hidden_layer_sizes=(10,), max_iter=2, verbose=True, random_state=0),
        X, np.eye(10)[y])
    fractions = [p for p in positions if p != int(p)]
    assert fractions and positions == sorted(positions) and positions[-1] == 2


def test_lbfgs_bar_counts_iterations(capsys):
    est = fit(MLPClassifier(hidden_layer_sizes=(10,), solver="lbfgs", max_iter=5,
                            verbose=True, random_state=0), X, y)
    err = capsys.readouterr().err
    assert f"{est.n_iter_}.0/5 iterations" in err.replace("\r", "\n")


def test_stopping_message_under_the_bar(capsys):
    fit(MLPClassifier(hidden_layer_sizes=(10,), max_iter=50, tol=10.0, n_iter_no_change=2,
                      verbose=True, random_state=0), X, y)
    out, err = capsys.readouterr()
    assert out == ""
    assert ("Training loss did not improve more than tol=10.000000 for 2 consecutive "
            "epochs. Stopping.") in err


def test_partial_fit_prints_scikit_learns_line(capsys):
    """One epoch per call: a bar per call would be noise, so verbose=True
    prints the line scikit-learn prints."""
    est = MLPClassifier(hidden_layer_sizes=(10,), verbose=True, random_state=0)
    est.partial_fit(X, y, classes=np.arange(10))
    out, err = capsys.readouterr()
    assert out == "Iteration 1, loss = %.8f\n" % est.loss_
    assert err == ""


def test_verbose_two_prints_scikit_learns_lines(capsys):
    est = fit(Network(hidden_layer_sizes=(10,), max_iter=2, verbose=2, random_state=0,
                      early_stopping=True, n_iter_no_change=100), X, np.eye(10)[y])
    out, err = capsys.readouterr()
    assert out.splitlines() == [
        "Iteration 1, loss = %.8f" % est.loss_curve_[0],
        "Validation score: %f" % est.validation_scores_[0],
        "Iteration 2, loss = %.8f" % est.loss_curve_[1],
        "Validation score: %f" % est.validation_scores_[1],
    ]
    assert err == ""
