"""The pure hash chain: canonical bytes, linking, verification and keyed hashes."""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taxmatch.errors import LedgerError
from taxmatch.ledger.chain import (
    GENESIS,
    LEDGER_SCHEMA,
    PROBLEM_HASH,
    PROBLEM_LINK,
    PROBLEM_MALFORMED,
    PROBLEM_SEQUENCE,
    ChainVerifier,
    LedgerDraft,
    LedgerEntry,
    VerifyResult,
    canonical_bytes,
    canonical_payload,
    format_recorded_at,
    link,
    link_all,
)
from taxmatch.ledger.digest import keyed_hash

TS = "2026-01-02T03:04:05.000006Z"
GOLDEN_DRAFT = LedgerDraft(
    "disclosure", "svc-1", "cli", True, "D-1", {"b": ["x"], "a": 1, "c": None, "d": 0.5, "e": "é"}
)
GOLDEN_BYTES = (
    b'{"actor":"svc-1","event_type":"disclosure","object_id":"D-1","origin":"cli",'
    b'"payload":{"a":1,"b":["x"],"c":null,"d":0.5,"e":"\\u00e9"},'
    b'"prev_hash":"' + GENESIS.encode() + b'","recorded_at":"2026-01-02T03:04:05.000006Z",'
    b'"schema":"taxmatch/ledger/v1","seq":1,"success":true}'
)
GOLDEN_HASH = "31cc18be3e4370faf7e3c859dcb60673c8e2744dda69c84510bcf444f7b5803d"

# --- strategies -------------------------------------------------------------------------

text = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)
values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63),
    st.floats(allow_nan=False, allow_infinity=False),
    text,
    st.lists(text, max_size=3),
)
payloads = st.dictionaries(text, values, max_size=4)
drafts = st.builds(
    LedgerDraft,
    event_type=text.filter(bool),
    actor=text,
    origin=text,
    success=st.booleans(),
    object_id=text,
    payload=payloads,
)
FIELDS = (
    "seq",
    "recorded_at",
    "event_type",
    "actor",
    "origin",
    "success",
    "object_id",
    "payload",
    "prev_hash",
    "entry_hash",
)


def chain_of(items: list[LedgerDraft]) -> list[LedgerEntry]:
    return link_all(items, after_seq=0, prev_hash=GENESIS, recorded_at=TS)


def flip(value: str, position: int, mask: int) -> str:
    """Flip the low bits of one character (never into or out of the surrogate range)."""
    if not value:
        return chr(mask)
    i = position % len(value)
    return value[:i] + chr(ord(value[i]) ^ mask) + value[i + 1 :]


def mutate_value(value: object, position: int, mask: int) -> object:
    if value is None:
        return 0
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value ^ mask
    if isinstance(value, float):
        return math.nextafter(value, -math.inf if value > 0 else math.inf)
    if isinstance(value, str):
        return flip(value, position, mask)
    assert isinstance(value, list)
    if not value:
        return ["x"]
    i = position % len(value)
    return [*value[:i], flip(value[i], position, mask), *value[i + 1 :]]


def mutate_payload(payload: dict[str, object], data: st.DataObject) -> dict[str, object]:
    out = dict(payload)
    position = data.draw(st.integers(0, 50))
    mask = data.draw(st.integers(1, 127))
    action = data.draw(
        st.sampled_from(["add", "drop", "rename", "value"]) if out else st.just("add")
    )
    if action == "add":
        key = data.draw(text.filter(lambda k: k not in out))
        out[key] = data.draw(values)
        return out
    key = data.draw(st.sampled_from(sorted(out)))
    if action == "drop":
        del out[key]
    elif action == "rename":
        out[flip(key, position, mask)] = out.pop(key)
    else:
        out[key] = mutate_value(out[key], position, mask)
    return out


# --- canonical bytes and linking ---------------------------------------------------------


def test_canonical_bytes_are_pinned_for_v1() -> None:
    data = canonical_bytes(1, TS, GOLDEN_DRAFT, GENESIS)
    assert data == GOLDEN_BYTES
    assert LEDGER_SCHEMA.encode() in data
    entry = link(GOLDEN_DRAFT, seq=1, prev_hash=GENESIS, recorded_at=TS)
    assert entry.entry_hash == hashlib.sha256(GOLDEN_BYTES).hexdigest() == GOLDEN_HASH
    assert entry.draft == replace(GOLDEN_DRAFT, payload=entry.payload)


def test_link_copies_payload_and_normalises_tuples() -> None:
    payload: dict[str, object] = {"ids": ("a", "b")}
    entry = link(
        LedgerDraft("e", "u", "cli", True, "o", payload), seq=1, prev_hash=GENESIS, recorded_at=TS
    )  # type: ignore[arg-type]
    payload["ids"] = ("changed",)
    assert entry.payload == {"ids": ["a", "b"]}


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"x": float("nan")}, "x"),
        ({"x": float("inf")}, "x"),
        ({"x": {"nested": 1}}, "x"),
        ({"x": [1, 2]}, "x"),
        ({"x": b"bytes"}, "x"),
    ],
)
def test_payload_refuses_unsupported_values_naming_the_field(
    payload: dict[str, object], field: str
) -> None:
    draft = LedgerDraft("e", "u", "cli", True, "o", payload)  # type: ignore[arg-type]
    with pytest.raises(LedgerError, match=repr(field)) as info:
        link(draft, seq=1, prev_hash=GENESIS, recorded_at=TS)
    assert "nested" not in str(info.value)


@pytest.mark.parametrize(
    ("seq", "recorded_at", "prev_hash", "problem"),
    [
        (0, TS, GENESIS, "seq"),
        (True, TS, GENESIS, "seq"),
        (1, "2026-01-02T03:04:05Z", GENESIS, "recorded_at"),
        (1, "2026-01-02 03:04:05.000006+00:00", GENESIS, "recorded_at"),
        (1, TS, "abc", "prev_hash"),
        (1, TS, GENESIS.upper().replace("0", "A"), "prev_hash"),
    ],
)
def test_canonical_bytes_refuse_malformed_envelope(
    seq: int, recorded_at: str, prev_hash: str, problem: str
) -> None:
    with pytest.raises(LedgerError, match=problem):
        canonical_bytes(seq, recorded_at, GOLDEN_DRAFT, prev_hash)


def test_canonical_bytes_refuse_bad_draft_fields() -> None:
    with pytest.raises(LedgerError, match="event_type"):
        canonical_bytes(1, TS, replace(GOLDEN_DRAFT, event_type=""), GENESIS)
    with pytest.raises(LedgerError, match="success"):
        canonical_bytes(1, TS, replace(GOLDEN_DRAFT, success=1), GENESIS)  # type: ignore[arg-type]
    with pytest.raises(LedgerError, match="actor"):
        canonical_bytes(1, TS, replace(GOLDEN_DRAFT, actor=7), GENESIS)  # type: ignore[arg-type]


def test_format_recorded_at_is_utc_with_microseconds() -> None:
    moment = datetime(2026, 1, 2, 5, 4, 5, 6, tzinfo=timezone(timedelta(hours=2)))
    assert format_recorded_at(moment) == TS
    assert format_recorded_at(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)).endswith(".000000Z")
    with pytest.raises(LedgerError, match="timezone"):
        format_recorded_at(datetime(2026, 1, 2, 3, 4, 5))


# --- verification ------------------------------------------------------------------------


def stored(entry: LedgerEntry) -> tuple[object, ...]:
    """``entry`` as the store holds it: ``ChainVerifier.feed``'s arguments."""
    payload_text = canonical_payload(entry.payload)
    return (
        entry.seq,
        entry.recorded_at,
        *entry.draft.event,
        payload_text,
        entry.prev_hash,
        entry.entry_hash,
    )


def verify_chain(entries: Iterable[LedgerEntry]) -> VerifyResult:
    verifier = ChainVerifier()
    for entry in entries:
        if not verifier.feed(*stored(entry)):
            break
    return verifier.result()


def test_empty_chain_verifies_at_genesis() -> None:
    result = verify_chain([])
    assert (result.ok, result.entries, result.head, result.first_bad_seq) == (
        True,
        0,
        GENESIS,
        None,
    )


@settings(max_examples=60, deadline=None)
@given(st.lists(drafts, min_size=1, max_size=8))
def test_linked_chain_verifies(items: list[LedgerDraft]) -> None:
    entries = chain_of(items)
    result = verify_chain(iter(entries))
    assert result.ok
    assert result.problem is None
    assert result.first_bad_seq is None
    assert result.entries == len(entries)
    assert result.head == entries[-1].entry_hash
    assert [e.seq for e in entries] == list(range(1, len(entries) + 1))


@settings(max_examples=150, deadline=None)
@given(st.lists(drafts, min_size=1, max_size=8), st.data())
def test_any_changed_field_is_caught_at_its_seq(
    items: list[LedgerDraft], data: st.DataObject
) -> None:
    entries = chain_of(items)
    index = data.draw(st.integers(0, len(entries) - 1), label="index")
    name = data.draw(st.sampled_from(FIELDS), label="field")
    position = data.draw(st.integers(0, 80), label="position")
    mask = data.draw(st.integers(1, 127), label="mask")
    old = entries[index]
    value = getattr(old, name)
    if name == "payload":
        new: object = mutate_payload(dict(value), data)
    elif name == "success":
        new = not value
    elif name == "seq":
        new = value ^ mask
    else:
        new = flip(value, position, mask)
    entries[index] = replace(old, **{name: new})
    assert entries[index] != old

    result = verify_chain(entries)

    assert not result.ok
    assert result.first_bad_seq == index + 1
    assert result.entries == index
    assert result.head == (entries[index - 1].entry_hash if index else GENESIS)
    assert result.problem in {PROBLEM_SEQUENCE, PROBLEM_LINK, PROBLEM_HASH, PROBLEM_MALFORMED}


@settings(max_examples=80, deadline=None)
@given(st.lists(drafts, min_size=2, max_size=8), st.data())
def test_deleted_entry_is_caught(items: list[LedgerDraft], data: st.DataObject) -> None:
    entries = chain_of(items)
    index = data.draw(st.integers(0, len(entries) - 2))
    del entries[index]
    result = verify_chain(entries)
    assert not result.ok
    assert result.first_bad_seq == index + 1
    assert result.problem == PROBLEM_SEQUENCE


def test_deleting_the_last_entry_needs_the_recorded_head() -> None:
    entries = chain_of([GOLDEN_DRAFT] * 3)
    result = verify_chain(entries[:-1])
    assert result.ok
    assert result.head != entries[-1].entry_hash


@settings(max_examples=80, deadline=None)
@given(st.lists(drafts, min_size=2, max_size=8), st.data())
def test_reordered_entries_are_caught(items: list[LedgerDraft], data: st.DataObject) -> None:
    entries = chain_of(items)
    i = data.draw(st.integers(0, len(entries) - 2))
    j = data.draw(st.integers(i + 1, len(entries) - 1))
    entries[i], entries[j] = entries[j], entries[i]
    result = verify_chain(entries)
    assert not result.ok
    assert result.first_bad_seq == i + 1


@settings(max_examples=80, deadline=None)
@given(st.lists(drafts, min_size=2, max_size=8), drafts, st.data())
def test_inserted_entries_are_caught(
    items: list[LedgerDraft], extra: LedgerDraft, data: st.DataObject
) -> None:
    entries = chain_of(items)
    index = data.draw(st.integers(0, len(entries) - 1))
    how = data.draw(st.sampled_from(["copy", "forged"]))
    prev = entries[index - 1].entry_hash if index else GENESIS
    if how == "copy":  # a duplicate of an existing entry
        source = data.draw(st.integers(0, len(entries) - 1))
        entries.insert(index, entries[source])
        # A copy of the entry that belongs here verifies; its twin right after it does not.
        expected_bad = index + 2 if source == index else index + 1
    else:  # a correctly linked forgery: only the entry after it can tell
        entries.insert(index, link(extra, seq=index + 1, prev_hash=prev, recorded_at=TS))
        expected_bad = index + 2
    result = verify_chain(entries)
    assert not result.ok
    assert result.first_bad_seq == expected_bad


def test_verification_streams_and_stops_at_the_first_failure() -> None:
    good = chain_of([GOLDEN_DRAFT] * 2)
    consumed = []

    def stream() -> Iterator[LedgerEntry]:
        yield from good
        yield replace(good[0], seq=3)
        while True:  # never reached: the verifier stops at seq 3
            consumed.append(1)
            yield good[0]

    result = verify_chain(stream())
    assert (result.ok, result.first_bad_seq, result.entries) == (False, 3, 2)
    assert consumed == []


def test_verifier_fail_keeps_the_first_failure() -> None:
    verifier = ChainVerifier()
    assert verifier.feed(*stored(link(GOLDEN_DRAFT, seq=1, prev_hash=GENESIS, recorded_at=TS)))
    verifier.fail("first problem")
    verifier.fail("second problem", seq=9)
    assert not verifier.feed(*stored(link(GOLDEN_DRAFT, seq=2, prev_hash=GENESIS, recorded_at=TS)))
    result = verifier.result()
    assert (result.first_bad_seq, result.problem, result.entries) == (2, "first problem", 1)


@pytest.mark.parametrize("index", [*range(1, 8), 9])  # every text field, and success
def test_malformed_stored_entry_is_reported_not_raised(index: int) -> None:
    fields = list(stored(link(GOLDEN_DRAFT, seq=1, prev_hash=GENESIS, recorded_at=TS)))
    fields[index] = None
    verifier = ChainVerifier()
    assert not verifier.feed(*fields)
    result = verifier.result()
    assert (result.ok, result.first_bad_seq, result.problem) == (False, 1, PROBLEM_MALFORMED)


# --- keyed hashes ------------------------------------------------------------------------

KEY = b"k" * 32


def test_keyed_hash_is_hmac_sha256_over_a_json_array() -> None:
    expected = hmac.new(KEY, b'["123456789"]', hashlib.sha256).hexdigest()
    assert keyed_hash(KEY, "123456789") == expected
    assert keyed_hash(KEY, "ab", "c") != keyed_hash(KEY, "a", "bc")
    assert keyed_hash(KEY, "x") != keyed_hash(b"j" * 32, "x")
    assert len(keyed_hash(KEY, "é", "")) == 64


@pytest.mark.parametrize(
    ("key", "args", "match"),
    [
        (b"short", ("x",), "key"),
        ("k" * 32, ("x",), "key"),
        (KEY, (), "at least one value"),
        (KEY, ("x", 5), "strings"),
    ],
)
def test_keyed_hash_refuses_bad_arguments(
    key: object, args: tuple[object, ...], match: str
) -> None:
    with pytest.raises(LedgerError, match=match):
        keyed_hash(key, *args)  # type: ignore[arg-type]
