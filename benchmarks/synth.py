"""Synthetic data for scale benchmarks only (labelled synthetic wherever shown).

Generated inside DuckDB from a seed so that a million rows take a second, not minutes.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

CHANNELS = "['phone','email','chat','twitter','web','letter','visit']"
FUNCTIONS = "['service','field','sales','billing','marketing']"
PHRASES = (
    "['my bill is wrong again','the engineer did not turn up','I was promised a refund',"
    "'please call me back','the app keeps crashing','thanks for sorting it out',"
    "'why did my price go up','I want to cancel my contract','delivery is late',"
    "'nobody answers the phone']"
)


def interactions_sql(n: int, customers: int, seed: float = 0.42) -> str:
    # hash() of the row number gives a fixed pseudo-random stream without setseed state.
    return f"""
    SELECT
      'syn:' || i AS id,
      'c' || (hash(i * 7 + 1) % {customers}) AS cust,
      TIMESTAMP '2024-01-01' + to_seconds((hash(i * 13 + 5) % 31536000)::BIGINT) AS ts,
      {CHANNELS}[(1 + hash(i * 3) % 7)::BIGINT] AS channel,
      {FUNCTIONS}[(1 + hash(i * 11) % 5)::BIGINT] AS function,
      CASE WHEN hash(i * 17) % 3 = 0 THEN 'outbound' ELSE 'inbound' END AS direction,
      'agent' || (hash(i * 19) % 500) AS agent,
      {PHRASES}[(1 + hash(i * 23) % 10)::BIGINT] || ' (ref ' || (hash(i) % 100000) || ')' AS text
    FROM range({n}) t(i)
    """


def write_interactions(path: Path, n: int, customers: int, fmt: str = "parquet") -> Path:
    con = duckdb.connect()
    opts = "(FORMAT parquet, ROW_GROUP_SIZE 122880)" if fmt == "parquet" else "(FORMAT csv, HEADER true)"
    con.execute(f"COPY ({interactions_sql(n, customers)}) TO '{path}' {opts}")
    con.close()
    return path


MAPPING = {
    "name": "synthetic",
    "title": "Synthetic interactions (benchmarks only)",
    "source": "synthetic",
    "records": [
        {
            "table": "interactions",
            "fields": {
                "interaction_id": {"column": "id"},
                "customer_id": {"column": "cust"},
                "occurred_at": {"column": "ts", "type": "timestamp"},
                "channel": {"column": "channel"},
                "function": {"column": "function"},
                "direction": {"column": "direction"},
                "agent": {"column": "agent"},
                "text": {"column": "text"},
                "source": {"value": "synthetic"},
            },
        }
    ],
}
