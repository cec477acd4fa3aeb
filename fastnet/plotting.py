"""Plots of training: ``plot_loss_curve``.

matplotlib is optional (``pip install 'fastnet[plot]'``) and imported only
when a plot is drawn, so ``import fastnet`` never loads it.
"""
import numpy as np
from sklearn.base import is_classifier
from sklearn.pipeline import Pipeline

# A loss curve spanning more than this factor is drawn on a log scale, where
# the late epochs' small improvements stay visible.
LOG_SCALE_RATIO = 10.0
# Up to this many epochs each one gets a marker, so single epochs stay visible.
MARKED_EPOCHS = 60


def plot_loss_curve(model, ax=None):
    """Draw the training loss per epoch and, with early stopping, the validation score.

    Parameters
    ----------
    model : fitted Network, MLPClassifier or MLPRegressor, or a Pipeline ending in one
        Trained by 'sgd' or 'adam' (L-BFGS keeps no loss curve).
    ax : matplotlib Axes, optional
        Where to draw; by default a new figure of ``matplotlib.pyplot``.

    Returns
    -------
    ax : matplotlib Axes
        The Axes of the loss curve.  The validation score, when there is one,
        is on a second y axis (``ax.twinx()``) that shares its x axis; the
        epoch whose weights the model kept is marked.

    Raises
    ------
    ValueError
        If the model has no loss curve (not fitted, or fitted by 'lbfgs').
    ImportError
        If matplotlib is not installed (``pip install 'fastnet[plot]'``).

    Notes
    -----
    A loss curve spanning more than a factor of 10 is drawn on a log scale;
    up to 60 epochs, each is marked.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")  # draw without a display
    >>> from sklearn.datasets import load_digits
    >>> import fastnet
    >>> X, y = load_digits(return_X_y=True)
    >>> model = fastnet.MLPClassifier(solver='sgd', batch_size=1, max_iter=50,
    ...                               early_stopping=True, random_state=0)
    >>> ax = fastnet.plot_loss_curve(model.fit(X / 16, y))
    >>> ax.get_xlabel(), ax.get_title().startswith("MLPClassifier")
    ('epoch', True)
    >>> ax.figure.savefig("loss.png")  # doctest: +SKIP
    """
    est = model.steps[-1][1] if isinstance(model, Pipeline) else model
    losses = getattr(est, "loss_curve_", None)
    if not losses:
        raise ValueError(f"{type(est).__name__} has no loss curve: fit it first with "
                         "solver 'sgd' or 'adam' (L-BFGS keeps none)")
    if ax is None:
        import matplotlib.pyplot as plt
        _, ax = plt.subplots(figsize=(8, 4.8), layout="constrained")
    from matplotlib.ticker import MaxNLocator

    epochs = np.arange(1, len(losses) + 1)
    marker = "." if len(epochs) <= MARKED_EPOCHS else None
    lines = ax.plot(epochs, losses, color="tab:blue", marker=marker, label="training loss")
    losses = np.asarray(losses, dtype=float)
    finite = losses[np.isfinite(losses)]
    if finite.size and finite.min() > 0 and finite.max() / finite.min() > LOG_SCALE_RATIO:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("training loss" + (" (log scale)" if ax.get_yscale() == "log" else ""),
                  color="tab:blue")
    ax.grid(True, alpha=0.3)
    title = f"{type(est).__name__}: {len(losses)} epochs"
    scores = getattr(est, "validation_scores_", None)
    if scores:
        lines += _plot_validation(ax, epochs, scores, is_classifier(est), marker)
        title += ", early stopping"
    ax.set_title(title)
    # below the axes, where it hides neither curve
    ax.legend(lines, [line.get_label() for line in lines], loc="upper center",
              bbox_to_anchor=(0.5, -0.14), ncol=len(lines), frameon=False)
    return ax


def _plot_validation(ax, epochs, scores, classifier, marker):
    """The validation score on a second y axis, the kept (best) epoch marked."""
    name = "validation accuracy" if classifier else "validation R²"
    twin = ax.twinx()
    lines = twin.plot(epochs, scores, color="tab:orange", marker=marker, label=name)
    best = int(np.nanargmax(scores))
    lines += twin.plot(epochs[best], scores[best], "o", color="tab:red", markersize=8,
                       label=f"weights kept: epoch {epochs[best]} ({scores[best]:.4f})")
    ax.axvline(epochs[best], color="tab:red", linestyle=":", linewidth=1)
    twin.set_ylabel(name, color="tab:orange")
    twin.margins(y=0.1)  # room for the kept-epoch marker at the best score
    return lines
