"""fastnet: dense neural networks trained per sample by typed Cython kernels.

``Network`` is the general estimator; ``MLPClassifier`` and ``MLPRegressor``
are drop-in replacements for scikit-learn's.  ``save`` / ``load`` keep models
in files that loading never unpickles; ``plot_loss_curve`` draws training
(matplotlib, imported on first use).
"""
from .activations import ELU, Logistic
from .estimators import MLPClassifier, MLPRegressor
from .network import Network
from .persistence import load, save
from .plotting import plot_loss_curve

__all__ = ["Network", "MLPClassifier", "MLPRegressor", "Logistic", "ELU", "save", "load",
           "plot_loss_curve"]
__version__ = "0.1.0"
