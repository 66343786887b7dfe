"""Rectification: correct one fact about a person and keep what was corrected, when and why."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import pyarrow as pa

from goodwill.errors import ConfigError, NotFoundError
from goodwill.model import get_table
from goodwill.rights import audit
from goodwill.rights._tables import RECTIFICATIONS, ensure_rights_tables
from goodwill.rights.person import resolve_person
from goodwill.store import Store
from goodwill.store.ddl import DUCKDB_TYPES, POSTGRES_TYPES

__all__ = ["rectification_history", "rectify"]


def rectify(
    store: Store,
    customer_id: str,
    table: str,
    row_key: dict[str, Any],
    column: str,
    new_value: Any,
    *,
    reason: str,
    request_id: str | None = None,
    actor: str = "goodwill",
) -> dict[str, Any]:
    """Set ``table.column`` of the row with primary key ``row_key`` to ``new_value``.

    The row must belong to the person ``customer_id`` belongs to. Keys and the customer
    column cannot be rectified (they are what the row *is*; correct a wrong link instead).
    Returns the rectification record.
    """
    ensure_rights_tables(store)
    t = get_table(table)
    if t.customer_column is None:
        raise ConfigError(f"Table {table!r} holds no customer's facts.", hint="Rectify a table with a customer column, e.g. customers or identifiers.")
    if not t.has_column(column):
        raise ConfigError(f"Table {table!r} has no column {column!r}.", hint=f"Its columns are: {', '.join(t.column_names)}.")
    if column in t.primary_key or column == t.customer_column:
        raise ConfigError(f"{table}.{column} identifies the row and cannot be rectified.", hint="Correct another column, or erase and re-record the fact.")
    if set(row_key) != set(t.primary_key):
        raise ConfigError(f"Name the row by its key: {', '.join(t.primary_key)}.", hint="e.g. --key customer_id=C1")
    if not reason.strip():
        raise ConfigError("A rectification needs its reason.", hint="e.g. --reason 'customer sent proof of new address'.")
    person = resolve_person(store, customer_id)
    where = " AND ".join(f"{k} = ?" for k in t.primary_key)
    key_params = [row_key[k] for k in t.primary_key]
    found = store.rows(f"SELECT {column} AS old, {t.customer_column} AS owner FROM {table} WHERE {where}", key_params)
    if not found or found[0]["owner"] not in person.customer_ids:
        raise NotFoundError(
            f"No {table} row {json.dumps(row_key)} belongs to customer {customer_id}.",
            hint="Find the row in the person's export (goodwill rights export).",
        )
    old = found[0]["old"]
    sql_type = (DUCKDB_TYPES if store.engine == "duckdb" else POSTGRES_TYPES)[t.column(column).type]
    now = dt.datetime.now(dt.UTC)
    record = {
        "rectification_id": "rc_" + uuid.uuid4().hex[:16],
        "customer_id": found[0]["owner"],
        "table_name": table,
        "row_key": json.dumps(row_key, default=str, sort_keys=True),
        "column_name": column,
        "old_value": None if old is None else str(old),
        "new_value": None if new_value is None else str(new_value),
        "reason": reason,
        "request_id": request_id,
        "corrected_by": actor,
        "corrected_at": now,
    }
    with store.transaction():
        store.execute(f"UPDATE {table} SET {column} = CAST(? AS {sql_type}) WHERE {where}", [record["new_value"], *key_params])
        store.append(RECTIFICATIONS, pa.Table.from_pylist([record]))
        audit.record(store, audit.FactRectified(request_id=request_id, actor=actor, table_name=table, column_name=column, rectification_id=record["rectification_id"]))
    return record


def rectification_history(store: Store, customer_id: str) -> list[dict[str, Any]]:
    """Every correction of the person's facts, oldest first."""
    ensure_rights_tables(store)
    person = resolve_person(store, customer_id)
    marks = ", ".join("?" for _ in person.customer_ids)
    return store.rows(
        f"SELECT * FROM {RECTIFICATIONS.name} WHERE customer_id IN ({marks}) ORDER BY corrected_at, rectification_id",
        list(person.customer_ids),
    )
