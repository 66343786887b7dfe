from __future__ import annotations

import json
import zipfile
from pathlib import Path

from tests.rights.helpers import SECRET_ID, build
from typer.testing import CliRunner

from goodwill.cli.app import app
from goodwill.store import open_store

runner = CliRunner()


def _run(*args: str) -> dict:
    r = runner.invoke(app, list(args))
    assert r.exit_code == 0, r.output
    return json.loads(r.output)


def test_cli_request_to_erasure(tmp_path: Path) -> None:
    db = str(tmp_path / "s.duckdb")
    with open_store(db) as s:
        build(s)
    s_ = ["--store", db, "--json"]
    req = _run("rights", "request", "TW-99", "access", "--received", "2024-01-31T10:00:00+00:00", *s_)
    assert req["due_on"] == "2024-02-29" and req["status"] == "received"
    _run("rights", "verify", req["request_id"], "--method", "account login", *s_)
    done = _run("rights", "complete", req["request_id"], "--out", str(tmp_path), *s_)
    assert done["request"]["status"] == "completed"
    assert zipfile.ZipFile(done["result"]["path"]).read("summary.md").startswith(b"# What we hold about you")
    listed = _run("rights", "list", *s_)
    assert [r["status"] for r in listed] == ["completed"]
    c = _run("rights", "consent", SECRET_ID, "withdraw", "--purpose", "marketing", "--channel", "email", "--source", "phone", *s_)
    assert c["state"] == "withdrawn"
    assert _run("rights", "consent", "TW-99", "show", "--channel", "email", *s_)["state"] == "withdrawn"
    rec = _run("rights", "rectify", SECRET_ID, "--table", "customers", "--key", f"customer_id={SECRET_ID}",
               "--column", "display_name", "--value", "Z. Plinkett", "--reason", "asked", *s_)
    assert rec["old_value"] == "Zyx Plinkett"
    erased = _run("rights", "erase", "TW-99", "--yes", *s_)
    assert erased["rows"]["interactions"] == 20
    r = runner.invoke(app, ["rights", "export", "TW-99", "--store", db])
    assert r.exit_code != 0


def test_cli_errors_are_one_line(tmp_path: Path) -> None:
    db = str(tmp_path / "s.duckdb")
    with open_store(db) as s:
        build(s)
    r = runner.invoke(app, ["rights", "request", "TW-99", "delete-me", "--store", db])
    assert r.exit_code != 0
    assert isinstance(r.exception, Exception) and "is not a kind of rights request" in str(r.exception)
