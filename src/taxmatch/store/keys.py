"""The store's keys, kept outside the database they protect.

Two kinds of 256-bit key: the **ledger** key (HMAC: person keys, ``values_hmac``) and
the **data** key (AES-GCM for the encrypted columns, and the HMAC
index of TINs derived from it). Both live in the keyring file, JSON, mode 0600, beside
the store directory (``<store>.keys``; ``TAXMATCH_KEYRING`` names another path), never
inside it. ``TAXMATCH_LEDGER_KEY`` / ``TAXMATCH_DATA_KEY`` (one or more comma-separated
keys, hex or base64, the first in use) take precedence over the file for their kind.

A key's id is a fingerprint of the key (16 hex digits of a SHA-256 over a fixed label,
the kind and the key), so a key has the same id wherever it comes from. Rotation puts a
new key first; older keys stay for what they already protect (see docs/security.md).

Must never: log, print or put into an error a key or any part of it (messages name the
file, the variable and the entry number); read the keyring without the lock when about
to change it; create a keyring for a store that already holds data protected by keys.
"""

from __future__ import annotations

import base64
import binascii
import fcntl
import hashlib
import json
import os
import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Literal

from taxmatch.errors import StoreError
from taxmatch.owner_only import make_dir, open_private, restrict

KEYRING_SCHEMA: Final = "taxmatch/keyring/v1"
ENV_KEYRING: Final = "TAXMATCH_KEYRING"
ENV_KEYS: Final = {"ledger": "TAXMATCH_LEDGER_KEY", "data": "TAXMATCH_DATA_KEY"}
KEY_BYTES: Final = 32

Kind = Literal["ledger", "data"]
KINDS: Final[tuple[Kind, ...]] = ("ledger", "data")


def key_id(kind: Kind, key: bytes) -> str:
    """The key's public id: 16 hex digits of SHA-256 over a label, the kind and the key."""
    return hashlib.sha256(b"taxmatch-key-id\0" + kind.encode() + b"\0" + key).hexdigest()[:16]


def keyring_path(store_dir: Path, environ: Mapping[str, str] | None = None) -> Path:
    """Where the store's keyring is: ``TAXMATCH_KEYRING``, else ``<store>.keys`` beside it."""
    env = os.environ if environ is None else environ
    given = env.get(ENV_KEYRING)
    if given:
        return Path(given)
    absolute = Path(os.path.abspath(store_dir))
    return absolute.with_name(absolute.name + ".keys")


@dataclass(frozen=True, slots=True)
class Keys:
    """Key material in use: per kind, (id, key) pairs, the one in use first."""

    ledger: tuple[tuple[str, bytes], ...]
    data: tuple[tuple[str, bytes], ...]

    def current(self, kind: Kind) -> tuple[str, bytes]:
        return getattr(self, kind)[0]  # type: ignore[no-any-return]

    def find(self, kind: Kind, kid: str) -> bytes | None:
        return dict(getattr(self, kind)).get(kid)

    def __repr__(self) -> str:  # never the key bytes, whatever prints this
        ids = {kind: [kid for kid, _ in getattr(self, kind)] for kind in KINDS}
        return f"Keys({ids})"


def ephemeral_keys() -> Keys:
    """Fresh keys held in memory only: for an in-memory database, which dies with them."""
    ledger, data = secrets.token_bytes(KEY_BYTES), secrets.token_bytes(KEY_BYTES)
    return Keys(((key_id("ledger", ledger), ledger),), ((key_id("data", data), data),))


class Keyring:
    """The keyring file at ``path`` plus the environment's keys."""

    def __init__(self, path: Path, environ: Mapping[str, str] | None = None) -> None:
        self.path = path
        self._env = dict(os.environ if environ is None else environ)

    @classmethod
    def for_store(cls, store_dir: Path) -> Keyring:
        return cls(keyring_path(store_dir))

    def stamp(self) -> tuple[int, int, int] | None:
        """(inode, size, mtime) of the keyring file, None without one: changes on every
        write (each write replaces the file)."""
        try:
            info = self.path.stat()
        except FileNotFoundError:
            return None
        return info.st_ino, info.st_size, info.st_mtime_ns

    def from_environment(self, kind: Kind) -> bool:
        """True when ``kind``'s keys come from its environment variable."""
        return bool(_env_keys(kind, self._env))

    def load(self, *, create: bool = False) -> Keys:
        """The keys in use. ``create``: make the file (fresh random keys for the kinds the
        environment does not give) when it is missing; otherwise a missing one is an error."""
        from_env = {kind: _env_keys(kind, self._env) for kind in KINDS}
        if self.path.exists():
            stored = self._read()
        elif all(from_env.values()):
            stored = {}
        elif create:
            with self._locked():
                if not self.path.exists():
                    self._write({}, fill=True)
                stored = self._read()
        else:
            raise StoreError(
                f"keyring {self.path} not found: the store's keys are kept there "
                f"(or in {ENV_KEYS['ledger']} and {ENV_KEYS['data']}); see docs/security.md"
            )
        merged = {}
        for kind in KINDS:
            merged[kind] = tuple(dict.fromkeys([*from_env[kind], *stored.get(kind, [])]))
            if not merged[kind]:
                raise StoreError(f"keyring {self.path} holds no {kind} key")
        return Keys(**merged)

    def adopt_ledger_key(self, secret: bytes) -> None:
        """Keep a ledger key that an older taxmatch kept in the database (idempotent).

        Refused when the keyring already uses another ledger key: it belongs to another
        store, and this store's keyed hashes need their own key.
        """
        if len(secret) < KEY_BYTES:
            raise StoreError("the database's ledger key is too short to adopt")
        pair = (key_id("ledger", secret), bytes(secret))
        env_pairs = _env_keys("ledger", self._env)
        if env_pairs:
            if pair not in env_pairs:
                raise StoreError(
                    f"{ENV_KEYS['ledger']} does not hold this store's ledger key "
                    "(it is still in the database): add it to the variable, after the key in use"
                )
            return
        with self._locked():
            stored = self._read() if self.path.exists() else {}
            held = stored.get("ledger", [])
            if pair in held:
                return
            if held:
                raise StoreError(
                    f"keyring {self.path} holds another store's ledger key; "
                    f"set {ENV_KEYRING} to a keyring of this store's own"
                )
            self._write({**stored, "ledger": [pair]}, fill=True)

    def rotate(self, kind: Kind) -> str:
        """Put a fresh key of ``kind`` first in the file; the id of the key now in use.
        With the kind's variable set there is nothing to generate: its first key is used."""
        env_pairs = _env_keys(kind, self._env)
        if env_pairs:
            return env_pairs[0][0]
        with self._locked():
            stored = self._read()
            fresh = secrets.token_bytes(KEY_BYTES)
            pair = (key_id(kind, fresh), fresh)
            self._write({**stored, kind: [pair, *stored.get(kind, [])]})
        return pair[0]

    def retire(self, kind: Kind, keep: int = 2) -> int:
        """Drop the stored keys of ``kind`` after the ``keep`` newest; how many dropped."""
        with self._locked():
            stored = self._read()
            held = stored.get(kind, [])
            if len(held) > keep:
                self._write({**stored, kind: held[:keep]})
            return max(0, len(held) - keep)

    def save_copy(self, target: Path) -> None:
        """Write this keyring's keys (file and environment) to a new file ``target``."""
        keys = self.load()
        copy = Keyring(target, {})
        with copy._locked():
            copy._write({"ledger": list(keys.ledger), "data": list(keys.data)})

    # --- file -------------------------------------------------------------------------

    @contextmanager
    def _locked(self) -> Iterator[None]:
        make_dir(self.path.parent, own=False)
        lock = self.path.with_name(self.path.name + ".lock")
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _read(self) -> dict[Kind, list[tuple[str, bytes]]]:
        try:
            doc = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise StoreError(f"keyring {self.path} not found") from None
        except (OSError, ValueError):
            raise StoreError(f"keyring {self.path} is not readable") from None
        if not isinstance(doc, dict) or doc.get("schema") != KEYRING_SCHEMA:
            raise StoreError(f"keyring {self.path} has an unknown schema version")
        restrict(self.path)
        out: dict[Kind, list[tuple[str, bytes]]] = {}
        for kind in KINDS:
            entries = doc.get(kind, [])
            if not isinstance(entries, list):
                raise StoreError(f"keyring {self.path}: '{kind}' must be a list")
            out[kind] = [_stored_pair(self.path, kind, i, e) for i, e in enumerate(entries, 1)]
        return out

    def _write(self, stored: Mapping[Kind, list[tuple[str, bytes]]], *, fill: bool = False) -> None:
        doc: dict[str, Any] = {"schema": KEYRING_SCHEMA}
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        for kind in KINDS:
            pairs = list(stored.get(kind, []))
            if fill and not pairs and not _env_keys(kind, self._env):
                fresh = secrets.token_bytes(KEY_BYTES)
                pairs = [(key_id(kind, fresh), fresh)]
            doc[kind] = [
                {"id": kid, "key": base64.b64encode(key).decode("ascii"), "added": now}
                for kid, key in pairs
            ]
        tmp = self.path.with_name(self.path.name + ".tmp")
        with open_private(tmp, "w", encoding="utf-8") as handle:
            handle.write(json.dumps(doc, indent=2) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.path)


def _stored_pair(path: Path, kind: Kind, number: int, entry: Any) -> tuple[str, bytes]:
    where = f"keyring {path}: {kind} key {number}"
    if not isinstance(entry, dict) or not isinstance(entry.get("key"), str):
        raise StoreError(f"{where} is malformed")
    key = _decode_key(entry["key"])
    if key is None:
        raise StoreError(f"{where} is not a {KEY_BYTES}-byte key")
    if entry.get("id") != key_id(kind, key):
        raise StoreError(f"{where}: its id does not match the key")
    return key_id(kind, key), key


def _env_keys(kind: Kind, environ: Mapping[str, str]) -> list[tuple[str, bytes]]:
    name = ENV_KEYS[kind]
    raw = environ.get(name, "").strip()
    if not raw:
        return []
    pairs = []
    for number, token in enumerate(raw.split(","), 1):
        key = _decode_key(token.strip())
        if key is None:
            raise StoreError(
                f"{name}: entry {number} is not a {KEY_BYTES}-byte key (hex or base64)"
            )
        pairs.append((key_id(kind, key), key))
    return pairs


def _decode_key(text: str) -> bytes | None:
    if len(text) == 2 * KEY_BYTES:
        try:
            return bytes.fromhex(text)
        except ValueError:
            pass
    try:
        key = base64.b64decode(text.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        return None
    return key if len(key) == KEY_BYTES else None
