"""``taxmatch officer add``: console accounts for disclosure officers, supervisors and
auditors. The password is read from stdin (one line) or, on a terminal, prompted for
twice; it is stored only as an argon2 hash and never echoed or logged."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from taxmatch.cli import _edge, _store, _store_option
from taxmatch.cli.audit import actor_id, origin_id
from taxmatch.cli.settings import get_settings


@click.group()
def officer() -> None:
    """Console accounts (disclosure officers, supervisors, auditors)."""


@officer.command("add")
@_store_option
@click.argument("username")
@click.option(
    "--role",
    required=True,
    type=click.Choice(["officer", "supervisor", "auditor"]),
    help="officer: reviews; supervisor: reviews and approves releases, accounting; "
    "auditor: read-only, accounting.",
)
@_edge
def officer_add(store: Path | None, username: str, role: str) -> None:
    """Create a console account; the password is read from stdin."""
    from taxmatch.pipeline.officers import add_officer
    from taxmatch.store.state import StateStore

    if sys.stdin.isatty():
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    with StateStore.open(_store(store), get_settings().database_url) as state:
        add_officer(state, username, role, password, actor=actor_id(), origin=origin_id())
    click.echo(f"officer {username} added with role {role}")
