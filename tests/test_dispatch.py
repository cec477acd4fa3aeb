"""Tests of the choice of kernel build (fastnet/kernels.py): which builds
this machine runs, which one fastnet picks, and FASTNET_KERNELS."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fastnet
import fastnet.kernels
from fastnet.kernels import available_builds, choose, load


def test_available_builds_portable_first_avx2_where_the_cpu_has_it():
    cpu_runs_avx2 = fastnet.kernels.portable.cpu_has_avx2_fma()
    assert available_builds() == (["portable", "avx2-fma"] if cpu_runs_avx2 else ["portable"])


def test_choose_picks_the_fastest_available(monkeypatch):
    monkeypatch.delenv("FASTNET_KERNELS", raising=False)
    assert choose() == available_builds()[-1]
    assert choose("portable") == "portable"
    monkeypatch.setenv("FASTNET_KERNELS", "portable")
    assert choose() == "portable"


@pytest.mark.parametrize("requested", ["sse9", "avx2-fma "])
def test_choose_refuses_an_unknown_build_naming_the_available(requested):
    with pytest.raises(ValueError, match="available") as info:
        choose(requested)
    assert str(available_builds()) in str(info.value)


def test_choose_refuses_a_build_the_cpu_cannot_run(monkeypatch):
    """On a CPU without AVX2/FMA the avx2-fma build is neither listed nor
    chosen, even when requested (it would die of an illegal instruction)."""
    monkeypatch.setattr(fastnet.kernels.portable, "cpu_has_avx2_fma", lambda: False)
    assert available_builds() == ["portable"]
    assert choose() == "portable"
    with pytest.raises(ValueError, match=r"\['portable'\]"):
        choose("avx2-fma")


def test_load_refuses_an_unknown_name():
    with pytest.raises(ValueError, match="unknown kernel build"):
        load("sse9")


def test_fastnet_uses_the_chosen_build():
    """Everything fastnet uses comes from the one build it chose."""
    module = load(fastnet.kernels.NAME)
    assert fastnet.kernels.Plan is module.Plan
    assert fastnet.kernels.Samples is module.Samples
    assert fastnet.kernels.module is module


def test_builds_do_not_mix():
    """Samples of one build are refused by another build's Plan (a
    TypeError, never a misread struct)."""
    builds = available_builds()
    if len(builds) < 2:
        pytest.skip("this machine runs only one build")
    ours, theirs = load(builds[0]), load(builds[1])
    plan = ours.Plan([2, 1], [0], np.zeros((1, 3)), 0, fused_delta=True)
    samples = theirs.Samples.dense(np.ones((1, 2)), np.ones((1, 1)))
    with pytest.raises(TypeError):
        plan.loss_and_gradient(np.zeros(plan.n_params), np.zeros(plan.n_params), samples)


def chosen_in_subprocess(env, kernels_env):
    """fastnet.kernels.NAME in a fresh interpreter, with FASTNET_KERNELS set
    to kernels_env (None: unset)."""
    if kernels_env is not None:
        env = {**env, "FASTNET_KERNELS": kernels_env}
    return subprocess.run([sys.executable, "-c", "import fastnet.kernels as k; print(k.NAME)"],
                          capture_output=True, text=True, env=env, timeout=120,
                          cwd=Path(__file__).parent)


def test_environment_variable_forces_portable(fastnet_env):
    proc = chosen_in_subprocess(fastnet_env, "portable")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "portable"


def test_without_environment_variable_the_fastest_build(fastnet_env):
    proc = chosen_in_subprocess(fastnet_env, None)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == available_builds()[-1]


def test_unknown_environment_variable_fails_the_import(fastnet_env):
    proc = chosen_in_subprocess(fastnet_env, "sse9")
    assert proc.returncode != 0
    assert "ValueError" in proc.stderr and "available" in proc.stderr
