"""goodwill's portable SQL compiled for Spark: the rewrites, checked as text (no Spark needed)."""

from __future__ import annotations

import datetime as dt

import pytest

pytest.importorskip("sqlglot", reason="sqlglot is not installed (pip install 'goodwill[spark]')")

import goodwill.measure.goodwill_ledger  # noqa: F401 - registers goodwill_entries
from goodwill.errors import ConfigError, StoreError
from goodwill.store.spark import parse_spark_url
from goodwill.store.sparksql import compile_statement


def spark(sql: str, params: list[object] | None = None) -> str:
    c = compile_statement(sql, params)
    assert c.kind == "query"
    return c.sql


def test_placeholders_bind_in_written_order_and_skip_strings_and_comments() -> None:
    out = spark(
        "SELECT '?' AS q, ? AS a FROM interactions WHERE customer_id = ? -- is this ?\n AND channel = ?",
        [1, "c'1", None],
    )
    assert "'?' AS q" in out and "1 AS a" in out
    assert "customer_id = 'c''1'" in out or "customer_id = 'c\\'1'" in out
    assert "channel = NULL" in out


def test_parameters_are_typed_as_a_driver_would_bind_them() -> None:
    out = spark(
        "SELECT ? AS t, ? AS d, ? AS f, ? AS b FROM interactions",
        [dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=2))), dt.date(2025, 1, 2), 0.1, True],
    )
    # Instants are written in UTC; Spark's session time zone is UTC too.
    assert "CAST('2025-01-02 01:04:05+00:00' AS TIMESTAMP) AS t" in out
    assert "CAST('2025-01-02' AS DATE) AS d" in out
    assert "CAST('0.1' AS DOUBLE) AS f" in out and "TRUE AS b" in out


def test_a_wrong_number_of_parameters_is_refused() -> None:
    with pytest.raises(StoreError, match=r"2 placeholder\(s\) but 1 parameter"):
        compile_statement("SELECT ? AS a, ? AS b", [1])


def test_date_minus_date_is_a_number_of_days() -> None:
    out = spark("SELECT CAST(occurred_at AS DATE) - CAST(? AS DATE) AS days FROM interactions", [dt.date(2025, 1, 1)])
    assert "DATEDIFF(" in out.upper()
    # Typed through a CTE: min/max of dates are dates too.
    out = spark(
        "WITH r AS (SELECT min(CAST(occurred_at AS DATE)) AS a, max(CAST(occurred_at AS DATE)) AS b "
        "FROM interactions) SELECT CAST(b - a AS DOUBLE PRECISION) AS gap FROM r"
    )
    assert "DATEDIFF(R.B, R.A)" in out.upper()
    # A timestamp minus an interval stays what it is.
    out = spark("SELECT occurred_at - INTERVAL '1 days' AS x FROM interactions")
    assert "DATEDIFF" not in out.upper()


def test_epoch_of_a_difference_becomes_microseconds() -> None:
    out = spark("SELECT extract(epoch FROM (occurred_at - ?)) AS s FROM interactions", [dt.datetime(2025, 1, 1, tzinfo=dt.UTC)])
    assert "EPOCH" not in out.upper() and out.upper().count("UNIX_MICROS(") == 2 and "1000000" in out


def test_timezone_turns_an_instant_into_wall_time_and_back() -> None:
    out = spark(
        "SELECT timezone('Europe/London', CAST(CAST(timezone('Europe/London', occurred_at) AS DATE) + 1 AS TIMESTAMP)) "
        "AS deadline FROM interactions"
    )
    up = out.upper()
    assert "TO_UTC_TIMESTAMP(CAST(CAST(FROM_UTC_TIMESTAMP(" in up and "TIMEZONE(" not in up


def test_percentile_cont_stays_exact() -> None:
    out = spark(
        "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY sentiment_score) AS m, "
        "quantile_cont(sentiment_score, 0.9) AS p FROM enrichments"
    )
    up = out.upper()
    assert "PERCENTILE_APPROX" not in up and up.count("PERCENTILE(") == 2


def test_json_text_is_read_without_a_json_type() -> None:
    out = spark("SELECT CAST(attrs AS JSON) ->> 'tenure' AS t FROM subscriptions")
    assert "GET_JSON_OBJECT(attrs, '$.tenure')" in out.replace("subscriptions.", "") and "TO_JSON" not in out.upper()


def test_averages_of_decimals_are_doubles() -> None:
    out = spark("SELECT avg(CASE WHEN sentiment_label = 'negative' THEN 1.0 ELSE 0.0 END) AS n FROM enrichments")
    assert "AVG(CAST(" in out.upper() and "AS DOUBLE))" in out.upper()


def test_a_correlated_lookup_becomes_a_left_join() -> None:
    out = spark(
        "SELECT row_number() OVER (PARTITION BY coalesce((SELECT l.person_id FROM customer_links l "
        "WHERE l.customer_id = e.customer_id), e.customer_id) ORDER BY e.occurred_at) AS rn FROM goodwill_entries e"
    )
    up = out.upper()
    assert "LEFT JOIN (SELECT L.CUSTOMER_ID AS K, MAX(L.PERSON_ID) AS V" in up and "GROUP BY L.CUSTOMER_ID" in up
    assert "PARTITION BY COALESCE(_GW_LOOKUP0.V, E.CUSTOMER_ID)" in up


def test_writes_are_taken_apart() -> None:
    ins = compile_statement("INSERT INTO goodwill_meta (key, value) VALUES (?, ?)", ["a", "b"])
    assert (ins.kind, ins.table, ins.columns) == ("insert", "goodwill_meta", ("key", "value"))
    dele = compile_statement("DELETE FROM interactions WHERE channel = ?", ["phone"])
    assert dele.kind == "delete" and dele.count_sql is not None
    # The rows kept are those the condition does not hold for, nulls included.
    assert "NOT COALESCE((interactions.channel = 'phone'), FALSE)" in dele.sql
    upd = compile_statement("UPDATE interactions SET text = ? WHERE interaction_id = ?", ["x", "i1"])
    assert upd.kind == "update" and len(upd.columns) > 5
    assert "IF(COALESCE((interactions.interaction_id = 'i1'), FALSE), 'x', interactions.text) AS text" in upd.sql
    with pytest.raises(StoreError, match="has no column"):
        compile_statement("UPDATE interactions SET nope = 1")
    add = compile_statement("ALTER TABLE runaround_cases ADD COLUMN IF NOT EXISTS conflicts BIGINT")
    assert (add.kind, add.columns) == ("add_columns", ("conflicts",))


def test_statements_spark_cannot_run_are_refused_with_a_hint() -> None:
    with pytest.raises(StoreError, match="cannot run DROP") as err:
        compile_statement("DROP TABLE interactions")
    assert err.value.hint and "INSERT" in err.value.hint


def test_spark_urls() -> None:
    t = parse_spark_url("spark://local[2]?warehouse=/data/wh&spark.driver.memory=4g")
    assert (t.master, t.warehouse, t.conf) == ("local[2]", "/data/wh", {"spark.driver.memory": "4g"})
    t = parse_spark_url("spark://master.example:7077?warehouse=hdfs://nn/goodwill")
    assert (t.master, t.warehouse) == ("spark://master.example:7077", "hdfs://nn/goodwill")
    t = parse_spark_url("spark:/srv/goodwill-warehouse")
    assert (t.master, t.warehouse) == ("local[2]", "/srv/goodwill-warehouse")
    with pytest.raises(ConfigError, match="Unknown Spark URL option"):
        parse_spark_url("spark://local[2]?wharehouse=/x")


def test_rows_as_json_keep_microseconds_and_nulls() -> None:
    out = spark("SELECT to_json(struct_pack(x.*)) AS j FROM interactions x")
    assert "STRUCT(x.*)" in out and "SSSSSS" in out and "'ignoreNullFields', 'false'" in out
