"""The audit entries the edges write for what they serve (Publication 1075): an API call
(``api_call``) and a console page that shows personal data (``console_view``). Who, from
where, what (ids only); the payload holds a status code or a page name, never a value.

Must never: put a TIN, a name or an address into an entry; a TIN looked up in the
console is recorded as its keyed hash under the ledger key (``taxpayer_object_id``).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from taxmatch.ledger.chain import LedgerDraft
from taxmatch.ledger.digest import keyed_hash

if TYPE_CHECKING:  # the CLI imports ``typed_tin`` at start-up: no database driver for it
    from taxmatch.store.state import StateStore


def record_api_call(state: StateStore, *, actor: str, origin: str, call: str, status: int) -> None:
    """One ``api_call`` entry: ``call`` is "METHOD route batch"; success is a status
    below 400. Raises the store's error when the entry cannot be written."""
    draft = LedgerDraft("api_call", actor, origin, status < 400, call, {"status": status})
    state.append_ledger([draft])


def record_console_view(
    state: StateStore, *, officer: str, origin: str, page: str, object_id: str
) -> None:
    """One ``console_view`` entry: ``officer`` saw ``object_id`` on ``page``."""
    draft = LedgerDraft("console_view", officer, origin, True, object_id, {"page": page})
    state.append_ledger([draft])


def taxpayer_object_id(state: StateStore, tin: str) -> str:
    """The id under which a view of ``tin``'s accounting is recorded: its keyed hash."""
    return "tin:" + keyed_hash(state.ledger_key(), tin)


def typed_tin(text: str) -> str | None:
    """A TIN as an officer types it for an accounting look-up (dashes and spaces allowed)
    as its nine digits; None when it is not nine digits."""
    tin = text.replace("-", "").replace(" ", "")
    return tin if re.fullmatch(r"\d{9}", tin) else None
