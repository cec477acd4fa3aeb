"""Where a network's weights and biases live in its one flat parameter buffer.

Layer ``l`` stores its weights row-major as w_ij (neuron i, input j; see
docs/maths.md, section 1.1) followed by its biases.  ``coefs_[l]`` is the
scikit-learn-shaped (n_in, n_out) view of that memory, so training in the
kernels and reading ``coefs_`` never copy.  The offsets come from the kernels
(``kernels.layer_offsets``), which own the layout.
"""
import numpy as np

from . import kernels


class Layout:
    """The offsets of every layer in the flat buffers, for ``layer_units``."""

    def __init__(self, layer_units):
        self.units = np.asarray(layer_units, dtype=np.intp)
        (self.w_off, self.b_off, self.a_off, self.n_params,
         self.n_units) = kernels.layer_offsets(self.units)

    @property
    def n_layers(self):
        """Weight layers (one fewer than layers of units)."""
        return len(self.units) - 1

    def views(self, buffer):
        """(weights as (n_in, n_out) views, bias views) of a flat buffer."""
        coefs, intercepts = [], []
        for l in range(self.n_layers):
            n_in, n_out = self.units[l], self.units[l + 1]
            w0, b0 = self.w_off[l], self.b_off[l]
            coefs.append(buffer[w0:w0 + n_in * n_out].reshape(n_out, n_in).T)
            intercepts.append(buffer[b0:b0 + n_out])
        return coefs, intercepts

    def pack(self, buffer):
        """The parameters in scikit-learn's order (every coefs_ row-major as
        (n_in, n_out), then every intercepts_), as float64: L-BFGS's vector."""
        coefs, intercepts = self.views(buffer)
        return np.hstack([c.ravel() for c in coefs] + list(intercepts)).astype(np.float64)

    def unpack(self, packed, buffer):
        """Write a vector in scikit-learn's order (see ``pack``) into buffer."""
        coefs, intercepts = self.views(buffer)
        pos = 0
        for view in coefs + intercepts:
            view[...] = packed[pos:pos + view.size].reshape(view.shape)
            pos += view.size


class LayerList(list):
    """``coefs_`` / ``intercepts_``: views of the flat parameter buffer.

    Assigning an element (``net.coefs_[0] = W``) copies into the buffer, so
    the network trains on from the assigned values.
    """

    def __setitem__(self, index, value):
        view = self[index]
        value = np.asarray(value)
        if value.shape != view.shape:
            raise ValueError(f"expected shape {view.shape}, got {value.shape}")
        if not np.all(np.isfinite(value)):
            raise ValueError("weights must be finite")
        view[...] = value
