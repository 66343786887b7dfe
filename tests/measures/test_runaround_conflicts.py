"""Conflicting answers (issue 7.2): company answers that flip, heard promises with different due
dates, customers saying they were told conflicting things; counted in the effort score and
marked in the path, on DuckDB and PostgreSQL from the same SQL."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from goodwill.errors import ConfigError, NotFoundError
from goodwill.measure import runaround as ra
from goodwill.measure.goodwill_ledger import load_weights
from goodwill.store import Store, open_store

from .helpers import contact, day, put

PATTERNS = ra.load_patterns()
W = load_weights()
PER_CONFLICT = W.effort["per_conflicting_answer"]


def said(iid: str, cid: str, at: dt.datetime, text: str, **kw: Any) -> dict[str, Any]:
    """A company message (outbound) with its text."""
    return contact(iid, cid, at, direction="outbound", channel="chat", function="service", text=text, **kw)


def wrote(iid: str, cid: str, at: dt.datetime, text: str, **kw: Any) -> dict[str, Any]:
    """A customer's message (inbound) with its text."""
    return contact(iid, cid, at, channel="chat", function="service", text=text, **kw)


def promise(pid: str, iid: str, cid: str, made: dt.datetime, due: dt.datetime, action: str = "refund") -> dict[str, Any]:
    return {
        "promise_id": pid,
        "customer_id": cid,
        "interaction_id": iid,
        "action": action,
        "made_at": made,
        "due_at": due,
        "kind": "heard",
        "evidence": f"we will {action} by {due:%d %b}",
    }


# -- reading texts, no store -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "stance"),
    [
        ("Good news: your refund has been processed and should reach you in 3-5 days.", "affirmative"),
        ("Yes, children are able to sign up for an account.", "affirmative"),
        ("Your replacement is on its way!", "affirmative"),
        ("We can't refund this order, I'm afraid.", "negative"),
        ("Unfortunately you are not eligible for a refund on this plan.", "negative"),
        ("I'm afraid there is no record of that booking.", "negative"),
        ("We're not seeing any issues on our end. Have you tried restarting?", "negative"),
        # A negative then an affirmative that corrects it, in one message: the correction stands.
        ("Sorry, earlier I said we can't refund this. Actually we can, your refund has been approved.", "affirmative"),
        # Both, with no correction: no single answer.
        ("We can't refund the delivery fee, but we have credited your account.", "mixed"),
        # Conditions, questions and how we can talk are no answers.
        ("If you haven't received it by Friday, we'll refund you.", None),
        ("Is your refund approved yet?", None),
        ("We're unable to access your account via Twitter. Please DM us.", None),
        ("Please DM us your order number and we'll take a look.", None),
        ("", None),
    ],
)
def test_company_answer_stance(text: str, stance: str | None) -> None:
    a = PATTERNS.read_answer(text)
    assert a.stance == stance
    if stance:
        assert a.rule and 0 <= a.start < a.end <= len(text)


@pytest.mark.parametrize(
    ("text", "fires"),
    [
        ("One agent said my refund was approved, another said there is no record of it.", True),
        ("I was told on the phone that the fee would be waived. Then a week later I was told I had to pay it.", True),
        ("I called three times and each time I was given a different answer about my balance.", True),
        ("Their letter directly contradicts what the representative told me on the phone.", True),
        ("I was initially advised that they could correct it but later was advised that the only way was to close the account.", True),
        # Broken promises and kept ones are not conflicting answers.
        ("They said they'd call me back and they did, the next day.", False),
        ("They told me I'd get a call and I did get one. Great service.", False),
        ("I was told it would arrive Monday but it never came.", False),
        # Being sent from one team to the next is a hand-off, not a contradiction.
        ("The rep told me to call the billing team, and then the billing team told me to call the rep back.", False),
        # A contradiction that is not about what anyone said.
        ("The payment status contradicts the late payment history.", False),
        # The customer speaking is not the company answering.
        ("I told them it was wrong and then I told them again.", False),
    ],
)
def test_customer_reports(text: str, fires: bool) -> None:
    r = PATTERNS.read_report(text)
    assert (r is not None) == fires
    if r is not None:
        assert r.rule and text[r.start : r.end].strip()


def test_patterns_are_data_and_errors_say_how_to_fix(tmp_path: Path) -> None:
    src = Path(ra.__file__).with_name("conflict_patterns.yaml").read_text("utf-8")
    bad = tmp_path / "bad.yaml"
    bad.write_text(src.replace("    wish_we_could: '", "    broken: '(unclosed'\n    wish_we_could: '"), "utf-8")
    with pytest.raises(ConfigError) as err:
        ra.load_patterns(bad)
    assert "stance.negative.broken is not a valid regular expression" in err.value.message
    assert err.value.hint == "Fix the pattern; test it with Python's re module."
    missing = tmp_path / "missing.yaml"
    missing.write_text("version: x\nstance: {}\n", "utf-8")
    with pytest.raises(ConfigError) as err:
        ra.load_patterns(missing)
    assert err.value.message.endswith("lacks 'stance.affirmative'.")
    assert err.value.hint == "Start from the packaged conflict_patterns.yaml."
    # A company adds its own phrasing and bumps the version.
    own = tmp_path / "own.yaml"
    own.write_text(
        re.sub(r"^version: .*$", "version: acme-1", src, flags=re.M).replace(
            "    wish_we_could: '", "    acme_no: '\\bcomputer says no\\b'\n    wish_we_could: '"
        ),
        "utf-8",
    )
    p = ra.load_patterns(own)
    assert p.version == "acme-1" and p.read_answer("Sorry, computer says no.").rule == "acme_no"
    assert PATTERNS.read_answer("Sorry, computer says no.").stance is None


# -- through the store, both engines -----------------------------------------------------------


def _case(store: Store) -> None:
    put(store, "customers", [{"customer_id": c} for c in ("a", "b", "c", "d")])
    put(
        store,
        "cases",
        [{"case_id": "k", "customer_id": "a", "kind": "complaint", "opened_at": day(0), "status": "open"}],
    )
    put(
        store,
        "interactions",
        [
            # a: told yes, then no, about the same refund, in one case.
            wrote("a1", "a", day(0), "Where is my refund?", case_id="k"),
            said("a2", "a", day(1), "Good news, your refund has been approved.", case_id="k", team="t1"),
            wrote("a3", "a", day(5), "Still nothing in my account.", case_id="k"),
            said("a4", "a", day(6), "Unfortunately you are not eligible for a refund on this order.", case_id="k", team="t1"),
            # b: a correction in the same message, after a first yes: no conflict.
            said("b1", "b", day(1), "Your refund has been approved.", thread_id="tb"),
            said("b2", "b", day(2), "Sorry, I wrote that we can't refund it - my mistake, your refund is approved.", thread_id="tb"),
            # b: yes about a refund, no about a delivery date: different matters.
            said("b3", "b", day(3), "We can't deliver before Monday, I'm afraid.", thread_id="tb"),
            # c: the customer's own words, one reporting a contradiction, one a kept promise.
            wrote("c1", "c", day(1), "They said they'd call me back and they did. Thanks!", thread_id="tc"),
            wrote(
                "c2",
                "c",
                day(4),
                "One agent told me my card was unblocked, another said there is no record of my request.",
                thread_id="tc",
            ),
        ],
    )


def test_conflicts_found_with_evidence_effort_and_path(store: Store) -> None:
    _case(store)
    built = ra.build_runaround(store, as_of=day(30))
    assert built["conflicts"] == {"company_answers": 1, "customer_reported": 1, "promise_dates": 0}
    assert built["texts_read"] == {"company": 5, "customer": 4}
    a = ra.customer_effort(store, "a")
    assert a["conflicts"] == 1
    (case,) = a["cases"]
    assert case["case_key"] == "k" and case["conflicts"] == 1
    (k,) = case["conflicting_answers"]
    assert k["kind"] == "company_answers" and k["first_interaction_id"] == "a2" and k["second_interaction_id"] == "a4"
    assert k["first_at"] == day(1) and k["second_at"] == day(6)
    assert k["first_says"] == "affirmative: Good news, your refund has been approved."
    assert k["second_says"].startswith("negative: Unfortunately you are not eligible")
    assert k["rule"] == "has_been_done > not_possible" and k["patterns_version"] == PATTERNS.version
    # The later answer's step carries the mark.
    assert case["path"] == "chat/service* > chat/service > chat/service* > chat/service!"
    # Effort: one extra contact, 30 days unresolved, and the conflict.
    assert case["effort"] == pytest.approx(1.0 + PER_CONFLICT + 0.1 * (6 - 0))
    b = ra.customer_effort(store, "b")["cases"][0]
    assert b["conflicts"] == 0 and b["conflicting_answers"] == [] and "!" not in b["path"]
    c = ra.customer_effort(store, "c")["cases"][0]
    (rep,) = c["conflicting_answers"]
    assert rep["kind"] == "customer_reported" and rep["second_interaction_id"] == "c2"
    assert rep["first_interaction_id"] is None and "another said there is no record" in rep["second_says"]
    assert c["path"] == "chat/service* > chat/service*!"
    worst = ra.worst_cases(store, limit=1)[0]
    assert worst["case_key"] == "k" and worst["conflicting_answers"][0]["second_interaction_id"] == "a4"
    total = {r["grp"]: r["conflicts"] for r in ra.summary(store, "all")}
    assert total == {"all": 2}


def test_promises_heard_with_different_due_dates(store: Store) -> None:
    put(store, "customers", [{"customer_id": "p"}])
    put(
        store,
        "interactions",
        [
            said("p1", "p", day(0), "We will refund you by Friday.", case_id="kp"),
            said("p2", "p", day(3), "Your refund will be with you by the 20th.", case_id="kp"),
            said("p3", "p", day(4), "Refund due on the 20th as promised.", case_id="kp"),
            said("p4", "p", day(5), "An engineer will visit on Tuesday.", case_id="kp"),
        ],
    )
    put(
        store,
        "promises",
        [
            promise("h1", "p1", "p", day(0), day(4)),
            promise("h2", "p2", "p", day(3), day(19)),
            # The same date again (within the tolerance): no new conflict.
            promise("h3", "p3", "p", day(4), day(19) + dt.timedelta(hours=6)),
            # Another action: not compared with the refund.
            promise("h4", "p4", "p", day(5), day(8), action="visit"),
            # A promise the company's own system made (not heard): not read here.
            {**promise("s1", "p4", "p", day(5), day(30)), "kind": "structured"},
        ],
    )
    built = ra.build_runaround(store, as_of=day(30))
    assert built["conflicts"]["promise_dates"] == 1
    (k,) = ra.case_conflicts(store, ["kp"])["kp"]
    assert k["kind"] == "promise_dates" and k["refs"] == "h1 > h2"
    assert (k["first_interaction_id"], k["second_interaction_id"]) == ("p1", "p2")
    assert k["first_says"].startswith("refund due ") and "2025-01-05" in k["first_says"]
    assert "2025-01-20" in k["second_says"] and k["second_says"].endswith("we will refund by 20 Jan")


def test_without_case_or_thread_same_person_same_reason_within_the_window(store: Store) -> None:
    from goodwill.understand.tables import ENRICHMENTS

    store.ensure_table(ENRICHMENTS)
    put(store, "customers", [{"customer_id": c} for c in ("w", "x", "y")])
    put(
        store,
        "interactions",
        [
            # w: yes, then no, 10 days apart: one conflict.
            said("w1", "w", day(0), "Yes, that plan is available in your area."),
            said("w2", "w", day(10), "I'm afraid that plan is not available where you live."),
            # x: the same two answers 90 days apart: outside the 30-day window.
            said("x1", "x", day(0), "Yes, that plan is available in your area."),
            said("x2", "x", day(90), "I'm afraid that plan is not available where you live."),
            # y: each answers a message about a different contact reason.
            wrote("y0", "y", day(0), "Can I get the fibre plan?"),
            said("y1", "y", day(0.1), "Yes, that plan is available in your area.", in_reply_to="y0"),
            wrote("y2", "y", day(2), "Is my old router still supported?"),
            said("y3", "y", day(2.1), "I'm afraid that model is not supported any more.", in_reply_to="y2"),
        ],
    )
    put(
        store,
        "enrichments",
        [
            {"interaction_id": "y0", "customer_id": "y", "occurred_at": day(0), "reason_id": 1, "enriched_at": day(0)},
            {"interaction_id": "y2", "customer_id": "y", "occurred_at": day(2), "reason_id": 2, "enriched_at": day(2)},
        ],
    )
    ra.build_runaround(store, as_of=day(100))
    found = {r["case_key"]: r for r in store.rows("SELECT * FROM runaround_conflicts")}
    assert set(found) == {"customer:w"}
    assert found["customer:w"]["second_interaction_id"] == "w2"


def test_texts_read_once_and_again_when_the_patterns_change(store: Store, tmp_path: Path) -> None:
    _case(store)
    assert ra.build_runaround(store, as_of=day(30))["texts_read"] == {"company": 5, "customer": 4}
    # Nothing new: nothing read again, the same conflicts found.
    again = ra.build_runaround(store, as_of=day(30))
    assert again["texts_read"] == {"company": 0, "customer": 0} and again["conflicts"]["company_answers"] == 1
    # A company's own version: every text read again under it.
    src = Path(ra.__file__).with_name("conflict_patterns.yaml").read_text("utf-8")
    own = tmp_path / "own.yaml"
    own.write_text(re.sub(r"^version: .*$", "version: acme-2", src, flags=re.M), "utf-8")
    third = ra.build_runaround(store, as_of=day(30), patterns=own)
    assert third["texts_read"] == {"company": 5, "customer": 4} and third["patterns_version"] == "acme-2"
    assert {r["patterns_version"] for r in store.rows("SELECT patterns_version FROM answer_readings")} == {"acme-2"}
    # As of an earlier day, later answers do not count.
    early = ra.build_runaround(store, as_of=day(3))
    assert early["conflicts"]["company_answers"] == 0 and early["conflicts"]["customer_reported"] == 0


def test_old_store_without_the_conflicts_column_is_rebuilt(store: Store) -> None:
    _case(store)
    # The table as an older goodwill created it, and its stamp: reading asks for a rebuild.
    cols = [c for c in ra.RUNAROUND_CASES.columns if c.name != "conflicts"]
    from dataclasses import replace

    store.ensure_table(replace(ra.RUNAROUND_CASES, columns=tuple(cols)))
    store.set_meta("runaround_as_of", day(30).isoformat())
    with pytest.raises(NotFoundError) as err:
        ra.worst_cases(store)
    assert err.value.hint == "Run `goodwill runaround --refresh` (or goodwill.measure.runaround.build_runaround)."
    ra.build_runaround(store, as_of=day(30))
    assert ra.worst_cases(store, limit=1)[0]["conflicts"] == 1


def test_cli_shows_conflicts_and_their_evidence(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    with open_store(db) as s:
        _case(s)
    env = {**os.environ, "GOODWILL_STORE": str(db), "COLUMNS": "250"}

    def gw(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "goodwill", *args], capture_output=True, text=True, env=env, timeout=300
        )

    r = gw("runaround", "a", "--as-of", "2025-01-31")
    assert r.returncode == 0, r.stderr
    assert "conflicts" in r.stdout and "! = conflicting answer" in r.stdout
    assert "company_answers" in r.stdout and "a2: affirmative: Good news" in r.stdout and "a4: negative" in r.stdout
    out = json.loads(gw("runaround", "--json", "--as-of", "2025-01-31").stdout)
    assert out["summary"][0]["conflicts"] == 2
    assert {k["kind"] for c in out["cases"] for k in c["conflicting_answers"]} == {
        "company_answers",
        "customer_reported",
    }
