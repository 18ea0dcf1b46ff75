"""Owner-only files and directories whatever the umask (issue 12, defect 1)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from taxmatch.owner_only import (
    copy_private,
    make_dir,
    open_private,
    restrict_tree,
    write_private_text,
)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


@pytest.fixture(autouse=True)
def _loose_umask() -> Iterator[None]:
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_make_dir_makes_every_missing_level_0700(tmp_path: Path) -> None:
    made = make_dir(tmp_path / "a" / "b" / "c")
    assert [mode(p) for p in (tmp_path / "a", tmp_path / "a" / "b", made)] == [0o700] * 3


def test_make_dir_tightens_its_own_but_not_the_users_directory(tmp_path: Path) -> None:
    mine, theirs = tmp_path / "store", tmp_path / "out"
    mine.mkdir(mode=0o755)
    theirs.mkdir(mode=0o755)
    os.chmod(mine, 0o755)
    os.chmod(theirs, 0o755)
    make_dir(mine)
    make_dir(theirs, own=False)
    assert (mode(mine), mode(theirs)) == (0o700, 0o755)


def test_files_are_0600_even_over_an_existing_0644_file(tmp_path: Path) -> None:
    path = tmp_path / "f.txt"
    path.write_text("old")
    os.chmod(path, 0o644)
    write_private_text(path, "new")
    assert (mode(path), path.read_text()) == (0o600, "new")
    with open_private(tmp_path / "g.bin") as handle:
        handle.write(b"x")
    copy_private(path, tmp_path / "h.txt")
    assert mode(tmp_path / "g.bin") == mode(tmp_path / "h.txt") == 0o600
    with pytest.raises(FileExistsError):
        open_private(tmp_path / "g.bin", "xb")


def test_restrict_tree_tightens_everything_and_follows_no_link(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("x")
    os.chmod(outside, 0o644)
    root = tmp_path / "root"
    (root / "d").mkdir(parents=True)
    (root / "d" / "f").write_text("x")
    (root / "link").symlink_to(outside)
    restrict_tree(root)
    assert (mode(root), mode(root / "d"), mode(root / "d" / "f")) == (0o700, 0o700, 0o600)
    assert mode(outside) == 0o644
