"""Heard promises: deadlines resolved by hand, vague talk kept out, and the labelled sample."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from goodwill.model.calendar import WorkingCalendar
from goodwill.understand.heard_promises import (
    keyword_baseline,
    read_commitments,
    read_expectations,
    resolve_due,
)

HERE = Path(__file__).resolve().parent.parent / "data" / "promises"
# Tuesday 31 Oct 2017, 22:10 UTC
MADE = dt.datetime(2017, 10, 31, 22, 10, 10, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("text", "due"),
    [
        ("We'll call you back tomorrow.", dt.date(2017, 11, 1)),
        ("We will follow up with you again today.", dt.date(2017, 10, 31)),
        ("You should hear back either tomorrow or Monday.", dt.date(2017, 11, 6)),
        ("A refund will be issued within 5 working days.", dt.date(2017, 11, 7)),
        ("A refund will be issued within 5 days.", dt.date(2017, 11, 5)),
        ("We'll email you within 24 hours.", dt.datetime(2017, 11, 1, 22, 10, 10, tzinfo=dt.UTC)),
        ("Our engineer will visit by Friday.", dt.date(2017, 11, 3)),
        ("Our engineer will visit next Tuesday.", dt.date(2017, 11, 7)),
        ("We will send it by 3rd November.", dt.date(2017, 11, 3)),
        ("We will fix it by the end of the week.", dt.date(2017, 11, 3)),
        ("We'll be in touch soon.", None),
    ],
)
def test_deadlines_resolve_against_the_message_time(text: str, due: object) -> None:
    assert resolve_due(text, MADE)[0] == due
    r = read_commitments(text, MADE)
    assert r.is_promise
    assert r.promises[0].due == due


def test_business_days_follow_the_calendar_holidays() -> None:
    cal = WorkingCalendar.business("UTC", holidays=[dt.date(2017, 11, 1)])
    assert resolve_due("within 2 business days", MADE, cal)[0] == dt.date(2017, 11, 3)


def test_time_zone_moves_the_day() -> None:
    # 04:46 UTC Sunday is Saturday evening in New York: "tomorrow" is Sunday there
    made = dt.datetime(2017, 11, 26, 4, 46, tzinfo=dt.UTC)
    assert read_commitments("We'll call you tomorrow.", made).promises[0].due == dt.date(
        2017, 11, 27
    )
    ny = read_commitments("We'll call you tomorrow.", made, timezone="America/New_York")
    assert ny.promises[0].due == dt.date(2017, 11, 26)


@pytest.mark.parametrize(
    ("text", "action", "made_by"),
    [
        ("I'll have a specialist reach out to you.", "escalate", "agent"),
        ("We'll refund the delivery charge.", "refund", "team"),
        ("A member of our social care team will follow up with you.", "follow_up", "handed_to"),
        ("We'll send a replacement.", "replace", "team"),
        ("Our technician will visit on Monday.", "visit", "handed_to"),
        ("It'll be back on tomorrow.", "fix", "other"),
        ("We'll credit your account for the outage.", "credit", "team"),
    ],
)
def test_action_and_who(text: str, action: str, made_by: str) -> None:
    r = read_commitments(text, MADE)
    assert r.is_promise, text
    p = r.promises[0]
    assert (p.action, p.made_by) == (action, made_by)
    assert text[p.start : p.end] == p.evidence
    assert 0 < p.confidence <= 1


@pytest.mark.parametrize(
    "text",
    [
        "We're looking into it.",
        "DM us your order number and we'll take a look.",
        "Please DM us your email address and we'll follow up.",
        "We'll pass your feedback on to the team.",
        "Hopefully we'll have it available again soon!",
        "Our team aims to reply within 24 hours.",
        "We have refunded your order.",
    ],
)
def test_vague_and_conditional_are_not_promises(text: str) -> None:
    r = read_commitments(text, MADE)
    assert not r.is_promise, text


def test_vague_is_kept_as_reassurance_with_its_span() -> None:
    r = read_commitments("Sorry! We're looking into this for you.", MADE)
    assert r.vague and r.reassurances
    lo, hi, said = r.reassurances[0]
    assert "Sorry! We're looking into this for you."[lo:hi] == said


def test_signature_is_the_agent() -> None:
    assert read_commitments("We'll follow up with you today. ^MC", MADE).signature == "MC"


def _labelled() -> list[dict[str, object]]:
    return [json.loads(x) for x in (HERE / "labelled_tweets.jsonl").read_text("utf-8").splitlines()]


def test_labelled_sample_beats_the_keyword_baseline() -> None:
    rows = _labelled()

    def f1(reader: object) -> float:
        tp = fp = fn = 0
        for r in rows:
            made = dt.datetime.strptime(str(r["created_at"]), "%a %b %d %H:%M:%S %z %Y")
            pred = reader(str(r["text"]), made).is_promise  # type: ignore[operator]
            tp += pred and bool(r["is_promise"])
            fp += pred and not r["is_promise"]
            fn += (not pred) and bool(r["is_promise"])
        return 2 * tp / (2 * tp + fp + fn)

    grammar, baseline = f1(read_commitments), f1(keyword_baseline)
    assert grammar > baseline
    assert grammar >= 0.85


def test_labelled_deadlines_match() -> None:
    hits = 0
    dated = [r for r in _labelled() if r["due"] and r["is_promise"]]
    for r in dated:
        made = dt.datetime.strptime(str(r["created_at"]), "%a %b %d %H:%M:%S %z %Y")
        rd = read_commitments(str(r["text"]), made)
        hits += str(rd.due) == r["due"]
    assert len(dated) == 6 and hits == 6


def test_expectations_in_english_and_portuguese() -> None:
    e = read_expectations(
        "I was told I would get a refund in 5 days and still haven't received it."
    )
    kinds = {(x.kind, x.action) for x in e}
    assert ("told", "refund") in kinds
    assert any(x.kind == "unmet" for x in e)
    pt = read_expectations("comprei o produto e até hoje ainda não recebi")
    assert [(x.kind, x.action) for x in pt] == [("unmet", "deliver")]
    assert read_expectations("entrega rápida, produto ótimo") == []


@pytest.mark.parametrize(
    ("text", "agent"),
    [
        # shapes of signature found in the development tweets
        ("We'll look into it. ^JS https://t.co/x", "JS"),
        ("Thank you. ^bc", "bc"),
        ("Please DM us. *HCK 2/2", "HCK"),
        ("Keep us posted /LS", "LS"),
        ("so I can help.--JV", "JV"),
        ("Anything else I can help you with?-RM", "RM"),
        ("so we can take a look. = JJ https://t.co/o", "JJ"),
        ("Thanks - Gemma 2/2", "Gemma"),
        ("Can you DM me your account name? Ty Andrew", "Andrew"),
        ("to assist you further.\nRegards,\nAmruta https://t.co/L", "Amruta"),
        ("Buses depart from the northern interchange at Reading. Phil.", "Phil"),
        ("カスタマーサービスまでご連絡ください。https://t.co/N ET", "ET"),
        ("Is there anything I may be able to help with? ^AP .", "AP"),
        # a customer's name, a sign-off word or a hyphenated word is nobody's signature
        ("Have a great flight, thanks Sarah", None),
        ("We love it. Enjoy", None),
        ("Catch the new X-Men", None),
        ("Here to help! For more info please visit;https://t.co/Xaf6cZMUVR.", None),
    ],
)
def test_signature_names_the_agent(text: str, agent: str | None) -> None:
    assert read_commitments(text, MADE).signature == agent


@pytest.mark.parametrize(
    ("text", "role", "function"),
    [
        ("You should hear back from us soon.", "team", None),
        ("You should hear back either tomorrow or Monday.", "other", None),
        ("You'll receive an email as soon as we have a date.", "other", None),
        ("Online ordering is off tonight, but will be back on tomorrow.", "other", "product"),
        ("It'll be turned back on tomorrow.", "other", "product"),
        ("We'll be glad to credit you for the time without service.", "team", "billing"),
        ("Our technician will visit on Monday.", "handed_to", "field"),
        ("Our billing team will call you back today.", "team", "billing"),
        ("A member of our social care team will follow up with you.", "handed_to", None),
    ],
)
def test_who_and_which_function(text: str, role: str, function: str | None) -> None:
    r = read_commitments(text, MADE)
    assert r.is_promise, text
    assert (r.promises[0].made_by, r.promises[0].function) == (role, function)


@pytest.mark.parametrize(
    "text",
    [
        "I will be glad to answer any questions you have about your account. Please send me a dm.",
        "I'll follow up with our team so we can make your future visits stellar!",
        "We'll make sure to get this straightened out. DM us, and we'll see you there.",
        "Connect with us through https://t.co/x and we'll be in touch.",
        "We're always reviewing our schedules and we'll update our website.",
    ],
)
def test_offers_and_internal_steps_are_not_promises(text: str) -> None:
    assert not read_commitments(text, MADE).is_promise


@pytest.mark.parametrize(
    ("text", "promise", "action", "role"),
    [
        # second round: shapes read in half A of the held-out tweets (half B never read)
        (
            "Let me partner you with our Wireless team. They should respond soon.",
            True,
            "escalate",
            "agent",
        ),
        ("Kindly be patient as this shall be done from morning.", True, "other", "other"),
        ("Your concern will be addressed.", True, "fix", "other"),
        ("A technician will be alerted about the WiFi in the meantime.", True, "escalate", "other"),
        ("We'll have everything up and running in December.", True, "fix", "team"),
        ("We'll be keeping all customers updated about alternative options.", False, None, None),
        ("We'll make sure that your comments are passed on to the team.", False, None, None),
        ("Nice idea! We'll make sure it reaches them.", False, None, None),
        ("We'll continue to add new content.", False, None, None),
        (
            "Crews were displaced by weather. We'll have you on your way as soon as possible.",
            False,
            None,
            None,
        ),
    ],
)
def test_second_round_shapes(
    text: str, promise: bool, action: str | None, role: str | None
) -> None:
    r = read_commitments(text, MADE)
    assert r.is_promise == promise, text
    if promise:
        assert (r.promises[0].action, r.promises[0].made_by) == (action, role)


def test_a_named_technician_is_field_even_in_the_passive() -> None:
    p = read_commitments("A technician will be alerted about the WiFi.", MADE).promises[0]
    assert p.function == "field"
