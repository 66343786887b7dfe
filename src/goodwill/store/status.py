"""What is stored: one answer for ``goodwill status`` and the server's ``/status.json``."""

from __future__ import annotations

from typing import Any

from goodwill.store.base import Store


def store_status(store: Store) -> dict[str, Any]:
    counts = store.counts()
    reasons = store.rows(
        "SELECT reason, count(*) AS n FROM quarantine GROUP BY reason ORDER BY n DESC, reason LIMIT 5"
    )
    recent = store.rows(
        "SELECT path, mapping, rows_read, rows_written, rows_quarantined, finished_at FROM ingest_log "
        "ORDER BY finished_at DESC LIMIT 5"
    )
    people = store.scalar(
        "SELECT count(*) FROM (SELECT DISTINCT coalesce(l.person_id, c.customer_id) AS p "
        "FROM customers c LEFT JOIN customer_links l ON l.customer_id = c.customer_id) x"
    )
    return {
        "store": store.url,
        "engine": store.engine,
        "schema_version": store.schema_version,
        "tables": counts,
        "people": people,
        "quarantine_reasons": reasons,
        "recent_ingests": recent,
        # DuckDB's one-read person documents (None where the engine has none)
        "person_documents": getattr(store, "_docs", None),
    }
