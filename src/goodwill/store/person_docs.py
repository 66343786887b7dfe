"""One document per customer record: DuckDB's fast path for reading a whole person.

DuckDB has no point index worth its cost on appends (STACK.md), so a point read of one
table costs about a millisecond even on tables sorted by customer: the floor is the scan
set-up, not the data. A person read touches a dozen tables, so it cost 12-15 ms, and the
brief, the timeline and the guard all pay it. ``person_docs`` holds, per customer_id,
every row of every table that ``Store.person_facts`` reads (as the same JSON the live
query produces), and the customer ids of the record's person, so one read replaces a
dozen.

It is a cache with a strict rule, because a stale answer to "may we contact this person"
is worse than a slow one:

- it is built by ``DuckDBStore.optimize()`` and only describes the facts as they were then;
- an append to a fact table marks the appended customer ids in ``person_docs_dirty``, and
  a read that meets a dirty id takes the live path;
- any other write to a table the documents cover (a DELETE, an UPDATE, a rewrite, any
  change of ``customer_links`` or ``promise_status``) drops the documents, unless the
  writer names the customers it touches with ``Store.touching(ids)``;
- a big append drops them too rather than growing the dirty list without bound.

PostgreSQL has real indexes and needs none of this.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from goodwill.model import TABLES

DOCS = "person_docs"
DIRTY = "person_docs_dirty"
# Past this many dirty records the documents are dropped: a dirty list that large means a
# bulk load, after which optimize() (which rebuilds them) is due anyway.
MAX_DIRTY = 50_000
# Rows of fact tables per pass of the build: bounds its memory (see fill_sql).
ROWS_PER_PASS = 1_000_000

# A write statement and the table it names (the last part of a qualified name).
_WRITE = re.compile(
    r"\b(?:INSERT\s+(?:OR\s+\w+\s+)?INTO|DELETE\s+FROM|UPDATE|TRUNCATE(?:\s+TABLE)?|"
    r"DROP\s+TABLE(?:\s+IF\s+EXISTS)?|ALTER\s+TABLE(?:\s+IF\s+EXISTS)?|"
    r"CREATE\s+(?:OR\s+REPLACE\s+)?(?:TEMP\w*\s+)?TABLE(?:\s+IF\s+NOT\s+EXISTS)?|COPY)\s+([\w.\"]+)",
    re.IGNORECASE,
)


# Read live beside the document instead of held in it: the guard appends an action and its decision each time
# it vets an action, and a cached person that every vet made stale would be no cache at all.
LIVE_TABLES = ("actions", "decisions")


def covered_tables() -> list[str]:
    """Every table whose rows a person read returns from the document."""
    names = [t.name for t in TABLES.values() if t.customer_column is not None and t.name not in LIVE_TABLES]
    return [*names, "customer_links", "promise_status"]


def written_tables(sql: str) -> set[str]:
    """The tables a statement writes, as far as its text tells (over-reporting is safe)."""
    return {m.group(1).replace('"', "").split(".")[-1].lower() for m in _WRITE.finditer(sql)}


def _lit(v: str) -> str:
    return "'" + v.replace("'", "''") + "'"


def _in_range(col: str, lo: str | None, hi: str | None) -> str:
    conds = [f"{col} IS NOT NULL"]
    if lo is not None:
        conds.append(f"{col} >= {_lit(lo)}")
    if hi is not None:
        conds.append(f"{col} < {_lit(hi)}")
    return " AND ".join(conds)


def create_sql() -> list[str]:
    return [
        f"DROP TABLE IF EXISTS {DOCS}",
        f"DROP TABLE IF EXISTS {DIRTY}",
        f"CREATE TABLE {DOCS} (customer_id VARCHAR, members VARCHAR[], doc VARCHAR)",
        f"CREATE TABLE {DIRTY} (customer_id VARCHAR)",
    ]


INDEX_SQL = f"CREATE INDEX {DOCS}_customer ON {DOCS} (customer_id)"


def fill_sql(present: Iterable[str], lo: str | None, hi: str | None) -> str | None:
    """The statement that writes the documents of customer ids in ``[lo, hi)``.

    The build goes range by range because a list aggregate over ten million rows does not
    spill in DuckDB (it ran out of 19 GB); on tables sorted by customer each range reads
    only its own row groups. Each table's rows go in as one JSON list per customer, in the
    same per-row JSON as the live person query (the same expression, joined as text: 40%
    faster than a JSON list, measured), ordered by the table's sort key."""
    have = set(present)
    parts = []
    for t in TABLES.values():
        if t.customer_column is None or t.name not in have or t.name in LIVE_TABLES:
            continue
        # sort key, then primary key: a total order, so a document never depends on the plan
        order = ", ".join(f"x.{c}" for c in dict.fromkeys((*t.sort_key, *t.primary_key)))
        parts.append(
            f"SELECT x.{t.customer_column} AS customer_id, '{t.name}' AS t, "
            f"'[' || string_agg(CAST(to_json(x) AS VARCHAR), ',' ORDER BY {order}) || ']' AS j "
            f"FROM {t.name} x WHERE {_in_range('x.' + t.customer_column, lo, hi)} GROUP BY 1"
        )
    if "customer_links" in have:
        parts.append(
            "SELECT x.customer_id, 'customer_links' AS t, '[' || string_agg(CAST(to_json(x) AS VARCHAR), ',' ORDER BY x.person_id) || ']' AS j "
            f"FROM customer_links x WHERE {_in_range('x.customer_id', lo, hi)} GROUP BY 1"
        )
    if "promise_status" in have and "promises" in have:
        parts.append(
            "SELECT p.customer_id, 'promise_status' AS t, '[' || string_agg(CAST(to_json(x) AS VARCHAR), ',' ORDER BY x.promise_id) || ']' AS j "
            "FROM promise_status x JOIN promises p ON p.promise_id = x.promise_id "
            f"WHERE {_in_range('p.customer_id', lo, hi)} GROUP BY 1"
        )
    if not parts:
        return None
    members = (
        "SELECT l.customer_id, list(DISTINCT l2.customer_id ORDER BY l2.customer_id) AS members "
        "FROM customer_links l JOIN customer_links l2 ON l2.person_id = l.person_id "
        f"WHERE {_in_range('l.customer_id', lo, hi)} GROUP BY 1"
        if "customer_links" in have
        else "SELECT NULL::VARCHAR AS customer_id, NULL::VARCHAR[] AS members WHERE false"
    )
    # The parts are JSON text already: they are joined as text, not parsed again.
    return (
        f"INSERT INTO {DOCS} WITH parts AS ({' UNION ALL '.join(parts)}), "
        f"docs AS (SELECT customer_id, '{{' || string_agg('\"' || t || '\":' || j, ',' ORDER BY t) || '}}' AS doc "
        f"FROM parts GROUP BY customer_id), m AS ({members}) "
        "SELECT d.customer_id, COALESCE(m.members, [d.customer_id]), d.doc "
        "FROM docs d LEFT JOIN m ON m.customer_id = d.customer_id ORDER BY d.customer_id"
    )


def boundaries_sql(table: str, column: str, parts: int) -> str:
    """Customer ids that cut the biggest table into about ``parts`` equal ranges."""
    qs = ", ".join(str(i / parts) for i in range(1, parts))
    return f"SELECT DISTINCT unnest(quantile_disc({column}, [{qs}])) AS b FROM {table} ORDER BY b"
