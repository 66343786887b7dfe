"""Access and portability: everything held about a person, in one zip.

The package holds, for every table with the person's rows, ``json/<table>.json`` and
``csv/<table>.csv`` (machine-readable, Art. 15 and 20), plus ``summary.md`` written for
the person: who they are to us, what we promised them and whether we kept it, their
consents as they stand, what our guard decided about them, and their requests.
``manifest.json`` lists files, row counts and when the package was made.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv

from goodwill.rights import audit
from goodwill.rights._tables import RIGHTS_EVENTS, RIGHTS_REQUESTS, ensure_rights_tables
from goodwill.rights.consent import current_consents
from goodwill.rights.person import Person, resolve_person
from goodwill.rights.scope import person_scope
from goodwill.store import Store

__all__ = ["AccessPackage", "collect", "export_person"]


@dataclass(frozen=True)
class AccessPackage:
    path: str
    person_id: str
    customer_ids: tuple[str, ...]
    rows: dict[str, int]
    sha256: str
    bytes: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "person_id": self.person_id,
            "customer_ids": list(self.customer_ids),
            "rows": self.rows,
            "sha256": self.sha256,
            "bytes": self.bytes,
        }


def collect(store: Store, person: Person) -> dict[str, pa.Table]:
    """Every row held about the person, table by table (tables with no rows left out)."""
    ensure_rights_tables(store)
    out: dict[str, pa.Table] = {}
    for scope in person_scope(store, person):
        sql, params = scope.select()
        t = store.query(sql, params)
        if t.num_rows:
            out[scope.table] = t
    # Their requests to us and the audit trail of each are about them too.
    marks = ", ".join("?" for _ in person.customer_ids)
    reqs = store.query(f"SELECT * FROM {RIGHTS_REQUESTS.name} WHERE person_id IN ({marks})", list(person.customer_ids))
    if reqs.num_rows:
        out[RIGHTS_REQUESTS.name] = reqs
        ids = reqs.column("request_id").to_pylist()
        ev = store.query(
            f"SELECT * FROM {RIGHTS_EVENTS.name} WHERE request_id IN ({', '.join('?' for _ in ids)}) ORDER BY occurred_at",
            ids,
        )
        if ev.num_rows:
            out[RIGHTS_EVENTS.name] = ev
    return out


def _json_default(v: Any) -> Any:
    if isinstance(v, dt.datetime | dt.date):
        return v.isoformat()
    if isinstance(v, bytes):
        return v.hex()
    return str(v)


def _csv(t: pa.Table) -> bytes:
    # CSV cannot carry nested or binary values; those go as their JSON text.
    cols = {}
    for name in t.column_names:
        col = t.column(name)
        if pa.types.is_nested(col.type) or pa.types.is_null(col.type):
            col = pa.array([None if v is None else json.dumps(v, default=_json_default) for v in col.to_pylist()], pa.string())
        cols[name] = col
    buf = io.BytesIO()
    pacsv.write_csv(pa.table(cols), buf)
    return buf.getvalue()


def _promise_lines(data: dict[str, pa.Table], today: dt.date) -> list[str]:
    promises = data.get("promises")
    if promises is None:
        return ["We have recorded no promises to you."]
    events = data.get("events")
    kept: dict[str, dict[str, Any]] = {}
    if events is not None:
        for e in events.select(["ref", "kind", "occurred_at"]).to_pylist():
            if e["ref"]:
                kept.setdefault(e["ref"], e)
    lines = []
    for p in sorted(promises.to_pylist(), key=lambda r: str(r.get("made_at"))):
        what = p.get("description") or p.get("action") or "a promise"
        due = p.get("due_at")
        hit = kept.get(p["promise_id"])
        if hit is not None:
            late = due is not None and hit["occurred_at"] is not None and hit["occurred_at"] > due
            status = f"done ({hit['kind']} on {hit['occurred_at']:%Y-%m-%d}{', late' if late else ''})"
        elif due is not None and due.date() < today:
            status = f"NOT KEPT: due {due:%Y-%m-%d}, nothing recorded since"
        elif due is not None:
            status = f"open, due {due:%Y-%m-%d}"
        else:
            status = "open, no date given"
        made = p.get("made_at")
        lines.append(f"- {what} (promised {made:%Y-%m-%d} by {p.get('made_by') or p.get('team') or 'us'}): {status}" if made else f"- {what}: {status}")
    return lines


def summary_text(person: Person, data: dict[str, pa.Table], today: dt.date | None = None) -> str:
    today = today or dt.date.today()
    rows = {k: v.num_rows for k, v in data.items()}
    out = [
        "# What we hold about you",
        "",
        f"Prepared on {today.isoformat()} for person {person.person_id} "
        f"(records: {', '.join(person.customer_ids)}).",
        "",
        "## What is in this package",
        "",
        *[f"- {name}: {n} row(s), in json/{name}.json and csv/{name}.csv" for name, n in sorted(rows.items())],
        "",
        "## What we promised you, and whether we kept it",
        "",
        *_promise_lines(data, today),
        "",
        "## Your consents as they stand",
        "",
    ]
    consents = data.get("consents")
    if consents is None:
        out.append("You have given us no consents, and withdrawn none.")
    else:
        for (purpose, channel), c in sorted(current_consents(consents).items()):
            out.append(f"- {purpose} by {channel}: {c['state']} since {c['recorded_at']:%Y-%m-%d} (source: {c.get('source') or 'not recorded'})")
    out += ["", "## What our guard decided about you", ""]
    decisions = data.get("decisions")
    if decisions is None:
        out.append("No decision about an action towards you is recorded.")
    else:
        for d in decisions.to_pylist():
            out.append(f"- {d['decided_at']:%Y-%m-%d}: {d['verdict']} ({d.get('reasons') or 'no reason recorded'})")
    interactions = data.get("interactions")
    if interactions is not None:
        out += ["", "## Your conversations with us", "", f"{interactions.num_rows} recorded; every one is in json/interactions.json."]
    if RIGHTS_REQUESTS.name in data:
        out += ["", "## Your requests to us", ""]
        for r in data[RIGHTS_REQUESTS.name].to_pylist():
            out.append(f"- {r['kind']} received {r['received_at']:%Y-%m-%d}: {r['status']}")
    return "\n".join(out) + "\n"


def export_person(
    store: Store,
    customer_id: str,
    out: str | Path,
    *,
    request_id: str | None = None,
    actor: str = "goodwill",
    today: dt.date | None = None,
) -> AccessPackage:
    """Write the person's access package as a zip at ``out`` (a file, or a folder to put it in)."""
    person = resolve_person(store, customer_id)
    data = collect(store, person)
    path = Path(out)
    if path.is_dir():
        path = path / f"goodwill-access-{person.person_id}-{(today or dt.date.today()).isoformat()}.zip"
    rows = {k: v.num_rows for k, v in data.items()}
    manifest = {
        "person_id": person.person_id,
        "customer_ids": list(person.customer_ids),
        "made_at": dt.datetime.now(dt.UTC).isoformat(),
        "request_id": request_id,
        "tables": rows,
        "formats": {"json": "one array of objects per table", "csv": "one file per table, header row"},
    }
    tmp = path.with_name(path.name + ".part")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        z.writestr("summary.md", summary_text(person, data, today))
        z.writestr("manifest.json", json.dumps(manifest, indent=2))
        for name, t in sorted(data.items()):
            z.writestr(f"json/{name}.json", json.dumps(t.to_pylist(), default=_json_default, ensure_ascii=False))
            z.writestr(f"csv/{name}.csv", _csv(t))
    tmp.replace(path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    audit.record(store, audit.DataExported(request_id=request_id, actor=actor, rows=rows, sha256=digest))
    return AccessPackage(str(path), person.person_id, person.customer_ids, rows, digest, path.stat().st_size)
