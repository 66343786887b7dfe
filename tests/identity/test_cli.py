"""`goodwill identity`: resolve, review, accept, show, merge and unmerge from the command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from goodwill.cli.app import app
from goodwill.store import open_store

from .helpers import load


def test_identity_commands(tmp_path: Path) -> None:
    db = str(tmp_path / "s.duckdb")
    with open_store(db) as s:
        load(
            s,
            [
                ("bill-1", "account", "ACC-1", True),
                ("bill-1", "email", "ann@example.com", True),
                ("svc-1", "email", "ANN@example.com", True),
                ("mkt-1", "phone", "07700 900123", False),
                ("fld-1", "phone", "+447700900123", False),
                ("bill-2", "account", "ACC-2", True),
            ],
        )
    run = CliRunner()
    r = run.invoke(app, ["identity", "resolve", "--store", db, "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["merges"] == 1
    r = run.invoke(app, ["identity", "review", "--store", db, "--json"])
    [cand] = json.loads(r.output)
    assert {cand["customer_a"], cand["customer_b"]} == {"fld-1", "mkt-1"}
    r = run.invoke(app, ["identity", "review", "--store", db])
    assert "same_phone" in r.output and "+447700900123" in r.output and "why not automatic" in r.output
    r = run.invoke(app, ["identity", "accept", cand["candidate_id"], "--by", "rev", "--store", db, "--json"])
    assert r.exit_code == 0, r.output
    r = run.invoke(app, ["identity", "show", "svc-1", "--store", db])
    assert "person bill-1" in r.output and "same_verified_email with bill-1" in r.output
    r = run.invoke(app, ["identity", "show", "svc-1", "--store", db, "--json"])
    assert [x["customer_id"] for x in json.loads(r.output)["records"]] == ["bill-1", "svc-1"]
    r = run.invoke(app, ["identity", "unmerge", "svc-1", "--by", "rev", "--store", db, "--json"])
    assert json.loads(r.output)["former_members"] == ["bill-1", "svc-1"]
    with open_store(db) as s:
        assert s.scalar("SELECT count(*) FROM customer_links WHERE customer_id IN ('bill-1', 'svc-1')") == 0


def test_refused_merge_is_one_line_with_a_hint(tmp_path: Path) -> None:
    db = str(tmp_path / "s.duckdb")
    with open_store(db) as s:
        load(s, [("b1", "account", "A-1", True), ("b2", "account", "A-2", True)])
    p = subprocess.run(
        [sys.executable, "-c", "from goodwill.cli.app import main; main()", "identity", "merge", "b1", "b2", "--store", db],
        capture_output=True,
        text=True,
        check=False,
    )
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "Refusing to merge" in lines[0] and "strong_kinds" in lines[0], p.stderr
