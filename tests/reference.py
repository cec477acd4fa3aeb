"""A numpy reference network for the tests, independent of fastnet's kernels.

Forward pass, losses, finite differences and scikit-learn's optimizer steps
written directly from the formulas (equation numbers as in the kernels'
comments), plus the gradient-check problems that test_network.py (through
the estimator) and test_kernels.py (on the kernels directly) share.
Networks are lists of scikit-learn-shaped weights (n_in, n_out) and biases.
"""
import numpy as np
import pytest

from fastnet import ELU, Logistic


# ---------------------------------------------------------------------------
# The network in numpy.
# ---------------------------------------------------------------------------

def act_params(spec):
    """(name, L, k, x0, alpha) of an activation spec, read without fastnet."""
    if isinstance(spec, Logistic):
        return "logistic", spec.L, spec.k, spec.x0, None
    if isinstance(spec, ELU):
        return "elu", None, None, None, spec.alpha
    if spec == "logistic":
        return "logistic", 1.0, 1.0, 0.0, None
    if spec == "elu":
        return "elu", None, None, None, 1.0
    return spec, None, None, None, None


def np_activate(spec, z):
    """sigma(z) for a (n_samples, n_units) block of pre-activations."""
    name, L, k, x0, alpha = act_params(spec)
    if name == "identity":
        return z.copy()
    if name == "logistic":
        return L / (1.0 + np.exp(k * (x0 - z)))                       # (1.7)
    if name == "tanh":
        return np.tanh(z)
    if name == "relu":
        return np.maximum(z, 0.0)                                     # table 1.1
    if name == "elu":
        return np.where(z > 0, z, alpha * np.expm1(np.minimum(z, 0)))  # table 1.1
    if name == "softmax":
        e = np.exp(z - z.max(axis=1, keepdims=True))                  # (2.1)
        return e / e.sum(axis=1, keepdims=True)
    if name == "exp":
        return np.exp(z)
    if name == "step":
        return (z > 0).astype(float)                                  # (P.2)
    raise AssertionError(name)


def np_forward(coefs, intercepts, acts, X):
    """Reference forward pass (1.3, 1.4): returns ([z^1..z^L], [a^1..a^L])."""
    zs, outs = [], []
    a = np.asarray(X, dtype=np.float64)
    for W, b, act in zip(coefs, intercepts, acts):
        z = a @ np.asarray(W, np.float64) + np.asarray(b, np.float64)
        a = np_activate(act, z)
        zs.append(z)
        outs.append(a)
    return zs, outs


def np_sample_loss(loss, a, t, eps=np.finfo(np.float64).eps):
    """Per-sample loss of each row (same clipping as scikit-learn)."""
    if loss == "squared_error":
        return 0.5 * ((a - t) ** 2).sum(axis=1)                       # (1.11) with 1/2
    if loss == "cross_entropy":
        return -(t * np.log(np.clip(a, eps, 1 - eps))).sum(axis=1)     # (2.18)
    if loss == "binary_cross_entropy":
        p = np.clip(a, eps, 1 - eps)
        return -(t * np.log(p) + (1 - t) * np.log(1 - p)).sum(axis=1)  # (2.23)
    if loss == "poisson":
        tlog = np.where(t > 0, t * np.log(np.where(t > 0, t, 1) / a), 0.0)
        return (tlog - t + a).sum(axis=1)
    raise AssertionError(loss)


def np_loss(coefs, intercepts, acts, loss, X, Y, sw=None, alpha=0.0):
    """scikit-learn's _backprop loss: weighted mean of c_s + alpha/2 ||W||^2 / sum w."""
    a = np_forward(coefs, intercepts, acts, X)[1][-1]
    c = np_sample_loss(loss, a, Y)
    w = np.ones(len(c)) if sw is None else np.asarray(sw, np.float64)
    reg = 0.5 * alpha * sum((np.asarray(W, np.float64) ** 2).sum() for W in coefs)
    return (w @ c + reg) / w.sum()


def np_finite_differences(coefs, intercepts, acts, loss, X, Y, sw, alpha, h):
    """Central differences (f(w+h) - f(w-h)) / 2h of ``np_loss`` for every
    weight and bias, in float64: a list like coefs + intercepts."""
    params = [np.array(p, dtype=np.float64) for p in list(coefs) + list(intercepts)]
    n_layers = len(coefs)
    f = lambda: np_loss(params[:n_layers], params[n_layers:], acts, loss, X, Y, sw, alpha)
    grads = []
    for arr in params:
        g = np.zeros(arr.shape)
        for idx in np.ndindex(arr.shape):
            old = arr[idx]
            arr[idx] = old + h
            up = f()
            arr[idx] = old - h
            down = f()
            arr[idx] = old
            g[idx] = (up - down) / (2 * h)
        grads.append(g)
    return grads


def random_weights(rng, units, scale=0.8, dtype=np.float64):
    coefs = [(rng.standard_normal((i, o)) * scale / np.sqrt(i)).astype(dtype)
             for i, o in zip(units[:-1], units[1:])]
    intercepts = [(rng.standard_normal(o) * 0.3).astype(dtype) for o in units[1:]]
    return coefs, intercepts


def has_kink(spec):
    return act_params(spec)[0] in ("relu", "elu")


def make_targets(rng, loss, output, n, n_out):
    """Random targets valid for the loss."""
    if loss == "squared_error":
        return rng.standard_normal((n, n_out))
    if loss == "cross_entropy":
        # probability rows: CE's softmax shortcut (2.21) needs sum_k t_k = 1 (2.20)
        if n_out == 1:
            return np.ones((n, 1))
        return rng.dirichlet(np.ones(n_out), size=n)
    if loss == "binary_cross_entropy":
        return rng.integers(0, 2, (n, n_out)).astype(float)
    if loss == "poisson":
        t = rng.uniform(0.1, 3.0, (n, n_out))
        t[0, 0] = 0.0  # t log t with t = 0
        return t
    raise AssertionError(loss)


def assert_params_close(got, want, rtol=1e-10, atol=1e-13):
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol)


# ---------------------------------------------------------------------------
# The gradient-check cases: every hidden x output activation x loss.
# ---------------------------------------------------------------------------

HIDDEN = ["identity", "logistic", "tanh", "relu", "elu", "softmax",
          Logistic(L=2, k=0.5, x0=0.3), ELU(alpha=0.5)]
OUTPUTS = ["identity", "logistic", "tanh", "relu", "elu", "softmax", "exp",
           Logistic(L=1.5, k=2, x0=-0.2)]
# Losses only where they are defined on the output's range.  cross_entropy and
# binary_cross_entropy take log a (and log(1 - a)): they need outputs in (0, 1),
# i.e. the standard logistic and softmax.  Elsewhere the loss clips a to
# [eps, 1 - eps], so it is flat in the weights while its derivative (2.19) is
# not -- a finite-difference check there would test the clipping, not the
# gradient.  Poisson needs a > 0: exp, softmax and both logistics.
OUTPUT_LOSS = (
    [(o, "squared_error") for o in OUTPUTS]
    + [("logistic", "cross_entropy"), ("softmax", "cross_entropy"),
       ("logistic", "binary_cross_entropy"), ("softmax", "binary_cross_entropy"),
       ("exp", "poisson"), ("softmax", "poisson"), ("logistic", "poisson"),
       (Logistic(L=1.5, k=2, x0=-0.2), "poisson")]
)
# name: (n_samples, n_outputs, sample weights?, alpha).  "single" is the
# per-sample gradient of one sample (1.29); "batch" the weighted mean with L2.
VARIANTS = {"single": (1, 3, False, 0.0), "batch": (6, 3, True, 0.3),
            "one_output": (4, 1, False, 0.1)}
N_FEATURES, HIDDEN_SIZES = 4, (5, 3)
FD_STEP = 1e-6


def spec_id(spec):
    """A readable test id for an activation spec."""
    if isinstance(spec, Logistic):
        return f"Logistic({spec.L},{spec.k},{spec.x0})"
    if isinstance(spec, ELU):
        return f"ELU({spec.alpha})"
    return spec


def gradient_cases():
    """pytest params (hidden, out, loss, variant) of the gradient checks."""
    for hidden in HIDDEN:
        for out, loss in OUTPUT_LOSS:
            for variant, (n, n_out, _, _) in VARIANTS.items():
                # softmax over one output is the constant 1: nothing to check
                if n_out == 1 and out == "softmax":
                    continue
                yield pytest.param(hidden, out, loss, variant,
                                   id=f"{spec_id(hidden)}-{spec_id(out)}-{loss}-{variant}")


def step_cases():
    """pytest params (hidden, out, loss, reg) of the one-step checks."""
    for hidden in HIDDEN:
        for out, loss in OUTPUT_LOSS:
            for reg in (False, True):
                yield pytest.param(
                    hidden, out, loss, reg,
                    id=f"{spec_id(hidden)}-{spec_id(out)}-{loss}-{'l2' if reg else 'plain'}")


def gradient_data(hidden, out, loss, variant, seed=0, zero_fraction=0.0):
    """Data, targets, sample weights, weights and alpha of one gradient check,
    for a network N_FEATURES-HIDDEN_SIZES-n_out with activations
    (hidden, hidden, out).

    Weights are redrawn until no relu/elu pre-activation lies within 1e-3 of
    its kink at 0 (so +-h never crosses it) and every sample has an active
    unit in each relu/elu layer (so some gradient flows).  zero_fraction > 0
    sets about that fraction of X to 0 (for sparse input) with a separate
    random stream, so the other draws do not change."""
    n, n_out, weighted, alpha = VARIANTS[variant]
    units = [N_FEATURES, *HIDDEN_SIZES, n_out]
    acts = [hidden, hidden, out]
    for attempt in range(200):
        rng = np.random.default_rng([seed, attempt])
        X = rng.uniform(-1, 1, (n, N_FEATURES))
        Y = make_targets(rng, loss, out, n, n_out)
        sw = rng.uniform(0.5, 2.0, n) if weighted else None
        coefs, intercepts = random_weights(rng, units, scale=1.5)
        if zero_fraction:
            X[np.random.default_rng([seed, attempt, 1]).uniform(size=X.shape)
              < zero_fraction] = 0.0
        zs = np_forward(coefs, intercepts, acts, X)[0]
        if all(np.abs(z).min() > 1e-3 and (z > 0).any(axis=1).all()
               for z, a in zip(zs, acts) if has_kink(a)):
            break
    else:
        raise AssertionError("no kink-free weights found")
    return X, Y, sw, coefs, intercepts, alpha


# ---------------------------------------------------------------------------
# scikit-learn's optimizer steps, from a given gradient.
# ---------------------------------------------------------------------------

class NumpyOptimizer:
    """SGD (1.31, 1.32), scikit-learn's momentum / Nesterov, or Adam
    (T.6-T.8) on a list of parameter arrays; ``t`` counts Adam's steps."""

    def __init__(self, kind, eta, like, mu=0.9, nesterov=False, b1=0.9, b2=0.999,
                 eps=1e-8, t=0):
        self.kind, self.eta, self.mu, self.nesterov = kind, eta, mu, nesterov
        self.b1, self.b2, self.eps, self.t = b1, b2, eps, t
        self.vel = [np.zeros_like(p) for p in like]
        self.m = [np.zeros_like(p) for p in like]
        self.v = [np.zeros_like(p) for p in like]

    def step(self, params, grads):
        """The parameters after one step along grads."""
        self.t += 1
        out = []
        for k, (p, g) in enumerate(zip(params, grads)):
            if self.kind == "sgd":
                out.append(p - self.eta * g)
            elif self.kind == "momentum":
                self.vel[k] = self.mu * self.vel[k] - self.eta * g
                out.append(p + (self.mu * self.vel[k] - self.eta * g if self.nesterov
                                else self.vel[k]))
            else:  # adam
                self.m[k] = self.b1 * self.m[k] + (1 - self.b1) * g
                self.v[k] = self.b2 * self.v[k] + (1 - self.b2) * g * g
                out.append(p - self.adam_rate() * self.m[k] / (np.sqrt(self.v[k]) + self.eps))
        return out

    def adam_rate(self):
        """Adam's bias-corrected rate of step t  (T.8)."""
        return self.eta * np.sqrt(1 - self.b2 ** self.t) / (1 - self.b1 ** self.t)


def numpy_epoch(loss_and_gradient, start, X, Y, sw, batch_size, optimizer):
    """One epoch in visiting order 0..n-1, each step computed by ``optimizer``
    from ``loss_and_gradient(params, X, Y, sw) -> (loss, grads)`` on the batch
    (params and grads as lists).  A batch of weight sum 0 is skipped.
    Returns (params, loss_sum, steps) with scikit-learn's loss_sum: the sum of
    batch_loss * batch_length, batch_loss taken before the batch's step."""
    params = [p.copy() for p in start]
    loss_sum, steps = 0.0, 0
    for lo in range(0, len(X), batch_size):
        rows = slice(lo, lo + batch_size)
        w = None if sw is None else sw[rows]
        if w is not None and w.sum() == 0:
            continue
        loss, grads = loss_and_gradient(params, X[rows], Y[rows], w)
        params = optimizer.step(params, grads)
        loss_sum += loss * len(X[rows])
        steps += 1
    return params, loss_sum, steps
