from __future__ import annotations

import pytest

from goodwill.measure import runaround as ra
from goodwill.measure import silence as si
from goodwill.measure.goodwill_ledger import build_goodwill
from goodwill.store import Store

from .helpers import contact, day, put, unhappy


def test_runaround_counts_handoffs_switches_reopens_and_path(store: Store) -> None:
    put(store, "customers", [{"customer_id": "a"}, {"customer_id": "b"}])
    put(
        store,
        "cases",
        [
            {
                "case_id": "k",
                "customer_id": "a",
                "kind": "complaint",
                "opened_at": day(0),
                "closed_at": day(4),
                "status": "closed",
            }
        ],
    )
    put(
        store,
        "interactions",
        [
            contact("1", "a", day(0), case_id="k", channel="chat", function="service"),
            contact(
                "2",
                "a",
                day(0.5),
                case_id="k",
                channel="chat",
                function="service",
                direction="outbound",
                team="t1",
            ),
            contact("3", "a", day(1), case_id="k", channel="phone", function="billing"),
            contact(
                "4",
                "a",
                day(1.5),
                case_id="k",
                channel="phone",
                function="billing",
                direction="outbound",
                team="t2",
            ),
            contact("5", "a", day(6), case_id="k", channel="email", function="billing"),
            contact("6", "b", day(0), channel="email", function="service"),
        ],
    )
    ra.build_runaround(store, as_of=day(30))
    c = ra.customer_effort(store, "a")["cases"][0]
    assert c["case_key"] == "k" and c["inbound"] == 3 and c["contacts"] == 5
    assert c["handoffs"] == 2  # service -> billing, and team t1 -> t2
    assert c["channel_switches"] == 2  # chat -> phone -> email
    assert c["reopens"] == 1  # wrote again after closing
    assert c["hours_to_resolution"] == pytest.approx(96.0)
    assert (
        c["path"]
        == "chat/service* > chat/service > phone/billing* > phone/billing > email/billing*"
    )
    assert c["effort"] == pytest.approx(1 * 2 + 2 * 2 + 1.5 * 2 + 3 * 1 + 0.1 * 4)
    worst = ra.worst_cases(store, limit=1)[0]
    assert worst["case_key"] == "k"
    b = ra.customer_effort(store, "b")["cases"][0]
    assert b["case_key"] == "customer:b" and b["effort"] == 0


def _rhythm(cid: str, start: int, stop: int, every: int) -> list[dict[str, object]]:
    return [contact(f"{cid}{d}", cid, day(d)) for d in range(start, stop + 1, every)]


def test_silence_judged_against_own_rhythm(store: Store) -> None:
    put(store, "customers", [{"customer_id": c} for c in ("quiet", "fine", "loud", "once", "slow")])
    rows = _rhythm("quiet", 0, 100, 10) + _rhythm("fine", 0, 100, 10) + _rhythm("loud", 0, 160, 10)
    rows += [contact("once0", "once", day(100)), *_rhythm("slow", 0, 100, 50)]
    put(store, "interactions", rows)
    put(
        store,
        "enrichments",
        [
            unhappy("quiet100", "quiet", day(100)),
            unhappy("loud100", "loud", day(100)),
            unhappy("once0", "once", day(100)),
            unhappy("slow100", "slow", day(100)),
        ],
    )
    build_goodwill(store, as_of=day(160))
    res = si.silent(store, as_of=day(160))
    assert [r["person_id"] for r in res["rows"]] == ["quiet"]
    q = res["rows"][0]
    assert (
        q["usual_gap_days"] == pytest.approx(10.0)
        and q["quiet_days"] == 60
        and q["ratio"] == pytest.approx(6.0)
    )
    assert "Wrote to us very unhappy" in q["why"] and "interactions quiet100" in q["why"]
    # 'slow' is quiet for 60 days too, but that is 1.2 of their usual 50-day gap: not silent.
    assert res["people_with_a_failure"] == 4 and res["failed_without_own_rhythm"] == 1
    scores = {r["person_id"]: r for r in si.silence_scores(store, as_of=day(160)).to_pylist()}
    assert scores["fine"]["score"] == 0 and scores["fine"]["recency_days"] == 60
    assert scores["loud"]["quiet_since_failure"] is False
    assert scores["once"]["rhythm"] == "book"
    with_book = si.silent(store, as_of=day(160), include_book_rhythm=True)
    assert "once" in [r["person_id"] for r in with_book["rows"]]
    # As of an earlier day, later facts do not count.
    early = si.silent(store, as_of=day(105))
    assert early["rows"] == []
