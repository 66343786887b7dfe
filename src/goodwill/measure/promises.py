"""The promise ledger: what we promised, whether we kept it, and whether the gap is narrowing.

Three sources of promises land in the one ``promises`` table:

- structured ones arrive with the facts (Olist's estimated delivery date, by its mapping);
- booked, statutory and service-level ones are *derived* from stored facts by YAML rules
  (``promise_rules.yaml``: call backs booked in a slot, engineer visits in a window, refunds
  within N days, CFPB 15 days, FCA 8 weeks, one month for a data request), merged with the
  workspace's own (``.goodwill/promise_rules.yaml``);
- heard ones are read from what the company's people wrote
  (:mod:`goodwill.understand.heard_promises`).

Reconciliation (``reconcile_rules.yaml``) runs in SQL on the store's engine and writes
one row per promise into ``promise_status``: kept, kept_late (by how much), broken,
overdue, open, or repeat (a promise made again for the same thing while the first was
unkept: it counts once, as the first one's chain). Each row names the rule and the
fact that decided it, so every number the gap shows leads back to a promise id and an
event id.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import math
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pyarrow as pa

from goodwill.config import load_yaml
from goodwill.errors import ConfigError, NotFoundError
from goodwill.measure.timers import load_policies
from goodwill.model import Column, Table, register_table
from goodwill.model.calendar import WorkingCalendar, add_months
from goodwill.store import Store
from goodwill.understand.heard_promises import read_commitments

STATUSES = ("kept", "kept_late", "broken", "overdue", "open", "repeat")
DECIDED = ("kept", "kept_late", "broken", "overdue")

PROMISE_STATUS = register_table(
    Table(
        "promise_status",
        (
            Column("promise_id", "text", nullable=False),
            Column("rule", "text", doc="the reconcile rule that decided it"),
            Column("status", "text", doc=", ".join(STATUSES)),
            Column(
                "deadline",
                "timestamp",
                doc="the instant it fell due (end of day for day-level dates)",
            ),
            Column(
                "due_implied", "bool", doc="no deadline was stated; the rule's implied one was used"
            ),
            Column("kept_at", "timestamp"),
            Column(
                "evidence_id", "text", doc="the event, interaction or case that kept or broke it"
            ),
            Column("evidence_kind", "text"),
            Column("late_hours", "float"),
            Column("late_days", "int", doc="calendar days late, in the rule's time zone"),
            Column("chain_id", "text", doc="the first promise of a repeated chain"),
            Column("repeats", "int", doc="how many times it was promised again"),
            Column("as_of", "timestamp"),
            Column("rules_version", "text"),
        ),
        ("promise_id",),
        "How each promise stands, with the fact that decided it (rebuilt by reconcile).",
        customer_column=None,
        internal=True,
    )
)


# -- rules --------------------------------------------------------------------------------


# A workspace declares its own rules in these files (or names a file with --promise-rules /
# --reconcile-rules); they are merged over the packaged defaults, rule by rule.
WORKSPACE_DIR = Path(".goodwill")
_PROMISE_COLUMNS = (
    "customer_id",
    "case_id",
    "interaction_id",
    "made_at",
    "made_by",
    "product",
    "team",
    "channel",
    "function",
    "source",
)
_DUE_UNITS = ("days", "business_days", "weeks", "months", "hours", "at")


def _rules_file(name: str, path: str | Path | None) -> tuple[dict[str, Any], str]:
    data, where = load_yaml("goodwill.measure", name, path)
    if not isinstance(data, dict) or not isinstance(data.get("rules"), list):
        raise ConfigError(
            f"{where} has no list of rules.", hint="Start the file with 'rules:' and a list."
        )
    for i, r in enumerate(data["rules"]):
        if not isinstance(r, dict):
            raise ConfigError(
                f"Rule {i + 1} in {where} is not a mapping.",
                hint="Write each rule as 'id: ...' followed by its keys.",
            )
    return data, where


def workspace_rules_path(name: str) -> Path | None:
    """The workspace's own rules file (``.goodwill/<name>`` in the current folder), if any."""
    p = WORKSPACE_DIR / name
    return p if p.is_file() else None


def _load_yaml(
    name: str, path: str | Path | None, *, workspace_first: bool
) -> tuple[dict[str, Any], str, str]:
    """The packaged rules with the workspace's merged over them: (data, where, version).

    A workspace rule with the id of a packaged one changes only the keys it gives
    (``enabled: false`` drops the rule); a rule with a new id is added, before the packaged
    ones when ``workspace_first`` (reconcile: the first matching rule decides, so a company's
    own rule must come first). ``replace_defaults: true`` at the top uses the file alone.
    """
    base, where = _rules_file(name, None)
    version = str(base.get("version", ""))
    path = path if path is not None else workspace_rules_path(name)
    if path is None:
        return base, where, version
    own, own_where = _rules_file(name, path)
    own_version = str(own.get("version", "")) or hashlib.sha256(repr(own).encode()).hexdigest()[:12]
    if own.get("replace_defaults"):
        rules = [dict(r) for r in own["rules"]]
    else:
        merged = {str(r.get("id", f"rule{i + 1}")): dict(r) for i, r in enumerate(base["rules"])}
        added = []
        for i, r in enumerate(own["rules"]):
            if "id" not in r:
                raise ConfigError(
                    f"Rule {i + 1} in {own_where} has no id.",
                    hint="Give every workspace rule an id: a packaged id changes that rule, "
                    "a new id adds one.",
                )
            rid = str(r["id"])
            if rid in merged:
                merged[rid].update(r)
            else:
                added.append(dict(r))
        kept = list(merged.values())
        rules = [*added, *kept] if workspace_first else [*kept, *added]
    rules = [r for r in rules if r.get("enabled", True) is not False]
    return {**own, "rules": rules}, own_where, f"{version}+{own_version}"


@dataclass(frozen=True)
class PromiseRule:
    id: str
    action: str
    kind: str
    source_sql: str
    where: str
    key: str
    columns: dict[str, str]
    due: dict[str, Any]
    description: str = ""
    window_start: str | None = None
    # days, weeks and months are counted on the calendar of this zone (a DST change in between
    # moves the UTC instant, not the local hour)
    timezone: str = "UTC"


def load_promise_rules(path: str | Path | None = None) -> tuple[list[PromiseRule], str]:
    """The promise rules in force: packaged, with the workspace's merged over them."""
    data, where, version = _load_yaml("promise_rules.yaml", path, workspace_first=False)
    rules = []
    for i, r in enumerate(data["rules"]):
        missing = [k for k in ("id", "action", "from", "key", "made_at", "due") if k not in r]
        if missing:
            raise ConfigError(
                f"Promise rule {r.get('id', i + 1)!r} in {where} lacks {', '.join(missing)}.",
                hint="Each rule needs id, action, from, key, made_at and due.",
            )
        due = dict(r["due"]) if isinstance(r["due"], dict) else {}
        units = [k for k in due if k in _DUE_UNITS]
        if (
            len(units) != 1
            or set(due) - {units[0], "calendar"}
            or ("calendar" in due and units[0] != "business_days")
        ):
            raise ConfigError(
                f"Promise rule {r['id']!r}: due must be one of days, business_days, weeks, "
                "months, hours or at.",
                hint="e.g. due: {days: 15}; a number, or SQL giving one per row "
                "(due: {days: \"CAST(CAST(e.attrs AS JSON) ->> 'within_days' AS INTEGER)\"}); "
                "at: SQL giving the deadline itself.",
            )
        cols = {k: str(r[k]) for k in _PROMISE_COLUMNS if k in r}
        tz = str(r.get("timezone", "UTC"))
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(
                f"Promise rule {r['id']!r}: {tz!r} is not a time zone.",
                hint="Use an IANA name such as America/New_York or Europe/London.",
            ) from None
        rules.append(
            PromiseRule(
                str(r["id"]),
                str(r["action"]),
                str(r.get("kind", "statutory")),
                str(r["from"]),
                str(r.get("where", "1=1")),
                str(r["key"]),
                cols,
                due,
                str(r.get("description", "")),
                str(r["window_start"]) if r.get("window_start") else None,
                tz,
            )
        )
    return rules, version


@dataclass(frozen=True)
class ReconcileRule:
    id: str
    match: dict[str, list[str]]
    events: dict[str, Any] | None
    interactions: dict[str, Any] | None
    case_closed: bool
    case_flag: str | None
    granularity: str  # instant or day
    timezone: str
    implied_days: float | None
    give_up_days: float
    repeat_window_days: float | None
    # An appointment: only a keeper at or after the promise's window_start counts.
    window: bool = False


def load_reconcile_rules(path: str | Path | None = None) -> tuple[list[ReconcileRule], str]:
    """The reconcile rules in force: the workspace's own first, then the packaged ones."""
    data, where, version = _load_yaml("reconcile_rules.yaml", path, workspace_first=True)
    out = []
    for i, r in enumerate(data["rules"]):
        rid = str(r.get("id", f"rule{i + 1}"))
        kept = dict(r.get("kept_by") or {})
        if not kept:
            raise ConfigError(
                f"Reconcile rule {rid!r} in {where} says nothing keeps it.",
                hint="Add kept_by: events, interactions, case_closed or case_flag.",
            )
        for part in ("events", "interactions"):
            if isinstance(kept.get(part), dict) and True in kept[part]:
                # YAML 1.1 reads a bare `on:` key as the boolean true
                kept[part] = {("on" if k is True else k): v for k, v in kept[part].items()}
        unknown = set(kept) - {"events", "interactions", "case_closed", "case_flag"}
        if unknown:
            raise ConfigError(
                f"Reconcile rule {rid!r}: unknown kept_by {sorted(unknown)}.",
                hint="Use events, interactions, case_closed or case_flag.",
            )
        for part in ("events", "interactions"):
            for on in (kept.get(part) or {}).get("on", []):
                if on not in ("ref", "case_id", "customer_id"):
                    raise ConfigError(
                        f"Reconcile rule {rid!r}: cannot match {part} on {on!r}.",
                        hint="Match on ref, case_id or customer_id.",
                    )
        flag = kept.get("case_flag")
        if flag is not None and not str(flag).isidentifier():
            raise ConfigError(
                f"Reconcile rule {rid!r}: {flag!r} is not a column name.",
                hint="Name a boolean column of cases, e.g. timely.",
            )
        match = {
            k: [str(x) for x in (v if isinstance(v, list) else [v])]
            for k, v in (r.get("match") or {}).items()
        }
        bad = set(match) - {"action", "kind", "source"}
        if bad:
            raise ConfigError(
                f"Reconcile rule {rid!r}: cannot match on {sorted(bad)}.",
                hint="Match on action, kind or source.",
            )
        dl = r.get("deadline") or {}
        out.append(
            ReconcileRule(
                rid,
                match,
                kept.get("events"),
                kept.get("interactions"),
                "case_closed" in kept,
                str(flag) if flag is not None else None,
                str(dl.get("granularity", "instant")),
                str(dl.get("timezone", "UTC")),
                _float(dl.get("implied_days")),
                float(r.get("give_up_days", 30)),
                _float(r.get("repeat_window_days")),
                bool(dl.get("window", False)),
            )
        )
    return out, version


def _float(v: Any) -> float | None:
    return None if v is None else float(v)


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _in(col: str, values: Sequence[str]) -> str:
    return f"{col} IN ({', '.join(_lit(v) for v in values)})"


# -- deriving structured promises ----------------------------------------------------------


def derive_promises(
    store: Store, path: str | Path | None = None, *, timers: str | Path | None = None
) -> dict[str, int]:
    """Derive structured, statutory and service-level promises from stored facts; returns new
    rows per rule."""
    rules, version = load_promise_rules(path)
    calendars = {p.calendar.name: p.calendar for p in load_policies(timers).values()}
    added: dict[str, int] = {}
    for rule in rules:
        exprs = dict(rule.columns)
        unit, amount = next((k, v) for k, v in rule.due.items() if k != "calendar")
        if isinstance(amount, str):  # SQL: the amount (or, for `at`, the deadline) per row
            exprs["due_value"] = amount
        if rule.window_start:
            exprs["window_start"] = rule.window_start
        cols = ", ".join(f"{expr} AS {name}" for name, expr in exprs.items())
        sql = f"SELECT {rule.key} AS k, {cols} FROM {rule.source_sql} WHERE {rule.where}"
        try:
            tbl = store.query(sql)
        except Exception as exc:  # the rule's SQL is the workspace's own; say which rule broke
            raise ConfigError(
                f"Promise rule {rule.id!r} failed: {exc}", hint="Check its from/where/column SQL."
            ) from exc
        rows = [r for r in tbl.to_pylist() if r.get("made_at") is not None and r["k"] is not None]
        if not rows:
            added[rule.id] = 0
            continue
        out = []
        for r in rows:
            made = r["made_at"]
            value = r.get("due_value") if isinstance(amount, str) else amount
            due_at = (
                _due(made, {**rule.due, unit: value}, calendars, rule.timezone)
                if value is not None
                else None
            )
            attrs: dict[str, Any] = {"rule": rule.id, "rules_version": version}
            if r.get("window_start") is not None:
                attrs["window_start"] = _utc(r["window_start"]).isoformat()
            out.append(
                {
                    "promise_id": f"{rule.id}:{r['k']}",
                    "customer_id": r.get("customer_id"),
                    "case_id": r.get("case_id"),
                    "interaction_id": r.get("interaction_id"),
                    "action": rule.action,
                    "description": rule.description,
                    "made_at": made,
                    "due_at": due_at,
                    "made_by": r.get("made_by") or r.get("team"),
                    "team": r.get("team"),
                    "function": r.get("function"),
                    "channel": r.get("channel"),
                    "product": r.get("product"),
                    "kind": rule.kind,
                    "evidence": f"rule {rule.id} (promise_rules {version}) on {r['k']}",
                    "confidence": 1.0,
                    "source": r.get("source") or "promise_rules",
                    "attrs": json.dumps(attrs),
                }
            )
        added[rule.id] = store.append(
            "promises", pa.Table.from_pylist(out, schema=_promise_schema())
        )
    return added


def _utc(moment: dt.datetime | str) -> dt.datetime:
    if isinstance(moment, str):
        moment = dt.datetime.fromisoformat(moment)
    return (moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)


def _promise_schema() -> pa.Schema:
    from goodwill.model import PROMISES

    return PROMISES.arrow_schema()


def _due(
    made: dt.datetime,
    due: Mapping[str, Any],
    calendars: Mapping[str, WorkingCalendar],
    timezone: str = "UTC",
) -> dt.datetime:
    if "at" in due:
        return _utc(due["at"])
    if "hours" in due:
        return made + dt.timedelta(hours=float(due["hours"]))
    # wall-clock arithmetic on the local calendar: "15 days" from midnight is midnight
    local = _utc(made).astimezone(ZoneInfo(timezone))
    if "days" in due:
        return (local + dt.timedelta(days=float(due["days"]))).astimezone(dt.UTC)
    if "weeks" in due:
        return (local + dt.timedelta(weeks=float(due["weeks"]))).astimezone(dt.UTC)
    if "months" in due:
        d = add_months(local.date(), int(due["months"]))
        return dt.datetime.combine(d, local.timetz()).astimezone(dt.UTC)
    if "business_days" in due:
        name = str(due.get("calendar", "us_business"))
        if name not in calendars:
            raise ConfigError(
                f"Calendar {name!r} is not defined.",
                hint=f"Known calendars: {', '.join(sorted(calendars))}.",
            )
        cal = calendars[name]
        local = made.astimezone(cal.tz)
        d = cal.add_business_days(local.date(), int(due["business_days"]))
        return dt.datetime.combine(d, local.timetz()).astimezone(dt.UTC)
    raise ConfigError(
        f"Unknown due {dict(due)!r}.", hint="Use days, business_days, weeks, months, hours or at."
    )


# -- heard promises ------------------------------------------------------------------------


@dataclass
class HeardReport:
    messages: int = 0
    promises: int = 0
    added: int = 0
    reassurances: int = 0


def extract_heard_promises(
    store: Store, *, source: str | None = None, batch_size: int = 20_000
) -> HeardReport:
    """Read every outbound message with text and record each concrete promise in it.

    Vague reassurance and conditional offers are counted, not recorded as promises.
    """
    rep = HeardReport()
    params: list[Any] = []
    where = "direction = 'outbound' AND text IS NOT NULL"
    if source:
        where += " AND source = ?"
        params.append(source)
    sql = (
        "SELECT interaction_id, customer_id, case_id, occurred_at, channel, function, author, agent, team, "
        f"product, text, source FROM interactions WHERE {where}"
    )
    schema = _promise_schema()
    for batch in store.scan(sql, params, batch_size=batch_size):
        out = []
        for r in batch.to_pylist():
            rep.messages += 1
            reading = read_commitments(r["text"], r["occurred_at"])
            rep.reassurances += reading.vague
            for n, p in enumerate(reading.promises):
                rep.promises += 1
                out.append(
                    {
                        "promise_id": f"heard:{r['interaction_id']}:{n}",
                        "customer_id": r["customer_id"],
                        "case_id": r["case_id"],
                        "interaction_id": r["interaction_id"],
                        "action": p.action,
                        "description": p.evidence,
                        "made_at": r["occurred_at"],
                        "due_at": p.due_at,
                        "made_by": reading.signature or r["agent"] or r["author"],
                        "team": r["team"] or r["author"],
                        # the function the words name (a technician: field), else the message's own
                        "function": p.function or r["function"],
                        "channel": r["channel"],
                        "product": r["product"],
                        "kind": "heard",
                        "evidence": p.evidence,
                        "confidence": p.confidence,
                        "source": r["source"],
                        "attrs": json.dumps(
                            {
                                "span": [p.start, p.end],
                                "due_text": p.due_text,
                                "made_by_role": p.made_by,
                                "made_by_text": p.made_by_text,
                            },
                            ensure_ascii=False,
                        ),
                    }
                )
        if out:
            rep.added += store.append("promises", pa.Table.from_pylist(out, schema=schema))
    return rep


# -- reconciliation -----------------------------------------------------------------------


def _deadline_sql(rule: ReconcileRule) -> str:
    base = "p.due_at"
    if rule.implied_days is not None:
        base = f"coalesce(p.due_at, p.made_at + INTERVAL '{int(rule.implied_days * 24)} hours')"
    if rule.granularity == "day":
        tz = _lit(rule.timezone)
        return f"timezone({tz}, CAST(CAST(timezone({tz}, {base}) AS DATE) + 1 AS TIMESTAMP))"
    return base


# Where an appointment's window opens (derived promises keep it in attrs); portable SQL.
_WINDOW_START = "CAST(CAST(p.attrs AS JSON) ->> 'window_start' AS TIMESTAMPTZ)"


def _keepers_sql(rule: ReconcileRule, promises: str) -> str:
    parts = []
    # Before an appointment's window a call or a visit does not keep it (the customer was
    # told to expect it later); any other promise can be kept from the moment it is made.
    start = f"coalesce({_WINDOW_START}, p.made_at)" if rule.window else "p.made_at"
    if rule.events:
        kinds = _in("e.kind", [str(k) for k in rule.events.get("kinds", [])])
        for on in rule.events.get("on", ["ref"]):
            if on == "ref":
                cond = "e.ref = p.promise_id"
                if rule.window:
                    cond += f" AND e.occurred_at >= {start}"
            else:
                cond = f"e.{on} = p.{on} AND e.occurred_at >= {start}"
            parts.append(
                f"SELECT p.promise_id AS pid, e.occurred_at AS k_at, e.event_id AS fid, e.kind AS fkind "
                f"FROM {promises} p JOIN events e ON {cond} WHERE {kinds} AND e.occurred_at <= ?"
            )
    if rule.interactions:
        direction = _lit(str(rule.interactions.get("direction", "outbound")))
        chans = rule.interactions.get("channels")
        ch = f" AND {_in('i.channel', [str(c) for c in chans])}" if chans else ""
        gap = int(rule.interactions.get("after_minutes", 10))
        after = f"p.made_at + INTERVAL '{gap} minutes'"
        if rule.window:
            after = f"coalesce({_WINDOW_START}, {after})"
        for on in rule.interactions.get("on", ["customer_id"]):
            parts.append(
                f"SELECT p.promise_id AS pid, i.occurred_at AS k_at, i.interaction_id AS fid, 'interaction' AS fkind "
                f"FROM {promises} p JOIN interactions i ON i.{on} = p.{on} "
                f"AND i.occurred_at >= {after} "
                f"WHERE i.direction = {direction}{ch} AND i.occurred_at <= ?"
            )
    if rule.case_closed:
        parts.append(
            f"SELECT p.promise_id AS pid, c.closed_at AS k_at, c.case_id AS fid, 'case_closed' AS fkind "
            f"FROM {promises} p JOIN cases c ON c.case_id = p.case_id "
            f"WHERE c.closed_at IS NOT NULL AND c.closed_at >= p.made_at AND c.closed_at <= ?"
        )
    return " UNION ALL ".join(parts)


@dataclass
class ReconcileReport:
    as_of: dt.datetime
    rules_version: str
    by_rule: dict[str, int] = field(default_factory=dict)
    by_status: dict[str, int] = field(default_factory=dict)
    chains: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of,
            "rules_version": self.rules_version,
            "by_rule": self.by_rule,
            "by_status": self.by_status,
            "repeat_chains": self.chains,
        }


def reconcile(
    store: Store, path: str | Path | None = None, *, as_of: dt.datetime | None = None
) -> ReconcileReport:
    """Rebuild ``promise_status`` from ``promises`` and the facts that keep them."""
    rules, version = load_reconcile_rules(path)
    now = (as_of or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    store.ensure_table(PROMISE_STATUS)
    rep = ReconcileReport(now, version)
    with store.transaction():
        store.execute("DELETE FROM promise_status")
        claimed: list[str] = []
        for rule in rules:
            cond = " AND ".join(_in(f"p.{k}", v) for k, v in rule.match.items()) or "1=1"
            unclaimed = " AND ".join(f"NOT ({c})" for c in claimed)
            sel = f"{cond} AND {unclaimed}" if unclaimed else cond
            sel += f" AND p.made_at <= CAST({_lit(now.isoformat())} AS TIMESTAMPTZ)"
            claimed.append(f"coalesce({cond}, false)")
            # A rule no promise falls under costs nothing: without this check its joins would
            # still read every event (50M at scale) to keep nothing.
            if not store.rows(f"SELECT 1 AS x FROM promises p WHERE {sel} LIMIT 1"):
                rep.by_rule[rule.id] = 0
                continue
            rep.by_rule[rule.id] = _reconcile_rule(store, rule, sel, now, version)
        # After every rule: a call back booked in the CRM and "we'll call you back" heard in a reply
        # fall under different rules and are still one promise made twice.
        windows = {
            r.id: r.repeat_window_days
            for r in rules
            if r.repeat_window_days is not None and rep.by_rule.get(r.id)
        }
        if windows:
            rep.chains += _mark_repeats(store, windows)
    store.set_meta("promise_ledger_as_of", now.isoformat())
    for r in store.rows("SELECT status, count(*) AS n FROM promise_status GROUP BY status"):
        rep.by_status[r["status"]] = int(r["n"])
    return rep


def _reconcile_rule(
    store: Store, rule: ReconcileRule, where: str, now: dt.datetime, version: str
) -> int:
    promises = f"(SELECT * FROM promises p WHERE {where})"
    deadline = _deadline_sql(rule)
    tz = _lit(rule.timezone)
    implied = "p.due_at IS NULL" if rule.implied_days is not None else "false"
    cols = "promise_id, rule, status, deadline, due_implied, kept_at, evidence_id, evidence_kind, late_hours, late_days, chain_id, repeats, as_of, rules_version"
    head = f"INSERT INTO promise_status ({cols}) "
    if rule.case_flag is not None:
        sql = (
            head + f"SELECT p.promise_id, {_lit(rule.id)}, "
            f"CASE WHEN c.{rule.case_flag} IS NULL OR c.status = 'open' THEN "
            f"  CASE WHEN p.due_at IS NULL OR p.due_at >= ? THEN 'open' ELSE 'overdue' END "
            f"WHEN c.{rule.case_flag} THEN 'kept' ELSE 'broken' END, "
            f"p.due_at, false, NULL, c.case_id, 'cases.{rule.case_flag}', NULL, NULL, NULL, 0, ?, ? "
            f"FROM {promises} p LEFT JOIN cases c ON c.case_id = p.case_id"
        )
        return store.execute(sql, [now, now, version])
    keepers = _keepers_sql(rule, promises)
    n_params = keepers.count("?")
    give_up = f"INTERVAL '{int(rule.give_up_days * 24)} hours'"
    sql = (
        head + f"SELECT p.promise_id, {_lit(rule.id)}, "
        f"CASE WHEN k.k_at IS NOT NULL AND (d.deadline IS NULL OR k.k_at <= d.deadline) THEN 'kept' "
        f"WHEN k.k_at IS NOT NULL THEN 'kept_late' "
        f"WHEN d.deadline IS NULL OR d.deadline >= ? THEN 'open' "
        f"WHEN d.deadline + {give_up} < ? THEN 'broken' ELSE 'overdue' END, "
        f"d.deadline, {implied}, k.k_at, k.fid, k.fkind, "
        f"CASE WHEN k.k_at > d.deadline THEN extract(epoch FROM (k.k_at - d.deadline)) / 3600.0 END, "
        f"CASE WHEN k.k_at > d.deadline THEN CAST(timezone({tz}, k.k_at) AS DATE) - CAST(timezone({tz}, d.deadline - INTERVAL '1 microsecond') AS DATE) END, "
        f"NULL, 0, ?, ? "
        f"FROM {promises} p "
        f"JOIN (SELECT p.promise_id AS pid, {deadline} AS deadline FROM {promises} p) d ON d.pid = p.promise_id "
        f"LEFT JOIN (SELECT pid, k_at, fid, fkind FROM (SELECT pid, k_at, fid, fkind, "
        f"  row_number() OVER (PARTITION BY pid ORDER BY k_at, fid) AS rn FROM ({keepers}) u) r WHERE rn = 1) k "
        f"ON k.pid = p.promise_id"
    )
    return store.execute(sql, [now, now, now, version, *([now] * n_params)])


def _mark_repeats(store: Store, windows: Mapping[str, float]) -> int:
    """Collapse a promise made again (same customer, same action, within the earlier one's rule's
    window, the earlier one unkept when the next was made) into one chain headed by the first."""
    marks = ", ".join("?" for _ in windows)
    rows = store.rows(
        "SELECT promise_id, customer_id, action, made_at, status, deadline, kept_at, evidence_id, evidence_kind, "
        "late_hours, late_days, rule FROM (SELECT p.promise_id, p.customer_id, p.action, p.made_at, s.status, "
        "s.deadline, s.kept_at, s.evidence_id, s.evidence_kind, s.late_hours, s.late_days, s.rule, "
        "count(*) OVER (PARTITION BY p.customer_id, p.action) AS n FROM promises p "
        "JOIN promise_status s ON s.promise_id = p.promise_id "
        f"WHERE s.rule IN ({marks}) AND p.customer_id IS NOT NULL) x WHERE n > 1 "
        "ORDER BY customer_id, action, made_at, promise_id",
        list(windows),
    )
    chains: list[list[dict[str, Any]]] = []
    for r in rows:
        last = chains[-1][-1] if chains else None
        same = (
            last is not None
            and last["customer_id"] == r["customer_id"]
            and last["action"] == r["action"]
            and r["made_at"] - last["made_at"] <= dt.timedelta(days=windows[last["rule"]])
            and (last["kept_at"] is None or last["kept_at"] > r["made_at"])
        )
        if same:
            chains[-1].append(r)
        else:
            chains.append([r])
    n_chains = 0
    for chain in chains:
        if len(chain) < 2:
            continue
        n_chains += 1
        head, final = chain[0], chain[-1]
        lapsed = any(
            a["deadline"] is not None and a["deadline"] < b["made_at"]
            for a, b in itertools.pairwise(chain)
        )
        status = "broken" if lapsed else final["status"]
        store.execute(
            "UPDATE promise_status SET status = ?, kept_at = ?, evidence_id = ?, evidence_kind = ?, late_hours = ?, "
            "late_days = ?, chain_id = ?, repeats = ? WHERE promise_id = ?",
            [
                status,
                final["kept_at"],
                final["evidence_id"],
                final["evidence_kind"],
                final["late_hours"],
                final["late_days"],
                head["promise_id"],
                len(chain) - 1,
                head["promise_id"],
            ],
        )
        for r in chain[1:]:
            store.execute(
                "UPDATE promise_status SET status = 'repeat', chain_id = ? WHERE promise_id = ?",
                [head["promise_id"], r["promise_id"]],
            )
    return n_chains


# -- the gap and its trend -------------------------------------------------------------------

DIMENSIONS = {
    "customer": "p.customer_id",
    "team": "coalesce(p.team, p.made_by)",
    "made_by": "p.made_by",
    "function": "p.function",
    "product": "p.product",
    "channel": "p.channel",
    "source": "p.source",
    "kind": "p.kind",
    "action": "p.action",
    "rule": "s.rule",
    "week": "CAST(date_trunc('week', coalesce(s.deadline, p.made_at)) AS DATE)",
    "all": "lower('all')",  # a bare constant may not be grouped on in PostgreSQL
}


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval for a proportion (sound at 0, 1 and small n)."""
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


@dataclass(frozen=True)
class Trend:
    direction: str  # narrowing, widening, no clear change, too little data
    per_week: float | None  # change in kept rate per week (percentage points / 100)
    low: float | None
    high: float | None
    weeks: int
    overdispersion: float | None

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def trend(
    weeks: Sequence[dt.date],
    kept: Sequence[int],
    decided: Sequence[int],
    *,
    min_weeks: int = 4,
    min_n: int = 30,
) -> Trend:
    """Is the kept rate rising (gap narrowing) or falling (widening) week by week?

    Binomial logistic regression of kept on week, fitted to the weekly counts by IRLS.
    When weeks vary more than binomial noise allows (promises cluster: one bad week of
    storms), the standard error is scaled by the Pearson dispersion (quasi-binomial), so
    clustered noise is not mistaken for change. The slope and its 95% interval are
    reported on the rate scale at the mean rate.
    """
    pts = [(w, k, n) for w, k, n in zip(weeks, kept, decided, strict=True) if n > 0]
    total = sum(n for _, _, n in pts)
    if len(pts) < min_weeks or total < min_n:
        return Trend("too little data", None, None, None, len(pts), None)
    if sum(k for _, k, _ in pts) in (0, total):
        # every week all kept (or none): no variation to fit a slope to
        return Trend("no clear change", 0.0, 0.0, 0.0, len(pts), None)
    w0 = min(w for w, _, _ in pts)
    x = np.array([(w - w0).days / 7 for w, _, _ in pts], dtype=float)
    y = np.array([k for _, k, _ in pts], dtype=float)
    n = np.array([n for _, _, n in pts], dtype=float)
    xc = x - x.mean()
    X = np.column_stack([np.ones_like(xc), xc])
    beta = np.array([math.log((y.sum() + 0.5) / (n.sum() - y.sum() + 0.5)), 0.0])
    for _ in range(50):
        eta = X @ beta
        mu = 1 / (1 + np.exp(-np.clip(eta, -30, 30)))
        w = np.clip(n * mu * (1 - mu), 1e-9, None)
        z = eta + (y - n * mu) / w
        new = np.linalg.solve(X.T @ (X * w[:, None]), X.T @ (w * z))
        if np.max(np.abs(new - beta)) < 1e-10:
            beta = new
            break
        beta = new
    mu = 1 / (1 + np.exp(-np.clip(X @ beta, -30, 30)))
    w = np.clip(n * mu * (1 - mu), 1e-9, None)
    cov = np.linalg.inv(X.T @ (X * w[:, None]))
    resid = (y - n * mu) / np.sqrt(w)
    df = len(pts) - 2
    phi = float(np.sum(resid**2) / df) if df > 0 else 1.0
    se = math.sqrt(cov[1, 1] * max(phi, 1.0))
    pbar = float(y.sum() / n.sum())
    scale = pbar * (1 - pbar)
    b, lo, hi = beta[1] * scale, (beta[1] - 1.96 * se) * scale, (beta[1] + 1.96 * se) * scale
    if lo > 0:
        direction = "narrowing"
    elif hi < 0:
        direction = "widening"
    else:
        direction = "no clear change"
    return Trend(direction, float(b), float(lo), float(hi), len(pts), round(phi, 3))


def _quantile_sql(store: Store, expr: str, q: float) -> str:
    if store.engine == "postgres":
        return f"percentile_cont({q}) WITHIN GROUP (ORDER BY {expr})"
    return f"quantile_cont({expr}, {q})"


def gap(
    store: Store,
    by: str = "team",
    *,
    where: str | None = None,
    params: Sequence[Any] = (),
    min_decided: int = 1,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """The promise gap per group, worst first: kept rate (on time) with a Wilson interval,
    lateness, counts by status, and the weekly trend with its interval."""
    if by not in DIMENSIONS:
        raise ConfigError(
            f"Cannot break the gap down by {by!r}.", hint=f"Use one of: {', '.join(DIMENSIONS)}."
        )
    _need_ledger(store)
    dim = DIMENSIONS[by]
    week = DIMENSIONS["week"]
    filt = f" AND ({where})" if where else ""
    counts = ", ".join(
        f"sum(CASE WHEN s.status = '{st}' THEN 1 ELSE 0 END) AS {st}" for st in STATUSES
    )
    base = f"FROM promise_status s JOIN promises p ON p.promise_id = s.promise_id WHERE s.status <> 'repeat'{filt}"
    summary = store.rows(
        f"SELECT {dim} AS grp, {counts}, sum(s.repeats) AS repeats, "
        f"avg(s.late_hours) AS mean_late_hours, {_quantile_sql(store, 's.late_hours', 0.5)} AS median_late_hours, "
        f"{_quantile_sql(store, 's.late_hours', 0.9)} AS p90_late_hours, min(s.as_of) AS as_of {base} GROUP BY {dim}",
        list(params),
    )
    weekly: dict[Any, list[tuple[dt.date, int, int]]] = {}
    if by != "week":
        for r in store.rows(
            f"SELECT {dim} AS grp, {week} AS wk, "
            f"sum(CASE WHEN s.status = 'kept' THEN 1 ELSE 0 END) AS k, "
            f"sum(CASE WHEN s.status IN ('kept', 'kept_late', 'broken', 'overdue') THEN 1 ELSE 0 END) AS n "
            f"{base} GROUP BY {dim}, {week}",
            list(params),
        ):
            if r["wk"] is not None:
                weekly.setdefault(r["grp"], []).append((r["wk"], int(r["k"]), int(r["n"])))
    out = []
    for r in summary:
        decided = sum(int(r[s] or 0) for s in DECIDED)
        if decided < min_decided:
            continue
        kept = int(r["kept"] or 0)
        lo, hi = wilson(kept, decided)
        series = sorted(weekly.get(r["grp"], []))
        tr = trend([w for w, _, _ in series], [k for _, k, _ in series], [n for _, _, n in series])
        out.append(
            {
                "dimension": by,
                "group": r["grp"],
                "promises": decided + int(r["open"] or 0),
                "decided": decided,
                **{s: int(r[s] or 0) for s in STATUSES if s != "repeat"},
                "repeats": int(r["repeats"] or 0),
                "kept_rate": kept / decided if decided else None,
                "kept_rate_low": lo,
                "kept_rate_high": hi,
                "kept_at_all_rate": (kept + int(r["kept_late"] or 0)) / decided
                if decided
                else None,
                "mean_late_hours": _num(r["mean_late_hours"]),
                "median_late_hours": _num(r["median_late_hours"]),
                "p90_late_hours": _num(r["p90_late_hours"]),
                "trend": tr.to_dict(),
                "as_of": r["as_of"],
            }
        )
    out.sort(key=lambda g: (g["kept_rate_high"], g["kept_rate"] or 0, str(g["group"])))
    return out[:limit] if limit else out


def weekly_series(
    store: Store, *, where: str | None = None, params: Sequence[Any] = ()
) -> list[dict[str, Any]]:
    """Kept rate per week (by deadline week), with Wilson intervals: the trend's evidence."""
    _need_ledger(store)
    week = DIMENSIONS["week"]
    filt = f" AND ({where})" if where else ""
    rows = store.rows(
        f"SELECT {week} AS week, sum(CASE WHEN s.status = 'kept' THEN 1 ELSE 0 END) AS kept, "
        f"sum(CASE WHEN s.status IN ('kept', 'kept_late', 'broken', 'overdue') THEN 1 ELSE 0 END) AS decided "
        f"FROM promise_status s JOIN promises p ON p.promise_id = s.promise_id "
        f"WHERE s.status <> 'repeat'{filt} GROUP BY {week} ORDER BY 1",
        list(params),
    )
    out = []
    for r in rows:
        k, n = int(r["kept"]), int(r["decided"])
        lo, hi = wilson(k, n)
        out.append(
            {
                "week": r["week"],
                "kept": k,
                "decided": n,
                "kept_rate": k / n if n else None,
                "low": lo,
                "high": hi,
            }
        )
    return out


def _num(v: Any) -> float | None:
    return None if v is None else float(v)


def _need_ledger(store: Store) -> None:
    if not store.table_exists("promise_status") or store.get_meta("promise_ledger_as_of") is None:
        raise NotFoundError(
            "The promise ledger has not been built in this store.",
            hint="Run `goodwill promises --refresh` (or goodwill.measure.promises.build_ledger).",
        )


# -- one customer -------------------------------------------------------------------------

_ORDER = {"overdue": 0, "open": 1, "broken": 2, "kept_late": 3, "kept": 4, "repeat": 5}


def owed(store: Store, customer_id: str) -> list[dict[str, Any]]:
    """What we owe one person (all their linked records), overdue first."""
    _need_ledger(store)
    ids = [customer_id]
    if store.table_exists("customer_links"):
        ids = [
            r["customer_id"]
            for r in store.rows(
                "SELECT l2.customer_id FROM customer_links l1 JOIN customer_links l2 ON l2.person_id = l1.person_id "
                "WHERE l1.customer_id = ?",
                [customer_id],
            )
        ] or [customer_id]
    marks = ", ".join("?" for _ in ids)
    rows = store.rows(
        "SELECT p.promise_id, p.customer_id, p.action, p.description, p.kind, p.made_at, p.made_by, p.team, "
        "p.channel, p.evidence, p.confidence, p.interaction_id, p.case_id, s.status, s.deadline, s.due_implied, "
        "s.kept_at, s.evidence_id, s.evidence_kind, s.late_hours, s.late_days, s.chain_id, s.repeats, s.rule "
        "FROM promises p LEFT JOIN promise_status s ON s.promise_id = p.promise_id "
        f"WHERE p.customer_id IN ({marks})",
        ids,
    )
    if not rows and not store.rows(
        f"SELECT 1 AS x FROM customers WHERE customer_id IN ({marks})", ids
    ):
        raise NotFoundError(
            f"No customer {customer_id!r} in this store.",
            hint="Check the id (e.g. olist:1046, twcs:115712).",
        )
    far = dt.datetime.max.replace(tzinfo=dt.UTC)
    rows.sort(
        key=lambda r: (_ORDER.get(r["status"] or "open", 9), r["deadline"] or far, r["promise_id"])
    )
    return rows


# -- expectations -------------------------------------------------------------------------

_EXPECTED_ACTIONS = {
    "deliver": ("deliver", "replace"),
    "reply": ("respond", "follow_up", "call_back", "escalate", "send_information"),
    "call_back": ("call_back", "follow_up"),
    "refund": ("refund", "credit"),
    "credit": ("credit", "refund"),
    "fix": ("fix",),
    "visit": ("visit",),
}


def expectations(
    store: Store, *, source: str | None = None, examples: int = 3, batch_size: int = 20_000
) -> list[dict[str, Any]]:
    """What customers say they were told or expected, against what we recorded and what happened.

    For each expectation heard in a customer's message, look for a promise of a matching action
    to that customer made before the message: none means an expectation the company never
    wrote down.
    """
    from goodwill.understand.heard_promises import read_expectations

    _need_ledger(store)
    params: list[Any] = []
    where = "i.direction = 'inbound' AND i.text IS NOT NULL"
    if source:
        where += " AND i.source = ?"
        params.append(source)
    promised: dict[str, list[tuple[str, dt.datetime | None, str | None]]] = {}
    for r in store.rows(
        "SELECT p.customer_id, p.action, p.made_at, s.status FROM promises p "
        "LEFT JOIN promise_status s ON s.promise_id = p.promise_id "
        f"WHERE p.customer_id IN (SELECT i.customer_id FROM interactions i WHERE {where})",
        params,
    ):
        promised.setdefault(r["customer_id"], []).append((r["action"], r["made_at"], r["status"]))
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    sql = f"SELECT i.interaction_id, i.customer_id, i.occurred_at, i.text FROM interactions i WHERE {where}"
    for batch in store.scan(sql, params, batch_size=batch_size):
        for r in batch.to_pylist():
            for e in read_expectations(r["text"]):
                g = groups.setdefault(
                    (e.kind, e.action),
                    {
                        "kind": e.kind,
                        "action": e.action,
                        "heard": 0,
                        "written": 0,
                        "unwritten": 0,
                        "kept": 0,
                        "kept_late": 0,
                        "broken": 0,
                        "overdue": 0,
                        "open": 0,
                        "examples": [],
                    },
                )
                g["heard"] += 1
                wanted = _EXPECTED_ACTIONS.get(e.action, (e.action,))
                match = [
                    st
                    for a, made, st in promised.get(r["customer_id"], [])
                    if a in wanted
                    and (made is None or r["occurred_at"] is None or made <= r["occurred_at"])
                ]
                if match:
                    g["written"] += 1
                    worst = min(match, key=lambda s: _ORDER.get(s or "open", 9))
                    if worst in g:
                        g[worst] += 1
                else:
                    g["unwritten"] += 1
                    if len(g["examples"]) < examples:
                        g["examples"].append(
                            {"interaction_id": r["interaction_id"], "evidence": e.evidence}
                        )
    return sorted(groups.values(), key=lambda g: -g["unwritten"])


# -- outcome effect --------------------------------------------------------------------------


def outcome_effect(
    store: Store,
    *,
    event_kind: str = "reviewed",
    action: str = "deliver",
    resamples: int = 2000,
    seed: int = 7,
) -> dict[str, Any]:
    """How much lower the customer's later score is when the promise was not kept on time.

    Joins each decided promise to the ``event_kind`` event on its case (Olist: the review
    score) and compares mean scores, kept on time against not, with a bootstrap 95% interval.
    An association, not a causal estimate: late orders differ in other ways too.
    """
    _need_ledger(store)
    rows = store.rows(
        "SELECT s.status, e.value FROM promise_status s JOIN promises p ON p.promise_id = s.promise_id "
        "JOIN events e ON e.case_id = p.case_id AND e.kind = ? "
        "WHERE p.action = ? AND s.status IN ('kept', 'kept_late', 'broken', 'overdue') AND e.value IS NOT NULL",
        [event_kind, action],
    )
    kept = np.array([r["value"] for r in rows if r["status"] == "kept"], dtype=float)
    other = np.array([r["value"] for r in rows if r["status"] != "kept"], dtype=float)
    if len(kept) < 2 or len(other) < 2:
        raise NotFoundError(
            f"Too few {action} promises with a {event_kind} event to compare.",
            hint="Ingest more data.",
        )
    rng = random.Random(seed)
    gen = np.random.default_rng(rng.randrange(2**32))
    diffs = np.empty(resamples)
    for i in range(resamples):
        diffs[i] = gen.choice(other, len(other)).mean() - gen.choice(kept, len(kept)).mean()
    return {
        "event_kind": event_kind,
        "action": action,
        "n_kept": len(kept),
        "n_not_kept": len(other),
        "mean_kept": float(kept.mean()),
        "mean_not_kept": float(other.mean()),
        "difference": float(other.mean() - kept.mean()),
        "low": float(np.quantile(diffs, 0.025)),
        "high": float(np.quantile(diffs, 0.975)),
        "method": f"bootstrap of the difference in means, {resamples} resamples, seed {seed}",
    }


# -- the whole ledger ---------------------------------------------------------------------------


@dataclass
class LedgerReport:
    derived: dict[str, int]
    heard: HeardReport
    reconcile: ReconcileReport

    def to_dict(self) -> dict[str, Any]:
        return {
            "derived": self.derived,
            "heard": vars(self.heard),
            "reconcile": self.reconcile.to_dict(),
        }


def build_ledger(
    store: Store,
    *,
    as_of: dt.datetime | None = None,
    promise_rules: str | Path | None = None,
    reconcile_rules: str | Path | None = None,
    timers: str | Path | None = None,
    heard: bool = True,
) -> LedgerReport:
    """Derive promises, read heard ones, reconcile everything; stamp the store."""
    derived = derive_promises(store, promise_rules, timers=timers)
    heard_rep = extract_heard_promises(store) if heard else HeardReport()
    rec = reconcile(store, reconcile_rules, as_of=as_of)
    store.set_meta("promise_ledger_stamp", ledger_stamp(store, promise_rules, reconcile_rules))
    return LedgerReport(derived, heard_rep, rec)


def ledger_stamp(
    store: Store,
    promise_rules: str | Path | None = None,
    reconcile_rules: str | Path | None = None,
) -> str:
    """Changes whenever facts are added or the rules in force change (a workspace file
    edited): the ledger is stale when its stamp differs."""
    parts = [
        str(store.count(t))
        for t in ("promises", "events", "interactions", "cases")
        if store.table_exists(t)
    ]
    for name, path in (
        ("promise_rules.yaml", promise_rules),
        ("reconcile_rules.yaml", reconcile_rules),
    ):
        data = _load_yaml(name, path, workspace_first=False)[0]
        # repr, not JSON: YAML reads a bare `on:` key as True, and the file's order is stable
        parts.append(hashlib.sha256(repr(data["rules"]).encode()).hexdigest()[:12])
    return "/".join(parts)


def ledger_is_fresh(store: Store) -> bool:
    return store.table_exists("promise_status") and store.get_meta(
        "promise_ledger_stamp"
    ) == ledger_stamp(store)


def evidence(store: Store, promise_ids: Iterable[str]) -> list[dict[str, Any]]:
    """The promise rows and their status rows, for tracing a number back to its facts."""
    ids = list(promise_ids)
    if not ids:
        return []
    marks = ", ".join("?" for _ in ids)
    return store.rows(
        f"SELECT p.*, s.status, s.rule, s.deadline, s.kept_at, s.evidence_id, s.evidence_kind, s.late_hours "
        f"FROM promises p LEFT JOIN promise_status s ON s.promise_id = p.promise_id WHERE p.promise_id IN ({marks})",
        ids,
    )


__all__ = [
    "DECIDED",
    "DIMENSIONS",
    "PROMISE_STATUS",
    "STATUSES",
    "LedgerReport",
    "Trend",
    "build_ledger",
    "derive_promises",
    "evidence",
    "expectations",
    "extract_heard_promises",
    "gap",
    "ledger_is_fresh",
    "load_promise_rules",
    "load_reconcile_rules",
    "outcome_effect",
    "owed",
    "reconcile",
    "trend",
    "weekly_series",
    "wilson",
]
