"""Options and helpers shared by every command."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from goodwill.store import DEFAULT_STORE, Store, open_store

StoreOption = Annotated[
    str,
    typer.Option(
        "--store",
        "-s",
        envvar="GOODWILL_STORE",
        help=(
            "Where facts live: a DuckDB file (PATH, duckdb://PATH or :memory:); PostgreSQL "
            "(postgresql://HOST:PORT/DB[?schema=NAME]); or Spark (spark://local[N]?warehouse=PATH, "
            "spark://HOST:7077?warehouse=PATH or spark:PATH; Spark settings as ?spark.NAME=VALUE)."
        ),
        show_default=True,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def default_store() -> str:
    return os.environ.get("GOODWILL_STORE", DEFAULT_STORE)


def open_cli_store(url: str | None = None, *, read_only: bool = False) -> Store:
    """Open the store a command works on (read-only commands still migrate on first open)."""
    return open_store(url or default_store(), read_only=read_only)
