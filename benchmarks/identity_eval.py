"""Precision and recall of automatic merges on the labelled set of identity_dataset.py.

    .venv/bin/python benchmarks/identity_eval.py

Compares goodwill's rules with the baseline "merge on any equal e-mail" (what Chatwoot did)
and with "merge on any equal identifier". Pairwise: a pair of records is predicted
together when they end in one person; truly together when they share a label.
"""

from __future__ import annotations

import itertools
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent))

from goodwill.ingest.identity import normalise_identifiers, resolve
from goodwill.ingest.identity.graph import components
from goodwill.store import open_store
from identity_dataset import Record, build


def pairs_of(groups: dict[str, set[str]]) -> set[tuple[str, str]]:
    out: set[tuple[str, str]] = set()
    for members in groups.values():
        out.update(itertools.combinations(sorted(members), 2))
    return out


def score(pred: set[tuple[str, str]], gold: set[tuple[str, str]]) -> tuple[float, float, int]:
    tp = len(pred & gold)
    return (tp / len(pred) if pred else 1.0, tp / len(gold) if gold else 1.0, len(pred))


def baseline(
    recs: list[Record], kinds: set[str], norm: dict[tuple[str, str], str]
) -> dict[str, set[str]]:
    ids = sorted({r.customer_id for r in recs})
    pos = {c: i for i, c in enumerate(ids)}
    by_value: dict[tuple[str, str], list[int]] = defaultdict(list)
    for r in recs:
        for kind, raw, _ in r.ids:
            v = norm.get((kind, raw))
            if kind in kinds and v:
                by_value[(kind, v)].append(pos[r.customer_id])
    import numpy as np

    u, v = [], []
    for members in by_value.values():
        for m in members[1:]:
            u.append(members[0])
            v.append(m)
    comp = components(len(ids), np.array(u, dtype=np.int64), np.array(v, dtype=np.int64))
    groups: dict[str, set[str]] = defaultdict(set)
    for c, i in zip(ids, comp, strict=True):
        groups[ids[i]].add(c)
    return {k: m for k, m in groups.items() if len(m) > 1}


def main() -> None:
    recs = build()
    rows = [(r.customer_id, k, raw, ver, r.source) for r in recs for k, raw, ver in r.ids]
    value, why = normalise_identifiers(
        pa.array([x[1] for x in rows]), pa.array([x[2] for x in rows])
    )
    invalid = sum(w is not None for w in why.to_pylist())
    norm = {(x[1], x[2]): v for x, v in zip(rows, value.to_pylist(), strict=True) if v is not None}
    ok = [i for i, v in enumerate(value.to_pylist()) if v is not None]
    with tempfile.TemporaryDirectory() as d:
        store = open_store(Path(d) / "eval.duckdb")
        store.append(
            "identifiers",
            pa.table(
                {
                    "customer_id": [rows[i][0] for i in ok],
                    "kind": [rows[i][1] for i in ok],
                    "value": value.take(pa.array(ok)),
                    "raw_value": [rows[i][2] for i in ok],
                    "verified": [rows[i][3] for i in ok],
                    "source": [rows[i][4] for i in ok],
                }
            ),
        )
        # Incremental, as ingest would: billing first, then each other system in turn.
        for source in ("billing", "service", "field", "marketing", "social"):
            resolve(store, sorted({r.customer_id for r in recs if r.source == source}))
        ours: dict[str, set[str]] = defaultdict(set)
        for r in store.rows("SELECT customer_id, person_id FROM customer_links"):
            ours[r["person_id"]].add(r["customer_id"])
        cands = store.scalar("SELECT count(*) FROM identity_candidates WHERE status = 'open'")
        store.close()
    truth: dict[str, set[str]] = defaultdict(set)
    hard: dict[str, str] = {}
    for r in recs:
        truth[r.person].add(r.customer_id)
        if r.hard:
            hard[r.customer_id] = r.hard
    gold = pairs_of(truth)
    print(
        f"records {len(recs):,}, people {len(truth):,}, true pairs {len(gold):,}, identifiers {len(rows):,} ({invalid} invalid, reported)"
    )
    print(f"open review candidates after resolution: {cands}")
    systems = {
        "goodwill rules": ours,
        "baseline: any equal e-mail": baseline(recs, {"email"}, norm),
        "baseline: any equal identifier": baseline(
            recs, {"email", "phone", "account", "twitter"}, norm
        ),
    }
    print(
        "| method | precision | recall | predicted pairs | precision, shared family e-mail | precision, two people one name | people holding 2+ accounts |"
    )
    print("|---|---|---|---|---|---|---|")
    acct_of = {r.customer_id: r.person for r in recs if r.source == "billing"}
    for name, groups in systems.items():
        pred = pairs_of(groups)
        p, rcl, n = score(pred, gold)
        cells = []
        for case in ("shared_email", "namesake"):
            sub = {x for x in pred if hard.get(x[0]) == case and hard.get(x[1]) == case}
            g = {x for x in gold if hard.get(x[0]) == case and hard.get(x[1]) == case}
            hp, _, hn = score(sub, g)
            cells.append(f"{hp:.3f} ({hn} pairs)")
        multi = sum(1 for m in groups.values() if len({acct_of[c] for c in m if c in acct_of}) > 1)
        print(f"| {name} | {p:.3f} | {rcl:.3f} | {n:,} | {cells[0]} | {cells[1]} | {multi} |")


if __name__ == "__main__":
    main()
