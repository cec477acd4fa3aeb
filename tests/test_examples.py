"""The scripts in examples/ run as a user runs them and show what they say.

Each runs in a fresh Python (the fastnet under test on its path, a temporary
directory as working directory) and must exit 0, print the lines that carry
its point, and leave no files behind.
"""
import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def check_online_learning(output):
    running = [float(v) for v in re.findall(r"streamed: running accuracy ([\d.]+)", output)]
    assert len(running) >= 3
    assert running[-1] > running[0]  # the stream teaches it
    held_out = float(re.search(r"accuracy on \d+ held-out images: ([\d.]+)", output).group(1))
    assert held_out > 0.85


def check_grid_search_pipeline(output):
    scores = re.findall(r"cross-validated accuracy ([\d.]+)", output)
    assert len(scores) == 4  # 2 hidden-layer sizes x 2 activations
    assert "ELU(alpha=0.5)" in output
    assert re.search(r"^best: \{.*'mlpclassifier__activation'", output, re.MULTILINE)
    test = float(re.search(r"test accuracy of the best pipeline: ([\d.]+)", output).group(1))
    assert test > 0.93


def check_custom_network(output):
    accuracy = float(re.search(r"test accuracy ([\d.]+)", output).group(1))
    assert accuracy > 0.95
    assert "loaded: ['tanh', ELU(alpha=0.5)] -> softmax" in output
    assert "identical predictions after loading: True" in output
    assert "identical weights after one more epoch each: True" in output


def check_dask_streaming(output):
    assert re.search(r"Parquet data set: 1347 rows in \d+ files", output)
    assert re.search(r"streamed: 15 epochs, final loss [\d.]+", output)
    streamed = float(re.search(r"streamed accuracy on 450 held-out images: ([\d.]+)",
                               output).group(1))
    in_memory = float(re.search(r"in-memory accuracy on 450 held-out images: ([\d.]+)",
                                output).group(1))
    assert in_memory > 0.95 and abs(streamed - in_memory) <= 0.01


def check_dask_grid_search(output):
    assert "fastnet threads per task on each worker: [1, 1]" in output
    assert re.search(r"searched 4 candidates x 3 folds on the cluster in [\d.]+ s", output)
    assert len(re.findall(r"cross-validated accuracy ([\d.]+)", output)) == 4
    assert re.search(r"^best: \{'mlpclassifier__alpha'", output, re.MULTILINE)
    assert "same scores as the search in memory: True" in output
    test = float(re.search(r"test accuracy of the best pipeline: ([\d.]+)", output).group(1))
    assert test > 0.93


CHECKS = {
    "online_learning.py": check_online_learning,
    "grid_search_pipeline.py": check_grid_search_pipeline,
    "custom_network.py": check_custom_network,
    "dask_streaming.py": check_dask_streaming,
    "dask_grid_search.py": check_dask_grid_search,
}


def test_every_example_is_checked():
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == sorted(CHECKS)


@pytest.mark.parametrize("script", sorted(CHECKS))
def test_example_runs(script, fastnet_env, tmp_path):
    run = subprocess.run([sys.executable, str(EXAMPLES / script)], cwd=tmp_path,
                         env=fastnet_env, capture_output=True, text=True, timeout=600,
                         check=False)
    assert run.returncode == 0, run.stderr
    CHECKS[script](run.stdout)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("script", sorted(CHECKS))
def test_example_says_what_it_shows(script):
    """A module docstring: what the script shows and how to run it."""
    source = (EXAMPLES / script).read_text(encoding="utf-8")
    docstring = re.match(r'"""(.*?)"""', source, re.DOTALL)
    assert docstring and len(docstring.group(1).split()) >= 30
    assert f"python examples/{script}" in docstring.group(1)
