"""Encrypted columns: AES-256-GCM (``cryptography``) with the store's data key.

A sealed value is one text column: ``tm1:<key id>:<base64(nonce || ciphertext+tag)>``,
a fresh random 96-bit nonce per value. The associated data binds the value to its place
(``table.column:row id``), so a ciphertext copied into another row or column does not
decrypt. ``blind_index`` is an HMAC-SHA256 of a value under a key derived from the data
key, for lookups and distinct counts without decrypting (TINs: ``tin_index``).

Must never: put a value, plaintext or ciphertext, into an error or log (messages name the
table, column and row id); reuse a nonce; accept a ciphertext whose tag does not verify.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from functools import lru_cache
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from taxmatch.errors import StoreError
from taxmatch.store.keys import Keys

PREFIX: Final = "tm1"
_NONCE_BYTES: Final = 12
_INDEX_LABEL: Final = b"taxmatch blind index v1"


def place(table: str, column: str, row_id: str) -> bytes:
    """The associated data that binds a sealed value to its table, column and row."""
    return f"{table}.{column}:{row_id}".encode()


@lru_cache(maxsize=8)
def _cipher(key: bytes) -> AESGCM:
    """The AES-GCM cipher of a data key, made once (a seal encrypts two values a row)."""
    return AESGCM(key)


@lru_cache(maxsize=8)
def _index_key(key: bytes) -> bytes:
    """The blind index key derived from a data key."""
    return hmac.new(key, _INDEX_LABEL, hashlib.sha256).digest()


def seal(keys: Keys, value: str, where: bytes) -> str:
    """``value`` encrypted under the data key in use, bound to ``where``."""
    kid, key = keys.current("data")
    nonce = os.urandom(_NONCE_BYTES)
    sealed = _cipher(key).encrypt(nonce, value.encode("utf-8", "surrogatepass"), where)
    return f"{PREFIX}:{kid}:{base64.b64encode(nonce + sealed).decode('ascii')}"


def unseal(keys: Keys, token: str, where: bytes) -> str:
    """The plaintext of a ``seal`` result; ``StoreError`` naming the place if it cannot be."""
    label = where.decode()
    parts = token.split(":", 2)
    if len(parts) != 3 or parts[0] != PREFIX:
        raise StoreError(f"{label}: not an encrypted value")
    key = keys.find("data", parts[1])
    if key is None:
        raise StoreError(f"{label}: encrypted with data key {parts[1]}, not in the keyring")
    try:
        blob = base64.b64decode(parts[2], validate=True)
        plain = _cipher(key).decrypt(blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], where)
    except (binascii.Error, ValueError, InvalidTag):
        raise StoreError(f"{label}: cannot be decrypted (altered, moved or wrong key)") from None
    return plain.decode("utf-8", "surrogatepass")


def key_of(token: str) -> str | None:
    """The data key id a sealed value names (None if it is not one)."""
    parts = token.split(":", 2)
    return parts[1] if len(parts) == 3 and parts[0] == PREFIX else None


def blind_index(keys: Keys, value: str, key: bytes | None = None) -> str:
    """HMAC-SHA256 (hex) of ``value`` under the index key of the data key in use (or of
    the data key ``key``)."""
    key = key if key is not None else keys.current("data")[1]
    return hmac.new(_index_key(key), value.encode("utf-8"), hashlib.sha256).hexdigest()
