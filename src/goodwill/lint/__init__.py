"""Lint how a company speaks to and about its customers.

Dark patterns in customer-facing copy (urgency, scarcity, social proof, misdirection,
confirmshaming, obstruction, sneaking, forced action, nagging), found by explainable patterns
first and a small learned classifier second, and belittling language about customers in
internal documents and code. Usable alone: it needs no store and no CLI.

>>> [f.code for f in lint_text("Hurry, only 2 left!")]
['GW101', 'GW102']
"""

from __future__ import annotations

from goodwill.lint._config import LintConfig, config_from_mapping, discover_config, load_config
from goodwill.lint._engine import lint_text
from goodwill.lint._files import LintInputError, iter_files, lint_file, lint_paths
from goodwill.lint._finding import Finding
from goodwill.lint._report import format_json, format_text, sarif
from goodwill.lint._rules import Rule, load_rules

__all__ = [
    "Finding",
    "LintConfig",
    "LintInputError",
    "Rule",
    "config_from_mapping",
    "discover_config",
    "format_json",
    "format_text",
    "iter_files",
    "lint_file",
    "lint_paths",
    "lint_text",
    "load_config",
    "load_rules",
    "sarif",
]
