"""An outbound action: something the company wants to do to a customer."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from goodwill.errors import ConfigError

KINDS = ("offer", "upsell", "cross_sell", "message", "price_change", "renewal", "notice")
_FIELDS = (
    "action_id",
    "customer_id",
    "kind",
    "purpose",
    "channel",
    "product",
    "price",
    "text",
    "campaign_id",
    "planned_at",
    "attrs",
)


def _ts(v: Any, where: str) -> dt.datetime | None:
    if v is None or v == "":
        return None
    if isinstance(v, dt.datetime):
        return v if v.tzinfo else v.replace(tzinfo=dt.UTC)
    try:
        t = dt.datetime.fromisoformat(str(v).replace("Z", "+00:00"))
    except ValueError as exc:
        raise ConfigError(
            f"{where}: planned_at {v!r} is not a date and time.",
            hint="Use ISO 8601, e.g. 2026-12-01T09:00:00Z.",
        ) from exc
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


@dataclass(slots=True)
class Action:
    customer_id: str
    kind: str
    action_id: str = ""
    purpose: str | None = None
    channel: str | None = None
    product: str | None = None
    price: float | None = None
    text: str | None = None
    campaign_id: str | None = None
    planned_at: dt.datetime | None = None
    attrs: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = "action") -> Action:
        if not isinstance(d, dict):
            raise ConfigError(f"{where} is not a JSON object.", hint='e.g. {"customer_id": "telco:0019-EFAEP", "kind": "upsell"}')
        unknown = sorted(set(d) - set(_FIELDS))
        if unknown:
            raise ConfigError(
                f"{where} has unknown field(s): {', '.join(unknown)}.",
                hint=f"Known fields: {', '.join(_FIELDS)}; put anything else under attrs.",
            )
        cid, kind = d.get("customer_id"), d.get("kind")
        if not cid or not isinstance(cid, str):
            raise ConfigError(f"{where} has no customer_id.", hint="Every action is to one customer.")
        if kind not in KINDS:
            raise ConfigError(f"{where}: kind {kind!r} is not an action kind.", hint=f"Use one of: {', '.join(KINDS)}.")
        price = d.get("price")
        if price is not None:
            try:
                price = float(price)
            except (TypeError, ValueError) as exc:
                raise ConfigError(f"{where}: price {price!r} is not a number.", hint="e.g. 49.99") from exc
        attrs = d.get("attrs") or {}
        if isinstance(attrs, str):
            attrs = json.loads(attrs)
        if not isinstance(attrs, dict):
            raise ConfigError(f"{where}: attrs must be an object.", hint='e.g. {"subscription_id": "..."}')
        return cls(
            customer_id=cid,
            kind=kind,
            action_id=str(d.get("action_id") or "act-" + uuid.uuid4().hex[:16]),
            purpose=d.get("purpose") or None,
            channel=(d.get("channel") or None),
            product=d.get("product") or None,
            price=price,
            text=d.get("text") or None,
            campaign_id=d.get("campaign_id") or None,
            planned_at=_ts(d.get("planned_at"), where),
            attrs=attrs,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "action_id": self.action_id,
            "customer_id": self.customer_id,
            "kind": self.kind,
            "purpose": self.purpose,
            "channel": self.channel,
            "product": self.product,
            "price": self.price,
            "text": self.text,
            "campaign_id": self.campaign_id,
            "planned_at": self.planned_at.isoformat() if self.planned_at else None,
            "attrs": self.attrs,
        }

    def to_row(self) -> dict[str, Any]:
        row = self.to_dict()
        row["planned_at"] = self.planned_at
        row["attrs"] = json.dumps(self.attrs, sort_keys=True) if self.attrs else None
        row["source"] = "guard"
        return row


def read_action(path: str | Path) -> Action:
    p = Path(path)
    try:
        data = json.loads(p.read_text("utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"There is no action file at {p}.", hint="Pass a JSON file with one action.") from exc
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{p} is not valid JSON: {exc.msg} at line {exc.lineno}.", hint="Check the file.") from exc
    return Action.from_dict(data, str(p))


def read_campaign(path: str | Path) -> list[Action]:
    """A campaign file: JSON Lines, one action a line (a JSON array is accepted too)."""
    p = Path(path)
    try:
        text = p.read_text("utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"There is no campaign file at {p}.", hint="Pass a JSON Lines file, one action a line.") from exc
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{p} is not valid JSON: {exc.msg}.", hint="Check the file.") from exc
        return [Action.from_dict(d, f"{p} item {i + 1}") for i, d in enumerate(items)]
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{p} line {n} is not valid JSON: {exc.msg}.", hint="One JSON object a line.") from exc
        out.append(Action.from_dict(d, f"{p} line {n}"))
    return out
