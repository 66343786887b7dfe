"""Property: no merge ever joins two distinct account numbers, however the records chain.

Hypothesis builds records that share e-mails, phones, surnames and account numbers in
every pattern (chains A–x–y–B across accounts, shared family e-mails, namesakes),
loads them in several incremental batches, resolves after each, accepts every review
candidate it can, and tries manual merges; then checks every person.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from goodwill.ingest.identity import IdentityConflictError, accept, list_candidates, merge, resolve
from goodwill.store import Store, open_store

from .helpers import check_links, load

KINDS = st.sampled_from(["account", "customer_number", "email", "phone", "surname"])
VALUES = {
    "account": ["A1", "A2", "A3"],
    "customer_number": ["N1", "N2"],
    "email": ["e1@example.com", "e2@example.com", "e3@gmail.com"],
    "phone": ["07700 900001", "07700 900002"],
    "surname": ["smith", "jones"],
}


@st.composite
def records(draw: st.DrawFn) -> list[list[tuple[str, str, str, bool]]]:
    n = draw(st.integers(2, 12))
    batches: list[list[tuple[str, str, str, bool]]] = []
    for i in range(n):
        ids = draw(st.lists(KINDS, min_size=1, max_size=4, unique=True))
        rows = [(f"r{i:02d}", k, draw(st.sampled_from(VALUES[k])), draw(st.booleans())) for k in ids]
        batch = draw(st.integers(0, 2))
        while len(batches) <= batch:
            batches.append([])
        batches[batch].extend(rows)
    return [b for b in batches if b]


def strong_values(store: Store) -> dict[str, dict[str, set[str]]]:
    people: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for r in store.rows(
        "SELECT coalesce(l.person_id, i.customer_id) AS person, i.kind, i.value FROM identifiers i "
        "LEFT JOIN customer_links l ON l.customer_id = i.customer_id WHERE i.kind IN ('account', 'customer_number')"
    ):
        people[r["person"]][r["kind"]].add(r["value"])
    return people


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches=records(), manual=st.lists(st.tuples(st.integers(0, 11), st.integers(0, 11)), max_size=4))
def test_no_person_ever_holds_two_account_numbers(
    batches: list[list[tuple[str, str, str, bool]]], manual: list[tuple[int, int]]
) -> None:
    store = open_store(":memory:")
    try:
        for batch in batches:
            load(store, batch)
            resolve(store, sorted({r[0] for r in batch}))
        for c in list_candidates(store, limit=100):
            with contextlib.suppress(IdentityConflictError):
                accept(store, c["candidate_id"], by="property")
        known = sorted({r[0] for b in batches for r in b})
        for x, y in manual:
            a, b = f"r{x:02d}", f"r{y:02d}"
            if a in known and b in known:
                with contextlib.suppress(IdentityConflictError):
                    merge(store, a, b, by="property")
        resolve(store)
        for person, kinds in strong_values(store).items():
            for kind, values in kinds.items():
                assert len(values) == 1, (person, kind, values)
        check_links(store)
    finally:
        store.close()
