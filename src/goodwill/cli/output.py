"""Shared output helpers: one error line, JSON when asked, Rich when a person reads."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import sys
from typing import Any

from rich.console import Console

from goodwill.errors import GoodwillError

console = Console()
err_console = Console(stderr=True)


def _default(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def dumps(data: Any) -> str:
    return json.dumps(data, default=_default, ensure_ascii=False, indent=2)


def emit_json(data: Any) -> None:
    sys.stdout.write(dumps(data) + "\n")


def print_error(exc: GoodwillError, *, as_json: bool = False) -> None:
    if as_json:
        sys.stdout.write(dumps(exc.to_dict()) + "\n")
        return
    line = f"Error: {exc.message}"
    if exc.hint:
        line += f" {exc.hint}"
    err_console.print(line, markup=False, highlight=False, soft_wrap=True)


def show_progress() -> bool:
    """Progress bars only when a person is watching; silent when piped."""
    return sys.stderr.isatty()
