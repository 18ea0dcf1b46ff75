"""A single-record lookup, answered synchronously through the batch path.

The record becomes a one-row request file and the envelope a JSON file (canonical, so
the same lookup is the same batch and is answered from the batch already run), and both
go through ``run_batch``: the same validation, matching, disclosure rule, package and
ledger entries as any batch. The answer is that batch's one row.

A serving process keeps a ``LookupService``: its state store and a warm matcher
(``taxmatch.match.warm``) stay open between lookups, so a lookup against a million
persons takes about a tenth of a second instead of about one. The warm matcher is built
in the background at start-up (and again after a reference reload or a new model; a
failed build is retried only for another snapshot or model); until it is ready, lookups
take the cold path, with the same answers.

Must never: decide anything itself, answer for an agency other than the envelope's, or
put a value into an error or a log.
"""

from __future__ import annotations

import csv
import json
import shutil
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path

from taxmatch.contracts import REQUEST_COLUMNS
from taxmatch.errors import AccessDenied, PackageError, TaxmatchError
from taxmatch.events import Event, emit
from taxmatch.match.model import load_model_info
from taxmatch.match.warm import WarmMatcher
from taxmatch.owner_only import make_dir, open_private, write_private_text
from taxmatch.pipeline.batch import BatchRequest, Warm, run_batch
from taxmatch.reference.snapshot import current_reference
from taxmatch.store.state import StateStore

_FILES = ("disclosed", "rejected", "unmatched", "pending")


@dataclass(frozen=True, slots=True)
class LookupConfig:
    store: Path
    out: Path
    database_url: str | None = None
    policy: Path | None = None
    matcher: str = "probabilistic"
    as_of: date | None = None  # default: today (UTC)


@dataclass(frozen=True, slots=True)
class LookupResult:
    """The one row's answer, as the package gives it to the requester."""

    batch_id: str
    request_id: str
    disposition: str  # disclosed / rejected / unmatched / pending
    outcome: str | None
    reason_codes: list[str] = field(default_factory=list)
    fields: list[str] = field(default_factory=list)
    disclosure: dict[str, str] | None = None
    reused: bool = False


class LookupService:
    """What a serving process keeps open for lookups: its state store and a warm matcher
    for the reference snapshot and model in force. Thread-safe: lookups take turns on the
    warm matcher (its in-memory database is the lookup's workspace)."""

    def __init__(self, cfg: LookupConfig, state: StateStore, *, warm: bool = True) -> None:
        self.cfg = cfg
        self.state = state
        self.warm = warm  # False: every lookup takes the cold path (never builds)
        self._matcher: WarmMatcher | None = None
        self._building: threading.Thread | None = None
        self._failed: tuple[Path, str] | None = None  # (snapshot, model sha) that failed
        self._guard = threading.Lock()
        self._closed = False

    @property
    def status(self) -> str:
        """``warm`` (a matcher for the snapshot and model in force), ``warming`` (one is
        being built) or ``cold``."""
        if self._serves(self._matcher, self._in_force()):
            return "warm"
        return "warming" if self._building is not None else "cold"

    def start(self) -> None:
        """Build the warm matcher in the background, unless one is building or the one
        installed is for the snapshot and model in force."""
        if not self.warm or self.cfg.matcher != "probabilistic":
            return
        wanted = self._in_force()
        with self._guard:
            if self._closed or self._building is not None or self._serves(self._matcher, wanted):
                return
            thread = threading.Thread(target=self._build, name="taxmatch-warm", daemon=True)
            self._building = thread
        thread.start()

    def _in_force(self) -> tuple[Path, str] | None:
        """(snapshot path, model sha256) in force, or None when there is none yet."""
        try:
            reference = current_reference(self.cfg.store)
            model = load_model_info(self.cfg.store, reference.snapshot_id)
        except TaxmatchError:
            return None
        return reference.path, model.sha256

    @staticmethod
    def _serves(matcher: WarmMatcher | None, wanted: tuple[Path, str] | None) -> bool:
        return matcher is not None and wanted == (matcher.snapshot, matcher.model.sha256)

    def _build(self) -> None:
        matcher: WarmMatcher | None = None
        wanted: tuple[Path, str] | None = None
        try:
            reference = current_reference(self.cfg.store)
            model = load_model_info(self.cfg.store, reference.snapshot_id)
            wanted = (reference.path, model.sha256)
            emit(Event.WARM_STARTING, reference_id=reference.snapshot_id)
            matcher = WarmMatcher(reference.path, model)
        except TaxmatchError as exc:
            emit(Event.WARM_FAILED, error=exc.code)
        except Exception as exc:  # never take the server down: lookups stay cold
            emit(Event.WARM_FAILED, error="TM999", kind=type(exc).__name__)
        finally:
            with self._guard:
                self._building = None
                closed = self._closed
                old = None
                if not closed:
                    self._failed = None if matcher is not None else wanted
                    if matcher is not None:
                        old, self._matcher = self._matcher, matcher
        if closed and matcher is not None:
            matcher.close()
            return
        if old is not None:
            with old.lock:
                old.close()
        if matcher is not None and not closed:
            emit(Event.WARM_READY, reference_id=matcher.snapshot.stem)

    def _current(self) -> WarmMatcher | None:
        """The warm matcher, if it is for the snapshot and model in force. A stale one,
        or none at all, starts a build (not again for a snapshot and model whose build
        failed) and this lookup goes cold."""
        wanted = self._in_force()
        matcher = self._matcher
        if self._serves(matcher, wanted):
            return matcher
        if wanted is not None and wanted != self._failed:
            self.start()
        return None

    def lookup(
        self,
        agency_id: str,
        record: Mapping[str, str | None],
        envelope: Mapping[str, object],
        *,
        origin: str,
    ) -> LookupResult:
        run = partial(lookup_one, self.cfg, agency_id, record, envelope, origin=origin)
        matcher = self._current()
        if matcher is not None:
            matcher.lock.acquire()
            handed_off = False
            try:
                # Replaced and closed while this lookup waited: go cold instead.
                if not matcher.closed:
                    try:
                        return run(warm=Warm(self.state, matcher))
                    finally:
                        handed_off = _clear_later(matcher)
            finally:
                if not handed_off:
                    matcher.lock.release()
        return run(warm=Warm(self.state))

    def close(self) -> None:
        with self._guard:
            self._closed = True
            matcher, self._matcher = self._matcher, None
        if matcher is not None:
            with matcher.lock:
                matcher.close()


def _clear_later(matcher: WarmMatcher) -> bool:
    """Drop the lookup's rows from the matcher once the answer is on its way: a thread
    clears it and then releases the lock this lookup holds, so the next lookup (and
    ``close``) waits for the clearing, and the answer does not. False when no thread
    could be started: cleared here, and the caller releases the lock."""

    def clear() -> None:
        try:
            matcher.clear()
        finally:
            matcher.lock.release()

    try:
        threading.Thread(target=clear, name="taxmatch-clear", daemon=True).start()
    except RuntimeError:  # no thread to be had: clear now
        matcher.clear()
        return False
    return True


def lookup_one(
    cfg: LookupConfig,
    agency_id: str,
    record: Mapping[str, str | None],
    envelope: Mapping[str, object],
    *,
    origin: str,
    warm: Warm | None = None,
) -> LookupResult:
    """Run ``record`` under ``envelope`` as a one-row batch for ``agency_id`` (in a
    serving process's open resources when ``warm`` is given)."""
    if envelope.get("requesting_agency") != agency_id:
        raise AccessDenied("envelope requesting_agency is not the authenticated agency")
    scratch = cfg.store / "api" / "lookups" / uuid.uuid4().hex
    make_dir(scratch)
    try:
        requests = scratch / "requests.csv"
        with open_private(requests, "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(REQUEST_COLUMNS))
            writer.writeheader()
            writer.writerow({c: record.get(c) or "" for c in REQUEST_COLUMNS})
        env = scratch / "envelope.json"
        write_private_text(env, json.dumps(dict(envelope), sort_keys=True, separators=(",", ":")))
        result = run_batch(
            BatchRequest(
                store=cfg.store,
                requests=requests,
                envelope=env,
                out=cfg.out,
                as_of=cfg.as_of or datetime.now(UTC).date(),
                policy=cfg.policy,
                matcher=cfg.matcher,
                database_url=cfg.database_url,
                actor=agency_id,
                origin=origin,
                workers=1,
                shadow_probes=False,
                coverage=False,
            ),
            warm=warm,
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return _answer(result.batch_id, result.package, reused=result.reused)


def _answer(batch_id: str, package: Path, *, reused: bool) -> LookupResult:
    for name in _FILES:
        with (package / f"{name}.csv").open(newline="", encoding="utf-8") as fh:
            row = next(csv.DictReader(fh), None)
        if row is None:
            continue
        rid = row.pop("request_id")
        if name == "disclosed":
            return LookupResult(batch_id, rid, name, "DISCLOSED", disclosure=row, reused=reused)
        if name == "rejected":
            codes = [c for c in row["reason_codes"].split(";") if c]
            fields = [f for f in row["fields"].split(";") if f]
            return LookupResult(batch_id, rid, name, None, codes, fields, reused=reused)
        outcome = row["outcome"] if name == "unmatched" else "REVIEW"
        return LookupResult(batch_id, rid, name, outcome, reused=reused)
    raise PackageError(f"package of batch {batch_id} holds no row")


__all__ = ["LookupConfig", "LookupResult", "LookupService", "lookup_one"]
