"""What the ``fastnet`` commands do; ``fastnet.cli`` parses their arguments.

Each function prints its report on standard output and raises ``ValueError``
(often ``tabular.DataError``) or ``OSError`` for bad input, which the command
line reports in one line.
"""
import math
import sys
import time
import warnings

import numpy as np
from sklearn.base import is_classifier

from .. import persistence
from . import runs, tabular


def digits(epochs, n_jobs):
    """Train on scikit-learn's shipped digits; print test accuracy and training time."""
    from sklearn.datasets import load_digits
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import train_test_split

    from ..network import Network

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X / 16.0, y, test_size=450, stratify=y, random_state=0)
    net = Network(hidden_layer_sizes=(100,), activation="relu", output_activation="softmax",
                  loss="cross_entropy", batch_size=1, learning_rate_init=0.01,
                  max_iter=epochs, random_state=0, n_jobs=n_jobs)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        net.fit(X_train, np.eye(10)[y_train])
    seconds = time.perf_counter() - start
    accuracy = np.mean(net.predict(X_test).argmax(axis=1) == y_test)
    print(f"digits 64-100-10, per-sample SGD (batch_size=1), {net.n_iter_} epochs "
          f"on {len(X_train)} samples")
    print(f"test accuracy: {accuracy:.4f}")
    print(f"training time: {seconds:.3f} s "
          f"({seconds / net.n_iter_ * 1e3:.2f} ms per epoch, "
          f"{seconds / net.n_iter_ / len(X_train) * 1e6:.2f} us per sample)")


# ------------------------------------------------------------------- train
def train(data, target, task, save_path, plot_path, options):
    """``fastnet train``: read, split, fit with a progress bar, report, save, plot."""
    frame = tabular.read_table(data)
    target = tabular.target_column(frame, data, target)
    y = tabular.target_values(frame, data, target, task)
    why = "given"
    if task is None:
        task, why = tabular.infer_task(y)
        why = f"inferred: {why}; --task to override"
    names = [name for name in frame.columns if name != target]
    X, X_test, y, y_test = _hold_out(tabular.features(frame, data, names), y, task, options)
    model = runs.make_model(task, scale=not options["no_scale"], **{
        key: options[key] for key in ("hidden", "activation", "solver", "batch_size", "lr",
                                      "epochs", "dtype", "threads", "validation_fraction",
                                      "seed")})
    _print_table([
        ("data", f"{data}: {len(frame)} rows, {len(names)} features, target {target!r}"),
        ("task", f"{task} ({why})"),
        ("model", _describe_setup(model, options)),
    ])
    seconds, converged = runs.fit_with_progress(model, X, y, show=sys.stderr.isatty())
    rows, scores = _split_scores(model, X, y, X_test, y_test)
    info = runs.summary(model, seconds, converged, rows, scores)
    print()
    print("\n".join(runs.format_summary(info)))
    if save_path is not None:
        metadata = {"target": str(target), "features": [str(name) for name in names],
                    "task": task, "data": str(data), "training": _finite(info)}
        persistence.save(model, save_path, metadata=metadata)
        print(f"{'saved':12}{save_path}")
    if plot_path is not None:
        _plot(model, plot_path)
        print(f"{'plot':12}{plot_path}")


def _hold_out(X, y, task, options):
    """(X_train, X_test, y_train, y_test): --test-size of the rows, stratified
    for classification; no test rows for --test-size 0."""
    from sklearn.model_selection import train_test_split

    if options["test_size"] == 0:
        return X, None, y, None
    return train_test_split(X, y, test_size=options["test_size"],
                            random_state=options["seed"],
                            stratify=y if task == "classify" else None)


def _describe_setup(model, options):
    hidden = "-".join(str(n) for n in options["hidden"]) or "none"
    scaler = "StandardScaler + " if not options["no_scale"] else ""
    est = runs.final_estimator(model)
    early = (f", early stopping on {options['validation_fraction']:g} of the rows"
             if est.early_stopping else "")
    batch = "" if options["solver"] == "lbfgs" else f", batch {options['batch_size']}"
    return (f"{scaler}{type(est).__name__}, hidden {hidden}, {options['activation']}, "
            f"{options['solver']}{batch}, lr {options['lr']:g}, {options['dtype']}{early}")


def _split_scores(model, X, y, X_test, y_test):
    est = runs.final_estimator(model)
    n_val = (math.ceil(est.validation_fraction * len(X))
             if est.early_stopping and est.solver != "lbfgs" else 0)
    rows = {"train": len(X), "validation": n_val,
            "test": 0 if X_test is None else len(X_test)}
    scores = {"train": runs.score(model, X, y),
              "validation": (float(est.best_validation_score_) if n_val else None),
              "test": runs.score(model, X_test, y_test)}
    return rows, scores


def _plot(model, path):
    from matplotlib.figure import Figure

    from ..plotting import plot_loss_curve

    figure = Figure(figsize=(8, 4.8), layout="constrained")
    plot_loss_curve(model, ax=figure.add_subplot())
    figure.savefig(path, dpi=120)


def _finite(value):
    """``value`` with non-finite floats as None (JSON has no NaN)."""
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# ------------------------------------------------------ predict and evaluate
def predict(model_path, data, out, proba):
    """``fastnet predict``: one CSV row of predictions per row of DATA."""
    import pandas as pd

    model, metadata = _load(model_path)
    frame = tabular.read_table(data)
    X = _model_features(model, metadata, frame, data, metadata.get("target"))
    if proba and not hasattr(model, "predict_proba"):
        raise ValueError(f"--proba needs a classifier; {model_path} holds a "
                         f"{type(runs.final_estimator(model)).__name__}")
    predictions = np.asarray(model.predict(X))
    if predictions.ndim == 1:
        table = pd.DataFrame({"prediction": predictions})
    else:
        table = pd.DataFrame({f"prediction_{k}": predictions[:, k]
                              for k in range(predictions.shape[1])})
    if proba:
        probabilities = model.predict_proba(X)
        for k, label in enumerate(runs.final_estimator(model).classes_):
            table[f"proba_{label}"] = probabilities[:, k]
    table.to_csv(out if out is not None else sys.stdout, index=False)


def evaluate(model_path, data, target):
    """``fastnet evaluate``: the model's scores on DATA."""
    from sklearn import metrics

    model, metadata = _load(model_path)
    frame = tabular.read_table(data)
    target = target if target is not None else metadata.get("target")
    if target is None:
        raise ValueError(f"{model_path} does not name its target column; give --target")
    target = tabular.target_column(frame, data, target)
    y = tabular.target_values(frame, data, target)
    X = _model_features(model, metadata, frame, data, target)
    rows = [("rows", f"{len(y)}"), ("target", repr(target))]
    if is_classifier(model):
        labels = runs.final_estimator(model).classes_
        rows.append(("accuracy", f"{metrics.accuracy_score(y, model.predict(X)):.4f}"))
        rows.append(("log loss", f"{metrics.log_loss(y, model.predict_proba(X), labels=labels):.4f}"))
    else:
        y_pred = model.predict(X)
        rows.append(("R²", f"{metrics.r2_score(y, y_pred):.4f}"))
        rows.append(("RMSE", f"{metrics.root_mean_squared_error(y, y_pred):.6g}"))
        rows.append(("MAE", f"{metrics.mean_absolute_error(y, y_pred):.6g}"))
    _print_table(rows)


def _load(path):
    manifest = persistence.read_manifest(path)
    return persistence.load(path), manifest.get("metadata", {})


def _model_features(model, metadata, frame, source, target):
    """DATA's feature columns, by the names the model was trained with.

    Without names (a model fitted on arrays and saved from Python), every
    column but the target, in DATA's order."""
    names = metadata.get("features")
    if names is None and hasattr(model, "feature_names_in_"):
        names = [str(name) for name in model.feature_names_in_]
    if names is None:
        names = [name for name in frame.columns if name != target]
    X = tabular.features(frame, source, names)
    extra = [name for name in frame.columns if name not in names and name != target]
    if extra:
        raise tabular.DataError(
            f"{source}: {tabular.format_names(extra)}: not among the model's features"
            + (f" nor its target {target!r}" if target is not None else "")
            + "; drop these columns")
    n_features = getattr(model, "n_features_in_", None)
    if n_features is not None and X.shape[1] != n_features:
        raise tabular.DataError(f"{source}: {X.shape[1]} feature columns, but the model "
                                f"takes {n_features}")
    return X


# -------------------------------------------------------------------- info
def info(model_path):
    """``fastnet info``: what a model file holds."""
    manifest = persistence.read_manifest(model_path)
    model = persistence.load(model_path)
    metadata = manifest.get("metadata", {})
    est = runs.final_estimator(model)
    rows = [
        ("file", f"{model_path} (fastnet model file, format version {manifest['version']})"),
        ("written by", f"fastnet {manifest.get('fastnet')}, scikit-learn "
                       f"{manifest.get('scikit-learn')}, skops {manifest.get('skops')}"),
        ("model", persistence.describe(model)),
    ]
    rows += _network_rows(est)
    rows += _metadata_rows(metadata)
    _print_table(rows)


def _network_rows(est):
    if not hasattr(est, "coefs_"):
        return [("layers", f"not fitted (hidden layers {est.hidden_layer_sizes}, "
                           f"{_activation_name(est.activation)})")]
    coefs, intercepts = est.coefs_, est.intercepts_
    units = [coefs[0].shape[0]] + [c.shape[1] for c in coefs]
    hidden = est.activation if isinstance(est.activation, (list, tuple)) \
        else [est.activation] * (len(units) - 2)
    layers = [str(units[0])] + [f"{n} {_activation_name(a)}"
                                for n, a in zip(units[1:-1], hidden)]
    layers.append(f"{units[-1]} {est.out_activation_}")
    n_params = sum(c.size for c in coefs) + sum(b.size for b in intercepts)
    rows = [("layers", " -> ".join(layers)),
            ("parameters", f"{n_params:,} weights and biases, {coefs[0].dtype}")]
    if hasattr(est, "classes_"):
        rows.append(("classes", ", ".join(str(c) for c in est.classes_)))
    batch = "" if est.solver == "lbfgs" else f", batch {est.batch_size}"
    rows.append(("solver", f"{est.solver}{batch}, learning rate {est.learning_rate_init:g}; "
                           f"{est.n_iter_} epochs, loss {est.loss_:.6g}"))
    return rows


def _activation_name(activation):
    if isinstance(activation, (list, tuple)):
        return "[" + ", ".join(_activation_name(a) for a in activation) + "]"
    return activation if isinstance(activation, str) else repr(activation)


def _metadata_rows(metadata):
    rows = []
    if "target" in metadata:
        rows.append(("target", f"{metadata['target']!r} ({metadata.get('task', '?')})"))
    if "features" in metadata:
        rows.append(("features", tabular.format_names(metadata["features"], limit=6)))
    if "data" in metadata:
        rows.append(("trained on", str(metadata["data"])))
    run = metadata.get("training")
    if run:
        scores = ", ".join(f"{split} {value:.4f}" for split, value in run["scores"].items()
                           if value is not None)
        rows.append((run["metric"], scores))
        speed = (f", {run['samples_per_second']:,.0f} samples/s"
                 if run.get("samples_per_second") else "")
        rows.append(("training", f"{run['epochs']} epochs in {run['seconds']:.3f} s{speed}"))
    return rows


def _print_table(rows):
    for name, value in rows:
        print(f"{name:12}{value}")
