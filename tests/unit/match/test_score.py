"""``taxmatch.match.score`` gives Splink's pairs and scores.

A generated population (800 people) is loaded and its model trained as a batch's is;
requests are made from its filings, some with the noise requesters add (names swapped,
a first name cut to an initial or mistyped, a date of birth moved a year or its day and
month swapped, a TIN digit changed, fields left out). Splink's ``predict_pairs`` scores
them against every master record; the Python scorer must find the same candidate pairs,
with the same weight and probability (to 1e-9), for every pair it does not flag as
uncertain, and flag few. Every level of every comparison is met along the way.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest

from taxmatch.generate import generate_population
from taxmatch.match import levels
from taxmatch.match.features import REQUEST_INPUTS, request_features
from taxmatch.match.model import COMPARISONS, load_model_info, load_settings
from taxmatch.match.probabilistic import TF_VIEWS, predict_pairs
from taxmatch.match.score import Scorer, Unsupported, weight_to_prob
from taxmatch.match.thresholds import CANDIDATE_FLOOR
from taxmatch.pipeline.reference import load_reference_snapshot, train_current_model
from taxmatch.reference.snapshot import current_reference

Row = dict[str, Any]
REQUESTS = 400


def _noisy(rng: random.Random, row: Row) -> Row:
    """A filing as a requester might write it."""
    r = dict(row)
    pick = rng.randrange(13)
    if pick == 0:
        r["first_name"], r["last_name"] = r["last_name"], r["first_name"]
    elif pick == 1 and r["first_name"]:
        r["first_name"] = r["first_name"][0]
    elif pick == 2 and r["first_name"] and len(r["first_name"]) > 3:
        i = rng.randrange(1, len(r["first_name"]))
        r["first_name"] = r["first_name"][:i] + r["first_name"][i + 1 :]
    elif pick == 3 and r["date_of_birth"]:
        d = r["date_of_birth"]
        r["date_of_birth"] = (
            d.replace(day=d.month, month=d.day) if d.day <= 12 else d + dt.timedelta(days=300)
        )
    elif pick == 4 and r["tin"]:
        digit = str((int(r["tin"][-1]) + 1) % 10)
        r["tin"] = r["tin"][:-1] + digit
    elif pick == 5:
        for c in rng.sample(
            [
                "middle_name",
                "suffix",
                "tin",
                "house_number",
                "street",
                "unit",
                "zip5",
                "city",
                "date_of_birth",
            ],
            3,
        ):
            r[c] = None if c == "date_of_birth" else ""
    elif pick == 6 and r["street"]:
        r["street"] = r["street"][:-1] + "X"
    elif pick == 7 and r["house_number"]:
        r["house_number"] = r["house_number"] + "1"
    elif pick == 8 and r["city"]:
        r["city"] = r["city"][:-1]
    elif pick == 9:
        r["first_name"] = ""
    elif pick == 10:
        r["last_name"] = ""
    elif pick == 11 and r["last_name"] and len(r["last_name"]) > 4:
        r["last_name"] = r["last_name"][:2] + "Q" + r["last_name"][3:]
    return r


@dataclass(frozen=True)
class Scored:
    splink: dict[tuple[str, str], tuple[float, float]]
    python: dict[tuple[str, str], tuple[float, float]]
    uncertain: set[tuple[str, str]]
    admitted: int
    levels: set[tuple[int, int]]
    scorer: Scorer
    requests: list[Row]
    records: list[Row]


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory) -> Scored:
    root = tmp_path_factory.mktemp("score")
    generate_population(people=800, years=(2019, 2025), seed=11, out=root / "pop")
    store = root / "store"
    load_reference_snapshot(store, [root / "pop" / "master.parquet"])
    train_current_model(store)
    reference = current_reference(store)
    settings = load_settings(load_model_info(store, reference.snapshot_id))
    con = duckdb.connect()
    try:
        con.execute("SET threads = 1")
        con.execute(f"ATTACH '{reference.path}' AS ref (READ_ONLY)")
        inputs = [c for c in REQUEST_INPUTS if c != "row_number"]
        filings = con.execute(
            f"SELECT {', '.join(inputs)} FROM ref.filings ORDER BY person_id, tax_year, line1"
        ).fetchall()
        # Filings under a first name other than the person's (another filed spelling).
        variants = con.execute(
            f"SELECT {', '.join(f'f.{c}' for c in inputs)} FROM ref.filings f "
            "JOIN ref.persons p USING (person_id) "
            "WHERE f.first_name <> p.first_name "
            "ORDER BY f.person_id, f.tax_year LIMIT 40"
        ).fetchall()
        rng = random.Random(5)
        rows = [
            _noisy(rng, dict(zip(inputs, f, strict=True)))
            for f in rng.sample(filings, REQUESTS - len(variants))
        ]
        rows += [dict(zip(inputs, f, strict=True)) for f in variants]
        # A box filer asked about at another box number (the box levels' "else").
        boxes = con.execute(
            f"SELECT {', '.join(inputs)} FROM ref.filings WHERE po_box <> '' "
            "ORDER BY person_id, tax_year LIMIT 5"
        ).fetchall()
        rows += [{**dict(zip(inputs, f, strict=True)), "po_box": "90210"} for f in boxes]
        types = {"date_of_birth": "DATE"}
        cols = ", ".join(f"{c} {types.get(c, 'VARCHAR')}" for c in inputs)
        con.execute(f"CREATE TABLE valid (row_number BIGINT, {cols})")
        values = [[i, *(r[c] for c in inputs)] for i, r in enumerate(rows, start=1)]
        con.executemany(f"INSERT INTO valid VALUES (?, {', '.join('?' for _ in inputs)})", values)
        request_features(con, shares={})
        con.execute("CREATE TEMP VIEW master_view AS SELECT * FROM ref.master_records")
        from splink import DuckDBAPI

        pred = predict_pairs(
            con, DuckDBAPI(connection=con), "req_features", "master_view", settings
        )
        splink = {
            (str(a), str(b)): (float(w), float(p))
            for a, b, w, p in con.execute(
                "SELECT unique_id_l, unique_id_r, match_weight, match_probability "
                f"FROM {pred.physical_name}"
            ).fetchall()
        }
        requests = con.sql("SELECT * FROM req_features").to_arrow_table().to_pylist()
        records = con.sql("SELECT * FROM ref.master_records").to_arrow_table().to_pylist()
        tf = {
            f"tf_{column}": dict(
                con.execute(
                    f"SELECT {column}, tf_{column} FROM ref.{table} WHERE {column} IS NOT NULL"
                ).fetchall()
            )
            for _, table, column in TF_VIEWS
        }
    finally:
        con.close()
    scorer = Scorer(settings, tf)
    out = scorer.score(requests, records)
    admitted, levels = 0, set()
    for req in requests:
        for rec in records:
            if scorer.admitted(req, rec):
                admitted += 1
                for i, comparison in enumerate(COMPARISONS):
                    for j, level in enumerate(comparison.levels):
                        try:
                            if level.holds(req, rec) is True:
                                levels.add((i, j))
                                break
                        except Exception:  # an unsure level: counted as uncertain
                            break
    python = {
        (p["unique_id_l"], p["unique_id_r"]): (p["match_weight"], p["match_probability"])
        for p in out.pairs
    }
    return Scored(splink, python, out.uncertain, admitted, levels, scorer, requests, records)


def test_same_candidate_pairs(scored: Scored) -> None:
    assert set(scored.python) - scored.uncertain == set(scored.splink) - scored.uncertain
    assert len(scored.splink) > REQUESTS  # most requests have candidates, many several


def test_same_weights_and_probabilities(scored: Scored) -> None:
    differ = [
        pair
        for pair, (w, p) in scored.splink.items()
        if pair not in scored.uncertain
        and (abs(w - scored.python[pair][0]) > 1e-9 or abs(p - scored.python[pair][1]) > 1e-9)
    ]
    assert differ == []


def test_few_pairs_uncertain(scored: Scored) -> None:
    assert len(scored.uncertain) <= scored.admitted // 100


def test_every_level_is_met(scored: Scored) -> None:
    every = {(i, j) for i, c in enumerate(COMPARISONS) for j in range(len(c.levels))}
    assert every - scored.levels == set()


def test_pairs_below_the_floor_are_not_kept(scored: Scored) -> None:
    assert all(p >= CANDIDATE_FLOOR for _, p in scored.python.values())
    assert scored.admitted > len(scored.python)  # the floor dropped some


def test_probability_from_weight() -> None:
    assert weight_to_prob(0.0) == 0.5
    assert weight_to_prob(-2000.0) == pytest.approx(0.0)
    assert weight_to_prob(2000.0) == 1.0
    assert weight_to_prob(1.0) == pytest.approx(2 / 3)


def test_model_other_than_the_declarations_is_refused(tmp_path: Path) -> None:
    from taxmatch.match.model import settings_dict

    settings = settings_dict("link_only", 1e-4)
    level = settings["comparisons"][6]["comparison_levels"][2]
    level["sql_condition"] = level["sql_condition"].replace("<= 1", "<= 2")
    with pytest.raises(Unsupported):
        Scorer(settings, {})


def test_unsure_levels_are_followed_both_ways(
    scored: Scored, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With every Jaro-Winkler similarity taken as at its threshold, the pairs still
    judged (below the floor whichever way, or no similarity computed) are Splink's, and
    the rest are uncertain."""
    monkeypatch.setattr(levels, "near", lambda value, threshold: True)
    out = scored.scorer.score(scored.requests, scored.records)
    assert len(out.uncertain) > len(scored.uncertain)
    ours = {(p["unique_id_l"], p["unique_id_r"]): p["match_weight"] for p in out.pairs}
    certain = set(scored.splink) - out.uncertain - scored.uncertain
    assert set(ours) - out.uncertain - scored.uncertain == certain
    assert all(abs(ours[pair] - scored.splink[pair][0]) <= 1e-9 for pair in certain)
