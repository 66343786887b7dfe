# goodwill: noqa-file -- expected findings below quote the example templates' flagged words.
"""The example templates lint with useful findings and few false alarms; this repository lints clean."""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

import pytest

from goodwill.lint import LintConfig, lint_paths, lint_text, load_config

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples/templates"

EXPECTED = {
    "renewal-email.html.j2": {(4, "GW101"), (5, "GW102"), (7, "GW105")},
    "cancel-page.html": {(5, "GW109"), (6, "GW106"), (9, "GW105"), (10, "GW109")},
    "checkout.hbs": {(2, "GW103"), (3, "GW102"), (6, "GW107"), (8, "GW107"), (9, "GW108")},
    "consent-banner.html": {(3, "GW104"), (5, "GW109")},
    "winback.eml": {(2, "GW101"), (7, "GW104")},
    "internal/sales-playbook.md": {(3, "GW202"), (5, "GW204"), (6, "GW203"), (7, "GW203")},
    "renewal-email-honest.html.j2": set(),
    "cancel-page-honest.html": set(),
    "checkout-honest.hbs": set(),
    "arrears-letter-honest.txt": set(),
    "internal/retention-plan-honest.md": set(),
}


def test_example_templates_give_the_expected_findings_and_honest_ones_none() -> None:
    old = Path.cwd()
    os.chdir(ROOT)  # the example config's exclude globs are relative to the repository root
    try:
        found = lint_paths(["examples/templates"], load_config(EXAMPLES / "goodwill-lint.yaml"))
    finally:
        os.chdir(old)
    by_file: dict[str, set[tuple[int, str]]] = defaultdict(set)
    for f in found:
        by_file[f.path.split("examples/templates/")[1]].add((f.line, f.code))
    assert dict(by_file) == {k: v for k, v in EXPECTED.items() if v}
    # Every finding tells a copywriter why and under which rule.
    assert all(f.message and f.basis for f in found)


def test_example_templates_copy_is_copy_and_markdown_is_internal() -> None:
    cfg = load_config(EXAMPLES / "goodwill-lint.yaml")
    assert cfg.kind_of("examples/templates/checkout.hbs") == "copy"
    assert cfg.kind_of("examples/templates/internal/sales-playbook.md") == "internal"


def self_lint_paths() -> list[str]:
    return [str(ROOT / p) for p in ("src", "tests", "README.md", "docs") if (ROOT / p).exists()]


def test_this_repository_passes_its_own_lint() -> None:
    # The same check CI runs: `goodwill lint src/ tests/ README.md docs/` must exit 0.
    findings = lint_paths(self_lint_paths(), LintConfig())
    assert [f"{f.path}:{f.line} {f.code} {f.excerpt}" for f in findings] == []


def test_self_lint_would_catch_a_belittling_comment(tmp_path: Path) -> None:
    code = tmp_path / "module.py"
    code.write_text("def f() -> None:\n    # skip the churners, they never pay\n    pass\n")
    assert [(f.line, f.code) for f in lint_paths([str(tmp_path)])] == [(2, "GW203")]


@pytest.mark.parametrize("name", ["model.json", "data.csv", "dump.tsv"])
def test_folder_walk_skips_data_files(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_text("whales, churners\n")
    assert lint_paths([str(tmp_path)]) == []


def test_named_file_is_linted_whatever_its_suffix(tmp_path: Path) -> None:
    path = tmp_path / "notes.data"
    path.write_text("our whales\n")
    assert [f.code for f in lint_paths([str(path)])] == ["GW202"]
    assert lint_text("our whales", "internal")[0].code == "GW202"
