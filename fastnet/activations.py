"""Activation functions as the user names them, and their kernel codes.

An activation is given as a name (``'relu'``), an object (``Logistic(k=2)``,
``ELU(alpha=0.5)``) or, for hidden layers, a list with one per layer.  The
kernels know each one by its ``kernels.Activation`` code and up to three
float parameters.
"""
import math
from dataclasses import dataclass
from numbers import Real

from .kernels import Activation

# Every activation by the name users give it, with its kernel code.
CODES = {code.name.lower(): int(code) for code in Activation}


@dataclass(frozen=True)
class Logistic:
    """Generalised logistic activation L / (1 + exp(k (x0 - z))).

    The logistic curve of docs/maths.md (1.7), for ``activation`` (one hidden
    layer or all of them) or ``output_activation``.  ``'logistic'`` is
    ``Logistic(L=1.0, k=1.0, x0=0.0)``, the sigmoid 1 / (1 + exp(-z)) (1.8).
    Its derivative, written with the output a, is k a (1 - a / L) (1.9a).

    Parameters
    ----------
    L : float, default=1.0
        The maximum: outputs lie in (0, L).  Must be > 0 (ValueError at
        fit).
    k : float, default=1.0
        The steepness: the slope at the midpoint is k L / 4.
    x0 : float, default=0.0
        The midpoint, where the output is L / 2.

    Attributes
    ----------
    name : str
        'logistic', the activation's name in the kernels' table.

    See Also
    --------
    ELU : The exponential linear unit with a chosen alpha.

    Examples
    --------
    Steeper hidden units, and an output layer that spans (0, 10):

    >>> import numpy as np
    >>> from fastnet import Logistic, Network
    >>> X = np.linspace(-1, 1, 40).reshape(-1, 1)
    >>> y = 5 + 4 * X.ravel()
    >>> net = Network(hidden_layer_sizes=(5,), activation=Logistic(k=2.0),
    ...               output_activation=Logistic(L=10.0),
    ...               learning_rate_init=0.1, random_state=0).fit(X, y)
    >>> bool(net.score(X, y) > 0.99)
    True
    >>> Logistic() == Logistic(L=1.0, k=1.0, x0=0.0)
    True
    """

    L: float = 1.0
    k: float = 1.0
    x0: float = 0.0

    name = "logistic"

    def params(self):
        """The kernels' three parameters of this activation.

        Returns
        -------
        tuple of float
            ``(L, k, x0)``.

        Examples
        --------
        >>> from fastnet import Logistic
        >>> Logistic(k=2).params()
        (1.0, 2.0, 0.0)
        """
        return (float(self.L), float(self.k), float(self.x0))

    def is_standard(self):
        """Whether this is the plain sigmoid 1 / (1 + e^-z) of (1.8).

        Only the standard logistic output fuses with binary cross entropy
        into the delta a - t (2.28).

        Returns
        -------
        bool
            True for ``L=1, k=1, x0=0``.

        Examples
        --------
        >>> from fastnet import Logistic
        >>> Logistic().is_standard(), Logistic(L=2).is_standard()
        (True, False)
        """
        return self.params() == (1.0, 1.0, 0.0)


@dataclass(frozen=True)
class ELU:
    """Exponential linear unit: z for z > 0, alpha (e^z - 1) otherwise.

    For ``activation`` (one hidden layer or all of them) or
    ``output_activation``; ``'elu'`` is ``ELU(alpha=1.0)``.  Like ReLU it
    passes positive inputs on unchanged, but negative ones still carry a
    gradient, alpha e^z, so units do not die as ReLU units can
    (docs/maths.md, Table 1.1).

    Parameters
    ----------
    alpha : float, default=1.0
        The value negative inputs saturate to is -alpha; alpha > 0.

    Attributes
    ----------
    name : str
        'elu', the activation's name in the kernels' table.

    See Also
    --------
    Logistic : The generalised logistic curve.

    Examples
    --------
    A hidden layer of tanh units, then one of ELU units with alpha 0.5:

    >>> import numpy as np
    >>> from fastnet import ELU, Network
    >>> X = np.linspace(-1, 1, 40).reshape(-1, 1)
    >>> net = Network(hidden_layer_sizes=(8, 8), activation=['tanh', ELU(0.5)],
    ...               learning_rate_init=0.05, random_state=0)
    >>> bool(net.fit(X, np.abs(X.ravel())).score(X, np.abs(X.ravel())) > 0.95)
    True
    """

    alpha: float = 1.0

    name = "elu"

    def params(self):
        """The kernels' three parameters of this activation.

        Returns
        -------
        tuple of float
            ``(alpha, 0.0, 0.0)``.

        Examples
        --------
        >>> from fastnet import ELU
        >>> ELU(0.5).params()
        (0.5, 0.0, 0.0)
        """
        return (float(self.alpha), 0.0, 0.0)


@dataclass(frozen=True)
class _Plain:
    """An activation without parameters, known by its name."""

    name: str

    def params(self):
        return (0.0, 0.0, 0.0)


def resolve(spec, where):
    """The activation object for a name or object; ``where`` names the parameter."""
    if isinstance(spec, (Logistic, ELU, _Plain)):
        _check_parameters(spec, where)
        return spec
    if isinstance(spec, str):
        if spec == "logistic":
            return Logistic()
        if spec == "elu":
            return ELU()
        if spec in CODES:
            return _Plain(spec)
    raise ValueError(
        f"{where} must be one of {sorted(CODES)}, fastnet.Logistic(...) or "
        f"fastnet.ELU(...); got {spec!r}."
    )


def _check_parameters(spec, where):
    """An activation object's parameters are finite real numbers (L > 0)."""
    names = {"Logistic": ("L", "k", "x0"), "ELU": ("alpha",)}.get(type(spec).__name__, ())
    for name in names:
        value = getattr(spec, name)
        if not (isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)):
            raise ValueError(f"{where}: {type(spec).__name__}'s {name} must be a finite "
                             f"number, got {value!r}.")
    if isinstance(spec, Logistic) and spec.L <= 0:
        raise ValueError(f"{where}: Logistic needs L > 0, got L={spec.L}.")
    if isinstance(spec, ELU) and spec.alpha <= 0:
        raise ValueError(f"{where}: ELU needs alpha > 0, got alpha={spec.alpha}.")


def output_range(spec):
    """(low, high) bounds of an activation's outputs (inclusive or not)."""
    if spec.name == "logistic":
        return 0.0, spec.L
    return {"softmax": (0.0, 1.0), "step": (0.0, 1.0), "exp": (0.0, math.inf),
            "relu": (0.0, math.inf), "tanh": (-1.0, 1.0)}.get(spec.name,
                                                              (-math.inf, math.inf))


def resolve_hidden(spec, n_hidden):
    """One activation object per hidden layer."""
    if isinstance(spec, (list, tuple)):
        if len(spec) != n_hidden:
            raise ValueError(
                f"activation has {len(spec)} entries but there are {n_hidden} "
                "hidden layers; give one per hidden layer or a single one."
            )
        layers = [resolve(s, "activation") for s in spec]
    else:
        layers = [resolve(spec, "activation")] * n_hidden
    for act in layers:
        if act.name == "step":
            raise ValueError(
                "activation 'step' has no gradient, so a hidden step layer cannot "
                "be trained by backpropagation; use it as output_activation only."
            )
    return layers
