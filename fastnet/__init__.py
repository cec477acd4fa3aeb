"""fastnet: dense neural networks trained per sample by typed Cython kernels.

``Network`` is the general estimator; ``MLPClassifier`` and ``MLPRegressor``
are drop-in replacements for scikit-learn's; ``to_onnx`` exports a fitted one
(with the optional extra ``fastnet[onnx]``).
"""
from .activations import ELU, Logistic
from .estimators import MLPClassifier, MLPRegressor
from .network import Network

__all__ = ["Network", "MLPClassifier", "MLPRegressor", "Logistic", "ELU", "to_onnx"]
__version__ = "0.1.0"


def __getattr__(name):
    # fastnet.onnx is imported on first use of to_onnx, so that importing
    # fastnet never loads the exporter (and to_onnx itself imports onnx only
    # when called)
    if name == "to_onnx":
        from .onnx import to_onnx
        return to_onnx
    raise AttributeError(f"module 'fastnet' has no attribute {name!r}")
