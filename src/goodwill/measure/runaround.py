"""Runaround: how much effort a case cost the customer, and the path it took.

A case is the company's case id, else the conversation thread, else (with neither) all of
a customer's contacts. Per case, from the interactions in order: inbound contacts, hand-offs
(the handling function changed between contacts, or a different team answered), channel
switches by the customer, contacts after the case was closed (reopens), conflicting answers,
and the time from first contact to resolution. The effort score weighs these by ``effort`` in
``goodwill_weights.yaml``; the path lists every step as ``channel/function`` (``*`` the
customer, ``!`` a step that conflicts with an earlier answer). The path is built when cases are
read (worst_cases, customer_effort, case_paths), for those cases only: building it for every
case was an ordered aggregate over all contacts, most of the build's cost.

Conflicting answers (``runaround_conflicts``, each with its evidence) come from three sources,
read by the patterns in ``conflict_patterns.yaml``:

- ``company_answers``: a company message answered the matter one way (yes, done, eligible, on
  its way) and a later one in the same case the other way (cannot, not eligible, denied, no
  record), about the same topic or an unnamed one;
- ``promise_dates``: two promises heard in conversation for the same action gave due dates
  further apart than the tolerance;
- ``customer_reported``: the customer says they were told things that contradict each other.

Where a contact has neither case nor thread, the case is the customer's contacts, and two
company answers conflict only within the repeat window (``rules.repeat_window_days``) and when
they are not known to be about different contact reasons. Texts are read once per distinct
text and patterns version (``answer_readings``, hashes only); the pairing is SQL that DuckDB and
PostgreSQL both run.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from goodwill.config import load_yaml
from goodwill.errors import ConfigError, NotFoundError
from goodwill.measure.goodwill_ledger import (
    Weights,
    clean,
    has_rows,
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
            Column("conflicts", "int", doc="conflicting answers (runaround_conflicts) in the case"),
        ),
        ("case_key",),
        "The effort each case cost its customer (rebuilt by build_runaround; paths by case_paths).",
        time_column="first_at",
        internal=True,
        sort_key=("customer_id",),
    )
)

RUNAROUND_CONFLICTS = register_table(
    Table(
        "runaround_conflicts",
        (
            Column("conflict_id", "text", nullable=False, doc="<kind>:<id of the later message or promise>"),
            Column("case_key", "text", doc="the runaround case it belongs to"),
            Column("customer_id", "text", lookup=True),
            Column("kind", "text", doc="company_answers, promise_dates or customer_reported"),
            Column("first_interaction_id", "text", doc="the earlier answer (none for customer_reported)"),
            Column("first_at", "timestamp"),
            Column("first_says", "text", doc="what the earlier answer said"),
            Column("second_interaction_id", "text", doc="the later answer, or the customer's report"),
            Column("second_at", "timestamp"),
            Column("second_says", "text"),
            Column("refs", "text", doc="the two promises' ids, for promise_dates"),
            Column("rule", "text", doc="the pattern ids that read the two texts"),
            Column("patterns_version", "text"),
            Column("as_of", "timestamp"),
        ),
        ("conflict_id",),
        "Conflicting answers a case's customer got, each with its evidence (rebuilt by build_runaround).",
        time_column="second_at",
        internal=True,
        sort_key=("customer_id",),
    )
)

ANSWER_READINGS = register_table(
    Table(
        "answer_readings",
        (
            Column("text_hash", "text", nullable=False, doc="md5 of the message text"),
            Column("side", "text", nullable=False, doc="company (an answer) or customer (a report)"),
            Column(
                "stance",
                "text",
                doc="affirmative, negative, mixed; reports_conflict for a customer; null: nothing found",
            ),
            Column("topic", "text", doc="the matter the answer is about, where named"),
            Column("rule", "text", doc="the pattern id that decided it"),
            Column("start_char", "int", doc="where the evidence starts in the text (0-based)"),
            Column("end_char", "int"),
            Column("patterns_version", "text"),
            Column("read_at", "timestamp"),
        ),
        ("text_hash", "side"),
        "Each distinct message text, read once per patterns version for answers and reports "
        "of conflicting answers (hashes and offsets only, no text).",
        customer_column=None,
        internal=True,
    )
)

CASE_KEY = "coalesce(i.case_id, 'thread:' || i.thread_id, 'customer:' || i.customer_id)"
STEP = (
    "coalesce(i.channel, '?') || '/' || coalesce(i.function, '?') || "
    "CASE WHEN i.direction = 'inbound' THEN '*' ELSE '' END"
)
# Keys per statement when paths are read: enough for any page of cases, short enough for any engine.
_PATH_CHUNK = 500
# Longest evidence kept from one message (a sentence, cut).
_EVIDENCE_CHARS = 300
CONFLICT_KINDS = ("company_answers", "promise_dates", "customer_reported")


# -- reading texts ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """A company message's answer about the customer's matter."""

    stance: str | None  # affirmative, negative, mixed, or None: no answer
    topic: str | None
    rule: str | None
    start: int
    end: int


@dataclass(frozen=True)
class Report:
    """A customer's words saying the company told them conflicting things."""

    rule: str
    start: int
    end: int


_MASK = re.compile(r"https?://\S+|@\w+")
_SENTENCE = re.compile(r"[^.!?\n]+[.!?]*")
_CLAUSE = re.compile(r"[,;:]\s|\s(?:but|and|so)\s")


def _masked(text: str) -> str:
    # Mentions and links blanked to the same length, so offsets still point into the text.
    return _MASK.sub(lambda m: " " * len(m.group()), text)


def _sentences(text: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in _SENTENCE.finditer(text) if m.group().strip()]


def _compile(where: str, name: str, pattern: Any) -> re.Pattern[str]:
    if not isinstance(pattern, str):
        raise ConfigError(f"{where}: {name} must be a regular expression (a string).", hint="Quote it in YAML.")
    try:
        return re.compile(pattern, re.I)
    except re.error as exc:
        raise ConfigError(
            f"{where}: {name} is not a valid regular expression: {exc}.",
            hint="Fix the pattern; test it with Python's re module.",
        ) from exc


def _section(raw: dict[str, Any], where: str, *keys: str) -> Any:
    node: Any = raw
    for k in keys:
        if not isinstance(node, dict) or k not in node:
            raise ConfigError(
                f"{where} lacks '{'.'.join(keys)}'.",
                hint="Start from the packaged conflict_patterns.yaml.",
            )
        node = node[k]
    return node


@dataclass(frozen=True)
class ConflictPatterns:
    """The patterns of ``conflict_patterns.yaml``, compiled."""

    version: str
    path: str
    affirmative: tuple[tuple[str, re.Pattern[str]], ...]
    negative: tuple[tuple[str, re.Pattern[str]], ...]
    procedural: re.Pattern[str]
    conditional: re.Pattern[str]
    correction: re.Pattern[str]
    topics: tuple[tuple[str, re.Pattern[str]], ...]
    said_words: re.Pattern[str]
    reports: tuple[tuple[str, re.Pattern[str]], ...]
    speech: re.Pattern[str]
    turn: re.Pattern[str]
    undoes: re.Pattern[str]
    strong_turn: re.Pattern[str]
    opening: re.Pattern[str]
    max_gap: int
    max_gap_opened: int
    undo_within: int
    tolerance_hours: float

    def read_answer(self, text: str | None) -> Answer:
        """The answer a company message gives: the stance of its deciding sentence."""
        if not text:
            return Answer(None, None, None, 0, 0)
        t = _masked(text)
        hits: list[tuple[int, str, str, int, int]] = []
        for s0, s1 in _sentences(t):
            sentence = t[s0:s1]
            if self.procedural.search(sentence):
                continue
            asks = sentence.rstrip().endswith("?")
            for stance, rules in (("affirmative", self.affirmative), ("negative", self.negative)):
                for rule, pat in rules:
                    for m in pat.finditer(sentence):
                        # A question asks; it does not answer, unless the answer is a clause of its own before it.
                        if asks and not _CLAUSE.search(sentence, m.end()):
                            continue
                        if self.conditional.search(sentence, 0, m.start()):
                            continue
                        hits.append((s0 + m.start(), stance, rule, s0, s1))
        if not hits:
            return Answer(None, None, None, 0, 0)
        # A correction in the same message replaces what came before it.
        fixes = [m.start() for m in self.correction.finditer(t)]
        if fixes:
            after = [h for h in hits if h[0] >= fixes[-1]]
            hits = after or hits
        hits.sort()
        stances = {h[1] for h in hits}
        _, stance, rule, s0, s1 = hits[-1]
        if len(stances) > 1:
            stance, rule = "mixed", "+".join(sorted({h[2] for h in hits}))
        topic = self._topic(t[s0:s1]) or self._topic(t)
        s0 += len(t[s0:s1]) - len(t[s0:s1].lstrip())
        return Answer(stance, topic, rule, s0, min(s1, s0 + _EVIDENCE_CHARS))

    def _topic(self, text: str) -> str | None:
        for name, pat in self.topics:
            if pat.search(text):
                return name
        return None

    def read_report(self, text: str | None) -> Report | None:
        """Where a customer's text says they were told things that contradict each other."""
        if not text:
            return None
        t = _masked(text)
        spans = _sentences(t)

        def around(a: int, b: int) -> tuple[int, int]:
            lo = max([s0 for s0, _ in spans if s0 <= a], default=0)
            hi = min([s1 for _, s1 in spans if s1 >= b], default=len(t))
            return lo, hi

        for rule, pat in self.reports:
            for m in pat.finditer(t):
                lo, hi = around(m.start(), m.end())
                if self.said_words.search(t, lo, hi):
                    return Report(rule, m.start(), min(hi, m.start() + _EVIDENCE_CHARS))
        said = list(self.speech.finditer(t))
        for n, a in enumerate(said):
            opens = self.opening.search(t, max(0, a.start() - 20), a.end())
            gap = self.max_gap_opened if opens else self.max_gap
            for b in said[n + 1 :]:
                if b.start() - a.start() > gap:
                    break
                if b.start() < a.end() or not self.turn.search(t, a.end(), b.end()):
                    continue
                # A strong turn in the second's own sentence ("however, we were then told") is
                # enough; otherwise what undoes the first must be said in that sentence.
                start = max([s0 for s0, _ in spans if s0 <= b.start()], default=0)
                stop = min([s1 for _, s1 in spans if s1 > b.end()], default=len(t))
                turned = self.strong_turn.search(t, max(start, a.end()), b.start())
                undo = self.undoes.search(t, b.end(), min(stop, b.end() + self.undo_within))
                if undo is None and turned is None:
                    continue
                end = max(undo.end() if undo else 0, min(len(t), b.end() + 60))
                return Report("told_then_told", a.start(), min(end, a.start() + _EVIDENCE_CHARS))
        return None


def load_patterns(path: str | Path | None = None) -> ConflictPatterns:
    """Read the conflict patterns (the packaged defaults, or a company's own copy)."""
    raw, where = load_yaml("goodwill.measure", "conflict_patterns.yaml", path, what="conflict patterns")
    if not isinstance(raw, dict) or "version" not in raw:
        raise ConfigError(f"{where} needs a 'version'.", hint="Start from the packaged conflict_patterns.yaml.")

    def rules(*keys: str) -> tuple[tuple[str, re.Pattern[str]], ...]:
        node = _section(raw, where, *keys)
        if not isinstance(node, dict) or not node:
            raise ConfigError(f"{where}: '{'.'.join(keys)}' must map rule ids to patterns.", hint="Write it as id: 'pattern'.")
        return tuple((str(k), _compile(where, f"{'.'.join(keys)}.{k}", v)) for k, v in node.items())

    def one(*keys: str) -> re.Pattern[str]:
        return _compile(where, ".".join(keys), _section(raw, where, *keys))

    seq = ("customer_reports", "sequence")
    # In document order, so the first thing missing is the one named.
    affirmative, negative = rules("stance", "affirmative"), rules("stance", "negative")
    procedural, conditional = one("stance", "procedural"), one("stance", "conditional")
    correction, topics = one("stance", "correction"), rules("topics")
    said_words, reports = one("customer_reports", "said_words"), rules("customer_reports", "rules")
    speech, turn, strong_turn = one(*seq, "speech"), one(*seq, "turn"), one(*seq, "strong_turn")
    undoes, opening = one(*seq, "undoes"), one(*seq, "opening")
    try:
        max_gap = int(_section(raw, where, *seq, "max_gap_chars"))
        max_gap_opened = int(_section(raw, where, *seq, "max_gap_opened_chars"))
        undo_within = int(_section(raw, where, *seq, "undo_within_chars"))
        tolerance = float(_section(raw, where, "promise_dates", "tolerance_hours"))
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: a number is not a number ({exc}).", hint="Write plain numbers.") from exc
    return ConflictPatterns(
        version=str(raw["version"]),
        path=where,
        affirmative=affirmative,
        negative=negative,
        procedural=procedural,
        conditional=conditional,
        correction=correction,
        topics=topics,
        said_words=said_words,
        reports=reports,
        speech=speech,
        turn=turn,
        undoes=undoes,
        strong_turn=strong_turn,
        opening=opening,
        max_gap=max_gap,
        max_gap_opened=max_gap_opened,
        undo_within=undo_within,
        tolerance_hours=tolerance,
    )


def _read_texts(store: Store, p: ConflictPatterns, *, batch_size: int = 50_000) -> dict[str, int]:
    """Read each distinct message text not yet read under these patterns; returns counts per side."""
    store.ensure_table(ANSWER_READINGS)
    store.execute("DELETE FROM answer_readings WHERE patterns_version <> ? OR patterns_version IS NULL", [p.version])
    now = dt.datetime.now(dt.UTC)
    done: dict[str, int] = {}
    for side, direction in (("company", "outbound"), ("customer", "inbound")):
        sql = (
            "SELECT h, min(t) AS t FROM (SELECT md5(i.text) AS h, i.text AS t FROM interactions i "
            "WHERE i.direction = ? AND i.text IS NOT NULL AND i.customer_id IS NOT NULL) x "
            "WHERE NOT EXISTS (SELECT 1 FROM answer_readings r WHERE r.text_hash = x.h AND r.side = ?) GROUP BY h"
        )
        n = 0
        for batch in list(store.scan(sql, [direction, side], batch_size=batch_size)):
            cols: dict[str, list[Any]] = {k: [] for k in ("text_hash", "stance", "topic", "rule", "start_char", "end_char")}
            for h, text in zip(batch.column(0).to_pylist(), batch.column(1).to_pylist(), strict=True):
                if side == "company":
                    a = p.read_answer(text)
                    row = (a.stance, a.topic, a.rule, a.start, a.end) if a.stance else (None,) * 5
                else:
                    r = p.read_report(text)
                    row = ("reports_conflict", None, r.rule, r.start, r.end) if r else (None,) * 5
                cols["text_hash"].append(h)
                for k, v in zip(("stance", "topic", "rule", "start_char", "end_char"), row, strict=True):
                    cols[k].append(v)
            m = len(cols["text_hash"])
            store.append(
                ANSWER_READINGS,
                pa.table(
                    {
                        "text_hash": pa.array(cols["text_hash"], pa.string()),
                        "side": pa.array([side] * m, pa.string()),
                        "stance": pa.array(cols["stance"], pa.string()),
                        "topic": pa.array(cols["topic"], pa.string()),
                        "rule": pa.array(cols["rule"], pa.string()),
                        "start_char": pa.array(cols["start_char"], pa.int64()),
                        "end_char": pa.array(cols["end_char"], pa.int64()),
                        "patterns_version": pa.array([p.version] * m, pa.string()),
                        "read_at": pa.array([now] * m, pa.timestamp("us", tz="UTC")),
                    }
                ),
                dedupe=False,
            )
            n += m
        done[side] = n
    return done


# -- conflicts -------------------------------------------------------------------------------


def _excerpt(text: str, start: str, end: str) -> str:
    # Offsets are 0-based Python character offsets; substr counts characters from 1 on both engines.
    return f"substr({text}, CAST({start} AS INTEGER) + 1, CAST({end} - {start} AS INTEGER))"


def build_conflicts(
    store: Store,
    *,
    as_of: dt.datetime,
    weights: Weights,
    patterns: ConflictPatterns,
) -> dict[str, Any]:
    """Rebuild ``runaround_conflicts``: read new texts, then pair answers in SQL."""
    now = as_of.astimezone(dt.UTC)
    read = _read_texts(store, patterns)
    store.ensure_table(RUNAROUND_CONFLICTS)
    window = int(weights.rules["repeat_window_days"]) * 86400
    head = (
        "INSERT INTO runaround_conflicts (conflict_id, case_key, customer_id, kind, first_interaction_id, first_at, "
        "first_says, second_interaction_id, second_at, second_says, refs, rule, patterns_version, as_of) "
    )
    enriched = has_rows(store, "enrichments", "reason_id IS NOT NULL")
    # An outbound answer's contact reason: its own, else that of the message it answers.
    reason = "coalesce(e1.reason_id, e2.reason_id)" if enriched else "CAST(NULL AS INTEGER)"
    reason_join = (
        "LEFT JOIN enrichments e1 ON e1.interaction_id = i.interaction_id "
        "LEFT JOIN enrichments e2 ON e2.interaction_id = i.in_reply_to "
        if enriched
        else ""
    )
    # Where the case is the customer's contacts, the two must be in one window and not known
    # to be about different reasons.
    same_matter = (
        "(x.case_key NOT LIKE 'customer:%' OR ("
        f"{seconds('x.at', 'x.prev_at')} <= {window} "
        "AND (x.reason IS NULL OR x.prev_reason IS NULL OR x.reason = x.prev_reason)))"
    )
    answers = (
        head
        + "SELECT 'company_answers:' || x.iid, x.case_key, x.customer_id, 'company_answers', x.prev_iid, x.prev_at, "
        "x.prev_stance || ': ' || x.prev_says, x.iid, x.at, x.stance || ': ' || x.says, CAST(NULL AS TEXT), "
        "x.prev_rule || ' > ' || x.rule, ?, ? FROM ("
        "SELECT s.*, lag(s.iid) OVER w AS prev_iid, lag(s.at) OVER w AS prev_at, lag(s.stance) OVER w AS prev_stance, "
        "lag(s.topic) OVER w AS prev_topic, lag(s.reason) OVER w AS prev_reason, lag(s.says) OVER w AS prev_says, "
        "lag(s.rule) OVER w AS prev_rule FROM ("
        f"SELECT i.interaction_id AS iid, i.customer_id, i.occurred_at AS at, {CASE_KEY} AS case_key, r.stance, "
        f"r.topic, r.rule, {reason} AS reason, {_excerpt('i.text', 'r.start_char', 'r.end_char')} AS says "
        f"FROM interactions i JOIN answer_readings r ON r.text_hash = md5(i.text) AND r.side = 'company' {reason_join}"
        "WHERE i.direction = 'outbound' AND i.text IS NOT NULL AND i.customer_id IS NOT NULL AND i.occurred_at <= ? "
        "AND r.stance IN ('affirmative', 'negative')) s "
        "WINDOW w AS (PARTITION BY s.case_key ORDER BY s.at, s.iid)) x "
        "WHERE x.prev_stance IS NOT NULL AND x.prev_stance <> x.stance "
        "AND (x.prev_topic IS NULL OR x.topic IS NULL OR x.prev_topic = x.topic) "
        f"AND {same_matter}"
    )
    reports = (
        head
        + f"SELECT 'customer_reported:' || i.interaction_id, {CASE_KEY}, i.customer_id, 'customer_reported', "
        "CAST(NULL AS TEXT), CAST(NULL AS TIMESTAMPTZ), CAST(NULL AS TEXT), i.interaction_id, i.occurred_at, "
        f"{_excerpt('i.text', 'r.start_char', 'r.end_char')}, CAST(NULL AS TEXT), r.rule, ?, ? "
        "FROM interactions i JOIN answer_readings r ON r.text_hash = md5(i.text) AND r.side = 'customer' "
        "WHERE i.direction = 'inbound' AND i.text IS NOT NULL AND i.customer_id IS NOT NULL AND i.occurred_at <= ? "
        "AND r.stance = 'reports_conflict'"
    )
    tol = patterns.tolerance_hours * 3600
    dates = (
        head
        + "SELECT 'promise_dates:' || x.pid, x.case_key, x.customer_id, 'promise_dates', x.prev_iid, x.prev_at, "
        "x.action || ' due ' || CAST(x.prev_due AS TEXT) || coalesce(': ' || x.prev_says, ''), x.iid, x.at, "
        "x.action || ' due ' || CAST(x.due AS TEXT) || coalesce(': ' || x.says, ''), x.prev_pid || ' > ' || x.pid, "
        "'promise_dates', ?, ? FROM ("
        "SELECT s.*, lag(s.pid) OVER w AS prev_pid, lag(s.iid) OVER w AS prev_iid, lag(s.at) OVER w AS prev_at, "
        "lag(s.due) OVER w AS prev_due, lag(s.says) OVER w AS prev_says, lag(s.reason) OVER w AS prev_reason FROM ("
        f"SELECT p.promise_id AS pid, p.interaction_id AS iid, i.customer_id, p.made_at AS at, p.due_at AS due, "
        f"p.action, substr(p.evidence, 1, {_EVIDENCE_CHARS}) AS says, {CASE_KEY} AS case_key, {reason} AS reason "
        f"FROM promises p JOIN interactions i ON i.interaction_id = p.interaction_id {reason_join}"
        "WHERE p.kind = 'heard' AND p.due_at IS NOT NULL AND p.made_at <= ? AND i.customer_id IS NOT NULL "
        "AND i.direction IN ('inbound', 'outbound')) s "
        "WINDOW w AS (PARTITION BY s.case_key, s.action ORDER BY s.at, s.pid)) x "
        f"WHERE x.prev_due IS NOT NULL AND x.prev_iid <> x.iid AND abs({seconds('x.due', 'x.prev_due')}) > {tol} "
        f"AND {same_matter}"
    )
    found: dict[str, int] = {}
    with store.transaction():
        store.execute("DELETE FROM runaround_conflicts")
        found["company_answers"] = store.execute(answers, [patterns.version, now, now])
        found["customer_reported"] = store.execute(reports, [patterns.version, now, now])
        found["promise_dates"] = (
            store.execute(dates, [patterns.version, now, now]) if has_rows(store, "promises", "kind = 'heard'") else 0
        )
    store.set_meta("runaround_conflicts_version", patterns.version)
    return {"texts_read": read, "conflicts": found, "patterns_version": patterns.version}


# -- building --------------------------------------------------------------------------------


def build_runaround(
    store: Store,
    *,
    as_of: dt.datetime | None = None,
    weights: str | Path | Weights | None = None,
    patterns: str | Path | ConflictPatterns | None = None,
) -> dict[str, Any]:
    """Rebuild ``runaround_conflicts`` and ``runaround_cases`` from the interactions (and cases'
    closing times, and promises heard)."""
    w = weights if isinstance(weights, Weights) else load_weights(weights)
    p = patterns if isinstance(patterns, ConflictPatterns) else load_patterns(patterns)
    e = w.effort
    now = (as_of or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    fresh = not store.table_exists("runaround_cases")
    store.ensure_table(RUNAROUND_CASES)
    if not fresh:
        # Stores built before conflicts were counted: the table is rebuilt whole below anyway.
        store.execute("ALTER TABLE runaround_cases ADD COLUMN IF NOT EXISTS conflicts BIGINT")
    t0 = time.perf_counter()
    conflicts = build_conflicts(store, as_of=now, weights=w, patterns=p)
    t1 = time.perf_counter()
    # Resolved before the first recorded contact (a review after delivery): no time to resolve.
    hours = f"greatest(0, {seconds('coalesce(x.resolved_at, x.last_at)', 'x.first_at')} / 3600.0)"
    effort = (
        f"{e['per_extra_contact']} * greatest(x.inbound - 1, 0) + {e['per_handoff']} * x.handoffs + "
        f"{e['per_channel_switch']} * x.channel_switches + {e['per_reopen']} * x.reopens + "
        f"{e['per_conflicting_answer']} * coalesce(k.n, 0) + "
        f"{e['per_day_unresolved']} * least({e['max_days']}, {hours} / 24.0)"
    )
    # One pass: the case key is computed once per contact; hand-offs and switches need the
    # previous contact (two sorts: all contacts, and per direction); reopens come from the
    # per-case aggregates (the case's closing time is one value per key, the first inbound
    # contact its minimum), so no third window. The path is not built here: it is an ordered
    # aggregate over every contact and is only ever shown for a few cases (see case_paths).
    # Conflicts are few: their counts join the cases by key.
    sql = (
        "INSERT INTO runaround_cases (case_key, customer_id, contacts, inbound, handoffs, channel_switches, reopens, "
        "first_at, last_at, resolved_at, hours_to_resolution, effort, rules_version, as_of, conflicts) "
        f"SELECT x.case_key, x.customer_id, x.contacts, x.inbound, x.handoffs, x.channel_switches, x.reopens, "
        f"x.first_at, x.last_at, x.resolved_at, {hours}, {effort}, ?, ?, coalesce(k.n, 0) FROM ("
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
        ") y GROUP BY y.case_key) x "
        "LEFT JOIN (SELECT case_key, count(*) AS n FROM runaround_conflicts GROUP BY case_key) k "
        "ON k.case_key = x.case_key"
    )
    with store.transaction():
        store.execute("DELETE FROM runaround_cases")
        n = store.execute(sql, [w.version, now, now, now])
    store.set_meta("runaround_as_of", now.isoformat())
    return {
        "as_of": now.isoformat(),
        "rules_version": w.version,
        "cases": n,
        "patterns_version": p.version,
        "conflicts": conflicts["conflicts"],
        "texts_read": conflicts["texts_read"],
        "seconds": {"conflicts": round(t1 - t0, 3), "cases": round(time.perf_counter() - t1, 3)},
    }


def need_runaround(store: Store) -> None:
    if (
        not store.table_exists("runaround_cases")
        or store.get_meta("runaround_as_of") is None
        or store.get_meta("runaround_conflicts_version") is None
    ):
        raise NotFoundError(
            "Runaround has not been computed in this store (or was computed before conflicting answers were).",
            hint="Run `goodwill runaround --refresh` (or goodwill.measure.runaround.build_runaround).",
        )


_COLS = (
    "case_key, customer_id, contacts, inbound, handoffs, channel_switches, reopens, conflicts, first_at, "
    "last_at, resolved_at, hours_to_resolution, effort, rules_version"
)


def _chunks(keys: list[str]) -> Iterator[list[str]]:
    wanted = sorted(set(keys))
    for k in range(0, len(wanted), _PATH_CHUNK):
        yield wanted[k : k + _PATH_CHUNK]


def case_paths(store: Store, keys: list[str]) -> dict[str, str]:
    """Each case's path, every step as ``channel/function`` (``*`` = the customer, ``!`` = this
    step conflicts with an earlier answer), oldest first, from the same contacts and as-of date as
    the last build_runaround."""
    need_runaround(store)
    as_of = dt.datetime.fromisoformat(str(store.get_meta("runaround_as_of")))
    out: dict[str, str] = {}
    for chunk in _chunks(keys):
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
            f"AS path FROM (SELECT {CASE_KEY} AS case_key, {STEP} || CASE WHEN m.iid IS NULL THEN '' ELSE '!' END "
            "AS step, i.occurred_at, i.interaction_id FROM interactions i "
            "LEFT JOIN (SELECT DISTINCT second_interaction_id AS iid FROM runaround_conflicts "
            f"WHERE case_key IN {in_list(chunk)}) m ON m.iid = i.interaction_id "
            "WHERE i.customer_id IS NOT NULL AND i.occurred_at <= ? "
            f"AND i.direction IN ('inbound', 'outbound') AND ({' OR '.join(parts)})) y "
            f"WHERE y.case_key IN {in_list(chunk)} GROUP BY y.case_key",
            [as_of],
        )
        out.update({r["case_key"]: r["path"] for r in rows})
    return out


def case_conflicts(store: Store, keys: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Each case's conflicting answers with their evidence, oldest first."""
    need_runaround(store)
    out: dict[str, list[dict[str, Any]]] = {}
    for chunk in _chunks(keys):
        rows = store.rows(
            "SELECT conflict_id, case_key, kind, first_interaction_id, first_at, first_says, second_interaction_id, "
            "second_at, second_says, refs, rule, patterns_version FROM runaround_conflicts "
            f"WHERE case_key IN {in_list(chunk)} ORDER BY case_key, second_at, conflict_id"
        )
        for r in rows:
            out.setdefault(r.pop("case_key"), []).append(r)
    return out


def _with_paths(store: Store, cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    keys = [c["case_key"] for c in cases]
    paths = case_paths(store, keys)
    found = case_conflicts(store, [c["case_key"] for c in cases if c["conflicts"]])
    for c in cases:
        rules = c.pop("rules_version")
        c["path"] = paths.get(c["case_key"], "")
        c["conflicting_answers"] = found.get(c["case_key"], [])
        c["rules_version"] = rules
    return cases


def worst_cases(
    store: Store, *, limit: int = 20, source: str | None = None
) -> list[dict[str, Any]]:
    """The cases that cost their customers most effort, with their paths and conflicting answers."""
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
    """One person's cases, most effort first, and their total effort and conflicting answers."""
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
        "conflicts": sum(c["conflicts"] for c in cases),
        "cases": cases,
    }


def summary(store: Store, by: str = "source") -> list[dict[str, Any]]:
    """Effort per group: cases, mean effort, hand-offs, switches, reopens, conflicting answers, median hours."""
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
            "sum(r.conflicts) AS conflicts, "
            "percentile_cont(0.5) WITHIN GROUP (ORDER BY r.hours_to_resolution) AS median_hours "
            f"FROM runaround_cases r LEFT JOIN customers cu ON cu.customer_id = r.customer_id GROUP BY {g} ORDER BY {g}"
        )
    )


__all__ = [
    "ANSWER_READINGS",
    "CASE_KEY",
    "CONFLICT_KINDS",
    "RUNAROUND_CASES",
    "RUNAROUND_CONFLICTS",
    "STEP",
    "Answer",
    "ConflictPatterns",
    "Report",
    "build_conflicts",
    "build_runaround",
    "case_conflicts",
    "case_paths",
    "customer_effort",
    "load_patterns",
    "need_runaround",
    "summary",
    "worst_cases",
]
