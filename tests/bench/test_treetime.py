"""bench/treetime.py tells a tree's anonymous memory from the file pages it has mapped."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

TREETIME = Path(__file__).resolve().parents[2] / "bench" / "treetime.py"
MIB = 1024  # KiB

# A parent holding 64 MiB of its own and 256 MiB of a file it has mapped and read, and a
# child it starts (and waits for) holding 128 MiB of its own for a second.
TREE = """
import mmap, subprocess, sys, tempfile, time
if sys.argv[1:] == ["child"]:
    held = bytes([1]) * (128 << 20)
    time.sleep(1.0)
    sys.exit(0)
held = bytes([1]) * (64 << 20)
with tempfile.TemporaryFile() as f:
    for _ in range(256):
        f.write(bytes([2]) * (1 << 20))
    f.flush()
    mapped = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)
    touched = sum(mapped[i] for i in range(0, len(mapped), 4096))
    subprocess.run([sys.executable, __file__, "child"], check=True)
sys.exit(3)
"""


def test_anonymous_memory_is_sampled_apart_from_mapped_file_pages(tmp_path: Path) -> None:
    script, out = tmp_path / "tree.py", tmp_path / "out.json"
    script.write_text(TREE, encoding="utf-8")
    cmd = [sys.executable, str(TREETIME), str(out), sys.executable, str(script)]
    done = subprocess.run(cmd, check=False, timeout=120)
    stats = json.loads(out.read_text(encoding="utf-8"))
    assert done.returncode == stats["returncode"] == 3
    assert stats["samples"] >= 2
    # The parent's peak counts the file's pages; its anonymous memory does not.
    assert stats["max_rss_kib"] >= (256 + 64) * MIB
    # The largest process's anonymous memory is the child's 128 MiB (and its interpreter).
    assert 128 * MIB <= stats["max_rss_anon_kib"] < (128 + 64) * MIB
    # The tree's: the child's and the parent's 64 MiB at the same moment.
    assert stats["tree_rss_anon_kib"] >= (128 + 64) * MIB
    assert stats["tree_rss_anon_kib"] < (128 + 64 + 256) * MIB
