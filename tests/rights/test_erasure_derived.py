"""Rows the measures derived from a person's facts go with them: verdicts, lint, readings, and
their words quoted as a contact reason's verbatims."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pyarrow as pa
from tests.rights.helpers import SECRET_TEXT, T0, build
from tests.rights.test_erasure_bytes import _found, _pg_files

from goodwill.measure.goodwill_ledger import text_hash
from goodwill.measure.promises import PROMISE_STATUS
from goodwill.measure.runaround import ANSWER_READINGS
from goodwill.rights import erase_person
from goodwill.store import Store
from goodwill.understand.tables import REASONS

THEIR_WORDS = f"This is {SECRET_TEXT} again, message 1, my parcel is late"  # p1, theirs
OTHER_WORDS = "ordinary message 3 about a refund"  # o3, someone else's
DERIVED = ["reasons", "promise_status", "copy_lint", "answer_readings"]


def _derive(store: Store) -> None:
    store.ensure_table(REASONS)
    store.append(
        "reasons",
        pa.Table.from_pylist(
            [
                {"reason_id": 1, "label": "late parcel", "representatives": json.dumps([THEIR_WORDS, OTHER_WORDS]), "active": True},
                {"reason_id": 2, "label": "refunds", "representatives": json.dumps([OTHER_WORDS]), "active": True},
            ]
        ),
    )
    store.append(
        PROMISE_STATUS,
        pa.Table.from_pylist(
            [{"promise_id": "pr1", "status": "kept", "evidence_id": "e1"}, {"promise_id": "pr3", "status": "open"}]
        ),
    )
    store.append(
        "copy_lint",
        pa.Table.from_pylist(
            [
                {"text_hash": text_hash(THEIR_WORDS), "dark_patterns": 0, "excerpt": THEIR_WORDS[:40], "linted_at": T0},
                {"text_hash": text_hash(OTHER_WORDS), "dark_patterns": 0, "excerpt": OTHER_WORDS, "linted_at": T0},
            ]
        ),
    )
    store.ensure_table(ANSWER_READINGS)
    store.append(
        "answer_readings",
        pa.Table.from_pylist(
            [
                {"text_hash": text_hash(THEIR_WORDS), "side": "customer", "stance": "told", "read_at": T0 + dt.timedelta(days=1)},
                {"text_hash": text_hash(OTHER_WORDS), "side": "customer", "stance": "told", "read_at": T0},
            ]
        ),
    )


def _files(store: Store) -> list[Path]:
    if store.engine == "duckdb":
        p = Path(store.path)  # type: ignore[attr-defined]
        return [f for f in (p, Path(str(p) + ".wal")) if f.exists()]
    return _pg_files(store, DERIVED)


def test_derived_rows_and_quoted_words_are_erased(store: Store) -> None:
    build(store, others=60)
    _derive(store)
    store.execute("CHECKPOINT")
    assert any(SECRET_TEXT in h for h in _found(_files(store)))
    result = erase_person(store, "TW-99")
    assert result.rows["reasons"] == 1
    # The reason and the other person's verbatim stay; their words do not.
    reps = {r["reason_id"]: json.loads(r["representatives"]) for r in store.rows("SELECT reason_id, representatives FROM reasons")}
    assert reps == {1: [OTHER_WORDS], 2: [OTHER_WORDS]}
    assert [r["promise_id"] for r in store.rows("SELECT promise_id FROM promise_status")] == ["pr3"]
    assert [r["text_hash"] for r in store.rows("SELECT text_hash FROM copy_lint")] == [text_hash(OTHER_WORDS)]
    assert [r["text_hash"] for r in store.rows("SELECT text_hash FROM answer_readings")] == [text_hash(OTHER_WORDS)]
    assert [h for h in _found(_files(store)) if SECRET_TEXT in h or "Quorbl" in h] == []
