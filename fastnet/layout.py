"""Where a network's weights and biases live in its one flat parameter buffer.

Layer ``l`` stores its weights row-major as w_ij (neuron i, input j; see
docs/maths.md, section 1.1) followed by its biases.  ``coefs_[l]`` is the
scikit-learn-shaped (n_in, n_out) view of that memory, so training in the
kernels and reading ``coefs_`` never copy.  The offsets come from the kernels
(``kernels.layer_offsets``), which own the layout.
"""
import numpy as np

from . import kernels


# Parameters a network may have: 2**48 doubles are 2 PiB; beyond this the
# offsets (intp) could wrap around.
MAX_PARAMETERS = 2 ** 48


# Where a parameter buffer starts: a cache line, and one AVX-512 vector.  The
# kernels' loads then never straddle two lines where rows are whole lines
# (64 inputs in float64, say); a 16-byte aligned buffer, what numpy gives,
# made per-sample SGD on digits' 64-100-10 10-14 % slower, MNIST-sized 23-28 %.
BUFFER_ALIGNMENT = 64


def aligned_zeros(n, dtype):
    """A 1-d array of ``n`` zeros of ``dtype`` starting on a BUFFER_ALIGNMENT boundary."""
    dtype = np.dtype(dtype)
    raw = np.zeros(n * dtype.itemsize + BUFFER_ALIGNMENT, dtype=np.uint8)
    start = -raw.ctypes.data % BUFFER_ALIGNMENT
    return raw[start:start + n * dtype.itemsize].view(dtype)


def aligned(array):
    """``array`` itself when it is a 1-d float buffer on a BUFFER_ALIGNMENT
    boundary (or anything else, left for validation to judge), else an
    aligned copy."""
    if (type(array) is not np.ndarray or array.ndim != 1
            or array.dtype not in (np.float32, np.float64)
            or array.ctypes.data % BUFFER_ALIGNMENT == 0):
        return array
    copy = aligned_zeros(array.size, array.dtype)
    copy[...] = array
    return copy


class Layout:
    """The offsets of every layer in the flat buffers, for ``layer_units``."""

    def __init__(self, layer_units):
        sizes = [int(units) for units in layer_units]
        n_params = sum(i * o + o for i, o in zip(sizes[:-1], sizes[1:]))
        if n_params > MAX_PARAMETERS:
            raise MemoryError(f"a network with layers {sizes} has {n_params} parameters: "
                              "more than a computer's memory holds")
        self.units = np.asarray(sizes, dtype=np.intp)
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

    def __init__(self, views, name):
        super().__init__(views)
        self.name = name

    def __setitem__(self, index, value):
        view = self[index]
        view[...] = _checked(value, view, self.name)


def _checked(value, view, name):
    """value as an array fit to be copied into view: real numbers, same shape,
    finite."""
    value = np.asarray(value)
    if value.dtype.kind not in "biuf":
        raise ValueError(f"{name} must hold real numbers, got {value.dtype} values")
    if value.shape != view.shape:
        raise ValueError(f"{name}: expected shape {view.shape}, got {value.shape}")
    if not np.all(np.isfinite(value)):
        raise ValueError(f"{name} must be finite")
    return value


class LayerWeights:
    """``coefs_`` and ``intercepts_`` of an estimator whose flat parameter
    buffer ``_params`` is laid out by ``_layout`` (see BaseNetwork)."""

    @property
    def coefs_(self):
        """List of (n_in, n_out) weight matrices: views of the row-major w_ij."""
        return LayerList(self._fitted_views("coefs_")[0], "coefs_")

    @coefs_.setter
    def coefs_(self, values):
        self._assign(values, 0, "coefs_")

    @property
    def intercepts_(self):
        """List of bias vectors, one per layer after the input."""
        return LayerList(self._fitted_views("intercepts_")[1], "intercepts_")

    @intercepts_.setter
    def intercepts_(self, values):
        self._assign(values, 1, "intercepts_")

    def _fitted_views(self, name):
        if "_params" not in self.__dict__:
            raise AttributeError(f"{name} exists once the network is fitted (fit or "
                                 "partial_fit sets its layout)")
        return self._layout.views(self._params)

    def _assign(self, values, which, name):
        views = self._fitted_views(name)[which]
        if len(values) != len(views):
            raise ValueError(f"{name} needs {len(views)} arrays, got {len(values)}")
        values = [_checked(value, view, name) for view, value in zip(views, values)]
        for view, value in zip(views, values):   # all checked before any is copied
            view[...] = value
