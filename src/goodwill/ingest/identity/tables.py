"""Identity resolution's own tables: the merge log, the review queue and the separations.

``customer_links`` (in :mod:`goodwill.model`) is the *answer* every reader uses; these
tables are how it was reached. A person is a connected component of the active rows
of ``identity_merges``; ``customer_links`` is recomputed from them, which is why an
unmerge restores both sides exactly.
"""

from __future__ import annotations

from goodwill.model import Column, Table, register_table
from goodwill.store import Store

IDENTITY_MERGES = register_table(
    Table(
        "identity_merges",
        (
            Column("merge_id", "text", False),
            Column("customer_a", "text", False, "the smaller customer id of the pair", lookup=True),
            Column("customer_b", "text", False, lookup=True),
            Column("rule", "text", False, "the rule that matched, or 'manual'"),
            Column("rule_version", "text"),
            Column("score", "float"),
            Column("evidence", "json", doc="the identifiers the two records share"),
            Column("decided_at", "timestamp", False),
            Column("decided_by", "text", doc="'goodwill resolve', or the person who accepted or merged"),
            Column("undone_at", "timestamp", doc="set when unmerged; the row stays as history"),
            Column("undone_by", "text"),
            Column("undo_reason", "text"),
        ),
        ("merge_id",),
        "Every merge: which two records, by which rule, on what evidence, when, and whether it was undone.",
        customer_column=None,
        time_column="decided_at",
        internal=True,
    )
)

IDENTITY_CANDIDATES = register_table(
    Table(
        "identity_candidates",
        (
            Column("candidate_id", "text", False),
            Column("customer_a", "text", False, lookup=True),
            Column("customer_b", "text", False, lookup=True),
            Column("rule", "text", False),
            Column("rule_version", "text"),
            Column("score", "float"),
            Column("evidence", "json"),
            Column("reason", "text", doc="why it was not merged automatically"),
            Column("found_at", "timestamp", False),
            Column("status", "text", False, "open, accepted, rejected"),
            Column("decided_at", "timestamp"),
            Column("decided_by", "text"),
        ),
        ("candidate_id",),
        "Possible merges below the automatic threshold, or blocked by a conflict, for a person to decide.",
        customer_column=None,
        time_column="found_at",
        internal=True,
    )
)

IDENTITY_SEPARATIONS = register_table(
    Table(
        "identity_separations",
        (
            Column("customer_a", "text", False, lookup=True),
            Column("customer_b", "text", False, lookup=True),
            Column("reason", "text"),
            Column("decided_at", "timestamp", False),
            Column("decided_by", "text"),
            Column("ref", "text", doc="the candidate or merge this came from"),
        ),
        ("customer_a", "customer_b"),
        "Pairs a person said are two people (a rejected candidate, an unmerge): never merged again.",
        customer_column=None,
        internal=True,
    )
)

# Working set of one resolve run (ids to resolve, records involved), so that large id
# lists are joined in the database instead of sent as parameters.
IDENTITY_WORK = register_table(
    Table(
        "identity_work",
        (
            Column("run_id", "text", False),
            Column("customer_id", "text", False),
        ),
        ("run_id", "customer_id"),
        "Scratch rows of running resolutions (empty between runs).",
        customer_column=None,
        internal=True,
    )
)

IDENTITY_TABLES = (IDENTITY_MERGES, IDENTITY_CANDIDATES, IDENTITY_SEPARATIONS, IDENTITY_WORK)


def ensure_identity_tables(store: Store) -> None:
    for t in IDENTITY_TABLES:
        store.ensure_table(t)
