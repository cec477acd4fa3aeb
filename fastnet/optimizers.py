"""Stochastic optimizers as objects, in the spirit of scikit-learn's
``_stochastic_optimizers.py``: each owns its state, its step count, its
learning-rate schedule and its stopping rule, with scikit-learn's attribute
names (``learning_rate``, ``velocities``, ``t``, ``ms``, ``vs``).

The steps themselves run in the kernels (docs/maths.md, T.6-T.10): an
optimizer hands them its hyper-parameters (``kernel_step``) and its state
buffers (``moments``), laid out like the flat parameter buffer, and is told
how many steps they took (``steps_taken``).
"""
import math

import numpy as np

from .kernels import Optimizer
from .layout import aligned_zeros


class BaseOptimizer:
    """What SGD and Adam share: a learning rate and scikit-learn's stopping rule."""

    def __init__(self, learning_rate_init):
        self.learning_rate_init = learning_rate_init
        self.learning_rate = float(learning_rate_init)

    def iteration_ends(self, time_step):
        """Update the schedule at the end of an epoch; ``time_step`` counts the
        samples trained on so far."""

    def trigger_stopping(self, msg, verbose):
        """Whether training stops after too many epochs without improvement."""
        if verbose:
            print(msg + " Stopping.")
        return True

    def steps_taken(self, n_steps):
        """The kernels took ``n_steps`` optimizer steps."""

    def to_dtype(self, dtype):
        """Keep the state in the weights' dtype (L-BFGS may change theirs)."""
        for name, value in vars(self).items():
            if isinstance(value, np.ndarray) and value.dtype != dtype:
                setattr(self, name, value.astype(dtype))


class SGDOptimizer(BaseOptimizer):
    """Gradient descent with optional (Nesterov) momentum.

    Parameters
    ----------
    params : ndarray
        The flat parameter buffer (the velocities take its shape and dtype).
    learning_rate_init : float
    lr_schedule : {'constant', 'invscaling', 'adaptive'}
        'invscaling': learning_rate_init / (t + 1) ** power_t after each
        epoch, t the samples seen; 'adaptive': divided by 5 when training
        stalls, until it falls below 1e-6.
    momentum : float
        0 gives plain SGD (1.31), which keeps no velocities.
    nesterov : bool
    power_t : float
    """

    def __init__(self, params, learning_rate_init=0.1, lr_schedule="constant",
                 momentum=0.9, nesterov=True, power_t=0.5):
        super().__init__(learning_rate_init)
        self.lr_schedule = lr_schedule
        self.momentum = momentum
        self.nesterov = nesterov
        self.power_t = power_t
        # plain SGD (momentum 0) keeps no velocities
        # laid out as the weights, and like them on a cache line (layout.py)
        self.velocities = aligned_zeros(params.size if momentum > 0 else 0, params.dtype)

    def kernel_step(self):
        """The hyper-parameters of the kernels' step (their OptimizerStep)."""
        return {"kind": Optimizer.MOMENTUM if self.momentum > 0 else Optimizer.SGD,
                "learning_rate": self.learning_rate, "momentum": self.momentum,
                "nesterov": bool(self.nesterov), "beta_1": 0.0, "beta_2": 0.0,
                "epsilon": 0.0, "t": 0}

    def moments(self):
        """The state buffers the kernels update in place."""
        return self.velocities, np.empty(0, dtype=self.velocities.dtype)

    def iteration_ends(self, time_step):
        if self.lr_schedule == "invscaling":
            self.learning_rate = float(self.learning_rate_init) / (time_step + 1) ** self.power_t

    def trigger_stopping(self, msg, verbose):
        if self.lr_schedule != "adaptive":
            return super().trigger_stopping(msg, verbose)
        if self.learning_rate <= 1e-6:
            if verbose:
                print(msg + " Learning rate too small. Stopping.")
            return True
        self.learning_rate /= 5.0
        if verbose:
            print(msg + " Setting learning rate to %f" % self.learning_rate)
        return False


class AdamOptimizer(BaseOptimizer):
    """Adam (Kingma and Ba) as scikit-learn writes it.

    Parameters
    ----------
    params : ndarray
        The flat parameter buffer (the moments take its shape and dtype).
    learning_rate_init, beta_1, beta_2, epsilon : float

    Attributes
    ----------
    t : int
        Steps taken.
    ms, vs : ndarray
        First and second moment estimates.
    learning_rate : float
        The bias-corrected rate of the last step.
    """

    def __init__(self, params, learning_rate_init=0.001, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-8):
        super().__init__(learning_rate_init)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.t = 0
        self.ms = aligned_zeros(params.size, params.dtype)
        self.vs = aligned_zeros(params.size, params.dtype)

    def kernel_step(self):
        return {"kind": Optimizer.ADAM, "learning_rate": float(self.learning_rate_init),
                "momentum": 0.0, "nesterov": False, "beta_1": self.beta_1,
                "beta_2": self.beta_2, "epsilon": self.epsilon, "t": self.t}

    def moments(self):
        return self.ms, self.vs

    def steps_taken(self, n_steps):
        if n_steps:
            self.t += n_steps
            # math.sqrt is numpy's correctly rounded sqrt without the cost of
            # a ufunc call, which a one-row partial_fit would notice
            self.learning_rate = (self.learning_rate_init * math.sqrt(1 - self.beta_2 ** self.t)
                                  / (1 - self.beta_1 ** self.t))


def make_optimizer(estimator, params):
    """The optimizer an estimator's ``solver`` and hyper-parameters ask for."""
    if estimator.solver == "sgd":
        return SGDOptimizer(params, estimator.learning_rate_init, estimator.learning_rate,
                            estimator.momentum, estimator.nesterovs_momentum,
                            estimator.power_t)
    return AdamOptimizer(params, estimator.learning_rate_init, estimator.beta_1,
                         estimator.beta_2, estimator.epsilon)
