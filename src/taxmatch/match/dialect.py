"""A saved (trained) model in another SQL dialect, from the same declarations.

The model is trained and saved with DuckDB's SQL (``model.train_model``). Another engine
scores with the declarations rendered in its own dialect (``model.settings_dict(...,
dialect)``) and the trained m and u copied level by level from the saved model, after
checking that the saved model is the one the declarations render (the same conditions in
DuckDB's SQL, in the same order) and that both renderings have the same levels: nothing
of the model is written twice. ``query_in_dialect`` renders one of taxmatch's DuckDB
queries (``collapse``'s ranking and gathering) in another dialect with sqlglot, as Splink
renders its own SQL. Never logs a value.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel

from taxmatch.match.model import rule_sql, settings_dict

# What a level is besides its SQL: the same in every dialect.
_SHAPE_KEYS = (
    "is_null_level",
    "tf_adjustment_column",
    "tf_adjustment_weight",
    "tf_minimum_u_value",
)
_SQL_KEYS = ("sql_condition", *_SHAPE_KEYS)
# What training sets on a level (absent: the level keeps Splink's default).
_TRAINED_KEYS = ("m_probability", "u_probability")


class NotTheDeclaredModel(Exception):
    """The saved model's levels are not those the declarations render."""


def _shape(settings: dict[str, Any], keys: tuple[str, ...]) -> Any:
    return [
        (c["output_column_name"], [[lv.get(k) for k in keys] for lv in c["comparison_levels"]])
        for c in settings["comparisons"]
    ]


def same_declarations(settings: dict[str, Any]) -> bool:
    """The saved model's comparisons and blocking rules are those the declarations
    render (m and u aside): the same conditions, in the same order, the same tf columns."""
    ours = settings_dict("link_only", 0.5)
    return bool(
        (_shape(ours, _SQL_KEYS), rule_sql(ours))
        == (_shape(settings, _SQL_KEYS), rule_sql(settings))
    )


def _fixed(settings: dict[str, Any]) -> Any:
    return [
        [(bool(lv.get("fix_m_probability")), bool(lv.get("fix_u_probability"))) for lv in levels]
        for levels in (c["comparison_levels"] for c in settings["comparisons"])
    ]


def settings_in_dialect(saved: dict[str, Any], dialect: str) -> dict[str, Any]:
    """``saved`` (a trained model's Splink settings) with its SQL in ``dialect``: the
    declarations rendered in that dialect, with the saved prior and each level's trained
    m and u. Raises ``NotTheDeclaredModel`` when the saved model was trained from other
    declarations, or the renderings' levels differ."""
    if not same_declarations(saved):
        raise NotTheDeclaredModel("the saved model's levels are not the declared ones")
    prior = float(saved["probability_two_random_records_match"])
    out = settings_dict("link_only", prior, dialect)
    if _shape(out, _SHAPE_KEYS) != _shape(saved, _SHAPE_KEYS) or _fixed(out) != _fixed(saved):
        raise NotTheDeclaredModel(f"the {dialect} rendering's levels are not the saved ones")
    out = copy.deepcopy(out)
    for comparison, trained in zip(out["comparisons"], saved["comparisons"], strict=True):
        pairs = zip(comparison["comparison_levels"], trained["comparison_levels"], strict=True)
        for level, source in pairs:
            level["label_for_charts"] = source.get("label_for_charts")
            for key in _TRAINED_KEYS:
                if key in source:
                    level[key] = source[key]
                else:
                    level.pop(key, None)
    out["sql_dialect"] = dialect
    out.pop("linker_uid", None)
    return out


def query_in_dialect(sql: str, dialect: str, schemas: Mapping[str, str] | None = None) -> str:
    """``sql`` (a DuckDB query) in ``dialect``'s SQL, transpiled by sqlglot: the one
    definition rendered again, never a second copy. A common table expression's
    ``MATERIALIZED`` (DuckDB's hint: the rows are the same) goes. ``schemas`` names
    tables anew: ``{"ref": "tm_ref_"}`` reads ``ref.persons`` as ``tm_ref_persons`` (an
    engine without DuckDB's attached schemas registers the tables under those names)."""
    if dialect == "duckdb":
        return sql
    return staged_query_in_dialect(sql, dialect, schemas, stage=False)[1]


def staged_query_in_dialect(
    sql: str, dialect: str, schemas: Mapping[str, str] | None = None, *, stage: bool = True
) -> tuple[list[tuple[str, str]], str]:
    """``query_in_dialect``, each common table expression (with ``stage``) made a query of
    its own: ``[(name, query), ...]`` in order, which the engine computes once and keeps
    under that name (DuckDB computes those it is told to materialize once; Spark would
    inline each at every reference, and its cache refuses a query holding one), then the
    query of the rest."""
    tree = sqlglot.parse_one(sql, read="duckdb")
    for table in tree.find_all(exp.Table):
        prefix = (schemas or {}).get(table.db)
        if prefix is not None:
            table.set("this", exp.to_identifier(prefix + table.name))
            table.set("db", None)
    stages: list[tuple[str, str]] = []
    ctes = list(tree.ctes) if isinstance(tree, exp.Query) else []
    with_ = ctes[0].parent if ctes else None  # the query's WITH
    for cte in ctes:
        cte.set("materialized", None)
        if stage:
            stages.append((cte.alias, _render(cte.this, dialect)))
            cte.pop()
    if isinstance(with_, exp.With) and not with_.expressions:
        with_.pop()
    return stages, _render(tree, dialect)


def _render(tree: exp.Expr, dialect: str) -> str:
    return tree.sql(dialect=dialect, unsupported_level=ErrorLevel.RAISE)
