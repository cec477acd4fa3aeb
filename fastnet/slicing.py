"""Kernel calls of a bounded duration: progress within an epoch, and Ctrl-C
during an L-BFGS gradient.

A kernel call holds no GIL, and Python runs its signal handlers only between
bytecodes.  An epoch (or an L-BFGS gradient) is therefore run as several
calls over consecutive slices of its samples, each about ``SLICE_SECONDS``
long: the progress bar advances between them, and a KeyboardInterrupt
arrives at the latest when the running slice ends.  (The training loop
itself also runs the signal handlers every few hundredths of a second,
fastnet/_kernels/epoch.pxi, because a slice can take far longer than
planned when another process holds a core its threads wait for.)  Slices
end on whole batches and the kernels carry their sums from one slice to the
next, so the results are bit-identical to one call.
"""
import time

# The duration aimed at for one kernel call.
SLICE_SECONDS = 0.1

# A conservative speed for the first slice of a run, before any is measured:
# flops per second of a per-sample step (fastnet reaches 10-30 GFLOP/s).
ASSUMED_FLOPS = 2e9


class Slicer:
    """Cuts runs of n samples into slices of whole ``granularity``-sized
    batches lasting about SLICE_SECONDS, adapting to the measured speed.

    Parameters
    ----------
    granularity : int
        Slices start at multiples of this (the batch size).
    flops_per_sample : float
        The work of one sample, for the size of the first slice.
    """

    def __init__(self, granularity, flops_per_sample):
        self.granularity = max(1, int(granularity))
        self._size = self._whole(SLICE_SECONDS * ASSUMED_FLOPS / max(flops_per_sample, 1.0))

    def _whole(self, n_samples):
        """n_samples rounded down to whole batches, at least one."""
        return max(1, int(n_samples) // self.granularity) * self.granularity

    def slices(self, n):
        """(start, stop) pairs covering 0..n; the time between one pair and
        the request for the next sets the size of the slices that follow."""
        start = 0
        while start < n:
            stop = min(n, start + self._size)
            began = time.perf_counter()
            yield start, stop
            seconds = time.perf_counter() - began
            if stop - start == self._size and seconds > 0:
                self._size = self._whole(self._size * SLICE_SECONDS / seconds)
            start = stop
