"""``goodwill lint``: lint copy and internal text for dark patterns and belittling language."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, cast

import typer

from goodwill.cli.output import emit_json, print_error
from goodwill.errors import GoodwillError
from goodwill.lint._finding import Finding, Kind


class OutputFormat(StrEnum):
    text = "text"
    json = "json"
    sarif = "sarif"


class KindChoice(StrEnum):
    auto = "auto"
    copy = "copy"
    internal = "internal"


EPILOG = (
    "Examples:\n\n"
    "  goodwill lint examples/templates\n\n"
    "  goodwill lint --format sarif emails/ > lint.sarif\n\n"
    "  echo 'Only 2 left!' | goodwill lint --kind copy -\n\n"
    "Suppress one line with a reason: <!-- goodwill: noqa GW102 -- stock count is live and true -->"
)


def lint(
    paths: Annotated[
        list[str], typer.Argument(help="Files or folders to lint; '-' reads standard input.")
    ],
    output_format: Annotated[
        OutputFormat, typer.Option("--format", "-f", help="text, json or sarif.")
    ] = OutputFormat.text,
    kind: Annotated[
        KindChoice,
        typer.Option(
            "--kind",
            help="copy (customers read it), internal, or auto (by the config's copy globs).",
        ),
    ] = KindChoice.auto,
    config_path: Annotated[
        Path | None, typer.Option("--config", help="goodwill-lint.yaml or pyproject.toml to use.")
    ] = None,
    select: Annotated[
        str | None,
        typer.Option("--select", help="Only these codes or prefixes, comma-separated (GW1,GW201)."),
    ] = None,
    ignore: Annotated[
        str | None, typer.Option("--ignore", help="Skip these codes or prefixes, comma-separated.")
    ] = None,
    no_classifier: Annotated[
        bool, typer.Option("--no-classifier", help="Patterns and lexicon only.")
    ] = False,
) -> None:
    """Lint copy for dark patterns and any text for belittling language about customers.

    Exit code 0: nothing found; 1: findings; 2: a usage or configuration error.
    """
    from goodwill.lint import (
        config_from_mapping,
        discover_config,
        format_text,
        lint_paths,
        lint_text,
        load_config,
        sarif,
    )
    from goodwill.lint._text import format_for

    try:
        config = load_config(config_path) if config_path else discover_config()
        overrides: dict[str, object] = {}
        if select:
            overrides["select"] = select
        if ignore:
            overrides["ignore"] = ignore
        if overrides:
            base = config_from_mapping(overrides, "command line")
            config = config.with_overrides(
                select=base.select or config.select, ignore=config.ignore + base.ignore
            )
        if no_classifier:
            config = config.with_overrides(classifier=False)
        forced: Kind | None = None if kind is KindChoice.auto else cast(Kind, kind.value)
        findings: list[Finding] = []
        files = [p for p in paths if p != "-"]
        if "-" in paths:
            text = sys.stdin.read()
            findings += lint_text(text, forced or "copy", config, fmt=format_for("stdin"), path="-")
        if files:
            findings += lint_paths(files, config, forced)
    except GoodwillError as exc:
        print_error(exc, as_json=output_format is OutputFormat.json)
        raise typer.Exit(2) from None

    if output_format is OutputFormat.json:
        emit_json([f.to_dict() for f in findings])
    elif output_format is OutputFormat.sarif:
        emit_json(sarif(findings, config.rules()))
    elif findings:
        typer.echo(format_text(findings))
    raise typer.Exit(1 if findings else 0)


def list_rules(
    as_json: Annotated[bool, typer.Option("--json", help="Rules as JSON.")] = False,
) -> None:
    """List the lint rules: code, category, severity, on by default or not, legal basis."""
    from goodwill.lint import load_rules

    rules = load_rules()
    if as_json:
        emit_json(
            [
                {
                    "code": r.code,
                    "name": r.name,
                    "category": r.category,
                    "kinds": sorted(r.kinds),
                    "severity": r.severity,
                    "default": r.default,
                    "basis": r.basis,
                    "explanation": r.explanation,
                }
                for r in rules
            ]
        )
        return
    for r in rules:
        flag = "" if r.default else " (opt-in)"
        typer.echo(
            f"{r.code} {r.name} [{r.category}; {'/'.join(sorted(r.kinds))}; {r.severity}]{flag}: {r.basis}"
        )


def register(app: typer.Typer) -> None:
    app.command("lint", epilog=EPILOG)(lint)
    app.command("lint-rules")(list_rules)
