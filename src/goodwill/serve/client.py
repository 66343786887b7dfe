"""Send read commands to a running ``goodwill serve`` when it holds the store.

DuckDB lets one process open a file; while the server runs, ``goodwill status``,
``timeline`` and ``brief`` on the same store go through it instead, with the admin
token the server left beside the store (mode 0600).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

from goodwill.errors import ConfigError, GoodwillError, StoreLockedError
from goodwill.serve.server import server_file

__all__ = ["COMMANDS", "ServerError", "find_server", "forward"]

# command -> path template (read-only commands only; writes stay with the process that owns the store)
COMMANDS = {
    "status": "/status.json",
    "timeline": "/customers/{customer_id}/timeline.json",
    "brief": "/customers/{customer_id}/brief.json",
    "dashboard": "/dashboard.json",
    "feed": "/feeds/{team}.json",
}
# Commands that post a body to the server instead of reading.
POSTS = {"token": "/tokens"}


class ServerError(GoodwillError):
    """An error the server answered with, carried through unchanged."""

    def __init__(self, code: str, message: str, hint: str | None, status: int) -> None:
        super().__init__(message, hint=hint)
        self.code = code
        self.http_status = status


def find_server(store_url: str) -> dict[str, Any] | None:
    """The running server's announcement for this store, or None when none is running."""
    path = server_file(store_url)
    if path is None or not path.is_file():
        return None
    try:
        info = json.loads(path.read_text("utf-8"))
        os.kill(int(info["pid"]), 0)
    except (ValueError, KeyError, ProcessLookupError, json.JSONDecodeError):
        return None  # left behind by a server that died
    except PermissionError:
        pass  # alive, owned by someone else
    return info if isinstance(info, dict) else None


def forward(command: str, args: dict[str, Any], store_url: str, *, timeout: float = 10.0) -> dict[str, Any]:
    """Run a read command through the server that holds ``store_url``; its JSON answer."""
    import httpx

    if command not in COMMANDS and command not in POSTS:
        raise ConfigError(
            f"{command!r} cannot go through the server.", hint=f"These can: {', '.join([*COMMANDS, *POSTS])}."
        )
    info = find_server(store_url)
    if info is None:
        raise StoreLockedError(
            f"{store_url} is held by another process, and no goodwill server is running on it.",
            hint="Stop the other process, or run `goodwill serve` on it and try again.",
        )
    token = Path(info["admin_token_file"]).read_text("utf-8").strip()
    headers = {"Authorization": f"Bearer {token}"}
    try:
        if command in POSTS:
            r = httpx.post(info["url"] + POSTS[command], json=args, headers=headers, timeout=timeout)
        else:
            path = COMMANDS[command].format(**{k: quote(str(v), safe=":") for k, v in args.items()})
            r = httpx.get(info["url"] + path, headers=headers, timeout=timeout)
    except httpx.HTTPError as exc:
        raise StoreLockedError(
            f"The goodwill server at {info['url']} did not answer: {exc}.",
            hint="Check it is running (it holds the store), or stop it.",
        ) from exc
    body = r.json()
    if r.status_code >= 400:
        err = body.get("error", {})
        raise ServerError(err.get("code", "server_error"), err.get("message", r.text), err.get("hint"), r.status_code)
    return dict(body)
