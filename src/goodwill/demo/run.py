"""``goodwill demo``: a fresh store, real public data, and every capability shown on it.

The demo data ships inside the package (see ``data/ATTRIBUTION.md``): CFPB complaints
(public domain) and IBM's Telco accounts (Apache-2.0, fictional customers). Each
step prints what a person would look at; later capabilities add their own step.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from goodwill.ingest import IngestReport, ingest_file
from goodwill.store import Store, open_store

DEMO_STORE = ".goodwill/demo.duckdb"

DEMO_SOURCES = (
    ("cfpb-complaints-demo.csv.gz", "cfpb"),
    ("telco-customer-churn.csv.gz", "telco"),
)


def demo_file(name: str) -> Path:
    return Path(str(resources.files("goodwill.demo").joinpath("data", name)))


def fresh_demo_store(path: str | Path = DEMO_STORE) -> Store:
    """The demo always starts from nothing, so it shows the same thing on every run."""
    p = Path(path)
    if str(path).startswith("postgresql://"):
        store = open_store(str(path))
        if getattr(store, "schema", "public") != "public":
            # The demo's own schema: dropped whole, so nothing of a previous run is left (derived
            # tables, their keys, the store's meta) and the next open makes it afresh.
            store.drop_schema()  # type: ignore[attr-defined]
            store.close()
            return open_store(str(path))
        # Every table a previous run may have made, measures' and enrichment's included.
        import goodwill.guard.batch
        import goodwill.measure.fair_value
        import goodwill.measure.goodwill_ledger
        import goodwill.measure.promises
        import goodwill.measure.runaround
        import goodwill.understand.tables  # noqa: F401

        for table in reversed(list(store.counts())):
            store.execute(f"DELETE FROM {table}")
        return store
    for suffix in ("", ".wal"):
        f = Path(str(p) + suffix)
        if f.exists():
            f.unlink()
    return open_store(p)


def load_demo_data(store: Store) -> list[IngestReport]:
    return [ingest_file(store, demo_file(name), mapping) for name, mapping in DEMO_SOURCES]


def example_customer(store: Store) -> str:
    """A complainant whose timeline has their own words and the company's answer."""
    row = store.rows(
        "SELECT customer_id FROM interactions WHERE direction = 'outbound' AND source = 'cfpb' "
        "AND customer_id IN (SELECT customer_id FROM interactions WHERE direction = 'inbound') "
        "ORDER BY customer_id LIMIT 1"
    )
    if row:
        return str(row[0]["customer_id"])
    return str(store.scalar("SELECT min(customer_id) FROM customers"))


def demo_campaign_file() -> Path:
    return Path(str(resources.files("goodwill.guard").joinpath("examples", "demo-campaign.jsonl")))


def _report_path(store: str) -> Path:
    """Beside a store file; in the working directory for a server's URL (no file to sit beside)."""
    if "://" in store:
        return Path("demo-report.html")
    return Path(store).with_name("demo-report.html")


def demo_steps(store: str, who: str) -> list[tuple[str, list[str]]]:
    """The capabilities the demo shows, each as the command a person would type."""
    from goodwill.guard.simulate import AS_OF

    st = ["--store", store]
    return [
        ("What customers are telling us (sentiment, contact reasons)", ["enrich", *st]),
        ("The reasons customers get in touch", ["reasons", "--top", "8", *st]),
        ("The promise gap, worst first", ["promises", *st]),
        ("What we owe one customer", ["promises", who, *st]),
        ("The goodwill ledger by group", ["goodwill", *st]),
        ("One customer's goodwill ledger", ["goodwill", who, *st]),
        ("Who we let down and went quiet", ["silent", *st]),
        ("Fair value and the loyalty penalty", ["fair-value", *st]),
        ("Vetting a campaign before it goes out", ["vet-campaign", str(demo_campaign_file()), "--as-of", AS_OF.isoformat(), *st]),
        ("The outcome report for the board", ["report", "--out", str(_report_path(store)), *st]),
        ("Ready for the front line: one read per person", ["optimize", *st]),
    ]
