"""Export fitted fastnet models to ONNX: ``fastnet.to_onnx(model)``.

Needs the optional extra ``fastnet[onnx]`` (the ``onnx`` package), imported
only when ``to_onnx`` is called.  The graph is written with ``onnx.helper``:

* input ``X``: float32, shape [None, n_features];
* optional scalers of a scikit-learn ``Pipeline`` (StandardScaler,
  MinMaxScaler, MaxAbsScaler, RobustScaler), then per weight layer
  ``MatMul(coefs_[l]) + Add(intercepts_[l])`` and the layer's activation;
* outputs as skl2onnx writes them with ``zipmap=False``: a classifier gives
  ``label`` then ``probabilities``; a regressor or ``Network`` gives
  ``variable``.

Everything is computed in float32: the weights are rounded to float32 once,
so the exported model's outputs differ from ``predict`` in float64 by float32
rounding (about 1e-7 relative per operation).
"""
from dataclasses import dataclass

import numpy as np
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MaxAbsScaler, MinMaxScaler, RobustScaler, StandardScaler
from sklearn.utils.validation import check_is_fitted

from . import __version__
from .estimators import MLPClassifier, MLPRegressor
from .network import Network

# Opset 13 (ONNX 1.8, 2020) is the oldest in which every operator used here
# has the form used here (Softmax over one axis, Squeeze taking its axes as an
# input); old enough that every maintained runtime runs it.
OPSET = 13
# The oldest IR version that carries opset 13, so that older runtimes load the
# file: onnx.helper.make_model would stamp the installed onnx's newest IR.
IR_VERSION = 7

_FASTNET_MODELS = (MLPClassifier, MLPRegressor, Network)
_SCALERS = (StandardScaler, MinMaxScaler, MaxAbsScaler, RobustScaler)


def _import_onnx():
    try:
        import onnx
    except ImportError as exc:
        raise ImportError(
            "fastnet.to_onnx needs the 'onnx' package; install it with "
            "pip install 'fastnet[onnx]'") from exc
    return onnx


@dataclass(frozen=True)
class _Layer:
    """One weight layer: a = act(x @ W + b)."""

    W: np.ndarray      # (n_in, n_out), scikit-learn's coefs_[l]
    b: np.ndarray      # (n_out,)
    act: str           # 'identity', 'logistic', 'tanh', 'relu', 'elu', ...
    params: tuple      # (L, k, x0) for logistic, (alpha, 0, 0) for elu


def _read_network(est):
    """The layers of a fitted fastnet estimator, and whether its ``predict``
    returns 1-D output.

    The only place that reads fastnet's private attributes (``_layer_acts``,
    ``_y_1d``): adapt it here when the internals change.
    """
    layers = [_Layer(np.asarray(W), np.asarray(b), act.name, tuple(act.params()))
              for W, b, act in zip(est.coefs_, est.intercepts_, est._layer_acts)]
    flat_output = est.n_outputs_ == 1 and bool(getattr(est, "_y_1d", True))
    return layers, flat_output


class _Graph:
    """Nodes and constant initializers of one graph, with unique names."""

    def __init__(self, onnx):
        self.onnx = onnx
        self.nodes = []
        self.initializers = []
        self._count = 0

    def _name(self, stem):
        self._count += 1
        return f"{stem}_{self._count}"

    def const(self, stem, value, dtype=np.float32):
        """A constant tensor; returns its name."""
        name = self._name(stem)
        array = np.asarray(value)
        if array.dtype.kind == "U":  # labels: ONNX strings are UTF-8 bytes
            tensor = self.onnx.helper.make_tensor(
                name, self.onnx.TensorProto.STRING, array.shape,
                [str(s).encode("utf-8") for s in array.ravel()])
        else:
            tensor = self.onnx.numpy_helper.from_array(array.astype(dtype), name)
        self.initializers.append(tensor)
        return name

    def op(self, op_type, *inputs, output=None, **attrs):
        """Adds one node; returns the name of its (single) output."""
        output = output or self._name(op_type.lower())
        self.nodes.append(self.onnx.helper.make_node(op_type, list(inputs), [output], **attrs))
        return output


# ------------------------------------------------------------------ scalers
def _scaler(g, scaler, x):
    """x transformed as ``scaler.transform`` does, in the same order of
    operations (subtract, then divide) so that rounding stays close."""
    if isinstance(scaler, StandardScaler):
        if scaler.with_mean:
            x = g.op("Sub", x, g.const("mean", scaler.mean_))
        if scaler.with_std:
            x = g.op("Div", x, g.const("scale", scaler.scale_))
    elif isinstance(scaler, RobustScaler):
        if scaler.with_centering:
            x = g.op("Sub", x, g.const("center", scaler.center_))
        if scaler.with_scaling:
            x = g.op("Div", x, g.const("scale", scaler.scale_))
    elif isinstance(scaler, MaxAbsScaler):
        x = g.op("Div", x, g.const("scale", scaler.scale_))
    else:  # MinMaxScaler: X * scale_ + min_, then optionally clipped
        x = g.op("Add", g.op("Mul", x, g.const("scale", scaler.scale_)),
                 g.const("min", scaler.min_))
        if scaler.clip:
            low, high = scaler.feature_range
            x = g.op("Clip", x, g.const("low", low), g.const("high", high))
    return x


# --------------------------------------------------------------- the network
def _activation(g, z, act, params):
    """a = act(z) for one layer's pre-activations z of shape [N, units]."""
    if act == "identity":
        return z
    if act == "logistic":
        # L / (1 + e^{k (x0 - z)})  (1.7), written out: onnxruntime's Sigmoid
        # is exact only to about 1e-7 absolute, so its relative error grows
        # without bound for negative z (4x at z = -18), where Exp stays
        # within 1e-7 relative.  Factors that are 1 or 0 are left out.
        L, k, x0 = params
        u = g.op("Neg", z) if x0 == 0.0 else g.op("Sub", g.const("x0", x0), z)
        if k != 1.0:
            u = g.op("Mul", u, g.const("k", k))
        return g.op("Div", g.const("L", L), g.op("Add", g.const("one", 1.0), g.op("Exp", u)))
    if act == "elu":
        return g.op("Elu", z, alpha=float(params[0]))
    if act == "softmax":
        return g.op("Softmax", z, axis=1)
    if act == "step":
        # 1 if z > 0 else 0 (the perceptron threshold)
        return g.op("Cast", g.op("Greater", z, g.const("zero", 0.0)),
                    to=g.onnx.TensorProto.FLOAT)
    ops = {"tanh": "Tanh", "relu": "Relu", "exp": "Exp"}
    if act not in ops:
        raise ValueError(f"fastnet.to_onnx does not know the activation {act!r}.")
    return g.op(ops[act], z)


def _network(g, layers, x):
    """(z, a): pre-activations and activations of the output layer of the
    layers applied to x."""
    for i, layer in enumerate(layers):
        z = g.op("MatMul", x, g.const(f"coef{i}", layer.W))
        z = g.op("Add", z, g.const(f"intercept{i}", layer.b))
        x = _activation(g, z, layer.act, layer.params)
    return z, x


# ------------------------------------------------------------------ outputs
def _label_constant(g, classes):
    """classes_ as a string or int64 constant, and its ONNX element type.

    scikit-learn accepts only string or numeric labels; numeric ones become
    int64, as in skl2onnx (MLPClassifier takes only whole-numbered floats,
    and booleans give 0 / 1)."""
    classes = np.asarray(classes)
    if classes.dtype.kind in "UO":
        return g.const("classes", classes.astype(str)), g.onnx.TensorProto.STRING
    return g.const("classes", classes.astype(np.int64), np.int64), g.onnx.TensorProto.INT64


def _classifier_outputs(g, est, z, out, out_act):
    """label and probabilities as MLPClassifier.predict / predict_proba, from
    the output layer's pre-activations z and activations out.

    Returns [(name, element type, shape)] of the graph outputs."""
    n_outputs = est.n_outputs_
    int64 = g.onnx.TensorProto.INT64
    if out_act == "softmax":  # multiclass: the first most probable class
        index = g.op("ArgMax", out, axis=1, keepdims=0)
        g.op("Identity", out, output="probabilities")
        width = n_outputs
    elif n_outputs == 1:  # binary: p = P(classes_[1]), predicted when p > 0.5
        index = g.op("Cast", g.op("Greater", out, g.const("half", 0.5)), to=int64)
        index = g.op("Squeeze", index, g.const("axis1", [1], np.int64))
        # 1 - p as sigmoid(-z): float32's 1 - p would lose the digits of a
        # small 1 - p that predict_proba's float64 keeps
        q = _activation(g, g.op("Neg", z), "logistic", (1.0, 1.0, 0.0))
        g.op("Concat", q, out, axis=1, output="probabilities")
        width = 2
    else:  # multilabel: one 0/1 int64 label per output, as predict gives
        g.op("Cast", g.op("Greater", out, g.const("half", 0.5)), to=int64, output="label")
        g.op("Identity", out, output="probabilities")
        return [("label", int64, [None, n_outputs]),
                ("probabilities", g.onnx.TensorProto.FLOAT, [None, n_outputs])]
    classes = est.classes_
    if len(classes) == 1:  # a single class: every index gives it
        classes = np.repeat(classes, 2)
    classes, label_type = _label_constant(g, classes)
    g.op("Gather", classes, index, axis=0, output="label")
    return [("label", label_type, [None]),
            ("probabilities", g.onnx.TensorProto.FLOAT, [None, width])]


def _regressor_outputs(g, out, n_outputs, flat):
    """variable: [None] where predict is 1-D, else [None, n_outputs]."""
    if flat:
        g.op("Squeeze", out, g.const("axis1", [1], np.int64), output="variable")
        return [("variable", g.onnx.TensorProto.FLOAT, [None])]
    g.op("Identity", out, output="variable")
    return [("variable", g.onnx.TensorProto.FLOAT, [None, n_outputs])]


# ------------------------------------------------------------------- entry
def _split(model):
    """(scalers, fastnet estimator) of a model or a Pipeline, validated."""
    if isinstance(model, Pipeline):
        steps = [step for _, step in model.steps if step not in (None, "passthrough")]
    else:
        steps = [model]
    if not steps or not isinstance(steps[-1], _FASTNET_MODELS):
        raise TypeError(
            "fastnet.to_onnx exports a fitted fastnet Network, MLPClassifier or "
            "MLPRegressor, or a scikit-learn Pipeline ending in one; got "
            f"{type(steps[-1] if steps else model).__name__}.")
    scalers, est = steps[:-1], steps[-1]
    for step in scalers:
        if not isinstance(step, _SCALERS):
            raise TypeError(
                "fastnet.to_onnx exports Pipelines whose steps before the fastnet "
                "estimator are StandardScaler, MinMaxScaler, MaxAbsScaler or "
                f"RobustScaler; got {type(step).__name__}.")
        check_is_fitted(step)
    check_is_fitted(est)
    return scalers, est


def to_onnx(model):
    """Export a fitted fastnet model to an ONNX graph.

    Parameters
    ----------
    model : Network, MLPClassifier, MLPRegressor or sklearn.pipeline.Pipeline
        A fitted fastnet estimator, or a fitted Pipeline of scalers
        (StandardScaler, MinMaxScaler, MaxAbsScaler, RobustScaler) followed by
        one.  'passthrough' steps are skipped.

    Returns
    -------
    onnx.ModelProto
        Opset 13 (IR version 7).  Input ``X``: float32 [None, n_features].
        Outputs, computed in float32:

        - MLPClassifier: ``label`` (int64 for integer classes, string for
          string classes, int64 for whole-numbered float or boolean classes;
          [None], or [None, n_outputs] of 0/1 for multilabel)
          and ``probabilities`` (float32 [None, n_classes], as predict_proba;
          binary models give the two columns [1 - p, p]);
        - MLPRegressor and Network: ``variable``, float32 of the shape of
          ``predict``: [None] for models trained on 1-D y (one output), else
          [None, n_outputs].

    Raises
    ------
    ImportError
        If ``onnx`` is not installed (``pip install 'fastnet[onnx]'``).
    TypeError
        If the model is not a fastnet estimator, or a pipeline step before it
        is not one of the scalers above.
    sklearn.exceptions.NotFittedError
        If the model or a step is not fitted.

    See Also
    --------
    save : Write a fastnet model file, which keeps the training state too.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> import fastnet
    >>> X, y = load_iris(return_X_y=True)
    >>> model = make_pipeline(StandardScaler(), fastnet.MLPClassifier(
    ...     hidden_layer_sizes=(8,), solver='lbfgs', random_state=0)).fit(X, y)
    >>> proto = fastnet.to_onnx(model)
    >>> [output.name for output in proto.graph.output]
    ['label', 'probabilities']

    Run it with onnxruntime (``pip install onnxruntime``):

    >>> import numpy as np
    >>> import onnxruntime
    >>> session = onnxruntime.InferenceSession(proto.SerializeToString())
    >>> label, probabilities = session.run(None, {"X": X.astype(np.float32)})
    >>> bool((label == model.predict(X)).all())
    True
    >>> np.allclose(probabilities, model.predict_proba(X), atol=1e-5)
    True
    """
    onnx = _import_onnx()

    scalers, est = _split(model)
    layers, flat = _read_network(est)
    g = _Graph(onnx)
    x = "X"
    for scaler in scalers:
        x = _scaler(g, scaler, x)
    z, out = _network(g, layers, x)
    if isinstance(est, MLPClassifier):
        outputs = _classifier_outputs(g, est, z, out, layers[-1].act)
    else:
        outputs = _regressor_outputs(g, out, est.n_outputs_, flat)

    units = [layers[0].W.shape[0]] + [layer.W.shape[1] for layer in layers]
    acts = ", ".join(layer.act for layer in layers)
    steps = "".join(f"{type(s).__name__} -> " for s in scalers)
    doc = (f"{steps}fastnet {type(est).__name__} "
           f"{'-'.join(map(str, units))} ({acts}), exported by fastnet {__version__}")
    graph = onnx.helper.make_graph(
        g.nodes, f"fastnet_{type(est).__name__}",
        [onnx.helper.make_tensor_value_info("X", onnx.TensorProto.FLOAT, [None, units[0]])],
        [onnx.helper.make_tensor_value_info(*output) for output in outputs],
        initializer=g.initializers)
    proto = onnx.helper.make_model(
        graph, producer_name="fastnet", producer_version=__version__, doc_string=doc,
        opset_imports=[onnx.helper.make_opsetid("", OPSET)])
    proto.ir_version = IR_VERSION
    onnx.checker.check_model(proto, full_check=True)
    return proto
