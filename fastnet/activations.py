"""Activation functions as the user names them, and their kernel codes.

An activation is given as a name (``'relu'``), an object (``Logistic(k=2)``,
``ELU(alpha=0.5)``) or, for hidden layers, a list with one per layer.  The
kernels know each one by its ``kernels.Activation`` code and up to three
float parameters.
"""
from dataclasses import dataclass

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
        if isinstance(spec, Logistic) and spec.L <= 0:
            raise ValueError(f"{where}: Logistic needs L > 0, got L={spec.L}.")
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
