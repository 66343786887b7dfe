"""The --store option names every kind of URL open_store accepts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from goodwill.errors import ConfigError
from goodwill.store import open_store

# One example of each form open_store reads, as the help text spells it.
FORMS = ("duckdb://PATH", ":memory:", "postgresql://HOST:PORT/DB", "spark://local[N]?warehouse=PATH", "spark://HOST:7077", "spark:PATH")


def test_store_help_names_every_url_form(tmp_path: Path) -> None:
    env = {**os.environ, "COLUMNS": "400"}
    env.pop("GOODWILL_STORE", None)
    r = subprocess.run(
        [sys.executable, "-m", "goodwill", "status", "--help"], cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env
    )
    assert r.returncode == 0, r.stderr
    # Rich draws the help in a box: join its lines to read the option's text whole.
    text = " ".join(line.strip(" │|") for line in r.stdout.splitlines())
    text = " ".join(text.split())
    for form in FORMS:
        assert form in text, f"--store help does not mention {form}: {text}"


def test_other_schemes_are_refused() -> None:
    with pytest.raises(ConfigError, match="cannot open a store"):
        open_store("mysql://localhost/db")
