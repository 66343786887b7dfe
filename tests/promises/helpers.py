"""Build store rows in tests: every row gets every column, so no key is silently dropped."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa

from goodwill.model import get_table


def table(name: str, rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=get_table(name).arrow_schema())


def t(s: str) -> dt.datetime:
    return dt.datetime.fromisoformat(s)
