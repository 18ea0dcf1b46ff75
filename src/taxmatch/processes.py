"""Worker processes for the CPU-bound stages (validation, judging): one start method.

Where ``forkserver`` exists (Linux, macOS), workers fork from a server process started
once per program that has already imported the program's main module and what the
workers run (``PRELOAD``): a worker starts without importing anything. A spawned worker
instead starts a new interpreter that imports the main module (for the command line,
every command) and the worker's modules again, about a second of CPU each.

Where there is no ``forkserver``, or its server does not start, workers are spawned:
slower to start, the same results. Neither inherits the parent's memory or threads
(DuckDB's), which is why plain ``fork`` is not used. Never logs a value.
"""

from __future__ import annotations

import gc
import multiprocessing
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from multiprocessing.context import BaseContext

# The modules whose functions run in workers (named, not imported: this module is below
# them), after the main module the children would otherwise re-import each, and pandas
# where it is installed (not a dependency of taxmatch's own: pyarrow imports it on first
# making an array of Python values, about 0.4 s). A module that fails to import is
# skipped by the server; a worker then imports it itself if it needs it.
PRELOAD = ("__main__", "pandas", "taxmatch.pipeline.staging", "taxmatch.match.collapse")

# How long a first worker may take to start before the server is given up on, seconds.
_START_TIMEOUT = 120.0


def _probe(expected: str) -> None:
    """The first worker's task: it starts and exits 0, proving the server works, when
    this module is the parent's file. The server imports from its own ``sys.path``,
    which in Python 3.11 is not the parent's: where they differ (a path added at run
    time) its taxmatch may be another copy, and its workers would run other code."""
    if __file__ != expected:
        raise SystemExit(3)


@cache
def worker_context() -> BaseContext:
    """The context worker pools are made in: ``forkserver`` with ``PRELOAD``, checked
    once per process by starting one worker (``_probe``), else ``spawn``."""
    spawn = multiprocessing.get_context("spawn")
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return spawn
    ctx = multiprocessing.get_context("forkserver")
    try:
        ctx.set_forkserver_preload(list(PRELOAD))
        probe = ctx.Process(target=_probe, args=(__file__,), daemon=True)
        probe.start()
        probe.join(_START_TIMEOUT)
    except (OSError, EOFError, ValueError, RuntimeError):
        return spawn
    if probe.exitcode != 0:
        if probe.exitcode is None:
            probe.kill()
            probe.join()
        return spawn
    return ctx


_PAUSING = threading.Lock()
_paused = 0  # sections in which the collector is paused now, on any thread
_resume = False  # whether the first of them found it running


@contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic garbage collector paused while a stage makes its rows: they hold no
    cycles (tuples, lists, dicts, sets), and the collector would otherwise walk the heap
    (with the normalisers' caches) over and over as they pile up. Reference counting
    frees them as ever; the collector runs again after the last section paused ends
    (threads pause it together: one ending does not resume it under another)."""
    global _paused, _resume
    with _PAUSING:
        if _paused == 0:
            _resume = gc.isenabled()
            gc.disable()
        _paused += 1
    try:
        yield
    finally:
        with _PAUSING:
            _paused -= 1
            if _paused == 0 and _resume:
                gc.enable()
