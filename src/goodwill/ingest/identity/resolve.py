"""Incremental identity resolution, in SQL and numpy.

1. The store joins the identifiers of the records to resolve with every stored
   identifier on (kind, value): one query, whatever the number of rules.
2. Each automatic rule, strongest first, merges the pairs it matches (see
   :mod:`goodwill.ingest.identity.graph`): never two different values of a strong
   identifier in one person, never a pair a person separated, never a guess between
   two persons that cannot both be right.
3. Pairs matched only by weaker rules, and ambiguous ones, become review candidates.
4. The merges are logged, and ``customer_links`` is recomputed for the persons touched.

Only the records given and the persons they touch are read back, so resolving a new
batch costs in proportion to the batch, not to the store.
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

    def __init__(self, distinct: pa.Array) -> None:
        """``distinct``: the ids, each once; ``rank[i]`` is then the number of ``distinct[i]``."""
        order = np.asarray(pc.sort_indices(distinct).to_numpy(), dtype=np.int64)
        self.ids = distinct.take(pa.array(order))
        self.rank = np.empty(len(order), dtype=np.int64)
        self.rank[order] = np.arange(len(order), dtype=np.int64)

    def codes(self, *arrays: pa.Array | pa.ChunkedArray) -> list[np.ndarray]:
        """Numbers of the ids in each array, looked up together (one hash table over the ids, not one each)."""
        parts = [x.combine_chunks() if isinstance(x, pa.ChunkedArray) else x for x in arrays]
        both = pa.concat_arrays([p.cast(pa.string()) for p in parts]) if parts else pa.array([], pa.string())
        found = np.asarray(pc.index_in(both, value_set=self.ids).to_numpy(zero_copy_only=False), dtype=np.int64)
        return np.split(found, np.cumsum([len(p) for p in parts])[:-1])

    def __len__(self) -> int:
        return len(self.ids)


def _sorted_codes(a: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, pa.Array]:
    """Each string's number among the distinct strings in sort order, and those strings.

    Numbered in sort order, the smallest code of a group is also its smallest string,
    so a rule's evidence names the same value as when the strings themselves were compared.
    """
    enc = pc.dictionary_encode(a.combine_chunks() if isinstance(a, pa.ChunkedArray) else a)
    order = np.asarray(pc.sort_indices(enc.dictionary).to_numpy(), dtype=np.int64)
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order), dtype=np.int64)
    codes = rank[np.asarray(enc.indices.to_numpy(zero_copy_only=False), dtype=np.int64)]
    return codes, enc.dictionary.take(pa.array(order))


def _q(store: Store, sql: str) -> pa.Table:
    # SQL returns rows in no fixed order (DuckDB's threads race), and codes are handed out in
    # the order values are first seen: sorted, the same facts give the same decisions every run.
    t = typed(store.query(sql), ID_TYPES)
    return t.sort_by([(c, "ascending") for c in t.column_names]) if t.num_rows > 1 else t


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
        found = raw.filter(pc.is_valid(raw["a"]))
        if found.num_rows == 0:
            return report
        report.lap("pairs_arrow", t)
        _resolve_pairs(store, run, found, rules, version, when, report)
        return report
    finally:
        store.execute("DELETE FROM identity_work WHERE run_id LIKE ?", [run + "%"])
        report.seconds = round(time.perf_counter() - started, 3)


@dataclass
class _Pairs:
    """Every (record, record, shared anchor value) found, as integer codes.

    ``a < b`` are node codes, ``kind`` indexes the rules' anchor kinds, ``value``
    indexes ``values`` (sorted), ``v``: verified in both records.
    """

    a: np.ndarray
    b: np.ndarray
    kind: np.ndarray
    value: np.ndarray
    v: np.ndarray
    values: pa.Array


@dataclass
class _Secondary:
    """Identifiers only checked on pairs found another way, per kind: node code, value code."""

    node: dict[str, np.ndarray]
    value: dict[str, np.ndarray]
    values: pa.Array


@dataclass
class _Matched:
    """Pairs one rule matched (sorted by a, b) with the code of the value each clause matched on."""

    rule: Rule
    a: np.ndarray
    b: np.ndarray
    clause_values: list[np.ndarray]
    dictionaries: list[pa.Array]

    def take(self, idx: np.ndarray) -> _Matched:
        return _Matched(self.rule, self.a[idx], self.b[idx], [c[idx] for c in self.clause_values], self.dictionaries)

    def __len__(self) -> int:
        return len(self.a)

    def evidence(self) -> pa.Array:
        """The evidence JSON of each pair; built only for the pairs that are kept."""
        if len(self.a) == 0:
            return pa.array([], pa.string())
        items = [
            pc.binary_join_element_wise('{"kind":"' + c.kind + '","value":', json_str(d.take(pa.array(codes))), "}", "")
            for c, codes, d in zip(self.rule.match, self.clause_values, self.dictionaries, strict=True)
        ]
        joined = items[0]
        for it in items[1:]:
            joined = pc.binary_join_element_wise(joined, it, ",")
        return pc.binary_join_element_wise('{"rule":"' + self.rule.name + '","matched":[', joined, "]}", "")


def _code_pairs(found: pa.Table, ca: np.ndarray, cb: np.ndarray, rules: Rules) -> _Pairs:
    kind = np.asarray(pc.index_in(found["kind"], value_set=pa.array(rules.anchor_kinds, pa.string())).to_numpy(zero_copy_only=False), dtype=np.int64)
    value, values = _sorted_codes(found["value"])
    va = np.asarray(pc.fill_null(found["va"], False).to_numpy(zero_copy_only=False), dtype=bool)
    vb = np.asarray(pc.fill_null(found["vb"], False).to_numpy(zero_copy_only=False), dtype=bool)
    a, b = np.minimum(ca, cb), np.maximum(ca, cb)
    # Sorted once by (a, b, value): every rule's selection of these rows is then sorted too.
    order = np.lexsort((value, a * (int(b.max(initial=0)) + 1) + b))
    return _Pairs(a[order], b[order], kind[order], value[order], (va & vb)[order], values)


def _code_secondary(secondary: pa.Table, node: np.ndarray) -> _Secondary:
    if secondary.num_rows == 0:
        return _Secondary({}, {}, pa.array([], pa.string()))
    value, values = _sorted_codes(secondary["value"])
    kinds = secondary["kind"].combine_chunks()
    by_node: dict[str, np.ndarray] = {}
    by_value: dict[str, np.ndarray] = {}
    for k in pc.unique(kinds).to_pylist():
        sel = np.asarray(pc.equal(kinds, k).to_numpy(zero_copy_only=False), dtype=bool)
        by_node[k], by_value[k] = node[sel], value[sel]
    return _Secondary(by_node, by_value, values)


def _resolve_pairs(
    store: Store, run: str, found: pa.Table, rules: Rules, version: str, when: dt.datetime, report: ResolveReport
) -> None:
    t = time.perf_counter()
    ends = pc.dictionary_encode(pa.concat_arrays([found["a"].combine_chunks(), found["b"].combine_chunks()]))
    nodes0 = ends.dictionary
    put_work(store, run + "n", nodes0)
    members = _q(store,
        f"SELECT l2.customer_id, l2.person_id FROM customer_links l1 "
        f"JOIN customer_links l2 ON l2.person_id = l1.person_id "
        f"WHERE l1.customer_id IN {_in_work(run + 'n')}"
    )
    extra = pc.filter(members["customer_id"], pc.invert(pc.is_in(members["customer_id"], value_set=nodes0)))
    put_work(store, run + "n", pc.unique(extra.combine_chunks()))
    nodes = _Nodes(pa.concat_arrays([nodes0, pc.unique(extra.combine_chunks())]))
    n = len(nodes)
    strong_kinds = list(rules.strong_kinds)
    strong_rows = _q(store,
        f"SELECT customer_id, kind, value FROM identifiers WHERE kind IN ({_ins(strong_kinds)}) "
        f"AND customer_id IN {_in_work(run + 'n')}"
    ) if strong_kinds else pa.table({"customer_id": pa.array([], pa.string()), "kind": pa.array([], pa.string()), "value": pa.array([], pa.string())})
    secondary_rows = _q(store,
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

    end_codes = nodes.rank[np.asarray(ends.indices.to_numpy(zero_copy_only=False), dtype=np.int64)]
    pairs = _code_pairs(found, end_codes[: found.num_rows], end_codes[found.num_rows :], rules)
    mc, strong_node, secondary_node, sep_x, sep_y = nodes.codes(
        members["customer_id"], strong_rows["customer_id"], secondary_rows["customer_id"], seps["customer_a"], seps["customer_b"]
    )
    report.pairs = len(np.unique(pairs.a * n + pairs.b))
    secondary = _code_secondary(secondary_rows, secondary_node)
    lab = np.arange(n, dtype=np.int64)
    if members.num_rows:
        # The smallest member of each stored person is its cluster.
        pid = pc.index_in(members["person_id"], value_set=pc.unique(members["person_id"])).to_numpy()
        low = np.full(int(pid.max()) + 1, n, dtype=np.int64)
        np.minimum.at(low, pid, mc)
        lab[mc] = low[pid]
    kind_names = strong_kinds
    strong = Strong(
        node=strong_node,
        kind=np.asarray(pc.index_in(strong_rows["kind"], value_set=pa.array(kind_names, pa.string())).to_numpy(zero_copy_only=False), dtype=np.int64) if strong_rows.num_rows else np.zeros(0, np.int64),
        value=np.asarray(pc.index_in(strong_rows["value"], value_set=pc.unique(strong_rows["value"])).to_numpy(zero_copy_only=False), dtype=np.int64) if strong_rows.num_rows else np.zeros(0, np.int64),
        kind_names=[k.replace("_", " ") + "s" for k in kind_names],
    )
    sep_keys = np.unique(np.minimum(sep_x, sep_y) * n + np.maximum(sep_x, sep_y))
    t = report.lap("pairs_arrow", t)

    accepted_parts: list[tuple[_Matched, pa.Array]] = []
    cand_parts: list[tuple[_Matched, pa.Array]] = []
    for rule in rules.ordered:
        rp = _rule_pairs_checked(rule, pairs, secondary, rules)
        if len(sep_keys) and len(rp):
            rp = rp.take(np.nonzero(~np.isin(rp.a * n + rp.b, sep_keys))[0])
        if len(rp) == 0:
            continue
        if rule.score >= rules.auto_threshold:
            res = merge_tier(lab, rp.a, rp.b, strong, sep_x, sep_y)
            report.conflicts_refused += res.conflicts
            if len(res.accepted):
                acc = rp.take(res.accepted)
                accepted_parts.append((acc, acc.evidence()))
                report.by_rule[rule.name] = report.by_rule.get(rule.name, 0) + len(acc)
            if res.held:
                idx = np.fromiter(res.held.keys(), dtype=np.int64, count=len(res.held))
                report.ambiguous += len(idx)
                cand_parts.append((rp.take(idx), pa.array(list(res.held.values()), pa.string())))
        else:
            reason = f"rule {rule.name} scores {rule.score:g}, below the automatic threshold {rules.auto_threshold:g}"
            cand_parts.append((rp, _constant(reason, len(rp), pa.string())))

    t = report.lap("merge", t)
    new_merges = _new_merges(accepted_parts, nodes, run, version, when)
    report.merges = new_merges.num_rows
    candidates = _final_candidates(cand_parts, nodes, lab, strong, version, when, report)

    links = None
    if new_merges.num_rows:
        touched = np.unique(lab[np.concatenate([m.a for m, _ in accepted_parts])])
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


def _first_value(a: np.ndarray, b: np.ndarray, value: np.ndarray, *, ordered: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct (a, b), sorted, each with its smallest value (``ordered``: already sorted by a, b, value)."""
    if len(a) == 0:
        return a, b, value
    if not ordered:
        n = int(max(a.max(), b.max())) + 1
        order = np.lexsort((value, a * n + b))
        a, b, value = a[order], b[order], value[order]
    first = np.ones(len(a), dtype=bool)
    first[1:] = (a[1:] != a[:-1]) | (b[1:] != b[:-1])
    return a[first], b[first], value[first]


def _rule_pairs_checked(rule: Rule, pairs: _Pairs, secondary: _Secondary, rules: Rules) -> _Matched:
    anchors = list(rules.anchor_kinds)
    a = b = np.zeros(0, dtype=np.int64)
    cols: list[np.ndarray] = []
    dicts: list[pa.Array] = []
    for i, clause in enumerate(rule.match):
        if clause.kind in anchors:
            sel = pairs.kind == anchors.index(clause.kind)
            if clause.verified:
                sel &= pairs.v
            ra, rb, rv = _first_value(pairs.a[sel], pairs.b[sel], pairs.value[sel], ordered=True)
            dicts.append(pairs.values)
        else:
            assert i > 0  # the first clause of every rule is an anchor kind
            sn = secondary.node.get(clause.kind, np.zeros(0, np.int64))
            sv = secondary.value.get(clause.kind, np.zeros(0, np.int64))
            sec = pa.table({"n": sn, "value": sv})
            left = pa.table({"a": a, "b": b}).join(sec, keys="a", right_keys="n", use_threads=False)
            both = left.join(sec.rename_columns(["b", "value"]), keys=["b", "value"], join_type="inner", use_threads=False)
            ra, rb, rv = _first_value(
                *(np.asarray(both[c].to_numpy(), dtype=np.int64) for c in ("a", "b", "value"))
            )
            dicts.append(secondary.values)
        if i == 0:
            a, b, cols = ra, rb, [rv]
        else:
            # Both sides are sorted and distinct on (a, b): keep the pairs in both.
            n = int(max(a.max(initial=0), ra.max(initial=0), b.max(initial=0), rb.max(initial=0))) + 1
            keep, ri = _intersect(a * n + b, ra * n + rb)
            a, b, cols = a[keep], b[keep], [c[keep] for c in cols] + [rv[ri]]
        if len(a) == 0:
            break
    if len(a) == 0:
        z = np.zeros(0, dtype=np.int64)
        return _Matched(rule, z, z, [z for _ in rule.match], dicts + [pairs.values] * (len(rule.match) - len(dicts)))
    return _Matched(rule, a, b, cols, dicts)


def _intersect(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions in ``x`` of the keys also in ``y``, and their positions in ``y`` (both sorted, distinct)."""
    pos = np.searchsorted(y, x)
    pos_c = np.minimum(pos, max(len(y) - 1, 0))
    hit = (pos < len(y)) & (y[pos_c] == x) if len(y) else np.zeros(len(x), dtype=bool)
    return np.nonzero(hit)[0], pos_c[hit]


def _new_merges(parts: list[tuple[_Matched, pa.Array]], nodes: _Nodes, run: str, version: str, when: dt.datetime) -> pa.Table:
    if not parts:
        return IDENTITY_MERGES.arrow_schema().empty_table()
    a = np.concatenate([p.a for p, _ in parts])
    b = np.concatenate([p.b for p, _ in parts])
    m = len(a)
    rule = pa.array([p.rule.name for p, _ in parts]).take(pa.array(np.repeat(np.arange(len(parts)), [len(p) for p, _ in parts])))
    score = np.repeat(np.array([p.rule.score for p, _ in parts], dtype=np.float64), [len(p) for p, _ in parts])
    seq = pc.cast(pa.array(np.arange(m)), pa.string())
    prefix = "m" + when.strftime("%Y%m%d%H%M%S") + run[:6] + "-"
    return pa.table(
        {
            "merge_id": pc.binary_join_element_wise(_constant(prefix, m, pa.string()), seq, ""),
            "customer_a": nodes.ids.take(pa.array(a)),
            "customer_b": nodes.ids.take(pa.array(b)),
            "rule": rule,
            "rule_version": _constant(version, m, pa.string()),
            "score": pa.array(score),
            "evidence": pa.concat_arrays([ev for _, ev in parts]),
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
    parts: list[tuple[_Matched, pa.Array]], nodes: _Nodes, lab: np.ndarray, strong: Strong, version: str, when: dt.datetime, report: ResolveReport
) -> pa.Table:
    if not parts:
        return IDENTITY_CANDIDATES.arrow_schema().empty_table()
    a = np.concatenate([p.a for p, _ in parts])
    b = np.concatenate([p.b for p, _ in parts])
    part = np.repeat(np.arange(len(parts)), [len(p) for p, _ in parts])
    la, lb = lab[a], lab[b]
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
    pos = np.nonzero(keep & ~clash)[0]
    if len(pos) == 0:
        return IDENTITY_CANDIDATES.arrow_schema().empty_table()
    # One candidate per pair: the strongest rule that proposed it (parts come strongest first).
    _, first = np.unique(a[pos] * len(lab) + b[pos], return_index=True)
    pos = pos[first]  # sorted by (a, b)
    row = pos - np.concatenate([[0], np.cumsum([len(p) for p, _ in parts])])[part[pos]]
    ev_parts, where = [], []
    for p in np.unique(part[pos]).tolist():
        at = np.nonzero(part[pos] == p)[0]
        ev_parts.append(parts[p][0].take(row[at]).evidence())
        where.append(at)
    order = np.concatenate(where)
    inverse = np.empty_like(order)
    inverse[order] = np.arange(len(order))
    evidence = pa.concat_arrays(ev_parts).take(pa.array(inverse))
    m = len(pos)
    ca, cb = nodes.ids.take(pa.array(a[pos])), nodes.ids.take(pa.array(b[pos]))
    ids = pa.array([candidate_id(x, y) for x, y in zip(ca.to_pylist(), cb.to_pylist(), strict=True)], pa.string())
    rule_names = pa.array([p.rule.name for p, _ in parts], pa.string())
    scores = np.array([p.rule.score for p, _ in parts], dtype=np.float64)
    return pa.table(
        {
            "candidate_id": ids,
            "customer_a": ca,
            "customer_b": cb,
            "rule": rule_names.take(pa.array(part[pos])),
            "rule_version": _constant(version, m, pa.string()),
            "score": pa.array(scores[part[pos]]),
            "evidence": evidence,
            "reason": pa.concat_arrays([r for _, r in parts]).take(pa.array(pos)),
            "found_at": _constant(when, m, TS),
            "status": _constant("open", m, pa.string()),
            "decided_at": pa.nulls(m, TS),
            "decided_by": pa.nulls(m, pa.string()),
        },
        schema=IDENTITY_CANDIDATES.arrow_schema(),
    )
