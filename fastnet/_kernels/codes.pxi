# The code tables shared by the kernels and Python, defined once: Python reads
# them as enums from fastnet.kernels (e.g. ``kernels.Activation.RELU``).

cpdef enum Activation:
    IDENTITY = 0
    LOGISTIC = 1    # generalised: L / (1 + e^{k (x0 - z)})  (1.7)
    TANH = 2
    RELU = 3
    ELU = 4
    SOFTMAX = 5
    STEP = 6        # the perceptron's threshold, output layer only
    EXP = 7         # the Poisson regressor's output

cpdef enum Loss:
    SQUARED_ERROR = 0
    CROSS_ENTROPY = 1
    BINARY_CROSS_ENTROPY = 2
    POISSON = 3

cpdef enum Optimizer:
    SGD = 0         # plain gradient descent  (1.31)
    MOMENTUM = 1    # scikit-learn's SGD with (Nesterov) momentum
    ADAM = 2

ctypedef Py_ssize_t intp
