"""From judged pairs to merges: the edges of rules 3, 6 and 7 (``taxmatch.resolve``) and
the persons they make. Only sources move, each to one target; ambiguity merges nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace

from taxmatch.normalise.tin import is_itin, is_ssn
from taxmatch.resolve.records import Filed, MergeCandidate, Modal
from taxmatch.resolve.rules import (
    candidate,
    fragment_confirms,
    merge_allowed,
    near_address,
    suffixes_confirm,
    switch_address,
    window_address,
)

FRAGMENT_FILINGS = 2  # at most this many filings make a rule-7 fragment

Pair = tuple[str, str]


def accepted_edges(
    candidates: Iterable[MergeCandidate],
    confirm: Callable[[MergeCandidate], bool] | None = None,
) -> list[Pair]:
    """(src, dst) for each source with exactly one allowed target, kept only if ``confirm``
    (when given) holds for that pair; ambiguity merges nothing."""
    targets: dict[str, list[MergeCandidate]] = {}
    for c in candidates:
        if merge_allowed(c):
            targets.setdefault(c.src, []).append(c)
    return sorted(
        (src, cs[0].dst)
        for src, cs in targets.items()
        if len({c.dst for c in cs}) == 1 and (confirm is None or confirm(cs[0]))
    )


def one_to_one(edges: Iterable[Pair]) -> list[Pair]:
    """The edges whose source and target each appear in no other edge."""
    pairs = list(edges)
    n_src, n_dst = Counter(s for s, _ in pairs), Counter(d for _, d in pairs)
    return sorted((s, d) for s, d in pairs if n_src[s] == 1 and n_dst[d] == 1)


def disjoint_sources(edges: Iterable[Pair], years: Mapping[str, Iterable[int]]) -> list[Pair]:
    """Drop every source that shares a tax year with another source of the same target."""
    pairs = list(edges)
    seen = Counter((d, y) for s, d in pairs for y in set(years.get(s, ())))
    return sorted((s, d) for s, d in pairs if all(seen[(d, y)] == 1 for y in set(years.get(s, ()))))


def merge_roots(edges: Iterable[Pair], rank: Mapping[str, tuple[int, int, int]]) -> dict[str, str]:
    """Cluster -> canonical cluster of its component, for every cluster named in ``edges``:
    the one spanning the most tax years, then with the most filings, then the latest year,
    then the smallest key (``rank`` gives span, filings and last year)."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    groups: dict[str, list[str]] = {}
    for x in list(parent):
        groups.setdefault(find(x), []).append(x)
    out: dict[str, str] = {}
    for members in groups.values():
        best = min(members, key=lambda k: (*(-v for v in rank.get(k, (0, 0, 0))), k))
        out.update((m, best) for m in members)
    return out


def _years(filed: Sequence[Filed]) -> set[int]:
    return {f.year for f in filed}


def _judged(
    pairs: Iterable[Pair],
    modal: Mapping[str, Modal],
    filed: Mapping[str, Sequence[Filed]],
    address: Callable[[Sequence[Filed], Sequence[Filed]], bool],
) -> list[MergeCandidate]:
    out = []
    for s, d in sorted(set(pairs)):
        if s in modal and d in modal:
            c = candidate(s, d, modal[s], modal[d], address(filed.get(s, ()), filed.get(d, ())))
            if c is not None:
                out.append(c)
    return out


def one_off_roots(
    pairs: Iterable[Pair],
    modal: Mapping[str, Modal],
    filed: Mapping[str, Sequence[Filed]],
    rank: Mapping[str, tuple[int, int, int]],
) -> dict[str, str]:
    """Rule 3: cluster -> person key for every cluster a one-off merge touches. ``pairs``
    are (one-off cluster, cluster under an adjacent TIN); ``rank`` as ``merge_roots``."""
    one_offs = [(s, d) for s, d in pairs if s != d and len(_years(filed.get(s, ()))) == 1]
    return merge_roots(accepted_edges(_judged(one_offs, modal, filed, near_address)), rank)


def _named(key: str, modal: Mapping[str, Modal]) -> bool:
    m = modal.get(key)
    return m is not None and m.first != "" and m.last_key != ""


def succession_edges(
    pairs: Iterable[Pair], modal: Mapping[str, Modal], filed: Mapping[str, Sequence[Filed]]
) -> list[Pair]:
    """Rule 6: (ITIN person, SSN person) edges, one to one, every ITIN year before every
    SSN year; without equal DOBs the address at the switch and equal suffixes decide."""
    kept = [
        (s, d)
        for s, d in pairs
        if "~" not in s
        and "~" not in d
        and is_itin(s)  # a key without "~" is the TIN
        and is_ssn(d)
        and _named(s, modal)
        and _named(d, modal)
        and filed.get(s)
        and filed.get(d)
        and max(_years(filed[s])) < min(_years(filed[d]))
    ]
    candidates = _judged(kept, modal, filed, switch_address)
    # One to one over every allowed pair, not just the accepted ones: an SSN person that
    # an ambiguous ITIN person could also be is not unique either.
    unique = set(one_to_one((c.src, c.dst) for c in candidates if merge_allowed(c)))
    return [e for e in accepted_edges(candidates, suffixes_confirm) if e in unique]


def is_fragment(key: str, modal: Mapping[str, Modal], filed: Mapping[str, Sequence[Filed]]) -> bool:
    """Rule 7's source: a named person with at most ``FRAGMENT_FILINGS`` filings that is a
    rule-2 fragment (``tin~hash``) or filed in a single tax year."""
    f = filed.get(key, ())
    return (
        0 < len(f) <= FRAGMENT_FILINGS
        and ("~" in key or len(_years(f)) == 1)
        and _named(key, modal)
    )


def fragment_edges(
    pairs: Iterable[Pair], modal: Mapping[str, Modal], filed: Mapping[str, Sequence[Filed]]
) -> list[Pair]:
    """Rule 7: (fragment, person) edges: the one person, not a fragment itself and filing
    in none of the fragment's years, whose name and address the fragment shares; never
    two fragments with a tax year in common into one person."""
    kept = [
        (s, d)
        for s, d in set(pairs)
        if s != d
        and is_fragment(s, modal, filed)
        and not is_fragment(d, modal, filed)
        and not _years(filed.get(s, ())) & _years(filed.get(d, ()))
    ]
    # The address is asked in every case: equal DOBs never stand in for it.
    candidates = [replace(c, dob_equal=False) for c in _judged(kept, modal, filed, window_address)]
    years = {s: _years(filed.get(s, ())) for s, _ in kept}
    # Year collisions count over every allowed pair: two returns in one year in a person's
    # name at the person's address cannot both be theirs, whichever one is ambiguous.
    allowed = [(c.src, c.dst) for c in candidates if merge_allowed(c)]
    disjoint = set(disjoint_sources(allowed, years))
    return [e for e in accepted_edges(candidates, fragment_confirms) if e in disjoint]
