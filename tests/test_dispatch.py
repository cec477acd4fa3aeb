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


def test_available_builds_slowest_first_where_the_cpu_has_them():
    cpu = fastnet.kernels.portable
    want = (["portable"] + (["avx2-fma"] if cpu.cpu_has_avx2_fma() else [])
            + (["avx512"] if cpu.cpu_has_avx512() else []))
    assert available_builds() == want


def test_cpu_queries_agree_with_the_kernel_flags_linux_reports():
    """The CPU queries say what /proc/cpuinfo says (where there is one)."""
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.exists():
        pytest.skip("no /proc/cpuinfo")
    flags = set(next(line for line in cpuinfo.read_text().splitlines()
                     if line.startswith("flags")).split(":")[1].split())
    cpu = fastnet.kernels.portable
    assert cpu.cpu_has_avx2_fma() == ({"avx2", "fma"} <= flags)
    assert cpu.cpu_has_avx512() == ({"avx512f", "avx512vl", "avx512dq", "avx512bw", "avx2",
                                     "fma"} <= flags)


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
    monkeypatch.setitem(fastnet.kernels._RUNS_ON_THIS_CPU, "avx2-fma", lambda: False)
    monkeypatch.setitem(fastnet.kernels._RUNS_ON_THIS_CPU, "avx512", lambda: False)
    assert available_builds() == ["portable"]
    assert choose() == "portable"
    for build in ("avx2-fma", "avx512"):
        with pytest.raises(ValueError, match=r"\['portable'\]"):
            choose(build)


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
