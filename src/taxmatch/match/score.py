"""Splink's scores for one lookup's few pairs, in Python, from the saved model and the same
declarations (``taxmatch.match.levels``): planning Splink's SQL for a few dozen pairs costs
far more than the arithmetic. As Splink computes them:

- the pairs any blocking rule admits (``model.BLOCKING``);
- per comparison, the first level whose predicate holds, its match weight
  ``log2(m / u)`` (m and u clamped at Splink's ``1e-300``; 0 for a null level) and, on
  a level with a term-frequency column, Splink's adjustment
  ``tf_weight * (log2(u_exact) - log2(max(tf_l, tf_r, tf_minimum_u)))`` (0 when neither
  side's value has a term frequency), ``u_exact`` being the u of the comparison's exact
  level on that column;
- ``match_weight``: the prior's weight ``log2(p / (1 - p))`` plus every term, summed in
  Splink's order; ``match_probability``: ``1 / (1 + 2^-w)`` (``2^w / (1 + 2^w)`` below
  0); pairs below ``CANDIDATE_FLOOR`` (as a weight, as Splink filters) are dropped.

A pair is *uncertain* (the warm matcher then asks Splink) when a level could not be judged
exactly as DuckDB would (``levels.Unsure``) unless the pair is below the floor whichever
way that level goes, or when its weight is within ``WEIGHT_EPSILON`` of the floor. Never
logs a value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from taxmatch.match.dialect import same_declarations
from taxmatch.match.levels import Exact, Level, Unsure
from taxmatch.match.model import BLOCKING, COMPARISONS
from taxmatch.match.thresholds import CANDIDATE_FLOOR

Row = dict[str, Any]

# Splink's clamp on m and u before log2 (comparison_level.M_U_CLAMP_MIN).
M_U_CLAMP_MIN = 1e-300
# A weight this close to the floor's may fall on the other side in DuckDB.
WEIGHT_EPSILON = 1e-9
PROBABILITY_EPSILON = 1e-12
# Levels not judged exactly are followed both ways, up to this many weights per pair.
MAX_BRANCHES = 16
# A kept pair's columns, as Splink names them.
PAIR_COLUMNS = ("unique_id_l", "unique_id_r", "match_weight", "match_probability")


class Unsupported(Exception):
    """The saved model is not the one these declarations render, or a value the Python
    path does not handle: the lookup takes Splink's SQL."""


def prob_to_weight(p: float) -> float:
    return math.log2(p / (1 - p)) if p != 1 else math.inf


def weight_to_prob(w: float) -> float:
    if w >= 0:
        return 1.0 / (1.0 + math.pow(2.0, -w))
    return math.pow(2.0, w) / (1.0 + math.pow(2.0, w))


@dataclass(frozen=True, slots=True)
class _Level:
    level: Level
    weight: float
    tf_column: str | None = None
    tf_weight: float = 0.0
    tf_min_u: float = 0.0
    log2_u_exact: float = 0.0


@dataclass(slots=True)
class Scored:
    """The kept pairs (``PAIR_COLUMNS``) and the (request, record) ids of uncertain pairs."""

    pairs: list[Row] = field(default_factory=list)
    uncertain: set[tuple[str, str]] = field(default_factory=set)


class Scorer:
    """The saved model's scores for request × record pairs; ``tf`` holds, per tf
    column, each value's term frequency (the snapshot's ``tf_*_records`` tables)."""

    def __init__(self, settings: dict[str, Any], tf: dict[str, dict[Any, float]]) -> None:
        if not same_declarations(settings):
            raise Unsupported("the saved model's levels are not the declared ones")
        self.prior_weight = prob_to_weight(float(settings["probability_two_random_records_match"]))
        self.floor_weight = prob_to_weight(CANDIDATE_FLOOR)
        self.tf = tf
        self.comparisons = [
            self._levels(declared.levels, saved)
            for declared, saved in zip(COMPARISONS, settings["comparisons"], strict=True)
        ]

    @staticmethod
    def _levels(declared: tuple[Level, ...], saved: dict[str, Any]) -> list[_Level]:
        """Each level's weight and tf adjustment. m and u are read through Splink's own
        comparison (``CustomComparison(...).get_comparison``), so a level training never
        observed gets the value Splink gives it."""
        import splink.comparison_library as cl

        dicts: list[Any] = [dict(lv) for lv in saved["comparison_levels"]]
        built = cl.CustomComparison(
            output_column_name=saved["output_column_name"], comparison_levels=dicts
        ).get_comparison("duckdb")
        objects = list(built.comparison_levels)
        out: list[_Level] = []
        for level, obj, d in zip(declared, objects, dicts, strict=True):
            if obj.is_null_level:
                out.append(_Level(level, 0.0))
                continue
            m, u = obj.m_probability, obj.u_probability
            if m is None or u is None:
                raise Unsupported("a level without m or u")
            weight = math.log2(max(float(m), M_U_CLAMP_MIN) / max(float(u), M_U_CLAMP_MIN))
            column = d.get("tf_adjustment_column")
            tf_weight = float(d.get("tf_adjustment_weight", 1.0))
            if column is None or tf_weight == 0 or d["sql_condition"].strip().upper() == "ELSE":
                out.append(_Level(level, weight))
                continue
            exact = [
                o
                for lv, o in zip(declared, objects, strict=True)
                if isinstance(lv, Exact) and lv.column == column
            ]
            if not exact or exact[0].u_probability is None:
                raise Unsupported("a term-frequency level without an exact level")
            tf_min_u = float(d.get("tf_minimum_u_value", 0.0))
            log2_u_exact = math.log2(float(exact[0].u_probability))
            out.append(_Level(level, weight, f"tf_{column}", tf_weight, tf_min_u, log2_u_exact))
        return out

    def admitted(self, req: Row, rec: Row) -> bool:
        return any(rule.admits(req, rec) for rule in BLOCKING)

    def weights(self, req: Row, rec: Row) -> list[float]:
        """The pair's match weight; several when a level cannot be judged exactly
        (``Unsure``: each weight the pair has whether that level holds or not)."""
        totals = [self.prior_weight]
        for levels in self.comparisons:
            choices: list[_Level] = []
            for lv in levels:
                try:
                    if lv.level.holds(req, rec) is True:
                        choices.append(lv)
                        break
                except Unsure:
                    choices.append(lv)  # it may hold; or not, and a later level may
            else:
                raise Unsupported("no level holds (the else level is missing)")
            # (prior + w1) + tf1 + w2 + ...: Splink's order of additions
            totals = [
                t + lv.weight + (self._tf(lv, req, rec) if lv.tf_column else 0.0)
                for t in totals
                for lv in choices
            ]
            if len(totals) > MAX_BRANCHES:
                raise Unsure("too many levels not judged exactly")
        return totals

    def _tf(self, lv: _Level, req: Row, rec: Row) -> float:
        values = self.tf[lv.tf_column or ""]
        column = (lv.tf_column or "")[3:]
        known = [t for t in (values.get(req[column]), values.get(rec[column])) if t is not None]
        if not known:
            return 0.0
        return lv.tf_weight * (lv.log2_u_exact - math.log2(max(*known, lv.tf_min_u)))

    def score(self, requests: list[Row], records: list[Row]) -> Scored:
        """Every admitted pair at or above the floor, and the uncertain ones."""
        out = Scored()
        for req in requests:
            for rec in records:
                if not self.admitted(req, rec):
                    continue
                ids = (str(req["unique_id"]), str(rec["unique_id"]))
                try:
                    ws = self.weights(req, rec)
                except Unsure:
                    out.uncertain.add(ids)
                    continue
                if len(ws) > 1:
                    # else below the floor whichever way: dropped, as Splink drops it
                    if max(ws) >= self.floor_weight - WEIGHT_EPSILON:
                        out.uncertain.add(ids)
                    continue
                w = ws[0]
                p = weight_to_prob(w)
                at_floor = abs(w - self.floor_weight) <= WEIGHT_EPSILON
                if at_floor or abs(p - CANDIDATE_FLOOR) <= PROBABILITY_EPSILON:
                    out.uncertain.add(ids)
                if w >= self.floor_weight:
                    out.pairs.append(dict(zip(PAIR_COLUMNS, (*ids, w, p), strict=True)))
        return out
