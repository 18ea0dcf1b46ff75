"""Owner-only files and directories: everything taxmatch writes is 0600, every directory
it makes is 0700, whatever the process umask.

The store holds taxpayer data (the reference master file, requests received, decisions,
the state database); response packages, accounting lists and explain pages carry
addresses and TINs. ``os.umask`` is process-wide and set by whoever started us, so these
helpers never rely on it; files that a library creates itself (DuckDB, SQLite, Arrow) are
tightened with ``restrict`` once written.

Must never: loosen a mode, follow a symbolic link when changing modes, or chmod a
directory the user handed us that taxmatch did not create (an ``--out`` of ``.``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
from pathlib import Path
from typing import IO, Any, BinaryIO, Final, Literal, TextIO, overload

DIR_MODE: Final = 0o700
FILE_MODE: Final = 0o600

_WRITE_FLAGS: Final = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0)


def make_dir(path: Path, *, own: bool = True) -> Path:
    """Create ``path`` and its missing parents, each 0700; returns ``path``.

    ``own``: the directory is taxmatch's (the store and its parts), so an existing one is
    tightened to 0700 too. Pass False for a directory the user names (``--out``): it is
    created 0700 when missing and left as it is when it exists.
    """
    missing: list[Path] = []
    probe = path
    while not probe.exists() and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):  # a concurrent writer: tighten it all the same
            directory.mkdir(mode=DIR_MODE)
        _chmod(directory, DIR_MODE)
    if own and not missing and path.is_dir() and not path.is_symlink():
        _chmod(path, DIR_MODE)
    return path


@overload
def open_private(path: Path, mode: Literal["wb", "xb"] = "wb") -> BinaryIO: ...
@overload
def open_private(path: Path, mode: Literal["w"], **kwargs: Any) -> TextIO: ...
def open_private(path: Path, mode: str = "wb", **kwargs: Any) -> IO[Any]:
    """``open(path, mode)`` for writing, the file 0600 from its first byte (``x``: only
    if it does not exist yet). ``kwargs`` go to ``os.fdopen`` (encoding, newline)."""
    flags = _WRITE_FLAGS | (os.O_EXCL if mode.startswith("x") else 0)
    fd = os.open(path, flags, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)  # an existing file keeps its mode through O_CREAT
        return os.fdopen(fd, mode.replace("x", "w"), **kwargs)
    except BaseException:
        os.close(fd)
        raise


def write_private_text(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path``, 0600."""
    with open_private(path, "w", encoding="utf-8", newline="") as handle:
        handle.write(text)


def copy_private(source: Path, target: Path) -> None:
    """Copy ``source``'s bytes to ``target`` (0600; the source's mode is not copied)."""
    with open(source, "rb") as src, open_private(target, "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)


def restrict(path: Path) -> None:
    """Tighten one existing file to 0600 (a directory to 0700); symlinks and missing
    paths are left alone. For files a library created with the umask's mode."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        return
    if stat.S_ISLNK(info.st_mode):
        return
    _chmod(path, DIR_MODE if stat.S_ISDIR(info.st_mode) else FILE_MODE)


def restrict_tree(root: Path) -> None:
    """``restrict`` ``root`` and everything under it (symlinks are not followed)."""
    restrict(root)
    if not root.is_dir() or root.is_symlink():
        return
    for parent, dirs, files in os.walk(root):
        for name in (*dirs, *files):
            restrict(Path(parent) / name)


def _chmod(path: Path, mode: int) -> None:
    with contextlib.suppress(FileNotFoundError):  # removed meanwhile: nothing to protect
        os.chmod(path, mode)
