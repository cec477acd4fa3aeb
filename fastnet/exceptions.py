"""What fastnet raises and warns beyond scikit-learn's own errors and warnings."""


class DivergenceError(ValueError):
    """Training produced a non-finite loss or non-finite weights.

    Raised by ``fit`` and ``partial_fit`` of every fastnet estimator.  The
    model is left as it was at the last finite point -- the end of the
    previous epoch of this call, or its state before the call -- and the
    message says where training diverged (epoch, sample, batch) and what to
    do: scale X and y, or lower ``learning_rate_init``.  A ``ValueError``,
    as scikit-learn's MLP raises; the drop-ins' message starts with
    scikit-learn's.  With ``early_stopping`` the drop-ins do not raise: like
    scikit-learn's they stop and keep their best weights.

    See Also
    --------
    DeadUnitsWarning : The other way training can fail to learn.

    Examples
    --------
    Unscaled inputs of about 1000 and a large learning rate:

    >>> import numpy as np
    >>> from fastnet import Network
    >>> X = np.random.RandomState(0).normal(size=(50, 3)) * 1e3
    >>> net = Network(hidden_layer_sizes=(), learning_rate_init=1.0, random_state=0)
    >>> net.fit(X, X.sum(axis=1))
    Traceback (most recent call last):
        ...
    fastnet.exceptions.DivergenceError: Training diverged. The loss or the \
weights became non-finite in epoch 1 at sample ... of 50; ...
    """


class DeadUnitsWarning(UserWarning):
    """Every ReLU unit of a hidden layer stayed inactive through an epoch.

    Such a layer passes nothing on: its units output 0 and get no gradient,
    so the network cannot learn.  ``Network`` warns once per ``fit`` (or
    ``partial_fit``) call, when the layer has been judged over at least 100
    samples; the drop-ins warn only as scikit-learn does.  The message
    suggests what helps: scaling y, a lower ``learning_rate_init``, another
    ``init`` or activation (e.g. 'elu').

    See Also
    --------
    DivergenceError : Raised when the loss or weights become non-finite.

    Examples
    --------
    Hidden weights that make every unit negative on non-negative inputs:

    >>> import warnings
    >>> import numpy as np
    >>> from fastnet import DeadUnitsWarning, Network
    >>> X = np.abs(np.random.RandomState(0).normal(size=(200, 2)))
    >>> y = X.sum(axis=1)
    >>> net = Network(hidden_layer_sizes=(4,), random_state=0).partial_fit(X, y)
    >>> net.coefs_[0][:] = -1.0
    >>> net.intercepts_[0][:] = -1.0
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     net = net.partial_fit(X, y)
    >>> [w.category is DeadUnitsWarning for w in caught]
    [True]
    """
