"""The kernels under AddressSanitizer.

A copy of the package sources (fastnet/, setup.py, pyproject.toml) is built
in a temporary directory with ``FASTNET_SANITIZE=address`` (setup.py), then
the kernel tests, the fuzz tests (fewer examples) and a fit/predict smoke
script run against that build in subprocesses with gcc's ASan runtime
preloaded into Python.  Any out-of-bounds access, use after free or double
free in the kernels aborts the subprocess with an "ERROR: AddressSanitizer"
report.  Leak detection is off: Python's own allocations at exit are not
leaks of ours (tests/test_leaks.py watches memory instead).

ASan sees the kernels' own loads and stores and the C library calls they
make (memcpy, memset); BLAS is not instrumented, so a GEMM reading past a
buffer would go unseen.

Works from a source checkout whether fastnet is installed (CI) or built in
place; skipped where gcc's libasan is missing or there are no sources.
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TESTS = ["conftest.py", "reference.py", "test_kernels.py", "test_fuzz.py"]
ASAN_ERROR = "ERROR: AddressSanitizer"

# Fit, predict, partial_fit and the loss and gradient through every kernel
# path: dense, CSR and float32 input; per-sample, minibatch, full-batch and
# L-BFGS; one thread and two, with every layer threaded and layers wider than
# one 32-neuron chunk; full-batch gradients over more than one chunk of rows;
# each kernel build.
SMOKE = r"""
import sys
import warnings

import numpy as np
import scipy.sparse as sp

import fastnet.kernels
from fastnet import ELU, Logistic, MLPClassifier, MLPRegressor, Network

assert fastnet.kernels.module.__file__.startswith(sys.argv[1]), fastnet.kernels.module.__file__
warnings.simplefilter("ignore")
rng = np.random.default_rng(0)
X = rng.uniform(-1, 1, (40, 7))
X[rng.random(X.shape) < 0.5] = 0.0
Y = rng.uniform(-1, 1, (40, 3))
labels = rng.integers(0, 3, 40)
fastnet.kernels.PARALLEL_MIN_WEIGHTS = 0
fastnet.kernels.GEMM_SLICE_ROWS = 1
for build in fastnet.kernels.available_builds():
    module = fastnet.kernels.load(build)
    fastnet.kernels.Plan, fastnet.kernels.Samples = module.Plan, module.Samples
    for data in (X, sp.csr_matrix(X), X.astype(np.float32)):
        for solver, batch_size in [("sgd", 1), ("adam", 1), ("sgd", 16), ("adam", "full"),
                                   ("lbfgs", "auto")]:
            for n_jobs in (1, 2):
                net = Network(hidden_layer_sizes=(40, 1, 33),
                              activation=["relu", Logistic(2, 1, 0), ELU(0.5)],
                              output_activation="softmax", loss="cross_entropy",
                              solver=solver, batch_size=batch_size, momentum=0.9,
                              alpha=1e-3, max_iter=1, n_jobs=n_jobs, random_state=0)
                target = np.eye(3)[labels]
                net.fit(data, target, sample_weight=rng.uniform(0, 2, 40))
                # 320 rows: two threads predict 160 each, and the full-batch
                # gradient takes them in two chunks (256 rows at most)
                tall = sp.vstack([data] * 8) if sp.issparse(data) else np.vstack([data] * 8)
                net.predict(tall)
                net._loss_and_gradient(tall, np.vstack([target] * 8))
                if solver != "lbfgs":
                    net.partial_fit(data, target)
        MLPClassifier(hidden_layer_sizes=(35,), max_iter=3, n_jobs=2).fit(
            data, labels).predict_proba(data)
        MLPRegressor(hidden_layer_sizes=(), solver="sgd", max_iter=3).fit(data, Y).predict(data)
print("smoke ok")
"""

# Reads one element past a heap block through memmove: the preloaded runtime
# must report it, or a clean run above would mean nothing.
CONTROL = r"""
import ctypes
import numpy as np
a, b = np.zeros(512), np.zeros(1024)
ctypes.memmove(b.ctypes.data, a.ctypes.data, a.nbytes + 8)
"""


def asan_runtime():
    """Path of gcc's libasan.so, or None."""
    gcc = shutil.which("gcc")
    if gcc is None:
        return None
    path = subprocess.run([gcc, "-print-file-name=libasan.so"], capture_output=True,
                          text=True).stdout.strip()
    return path if os.path.isabs(path) and os.path.exists(path) else None


def copy_sources(root):
    """fastnet's sources and the tests run here into root, without builds."""
    ignore = shutil.ignore_patterns("*.so", "*.c", "*.html", "__pycache__", "build")
    shutil.copytree(REPO / "fastnet", root / "fastnet", ignore=ignore)
    for name in ("setup.py", "pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, root / name)
    (root / "tests").mkdir()
    for name in TESTS:
        shutil.copy2(REPO / "tests" / name, root / "tests" / name)


@pytest.fixture(scope="module")
def asan_build(tmp_path_factory):
    """(root, environment): the sources built with ASan, and an environment
    that runs Python on that build with the ASan runtime loaded."""
    pytest.importorskip("Cython", reason="building the kernels needs Cython (the test extra)")
    runtime = asan_runtime()
    if runtime is None:
        pytest.skip("gcc's AddressSanitizer runtime (libasan.so) is not installed")
    if not (REPO / "setup.py").exists():
        pytest.skip("no source checkout around the tests")
    root = tmp_path_factory.mktemp("asan")
    copy_sources(root)
    env = {k: v for k, v in os.environ.items()
           if k not in ("FASTNET_KERNELS", "PYTHONPATH", "LD_PRELOAD")}
    build = subprocess.run([sys.executable, "setup.py", "build_ext", "--inplace", "-j", "2"],
                           cwd=root, env={**env, "FASTNET_SANITIZE": "address"},
                           capture_output=True, text=True)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    # OpenMP threads that sleep at once when they wait, instead of spinning
    # first: the checked runs start thread teams for tiny layers thousands of
    # times, and spinning made them many times slower on busy cores
    env.update(PYTHONPATH=str(root), LD_PRELOAD=runtime, OMP_WAIT_POLICY="passive",
               ASAN_OPTIONS="detect_leaks=0:abort_on_error=1")
    return root, env


def run_checked(args, root, env):
    """Run Python with args under ASan; the output if it exited cleanly."""
    proc = subprocess.run([sys.executable, *args], cwd=root, env=env, capture_output=True,
                          text=True)
    output = proc.stdout[-5000:] + proc.stderr[-10000:]
    assert ASAN_ERROR not in proc.stderr, output
    assert proc.returncode == 0, output
    return proc.stdout


def test_asan_instruments_the_build_and_reports(asan_build):
    root, env = asan_build
    built = sorted((root / "fastnet").glob("_kernels_*.so"))
    assert built and all(b"__asan_report" in path.read_bytes() for path in built)
    proc = subprocess.run([sys.executable, "-c", CONTROL], cwd=root, env=env,
                          capture_output=True, text=True)
    assert proc.returncode != 0 and ASAN_ERROR in proc.stderr


def test_kernel_tests_under_asan(asan_build):
    # --capture=sys leaves file descriptor 2 alone, so that a report written
    # just before ASan aborts the process is not lost in pytest's capture
    root, env = asan_build
    run_checked(["-m", "pytest", "-q", "-x", "--capture=sys", "-p", "no:cacheprovider",
                 "tests/test_kernels.py"], root, env)


def test_fuzz_under_asan(asan_build):
    root, env = asan_build
    run_checked(["-m", "pytest", "-q", "-x", "--capture=sys", "-p", "no:cacheprovider",
                 "-k", "not diverging", "tests/test_fuzz.py"],
                root, {**env, "FASTNET_FUZZ_EXAMPLES": "30"})


def test_fit_predict_smoke_under_asan(asan_build):
    root, env = asan_build
    assert "smoke ok" in run_checked(["-c", SMOKE, str(root)], root, env)
