"""Runaround: how much effort a case cost the customer, and the path it took.

A case is the company's case id, else the conversation thread, else (with neither) all of
a customer's contacts. Per case, from the interactions in order: inbound contacts, hand-offs
(the handling function changed between contacts, or a different team answered), channel
switches by the customer, contacts after the case was closed (reopens), and the time from
first contact to resolution. The effort score weighs these by ``effort`` in
``goodwill_weights.yaml``; the path lists every step as ``channel/function``. The path is
built when cases are read (worst_cases, customer_effort, case_paths), for those cases only:
building it for every case was an ordered aggregate over all contacts, most of the build's cost.

Conflicting answers are not measured: telling that two replies contradict each other needs
reading them, which the understand layer does not yet do. Reopens are the nearest fact.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from goodwill.errors import NotFoundError
from goodwill.measure.goodwill_ledger import (
    Weights,
    clean,
    in_list,
    linked_ids,
    load_weights,
    seconds,
)
from goodwill.model import Column, Table, register_table
from goodwill.store import Store

RUNAROUND_CASES = register_table(
    Table(
        "runaround_cases",
        (
            Column("case_key", "text", nullable=False, doc="case id, thread id, or customer:<id>"),
            Column("customer_id", "text", lookup=True),
            Column("contacts", "int"),
            Column("inbound", "int"),
            Column("handoffs", "int"),
            Column("channel_switches", "int"),
            Column("reopens", "int"),
            Column("first_at", "timestamp"),
            Column("last_at", "timestamp"),
            Column(
                "resolved_at",
                "timestamp",
                doc="the case's closing time; null while open or unknown",
            ),
            Column(
                "hours_to_resolution",
                "float",
                doc="first contact to resolution, or to the last contact",
            ),
            Column("effort", "float"),
            Column("rules_version", "text"),
            Column("as_of", "timestamp"),
        ),
        ("case_key",),
        "The effort each case cost its customer (rebuilt by build_runaround; paths by case_paths).",
        time_column="first_at",
        internal=True,
        sort_key=("customer_id",),
    )
)

CASE_KEY = "coalesce(i.case_id, 'thread:' || i.thread_id, 'customer:' || i.customer_id)"
STEP = (
    "coalesce(i.channel, '?') || '/' || coalesce(i.function, '?') || "
    "CASE WHEN i.direction = 'inbound' THEN '*' ELSE '' END"
)
# Keys per statement when paths are read: enough for any page of cases, short enough for any engine.
_PATH_CHUNK = 500


def build_runaround(
    store: Store, *, as_of: dt.datetime | None = None, weights: str | Path | Weights | None = None
) -> dict[str, Any]:
    """Rebuild ``runaround_cases`` from the interactions (and cases' closing times)."""
    w = weights if isinstance(weights, Weights) else load_weights(weights)
    e = w.effort
    now = (as_of or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    store.ensure_table(RUNAROUND_CASES)
    # Resolved before the first recorded contact (a review after delivery): no time to resolve.
    hours = f"greatest(0, {seconds('coalesce(x.resolved_at, x.last_at)', 'x.first_at')} / 3600.0)"
    effort = (
        f"{e['per_extra_contact']} * greatest(x.inbound - 1, 0) + {e['per_handoff']} * x.handoffs + "
        f"{e['per_channel_switch']} * x.channel_switches + {e['per_reopen']} * x.reopens + "
        f"{e['per_day_unresolved']} * least({e['max_days']}, {hours} / 24.0)"
    )
    # One pass: the case key is computed once per contact; hand-offs and switches need the
    # previous contact (two sorts: all contacts, and per direction); reopens come from the
    # per-case aggregates (the case's closing time is one value per key, the first inbound
    # contact its minimum), so no third window. The path is not built here: it is an ordered
    # aggregate over every contact and is only ever shown for a few cases (see case_paths).
    sql = (
        "INSERT INTO runaround_cases (case_key, customer_id, contacts, inbound, handoffs, channel_switches, reopens, "
        "first_at, last_at, resolved_at, hours_to_resolution, effort, rules_version, as_of) "
        f"SELECT x.case_key, x.customer_id, x.contacts, x.inbound, x.handoffs, x.channel_switches, x.reopens, "
        f"x.first_at, x.last_at, x.resolved_at, {hours}, {effort}, ?, ? FROM ("
        "SELECT y.case_key, min(y.customer_id) AS customer_id, count(*) AS contacts, sum(y.inb) AS inbound, "
        "sum(y.handoff) AS handoffs, sum(y.switch) AS channel_switches, "
        # A contact after closure reopens the case only if the customer had been in touch before it
        # closed: a review written after a delivery is not a reopen.
        "CASE WHEN min(CASE WHEN y.inb = 1 THEN y.occurred_at END) <= max(y.raw_closed) "
        "THEN sum(CASE WHEN y.inb = 1 AND y.occurred_at > y.raw_closed THEN 1 ELSE 0 END) ELSE 0 END AS reopens, "
        "min(y.occurred_at) AS first_at, max(y.occurred_at) AS last_at, "
        "max(CASE WHEN y.raw_closed <= ? THEN y.raw_closed END) AS resolved_at FROM ("
        "SELECT z.case_key, z.customer_id, z.occurred_at, z.raw_closed, z.inb, "
        "CASE WHEN z.function IS NOT NULL AND lag(z.function) OVER w_all IS NOT NULL "
        "  AND z.function <> lag(z.function) OVER w_all THEN 1 "
        "WHEN z.inb = 0 AND z.team IS NOT NULL AND lag(z.team) OVER w_dir IS NOT NULL "
        "  AND z.team <> lag(z.team) OVER w_dir THEN 1 ELSE 0 END AS handoff, "
        "CASE WHEN z.inb = 1 AND z.channel IS NOT NULL AND lag(z.channel) OVER w_dir IS NOT NULL "
        "  AND z.channel <> lag(z.channel) OVER w_dir THEN 1 ELSE 0 END AS switch FROM ("
        f"SELECT i.interaction_id, i.customer_id, i.occurred_at, {CASE_KEY} AS case_key, "
        "i.function, i.team, i.channel, c.closed_at AS raw_closed, "
        "CASE WHEN i.direction = 'inbound' THEN 1 ELSE 0 END AS inb "
        "FROM interactions i LEFT JOIN cases c ON c.case_id = i.case_id "
        "WHERE i.customer_id IS NOT NULL AND i.occurred_at <= ? AND i.direction IN ('inbound', 'outbound')"
        ") z "
        "WINDOW w_all AS (PARTITION BY z.case_key ORDER BY z.occurred_at, z.interaction_id), "
        "w_dir AS (PARTITION BY z.case_key, z.inb ORDER BY z.occurred_at, z.interaction_id)"
        ") y GROUP BY y.case_key) x"
    )
    with store.transaction():
        store.execute("DELETE FROM runaround_cases")
        n = store.execute(sql, [w.version, now, now, now])
    store.set_meta("runaround_as_of", now.isoformat())
    return {"as_of": now.isoformat(), "rules_version": w.version, "cases": n}


def need_runaround(store: Store) -> None:
    if not store.table_exists("runaround_cases") or store.get_meta("runaround_as_of") is None:
        raise NotFoundError(
            "Runaround has not been computed in this store.",
            hint="Run `goodwill runaround --refresh` (or goodwill.measure.runaround.build_runaround).",
        )


_COLS = (
    "case_key, customer_id, contacts, inbound, handoffs, channel_switches, reopens, first_at, last_at, "
    "resolved_at, hours_to_resolution, effort, rules_version"
)


def case_paths(store: Store, keys: list[str]) -> dict[str, str]:
    """Each case's path, every step as ``channel/function`` (``*`` = the customer), oldest first,
    from the same contacts and as-of date as the last build_runaround."""
    need_runaround(store)
    as_of = dt.datetime.fromisoformat(str(store.get_meta("runaround_as_of")))
    out: dict[str, str] = {}
    wanted = sorted(set(keys))
    for k in range(0, len(wanted), _PATH_CHUNK):
        chunk = wanted[k : k + _PATH_CHUNK]
        threads = [c.removeprefix("thread:") for c in chunk if c.startswith("thread:")]
        people = [c.removeprefix("customer:") for c in chunk if c.startswith("customer:")]
        # Narrow by the key's parts first (so an engine can prune), then keep exactly the keys.
        parts = [f"i.case_id IN {in_list(chunk)}"]
        if threads:
            parts.append(f"i.thread_id IN {in_list(threads)}")
        if people:
            parts.append(f"i.customer_id IN {in_list(people)}")
        rows = store.rows(
            "SELECT y.case_key, substr(string_agg(y.step, ' > ' ORDER BY y.occurred_at, y.interaction_id), 1, 2000) "
            f"AS path FROM (SELECT {CASE_KEY} AS case_key, {STEP} AS step, i.occurred_at, i.interaction_id "
            "FROM interactions i WHERE i.customer_id IS NOT NULL AND i.occurred_at <= ? "
            f"AND i.direction IN ('inbound', 'outbound') AND ({' OR '.join(parts)})) y "
            f"WHERE y.case_key IN {in_list(chunk)} GROUP BY y.case_key",
            [as_of],
        )
        out.update({r["case_key"]: r["path"] for r in rows})
    return out


def _with_paths(store: Store, cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    paths = case_paths(store, [c["case_key"] for c in cases])
    for c in cases:
        rules = c.pop("rules_version")
        c["path"] = paths.get(c["case_key"], "")
        c["rules_version"] = rules
    return cases


def worst_cases(
    store: Store, *, limit: int = 20, source: str | None = None
) -> list[dict[str, Any]]:
    """The cases that cost their customers most effort, with their paths."""
    need_runaround(store)
    where, params = "", []
    if source:
        where, params = (
            "WHERE r.customer_id IN (SELECT customer_id FROM customers WHERE source = ?)",
            [source],
        )
    return _with_paths(
        store,
        clean(
            store.rows(
                f"SELECT {_COLS} FROM runaround_cases r {where} ORDER BY effort DESC, case_key LIMIT {int(limit)}",
                params,
            )
        ),
    )


def customer_effort(store: Store, customer_id: str) -> dict[str, Any]:
    """One person's cases, most effort first, and their total effort."""
    need_runaround(store)
    ids = linked_ids(store, customer_id)
    marks = ", ".join("?" for _ in ids)
    cases = _with_paths(
        store,
        clean(
            store.rows(
                f"SELECT {_COLS} FROM runaround_cases WHERE customer_id IN ({marks}) ORDER BY effort DESC, case_key",
                ids,
            )
        ),
    )
    return {
        "customer_id": customer_id,
        "records": ids,
        "effort": sum(c["effort"] for c in cases),
        "cases": cases,
    }


def summary(store: Store, by: str = "source") -> list[dict[str, Any]]:
    """Effort per group: cases, mean effort, hand-offs, switches, reopens, median hours."""
    need_runaround(store)
    groups = {
        "source": "coalesce(cu.source, '(none)')",
        "segment": "coalesce(cu.segment, '(none)')",
        "age_band": "coalesce(cu.age_band, '(not recorded)')",
        "all": "lower('all')",
    }
    g = groups.get(by, groups["source"])
    return clean(
        store.rows(
            f"SELECT {g} AS grp, count(*) AS cases, avg(r.effort) AS mean_effort, avg(r.inbound) AS mean_inbound, "
            "sum(r.handoffs) AS handoffs, sum(r.channel_switches) AS channel_switches, sum(r.reopens) AS reopens, "
            "percentile_cont(0.5) WITHIN GROUP (ORDER BY r.hours_to_resolution) AS median_hours "
            f"FROM runaround_cases r LEFT JOIN customers cu ON cu.customer_id = r.customer_id GROUP BY {g} ORDER BY {g}"
        )
    )


__all__ = [
    "CASE_KEY",
    "RUNAROUND_CASES",
    "STEP",
    "build_runaround",
    "case_paths",
    "customer_effort",
    "need_runaround",
    "summary",
    "worst_cases",
]
