"""Where one person's data lives: a ``WHERE`` clause per table, found generically.

Every table of :data:`goodwill.model.TABLES` with a ``customer_column`` is in scope,
plus every table registered with :func:`goodwill.rights.register_personal_table`.
A table registered by name but absent from the store is skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from goodwill.model import TABLES
from goodwill.rights._tables import PERSONAL_TABLES
from goodwill.rights.person import Person
from goodwill.store import Store

__all__ = ["TableScope", "identifiers_of", "person_scope"]


@dataclass(frozen=True)
class TableScope:
    table: str
    where: str
    params: tuple[Any, ...]
    depth: int  # 0 for a direct match; n for a chain of n ``via`` hops

    def select(self) -> tuple[str, list[Any]]:
        return f"SELECT * FROM {self.table} WHERE {self.where}", list(self.params)


def _in(column: str, values: list[str]) -> tuple[str, list[Any]]:
    if not values:
        return "1 = 0", []
    return f"{column} IN ({', '.join('?' for _ in values)})", list(values)


def identifiers_of(store: Store, customer_ids: list[str]) -> list[tuple[str, str]]:
    """The person's stored (kind, normalised value) identifiers."""
    if not customer_ids or not store.table_exists("identifiers"):
        return []
    where, params = _in("customer_id", customer_ids)
    return sorted(
        {(str(r["kind"]), str(r["value"])) for r in store.rows(f"SELECT kind, value FROM identifiers WHERE {where}", params)}
    )


def _direct(store: Store, name: str, ids: list[str], mentions: list[str]) -> tuple[str, list[Any]] | None:
    parts: list[str] = []
    params: list[Any] = []
    table = TABLES.get(name)
    if table is not None and table.customer_column:
        w, p = _in(table.customer_column, ids)
        parts.append(w)
        params += p
    reg = PERSONAL_TABLES.get(name)
    if reg is not None:
        for col in reg.columns:
            w, p = _in(col, ids)
            parts.append(w)
            params += p
        for col in reg.contains:
            for m in mentions:
                # Quoted, so that customer "c1" does not match "c10" inside a JSON row.
                parts.append(f"strpos({col}, ?) > 0")
                params.append(f'"{m}"')
    if not parts:
        return None
    return "(" + " OR ".join(parts) + ")", params


def person_scope(store: Store, person: Person, identifiers: list[tuple[str, str]] | None = None) -> list[TableScope]:
    """One scope per table holding the person's data, children (``via``) before parents."""
    ids = list(person.customer_ids)
    idents = identifiers if identifiers is not None else identifiers_of(store, ids)
    mentions = sorted({*ids, *(v for _, v in idents)})
    names = {n for n, t in TABLES.items() if t.customer_column} | set(PERSONAL_TABLES)
    memo: dict[str, tuple[str, list[Any], int] | None] = {}

    def resolve(name: str, seen: frozenset[str]) -> tuple[str, list[Any], int] | None:
        if name in memo:
            return memo[name]
        if name in seen or not store.table_exists(name):
            return None
        parts: list[str] = []
        params: list[Any] = []
        depth = 0
        direct = _direct(store, name, ids, mentions)
        if direct is not None:
            parts.append(direct[0])
            params += direct[1]
        reg = PERSONAL_TABLES.get(name)
        if reg is not None and reg.via is not None:
            column, parent, parent_column = reg.via
            up = resolve(parent, seen | {name})
            if up is not None:
                parts.append(f"{column} IN (SELECT {parent_column} FROM {parent} WHERE {up[0]})")
                params += up[1]
                depth = up[2] + 1
        result = ("(" + " OR ".join(parts) + ")", params, depth) if parts else None
        memo[name] = result
        return result

    scopes = []
    for name in sorted(names):
        r = resolve(name, frozenset())
        if r is not None:
            scopes.append(TableScope(name, r[0], tuple(r[1]), r[2]))
    return sorted(scopes, key=lambda s: (-s.depth, s.table))
