"""Threads: how many the kernels use, BLAS held to one, and forked children.

Fork safety.  GNU OpenMP (libgomp) cannot start threads in a child forked
from a process whose OpenMP threads exist: the child waits forever for a
thread pool it did not inherit.  A child forked from a process that imported
fastnet therefore trains and predicts on one thread (the kernels then enter
no OpenMP region at all), whatever ``n_jobs`` says.  Multiprocessing with the
'spawn' or 'forkserver' start method (and joblib's default loky workers)
starts fresh processes, which keep their threads.

Dask workers.  A dask.distributed worker runs ``nthreads`` tasks at once and
its nanny starts it with OMP_NUM_THREADS=1, so OpenMP alone would give every
task one thread however many the worker has.  Inside a worker task fastnet
instead shares the worker's threads among the tasks it is running: a lone
task (one grid-search fit on a worker of four threads) trains on all four,
four tasks at once on one each -- the cores the worker was given, never more.
"""
import contextlib
import functools
import os
import sys
import threading

from threadpoolctl import ThreadpoolController

from . import kernels

_forked = False


def _after_fork_in_child():
    global _forked
    _forked = True


os.register_at_fork(after_in_child=_after_fork_in_child)


def in_forked_child():
    """Whether this process was forked from one that imported fastnet."""
    return _forked


def n_threads(n_jobs):
    """OpenMP threads for ``n_jobs``, as joblib counts: None or -1 all the
    process may use, -2 all but one, ...; never more than that (a team of
    threads beyond the cores only waits), and 1 in a forked child (see the
    module docstring); in a dask worker's task, its share of the worker's
    threads."""
    if n_jobs == 0:
        raise ValueError("n_jobs == 0 has no meaning; use None, -1 or a positive int")
    if _forked:
        return 1
    available = max(1, kernels.max_threads())
    worker_share = dask_worker_share()
    if worker_share is not None:
        available = worker_share
    if n_jobs is None:
        return available
    if n_jobs < 0:
        return max(1, available + 1 + n_jobs)
    return min(int(n_jobs), available)


def dask_worker_share():
    """Threads for a task running on a dask.distributed worker: the worker's
    threads over the tasks it is executing now (at least one); None outside
    a worker task.  distributed is looked
    up, never imported: a process that did not import it runs no worker."""
    distributed = sys.modules.get("distributed")
    if distributed is None:
        return None
    try:
        worker = distributed.get_worker()
    except ValueError:   # not in a worker task
        return None
    state = worker.state
    return max(1, state.nthreads // max(1, len(state.executing)))


@functools.lru_cache(maxsize=1)
def _blas_libraries():
    """threadpoolctl's controllers of the BLAS libraries loaded when first
    asked (after the kernels loaded SciPy's BLAS): finding them costs half a
    millisecond, so it is done once."""
    return tuple(ThreadpoolController().select(user_api="blas").lib_controllers)


class _SingleThreadedBlas:
    """Holds BLAS to one thread while any fit in any thread needs it.

    A BLAS library's thread count is process-wide, so fits running in two
    Python threads share one limit, taken by the first and given back by the
    last.  It is threadpoolctl's ``limit(limits=1, user_api="blas")`` without
    the library survey that call makes each time (tens of microseconds, paid
    by every partial_fit call): each library's count is read and set through
    its controller, and libraries already on one thread are left alone.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._users = 0
        self._changed = ()     # (library controller, its thread count before)

    def __enter__(self):
        with self._lock:
            if self._users == 0:
                changed = []
                for library in _blas_libraries():
                    count = library.num_threads
                    if count is not None and count != 1:
                        library.set_num_threads(1)
                        changed.append((library, count))
                self._changed = tuple(changed)
            self._users += 1

    def __exit__(self, *exc):
        with self._lock:
            self._users -= 1
            if self._users == 0:
                for library, count in self._changed:
                    library.set_num_threads(count)
                self._changed = ()


_blas_limit = _SingleThreadedBlas()
_no_limit = contextlib.nullcontext()   # reusable: it holds nothing


def single_threaded_blas(uses_blas):
    """Run the minibatch path's GEMMs on one BLAS thread.

    Multithreaded BLAS may split a sum differently for other thread counts;
    one thread keeps results bit-identical for any n_jobs (the kernels share
    wide GEMMs among their own threads in slices that the shapes fix instead).
    """
    return _blas_limit if uses_blas else _no_limit
