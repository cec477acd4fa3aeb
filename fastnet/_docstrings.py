"""The parameters and attributes the three estimators share, described once.

``Network``, ``MLPClassifier`` and ``MLPRegressor`` take scikit-learn's MLP
parameters and fastnet's extras, and keep the same fitted attributes.  Each
class docstring describes only what is its own and holds a line
``{shared parameters}`` (and ``{shared attributes}``) where the rest goes;
``compose`` fills those in when fastnet is imported.  Parameters are listed
in the order of the class's signature, each with the default its signature
gives, so ``help()`` shows every one and a default cannot drift from the code.
"""
import inspect
import re
import textwrap

PARAMETERS_MARK = "{shared parameters}"
ATTRIBUTES_MARK = "{shared attributes}"

# name: (type, description).  The default is appended from the signature.
PARAMETERS = {
    "hidden_layer_sizes": ("array-like of int, or int", """
        The ith element is the number of neurons in the ith hidden layer; an
        int is one hidden layer.  ``()`` gives no hidden layer: one weight
        layer from the inputs to the outputs (a perceptron, a logistic or a
        linear regression)."""),
    "activation": ("str, Logistic, ELU, or list of them", """
        Activation of the hidden layers (docs/maths.md, Table 1.1):

        - 'identity', f(z) = z, useful for a linear bottleneck;
        - 'logistic', the sigmoid f(z) = 1 / (1 + exp(-z)) (1.8);
          ``fastnet.Logistic(L, k, x0)`` is L / (1 + exp(k (x0 - z))) (1.7);
        - 'tanh', f(z) = tanh(z);
        - 'relu', f(z) = max(0, z);
        - 'elu', f(z) = z for z > 0, alpha (exp(z) - 1) otherwise, with
          alpha = 1; ``fastnet.ELU(alpha)`` for another alpha;
        - 'exp', f(z) = exp(z);
        - 'softmax', exp(z_i) / sum_p exp(z_p) over the layer (2.1),
          backpropagated through its Jacobian (2.12).

        A list or tuple gives one per hidden layer, e.g.
        ``['tanh', fastnet.ELU(0.5)]``.  'step' has no gradient and is refused
        here (ValueError at fit); it is an output activation only.
        scikit-learn's MLP offers the first four names."""),
    "solver": ("{'lbfgs', 'sgd', 'adam'}", """
        The solver for weight optimization.

        - 'lbfgs': SciPy's L-BFGS-B, a quasi-Newton method, on the objective
          over all samples (T.11);
        - 'sgd': stochastic gradient descent, per sample (1.31) or per
          minibatch (T.4), with optional momentum (T.6) or Nesterov's
          momentum (T.7);
        - 'adam': the stochastic gradient-based optimizer of Kingma and
          Ba (T.8).

        'adam' works well on relatively large datasets (thousands of samples
        or more); on small ones 'lbfgs' can converge faster and perform
        better."""),
    "alpha": ("float", """
        Strength of the L2 regularization term, divided by the batch's total
        sample weight (its size, without ``sample_weight``) when added to the
        loss (T.1).  Biases are not penalised."""),
    "batch_size": ("int, 'auto' or 'full'", """
        Size of minibatches for the stochastic solvers: 1 is per-sample SGD
        (1.31), the path fastnet's kernels are built for; 'auto' is
        ``min(200, n_samples)``; 'full' is one batch of all samples
        (full-batch gradient descent).  A size larger than n_samples is
        clipped, with a warning.  'lbfgs' always uses all samples."""),
    "learning_rate": ("{'constant', 'invscaling', 'adaptive'}", """
        Learning-rate schedule for weight updates, used only when
        ``solver='sgd'``.

        - 'constant': ``learning_rate_init`` throughout;
        - 'invscaling': after each epoch,
          ``learning_rate_init / (t_ + 1) ** power_t``, ``t_`` the number of
          samples seen so far (T.9);
        - 'adaptive': ``learning_rate_init`` as long as training improves;
          whenever the stopping rule of ``tol`` and ``n_iter_no_change``
          fires, the rate is divided by 5 instead (T.10), and training stops
          only once that happens with a rate of at most 1e-6."""),
    "learning_rate_init": ("float", """
        The initial learning rate: the step size of 'sgd' and 'adam'."""),
    "power_t": ("float", """
        The exponent of ``learning_rate='invscaling'`` (T.9)."""),
    "max_iter": ("int", """
        Maximum number of iterations: for 'sgd' and 'adam' the number of
        epochs (how many times each sample is used, not the number of
        steps); for 'lbfgs' its iterations.  Stopping there warns
        ``ConvergenceWarning``."""),
    "shuffle": ("bool", """
        Whether to shuffle the samples before each epoch ('sgd', 'adam')."""),
    "random_state": ("int, RandomState instance or None", """
        Determines the initial weights and biases, the early-stopping split
        and the per-epoch shuffles, drawn as scikit-learn's MLP draws them.
        Pass an int for reproducible results across calls."""),
    "tol": ("float", """
        Tolerance for the optimization.  When the training loss (or, with
        ``early_stopping``, the validation score) does not improve by at
        least ``tol`` for more than ``n_iter_no_change`` consecutive epochs,
        training stops (see ``learning_rate='adaptive'``).  For 'lbfgs' it is
        SciPy's ``gtol``."""),
    "verbose": ("bool or int", """
        What a fit shows while it trains:

        - False (or 0): nothing;
        - True (or 1): a progress bar (tqdm, on stderr) per ``fit``: epochs
          done, the last epoch's loss and validation score, progress inside
          long epochs; L-BFGS counts its iterations.  A ``partial_fit`` call,
          a single epoch, prints scikit-learn's line instead;
        - 2 or more: scikit-learn's lines on stdout, as its MLP prints them
          with ``verbose=True`` ("Iteration 3, loss = 0.25...", "Validation
          score: ...", the stopping messages).

        Unlike scikit-learn's, ``verbose=True`` draws the bar: pass
        ``verbose=2`` for scikit-learn's output."""),
    "warm_start": ("bool", """
        When True, ``fit`` trains on from the weights and records
        (``loss_curve_``, ``t_``, stopping counters) of the previous call,
        with a new optimizer, instead of drawing new weights; the layer
        sizes, and for a classifier the classes, must stay the same
        (ValueError otherwise)."""),
    "momentum": ("float", """
        Momentum of gradient descent, in [0, 1] (T.6); used only when
        ``solver='sgd'``.  0 is plain SGD (1.31), which keeps no
        velocities."""),
    "nesterovs_momentum": ("bool", """
        Whether to use Nesterov's momentum (T.7); used only when
        ``solver='sgd'`` and ``momentum > 0``."""),
    "early_stopping": ("bool", """
        Whether to set aside ``validation_fraction`` of the training data
        (stratified for a single-output classifier) and stop when its score
        -- accuracy for ``MLPClassifier``, R^2 otherwise -- does not improve
        by at least ``tol`` for more than ``n_iter_no_change`` consecutive
        epochs; the weights of the best score are kept.  Only for 'sgd' and
        'adam'; ``partial_fit`` refuses it (ValueError)."""),
    "validation_fraction": ("float", """
        The proportion of training data set aside for early stopping, in
        [0, 1); a validation set of fewer than 2 samples raises ValueError.
        Used only when ``early_stopping=True``."""),
    "beta_1": ("float", """
        Exponential decay rate of Adam's first-moment estimates, in [0, 1)
        (T.8)."""),
    "beta_2": ("float", """
        Exponential decay rate of Adam's second-moment estimates, in [0, 1)
        (T.8)."""),
    "epsilon": ("float", """
        Adam's term for numerical stability (T.8)."""),
    "n_iter_no_change": ("int or numpy.inf", """
        The number of consecutive epochs without an improvement of ``tol``
        that training tolerates ('sgd', 'adam')."""),
    "max_fun": ("int", """
        Maximum number of loss function calls of 'lbfgs' (at least one per
        iteration); it also stops at ``max_iter`` iterations or by
        ``tol``."""),
    "init": ("{'auto', 'he', 'xavier', 'sklearn'}", """
        How the initial weights are drawn (docs/maths.md, section 1.6):

        - 'auto': by each layer's own activation, He-uniform (1.33) for
          'relu' and 'elu', four times Xavier (1.35) for logistic, Xavier
          (1.34) for the others; biases 0;
        - 'he': (1.33) for every layer; biases 0;
        - 'xavier': (1.34) for every layer; biases 0;
        - 'sklearn': scikit-learn's rule (1.35a) for weights and biases,
          which draws scikit-learn's initial weights for the same
          ``random_state``."""),
    "dtype": ("{'float64', 'float32'}, numpy float type or None", """
        Precision of the weights and of training.  None trains in X's
        precision, as scikit-learn does (float32 for float32 X, float64
        otherwise); after 'lbfgs' the weights are then float64, as
        scikit-learn's are."""),
    "n_jobs": ("int or None", """
        OpenMP threads over the neurons of layers with at least 65 536
        weights (narrower layers run on one).  None or a negative value uses
        every thread the process may use; 0 raises ValueError.  Results are
        bit-identical for any ``n_jobs``.  A process forked from one that
        imported fastnet uses one thread (GNU OpenMP cannot start threads
        there); 'spawn', 'forkserver' and joblib's default workers are not
        affected.  In a dask.distributed worker's task, "every thread" is
        the task's share of the worker's threads (its ``nthreads`` over the
        tasks it runs at once)."""),
}

ATTRIBUTES = """
loss_ : float
    The loss (T.5) of the last epoch, or the objective (T.11) where 'lbfgs'
    ended.  ``Network`` sums the squared error over the outputs,
    ``MLPRegressor`` averages it, as scikit-learn's does (T.1).
best_loss_ : float or None
    The smallest epoch loss so far; None with ``early_stopping`` (see
    ``best_validation_score_``).  Only with 'sgd' and 'adam'.
loss_curve_ : list of float
    The loss of every epoch since the weights were drawn, over all
    ``partial_fit`` and warm-started ``fit`` calls.  Only with 'sgd' and
    'adam'.
validation_scores_ : list of float or None
    The score on the validation set after every epoch (accuracy for
    ``MLPClassifier``, R^2 otherwise); None without ``early_stopping``.
best_validation_score_ : float or None
    The best of ``validation_scores_``, whose weights the model kept; None
    without ``early_stopping``.
t_ : int
    The number of training samples seen by the solver.
coefs_ : list of ndarray
    The ith element is the weight matrix of layer i, of shape (n_in, n_out):
    a view of the network's parameter buffer, so that writing into it (or
    assigning ``coefs_[i] = W`` of the same shape) changes the model.
intercepts_ : list of ndarray
    The ith element is the bias vector of layer i + 1, a view like
    ``coefs_``.
n_features_in_ : int
    Number of features seen during ``fit``.
feature_names_in_ : ndarray of shape (n_features_in_,)
    Names of features seen during ``fit``, when X has string column names.
n_iter_ : int
    The number of epochs (or L-BFGS iterations) the last call ran: 1 after
    ``partial_fit``.
n_layers_ : int
    Number of layers, the input and output layers included.
n_outputs_ : int
    Number of outputs.
out_activation_ : str
    Name of the output activation function.
"""


def compose(cls):
    """Fill the ``{shared parameters}`` and ``{shared attributes}`` lines of
    ``cls``'s docstring in."""
    doc = inspect.cleandoc(cls.__doc__)
    if PARAMETERS_MARK in doc:
        doc = _fill_parameters(doc, inspect.signature(cls.__init__))
    doc = doc.replace(ATTRIBUTES_MARK, ATTRIBUTES.strip("\n"))
    cls.__doc__ = doc + "\n"


def _fill_parameters(doc, signature):
    """The docstring with its Parameters section's entries, its own and the
    shared ones, in the order of ``signature``."""
    start = doc.index("Parameters\n----------\n") + len("Parameters\n----------\n")
    end = _section_end(doc, start)
    own = _entries(doc[start:end])
    entries = []
    for name, parameter in signature.parameters.items():
        if name in own:
            entries.append(own.pop(name))
        elif name in PARAMETERS:
            kind, text = PARAMETERS[name]
            entries.append(f"{name} : {kind}, default={_default(parameter.default)}\n"
                           + textwrap.indent(textwrap.dedent(text).strip("\n"), "    "))
    own.pop(PARAMETERS_MARK, None)
    entries += own.values()  # documented but not in the signature: numpydoc says so
    return doc[:start] + "\n".join(entries) + "\n" + doc[end:]


def _section_end(doc, start):
    """Where the section beginning at ``start`` ends (its trailing blank lines
    excluded): at the next underlined heading, or at the end."""
    heading = re.compile(r"\n\n[^\n]+\n-{3,}\n")
    match = heading.search(doc, start)
    return match.start() + 1 if match else len(doc)


def _entries(section):
    """{name: text} of a section's entries: each starts at an unindented line."""
    entries = {}
    for block in re.split(r"\n(?=\S)", section.strip("\n")):
        entries[block.split(" : ")[0].strip()] = block.rstrip("\n")
    return entries


def _default(value):
    """A default as docstrings show it: 1e-08 as 1e-8."""
    return re.sub(r"e([+-])0(\d)", r"e\1\2", repr(value))
