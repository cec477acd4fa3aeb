"""The ``fastnet`` command (also ``python -m fastnet``).

``fastnet train DATA`` trains a classifier or regressor on a CSV or Parquet
file or one of scikit-learn's data sets and saves it; ``predict``,
``evaluate`` and ``info`` use a saved model; ``digits`` is the quick
per-sample demo and ``bench`` the benchmark.  Bad input (a missing file, an
unknown column, a non-numeric feature, a file that is not a model) prints
one line on stderr and exits with status 2.
"""
import functools
import os
import sys

import click

from .. import __version__
from . import tabular

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class InputError(click.ClickException):
    """Bad input: one line on stderr, exit status 2 (as for bad usage)."""

    exit_code = 2

    def __init__(self, message):
        ctx = click.get_current_context(silent=True)
        self.prog = ctx.command_path if ctx is not None else "fastnet"
        super().__init__(message)

    def show(self, file=None):
        click.echo(f"{self.prog}: error: {self.format_message()}", err=True)


def input_errors(command):
    """Report errors of the user's data and files as ``InputError``."""
    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except BrokenPipeError:
            # the reader of our output went away (``| head``): stop quietly,
            # and keep Python from complaining while it flushes stdout at exit
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(1)
        except OSError as err:
            where = f"{err.filename}: " if err.filename else ""
            raise InputError(f"{where}{err.strerror or err}") from None
        except ValueError as err:  # DataError, model files, estimator parameters
            raise InputError(" ".join(str(err).split())) from None
    return wrapper


def needs(module, extra, what):
    """Import an optional dependency, or say which extra brings it."""
    try:
        return __import__(module)
    except ImportError:
        raise click.ClickException(f"{what} needs {module}: pip install 'fastnet[{extra}]'")


@click.group(context_settings=CONTEXT)
@click.version_option(__version__, "-V", "--version", prog_name="fastnet",
                      message="%(prog)s %(version)s")
def cli():
    """Train, use and inspect fastnet models from the command line.

    \b
    Quick start:
      fastnet train iris --save iris.fastnet
      fastnet predict iris.fastnet iris --out predictions.csv
    """


@cli.command(context_settings=CONTEXT, short_help="The per-sample SGD demo on digits.")
@click.option("--epochs", type=int, default=20, show_default=True, help="Training epochs.")
@click.option("--n-jobs", type=int, default=1, show_default=True,
              help="OpenMP threads over the neurons of wide layers.")
def digits(epochs, n_jobs):
    """Train on scikit-learn's shipped digits; print test accuracy and training time."""
    from .commands import digits as run
    run(epochs, n_jobs)


@cli.command(context_settings={"ignore_unknown_options": True, "help_option_names": []},
             short_help="fastnet vs scikit-learn, PyTorch and FANN.")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def bench(args):
    """fastnet vs scikit-learn, PyTorch and FANN (fastnet bench --help for options)."""
    from ..bench import main
    sys.exit(main(list(args)))


def _layer_sizes(ctx, param, value):
    try:
        sizes = tuple(int(s) for s in value.replace(" ", "").split(",") if s)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a comma-separated list of integers")
    if any(s < 1 for s in sizes):
        raise click.BadParameter(f"{value!r}: every layer needs at least 1 unit")
    return sizes


def _batch_size(ctx, param, value):
    if value in ("auto", "full"):
        return value
    if value.isdigit() and int(value) >= 1:
        return int(value)
    raise click.BadParameter(f"{value!r} is not a positive integer, 'auto' or 'full'")


def _writable(ctx, param, value):
    if value is not None:
        directory = os.path.dirname(os.path.abspath(value))
        if not os.path.isdir(directory):
            raise InputError(f"{value}: directory {directory} does not exist")
    return value


@cli.command(context_settings=CONTEXT, short_help="Train a model on a data file.")
@click.argument("data")
@click.option("--target", metavar="COL", help="Target column.  [default: the last column]")
@click.option("--task", type=click.Choice(["classify", "regress"]),
              help="[default: classify for non-numeric targets or at most "
                   f"{tabular.MAX_INFERRED_CLASSES} distinct integer values, else regress]")
@click.option("--hidden", default="100", show_default=True, callback=_layer_sizes,
              help="Hidden layer sizes, comma-separated ('' for none).")
@click.option("--activation", default="relu", show_default=True,
              type=click.Choice(["relu", "tanh", "logistic", "elu", "identity"]))
@click.option("--solver", default="adam", show_default=True,
              type=click.Choice(["adam", "sgd", "lbfgs"]))
@click.option("--batch-size", default="32", show_default=True, callback=_batch_size,
              help="Samples per step: an integer (1 is per-sample SGD), 'auto' or 'full'.")
@click.option("--lr", default=0.01, show_default=True,
              type=click.FloatRange(0, min_open=True), help="Initial learning rate.")
@click.option("--epochs", default=200, show_default=True, type=click.IntRange(1),
              help="Most epochs to train.")
@click.option("--dtype", default="float64", show_default=True,
              type=click.Choice(["float64", "float32"]))
@click.option("--threads", type=click.IntRange(1),
              help="OpenMP threads.  [default: all available]")
@click.option("--validation-fraction", default=0.1, show_default=True,
              type=click.FloatRange(0, 1, max_open=True),
              help="Training rows held out for early stopping; 0 turns it off.")
@click.option("--test-size", default=0.2, show_default=True,
              type=click.FloatRange(0, 1, max_open=True),
              help="Rows held out to test the trained model; 0 for none.")
@click.option("--seed", default=0, show_default=True, type=int,
              help="Random seed of the split, the weights and the shuffles.")
@click.option("--save", metavar="MODEL", callback=_writable, help="Write the model here.")
@click.option("--plot", metavar="PNG", callback=_writable,
              help="Draw the loss curve (and validation score) into this PNG.")
@click.option("--no-scale", is_flag=True, help="Do not standardise the features.")
@input_errors
def train(data, target, task, save, plot, **options):
    """Train a classifier or regressor on DATA and report its scores.

    DATA is a CSV or Parquet file (one row per sample, a header row) or one
    of scikit-learn's data sets: digits, iris, wine, breast_cancer, diabetes.
    """
    from .commands import train as run
    needs("pandas", "cli", "fastnet train")
    needs("tqdm", "cli", "fastnet train")
    if plot is not None:
        needs("matplotlib", "plot", "--plot")
        if options["solver"] == "lbfgs":
            raise InputError("--plot draws the loss per epoch, which L-BFGS does not keep")
    run(data, target, task, save, plot, options)


@cli.command(context_settings=CONTEXT, short_help="Predict every row of a data file.")
@click.argument("model")
@click.argument("data")
@click.option("--out", metavar="FILE", callback=_writable,
              help="Write the CSV here.  [default: standard output]")
@click.option("--proba", is_flag=True, help="Add each class's probability (classifiers).")
@input_errors
def predict(model, data, out, proba):
    """Predict every row of DATA with MODEL; write CSV.

    The CSV has one column 'prediction' (prediction_0, prediction_1, ... for
    several outputs) and with --proba one column per class.  DATA's target
    column, when present, is ignored.
    """
    from .commands import predict as run
    needs("pandas", "cli", "fastnet predict")
    run(model, data, out, proba)


@cli.command(context_settings=CONTEXT, short_help="Score a model on labelled data.")
@click.argument("model")
@click.argument("data")
@click.option("--target", metavar="COL",
              help="Target column.  [default: the one MODEL was trained with]")
@input_errors
def evaluate(model, data, target):
    """Score MODEL on DATA: accuracy and log loss, or R², RMSE and MAE."""
    from .commands import evaluate as run
    needs("pandas", "cli", "fastnet evaluate")
    run(model, data, target)


@cli.command(context_settings=CONTEXT, short_help="Describe a model file.")
@click.argument("model")
@input_errors
def info(model):
    """Describe MODEL: layers, activations, parameters, classes, training."""
    from .commands import info as run
    run(model)


def main(argv=None):
    """Run the ``fastnet`` command with ``argv`` (default: ``sys.argv[1:]``); exits."""
    return cli.main(args=argv, prog_name="fastnet")
