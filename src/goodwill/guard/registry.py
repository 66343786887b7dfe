"""Rules as data and code: the rule registry and the rule pack.

A rule is a Python class with an ``id`` and a ``check`` method; its version, basis,
reason template and parameters come from YAML (the defaults in ``rules.yaml`` beside this
module, then a workspace override). Built-in rules register themselves with
:func:`register_rule` exactly as a third party's would. A package can also ship rules
through an entry point, which goodwill discovers on first use::

    [project.entry-points."goodwill.guard_rules"]
    my_rules = "my_company.guard_rules"          # a module that calls register_rule
    late_fee = "my_company.guard_rules:LateFee"   # or one Rule subclass

A rule that has no entry in the YAML carries its own defaults as class attributes
(``version``, ``basis``, ``reason``, ``params``).
"""

from __future__ import annotations

import abc
import copy
import datetime as dt
import hashlib
import importlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib import metadata, resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar

import yaml

from goodwill.errors import ConfigError

if TYPE_CHECKING:
    from goodwill.guard.action import Action
    from goodwill.guard.facts import PersonFacts

Effect = Literal["deny", "change"]
ENTRY_POINT_GROUP = "goodwill.guard_rules"


class _SafeDict(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def fill(template: str, values: Mapping[str, Any]) -> str:
    """Fill a reason template; an unknown placeholder stays visible rather than failing."""
    shown = {k: _show(v) for k, v in values.items()}
    return " ".join(template.format_map(_SafeDict(shown)).split())


def _show(v: Any) -> str:
    if v is None:
        return "unknown"
    if isinstance(v, float):
        return f"{v:,.2f}"
    if isinstance(v, list | tuple):
        return ", ".join(_show(x) for x in v) if v else "none"
    if hasattr(v, "isoformat"):
        return str(v.isoformat())[:10]
    return str(v)


@dataclass(frozen=True)
class Hit:
    """One rule firing: what it does to the action, why, and the facts behind it."""

    rule_id: str
    version: str
    effect: Effect
    reason: str
    basis: str
    facts: dict[str, Any]
    change: dict[str, Any] | None = None
    route: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "rule": self.rule_id,
            "version": self.version,
            "effect": self.effect,
            "reason": self.reason,
            "basis": self.basis,
            "facts": self.facts,
        }
        if self.change is not None:
            d["change"] = self.change
        if self.route is not None:
            d["route"] = self.route
        return d


@dataclass(frozen=True)
class RuleSpec:
    """The data half of a rule: what the YAML says about it."""

    id: str
    version: str
    basis: str
    reason: str
    params: dict[str, Any]
    enabled: bool = True
    extra_reasons: dict[str, str] = field(default_factory=dict)

    @property
    def stamp(self) -> str:
        """Version plus a digest of the effective parameters, recorded in every decision."""
        digest = hashlib.sha256(
            json.dumps(self.params, sort_keys=True, default=str).encode()
        ).hexdigest()[:8]
        return f"{self.version}#{digest}"


@dataclass
class RuleContext:
    """What a rule sees besides the action and the facts: its spec and the pack's vocabulary."""

    spec: RuleSpec
    sales_kinds: frozenset[str]
    marketing_purposes: frozenset[str]
    # The moment of vetting; the engine sets it before each run.
    as_of: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    @property
    def params(self) -> dict[str, Any]:
        return self.spec.params

    def hit(
        self,
        effect: Effect,
        facts: dict[str, Any],
        *,
        template: str | None = None,
        change: dict[str, Any] | None = None,
        route: str | None = None,
    ) -> Hit:
        text = self.spec.extra_reasons.get(template, "") if template else self.spec.reason
        return Hit(
            self.spec.id,
            self.spec.stamp,
            effect,
            fill(text or self.spec.reason, facts),
            self.spec.basis,
            facts,
            change,
            route,
        )

    def is_marketing(self, action: Action) -> bool:
        if action.purpose:
            return action.purpose in self.marketing_purposes
        return action.kind in self.sales_kinds


class Rule(abc.ABC):
    """Base class of guard rules. Subclass, set ``id``, write ``check``, register it.

    ``kinds`` limits the action kinds the engine asks it about (None: every kind), so a
    rule costs nothing on actions it has no view on. ``check`` returns a :class:`Hit`
    (through ``ctx.hit``) or None.
    """

    id: ClassVar[str] = ""
    version: ClassVar[str] = "0.0.0"
    basis: ClassVar[str] = ""
    reason: ClassVar[str] = ""
    params: ClassVar[dict[str, Any]] = {}
    # Whether the rule reads the store-wide facts (True) or only the action (False).
    needs_facts: ClassVar[bool] = True

    def kinds(self, ctx: RuleContext) -> frozenset[str] | None:
        k = ctx.params.get("kinds")
        return frozenset(k) if k else None

    @abc.abstractmethod
    def check(self, action: Action, facts: PersonFacts, ctx: RuleContext) -> Hit | None:
        """The rule's verdict on one action, or None when it does not fire."""


_REGISTRY: dict[str, type[Rule]] = {}
_DISCOVERED = False
R = TypeVar("R", bound=type[Rule])


def register_rule(cls: R) -> R:
    """Register a rule class (use as a decorator). Re-registering the same class is harmless."""
    if not (isinstance(cls, type) and issubclass(cls, Rule)):
        raise ConfigError(
            f"{cls!r} is not a guard rule.", hint="Subclass goodwill.guard.Rule and set its id."
        )
    if not cls.id:
        raise ConfigError(f"Guard rule {cls.__name__} has no id.", hint="Set the class attribute id.")
    existing = _REGISTRY.get(cls.id)
    if existing is not None and existing is not cls and existing.__qualname__ != cls.__qualname__:
        raise ConfigError(
            f"Two guard rules claim the id {cls.id!r}: {existing.__module__}.{existing.__qualname__} "
            f"and {cls.__module__}.{cls.__qualname__}.",
            hint="Give one of them another id.",
        )
    _REGISTRY[cls.id] = cls
    return cls


def unregister_rule(rule_id: str) -> None:
    _REGISTRY.pop(rule_id, None)


def discover(entry_points: Callable[[], Iterable[Any]] | None = None) -> list[str]:
    """Load the built-in rules and every ``goodwill.guard_rules`` entry point; return rule ids."""
    global _DISCOVERED
    importlib.import_module("goodwill.guard.builtin")
    eps = entry_points() if entry_points else metadata.entry_points(group=ENTRY_POINT_GROUP)
    for ep in eps:
        try:
            obj = ep.load()
        except Exception as exc:
            raise ConfigError(
                f"The guard rule entry point {ep.name!r} ({ep.value}) failed to load: {exc}",
                hint="Fix or uninstall the package that declares it.",
            ) from exc
        if isinstance(obj, type) and issubclass(obj, Rule):
            register_rule(obj)
    _DISCOVERED = True
    return sorted(_REGISTRY)


def registered_rules() -> dict[str, type[Rule]]:
    if not _DISCOVERED:
        discover()
    return dict(_REGISTRY)


# -- the pack -------------------------------------------------------------------------------


@dataclass
class BoundRule:
    rule: Rule
    ctx: RuleContext
    kinds: frozenset[str] | None


@dataclass
class RulePack:
    name: str
    version: str
    specs: dict[str, RuleSpec]
    sales_kinds: frozenset[str]
    marketing_purposes: frozenset[str]
    sources: list[str]
    bound: list[BoundRule] = field(default_factory=list)

    def rule_versions(self) -> dict[str, str]:
        return {b.ctx.spec.id: b.ctx.spec.stamp for b in self.bound}

    def to_dict(self) -> dict[str, Any]:
        return {
            "pack": self.name,
            "version": self.version,
            "sources": self.sources,
            "rules": [
                {
                    "id": s.id,
                    "version": s.version,
                    "stamp": s.stamp,
                    "enabled": s.enabled,
                    "basis": s.basis,
                    "reason": s.reason,
                    "params": s.params,
                }
                for s in self.specs.values()
            ],
        }


def _read_yaml(path: str | Path | None) -> tuple[dict[str, Any], str]:
    if path is None:
        text = resources.files("goodwill.guard").joinpath("rules.yaml").read_text("utf-8")
        where = "goodwill/guard/rules.yaml"
    else:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(
                f"There is no rule pack at {p}.",
                hint="Pass a YAML file with a top-level 'rules:' mapping, or leave --rules out.",
            )
        text = p.read_text("utf-8")
        where = str(p)
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(
            f"The rule pack {where} is not valid YAML: {str(exc).splitlines()[0]}",
            hint="Check its indentation and quoting.",
        ) from exc
    if not isinstance(data, dict) or not isinstance(data.get("rules", {}), dict):
        raise ConfigError(
            f"The rule pack {where} must be a mapping with a 'rules:' mapping of rule id to settings.",
            hint="See goodwill/guard/rules.yaml for the shape.",
        )
    return data, where


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


_SPEC_KEYS = {"version", "basis", "reason", "params", "enabled"}


def load_pack(override: str | Path | None = None) -> RulePack:
    """The default pack, with a workspace override merged in (rule by rule, parameter by parameter)."""
    rules = registered_rules()
    base, where = _read_yaml(None)
    sources = [where]
    if override is not None:
        over, owhere = _read_yaml(override)
        sources.append(owhere)
        unknown = sorted(set(over.get("rules", {})) - set(rules))
        if unknown:
            raise ConfigError(
                f"The rule pack {owhere} names rule(s) goodwill does not know: {', '.join(unknown)}.",
                hint=f"Known rules: {', '.join(sorted(rules))}. Register code rules before loading the pack.",
            )
        base = _merge(base, over)
    specs: dict[str, RuleSpec] = {}
    yaml_rules: dict[str, Any] = base.get("rules", {})
    for rid, cls in rules.items():
        entry = yaml_rules.get(rid) or {}
        if not isinstance(entry, dict):
            raise ConfigError(f"Rule {rid!r} in the pack must be a mapping.", hint="e.g. {enabled: false}")
        params = _merge(dict(cls.params), entry.get("params") or {})
        extras = {k: str(v) for k, v in entry.items() if k.startswith("reason_")}
        specs[rid] = RuleSpec(
            rid,
            str(entry.get("version", cls.version)),
            str(entry.get("basis", cls.basis)).strip(),
            str(entry.get("reason", cls.reason)).strip(),
            params,
            bool(entry.get("enabled", True)),
            extras,
        )
    pack = RulePack(
        str(base.get("pack", "goodwill-default")),
        str(base.get("version", "0")),
        specs,
        frozenset(base.get("sales_kinds") or ()),
        frozenset(base.get("marketing_purposes") or ()),
        sources,
    )
    # Rules run in the YAML's order (then code-only rules by id), so reasons read the same every time.
    order = [r for r in yaml_rules if r in specs] + sorted(set(specs) - set(yaml_rules))
    for rid in order:
        spec = specs[rid]
        if not spec.enabled:
            continue
        ctx = RuleContext(spec, pack.sales_kinds, pack.marketing_purposes)
        rule = rules[rid]()
        pack.bound.append(BoundRule(rule, ctx, rule.kinds(ctx)))
    return pack
