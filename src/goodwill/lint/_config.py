"""Lint configuration: which rules run, which files are copy, how the classifier is used.

Read from ``goodwill-lint.yaml`` (or ``.goodwill-lint.yaml``) in the current folder or a parent,
or from the ``[tool.goodwill.lint]`` table of ``pyproject.toml``; ``--config`` names one directly.
Every key is optional; the defaults are the ones a company starts with.
"""

from __future__ import annotations

import fnmatch
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from goodwill.errors import ConfigError
from goodwill.lint._rules import Rule, load_rules

CONFIG_NAMES = ("goodwill-lint.yaml", ".goodwill-lint.yaml")

# Files a customer reads; everything else is internal (docs, code, plans).
DEFAULT_COPY_GLOBS: tuple[str, ...] = (
    "*templates/*",
    "*.html",
    "*.htm",
    "*.xhtml",
    "*.hbs",
    "*.handlebars",
    "*.mustache",
    "*.j2",
    "*.jinja",
    "*.jinja2",
    "*.mjml",
    "*.eml",
    "*.liquid",
    "*.njk",
    "*copy/*",
)

_KEYS = {"select", "extend-select", "ignore", "exclude", "copy", "classifier", "rules"}
_CLASSIFIER_KEYS = {"enabled", "threshold", "model"}
DEFAULT_THRESHOLD = 0.98


@dataclass(frozen=True)
class LintConfig:
    """What to run. ``select`` empty means the rules enabled by default."""

    select: tuple[str, ...] = ()
    extend_select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    copy_globs: tuple[str, ...] = DEFAULT_COPY_GLOBS
    classifier: bool = True
    threshold: float = DEFAULT_THRESHOLD
    rules_path: str | None = None
    model_path: str | None = None
    origin: str = "defaults"
    # Off runs every regex on every text: the plain path that tests and the benchmark compare
    # the pre-checked one with. Findings are the same either way; only the time differs.
    prefilter: bool = True
    _cache: dict[str, bool] = field(default_factory=dict, compare=False, repr=False)
    # What the engine works out once per config (the rules to run per kind of text).
    _memo: dict[str, object] = field(default_factory=dict, init=False, compare=False, repr=False)

    def rules(self) -> tuple[Rule, ...]:
        return load_rules(self.rules_path)

    def enabled(self, rule: Rule) -> bool:
        hit = self._cache.get(rule.code)
        if hit is None:
            hit = self._enabled(rule)
            self._cache[rule.code] = hit
        return hit

    def _enabled(self, rule: Rule) -> bool:
        # The most specific prefix wins, as in ruff: ignore GW1 with select GW105 keeps GW105.
        def best(prefixes: Iterable[str]) -> int:
            return max((len(p) for p in prefixes if rule.code.startswith(p)), default=-1)

        on = (
            best(self.select + self.extend_select)
            if self.select
            else max(best(self.extend_select), 0 if rule.default else -1)
        )
        off = best(self.ignore)
        return on >= 0 and on > off

    def kind_of(self, path: str) -> str:
        posix = path.replace("\\", "/")
        name = posix.rsplit("/", 1)[-1]
        for glob in self.copy_globs:
            if fnmatch.fnmatch(posix, glob) or fnmatch.fnmatch(name, glob):
                return "copy"
        return "internal"

    def excluded(self, path: str) -> bool:
        posix = path.replace("\\", "/").removeprefix("./")
        return any(
            fnmatch.fnmatch(posix, g) or fnmatch.fnmatch(posix, g.rstrip("/") + "/*")
            for g in self.exclude
        )

    def with_overrides(self, **changes: Any) -> LintConfig:
        return replace(self, _cache={}, **changes)


def _codes(value: Any, key: str, origin: str, known: set[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(
            f"{origin}: '{key}' must be a list of rule codes.", hint="For example: [GW1, GW201]."
        )
    out = tuple(v.strip().upper() for v in value)
    for code in out:
        if not any(k.startswith(code) for k in known):
            raise ConfigError(
                f"{origin}: '{key}' names {code}, which matches no rule.",
                hint="Run 'goodwill lint-rules' to see the codes.",
            )
    return out


def config_from_mapping(data: Mapping[str, Any], origin: str = "config") -> LintConfig:
    if not isinstance(data, Mapping):
        raise ConfigError(f"{origin}: the lint config must be a mapping.", hint="See docs/lint.md.")
    unknown = set(data) - _KEYS
    if unknown:
        raise ConfigError(
            f"{origin}: unknown lint setting(s): {', '.join(sorted(unknown))}.",
            hint=f"Allowed: {', '.join(sorted(_KEYS))}.",
        )
    rules_path = data.get("rules")
    if rules_path is not None:
        rules_path = (
            str(Path(origin).parent / str(rules_path))
            if origin.endswith((".yaml", ".toml"))
            else str(rules_path)
        )
    known = {r.code for r in load_rules(rules_path)}
    cfg = LintConfig(origin=origin, rules_path=rules_path)
    changes: dict[str, Any] = {}
    for key, attr in (
        ("select", "select"),
        ("extend-select", "extend_select"),
        ("ignore", "ignore"),
    ):
        if key in data:
            changes[attr] = _codes(data[key], key, origin, known)
    for key, attr in (("exclude", "exclude"), ("copy", "copy_globs")):
        if key in data:
            value = data[key]
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ConfigError(
                    f"{origin}: '{key}' must be a list of glob patterns.",
                    hint='For example: ["emails/*"].',
                )
            changes[attr] = tuple(value)
    classifier = data.get("classifier")
    if classifier is not None:
        if isinstance(classifier, bool):
            classifier = {"enabled": classifier}
        if not isinstance(classifier, Mapping) or set(classifier) - _CLASSIFIER_KEYS:
            raise ConfigError(
                f"{origin}: 'classifier' takes only 'enabled', 'threshold' and 'model'.",
                hint="For example: classifier: {enabled: true, threshold: 0.95}.",
            )
        if "enabled" in classifier:
            changes["classifier"] = bool(classifier["enabled"])
        if classifier.get("model"):
            changes["model_path"] = str(classifier["model"])
        if "threshold" in classifier:
            threshold = classifier["threshold"]
            if not isinstance(threshold, int | float) or not 0.0 < float(threshold) <= 1.0:
                raise ConfigError(
                    f"{origin}: classifier threshold {threshold!r} is not a probability.",
                    hint="Use a number above 0 and at most 1, such as 0.95.",
                )
            changes["threshold"] = float(threshold)
    return cfg.with_overrides(**changes)


def load_config(path: str | Path) -> LintConfig:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"Cannot read lint config {path}: {exc.strerror}.", hint="Check the --config path."
        ) from exc
    if path.suffix == ".toml":
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(
                f"{path} is not valid TOML: {exc}.", hint="Fix the TOML syntax."
            ) from exc
        table = data.get("tool", {}).get("goodwill", {}).get("lint")
        if table is None:
            raise ConfigError(
                f"{path} has no [tool.goodwill.lint] table.",
                hint="Add one, or pass a goodwill-lint.yaml.",
            )
        return config_from_mapping(table, str(path))
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}.", hint="Fix the YAML syntax.") from exc
    return config_from_mapping(data, str(path))


def discover_config(start: Path | None = None) -> LintConfig:
    """The nearest goodwill-lint.yaml or [tool.goodwill.lint], walking up from ``start``."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        for name in CONFIG_NAMES:
            if (folder / name).is_file():
                return load_config(folder / name)
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file():
            try:
                data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
            except (OSError, tomllib.TOMLDecodeError):
                data = {}
            if data.get("tool", {}).get("goodwill", {}).get("lint") is not None:
                return load_config(pyproject)
    return LintConfig()
