"""Initial weights: He, Xavier and scikit-learn's rule (docs/maths.md, section 1.6).

Draws are made in scikit-learn's order with its random-number calls
(``_init_coef``: each layer's (fan_in, fan_out) coefficients uniformly, then,
for the 'sklearn' rule, its biases), so the same ``random_state`` gives the
same weights.
"""
import numpy as np

from .activations import resolve
from .layout import aligned_zeros


def init_bound(init, layer_acts, activation, layer, fan_in, fan_out):
    """Half-width of the uniform distribution of layer ``layer``'s weights.

    'he': sqrt(6 / fan_in) (He-uniform; (1.33) misprints 6 / sqrt(fan_in));
    'xavier': sqrt(6 / (fan_in + fan_out)) (1.34); 'auto': He for relu/elu,
    Xavier otherwise, times 4 for logistic (1.35); 'sklearn': scikit-learn's
    Glorot rule keyed on the hidden activation (factor 2 for logistic, else 6).
    """
    act = layer_acts[layer].name
    if init == "sklearn":
        if isinstance(activation, (list, tuple)):
            hidden = layer_acts[min(layer, len(layer_acts) - 2)].name
        else:
            hidden = resolve(activation, "activation").name
        factor = 2.0 if hidden == "logistic" else 6.0
        return np.sqrt(factor / (fan_in + fan_out))
    rule = init
    if rule == "auto":
        rule = "he" if act in ("relu", "elu") else "xavier"
    if rule == "he":
        return np.sqrt(6.0 / fan_in)
    bound = np.sqrt(6.0 / (fan_in + fan_out))
    if init == "auto" and act == "logistic":
        bound *= 4.0
    return bound


def initial_params(layout, layer_acts, init, activation, random_state, dtype):
    """A new flat parameter buffer for ``layout`` with initial weights drawn
    from ``random_state``; biases are zero except for the 'sklearn' rule."""
    params = aligned_zeros(layout.n_params, dtype)
    coefs, intercepts = layout.views(params)
    for l in range(layout.n_layers):
        fan_in, fan_out = layout.units[l], layout.units[l + 1]
        bound = init_bound(init, layer_acts, activation, l, fan_in, fan_out)
        coefs[l][...] = random_state.uniform(-bound, bound, (fan_in, fan_out))
        if init == "sklearn":
            intercepts[l][...] = random_state.uniform(-bound, bound, fan_out)
    return params
