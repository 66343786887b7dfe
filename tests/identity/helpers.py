"""Build identifier rows the way ingest does: raw values through normalise_identifiers."""

from __future__ import annotations

import pyarrow as pa

from goodwill.ingest.identity import normalise_identifiers
from goodwill.store import Store

Row = tuple[str, str, str, bool]  # customer_id, kind, raw value, verified


def load(store: Store, rows: list[Row], *, source: str = "test") -> None:
    value, why = normalise_identifiers(pa.array([r[1] for r in rows]), pa.array([r[2] for r in rows]))
    assert why.null_count == len(rows), why.to_pylist()
    store.append(
        "identifiers",
        pa.table(
            {
                "customer_id": [r[0] for r in rows],
                "kind": [r[1] for r in rows],
                "value": value,
                "raw_value": [r[2] for r in rows],
                "verified": [r[3] for r in rows],
                "source": [source] * len(rows),
            }
        ),
    )


def persons(store: Store) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for r in store.rows("SELECT customer_id, person_id FROM customer_links"):
        out.setdefault(r["person_id"], set()).add(r["customer_id"])
    return out


def check_links(store: Store) -> None:
    """The customer_links contract: person id = smallest member, no one-record persons."""
    for pid, members in persons(store).items():
        assert len(members) >= 2, (pid, members)
        assert pid == min(members), (pid, members)
