"""Roles, scopes and redaction: who may call what, and what they may not see.

The policy is data (``policy.yaml``, overridable with ``goodwill serve --policy``).
Redaction happens here and only here: every view's result passes through
:meth:`Policy.redact` before it becomes JSON or a page, so the API and the dashboard
cannot disagree about what a role sees.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from goodwill.errors import ConfigError
from goodwill.serve.scopes import SCOPES

__all__ = ["ROLES", "Policy", "RoleSpec", "load_policy"]

# The roles the code knows how to treat (a customer token must carry a customer id,
# feeds are per team); a policy may change scopes and hiding, not invent roles.
ROLES = (
    "agent",
    "field_engineer",
    "salesperson",
    "cx_lead",
    "compliance",
    "marketing",
    "customer",
    "admin",
)


@dataclass(frozen=True)
class RoleSpec:
    name: str
    label: str
    scopes: frozenset[str]
    hide: frozenset[str]


@dataclass(frozen=True)
class Policy:
    version: str
    roles: dict[str, RoleSpec]
    fields: dict[str, frozenset[str]]

    def role(self, name: str) -> RoleSpec:
        try:
            return self.roles[name]
        except KeyError:
            raise ConfigError(
                f"The policy has no role {name!r}.", hint=f"Roles: {', '.join(self.roles)}."
            ) from None

    def allows(self, role: str, scope: str) -> bool:
        spec = self.roles.get(role)
        return spec is not None and scope in spec.scopes

    def hidden_keys(self, role: str) -> frozenset[str]:
        spec = self.roles.get(role)
        if spec is None:
            return frozenset()
        keys: set[str] = set()
        for cls in spec.hide:
            keys |= self.fields.get(cls, frozenset())
        return frozenset(keys)

    def redact(self, role: str, data: Any) -> Any:
        """``data`` without any key the role may not see, at any depth."""
        hidden = self.hidden_keys(role)
        if not hidden:
            return data
        return _drop(data, hidden)


def _drop(data: Any, hidden: frozenset[str]) -> Any:
    if isinstance(data, dict):
        return {k: _drop(v, hidden) for k, v in data.items() if k not in hidden}
    if isinstance(data, list | tuple):
        return [_drop(v, hidden) for v in data]
    return data


def _strings(v: Any, where: str) -> list[str]:
    if v is None:
        return []
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise ConfigError(f"{where} must be a list of names.", hint="e.g. [brief, feed]")
    return list(v)


def load_policy(path: str | Path | None = None) -> Policy:
    """The shipped policy, or the one at ``path``."""
    if path is None:
        text = resources.files("goodwill.serve").joinpath("policy.yaml").read_text("utf-8")
        where = "the shipped policy"
    else:
        p = Path(path)
        try:
            text = p.read_text("utf-8")
        except FileNotFoundError as exc:
            raise ConfigError(
                f"There is no policy file at {p}.", hint="Copy goodwill/serve/policy.yaml and edit it."
            ) from exc
        where = str(p)
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{where} is not valid YAML: {exc}", hint="Check the indentation.") from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("roles"), dict):
        raise ConfigError(f"{where} has no 'roles' mapping.", hint="See goodwill/serve/policy.yaml.")
    fields = {
        str(k): frozenset(_strings(v, f"{where}: fields.{k}"))
        for k, v in (raw.get("fields") or {}).items()
    }
    known = frozenset(SCOPES)
    roles: dict[str, RoleSpec] = {}
    for name, spec in raw["roles"].items():
        if name not in ROLES:
            raise ConfigError(
                f"{where}: {name!r} is not a role goodwill knows.", hint=f"Roles: {', '.join(ROLES)}."
            )
        spec = spec or {}
        scopes = _strings(spec.get("scopes"), f"{where}: roles.{name}.scopes")
        unknown = sorted(set(scopes) - known)
        if unknown:
            raise ConfigError(
                f"{where}: role {name} has unknown scope(s) {', '.join(unknown)}.",
                hint=f"Scopes: {', '.join(sorted(known))}.",
            )
        hide = _strings(spec.get("hide"), f"{where}: roles.{name}.hide")
        missing = sorted(set(hide) - set(fields))
        if missing:
            raise ConfigError(
                f"{where}: role {name} hides unknown field class(es) {', '.join(missing)}.",
                hint=f"Field classes: {', '.join(fields)}.",
            )
        roles[name] = RoleSpec(name, str(spec.get("label") or name), frozenset(scopes), frozenset(hide))
    return Policy(str(raw.get("version") or "unversioned"), roles, fields)
