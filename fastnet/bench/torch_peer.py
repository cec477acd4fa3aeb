"""PyTorch as a peer: the SGD loop a PyTorch user writes, per sample or per minibatch."""
import time

import numpy as np

from .settings import PER_SAMPLE_LEARNING_RATE
from .timing import interleaved_min_seconds


def sequential(torch, architecture):
    """``Linear``/``ReLU`` layers of ``architecture`` in float64, logits out."""
    layers = []
    units = architecture.units
    for n_in, n_out in zip(units[:-1], units[1:]):
        layers += [torch.nn.Linear(n_in, n_out), torch.nn.ReLU()]
    return torch.nn.Sequential(*layers[:-1]).double()


def torch_epochs(torch, X, y, architecture, batch_size, threads):
    """A measure (see timing.interleaved_min_seconds): the seconds of one
    PyTorch SGD epoch (float64) on ``threads`` threads.

    Plain SGD (no momentum) at PER_SAMPLE_LEARNING_RATE, cross-entropy
    averaged over the batch, like scikit-learn's and fastnet's; each epoch
    shuffles, then for each batch: zero_grad, forward, loss, backward, step.
    """
    torch.manual_seed(0)
    model = sequential(torch, architecture)
    loss_function = torch.nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=PER_SAMPLE_LEARNING_RATE)
    inputs = torch.from_numpy(np.ascontiguousarray(X, dtype=np.float64))
    targets = torch.from_numpy(y.astype(np.int64))

    def measure():
        previous_threads = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            start = time.perf_counter()
            order = torch.randperm(len(inputs))
            shuffled_inputs, shuffled_targets = inputs[order], targets[order]
            for first in range(0, len(inputs), batch_size):
                optimizer.zero_grad()
                batch = slice(first, first + batch_size)
                loss = loss_function(model(shuffled_inputs[batch]), shuffled_targets[batch])
                loss.backward()
                optimizer.step()
            return time.perf_counter() - start
        finally:
            torch.set_num_threads(previous_threads)

    return measure


def time_torch_epoch(torch, X, y, architecture, batch_size, threads, repeats):
    """µs per sample of a PyTorch SGD epoch (float64), the minimum of ``repeats``."""
    measure = torch_epochs(torch, X, y, architecture, batch_size, threads)
    return interleaved_min_seconds({"": measure}, repeats)[""] / len(X) * 1e6
