"""The GEMMs alone: the least time fastnet's many-row prediction can take.

fastnet predicts many rows in blocks, each layer of a block one BLAS GEMM
(fastnet/_kernels/batch_pass.pxi ``_batch_forward``), the first layer over
the block's live inputs only.  The same GEMMs through the same BLAS, with
nothing around them (no gathering of live inputs, bias, activation, softmax
or Python), take the time no GEMM-based predict can beat with this BLAS.
The predict_proba row and its target are set against it, measured in turns
with the tools themselves.
"""
import numpy as np


def blas_gemms(units, n_rows, block_rows, live_share):
    """A run (for timing.timed): the GEMMs of fastnet's forward pass over
    ``n_rows`` rows of a network of layer sizes ``units``, in blocks of
    ``block_rows``, through scipy's BLAS (the library fastnet's kernels call).

    Each layer of a block is C (n_out x rows) += W A (dgemm 'T', 'N' as
    batch_pass.pxi calls it, adding to the biases copied in), on float64
    operands of those shapes; the first layer's inner size is ``live_share``
    of the inputs, the work fastnet's row counts (roofline.fastnet_live_share).
    A narrow last layer, which fastnet runs in small_gemm.h, runs in BLAS
    here too: it is under 1 % of the work of the networks timed.
    """
    from scipy.linalg.blas import dgemm

    rng = np.random.default_rng(0)
    inner = [max(1, round(live_share * units[0])), *units[1:-1]]
    sizes = [min(block_rows, n_rows - start) for start in range(0, n_rows, block_rows)]
    # operands in Fortran order, so that dgemm reads and writes them in place
    weights = [np.asfortranarray(rng.random((k, n))) for k, n in zip(inner, units[1:])]
    operands = {}
    for rows in set(sizes):
        inputs = np.asfortranarray(rng.random((inner[0], rows)))
        outputs = [np.asfortranarray(rng.random((n, rows))) for n in units[1:]]
        operands[rows] = inputs, outputs

    def run():
        for rows in sizes:
            a, outputs = operands[rows]
            for w, c in zip(weights, outputs):
                dgemm(1.0, w, a, beta=1.0, c=c, trans_a=1, overwrite_c=1)
                a = c

    return run
