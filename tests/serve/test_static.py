"""The vendored front-end files are the ones the README says were copied from npm, byte for byte."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

VENDOR = Path(__file__).resolve().parents[2] / "src" / "goodwill" / "serve" / "static" / "vendor"


def recorded() -> dict[str, str]:
    rows = re.findall(r"^\| `([^`]+\.js)` \|.*\| ([0-9a-f]{64}) \|$", (VENDOR / "README.md").read_text("utf-8"), re.M)
    return dict(rows)


def test_every_vendored_script_matches_its_recorded_hash() -> None:
    hashes = recorded()
    on_disk = sorted(p.name for p in VENDOR.glob("*.js"))
    assert sorted(hashes) == on_disk == ["echarts.min.js", "htmx.min.js"], "README and folder disagree"
    for name, sha in hashes.items():
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == sha, f"{name} differs from the npm copy"


def test_every_vendored_script_has_its_licence_beside_it() -> None:
    for name in recorded():
        stem = name.split(".")[0]
        assert (VENDOR / f"{stem}.LICENSE.txt").is_file(), name
