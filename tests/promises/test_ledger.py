"""The promise ledger on both engines: real Olist rows, built conversations, rules, trend, CLI."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tests.promises.helpers import t, table
from typer.testing import CliRunner

from goodwill.errors import ConfigError, NotFoundError
from goodwill.ingest import ingest_file
from goodwill.measure import promises as ledger
from goodwill.store import Store

DATA = Path(__file__).resolve().parent.parent / "data" / "promises"
AS_OF = dt.datetime(2026, 11, 24, tzinfo=dt.UTC)


def test_olist_sample_agrees_with_the_raw_rows(store: Store) -> None:
    ingest_file(store, DATA / "olist_sample.csv.gz", "olist")
    ledger.build_ledger(store, as_of=AS_OF, heard=False)
    got = {
        r["promise_id"].removeprefix("olist:delivery:"): (
            r["status"],
            r["late_days"],
            r["evidence_id"],
        )
        for r in store.rows("SELECT promise_id, status, late_days, evidence_id FROM promise_status")
    }
    raw = pd.read_csv(DATA / "olist_sample.csv.gz", index_col=0)
    est = pd.to_datetime(raw.order_estimated_delivery_date).dt.normalize()
    dlv = pd.to_datetime(raw.order_delivered_customer_date)
    days = (dlv.dt.normalize() - est).dt.days
    for oid, d, late in zip(raw["id"].astype(str), dlv, days, strict=True):
        status, late_days, ev = got[oid]
        if pd.isna(d):
            assert (status, ev) == ("broken", None)
        elif late <= 0:
            assert (status, ev) == ("kept", f"olist:delivered:{oid}")
        else:
            assert (status, late_days, ev) == ("kept_late", late, f"olist:delivered:{oid}")
    overall = ledger.gap(store, "all")[0]
    assert (overall["kept"], overall["kept_late"], overall["broken"]) == (24, 12, 4)
    assert overall["kept_rate_low"] < 24 / 40 < overall["kept_rate_high"]
    eff = ledger.outcome_effect(store, resamples=200)
    assert eff["n_kept"] == 24 and eff["low"] <= eff["difference"] <= eff["high"]


def _conversation(store: Store) -> None:
    store.append(
        "customers",
        table("customers", [{"customer_id": "c1"}, {"customer_id": "c2"}, {"customer_id": "c3"}]),
    )
    store.append(
        "interactions",
        table(
            "interactions",
            [
                # c1 is promised a refund three times over two weeks; it arrives late
                {
                    "interaction_id": "i1",
                    "customer_id": "c1",
                    "occurred_at": t("2017-11-01T10:00+00:00"),
                    "direction": "outbound",
                    "author": "AcmeHelp",
                    "team": "AcmeHelp",
                    "channel": "twitter",
                    "text": "We'll refund you within 2 days. ^AB",
                },
                {
                    "interaction_id": "i2",
                    "customer_id": "c1",
                    "occurred_at": t("2017-11-06T10:00+00:00"),
                    "direction": "outbound",
                    "author": "AcmeHelp",
                    "team": "AcmeHelp",
                    "channel": "twitter",
                    "text": "Sorry! We will refund you by Friday.",
                },
                {
                    "interaction_id": "i3",
                    "customer_id": "c1",
                    "occurred_at": t("2017-11-13T10:00+00:00"),
                    "direction": "outbound",
                    "author": "AcmeHelp",
                    "team": "AcmeHelp",
                    "channel": "twitter",
                    "text": "We'll refund you tomorrow.",
                },
                # c2: a call back promised and kept by the next message an hour later
                {
                    "interaction_id": "i4",
                    "customer_id": "c2",
                    "occurred_at": t("2017-11-01T10:00+00:00"),
                    "direction": "outbound",
                    "author": "AcmeHelp",
                    "team": "AcmeHelp",
                    "channel": "twitter",
                    "text": "A member of our team will follow up with you today.",
                },
                {
                    "interaction_id": "i5",
                    "customer_id": "c2",
                    "occurred_at": t("2017-11-01T11:00+00:00"),
                    "direction": "outbound",
                    "author": "AcmeHelp",
                    "team": "AcmeHelp",
                    "channel": "twitter",
                    "text": "Hi again, here is what we found.",
                },
                # c3: vague only, and a customer who says what they were told
                {
                    "interaction_id": "i6",
                    "customer_id": "c3",
                    "occurred_at": t("2017-11-01T10:00+00:00"),
                    "direction": "outbound",
                    "author": "AcmeHelp",
                    "team": "AcmeHelp",
                    "channel": "twitter",
                    "text": "We're looking into it.",
                },
                {
                    "interaction_id": "i7",
                    "customer_id": "c3",
                    "occurred_at": t("2017-11-02T10:00+00:00"),
                    "direction": "inbound",
                    "author": "customer",
                    "channel": "twitter",
                    "text": "I was told someone would call me back and nobody called.",
                },
                # c2 writes that a refund never came, though nobody promised one
                {
                    "interaction_id": "i8",
                    "customer_id": "c2",
                    "occurred_at": t("2017-11-02T10:00+00:00"),
                    "direction": "inbound",
                    "author": "customer",
                    "channel": "twitter",
                    "text": "You said I'd get a refund.",
                },
            ],
        ),
    )
    store.append(
        "events",
        table(
            "events",
            [
                {
                    "event_id": "r1",
                    "customer_id": "c1",
                    "kind": "refunded",
                    "occurred_at": t("2017-11-15T09:00+00:00"),
                }
            ],
        ),
    )


def test_repeated_promises_are_one_broken_promise(store: Store) -> None:
    _conversation(store)
    rep = ledger.build_ledger(store, as_of=AS_OF)
    assert rep.heard.promises == 4 and rep.heard.reassurances >= 1
    rows = {r["promise_id"]: r for r in store.rows("SELECT * FROM promise_status")}
    head = rows["heard:i1:0"]
    assert head["status"] == "broken" and head["repeats"] == 2
    assert head["evidence_id"] == "r1"  # the refund that finally came is still shown
    assert (
        rows["heard:i2:0"]["status"] == "repeat" and rows["heard:i2:0"]["chain_id"] == "heard:i1:0"
    )
    assert rows["heard:i3:0"]["status"] == "repeat"
    follow = rows["heard:i4:0"]
    assert (follow["status"], follow["evidence_id"]) == ("kept", "i5")
    team = ledger.gap(store, "team")
    assert [(g["group"], g["decided"], g["kept"], g["broken"], g["repeats"]) for g in team] == [
        ("AcmeHelp", 2, 1, 1, 2)
    ]
    owed = ledger.owed(store, "c1")
    assert [r["status"] for r in owed] == ["broken", "repeat", "repeat"]
    assert owed[0]["made_by"] == "AB"
    # a refund is billing's to keep, though the message came from the social account
    fn = store.rows("SELECT function FROM promises WHERE promise_id = 'heard:i1:0'")[0]["function"]
    assert fn == "billing"
    exp = {(g["kind"], g["action"]): g for g in ledger.expectations(store)}
    assert exp[("told", "call_back")]["unwritten"] == 1
    # c2 was promised a follow-up, not a refund: an expectation never written down
    assert exp[("told", "refund")]["unwritten"] == 1


def test_open_and_overdue_depend_on_as_of(store: Store) -> None:
    _conversation(store)
    ledger.build_ledger(store, as_of=t("2017-11-06T12:00+00:00"))
    s = {
        r["promise_id"]: r["status"]
        for r in store.rows("SELECT promise_id, status FROM promise_status")
    }
    # as of 6 Nov the first refund (due 3 Nov) is overdue, and the refund event (15 Nov) is in the future
    assert s["heard:i1:0"] == "broken"  # repeated after its deadline had passed
    ledger.reconcile(store, as_of=t("2017-11-02T12:00+00:00"))
    s = {
        r["promise_id"]: r["status"]
        for r in store.rows("SELECT promise_id, status FROM promise_status")
    }
    assert s["heard:i1:0"] == "open"


def test_statutory_promises_derive_from_cases(store: Store) -> None:
    store.append(
        "cases",
        table(
            "cases",
            [
                {
                    "case_id": "k1",
                    "customer_id": "x1",
                    "opened_at": t("2023-01-02T00:00+00:00"),
                    "status": "closed",
                    "timely": True,
                    "source": "cfpb",
                    "company": "Bank A",
                },
                {
                    "case_id": "k2",
                    "customer_id": "x2",
                    "opened_at": t("2023-01-02T00:00+00:00"),
                    "status": "closed",
                    "timely": False,
                    "source": "cfpb",
                    "company": "Bank A",
                },
                {
                    "case_id": "k3",
                    "customer_id": "x3",
                    "kind": "data_request",
                    "opened_at": t("2023-01-31T09:00+00:00"),
                    "closed_at": t("2023-03-01T09:00+00:00"),
                    "source": "crm",
                },
            ],
        ),
    )
    ledger.build_ledger(store, as_of=AS_OF, heard=False)
    p = {r["promise_id"]: r for r in store.rows("SELECT promise_id, due_at, source FROM promises")}
    assert p["cfpb_15_day_response:k1"]["due_at"] == t("2023-01-17T00:00+00:00")
    assert p["data_request_one_month:k3"]["due_at"] == t(
        "2023-02-28T09:00+00:00"
    )  # one month, clamped
    s = {r["promise_id"]: r for r in store.rows("SELECT * FROM promise_status")}
    assert s["cfpb_15_day_response:k1"]["status"] == "kept"
    assert s["cfpb_15_day_response:k2"]["status"] == "broken"
    assert s["cfpb_15_day_response:k2"]["evidence_kind"] == "cases.timely"
    k3 = s["data_request_one_month:k3"]
    # due by the end of 28 Feb in London (ICO: the corresponding calendar date, clamped);
    # answered at 09:00 on 1 March: one day, nine hours late
    assert (k3["status"], k3["evidence_id"], k3["rule"]) == (
        "kept_late",
        "k3",
        "statutory_response_by_date",
    )
    assert (round(k3["late_hours"]), k3["late_days"]) == (9, 1)


def test_workspace_rules_replace_the_defaults(store: Store, tmp_path: Path) -> None:
    _conversation(store)
    rules = tmp_path / "reconcile.yaml"
    rules.write_text(
        "replace_defaults: true\nrules:\n  - id: strict_refund\n    match: {action: [refund]}\n    kept_by:\n"
        "      events: {kinds: [refunded], on: [customer_id]}\n    give_up_days: 1000\n",
        "utf-8",
    )
    ledger.build_ledger(store, as_of=AS_OF, reconcile_rules=rules)
    s = {r["promise_id"]: r for r in store.rows("SELECT * FROM promise_status")}
    assert s["heard:i3:0"]["status"] == "kept_late"  # no repeat window in this rule
    assert s["heard:i3:0"]["rule"] == "strict_refund"
    assert "heard:i4:0" not in s  # no rule for follow-ups


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "rules:\n  - id: r\n    match: {action: x}\n",
            "Reconcile rule 'r' in {p} says nothing keeps it.",
        ),
        (
            "rules:\n  - id: r\n    kept_by: {events: {on: [email]}}\n",
            "Reconcile rule 'r': cannot match events on 'email'.",
        ),
        ("rules: [", "{p} is not valid YAML"),
        ("other: 1\n", "{p} has no list of rules."),
    ],
)
def test_bad_reconcile_rules(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(text, "utf-8")
    with pytest.raises(ConfigError) as err:
        ledger.load_reconcile_rules(path)
    assert err.value.message.startswith(message.format(p=path))
    assert err.value.hint


def test_gap_needs_a_ledger(store: Store) -> None:
    with pytest.raises(NotFoundError) as err:
        ledger.gap(store)
    assert (
        err.value.hint
        == "Run `goodwill promises --refresh` (or goodwill.measure.promises.build_ledger)."
    )


def test_trend_tells_change_from_noise() -> None:
    weeks = [dt.date(2017, 1, 2) + dt.timedelta(weeks=i) for i in range(20)]
    rising = [int(100 * (0.5 + 0.02 * i)) for i in range(20)]
    assert ledger.trend(weeks, rising, [100] * 20).direction == "narrowing"
    assert ledger.trend(weeks, rising[::-1], [100] * 20).direction == "widening"
    rng = np.random.default_rng(1)
    flat = [int(k) for k in rng.binomial(100, 0.7, 20)]
    assert ledger.trend(weeks, flat, [100] * 20).direction == "no clear change"
    # wild week-to-week swings with a small drift: the dispersion widens the interval
    swings = [20 if i % 2 else 95 for i in range(20)]
    tr = ledger.trend(weeks, [s + i // 4 for i, s in enumerate(swings)], [100] * 20)
    assert tr.direction == "no clear change" and (tr.overdispersion or 0) > 10
    assert ledger.trend(weeks[:3], [1, 2, 3], [5, 5, 5]).direction == "too little data"


def test_wilson_interval() -> None:
    lo, hi = ledger.wilson(27, 27)
    assert hi == 1.0 and abs(lo - 0.8754) < 1e-3
    assert ledger.wilson(0, 0) == (0.0, 1.0)


def test_cli_gap_and_customer(tmp_path: Path) -> None:
    from goodwill.cli.app import app
    from goodwill.store import open_store

    url = str(tmp_path / "cli.duckdb")
    with open_store(url) as s:
        ingest_file(s, DATA / "olist_sample.csv.gz", "olist")
    runner = CliRunner()
    res = runner.invoke(
        app, ["promises", "--store", url, "--by", "product", "--min", "1", "--as-of", "2026-11-24"]
    )
    assert res.exit_code == 0, res.output
    assert "Promises kept on time: 60.0%" in res.output
    res = runner.invoke(app, ["promises", "--store", url, "--json", "--by", "source"])
    data = json.loads(res.output)
    assert data["groups"][0]["group"] == "olist" and data["groups"][0]["decided"] == 40
    raw = pd.read_csv(DATA / "olist_sample.csv.gz", index_col=0)
    undelivered = str(raw[raw.order_delivered_customer_date.isna()]["id"].iloc[0])
    res = runner.invoke(app, ["promises", f"olist:{undelivered}", "--store", url, "--json"])
    owed = json.loads(res.output)["promises"]
    assert (
        owed[0]["status"] == "broken" and owed[0]["promise_id"] == f"olist:delivery:{undelivered}"
    )
    res = runner.invoke(app, ["promises", "--store", url, "--as-of", "yesterday"])
    assert res.exit_code != 0
