"""The Fellegi–Sunter model (Splink 5 on DuckDB): comparisons, blocking, training, storage.

Trained once per reference snapshot (``taxmatch model train``), saved in the store as
``models/<snapshot_id>/model.json`` with a version and sha256. u comes from random pairs of
master records; m from pairs of one resolved person's filings in different years (a 20 %
sample of persons), which carry exactly the noise of administrative data. Levels filings
never show (nicknames, initials, requester typos) keep fixed priors. Never logs a value;
Splink's own logging is kept at ERROR.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import duckdb

from taxmatch.errors import ReferenceSnapshotError, memory_advice, memory_size
from taxmatch.files.duck import attach
from taxmatch.match.levels import (
    Comparison,
    Else,
    Exact,
    HammingIs,
    Initial,
    JaroWinklerAtLeast,
    LevenshteinAtMost,
    ListContains,
    NearDate,
    Null,
    Overlap,
    Prior,
    RuleKey,
    Swapped,
)
from taxmatch.match.thresholds import (
    CITY_JW,
    FIRST_NAME_JW,
    HOUSE_NUMBER_LEVENSHTEIN,
    LAST_NAME_JW,
    STREET_JW,
    TIN_HAMMING,
)
from taxmatch.owner_only import make_dir, write_private_text

MODEL_SCHEMA = "taxmatch/model/v1"
MODEL_VERSION = "fs-5"


def quiet_splink() -> None:
    """Splink warns of untrained levels (expected: they keep their priors) and sets its own
    level on import, so call this after importing it. Its messages name columns, never
    values."""
    for name in ("splink", "splink.internals"):
        logging.getLogger(name).setLevel(logging.ERROR)


@dataclass(frozen=True, slots=True)
class ModelInfo:
    path: Path
    version: str
    sha256: str
    snapshot_id: str


_p = Prior


# Swapped names on the request ("GARCIA MARIA"): filings never swap, so neither m nor u
# can be learnt from them; both are fixed, at about the evidence of an exact first name.
_SWAP = _p(0.02, u=2e-5, fix_m=True, fix_u=True)

COMPARISONS: tuple[Comparison, ...] = (
    Comparison("first_name", (
        Null("first_name"),
        Exact("first_name", _p(0.90, tf="first_name")),
        Swapped("swapped with the surname", _SWAP),
        ListContains("first_name", "first_names", "another filed spelling", _p(0.03)),
        ListContains("first_name", "nicknames", "nickname", _p(0.03)),
        Initial("first_name", True, _p(0.01)),
        JaroWinklerAtLeast("first_name", FIRST_NAME_JW, _p(0.02)),
        Else(_p(0.01)),
    )),
    Comparison("middle_name", (
        Null("middle_name"),
        Exact("middle_name", _p(0.85)),
        Initial("middle_name", False, _p(0.12)),
        Else(_p(0.03)),
    )),
    Comparison("last_name", (
        Null("last_key"),
        Exact("last_key", _p(0.90, tf="last_key")),
        Swapped("swapped with the first name", _SWAP),
        Overlap("last_parts", _p(0.06), intersect=True),
        JaroWinklerAtLeast("last_key", LAST_NAME_JW, _p(0.03)),
        Else(_p(0.01)),
    )),
    # A distinguishing field (Jr/Sr at one address): its m is fixed, not learned, so
    # that a conflicting suffix always separates two people by more than the margin.
    Comparison("suffix", (
        Null("suffix"),
        Exact("suffix", _p(0.995, fix_m=True)),
        Else(_p(0.005, fix_m=True)),
    )),
    Comparison("date_of_birth", (
        Null("date_of_birth"),
        Exact("date_of_birth", _p(0.95)),
        NearDate("date_of_birth", "within a year or day/month swapped", _p(0.04)),
        Else(_p(0.01)),
    )),
    Comparison("tin", (
        Null("tin"),
        Overlap("tins", _p(0.95), label="TIN filed"),
        HammingIs("tin", TIN_HAMMING, "one digit off", _p(0.03)),
        Else(_p(0.02)),
    )),
    Comparison("house_number", (
        Null("house_number"),
        Exact("house_number", _p(0.90)),
        LevenshteinAtMost("house_number", HOUSE_NUMBER_LEVENSHTEIN, _p(0.04)),
        Else(_p(0.06)),
    )),
    Comparison("street", (
        Null("street"),
        Exact("street", _p(0.88)),
        JaroWinklerAtLeast("street", STREET_JW, _p(0.06)),
        Else(_p(0.06)),
    )),
    Comparison("unit", (Null("unit"), Exact("unit", _p(0.9)), Else(_p(0.1)))),
    # A PO box is a door of its own: without it a box request had no address evidence.
    Comparison("po_box", (Null("po_box"), Exact("po_box", _p(0.9)), Else(_p(0.1)))),
    Comparison("zip", (
        Null("zip5"),
        Exact("zip5", _p(0.90)),
        Exact("zip3", _p(0.04)),
        Else(_p(0.06)),
    )),
    Comparison("city", (
        Null("city"),
        Exact("city", _p(0.90)),
        JaroWinklerAtLeast("city", CITY_JW, _p(0.04)),
        Else(_p(0.06)),
    )),
)  # fmt: skip


def _same(*columns: str) -> RuleKey:
    return RuleKey(columns, columns)


# Candidate pairs: recall first, measured on truth data (bench/matching.py). Every key is
# a door, a street or a 3-digit ZIP area, a town, or a near-unique value (a TIN), so a
# request's candidates do not grow with the master file: a name alone (JOHN SMITH) would
# pair a request with every namesake in the country, a surname in a ZIP with every SMITH
# of the ZIP, a house number and street with every 12 MAIN ST of the country. A person
# found only elsewhere could not be disclosed anyway: the requester's address must be on
# the person's file, in its ZIP, a ZIP a typo away or the town the requester names.
BLOCKING: tuple[RuleKey, ...] = (
    _same("last_key", "street", "zip5"),  # a mistyped house number, a first-name variant
    _same("first_name", "street", "zip5"),  # a mistyped house number, a surname variant
    _same("first_name", "last_key", "zip3"),
    RuleKey(("first_name", "last_key", "zip3"), ("last_key", "first_name", "zip3")),  # swapped
    _same("house_number", "zip5"),
    # The same door under another ZIP: what corroborates such a request (``zip_typo``,
    # ``variant.named_town``) — a slip in the ZIP's last digits, or anywhere in it in the
    # town the requester names.
    _same("house_number", "street", "zip3"),
    _same("house_number", "street", "city", "state"),
    _same("first_name", "date_of_birth", "zip3"),
    _same("tin"),
    _same("po_box", "zip5"),
)


def settings_dict(
    link_type: Literal["link_only", "dedupe_only"], prior: float, dialect: str = "duckdb"
) -> dict[str, Any]:
    """The declarations as Splink settings in SQL ``dialect`` (``levels.DIALECTS``)."""
    from splink import SettingsCreator

    creator = SettingsCreator(
        link_type=link_type,
        unique_id_column_name="unique_id",
        comparisons=[c.splink(dialect) for c in COMPARISONS],
        blocking_rules_to_generate_predictions=[rule.splink() for rule in BLOCKING],
        probability_two_random_records_match=prior,
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )
    settings: dict[str, Any] = creator.create_settings_dict(sql_dialect_str=dialect)
    return settings


def rule_sql(settings: dict[str, Any]) -> list[str]:
    """The blocking rules of Splink ``settings`` (saved or ``settings_dict``'s), as SQL."""
    return [
        r["blocking_rule"] if isinstance(r, dict) else str(r)
        for r in settings["blocking_rules_to_generate_predictions"]
    ]


TRAIN_MEMORY_LIMIT = "2GB"  # DuckDB's limit while training; beyond it, it spills to disk


def train_model(
    store: Path,
    snapshot_id: str,
    snapshot_path: Path,
    *,
    seed: int = 42,
    memory_limit: str = TRAIN_MEMORY_LIMIT,
) -> ModelInfo:
    """Estimate u from random master pairs and m from resolved persons; save the model.
    Memory is bounded by ``memory_limit`` (beyond it, DuckDB spills to
    ``<store>/work/train-spill``), not by the size of the master file."""
    from splink import DuckDBAPI, Linker

    memory_size(memory_limit)
    quiet_splink()
    spill = store / "work" / "train-spill"
    make_dir(spill)
    con = duckdb.connect()
    with memory_advice("model train", memory_limit, "--memory-limit"):
        try:
            con.execute(f"SET memory_limit='{memory_limit}'")
            con.execute(f"SET temp_directory='{str(spill).replace(chr(39), chr(39) * 2)}'")
            attach(con, snapshot_path)
            con.execute("CREATE TEMP VIEW recs AS SELECT * FROM ref.master_records")
            con.execute("CREATE TEMP VIEW labelled AS SELECT * FROM ref.training_records")
            total = int(con.execute("SELECT count(*) FROM recs").fetchall()[0][0])
            prior = 1.0 / max(total, 2)
            db = DuckDBAPI(connection=con)
            recs = db.register("recs", dataset_display_name="master_records")
            linker = Linker(recs, settings_dict("dedupe_only", prior))
            linker.training.estimate_u_using_random_sampling(max_pairs=2e6, seed=seed)
            db2 = DuckDBAPI(connection=con)
            labelled = db2.register("labelled", dataset_display_name="labelled")
            trained = linker.misc.save_model_to_json(overwrite=True)
            label_linker = Linker(labelled, trained)
            label_linker.training.estimate_m_from_label_column("person_id")
            settings: dict[str, Any] = label_linker.misc.save_model_to_json(overwrite=True)
        finally:
            con.close()
            shutil.rmtree(spill, ignore_errors=True)
    settings["link_type"] = "link_only"
    # Splink names each linker with a random id; kept, it would make every model file (and
    # its hash in every summary) new. m and u are ratios of counts over seeded samples, so
    # without it the same snapshot and seed give the same file, byte for byte.
    settings.pop("linker_uid", None)
    out = store / "models" / snapshot_id
    make_dir(out)
    doc = {
        "schema": MODEL_SCHEMA,
        "version": MODEL_VERSION,
        "snapshot_id": snapshot_id,
        "seed": seed,
        "splink_settings": settings,
    }
    write_private_text(out / "model.json", json.dumps(doc, indent=2, sort_keys=True))
    return load_model_info(store, snapshot_id)


def load_model_info(store: Path, snapshot_id: str) -> ModelInfo:
    path = store / "models" / snapshot_id / "model.json"
    if not path.exists():
        raise ReferenceSnapshotError(
            f"{path}: no model trained for reference {snapshot_id}; "
            f"run 'taxmatch model train --store {store}'"
        )
    raw = path.read_bytes()
    doc = json.loads(raw)
    if doc.get("schema") != MODEL_SCHEMA:
        raise ReferenceSnapshotError(f"{path}: unknown model schema version")
    return ModelInfo(path, str(doc["version"]), hashlib.sha256(raw).hexdigest(), snapshot_id)


def load_settings(info: ModelInfo) -> dict[str, Any]:
    doc = json.loads(info.path.read_text(encoding="utf-8"))
    settings: dict[str, Any] = doc["splink_settings"]
    return settings
