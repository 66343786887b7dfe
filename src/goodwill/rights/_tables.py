"""The rights package's own tables, and the registry of where a person's data lives.

Every table in :data:`goodwill.model.TABLES` with a ``customer_column`` holds a
person's facts and is exported and erased automatically. Tables that hold personal
data another way register here with :func:`register_personal_table`:

* ``columns=("customer_a", "customer_b")``: columns holding customer ids other than the
  table's ``customer_column`` (identity merge logs, links);
* ``via=("interaction_id", "interactions", "interaction_id")``: rows that belong to a
  person through another table's key (embeddings, text spans of an interaction);
* ``contains=("row",)``: free-text or JSON columns that may *mention* a customer id or
  identifier value (the quarantine's raw rows); matched by substring.

Registering is by name, so a package registers a table it may not have created yet;
tables absent from a store are skipped.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

from goodwill.ingest.suppression import SUPPRESSIONS
from goodwill.model import Column, Table, register_table
from goodwill.store import Store


@dataclass(frozen=True)
class PersonalTable:
    name: str
    columns: tuple[str, ...] = ()
    via: tuple[str, str, str] | None = None
    contains: tuple[str, ...] = ()
    doc: str = ""


PERSONAL_TABLES: dict[str, PersonalTable] = {}


def register_personal_table(
    name: str,
    *,
    columns: tuple[str, ...] = (),
    via: tuple[str, str, str] | None = None,
    contains: tuple[str, ...] = (),
    doc: str = "",
) -> PersonalTable:
    """Say that ``name`` holds personal data not found through its ``customer_column``.

    ``via=(column, parent_table, parent_column)``: a row belongs to the person whose
    ``parent_table`` row has ``parent_column == column``; the parent is itself found
    by its customer column or its own registration, so chains work. ``parent_column`` may be
    an expression of the parent's columns that both engines read alike (``md5(text)``).
    """
    if not (columns or via or contains):
        raise ValueError("register_personal_table needs columns, via or contains")
    entry = PersonalTable(name, tuple(columns), via, tuple(contains), doc)
    PERSONAL_TABLES[name] = entry
    return entry


# Tables of the foundation that name customers outside their customer column.
register_personal_table("customer_links", columns=("customer_id", "person_id"), doc="identity answer")
register_personal_table("identity_merges", columns=("customer_a", "customer_b"), doc="merge log")
register_personal_table("identity_candidates", columns=("customer_a", "customer_b"), doc="review queue")
register_personal_table("identity_separations", columns=("customer_a", "customer_b"))
register_personal_table("identity_work", columns=("customer_id",))
register_personal_table("quarantine", contains=("row",), doc="raw rows that failed ingest")
# Derived by the measures from the person's facts, found through them (deleted before them).
# A lint or reading of a text shared by many people (a campaign's copy) goes too, and is
# made again by the next build.
register_personal_table("promise_status", via=("promise_id", "promises", "promise_id"), doc="a promise's verdict")
register_personal_table("copy_lint", via=("text_hash", "interactions", "md5(text)"), doc="lint of a text sent to them")
register_personal_table("answer_readings", via=("text_hash", "interactions", "md5(text)"), doc="how an answer read")


RIGHTS_REQUESTS = register_table(
    Table(
        "rights_requests",
        (
            Column("request_id", "text", False),
            Column("person_id", "text", False, "the person; after erasure a keyed hash ('erased:…')", lookup=True),
            Column("kind", "text", False, "access, portability, rectification, erasure, restriction, objection"),
            Column("status", "text", False, "received, verified, in_progress, completed, refused, extended"),
            Column("received_at", "timestamp", False),
            Column("due_on", "date", False, "one month from receipt (ICO rule)"),
            Column("extended_due_on", "date", doc="set when extended by up to two further months"),
            Column("extension_reason", "text"),
            Column("verified_at", "timestamp"),
            Column("verification", "text", doc="how identity was checked"),
            Column("completed_at", "timestamp"),
            Column("refusal_reason", "text"),
            Column("channel", "text", doc="how the request arrived"),
            Column("details", "json", doc="what was asked, in the request's own terms"),
            Column("updated_at", "timestamp", False),
            # The instant alone loses the day in the time zone it came in, which the deadlines
            # (and the extension, computed later) count from.
            Column("received_on", "date", doc="the day of receipt where the request arrived; deadlines count from it"),
        ),
        ("request_id",),
        "Data-subject requests and where each stands.",
        # Kept after erasure, pseudonymised: the company must show it honoured the request.
        customer_column=None,
        time_column="received_at",
        internal=True,
    )
)

RIGHTS_EVENTS = register_table(
    Table(
        "rights_events",
        (
            Column("event_id", "text", False),
            Column("request_id", "text", lookup=True),
            Column("kind", "text", False, "received, verified, extended, completed, refused, erased, ..."),
            Column("occurred_at", "timestamp", False),
            Column("actor", "text", doc="who did it: a staff member, 'customer', or 'goodwill'"),
            Column("detail", "json", doc="counts and reasons only, never the person's data"),
        ),
        ("event_id",),
        "The audit trail of every request step, one small record each.",
        customer_column=None,
        time_column="occurred_at",
        internal=True,
    )
)

RIGHTS_JOBS = register_table(
    Table(
        "rights_jobs",
        (
            Column("job_id", "text", False),
            Column("request_id", "text"),
            Column("kind", "text", False, "erase"),
            Column("state", "text", False, "running, done"),
            Column("plan", "json", doc="what to do; holds the person's ids only until the job is done"),
            Column("steps_done", "json", False, "names of finished steps"),
            Column("started_at", "timestamp", False),
            Column("finished_at", "timestamp"),
            Column("result", "json"),
        ),
        ("job_id",),
        "Journal of long, crash-safe rights work: each step is idempotent and recorded when done.",
        customer_column=None,
        internal=True,
    )
)

RECTIFICATIONS = register_table(
    Table(
        "rectifications",
        (
            Column("rectification_id", "text", False),
            Column("customer_id", "text", False, lookup=True),
            Column("table_name", "text", False),
            Column("row_key", "json", False, "the corrected row's primary key"),
            Column("column_name", "text", False),
            Column("old_value", "text"),
            Column("new_value", "text"),
            Column("reason", "text"),
            Column("request_id", "text"),
            Column("corrected_by", "text"),
            Column("corrected_at", "timestamp", False),
        ),
        ("rectification_id",),
        "What was corrected about a person, when, why and by whom (erased with the person).",
        time_column="corrected_at",
    )
)

ERASED_COUNTS = register_table(
    Table(
        "erased_counts",
        (
            Column("table_name", "text", False),
            Column("month_start", "date", False, "first day of the month the erased rows were dated"),
            Column("row_count", "int", False),
        ),
        ("table_name", "month_start"),
        "Anonymous row counts kept from erased people, only where an erasure chose to keep them.",
        customer_column=None,
        internal=True,
    )
)

RIGHTS_TABLES = (RIGHTS_REQUESTS, RIGHTS_EVENTS, RIGHTS_JOBS, RECTIFICATIONS, ERASED_COUNTS)


# Stores already brought up to date in this process (the column check is a query).
_READY: weakref.WeakSet[Store] = weakref.WeakSet()


def ensure_rights_tables(store: Store) -> None:
    if store in _READY:
        return
    for t in (*RIGHTS_TABLES, SUPPRESSIONS):
        store.ensure_table(t)
    # rights_requests gained received_on: a store made before it gets the column (empty in old rows).
    here = "table_schema = current_schema()" if store.engine == "postgres" else "table_catalog = current_database() AND table_schema = 'main'"
    cols = {
        r["column_name"]
        for r in store.rows(f"SELECT column_name FROM information_schema.columns WHERE table_name = ? AND {here}", [RIGHTS_REQUESTS.name])
    }
    if "received_on" not in cols:
        store.execute(f"ALTER TABLE {RIGHTS_REQUESTS.name} ADD COLUMN received_on DATE")
    _READY.add(store)
