"""DuckDB's person documents answer exactly what the live person query answers, and never stale."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from tests.serve.conftest import ALICE, BOB, build_store

from goodwill.serve.brief import BRIEF_TABLES
from goodwill.store import Store, open_store
from goodwill.store.base import Store as BaseStore
from goodwill.store.duck import DuckDBStore
from goodwill.store.person_docs import written_tables


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("docs") / "store.duckdb"
    s = open_store(path)
    build_store(s)
    s.close()
    yield path


@pytest.fixture
def duck(world: Path, tmp_path: Path) -> Iterator[DuckDBStore]:
    copy = tmp_path / "store.duckdb"
    copy.write_bytes(world.read_bytes())
    s = open_store(copy)
    assert isinstance(s, DuckDBStore)
    s.optimize()
    yield s
    s.close()


def live(s: Store, cid: str, tables: Any = None) -> Any:
    return BaseStore.person_facts(s, cid, tables)


def _norm(facts: tuple[list[str], dict[str, list[dict[str, Any]]]]) -> Any:
    ids, by_table = facts
    return ids, {t: sorted(rows, key=repr) for t, rows in by_table.items()}


def people(s: Store) -> list[str]:
    rows = s.rows("SELECT customer_id FROM customers ORDER BY customer_id")
    linked = s.rows("SELECT customer_id FROM customer_links ORDER BY customer_id LIMIT 20")
    return [ALICE, BOB, "nobody-at-all", *(r["customer_id"] for r in rows[:: max(1, len(rows) // 40)]),
            *(r["customer_id"] for r in linked)]


def test_documents_answer_as_the_live_query(duck: DuckDBStore) -> None:
    assert duck._docs, "optimize() builds the documents"
    asked = people(duck)
    assert len(asked) > 30
    with_status = [*BRIEF_TABLES, "promise_status"]
    for cid in asked:
        assert _norm(duck.person_facts(cid)) == _norm(live(duck, cid)), cid
        assert _norm(duck.person_facts(cid, with_status)) == _norm(live(duck, cid, with_status)), cid
        assert _norm(duck.person_facts(cid, ["cases"])) == _norm(live(duck, cid, ["cases"])), cid
    alice = duck.person_facts(ALICE, with_status)[1]
    assert alice["promise_status"] and alice["interactions"], "the check covers rows of every kind"


def test_a_read_after_an_append_sees_the_new_fact(duck: DuckDBStore) -> None:
    before = len(duck.person_facts(ALICE)[1]["interactions"])
    duck.append("interactions", pa.Table.from_pylist([
        {"interaction_id": "new-1", "customer_id": ALICE, "occurred_at": dt.datetime(2026, 11, 24, tzinfo=dt.UTC),
         "channel": "phone", "direction": "inbound", "text": "still broken", "source": "test"},
    ]))
    assert duck._docs, "an append forgets only the customers it touched"
    assert len(duck.person_facts(ALICE)[1]["interactions"]) == before + 1
    assert _norm(duck.person_facts(BOB)) == _norm(live(duck, BOB))
    assert duck.rows("SELECT customer_id FROM person_docs_dirty") == [{"customer_id": ALICE}]


def test_a_consent_withdrawn_counts_at_once(duck: DuckDBStore) -> None:
    duck.append("consents", pa.Table.from_pylist([
        {"consent_id": "cs-a2", "customer_id": ALICE, "purpose": "marketing", "channel": "email",
         "state": "withdrawn", "recorded_at": dt.datetime(2026, 11, 24, tzinfo=dt.UTC), "source": "test"},
    ]))
    states = [c["state"] for c in duck.person_facts(ALICE)[1]["consents"]]
    assert "withdrawn" in states


def test_other_writes_drop_the_documents_unless_the_writer_names_whom(duck: DuckDBStore) -> None:
    with duck.touching([ALICE]):
        duck.execute("UPDATE cases SET status = 'closed' WHERE customer_id = ?", [ALICE])
    assert duck._docs, "a write that names its customers keeps the others' documents"
    assert all(c["status"] == "closed" for c in duck.person_facts(ALICE)[1]["cases"])
    assert _norm(duck.person_facts(BOB)) == _norm(live(duck, BOB))
    other = duck.scalar("SELECT customer_id FROM cases WHERE customer_id <> ? ORDER BY customer_id LIMIT 1", [ALICE])
    duck.execute("UPDATE cases SET status = 'reopened' WHERE customer_id = ?", [other])
    assert not duck._docs, "an unnamed write to a covered table drops every document"
    assert not duck.table_exists("person_docs")
    assert {c["status"] for c in duck.person_facts(other)[1]["cases"]} == {"reopened"}


def test_a_change_of_who_belongs_to_whom_drops_the_documents(duck: DuckDBStore) -> None:
    duck.append("customer_links", pa.Table.from_pylist([
        {"customer_id": "brand-new-record", "person_id": "p-new", "rule": "test", "linked_at": dt.datetime(2026, 11, 24, tzinfo=dt.UTC)},
    ]))
    assert not duck._docs


def test_a_rolled_back_write_leaves_no_stale_documents(duck: DuckDBStore) -> None:
    with pytest.raises(RuntimeError), duck.transaction():
        duck.execute("DELETE FROM cases WHERE customer_id = ?", [ALICE])
        raise RuntimeError("stop")
    assert not duck._docs and not duck.table_exists("person_docs")
    assert _norm(duck.person_facts(ALICE)) == _norm(live(duck, ALICE))


def test_the_documents_survive_reopen_and_compaction(duck: DuckDBStore) -> None:
    before = _norm(duck.person_facts(ALICE))
    duck.compact()
    assert duck._docs and _norm(duck.person_facts(ALICE)) == before
    path = duck.path
    duck.close()
    again = open_store(path)
    assert isinstance(again, DuckDBStore)
    try:
        assert again._docs and _norm(again.person_facts(ALICE)) == before
    finally:
        again.close()


def test_a_bulk_append_drops_rather_than_grows_the_dirty_list(duck: DuckDBStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("goodwill.store.person_docs.MAX_DIRTY", 3)
    rows = [{"interaction_id": f"bulk-{i}", "customer_id": f"bulk-c{i}", "occurred_at": dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
             "channel": "web", "direction": "inbound", "source": "test"} for i in range(5)]
    duck.append("interactions", pa.Table.from_pylist(rows))
    assert not duck._docs
    assert len(duck.person_facts("bulk-c3")[1]["interactions"]) == 1


@pytest.mark.parametrize(
    ("sql", "tables"),
    [
        ("DELETE FROM interactions WHERE customer_id = ?", {"interactions"}),
        ("delete from gw.main.cases where 1", {"cases"}),
        ('UPDATE "consents" SET state = ?', {"consents"}),
        ("INSERT INTO promise_status SELECT * FROM x", {"promise_status"}),
        ("CREATE OR REPLACE TABLE customer_links AS SELECT 1", {"customer_links"}),
        ("SELECT updated_at, 'update' FROM last_update WHERE kind = 'delete from'", set()),
        ("SELECT * FROM interactions", set()),
    ],
)
def test_written_tables_reads_the_statement(sql: str, tables: set[str]) -> None:
    assert written_tables(sql) == tables


def test_postgres_answers_the_ledger_status_too(store: Store) -> None:
    build_store(store)
    facts = store.person_facts(ALICE, [*BRIEF_TABLES, "promise_status"])[1]
    mine = {p["promise_id"] for p in facts["promises"]}
    assert facts["promise_status"] and {s["promise_id"] for s in facts["promise_status"]} <= mine
    assert "promise_status" not in store.person_facts(ALICE)[1]


def test_a_build_in_many_ranges_equals_one_pass(duck: DuckDBStore, monkeypatch: pytest.MonkeyPatch) -> None:
    whole = duck.rows("SELECT * FROM person_docs ORDER BY customer_id")
    monkeypatch.setattr("goodwill.store.person_docs.ROWS_PER_PASS", 97)
    duck.build_person_docs()
    assert duck.rows("SELECT * FROM person_docs ORDER BY customer_id") == whole
    assert len(whole) >= duck.count("customers")


def test_decisions_are_read_live_and_a_vet_keeps_the_document(duck: DuckDBStore) -> None:
    from goodwill.guard import Guard

    before = len(duck.person_facts(ALICE)[1].get("decisions", []))
    Guard(duck).vet({"customer_id": ALICE, "kind": "upsell", "channel": "email", "purpose": "marketing"}, record=True)
    assert duck._docs and duck.rows("SELECT * FROM person_docs_dirty") == []
    assert len(duck.person_facts(ALICE)[1]["decisions"]) == before + 1
    assert "decisions" not in duck.person_facts(ALICE, ["cases"])[1]


def test_every_write_moves_the_generation_and_reads_do_not(store: Store) -> None:
    g0 = store.generation
    store.rows("SELECT count(*) FROM interactions")
    assert store.generation == g0
    store.append("customers", pa.Table.from_pylist([{"customer_id": "gen-1", "source": "test"}]))
    g1 = store.generation
    assert g1 > g0
    store.append("customers", pa.Table.from_pylist([{"customer_id": "gen-1", "source": "test"}]))
    assert store.generation == g1, "an append that adds nothing changes nothing"
    store.execute("DELETE FROM customers WHERE customer_id = ?", ["gen-1"])
    assert store.generation > g1
