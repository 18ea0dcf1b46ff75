"""Voiding old ``disclosure`` entries: what remains is one entry per disclosure made."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from taxmatch.ledger.void import (
    EVENT_DISCLOSURES_VOIDED,
    VOID_CHUNK,
    DisclosureEntry,
    void_drafts,
    voided_entries,
)


def entry(seq: int, did: str, batch: str = "B1", released: bool = False) -> DisclosureEntry:
    return DisclosureEntry(seq, did, batch, released)


def test_unsealed_and_superseded_entries_are_void() -> None:
    entries = [
        entry(1, "D-B1-2"),
        entry(2, "D-B1-4"),  # first attempt of B1
        entry(3, "D-B2-1", "B2"),  # B2 never finished
        entry(4, "D-B1-2"),
        entry(5, "D-B1-4"),
        entry(6, "D-B1-6"),  # B1 resumed
        entry(7, "D-B1-8", released=True),  # a supplement's disclosure
    ]
    void = voided_entries(entries, made={("B1", "D-B1-2"), ("B1", "D-B1-4")})
    assert void == {("B1", "superseded"): [1, 2], ("B1", "unsealed"): [6], ("B2", "unsealed"): [3]}


def test_drafts_name_seqs_in_chunks() -> None:
    seqs = list(range(1, VOID_CHUNK + 3))
    drafts = void_drafts({("B1", "unsealed"): seqs}, "taxmatch", "migration")
    assert [d.event_type for d in drafts] == [EVENT_DISCLOSURES_VOIDED] * 2
    assert [d.payload["entries"] for d in drafts] == [VOID_CHUNK, 2]
    assert drafts[1].payload["seqs"] == [str(VOID_CHUNK + 1), str(VOID_CHUNK + 2)]
    assert {d.object_id for d in drafts} == {"B1"}


@given(
    st.lists(st.tuples(st.sampled_from(["D1", "D2", "D3", "D4"]), st.booleans()), max_size=30),
    st.sets(st.sampled_from(["D1", "D2", "D3", "D4"])),
)
def test_one_live_entry_per_disclosure_made(picks: list[tuple[str, bool]], made: set[str]) -> None:
    entries = [entry(n, did, released=rel) for n, (did, rel) in enumerate(picks, start=1)]
    pairs = {("B1", did) for did in made}
    void = {seq for seqs in voided_entries(entries, pairs).values() for seq in seqs}
    live = [e for e in entries if e.seq not in void and not e.released]
    assert sorted(e.disclosure_id for e in live) == sorted(
        {e.disclosure_id for e in entries if not e.released} & made
    )
    assert not any(e.released for e in entries if e.seq in void)
