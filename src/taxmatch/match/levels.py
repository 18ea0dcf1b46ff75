"""The model's comparison levels and blocking rules, declared once, each rendered two
ways: as the Splink level (``splink(dialect)``, which ``model`` trains and a batch scores
with: DuckDB's SQL, or Spark's for the Spark engine) and as a Python predicate with SQL's
NULL rules (``holds(l, r)``, for ``score``).

Splink renders its own levels (exact, null, Levenshtein, array intersection) in either
dialect; the custom conditions are written here in both. Jaro-Winkler on Spark is
``SPARK_JARO_WINKLER``, a UDF over ``similarity.jaro_winkler`` (DuckDB's measure), not the
Splink jar's ``jaro_winkler``, which scores some transpositions differently.

``holds`` answers True, False or None (SQL's NULL), and raises ``Unsure`` when it cannot
tell for sure: a similarity within ``SIMILARITY_EPSILON`` of its threshold (rapidfuzz and
DuckDB may round the last bits differently), a value of a type it does not expect, or a
character function on text that is not ASCII; such a pair goes to Splink's SQL. Never
logs a value.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, cast

from rapidfuzz.distance import Hamming

from taxmatch.match.similarity import jaro_winkler, levenshtein, sql_or
from taxmatch.match.thresholds import DOB_WINDOW_DAYS, SIMILARITY_EPSILON

if TYPE_CHECKING:
    from splink.internals.blocking_rule_creator import BlockingRuleCreator
    from splink.internals.comparison_creator import ComparisonCreator
    from splink.internals.comparison_level_creator import ComparisonLevelCreator

Row = dict[str, Any]

DIALECTS = ("duckdb", "spark")
# The Spark SQL name of DuckDB's ``jaro_winkler_similarity`` (registered by the Spark engine).
SPARK_JARO_WINKLER = "taxmatch_jaro_winkler"


def _spark(dialect: str) -> bool:
    if dialect not in DIALECTS:
        raise ValueError(f"unknown SQL dialect {dialect!r}; choose one of {DIALECTS}")
    return dialect == "spark"


def _cll() -> Any:
    import splink.comparison_level_library as cll

    return cll


class Unsure(Exception):
    """A value a Python predicate cannot judge exactly as DuckDB would."""


def near(value: float, threshold: float) -> bool:
    return abs(value - threshold) <= SIMILARITY_EPSILON


def _ascii(*values: str) -> None:
    if not all(v.isascii() for v in values):
        raise Unsure("a character function on text that is not ASCII")


def _str(value: object) -> str:
    if not isinstance(value, str):
        raise Unsure("a value that is not text")
    return value


def _contains(items: Iterable[object] | None, value: object) -> bool | None:
    """``list_contains``: NULL for a NULL list or value; NULL items never match."""
    if items is None or value is None:
        return None
    return any(i is not None and i == value for i in items)


@dataclass(frozen=True, slots=True)
class Prior:
    """A level's starting m (and u), which of them training may not change, and its
    term-frequency column."""

    m: float
    u: float | None = None
    fix_m: bool = False
    fix_u: bool = False
    tf: str | None = None

    def configure(self, level: ComparisonLevelCreator) -> ComparisonLevelCreator:
        given: dict[str, Any] = {  # Splink's options, those set here
            "m_probability": self.m,
            "u_probability": self.u,
            "tf_adjustment_column": self.tf,
            "fix_m_probability": self.fix_m or None,
            "fix_u_probability": self.fix_u or None,
        }
        return level.configure(**{k: v for k, v in given.items() if v is not None})

    def custom(self, sql: str, label: str) -> ComparisonLevelCreator:
        """A Splink level on the SQL condition ``sql``, configured with this prior."""
        return self.configure(_cll().CustomLevel(sql, label))


class _OnColumn:
    """A level judged on the two sides' ``column`` values: NULL when either is."""

    __slots__ = ()
    column: str

    def holds(self, req: Row, rec: Row) -> bool | None:
        a, b = req[self.column], rec[self.column]
        return None if a is None or b is None else self.agree(a, b)

    def agree(self, a: Any, b: Any) -> bool:
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class Null:
    """Either side's ``column`` is NULL (weight 0)."""

    column: str

    def splink(self, dialect: str = "duckdb") -> ComparisonLevelCreator:
        return cast("ComparisonLevelCreator", _cll().NullLevel(self.column))

    def holds(self, req: Row, rec: Row) -> bool | None:
        return req[self.column] is None or rec[self.column] is None


@dataclass(frozen=True, slots=True)
class Exact(_OnColumn):
    column: str
    prior: Prior

    def splink(self, dialect: str = "duckdb") -> ComparisonLevelCreator:
        return self.prior.configure(_cll().ExactMatchLevel(self.column))

    def agree(self, a: Any, b: Any) -> bool:
        if type(a) is not type(b):
            raise Unsure("values of different types")
        return bool(a == b)


@dataclass(frozen=True, slots=True)
class Swapped:
    """The request's first name is the filer's surname and its surname the first name."""

    label: str
    prior: Prior

    def splink(self, dialect: str = "duckdb") -> ComparisonLevelCreator:
        sql = "first_name_l = last_key_r AND last_key_l = first_name_r"
        return self.prior.custom(sql, self.label)

    def holds(self, req: Row, rec: Row) -> bool | None:
        values = (req["first_name"], rec["last_key"], req["last_key"], rec["first_name"])
        if any(v is None for v in values):
            return None
        return bool(values[0] == values[1] and values[2] == values[3])


@dataclass(frozen=True, slots=True)
class ListContains:
    """Either side's ``column`` is in the other's ``lists``."""

    column: str
    lists: str
    label: str
    prior: Prior

    def splink(self, dialect: str = "duckdb") -> ComparisonLevelCreator:
        c, s = self.column, self.lists
        contains = "array_contains" if _spark(dialect) else "list_contains"
        sql = f"{contains}({s}_r, {c}_l) OR {contains}({s}_l, {c}_r)"
        return self.prior.custom(sql, self.label)

    def holds(self, req: Row, rec: Row) -> bool | None:
        c, s = self.column, self.lists
        return sql_or(_contains(rec[s], req[c]), _contains(req[s], rec[c]))


@dataclass(frozen=True, slots=True)
class Initial(_OnColumn):
    """The first characters agree; with ``either_single``, only when one side is just an
    initial."""

    column: str
    either_single: bool
    prior: Prior
    label: str = "initial"

    def splink(self, dialect: str = "duckdb") -> ComparisonLevelCreator:
        c = self.column
        same = (
            f"substring({c}_l, 1, 1) = substring({c}_r, 1, 1)"
            if _spark(dialect)
            else f"{c}_l[1] = {c}_r[1]"
        )
        single = f"(length({c}_l) = 1 OR length({c}_r) = 1) AND {same}"
        return self.prior.custom(single if self.either_single else same, self.label)

    def agree(self, a: Any, b: Any) -> bool:
        x, y = _str(a), _str(b)
        _ascii(x, y)
        if self.either_single and not (len(x) == 1 or len(y) == 1):
            return False
        return x[:1] == y[:1]


@dataclass(frozen=True, slots=True)
class JaroWinklerAtLeast(_OnColumn):
    column: str
    threshold: float
    prior: Prior

    def splink(self, dialect: str = "duckdb") -> ComparisonLevelCreator:
        if _spark(dialect):
            c, label = self.column, f"Jaro-Winkler distance of {self.column} >= {self.threshold}"
            sql = f"{SPARK_JARO_WINKLER}({c}_l, {c}_r) >= {self.threshold}"
            return self.prior.custom(sql, label)
        return self.prior.configure(_cll().JaroWinklerLevel(self.column, self.threshold))

    def agree(self, a: Any, b: Any) -> bool:
        similarity = jaro_winkler(_str(a), _str(b))
        if near(similarity, self.threshold):
            raise Unsure("a similarity at its threshold")
        return similarity >= self.threshold


@dataclass(frozen=True, slots=True)
class LevenshteinAtMost(_OnColumn):
    column: str
    distance: int
    prior: Prior

    def splink(self, dialect: str = "duckdb") -> ComparisonLevelCreator:
        return self.prior.configure(_cll().LevenshteinLevel(self.column, self.distance))

    def agree(self, a: Any, b: Any) -> bool:
        return levenshtein(_str(a), _str(b)) <= self.distance


@dataclass(frozen=True, slots=True)
class Overlap(_OnColumn):
    """The two sides' lists share an element (``list_has_any``, or with ``intersect``
    Splink's array-intersection level of size 1): NULL items never match."""

    column: str
    prior: Prior
    intersect: bool = False
    label: str = ""

    def splink(self, dialect: str = "duckdb") -> ComparisonLevelCreator:
        if self.intersect:
            return self.prior.configure(_cll().ArrayIntersectLevel(self.column, 1))
        overlap = "arrays_overlap" if _spark(dialect) else "list_has_any"
        return self.prior.custom(f"{overlap}({self.column}_l, {self.column}_r)", self.label)

    def agree(self, a: Any, b: Any) -> bool:
        return bool({x for x in a if x is not None} & {x for x in b if x is not None})


@dataclass(frozen=True, slots=True)
class NearDate(_OnColumn):
    """Within ``DOB_WINDOW_DAYS`` days, or day and month swapped."""

    column: str
    label: str
    prior: Prior

    def splink(self, dialect: str = "duckdb") -> ComparisonLevelCreator:
        a, b = f"{self.column}_l", f"{self.column}_r"
        days = f"datediff({b}, {a})" if _spark(dialect) else f"date_diff('day', {a}, {b})"
        sql = (
            f"abs({days}) <= {DOB_WINDOW_DAYS} OR (month({a}) = day({b}) AND day({a}) = month({b}))"
        )
        return self.prior.custom(sql, self.label)

    def agree(self, a: Any, b: Any) -> bool:
        if type(a) is not dt.date or type(b) is not dt.date:
            raise Unsure("a date of birth that is not a date")
        return bool(abs((b - a).days) <= DOB_WINDOW_DAYS or (a.month == b.day and a.day == b.month))


@dataclass(frozen=True, slots=True)
class HammingIs(_OnColumn):
    """Strings of one length that differ in exactly ``distance`` characters."""

    column: str
    distance: int
    label: str
    prior: Prior

    def splink(self, dialect: str = "duckdb") -> ComparisonLevelCreator:
        a, b = f"{self.column}_l", f"{self.column}_r"
        # Spark has no hamming(): the positions whose characters differ, counted.
        positions = f"sequence(1, length({a}))"
        differ = f"size(filter({positions}, i -> substr({a}, i, 1) <> substr({b}, i, 1)))"
        hamming = differ if _spark(dialect) else f"hamming({a}, {b})"
        sql = f"CASE WHEN length({a}) = length({b}) THEN {hamming} = {self.distance} ELSE false END"
        return self.prior.custom(sql, self.label)

    def agree(self, a: Any, b: Any) -> bool:
        a, b = _str(a), _str(b)
        _ascii(a, b)
        if len(a) != len(b):
            return False
        if not a:
            raise Unsure("hamming of empty strings")  # DuckDB raises
        return int(Hamming.distance(a, b)) == self.distance


@dataclass(frozen=True, slots=True)
class Else:
    prior: Prior

    def splink(self, dialect: str = "duckdb") -> ComparisonLevelCreator:
        return self.prior.configure(_cll().ElseLevel())

    def holds(self, req: Row, rec: Row) -> bool | None:
        return True


class Level(Protocol):
    """A comparison level: its Splink rendering and its Python predicate."""

    def splink(self, dialect: str = "duckdb") -> ComparisonLevelCreator: ...

    def holds(self, req: Row, rec: Row) -> bool | None: ...


@dataclass(frozen=True, slots=True)
class Comparison:
    name: str
    levels: tuple[Level, ...]

    def splink(self, dialect: str = "duckdb") -> ComparisonCreator:
        import splink.comparison_library as cl

        return cl.CustomComparison(
            output_column_name=self.name,
            comparison_levels=[lv.splink(dialect) for lv in self.levels],
        )


@dataclass(frozen=True, slots=True)
class RuleKey:
    """A blocking rule: the request's ``left`` columns equal the record's ``right``
    columns, pairwise (a NULL equals nothing)."""

    left: tuple[str, ...]
    right: tuple[str, ...]

    def admits(self, req: Row, rec: Row) -> bool:
        return all(
            req[a] is not None and rec[b] is not None and req[a] == rec[b]
            for a, b in zip(self.left, self.right, strict=True)
        )

    def splink(self) -> BlockingRuleCreator:
        from splink import block_on
        from splink.blocking_rule_library import CustomRule

        if self.left == self.right:
            return block_on(*self.left)
        terms = (f"l.{a} = r.{b}" for a, b in zip(self.left, self.right, strict=True))
        return CustomRule(" AND ".join(terms))
