"""scikit-learn's own MLP test module, run against fastnet's drop-ins.

``sklearn/neural_network/tests/test_mlp.py`` (shipped with scikit-learn) is
copied with its import of ``MLPClassifier``/``MLPRegressor`` switched to
fastnet's and run by pytest in a child process.  Two tests reach into
scikit-learn's private machinery and cannot apply to a different
implementation; every other test must pass.
"""
import pathlib
import re
import subprocess
import sys

import pytest
import sklearn.neural_network.tests.test_mlp as sklearn_mlp_tests


SKLEARN_IMPORT = "from sklearn.neural_network import MLPClassifier, MLPRegressor"

NOT_APPLICABLE = {
    "test_gradient": "calls scikit-learn's private L-BFGS objective _loss_grad_lbfgs",
    "test_fit": "assigns coefs_ before the first fit; fastnet's coefs_ are views of "
                "the parameter buffer that the first fit (or partial_fit) lays out",
}

# scikit-learn's conftest provides this fixture; a fixed seed here.
CONFTEST = '''
import pytest

@pytest.fixture
def global_random_seed():
    return 42
'''


def test_scikit_learns_mlp_tests_pass_on_the_drop_ins(tmp_path, fastnet_env):
    source = pathlib.Path(sklearn_mlp_tests.__file__).read_text()
    assert SKLEARN_IMPORT in source
    (tmp_path / "test_mlp_on_fastnet.py").write_text(
        source.replace(SKLEARN_IMPORT, "from fastnet import MLPClassifier, MLPRegressor"))
    (tmp_path / "conftest.py").write_text(CONFTEST)
    deselect = [arg for name in NOT_APPLICABLE
                for arg in ("--deselect", f"test_mlp_on_fastnet.py::{name}")]
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W",
         "ignore::DeprecationWarning", *deselect, "test_mlp_on_fastnet.py"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600, env=fastnet_env)
    summary = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else run.stderr
    assert run.returncode == 0, run.stdout[-5000:] + run.stderr[-2000:]
    passed = int(re.search(r"(\d+) passed", summary).group(1))
    assert passed >= 50, summary      # the module holds about 60 tests


@pytest.mark.parametrize("name", sorted(NOT_APPLICABLE))
def test_the_deselected_tests_exist(name):
    """The deselected names are real tests of the module (a renamed test
    would otherwise be skipped silently)."""
    assert callable(getattr(sklearn_mlp_tests, name))

