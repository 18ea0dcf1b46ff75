"""Worker processes: forkserver workers start with the preloaded modules already imported;
spawn where there is no forkserver or its server does not start."""

from __future__ import annotations

import gc
import importlib.util
import multiprocessing
import os
import threading
from concurrent.futures import ProcessPoolExecutor
from multiprocessing.context import ForkServerProcess
from typing import Any

import pytest

from taxmatch import processes
from taxmatch.processes import PRELOAD, collector_paused, worker_context

_LOADED = "[m for m in {names!r} if m in __import__('sys').modules]"


def _in_worker(ctx: multiprocessing.context.BaseContext, expression: str) -> Any:
    with ProcessPoolExecutor(1, ctx) as pool:
        return pool.submit(eval, expression).result(timeout=120)


@pytest.mark.skipif(
    "forkserver" not in multiprocessing.get_all_start_methods(), reason="no forkserver here"
)
def test_workers_fork_from_a_server_that_imported_the_preload() -> None:
    ctx = worker_context()
    assert ctx.get_start_method() == "forkserver"
    # pandas is preloaded where it is installed (it is not a dependency of taxmatch's own)
    modules = [m for m in PRELOAD if m != "__main__" and importlib.util.find_spec(m)]
    assert "taxmatch.pipeline.staging" in modules
    assert "taxmatch.match.collapse" in modules
    assert _in_worker(ctx, _LOADED.format(names=modules)) == modules
    assert _in_worker(ctx, "__import__('os').getpid()") != os.getpid()
    assert worker_context() is ctx  # checked once per process


def test_spawn_without_a_forkserver(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(multiprocessing, "get_all_start_methods", lambda: ["fork", "spawn"])
    ctx = worker_context.__wrapped__()
    assert ctx.get_start_method() == "spawn"
    modules = [m for m in PRELOAD if m != "__main__"]
    # a spawned worker imports only what it is given: none of the preload yet
    assert _in_worker(ctx, _LOADED.format(names=modules)) == []


@pytest.mark.skipif(
    "forkserver" not in multiprocessing.get_all_start_methods(), reason="no forkserver here"
)
def test_spawn_when_the_server_cannot_start_a_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(process: object) -> object:
        raise ConnectionRefusedError("no server")

    monkeypatch.setattr(ForkServerProcess, "_Popen", staticmethod(broken))
    assert worker_context.__wrapped__().get_start_method() == "spawn"


@pytest.mark.skipif(
    "forkserver" not in multiprocessing.get_all_start_methods(), reason="no forkserver here"
)
def test_spawn_when_the_first_worker_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(processes, "_probe", os.abort)  # the probe dies: exit code not 0
    assert worker_context.__wrapped__().get_start_method() == "spawn"


@pytest.mark.skipif(
    "forkserver" not in multiprocessing.get_all_start_methods(), reason="no forkserver here"
)
def test_spawn_when_the_server_holds_another_copy(monkeypatch: pytest.MonkeyPatch) -> None:
    # The server's taxmatch is not the file this process imported: its workers would run
    # other code.
    monkeypatch.setattr(processes, "__file__", processes.__file__ + ".elsewhere")
    assert worker_context.__wrapped__().get_start_method() == "spawn"


@pytest.mark.parametrize("enabled", [True, False])
def test_the_collector_is_paused_while_a_stage_makes_rows_and_restored_after(enabled: bool) -> None:
    was = gc.isenabled()
    try:
        (gc.enable if enabled else gc.disable)()
        inside: list[bool] = []

        def judge() -> None:
            with collector_paused():
                inside.append(gc.isenabled())
                raise ZeroDivisionError

        with pytest.raises(ZeroDivisionError):
            judge()
        assert inside == [False]
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()


def test_threads_pausing_the_collector_together_resume_it_when_the_last_one_ends() -> None:
    was = gc.isenabled()
    try:
        gc.enable()
        first_in, second_in, first_out = (threading.Event() for _ in range(3))
        seen: list[bool] = []

        def first() -> None:
            with collector_paused():
                first_in.set()
                second_in.wait(5)
            first_out.set()

        def second() -> None:
            first_in.wait(5)
            with collector_paused():
                second_in.set()
                first_out.wait(5)
                seen.append(gc.isenabled())  # the first has ended: still paused here

        threads = [threading.Thread(target=f) for f in (first, second)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert seen == [False]
        assert gc.isenabled()
    finally:
        (gc.enable if was else gc.disable)()
