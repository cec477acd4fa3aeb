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
    """Generalised logistic L / (1 + exp(k (x0 - z))), docs/maths.md (1.7).

    ``'logistic'`` is ``Logistic(L=1.0, k=1.0, x0=0.0)``.
    """

    L: float = 1.0
    k: float = 1.0
    x0: float = 0.0

    name = "logistic"

    def params(self):
        return (float(self.L), float(self.k), float(self.x0))

    def is_standard(self):
        """True for the plain sigmoid 1 / (1 + e^-z) of (1.8)."""
        return self.params() == (1.0, 1.0, 0.0)


@dataclass(frozen=True)
class ELU:
    """Exponential linear unit: z for z > 0, alpha (e^z - 1) otherwise."""

    alpha: float = 1.0

    name = "elu"

    def params(self):
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
