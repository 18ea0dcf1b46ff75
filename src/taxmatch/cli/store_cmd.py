"""``taxmatch store init`` and ``taxmatch keys rotate``: making a store and rotating its keys.

``store init`` is one of the three commands that may make a store (with ``reference load``
and ``demo``). Neither command prints a key: ids and paths only.
"""

from __future__ import annotations

from pathlib import Path

import click

from taxmatch.cli.audit import actor_id, origin_id
from taxmatch.cli.common import get_settings, new_store, store_command, store_dir


@click.group("store")
def store_group() -> None:
    """Make a store, or bring an existing one up to date."""


@store_command(store_group, "init")
def store_init(store: Path | None) -> None:
    """Make the store (0700) with its state database and its keyring (0600, beside the
    store, or TAXMATCH_KEYRING); on an existing store, move the ledger key out of the
    database and tighten every file to 0600."""
    from taxmatch.pipeline.keys import init_store

    root = new_store(store)
    keyring = init_store(root, get_settings().database_url)
    click.echo(f"store {root} ready; keyring {keyring}")


@click.group("keys")
def keys_group() -> None:
    """The store's keys (kept outside the store: see docs/security.md)."""


@store_command(keys_group, "rotate")
@click.option(
    "--data/--no-data",
    default=True,
    show_default=True,
    help="New data key; re-encrypt every stored ciphertext under it.",
)
@click.option(
    "--ledger/--no-ledger",
    default=False,
    show_default=True,
    help="New ledger key for new keyed hashes; the old one stays to verify.",
)
def keys_rotate(store: Path | None, data: bool, ledger: bool) -> None:
    """Rotate the store's keys and record it in the ledger (key ids only)."""
    from taxmatch.pipeline.keys import Kind, rotate_keys

    kinds: tuple[Kind, ...] = (*(("data",) if data else ()), *(("ledger",) if ledger else ()))
    if not kinds:
        raise click.UsageError("nothing to rotate: give --data and/or --ledger")
    done = rotate_keys(
        store_dir(store),
        kinds,
        database_url=get_settings().database_url,
        actor=actor_id(),
        origin=origin_id(),
    )
    for r in done:
        extra = (
            f", {r.resealed} values re-encrypted, {r.retired} old keys dropped"
            if r.kind == "data"
            else ""
        )
        click.echo(f"{r.kind} key now {r.key_id}{extra}")
