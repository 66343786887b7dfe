"""Where facts live: one interface over DuckDB (embedded default) and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from goodwill.errors import ConfigError
from goodwill.store.base import Store, conform

DEFAULT_STORE = ".goodwill/goodwill.duckdb"

__all__ = ["DEFAULT_STORE", "Store", "conform", "open_store"]


def open_store(url: str | Path | None = None, *, read_only: bool = False, create: bool = True) -> Store:
    """Open (and, unless ``create`` is false, initialise) a store.

    ``url`` is a DuckDB file path, ``duckdb:///path``, ``:memory:``, or
    ``postgresql://host:port/db[?schema=name]``, or a Spark URL (``spark://local[2]?warehouse=PATH``,
    ``spark://HOST:7077?warehouse=PATH``, ``spark:PATH``; see :mod:`goodwill.store.spark`).
    """
    target = str(url) if url is not None else DEFAULT_STORE
    store: Store
    if target.startswith(("postgresql://", "postgres://")):
        from goodwill.store.pg import PostgresStore

        store = PostgresStore(target)
    elif target.startswith("spark:"):
        from goodwill.store.spark import SparkStore

        store = SparkStore(target)
    elif target.startswith("duckdb://"):
        from goodwill.store.duck import DuckDBStore

        store = DuckDBStore(target.removeprefix("duckdb://") or ":memory:", read_only=read_only)
    elif "://" in target:
        raise ConfigError(
            f"goodwill cannot open a store at {target!r}.",
            hint="Use a DuckDB file path (e.g. .goodwill/goodwill.duckdb), postgresql://HOST:PORT/DB or spark://local[2]?warehouse=PATH.",
        )
    else:
        from goodwill.store.duck import DuckDBStore

        if create and target != ":memory:" and not read_only:
            Path(target).expanduser().parent.mkdir(parents=True, exist_ok=True)
        store = DuckDBStore(target, read_only=read_only)
    if not read_only:
        try:
            store.ensure_schema()
        except BaseException:
            store.close()
            raise
    else:
        from goodwill.store.migrations import check_and_migrate  # noqa: F401 - validates below

        raw = store.get_meta("schema_version")
        from goodwill.model import SCHEMA_VERSION

        if raw is None or int(raw) != SCHEMA_VERSION:
            store.close()
            from goodwill.errors import SchemaVersionError

            raise SchemaVersionError(
                f"{target} is not a goodwill store of schema version {SCHEMA_VERSION} (found {raw}).",
                hint="Open it once without --read-only so goodwill can migrate it, or run `goodwill init`.",
            )
    return store
