"""What a batch ran on, kept in the store so that it can be replayed exactly
(``taxmatch batch replay``): the request file, the envelope and the policy text, under
``STORE/batches/<batch_id>/`` (0600 files). The custodian keeps the requests it received
anyway (the accounting of disclosures answers for them); the copy is what makes a replay
possible without the requester.

Retention: that copy is the one copy. An API upload (``STORE/api/uploads/<batch_id>/``)
is deleted as soon as its job is finished, done (package sealed, inputs kept) or failed
(nothing runs a failed job again; the requester uploads anew); ``sweep_uploads`` removes
what a worker that died between finishing and deleting left. Never logs; errors name
paths only.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from functools import partial
from pathlib import Path

from taxmatch.owner_only import copy_private, make_dir, write_private_text

REQUESTS_STEM = "requests"
ENVELOPE_NAME = "envelope.json"
POLICY_NAME = "policy.yaml"


def inputs_dir(store: Path, batch_id: str) -> Path:
    return store / "batches" / batch_id


def workspace_file(store: Path, batch_id: str) -> Path:
    """The batch's DuckDB workspace (its normalised records and outcomes), which review,
    explanation and evaluation read after the run."""
    return store / "work" / batch_id / "work.duckdb"


def uploads_dir(store: Path) -> Path:
    """Where the API keeps uploads until their job is finished."""
    return store / "api" / "uploads"


def discard_upload(store: Path, batch_id: str) -> bool:
    """Delete the raw upload of a finished batch; True when there was one."""
    home = uploads_dir(store) / batch_id
    if not home.is_dir() or home.is_symlink():
        return False
    shutil.rmtree(home, ignore_errors=True)
    return True


def sweep_uploads(store: Path, finished: Callable[[str], bool]) -> int:
    """Delete the uploads of every batch ``finished`` says is finished; how many."""
    root = uploads_dir(store)
    if not root.is_dir():
        return 0
    gone = 0
    for home in root.iterdir():
        if home.is_dir() and not home.name.startswith("tmp-") and finished(home.name):
            gone += discard_upload(store, home.name)
    return gone


def retain_inputs(
    store: Path, batch_id: str, requests: Path, envelope: Path, policy_text: str
) -> None:
    """Keep a batch's request file, envelope and policy in the store (idempotent).

    Each file is written under a temporary name and renamed, so a crash never leaves a
    half copy under the final name.
    """
    target = inputs_dir(store, batch_id)
    make_dir(target)
    writes: list[tuple[Path, Callable[[Path], None]]] = [
        (target / f"{REQUESTS_STEM}{requests.suffix.lower()}", partial(copy_private, requests)),
        (target / ENVELOPE_NAME, partial(copy_private, envelope)),
        (target / POLICY_NAME, lambda tmp: write_private_text(tmp, policy_text)),
    ]
    for dst, write in writes:
        if not dst.exists():
            tmp = dst.with_name(dst.name + ".partial")
            write(tmp)
            tmp.replace(dst)
