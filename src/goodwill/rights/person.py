"""A person: every customer id linked by ``customer_links`` to one person id.

A customer id with no link is its own person. Requests act on the whole person.
"""

from __future__ import annotations

from dataclasses import dataclass

from goodwill.errors import NotFoundError
from goodwill.model import TABLES
from goodwill.store import Store

__all__ = ["Person", "resolve_person"]


@dataclass(frozen=True)
class Person:
    person_id: str
    customer_ids: tuple[str, ...]


def _known(store: Store, customer_id: str) -> bool:
    for t in TABLES.values():
        if t.customer_column and store.table_exists(t.name):
            hit = store.scalar(
                f"SELECT 1 FROM {t.name} WHERE {t.customer_column} = ? LIMIT 1", [customer_id]
            )
            if hit is not None:
                return True
    return False


def resolve_person(store: Store, customer_id: str, *, must_exist: bool = True) -> Person:
    """The person ``customer_id`` belongs to, with all of their customer ids (sorted)."""
    person_id = customer_id
    if store.table_exists("customer_links"):
        pid = store.scalar("SELECT person_id FROM customer_links WHERE customer_id = ?", [customer_id])
        if pid is not None:
            person_id = str(pid)
        ids = {person_id}
        ids.update(
            str(r["customer_id"])
            for r in store.rows("SELECT customer_id FROM customer_links WHERE person_id = ?", [person_id])
        )
    else:
        ids = {person_id}
    if must_exist and len(ids) == 1 and not _known(store, customer_id):
        raise NotFoundError(
            f"goodwill holds nothing about a customer {customer_id!r}.",
            hint="Check the id with `goodwill timeline ID` or search the identifiers table.",
        )
    return Person(person_id, tuple(sorted(ids)))
