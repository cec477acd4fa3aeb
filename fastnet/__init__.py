"""fastnet: dense neural networks trained per sample by typed Cython kernels.

``Network`` is the general estimator; ``MLPClassifier`` and ``MLPRegressor``
are drop-in replacements for scikit-learn's.  ``save`` / ``load`` keep models
in files that loading never unpickles; ``plot_loss_curve`` draws training
(matplotlib, imported on first use); ``to_onnx`` exports a fitted model (with
the optional extra ``fastnet[onnx]``).  ``fastnet.dask.fit`` trains on dask
arrays and DataFrames larger than memory (the extra ``fastnet[dask]``).
"""
from ._docstrings import compose
from .activations import ELU, Logistic
from .estimators import MLPClassifier, MLPRegressor
from .exceptions import DeadUnitsWarning, DivergenceError
from .network import Network
from .persistence import load, save
from .plotting import plot_loss_curve

# help() of each estimator shows every parameter and attribute: the ones
# the three share are described once, in fastnet/_docstrings.py
for _estimator in (Network, MLPClassifier, MLPRegressor):
    compose(_estimator)
del compose, _estimator

__all__ = ["Network", "MLPClassifier", "MLPRegressor", "Logistic", "ELU", "save", "load",
           "plot_loss_curve", "to_onnx", "DivergenceError", "DeadUnitsWarning"]
__version__ = "0.1.0"


def __getattr__(name):
    # fastnet.onnx is imported on first use of to_onnx, so that importing
    # fastnet never loads the exporter (and to_onnx itself imports onnx only
    # when called)
    if name == "to_onnx":
        from .onnx import to_onnx
        return to_onnx
    raise AttributeError(f"module 'fastnet' has no attribute {name!r}")
