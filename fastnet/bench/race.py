"""The race to 97 % test accuracy on digits: training time, evaluation excluded."""
import functools
import time
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from .report import Row, faster_text, significant
from .settings import (CLASSES, DIGITS_HIDDEN, FANN_RACE_LEARNING_RATE, RACE_LEARNING_RATE,
                       TARGET_ACCURACY, Architecture)
from .timing import quiet


@dataclass
class Race:
    """Outcome of training epoch by epoch until the target test accuracy."""

    seconds: float      # training time only, evaluation excluded
    epochs: int
    accuracy: float
    reached: bool


class OneHot:
    """A ``Network`` seen as a classifier of integer labels (one-hot targets)."""

    def __init__(self, network):
        self.network = network

    def partial_fit(self, X, y, classes=None):
        self.network.partial_fit(X, np.eye(len(CLASSES))[y])

    def score(self, X, y):
        return np.mean(self.network.predict(X).argmax(axis=1) == y)


def race_to_accuracy(make_model, X_train, y_train, X_test, y_test, max_epochs, repeats):
    """Train one ``partial_fit`` epoch at a time until TARGET_ACCURACY.

    ``make_model()`` must give a model seeded by a RandomState instance:
    scikit-learn (and fastnet with it) re-seeds an integer seed on every
    call, which would repeat the first epoch's sample order.  Training is
    then deterministic, so the race runs ``repeats`` times and the fastest
    run counts.
    """
    def run():
        model, seconds, accuracy = make_model(), 0.0, 0.0
        for epoch in range(1, max_epochs + 1):
            start = time.perf_counter()
            quiet(lambda: model.partial_fit(X_train, y_train, classes=CLASSES))
            seconds += time.perf_counter() - start
            accuracy = model.score(X_test, y_test)
            if accuracy >= TARGET_ACCURACY:
                return Race(seconds, epoch, accuracy, reached=True)
        return Race(seconds, max_epochs, accuracy, reached=False)

    return min((run() for _ in range(repeats)), key=lambda race: race.seconds)


def race_section(report, digits, budget, fann):
    """fastnet per sample and with scikit-learn's defaults, scikit-learn, FANN."""
    import fastnet
    from sklearn.neural_network import MLPClassifier

    X_train, X_test, y_train, y_test = digits
    measurement = f"time to {TARGET_ACCURACY:.0%} test accuracy, digits"

    def add(tool, setting, race, comparison=""):
        epochs = f"{race.epochs} epochs" if race.reached else f"not in {race.epochs} epochs"
        report.rows.append(Row(measurement, tool, setting,
                               f"{significant(race.seconds)} s, {epochs} ({race.accuracy:.1%})",
                               comparison=comparison))

    def per_sample_network():
        return OneHot(fastnet.Network(
            hidden_layer_sizes=DIGITS_HIDDEN, activation="relu", output_activation="softmax",
            loss="cross_entropy", batch_size=1, learning_rate_init=RACE_LEARNING_RATE,
            random_state=np.random.RandomState(0), n_jobs=1))

    run_race = functools.partial(race_to_accuracy, X_train=X_train, y_train=y_train,
                                 X_test=X_test, y_test=y_test, repeats=budget.race_repeats)
    fastnet_race = run_race(per_sample_network, max_epochs=budget.race_epochs_per_sample)
    add("fastnet Network", f"per-sample SGD, lr {RACE_LEARNING_RATE}, 1 thread", fastnet_race)

    with threadpool_limits(limits=1, user_api="blas"):
        fastnet_adam = run_race(
            lambda: fastnet.MLPClassifier(random_state=np.random.RandomState(0), n_jobs=1),
            max_epochs=budget.race_epochs_minibatch)
        sklearn_adam = run_race(lambda: MLPClassifier(random_state=np.random.RandomState(0)),
                                max_epochs=budget.race_epochs_minibatch)
    add("fastnet MLPClassifier", "defaults (Adam, batch 200), 1 thread", fastnet_adam)
    add("scikit-learn", "defaults (Adam, batch 200), 1 thread", sklearn_adam,
        f"{faster_text(sklearn_adam.seconds, fastnet_race.seconds)} "
        f"(Adam: {significant(sklearn_adam.seconds / fastnet_adam.seconds)}×)")
    if fann is not None:
        fann_race = fann.race(Architecture(X_train.shape[1], DIGITS_HIDDEN), X_train, y_train,
                              X_test, y_test, budget.race_epochs_per_sample, budget.race_repeats)
        add("FANN (tanh)", f"incremental, lr {FANN_RACE_LEARNING_RATE}, float32", fann_race,
            faster_text(fann_race.seconds, fastnet_race.seconds))
