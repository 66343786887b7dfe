"""Resolution rules: data, not code (YAML shipped with goodwill, overridable per workspace)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from goodwill.errors import ConfigError

WORKSPACE_RULES = Path(".goodwill") / "identity.yaml"


@dataclass(frozen=True)
class Clause:
    """One identifier both records must share; ``verified`` asks that both copies be verified."""

    kind: str
    verified: bool = False


@dataclass(frozen=True)
class Rule:
    name: str
    score: float
    match: tuple[Clause, ...]
    description: str = ""

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(c.kind for c in self.match)


@dataclass(frozen=True)
class Rules:
    version: str
    auto_threshold: float
    strong_kinds: tuple[str, ...]
    max_group_size: int
    rules: tuple[Rule, ...]
    source: str = "goodwill defaults"
    digest: str = field(default="", compare=False)

    @property
    def ordered(self) -> tuple[Rule, ...]:
        """Strongest first; the name breaks ties so the order never depends on the file."""
        return tuple(sorted(self.rules, key=lambda r: (-r.score, r.name)))

    @property
    def automatic(self) -> tuple[Rule, ...]:
        return tuple(r for r in self.ordered if r.score >= self.auto_threshold)

    @property
    def review(self) -> tuple[Rule, ...]:
        return tuple(r for r in self.ordered if r.score < self.auto_threshold)

    def get(self, name: str) -> Rule:
        for r in self.rules:
            if r.name == name:
                return r
        raise ConfigError(f"There is no identity rule named {name!r}.", hint=f"Rules: {', '.join(r.name for r in self.rules)}.")

    @property
    def anchor_kinds(self) -> tuple[str, ...]:
        """Kinds whose shared values propose pairs (each rule's first clause)."""
        return tuple(sorted({r.match[0].kind for r in self.rules}))

    @property
    def secondary_kinds(self) -> tuple[str, ...]:
        """Kinds only checked on pairs found another way (surname: too common to join on)."""
        return tuple(sorted({c.kind for r in self.rules for c in r.match[1:]} - set(self.anchor_kinds)))


def _fail(where: str, what: str) -> ConfigError:
    return ConfigError(
        f"Identity rules {where}: {what}.",
        hint="See the shipped defaults in goodwill/ingest/identity/rules.yaml for the expected shape.",
    )


def parse_rules(data: Any, source: str) -> Rules:
    if not isinstance(data, dict):
        raise _fail(source, "the file must hold a mapping")
    raw_rules = data.get("rules")
    if not isinstance(raw_rules, list) or not raw_rules:
        raise _fail(source, "'rules' must be a non-empty list")
    rules = []
    seen: set[str] = set()
    for i, r in enumerate(raw_rules):
        if not isinstance(r, dict) or "name" not in r or "match" not in r:
            raise _fail(source, f"rule #{i + 1} needs a 'name' and a 'match' list")
        name = str(r["name"])
        if name in seen:
            raise _fail(source, f"rule {name!r} is defined twice")
        seen.add(name)
        if name == "manual":
            raise _fail(source, "'manual' is reserved for merges made by a person")
        match = r["match"]
        if not isinstance(match, list) or not match:
            raise _fail(source, f"rule {name!r}: 'match' must list at least one identifier kind")
        clauses = []
        for m in match:
            if isinstance(m, str):
                m = {"kind": m}
            if not isinstance(m, dict) or "kind" not in m:
                raise _fail(source, f"rule {name!r}: each match needs a 'kind'")
            clauses.append(Clause(str(m["kind"]), bool(m.get("verified", False))))
        if len({c.kind for c in clauses}) != len(clauses):
            raise _fail(source, f"rule {name!r} names a kind twice")
        try:
            score = float(r.get("score", 1.0))
        except (TypeError, ValueError):
            raise _fail(source, f"rule {name!r}: score must be a number") from None
        if not 0.0 <= score <= 1.0:
            raise _fail(source, f"rule {name!r}: score must be between 0 and 1")
        rules.append(Rule(name, score, tuple(clauses), str(r.get("description", ""))))
    try:
        threshold = float(data.get("auto_threshold", 0.9))
        max_group = int(data.get("max_group_size", 20))
    except (TypeError, ValueError):
        raise _fail(source, "auto_threshold must be a number and max_group_size a whole number") from None
    if max_group < 2:
        raise _fail(source, "max_group_size must be at least 2")
    strong = data.get("strong_kinds", ["account", "customer_number"])
    if not isinstance(strong, list):
        raise _fail(source, "strong_kinds must be a list of identifier kinds")
    canonical = yaml.safe_dump(data, sort_keys=True).encode()
    return Rules(
        version=str(data.get("version", "unversioned")),
        auto_threshold=threshold,
        strong_kinds=tuple(str(s) for s in strong),
        max_group_size=max_group,
        rules=tuple(rules),
        source=source,
        digest=hashlib.sha256(canonical).hexdigest()[:12],
    )


def load_rules(path: str | Path | None = None) -> Rules:
    """Rules from ``path``, else the workspace's ``.goodwill/identity.yaml``, else the defaults."""
    if path is None and WORKSPACE_RULES.is_file():
        path = WORKSPACE_RULES
    if path is None:
        text = resources.files("goodwill.ingest.identity").joinpath("rules.yaml").read_text("utf-8")
        source = "goodwill defaults"
    else:
        p = Path(path)
        try:
            text = p.read_text("utf-8")
        except OSError as exc:
            raise ConfigError(f"Cannot read identity rules at {p}: {exc.strerror}.", hint="Check the path.") from exc
        source = str(p)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise _fail(source, f"not valid YAML ({str(exc).splitlines()[0]})") from exc
    return parse_rules(data, source)
