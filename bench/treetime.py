"""Run one command and measure its whole process tree: ``python bench/treetime.py OUT CMD…``.

``/usr/bin/time`` counts only the processes its child waits for. taxmatch's workers fork
from a forkserver the command starts but never waits for, so their CPU would be left out.
This timer makes itself a child subreaper (Linux ``PR_SET_CHILD_SUBREAPER``): every
descendant orphaned on the way is handed to it, it reaps them all after the command
ends, and ``RUSAGE_CHILDREN`` then holds the CPU of the whole tree. Writes one JSON
object to OUT: ``wall``, ``user``, ``system`` (seconds), ``max_rss_kib`` (the largest
single process) and ``returncode``; exits with the command's return code.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import subprocess
import sys
import time

PR_SET_CHILD_SUBREAPER = 36


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        raise SystemExit("usage: treetime.py OUT CMD [ARG ...]")
    out, cmd = argv[0], argv[1:]
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise SystemExit(f"prctl(PR_SET_CHILD_SUBREAPER) failed: errno {ctypes.get_errno()}")
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd)
    returncode = proc.wait()
    wall = time.monotonic() - t0
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
        "returncode": returncode,
    }
    with open(out, "w", encoding="utf-8") as f:
        json.dump(result, f)
    return returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
