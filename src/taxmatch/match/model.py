"""The Fellegi–Sunter model (Splink 5 on DuckDB): comparisons, blocking, training, storage.

Trained once per reference snapshot by ``taxmatch model train`` and saved in the store as
``models/<snapshot_id>/model.json`` with a version and sha256; every batch reuses it.

Training: u-probabilities from random pairs of master records; m-probabilities from the
resolved persons — pairs of one person's filings in different years (a 20 % sample of
persons) carry exactly the noise that administrative data has (typos, abbreviations,
moves). Levels that filings
never show (nicknames, initials, requester typos) keep conservative fixed priors.
Never logs a value; Splink's own logging is kept at WARNING.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import duckdb

from taxmatch.owner_only import make_dir, write_private_text

MODEL_SCHEMA = "taxmatch/model/v1"
MODEL_VERSION = "fs-2"


def quiet_splink() -> None:
    """Splink narrates training at INFO and WARNING (untrained levels are expected here:
    they keep their configured priors) and sets its own level on import, so call this
    after importing it. Its messages name columns, never values."""
    for name in ("splink", "splink.internals"):
        logging.getLogger(name).setLevel(logging.ERROR)


@dataclass(frozen=True, slots=True)
class ModelInfo:
    path: Path
    version: str
    sha256: str
    snapshot_id: str


# The request's first name is the filer's surname and its surname the filer's first name.
SWAPPED = "first_name_l = last_key_r AND last_key_l = first_name_r"


def _comparisons() -> list[Any]:
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    def custom(name: str, levels: list[Any]) -> Any:
        return cl.CustomComparison(output_column_name=name, comparison_levels=levels)

    return [
        custom("first_name", [
            cll.NullLevel("first_name"),
            cll.ExactMatchLevel("first_name").configure(
                tf_adjustment_column="first_name", m_probability=0.90),
            # First and last name swapped on the request ("GARCIA MARIA"). Filings never
            # swap, so neither m nor u can be learnt from them: both are fixed, at about
            # the evidence of an exact first name.
            cll.CustomLevel(SWAPPED, "swapped with the surname").configure(
                m_probability=0.02, u_probability=2e-5, fix_m_probability=True,
                fix_u_probability=True),
            cll.CustomLevel("list_contains(first_names_r, first_name_l) OR "
                            "list_contains(first_names_l, first_name_r)",
                            "another filed spelling").configure(m_probability=0.03),
            cll.CustomLevel("list_contains(nicknames_r, first_name_l) OR "
                            "list_contains(nicknames_l, first_name_r)",
                            "nickname").configure(m_probability=0.03),
            cll.CustomLevel("(length(first_name_l) = 1 OR length(first_name_r) = 1) AND "
                            "first_name_l[1] = first_name_r[1]",
                            "initial").configure(m_probability=0.01),
            cll.JaroWinklerLevel("first_name", 0.92).configure(m_probability=0.02),
            cll.ElseLevel().configure(m_probability=0.01),
        ]),
        custom("middle_name", [
            cll.NullLevel("middle_name"),
            cll.ExactMatchLevel("middle_name").configure(m_probability=0.85),
            cll.CustomLevel("middle_name_l[1] = middle_name_r[1]", "initial").configure(
                m_probability=0.12),
            cll.ElseLevel().configure(m_probability=0.03),
        ]),
        custom("last_name", [
            cll.NullLevel("last_key"),
            cll.ExactMatchLevel("last_key").configure(
                tf_adjustment_column="last_key", m_probability=0.90),
            cll.CustomLevel(SWAPPED, "swapped with the first name").configure(
                m_probability=0.02, u_probability=2e-5, fix_m_probability=True,
                fix_u_probability=True),
            cll.ArrayIntersectLevel("last_parts", 1).configure(m_probability=0.06),
            cll.JaroWinklerLevel("last_key", 0.92).configure(m_probability=0.03),
            cll.ElseLevel().configure(m_probability=0.01),
        ]),
        # A distinguishing field (Jr/Sr at one address): its m is fixed, not learned, so
        # that a conflicting suffix always separates two people by more than the margin.
        custom("suffix", [
            cll.NullLevel("suffix"),
            cll.ExactMatchLevel("suffix").configure(m_probability=0.995, fix_m_probability=True),
            cll.ElseLevel().configure(m_probability=0.005, fix_m_probability=True),
        ]),
        custom("date_of_birth", [
            cll.NullLevel("date_of_birth"),
            cll.ExactMatchLevel("date_of_birth").configure(m_probability=0.95),
            cll.CustomLevel("abs(date_diff('day', date_of_birth_l, date_of_birth_r)) <= 366 "
                            "OR (month(date_of_birth_l) = day(date_of_birth_r) AND "
                            "day(date_of_birth_l) = month(date_of_birth_r))",
                            "within a year or day/month swapped").configure(m_probability=0.04),
            cll.ElseLevel().configure(m_probability=0.01),
        ]),
        custom("tin", [
            cll.NullLevel("tin"),
            cll.CustomLevel("list_has_any(tins_l, tins_r)", "TIN filed").configure(
                m_probability=0.95),
            cll.CustomLevel("CASE WHEN length(tin_l) = length(tin_r) "
                            "THEN hamming(tin_l, tin_r) = 1 ELSE false END",
                            "one digit off").configure(
                m_probability=0.03),
            cll.ElseLevel().configure(m_probability=0.02),
        ]),
        custom("house_number", [
            cll.NullLevel("house_number"),
            cll.ExactMatchLevel("house_number").configure(m_probability=0.90),
            cll.LevenshteinLevel("house_number", 1).configure(m_probability=0.04),
            cll.ElseLevel().configure(m_probability=0.06),
        ]),
        custom("street", [
            cll.NullLevel("street"),
            cll.ExactMatchLevel("street").configure(m_probability=0.88),
            cll.JaroWinklerLevel("street", 0.88).configure(m_probability=0.06),
            cll.ElseLevel().configure(m_probability=0.06),
        ]),
        custom("unit", [
            cll.NullLevel("unit"),
            cll.ExactMatchLevel("unit").configure(m_probability=0.9),
            cll.ElseLevel().configure(m_probability=0.1),
        ]),
        custom("zip", [
            cll.NullLevel("zip5"),
            cll.ExactMatchLevel("zip5").configure(m_probability=0.90),
            cll.ExactMatchLevel("zip3").configure(m_probability=0.04),
            cll.ElseLevel().configure(m_probability=0.06),
        ]),
        custom("city", [
            cll.NullLevel("city"),
            cll.ExactMatchLevel("city").configure(m_probability=0.90),
            cll.JaroWinklerLevel("city", 0.9).configure(m_probability=0.04),
            cll.ElseLevel().configure(m_probability=0.06),
        ]),
    ]  # fmt: skip


def blocking_rules() -> list[Any]:
    """Candidate pairs: recall first, measured on truth data (bench/matching.py)."""
    from splink import block_on
    from splink.blocking_rule_library import CustomRule

    return [
        block_on("last_key", "zip5"),
        block_on("first_name", "last_key"),
        CustomRule("l.first_name = r.last_key AND l.last_key = r.first_name"),  # swapped
        block_on("house_number", "zip5"),
        block_on("first_name", "date_of_birth"),
        block_on("tin"),
        block_on("po_box", "zip5"),
    ]


def settings_dict(link_type: Literal["link_only", "dedupe_only"], prior: float) -> dict[str, Any]:
    from splink import SettingsCreator

    creator = SettingsCreator(
        link_type=link_type,
        unique_id_column_name="unique_id",
        comparisons=_comparisons(),
        blocking_rules_to_generate_predictions=blocking_rules(),
        probability_two_random_records_match=prior,
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )
    settings: dict[str, Any] = creator.create_settings_dict(sql_dialect_str="duckdb")
    return settings


def model_dir(store: Path, snapshot_id: str) -> Path:
    return store / "models" / snapshot_id


def train_model(store: Path, snapshot_id: str, snapshot_path: Path, *, seed: int = 42) -> ModelInfo:
    """Estimate u from random master pairs and m from resolved persons; save the model."""
    from splink import DuckDBAPI, Linker

    quiet_splink()
    con = duckdb.connect()
    try:
        path = str(snapshot_path).replace("'", "''")
        con.execute(f"ATTACH '{path}' AS ref (READ_ONLY)")
        con.execute("CREATE TEMP TABLE recs AS SELECT * FROM ref.master_records")
        con.execute("CREATE TEMP TABLE labelled AS SELECT * FROM ref.training_records")
        n_records = con.execute("SELECT count(*) FROM recs").fetchall()[0]
        total = int(n_records[0]) if n_records else 0
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
    settings["link_type"] = "link_only"
    out = model_dir(store, snapshot_id)
    make_dir(out)
    doc = {"schema": MODEL_SCHEMA, "version": MODEL_VERSION, "snapshot_id": snapshot_id,
           "seed": seed, "splink_settings": settings}  # fmt: skip
    text = json.dumps(doc, indent=2, sort_keys=True)
    write_private_text(out / "model.json", text)
    return load_model_info(store, snapshot_id)


def load_model_info(store: Path, snapshot_id: str) -> ModelInfo:
    from taxmatch.errors import ReferenceSnapshotError

    path = model_dir(store, snapshot_id) / "model.json"
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
