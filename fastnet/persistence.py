"""Model files: ``fastnet.save(model, path)`` and ``fastnet.load(path)``.

A model file keeps a fastnet estimator (``Network``, ``MLPClassifier``,
``MLPRegressor``), fitted or not, or a scikit-learn ``Pipeline`` of scalers
(``StandardScaler``, ``MinMaxScaler``, ``MaxAbsScaler``, ``RobustScaler``)
ending in one, with everything needed to predict and to train on exactly as
the saved model would: weights, optimizer state (velocities, Adam moments and
step), the random-number generator, loss curve and stopping counters.

Loading never unpickles and never runs code from the file.  The file is a
zip archive written by skops (``skops.io``, scikit-learn's secure
persistence): a JSON description of every object (``schema.json``) and one
``.npy`` file per array, which numpy reads with ``allow_pickle=False``.
fastnet adds its own manifest, ``fastnet.json``::

    {"format": "fastnet-model", "version": 1, "fastnet": "0.1.0",
     "scikit-learn": "1.9.1", "skops": "0.16.0", "model": "MLPClassifier",
     "metadata": {...}}

``version`` is fastnet's model-file format version (``FORMAT_VERSION``); a
file from a newer one is refused with a message saying so.  ``metadata`` is
whatever JSON the caller passed to ``save`` (the command line stores the
target column, the feature names and a training summary there);
``read_manifest`` returns it without building the model.

Before anything is built, ``load`` checks every object the file names against
``TRUSTED_CLASSES`` (and plain data: dicts, lists, tuples, strings, numbers,
numpy arrays, scalars and dtypes, and ``numpy.random.RandomState``) -- the
only list of trusted types, also handed to skops in place of its broader
defaults.  After building, it checks that each network's layout and buffers
agree, since the kernels index the weight buffer by the stored layout
without bounds checks.  A file that is not a zip archive, lacks the manifest,
is truncated or corrupt, carries a pickle, names any other type or holds an
inconsistent network raises ``ValueError``.

Pickle and joblib keep working as for any scikit-learn estimator, for files
you trust.
"""
import io
import json
import os
import tempfile
import zipfile

import numpy as np
import sklearn
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import (
    LabelBinarizer,
    MaxAbsScaler,
    MinMaxScaler,
    RobustScaler,
    StandardScaler,
)

from .activations import CODES, ELU, Logistic, _Plain
from .estimators import MLPClassifier, MLPRegressor
from .network import Network
from .optimizers import AdamOptimizer, SGDOptimizer

FORMAT = "fastnet-model"
#: fastnet's model-file format version; bump it when fastnet changes what it
#: writes, and keep reading every older version.
FORMAT_VERSION = 1
MANIFEST = "fastnet.json"
SCHEMA = "schema.json"

#: The estimators a model file holds, alone or as a Pipeline's last step.
ESTIMATORS = (Network, MLPClassifier, MLPRegressor)
#: The steps a Pipeline may run before the estimator.
SCALERS = (StandardScaler, MinMaxScaler, MaxAbsScaler, RobustScaler)
#: Every class whose objects a model file may hold: the only classes ``load``
#: builds objects of (by ``cls.__new__`` and ``__setstate__``, no ``__init__``).
#: Objects a fitted estimator keeps in its state belong here too; the
#: exact-continuation tests fail when one is missing.
TRUSTED_CLASSES = ESTIMATORS + SCALERS + (
    Pipeline,
    LabelBinarizer,  # MLPClassifier._label_binarizer
    Logistic, ELU, _Plain,  # activations (parameters and fitted _layer_acts)
    SGDOptimizer, AdamOptimizer,  # the stochastic solvers' state (_optimizer)
)

# Plain data, by the skops node that stores it: containers, JSON values,
# numpy arrays, scalars and dtypes, RandomState.  Types as skops names them.
_NUMPY_SCALARS = [np.bool_, np.str_, np.float16, np.float32, np.float64, np.longdouble,
                  np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32,
                  np.uint64]
_PRIMITIVES = [bool, int, float, str]


def _names(types):
    return frozenset(f"{t.__module__}.{t.__name__}" for t in types)


_ALLOWED = {
    "DictNode": _names([dict]),
    "ListNode": _names([list]),
    "TupleNode": _names([tuple]),
    "JsonNode": _names([str]),  # every JSON value: skops tags it builtins.str
    "NdArrayNode": _names([np.ndarray] + _NUMPY_SCALARS),
    "DTypeNode": _names([np.dtype]),
    "TypeNode": _names(_PRIMITIVES + _NUMPY_SCALARS),  # dict key types, dtype=np.float32
    "RandomStateNode": _names([np.random.RandomState]),
    "ObjectNode": _names(TRUSTED_CLASSES),
}


def save(model, path, *, metadata=None):
    """Write ``model`` to a fastnet model file.

    The file keeps everything needed to predict and to train on as the saved
    model would: weights, optimizer state, random-number generator, loss
    curve and stopping counters.  ``load`` reads it back without unpickling
    (see docs/model-files.md).

    Parameters
    ----------
    model : Network, MLPClassifier, MLPRegressor or Pipeline
        Fitted or not; a Pipeline of scalers (StandardScaler, MinMaxScaler,
        MaxAbsScaler, RobustScaler) ending in a fastnet estimator.
    path : str or os.PathLike
        Where to write; an existing file is replaced only once the new one is
        complete.
    metadata : dict, optional
        JSON-serialisable information kept in the manifest (see
        ``read_manifest``).

    Raises
    ------
    TypeError
        If ``model`` is not one of the above, or its state holds an object of
        a class outside ``TRUSTED_CLASSES``.

    See Also
    --------
    load : Read the model back.

    Examples
    --------
    >>> import os, tempfile
    >>> from sklearn.datasets import load_iris
    >>> import fastnet
    >>> X, y = load_iris(return_X_y=True)
    >>> model = fastnet.MLPClassifier(solver='lbfgs', max_iter=1000,
    ...                                random_state=0).fit(X, y)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = os.path.join(folder, "iris.fastnet")
    ...     fastnet.save(model, path, metadata={"data": "iris"})
    ...     print(fastnet.persistence.read_manifest(path)["metadata"])
    {'data': 'iris'}
    """
    sio = _skops_io()
    _check_model(model, TypeError)
    payload = sio.dumps(model)
    with zipfile.ZipFile(io.BytesIO(payload)) as archive:
        _audit(json.loads(archive.read(SCHEMA)), TypeError)
        members = [(info, archive.read(info)) for info in archive.infolist()]
    manifest = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "fastnet": _fastnet_version(),
        "scikit-learn": sklearn.__version__,
        "skops": _skops_version(),
        "model": describe(model),
        "metadata": {} if metadata is None else metadata,
    }
    manifest_bytes = json.dumps(manifest, indent=2, allow_nan=False).encode()
    _write_atomically(path, [(MANIFEST, manifest_bytes)] + members)


def load(path):
    """Read a model written by ``save``, without unpickling or running its code.

    Every object the file names is checked against the trusted classes
    before anything is built, and each network's layout against its buffers
    after, so a model file from someone else is safe to open.

    Parameters
    ----------
    path : str, os.PathLike or binary file object
        The model file, or an open binary file to read it from.

    Returns
    -------
    model : Network, MLPClassifier, MLPRegressor or Pipeline
        The saved model, fitted or not as it was saved; ``partial_fit`` (or
        ``fit`` with ``warm_start=True``) trains on exactly as the saved
        model would have.

    Raises
    ------
    ValueError
        If the file is not a fastnet model file, is corrupt or truncated,
        comes from a newer format version, or holds anything but the trusted
        classes and plain data.

    See Also
    --------
    save : Write a model file.

    Examples
    --------
    A pipeline saved and read back predicts exactly as before:

    >>> import io, os, tempfile
    >>> import numpy as np
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> import fastnet
    >>> X, y = load_iris(return_X_y=True)
    >>> model = make_pipeline(StandardScaler(),
    ...                       fastnet.MLPClassifier(solver='lbfgs', random_state=0))
    >>> model = model.fit(X, y)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     fastnet.save(model, os.path.join(folder, "iris.fastnet"))
    ...     loaded = fastnet.load(os.path.join(folder, "iris.fastnet"))
    >>> np.array_equal(loaded.predict_proba(X), model.predict_proba(X))
    True
    >>> fastnet.load(io.BytesIO(b"not a model"))
    Traceback (most recent call last):
        ...
    ValueError: model file is not a fastnet model file (not a zip archive; ...)
    """
    data = _read_bytes(path)
    name = _display_name(path)
    with _open_archive(data, name) as archive:
        _check_manifest(_read_manifest(archive, name), name)
        _audit(_read_json(archive, SCHEMA, name), ValueError, name)
    sio = _skops_io()
    try:
        model = sio.loads(data, trusted=sorted(_ALLOWED["ObjectNode"]))
    except Exception as err:  # whatever a crafted file makes skops or numpy raise
        raise ValueError(f"{name}: corrupt fastnet model file ({err})") from err
    _check_model(model, ValueError, name)
    for estimator in _estimators(model):
        _check_layout(estimator, name)
    return model


def read_manifest(path):
    """The manifest of a model file, without building the model.

    Parameters
    ----------
    path : str, os.PathLike or binary file object

    Returns
    -------
    manifest : dict
        ``format``, ``version``, ``fastnet``, ``scikit-learn``, ``skops``,
        ``model`` (a description such as ``"Pipeline(StandardScaler,
        MLPClassifier)"``) and ``metadata`` (what ``save`` was given).

    Raises
    ------
    ValueError
        As ``load``, for files that are not fastnet model files or come from
        a newer format version.
    """
    data = _read_bytes(path)
    name = _display_name(path)
    with _open_archive(data, name) as archive:
        manifest = _read_manifest(archive, name)
    _check_manifest(manifest, name)
    return manifest


def describe(model):
    """A short name of a model: ``'MLPClassifier'``, ``'Pipeline(StandardScaler, Network)'``."""
    if isinstance(model, Pipeline):
        return "Pipeline(" + ", ".join(type(step).__name__ for _, step in model.steps) + ")"
    return type(model).__name__


# ----------------------------------------------------------------- reading
def _read_bytes(path):
    if hasattr(path, "read"):
        return path.read()
    with open(path, "rb") as f:
        return f.read()


def _display_name(path):
    return os.fspath(path) if isinstance(path, (str, os.PathLike)) else "model file"


def _open_archive(data, name):
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        if data[:1] == b"\x80":  # pickle protocol 2+ opcode PROTO
            raise ValueError(f"{name} looks like a pickle, not a fastnet model file; "
                             "fastnet never unpickles model files") from None
        raise ValueError(f"{name} is not a fastnet model file (not a zip archive; "
                         "truncated or corrupt?)") from None


def _read_json(archive, member, name):
    try:
        return json.loads(archive.read(member))
    except KeyError:
        raise ValueError(f"{name} is not a fastnet model file (no {member})") from None
    except (zipfile.BadZipFile, ValueError, EOFError, OSError) as err:
        raise ValueError(f"{name}: corrupt fastnet model file ({member}: {err})") from None


def _read_manifest(archive, name):
    manifest = _read_json(archive, MANIFEST, name)
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ValueError(f"{name} is not a fastnet model file (its {MANIFEST} does not "
                         f"say format {FORMAT!r})")
    return manifest


def _check_manifest(manifest, name):
    version = manifest.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValueError(f"{name}: corrupt fastnet model file (format version {version!r})")
    if version > FORMAT_VERSION:
        raise ValueError(
            f"{name} was written in fastnet model-file format version {version} "
            f"(by fastnet {manifest.get('fastnet', '?')}), newer than the versions "
            f"this fastnet {_fastnet_version()} reads (up to {FORMAT_VERSION}); "
            "upgrade fastnet to load it")
    if not isinstance(manifest.get("metadata", {}), dict):
        raise ValueError(f"{name}: corrupt fastnet model file (metadata is not a mapping)")


def _audit(node, error, name="the model"):
    """Refuse any skops node outside ``_ALLOWED``, before anything is built.

    Walks the whole JSON tree (every mapping that names a loader is a node),
    so nothing the file says escapes the check."""
    if isinstance(node, dict):
        loader = node.get("__loader__")
        if loader is not None:
            kind = f"{node.get('__module__')}.{node.get('__class__')}"
            if loader not in _ALLOWED:
                raise error(f"{name} holds a {loader} ({kind}), which fastnet model "
                            "files never contain")
            if kind not in _ALLOWED[loader]:
                raise error(f"{name} holds an object of type {kind}, which is not "
                            "among the types fastnet model files may hold "
                            "(fastnet.persistence.TRUSTED_CLASSES)")
        for value in node.values():
            _audit(value, error, name)
    elif isinstance(node, list):
        for value in node:
            _audit(value, error, name)


# ---------------------------------------------------------------- checking
def _check_model(model, error, name="the model"):
    """The model is a fastnet estimator or a Pipeline of scalers ending in one."""
    if type(model) in ESTIMATORS:
        return
    if type(model) is Pipeline:
        steps = [step for _, step in getattr(model, "steps", [])]
        if (steps and type(steps[-1]) in ESTIMATORS
                and all(type(step) in SCALERS for step in steps[:-1])):
            return
    kinds = ", ".join(cls.__name__ for cls in ESTIMATORS + SCALERS)
    raise error(f"{name}: fastnet model files hold a fastnet estimator or a Pipeline "
                f"of scalers ending in one ({kinds}); got {describe(model)}")


def _estimators(model):
    return [model.steps[-1][1]] if isinstance(model, Pipeline) else [model]


def _check_layout(est, name):
    """The stored layout matches the buffers the kernels walk with it.

    The kernels index ``_params`` (and the optimizer's buffers) by ``_units``
    and the offsets without bounds checks, so a file whose numbers disagree
    could make them read or write outside the buffers."""
    if "_params" not in est.__dict__:
        return
    try:
        agrees = _layout_agrees(est)
    except (AttributeError, KeyError, TypeError, ValueError, IndexError):
        agrees = False
    if not agrees:
        raise ValueError(f"{name}: corrupt fastnet model file (the {type(est).__name__}'s "
                         "layout and weight buffers disagree)")


def _layout_agrees(est):
    layout = est._layout        # rebuilt from the stored units by __setstate__
    units = layout.units
    if not (units.ndim == 1 and units.size >= 2 and bool(np.all(units >= 1))):
        return False
    acts = est._layer_acts
    return (est.n_features_in_ == units[0] and est.n_outputs_ == units[-1]
            and _is_buffer(est._params, layout.n_params)
            and _is_buffer(est._best_params, layout.n_params, est._params.dtype)
            and len(acts) == layout.n_layers
            and all(type(a) in (Logistic, ELU, _Plain) and a.name in CODES for a in acts)
            and _optimizer_agrees(getattr(est, "_optimizer", None), est._params))


def _is_buffer(array, size, dtype=None):
    return (type(array) is np.ndarray and array.ndim == 1 and array.size == size
            and array.dtype in (np.float32, np.float64)
            and (dtype is None or array.dtype == dtype) and array.flags.c_contiguous)


def _optimizer_agrees(opt, params):
    """The optimizer's buffers are as long as the weights they update (plain
    SGD keeps none) and its step count and rate are numbers."""
    if opt is None:
        return True
    n, dtype = params.size, params.dtype
    if type(opt) is AdamOptimizer:
        return (_is_buffer(opt.ms, n, dtype) and _is_buffer(opt.vs, n, dtype)
                and type(opt.t) is int and opt.t >= 0)
    return (type(opt) is SGDOptimizer
            and _is_buffer(opt.velocities, n if opt.momentum > 0 else 0, dtype)
            and isinstance(opt.learning_rate, float))


# ----------------------------------------------------------------- writing
def _write_atomically(path, members):
    """Write the zip next to ``path`` and move it into place once complete."""
    if hasattr(path, "write"):
        path.write(_zip_bytes(members))
        return
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".fastnet-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(_zip_bytes(members))
        # mkstemp's file is private (0600); give it the mode open() would
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _zip_bytes(members):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for info, content in members:
            archive.writestr(info, content)
    return buffer.getvalue()


def _skops_io():
    """skops.io, imported on first use: importing it takes seconds (it lists
    every scikit-learn estimator), which ``import fastnet`` should not pay."""
    import skops.io
    return skops.io


def _skops_version():
    import skops
    return skops.__version__


def _fastnet_version():
    from . import __version__
    return __version__
