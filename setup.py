"""Build fastnet's Cython kernels, with OpenMP when the compiler supports it."""
import glob
import os
import platform
import sys
import tempfile

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools._distutils.ccompiler import new_compiler
from setuptools._distutils.errors import CompileError, LinkError
from setuptools._distutils.sysconfig import customize_compiler

OPENMP_PROBE = r"""
#include <omp.h>
int main(void) {
    int n = 0;
    #pragma omp parallel reduction(+:n)
    n += 1;
    return n > 0 ? 0 : 1;
}
"""


def openmp_flag():
    """'-fopenmp' if a probe program compiles and links with it, else None.

    A compiler without OpenMP still builds fastnet: Cython's prange then runs
    serially.
    """
    if sys.platform == "win32":
        return None
    compiler = new_compiler()
    customize_compiler(compiler)
    with tempfile.TemporaryDirectory() as tmp:
        source = os.path.join(tmp, "probe.c")
        with open(source, "w") as f:
            f.write(OPENMP_PROBE)
        try:
            objects = compiler.compile([source], output_dir=tmp,
                                       extra_postargs=["-fopenmp"])
            compiler.link_executable(objects, os.path.join(tmp, "probe"),
                                     extra_postargs=["-fopenmp"])
        except (CompileError, LinkError):
            print("fastnet: OpenMP not available, building serial kernels")
            return None
    return "-fopenmp"


def accepts(flags):
    """Whether the compiler builds a trivial file with these flags."""
    compiler = new_compiler()
    customize_compiler(compiler)
    with tempfile.TemporaryDirectory() as tmp:
        source = os.path.join(tmp, "probe.c")
        with open(source, "w") as f:
            f.write("int main(void) { return 0; }\n")
        try:
            compiler.compile([source], output_dir=tmp, extra_postargs=flags)
        except CompileError:
            return False
    return True


flag = openmp_flag()
omp = [flag] if flag else []
# -O3 vectorises the inner loops; -ffp-contract=fast lets the compiler fuse
# multiply-adds where the target has FMA.  No -ffast-math: NaN/inf keep their
# meaning.  No -march=native: the build must run on any x86-64.  -g0: no
# debug information (it doubled the modules' size and the link time).
compile_args = ["-O3", "-ffp-contract=fast", "-fno-math-errno", "-g0"] + omp
link_args = list(omp)
# FASTNET_SANITIZE=address builds the kernels with AddressSanitizer (also
# e.g. "address,undefined"), for tests/test_sanitizer.py: -O1 keeps the
# checked run fast enough, -g and frame pointers give readable reports.  Load
# the runtime first: LD_PRELOAD=$(gcc -print-file-name=libasan.so).
sanitize = os.environ.get("FASTNET_SANITIZE", "")
if sanitize:
    sanitizer = [f"-fsanitize={sanitize}", "-fno-omit-frame-pointer"]
    compile_args += ["-O1", "-g"] + sanitizer
    link_args += sanitizer


def kernels(name, extra_args=()):
    """One build of the kernels (fastnet/_kernels/*.pxi) for one instruction set."""
    return Extension(
        f"fastnet.{name}",
        [f"fastnet/{name}.pyx"],
        depends=glob.glob("fastnet/_kernels/*.pxi") + glob.glob("fastnet/_kernels/*.h"),
        include_dirs=[np.get_include(), "fastnet/_kernels"],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_9_API_VERSION")],
        extra_compile_args=compile_args + list(extra_args),
        extra_link_args=link_args,
    )


extensions = [kernels("_kernels_portable")]
# Builds for wider vector units, chosen at import time by fastnet/kernels.py
# when the CPU has them: AVX2 with FMA, and AVX-512 (its instructions and 32
# vector registers; on 256-bit vectors, since GCC's 512-bit code ran the
# float32 per-sample loops 3.5x slower on a Skylake-X Xeon).
VARIANTS = {
    "_kernels_avx2": ["-mavx2", "-mfma"],
    "_kernels_avx512": ["-mavx512f", "-mavx512vl", "-mavx512dq", "-mavx512bw", "-mavx2",
                        "-mfma", "-mprefer-vector-width=256"],
}
if platform.machine().lower() in ("x86_64", "amd64"):
    extensions += [kernels(name, flags) for name, flags in VARIANTS.items() if accepts(flags)]



class ParallelBuildExt(build_ext):
    """Compiles the kernel builds side by side, one per core (``-j`` still wins)."""

    def finalize_options(self):
        super().finalize_options()
        if self.parallel is None:
            self.parallel = os.cpu_count() or 1


setup(ext_modules=cythonize(extensions, language_level=3, nthreads=os.cpu_count() or 1),
      cmdclass={"build_ext": ParallelBuildExt})
