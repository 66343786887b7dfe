"""One schema definition from which every backend's tables come.

A :class:`Table` lists typed :class:`Column` s. The store turns that into DuckDB
or PostgreSQL DDL and into an Arrow schema, so an ingest batch, a DuckDB table and
a PostgreSQL table can never disagree about a column. Each table has a natural
primary key: re-ingesting the same facts adds nothing twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pyarrow as pa

ColumnType = Literal["text", "int", "float", "bool", "timestamp", "date", "json"]

ARROW_TYPES: dict[str, pa.DataType] = {
    "text": pa.string(),
    "int": pa.int64(),
    "float": pa.float64(),
    "bool": pa.bool_(),
    "timestamp": pa.timestamp("us", tz="UTC"),
    "date": pa.date32(),
    # JSON travels as text so both engines read it without extensions.
    "json": pa.string(),
}

# What a mapping field of each column type is parsed into (same as the stored type).
ARROW_TYPES_FOR_FIELD = ARROW_TYPES


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType
    nullable: bool = True
    doc: str = ""
    # Columns the store may sort or index on for point reads.
    lookup: bool = False


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    doc: str = ""
    # Tables that hold a person's facts: the timeline, export and erasure read these.
    customer_column: str | None = "customer_id"
    time_column: str | None = None
    # Internal tables are not written by source mappings.
    internal: bool = False
    sort_key: tuple[str, ...] = field(default_factory=tuple)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    def has_column(self, name: str) -> bool:
        return any(c.name == name for c in self.columns)

    def arrow_schema(self) -> pa.Schema:
        return pa.schema(
            [pa.field(c.name, ARROW_TYPES[c.type], nullable=c.nullable) for c in self.columns]
        )


def _c(name: str, type_: ColumnType, doc: str = "", *, nullable: bool = True, lookup: bool = False) -> Column:
    return Column(name, type_, nullable, doc, lookup)


FUNCTIONS = ("service", "field", "sales", "billing", "marketing", "delivery", "product", "other")
DIRECTIONS = ("inbound", "outbound", "internal")

CUSTOMERS = Table(
    "customers",
    (
        _c("customer_id", "text", "stable id of one person (or one account holder)", nullable=False, lookup=True),
        _c("display_name", "text"),
        _c("source", "text", "the system this record came from"),
        _c("first_seen_at", "timestamp"),
        _c("segment", "text"),
        _c("region", "text"),
        _c("age_band", "text"),
        _c("vulnerable", "bool", "marked as in vulnerable circumstances (FCA FG21/1)"),
        _c("attrs", "json"),
    ),
    ("customer_id",),
    "People the company serves.",
    time_column="first_seen_at",
    sort_key=("customer_id",),
)

IDENTIFIERS = Table(
    "identifiers",
    (
        _c("customer_id", "text", nullable=False, lookup=True),
        _c("kind", "text", "email, phone, account, customer_number, twitter, ...", nullable=False),
        _c("value", "text", "normalised value", nullable=False),
        _c("raw_value", "text", "value as the source wrote it"),
        _c("verified", "bool"),
        _c("source", "text"),
        _c("seen_at", "timestamp"),
    ),
    ("customer_id", "kind", "value"),
    "Keys under which systems know a customer.",
    time_column="seen_at",
    sort_key=("customer_id",),
)

INTERACTIONS = Table(
    "interactions",
    (
        _c("interaction_id", "text", nullable=False),
        _c("customer_id", "text", lookup=True),
        _c("occurred_at", "timestamp", nullable=False),
        _c("channel", "text", "phone, email, chat, twitter, web, letter, visit, ..."),
        _c("function", "text", "the company function that handled it: " + ", ".join(FUNCTIONS)),
        _c("direction", "text", "inbound (from the customer), outbound (from the company), internal"),
        _c("author", "text", "who wrote or said it: the customer, or the agent/account"),
        _c("agent", "text"),
        _c("team", "text"),
        _c("case_id", "text"),
        _c("thread_id", "text"),
        _c("in_reply_to", "text", "interaction_id this one answers"),
        _c("product", "text"),
        _c("text", "text"),
        _c("source", "text"),
        _c("attrs", "json"),
    ),
    ("interaction_id",),
    "Every conversation, message, call, visit or letter between company and customer.",
    time_column="occurred_at",
    sort_key=("customer_id", "occurred_at"),
)

CASES = Table(
    "cases",
    (
        _c("case_id", "text", nullable=False),
        _c("customer_id", "text", lookup=True),
        _c("kind", "text", "complaint, request, order, incident"),
        _c("opened_at", "timestamp"),
        _c("closed_at", "timestamp"),
        _c("status", "text", "open, closed"),
        _c("product", "text"),
        _c("sub_product", "text"),
        _c("issue", "text"),
        _c("sub_issue", "text"),
        _c("outcome", "text"),
        _c("timely", "bool"),
        _c("function", "text"),
        _c("channel", "text"),
        _c("company", "text"),
        _c("source", "text"),
        _c("attrs", "json"),
    ),
    ("case_id",),
    "Complaints, requests and orders, with how they ended.",
    time_column="opened_at",
    sort_key=("customer_id",),
)

PROMISES = Table(
    "promises",
    (
        _c("promise_id", "text", nullable=False),
        _c("customer_id", "text", lookup=True),
        _c("case_id", "text"),
        _c("interaction_id", "text"),
        _c("action", "text", "deliver, refund, call_back, visit, reply, fix, ..."),
        _c("description", "text"),
        _c("made_at", "timestamp"),
        _c("due_at", "timestamp"),
        _c("made_by", "text"),
        _c("team", "text"),
        _c("function", "text"),
        _c("channel", "text"),
        _c("product", "text"),
        _c("kind", "text", "structured, heard, statutory, sla"),
        _c("evidence", "text"),
        _c("confidence", "float"),
        _c("source", "text"),
        _c("attrs", "json"),
    ),
    ("promise_id",),
    "What the company committed to do, for whom, by when.",
    time_column="made_at",
    sort_key=("customer_id",),
)

EVENTS = Table(
    "events",
    (
        _c("event_id", "text", nullable=False),
        _c("customer_id", "text", lookup=True),
        _c("kind", "text", "delivered, refunded, called_back, visited, case_closed, reviewed, ...", nullable=False),
        _c("occurred_at", "timestamp", nullable=False),
        _c("case_id", "text"),
        _c("ref", "text", "the order, promise or other thing it concerns"),
        _c("value", "float"),
        _c("source", "text"),
        _c("attrs", "json"),
    ),
    ("event_id",),
    "Things that happened: deliveries, refunds, visits, closures; what keeps or breaks a promise.",
    time_column="occurred_at",
    sort_key=("customer_id",),
)

PLANS = Table(
    "plans",
    (
        _c("plan_id", "text", nullable=False),
        _c("product", "text"),
        _c("name", "text"),
        _c("channel", "text"),
        _c("new_customer_price", "float", "price a new customer pays for this plan today"),
        _c("currency", "text"),
        _c("period", "text", "month, year, once"),
        _c("valid_from", "date"),
        _c("valid_to", "date"),
        _c("source", "text"),
        _c("attrs", "json"),
    ),
    ("plan_id",),
    "What the company sells and what a new customer would pay.",
    customer_column=None,
)

SUBSCRIPTIONS = Table(
    "subscriptions",
    (
        _c("subscription_id", "text", nullable=False),
        _c("customer_id", "text", lookup=True),
        _c("plan_id", "text"),
        _c("product", "text"),
        _c("channel", "text"),
        _c("price", "float", "what this customer pays per period"),
        _c("new_customer_price", "float", "what a new customer would pay for the same, if known"),
        _c("currency", "text"),
        _c("period", "text"),
        _c("started_at", "timestamp"),
        _c("ends_at", "timestamp"),
        _c("renewal_at", "timestamp"),
        _c("status", "text", "active, ended"),
        _c("source", "text"),
        _c("attrs", "json"),
    ),
    ("subscription_id",),
    "What each customer holds and pays.",
    time_column="started_at",
    sort_key=("customer_id",),
)

CONSENTS = Table(
    "consents",
    (
        _c("consent_id", "text", nullable=False),
        _c("customer_id", "text", lookup=True),
        _c("purpose", "text", "marketing, profiling, analytics, data_sharing, ...", nullable=False),
        _c("channel", "text", "email, phone, sms, post, any"),
        _c("state", "text", "granted, withdrawn, objected, not_provided", nullable=False),
        _c("recorded_at", "timestamp", nullable=False),
        _c("source", "text"),
        _c("evidence", "text"),
    ),
    ("consent_id",),
    "Each consent given, withdrawn or objected, with its history.",
    time_column="recorded_at",
    sort_key=("customer_id",),
)

ACTIONS = Table(
    "actions",
    (
        _c("action_id", "text", nullable=False),
        _c("customer_id", "text", lookup=True),
        _c("kind", "text", "offer, upsell, cross_sell, message, price_change, renewal, notice", nullable=False),
        _c("purpose", "text"),
        _c("channel", "text"),
        _c("product", "text"),
        _c("price", "float"),
        _c("text", "text"),
        _c("campaign_id", "text"),
        _c("planned_at", "timestamp"),
        _c("source", "text"),
        _c("attrs", "json"),
    ),
    ("action_id",),
    "Something the company wants to do to a customer.",
    time_column="planned_at",
    sort_key=("customer_id",),
)

DECISIONS = Table(
    "decisions",
    (
        _c("decision_id", "text", nullable=False),
        _c("action_id", "text"),
        _c("customer_id", "text", lookup=True),
        _c("verdict", "text", "allow, deny, change", nullable=False),
        _c("reasons", "json"),
        _c("rule_versions", "json"),
        _c("facts", "json"),
        _c("decided_at", "timestamp", nullable=False),
        _c("prev_hash", "text"),
        _c("hash", "text"),
    ),
    ("decision_id",),
    "What the guard decided about an action, and why.",
    time_column="decided_at",
    sort_key=("customer_id",),
)

CUSTOMER_LINKS = Table(
    "customer_links",
    (
        _c("customer_id", "text", "a source record's customer id", nullable=False, lookup=True),
        _c("person_id", "text", "the one person it belongs to (the id of one of the linked records)", nullable=False, lookup=True),
        _c("rule", "text", "the resolution rule, or 'manual'"),
        _c("rule_version", "text"),
        _c("evidence", "json"),
        _c("linked_at", "timestamp"),
        _c("linked_by", "text"),
    ),
    ("customer_id",),
    "Identity resolution's answer: which source records are one person. Facts keep their source "
    "customer_id; a person is every customer_id linked to one person_id, so unmerging restores both exactly.",
    customer_column=None,
    internal=True,
    sort_key=("customer_id",),
)

QUARANTINE = Table(
    "quarantine",
    (
        _c("quarantine_id", "text", nullable=False),
        _c("batch_id", "text"),
        _c("source", "text", "file the row came from"),
        _c("mapping", "text"),
        _c("line", "int", "the row's line in the source (CSV header is line 1); empty when the reader cannot tell"),
        _c("row", "json", "the row as read"),
        _c("reason", "text"),
        _c("quarantined_at", "timestamp"),
    ),
    ("quarantine_id",),
    "Rows that could not be ingested, with why.",
    customer_column=None,
    internal=True,
)

INGEST_LOG = Table(
    "ingest_log",
    (
        _c("batch_id", "text", nullable=False),
        _c("path", "text"),
        _c("mapping", "text"),
        _c("sha256", "text"),
        _c("rows_read", "int"),
        _c("rows_written", "json", "new rows per table"),
        _c("rows_quarantined", "int"),
        _c("started_at", "timestamp"),
        _c("finished_at", "timestamp"),
    ),
    ("batch_id",),
    "One line per ingest run.",
    customer_column=None,
    internal=True,
)

TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        CUSTOMERS,
        IDENTIFIERS,
        INTERACTIONS,
        CASES,
        PROMISES,
        EVENTS,
        PLANS,
        SUBSCRIPTIONS,
        CONSENTS,
        ACTIONS,
        DECISIONS,
        CUSTOMER_LINKS,
        QUARANTINE,
        INGEST_LOG,
    )
}

# Bump when a table or column changes; add a migration in goodwill.store.migrations.
SCHEMA_VERSION = 1


def register_table(table: Table) -> Table:
    """Add a table from a higher package (e.g. enrichment results) to the one schema."""
    existing = TABLES.get(table.name)
    if existing is not None and existing != table:
        raise ValueError(f"table {table.name!r} is already defined differently")
    TABLES[table.name] = table
    return table


def get_table(name: str) -> Table:
    try:
        return TABLES[name]
    except KeyError:
        from goodwill.errors import ConfigError

        raise ConfigError(
            f"There is no table named {name!r}.",
            hint=f"Known tables: {', '.join(sorted(TABLES))}.",
        ) from None
