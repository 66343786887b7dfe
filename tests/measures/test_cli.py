from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from goodwill.ingest import ingest_file
from goodwill.store import open_store

from .helpers import CORE_DATA, PROMISE_DATA


def gw(*args: str, store: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GOODWILL_STORE": str(store), "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "goodwill", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def test_cli_ledger_silent_fair_value_runaround_report(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    with open_store(db) as s:
        ingest_file(s, CORE_DATA / "cfpb-150.csv.gz", "cfpb")
        ingest_file(s, CORE_DATA / "telco-200.csv", "telco")
        ingest_file(s, PROMISE_DATA / "olist_sample.csv.gz", "olist")
    r = gw("goodwill", "--by", "customer", "--top", "1", "--json", store=db)
    assert r.returncode == 0, r.stderr
    top = json.loads(r.stdout)
    assert top["rules_version"] and top["missing"]
    cid = top["rows"][0]["grp"]
    r = gw("goodwill", cid, "--json", store=db)
    led = json.loads(r.stdout)
    assert led["balance"] == top["rows"][0]["balance"] and led["entries"][0]["fact_id"]
    r = gw("goodwill", cid, store=db)
    assert r.returncode == 0 and "Not counted" in r.stdout
    assert (
        json.loads(gw("silent", "--json", store=db).stdout)["rules_version"] == top["rules_version"]
    )
    fvj = json.loads(gw("fair-value", "--json", store=db).stdout)
    assert fvj["book"]["subscriptions"] > 0 and fvj["groups"][0]["grp"] == "0-6"
    assert json.loads(gw("runaround", "--json", store=db).stdout)["cases"]
    out = tmp_path / "r.html"
    r = gw("report", "-o", str(out), store=db)
    assert r.returncode == 0 and "4. Consumer support" in out.read_text()
    r = gw("goodwill", "nobody", store=db)
    assert (
        r.returncode == 2
        and r.stderr.strip().count("\n") == 0
        and "No customer 'nobody'" in r.stderr
    )
    r = gw("silent", "--as-of", "yesterday", store=db)
    assert r.returncode == 2 and "YYYY-MM-DD" in r.stderr
