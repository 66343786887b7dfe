from __future__ import annotations

import datetime as dt
import json

import pytest

from goodwill.errors import NotFoundError
from goodwill.ingest import ingest_file
from goodwill.measure import fair_value as fv
from goodwill.store import Store

from .helpers import CORE_DATA, put


def _sub(
    sid: str, plan: str, price: float, tenure: int, channel: str = "card", **kw: object
) -> dict[str, object]:
    row = {
        "subscription_id": sid,
        "customer_id": sid,
        "plan_id": plan,
        "channel": channel,
        "price": price,
        "period": "month",
        "status": "active",
        "attrs": json.dumps({"tenure": str(tenure)}),
    }
    row.update(kw)
    return row


def _book(store: Store) -> None:
    subs = [_sub(f"new{i}", "A", 10.0 + (i % 2) * 0.2, 2) for i in range(5)]
    subs += [
        _sub("loyal", "A", 13.0, 40),
        _sub("fair", "A", 10.0, 30),
        _sub("other-channel", "A", 15.0, 30, channel="cheque"),  # no new customers via cheque
        _sub("b-new", "B", 20.0, 1),
        _sub("b-old", "B", 30.0, 50),  # only one new customer on plan B: refused
        _sub("declared", "B", 30.0, 50, new_customer_price=25.0),
        _sub("gone", "A", 99.0, 40, status="ended"),
    ]
    put(
        store,
        "customers",
        [
            {
                "customer_id": str(s["customer_id"]),
                "age_band": "65+" if s["subscription_id"] == "loyal" else None,
            }
            for s in subs
        ],
    )
    put(store, "subscriptions", subs)


def test_reference_ladder_penalty_and_refusal(store: Store) -> None:
    _book(store)
    rep = fv.build_fair_value(store)
    rows = {r["subscription_id"]: r for r in store.rows("SELECT * FROM fair_value")}
    assert "gone" not in rows  # only active subscriptions are judged
    loyal = rows["loyal"]
    assert loyal["reference_price"] == pytest.approx(10.0)  # median of 10, 10.2, 10, 10.2, 10
    assert loyal["reference_n"] == 5
    assert loyal["reference_basis"].startswith(
        "inferred: median of 5 subscriptions with tenure <= 6 months"
    )
    assert loyal["verdict"] == "penalty" and loyal["penalty_pct"] == pytest.approx(30.0)
    assert loyal["annual_penalty"] == pytest.approx(36.0)
    assert rows["fair"]["verdict"] == "fair"
    assert rows["other-channel"]["verdict"] == "no_reference"
    assert rows["other-channel"]["reference_basis"].startswith("refused: 0 subscriptions")
    assert (
        rows["b-old"]["verdict"] == "no_reference"
        and "at least 5 needed" in rows["b-old"]["reference_basis"]
    )
    assert rows["declared"]["reference_price"] == 25.0
    assert rows["declared"]["reference_basis"] == "declared: subscriptions.new_customer_price"
    assert rep["by_verdict"]["penalty"] >= 2
    owed = fv.owed_better_deal(store)
    assert [r["customer_id"] for r in owed][:2] == ["declared", "loyal"]  # 60 a year, then 36
    book = fv.book_summary(store)
    assert book["owed_better_deal"] == 2 and book["annual_penalty"] == pytest.approx(
        96.0
        + sum(
            r["annual_penalty"]
            for r in store.rows(
                "SELECT annual_penalty FROM fair_value WHERE subscription_id LIKE 'new%'"
            )
        )
    )
    by_age = {r["grp"]: r for r in fv.penalty_by(store, "age_band")}
    assert by_age["65+"]["paying_more"] == 1


def test_across_channels_and_a_plans_table(store: Store) -> None:
    _book(store)
    fv.build_fair_value(store, match_channel=False)
    rows = {r["subscription_id"]: r for r in store.rows("SELECT * FROM fair_value")}
    assert rows["other-channel"]["verdict"] == "penalty"
    assert "via any channel" in rows["other-channel"]["reference_basis"]
    put(store, "plans", [{"plan_id": "B", "new_customer_price": 28.0}])
    fv.build_fair_value(store)
    rows = {r["subscription_id"]: r for r in store.rows("SELECT * FROM fair_value")}
    assert rows["b-old"]["reference_basis"] == "declared: plans.new_customer_price"
    assert rows["b-old"]["reference_price"] == 28.0


def test_tenure_from_start_date_when_the_source_has_none(store: Store) -> None:
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    put(
        store,
        "subscriptions",
        [
            {
                "subscription_id": "s",
                "customer_id": "s",
                "plan_id": "A",
                "price": 1.0,
                "started_at": now - dt.timedelta(days=365),
            }
        ],
    )
    fv.build_fair_value(store, as_of=now)
    assert store.scalar("SELECT tenure_months FROM fair_value") == pytest.approx(12.0, abs=0.1)


def test_telco_like_for_like(store: Store) -> None:
    ingest_file(store, CORE_DATA / "telco-200.csv", "telco")
    with pytest.raises(NotFoundError, match="goodwill fair-value --refresh"):
        fv.book_summary(store)
    fv.build_fair_value(store)
    rel = fv.price_tenure(store)
    assert rel["raw"]["n"] == 200
    # Within a plan the spread is small; the raw slope mixes plans.
    assert rel["within_plan"]["mean_abs_dev"] < 5
    assert next(b["band"] for b in rel["bands"]) == "0-6"
    tenures = [r["grp"] for r in fv.penalty_by(store, "tenure")]
    assert (
        tenures[0] == "0-6" and "7-12" in tenures and tenures.index("7-12") < tenures.index("13-24")
    )
