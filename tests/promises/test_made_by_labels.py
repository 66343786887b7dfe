"""The who-made-it and held-out label files are well formed, and the signature reader beats the
baselines on the held-out tweets (which ship with their text, so this needs no shared data)."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest

from goodwill.model.schema import FUNCTIONS
from goodwill.understand.heard_promises import ACTIONS, read_commitments

HERE = Path(__file__).resolve().parent.parent / "data" / "promises"
ROLES = {"agent", "team", "handed_to", "other"}
TWEET_TIME = "%a %b %d %H:%M:%S %z %Y"


def _load(name: str) -> list[dict[str, Any]]:
    return [json.loads(x) for x in (HERE / name).read_text("utf-8").splitlines()]


@pytest.mark.parametrize("name", ["heldout_tweets.jsonl", "abcd_agent_turns.jsonl"])
def test_labelled_messages_are_consistent(name: str) -> None:
    rows = _load(name)
    assert len({r.get("tweet_id", r.get("id")) for r in rows}) == len(rows)
    for r in rows:
        assert not (r["is_promise"] and r["vague"])
        if r["is_promise"]:
            assert r["action"] in ACTIONS
            assert r["made_by_role"] in ROLES
            assert r["function"] in FUNCTIONS
            assert r["team"]
        else:
            assert r["action"] is None and "made_by_role" not in r
        if r.get("due"):
            made = dt.datetime.strptime(r["created_at"], TWEET_TIME)
            assert dt.date.fromisoformat(r["due"]) >= made.date()


def test_development_labels_cover_every_labelled_promise() -> None:
    rows = _load("made_by_labels.jsonl")
    promises = [r for r in rows if "made_by_role" in r]
    assert len(rows) == 1619 and len(promises) == 36
    for r in promises:
        assert r["team"] == r["company"]
        assert r["made_by_role"] in ROLES and r["function"] in FUNCTIONS


def _norm(v: str | None) -> str | None:
    return None if v is None else re.sub(r"[^0-9a-z]", "", v.lower()) or None


def test_signature_reader_on_the_held_out_tweets() -> None:
    rows = _load("heldout_tweets.jsonl")
    right = named = 0
    naive = 0
    for r in rows:
        made = dt.datetime.strptime(r["created_at"], TWEET_TIME)
        got = _norm(read_commitments(r["text"], made).signature)
        gold = _norm(r["agent"])
        if got is not None:
            named += 1
            right += got == gold
        m = re.search(r"(?:\^|\s-)\s?([A-Za-z]+)\s*$", r["text"])
        naive += m is not None and _norm(m.group(1)) == gold
    gold_named = sum(r["agent"] is not None for r in rows)
    # never a wrong name (the account, a customer's name, a word) ...
    assert right == named
    # ... and far more of the signed tweets than the naive "^XX / -Name at the end" rule
    assert right > naive + 0.2 * gold_named
