"""The goodwill ledger: every deposit and withdrawal in a customer's account with us.

Each entry is one fact judged by one weight: a promise kept or broken (from the promise
ledger), a complaint resolved or left open, a repeat contact, an unhappy or happy message
(from the understand layer's sentiment), a review, a fair or unfair price (from
:mod:`goodwill.measure.fair_value`), marketing sent without consent, or our own copy with a
dark pattern in it (from :mod:`goodwill.lint`). Weights are data (``goodwill_weights.yaml``);
every entry keeps the table and id of the fact behind it and the weights version, so any
balance can be traced and rebuilt.

The entries are written by plain SQL that DuckDB and PostgreSQL both accept, one
``INSERT ... SELECT`` per kind, so the whole build runs inside the engine.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import pyarrow as pa
import yaml

from goodwill.errors import ConfigError, NotFoundError
from goodwill.model import Column, Table, register_table
from goodwill.store import Store

GOODWILL_ENTRIES = register_table(
    Table(
        "goodwill_entries",
        (
            Column("entry_id", "text", nullable=False, doc="<kind>:<fact id>"),
            Column("customer_id", "text", lookup=True),
            Column("occurred_at", "timestamp"),
            Column("kind", "text", doc="the weight that judged it (goodwill_weights.yaml)"),
            Column("amount", "float", doc="deposit (+) or withdrawal (-)"),
            Column("reason", "text"),
            Column("fact_table", "text", doc="where the fact behind it lives"),
            Column("fact_id", "text", doc="its key in that table"),
            Column("product", "text"),
            Column("detail", "text", doc="the fact's own words: status, outcome, score, finding"),
            Column("rules_version", "text"),
            Column("built_at", "timestamp"),
        ),
        ("entry_id",),
        "Goodwill deposits and withdrawals, each with the fact and the weights version behind it.",
        time_column="occurred_at",
        internal=True,
        sort_key=("customer_id", "occurred_at"),
    )
)

COPY_LINT = register_table(
    Table(
        "copy_lint",
        (
            Column("text_hash", "text", nullable=False, doc="md5 of the outbound text"),
            Column(
                "dark_patterns",
                "int",
                doc="dark-pattern findings (pattern rules, not the classifier)",
            ),
            Column("codes", "text", doc="the rules that fired, with their categories"),
            Column("excerpt", "text"),
            Column("linted_at", "timestamp"),
        ),
        ("text_hash",),
        "Each distinct outbound text, linted once for dark patterns.",
        customer_column=None,
        internal=True,
    )
)

# Pattern categories that are dark patterns. Belittling language is about how we write of
# customers internally; the lint's classifier is at chance on company copy (STACK.md), so only
# its explicit pattern rules count here.
DARK_CATEGORIES = frozenset(
    {
        "urgency",
        "scarcity",
        "social proof",
        "nagging",
        "forced action",
        "sneaking",
        "obstruction",
        "confirmshaming",
        "misdirection",
    }
)


# -- weights ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Weights:
    version: str
    entries: dict[str, tuple[float, str]]
    rules: dict[str, Any]
    effort: dict[str, float]
    silence: dict[str, Any]
    fair_value: dict[str, Any]
    path: str

    def amount(self, kind: str) -> float:
        return self.entries[kind][0]

    def reason(self, kind: str) -> str:
        return self.entries[kind][1]


# Every kind of entry, in the order the ledger writes and reports them; a weights file
# must give each one a weight.
REQUIRED_KINDS = (
    "promise_kept",
    "promise_kept_late",
    "promise_broken",
    "promise_overdue",
    "complaint_made",
    "complaint_resolved",
    "complaint_explained",
    "complaint_unresolved",
    "complaint_open",
    "review_good",
    "review_bad",
    "repeat_contact",
    "strongly_negative_contact",
    "negative_contact",
    "positive_contact",
    "unwanted_contact",
    "dark_pattern",
    "fair_price",
    "loyalty_penalty",
)


def load_weights(path: str | Path | None = None) -> Weights:
    """Read the weights (the packaged defaults, or a company's own copy)."""
    if path is None:
        src = resources.files("goodwill.measure").joinpath("goodwill_weights.yaml")
        text, where = src.read_text(encoding="utf-8"), "goodwill_weights.yaml (packaged)"
    else:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(
                f"No weights file at {p}.", hint="Pass the path of a goodwill_weights.yaml."
            )
        text, where = p.read_text(encoding="utf-8"), str(p)
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(
            f"{where} is not valid YAML: {exc}", hint="Fix the file's syntax."
        ) from exc
    if (
        not isinstance(raw, dict)
        or "version" not in raw
        or not isinstance(raw.get("entries"), dict)
    ):
        raise ConfigError(
            f"{where} needs a 'version' and an 'entries' mapping.",
            hint="Start from the packaged goodwill_weights.yaml.",
        )
    entries: dict[str, tuple[float, str]] = {}
    for kind, spec in raw["entries"].items():
        if not isinstance(spec, dict) or not isinstance(spec.get("amount"), int | float):
            raise ConfigError(
                f"{where}: entry {kind!r} needs a numeric 'amount'.",
                hint='Write it as {amount: -2, reason: "..."}.',
            )
        entries[str(kind)] = (float(spec["amount"]), str(spec.get("reason", kind)))
    missing = [k for k in REQUIRED_KINDS if k not in entries]
    if missing:
        raise ConfigError(
            f"{where} lacks weights for: {', '.join(missing)}.",
            hint="Give every kind a weight (0 turns one off).",
        )
    base = yaml.safe_load(
        resources.files("goodwill.measure")
        .joinpath("goodwill_weights.yaml")
        .read_text(encoding="utf-8")
    )
    rules = {**base["rules"], **(raw.get("rules") or {})}
    effort = {k: float(v) for k, v in {**base["effort"], **(raw.get("effort") or {})}.items()}
    silence = {**base["silence"], **(raw.get("silence") or {})}
    fair = {**base["fair_value"], **(raw.get("fair_value") or {})}
    return Weights(str(raw["version"]), entries, rules, effort, silence, fair, where)


# -- portable SQL pieces ------------------------------------------------------------------------


def lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def in_list(values: Sequence[str]) -> str:
    return "(" + ", ".join(lit(str(v)) for v in values) + ")"


def json_field(col: str, key: str) -> str:
    """A JSON text column's member as text; ``->>`` reads the same on DuckDB and PostgreSQL."""
    return f"(CAST({col} AS JSON) ->> {lit(key)})"


def number_text(expr: str) -> str:
    """A DOUBLE as the same text on DuckDB and PostgreSQL. CAST(4.0 AS TEXT) is '4.0' on DuckDB
    and '4' on PostgreSQL, so a review's score read differently by engine; whole numbers are
    written as integers here. Fractions below 1e15 already read alike (both write the shortest
    text that reads back as the same double; compared over 2,400 values from 1e-8 to 1e21);
    from 1e15 on PostgreSQL turns to an exponent one power sooner, and NaN and infinities are
    spelled differently: no score is either."""
    return (
        f"CASE WHEN abs({expr}) < 1e15 AND {expr} = floor({expr}) "
        f"THEN CAST(CAST({expr} AS BIGINT) AS TEXT) ELSE CAST({expr} AS TEXT) END"
    )


def decimal_text(expr: str, places: int) -> str:
    """A DOUBLE rounded to ``places`` decimals, as the same text on DuckDB and PostgreSQL. A bare
    NUMERIC is DECIMAL(18,3) on DuckDB, so round(CAST(x AS NUMERIC), 2) rounded twice there
    (0.2549 became 0.255, then 0.26, where PostgreSQL wrote 0.25: 297 of 8,427 values differed,
    measured); with ten places kept first, none of the same values did."""
    return f"CAST(round(CAST({expr} AS NUMERIC(38, 10)), {places}) AS TEXT)"


def seconds(later: str, earlier: str) -> str:
    return f"CAST(extract(epoch FROM ({later} - {earlier})) AS DOUBLE PRECISION)"


def person_sql(col: str = "e.customer_id") -> str:
    """The person a source record belongs to (identity resolution's answer, else itself)."""
    return (
        f"coalesce((SELECT l.person_id FROM customer_links l WHERE l.customer_id = {col}), {col})"
    )


def linked_ids(store: Store, customer_id: str) -> list[str]:
    rows = store.rows(
        "SELECT l2.customer_id FROM customer_links l1 JOIN customer_links l2 ON l2.person_id = l1.person_id "
        "WHERE l1.customer_id = ? ORDER BY l2.customer_id",
        [customer_id],
    )
    return [r["customer_id"] for r in rows] or [customer_id]


def clean(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Engine-neutral Python values: sums of integers come back as Decimal from both engines."""
    for r in rows:
        for k, v in r.items():
            if isinstance(v, Decimal):
                r[k] = int(v) if v == v.to_integral_value() else float(v)
    return rows


def has_rows(store: Store, table: str, where: str = "1=1") -> bool:
    return (
        store.table_exists(table)
        and store.scalar(
            f"SELECT count(*) FROM (SELECT 1 AS x FROM {table} WHERE {where} LIMIT 1) t"
        )
        > 0
    )


# -- building --------------------------------------------------------------------------------


@dataclass
class GoodwillReport:
    as_of: dt.datetime
    rules_version: str
    by_kind: dict[str, int] = field(default_factory=dict)
    # What the ledger could not count, said plainly rather than treated as neutral.
    missing: list[str] = field(default_factory=list)
    texts_linted: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "rules_version": self.rules_version,
            "entries": sum(self.by_kind.values()),
            "by_kind": self.by_kind,
            "missing": self.missing,
            "texts_linted": self.texts_linted,
        }


def _head(kind: str) -> str:
    return (
        "INSERT INTO goodwill_entries (entry_id, customer_id, occurred_at, kind, amount, reason, fact_table, "
        "fact_id, product, detail, rules_version, built_at) "
    )


def _values(kind: str, w: Weights) -> tuple[str, str, str]:
    """The constant columns of one kind: the id prefix, amount and reason as SQL literals."""
    amount, reason = w.entries[kind]
    return lit(kind + ":"), repr(float(amount)), lit(reason)


@dataclass(frozen=True)
class _Kind:
    """One kind in a one-pass insert: its condition, time and reason, as SQL over the source."""

    kind: str
    cond: str
    when: str
    reason: str  # SQL after the weight's reason literal, e.g. "|| ': ' || c.outcome"
    params: tuple[Any, ...] = ()
    scale: str = ""  # SQL after the weight's amount, e.g. " * 3"


def _insert_kinds(
    store: Store,
    w: Weights,
    built: dt.datetime,
    kinds: Sequence[_Kind],
    *,
    source: str,
    where: str,
    params: Sequence[Any],
    customer: str,
    fact_table: str,
    fact_id: str,
    product: str,
    detail: str,
) -> list[str]:
    """Write the entries of several kinds from one scan of their source.

    The source rows are crossed with the kinds' names and each pair kept when that kind's
    condition holds, so a fact yields exactly the entries the per-kind statements wrote (one per
    kind it meets), with one read of the tables instead of one per kind. Returns the kinds; their
    counts are taken once the whole ledger is written.
    """

    def by_kind(expr: Any) -> str:
        return (
            "CASE k.kind " + " ".join(f"WHEN {lit(k.kind)} THEN {expr(k)}" for k in kinds) + " END"
        )

    names = ", ".join(f"({lit(k.kind)})" for k in kinds)
    conds = " OR ".join(f"(k.kind = {lit(k.kind)} AND {k.cond})" for k in kinds)
    sql = (
        _head("")
        + f"SELECT k.kind || ':' || {fact_id}, {customer}, {by_kind(lambda k: k.when)}, k.kind, "
        f"{by_kind(lambda k: repr(float(w.amount(k.kind))) + k.scale)}, "
        f"{by_kind(lambda k: lit(w.reason(k.kind)) + ' ' + k.reason)}, {lit(fact_table)}, {fact_id}, "
        f"{product}, {detail}, ?, ? FROM {source} CROSS JOIN (VALUES {names}) k(kind) "
        f"WHERE {where} AND ({conds})"
    )
    store.execute(sql, [w.version, built, *params, *(p for k in kinds for p in k.params)])
    return [k.kind for k in kinds]


def _promise_entries(store: Store, w: Weights, now: dt.datetime, built: dt.datetime) -> list[str]:
    kinds = []
    for status in ("kept", "kept_late", "broken", "overdue"):
        when = "s.kept_at" if status in ("kept", "kept_late") else "s.deadline"
        kinds.append(
            _Kind(
                f"promise_{status}",
                f"s.status = {lit(status)} AND {when} <= ?",
                when,
                "|| ': ' || coalesce(p.description, p.action, '')",
                (now,),
            )
        )
    return _insert_kinds(
        store,
        w,
        built,
        kinds,
        source="promise_status s JOIN promises p ON p.promise_id = s.promise_id",
        where="p.customer_id IS NOT NULL",
        params=(),
        customer="p.customer_id",
        fact_table="promises",
        fact_id="p.promise_id",
        product="p.product",
        detail="s.status || CASE WHEN s.repeats > 0 THEN ' after ' || CAST(s.repeats AS TEXT) || ' repeat(s)' ELSE '' END "
        "|| coalesce('; evidence ' || s.evidence_id, '')",
    )


def _complaint_entries(store: Store, w: Weights, now: dt.datetime, built: dt.datetime) -> list[str]:
    r = w.rules
    closed_when = "coalesce(c.closed_at, c.opened_at)"
    kinds = [_Kind("complaint_made", "1 = 1", "c.opened_at", "|| coalesce(': ' || c.issue, '')")]
    for kind, outcomes in (
        ("complaint_resolved", r["relief_outcomes"]),
        ("complaint_explained", r["explained_outcomes"]),
        ("complaint_unresolved", r["unresolved_outcomes"]),
    ):
        kinds.append(
            _Kind(
                kind,
                f"coalesce(c.status, 'closed') <> 'open' AND c.outcome IN {in_list(outcomes)} "
                f"AND {closed_when} <= ?",
                closed_when,
                "|| coalesce(': ' || c.outcome, '')",
                (now,),
            )
        )
    days = int(r["complaint_open_days"])
    open_when = f"c.opened_at + INTERVAL '{days} days'"
    kinds.append(
        _Kind(
            "complaint_open",
            f"(c.status = 'open' OR (c.closed_at IS NOT NULL AND c.closed_at > ?)) AND {open_when} <= ?",
            open_when,
            f"|| ' for over {days} days'",
            (now, now),
        )
    )
    return _insert_kinds(
        store,
        w,
        built,
        kinds,
        source="cases c",
        where="c.kind = 'complaint' AND c.customer_id IS NOT NULL AND c.opened_at <= ?",
        params=(now,),
        customer="c.customer_id",
        fact_table="cases",
        fact_id="c.case_id",
        product="c.product",
        detail="coalesce(c.issue, '') || coalesce(' / ' || c.outcome, '')",
    )


def _review_entries(store: Store, w: Weights, now: dt.datetime, built: dt.datetime) -> list[str]:
    reason = f"|| ' (' || {number_text('e.value')} || ')'"
    kinds = [
        _Kind(
            "review_good",
            f"e.value >= {float(w.rules['review_good_at_least'])}",
            "e.occurred_at",
            reason,
        ),
        _Kind(
            "review_bad",
            f"e.value <= {float(w.rules['review_bad_at_most'])}",
            "e.occurred_at",
            reason,
        ),
    ]
    return _insert_kinds(
        store,
        w,
        built,
        kinds,
        source="events e LEFT JOIN cases c ON c.case_id = e.case_id",
        where="e.kind = 'reviewed' AND e.value IS NOT NULL AND e.customer_id IS NOT NULL AND e.occurred_at <= ?",
        params=(now,),
        customer="e.customer_id",
        fact_table="events",
        fact_id="e.event_id",
        product="c.product",
        detail="'score ' || " + number_text("e.value"),
    )


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


def _sentiment_entries(store: Store, w: Weights, now: dt.datetime, built: dt.datetime) -> list[str]:
    r = w.rules
    strong, neg, pos = (
        float(r["strongly_negative_below"]),
        float(r["negative_below"]),
        float(r["positive_above"]),
    )
    kinds = [
        _Kind(kind, cond, "i.occurred_at", "")
        for kind, cond in (
            ("strongly_negative_contact", f"en.sentiment_score < {strong}"),
            ("negative_contact", f"en.sentiment_score >= {strong} AND en.sentiment_score < {neg}"),
            ("positive_contact", f"en.sentiment_score > {pos}"),
        )
    ]
    return _insert_kinds(
        store,
        w,
        built,
        kinds,
        source="interactions i JOIN enrichments en ON en.interaction_id = i.interaction_id",
        where="i.direction = 'inbound' AND i.customer_id IS NOT NULL AND en.sentiment_score IS NOT NULL "
        "AND i.occurred_at <= ?",
        params=(now,),
        customer="i.customer_id",
        fact_table="interactions",
        fact_id="i.interaction_id",
        product="i.product",
        detail=f"'sentiment ' || {decimal_text('en.sentiment_score', 2)} "
        "|| coalesce(' by ' || en.sentiment_model, '')",
    )


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


def lint_outbound_copy(store: Store, *, batch_size: int = 50_000) -> int:
    """Lint each distinct outbound text not linted before; returns how many were linted."""
    from goodwill.lint import lint_text

    store.ensure_table(COPY_LINT)
    sql = (
        "SELECT h, min(t) AS t FROM (SELECT md5(i.text) AS h, i.text AS t FROM interactions i "
        "WHERE i.direction = 'outbound' AND i.text IS NOT NULL AND i.customer_id IS NOT NULL) x "
        "WHERE NOT EXISTS (SELECT 1 FROM copy_lint l WHERE l.text_hash = x.h) GROUP BY h"
    )
    now = dt.datetime.now(dt.UTC)
    done = 0
    pending: list[pa.RecordBatch] = list(store.scan(sql, batch_size=batch_size))
    for batch in pending:
        hashes, counts, codes, excerpts = [], [], [], []
        for h, text in zip(batch.column(0).to_pylist(), batch.column(1).to_pylist(), strict=True):
            found = [f for f in lint_text(text, "copy") if f.category in DARK_CATEGORIES]
            hashes.append(h)
            counts.append(len(found))
            codes.append(", ".join(sorted({f"{f.code} {f.category}" for f in found})) or None)
            excerpts.append(text[found[0].start : found[0].end][:200] if found else None)
        store.append(
            COPY_LINT,
            pa.table(
                {
                    "text_hash": hashes,
                    "dark_patterns": pa.array(counts, pa.int64()),
                    "codes": pa.array(codes, pa.string()),
                    "excerpt": pa.array(excerpts, pa.string()),
                    "linted_at": pa.array([now] * len(hashes), pa.timestamp("us", tz="UTC")),
                }
            ),
        )
        done += len(hashes)
    return done


def text_hash(text: str) -> str:
    """The same hash the engines compute with md5(text)."""
    return hashlib.md5(text.encode("utf-8")).hexdigest()


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


def _price_entries(store: Store, w: Weights, built: dt.datetime) -> list[str]:
    r = w.rules
    tol, step, cap = (
        float(r["fair_tolerance_percent"]),
        float(r["penalty_step_percent"]),
        int(r["penalty_max_steps"]),
    )
    steps = f"least({cap}, CAST(ceil(f.penalty_pct / {step}) AS INTEGER))"
    kinds = [
        _Kind("fair_price", f"f.penalty_pct <= {tol}", "f.as_of", ""),
        _Kind(
            "loyalty_penalty",
            f"f.penalty_pct > {tol}",
            "f.as_of",
            f"|| ' (+' || {decimal_text('f.penalty_pct', 1)} || '%)'",
            scale=f" * {steps}",
        ),
    ]
    return _insert_kinds(
        store,
        w,
        built,
        kinds,
        source="fair_value f",
        where="f.reference_price IS NOT NULL",
        params=(),
        customer="f.customer_id",
        fact_table="fair_value",
        fact_id="f.subscription_id",
        product="f.product",
        detail=f"'pays ' || {decimal_text('f.price', 2)} || ' against ' || "
        f"{decimal_text('f.reference_price', 2)} || ' (' || f.reference_basis || ')'",
    )




def build_goodwill(
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
    later: list[str] = []  # kinds written in one pass with others: counted once at the end
    with store.transaction():
        store.execute("DELETE FROM goodwill_entries")
        if has_rows(store, "promise_status"):
            later += _promise_entries(store, w, now, built)
        elif has_rows(store, "promises"):
            rep.missing.append(
                "promises: the promise ledger has not been built, so no promise is counted "
                "(run `goodwill promises --refresh`)"
            )
        later += _complaint_entries(store, w, now, built)
        later += _review_entries(store, w, now, built)
        rep.by_kind.update(_repeat_entries(store, w, now, built, enriched))
        if enriched:
            later += _sentiment_entries(store, w, now, built)
        elif inbound_texts:
            rep.missing.append(
                "sentiment: customers' texts have not been enriched, so no message counts as happy or "
                "unhappy and repeat contacts match on case or thread only (run `goodwill enrich`)"
            )
        rep.by_kind.update(_unwanted_entries(store, w, now, built))
        if store.table_exists("copy_lint"):
            rep.by_kind.update(_dark_entries(store, w, now, built))
        if has_rows(store, "fair_value"):
            later += _price_entries(store, w, built)
        elif has_rows(store, "subscriptions"):
            rep.missing.append(
                "price: fair value has not been computed, so no price is counted (run `goodwill fair-value`)"
            )
        counts = {
            r["kind"]: int(r["n"])
            for r in store.rows(
                f"SELECT kind, count(*) AS n FROM goodwill_entries WHERE kind IN {in_list(later)} GROUP BY kind"
            )
        }
    order = [*later, *rep.by_kind]
    rep.by_kind.update({k: counts.get(k, 0) for k in later})
    rep.by_kind = {k: rep.by_kind[k] for k in REQUIRED_KINDS if k in order}
    store.set_meta("goodwill_ledger_as_of", now.isoformat())
    store.set_meta("goodwill_ledger_version", w.version)
    store.set_meta("goodwill_ledger_missing", "\n".join(rep.missing))
    return rep


def need_goodwill(store: Store) -> None:
    if (
        not store.table_exists("goodwill_entries")
        or store.get_meta("goodwill_ledger_as_of") is None
    ):
        raise NotFoundError(
            "The goodwill ledger has not been built in this store.",
            hint="Run `goodwill goodwill --refresh` (or goodwill.measure.goodwill_ledger.build_goodwill).",
        )


def ledger_meta(store: Store) -> dict[str, Any]:
    missing = store.get_meta("goodwill_ledger_missing") or ""
    return {
        "as_of": store.get_meta("goodwill_ledger_as_of"),
        "rules_version": store.get_meta("goodwill_ledger_version"),
        "missing": [m for m in missing.split("\n") if m],
    }


# -- reading ------------------------------------------------------------------------------------


def customer_ledger(store: Store, customer_id: str) -> dict[str, Any]:
    """One person's account: every entry (all their linked records), oldest first, with the
    running balance and the balance by month."""
    need_goodwill(store)
    ids = linked_ids(store, customer_id)
    marks = ", ".join("?" for _ in ids)
    entries = store.rows(
        "SELECT entry_id, customer_id, occurred_at, kind, amount, reason, fact_table, fact_id, product, detail, "
        f"rules_version FROM goodwill_entries WHERE customer_id IN ({marks}) ORDER BY occurred_at, entry_id",
        ids,
    )
    if not entries and not store.rows(
        f"SELECT 1 AS x FROM customers WHERE customer_id IN ({marks})", ids
    ):
        raise NotFoundError(
            f"No customer {customer_id!r} in this store.",
            hint="Check the id (e.g. cfpb:3198084, telco:7590-VHVEG).",
        )
    running = 0.0
    months: dict[str, float] = {}
    for e in entries:
        running += e["amount"]
        e["balance"] = running
        if e["occurred_at"] is not None:
            months[e["occurred_at"].strftime("%Y-%m")] = running
    return {
        "customer_id": customer_id,
        "records": ids,
        "balance": running,
        "deposits": sum(e["amount"] for e in entries if e["amount"] > 0),
        "withdrawals": sum(e["amount"] for e in entries if e["amount"] < 0),
        "entries": entries,
        "by_month": [{"month": m, "balance": b} for m, b in months.items()],
        **ledger_meta(store),
    }


GROUPS = {
    "customer": person_sql("e.customer_id"),
    "segment": "coalesce(cu.segment, '(none)')",
    "product": "coalesce(e.product, '(none)')",
    "source": "coalesce(cu.source, '(none)')",
    "age_band": "coalesce(cu.age_band, '(not recorded)')",
    "vulnerable": "CASE WHEN cu.vulnerable THEN 'vulnerable' WHEN cu.vulnerable IS NULL THEN '(not recorded)' ELSE 'not vulnerable' END",
    "kind": "e.kind",
    "company": "lower('company')",  # a bare constant may not be grouped on in PostgreSQL
}


def _group(by: str) -> str:
    if by not in GROUPS:
        raise ConfigError(
            f"Cannot group the goodwill ledger by {by!r}.", hint=f"Use one of: {', '.join(GROUPS)}."
        )
    return GROUPS[by]


def balances(
    store: Store, by: str = "segment", *, limit: int | None = None, worst_first: bool = True
) -> list[dict[str, Any]]:
    """Balance per group: deposits, withdrawals, customers, and the mean balance per customer."""
    need_goodwill(store)
    g = _group(by)
    order = "balance ASC" if worst_first else "balance DESC"
    sql = (
        f"SELECT {g} AS grp, sum(e.amount) AS balance, "
        "sum(CASE WHEN e.amount > 0 THEN e.amount ELSE 0 END) AS deposits, "
        "sum(CASE WHEN e.amount < 0 THEN e.amount ELSE 0 END) AS withdrawals, "
        "count(*) AS entries, count(DISTINCT e.customer_id) AS customers, min(e.rules_version) AS rules_version, "
        "count(DISTINCT e.rules_version) AS versions "
        "FROM goodwill_entries e LEFT JOIN customers cu ON cu.customer_id = e.customer_id "
        f"GROUP BY {g} ORDER BY {order}, grp" + (f" LIMIT {int(limit)}" if limit else "")
    )
    out = clean(store.rows(sql))
    for r in out:
        r["per_customer"] = r["balance"] / r["customers"] if r["customers"] else None
        if r.pop("versions") > 1:
            r["rules_version"] = "mixed"
    return out


def balance_series(
    store: Store, by: str = "company", *, key: str | None = None
) -> list[dict[str, Any]]:
    """Cumulative balance by month for each group (or only the group ``key``)."""
    need_goodwill(store)
    g = _group(by)
    where, params = "", []
    if key is not None:
        where, params = f"WHERE {g} = ?", [key]
    sql = (
        "SELECT grp, month, flow, sum(flow) OVER (PARTITION BY grp ORDER BY month) AS balance FROM ("
        f"SELECT {g} AS grp, CAST(date_trunc('month', e.occurred_at) AS DATE) AS month, sum(e.amount) AS flow "
        f"FROM goodwill_entries e LEFT JOIN customers cu ON cu.customer_id = e.customer_id {where} "
        "GROUP BY 1, 2) m WHERE month IS NOT NULL ORDER BY grp, month"
    )
    return clean(store.rows(sql, params))


__all__ = [
    "COPY_LINT",
    "DARK_CATEGORIES",
    "GOODWILL_ENTRIES",
    "GROUPS",
    "GoodwillReport",
    "Weights",
    "balance_series",
    "balances",
    "build_goodwill",
    "clean",
    "customer_ledger",
    "in_list",
    "json_field",
    "ledger_meta",
    "linked_ids",
    "lint_outbound_copy",
    "lit",
    "load_weights",
    "need_goodwill",
    "person_sql",
    "seconds",
    "text_hash",
]
