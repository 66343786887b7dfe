"""``customer_links`` rows computed from the active merges: the one answer every reader uses.

The rows are a pure function of the set of active merges, so removing a merge (an
unmerge) and recomputing gives back exactly the rows that held before it was made.
A person is a connected component of active merges; its id is the smallest member id;
each member's row carries the earliest merge that touches it (the rule, the evidence,
the time and who decided).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from goodwill.ingest.identity.graph import components
from goodwill.model import CUSTOMER_LINKS


def json_str(a: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Each string as a JSON string literal (quotes and escapes), vectorised."""
    a = a.combine_chunks() if isinstance(a, pa.ChunkedArray) else a
    a = pc.replace_substring(a, "\\", "\\\\")
    a = pc.replace_substring(a, '"', '\\"')
    a = pc.replace_substring_regex(a, r"[\x00-\x1f]", " ")
    return pc.binary_join_element_wise('"', a, '"', "")


MERGE_COLUMNS = ("merge_id", "customer_a", "customer_b", "rule", "rule_version", "evidence", "decided_at", "decided_by")


def link_rows(merges: pa.Table) -> pa.Table:
    """Rows of ``customer_links`` for every record touched by ``merges`` (active merges only)."""
    schema = CUSTOMER_LINKS.arrow_schema()
    if merges.num_rows == 0:
        return schema.empty_table()
    a = merges["customer_a"].combine_chunks()
    b = merges["customer_b"].combine_chunks()
    # One hash pass numbers every id; numbered in sort order, the smallest member is the person.
    enc = pc.dictionary_encode(pa.concat_arrays([a, b]))
    order = np.asarray(pc.sort_indices(enc.dictionary).to_numpy(), dtype=np.int64)
    ids = enc.dictionary.take(pa.array(order))
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order), dtype=np.int64)
    codes = rank[np.asarray(enc.indices.to_numpy(zero_copy_only=False), dtype=np.int64)]
    ia, ib = codes[: len(a)], codes[len(a) :]
    comp = components(len(ids), ia, ib)

    # Each member, both ends of each merge, ordered by time then merge id: the first row wins.
    m = len(a)
    member = np.concatenate([ia, ib])
    other = pa.concat_arrays([b, a])
    edge = np.concatenate([np.arange(m), np.arange(m)])
    t = pa.table({"member": member, "edge": edge})
    at = merges["decided_at"].combine_chunks()
    mid = merges["merge_id"].combine_chunks()
    t = t.append_column("at", at.take(pa.array(edge))).append_column("mid", mid.take(pa.array(edge)))
    t = t.append_column("pos", pa.array(np.arange(2 * m)))
    order = pc.sort_indices(t, sort_keys=[("member", "ascending"), ("at", "ascending"), ("mid", "ascending")])
    sm = t["member"].take(order).to_numpy()
    first = np.ones(len(sm), dtype=bool)
    first[1:] = sm[1:] != sm[:-1]
    pos = t["pos"].take(order).to_numpy()[first]
    members = member[pos]
    edges = pa.array(edge[pos])
    with_ = other.take(pa.array(pos))
    ev = merges["evidence"].combine_chunks().take(edges)
    ev = pc.fill_null(ev, "{}")
    evidence = pc.binary_join_element_wise(
        '{"merge_id":', json_str(mid.take(edges)), ',"with":', json_str(with_), ',"evidence":', ev, "}", ""
    )
    return pa.table(
        {
            "customer_id": ids.take(pa.array(members)),
            "person_id": ids.take(pa.array(comp[members])),
            "rule": merges["rule"].combine_chunks().take(edges),
            "rule_version": merges["rule_version"].combine_chunks().take(edges),
            "evidence": evidence,
            "linked_at": at.take(edges),
            "linked_by": merges["decided_by"].combine_chunks().take(edges),
        },
        schema=schema,
    )
