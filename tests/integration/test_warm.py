"""The warm matcher decides exactly as a cold batch (``taxmatch.match.warm``).

A generated population (3,000 people) and its generated requests (valid, invalid and
not-in-master rows) are run cold (``run_batch(req)``) and warm (``run_batch(req,
warm=Warm(state, matcher))``) under two envelopes that differ only in the letter id, so
the batch ids differ. The package rows (without ``disclosure_id``, which hashes the batch
id) and the decisions in the state database (without batch and disclosure ids) must be
the same. The cast's hard cases (Jr/Sr, household member, slips, missing unit) are
compared too, and a warm matcher for another snapshot or model must stand aside.
"""

from __future__ import annotations

import csv
import dataclasses
import importlib
import json
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from taxmatch.contracts import REQUEST_COLUMNS
from taxmatch.generate import generate_population, generate_requests
from taxmatch.match import score
from taxmatch.match import warm as warm_module
from taxmatch.match.levels import RuleKey
from taxmatch.match.lookup_index import build_lookup_index, index_path
from taxmatch.match.model import load_model_info, load_settings
from taxmatch.match.warm import WarmMatcher, rule_keys
from taxmatch.pipeline.batch import BatchRequest, BatchResult, Warm, run_batch
from taxmatch.pipeline.reference import load_reference_snapshot, train_current_model
from taxmatch.reference.snapshot import current_reference
from taxmatch.store.state import StateStore

from .conftest import AS_OF, CARTER, HOPPER, NGUYEN, request_row, write_envelope, write_master

FILES = ("disclosed", "rejected", "unmatched", "pending")
ONE_ROW = 40  # generated records run one per batch
MULTI_ROW = 30  # generated records run together in one batch
# Outcomes of a request matched to a person that is not disclosed.
MATCHED_NOT_DISCLOSED = {"AMBIGUOUS", "INELIGIBLE", "STALE", "NO_FILING_IN_PERIOD", "REVIEW"}

Rows = dict[str, list[dict[str, str]]]


@dataclasses.dataclass(frozen=True)
class Generated:
    store: Path
    rows: list[dict[str, str]]
    envelope: dict[str, Any]


@dataclasses.dataclass(frozen=True)
class Outcome:
    """One run's decisions: its package rows and its decision rows, without the ids that
    depend on the batch id."""

    package: Rows
    decisions: list[dict[str, Any]]

    @property
    def outcomes(self) -> list[str | None]:
        return [d["outcome"] for d in self.decisions]


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Generated:
    root = tmp_path_factory.mktemp("warm")
    generate_population(people=3000, years=(2019, 2025), seed=7, out=root / "pop")
    generate_requests(
        population=root / "pop", rows=ONE_ROW + MULTI_ROW, seed=8, out=root / "req", as_of=AS_OF
    )
    store = root / "store"
    load_reference_snapshot(store, [root / "pop" / "master.parquet"])
    train_current_model(store)
    with (root / "req" / "requests.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    envelope = json.loads((root / "req" / "envelope.json").read_text(encoding="utf-8"))
    return Generated(store, rows, envelope)


def _open_matcher(store: Path) -> WarmMatcher:
    reference = current_reference(store)
    return WarmMatcher(reference.path, load_model_info(store, reference.snapshot_id))


@pytest.fixture(scope="module")
def generated_matcher(generated: Generated) -> Iterator[WarmMatcher]:
    matcher = _open_matcher(generated.store)
    yield matcher
    matcher.close()


@pytest.fixture(scope="module")
def cast_matcher(model_store: Path) -> Iterator[WarmMatcher]:
    matcher = _open_matcher(model_store)
    yield matcher
    matcher.close()


@pytest.fixture
def state(tmp_path: Path) -> Iterator[StateStore]:
    with StateStore(f"sqlite+pysqlite:///{tmp_path / 'state.sqlite3'}") as store:
        yield store


def spy_on(monkeypatch: pytest.MonkeyPatch, matcher: WarmMatcher) -> list[int]:
    """Count the lookups the warm matcher scores (so a silently cold run is noticed)."""
    calls: list[int] = []
    match = matcher.match

    def counted(**kwargs: float) -> None:
        calls.append(1)
        match(**kwargs)

    monkeypatch.setattr(matcher, "match", counted)
    return calls


class Runner:
    """Runs request rows as a batch, cold or warm, each under its own letter id."""

    def __init__(self, store: Path, tmp: Path, state: StateStore, envelope: dict[str, Any]):
        self.store, self.tmp, self.state, self.envelope = store, tmp, state, envelope
        self.url = f"sqlite+pysqlite:///{tmp / 'state.sqlite3'}"
        self.runs = 0

    def run(
        self, rows: list[dict[str, str]], warm: WarmMatcher | None, probes: bool | None = None
    ) -> BatchResult:
        """A one-row batch runs without shadow probes (unless ``probes``), as a lookup does
        (pipeline/lookup.py): they sample the reference, not the batch, cost more than the
        rest of a one-row run and hold no row of these stores. A batch of several rows
        runs them unless ``probes`` is False."""
        self.runs += 1
        n = self.runs
        requests = self.tmp / f"requests-{n}.csv"
        with requests.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(REQUEST_COLUMNS))
            writer.writeheader()
            writer.writerows({c: row.get(c) or "" for c in REQUEST_COLUMNS} for row in rows)
        envelope = self.tmp / f"envelope-{n}.json"
        letter = f"{self.envelope['request_letter_id']}-{n}"
        envelope.write_text(
            json.dumps({**self.envelope, "request_letter_id": letter}), encoding="utf-8"
        )
        req = BatchRequest(
            store=self.store,
            requests=requests,
            envelope=envelope,
            out=self.tmp / "out",
            as_of=AS_OF,
            database_url=self.url,
            workers=1,
            shadow_probes=len(rows) > 1 if probes is None else probes,
        )
        if warm is None:
            return run_batch(req)
        return run_batch(req, warm=Warm(self.state, warm))

    def outcome(self, result: BatchResult) -> Outcome:
        assert not result.reused
        package: Rows = {}
        for name in FILES:
            with (result.package / f"{name}.csv").open(newline="", encoding="utf-8") as fh:
                package[name] = [
                    {k: v for k, v in row.items() if k != "disclosure_id"}
                    for row in csv.DictReader(fh)
                ]
        decisions = []
        for row in self.state.iter_decisions(result.batch_id):
            d = dataclasses.asdict(row)
            assert d.pop("batch_id") == result.batch_id
            disclosure_id = d.pop("disclosure_id")
            d["disclosed"] = disclosure_id is not None
            decisions.append(d)
        return Outcome(package, decisions)

    def both(self, rows: list[dict[str, str]], matcher: WarmMatcher) -> tuple[Outcome, Outcome]:
        cold, warm = self.run(rows, None), self.run(rows, matcher)
        assert cold.batch_id != warm.batch_id
        return self.outcome(cold), self.outcome(warm)


@pytest.fixture
def generated_runner(generated: Generated, tmp_path: Path, state: StateStore) -> Runner:
    return Runner(generated.store, tmp_path, state, generated.envelope)


@pytest.fixture
def cast_runner(model_store: Path, tmp_path: Path, state: StateStore) -> Runner:
    doc = json.loads(write_envelope(tmp_path / "cast-envelope.json").read_text(encoding="utf-8"))
    return Runner(model_store, tmp_path, state, doc)


def differences(cold: Outcome, warm: Outcome) -> list[tuple[int, str, str]]:
    """(row number, request id, field) of each decision that differs, and the package
    files whose rows differ (row number 0)."""
    out: list[tuple[int, str, str]] = []
    if len(cold.decisions) != len(warm.decisions):
        out.append((0, "-", "row count"))
    for c, w in zip(cold.decisions, warm.decisions, strict=False):
        out += [(c["row_number"], c["request_id"], k) for k in c if c[k] != w.get(k)]
    out += [(0, "-", f"{name}.csv") for name in FILES if cold.package[name] != warm.package[name]]
    return out


# --- generated population ------------------------------------------------------------


def test_one_row_batches_decide_as_cold(
    generated: Generated,
    generated_matcher: WarmMatcher,
    generated_runner: Runner,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = spy_on(monkeypatch, generated_matcher)
    found: list[tuple[int, str, str]] = []
    outcomes: list[str | None] = []
    dispositions: set[str] = set()
    for row in generated.rows[:ONE_ROW]:
        cold, warm = generated_runner.both([row], generated_matcher)
        found += differences(cold, warm)
        outcomes += cold.outcomes
        dispositions |= {name for name, rows in cold.package.items() if rows}
    assert found == []
    assert len(calls) == ONE_ROW  # every warm run scored on the warm matcher
    # The sample can fail meaningfully: it discloses, declines a matched person, finds no
    # one and rejects invalid rows.
    assert "DISCLOSED" in outcomes
    assert MATCHED_NOT_DISCLOSED & set(outcomes)
    assert {"NO_MATCH", None} <= set(outcomes)
    assert {"disclosed", "rejected", "unmatched"} <= dispositions


def test_multi_row_batch_decides_as_cold(
    generated: Generated,
    generated_matcher: WarmMatcher,
    generated_runner: Runner,
    monkeypatch: pytest.MonkeyPatch,
    state: StateStore,
) -> None:
    calls = spy_on(monkeypatch, generated_matcher)
    rows = generated.rows[ONE_ROW : ONE_ROW + MULTI_ROW]
    cold, warm = generated_runner.both(rows, generated_matcher)
    assert differences(cold, warm) == []
    assert len(calls) == 1
    assert len(cold.decisions) == MULTI_ROW
    assert "DISCLOSED" in cold.outcomes
    assert len(set(cold.outcomes)) >= 3
    assert state.verify_ledger().ok


# --- the cast's hard cases -------------------------------------------------------------

ADA = {
    "first_name": "Ada",
    "last_name": "Byron",
    "street_address": "1231 Riverside Drive",
    "unit": "",
    "city": "Madison",
    "state": "WI",
    "zip": "53703",
}
ALAN = {
    "first_name": "Alan",
    "last_name": "Turing",
    "street_address": "8203 West Farwell Avenue",
    "unit": "",
    "city": "Chicago",
    "state": "IL",
    "zip": "60626",
}
ROSA = {
    "first_name": "Rosa",
    "last_name": "Parks",
    "street_address": "5 Cedar Lane",
    "unit": "",
    "city": "Olympia",
    "zip": "98501",
}
ROBERT = {
    "first_name": "Robert",
    "last_name": "Old",
    "street_address": "5 Birch Rd",
    "unit": "",
    "city": "Boise",
    "state": "ID",
    "zip": "83702",
}

# (id, changes to request_row, expected package file, expected outcome)
CAST: list[tuple[str, dict[str, str], str, str | None]] = [
    ("maria", {}, "disclosed", "DISCLOSED"),
    ("jr-sr-ambiguous", CARTER, "unmatched", "AMBIGUOUS"),
    ("jr-by-suffix", {**CARTER, "suffix": "Jr"}, "disclosed", "DISCLOSED"),
    ("jr-by-dob", {**CARTER, "date_of_birth": "1985-06-06"}, "disclosed", "DISCLOSED"),
    ("jr-misspelt", {**CARTER, "first_name": "Jihn", "suffix": "Jr"}, "disclosed", "DISCLOSED"),
    ("household-carmen", {"first_name": "Carmen"}, "unmatched", None),
    ("household-mario", {"first_name": "Mario"}, "unmatched", None),
    ("household-initial", {"first_name": "M"}, "unmatched", None),
    ("tin-without-address", {**NGUYEN, "street_address": "5501 Other Rd", "zip": "77099",
                             "tin": "423456789"}, "unmatched", None),
    ("noisy-street", {**HOPPER, "street_address": "88 Harbour Way"}, "disclosed", "DISCLOSED"),
    ("tin-typo-year", HOPPER, "disclosed", "DISCLOSED"),
    ("slip-mended", ADA, "disclosed", "DISCLOSED"),
    ("move-not-mended", ALAN, "disclosed", "DISCLOSED"),
    ("swapped-names", {**NGUYEN, "first_name": "Nguyen", "last_name": "Anh"}, "disclosed",
     "DISCLOSED"),
    ("missing-unit-review", ROSA, "pending", None),
    ("deceased", ROBERT, "unmatched", "INELIGIBLE"),
    ("unknown", {"first_name": "Nobody", "last_name": "Known"}, "unmatched", "NO_MATCH"),
    ("invalid", {"statute": "26 U.S.C. 7201"}, "rejected", None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("changes", "file", "outcome"), [c[1:] for c in CAST], ids=[c[0] for c in CAST]
)
def test_cast_case_decides_as_cold(
    cast_matcher: WarmMatcher,
    cast_runner: Runner,
    monkeypatch: pytest.MonkeyPatch,
    changes: dict[str, str],
    file: str,
    outcome: str | None,
) -> None:
    calls = spy_on(monkeypatch, cast_matcher)
    cold, warm = cast_runner.both([request_row(1, **changes)], cast_matcher)
    assert differences(cold, warm) == []
    assert len(calls) == 1
    assert [name for name, rows in cold.package.items() if rows] == [file]
    if outcome is not None:
        assert cold.outcomes == [outcome]


def test_whole_cast_in_one_batch_decides_as_cold(
    cast_matcher: WarmMatcher, cast_runner: Runner
) -> None:
    rows = [request_row(i, **changes) for i, (_, changes, _, _) in enumerate(CAST, start=1)]
    cold, warm = cast_runner.both(rows, cast_matcher)
    assert differences(cold, warm) == []
    assert len(cold.decisions) == len(CAST)


# --- a stale warm matcher stands aside ---------------------------------------------------


def test_matcher_for_another_model_takes_the_cold_path(
    generated: Generated,
    generated_matcher: WarmMatcher,
    generated_runner: Runner,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = spy_on(monkeypatch, generated_matcher)
    other = dataclasses.replace(generated_matcher.model, sha256="0" * 64)
    monkeypatch.setattr(generated_matcher, "model", other)
    rows = generated.rows[:5]
    cold, warm = generated_runner.both(rows, generated_matcher)
    assert differences(cold, warm) == []
    assert calls == []


def _write_master_without(path: Path, tin: str) -> Path:
    """The cast's master file without one taxpayer's filings."""
    full = write_master(path.with_name(f"full-{path.name}"))
    with full.open(newline="", encoding="utf-8") as src, path.open("w", newline="") as dst:
        reader = csv.DictReader(src)
        writer = csv.DictWriter(dst, fieldnames=list(reader.fieldnames or []))
        writer.writeheader()
        writer.writerows(r for r in reader if r["tin"] != tin)
    return path


def test_matcher_for_a_replaced_reference_takes_the_cold_path(
    tmp_path: Path, state: StateStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A warm matcher opened on snapshot A, then the store loads snapshot B (without
    Maria) and its model: the warm run answers from B, as the cold run does."""
    store = tmp_path / "store"
    load_reference_snapshot(store, [write_master(tmp_path / "a.csv")])
    train_current_model(store)
    matcher = _open_matcher(store)
    try:
        calls = spy_on(monkeypatch, matcher)
        doc = json.loads(write_envelope(tmp_path / "env.json").read_text(encoding="utf-8"))
        runner = Runner(store, tmp_path, state, doc)
        before = runner.outcome(runner.run([request_row(1)], matcher))
        assert before.outcomes == ["DISCLOSED"]
        assert len(calls) == 1
        load_reference_snapshot(store, [_write_master_without(tmp_path / "b.csv", "123456789")])
        train_current_model(store)
        assert current_reference(store).path != matcher.snapshot
        cold, warm = runner.both([request_row(1)], matcher)
        assert differences(cold, warm) == []
        assert cold.outcomes == ["NO_MATCH"]  # B's answer, not A's
        assert len(calls) == 1  # the stale matcher scored nothing
    finally:
        matcher.close()


# --- the lookup index ------------------------------------------------------------------


@pytest.fixture
def snapshot(model_store: Path, tmp_path: Path) -> tuple[Path, list[RuleKey]]:
    """A private copy of the cast's snapshot (so no other test's index is beside it)."""
    reference = current_reference(model_store)
    copy = tmp_path / "ref" / reference.path.name
    copy.parent.mkdir()
    copy.write_bytes(reference.path.read_bytes())
    keys = rule_keys(load_settings(load_model_info(model_store, reference.snapshot_id)))
    return copy, keys


def _partials(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.endswith(".partial")]


def test_lookup_index_is_built_once_beside_the_snapshot(
    snapshot: tuple[Path, list[RuleKey]],
) -> None:
    path, keys = snapshot
    first = build_lookup_index(path, keys)
    assert first == index_path(path, keys)
    assert first.parent == path.parent
    assert first.name.startswith(f"{path.stem}.lookup-")
    stat = first.stat()
    second = build_lookup_index(path, keys)
    assert second == first
    again = second.stat()
    assert (again.st_ino, again.st_mtime_ns, again.st_size) == (
        stat.st_ino,
        stat.st_mtime_ns,
        stat.st_size,
    )
    assert _partials(path.parent) == []


def test_lookup_index_path_follows_the_rule_keys(snapshot: tuple[Path, list[RuleKey]]) -> None:
    path, keys = snapshot
    same = [RuleKey(k.left, k.right) for k in keys]
    assert index_path(path, same) == index_path(path, keys)
    at = next(i for i, k in enumerate(keys) if k.left != k.right)  # the swapped names
    swapped = [*keys[:at], RuleKey(keys[at].right, keys[at].left), *keys[at + 1 :]]
    variants = [keys[:-1], list(reversed(keys)), swapped]
    paths = {index_path(path, v) for v in variants} | {index_path(path, keys)}
    assert len(paths) == len(variants) + 1
    built = {build_lookup_index(path, k) for k in (keys, keys[:-1])}
    assert len(built) == 2
    assert all(p.exists() for p in built)


def test_failed_lookup_index_build_leaves_no_file(snapshot: tuple[Path, list[RuleKey]]) -> None:
    path, keys = snapshot
    broken = [*keys, RuleKey(("no_such_column",), ("no_such_column",))]
    with pytest.raises(Exception, match="no_such_column"):
        build_lookup_index(path, broken)
    assert not index_path(path, broken).exists()
    assert _partials(path.parent) == []


def test_concurrent_lookup_index_builds_end_with_one_whole_index(
    snapshot: tuple[Path, list[RuleKey]],
) -> None:
    path, keys = snapshot
    results: list[Path] = []
    errors: list[BaseException] = []

    def build() -> None:
        try:
            results.append(build_lookup_index(path, keys))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=build) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert results == [index_path(path, keys)] * 2
    assert _partials(path.parent) == []
    assert sorted(os.listdir(path.parent)) == sorted([path.name, index_path(path, keys).name])


def test_lookup_index_build_keeps_to_its_memory_limit(
    snapshot: tuple[Path, list[RuleKey]],
) -> None:
    """DuckDB sorts the keys under the limit the build is given: one too small for even
    the cast's snapshot stops the build, which leaves no file."""
    path, keys = snapshot
    with pytest.raises(duckdb.OutOfMemoryException):
        build_lookup_index(path, keys, memory_limit="2MB")
    assert not index_path(path, keys).exists()
    assert _partials(path.parent) == []
    assert build_lookup_index(path, keys, memory_limit="64MB") == index_path(path, keys)


@pytest.mark.parametrize(("given", "used"), [(None, "1GB"), ("1536MB", "1536MB")])
def test_reference_load_builds_the_index_under_its_memory_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, given: str | None, used: str
) -> None:
    """``reference load --memory-limit`` bounds the index's build too; without one the
    build has its own 1GB (not the load's 2GB)."""
    build: Callable[..., Path] = build_lookup_index
    limits: list[str] = []

    def spy(snapshot: Path, keys: list[RuleKey], *, memory_limit: str) -> Path:
        limits.append(memory_limit)
        return build(snapshot, keys, memory_limit=memory_limit)

    monkeypatch.setattr("taxmatch.pipeline.reference.build_lookup_index", spy)
    info = load_reference_snapshot(
        tmp_path / "store", [write_master(tmp_path / "m.csv")], memory_limit=given
    )
    assert limits == [used]
    assert index_path(info.path, rule_keys()).exists()


def test_warm_matcher_reuses_the_built_index(
    model_store: Path, cast_matcher: WarmMatcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second matcher on the same snapshot opens the index the first one built."""
    index = index_path(cast_matcher.snapshot, cast_matcher.keys)
    before = index.stat()
    build: Callable[..., Path] = build_lookup_index
    built: list[Path] = []

    def spy(snapshot: Path, keys: list[RuleKey]) -> Path:
        built.append(build(snapshot, keys))
        return built[-1]

    monkeypatch.setattr("taxmatch.match.warm.build_lookup_index", spy)
    second = _open_matcher(model_store)
    second.close()
    assert built == [index]
    assert (index.stat().st_ino, index.stat().st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


# --- the cold path in chunks -------------------------------------------------------------


@pytest.fixture(scope="module")
def whole(generated: Generated, tmp_path_factory: pytest.TempPathFactory) -> Outcome:
    """The first ``MULTI_ROW`` generated rows run cold in one piece, once for the module
    (each way of cutting the batch into pieces is compared with it)."""
    tmp = tmp_path_factory.mktemp("whole")
    with StateStore(f"sqlite+pysqlite:///{tmp / 'state.sqlite3'}") as state:
        runner = Runner(generated.store, tmp, state, generated.envelope)
        return runner.outcome(runner.run(generated.rows[:MULTI_ROW], None, probes=False))


@pytest.mark.parametrize(
    ("module", "name", "size"),
    [
        # A batch of millions is scored ``MATCH_CHUNK_ROWS`` requests at a time: chunks of
        # 7 are uneven, with rejected rows inside them.
        pytest.param("taxmatch.match.probabilistic", "MATCH_CHUNK_ROWS", 7, id="scored in chunks"),
        # It gathers its evidence ``GATHER_ROWS`` row numbers at a time (the workspace's
        # memory holds a window, not the batch).
        pytest.param("taxmatch.match.collapse", "GATHER_ROWS", 5, id="gathered in windows"),
    ],
)
def test_a_batch_in_pieces_decides_as_in_one_pass(
    generated: Generated,
    whole: Outcome,
    generated_runner: Runner,
    monkeypatch: pytest.MonkeyPatch,
    module: str,
    name: str,
    size: int,
) -> None:
    """Small pieces must change no decision, and every row is judged once. No shadow
    probes: they match their sample through the same code, which pieces this small would
    cut into hundreds of Splink runs (93 % of the time); no probe holds a row here."""
    rows = generated.rows[:MULTI_ROW]
    monkeypatch.setattr(importlib.import_module(module), name, size)
    pieces = generated_runner.outcome(generated_runner.run(rows, None, probes=False))
    assert differences(whole, pieces) == []
    assert len(whole.decisions) == MULTI_ROW
    assert len(pieces.decisions) == MULTI_ROW
    assert "DISCLOSED" in whole.outcomes
    assert "DISCLOSED" in pieces.outcomes
    assert None in whole.outcomes  # a rejected row sits inside a piece


# --- what a warm run leaves behind ---------------------------------------------------------


def _explanations(runner: Runner, result: BatchResult) -> dict[str, Any]:
    """request id → (the explanation's candidates and decision inputs, rescored agrees)
    for every row that reached matching."""
    from taxmatch.pipeline.explain import explained_decision

    out: dict[str, Any] = {}
    for row in runner.state.iter_decisions(result.batch_id):
        if row.disposition == "rejected":
            continue
        decided = explained_decision(
            runner.store, result.batch_id, row.request_id, database_url=runner.url
        )
        e = decided.explanation
        out[row.request_id] = (e.candidates, e.decision_inputs, e.persons, decided.rescored_agrees)
    return out


def test_warm_run_leaves_the_workspace_that_explain_and_release_read(
    cast_matcher: WarmMatcher, cast_runner: Runner
) -> None:
    """A held row of a lookup must be explainable and releasable as a cold one is: the
    warm run writes the batch workspace a cold run leaves."""
    rows = [request_row(i, **changes) for i, (_, changes, _, _) in enumerate(CAST, start=1)]
    cold, warm = cast_runner.run(rows, None), cast_runner.run(rows, cast_matcher)
    assert (cast_runner.store / "work" / warm.batch_id / "work.duckdb").exists()
    cold_explained, warm_explained = (_explanations(cast_runner, r) for r in (cold, warm))
    # compared by digest: a failure names the requests that differ, never their values
    differ = sorted(
        rid
        for rid in cold_explained.keys() | warm_explained.keys()
        if repr(cold_explained.get(rid)) != repr(warm_explained.get(rid))
    )
    assert differ == []
    assert len(warm_explained) >= len(CAST) - 2
    assert all(agrees for *_, agrees in warm_explained.values())


def test_chunked_batch_explains_every_row(
    generated: Generated, generated_runner: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every chunk's request features are kept, not only the last chunk's."""
    import taxmatch.match.probabilistic as probabilistic

    monkeypatch.setattr(probabilistic, "MATCH_CHUNK_ROWS", 7)
    result = generated_runner.run(generated.rows[:20], None, probes=False)  # as above
    explained = _explanations(generated_runner, result)
    assert len(explained) >= 15
    assert all(agrees for *_, agrees in explained.values())


def test_cleared_matcher_keeps_no_request(cast_matcher: WarmMatcher, cast_runner: Runner) -> None:
    """After a lookup the serving process keeps none of its rows (``clear``)."""
    cast_runner.run([request_row(1)], cast_matcher)
    assert cast_matcher.con.execute("SELECT count(*) FROM records").fetchall() == [(1,)]
    cast_matcher.clear()
    tables = {
        r[0]
        for r in cast_matcher.con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name IN ('memory', 'temp')"
        ).fetchall()
    }
    assert not tables & {"records", "final", "outcomes", "req_features", "warm_pred", "nick"}
    assert cast_matcher.con.execute("SELECT count(*) FROM warm_candidates").fetchall() == [(0,)]
    # and the next lookup still decides as cold
    cold, warm = cast_runner.both([request_row(1)], cast_matcher)
    assert differences(cold, warm) == []


# --- the Python path (taxmatch.match.score, taxmatch.match.lookup_judge) -------------------


def test_python_answers_every_lookup(generated: Generated, generated_runner: Runner) -> None:
    matcher = _open_matcher(generated.store)
    try:
        assert matcher.python
        for row in generated.rows[:5]:
            generated_runner.run([row], matcher)
        assert matcher.answered["python"] == 5
        assert matcher.answered["sql"] == 0
    finally:
        matcher.close()


def test_python_answer_equals_the_sql_for_every_generated_request(
    generated: Generated, generated_runner: Runner
) -> None:
    """Every generated request, one by one and all together, through both paths (the
    audit): the outcome rows never differ."""
    matcher = _open_matcher(generated.store)
    matcher.audit = True
    try:
        for row in generated.rows:
            generated_runner.run([row], matcher)
        generated_runner.run(generated.rows, matcher)
        total = len(generated.rows) + 1
        assert matcher.answered["audited"] + matcher.answered["unsure"] == total
        assert matcher.answered["unsure"] <= total // 20
        assert matcher.answered["differed"] == 0
    finally:
        matcher.close()


def test_python_answer_equals_the_sql_for_the_cast(model_store: Path, cast_runner: Runner) -> None:
    matcher = _open_matcher(model_store)
    matcher.audit = True
    try:
        rows = [request_row(i, **changes) for i, (_, changes, _, _) in enumerate(CAST, start=1)]
        for row in rows:
            cast_runner.run([row], matcher)
        cast_runner.run(rows, matcher)
        # MARIO's Jaro-Winkler similarity to MARIA is the first-name level's threshold:
        # the scorer is not sure of that pair, so those two lookups (MARIO's, and the
        # whole cast's) were the SQL's alone; every other was answered both ways.
        assert matcher.answered["unsure"] == 2
        assert matcher.answered["audited"] == len(rows) + 1 - 2
        assert matcher.answered["sql"] == len(rows) + 1
        assert matcher.answered["differed"] == 0
    finally:
        matcher.close()


def test_audit_counts_a_python_answer_that_differs_and_gives_the_sql(
    model_store: Path, cast_runner: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = warm_module.outcomes_of

    def wrong(*args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        return [{**row, "score": 0.5} for row in real(*args, **kwargs)]

    monkeypatch.setattr(warm_module, "outcomes_of", wrong)
    matcher = _open_matcher(model_store)
    matcher.audit = True
    try:
        cold, warm = cast_runner.both([request_row(1)], matcher)
        assert differences(cold, warm) == []  # the SQL's answer was given
        assert matcher.answered["differed"] == 1
    finally:
        matcher.close()


def test_a_lookup_the_scorer_is_unsure_of_takes_the_sql(
    model_store: Path, cast_runner: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    matcher = _open_matcher(model_store)
    try:
        cast_runner.run([request_row(1)], matcher)
        assert matcher.answered["python"] == 1
        real = score.Scorer.score

        def unsure(self: score.Scorer, *args: Any) -> score.Scored:
            out = real(self, *args)
            out.uncertain.add(("1", "a candidate"))
            return out

        monkeypatch.setattr(score.Scorer, "score", unsure)
        cold, warm = cast_runner.both([request_row(2)], matcher)
        assert differences(cold, warm) == []
        assert matcher.answered["sql"] == 1
        monkeypatch.undo()
        cast_runner.run([request_row(3)], matcher)
        assert matcher.answered["python"] == 2  # only that lookup went to the SQL
    finally:
        matcher.close()


def test_a_similarity_at_a_threshold_takes_the_sql(
    model_store: Path, cast_runner: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """rapidfuzz and DuckDB may differ in the last bits: a similarity within epsilon of
    a level's threshold sends the lookup to Splink's SQL."""
    from taxmatch.match import levels

    matcher = _open_matcher(model_store)
    try:
        monkeypatch.setattr(levels, "near", lambda value, threshold: True)
        cold, warm = cast_runner.both([request_row(2, street_address="12 N Maim St")], matcher)
        assert differences(cold, warm) == []
        assert matcher.answered["sql"] == 1
        assert matcher.answered["python"] == 0
    finally:
        matcher.close()
