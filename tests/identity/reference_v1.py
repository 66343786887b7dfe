"""Reference: the string-keyed resolver as it was before the integer-coded rewrite (commit e6278ec).

Kept verbatim, only as an oracle: tests check that :func:`goodwill.ingest.identity.resolve`
makes exactly the merges, candidates and links this one makes, and the benchmark times both
in one run. Nothing in goodwill imports it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from goodwill.ingest.identity.graph import Strong, merge_tier
from goodwill.ingest.identity.links import MERGE_COLUMNS, json_str, link_rows
from goodwill.ingest.identity.rules import Rule, Rules, load_rules
from goodwill.ingest.identity.tables import (
    IDENTITY_CANDIDATES,
    IDENTITY_MERGES,
    IDENTITY_WORK,
    ensure_identity_tables,
)
from goodwill.model import CUSTOMER_LINKS
from goodwill.store import Store

RESOLVER = "goodwill resolve"
TS = pa.timestamp("us", tz="UTC")


@dataclass
class ResolveReport:
    """What one resolution run did."""

    records: int = 0
    pairs: int = 0
    merges: int = 0
    persons_changed: int = 0
    candidates: int = 0  # new review candidates (ones already listed are not counted again)
    conflicts_refused: int = 0
    ambiguous: int = 0
    common_values_skipped: int = 0
    common_value_examples: list[str] = field(default_factory=list)
    by_rule: dict[str, int] = field(default_factory=dict)
    rule_version: str = ""
    seconds: float = 0.0
    stages: dict[str, float] = field(default_factory=dict)

    def lap(self, stage: str, since: float) -> float:
        now = time.perf_counter()
        self.stages[stage] = round(self.stages.get(stage, 0.0) + now - since, 3)
        return now

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def rule_version(rules: Rules) -> str:
    return f"{rules.version}#{rules.digest}"


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _constant(value: Any, n: int, type_: pa.DataType) -> pa.Array:
    return pa.array([value], type_).take(pa.array(np.zeros(n, dtype=np.int64)))


def put_work(store: Store, run: str, ids: pa.Array) -> None:
    ids = pc.unique(ids.combine_chunks() if isinstance(ids, pa.ChunkedArray) else ids).drop_null()
    if len(ids):
        store.append(IDENTITY_WORK, pa.table({"run_id": _constant(run, len(ids), pa.string()), "customer_id": ids}), dedupe=False)


def typed(t: pa.Table, types: dict[str, pa.DataType]) -> pa.Table:
    """Give a query result the column types we expect (PostgreSQL returns untyped empty columns)."""
    return pa.table({c: t[c].cast(types.get(c, t[c].type)) for c in t.column_names})


S, B = pa.string(), pa.bool_()
ID_TYPES = {"customer_id": S, "person_id": S, "kind": S, "value": S, "customer_a": S, "customer_b": S, "a": S, "b": S, "va": B, "vb": B}


def _ins(values: Sequence[str]) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values) or "NULL"


def _pairs_sql(pend: str, rules: Rules) -> str:
    anchors = _ins(rules.anchor_kinds)
    g = int(rules.max_group_size)
    return f"""
WITH pend AS ({pend}),
nv AS (SELECT i.customer_id, i.kind, i.value, i.verified FROM identifiers i
       JOIN pend p ON p.customer_id = i.customer_id WHERE i.kind IN ({anchors})),
keys AS (SELECT DISTINCT kind, value FROM nv),
grp AS (SELECT o.customer_id, o.kind, o.value, o.verified FROM identifiers o
        JOIN keys k ON o.kind = k.kind AND o.value = k.value),
sizes AS (SELECT kind, value, count(*) AS n FROM grp GROUP BY kind, value)
SELECT n.customer_id AS a, g.customer_id AS b, n.kind AS kind, n.value AS value,
       n.verified AS va, g.verified AS vb
FROM nv n
JOIN sizes s ON s.kind = n.kind AND s.value = n.value AND s.n BETWEEN 2 AND {g}
JOIN grp g ON g.kind = n.kind AND g.value = n.value AND g.customer_id <> n.customer_id
UNION ALL
SELECT NULL, NULL, kind, value, NULL, NULL FROM sizes WHERE n > {g}
"""


def _in_work(run: str) -> str:
    return f"(SELECT customer_id FROM identity_work WHERE run_id = '{run}')"


class _Nodes:
    """Customer ids of one run, numbered in sort order (smallest number = smallest id)."""

    def __init__(self, ids: pa.Array) -> None:
        ids = pc.unique(ids).drop_null()
        self.ids = ids.take(pc.sort_indices(ids))

    def code(self, a: pa.Array | pa.ChunkedArray) -> np.ndarray:
        return np.asarray(pc.index_in(a, value_set=self.ids).to_numpy(zero_copy_only=False), dtype=np.int64)

    def __len__(self) -> int:
        return len(self.ids)


def _q(store: Store, sql: str) -> pa.Table:
    # SQL returns rows in no fixed order (DuckDB's threads race), and codes are handed out in
    # the order values are first seen: sorted, the same facts give the same decisions every run.
    t = typed(store.query(sql), ID_TYPES)
    return t.sort_by([(c, "ascending") for c in t.column_names]) if t.num_rows > 1 else t


def _ordered_pairs(t: pa.Table) -> pa.Table:
    a, b = t["a"], t["b"]
    swap = pc.greater(a, b)
    va = pc.fill_null(t["va"], False)
    vb = pc.fill_null(t["vb"], False)
    out = pa.table(
        {
            "a": pc.if_else(swap, b, a),
            "b": pc.if_else(swap, a, b),
            "kind": t["kind"],
            "value": t["value"],
            "v": pc.and_(va, vb),
        }
    )
    return out.group_by(["a", "b", "kind", "value"], use_threads=False).aggregate([("v", "max")]).rename_columns(
        ["a", "b", "kind", "value", "v"]
    )


def resolve(
    store: Store,
    customer_ids: Sequence[str] | pa.Array | None = None,
    *,
    rules: Rules | None = None,
    at: dt.datetime | None = None,
) -> ResolveReport:
    """Resolve the given (newly ingested) customer ids against everything stored; None = all."""
    started = time.perf_counter()
    rules = rules or load_rules()
    ensure_identity_tables(store)
    version = rule_version(rules)
    when = at or now_utc()
    report = ResolveReport(rule_version=version)
    run = uuid.uuid4().hex
    try:
        if customer_ids is None:
            pend = "SELECT DISTINCT customer_id FROM identifiers"
            report.records = int(store.scalar(f"SELECT count(*) FROM ({pend}) t"))
        else:
            ids = customer_ids if isinstance(customer_ids, pa.Array) else pa.array(list(customer_ids), pa.string())
            put_work(store, run + "p", ids)
            pend = f"SELECT customer_id FROM identity_work WHERE run_id = '{run}p'"
            report.records = len(pc.unique(ids.drop_null()))
        t = report.lap("pending", started)
        raw = typed(store.query(_pairs_sql(pend, rules)), ID_TYPES)
        t = report.lap("pairs_sql", t)
        common = raw.filter(pc.is_null(raw["a"]))
        report.common_values_skipped = common.num_rows
        # SQL returns rows in no fixed order: sort, so the examples are the same on every run.
        examples = common.select(["kind", "value"]).sort_by([("kind", "ascending"), ("value", "ascending")]).slice(0, 5)
        report.common_value_examples = [f"{k}:{v}" for k, v in zip(examples["kind"].to_pylist(), examples["value"].to_pylist(), strict=True)]
        pairs = _ordered_pairs(raw.filter(pc.is_valid(raw["a"])))
        if pairs.num_rows == 0:
            return report
        report.pairs = pairs.group_by(["a", "b"]).aggregate([]).num_rows
        report.lap("pairs_arrow", t)
        _resolve_pairs(store, run, pairs, rules, version, when, report)
        return report
    finally:
        store.execute("DELETE FROM identity_work WHERE run_id LIKE ?", [run + "%"])
        report.seconds = round(time.perf_counter() - started, 3)


def _resolve_pairs(
    store: Store, run: str, pairs: pa.Table, rules: Rules, version: str, when: dt.datetime, report: ResolveReport
) -> None:
    t = time.perf_counter()
    nodes0 = pc.unique(pa.concat_arrays([pairs["a"].combine_chunks(), pairs["b"].combine_chunks()]))
    put_work(store, run + "n", nodes0)
    members = _q(store,
        f"SELECT l2.customer_id, l2.person_id FROM customer_links l1 "
        f"JOIN customer_links l2 ON l2.person_id = l1.person_id "
        f"WHERE l1.customer_id IN {_in_work(run + 'n')}"
    )
    extra = pc.filter(members["customer_id"], pc.invert(pc.is_in(members["customer_id"], value_set=nodes0)))
    put_work(store, run + "n", pc.unique(extra.combine_chunks()))
    nodes = _Nodes(pa.concat_arrays([nodes0, extra.combine_chunks()]))
    n = len(nodes)
    strong_kinds = list(rules.strong_kinds)
    strong_rows = _q(store,
        f"SELECT customer_id, kind, value FROM identifiers WHERE kind IN ({_ins(strong_kinds)}) "
        f"AND customer_id IN {_in_work(run + 'n')}"
    ) if strong_kinds else pa.table({"customer_id": pa.array([], pa.string()), "kind": pa.array([], pa.string()), "value": pa.array([], pa.string())})
    secondary = _q(store,
        f"SELECT customer_id, kind, value FROM identifiers WHERE kind IN ({_ins(rules.secondary_kinds)}) "
        f"AND customer_id IN {_in_work(run + 'n')}"
    )
    seps = _q(store,
        f"SELECT customer_a, customer_b FROM identity_separations WHERE customer_a IN {_in_work(run + 'n')} "
        f"AND customer_b IN {_in_work(run + 'n')}"
    )
    old_merges = typed(store.query(
        f"SELECT {', '.join(MERGE_COLUMNS)} FROM identity_merges WHERE undone_at IS NULL "
        f"AND customer_a IN {_in_work(run + 'n')}"
    ), {f.name: f.type for f in IDENTITY_MERGES.arrow_schema()})

    t = report.lap("context_sql", t)
    lab = np.arange(n, dtype=np.int64)
    if members.num_rows:
        mc = nodes.code(members["customer_id"])
        # The smallest member of each stored person is its cluster.
        pid = pc.index_in(members["person_id"], value_set=pc.unique(members["person_id"])).to_numpy()
        low = np.full(int(pid.max()) + 1, n, dtype=np.int64)
        np.minimum.at(low, pid, mc)
        lab[mc] = low[pid]
    kind_names = strong_kinds
    strong = Strong(
        node=nodes.code(strong_rows["customer_id"]) if strong_rows.num_rows else np.zeros(0, np.int64),
        kind=np.asarray(pc.index_in(strong_rows["kind"], value_set=pa.array(kind_names, pa.string())).to_numpy(zero_copy_only=False), dtype=np.int64) if strong_rows.num_rows else np.zeros(0, np.int64),
        value=np.asarray(pc.index_in(strong_rows["value"], value_set=pc.unique(strong_rows["value"])).to_numpy(zero_copy_only=False), dtype=np.int64) if strong_rows.num_rows else np.zeros(0, np.int64),
        kind_names=[k.replace("_", " ") + "s" for k in kind_names],
    )
    sep_x = nodes.code(seps["customer_a"]) if seps.num_rows else np.zeros(0, np.int64)
    sep_y = nodes.code(seps["customer_b"]) if seps.num_rows else np.zeros(0, np.int64)
    sep_table = pa.table({"a": pc.if_else(pc.less(seps["customer_a"], seps["customer_b"]), seps["customer_a"], seps["customer_b"]),
                          "b": pc.if_else(pc.less(seps["customer_a"], seps["customer_b"]), seps["customer_b"], seps["customer_a"])}) if seps.num_rows else None

    accepted_parts: list[pa.Table] = []
    cand_parts: list[pa.Table] = []
    for rule in rules.ordered:
        rp = _rule_pairs_checked(rule, pairs, secondary, rules)
        if sep_table is not None and rp.num_rows:
            rp = rp.join(sep_table, keys=["a", "b"], join_type="left anti", use_threads=False).sort_by([("a", "ascending"), ("b", "ascending")])
        if rp.num_rows == 0:
            continue
        ea, eb = nodes.code(rp["a"]), nodes.code(rp["b"])
        if rule.score >= rules.auto_threshold:
            res = merge_tier(lab, ea, eb, strong, sep_x, sep_y)
            report.conflicts_refused += res.conflicts
            if len(res.accepted):
                acc = rp.take(pa.array(res.accepted))
                accepted_parts.append(acc.append_column("rule", _constant(rule.name, acc.num_rows, pa.string()))
                                      .append_column("score", _constant(rule.score, acc.num_rows, pa.float64())))
                report.by_rule[rule.name] = report.by_rule.get(rule.name, 0) + acc.num_rows
            if res.held:
                idx = np.fromiter(res.held.keys(), dtype=np.int64, count=len(res.held))
                held = rp.take(pa.array(idx))
                report.ambiguous += held.num_rows
                cand_parts.append(_cands(held, rule, pa.array(list(res.held.values()), pa.string())))
        else:
            reason = f"rule {rule.name} scores {rule.score:g}, below the automatic threshold {rules.auto_threshold:g}"
            cand_parts.append(_cands(rp, rule, _constant(reason, rp.num_rows, pa.string())))

    t = report.lap("merge", t)
    new_merges = _new_merges(accepted_parts, run, version, when)
    report.merges = new_merges.num_rows
    candidates = _final_candidates(cand_parts, nodes, lab, strong, version, when, report)

    links = None
    if new_merges.num_rows:
        touched = np.unique(lab[nodes.code(new_merges["customer_a"])])
        affected = nodes.ids.filter(pa.array(np.isin(lab, touched)))
        report.persons_changed = len(touched)
        keep_old = old_merges.filter(pc.is_in(old_merges["customer_a"], value_set=affected))
        active = pa.concat_tables(
            [keep_old.select(list(MERGE_COLUMNS)), new_merges.select(list(MERGE_COLUMNS))], promote_options="permissive"
        )
        links = link_rows(active)
        put_work(store, run + "a", affected)
    t = report.lap("links", t)
    with store.transaction():
        if new_merges.num_rows:
            store.append(IDENTITY_MERGES, new_merges, dedupe=False)
        if candidates.num_rows:
            report.candidates = store.append(IDENTITY_CANDIDATES, candidates)
        if links is not None:
            store.execute(f"DELETE FROM customer_links WHERE customer_id IN {_in_work(run + 'a')}")
            store.append(CUSTOMER_LINKS, links, dedupe=False)
    report.lap("write", t)


def _rule_pairs_checked(rule: Rule, pairs: pa.Table, secondary: pa.Table, rules: Rules) -> pa.Table:
    anchors = set(rules.anchor_kinds)
    result: pa.Table | None = None
    for i, clause in enumerate(rule.match):
        if clause.kind in anchors:
            rows = pairs.filter(pc.equal(pairs["kind"], clause.kind))
            if clause.verified:
                rows = rows.filter(rows["v"])
            rows = rows.select(["a", "b", "value"])
        else:
            assert result is not None  # the first clause of every rule is an anchor kind
            sec = secondary.filter(pc.equal(secondary["kind"], clause.kind)).select(["customer_id", "value"])
            left = result.select(["a", "b"]).join(sec, keys="a", right_keys="customer_id", use_threads=False)
            rows = left.join(sec.rename_columns(["b", "value"]), keys=["b", "value"], join_type="inner", use_threads=False)
        col = f"v{i}"
        rows = rows.group_by(["a", "b"], use_threads=False).aggregate([("value", "min")]).rename_columns(["a", "b", col])
        result = rows if result is None else result.join(rows, keys=["a", "b"], join_type="inner", use_threads=False)
        if result.num_rows == 0:
            break
    assert result is not None
    if result.num_rows == 0:
        return pa.table({"a": pa.array([], pa.string()), "b": pa.array([], pa.string()), "evidence": pa.array([], pa.string())})
    items = [
        pc.binary_join_element_wise('{"kind":"' + c.kind + '","value":', json_str(result[f"v{i}"]), "}", "")
        for i, c in enumerate(rule.match)
    ]
    joined = items[0]
    for it in items[1:]:
        joined = pc.binary_join_element_wise(joined, it, ",")
    evidence = pc.binary_join_element_wise('{"rule":"' + rule.name + '","matched":[', joined, "]}", "")
    out = pa.table({"a": result["a"], "b": result["b"], "evidence": evidence})
    return out.sort_by([("a", "ascending"), ("b", "ascending")])


def _cands(t: pa.Table, rule: Rule, reason: pa.Array) -> pa.Table:
    return pa.table(
        {
            "a": t["a"],
            "b": t["b"],
            "rule": _constant(rule.name, t.num_rows, pa.string()),
            "score": _constant(rule.score, t.num_rows, pa.float64()),
            "evidence": t["evidence"],
            "reason": reason,
        }
    )


def _new_merges(parts: list[pa.Table], run: str, version: str, when: dt.datetime) -> pa.Table:
    if not parts:
        return IDENTITY_MERGES.arrow_schema().empty_table()
    t = pa.concat_tables(parts)
    m = t.num_rows
    seq = pc.cast(pa.array(np.arange(m)), pa.string())
    prefix = "m" + when.strftime("%Y%m%d%H%M%S") + run[:6] + "-"
    return pa.table(
        {
            "merge_id": pc.binary_join_element_wise(_constant(prefix, m, pa.string()), seq, ""),
            "customer_a": t["a"],
            "customer_b": t["b"],
            "rule": t["rule"],
            "rule_version": _constant(version, m, pa.string()),
            "score": t["score"],
            "evidence": t["evidence"],
            "decided_at": _constant(when, m, TS),
            "decided_by": _constant(RESOLVER, m, pa.string()),
            "undone_at": pa.nulls(m, TS),
            "undone_by": pa.nulls(m, pa.string()),
            "undo_reason": pa.nulls(m, pa.string()),
        },
        schema=IDENTITY_MERGES.arrow_schema(),
    )


def candidate_id(a: str, b: str) -> str:
    return "c" + hashlib.sha1(f"{a}\x1f{b}".encode()).hexdigest()[:15]


def _final_candidates(
    parts: list[pa.Table], nodes: _Nodes, lab: np.ndarray, strong: Strong, version: str, when: dt.datetime, report: ResolveReport
) -> pa.Table:
    if not parts:
        return IDENTITY_CANDIDATES.arrow_schema().empty_table()
    t = pa.concat_tables(parts)
    la, lb = lab[nodes.code(t["a"])], lab[nodes.code(t["b"])]
    keep = la != lb
    # Two persons holding different values of a strong identifier can never be one:
    # asking a person to decide would only invite a wrong merge.
    clash = np.zeros(len(la), dtype=bool)
    if len(strong.node):
        for k in np.unique(strong.kind):
            val = np.full(len(lab), -1, dtype=np.int64)
            sel = strong.kind == k
            val[lab[strong.node[sel]]] = strong.value[sel]
            clash |= (val[la] >= 0) & (val[lb] >= 0) & (val[la] != val[lb])
    report.conflicts_refused += int((keep & clash).sum())
    t = t.filter(pa.array(keep & ~clash))
    if t.num_rows == 0:
        return IDENTITY_CANDIDATES.arrow_schema().empty_table()
    # One candidate per pair: the strongest rule that proposed it (parts come strongest first).
    pos = pa.array(np.arange(t.num_rows))
    first = t.append_column("pos", pos).group_by(["a", "b"], use_threads=False).aggregate([("pos", "min")])
    t = t.take(first["pos_min"]).sort_by([("a", "ascending"), ("b", "ascending")])
    m = t.num_rows
    ids = pa.array([candidate_id(a, b) for a, b in zip(t["a"].to_pylist(), t["b"].to_pylist(), strict=True)], pa.string())
    return pa.table(
        {
            "candidate_id": ids,
            "customer_a": t["a"],
            "customer_b": t["b"],
            "rule": t["rule"],
            "rule_version": _constant(version, m, pa.string()),
            "score": t["score"],
            "evidence": t["evidence"],
            "reason": t["reason"],
            "found_at": _constant(when, m, TS),
            "status": _constant("open", m, pa.string()),
            "decided_at": pa.nulls(m, TS),
            "decided_by": pa.nulls(m, pa.string()),
        },
        schema=IDENTITY_CANDIDATES.arrow_schema(),
    )
