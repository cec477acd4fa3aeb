"""What ``fastnet bench`` measures: the networks, learning rates and budgets."""
from dataclasses import dataclass

import numpy as np

CLASSES = np.arange(10)
DIGITS_HIDDEN = (100,)
MNIST_HIDDEN = (256, 128)
WIDE_HIDDEN = (1024, 1024)
# predict_proba on many rows of a large network: BLAS-bound inference
INFERENCE_HIDDEN = (512, 512)
INFERENCE_ROWS = 20_000
BATCH_SIZE = 200

TARGET_ACCURACY = 0.97
PER_SAMPLE_LEARNING_RATE = 0.01
# fastnet's learning rate for the race to 97 %: a sweep of 0.005-0.1 on
# digits (seeds 0-5) reached 97 % in 2-7 epochs at 0.05, in 8-15 at 0.01.
RACE_LEARNING_RATE = 0.05
# FANN's own default learning rate: at 0.01 its sigmoid network learns slowly.
FANN_RACE_LEARNING_RATE = 0.7


@dataclass(frozen=True)
class Architecture:
    """Layer sizes of a dense classifier with ``len(CLASSES)`` outputs."""

    n_features: int
    hidden: tuple

    @property
    def units(self):
        return (self.n_features, *self.hidden, len(CLASSES))

    @property
    def weights(self):
        """Number of connection weights (biases not counted)."""
        return sum(a * b for a, b in zip(self.units[:-1], self.units[1:]))

    def __str__(self):
        return "-".join(str(u) for u in self.units)


@dataclass(frozen=True)
class Budget:
    """How much each measurement does in a run (``--quick`` or full)."""

    repeats: int            # timed epochs per measurement; the minimum counts
    mnist_samples: int      # MNIST-sized training samples (fastnet, FANN, minibatch)
    wide_samples: int       # samples for the wide network (fastnet only)
    digits_peer_samples: int  # per-sample scikit-learn / PyTorch subset, digits
    mnist_peer_samples: int   # the same on the MNIST-sized network
    race_epochs_per_sample: int  # epoch cap of the per-sample races to 97 %
    race_epochs_minibatch: int   # epoch cap of the Adam races to 97 %
    race_repeats: int       # runs of each (deterministic) race; the fastest counts
    latency_calls: int      # one-row calls per latency measurement; the median counts
    inference_repeats: int  # predict_proba calls on INFERENCE_ROWS rows; the fastest counts


QUICK = Budget(repeats=3, mnist_samples=1000, wide_samples=100, digits_peer_samples=300,
               mnist_peer_samples=100, race_epochs_per_sample=30, race_epochs_minibatch=300,
               race_repeats=2, latency_calls=2000, inference_repeats=2)
FULL = Budget(repeats=5, mnist_samples=5000, wide_samples=2000, digits_peer_samples=1347,
              mnist_peer_samples=1000, race_epochs_per_sample=30, race_epochs_minibatch=500,
              race_repeats=3, latency_calls=5000, inference_repeats=5)
