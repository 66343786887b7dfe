"""The merge graph in numpy: components, conflicts and the greedy merge of one rule tier.

Records are numbered by the sort order of their customer ids, so the smallest number
in a cluster is also its smallest id, which is the person id. Each rule is one tier:
its edges are joined into components at once (numpy), and a component whose union is
clean — no two values of one strong identifier, no separated pair — is merged whole.
Only the rare components that are not (a conflict, or a cycle whose spanning tree
must be chosen) are walked edge by edge in Python.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

AMBIGUOUS = "ambiguous: these records also match another person with a different {kinds}"


def spanning_forest(n: int, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Components of ``n`` nodes under edges (u, v), and a spanning forest of those edges.

    Returns each node's component (its smallest node) and the indices of the edges
    chosen. Each round, every component root hooks to the smallest root it has an
    edge to (the edge with the smallest index among those): every hook goes to a
    smaller root, so the hooks never close a cycle.
    """
    root = np.arange(n, dtype=np.int64)
    idx = np.arange(len(u), dtype=np.int64)
    chosen: list[np.ndarray] = []
    while len(idx):
        ru, rv = root[u], root[v]
        live = ru != rv
        if not live.any():
            break
        u, v, idx, ru, rv = u[live], v[live], idx[live], ru[live], rv[live]
        hi, lo = np.maximum(ru, rv), np.minimum(ru, rv)
        order = np.lexsort((idx, lo, hi))
        hs = hi[order]
        first = np.ones(len(hs), dtype=bool)
        first[1:] = hs[1:] != hs[:-1]
        sel = order[first]
        root[hi[sel]] = lo[sel]
        chosen.append(idx[sel])
        while True:
            jumped = root[root]
            if np.array_equal(jumped, root):
                break
            root = jumped
    picked = np.sort(np.concatenate(chosen)) if chosen else np.zeros(0, dtype=np.int64)
    return root, picked


def components(n: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Label each of ``n`` nodes with the smallest node of its component under edges (u, v)."""
    return spanning_forest(n, u, v)[0]


@dataclass
class Strong:
    """Strong identifiers of the nodes: node, kind code and value code (int arrays)."""

    node: np.ndarray
    kind: np.ndarray
    value: np.ndarray
    kind_names: list[str] = field(default_factory=list)


@dataclass
class TierResult:
    accepted: np.ndarray  # indices of edges that merged two clusters
    held: dict[int, str]  # edge index -> why it was not merged (ambiguity)
    conflicts: int  # edges refused because the two sides hold different strong values


def _conflicting_components(comp_of_node: np.ndarray, strong: Strong, touched: np.ndarray) -> np.ndarray:
    if len(strong.node) == 0:
        return np.zeros(0, dtype=np.int64)
    c = comp_of_node[strong.node]
    mask = np.isin(c, touched)
    if not mask.any():
        return np.zeros(0, dtype=np.int64)
    t = pa.table({"c": c[mask], "k": strong.kind[mask], "v": strong.value[mask]})
    g = t.group_by(["c", "k"]).aggregate([("v", "count_distinct")])
    bad = g.filter(pa.compute.greater(g["v_count_distinct"], 1))["c"].to_numpy()
    return np.unique(bad)


def merge_tier(
    lab: np.ndarray,
    ea: np.ndarray,
    eb: np.ndarray,
    strong: Strong,
    sep_x: np.ndarray,
    sep_y: np.ndarray,
) -> TierResult:
    """Merge along edges (ea, eb) where allowed; updates ``lab`` (cluster of each node) in place.

    Edges must be sorted by (ea, eb) so ties break the same way every run.
    """
    n = len(lab)
    u = lab[ea]
    v = lab[eb]
    live = np.nonzero(u != v)[0]
    if len(live) == 0:
        return TierResult(np.zeros(0, dtype=np.int64), {}, 0)
    u, v = u[live], v[live]
    comp, forest = spanning_forest(n, u, v)
    comp_node = comp[lab]
    touched = np.unique(comp[u])
    bad = set(_conflicting_components(comp_node, strong, touched).tolist())
    if len(sep_x):
        same = (comp_node[sep_x] == comp_node[sep_y]) & (lab[sep_x] != lab[sep_y])
        bad.update(comp_node[sep_x][same].tolist())
    walk = bad
    edge_comp = comp[u]
    bad_arr = np.fromiter(walk, dtype=np.int64, count=len(walk))
    # Clean components merge whole, along their spanning forest.
    easy_forest = forest[~np.isin(edge_comp[forest], bad_arr)]
    accepted = [live[easy_forest]]
    move = ~np.isin(comp_node, bad_arr)
    lab[move] = comp_node[move]
    easy = ~np.isin(edge_comp, bad_arr)

    held: dict[int, str] = {}
    conflicts = 0
    if walk:
        order = np.argsort(edge_comp, kind="stable")
        by_comp: dict[int, list[int]] = defaultdict(list)
        for i in order[~easy[order]]:
            by_comp[int(edge_comp[i])].append(int(i))
        strong_by_cluster = _strong_by_cluster(lab, strong, np.isin(comp_node[strong.node], list(walk)) if len(strong.node) else np.zeros(0, bool))
        seps = _seps_by_comp(comp_node, lab, sep_x, sep_y, walk)
        remap: dict[int, int] = {}
        for c, idx in by_comp.items():
            acc, hold, nconf = _walk_component(
                remap, [(int(u[i]), int(v[i]), int(live[i])) for i in idx], strong_by_cluster, seps.get(c, []), c in bad, strong.kind_names
            )
            accepted.append(np.asarray(acc, dtype=np.int64))
            held.update(hold)
            conflicts += nconf
        if remap:
            m = np.arange(n, dtype=np.int64)
            keys = np.fromiter(remap.keys(), dtype=np.int64, count=len(remap))
            m[keys] = np.fromiter(remap.values(), dtype=np.int64, count=len(remap))
            lab[:] = m[lab]
    return TierResult(np.sort(np.concatenate(accepted)), held, conflicts)


def _strong_by_cluster(lab: np.ndarray, strong: Strong, mask: np.ndarray) -> dict[int, dict[int, set[int]]]:
    out: dict[int, dict[int, set[int]]] = defaultdict(lambda: defaultdict(set))
    if len(strong.node) == 0:
        return out
    for node, k, val in zip(strong.node[mask].tolist(), strong.kind[mask].tolist(), strong.value[mask].tolist(), strict=True):
        out[int(lab[node])][k].add(val)
    return out


def _seps_by_comp(
    comp_node: np.ndarray, lab: np.ndarray, sep_x: np.ndarray, sep_y: np.ndarray, walk: set[int]
) -> dict[int, list[tuple[int, int]]]:
    out: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for x, y in zip(sep_x.tolist(), sep_y.tolist(), strict=True):
        c = int(comp_node[x])
        if c in walk and c == int(comp_node[y]):
            out[c].append((int(lab[x]), int(lab[y])))
    return out


def _walk_component(
    remap: dict[int, int],
    edges: list[tuple[int, int, int]],
    strong: dict[int, dict[int, set[int]]],
    seps: list[tuple[int, int]],
    conflicting: bool,
    kind_names: list[str],
) -> tuple[list[int], dict[int, str], int]:
    """Greedy union of one component's edges in order, refusing any union that would conflict.

    Records in ``remap`` the cluster each merged cluster now belongs to.
    """
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        root = x
        while parent.get(root, root) != root:
            root = parent[root]
        while parent.get(x, x) != root:
            parent[x], x = root, parent[x]
        return root

    here = {x for a, b, _ in edges for x in (a, b)}
    values: dict[int, dict[int, set[int]]] = {
        c: {k: set(s) for k, s in strong[c].items()} for c in here if c in strong
    }

    def clash(a: int, b: int) -> set[int]:
        va, vb = values.get(a, {}), values.get(b, {})
        return {k for k in va.keys() & vb.keys() if va[k] != vb[k]}

    def separated(a: int, b: int) -> bool:
        return any({find(x), find(y)} == {a, b} for x, y in seps)

    held: dict[int, str] = {}
    if conflicting:
        # A cluster matched (in this tier) to clusters that cannot all be one person is
        # ambiguous: which of them it belongs to is a guess, so none is taken.
        neighbours: dict[int, set[int]] = defaultdict(set)
        for a, b, _ in edges:
            neighbours[a].add(b)
            neighbours[b].add(a)
        ambiguous: dict[int, set[int]] = {}
        for c, ns in neighbours.items():
            group = sorted(ns | {c})
            kinds: set[int] = set()
            merged: dict[int, set[int]] = defaultdict(set)
            for g in group:
                for k, s in values.get(g, {}).items():
                    merged[k] |= s
            kinds = {k for k, s in merged.items() if len(s) > 1}
            if any(x in group and y in group for x, y in seps):
                kinds.add(-1)
            if kinds:
                ambiguous[c] = kinds
        for a, b, i in edges:
            # A direct conflict between the two ends is no candidate at all.
            if (a in ambiguous or b in ambiguous) and not clash(a, b):
                kinds = ambiguous.get(a, set()) | ambiguous.get(b, set())
                names = sorted(kind_names[k] if k >= 0 else "person (a separated pair)" for k in kinds)
                held[i] = AMBIGUOUS.format(kinds=" / ".join(names))
    accepted: list[int] = []
    conflicts = 0
    for a, b, i in edges:
        if i in held:
            continue
        ra, rb = find(a), find(b)
        if ra == rb:
            continue
        if clash(ra, rb) or separated(ra, rb):
            conflicts += 1
            continue
        lo, hi = min(ra, rb), max(ra, rb)
        parent[hi] = lo
        for k, s in values.pop(hi, {}).items():
            values.setdefault(lo, {}).setdefault(k, set()).update(s)
        accepted.append(i)
    remap.update({x: find(x) for x in list(parent)})
    return accepted, held, conflicts
