"""Splink's scoring SQL, evaluated in Python for the few pairs of one lookup.

A DuckDB query costs milliseconds to bind, optimise and start however few rows it
reads: Splink's scoring statement about twenty for one request and a dozen candidates,
of which computing the scores is a tenth. The warm matcher therefore evaluates the very
SQL Splink generated for the saved model — parsed once (sqlglot, which Splink itself
uses) into Python closures — on the candidate pairs:

- the comparison vectors, match-weight parts and final select of Splink's statement are
  compiled expression by expression: CASE, AND/OR/NOT with SQL's three-valued logic,
  comparisons, arithmetic on doubles in the statement's order, ``coalesce``,
  ``greatest``, ``log2``, ``pow``, list and date functions, and DuckDB's string
  similarities (``taxmatch.match.strings``). Every decimal literal takes the double
  DuckDB itself gives it.
- the blocking and term-frequency joins before them are done by hand: pairs where some
  blocking rule's equalities hold, labelled with the first such rule, and each side's
  term frequencies from the snapshot's tables.

Anything else in the statement — another expression, another shape, a value this code
does not handle exactly as DuckDB does — raises ``Unsupported`` (at start or for one
lookup), and the warm matcher then runs Splink's SQL in DuckDB as before. The tests
compare the two on generated and hand-made requests, score for score.

Never logs a value.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import operator
from collections.abc import Callable, Sequence
from typing import Any

import duckdb

from taxmatch.match import strings

Row = dict[str, Any]
Fn = Callable[[Row], Any]


class Unsupported(Exception):
    """What Python cannot evaluate exactly as DuckDB would: use DuckDB."""


class Const:
    """A compiled expression whose value does not depend on the row (folded once)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __call__(self, row: Row) -> Any:
        return self.value


def _fold(fn: Fn, *parts: Fn) -> Fn:
    """``fn`` evaluated now when all its parts are constants."""
    if all(isinstance(p, Const) for p in parts):
        return Const(fn({}))
    return fn


# --- SQL's three-valued logic -------------------------------------------------------


def _and(values: Sequence[Fn], row: Row) -> bool | None:
    unknown = False
    for fn in values:
        v = fn(row)
        if v is None:
            unknown = True
        elif not v:
            return False
    return None if unknown else True


def _or(values: Sequence[Fn], row: Row) -> bool | None:
    unknown = False
    for fn in values:
        v = fn(row)
        if v is None:
            unknown = True
        elif v:
            return True
    return None if unknown else False


def _logical(v: Any) -> None:
    if v is not None and type(v) is not bool:
        raise Unsupported("AND / OR of a value that is not boolean")


def _or2(a: Any, second: Fn, row: Row) -> bool | None:
    if a is True:
        return True
    b = second(row)
    if b is True:
        return True
    _logical(a)
    _logical(b)
    if a is None or b is None:
        return None
    return False


def _and2(a: Any, second: Fn, row: Row) -> bool | None:
    if a is False:
        return False
    b = second(row)
    if b is False:
        return False
    _logical(a)
    _logical(b)
    if a is None or b is None:
        return None
    return True


def _cmp(op: str) -> Callable[[Any, Any], Any]:
    ops: dict[str, Callable[[Any, Any], Any]] = {
        "EQ": lambda a, b: a == b,
        "NEQ": lambda a, b: a != b,
        "GT": lambda a, b: a > b,
        "GTE": lambda a, b: a >= b,
        "LT": lambda a, b: a < b,
        "LTE": lambda a, b: a <= b,
    }
    return ops[op]


def _check_comparable(a: Any, b: Any) -> None:
    """Values SQL and Python compare alike: two strings, two dates, two numbers."""
    if isinstance(a, bool) or isinstance(b, bool):
        if not (isinstance(a, bool) and isinstance(b, bool)):
            raise Unsupported("comparison of a boolean with another type")
        return
    if isinstance(a, int | float) and isinstance(b, int | float):
        return
    if type(a) is not type(b):
        raise Unsupported("comparison of different types")
    if not isinstance(a, str | dt.date):
        raise Unsupported("comparison of this type")


_PLAIN = (str, int, float, dt.date)


def _num(v: Any) -> float | int:
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise Unsupported("arithmetic on a value that is not a number")
    return v


# --- the compiler ------------------------------------------------------------------


class Compiler:
    """Compiles sqlglot expressions to closures over a row (a dict of column values)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, columns: set[str]) -> None:
        self.con = con
        self.columns = columns
        self._doubles: dict[str, float] = {}
        # Arithmetic written more than once in a step (Splink's final weight appears four
        # times): computed once per row, remembered in the row under a tuple key.
        self._repeated: set[str] = set()
        self._scope = 0

    def repeated_in(self, nodes: list[Any]) -> None:
        """Note the arithmetic ``nodes`` (one step's expressions) repeat, for a new scope."""
        from sqlglot import exp

        seen: set[str] = set()
        self._repeated = set()
        self._scope += 1
        for node in nodes:
            for sub in node.walk():
                if isinstance(sub, exp.Add | exp.Sub | exp.Mul | exp.Div | exp.Paren):
                    text = sub.sql(dialect="duckdb")
                    if text in seen:
                        self._repeated.add(text)
                    seen.add(text)

    def literal_doubles(self, node: Any) -> None:
        """Ask DuckDB, once, for the double value of every decimal literal in ``node``."""
        from sqlglot import exp

        texts = sorted({lit.this for lit in node.find_all(exp.Literal)
                        if not lit.is_string and not _is_int(lit.this)})  # fmt: skip
        if not texts:
            return
        values = self.con.execute(
            "SELECT " + ", ".join(f"CAST({t} AS DOUBLE)" for t in texts)
        ).fetchall()[0]
        self._doubles.update(zip(texts, (float(v) for v in values), strict=True))

    def compile(self, node: Any) -> Fn:
        from sqlglot import exp

        if self._repeated and isinstance(node, exp.Add | exp.Sub | exp.Mul | exp.Div | exp.Paren):
            text = node.sql(dialect="duckdb")
            if text in self._repeated:
                return _remembered(self._compile_node(node), ("cse", self._scope, text))
        return self._compile_node(node)

    def _compile_node(self, node: Any) -> Fn:
        from sqlglot import exp

        if isinstance(node, exp.Paren):
            return self.compile(node.this)
        if isinstance(node, exp.Column):
            if node.table:
                raise Unsupported("qualified column")
            name = node.name
            if name not in self.columns:
                raise Unsupported("unknown column")
            return operator.itemgetter(name)
        if isinstance(node, exp.Literal):
            if node.is_string:
                return Const(str(node.this))
            if _is_int(node.this):
                return Const(int(node.this))
            return Const(self._doubles[node.this])
        if isinstance(node, exp.Null):
            return Const(None)
        if isinstance(node, exp.Boolean):
            return Const(bool(node.this))
        if isinstance(node, exp.Neg):
            inner = self.compile(node.this)

            def neg(r: Row) -> Any:
                v = inner(r)
                return None if v is None else -_num(v)

            return _fold(neg, inner)
        if isinstance(node, exp.Not):
            inner = self.compile(node.this)

            def not_(r: Row) -> Any:
                v = inner(r)
                if v is None:
                    return None
                if not isinstance(v, bool):
                    raise Unsupported("NOT of a value that is not boolean")
                return not v

            return not_
        if isinstance(node, exp.And | exp.Or):
            parts = [self.compile(p) for p in _flatten(node, type(node))]
            if len(parts) == 2:  # most are: a closure without the loop
                first, second = parts
                if isinstance(node, exp.Or):
                    return lambda r: _or2(first(r), second, r)
                return lambda r: _and2(first(r), second, r)
            combine = _and if isinstance(node, exp.And) else _or
            return lambda r: combine(parts, r)
        if isinstance(node, exp.Is):
            if not isinstance(node.expression, exp.Null):
                raise Unsupported("IS other than IS NULL")
            inner = self.compile(node.this)
            return lambda r: inner(r) is None
        if type(node).__name__ in ("EQ", "NEQ", "GT", "GTE", "LT", "LTE"):
            op = _cmp(type(node).__name__)
            left, right = self.compile(node.this), self.compile(node.expression)

            if isinstance(right, Const) and not isinstance(left, Const):
                b = right.value  # x >= 0.92, gamma = 2: the constant read once
                if b is None:
                    return Const(None)

                def compare_const(r: Row) -> Any:
                    a = left(r)
                    if a is None:
                        return None
                    if type(a) is not type(b) or type(a) not in _PLAIN:
                        _check_comparable(a, b)
                    return op(a, b)

                return compare_const

            def compare(r: Row) -> Any:
                a, b = left(r), right(r)
                if a is None or b is None:
                    return None
                if type(a) is not type(b) or type(a) not in _PLAIN:
                    _check_comparable(a, b)
                return op(a, b)

            return _fold(compare, left, right)
        if isinstance(node, exp.Add | exp.Sub | exp.Mul | exp.Div | exp.IntDiv):
            return self._arith(node)
        if isinstance(node, exp.Case):
            return self._case(node)
        if isinstance(node, exp.Cast):
            return self._cast(node)
        return self._function(node)

    def _arith(self, node: Any) -> Fn:
        from sqlglot import exp

        left, right = self.compile(node.this), self.compile(node.expression)
        kind = type(node)

        def arith(r: Row) -> Any:
            a, b = left(r), right(r)
            if type(a) is float and type(b) is float:  # the weights: no checks needed
                if kind is exp.Add:
                    return a + b
                if kind is exp.Sub:
                    return a - b
                if kind is exp.Mul:
                    return a * b
            if a is None or b is None:
                return None
            a, b = _num(a), _num(b)
            if kind is exp.Add:
                return a + b
            if kind is exp.Sub:
                return a - b
            if kind is exp.Mul:
                return a * b
            if kind is exp.IntDiv:
                if not (isinstance(a, int) and isinstance(b, int)) or b == 0:
                    raise Unsupported("integer division of this kind")
                q = abs(a) // abs(b)  # DuckDB truncates toward zero
                return q if (a >= 0) == (b > 0) else -q
            if not (isinstance(a, float) or isinstance(b, float)) or b == 0:
                raise Unsupported("division of this kind")
            return a / b

        return _fold(arith, left, right)

    def _case(self, node: Any) -> Fn:
        from sqlglot import exp

        if node.this is not None:
            raise Unsupported("CASE with an operand")
        ifs = node.args.get("ifs") or []
        default = node.args.get("default")
        otherwise = self.compile(default) if default is not None else Const(None)
        # CASE WHEN c = 1 THEN ... WHEN c = 0 THEN ... (Splink's weights by level): a
        # table by the integer value of c.
        conds = [i.this for i in ifs]
        if conds and all(
            isinstance(c, exp.EQ) and isinstance(c.this, exp.Column) and not c.this.table
            and c.this.name == conds[0].this.name and _int_literal(c.expression) is not None
            for c in conds
        ):  # fmt: skip
            column = conds[0].this.name
            if column not in self.columns:
                raise Unsupported("unknown column")
            table: dict[int, Fn] = {}
            for i in ifs:
                level = _int_literal(i.this.expression)
                assert level is not None
                table.setdefault(level, self.compile(i.args["true"]))

            def by_value(r: Row) -> Any:
                v = r[column]
                if type(v) is not int:
                    if v is None:
                        return otherwise(r)
                    raise Unsupported("CASE on a value that is not an integer")
                branch = table.get(v)
                return otherwise(r) if branch is None else branch(r)

            return by_value
        branches = [(self.compile(i.this), self.compile(i.args["true"])) for i in ifs]

        def case(r: Row) -> Any:
            for cond, value in branches:
                if cond(r) is True:
                    return value(r)
            return otherwise(r)

        return case

    def _cast(self, node: Any) -> Fn:
        target = node.to.sql(dialect="duckdb").upper()
        if target not in ("DOUBLE", "FLOAT8"):
            raise Unsupported("cast to a type other than DOUBLE")
        inner = self.compile(node.this)

        def cast(r: Row) -> Any:
            v = inner(r)
            return None if v is None else float(_num(v))

        return _fold(cast, inner)

    def _function(self, node: Any) -> Fn:
        from sqlglot import exp

        def args(*names: str) -> list[Fn]:
            extra = {k for k, v in node.args.items() if v is not None and k not in names}
            if extra - {"ignore_nulls", "date_part_boundary", "unit"}:
                raise Unsupported("function arguments of this kind")
            return [self.compile(node.args[n]) for n in names]

        def strict(fn: Callable[..., Any], parts: list[Fn]) -> Fn:
            """A function that is NULL when any argument is."""

            def call(r: Row) -> Any:
                values = [p(r) for p in parts]
                if any(v is None for v in values):
                    return None
                return fn(*values)

            return call

        name = type(node).__name__
        if isinstance(node, exp.JarowinklerSimilarity):
            return strict(_strings(strings.jaro_winkler_similarity), args("this", "expression"))
        if isinstance(node, exp.Levenshtein):
            return strict(_strings(strings.levenshtein), args("this", "expression"))
        if isinstance(node, exp.Length):
            return strict(_length, args("this"))
        if isinstance(node, exp.Abs):
            return strict(lambda v: abs(_num(v)), args("this"))
        if isinstance(node, exp.Pow):
            return strict(lambda a, b: math.pow(float(_num(a)), float(_num(b))),
                          args("this", "expression"))  # fmt: skip
        if isinstance(node, exp.Log):
            base = node.this
            if not (isinstance(base, exp.Literal) and base.this == "2"):
                raise Unsupported("logarithm other than log2")
            _, value = args("this", "expression")
            return strict(_log2, [value])
        if isinstance(node, exp.Coalesce):
            parts = [self.compile(node.this)] + [self.compile(e) for e in node.expressions]

            def coalesce(r: Row) -> Any:
                for p in parts:
                    v = p(r)
                    if v is not None:
                        return v
                return None

            return coalesce
        if isinstance(node, exp.Greatest):
            parts = [self.compile(node.this)] + [self.compile(e) for e in node.expressions]

            def greatest(r: Row) -> Any:
                values = [v for v in (p(r) for p in parts) if v is not None]
                if not values:
                    return None
                for v in values:
                    _check_comparable(v, values[0])
                return max(values)

            return greatest
        if isinstance(node, exp.DPipe):
            return strict(_concat, [self.compile(node.this), self.compile(node.expression)])
        if isinstance(node, exp.ArrayContains):
            return self._list_contains(*args("this", "expression"))
        if isinstance(node, exp.ArrayOverlaps):
            return strict(_has_any, args("this", "expression"))
        if isinstance(node, exp.ArraySize):
            return strict(_list_length, args("this"))
        if isinstance(node, exp.Bracket):
            return self._bracket(node)
        if isinstance(node, exp.DateDiff):
            unit = node.args.get("unit")
            if unit is None or unit.name.upper() != "DAY":
                raise Unsupported("date_diff other than in days")
            # sqlglot reads date_diff('day', a, b) as this=b, expression=a: b - a
            later, earlier = args("this", "expression")
            return strict(_days_between, [earlier, later])
        if isinstance(node, exp.Month | exp.Day):
            field = "month" if isinstance(node, exp.Month) else "day"
            return strict(lambda d: getattr(_date(d), field), args("this"))
        if isinstance(node, exp.Anonymous):
            fname = str(node.this).lower()
            parts = [self.compile(e) for e in node.expressions]
            if fname == "hamming" and len(parts) == 2:
                return strict(_strings(_hamming), parts)
            if fname == "list_intersect" and len(parts) == 2:
                first, second = parts

                def intersect(r: Row) -> Any:
                    a = first(r)
                    # DuckDB: NULL when the first list is, empty when only the second is
                    return None if a is None else _intersect(a, second(r) or [])

                return intersect
        raise Unsupported(f"SQL {name} is not evaluated in Python")

    def _list_contains(self, lst: Fn, value: Fn) -> Fn:
        def contains(r: Row) -> Any:
            items, v = lst(r), value(r)
            if items is None:
                return None
            if not isinstance(items, list):
                raise Unsupported("list_contains on a value that is not a list")
            if not items:
                return False  # DuckDB: an empty list contains nothing, not even NULL
            if v is None:
                return None
            for item in items:
                if item is not None:
                    _check_comparable(item, v)
                    if item == v:
                        return True
            return False

        return contains

    def _bracket(self, node: Any) -> Fn:
        from sqlglot import exp

        if len(node.expressions) != 1 or not isinstance(node.expressions[0], exp.Literal):
            raise Unsupported("subscript other than one constant")
        if node.args.get("offset") not in (None, 0) or node.args.get("safe"):
            raise Unsupported("subscript of this kind")
        index = int(node.expressions[0].this)  # sqlglot's, from 0
        inner = self.compile(node.this)

        def subscript(r: Row) -> Any:
            v = inner(r)
            if v is None:
                return None
            if isinstance(v, str):
                return v[index] if 0 <= index < len(v) else ""
            if isinstance(v, list):
                return v[index] if 0 <= index < len(v) else None
            raise Unsupported("subscript of this type")

        return subscript


_MISSING = object()


def _remembered(fn: Fn, key: Any) -> Fn:
    """``fn``, computed once per row and kept in the row under ``key``."""
    if isinstance(fn, Const):
        return fn

    def remembered(r: Row) -> Any:
        v = r.get(key, _MISSING)
        if v is _MISSING:
            v = fn(r)
            r[key] = v
        return v

    return remembered


def _int_literal(node: Any) -> int | None:
    """The value of an integer literal, or of a negated one; None for anything else."""
    from sqlglot import exp

    if isinstance(node, exp.Neg):
        inner = _int_literal(node.this)
        return None if inner is None else -inner
    if isinstance(node, exp.Literal) and not node.is_string and _is_int(node.this):
        return int(node.this)
    return None


def _is_int(text: Any) -> bool:
    return isinstance(text, str) and text.isdigit()


def _flatten(node: Any, kind: type) -> list[Any]:
    if isinstance(node, kind):
        parts: Any = node
        return _flatten(parts.this, kind) + _flatten(parts.expression, kind)
    return [node]


def _hamming(a: str, b: str) -> int:
    try:
        return strings.hamming(a, b)
    except ValueError:
        raise Unsupported("hamming of strings DuckDB refuses") from None


# The string functions, remembered until ``clear_memos``: a lookup compares the request's
# values with hundreds of candidates that share many of theirs (a city, a surname).
_MEMOS: dict[Callable[..., Any], Any] = {
    fn: functools.lru_cache(maxsize=65536)(fn)
    for fn in (strings.jaro_winkler_similarity, strings.levenshtein, _hamming)
}


def clear_memos() -> None:
    """Forget the remembered string comparisons (they hold a lookup's values)."""
    for memo in _MEMOS.values():
        memo.cache_clear()


def _strings(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` (remembered) on strings only."""
    cached = _MEMOS[fn]

    def call(*values: Any) -> Any:
        if not all(isinstance(v, str) for v in values):
            raise Unsupported("string function on a value that is not a string")
        return cached(*values)

    return call


def _concat(a: Any, b: Any) -> str:
    if not (isinstance(a, str) and isinstance(b, str)):
        raise Unsupported("|| of values that are not strings")
    return a + b


def _length(v: Any) -> int:
    if isinstance(v, str | list):
        return len(v)
    raise Unsupported("length of this type")


def _log2(v: Any) -> float:
    x = float(_num(v))
    if not x > 0:
        raise Unsupported("log2 outside its domain")
    return math.log2(x)


def _list_length(v: Any) -> int:
    if not isinstance(v, list):
        raise Unsupported("list length of a value that is not a list")
    return len(v)


def _has_any(a: Any, b: Any) -> bool:
    if not (isinstance(a, list) and isinstance(b, list)):
        raise Unsupported("list_has_any on values that are not lists")
    left = [x for x in a if x is not None]
    right = [x for x in b if x is not None]
    for x in left:
        for y in right:
            _check_comparable(x, y)
    return any(x in right for x in left)


def _intersect(a: Any, b: Any) -> list[Any]:
    """``list_intersect``: the distinct non-null elements of ``a`` also in ``b`` (only
    its length is read, so the order DuckDB returns them in does not matter)."""
    if not (isinstance(a, list) and isinstance(b, list)):
        raise Unsupported("list_intersect on values that are not lists")
    right = [x for x in b if x is not None]
    out: list[Any] = []
    for x in a:
        if x is not None and x in right and x not in out:
            for y in right:
                _check_comparable(x, y)
            out.append(x)
    return out


def _date(v: Any) -> dt.date:
    if isinstance(v, dt.datetime) or not isinstance(v, dt.date):
        raise Unsupported("date function on a value that is not a date")
    return v


def _days_between(earlier: Any, later: Any) -> int:
    return (_date(later) - _date(earlier)).days


# --- Splink's statement ------------------------------------------------------------


class SplinkScorer:
    """Splink's recorded scoring statement for the warm matcher's candidate pairs.

    ``predict_sql`` is the warm matcher's statement: ``WITH warm_blocked AS (...)``
    followed by Splink's own CTEs. Built once; raises ``Unsupported`` when the
    statement is not of the shape read here."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        predict_sql: str,
        rules: list[tuple[tuple[str, ...], tuple[str, ...]]],
        tf: dict[str, dict[Any, float]],
    ) -> None:
        import sqlglot
        from sqlglot import exp

        self.rules = rules
        self.tf = tf  # tf column (tf_first_name, ...) -> value -> frequency
        try:
            tree = sqlglot.parse_one(predict_sql, read="duckdb")
        except sqlglot.errors.ParseError as exc:
            raise Unsupported("the scoring statement does not parse") from exc
        ctes = {c.alias: c.this for c in tree.find_all(exp.CTE)}
        bwc = ctes.get("blocked_with_cols")
        if bwc is None:
            raise Unsupported("no blocked_with_cols step")
        # blocked_with_cols: each side's columns, renamed _l / _r, and the rule label.
        self.sides: list[tuple[str, str, str]] = []  # (side, column, output name)
        for e in bwc.expressions:
            if (isinstance(e, exp.Alias) and isinstance(e.this, exp.Column)
                    and e.this.table in ("l", "r")):  # fmt: skip
                self.sides.append((e.this.table, e.this.name, e.alias))
            elif isinstance(e, exp.Column) and e.table == "b" and e.name == "match_key":
                continue
            else:
                raise Unsupported("blocked_with_cols has a column of another kind")
        # The term-frequency joins: tf_<column> from the snapshot's table, per side.
        for view, column in (("tf_first", "first_name"), ("tf_last", "last_key")):
            if f'{view}."tf_{column}"' not in predict_sql or f"tf_{column}" not in tf:
                raise Unsupported("term-frequency joins of another shape")
        # The steps after it: each a projection of the one before.
        order = [c.alias for c in tree.find_all(exp.CTE)]
        start = order.index("blocked_with_cols")
        columns = {name for _, _, name in self.sides} | {"match_key"}
        self.steps: list[tuple[list[tuple[str, Fn]], Fn | None]] = []
        compiler = Compiler(con, columns)
        compiler.literal_doubles(tree)
        names = [*order[start + 1 :], ""]
        sources = ["blocked_with_cols", *order[start + 1 :]]
        for name, previous in zip(names, sources, strict=True):
            select = ctes[name] if name else tree
            if not isinstance(select, exp.Select):
                raise Unsupported("a scoring step that is not a SELECT")
            source = select.args.get("from_") or select.args.get("from")
            if (source is None or select.args.get("joins") or select.args.get("group")
                    or select.args.get("having") or source.this.name != previous):  # fmt: skip
                raise Unsupported("a scoring step that is not a projection of the last")
            where = select.args.get("where")
            compiler.repeated_in([*select.expressions, *([where.this] if where else [])])
            compiled: list[tuple[str, Fn]] = []
            carried: list[str] = []  # columns passed through unchanged
            for e in select.expressions:
                if isinstance(e, exp.Alias):
                    target = e.this
                    if (
                        isinstance(target, exp.Column)
                        and not target.table
                        and (target.name == e.alias)
                    ):
                        carried.append(e.alias)
                    else:
                        compiled.append((e.alias, compiler.compile(target)))
                elif isinstance(e, exp.Column) and not e.table:
                    compiler.compile(e)  # a known column
                    carried.append(e.name)
                else:
                    raise Unsupported("a scoring column of another kind")
            # Evaluated into the row itself, unless a new column would replace one the
            # step reads (never in Splink's steps; refused rather than mis-evaluated).
            if {n for n, _ in compiled} & compiler.columns:
                raise Unsupported("a scoring step that redefines a column")
            self.steps.append((compiled, compiler.compile(where.this) if where else None))
            compiler.columns = {n for n, _ in compiled} | set(carried)
            outputs = [n for n, _ in compiled] + carried
        order_out = [e.alias_or_name for e in tree.expressions]
        self.outputs = [n for n in order_out if n in outputs]
        # Where each blocked_with_cols column comes from: (0 left / 1 right, column).
        # (Looking columns up lazily, only when read, measured no faster.)
        self._where = {name: (0 if side == "l" else 1, col) for side, col, name in self.sides}
        for needed in ("unique_id_l", "unique_id_r", "match_weight", "match_probability"):
            if needed not in self.outputs:
                raise Unsupported("the scoring statement lacks an output column")

    def _with_tf(self, record: Row, source: str) -> Row:
        row = dict(record)
        row["source_dataset"] = source
        for column in ("first_name", "last_key"):
            value = record.get(column)
            row[f"tf_{column}"] = None if value is None else self.tf[f"tf_{column}"].get(value)
        return row

    def _label(self, left: Row, right: Row) -> str | None:
        """The first blocking rule whose equalities all hold (a null equals nothing)."""
        for i, (lcols, rcols) in enumerate(self.rules):
            ok = True
            for a, b in zip(lcols, rcols, strict=True):
                x, y = left.get(a), right.get(b)
                if x is None or y is None:
                    ok = False
                    break
                _check_comparable(x, y)
                if x != y:
                    ok = False
                    break
            if ok:
                return str(i)
        return None

    def score(self, requests: list[Row], candidates: list[Row]) -> list[Row]:
        """Splink's output rows (``unique_id_l``, ``unique_id_r``, ``match_weight``,
        ``match_probability``, ...) for every blocked pair that passes its threshold."""
        lefts = [self._with_tf(r, "requests") for r in requests]
        rights = [self._with_tf(c, "master") for c in candidates]
        out: list[Row] = []
        for left in lefts:
            for right in rights:
                label = self._label(left, right)
                if label is None:
                    continue
                sides = (left, right)
                row: Row = {name: sides[side][col] for name, (side, col) in self._where.items()}
                row["match_key"] = label
                keep = True
                for compiled, where in self.steps:
                    if where is not None and where(row) is not True:
                        keep = False
                        break
                    for name, fn in compiled:
                        row[name] = fn(row)
                if keep:
                    out.append({name: row[name] for name in self.outputs})
        return out


__all__ = ["Compiler", "SplinkScorer", "Unsupported", "clear_memos"]
