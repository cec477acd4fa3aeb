"""Fixtures shared by the tests."""
import os
from pathlib import Path

import pytest

import fastnet.kernels


@pytest.fixture(params=fastnet.kernels.available_builds())
def build(request):
    """The kernel module of each build this machine runs (``portable``, and
    ``avx2-fma`` on CPUs with AVX2 and FMA), so that a test taking this
    fixture checks every instruction set, not only the one fastnet picks."""
    return fastnet.kernels.load(request.param)


@pytest.fixture
def fastnet_env():
    """Environment for a subprocess that imports the fastnet under test (an
    installed one, or the source tree built in place), FASTNET_KERNELS unset."""
    root = str(Path(fastnet.__file__).resolve().parent.parent)
    env = {k: v for k, v in os.environ.items() if k != "FASTNET_KERNELS"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    return env
