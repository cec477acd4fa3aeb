"""Tests of the kernels themselves: ``Plan`` and ``Samples`` called directly,
on every build this machine runs (the ``build`` fixture, tests/conftest.py).

Equation numbers are those of the kernels' comments (fastnet/_kernels/).

Everything expected is computed without the kernels: with the numpy
reference network and optimizers of tests/reference.py, by central finite
differences of the numpy loss, or by hand (the 2-2-1 example).  Where a step
is checked against "the gradient", that gradient is loss_and_gradient's,
which the first tests check against finite differences.  Parameters are
flat buffers laid out by ``layer_offsets``: layer l's weights at w_off[l],
row-major as w_ij (rows: neuron i), then its biases at b_off[l].
"""
import contextlib
import functools
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

import fastnet
import fastnet.activations
import fastnet.kernels
import fastnet.network
from fastnet import ELU, Logistic
from reference import (FD_STEP, NumpyOptimizer, act_params, assert_params_close,
                       gradient_cases, gradient_data, np_activate, np_finite_differences,
                       np_forward, np_loss, numpy_epoch, random_weights, spec_id,
                       step_cases)

EMPTY = np.empty(0)


# ---------------------------------------------------------------------------
# Helpers: numpy weights <-> the kernels' flat buffers, plans, samples.
# ---------------------------------------------------------------------------

def is_canonical(out, loss):
    """Whether the output delta of this pair is a - t (2.21, 2.28), so the
    plan may take the fused delta: identity + squared error, softmax + cross
    entropy, standard logistic + binary cross entropy, exp + Poisson."""
    name, L, k, x0, _ = act_params(out)
    if name == "logistic":
        return (L, k, x0) == (1.0, 1.0, 0.0) and loss == "binary_cross_entropy"
    return (name, loss) in {("identity", "squared_error"), ("softmax", "cross_entropy"),
                            ("exp", "poisson")}


def kernel_activation(build, spec):
    """(Activation code, its 3 parameters) of an activation spec."""
    name, L, k, x0, alpha = act_params(spec)
    prm = {"logistic": (L, k, x0), "elu": (alpha, 0.0, 0.0)}.get(name, (0.0, 0.0, 0.0))
    return build.Activation[name.upper()], prm


def make_plan(build, units, acts, loss, *, fused=None, **settings):
    """A Plan of this build for activation specs and a loss name; the fused
    delta where the pair is canonical unless ``fused`` says otherwise."""
    codes, prm = zip(*(kernel_activation(build, a) for a in acts))
    if fused is None:
        fused = is_canonical(acts[-1], loss)
    return build.Plan(units, list(codes), np.array(prm), build.Loss[loss.upper()],
                      fused_delta=fused, **settings)


def units_of(coefs):
    return [coefs[0].shape[0]] + [c.shape[1] for c in coefs]


def pack(build, coefs, intercepts, dtype=np.float64):
    """The flat buffer of scikit-learn-shaped (n_in, n_out) weights and biases."""
    w_off, b_off, _, n_params, _ = build.layer_offsets(units_of(coefs))
    flat = np.full(n_params, np.nan, dtype=dtype)
    for l, (W, b) in enumerate(zip(coefs, intercepts)):
        flat[w_off[l]:b_off[l]] = np.asarray(W).T.ravel()   # rows: neuron i
        flat[b_off[l]:b_off[l] + len(b)] = b
    assert not np.isnan(flat).any()  # every entry belongs to a layer
    return flat


def unpack(build, flat, units):
    """[W^1 .. W^L (n_in, n_out), b^1 .. b^L] copied out of a flat buffer."""
    w_off, b_off, _, n_params, _ = build.layer_offsets(units)
    assert flat.shape == (n_params,)
    pairs = list(zip(units[:-1], units[1:]))
    coefs = [flat[w_off[l]:b_off[l]].reshape(o, i).T.copy() for l, (i, o) in enumerate(pairs)]
    intercepts = [flat[b_off[l]:b_off[l] + o].copy() for l, (_, o) in enumerate(pairs)]
    return coefs + intercepts


def make_samples(build, X, Y=None, sw=None, sparse=False, dtype=None):
    """Samples of this build: dense, or CSR without X's zeros."""
    dtype = np.dtype(dtype or X.dtype)
    cast = lambda a: None if a is None else np.ascontiguousarray(a, dtype=dtype)
    if not sparse:
        return build.Samples.dense(cast(X), cast(Y), cast(sw))
    csr = sp.csr_matrix(X)
    return build.Samples.csr(cast(csr.data), csr.indices.astype(np.intp),
                             csr.indptr.astype(np.intp), X.shape[1], cast(Y), cast(sw))


def kernel_gradient(build, plan, coefs, intercepts, X, Y, sw=None, sparse=False):
    """(loss, [grad W^1 .. grad b^L]) of loss_and_gradient at these weights."""
    params = pack(build, coefs, intercepts, plan.dtype)
    grad = np.full_like(params, np.nan)
    loss = plan.loss_and_gradient(params, grad,
                                  make_samples(build, X, Y, sw, sparse, plan.dtype))
    return loss, unpack(build, grad, units_of(coefs))


def optimizer_step(build, kind, eta, mu=0.9, nesterov=False, b1=0.9, b2=0.999, eps=1e-8,
                   t=0):
    """The optimizer dict train_epoch takes (the kernels' OptimizerStep)."""
    code = {"sgd": build.Optimizer.SGD, "momentum": build.Optimizer.MOMENTUM,
            "adam": build.Optimizer.ADAM}[kind]
    return {"kind": code, "learning_rate": eta, "momentum": mu, "nesterov": nesterov,
            "beta_1": b1, "beta_2": b2, "epsilon": eps, "t": t}


def moments(kind, params):
    """Zeroed (first_moment, second_moment) for an optimizer kind: momentum's
    velocity, Adam's two moments, empty where the kind keeps none."""
    return [np.zeros_like(params) if keeps else EMPTY
            for keeps in (kind != "sgd", kind == "adam")]


def split(arrays):
    """(coefs, intercepts) of a list [W^1 .. W^L, b^1 .. b^L]."""
    n = len(arrays) // 2
    return arrays[:n], arrays[n:]


def test_layer_offsets_by_hand(build):
    """Units 4-5-3-2: W^1 (20) b^1 (5) | W^2 (15) b^2 (3) | W^3 (6) b^3 (2)."""
    w_off, b_off, a_off, n_params, n_units = build.layer_offsets([4, 5, 3, 2])
    assert list(w_off) == [0, 25, 43] and list(b_off) == [20, 40, 49]
    assert list(a_off) == [0, 5, 8] and (n_params, n_units) == (51, 10)
    rng = np.random.default_rng(0)
    coefs, intercepts = random_weights(rng, [4, 5, 3, 2])
    flat = pack(build, coefs, intercepts)
    assert flat[25 + 1 * 5 + 2] == coefs[1][2, 1]   # w_12 of layer 2: neuron 1, input 2
    assert flat[49 + 1] == intercepts[2][1]
    assert_params_close(unpack(build, flat, [4, 5, 3, 2]), coefs + intercepts, 0, 0)


# ---------------------------------------------------------------------------
# 1. loss_and_gradient against the numpy loss and its finite differences.
# ---------------------------------------------------------------------------

SPARSITY = 0.25   # a quarter of X is 0, so CSR rows skip inputs


def gradient_problem(hidden, out, loss, variant, dtype=np.float64, zero_fraction=0.0):
    """reference.gradient_data rounded to dtype.  The finite-difference
    checks take test_network.py's problems (no zeros: zeros give other
    weights, some with losses too large for differences at 1e-6)."""
    X, Y, sw, coefs, intercepts, alpha = gradient_data(hidden, out, loss, variant,
                                                       zero_fraction=zero_fraction)
    cast = lambda a: None if a is None else np.asarray(a, dtype)
    return (cast(X), cast(Y), cast(sw), [cast(c) for c in coefs],
            [cast(b) for b in intercepts], alpha)


@functools.lru_cache(maxsize=None)
def finite_differences(hidden, out, loss, variant, dtype):
    """Float64 central differences of the numpy loss at the problem's
    (dtype-rounded) values; computed once for all builds."""
    X, Y, sw, coefs, intercepts, alpha = gradient_problem(hidden, out, loss, variant, dtype)
    return np_finite_differences(coefs, intercepts, [hidden, hidden, out], loss, X, Y, sw,
                                 alpha, FD_STEP)


@pytest.mark.parametrize("hidden, out, loss, variant", list(gradient_cases()))
def test_gradient_float64(build, hidden, out, loss, variant):
    """loss_and_gradient (1.29 with 2.12 / 2.16 / 2.21 / 2.28): the loss is
    numpy's, the gradient its central finite differences."""
    X, Y, sw, coefs, intercepts, alpha = gradient_problem(hidden, out, loss, variant)
    plan = make_plan(build, units_of(coefs), [hidden, hidden, out], loss, alpha=alpha)
    value, grads = kernel_gradient(build, plan, coefs, intercepts, X, Y, sw)
    want = np_loss(coefs, intercepts, [hidden, hidden, out], loss, X, Y, sw, alpha)
    np.testing.assert_allclose(value, want, rtol=1e-12)
    assert_params_close(grads, finite_differences(hidden, out, loss, variant, np.float64),
                        rtol=1e-6, atol=1e-9)
    assert any(np.abs(g).max() > 1e-3 for g in grads[:3])  # a gradient worth checking


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("hidden, out, loss, variant", list(gradient_cases()))
def test_gradient_csr_equals_dense(build, hidden, out, loss, variant, dtype):
    """CSR input (the per-sample accumulation, skipping zeros) gives the dense
    input's (BLAS) loss and gradient, on X with and without zeros."""
    tol = dict(rtol=1e-12, atol=1e-15) if dtype == np.float64 else dict(rtol=2e-5, atol=1e-6)
    for zeros in (0.0, SPARSITY):
        X, Y, sw, coefs, intercepts, alpha = gradient_problem(hidden, out, loss, variant,
                                                              dtype, zeros)
        plan = make_plan(build, units_of(coefs), [hidden, hidden, out], loss, alpha=alpha,
                         dtype=dtype)
        dense, csr = [kernel_gradient(build, plan, coefs, intercepts, X, Y, sw, sparse)
                      for sparse in (False, True)]
        np.testing.assert_allclose(csr[0], dense[0], rtol=tol["rtol"])
        scale = max(np.abs(g).max() for g in dense[1])
        assert_params_close(csr[1], dense[1], rtol=tol["rtol"], atol=tol["atol"] * scale)


@pytest.mark.parametrize("hidden, out, loss, variant", list(gradient_cases()))
def test_gradient_float32(build, hidden, out, loss, variant):
    """A float32 plan's loss and gradient equal the float64 loss and finite
    differences at the same float32 values, to float32 accuracy."""
    X, Y, sw, coefs, intercepts, alpha = gradient_problem(hidden, out, loss, variant,
                                                          np.float32)
    plan = make_plan(build, units_of(coefs), [hidden, hidden, out], loss, alpha=alpha,
                     dtype=np.float32)
    want = np_loss(coefs, intercepts, [hidden, hidden, out], loss, X, Y, sw, alpha)
    fd = finite_differences(hidden, out, loss, variant, np.float32)
    scale = max(np.abs(g).max() for g in fd)
    value, grads = kernel_gradient(build, plan, coefs, intercepts, X, Y, sw)
    assert all(g.dtype == np.float32 for g in grads)
    np.testing.assert_allclose(value, want, rtol=1e-5)
    assert_params_close(grads, fd, rtol=1e-3, atol=1e-5 * scale)


def _canonical_cases():
    return [case for case in gradient_cases() if is_canonical(case.values[1], case.values[2])]


@pytest.mark.parametrize("hidden, out, loss, variant", _canonical_cases())
def test_fused_delta_equals_general_delta(build, hidden, out, loss, variant):
    """For the canonical pairs the fused output delta a - t (2.21, 2.28) is
    the general J^T dc/da (2.16): both plans give one gradient."""
    X, Y, sw, coefs, intercepts, alpha = gradient_problem(hidden, out, loss, variant)
    grads = [kernel_gradient(build, make_plan(build, units_of(coefs), [hidden, hidden, out],
                                              loss, alpha=alpha, fused=fused),
                             coefs, intercepts, X, Y, sw)[1]
             for fused in (True, False)]
    assert_params_close(grads[0], grads[1], rtol=1e-9, atol=1e-12)


def test_loss_scale_scales_only_the_reported_data_loss(build):
    """loss_scale multiplies the data part of the loss, not the L2 term and
    not the gradient (scikit-learn's squared error averages its reported loss
    over the outputs but not its gradient)."""
    X, Y, sw, coefs, intercepts, alpha = gradient_problem("tanh", "identity",
                                                          "squared_error", "batch")
    acts = ["tanh", "tanh", "identity"]
    results = [kernel_gradient(build, make_plan(build, units_of(coefs), acts,
                                                "squared_error", alpha=alpha, loss_scale=s),
                               coefs, intercepts, X, Y, sw) for s in (1.0, 1 / 3)]
    data = np_loss(coefs, intercepts, acts, "squared_error", X, Y, sw)
    np.testing.assert_allclose(results[1][0], results[0][0] - data * 2 / 3, rtol=1e-12)
    assert_params_close(results[1][1], results[0][1], rtol=0, atol=0)


# ---------------------------------------------------------------------------
# 2. train_epoch takes exactly the checked gradient's steps.
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("hidden, out, loss, reg", list(step_cases()))
def test_per_sample_sgd_step_is_minus_eta_gradient(build, hidden, out, loss, reg, sparse):
    """One per-sample SGD step (1.31, 1.32) moves every parameter by exactly
    -eta * gradient -- with L2 and a sample weight too -- takes one step and
    reports the loss before the step."""
    X, Y, _, coefs, intercepts, _ = gradient_problem(hidden, out, loss, "single",
                                                     zero_fraction=SPARSITY)
    sw, alpha, eta = (np.array([1.7]), 0.2, 0.1) if reg else (None, 0.0, 0.1)
    acts = [hidden, hidden, out]
    plan = make_plan(build, units_of(coefs), acts, loss, alpha=alpha)
    samples = make_samples(build, X, Y, sw, sparse)
    params = pack(build, coefs, intercepts)
    grad = np.empty_like(params)
    plan.loss_and_gradient(params, grad, samples)
    before = params.copy()
    loss_sum, steps, done, diverged = plan.train_epoch(params, EMPTY, EMPTY, samples,
                                                       np.zeros(1, np.intp), 1,
                                                       optimizer_step(build, "sgd", eta))
    np.testing.assert_allclose(params - before, -eta * grad, rtol=1e-9, atol=1e-14)
    assert (steps, done, diverged) == (1, 1, False)
    np.testing.assert_allclose(loss_sum, np_loss(coefs, intercepts, acts, loss, X, Y, sw,
                                                 alpha), rtol=1e-12)


# name: (kind, batch_size, NumpyOptimizer settings, starts from a state?)
OPTIMIZER_CASES = {
    "sgd_batch2": ("sgd", 2, {}, False),
    "sgd_batch4": ("sgd", 4, {}, False),
    "momentum_batch1": ("momentum", 1, {}, False),
    "nesterov_batch1": ("momentum", 1, {"nesterov": True}, False),
    "momentum_batch2": ("momentum", 2, {}, False),
    "nesterov_batch2_resumed": ("momentum", 2, {"nesterov": True}, True),
    "adam_batch1": ("adam", 1, {}, False),
    "adam_batch2": ("adam", 2, {}, False),
    "adam_batch1_resumed": ("adam", 1, {"t": 3}, True),
}
STEP_TRIPLES = [("tanh", "softmax", "cross_entropy"), ("relu", "identity", "squared_error"),
                (Logistic(L=2, k=0.5, x0=0.3), "logistic", "binary_cross_entropy")]


def resume_state(ref, rng):
    """Give a NumpyOptimizer (and so the kernel) non-zero momentum and moments."""
    ref.vel = [rng.standard_normal(p.shape) * 0.1 for p in ref.vel]
    ref.m = [rng.standard_normal(p.shape) * 0.1 for p in ref.m]
    ref.v = [rng.uniform(0, 0.05, p.shape) for p in ref.v]


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("case", list(OPTIMIZER_CASES))
@pytest.mark.parametrize("reg", [False, True], ids=["plain", "l2_weighted"])
@pytest.mark.parametrize("hidden, out, loss", STEP_TRIPLES,
                         ids=["tanh-softmax-ce", "relu-identity-se", "logistic2-logistic-bce"])
def test_optimizer_steps_follow_the_gradient(build, hidden, out, loss, case, reg, sparse):
    """Minibatch mean gradient, momentum (v = mu v - eta g), Nesterov and Adam
    (with its step count t and bias-corrected rate, T.8) over four samples
    equal the same steps taken in numpy from loss_and_gradient; the moments
    end equal, the step count is returned, and loss_sum is scikit-learn's
    sum of batch_loss * batch_length with the weights before each step."""
    X, Y, sw, coefs, intercepts, _ = gradient_problem(hidden, out, loss, "batch",
                                                      zero_fraction=SPARSITY)
    X, Y, sw, alpha = X[:4], Y[:4], (sw[:4] if reg else None), (0.3 if reg else 0.0)
    acts, units = [hidden, hidden, out], units_of(coefs)
    plan = make_plan(build, units, acts, loss, alpha=alpha)

    def loss_and_gradient(params, Xb, Yb, swb):
        n = len(coefs)
        grads = kernel_gradient(build, plan, params[:n], params[n:], Xb, Yb, swb)[1]
        return np_loss(params[:n], params[n:], acts, loss, Xb, Yb, swb, alpha), grads

    kind, batch_size, settings, resumed = OPTIMIZER_CASES[case]
    eta, start = 0.05, coefs + intercepts
    ref = NumpyOptimizer(kind, eta, start, **settings)
    if resumed:
        resume_state(ref, np.random.default_rng(5))
    first = second = EMPTY
    if kind == "momentum":
        first = pack(build, *split(ref.vel))
    if kind == "adam":
        first, second = pack(build, *split(ref.m)), pack(build, *split(ref.v))
    step = optimizer_step(build, kind, eta, nesterov=settings.get("nesterov", False),
                          t=ref.t)
    want, want_loss, want_steps = numpy_epoch(loss_and_gradient, start, X, Y, sw,
                                              batch_size, ref)
    params = pack(build, coefs, intercepts)
    loss_sum, steps, done, diverged = plan.train_epoch(
        params, first, second, make_samples(build, X, Y, sw, sparse),
        np.arange(4, dtype=np.intp), batch_size, step)
    assert steps == want_steps == -(-4 // batch_size)
    assert (done, diverged) == (4, False)
    assert_params_close(unpack(build, params, units), want)
    np.testing.assert_allclose(loss_sum, want_loss, rtol=1e-10)
    if kind != "sgd":
        assert_params_close(unpack(build, first, units), ref.m if kind == "adam" else ref.vel)
    if kind == "adam":
        assert_params_close(unpack(build, second, units), ref.v)


@pytest.mark.parametrize("t", [0, 7])
def test_adam_first_step_from_zero_moments(build, t):
    """Adam's step after t earlier ones, from zero moments, in closed form:
    m = (1 - b1) g, v = (1 - b2) g^2 and the rate eta sqrt(1 - b2^(t+1)) /
    (1 - b1^(t+1)) (T.8) move w by -rate (1 - b1) g / (sqrt(1 - b2) |g| + eps);
    train_epoch returns 1 step."""
    X, Y, sw, coefs, intercepts, alpha = gradient_problem("tanh", "softmax",
                                                          "cross_entropy", "batch")
    acts, (b1, b2, eps, eta) = ["tanh", "tanh", "softmax"], (0.9, 0.999, 1e-8, 0.01)
    plan = make_plan(build, units_of(coefs), acts, "cross_entropy", alpha=alpha)
    samples = make_samples(build, X, Y, sw)
    params = pack(build, coefs, intercepts)
    grad = np.empty_like(params)
    plan.loss_and_gradient(params, grad, samples)
    before, first, second = params.copy(), np.zeros_like(params), np.zeros_like(params)
    _, steps, _, _ = plan.train_epoch(params, first, second, samples,
                                np.arange(len(X), dtype=np.intp), len(X),
                                optimizer_step(build, "adam", eta, b1=b1, b2=b2, eps=eps, t=t))
    rate = eta * np.sqrt(1 - b2 ** (t + 1)) / (1 - b1 ** (t + 1))
    want = -rate * (1 - b1) * grad / (np.sqrt(1 - b2) * np.abs(grad) + eps)
    assert steps == 1
    np.testing.assert_allclose(params - before, want, rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(first, (1 - b1) * grad, rtol=1e-12)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("kind, batch_size", [("sgd", 1), ("momentum", 2), ("adam", 2)])
def test_zero_weight_batch_is_skipped(build, kind, batch_size, sparse):
    """A batch whose sample weights sum to 0 is skipped: no step, no loss,
    Adam's t does not advance.  The epoch equals, bit for bit, the one without
    those samples: parameters, moments, loss_sum and step count."""
    rng = np.random.default_rng(13)
    X, Y = rng.uniform(-1, 1, (6, 3)), rng.standard_normal((6, 2))
    sw = rng.uniform(0.5, 2, 6)
    sw[[2, 3]] = 0.0   # one batch of 2, or two per-sample batches
    coefs, intercepts = random_weights(rng, [3, 4, 2])
    plan = make_plan(build, [3, 4, 2], ["tanh", "identity"], "squared_error", alpha=0.1)
    runs = []
    for rows in (np.arange(6), np.array([0, 1, 4, 5])):
        params = pack(build, coefs, intercepts)
        state = moments(kind, params)
        samples = make_samples(build, X[rows], Y[rows], sw[rows], sparse)
        result = plan.train_epoch(params, *state, samples, np.arange(len(rows), dtype=np.intp),
                                  batch_size, optimizer_step(build, kind, 0.05))
        runs.append((result, params, state))
    (loss_all, steps_all, *_), (loss_kept, steps_kept, *_) = runs[0][0], runs[1][0]
    assert steps_all == steps_kept == 4 // batch_size
    assert loss_all == loss_kept
    for a, b in zip([runs[0][1], *runs[0][2]], [runs[1][1], *runs[1][2]]):
        np.testing.assert_array_equal(a, b)


def test_empty_order_takes_no_step(build):
    plan = make_plan(build, [3, 2], ["identity"], "squared_error")
    params = np.ones(plan.n_params)
    result = plan.train_epoch(params, EMPTY, EMPTY,
                              make_samples(build, np.ones((2, 3)), np.ones((2, 2))),
                              np.empty(0, np.intp), 1, optimizer_step(build, "sgd", 0.1))
    assert result == (0.0, 0, 0, False) and np.all(params == 1)


def small_problem(build, n=12, batch_alpha=0.05, dtype=np.float64):
    rng = np.random.default_rng(21)
    X, Y = rng.uniform(-1, 1, (n, 3)), rng.standard_normal((n, 2))
    coefs, intercepts = random_weights(rng, [3, 5, 2])
    plan = make_plan(build, [3, 5, 2], ["tanh", "identity"], "squared_error",
                     alpha=batch_alpha)
    return plan, X, Y, pack(build, coefs, intercepts, dtype)


@pytest.mark.parametrize("kind, batch_size", [("sgd", 1), ("momentum", 1), ("adam", 3),
                                              ("sgd", 4)])
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_epoch_in_slices_equals_one_call(build, kind, batch_size, sparse):
    """An epoch run as slices on batch boundaries, each given the previous
    loss_sum and Adam's step count, equals the one-call epoch bit for bit."""
    plan, X, Y, start = small_problem(build)
    samples = make_samples(build, X, Y, sparse=sparse)
    order = np.random.default_rng(0).permutation(len(X)).astype(np.intp)
    runs = []
    for cuts in ([0, 12], [0, batch_size, 2 * batch_size, 12] if batch_size < 4 else [0, 4, 12]):
        params, state, loss_sum, t = start.copy(), moments(kind, start), 0.0, 0
        for lo, hi in zip(cuts, cuts[1:]):
            loss_sum, steps, done, diverged = plan.train_epoch(
                params, *state, samples, order[lo:hi], batch_size,
                optimizer_step(build, kind, 0.05, t=t), loss_sum)
            t += steps
            assert (done, diverged) == (hi - lo, False)
        runs.append((loss_sum, t, params, *state))
    assert runs[0][:2] == runs[1][:2]
    for a, b in zip(runs[0][2:], runs[1][2:]):
        np.testing.assert_array_equal(a, b)


def zero_block_rows(rng, n_rows, n_in):
    """Inputs in [0, 1) where each block of eight columns (the row-major
    fused sweep's blocks, rows.h) is zero in about half the rows, some rows
    wholly zero, and a fifth of the other inputs zero one by one (the column
    copy skips single inputs, columns.h): consecutive rows then have blocks
    and inputs zero in both, in one, or in neither, and the n_in % 8 tail
    columns stay dense."""
    X = rng.uniform(0, 1, (n_rows, n_in))
    X[rng.uniform(size=X.shape) < 0.2] = 0
    n8 = n_in - n_in % 8
    X[:, n8:] = rng.uniform(0.5, 1, (n_rows, n_in - n8))
    blocks = X[:, :n8].reshape(n_rows, -1, 8)
    blocks[rng.uniform(size=blocks.shape[:2]) < 0.5] = 0
    X[::7, :n8] = 0
    return X


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("n_in", [43, 64])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "zero-weights"])
@pytest.mark.parametrize("n_hidden", [70, 250])
def test_fused_sweeps_skipping_zeros_are_bit_identical(build, dtype, n_threads, n_in,
                                                       weighted, n_hidden):
    """Per-sample plain SGD fuses the first layer's step for one sample with
    the next one's pre-activations, in one sweep that skips the weights of
    inputs zero in both rows: on the input-major column copy in a call of
    COLUMN_MIN_STEPS samples or more on one thread (columns.h), in the
    row-major layout, by blocks of eight, in a shorter one or on threads
    (rows.h).  The epoch in one call
    and the epoch in calls of 8 samples each equal, bit for bit, the epoch
    taken one sample per call (no step fused, every weight visited):
    parameters and loss sums.  70 ReLU units give dead and live rows, groups
    of four and leftovers, one neuron block of the column kernels (five
    with AVX2), and three chunks for the threads; 250, two or three blocks
    of the column kernels (as even as they can be).  With weights, samples of
    weight zero sit between others: the sweep computes the next non-zero
    one's pre-activations."""
    assert 8 < build.column_min_steps <= 40
    rng = np.random.default_rng(5)
    X = zero_block_rows(rng, 40, n_in)
    Y = np.eye(3)[rng.integers(3, size=40)]
    sw = None
    if weighted:
        sw = rng.uniform(0.5, 2, 40)
        sw[[3, 4, 5, 17, 39]] = 0
    coefs, intercepts = random_weights(rng, [n_in, n_hidden, 3])
    plan = make_plan(build, [n_in, n_hidden, 3], ["relu", "softmax"], "cross_entropy",
                     dtype=dtype, n_threads=n_threads, parallel_min_weights=0,
                     gemm_slice_rows=1)
    samples = make_samples(build, X, Y, sw, dtype=dtype)
    order = rng.permutation(40).astype(np.intp)
    runs, empty = [], np.empty(0, dtype)
    for cuts in (range(0, 41, 40), range(0, 41, 8), range(0, 41)):
        params, loss_sum = pack(build, coefs, intercepts, dtype), 0.0
        for lo, hi in zip(cuts, cuts[1:]):
            loss_sum, steps, done, diverged = plan.train_epoch(
                params, empty, empty, samples, order[lo:hi], 1,
                optimizer_step(build, "sgd", 0.2), loss_sum)
            assert (done, diverged) == (hi - lo, False)
        runs.append((loss_sum, params))
    for run in runs[:2]:
        assert run[0] == runs[2][0]
        np.testing.assert_array_equal(run[1], runs[2][1])
    assert not np.array_equal(runs[0][1], pack(build, coefs, intercepts, dtype))


@pytest.mark.parametrize("batch_size", [1, 3])
def test_non_finite_loss_stops_before_its_step(build, batch_size):
    """A sample whose loss is not finite (a huge target) stops the epoch: the
    batch holding it takes no step, done says where it lies, and the batches
    before it did train."""
    plan, X, Y, start = small_problem(build, batch_alpha=0.0)
    Y[7] = 1e200                      # (a - t)^2 overflows to inf
    samples = make_samples(build, X, Y)
    order = np.arange(len(X), dtype=np.intp)
    params = start.copy()
    loss_sum, steps, done, diverged = plan.train_epoch(
        params, EMPTY, EMPTY, samples, order, batch_size, optimizer_step(build, "sgd", 0.01))
    first_bad_batch = 7 // batch_size
    assert diverged and done == first_bad_batch * batch_size and steps == first_bad_batch
    assert np.isfinite(params).all() and np.isfinite(loss_sum)
    # the same as training only on the batches before it
    reference = start.copy()
    plan.train_epoch(reference, EMPTY, EMPTY, samples, order[:done], batch_size,
                     optimizer_step(build, "sgd", 0.01))
    np.testing.assert_array_equal(params, reference)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_all_finite_finds_every_inf_and_nan(build, dtype):
    """all_finite (the partial_fit / predict check of X) against numpy: a
    bad value in every position of arrays around its 32-value blocks, and
    finite extremes that must pass."""
    assert build.all_finite(np.empty(0, dtype=dtype))
    big = np.finfo(dtype).max
    for n in (1, 31, 32, 33, 70):
        values = (np.linspace(-1, 1, n) * big).astype(dtype)
        values[n // 2] = -0.0
        assert build.all_finite(values)
        for position in range(n):
            for bad in (np.nan, np.inf, -np.inf):
                spoiled = values.copy()
                spoiled[position] = bad
                assert not build.all_finite(spoiled)


def test_non_finite_parameters_are_reported(build):
    """Parameters that are not finite at the end of a call are reported even
    when every loss was finite (an inf weight behind a ReLU hides from it)."""
    plan = make_plan(build, [2, 3, 1], ["relu", "identity"], "squared_error")
    rng = np.random.default_rng(2)
    coefs, intercepts = random_weights(rng, [2, 3, 1])
    coefs[0][:, 0] = -np.inf             # unit 1 is dead for positive inputs
    params = pack(build, coefs, intercepts)
    samples = make_samples(build, rng.uniform(0.1, 1, (4, 2)), rng.standard_normal((4, 1)))
    loss_sum, _, done, diverged = plan.train_epoch(
        params, EMPTY, EMPTY, samples, np.arange(4, dtype=np.intp), 1,
        optimizer_step(build, "sgd", 0.01))
    assert np.isfinite(loss_sum) and done == 4 and diverged


def test_weights_scale_steps(build):
    """weights_scale_steps: a per-sample step with weight w is w times the
    unit-weight step's data term, with the L2 term unscaled (T.3a); loss w c +
    alpha/2 ||W||^2.  Without it the weight divides out (scikit-learn)."""
    rng = np.random.default_rng(3)
    X, Y = rng.uniform(-1, 1, (1, 3)), rng.standard_normal((1, 2))
    coefs, intercepts = random_weights(rng, [3, 4, 2])
    start = pack(build, coefs, intercepts)
    for scale in (True, False):
        plan = make_plan(build, [3, 4, 2], ["tanh", "identity"], "squared_error", alpha=0.2,
                         weights_scale_steps=scale)
        grad = np.empty_like(start)
        moves, losses = {}, {}
        for w in (1.0, 2.5):
            samples = make_samples(build, X, Y, np.array([w]))
            plan.loss_and_gradient(start, grad, samples)   # (w grad c + alpha W) / w
            params = start.copy()
            losses[w] = plan.train_epoch(params, EMPTY, EMPTY, samples, np.zeros(1, np.intp),
                                         1, optimizer_step(build, "sgd", 0.1))[0]
            want = -0.1 * (w if scale else 1.0) * grad
            np.testing.assert_allclose(params - start, want, rtol=1e-9, atol=1e-15)
            moves[w] = params - start
        c = np_loss(coefs, intercepts, ["tanh", "identity"], "squared_error", X, Y)
        l2 = 0.1 * sum((W ** 2).sum() for W in coefs)
        want_loss = 2.5 * c + l2 if scale else c + l2 / 2.5
        np.testing.assert_allclose(losses[2.5], want_loss, rtol=1e-12)


def test_activity_record_finds_dead_relu_layers(build):
    """dead_layers lists the hidden ReLU layers none of whose units was > 0 on
    the samples trained since reset_activity; predictions do not count."""
    plan = make_plan(build, [2, 3, 4, 1], ["relu", "relu", "identity"], "squared_error")
    rng = np.random.default_rng(4)
    coefs, intercepts = random_weights(rng, [2, 3, 4, 1])
    coefs[1][:] = -1.0
    intercepts[1][:] = -1.0              # layer 2 is off for any non-negative input
    X = rng.uniform(0, 1, (6, 2))
    coefs[0][:] = np.abs(coefs[0])      # layer 1 is on for positive inputs
    params = pack(build, coefs, intercepts)
    samples = make_samples(build, X, rng.standard_normal((6, 1)))
    plan.reset_activity()
    plan.forward(params, samples, np.empty((6, 1)))
    assert plan.dead_layers() == [0, 1] and plan.activity_samples == 0
    plan.train_epoch(params, EMPTY, EMPTY, samples, np.arange(6, dtype=np.intp), 2,
                     optimizer_step(build, "sgd", 1e-9))
    assert plan.dead_layers() == [1] and plan.activity_samples == 6
    plan.reset_activity()
    assert plan.dead_layers() == [0, 1] and plan.activity_samples == 0


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_gradient_in_slices_equals_one_call(build, sparse):
    """add_gradient over slices starting at multiples of GRADIENT_CHUNK_ROWS,
    carrying loss_sum, then finish_gradient: loss_and_gradient, bit for bit."""
    rng = np.random.default_rng(5)
    chunk = build.GRADIENT_CHUNK_ROWS
    X, Y = rng.uniform(-1, 1, (2 * chunk + 37, 3)), rng.standard_normal((2 * chunk + 37, 2))
    sw = rng.uniform(0.5, 2, len(X))
    plan, _, _, params = small_problem(build)
    samples = make_samples(build, X, Y, sw, sparse)
    whole = np.empty_like(params)
    loss = plan.loss_and_gradient(params, whole, samples)
    sliced, loss_sum = np.zeros_like(params), 0.0
    for lo, hi in ((0, chunk), (chunk, 2 * chunk), (2 * chunk, len(X))):
        loss_sum = plan.add_gradient(params, sliced, samples, lo, hi, loss_sum)
    assert samples.weight_sum() == sum(sw)          # in sample order
    assert plan.finish_gradient(params, sliced, loss_sum, samples.weight_sum()) == loss
    np.testing.assert_array_equal(sliced, whole)


# Units that take small_gemm.h through each of its column paths: blocks of
# three vectors, whole vectors, half vectors, single columns, and the padded
# forward tails (an output layer narrower than a vector, or between 1 and 3
# vectors wide); batches of one row, of fewer rows than a register block,
# and of several GEMM panels with a ragged end.
SMALL_GEMM_UNITS = [[64, 100, 10], [7, 3, 1], [13, 37, 26, 5], [33, 50, 17, 2]]


@contextlib.contextmanager
def switched(switch, enabled):
    """A kernels switch (use_small_gemms, use_live_inputs) set to enabled,
    then back to what it was."""
    previous = switch(enabled)
    try:
        yield
    finally:
        switch(previous)


def small_gemms(build, enabled):
    return switched(build.use_small_gemms, enabled)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("rows", [1, 5, 37, 200])
@pytest.mark.parametrize("units", SMALL_GEMM_UNITS, ids=str)
def test_small_gemm_passes_equal_blas_to_rounding(build, units, rows, dtype):
    """Narrow layers' minibatch products in small_gemm.h (the AVX-512 build)
    give BLAS's loss, gradient, training steps and blocked predictions, to
    rounding; builds without them stay on BLAS whatever is asked."""
    if not build.HAS_SMALL_GEMMS:
        with small_gemms(build, True):
            assert build.use_small_gemms(True) is False
        return
    rng = np.random.default_rng(rows)
    acts = ["tanh", "relu", "elu"][:len(units) - 2] + ["softmax"]
    plan = make_plan(build, units, acts, "cross_entropy", dtype=dtype)
    assert plan.small_gemm_layers() == list(range(len(units) - 1))
    with small_gemms(build, False):
        assert plan.small_gemm_layers() == []
    params = pack(build, *random_weights(rng, units), dtype=dtype)
    X = rng.uniform(-1, 1, (rows, units[0])).astype(dtype)
    Y = np.eye(units[-1], dtype=dtype)[rng.integers(units[-1], size=rows)]
    samples = make_samples(build, X, Y)
    rtol = 1e-12 if dtype == np.float64 else 2e-5
    results = {}
    for enabled in (True, False):
        with small_gemms(build, enabled):
            grad = np.empty_like(params)
            loss = plan.loss_and_gradient(params, grad, samples)
            trained = params.copy()
            order = np.tile(np.arange(rows, dtype=np.intp), 3)
            no_moment = np.empty(0, dtype)
            plan.train_epoch(trained, no_moment, no_moment, samples, order, rows,
                             optimizer_step(build, "sgd", 0.1), 0.0)
            many = np.tile(X, (build.FORWARD_BLOCK_ROWS // rows + 1, 1))
            out = np.empty((len(many), units[-1]), dtype=dtype)
            plan.forward(params, make_samples(build, many), out)
            results[enabled] = loss, grad, trained, out
    (loss, grad, trained, out), (loss_b, grad_b, trained_b, out_b) = results.values()
    assert loss == pytest.approx(loss_b, rel=rtol)
    np.testing.assert_allclose(grad, grad_b, rtol=rtol, atol=rtol * 1e-3)
    np.testing.assert_allclose(trained, trained_b, rtol=rtol, atol=rtol * 1e-3)
    np.testing.assert_allclose(out, out_b, rtol=rtol, atol=rtol * 1e-3)


def live_inputs(build, enabled):
    return switched(build.use_live_inputs, enabled)


def with_dead_inputs(rng, rows, n_in, dtype):
    """Inputs in [-1, 1] with 30 % of the columns zero in every row (a run of
    them and scattered ones: two compacted runs and more), a few zero but for
    one row (live), and single zeros anywhere."""
    X = rng.uniform(-1, 1, (rows, n_in)).astype(dtype)
    dead = np.zeros(n_in, bool)
    dead[: n_in // 10] = True
    dead[rng.permutation(n_in)[: n_in // 5]] = True
    X[:, dead] = 0
    for k in np.flatnonzero(~dead)[:5]:
        X[:, k] = 0
        X[rng.integers(rows), k] = 0.5
    X[rng.uniform(size=X.shape) < 0.1] = 0
    return X, dead


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("units", [[300, 250, 10], [400, 200, 30, 4]], ids=str)
def test_live_input_batches_equal_whole_ones_to_rounding(build, units, n_threads, dtype):
    """Minibatches whose inputs are zero throughout in an eighth of the
    columns or more run their first layer's GEMMs on the live inputs only
    (T.12, 1.29: a dead input adds w * 0 to every sum and 0 to its weights'
    gradients): the same loss, gradient, training steps with every optimizer
    and L2, and blocked predictions as the whole batch, to rounding; 1 and 2
    threads give the same bits.  Batches of fewer than 64 rows, and inputs
    with no dead column, are not compacted."""
    rng = np.random.default_rng(len(units) + n_threads)
    rows = 256
    X, dead = with_dead_inputs(rng, rows, units[0], dtype)
    Y = np.eye(units[-1], dtype=dtype)[rng.integers(units[-1], size=rows)]
    samples = make_samples(build, X, Y)
    acts = ["relu", "tanh", "logistic"][:len(units) - 2] + ["softmax"]
    params = pack(build, *random_weights(rng, units), dtype=dtype)
    order = np.concatenate([rng.permutation(rows) for _ in range(2)]).astype(np.intp)
    many = np.tile(X, (build.FORWARD_BLOCK_ROWS // rows + 1, 1))
    rtol = 1e-12 if dtype == np.float64 else 2e-5
    w0 = build.layer_offsets(units)[0][0]
    results = {}
    for enabled in (True, False):
        with live_inputs(build, enabled):
            plan = make_plan(build, units, acts, "cross_entropy", dtype=dtype, alpha=1e-3,
                             n_threads=n_threads, parallel_min_weights=0,
                             gemm_slice_rows=1)
            before = build.compacted_batches()
            grad = np.empty_like(params)
            got = [plan.loss_and_gradient(params, grad, samples), grad]
            for kind in ("sgd", "momentum", "adam"):
                trained = params.copy()
                state = [m if m.size else m.astype(dtype) for m in moments(kind, params)]
                plan.train_epoch(trained, *state, samples, order, 100,
                                 optimizer_step(build, kind, 0.05, nesterov=True), 0.0)
                got += [trained] + [m for m in state if m.size]
            out = np.empty((len(many), units[-1]), dtype=dtype)
            plan.forward(params, make_samples(build, many), out, n_threads)
            got.append(out)
            results[enabled] = got
            compacted = build.compacted_batches() - before
        if enabled:
            # the gradient's chunks, each epoch's batches of 100 (not the 12
            # left over) and each predicted block
            assert rows % build.GRADIENT_CHUNK_ROWS == 0
            chunks = rows // build.GRADIENT_CHUNK_ROWS
            blocks = -(-len(many) // build.FORWARD_BLOCK_ROWS)
            assert compacted == chunks + 3 * (len(order) // 100) + blocks
        else:
            assert compacted == 0
    # the loss, the gradient and the outputs to rounding; ten steps of
    # training (Adam's divisions among them) carry a few roundings further
    (loss, grad, *steps, out), (loss_b, grad_b, *steps_b, out_b) = results.values()
    assert loss == pytest.approx(loss_b, rel=rtol)
    np.testing.assert_allclose(grad, grad_b, rtol=rtol, atol=rtol * 1e-3)
    np.testing.assert_allclose(out, out_b, rtol=rtol, atol=rtol * 1e-3)
    for a, b in zip(steps, steps_b):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * 1e-1)
    # the dead inputs' gradient is their L2 term alone, and plain SGD
    # moves their weights by exactly that
    W = params[w0:w0 + units[0] * units[1]].reshape(units[1], units[0])
    G = grad[w0:w0 + units[0] * units[1]].reshape(units[1], units[0])
    np.testing.assert_allclose(G[:, dead], 1e-3 * W[:, dead] / rows, rtol=rtol)
    # what the bench asks: which first layers leave dead inputs out
    assert build.leaves_out_dead_inputs(*units[:2])
    assert build.leaves_out_dead_inputs(64, 100) == (not build.HAS_SMALL_GEMMS)
    with live_inputs(build, False):
        assert not build.leaves_out_dead_inputs(*units[:2])
    # the same plan on inputs without dead columns compacts nothing
    with live_inputs(build, True):
        before = build.compacted_batches()
        dense = make_samples(build, rng.uniform(-1, 1, (rows, units[0])).astype(dtype), Y)
        plan.train_epoch(params.copy(), EMPTY.astype(dtype), EMPTY.astype(dtype), dense,
                         order, 100, optimizer_step(build, "sgd", 0.05), 0.0)
        assert build.compacted_batches() == before


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_live_input_steps_leave_dead_weights_alone(build, dtype):
    """Plain SGD without L2 on a compacted batch moves no weight of a dead
    input, and moves the live ones as the whole batch does."""
    rng = np.random.default_rng(5)
    units = [300, 250, 10]
    X, dead = with_dead_inputs(rng, 128, units[0], dtype)
    Y = np.eye(10, dtype=dtype)[rng.integers(10, size=128)]
    params = pack(build, *random_weights(rng, units), dtype=dtype)
    w0 = build.layer_offsets(units)[0][0]
    first = slice(w0, w0 + units[0] * units[1])
    trained = {}
    for enabled in (True, False):
        with live_inputs(build, enabled):
            plan = make_plan(build, units, ["relu", "softmax"], "cross_entropy", dtype=dtype)
            trained[enabled] = params.copy()
            plan.train_epoch(trained[enabled], EMPTY.astype(dtype), EMPTY.astype(dtype),
                             make_samples(build, X, Y), np.arange(128, dtype=np.intp), 128,
                             optimizer_step(build, "sgd", 0.1), 0.0)
    moved = trained[True][first].reshape(units[1], units[0])
    start = params[first].reshape(units[1], units[0])
    np.testing.assert_array_equal(moved[:, dead], start[:, dead])
    assert np.abs(moved[:, ~dead] - start[:, ~dead]).max() > 1e-4
    rtol = 1e-12 if dtype == np.float64 else 2e-5
    np.testing.assert_allclose(trained[True], trained[False], rtol=rtol, atol=rtol * 1e-3)


# ---------------------------------------------------------------------------
# 3. forward.
# ---------------------------------------------------------------------------

FORWARD_ACTIVATIONS = ["identity", "logistic", Logistic(L=2, k=0.5, x0=0.3), "tanh",
                       "relu", "elu", ELU(alpha=0.5), "softmax", "step", "exp"]


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("act", FORWARD_ACTIVATIONS, ids=spec_id)
def test_forward_equals_numpy(build, act, dtype):
    """forward (1.3, 1.4) == the numpy forward pass for every activation in
    every layer, dense and CSR; 1 and 2 threads give the same bits."""
    rng = np.random.default_rng(3)
    units = [6, 7, 5, 4]
    X = rng.uniform(-1, 1, (130, 6)).astype(dtype)
    X[rng.uniform(size=X.shape) < 0.3] = 0
    coefs, intercepts = random_weights(rng, units, dtype=dtype)
    plan = make_plan(build, units, [act] * 3, "squared_error", dtype=dtype)
    params = pack(build, coefs, intercepts, dtype)
    want = np_forward(coefs, intercepts, [act] * 3, X)[1][-1]
    tol = dict(rtol=1e-12, atol=1e-14) if dtype == np.float64 else dict(rtol=1e-5, atol=1e-6)
    for sparse in (False, True):
        samples = make_samples(build, X, sparse=sparse)
        outs = []
        for n_threads in (1, 2):
            out = np.full((130, 4), np.nan, dtype=dtype)
            plan.forward(params, samples, out, n_threads)
            outs.append(out)
        np.testing.assert_allclose(outs[0], want, **tol)
        np.testing.assert_array_equal(outs[0], outs[1])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_blocked_forward_agrees_with_the_per_row_pass(build, dtype):
    """Many dense rows go through GEMM blocks (the batched form): the same
    outputs as one row at a time, to rounding, and bit-identical for 1 and 2
    threads (each block is one thread's)."""
    rng = np.random.default_rng(9)
    units = [30, 40, 20, 5]
    acts = ["tanh", "relu", "softmax"]
    plan = make_plan(build, units, acts, "cross_entropy")
    params = pack(build, *random_weights(rng, units), dtype=dtype)
    X = rng.uniform(-1, 1, (3 * build.FORWARD_BLOCK_ROWS + 7, units[0])).astype(dtype)
    blocked = np.empty((len(X), units[-1]), dtype=dtype)
    plan.forward(params, make_samples(build, X), blocked)
    rows = np.vstack([_forward_one(build, plan, params, x, units[-1]) for x in X])
    rtol = 1e-12 if dtype == np.float64 else 2e-5
    np.testing.assert_allclose(blocked, rows, rtol=rtol, atol=rtol * 1e-3)
    two = np.empty_like(blocked)
    plan.forward(params, make_samples(build, X), two, 2)
    np.testing.assert_array_equal(two, blocked)


def _forward_one(build, plan, params, x, n_out):
    out = np.empty((1, n_out), dtype=x.dtype)
    plan.forward(params, make_samples(build, x[None, :]), out)
    return out


# ---------------------------------------------------------------------------
# 4. Worked examples.
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_two_two_one_logistic_network_by_hand(build, sparse):
    """The 2-2-1 example of test_network.py on the kernel: one SGD step,
    eta = 0.5, x = (1, 0.5), t = 1, logistic layers, squared error through the
    general delta (2.16).  Weights by neuron rows: w^1 = [[0.5, -1], [0.25,
    0.75]], b^1 = (0, -0.5), w^2 = [[1, -2]], b^2 = 0.5; a^2 = 0.48440...,
    c = 0.13292...; the values after the step are worked out in
    test_network.py's docstring."""
    plan = make_plan(build, [2, 2, 1], ["logistic", "logistic"], "squared_error")
    params = np.array([0.5, -1.0, 0.25, 0.75, 0.0, -0.5, 1.0, -2.0, 0.5])
    after = np.array([0.5160968044131754, -0.9919515977934123,
                      0.2179318206912439, 0.7339659103456220,
                      0.01609680441317541, -0.5320681793087561,
                      1.032193608826351, -1.965796906457429, 0.5643872176527016])
    samples = make_samples(build, np.array([[1.0, 0.5]]), np.array([[1.0]]), sparse=sparse)
    out = np.empty((1, 1))
    plan.forward(params, samples, out)
    np.testing.assert_allclose(out, [[0.4844003777915388]], rtol=1e-12)
    grad = np.empty_like(params)
    loss = plan.loss_and_gradient(params, grad, samples)
    np.testing.assert_allclose(loss, 0.1329214852107539, rtol=1e-12)
    np.testing.assert_allclose(grad, (params - after) / 0.5, rtol=0, atol=2e-9)
    loss_sum, steps, _, _ = plan.train_epoch(params, EMPTY, EMPTY, samples,
                                             np.zeros(1, np.intp), 1,
                                             optimizer_step(build, "sgd", 0.5))
    np.testing.assert_allclose(loss_sum, 0.1329214852107539, rtol=1e-12)
    np.testing.assert_allclose(params, after, rtol=0, atol=1e-9)
    assert steps == 1


@pytest.mark.parametrize("fused", [True, False], ids=["fused", "general"])
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_softmax_cross_entropy_output_delta_is_a_minus_t(build, sparse, fused):
    """Softmax + cross entropy: s^L = a - t (2.21), by the fused delta and by
    the general J^T dc/da (2.16) alike; every non-target class gets +a_k > 0,
    where the wrong -t (1 - a) would give 0.  The output biases of one
    per-sample SGD step move by -eta (a - t)."""
    rng = np.random.default_rng(4)
    X, t = rng.uniform(-1, 1, (1, 4)), np.array([[0.0, 1.0, 0.0, 0.0]])
    coefs, intercepts = random_weights(rng, [4, 6, 4])
    plan = make_plan(build, [4, 6, 4], ["relu", "softmax"], "cross_entropy", fused=fused)
    a_hidden, a = np_forward(coefs, intercepts, ["relu", "softmax"], X)[1]
    _, grads = kernel_gradient(build, plan, coefs, intercepts, X, t, sparse=sparse)
    np.testing.assert_allclose(grads[3], (a - t)[0], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(grads[1], a_hidden.T @ (a - t), rtol=1e-12, atol=1e-15)
    assert np.all(grads[3][t[0] == 0] > 0)
    assert not np.allclose(grads[3], (-t * (1 - a))[0])
    params = pack(build, coefs, intercepts)
    plan.train_epoch(params, EMPTY, EMPTY, make_samples(build, X, t, sparse=sparse),
                     np.zeros(1, np.intp), 1, optimizer_step(build, "sgd", 0.1))
    moved = unpack(build, params, [4, 6, 4])[3] - intercepts[1]
    np.testing.assert_allclose(moved, -0.1 * (a - t)[0], rtol=1e-10, atol=1e-15)


# ---------------------------------------------------------------------------
# 5. Threads: bit-identical results for any n_threads.
# ---------------------------------------------------------------------------

# name: (batch_size, alpha, optimizer kind, its learning rate)
THREAD_CASES = {
    "sgd_batch1": (1, 0.0, "sgd", 0.01),
    "sgd_batch1_l2": (1, 0.01, "sgd", 0.01),
    "momentum_batch1": (1, 0.0, "momentum", 0.01),
    "adam_batch16": (16, 0.0, "adam", 0.001),
    "sgd_batch16": (16, 0.0, "sgd", 0.01),
}
THREAD_UNITS = [20, 40, 100, 3]   # 100 neurons: four 32-row chunks


def thread_problem():
    rng = np.random.default_rng(6)
    X = rng.uniform(-1, 1, (48, 20))
    X[X < 0.2] = 0.0   # zeros, so the sparse path has something to skip
    Y = np.eye(3)[rng.integers(0, 3, 48)]
    return X, Y, random_weights(rng, THREAD_UNITS)


def thread_plan(build, n_threads, alpha=0.0, slice_rows=1):
    """Every layer on the threaded code (parallel_min_weights=0), its
    minibatch GEMMs in four slices (gemm_slice_rows=1) unless slice_rows
    asks for fewer."""
    return make_plan(build, THREAD_UNITS, ["tanh", "tanh", "softmax"], "cross_entropy",
                     alpha=alpha, n_threads=n_threads, parallel_min_weights=0,
                     gemm_slice_rows=slice_rows)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("case", list(THREAD_CASES))
def test_train_epoch_bit_identical_for_1_and_2_threads(build, request, case, sparse):
    """Two epochs on 1 and on 2 threads give the same bits: parameters,
    moments, loss sums and step counts.  The 100-neuron layer's partial sums
    of W^T s (1.20) must be added in one fixed order.  BLAS runs on one
    thread, as fastnet/training.py holds it.  Without OpenMP both runs are
    serial; the report's user_properties say which happened."""
    request.node.user_properties.append(("openmp_threads_ran", build.has_openmp()))
    X, Y, (coefs, intercepts) = thread_problem()
    batch_size, alpha, kind, eta = THREAD_CASES[case]
    samples = make_samples(build, X, Y, sparse=sparse)
    order = np.random.default_rng(1).permutation(48).astype(np.intp)
    runs = []
    for n_threads in (1, 2):
        plan = thread_plan(build, n_threads, alpha)
        params = pack(build, coefs, intercepts)
        state = moments(kind, params)
        results, t = [], 0
        with threadpool_limits(limits=1, user_api="blas"):
            for _ in range(2):
                results.append(plan.train_epoch(params, *state, samples, order,
                                                batch_size, optimizer_step(build, kind, eta,
                                                                           t=t)))
                t += results[-1][1]
        runs.append((results, params, *state))
    assert runs[0][0] == runs[1][0]
    for a, b in zip(runs[0][1:], runs[1][1:]):
        np.testing.assert_array_equal(a, b)


# gemm_slice_rows: four slices of every threaded GEMM; three of the 100-neuron
# layer's and one of the others' (30); one GEMM each (the default, 256)
SLICE_ROWS = {"4_slices": 1, "3_or_1_slices": 30, "default": 256}


@pytest.mark.parametrize("slices", list(SLICE_ROWS))
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_loss_and_gradient_bit_identical_for_1_and_2_threads(build, sparse, slices):
    X, Y, (coefs, intercepts) = thread_problem()
    with threadpool_limits(limits=1, user_api="blas"):
        results = [kernel_gradient(build, thread_plan(build, n_threads, 0.01,
                                                      SLICE_ROWS[slices]),
                                   coefs, intercepts, X, Y, sparse=sparse)
                   for n_threads in (1, 2)]
    assert results[0][0] == results[1][0]
    for a, b in zip(results[0][1], results[1][1]):
        np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------------------
# 6. Flush-to-zero stays inside training.
# ---------------------------------------------------------------------------

x86 = pytest.mark.skipif(platform.machine().lower() not in ("x86_64", "amd64"),
                         reason="FTZ/DAZ are bits of the x86 MXCSR")
SUBNORMAL = np.float64(1e-300) * np.float64(1e-10)


@x86
@pytest.mark.parametrize("n_threads", [1, 2])
def test_training_flushes_subnormal_state_on_every_thread(build, n_threads):
    """Inside train_epoch subnormals are zero (FTZ/DAZ, platform.pxi) on the
    caller and the OpenMP workers: a zero-gradient weight's velocity 1e-310
    decays to 0, not to the subnormal 0.9e-310, in both 32-row chunks."""
    plan = make_plan(build, [2, 64], ["identity"], "squared_error",
                     n_threads=n_threads, parallel_min_weights=0,
                     gemm_slice_rows=1)
    params = np.zeros(plan.n_params)
    velocity = np.full(plan.n_params, 1e-310)
    samples = make_samples(build, np.array([[1.0, 0.0]]), np.ones((1, 64)))
    plan.train_epoch(params, velocity, EMPTY, samples, np.zeros(1, np.intp), 1,
                     optimizer_step(build, "momentum", 0.1))
    W = unpack(build, velocity, [2, 64])[0]    # (n_in, n_out); input 1 is 0
    assert np.all(W[1] == 0)          # without the flush: 0.9e-310
    assert np.all(W[0] == 0.1)        # input 1 with gradient -1: -0.1 * (-1)


def _train(build, hidden, kind, batch_size):
    """One epoch (or a gradient) of a 40-hidden-1 relu network on 2 threads."""
    rng = np.random.default_rng(7)
    X = rng.uniform(-1, 1, (16, 40))
    Y = (X[:, 0] - X[:, 1])[:, None]
    coefs, intercepts = random_weights(rng, [40, hidden, 1])
    plan = make_plan(build, [40, hidden, 1], ["relu", "identity"], "squared_error",
                     n_threads=2, parallel_min_weights=0,
                     gemm_slice_rows=1)
    params = pack(build, coefs, intercepts)
    samples = make_samples(build, X, Y)
    if kind == "gradient":
        plan.loss_and_gradient(params, np.empty_like(params), samples)
        return
    with threadpool_limits(limits=1, user_api="blas"):
        plan.train_epoch(params, *moments(kind, params), samples,
                         np.arange(16, dtype=np.intp), batch_size,
                         optimizer_step(build, kind, 0.001))


FTZ_CASES = {"momentum_2_chunks": (64, "momentum", 1), "one_chunk": (16, "momentum", 1),
             "adam_minibatch": (64, "adam", 8), "loss_and_gradient": (64, "gradient", 0)}


@x86
@pytest.mark.parametrize("case", list(FTZ_CASES))
def test_no_thread_left_flushing_after_training(build, case):
    """After training on 2 threads neither the caller nor the OpenMP workers
    flush: numpy in the caller, and forward on the same worker threads, still
    produce the exact subnormal 1e-300 * 1e-10."""
    assert SUBNORMAL != 0
    _train(build, *FTZ_CASES[case])
    assert np.float64(1e-300) * np.float64(1e-10) == SUBNORMAL       # the caller
    linear = make_plan(build, [1, 1], ["identity"], "squared_error")
    out = np.empty((256, 1))
    linear.forward(np.array([1e-10, 0.0]), make_samples(build, np.full((256, 1), 1e-300)),
                   out, 2)
    assert np.all(out == SUBNORMAL)                                   # the workers


# ---------------------------------------------------------------------------
# 7. The boundary: bad arguments raise, never crash.
# ---------------------------------------------------------------------------

class Call:
    """A valid small plan and arguments for each entry point; ``train``,
    ``gradient`` and ``forward`` call it with some arguments replaced."""

    def __init__(self, build):
        self.build = build
        rng = np.random.default_rng(2)
        self.X, self.Y = rng.uniform(-1, 1, (5, 3)), rng.standard_normal((5, 2))
        self.plan = make_plan(build, [3, 4, 2], ["tanh", "identity"], "squared_error")
        self.params = np.zeros(self.plan.n_params)
        self.samples = make_samples(build, self.X, self.Y)

    def plan_args(self, **changes):
        args = dict(layer_units=[3, 4, 2], activations=[2, 0],
                    activation_params=np.zeros((2, 3)), loss=0, fused_delta=True)
        args.update(changes)
        return self.build.Plan(**args)

    def train(self, **changes):
        args = dict(params=self.params.copy(), first_moment=np.zeros_like(self.params),
                    second_moment=np.zeros_like(self.params), samples=self.samples,
                    order=np.arange(5, dtype=np.intp), batch_size=2,
                    optimizer=optimizer_step(self.build, "adam", 0.01))
        args.update(changes)
        return self.plan.train_epoch(*args.values())

    def gradient(self, **changes):
        args = dict(params=self.params, grad=np.empty_like(self.params), samples=self.samples)
        args.update(changes)
        return self.plan.loss_and_gradient(*args.values())

    def forward(self, **changes):
        args = dict(params=self.params, samples=self.samples, out=np.empty((5, 2)),
                    n_threads=1)
        args.update(changes)
        return self.plan.forward(*args.values())

    def csr(self, data=(1.0, 2.0, 3.0), indices=(0, 2, 1), indptr=(0, 2, 2, 3),
            n_features=3, index_dtype=np.intp):
        return self.build.Samples.csr(np.array(data), np.array(indices, index_dtype),
                                      np.array(indptr, index_dtype), n_features)


def _readonly(a):
    a.flags.writeable = False
    return a


BAD_CALLS = {
    # Plan
    "plan_one_layer": lambda c: c.plan_args(layer_units=[3], activations=[],
                                            activation_params=np.zeros((0, 3))),
    "plan_zero_units": lambda c: c.plan_args(layer_units=[3, 0, 2]),
    "plan_negative_units": lambda c: c.plan_args(layer_units=[3, -4, 2]),
    "plan_activation_count": lambda c: c.plan_args(activations=[2]),
    "plan_activation_params_shape": lambda c: c.plan_args(activation_params=np.zeros((2, 2))),
    "plan_int_dtype": lambda c: c.plan_args(dtype=np.int64),
    "plan_zero_threads": lambda c: c.plan_args(n_threads=0),
    # train_epoch
    "params_too_short": lambda c: c.train(params=c.params[:-1].copy()),
    "params_too_long": lambda c: c.train(params=np.zeros(c.plan.n_params + 1)),
    "params_float32": lambda c: c.train(params=c.params.astype(np.float32)),
    "params_all_float32": lambda c: c.train(
        params=c.params.astype(np.float32), first_moment=c.params.astype(np.float32),
        second_moment=c.params.astype(np.float32)),
    "params_int": lambda c: c.train(params=np.zeros(c.plan.n_params, int)),
    "params_not_contiguous": lambda c: c.train(params=np.zeros(2 * c.plan.n_params)[::2]),
    "params_read_only": lambda c: c.train(params=_readonly(c.params.copy())),
    "first_moment_length": lambda c: c.train(first_moment=np.zeros(3)),
    "second_moment_length": lambda c: c.train(second_moment=np.zeros(c.plan.n_params - 1)),
    "momentum_without_velocity": lambda c: c.train(
        first_moment=EMPTY, optimizer=optimizer_step(c.build, "momentum", 0.1)),
    "samples_feature_count": lambda c: c.train(
        samples=make_samples(c.build, np.ones((5, 4)), c.Y)),
    "samples_float32": lambda c: c.train(
        samples=make_samples(c.build, c.X, c.Y, dtype=np.float32)),
    "samples_csr_feature_count": lambda c: c.train(
        samples=make_samples(c.build, np.eye(5, 4), c.Y, sparse=True)),
    "samples_without_targets": lambda c: c.train(samples=make_samples(c.build, c.X)),
    "targets_output_count": lambda c: c.train(
        samples=make_samples(c.build, c.X, np.ones((5, 3)))),
    "order_out_of_range": lambda c: c.train(order=np.array([0, 5], np.intp)),
    "order_negative": lambda c: c.train(order=np.array([0, -1], np.intp)),
    "order_int32": lambda c: c.train(order=np.arange(5, dtype=np.int32)),
    "order_not_contiguous": lambda c: c.train(order=np.arange(10, dtype=np.intp)[::2]),
    "batch_size_zero": lambda c: c.train(batch_size=0),
    "batch_size_negative": lambda c: c.train(batch_size=-1),
    "optimizer_missing_field": lambda c: c.train(optimizer={"kind": 0, "learning_rate": 0.1}),
    # loss_and_gradient
    "gradient_grad_length": lambda c: c.gradient(grad=np.empty(3)),
    "gradient_params_length": lambda c: c.gradient(params=np.zeros(3)),
    "gradient_no_samples": lambda c: c.gradient(
        samples=make_samples(c.build, np.ones((0, 3)), np.ones((0, 2)))),
    "gradient_without_targets": lambda c: c.gradient(samples=make_samples(c.build, c.X)),
    "gradient_samples_float32": lambda c: c.gradient(
        samples=make_samples(c.build, c.X, c.Y, dtype=np.float32)),
    # forward
    "forward_out_shape": lambda c: c.forward(out=np.empty((5, 3))),
    "forward_out_rows": lambda c: c.forward(out=np.empty((4, 2))),
    "forward_out_float32": lambda c: c.forward(out=np.empty((5, 2), np.float32)),
    "forward_out_not_contiguous": lambda c: c.forward(out=np.empty((2, 5)).T),
    "forward_params_length": lambda c: c.forward(params=np.zeros(4)),
    "forward_feature_count": lambda c: c.forward(
        samples=make_samples(c.build, np.ones((5, 2)))),
    "forward_samples_float32": lambda c: c.forward(
        samples=make_samples(c.build, c.X, dtype=np.float32)),
    # Samples.dense
    "dense_fortran_order": lambda c: c.build.Samples.dense(np.asfortranarray(c.X), None),
    "dense_int": lambda c: c.build.Samples.dense(np.ones((5, 3), int)),
    "dense_one_dimensional": lambda c: c.build.Samples.dense(np.ones(3)),
    "dense_list": lambda c: c.build.Samples.dense([[1.0, 2.0]]),
    "dense_targets_dtype": lambda c: c.build.Samples.dense(c.X, c.Y.astype(np.float32)),
    "dense_targets_rows": lambda c: c.build.Samples.dense(c.X, c.Y[:4].copy()),
    "dense_targets_one_dimensional": lambda c: c.build.Samples.dense(c.X, np.ones(5)),
    "dense_weights_length": lambda c: c.build.Samples.dense(c.X, c.Y, np.ones(4)),
    "dense_weights_two_dimensional": lambda c: c.build.Samples.dense(c.X, c.Y,
                                                                     np.ones((5, 1))),
    # Samples.csr
    "csr_index_too_large": lambda c: c.csr(indices=(0, 3, 1)),
    "csr_index_negative": lambda c: c.csr(indices=(0, -1, 1)),
    "csr_indptr_decreasing": lambda c: c.csr(indptr=(0, 2, 1, 3)),
    "csr_indptr_not_from_zero": lambda c: c.csr(indptr=(1, 2, 2, 3)),
    "csr_indptr_past_data": lambda c: c.csr(indptr=(0, 2, 2, 4)),
    "csr_indptr_short_of_data": lambda c: c.csr(indptr=(0, 1, 1, 2)),
    "csr_indices_data_lengths": lambda c: c.csr(indices=(0, 2)),
    "csr_indptr_empty": lambda c: c.csr(data=(), indices=(), indptr=()),
    "csr_int32_indices": lambda c: c.csr(index_dtype=np.int32),
    "csr_data_int": lambda c: c.build.Samples.csr(np.ones(3, int), np.arange(3),
                                                  np.array([0, 3]), 3),
}


@pytest.mark.parametrize("case", list(BAD_CALLS))
def test_bad_arguments_raise(build, case):
    """Every entry point checks its arguments: a ValueError or TypeError,
    never a crash or a silent misread.  The valid calls work."""
    call = Call(build)
    call.train(), call.gradient(), call.forward(), call.csr(), call.plan_args()
    with pytest.raises((ValueError, TypeError)):
        BAD_CALLS[case](call)


@pytest.mark.parametrize("field, value", [("activations", [2, 42]), ("activations", [-1, 0]),
                                          ("loss", 9)])
def test_unknown_codes_raise(build, field, value):
    with pytest.raises(ValueError):
        Call(build).plan_args(**{field: value})


UNKNOWN_KIND = """
import numpy as np
import fastnet.kernels
k = fastnet.kernels.load({name!r})
plan = k.Plan([2, 1], [0], np.zeros((1, 3)), 0, fused_delta=True)
n = plan.n_params
samples = k.Samples.dense(np.ones((1, 2)), np.ones((1, 1)))
step = dict(kind=7, learning_rate=0.1, momentum=0.0, nesterov=False, beta_1=0.9,
            beta_2=0.999, epsilon=1e-8, t=0)
try:
    plan.train_epoch(np.zeros(n), np.zeros(n), np.zeros(n), samples,
                     np.zeros(1, np.intp), 1, step)
except ValueError:
    print("raised")
"""


def test_unknown_optimizer_kind_raises(build, fastnet_env):
    """Run in a subprocess: an unchecked kind would take Adam's update without
    a second moment (a NULL buffer) and kill the process."""
    proc = subprocess.run([sys.executable, "-c", UNKNOWN_KIND.format(name=build_name(build))],
                          capture_output=True, text=True, timeout=60, env=fastnet_env,
                          cwd=Path(__file__).parent)
    assert proc.returncode == 0 and proc.stdout.strip() == "raised", (proc.returncode,
                                                                     proc.stderr)


def build_name(build):
    return next(name for name, module in fastnet.kernels.BUILDS.items()
                if build.__name__ == f"fastnet.{module}")


# ---------------------------------------------------------------------------
# 8. The code tables.
# ---------------------------------------------------------------------------

ACTIVATION_CODES = {"IDENTITY": 0, "LOGISTIC": 1, "TANH": 2, "RELU": 3, "ELU": 4,
                    "SOFTMAX": 5, "STEP": 6, "EXP": 7}
LOSS_CODES = {"SQUARED_ERROR": 0, "CROSS_ENTROPY": 1, "BINARY_CROSS_ENTROPY": 2,
              "POISSON": 3}
OPTIMIZER_CODES = {"SGD": 0, "MOMENTUM": 1, "ADAM": 2}


def test_code_tables(build):
    """The enums hold the codes the kernels switch on, and Python's tables
    (activation names, loss names) are derived from them."""
    assert {m.name: int(m) for m in build.Activation} == ACTIVATION_CODES
    assert {m.name: int(m) for m in build.Loss} == LOSS_CODES
    assert {m.name: int(m) for m in build.Optimizer} == OPTIMIZER_CODES
    assert build.Activation.RELU == 3
    assert fastnet.activations.CODES == {name.lower(): code
                                         for name, code in ACTIVATION_CODES.items()}
    assert {name: int(code) for name, code in fastnet.network.LOSSES.items()} == {
        name.lower(): code for name, code in LOSS_CODES.items()}


@pytest.mark.parametrize("name, code", list(ACTIVATION_CODES.items()))
def test_activation_code_runs_its_activation(build, name, code):
    """A plan given the bare integer code computes that activation (forward
    through identity weights)."""
    z = np.array([[-1.5, -0.2, 0.3, 2.0]])
    plan = build.Plan([4, 4], [code], np.array([[1.0, 1.0, 0.0]]), 0, fused_delta=False)
    params = np.concatenate([np.eye(4).ravel(), np.zeros(4)])
    out = np.empty((1, 4))
    plan.forward(params, make_samples(build, z), out)
    np.testing.assert_allclose(out, np_activate(name.lower(), z), rtol=1e-14, atol=0)


@pytest.mark.parametrize("name, code", list(LOSS_CODES.items()))
def test_loss_code_computes_its_loss(build, name, code):
    """A plan given the bare integer loss code reports that loss."""
    a = np.array([[0.2, 0.3, 0.5]])   # logistic inputs chosen so outputs are a
    t = np.array([[0.0, 1.0, 0.0]])
    plan = build.Plan([3, 3], [1], np.array([[1.0, 1.0, 0.0]]), code, fused_delta=False)
    params = np.concatenate([np.eye(3).ravel(), np.zeros(3)])
    loss = plan.loss_and_gradient(params, np.empty(12),
                                  make_samples(build, np.log(a / (1 - a)), t))
    np.testing.assert_allclose(loss, np_loss([np.eye(3)], [np.zeros(3)], ["logistic"],
                                             name.lower(), np.log(a / (1 - a)), t),
                               rtol=1e-12)



# ---------------------------------------------------------------------------
# 9. CSR rows that list a column twice.
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("kind, batch_size, alpha", [
    ("sgd", 1, 0.0), ("sgd", 1, 0.1), ("momentum", 1, 0.0), ("adam", 1, 0.0),
    ("adam", 2, 0.0)], ids=["sgd1", "sgd1_l2", "momentum1", "adam1", "adam2"])
def test_csr_duplicate_entries_are_summed(build, kind, batch_size, alpha):
    """A CSR row may list a column more than once (scipy allows it until
    sum_duplicates); like scipy, every kernel path reads the sum: training,
    the gradient and forward equal those of the dense matrix."""
    rng = np.random.default_rng(8)
    data, indices, indptr = rng.uniform(-1, 1, 6), [0, 2, 0, 1, 1, 3], [0, 3, 6]
    dense = sp.csr_matrix((data, indices, indptr), shape=(2, 4)).toarray()
    Y = rng.standard_normal((2, 2))
    coefs, intercepts = random_weights(rng, [4, 3, 2])
    plan = make_plan(build, [4, 3, 2], ["tanh", "identity"], "squared_error", alpha=alpha)
    results = []
    for samples in (build.Samples.dense(dense, Y),
                    build.Samples.csr(data, np.array(indices, np.intp),
                                      np.array(indptr, np.intp), 4, Y)):
        params, out, grad = pack(build, coefs, intercepts), np.empty((2, 2)), np.empty(23)
        plan.forward(params, samples, out)
        plan.loss_and_gradient(params, grad, samples)
        plan.train_epoch(params, *moments(kind, params), samples,
                         np.arange(2, dtype=np.intp), batch_size,
                         optimizer_step(build, kind, 0.1))
        results.append((out, grad, params))
    for got, want in zip(results[1], results[0]):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)
