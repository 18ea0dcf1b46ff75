"""``taxmatch officer add|disable|enable|unlock|reset-password|sessions-revoke``: console
accounts for disclosure officers, supervisors and auditors. A password is read from stdin
(one line) or, on a terminal, prompted for twice; it is stored only as an argon2 hash and
never echoed or logged. Every change is a ledger event naming the account (ids only)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click

from taxmatch.cli.audit import actor_id, origin_id
from taxmatch.cli.common import get_settings, store_command, store_dir

T = TypeVar("T")


@click.group()
def officer() -> None:
    """Console accounts (disclosure officers, supervisors, auditors)."""


def _read_password() -> str:
    if sys.stdin.isatty():
        password: str = click.prompt("Password", hide_input=True, confirmation_prompt=True)
        return password
    return sys.stdin.readline().rstrip("\r\n")


@store_command(officer, "add", "username")
@click.option(
    "--role",
    required=True,
    type=click.Choice(["officer", "supervisor", "auditor"]),
    help="officer: reviews; supervisor: reviews and approves releases, accounting; "
    "auditor: read-only, accounting.",
)
def officer_add(store: Path | None, username: str, role: str) -> None:
    """Create a console account; the password is read from stdin."""
    from taxmatch.pipeline.officers import add_officer

    _change(store, add_officer, username, role, _read_password())
    click.echo(f"officer {username} added with role {role}")


def _change(store: Path | None, action: Callable[..., T], username: str, *args: str) -> T:
    """Run one ``taxmatch.pipeline.officers`` change on the store, as this user, from here."""
    from taxmatch.pipeline.stores import StateStore

    with StateStore.open(store_dir(store), get_settings().database_url) as state:
        return action(state, username, *args, actor=actor_id(), origin=origin_id())


@store_command(officer, "disable", "username")
def officer_disable(store: Path | None, username: str) -> None:
    """Disable an account: it cannot log in and its sessions end at once."""
    from taxmatch.pipeline.officers import disable_officer

    ended = _change(store, disable_officer, username)
    click.echo(f"officer {username} disabled; {ended} session(s) ended")


@store_command(officer, "enable", "username")
def officer_enable(store: Path | None, username: str) -> None:
    """Enable a disabled account again."""
    from taxmatch.pipeline.officers import enable_officer

    _change(store, enable_officer, username)
    click.echo(f"officer {username} enabled")


@store_command(officer, "unlock", "username")
def officer_unlock(store: Path | None, username: str) -> None:
    """Lift a lockout after failed log-ins now (it also runs out by itself)."""
    from taxmatch.pipeline.officers import unlock_officer

    _change(store, unlock_officer, username)
    click.echo(f"officer {username} unlocked")


@store_command(officer, "reset-password", "username")
def officer_reset_password(store: Path | None, username: str) -> None:
    """Set a new password (read like `officer add`'s); lifts a lockout, ends every session."""
    from taxmatch.pipeline.officers import reset_password

    ended = _change(store, reset_password, username, _read_password())
    click.echo(f"officer {username}: password reset; {ended} session(s) ended")


@store_command(officer, "sessions-revoke", "username")
def officer_sessions_revoke(store: Path | None, username: str) -> None:
    """End every console session of an officer (they can log in again)."""
    from taxmatch.pipeline.officers import revoke_sessions

    ended = _change(store, revoke_sessions, username)
    click.echo(f"officer {username}: {ended} session(s) ended")
