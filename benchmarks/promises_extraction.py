"""Evaluate heard-promise extraction on the hand-labelled TWCS company tweets.

Used by ``bench_promises.py`` and by the shared-data test. Per field: is_promise
(precision, recall, F1), action (right action on a right promise), due date
(exact match of the resolved deadline, over every tweet where either side has one),
evidence (the predicted span overlaps the labelled one).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from goodwill.understand.heard_promises import Reading, keyword_baseline, read_commitments

Reader = Callable[[str, dt.datetime], Reading]


def load_labelled(data: Path) -> list[dict[str, Any]]:
    tw = pd.read_csv(
        data / "twcs" / "twcs-complete-threads.csv.gz", dtype=str, keep_default_na=False
    )
    text = dict(zip(tw.tweet_id, tw.text, strict=True))
    rows = []
    for line in (data / "twcs" / "promise-labels.jsonl").read_text("utf-8").splitlines():
        r = json.loads(line)
        r["text"] = text[r["tweet_id"]]
        r["made_at"] = dt.datetime.strptime(r["created_at"], "%a %b %d %H:%M:%S %z %Y")
        rows.append(r)
    return rows


def _same_due(pred: dt.date | dt.datetime | None, gold: str | None) -> bool:
    if pred is None or gold is None:
        return False
    if "T" in gold:
        return isinstance(pred, dt.datetime) and pred == dt.datetime.fromisoformat(gold)
    return not isinstance(pred, dt.datetime) and pred == dt.date.fromisoformat(gold)


def _prf(tp: int, n_pred: int, n_gold: int) -> dict[str, float | int]:
    p = tp / n_pred if n_pred else 0.0
    r = tp / n_gold if n_gold else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {
        "precision": round(p, 3),
        "recall": round(r, 3),
        "f1": round(f, 3),
        "tp": tp,
        "predicted": n_pred,
        "gold": n_gold,
    }


def evaluate(rows: list[dict[str, Any]], reader: Reader) -> dict[str, Any]:
    tp = n_pred = n_gold = 0
    act_ok = due_ok = due_pred = due_gold = ev_ok = vague_tp = vague_pred = vague_gold = 0
    errors: list[dict[str, Any]] = []
    for r in rows:
        rd = reader(r["text"], r["made_at"])
        gold = bool(r["is_promise"])
        n_pred += rd.is_promise
        n_gold += gold
        vague_pred += rd.vague
        vague_gold += bool(r["vague"])
        vague_tp += rd.vague and bool(r["vague"])
        if rd.is_promise and gold:
            tp += 1
            first = rd.promises[0]
            act_ok += first.action == r["action"]
            ev = r["evidence"] or ""
            gs = r["text"].find(ev)
            ev_ok += any(p.start < gs + len(ev) and gs < p.end for p in rd.promises)
        due_pred += rd.due is not None
        due_gold += r["due"] is not None
        due_ok += _same_due(rd.due, r["due"])
        if rd.is_promise != gold:
            errors.append(
                {
                    "tweet_id": r["tweet_id"],
                    "gold": gold,
                    "vague": r["vague"],
                    "text": r["text"][:140],
                }
            )
    return {
        "n": len(rows),
        "is_promise": _prf(tp, n_pred, n_gold),
        "vague": _prf(vague_tp, vague_pred, vague_gold),
        "action": _prf(act_ok, n_pred, n_gold),
        "action_accuracy_on_found": round(act_ok / tp, 3) if tp else 0.0,
        "due": _prf(due_ok, due_pred, due_gold),
        "evidence_overlap_on_found": round(ev_ok / tp, 3) if tp else 0.0,
        "errors": errors,
    }


def grammar(text: str, made_at: dt.datetime) -> Reading:
    return read_commitments(text, made_at)


READERS: dict[str, Reader] = {"grammar": grammar, "keyword baseline": keyword_baseline}


if __name__ == "__main__":
    import sys

    data = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data")
    rows = load_labelled(data)
    for name, reader in READERS.items():
        res = evaluate(rows, reader)
        errs = res.pop("errors")
        print(name, json.dumps(res))
        if "-v" in sys.argv and name == "grammar":
            for e in errs:
                print("  ", e)
