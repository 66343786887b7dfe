"""Tables the understand layer writes, registered into the one schema.

Embeddings are not stored: at 1,000,000 texts they are 1.5 GB as float32 (0.4 GB even as
int8), which would dwarf the rest of the store, and nothing reads them after assignment. A
refit re-embeds a bounded, deterministic sample instead (see ``goodwill.understand.service``).
"""

from __future__ import annotations

from goodwill.model import Column, Table, register_table

__all__ = ["ENRICHMENTS", "REASONS", "TEXT_SPANS"]

ENRICHMENTS = register_table(
    Table(
        "enrichments",
        (
            Column("interaction_id", "text", nullable=False),
            Column("customer_id", "text", lookup=True),
            Column("occurred_at", "timestamp", doc="copied from the interaction, for weekly trends"),
            Column("sentiment_score", "float", doc="-1 (negative) .. 1 (positive)"),
            Column("sentiment_label", "text", doc="negative, neutral, positive"),
            Column("sentiment_model", "text"),
            Column("reason_id", "int", doc="the contact reason; null when unassigned"),
            Column("reason_distance", "float", doc="cosine distance to the reason's centre"),
            Column("reason_model", "text"),
            Column("embedder", "text"),
            Column("enriched_at", "timestamp", nullable=False),
        ),
        ("interaction_id",),
        "What the understand layer read in each customer text.",
        time_column="occurred_at",
        sort_key=("customer_id", "occurred_at"),
    )
)

REASONS = register_table(
    Table(
        "reasons",
        (
            Column("reason_id", "int", nullable=False),
            Column("label", "text"),
            Column("keywords", "json"),
            Column("representatives", "json", doc="redacted texts nearest the centre"),
            Column("fit_size", "int", doc="texts of the fit sample in this reason"),
            Column("fit_share", "float"),
            Column("centroid", "text", doc="base64 of 384 little-endian float32"),
            Column("threshold", "float", doc="cosine distance beyond which a text stays unassigned"),
            Column("embedder", "text"),
            Column("model_version", "text"),
            Column("active", "bool"),
            Column("created_at", "timestamp"),
            Column("updated_at", "timestamp"),
        ),
        ("reason_id",),
        "Contact reasons found in customers' words; ids persist across refits.",
        customer_column=None,
        internal=True,
    )
)

TEXT_SPANS = register_table(
    Table(
        "text_spans",
        (
            Column("interaction_id", "text", nullable=False),
            Column("customer_id", "text", lookup=True),
            Column("kind", "text", nullable=False, doc="expectation, repeat_contact, effort"),
            Column("start_char", "int", nullable=False),
            Column("end_char", "int"),
            Column("span_text", "text"),
            Column("tagger", "text"),
        ),
        ("interaction_id", "kind", "start_char"),
        "Expectations and effort a customer voiced, located in the (redacted) text.",
    )
)
