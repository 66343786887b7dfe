"""``ingest_file``: one source file through a mapping into the store.

The whole file is checked against the mapping before anything is written (a
missing column fails at once, naming it and the columns that exist). Then it
streams in batches: good rows are appended (de-duplicated on natural keys, so a
second run adds nothing), bad rows go to the quarantine with their line and
reason, and one ingest_log line records what happened.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from goodwill.errors import SourceError
from goodwill.ingest.mapping import Mapping, load_mapping
from goodwill.ingest.readers import Malformed, SourceReader
from goodwill.ingest.suppression import suppressed, suppressed_identifiers, suppression_count
from goodwill.ingest.transform import apply_mapping
from goodwill.store import Store

Progress = Callable[[int, int], None]


@dataclass
class IngestReport:
    path: str
    mapping: str
    batch_id: str
    rows_read: int = 0
    rows_written: dict[str, int] = field(default_factory=dict)
    rows_quarantined: int = 0
    # rows of people who were erased: dropped, never stored, never quarantined
    rows_suppressed: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    customers_touched: int = 0
    previously_ingested: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "mapping": self.mapping,
            "batch_id": self.batch_id,
            "rows_read": self.rows_read,
            "rows_written": self.rows_written,
            "rows_quarantined": self.rows_quarantined,
            "rows_suppressed": self.rows_suppressed,
            "top_reasons": dict(self.reasons.most_common(10)),
            "seconds": round(self.seconds, 3),
            "previously_ingested": self.previously_ingested,
        }


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _reason_kind(reason: str) -> str:
    # "opened_at: not a valid timestamp (got 'x')" → "opened_at: not a valid timestamp"
    return reason.split(" (got ", 1)[0]


class _Quarantine:
    def __init__(self, store: Store, batch_id: str, source: str, mapping: str) -> None:
        self.store = store
        self.batch_id = batch_id
        self.source = source
        self.mapping = mapping
        self.rows: list[dict[str, Any]] = []
        self.count = 0

    def add(self, line: int | None, row: Any, reason: str) -> None:
        self.rows.append(
            {
                "quarantine_id": f"{self.batch_id}:{len(self.rows) + self.count}",
                "batch_id": self.batch_id,
                "source": self.source,
                "mapping": self.mapping,
                "line": line,
                "row": row if isinstance(row, str) else json.dumps(row, ensure_ascii=False, default=str),
                "reason": reason,
                "quarantined_at": dt.datetime.now(dt.UTC),
            }
        )
        if len(self.rows) >= 10_000:
            self.flush()

    def flush(self) -> None:
        if self.rows:
            self.store.append("quarantine", pa.Table.from_pylist(self.rows), dedupe=False)
            self.count += len(self.rows)
            self.rows = []


_ROW = "_gw_row"  # a batch-local row number, so refusals can follow rows through filtering


def _normalise_identifiers(tbl: pa.Table) -> tuple[pa.Table, dict[int, tuple[dict[str, Any], str]]]:
    """Normalise every identifier once; invalid ones stay in the table (value null) with their
    refusal keyed by row number, until it is known whether their person was erased."""
    from goodwill.ingest.identity import normalise_identifiers

    kinds = pc.utf8_lower(tbl.column("kind").combine_chunks())
    raw = tbl.column("value").combine_chunks()
    values, reasons = normalise_identifiers(kinds, raw)
    invalid = pc.is_valid(reasons)
    problems: dict[int, tuple[dict[str, Any], str]] = {}
    if pc.any(invalid).as_py():
        bad_idx = pc.indices_nonzero(invalid)
        bad_rows = tbl.take(bad_idx).select(["customer_id", "kind", "value"]).to_pylist()
        for i, row, reason in zip(bad_idx.to_pylist(), bad_rows, reasons.take(bad_idx).to_pylist(), strict=True):
            problems[i] = (row, reason)
    tbl = tbl.set_column(tbl.schema.get_field_index("kind"), "kind", kinds)
    if "raw_value" not in tbl.column_names:
        tbl = tbl.append_column("raw_value", raw)
    tbl = tbl.set_column(tbl.schema.get_field_index("value"), "value", values)
    return tbl.append_column(_ROW, pa.array(range(tbl.num_rows), pa.int64())), problems


def _refuse_invalid(
    tbl: pa.Table, problems: dict[int, tuple[dict[str, Any], str]]
) -> tuple[pa.Table, list[tuple[dict[str, Any], str]]]:
    """Split the identifiers still in the batch into valid ones and the refusals to report."""
    rows = tbl.column(_ROW).to_pylist()
    refused = [problems[r] for r in rows if r in problems]
    valid = pc.invert(pc.is_in(tbl.column(_ROW), pa.array(sorted(problems), pa.int64())))
    return tbl.filter(valid).drop_columns([_ROW]), refused


def _redact(tbl: pa.Table, redactor: str) -> pa.Table:
    i = tbl.schema.get_field_index("text")
    column = tbl.column("text").combine_chunks()
    if redactor == "regex":
        from goodwill.ingest.redact import redact_array

        return tbl.set_column(i, "text", redact_array(column))
    from goodwill.ingest.redact_presidio import presidio_redactor

    return tbl.set_column(i, "text", presidio_redactor(redactor).redact_array(column))


def ingest_file(
    store: Store,
    path: str | Path,
    mapping: str | Path | Mapping,
    *,
    format: str | None = None,
    encoding: str | None = None,
    batch_size: int = 65_536,
    redact: bool = True,
    progress: Progress | None = None,
    resolve_identities: bool = True,
    redactor: str = "regex",
) -> IngestReport:
    """Ingest one file. ``redact`` removes personal data from free text before it is stored;
    turn it off only where the workspace explicitly allows raw text. ``redactor``: ``regex``
    (goodwill's patterns), ``presidio`` or ``regex+presidio`` (``pip install 'goodwill[pii]'``;
    both run spaCy: tens of texts a second, where ``regex`` does thousands)."""
    started = time.perf_counter()
    if redact and redactor != "regex":
        from goodwill.ingest.redact_presidio import presidio_redactor

        # Load the model before reading: a missing package fails before anything is written.
        presidio_redactor(redactor)
    m = mapping if isinstance(mapping, Mapping) else load_mapping(mapping)
    p = Path(path)
    reader = SourceReader(
        p,
        format=format or m.format,
        batch_size=batch_size,
        delimiter=m.delimiter,
        encoding=encoding or m.encoding,
    )
    batches = iter(reader)
    first = next(batches, None)
    # JSON Lines have no header: the first batch's keys stand for the file's columns.
    m.check_columns(reader.columns, p.name)
    sha = _sha256(p)
    previously = bool(store.rows("SELECT batch_id FROM ingest_log WHERE sha256 = ? AND mapping = ?", [sha, m.name]))
    batch_id = uuid.uuid4().hex[:16]
    report = IngestReport(str(p), m.name, batch_id, previously_ingested=previously)
    quarantine = _Quarantine(store, batch_id, p.name, m.name)
    started_at = dt.datetime.now(dt.UTC)
    customers: set[str] = set()
    written: Counter[str] = Counter()
    # Erased people must not come back with an old file; the check costs nothing while
    # nobody has been erased.
    check_suppression = suppression_count(store) > 0

    def handle_malformed(items: list[Malformed]) -> None:
        for mf in items:
            quarantine.add(mf.line, {"raw": mf.raw}, f"unreadable row: {mf.reason}")
            report.reasons[f"unreadable row: {mf.reason}"] += 1

    def process(sb: Any) -> None:
        handle_malformed(sb.malformed)
        batch: pa.RecordBatch = sb.batch
        if batch.num_rows == 0:
            return
        lines = None
        if "__line__" in batch.schema.names:
            lines = batch.column(batch.schema.get_field_index("__line__")).to_pylist()
            batch = batch.drop_columns(["__line__"])
        report.rows_read += batch.num_rows
        out = apply_mapping(m, batch)
        if out.bad_rows:
            rows = batch.take(pa.array(sorted(out.bad_rows))).to_pylist()
            for (i, reasons), row in zip(sorted(out.bad_rows.items()), rows, strict=True):
                line = lines[i] if lines else (sb.first_line + i if sb.first_line is not None else None)
                quarantine.add(line, row, "; ".join(reasons))
                for r in reasons:
                    report.reasons[_reason_kind(r)] += 1
        problems: dict[int, tuple[dict[str, Any], str]] = {}
        if "identifiers" in out.tables:
            out.tables["identifiers"], problems = _normalise_identifiers(out.tables["identifiers"])
        if check_suppression:
            out.tables = _drop_erased(store, out.tables, report)
        with store.transaction():
            for table_name, tbl in out.tables.items():
                if table_name == "identifiers":
                    tbl, refused = _refuse_invalid(tbl, problems)
                    for row, reason in refused:
                        quarantine.add(None, row, f"identifier: {reason}")
                        report.reasons[f"identifier: {_reason_kind(reason)}"] += 1
                    # only customers with new identifiers need resolving
                    customers.update(v for v in pc.unique(tbl.column("customer_id")).to_pylist() if v)
                if table_name == "interactions" and redact and "text" in tbl.column_names:
                    tbl = _redact(tbl, redactor)
                written[table_name] += store.append(table_name, tbl)
            quarantine.flush()
        if progress:
            progress(reader.bytes_read, reader.size)

    try:
        if first is not None:
            process(first)
        for sb in batches:
            process(sb)
    except SourceError:
        raise
    finally:
        quarantine.flush()
    for step in m.after:
        if step == "reply_chains":
            link_reply_chains(store)
    report.rows_quarantined = quarantine.count
    report.rows_written = dict(written)
    report.customers_touched = len(customers)
    store.append(
        "ingest_log",
        pa.Table.from_pylist(
            [
                {
                    "batch_id": batch_id,
                    "path": str(p),
                    "mapping": m.name,
                    "sha256": sha,
                    "rows_read": report.rows_read,
                    "rows_written": json.dumps(report.rows_written),
                    "rows_quarantined": report.rows_quarantined,
                    "started_at": started_at,
                    "finished_at": dt.datetime.now(dt.UTC),
                }
            ]
        ),
    )
    if resolve_identities and customers and written.get("identifiers"):
        from goodwill.ingest.identity import resolve

        resolve(store, sorted(customers))
    if progress:
        progress(reader.size, reader.size)
    report.seconds = time.perf_counter() - started
    return report


def _drop_erased(store: Store, tables: dict[str, pa.Table], report: IngestReport) -> dict[str, pa.Table]:
    erased: set[str] = set()
    ids = tables.get("identifiers")
    if ids is not None and ids.num_rows:
        # identifiers arrive here already normalised (an invalid one has no value and matches nothing)
        hit = suppressed_identifiers(store, ids.column("kind"), ids.column("value"))
        erased.update(v for v in ids.column("customer_id").filter(hit).to_pylist() if v)
    out: dict[str, pa.Table] = {}
    for name, tbl in tables.items():
        if "customer_id" not in tbl.column_names:
            out[name] = tbl
            continue
        col = tbl.column("customer_id")
        drop = suppressed(store, col)
        if erased:
            drop = pc.or_(drop, pc.fill_null(pc.is_in(col, pa.array(sorted(erased), pa.string())), False))
        n = pc.sum(pc.cast(drop, pa.int64())).as_py() or 0
        if n:
            report.rows_suppressed += n
            tbl = tbl.filter(pc.invert(drop))
        out[name] = tbl
    return out


def link_reply_chains(store: Store) -> int:
    """Give a company reply the customer of the message it answers (and a customer's
    reply to a company message the same), so a whole thread lands on one timeline."""
    linked = 0
    for _ in range(64):  # threads are shallow; the bound stops a cycle in bad data
        n = store.execute(
            "UPDATE interactions SET customer_id = p.customer_id FROM interactions p "
            "WHERE interactions.customer_id IS NULL AND interactions.in_reply_to = p.interaction_id "
            "AND p.customer_id IS NOT NULL"
        )
        m = store.execute(
            "UPDATE interactions SET customer_id = c.customer_id FROM interactions c "
            "WHERE interactions.customer_id IS NULL AND c.in_reply_to = interactions.interaction_id "
            "AND c.customer_id IS NOT NULL"
        )
        linked += max(n, 0) + max(m, 0)
        if n <= 0 and m <= 0:
            break
    return linked
