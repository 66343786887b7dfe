"""Load the rules (``rules.yaml``) into compiled, immutable objects.

The rules are data so that a company can read, change and extend them; this module only checks
their shape and compiles the regular expressions once per process.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, cast

import yaml

from goodwill.errors import ConfigError
from goodwill.lint._finding import SEVERITIES, Kind, Severity
from goodwill.lint._prefilter import needles

# Lexicon terms must not match inside longer words, but an underscore counts as a separator so
# that identifiers built from a flagged phrase (words joined by underscores) are caught too.
_LEFT = r"(?<![A-Za-z0-9])"
_RIGHT = r"(?![A-Za-z0-9])"


@dataclass(frozen=True, slots=True)
class Pattern:
    regex: re.Pattern[str]
    message: str
    suggestion: str | None
    unless: re.Pattern[str] | None
    requires: re.Pattern[str] | None
    window: int
    # Strings one of which a text must hold (after `_prefilter.fold`) for `regex` to match it;
    # None when they cannot be derived, and the regex then always runs.
    needles: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class Rule:
    code: str
    name: str
    category: str
    kinds: frozenset[Kind]
    severity: Severity
    default: bool
    basis: str
    explanation: str
    lexicon: bool
    patterns: tuple[Pattern, ...]


def _compile(source: str, where: str) -> re.Pattern[str]:
    try:
        return re.compile(source, re.IGNORECASE)
    except re.error as exc:
        raise ConfigError(
            f"{where}: invalid regular expression: {exc}.",
            hint="Fix the regex in the rules file (single-quote it in YAML).",
        ) from exc


def _pattern(raw: dict[str, Any], rule_code: str, lexicon: bool, index: int) -> Pattern:
    where = f"rule {rule_code} pattern {index + 1}"
    if not isinstance(raw, dict) or "regex" not in raw or "message" not in raw:
        raise ConfigError(
            f"{where} needs 'regex' and 'message'.", hint="See src/goodwill/lint/rules.yaml."
        )
    source = str(raw["regex"])
    if lexicon:
        # Case-sensitive exceptions (a show's proper name) are written in the `unless` regex instead.
        source = f"{_LEFT}(?:{source}){_RIGHT}"
    unless = raw.get("unless")
    requires = raw.get("requires")
    regex = _compile(source, where)
    return Pattern(
        regex=regex,
        message=str(raw["message"]),
        suggestion=str(raw["suggestion"]) if raw.get("suggestion") else None,
        unless=_compile(str(unless), where + " unless") if unless else None,
        requires=_compile(str(requires), where + " requires") if requires else None,
        window=int(raw.get("window", 40 if unless else 80)),
        needles=needles(regex.pattern),
    )


def parse_rules(data: Any, origin: str = "rules.yaml") -> tuple[Rule, ...]:
    if not isinstance(data, dict) or not isinstance(data.get("rules"), list):
        raise ConfigError(
            f"{origin}: expected a mapping with a 'rules' list.", hint="See docs/lint.md."
        )
    rules: list[Rule] = []
    seen: set[str] = set()
    for raw in data["rules"]:
        code = str(raw.get("code", ""))
        if not re.fullmatch(r"GW\d{3}", code) or code in seen:
            raise ConfigError(
                f"{origin}: rule code {code!r} is missing, malformed or repeated.",
                hint="Codes look like GW123 and are unique.",
            )
        seen.add(code)
        severity = raw.get("severity", "warning")
        if severity not in SEVERITIES:
            raise ConfigError(
                f"{origin}: rule {code} has severity {severity!r}.",
                hint=f"Use one of: {', '.join(SEVERITIES)}.",
            )
        kinds = frozenset(cast(list[Kind], raw.get("kinds", ["copy"])))
        if not kinds <= {"copy", "internal"}:
            raise ConfigError(
                f"{origin}: rule {code} has kinds {sorted(kinds)}.",
                hint="Use copy and/or internal.",
            )
        lexicon = bool(raw.get("lexicon", False))
        patterns = tuple(
            _pattern(p, code, lexicon, i) for i, p in enumerate(raw.get("patterns") or [])
        )
        rules.append(
            Rule(
                code=code,
                name=str(raw.get("name", code)),
                category=str(raw.get("category", "")),
                kinds=kinds,
                severity=cast(Severity, severity),
                default=bool(raw.get("default", True)),
                basis=str(raw.get("basis", "")),
                explanation=" ".join(str(raw.get("explanation", "")).split()),
                lexicon=lexicon,
                patterns=patterns,
            )
        )
    return tuple(rules)


@lru_cache(maxsize=8)
def load_rules(path: str | None = None) -> tuple[Rule, ...]:
    """The shipped rules, or those of a company's own rules file."""
    if path is None:
        text = resources.files("goodwill.lint").joinpath("rules.yaml").read_text(encoding="utf-8")
        origin = "rules.yaml"
    else:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(
                f"Cannot read rules file {path}: {exc.strerror}.",
                hint="Check the 'rules' path in your lint config.",
            ) from exc
        origin = path
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(
            f"{origin} is not valid YAML: {exc}.", hint="Fix the YAML syntax."
        ) from exc
    return parse_rules(data, origin)


def rules_by_code(rules: tuple[Rule, ...]) -> dict[str, Rule]:
    return {r.code: r for r in rules}
