"""Erasure that really erases, as a crash-safe journaled job.

A job row in ``rights_jobs`` lists its steps; each step is idempotent and is marked
done in the same transaction as its own writes, so a process killed at any point
leaves a job that :func:`resume_jobs` (run on ``goodwill rights resume`` and before
any new erasure) carries to the same end state as an uninterrupted run.

Steps: ``suppress`` (keyed hashes of the person's ids and identifiers, so an old file
cannot bring them back), ``counts`` (only if anonymous aggregates were explicitly kept), one
``delete:<table>`` per table holding their data (children found ``via`` another table
first), ``requests`` (their rights requests keep only a keyed hash of the person), ``forget``
(the job drops the ids it needed), and ``compact``, which removes the old bytes from the
files. On PostgreSQL the touched tables are then rewritten with ``VACUUM FULL`` (a plain
VACUUM leaves the tuple bytes in the page): only the partitions that held the person's rows,
which each ``delete`` step records before it deletes (goodwill.store.pg partitions person
tables by customer). On DuckDB the deletes, ``requests`` and
``forget`` are one step, ``erase``: one transaction that also rewrites every row group whose
blocks held the old bytes (goodwill.store.duck_erase), so that ``compact`` can clean the file
in place; it drops the person documents too, a cache whose index keeps deleted keys' bytes.
Where the in-place clean is not possible the database is copied into a fresh file.
Measurements: benchmarks/results/rights.md.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from goodwill.errors import StoreError
from goodwill.ingest.suppression import add_suppressions, hash_customer_id
from goodwill.model import TABLES
from goodwill.rights import audit
from goodwill.rights._tables import (
    ERASED_COUNTS,
    RIGHTS_JOBS,
    RIGHTS_REQUESTS,
    ensure_rights_tables,
)
from goodwill.rights.person import Person, resolve_person
from goodwill.rights.scope import TableScope, identifiers_of, person_scope
from goodwill.store import Store, duck_erase
from goodwill.store.duck import DuckDBStore
from goodwill.store.pg import PostgresStore
from goodwill.understand.tables import REASONS as REASONS_TABLE

__all__ = ["ErasureResult", "compact_store", "erase_person", "pending_jobs", "resume_jobs", "run_job"]

# Tests kill the process at random points; this hook lets them stop it between steps too.
StepHook = Callable[[str], None]


@dataclass(frozen=True)
class ErasureResult:
    job_id: str
    person_ref: str
    rows: dict[str, int] = field(default_factory=dict)
    aggregates: str = "none kept"
    compacted: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "person_ref": self.person_ref,
            "rows": self.rows,
            "rows_total": sum(self.rows.values()),
            "aggregates": self.aggregates,
            "compacted": self.compacted,
        }


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _job(store: Store, job_id: str) -> dict[str, Any]:
    rows = store.rows(f"SELECT * FROM {RIGHTS_JOBS.name} WHERE job_id = ?", [job_id])
    if not rows:
        raise StoreError(f"There is no rights job {job_id!r}.")
    r = rows[0]
    r["plan"] = json.loads(r["plan"]) if r["plan"] else {}
    r["steps_done"] = json.loads(r["steps_done"])
    r["result"] = json.loads(r["result"]) if r["result"] else {}
    return r


def _mark(store: Store, job_id: str, done: list[str], result: dict[str, Any], plan: dict[str, Any] | None = None) -> None:
    if plan is None:
        store.execute(
            f"UPDATE {RIGHTS_JOBS.name} SET steps_done = ?, result = ? WHERE job_id = ?",
            [json.dumps(done), json.dumps(result), job_id],
        )
    else:
        store.execute(
            f"UPDATE {RIGHTS_JOBS.name} SET steps_done = ?, result = ?, plan = ? WHERE job_id = ?",
            [json.dumps(done), json.dumps(result), json.dumps(plan), job_id],
        )


def pending_jobs(store: Store) -> list[str]:
    ensure_rights_tables(store)
    return [r["job_id"] for r in store.rows(f"SELECT job_id FROM {RIGHTS_JOBS.name} WHERE state = 'running' ORDER BY started_at")]


def erase_person(
    store: Store,
    customer_id: str,
    *,
    request_id: str | None = None,
    keep_counts: bool = False,
    compact: bool = True,
    actor: str = "goodwill",
    hook: StepHook | None = None,
) -> ErasureResult:
    """Erase the person ``customer_id`` belongs to, everywhere, on this store.

    ``keep_counts``: keep anonymous monthly row counts per table (``erased_counts``), the
    only aggregate that survives; the choice is recorded in the job and the audit trail.
    ``compact=False`` defers the clean-up that removes the old bytes from the files (for a
    batch of erasures followed by one :func:`compact_store`): rows are gone at once, bytes
    only after compaction.
    """
    ensure_rights_tables(store)
    resume_jobs(store)
    person = resolve_person(store, customer_id)
    return run_job(store, _plan(store, person, request_id, keep_counts, compact, actor), hook=hook)


def _plan(store: Store, person: Person, request_id: str | None, keep_counts: bool, compact: bool, actor: str) -> str:
    idents = identifiers_of(store, list(person.customer_ids))
    tables = [s.table for s in person_scope(store, person, idents)]
    steps = ["suppress", *(["counts"] if keep_counts else [])]
    if isinstance(store, DuckDBStore):
        # One transaction: deletes, requests, forget and the rewrite of the row groups they touch.
        steps.append("erase")
    else:
        # reasons first: it finds the person's verbatims by their texts, before those go.
        steps += ["reasons", *(f"delete:{t}" for t in tables), "requests", "forget"]
    if compact:
        steps.append("compact")
    plan = {
        "person_id": person.person_id,
        "customer_ids": list(person.customer_ids),
        "identifiers": [list(i) for i in idents],
        "person_ref": "erased:" + hash_customer_id(store, person.person_id)[:24],
        "steps": steps,
        "keep_counts": keep_counts,
        "actor": actor,
    }
    job_id = "job_" + uuid.uuid4().hex[:12]
    store.append(
        RIGHTS_JOBS,
        pa.Table.from_pylist(
            [
                {
                    "job_id": job_id,
                    "request_id": request_id,
                    "kind": "erase",
                    "state": "running",
                    "plan": json.dumps(plan),
                    "steps_done": "[]",
                    "started_at": _now(),
                    "result": json.dumps({"rows": {}}),
                }
            ]
        ),
    )
    return job_id


def resume_jobs(store: Store, *, hook: StepHook | None = None) -> list[ErasureResult]:
    """Finish every erasure a crash left unfinished."""
    return [run_job(store, j, hook=hook) for j in pending_jobs(store)]


def _person_from_plan(plan: dict[str, Any]) -> Person:
    return Person(plan["person_id"], tuple(plan["customer_ids"]))


def run_job(store: Store, job_id: str, *, hook: StepHook | None = None) -> ErasureResult:
    job = _job(store, job_id)
    plan: dict[str, Any] = job["plan"]
    done: list[str] = job["steps_done"]
    result: dict[str, Any] = job["result"]
    request_id = job["request_id"]
    for step in plan["steps"]:
        if step in done:
            continue
        if hook:
            hook(step)
        if step == "erase":
            plan = _erase_duckdb(store, job_id, plan, done, result, request_id)
            continue
        if step == "compact":
            # Not transactional, but idempotent: a rerun scrubs (or copies) again.
            compact_store(store, touched=_touched(result))
            result = _job(store, job_id)["result"]
            with store.transaction():
                done.append(step)
                _mark(store, job_id, done, result)
            continue
        with store.transaction():
            rows = _run_step(store, step, plan, result)
            done.append(step)
            if step == "forget":
                plan = _forgotten(plan)
                _mark(store, job_id, done, result, plan)
            else:
                _mark(store, job_id, done, result)
            audit.record(store, audit.ErasureStep(request_id=request_id, actor=plan["actor"], job_id=job_id, step=step, rows=rows))
    if hook:
        hook("finish")
    with store.transaction():
        store.execute(
            f"UPDATE {RIGHTS_JOBS.name} SET state = 'done', finished_at = ? WHERE job_id = ? AND state = 'running'",
            [_now(), job_id],
        )
        if not any(s == "finished" for s in done):
            aggregates = "anonymous monthly counts kept" if plan["keep_counts"] else "none kept"
            audit.record(
                store,
                audit.ErasureFinished(request_id=request_id, actor=plan["actor"], job_id=job_id, rows=result.get("rows", {}), aggregates=aggregates),
            )
            done.append("finished")
            _mark(store, job_id, done, result)
    return ErasureResult(
        job_id,
        plan["person_ref"],
        dict(result.get("rows", {})),
        "anonymous monthly counts kept" if plan["keep_counts"] else "none kept",
        "compact" in plan["steps"],
    )


def _run_step(store: Store, step: str, plan: dict[str, Any], result: dict[str, Any]) -> int:
    ids = plan.get("customer_ids", [])
    if step == "suppress":
        return add_suppressions(store, ids, [tuple(i) for i in plan["identifiers"]], reason="erasure", ref=plan["person_ref"])
    if step == "counts":
        return _keep_counts(store, _person_from_plan(plan), [tuple(i) for i in plan["identifiers"]])
    if step.startswith("delete:"):
        table = step.split(":", 1)[1]
        scopes = {s.table: s for s in person_scope(store, _person_from_plan(plan), [tuple(i) for i in plan["identifiers"]])}
        scope = scopes.get(table)
        return 0 if scope is None else _delete(store, scope, result)
    if step == "requests":
        if not ids:
            return 0
        marks = ", ".join("?" for _ in ids)
        # Their requests stay as proof we honoured them; what they asked may hold their data.
        n = int(store.scalar(f"SELECT count(*) FROM {RIGHTS_REQUESTS.name} WHERE person_id IN ({marks})", ids))
        store.execute(
            f"UPDATE {RIGHTS_REQUESTS.name} SET person_id = ?, details = ? WHERE person_id IN ({marks})",
            [plan["person_ref"], json.dumps({"erased": True}), *ids],
        )
        if n:
            result.setdefault("rows", {})[RIGHTS_REQUESTS.name] = n
        return n
    if step == "reasons":
        return _unquote(store, _reasons_quoting(store, _person_from_plan(plan), [tuple(i) for i in plan["identifiers"]]), result)
    if step == "forget":
        return 0
    raise StoreError(f"Unknown erasure step {step!r}.")


REASONS = REASONS_TABLE.name


def _reasons_quoting(store: Store, person: Person, idents: list[tuple[str, str]]) -> list[tuple[Any, list[str]]]:
    """Contact reasons whose representative verbatims include the person's own words: each
    with the verbatims to keep (the reason, its label and its share stay; they are aggregates)."""
    if not store.table_exists(REASONS) or not store.table_exists("interactions"):
        return []
    scope = next((s for s in person_scope(store, person, idents) if s.table == "interactions"), None)
    if scope is None:
        return []
    texts = {
        str(r["text"])
        for r in store.rows(f"SELECT text FROM interactions WHERE ({scope.where}) AND text IS NOT NULL", list(scope.params))
    }
    out = []
    for r in store.rows(f"SELECT reason_id, representatives FROM {REASONS} WHERE representatives IS NOT NULL"):
        said = json.loads(r["representatives"]) or []
        keep = [v for v in said if v not in texts]
        if len(keep) != len(said):
            out.append((r["reason_id"], keep))
    return out


def _unquote(store: Store, quoting: list[tuple[Any, list[str]]], result: dict[str, Any]) -> int:
    """Write back each reason's verbatims without the person's words."""
    for reason_id, keep in quoting:
        store.execute(f"UPDATE {REASONS} SET representatives = ? WHERE reason_id = ?", [json.dumps(keep), reason_id])
    if quoting:
        result.setdefault("rows", {})[REASONS] = len(quoting)
    return len(quoting)


def _touched(result: dict[str, Any]) -> list[str]:
    """What the compaction must rewrite: the partitions the deletes recorded, else the tables
    (a job from before partitions were recorded)."""
    relations = set(result.get("relations", []))
    tables = {t for t, n in result.get("rows", {}).items() if n}
    covered = {r.rsplit("_p", 1)[0] for r in relations} | {r for r in relations if r in tables}
    return sorted(relations | (tables - covered))


def _delete(store: Store, scope: TableScope, result: dict[str, Any]) -> int:
    n = int(store.scalar(f"SELECT count(*) FROM {scope.table} WHERE {scope.where}", list(scope.params)))
    if n and isinstance(store, PostgresStore):
        # Recorded in the same transaction as the delete: afterwards the rows cannot say where they were.
        found = store.relations_of(scope.table, scope.where, list(scope.params))
        result["relations"] = sorted(set(result.get("relations", [])) | set(found))
    if n:
        store.execute(f"DELETE FROM {scope.table} WHERE {scope.where}", list(scope.params))
    result.setdefault("rows", {})[scope.table] = result.get("rows", {}).get(scope.table, 0) + n
    return n


def _keep_counts(store: Store, person: Person, idents: list[tuple[str, str]]) -> int:
    kept = 0
    for scope in person_scope(store, person, idents):
        t = TABLES.get(scope.table)
        if t is None or t.time_column is None:
            continue
        counts = store.rows(
            f"SELECT CAST(date_trunc('month', {t.time_column}) AS DATE) AS month, count(*) AS n "
            f"FROM {t.name} WHERE {scope.where} AND {t.time_column} IS NOT NULL GROUP BY 1",
            list(scope.params),
        )
        for c in counts:
            existing = store.scalar(
                f"SELECT row_count FROM {ERASED_COUNTS.name} WHERE table_name = ? AND month_start = ?", [t.name, c["month"]]
            )
            if existing is None:
                store.append(ERASED_COUNTS, pa.Table.from_pylist([{"table_name": t.name, "month_start": c["month"], "row_count": int(c["n"])}]))
            else:
                store.execute(
                    f"UPDATE {ERASED_COUNTS.name} SET row_count = row_count + ? WHERE table_name = ? AND month_start = ?",
                    [int(c["n"]), t.name, c["month"]],
                )
            kept += int(c["n"])
    return kept


def _forgotten(plan: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in plan.items() if k not in ("person_id", "customer_ids", "identifiers")}


def _erase_duckdb(
    store: Store, job_id: str, plan: dict[str, Any], done: list[str], result: dict[str, Any], request_id: str | None
) -> dict[str, Any]:
    """DuckDB: every delete, the requests' overwrite and ``forget`` in one transaction, which
    also rewrites every row group holding their old bytes (goodwill.store.duck_erase), so that
    the compaction can clean the file in place. Returns the forgotten plan."""
    assert isinstance(store, DuckDBStore)
    # The person documents are a cache (optimize() rebuilds them) whose ART index keeps the
    # bytes of deleted keys in its blocks: dropped, all of it goes to the free blocks.
    store.drop_person_docs()
    idents = [tuple(i) for i in plan["identifiers"]]
    scopes = person_scope(store, _person_from_plan(plan), idents)
    ids = list(plan["customer_ids"])
    selections: list[tuple[str, str, Sequence[Any]]] = [(s.table, s.where, s.params) for s in scopes]
    quoting = _reasons_quoting(store, _person_from_plan(plan), idents)
    if quoting:
        ids_q = [q[0] for q in quoting]
        selections.append((REASONS, f"reason_id IN ({', '.join('?' for _ in ids_q)})", ids_q))
    if ids:
        selections.append((RIGHTS_REQUESTS.name, f"person_id IN ({', '.join('?' for _ in ids)})", ids))
    # This job's own row: its plan holds the ids until now.
    selections.append((RIGHTS_JOBS.name, "job_id = ?", [job_id]))
    with store.exclusive():
        try:
            rewrite: duck_erase.ErasePlan | None = store.erase_plan(selections)
        except duck_erase.ScrubUnavailable:
            # The rows are still erased; compact_store() then copies the database instead.
            rewrite = None
        with store.transaction():
            # Found before the transaction, while the person's texts were there to match.
            rows = _unquote(store, quoting, result)
            audit.record(store, audit.ErasureStep(request_id=request_id, actor=plan["actor"], job_id=job_id, step="reasons", rows=rows))
            for scope in scopes:
                rows = _delete(store, scope, result)
                step = f"delete:{scope.table}"
                audit.record(store, audit.ErasureStep(request_id=request_id, actor=plan["actor"], job_id=job_id, step=step, rows=rows))
            for step in ("requests", "forget"):
                rows = _run_step(store, step, plan, result)
                audit.record(store, audit.ErasureStep(request_id=request_id, actor=plan["actor"], job_id=job_id, step=step, rows=rows))
            done.append("erase")
            forgotten = _forgotten(plan)
            _mark(store, job_id, done, result, forgotten)
            if rewrite is not None:
                # Last, so that the copies are of the rows as they now are.
                result["rewritten"] = store.erase_rewrite(rewrite)
                _mark(store, job_id, done, result, forgotten)
    return forgotten


def compact_store(store: Store, touched: list[str] | None = None) -> None:
    """Remove the bytes of deleted rows from the store's files.

    On DuckDB, where each erasure already rewrote the row groups that held its rows, the file
    is scrubbed in place (one call after a batch of ``erase_person(..., compact=False)`` serves
    them all) and those jobs are marked compacted; rows erased any other way make it copy the
    whole database instead."""
    if isinstance(store, PostgresStore):
        ensure_rights_tables(store)
        pending = _uncompacted(store)
        names = set(touched) if touched is not None else {n for _, res in pending for n in _touched(res)}
        names |= {RIGHTS_JOBS.name, RIGHTS_REQUESTS.name, "rights_events"}
        store.compact(sorted(names))
        _mark_compacted(store, pending if touched is None else [])
        return
    if not isinstance(store, DuckDBStore):
        store.compact(touched)
        return
    ensure_rights_tables(store)
    pending = _uncompacted(store)
    # Rows deleted without the rewrite (a job from before it existed) need the full copy.
    in_place = all("rewritten" in res for _, res in pending)
    store.compact(touched, in_place=in_place)
    _mark_compacted(store, pending)


def _uncompacted(store: Store) -> list[tuple[str, dict[str, Any]]]:
    """Erasure jobs whose deleted rows may still have bytes in the files."""
    pending = []
    for r in store.rows(f"SELECT job_id, result FROM {RIGHTS_JOBS.name} WHERE kind = 'erase'"):
        res = json.loads(r["result"]) if r["result"] else {}
        if res.get("compacted") or not ("rewritten" in res or res.get("rows")):
            continue
        pending.append((str(r["job_id"]), res))
    return pending


def _mark_compacted(store: Store, jobs: list[tuple[str, dict[str, Any]]]) -> None:
    with store.transaction():
        for job_id, res in jobs:
            res["compacted"] = True
            store.execute(f"UPDATE {RIGHTS_JOBS.name} SET result = ? WHERE job_id = ?", [json.dumps(res), job_id])
