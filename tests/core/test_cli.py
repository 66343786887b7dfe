from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parent.parent / "data" / "core"


def gw(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    e = {**os.environ, "COLUMNS": "200", **(env or {})}
    e.pop("GOODWILL_STORE", None)
    return subprocess.run(
        [sys.executable, "-m", "goodwill", *args], cwd=cwd, capture_output=True, text=True, timeout=300, env=e
    )


def test_ingest_status_timeline_round_trip(tmp_path: Path) -> None:
    r = gw("ingest", str(DATA / "cfpb-150.csv.gz"), "--mapping", "cfpb", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "read 150 rows" in r.stdout
    assert (tmp_path / ".goodwill" / "goodwill.duckdb").exists()

    again = gw("ingest", str(DATA / "cfpb-150.csv.gz"), "--mapping", "cfpb", "--json", cwd=tmp_path)
    report = json.loads(again.stdout)[0]
    assert report["previously_ingested"] is True
    assert sum(report["rows_written"].values()) == 0

    st = json.loads(gw("status", "--json", cwd=tmp_path).stdout)
    assert st["tables"]["cases"] == 150
    assert st["people"] == 150

    cid = st and json.loads(
        gw("timeline", "--json", "cfpb:" + _first_complaint_id(), cwd=tmp_path).stdout
    )
    kinds = {e["kind"] for e in cid["entries"]}
    assert {"case", "interaction"} <= kinds
    assert cid["entries"] == sorted(cid["entries"], key=lambda e: e["at"] or "9999")

    text = gw("timeline", "cfpb:" + _first_complaint_id(), cwd=tmp_path)
    assert text.returncode == 0
    assert "complaint opened" in text.stdout


def _first_complaint_id() -> str:
    import csv
    import gzip

    with gzip.open(DATA / "cfpb-150.csv.gz", "rt", encoding="utf-8", newline="") as fh:
        return next(csv.DictReader(fh))["Complaint ID"]


def test_errors_are_one_line_without_traceback(tmp_path: Path) -> None:
    cases = [
        (("ingest", "missing.csv", "--mapping", "cfpb"), "There is no file at missing.csv"),
        (("ingest", str(DATA / "telco-200.csv"), "--mapping", "nope"), "There is no built-in mapping named 'nope'"),
        (("ingest", str(DATA / "telco-200.csv"), "--mapping", "cfpb"), "that telco-200.csv does not have"),
        (("timeline", "nobody"), "No customer 'nobody' in this store."),
        (("status", "--store", "mysql://x/y"), "goodwill cannot open a store at 'mysql://x/y'."),
    ]
    for args, message in cases:
        r = gw(*args, cwd=tmp_path)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert "Traceback" not in r.stderr
        lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
        assert len(lines) == 1 and lines[0].startswith("Error: "), r.stderr
        assert message in lines[0], lines[0]


def test_locked_store_is_explained(tmp_path: Path) -> None:
    from goodwill.store import open_store

    s = open_store(tmp_path / ".goodwill" / "goodwill.duckdb")
    try:
        r = gw("status", cwd=tmp_path)
        assert r.returncode == 2
        assert "held by another process, and no goodwill server is running on it" in r.stderr
        assert "Traceback" not in r.stderr
    finally:
        s.close()


def test_strict_ingest_fails_on_quarantine(tmp_path: Path) -> None:
    src = tmp_path / "t.csv"
    src.write_text((DATA / "telco-200.csv").read_text().replace("29.85", "twenty"), encoding="utf-8")
    r = gw("ingest", str(src), "--mapping", "telco", "--strict", cwd=tmp_path)
    assert r.returncode == 1
    assert "1 row(s) quarantined" in r.stdout
    q = json.loads(gw("quarantine", "--json", cwd=tmp_path).stdout)
    assert q[0]["reason"] == "price: not a valid money (got 'twenty')"
    assert q[0]["line"] == 2


def test_every_command_has_help() -> None:
    import typer.main

    from goodwill.cli.app import app

    group = typer.main.get_command(app)
    for name, cmd in group.commands.items():  # type: ignore[attr-defined]
        assert cmd.help and len(cmd.help.strip()) > 10, f"command {name} has no help"


@pytest.mark.slow
def test_demo_runs_on_a_fresh_directory(tmp_path: Path) -> None:
    r = gw("demo", "--json", "--no-serve", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["counts"]["customers"] == 2146 + 7043
    assert out["example_timeline"]["entries"]
    # every capability ran on the demo data and answered
    for step in ("enrich", "reasons", "promises", "goodwill", "silent", "fair-value", "vet-campaign", "report", "optimize"):
        assert any(k.split()[0] == step for k in out["steps"]), (step, list(out["steps"]))
    assert out["counts"]["decisions"] > 0


def test_optimize_builds_the_person_documents_and_status_says_so(tmp_path: Path) -> None:
    assert gw("ingest", str(DATA / "telco-200.csv"), "--mapping", "telco", cwd=tmp_path).returncode == 0
    before = json.loads(gw("status", "--json", cwd=tmp_path).stdout)
    assert before["person_documents"] is False
    r = gw("optimize", "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["person_documents"] is True
    assert json.loads(gw("status", "--json", cwd=tmp_path).stdout)["person_documents"] is True
    tl = gw("timeline", "telco:7590-VHVEG", "--json", cwd=tmp_path)
    assert tl.returncode == 0 and "telco:7590-VHVEG" in tl.stdout


@pytest.mark.slow
def test_cli_goes_through_the_server_that_holds_the_store(tmp_path: Path) -> None:
    pytest.importorskip("fastapi")
    import socket
    import time

    assert gw("ingest", str(DATA / "telco-200.csv"), "--mapping", "telco", cwd=tmp_path).returncode == 0
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "COLUMNS": "200"}
    env.pop("GOODWILL_STORE", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "goodwill", "serve", "--port", str(port)],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )
    try:
        deadline = time.time() + 60
        while time.time() < deadline and not (tmp_path / ".goodwill" / "server.json").exists():
            time.sleep(0.3)
        st = gw("status", "--json", cwd=tmp_path)
        assert st.returncode == 0, st.stderr
        assert json.loads(st.stdout)["tables"]["subscriptions"] == 200
        tl = gw("timeline", "telco:7590-VHVEG", "--json", cwd=tmp_path)
        assert tl.returncode == 0, tl.stderr
        assert "telco:7590-VHVEG" in tl.stdout
    finally:
        server.terminate()
        server.wait(timeout=30)
