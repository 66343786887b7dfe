"""Lint files and folders: which files, which kind, read as what."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from goodwill.errors import GoodwillError
from goodwill.lint._config import LintConfig
from goodwill.lint._engine import lint_text
from goodwill.lint._finding import Finding, Kind
from goodwill.lint._text import format_for

# Walking a folder lints text a person wrote. Data files (JSON, CSV, TSV, gzip) are skipped
# unless named on the command line: they hold other people's words, not ours.
LINTED_SUFFIXES = frozenset(
    {
        ".txt",
        ".md",
        ".markdown",
        ".mdx",
        ".rst",
        ".html",
        ".htm",
        ".xhtml",
        ".hbs",
        ".handlebars",
        ".mustache",
        ".j2",
        ".jinja",
        ".jinja2",
        ".mjml",
        ".eml",
        ".tpl",
        ".tmpl",
        ".liquid",
        ".njk",
        ".py",
        ".pyi",
        ".yaml",
        ".yml",
        ".toml",
        ".cfg",
        ".ini",
        ".js",
        ".ts",
        ".tsx",
        ".jsx",
        ".vue",
        ".svelte",
        ".css",
        ".sql",
        ".sh",
    }
)
_SKIP_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".venv",
        "venv",
        "node_modules",
        "__pycache__",
        ".mypy_cache",
        ".ruff_cache",
        ".pytest_cache",
        "build",
        "dist",
    }
)


class LintInputError(GoodwillError):
    code = "lint_input"


def iter_files(paths: Iterable[str], config: LintConfig) -> Iterator[str]:
    for raw in paths:
        path = Path(raw)
        if path.is_file():
            if not config.excluded(raw):
                yield raw
            continue
        if not path.is_dir():
            raise LintInputError(
                f"No such file or folder: {raw}.",
                hint="Check the path; use '-' to read standard input.",
            )
        for folder, dirs, files in os.walk(path):
            dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS and not d.endswith(".egg-info"))
            for name in sorted(files):
                full = os.path.join(folder, name)
                if Path(name).suffix.lower() in LINTED_SUFFIXES and not config.excluded(full):
                    yield full


def lint_file(path: str, config: LintConfig, kind: Kind | None = None) -> list[Finding]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise LintInputError(
            f"{path} is not UTF-8 text.",
            hint="Convert it to UTF-8, or exclude it in the lint config.",
        ) from exc
    except OSError as exc:
        raise LintInputError(
            f"Cannot read {path}: {exc.strerror}.", hint="Check the path and its permissions."
        ) from exc
    chosen: Kind = kind or ("copy" if config.kind_of(path) == "copy" else "internal")
    return lint_text(text, chosen, config, fmt=format_for(path), path=path)


def lint_paths(
    paths: Iterable[str], config: LintConfig | None = None, kind: Kind | None = None
) -> list[Finding]:
    """Lint files and folders. ``kind`` forces copy or internal; by default the config decides."""
    config = config or LintConfig()
    findings: list[Finding] = []
    for path in iter_files(paths, config):
        findings.extend(lint_file(path, config, kind))
    return findings
