"""What the run ran on: CPU, load, library versions and BLAS builds."""
import os
import platform

import numpy as np
from threadpoolctl import threadpool_info

# a load average above this at the start means other processes compete for the cores
BUSY_LOAD = 0.5


def cpu_name():
    """The CPU's model name (Linux), else what ``platform`` knows."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            return next(line.split(":", 1)[1].strip() for line in cpuinfo
                        if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def load_average():
    """The one-minute load average, or None where the OS has none."""
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else None


def machine_lines(torch, fann_version):
    """CPU model, core count, load, library versions and the BLAS libraries."""
    import scipy
    import sklearn

    import fastnet  # also loads SciPy's BLAS, which fastnet's minibatch GEMMs call

    # each wheel ships its own BLAS: name it by its folder (numpy.libs -> numpy)
    blas = [f"{os.path.basename(os.path.dirname(info['filepath'])).split('.')[0]}: "
            f"{info['internal_api']} {info['version']} ({info.get('architecture') or '?'})"
            for info in threadpool_info() if info["user_api"] == "blas"]
    load = load_average()
    load_text = f", load average {load:.2f}" if load is not None else ""
    return [f"machine: {cpu_name()}, {os.cpu_count()} cores{load_text}, "
            f"Python {platform.python_version()}",
            f"versions: fastnet {fastnet.__version__} ({fastnet.kernels.NAME} kernels), "
            f"numpy {np.__version__}, SciPy {scipy.__version__}, "
            f"scikit-learn {sklearn.__version__}, "
            f"PyTorch {torch.__version__ if torch else 'not installed'}, "
            f"FANN {fann_version or 'not found'}",
            f"BLAS: {'; '.join(blas) or 'not found'}"]


def busy_note():
    """A warning when other processes were busy at the start, else None."""
    load = load_average()
    if load is not None and load > BUSY_LOAD:
        return ("other processes were busy at the start (load average above): timings, above "
                "all the multi-thread rows, may be off")
    return None
