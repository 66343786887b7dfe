"""The same measures give the same numbers on DuckDB, PostgreSQL and Spark, on the same data.

Each engine gets the same facts through its own ingest (identity resolution included), its own
enrichment and reason discovery, and its own build of every measure (scenario.py); then every
measure is read back and compared with DuckDB's, row for row and number for number."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from tests.conftest import _PG_REASON, PG_URL

from goodwill.store import open_store

from .conftest import need_spark, spark_url
from .scenario import _table, load, measures

pytestmark = [pytest.mark.spark, pytest.mark.slow]

MEASURES = (
    "promise_status",
    "gap_by_team",
    "gap_all",
    "gap_weekly",
    "goodwill_entries",
    "balances_by_segment",
    "balances_by_customer",
    "balance_series",
    "customer_ledger",
    "runaround_cases",
    "worst_cases",
    "effort_by_source",
    "silence_scores",
    "silent",
    "fair_value",
    "penalty_by_tenure",
    "fair_value_book",
    "price_tenure",
    "reasons",
    "enrichments",
    "timeline c0",
    "timeline olist:1",
    "timeline cfpb:6960951",
)


def _run(url: str) -> dict[str, Any]:
    store = open_store(url)
    try:
        load(store)
        return measures(store)
    finally:
        if store.engine == "postgres":
            store.drop_schema()  # type: ignore[attr-defined]
        store.close()


@pytest.fixture(scope="module")
def duck(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _run(str(tmp_path_factory.mktemp("duck") / "store.duckdb"))


@pytest.fixture(scope="module")
def spark_warehouse(tmp_path_factory: pytest.TempPathFactory) -> str:
    need_spark()
    return spark_url(tmp_path_factory.mktemp("spark") / "warehouse")


@pytest.fixture(scope="module")
def spark(spark_warehouse: str) -> dict[str, Any]:
    return _run(spark_warehouse)


@pytest.fixture(scope="module")
def postgres() -> dict[str, Any]:
    if _PG_REASON is not None:
        pytest.skip(_PG_REASON)
    return _run(f"{PG_URL}?schema=gw_cluster_{uuid.uuid4().hex[:12]}")


# PostgreSQL writes a whole double as text without its ".0" (a review score of 2.0 reads
# "(2)", where DuckDB and Spark write "(2.0)"): goodwill_ledger's review entries cast the
# score to text. Numbers are compared exactly; only that text is read as the same.
_WHOLE = re.compile(r"\b(\d+)\.0\b")


def _pg_text(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _pg_text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_pg_text(v) for v in value]
    if isinstance(value, str):
        return _WHOLE.sub(r"\1", value)
    return value


def test_the_scenario_exercises_every_measure(duck: dict[str, Any]) -> None:
    """Equality of empty results would prove nothing: each measure has something to show."""
    for name in MEASURES:
        assert duck[name], name
    kinds = {e["kind"] for e in duck["goodwill_entries"]}
    assert {"promise_kept", "promise_broken", "complaint_open", "repeat_contact", "loyalty_penalty"} <= kinds
    assert {r["status"] for r in duck["promise_status"]} >= {"kept", "kept_late", "broken"}
    assert any(r["reopens"] for r in duck["runaround_cases"]) and any(r["handoffs"] for r in duck["runaround_cases"])
    assert duck["silent"]["silent"] > 0 and duck["fair_value_book"]["paying_more"] > 0
    assert len(duck["reasons"]["reasons"]) >= 2 and duck["reasons"]["weeks"]


@pytest.mark.parametrize("name", MEASURES)
def test_spark_gives_duckdbs_numbers(name: str, duck: dict[str, Any], spark: dict[str, Any]) -> None:
    assert spark[name] == duck[name]


@pytest.mark.postgres
@pytest.mark.parametrize("name", MEASURES)
def test_postgres_gives_duckdbs_numbers(name: str, duck: dict[str, Any], postgres: dict[str, Any]) -> None:
    assert _pg_text(postgres[name]) == _pg_text(duck[name])


def test_a_warehouse_outlives_its_store(spark_warehouse: str, spark: dict[str, Any]) -> None:
    """What one store built, a new store on the same warehouse reads back the same."""
    again = open_store(spark_warehouse)
    try:
        assert _table(again, "goodwill_entries", "entry_id", drop=("built_at",)) == spark["goodwill_entries"]
        assert _table(again, "fair_value", "subscription_id") == spark["fair_value"]
    finally:
        again.close()
