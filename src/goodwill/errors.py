"""The error vocabulary shared by every package.

Every error a person may see is a :class:`GoodwillError`: one line that says what
went wrong and how to fix it. The CLI prints it without a traceback, and the API
turns it into the one error shape (``{"error": {"code", "message", "hint"}}``).
Backend errors (DuckDB, psycopg, pyarrow) are translated at the seam where they
arise, with ``raise ... from exc``, so nobody sees a foreign traceback.
"""

from __future__ import annotations

from typing import Any


class GoodwillError(Exception):
    """Base class: a message, a hint on how to fix it, and a stable code."""

    code = "goodwill_error"
    http_status = 400

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message} {self.hint}"
        return self.message

    def to_dict(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "hint": self.hint}}


class ConfigError(GoodwillError):
    code = "config_error"


class StoreError(GoodwillError):
    code = "store_error"
    http_status = 500


class StoreLockedError(StoreError):
    code = "store_locked"
    http_status = 503


class SchemaVersionError(StoreError):
    code = "schema_version"


class NotFoundError(GoodwillError):
    code = "not_found"
    http_status = 404


class MappingError(GoodwillError):
    code = "mapping_error"


class SourceError(GoodwillError):
    code = "source_error"


class MissingDependencyError(GoodwillError):
    code = "missing_dependency"
    http_status = 500

    def __init__(self, package: str, extra: str, purpose: str) -> None:
        super().__init__(
            f"{purpose} needs the Python package '{package}', which is not installed.",
            hint=f"Install it with: pip install 'goodwill[{extra}]'",
        )
