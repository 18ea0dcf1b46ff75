"""Run one command and measure its whole process tree: ``python bench/treetime.py OUT CMD…``.

``/usr/bin/time`` counts only the processes its child waits for. taxmatch's workers fork
from a forkserver the command starts but never waits for, so their CPU would be left out.
This timer makes itself a child subreaper (Linux ``PR_SET_CHILD_SUBREAPER``): every
descendant orphaned on the way is handed to it, it reaps them all after the command
ends, and ``RUSAGE_CHILDREN`` then holds the CPU of the whole tree. Writes one JSON
object to OUT: ``wall``, ``user``, ``system`` (seconds), ``max_rss_kib`` (the largest
single process's peak resident memory, the kernel's high-water mark) and ``returncode``;
exits with the command's return code.

Resident memory counts the pages of files a process has mapped and touched (clean page
cache the kernel drops under pressure) beside its anonymous memory (heap, stacks, arenas:
what it holds). While the command runs, the tree's ``RssAnon`` (``/proc/PID/status``) is
sampled every ``INTERVAL`` seconds: ``max_rss_anon_kib`` is the largest single process's
peak, ``tree_rss_anon_kib`` the peak of the sum over the tree's processes at one sample
(anonymous pages a fork still shares with its parent counted in both). Sampled, so a
peak shorter than the interval can be missed; ``samples`` says how many were taken.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

PR_SET_CHILD_SUBREAPER = 36
INTERVAL = 0.25  # seconds between samples of the tree's anonymous memory
PROC = Path("/proc")


def _parent(pid: str) -> int | None:
    """The parent pid in ``/proc/PID/stat`` (None when the process is gone)."""
    try:
        stat = (PROC / pid / "stat").read_text()
    except OSError:
        return None
    return int(stat.rpartition(")")[2].split()[1])  # the name may hold spaces or ')'


def descendants(root: int) -> list[int]:
    """Every live process under ``root`` (not ``root`` itself)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir(PROC):
        if entry.isdigit() and (parent := _parent(entry)) is not None:
            children.setdefault(parent, []).append(int(entry))
    found, todo = [], [root]
    while todo:
        kids = children.get(todo.pop(), [])
        found += kids
        todo += kids
    return found


def rss_anon_kib(pid: int) -> int | None:
    """``RssAnon`` of one process in KiB (None when it is gone or a zombie)."""
    try:
        status = (PROC / str(pid) / "status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1])
    return None


class AnonSampler(threading.Thread):
    """Samples the anonymous memory of this process's descendants until stopped."""

    def __init__(self, interval: float = INTERVAL) -> None:
        super().__init__(daemon=True)
        self.interval = interval
        self.largest = 0  # KiB, the largest single process at any sample
        self.tree = 0  # KiB, the largest sum over the tree at one sample
        self.samples = 0
        self._done = threading.Event()

    def sample(self) -> None:
        sizes = [kib for pid in descendants(os.getpid()) if (kib := rss_anon_kib(pid))]
        self.largest = max(self.largest, *sizes, 0)
        self.tree = max(self.tree, sum(sizes))
        self.samples += 1

    def run(self) -> None:
        while not self._done.is_set():
            self.sample()
            self._done.wait(self.interval)

    def stop(self) -> None:
        self._done.set()
        self.join()


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        raise SystemExit("usage: treetime.py OUT CMD [ARG ...]")
    out, cmd = argv[0], argv[1:]
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise SystemExit(f"prctl(PR_SET_CHILD_SUBREAPER) failed: errno {ctypes.get_errno()}")
    sampler = AnonSampler()
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd)
    sampler.start()
    returncode = proc.wait()
    wall = time.monotonic() - t0
    sampler.stop()
    while True:  # reap what the command left behind (a forkserver, its workers)
        try:
            os.wait()
        except ChildProcessError:
            break
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = {
        "wall": round(wall, 3),
        "user": usage.ru_utime,
        "system": usage.ru_stime,
        "max_rss_kib": usage.ru_maxrss,
        "max_rss_anon_kib": sampler.largest,
        "tree_rss_anon_kib": sampler.tree,
        "samples": sampler.samples,
        "returncode": returncode,
    }
    with open(out, "w", encoding="utf-8") as f:
        json.dump(result, f)
    return returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
