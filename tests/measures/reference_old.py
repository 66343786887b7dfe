"""The measures' SQL as it was before the one-pass rewrite (commit 482018c), kept verbatim as a
test oracle: the rewritten builders must write exactly the rows these did.

Only the builders live here; weights, helpers and tables come from the product modules. The
text of a number (number_text, decimal_text) is the product's since it was made the same on
DuckDB and PostgreSQL; the SQL around it is as it was.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from goodwill.measure.goodwill_ledger import (
    GOODWILL_ENTRIES,
    GoodwillReport,
    Weights,
    decimal_text,
    has_rows,
    in_list,
    lint_outbound_copy,
    lit,
    load_weights,
    number_text,
    seconds,
)
from goodwill.measure.runaround import CASE_KEY
from goodwill.store import Store


def _head(kind: str) -> str:
    return (
        "INSERT INTO goodwill_entries (entry_id, customer_id, occurred_at, kind, amount, reason, fact_table, "
        "fact_id, product, detail, rules_version, built_at) "
    )


def _values(kind: str, w: Weights) -> tuple[str, str, str]:
    """The constant columns of one kind: the id prefix, amount and reason as SQL literals."""
    amount, reason = w.entries[kind]
    return lit(kind + ":"), repr(float(amount)), lit(reason)


def _promise_entries(
    store: Store, w: Weights, now: dt.datetime, built: dt.datetime
) -> dict[str, int]:
    out: dict[str, int] = {}
    for status in ("kept", "kept_late", "broken", "overdue"):
        kind = f"promise_{status}"
        pre, amount, reason = _values(kind, w)
        when = "s.kept_at" if status in ("kept", "kept_late") else "s.deadline"
        out[kind] = store.execute(
            _head(kind)
            + f"SELECT {pre} || p.promise_id, p.customer_id, {when}, {lit(kind)}, {amount}, "
            f"{reason} || ': ' || coalesce(p.description, p.action, ''), 'promises', p.promise_id, p.product, "
            "s.status || CASE WHEN s.repeats > 0 THEN ' after ' || CAST(s.repeats AS TEXT) || ' repeat(s)' ELSE '' END "
            "|| coalesce('; evidence ' || s.evidence_id, ''), ?, ? "
            "FROM promise_status s JOIN promises p ON p.promise_id = s.promise_id "
            f"WHERE s.status = {lit(status)} AND p.customer_id IS NOT NULL AND {when} <= ?",
            [w.version, built, now],
        )
    return out


def _complaint_entries(
    store: Store, w: Weights, now: dt.datetime, built: dt.datetime
) -> dict[str, int]:
    r = w.rules
    out: dict[str, int] = {}
    base = (
        "FROM cases c WHERE c.kind = 'complaint' AND c.customer_id IS NOT NULL AND c.opened_at <= ?"
    )
    detail = "coalesce(c.issue, '') || coalesce(' / ' || c.outcome, '')"
    pre, amount, reason = _values("complaint_made", w)
    out["complaint_made"] = store.execute(
        _head("")
        + f"SELECT {pre} || c.case_id, c.customer_id, c.opened_at, 'complaint_made', {amount}, "
        f"{reason} || coalesce(': ' || c.issue, ''), 'cases', c.case_id, c.product, {detail}, ?, ? {base}",
        [w.version, built, now],
    )
    closed_when = "coalesce(c.closed_at, c.opened_at)"
    for kind, outcomes in (
        ("complaint_resolved", r["relief_outcomes"]),
        ("complaint_explained", r["explained_outcomes"]),
        ("complaint_unresolved", r["unresolved_outcomes"]),
    ):
        pre, amount, reason = _values(kind, w)
        out[kind] = store.execute(
            _head(kind)
            + f"SELECT {pre} || c.case_id, c.customer_id, {closed_when}, {lit(kind)}, {amount}, "
            f"{reason} || coalesce(': ' || c.outcome, ''), 'cases', c.case_id, c.product, {detail}, ?, ? "
            f"{base} AND coalesce(c.status, 'closed') <> 'open' AND c.outcome IN {in_list(outcomes)} "
            f"AND {closed_when} <= ?",
            [w.version, built, now, now],
        )
    pre, amount, reason = _values("complaint_open", w)
    days = int(r["complaint_open_days"])
    out["complaint_open"] = store.execute(
        _head("")
        + f"SELECT {pre} || c.case_id, c.customer_id, c.opened_at + INTERVAL '{days} days', "
        f"'complaint_open', {amount}, {reason} || ' for over {days} days', 'cases', c.case_id, c.product, "
        f"{detail}, ?, ? {base} AND (c.status = 'open' OR (c.closed_at IS NOT NULL AND c.closed_at > ?)) "
        f"AND c.opened_at + INTERVAL '{days} days' <= ?",
        [w.version, built, now, now, now],
    )
    return out


def _review_entries(
    store: Store, w: Weights, now: dt.datetime, built: dt.datetime
) -> dict[str, int]:
    out: dict[str, int] = {}
    for kind, cond in (
        ("review_good", f"e.value >= {float(w.rules['review_good_at_least'])}"),
        ("review_bad", f"e.value <= {float(w.rules['review_bad_at_most'])}"),
    ):
        pre, amount, reason = _values(kind, w)
        out[kind] = store.execute(
            _head(kind)
            + f"SELECT {pre} || e.event_id, e.customer_id, e.occurred_at, {lit(kind)}, {amount}, "
            f"{reason} || ' (' || {number_text('e.value')} || ')', 'events', e.event_id, c.product, "
            f"'score ' || {number_text('e.value')}, ?, ? "
            "FROM events e LEFT JOIN cases c ON c.case_id = e.case_id "
            f"WHERE e.kind = 'reviewed' AND e.value IS NOT NULL AND {cond} AND e.customer_id IS NOT NULL "
            "AND e.occurred_at <= ?",
            [w.version, built, now],
        )
    return out


def _repeat_entries(
    store: Store, w: Weights, now: dt.datetime, built: dt.datetime, enriched: bool
) -> dict[str, int]:
    # Same case or thread, or (when texts were enriched) the same contact reason.
    window = int(w.rules["repeat_window_days"]) * 86400
    if enriched:
        key = "coalesce('reason:' || CAST(en.reason_id AS TEXT), 'case:' || i.case_id, 'thread:' || i.thread_id)"
        join = "LEFT JOIN enrichments en ON en.interaction_id = i.interaction_id"
    else:
        key = "coalesce('case:' || i.case_id, 'thread:' || i.thread_id)"
        join = ""
    pre, amount, reason = _values("repeat_contact", w)
    sql = (
        _head("")
        + f"SELECT {pre} || x.interaction_id, x.customer_id, x.occurred_at, 'repeat_contact', {amount}, "
        f"{reason} || ' (' || x.k || ')', 'interactions', x.interaction_id, x.product, "
        "'previous contact ' || x.prev_id, ?, ? FROM ("
        f"SELECT i.interaction_id, i.customer_id, i.occurred_at, i.product, {key} AS k, "
        f"lag(i.occurred_at) OVER (PARTITION BY i.customer_id, {key} ORDER BY i.occurred_at, i.interaction_id) AS prev_at, "
        f"lag(i.interaction_id) OVER (PARTITION BY i.customer_id, {key} ORDER BY i.occurred_at, i.interaction_id) AS prev_id "
        f"FROM interactions i {join} WHERE i.direction = 'inbound' AND i.customer_id IS NOT NULL AND i.occurred_at <= ?"
        ") x "
        f"WHERE x.k IS NOT NULL AND x.prev_at IS NOT NULL AND {seconds('x.occurred_at', 'x.prev_at')} <= {window}"
    )
    return {"repeat_contact": store.execute(sql, [w.version, built, now])}


def _sentiment_entries(
    store: Store, w: Weights, now: dt.datetime, built: dt.datetime
) -> dict[str, int]:
    r = w.rules
    out: dict[str, int] = {}
    strong, neg, pos = (
        float(r["strongly_negative_below"]),
        float(r["negative_below"]),
        float(r["positive_above"]),
    )
    for kind, cond in (
        ("strongly_negative_contact", f"en.sentiment_score < {strong}"),
        ("negative_contact", f"en.sentiment_score >= {strong} AND en.sentiment_score < {neg}"),
        ("positive_contact", f"en.sentiment_score > {pos}"),
    ):
        pre, amount, reason = _values(kind, w)
        out[kind] = store.execute(
            _head(kind)
            + f"SELECT {pre} || i.interaction_id, i.customer_id, i.occurred_at, {lit(kind)}, {amount}, "
            f"{reason}, 'interactions', i.interaction_id, i.product, "
            f"'sentiment ' || {decimal_text('en.sentiment_score', 2)} || coalesce(' by ' || en.sentiment_model, ''), ?, ? "
            "FROM interactions i JOIN enrichments en ON en.interaction_id = i.interaction_id "
            f"WHERE i.direction = 'inbound' AND i.customer_id IS NOT NULL AND en.sentiment_score IS NOT NULL AND {cond} "
            "AND i.occurred_at <= ?",
            [w.version, built, now],
        )
    return out


def _unwanted_entries(
    store: Store, w: Weights, now: dt.datetime, built: dt.datetime
) -> dict[str, int]:
    # The consent in force is the latest one recorded before the contact, for this purpose and
    # this channel or 'any'. No consent on record at all also withholds it.
    purpose = lit(str(w.rules["marketing_purpose"]))
    pre, amount, reason = _values("unwanted_contact", w)
    sql = (
        _head("")
        + f"SELECT {pre} || x.interaction_id, x.customer_id, x.occurred_at, 'unwanted_contact', {amount}, "
        f"{reason} || ' (' || coalesce(x.state, 'no consent on record') || ')', 'interactions', x.interaction_id, "
        "x.product, coalesce('consent ' || x.consent_id || ' ' || x.state, 'no consent on record'), ?, ? FROM ("
        "SELECT i.interaction_id, i.customer_id, i.occurred_at, i.product, c.state, c.consent_id, "
        "row_number() OVER (PARTITION BY i.interaction_id ORDER BY c.recorded_at DESC, c.consent_id) AS rn "
        "FROM interactions i LEFT JOIN consents c ON c.customer_id = i.customer_id "
        f"AND c.purpose = {purpose} AND (c.channel = 'any' OR c.channel = i.channel OR c.channel IS NULL) "
        "AND c.recorded_at <= i.occurred_at "
        "WHERE i.direction = 'outbound' AND i.function = 'marketing' AND i.customer_id IS NOT NULL "
        "AND i.occurred_at <= ?) x "
        f"WHERE x.rn = 1 AND (x.state IS NULL OR x.state IN {in_list(w.rules['withheld_states'])})"
    )
    return {"unwanted_contact": store.execute(sql, [w.version, built, now])}


def _dark_entries(store: Store, w: Weights, now: dt.datetime, built: dt.datetime) -> dict[str, int]:
    pre, amount, reason = _values("dark_pattern", w)
    sql = (
        _head("")
        + f"SELECT {pre} || i.interaction_id, i.customer_id, i.occurred_at, 'dark_pattern', {amount}, "
        f"{reason} || ': ' || l.codes, 'interactions', i.interaction_id, i.product, "
        "'\"' || coalesce(l.excerpt, '') || '\"', ?, ? "
        "FROM interactions i JOIN copy_lint l ON l.text_hash = md5(i.text) "
        "WHERE i.direction = 'outbound' AND i.text IS NOT NULL AND i.customer_id IS NOT NULL "
        "AND l.dark_patterns > 0 AND i.occurred_at <= ?"
    )
    return {"dark_pattern": store.execute(sql, [w.version, built, now])}


def _price_entries(store: Store, w: Weights, built: dt.datetime) -> dict[str, int]:
    r = w.rules
    tol, step, cap = (
        float(r["fair_tolerance_percent"]),
        float(r["penalty_step_percent"]),
        int(r["penalty_max_steps"]),
    )
    out: dict[str, int] = {}
    pre, amount, reason = _values("fair_price", w)
    detail = (
        f"'pays ' || {decimal_text('f.price', 2)} || ' against ' || "
        f"{decimal_text('f.reference_price', 2)} || ' (' || f.reference_basis || ')'"
    )
    out["fair_price"] = store.execute(
        _head("")
        + f"SELECT {pre} || f.subscription_id, f.customer_id, f.as_of, 'fair_price', {amount}, {reason}, "
        f"'fair_value', f.subscription_id, f.product, {detail}, ?, ? FROM fair_value f "
        f"WHERE f.reference_price IS NOT NULL AND f.penalty_pct <= {tol}",
        [w.version, built],
    )
    pre, amount, reason = _values("loyalty_penalty", w)
    steps = f"least({cap}, CAST(ceil(f.penalty_pct / {step}) AS INTEGER))"
    out["loyalty_penalty"] = store.execute(
        _head("")
        + f"SELECT {pre} || f.subscription_id, f.customer_id, f.as_of, 'loyalty_penalty', "
        f"{amount} * {steps}, {reason} || ' (+' || {decimal_text('f.penalty_pct', 1)} || '%)', "
        f"'fair_value', f.subscription_id, f.product, {detail}, ?, ? FROM fair_value f "
        f"WHERE f.reference_price IS NOT NULL AND f.penalty_pct > {tol}",
        [w.version, built],
    )
    return out


def build_goodwill_old(
    store: Store,
    *,
    as_of: dt.datetime | None = None,
    weights: str | Path | Weights | None = None,
    lint_copy: bool = True,
) -> GoodwillReport:
    """Rebuild ``goodwill_entries`` from the facts, the promise ledger and fair value.

    Needs the promise ledger (``goodwill.measure.promises.build_ledger``) and fair value
    (``goodwill.measure.fair_value.build_fair_value``) to have been built where their facts
    exist; what is absent is named in ``missing`` instead of being counted as neutral.
    """
    w = weights if isinstance(weights, Weights) else load_weights(weights)
    now = (as_of or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    built = dt.datetime.now(dt.UTC)
    store.ensure_table(GOODWILL_ENTRIES)
    rep = GoodwillReport(now, w.version)
    enriched = has_rows(store, "enrichments", "sentiment_score IS NOT NULL")
    inbound_texts = has_rows(store, "interactions", "direction = 'inbound' AND text IS NOT NULL")
    if lint_copy and has_rows(store, "interactions", "direction = 'outbound' AND text IS NOT NULL"):
        rep.texts_linted = lint_outbound_copy(store)
    with store.transaction():
        store.execute("DELETE FROM goodwill_entries")
        if has_rows(store, "promise_status"):
            rep.by_kind.update(_promise_entries(store, w, now, built))
        elif has_rows(store, "promises"):
            rep.missing.append(
                "promises: the promise ledger has not been built, so no promise is counted "
                "(run `goodwill promises --refresh`)"
            )
        rep.by_kind.update(_complaint_entries(store, w, now, built))
        rep.by_kind.update(_review_entries(store, w, now, built))
        rep.by_kind.update(_repeat_entries(store, w, now, built, enriched))
        if enriched:
            rep.by_kind.update(_sentiment_entries(store, w, now, built))
        elif inbound_texts:
            rep.missing.append(
                "sentiment: customers' texts have not been enriched, so no message counts as happy or "
                "unhappy and repeat contacts match on case or thread only (run `goodwill enrich`)"
            )
        rep.by_kind.update(_unwanted_entries(store, w, now, built))
        if store.table_exists("copy_lint"):
            rep.by_kind.update(_dark_entries(store, w, now, built))
        if has_rows(store, "fair_value"):
            rep.by_kind.update(_price_entries(store, w, built))
        elif has_rows(store, "subscriptions"):
            rep.missing.append(
                "price: fair value has not been computed, so no price is counted (run `goodwill fair-value`)"
            )
    store.set_meta("goodwill_ledger_as_of", now.isoformat())
    store.set_meta("goodwill_ledger_version", w.version)
    store.set_meta("goodwill_ledger_missing", "\n".join(rep.missing))
    return rep


def runaround_rows_old(
    store: Store, *, as_of: dt.datetime | None = None, weights: str | Path | Weights | None = None
) -> list[dict[str, Any]]:
    """The rows the old build_runaround inserted into ``runaround_cases`` (its SELECT, unchanged)."""
    w = weights if isinstance(weights, Weights) else load_weights(weights)
    e = w.effort
    now = (as_of or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    step = (
        "coalesce(i.channel, '?') || '/' || coalesce(i.function, '?') || "
        "CASE WHEN i.direction = 'inbound' THEN '*' ELSE '' END"
    )
    # Resolved before the first recorded contact (a review after delivery): no time to resolve.
    hours = f"greatest(0, {seconds('coalesce(x.resolved_at, x.last_at)', 'x.first_at')} / 3600.0)"
    effort = (
        f"{e['per_extra_contact']} * greatest(x.inbound - 1, 0) + {e['per_handoff']} * x.handoffs + "
        f"{e['per_channel_switch']} * x.channel_switches + {e['per_reopen']} * x.reopens + "
        f"{e['per_day_unresolved']} * least({e['max_days']}, {hours} / 24.0)"
    )
    sql = (
        f"SELECT x.case_key, x.customer_id, x.contacts, x.inbound, x.handoffs, x.channel_switches, x.reopens, "
        f"x.first_at, x.last_at, x.resolved_at, {hours} AS hours_to_resolution, {effort} AS effort, x.path, "
        "CAST(? AS TEXT) AS rules_version, ? AS as_of FROM ("
        "SELECT y.case_key, min(y.customer_id) AS customer_id, count(*) AS contacts, sum(y.inb) AS inbound, "
        "sum(y.handoff) AS handoffs, sum(y.switch) AS channel_switches, sum(y.reopen) AS reopens, "
        "min(y.occurred_at) AS first_at, max(y.occurred_at) AS last_at, max(y.closed_at) AS resolved_at, "
        "substr(string_agg(y.step, ' > ' ORDER BY y.occurred_at, y.interaction_id), 1, 2000) AS path FROM ("
        f"SELECT i.interaction_id, i.customer_id, i.occurred_at, {CASE_KEY} AS case_key, {step} AS step, "
        "CASE WHEN c.closed_at <= ? THEN c.closed_at END AS closed_at, "
        "CASE WHEN i.direction = 'inbound' THEN 1 ELSE 0 END AS inb, "
        "CASE WHEN i.function IS NOT NULL AND lag(i.function) OVER w_all IS NOT NULL "
        "  AND i.function <> lag(i.function) OVER w_all THEN 1 "
        "WHEN i.direction = 'outbound' AND i.team IS NOT NULL AND lag(i.team) OVER w_dir IS NOT NULL "
        "  AND i.team <> lag(i.team) OVER w_dir THEN 1 ELSE 0 END AS handoff, "
        "CASE WHEN i.direction = 'inbound' AND i.channel IS NOT NULL AND lag(i.channel) OVER w_dir IS NOT NULL "
        "  AND i.channel <> lag(i.channel) OVER w_dir THEN 1 ELSE 0 END AS switch, "
        # A contact after closure reopens the case only if the customer had been in touch before it
        # closed: a review written after a delivery is not a reopen.
        "CASE WHEN i.direction = 'inbound' AND c.closed_at IS NOT NULL AND i.occurred_at > c.closed_at "
        f"  AND min(CASE WHEN i.direction = 'inbound' THEN i.occurred_at END) OVER (PARTITION BY {CASE_KEY}) <= c.closed_at "
        "THEN 1 ELSE 0 END AS reopen "
        "FROM interactions i LEFT JOIN cases c ON c.case_id = i.case_id "
        "WHERE i.customer_id IS NOT NULL AND i.occurred_at <= ? AND i.direction IN ('inbound', 'outbound') "
        f"WINDOW w_all AS (PARTITION BY {CASE_KEY} ORDER BY i.occurred_at, i.interaction_id), "
        f"w_dir AS (PARTITION BY {CASE_KEY}, i.direction ORDER BY i.occurred_at, i.interaction_id)"
        ") y GROUP BY y.case_key) x"
    )
    return store.rows(sql, [w.version, now, now, now])
