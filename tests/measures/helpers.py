"""Build store rows for the measures' tests: every row gets every column of its table."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pyarrow as pa

from goodwill.model import get_table
from goodwill.store import Store

REPO = Path(__file__).resolve().parents[2]
CORE_DATA = REPO / "tests" / "data" / "core"
PROMISE_DATA = REPO / "tests" / "data" / "promises"
T0 = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


def day(n: float) -> dt.datetime:
    return T0 + dt.timedelta(days=n)


def put(store: Store, name: str, rows: list[dict[str, Any]]) -> None:
    if name == "enrichments":
        import goodwill.understand.tables as ut

        store.ensure_table(ut.ENRICHMENTS)
    store.append(name, pa.Table.from_pylist(rows, schema=get_table(name).arrow_schema()))


def contact(iid: str, cid: str, at: dt.datetime, **kw: Any) -> dict[str, Any]:
    row = {
        "interaction_id": iid,
        "customer_id": cid,
        "occurred_at": at,
        "direction": "inbound",
        "channel": "phone",
    }
    row.update(kw)
    return row


def unhappy(iid: str, cid: str, at: dt.datetime, score: float = -0.8) -> dict[str, Any]:
    return {
        "interaction_id": iid,
        "customer_id": cid,
        "occurred_at": at,
        "sentiment_score": score,
        "sentiment_label": "negative" if score < 0 else "positive",
        "sentiment_model": "test",
        "enriched_at": at,
    }
