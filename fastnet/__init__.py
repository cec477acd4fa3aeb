"""fastnet: dense neural networks trained per sample by typed Cython kernels.

``Network`` is the general estimator; ``MLPClassifier`` and ``MLPRegressor``
are drop-in replacements for scikit-learn's.
"""
from .activations import ELU, Logistic
from .estimators import MLPClassifier, MLPRegressor
from .network import Network

__all__ = ["Network", "MLPClassifier", "MLPRegressor", "Logistic", "ELU"]
__version__ = "0.1.0"
