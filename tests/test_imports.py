"""``import fastnet`` stays light: the optional extras and heavy libraries
load on first use, never at import."""
import subprocess
import sys

import pytest

LAZY = {
    "onnx": "fastnet.to_onnx imports onnx when called",
    "skops": "fastnet.save / fastnet.load import skops when called",
    "matplotlib": "fastnet.plot_loss_curve imports matplotlib when called",
    "click": "only the command line parses arguments",
    "dask": "fastnet.dask.fit imports dask when called",
    "distributed": "only fastnet.dask's L-BFGS and a dask worker's tasks use distributed",
}


@pytest.mark.parametrize("module", sorted(LAZY))
def test_importing_fastnet_does_not_import(module, fastnet_env, tmp_path):
    code = ("import sys, fastnet; from fastnet import save, load, plot_loss_curve, to_onnx; "
            f"print({module!r} in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, cwd=tmp_path, env=fastnet_env, timeout=120)
    assert result.stdout.strip() == "False", LAZY[module]
