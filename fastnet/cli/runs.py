"""A training run for the command line: the model, a fit with a progress bar,
its scores.

``fit_with_progress`` calls the model's own ``fit`` with ``verbose=True`` (the
estimator's progress bar, fastnet/progress.py) on a terminal, so the model is
exactly what a plain ``fit`` gives and Ctrl-C stops it as it stops any fit.
"""
import time
import warnings

import numpy as np
from sklearn.base import is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from ..estimators import MLPClassifier, MLPRegressor

def make_model(task, *, hidden, activation, solver, batch_size, lr, epochs, dtype,
               threads, validation_fraction, seed, scale):
    """The command line's estimator: MLPClassifier or MLPRegressor, after a
    StandardScaler unless ``scale`` is false; early stopping when
    ``validation_fraction`` > 0."""
    estimator_class = MLPClassifier if task == "classify" else MLPRegressor
    estimator = estimator_class(
        hidden_layer_sizes=hidden, activation=activation, solver=solver,
        batch_size=batch_size, learning_rate_init=lr, max_iter=epochs,
        early_stopping=validation_fraction > 0,
        validation_fraction=validation_fraction if validation_fraction > 0 else 0.1,
        random_state=seed, dtype=dtype, n_jobs=threads)
    return make_pipeline(StandardScaler(), estimator) if scale else estimator


def final_estimator(model):
    """The fastnet estimator of a model or of the Pipeline ending in one."""
    return model.steps[-1][1] if isinstance(model, Pipeline) else model


def fit_with_progress(model, X, y, show):
    """``model.fit(X, y)`` with the estimator's own progress bar when ``show``.

    Returns the seconds the fit took and whether it stopped at ``max_iter``
    without converging (the ConvergenceWarning, which is not shown).  The
    saved model keeps ``verbose=False``."""
    est = final_estimator(model)
    est.set_params(verbose=bool(show))
    start = time.perf_counter()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            model.fit(X, y)
    finally:
        est.set_params(verbose=False)
    seconds = time.perf_counter() - start
    converged = True
    for warning in caught:
        if issubclass(warning.category, ConvergenceWarning):
            converged = False
        else:
            warnings.warn_explicit(warning.message, warning.category, warning.filename,
                                   warning.lineno)
    return seconds, converged


def score(model, X, y):
    """Accuracy for a classifier, R² otherwise (None without rows)."""
    if X is None or len(X) == 0:
        return None
    y_pred = model.predict(X)
    return float(accuracy_score(y, y_pred) if is_classifier(model) else r2_score(y, y_pred))


def metric_name(model):
    return "accuracy" if is_classifier(model) else "R²"


def summary(model, seconds, converged, rows, scores):
    """The training summary: rows and score per split, epochs, time, speed.

    Parameters
    ----------
    rows, scores : dict
        Per split ('train', 'validation', 'test'): rows and score (None when
        there is no such split).

    Returns
    -------
    dict, JSON-serialisable (kept in the model file's metadata).
    """
    est = final_estimator(model)
    # t_ counts the training samples the epochs visited; L-BFGS visits the
    # whole set once per function evaluation and keeps no count
    samples = est.t_ if est.solver != "lbfgs" else 0
    info = {"metric": metric_name(model), "rows": rows, "scores": scores,
            "epochs": int(est.n_iter_), "seconds": seconds,
            "samples_per_second": samples / seconds if samples and seconds > 0 else None,
            "stopped": _stop_reason(est, converged)}
    val = getattr(est, "validation_scores_", None)
    if val:
        info["kept_epoch"] = int(np.nanargmax(val)) + 1
    return info


def _stop_reason(est, converged):
    if not converged:
        return "reached the epoch limit (--epochs) before converging"
    if est.solver == "lbfgs":
        return "L-BFGS converged"
    watched = "validation score" if est.early_stopping else "training loss"
    return (f"{watched} did not improve by {est.tol:g} for {est.n_iter_no_change} "
            "epochs")


def format_summary(info):
    """The summary as the lines ``fastnet train`` prints."""
    metric = info["metric"]
    notes = {"train": "rows given to fit" + (", incl. the validation rows"
                                             if info["rows"].get("validation") else ""),
             "validation": "early-stopping split, score of the kept epoch",
             "test": "held out (--test-size)"}
    lines = [f"{'':12}{'rows':>7}  {metric:>8}"]
    for split in ("train", "validation", "test"):
        n, value = info["rows"].get(split), info["scores"].get(split)
        if n:
            lines.append(f"{split:12}{n:>7}  {_number(value):>8}   {notes[split]}")
    lines.append("")
    epochs = f"{info['epochs']}"
    if "kept_epoch" in info:
        epochs += f", weights of epoch {info['kept_epoch']} kept"
    lines.append(f"{'epochs':12}{epochs} ({info['stopped']})")
    lines.append(f"{'time':12}{info['seconds']:.3f} s")
    if info["samples_per_second"]:
        lines.append(f"{'samples/s':12}{info['samples_per_second']:,.0f}")
    return lines


def _number(value):
    return "-" if value is None else f"{value:.4f}"
