"""Compiling the benchmark's C programs (shipped as package data) at run time.

``fann_driver.c`` (FANN's per-sample trainer) and ``roofline.c`` (the FMA
peak and the bandwidth of the weight traffic) are built with the system's C
compiler into a temporary folder when ``fastnet bench`` runs, so an
installed fastnet needs no build step for them.
"""
import os
import shutil
import subprocess
from importlib import resources


def c_compiler():
    """Path of ``$CC``, ``cc`` or ``gcc``, or None when there is none."""
    for name in (os.environ.get("CC"), "cc", "gcc"):
        path = name and shutil.which(name)
        if path:
            return path
    return None


def compile_program(source_name, executable, flags=(), libraries=()):
    """Build the package's ``source_name`` into ``executable``.

    Returns None on success, else the compiler's first error line (or why
    it could not run).
    """
    compiler = c_compiler()
    if compiler is None:
        return "no C compiler"
    with resources.as_file(resources.files(__package__) / source_name) as source:
        command = [compiler, "-O2", *flags, str(source), "-o", executable,
                   *(f"-l{name}" for name in libraries)]
        compiled = subprocess.run(command, capture_output=True, text=True)
    if compiled.returncode == 0:
        return None
    return next((line for line in compiled.stderr.splitlines() if "error" in line),
                compiled.stderr.strip())


def run_program(command):
    """Standard output of ``command``, or None when it failed (e.g. SIGILL)."""
    result = subprocess.run(command, capture_output=True, text=True)
    return result.stdout if result.returncode == 0 else None
