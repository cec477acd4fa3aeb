"""FANN, the classic C per-sample trainer, as a peer.

``fann_driver.c`` (package data) trains FANN's float32 network
incrementally and prints per-epoch timings; it is compiled against
``libfloatfann`` (``apt-get install libfann-dev``) at run time.
"""
import os
import subprocess

import numpy as np

from .native import c_compiler, compile_program
from .race import Race
from .settings import CLASSES, FANN_RACE_LEARNING_RATE, PER_SAMPLE_LEARNING_RATE, TARGET_ACCURACY


def find_fann_version():
    """FANN's version from the file name of the library the compiler links, or None."""
    compiler = c_compiler()
    if compiler is None:
        return None
    found = subprocess.run([compiler, "-print-file-name=libfloatfann.so"],
                           capture_output=True, text=True).stdout.strip()
    if not os.path.isabs(found):  # the compiler echoes the bare name when it has none
        return None
    name = os.path.basename(os.path.realpath(found))
    return name.split(".so.", 1)[1] if ".so." in name else "installed"


class FannDriver:
    """FANN 2.2 per-sample training through the compiled driver.

    FANN has no ReLU before 2.3, so hidden layers use its symmetric sigmoid
    (tanh) and the output its sigmoid; the per-sample cost hardly depends on
    the activation.  FANN computes in float32.
    """

    def __init__(self, workdir, executable):
        self.workdir = workdir
        self.executable = executable

    @classmethod
    def build(cls, workdir):
        """Compile the driver in ``workdir``: (driver, None) or (None, why not)."""
        executable = os.path.join(workdir, "fann_driver")
        error = compile_program("fann_driver.c", executable, libraries=("floatfann", "m"))
        if error is not None:
            return None, f"FANN: skipped (install libfann-dev; the driver does not build: {error})"
        return cls(workdir, executable), None

    def _write_data(self, name, X, y):
        """The driver's input file: int32 n, n_in, n_out, then float32 rows of inputs, targets."""
        path = os.path.join(self.workdir, name)
        header = np.array([len(X), X.shape[1], len(CLASSES)], dtype=np.int32)
        rows = np.hstack([X, np.eye(len(CLASSES))[y]]).astype(np.float32)
        with open(path, "wb") as file:
            file.write(header.tobytes())
            file.write(rows.tobytes())
        return path

    def train(self, X, y, architecture, epochs, learning_rate, X_test=None, y_test=None):
        """Per-epoch (training seconds, test accuracy or -1) of ``epochs`` epochs."""
        layers = architecture.units
        command = [self.executable, self._write_data("train.bin", X, y), str(epochs),
                   str(learning_rate), str(len(layers)), *map(str, layers)]
        if X_test is not None:
            command.append(self._write_data("test.bin", X_test, y_test))
        output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        return [tuple(map(float, line.split())) for line in output.splitlines()]

    def epochs(self, X, y, architecture, epochs_per_run=3):
        """A measure (see timing.interleaved_min_seconds): the seconds of the
        fastest incremental epoch of one run of the driver."""
        def measure():
            epochs = self.train(X, y, architecture, epochs_per_run, PER_SAMPLE_LEARNING_RATE)
            return min(seconds for seconds, _ in epochs)
        return measure

    def race(self, architecture, X_train, y_train, X_test, y_test, max_epochs, repeats):
        """Race to TARGET_ACCURACY at FANN's default learning rate; fastest of ``repeats``."""
        def run():
            epochs = self.train(X_train, y_train, architecture, max_epochs,
                                FANN_RACE_LEARNING_RATE, X_test, y_test)
            seconds = 0.0
            for epoch, (epoch_seconds, accuracy) in enumerate(epochs, start=1):
                seconds += epoch_seconds
                if accuracy >= TARGET_ACCURACY:
                    return Race(seconds, epoch, accuracy, reached=True)
            return Race(seconds, len(epochs), epochs[-1][1], reached=False)

        return min((run() for _ in range(repeats)), key=lambda race: race.seconds)
