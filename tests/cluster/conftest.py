"""Spark for the cluster tests: one SparkSession (local[2]) for the whole test run, and a
warehouse folder per store. Tests that need it skip, saying why, where pyspark or Java is absent."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from goodwill.store import Store, open_store


def spark_missing() -> str | None:
    for package in ("pyspark", "sqlglot"):
        if importlib.util.find_spec(package) is None:
            return f"{package} is not installed (pip install 'goodwill[spark]')"
    from goodwill.store.spark import java_missing

    why = java_missing()
    return f"Spark cannot start: {why}" if why else None


SPARK_MISSING = spark_missing()


def spark_url(folder: Path) -> str:
    return f"spark://local[2]?warehouse={folder}"


def need_spark() -> None:
    if SPARK_MISSING is not None:
        if os.environ.get("GOODWILL_REQUIRE_SPARK"):
            pytest.fail(f"GOODWILL_REQUIRE_SPARK is set: {SPARK_MISSING}")
        pytest.skip(SPARK_MISSING)


@pytest.fixture
def spark_store(tmp_path: Path) -> Iterator[Store]:
    need_spark()
    s = open_store(spark_url(tmp_path / "warehouse"))
    try:
        yield s
    finally:
        s.close()
