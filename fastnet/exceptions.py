"""What fastnet raises and warns beyond scikit-learn's own errors and warnings."""


class DivergenceError(ValueError):
    """Training produced a non-finite loss or non-finite weights.

    The model is left as it was at the last finite point (the end of the
    previous epoch, or before the call); the message says where training
    diverged and what to do.  A ``ValueError``, as scikit-learn's MLP raises.
    """


class DeadUnitsWarning(UserWarning):
    """Every ReLU unit of a hidden layer stayed inactive through an epoch: the
    layer passes nothing on, so the network cannot learn."""
