"""Dashboard sections computed for the server give the measures' own answers, in full."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from goodwill.measure import silence
from goodwill.serve import views
from goodwill.store import Store

from .conftest import NOW


def _quiet_people(store: Store, n: int) -> None:
    """``n`` people with a rhythm of their own (three contacts, 5-8 days apart) whose last
    contact brought a broken promise, then nothing: quiet for far longer than their rhythm.
    Equal rhythms tie on the ratio, so the ranking's second key (person_id) decides too."""
    horizon = silence.data_horizon(store)
    start = horizon - dt.timedelta(days=400)
    contacts, entries = [], []
    for k in range(n):
        cid, gap = f"quiet:{k:02d}", 5 + k % 4
        for j in range(3):
            contacts.append({"interaction_id": f"quiet-i:{k}:{j}", "customer_id": cid, "occurred_at": start + dt.timedelta(days=j * gap),
                             "channel": "phone", "direction": "inbound", "text": "Where is my refund?", "source": "test"})
        entries.append({"entry_id": f"promise_broken:quiet-p:{k}", "customer_id": cid, "occurred_at": start + dt.timedelta(days=2 * gap),
                        "kind": "promise_broken", "amount": -3.0, "reason": "a promise broken", "fact_table": "promises",
                        "fact_id": f"quiet-p:{k}", "rules_version": "test", "built_at": NOW})
    store.append("interactions", pa.Table.from_pylist(contacts))
    store.append("goodwill_entries", pa.Table.from_pylist(entries))


def test_silent_section_is_goodwill_silent_in_full(built: Store) -> None:
    # The section ranks in Arrow (so a refresh does not hold the interpreter for seconds);
    # its answer must be the measure's, row for row and count for count.
    _quiet_people(built, views.LIST_LIMIT + 5)
    got = views.silent(built, NOW)
    want = silence.silent(built, as_of=silence.data_horizon(built), limit=views.LIST_LIMIT)
    assert got["silent"] >= views.LIST_LIMIT + 5
    assert len(got["rows"]) == views.LIST_LIMIT
    assert got == want
