"""goodwill's SQL, compiled for Spark.

The measures are written once, in the subset of SQL that DuckDB and PostgreSQL both accept,
with ``?`` placeholders. This module parses that text with sqlglot (reading it as DuckDB,
whose grammar covers the subset) and writes Spark SQL. sqlglot translates most of it by
itself; the rewrites below are the places where the same words mean different things:

- ``date - date`` is a number of days in DuckDB and PostgreSQL, an interval in Spark:
  it becomes ``datediff``, found by sqlglot's type annotation against goodwill's schema.
- ``extract(epoch FROM (a - b))`` has no Spark form: it becomes a difference of
  ``unix_micros``.
- ``timezone(zone, t)`` turns an instant into local wall time, or wall time into an instant,
  depending on ``t``'s type: ``from_utc_timestamp`` or ``to_utc_timestamp``.
- ``percentile_cont`` is exact in both engines; sqlglot writes Spark's approximate
  ``percentile_approx`` for it, so it becomes the exact ``percentile``.
- ``CAST(text AS JSON)`` has no Spark type: JSON stays text, read by ``get_json_object``.
- Placeholders are bound as typed literals, so every engine sees the same types.

Statements that change data (INSERT, DELETE, UPDATE) are taken apart here and carried out
by :class:`goodwill.store.spark.SparkStore`, since plain Parquet tables support none of them.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.optimizer.qualify import qualify
from sqlglot.tokens import TokenType

from goodwill.errors import StoreError
from goodwill.model import TABLES, Table

__all__ = ["Compiled", "compile_statement", "schema_of", "to_spark"]

READ = "duckdb"
WRITE = "spark"

# goodwill's column types as sqlglot reads them (JSON is kept as text on every engine).
SQL_TYPES = {
    "text": "VARCHAR",
    "int": "BIGINT",
    "float": "DOUBLE",
    "bool": "BOOLEAN",
    "timestamp": "TIMESTAMPTZ",
    "date": "DATE",
    "json": "VARCHAR",
}
_DATE = exp.DataType.Type.DATE
_TOKENIZER = sqlglot.Dialect.get_or_raise(READ).tokenizer_class()
_NAIVE = {exp.DataType.Type.TIMESTAMP, exp.DataType.Type.TIMESTAMPNTZ, exp.DataType.Type.DATETIME}


def schema_of(tables: Mapping[str, Table] | None = None) -> dict[str, dict[str, str]]:
    """goodwill's tables as sqlglot's schema (name -> column -> type), for type annotation."""
    out = {t.name: {c.name: SQL_TYPES[c.type] for c in t.columns} for t in (tables or TABLES).values()}
    out["goodwill_meta"] = {"key": "VARCHAR", "value": "VARCHAR"}
    return out


@dataclass(frozen=True)
class Compiled:
    """One statement, ready for Spark.

    ``kind`` is ``query``, ``insert``, ``delete``, ``update`` or ``create``; ``sql`` is the Spark
    SELECT that gives the query's rows, the rows to insert, the rows to delete (``delete``) or
    the table's rows after the update (``update``); ``count_sql`` counts the rows changed.
    """

    kind: str
    sql: str
    table: str | None = None
    columns: tuple[str, ...] = ()
    count_sql: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _literal(value: Any) -> exp.Expression:
    # Typed literals: what a DuckDB or PostgreSQL driver binds for the same Python value.
    if value is None:
        return exp.Null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, int):
        return exp.Literal.number(value)
    if isinstance(value, float):
        return exp.cast(exp.Literal.string(repr(value)), exp.DataType.build("DOUBLE"))
    if isinstance(value, decimal.Decimal):
        return exp.Literal.number(str(value))
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            return exp.cast(exp.Literal.string(value.isoformat(sep=" ")), exp.DataType.build("TIMESTAMP"))
        text = value.astimezone(dt.UTC).isoformat(sep=" ")
        return exp.cast(exp.Literal.string(text), exp.DataType.build("TIMESTAMPTZ"))
    if isinstance(value, dt.date):
        return exp.cast(exp.Literal.string(value.isoformat()), exp.DataType.build("DATE"))
    if isinstance(value, str):
        return exp.Literal.string(value)
    raise StoreError(
        f"Cannot pass a {type(value).__name__} to Spark SQL.",
        hint="Pass None, bool, int, float, Decimal, str, date or datetime.",
    )


def _numbered(sql: str) -> tuple[str, int]:
    """Number the ``?`` marks as ``$1, $2, ...`` in the order they are written (the tokenizer
    knows what is a mark and what sits inside a string or a comment)."""
    marks = [t.start for t in _TOKENIZER.tokenize(sql) if t.token_type == TokenType.PLACEHOLDER and t.text == "?"]
    out, last = [], 0
    for n, at in enumerate(marks, 1):
        out.append(sql[last:at])
        out.append(f"${n}")
        last = at + 1
    out.append(sql[last:])
    return "".join(out), len(marks)


def bind(sql: str, params: Sequence[Any] | None) -> exp.Expression:
    """Parse ``sql`` with each ``?`` replaced by its parameter, as a typed literal."""
    values = list(params or [])
    text, n = _numbered(sql)
    if n != len(values):
        raise StoreError(
            f"The statement has {n} placeholder(s) but {len(values)} parameter(s) were given.",
            hint="Pass one parameter per '?'.",
        )
    tree = parse(text)
    for mark in list(tree.find_all(exp.Placeholder)):
        if str(mark.name).isdigit():
            mark.replace(_literal(values[int(mark.name) - 1]))
    return tree


def _type(node: exp.Expression) -> Any:
    t = node.type
    return t.this if isinstance(t, exp.DataType) else None


def _is_date(node: exp.Expression) -> bool:
    if isinstance(node, exp.Paren):
        return _is_date(node.this)
    if isinstance(node, exp.Cast):
        return node.to.this == _DATE
    return _type(node) == _DATE


def _unix_micros(node: exp.Expression) -> exp.Expression:
    return exp.Anonymous(this="unix_micros", expressions=[exp.cast(node, exp.DataType.build("TIMESTAMP"))])


def _rewrite(node: Any) -> Any:
    if isinstance(node, exp.Cast) and node.to.this == exp.DataType.Type.JSON:
        return node.this
    if isinstance(node, exp.Avg) and not isinstance(node.this, exp.Distinct):
        # DuckDB averages decimals (a literal 1.0 is one) as DOUBLE; Spark keeps a decimal of
        # four more digits, which rounds the result.
        return exp.Avg(this=exp.cast(node.this, exp.DataType.build("DOUBLE")))
    if isinstance(node, exp.Extract) and node.this.name.upper() == "EPOCH":
        inner = node.expression.unnest()
        diff: exp.Expression
        if isinstance(inner, exp.Sub):
            diff = exp.Sub(this=_unix_micros(inner.this), expression=_unix_micros(inner.expression))
        else:
            diff = _unix_micros(inner)
        return exp.Div(
            this=exp.cast(exp.Paren(this=diff), exp.DataType.build("DOUBLE")),
            expression=exp.Literal.number(1_000_000),
        )
    if isinstance(node, exp.Sub) and _is_date(node.this) and _is_date(node.expression):
        return exp.Anonymous(this="datediff", expressions=[node.this, node.expression])
    if isinstance(node, exp.Anonymous) and node.name.lower() == "timezone" and len(node.expressions) == 2:
        zone, value = node.expressions
        naive = _type(value) in _NAIVE or (
            isinstance(value, exp.Cast) and value.to.this in _NAIVE
        )
        fn = "to_utc_timestamp" if naive else "from_utc_timestamp"
        return exp.Anonymous(this=fn, expressions=[value, zone])
    if isinstance(node, exp.Anonymous) and node.name.lower() == "to_json" and len(node.expressions) == 1:
        # Spark writes times to the millisecond and leaves out null fields unless told; the
        # other engines keep microseconds and write nulls.
        options = exp.Anonymous(
            this="map",
            expressions=[
                exp.Literal.string("timestampFormat"),
                exp.Literal.string("yyyy-MM-dd HH:mm:ss.SSSSSSXXX"),
                exp.Literal.string("ignoreNullFields"),
                exp.Literal.string("false"),
            ],
        )
        return exp.Anonymous(this="to_json", expressions=[node.expressions[0], options])
    if isinstance(node, exp.WithinGroup) and isinstance(node.this, exp.PercentileCont):
        order = node.expression
        col = order.expressions[0].this if isinstance(order, exp.Order) else order
        return exp.Anonymous(this="percentile", expressions=[col, node.this.this])
    if isinstance(node, exp.PercentileCont) and node.expression is not None:
        return exp.Anonymous(this="percentile", expressions=[node.this, node.expression])
    return node


def _lookup_shape(sub: exp.Subquery) -> tuple[exp.Table, exp.Expression, exp.Column, exp.Expression] | None:
    """(table, value, key, outer) for ``(SELECT t.value FROM table t WHERE t.key = outer)``."""
    inner = sub.this
    if not isinstance(inner, exp.Select) or isinstance(sub.parent, exp.From | exp.Join | exp.In):
        return None
    src = inner.args.get("from_") or inner.args.get("from")
    where = inner.args.get("where")
    if (
        len(inner.expressions) != 1
        or src is None
        or not isinstance(src.this, exp.Table)
        or inner.args.get("joins")
        or inner.args.get("group")
        or where is None
        or not isinstance(where.this, exp.EQ)
    ):
        return None
    table = src.this
    alias = table.alias_or_name
    value = inner.expressions[0].unalias()
    if value.find(exp.AggFunc) or any(c.table != alias for c in value.find_all(exp.Column)):
        return None
    for key, outer in ((where.this.this, where.this.expression), (where.this.expression, where.this.this)):
        if (
            isinstance(key, exp.Column)
            and key.table == alias
            and outer.find(exp.Column) is not None
            and all(c.table and c.table != alias for c in outer.find_all(exp.Column))
        ):
            return table, value, key, outer
    return None


def _decorrelate(tree: exp.Expression) -> exp.Expression:
    """Turn correlated lookups ``(SELECT t.v FROM t WHERE t.k = outer.x)`` into LEFT JOINs.

    Spark plans such a subquery itself, but fails inside a window's PARTITION BY (silence
    ranks failures per person that way): a join works everywhere. The joined side is grouped
    by its key, so it adds no rows; where several rows match, DuckDB and PostgreSQL would
    refuse the subquery, and here the largest value is taken."""
    made: dict[tuple[int, str], str] = {}
    for sub in list(tree.find_all(exp.Subquery)):
        shape = _lookup_shape(sub)
        owner = sub.parent.find_ancestor(exp.Select) if sub.parent is not None else None
        if shape is None or owner is None:
            continue
        table, value, key, outer = shape
        sig = (id(owner), sub.sql())
        name = made.get(sig)
        if name is None:
            name = f"_gw_lookup{len(made)}"
            made[sig] = name
            side = (
                exp.select(
                    exp.alias_(key.copy(), "k"),
                    exp.alias_(exp.Max(this=value.copy()), "v"),
                )
                .from_(table.copy())
                .where(exp.not_(exp.Is(this=key.copy(), expression=exp.Null())))
                .group_by(key.copy())
                .subquery(name)
            )
            owner.join(side, on=exp.EQ(this=exp.column("k", table=name), expression=outer.copy()), join_type="left", copy=False)
        sub.replace(exp.column("v", table=name))
    return tree


def _annotated(tree: exp.Expression, schema: Mapping[str, Mapping[str, str]]) -> exp.Expression:
    """Qualify and type the tree against the schema; unknown tables leave it untyped."""
    try:
        q = qualify(
            tree.copy(),
            schema=dict(schema),
            dialect=READ,
            validate_qualify_columns=False,
            quote_identifiers=False,
            identify=False,
        )
        return annotate_types(q, schema=dict(schema), dialect=READ)
    except Exception:  # sqlglot's optimizer raises more than SqlglotError on odd trees
        return annotate_types(tree, dialect=READ)


def to_spark(tree: exp.Expression, schema: Mapping[str, Mapping[str, str]]) -> str:
    """A SELECT (or any query) tree, already bound, as Spark SQL."""
    typed = _decorrelate(_annotated(tree, schema))
    # Children first, so a rewrite sees its arguments already rewritten (timezone() nests).
    for node in reversed(list(typed.walk(bfs=False))):
        new = _rewrite(node)
        if new is not node:
            if node is typed:
                typed = new
            else:
                node.replace(new)
    return str(typed.sql(dialect=WRITE))


def parse(sql: str) -> exp.Expression:
    try:
        tree = cast(exp.Expression, sqlglot.parse_one(sql, read=READ))
    except SqlglotError as exc:
        raise StoreError(
            f"goodwill could not read this SQL for Spark: {str(exc).splitlines()[0]}",
            hint="Write SQL that DuckDB and PostgreSQL both accept, with ? placeholders.",
        ) from exc
    if tree is None:
        raise StoreError("Empty SQL statement.", hint="Pass a statement to run.")
    return tree


def _table_name(node: exp.Expression) -> str:
    table = node.find(exp.Table) if not isinstance(node, exp.Table) else node
    if table is None:
        raise StoreError("The statement names no table.", hint="Name the table it changes.")
    return table.name


def compile_statement(
    sql: str, params: Sequence[Any] | None = None, schema: Mapping[str, Mapping[str, str]] | None = None
) -> Compiled:
    """Parse goodwill SQL, bind its parameters and compile it for Spark."""
    sch = schema if schema is not None else schema_of()
    tree = bind(sql, params)
    if isinstance(tree, exp.Insert):
        target = tree.this
        if isinstance(target, exp.Schema):
            name = _table_name(target.this)
            cols = tuple(c.name for c in target.expressions)
        else:
            name = _table_name(target)
            cols = tuple(sch.get(name, {}))
        source = tree.expression
        if isinstance(source, exp.Values):
            source = source.copy()
            source.set("alias", exp.TableAlias(this=exp.to_identifier("v")))
            source = exp.select(exp.Star()).from_(source)
        return Compiled("insert", to_spark(source, sch), name, cols)
    if isinstance(tree, exp.Delete):
        name = _table_name(tree.this)
        where = tree.args.get("where")
        cond = where.this if where is not None else exp.true()
        keep = exp.select(exp.Star()).from_(name).where(exp.not_(exp.func("coalesce", exp.paren(cond), exp.false())))
        count = exp.select(exp.func("count", exp.Star())).from_(name).where(cond.copy())
        return Compiled(
            "delete", to_spark(keep, sch), name, count_sql=to_spark(count, sch), extra={"everything": where is None}
        )
    if isinstance(tree, exp.Update):
        name = _table_name(tree.this)
        where = tree.args.get("where")
        cond = where.this if where is not None else exp.true()
        sets = {e.this.name: e.expression for e in tree.expressions}
        names = list(sch.get(name, {}))
        unknown = [c for c in sets if c not in names]
        if unknown:
            raise StoreError(
                f"Table {name} has no column(s) {', '.join(unknown)}.",
                hint=f"Its columns are: {', '.join(names)}.",
            )
        hit = exp.func("coalesce", exp.paren(cond), exp.false())
        outs = [
            exp.alias_(exp.If(this=hit.copy(), true=sets[c].copy(), false=exp.column(c)), c)
            if c in sets
            else exp.column(c)
            for c in names
        ]
        after = exp.select(*outs).from_(name)
        count = exp.select(exp.func("count", exp.Star())).from_(name).where(cond.copy())
        return Compiled("update", to_spark(after, sch), name, tuple(names), count_sql=to_spark(count, sch))
    if isinstance(tree, exp.Create):
        return Compiled("create", "", _table_name(tree.this))
    if isinstance(tree, exp.Alter):
        added = [a for a in tree.args.get("actions") or [] if isinstance(a, exp.ColumnDef)]
        if added and len(added) == len(tree.args.get("actions") or []):
            return Compiled("add_columns", "", _table_name(tree.this), tuple(a.name for a in added))
    if isinstance(tree, exp.Query):
        return Compiled("query", to_spark(tree, sch))
    raise StoreError(
        f"A Spark store cannot run {type(tree).__name__.upper()} statements.",
        hint="It runs queries, INSERT ... SELECT, DELETE and UPDATE.",
    )
