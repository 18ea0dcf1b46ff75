"""Verifying the rows bound to the ledger: every bound row re-hashed against the claims of
the entries that bound it (``taxmatch.store.ledger_bound`` defines the views and binds).

A claim is checked under every ledger key the keyring holds, so a rotated ledger key
leaves what the old one bound verifiable. Problems name tables, batches, rows, releases
and sequence numbers, never a value.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, select

from taxmatch.errors import LedgerError
from taxmatch.ledger.bind import (
    EVENT_ROWS_BACKFILLED,
    BoundClaim,
    RowsDigest,
    bound_claim,
    claims_match,
)
from taxmatch.ledger.digest import EVENT_DECISIONS, EVENT_DECISIONS_DISCARDED
from taxmatch.store.keys import Keys
from taxmatch.store.ledger_bound import (
    BY_RELEASE,
    DISCARDED,
    DISCLOSURES,
    EVENT_DISCLOSURES,
    EVENT_DISCLOSURES_SEALED,
    GROUP_COUNTS,
    RELEASE_FINISH,
    RELEASE_REVIEWS,
    REQUEST_COUNTS,
    REST,
    REVIEWS,
    SUBJECTS,
    VIEWS,
    Group,
    Unopened,
    View,
    stream,
    unfinished,
)
from taxmatch.store.models import batches


@dataclass
class BoundClaims:
    """The claims of every verified entry on bound rows: per view, group -> last claim;
    the row ranges of chunk claims, per (view, batch); the sealed batches (-> the seq of
    their ``disclosures_sealed``)."""

    groups: dict[str, dict[Group, BoundClaim]] = field(
        default_factory=lambda: {v.name: {} for v in VIEWS}
    )
    chunks: dict[tuple[str, str], list[tuple[int, int]]] = field(default_factory=dict)
    sealed: dict[str, int] = field(default_factory=dict)
    _ranges: dict[tuple[str, str], list[tuple[int, int]]] = field(default_factory=dict)

    def ranges(self, view: View, batch: str) -> list[tuple[int, int]]:
        """The row ranges of the batch's chunks that bind rows of ``view``, sorted."""
        key = (view.name, batch)
        if key not in self._ranges:
            held = self.groups[view.name]
            self._ranges[key] = sorted(
                {r for r in self.chunks.get(key, ()) if ("chunk", batch, *r) in held}
            )
        return self._ranges[key]

    def see(self, seq: int, event_type: str, object_id: str, payload: Mapping[str, object]) -> None:
        """Take note of a verified entry's claims; ``LedgerError`` when malformed."""
        if event_type == EVENT_DECISIONS_DISCARDED:
            for name in DISCARDED:
                claims = self.groups[name]
                for group in [g for g in claims if g[1] == object_id]:
                    del claims[group]
                self.chunks.pop((name, object_id), None)
            self.sealed.pop(object_id, None)
            return
        if event_type == EVENT_DISCLOSURES_SEALED:
            self.sealed[object_id] = seq
        for view in VIEWS:
            claim = bound_claim(seq, view.name, payload)
            if claim is not None:
                group = self._group(view, seq, event_type, object_id, payload)
                self.groups[view.name][group] = claim

    def _group(
        self, view: View, seq: int, event_type: str, object_id: str, payload: Mapping[str, object]
    ) -> Group:
        backfill = event_type == EVENT_ROWS_BACKFILLED
        if view in (REVIEWS, SUBJECTS) and backfill:
            return (REST, object_id)
        if view is REVIEWS:
            batch, row = payload.get("batch_id"), payload.get("row_number")
            if not isinstance(batch, str) or type(row) is not int:
                raise LedgerError(f"ledger entry {seq} binds a review it does not name")
            return ("row", batch, row)
        if view is DISCLOSURES:
            return self._disclosures(seq, event_type, object_id, payload)
        if view is SUBJECTS and event_type == EVENT_DISCLOSURES_SEALED:
            return ("sealed", object_id)
        if view is SUBJECTS and event_type == EVENT_DECISIONS:
            return self._chunk(view, seq, object_id, payload)
        if view is SUBJECTS:
            return ("release", object_id)
        return ("id", object_id)

    def _disclosures(
        self, seq: int, event_type: str, batch: str, payload: Mapping[str, object]
    ) -> Group:
        """A ``disclosures`` entry's group: its release's, or its chunk's rows of its batch."""
        if event_type != EVENT_DISCLOSURES:
            raise LedgerError(f"ledger entry {seq} binds disclosures it is not one of")
        release = payload.get("release_id")
        if release is not None:
            if not isinstance(release, str):
                raise LedgerError(f"ledger entry {seq} is not a well-formed disclosures entry")
            return ("release", release)
        return self._chunk(DISCLOSURES, seq, batch, payload)

    def _chunk(self, view: View, seq: int, batch: str, payload: Mapping[str, object]) -> Group:
        first, last = payload.get("first_row"), payload.get("last_row")
        if type(first) is not int or type(last) is not int:
            raise LedgerError(f"ledger entry {seq} is not a well-formed {view.name} chunk")
        self.chunks.setdefault((view.name, batch), []).append((first, last))
        return ("chunk", batch, first, last)


class Problem(Exception):
    """A verification problem: the entry it concerns (None: a row no entry accounts for)."""

    def __init__(self, seq: int | None, text: str) -> None:
        super().__init__(text)
        self.seq, self.text = seq, text


def verify_bound(
    conn: Connection, keys: Keys, claims: BoundClaims
) -> tuple[int, tuple[int | None, str] | None]:
    """Re-hash every bound row against the claims, each claim under any ledger key the
    keyring holds; (rows checked, problem or None)."""
    released: dict[tuple[str, int], str] = {}  # (batch, row) -> release that disclosed it
    checked = 0
    try:
        _check_sealed_done(conn, claims)
        for view in VIEWS:
            checked += _check(conn, keys, view, claims, released)
    except Problem as problem:
        return checked, (problem.seq, problem.text)
    except Unopened as error:
        return checked, (None, error.message)
    except (ValueError, TypeError, LedgerError):  # a stored value of the wrong type
        return checked, (None, f"{view.table.name}: a stored row is malformed")
    return checked, None


def _check_sealed_done(conn: Connection, claims: BoundClaims) -> None:
    """A batch the ledger says was sealed is done: the readers count a batch's disclosures
    as made by its status (``taxmatch.store.seal.subjects_made``), so a sealed batch set
    back to another status would hide them."""
    sealed = claims.sealed
    if not sealed:
        return
    rows = conn.execute(
        select(batches.c.batch_id).where(batches.c.status != "done").order_by(batches.c.batch_id)
    )
    for (batch_id,) in rows:
        if batch_id in sealed:
            raise Problem(sealed[batch_id], f"batches row {batch_id} was sealed but is not done")


def _check(
    conn: Connection,
    keys: Keys,
    view: View,
    claims: BoundClaims,
    released: dict[tuple[str, int], str],
) -> int:
    mine = claims.groups[view.name]
    ledger_keys = [key for _, key in keys.ledger]
    digests: dict[Group, list[RowsDigest]] = {}
    checked = 0

    def fresh() -> list[RowsDigest]:
        return [RowsDigest(key) for key in ledger_keys]

    for row in stream(conn, keys, view):
        group = _row_group(view, row, claims, released)
        if group not in mine and (REST, row["batch_id"]) in mine:
            group = (REST, row["batch_id"])
        if group not in mine:
            if view is RELEASE_FINISH and unfinished(row):
                continue
            table = view.table.name
            raise Problem(
                None, f"{table} row {view.row_id(row)} is not accounted for by any ledger entry"
            )
        cells = tuple(row.values())
        for digest in digests.setdefault(group, fresh()):
            digest.add(cells)
        checked += 1
        if view is RELEASE_REVIEWS and row["disclosed"] is True:
            released[(row["batch_id"], int(row["row_number"]))] = row["release_id"]
    for group, claim in sorted(mine.items(), key=lambda item: item[1].seq):
        if not any(claims_match(claim, d) for d in digests.get(group) or fresh()):
            raise Problem(claim.seq, f"{_describe(view, group)} do not match the ledger")
    return checked


def _row_group(
    view: View, row: Mapping[str, Any], claims: BoundClaims, released: dict[tuple[str, int], str]
) -> Group:
    if view.name in BY_RELEASE:
        return ("id", row["release_id"])
    if view is REVIEWS:
        return ("row", row["batch_id"], int(row["row_number"]))
    if view in (SUBJECTS, DISCLOSURES):
        batch, number = row["batch_id"], int(row["row_number"])
        if (batch, number) in released:
            return ("release", released[(batch, number)])
        if view is SUBJECTS and ("sealed", batch) in claims.groups[SUBJECTS.name]:
            return ("sealed", batch)
        ranges = claims.ranges(view, batch)
        i = bisect_right(ranges, number, key=lambda r: r[0]) - 1
        if i >= 0 and ranges[i][0] <= number <= ranges[i][1]:
            return ("chunk", batch, *ranges[i])
        return ("none",)
    return ("id", row["batch_id"])


def _describe(view: View, group: Group) -> str:
    table, kind = view.table.name, group[0]
    if kind == REST:
        return f"{table} rows of batch {group[1]} recorded before schema 0006"
    if kind == "chunk":
        return f"{table} rows {group[2]}-{group[3]} of batch {group[1]}"
    if kind == "sealed":
        return f"{table} rows of sealed batch {group[1]}"
    if kind == "row":
        return f"{table} row {group[1]}#{group[2]}"
    if kind == "release" or view is RELEASE_REVIEWS:
        return f"{table} rows of release {group[1]}"
    if view in (REQUEST_COUNTS, GROUP_COUNTS):
        return f"{table} rows of batch {group[1]}"
    if view is RELEASE_FINISH:
        return f"{table} row {group[1]} (publication columns)"
    return f"{table} row {group[1]}"
