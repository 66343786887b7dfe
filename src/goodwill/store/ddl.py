"""DDL for each engine, generated from the one schema."""

from __future__ import annotations

from goodwill.model import Table

DUCKDB_TYPES = {
    "text": "VARCHAR",
    "int": "BIGINT",
    "float": "DOUBLE",
    "bool": "BOOLEAN",
    "timestamp": "TIMESTAMPTZ",
    "date": "DATE",
    "json": "VARCHAR",
}

POSTGRES_TYPES = {
    "text": "TEXT",
    "int": "BIGINT",
    "float": "DOUBLE PRECISION",
    "bool": "BOOLEAN",
    "timestamp": "TIMESTAMPTZ",
    "date": "DATE",
    "json": "TEXT",
}

META_DDL = "CREATE TABLE IF NOT EXISTS goodwill_meta (key TEXT PRIMARY KEY, value TEXT)"


def create_table_sql(table: Table, engine: str, *, primary_key: bool) -> str:
    types = DUCKDB_TYPES if engine == "duckdb" else POSTGRES_TYPES
    cols = []
    for c in table.columns:
        null = "" if c.nullable else " NOT NULL"
        cols.append(f"{c.name} {types[c.type]}{null}")
    if primary_key:
        cols.append(f"PRIMARY KEY ({', '.join(table.primary_key)})")
    return f"CREATE TABLE IF NOT EXISTS {table.name} (\n  " + ",\n  ".join(cols) + "\n)"
