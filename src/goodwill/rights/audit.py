"""The audit trail of rights work: one small, frozen event per step.

Events carry what happened, to which request, when and by whom, with counts and
reasons; never the person's data itself, so the trail survives an erasure intact.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

import pyarrow as pa

from goodwill.rights._tables import RIGHTS_EVENTS
from goodwill.store import Store

__all__ = [
    "ConsentRecorded",
    "DataExported",
    "ErasureFinished",
    "ErasureStep",
    "FactRectified",
    "IdentityVerified",
    "RequestCompleted",
    "RequestExtended",
    "RequestReceived",
    "RequestRefused",
    "RequestStarted",
    "RightsEvent",
    "events_for",
    "record",
]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True, kw_only=True)
class RightsEvent:
    kind: ClassVar[str] = "event"
    request_id: str | None
    actor: str = "goodwill"
    at: dt.datetime = field(default_factory=_now)

    def detail(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("request_id", "actor", "at"):
            d.pop(k)
        return d

    def to_row(self) -> dict[str, Any]:
        return {
            "event_id": uuid.uuid4().hex,
            "request_id": self.request_id,
            "kind": self.kind,
            "occurred_at": self.at,
            "actor": self.actor,
            "detail": json.dumps(self.detail(), default=str, sort_keys=True),
        }


@dataclass(frozen=True, kw_only=True)
class RequestReceived(RightsEvent):
    kind: ClassVar[str] = "received"
    request_kind: str
    due_on: dt.date
    channel: str | None = None


@dataclass(frozen=True, kw_only=True)
class IdentityVerified(RightsEvent):
    kind: ClassVar[str] = "verified"
    method: str


@dataclass(frozen=True, kw_only=True)
class RequestStarted(RightsEvent):
    kind: ClassVar[str] = "in_progress"


@dataclass(frozen=True, kw_only=True)
class RequestExtended(RightsEvent):
    kind: ClassVar[str] = "extended"
    months: int
    reason: str
    due_on: dt.date


@dataclass(frozen=True, kw_only=True)
class RequestCompleted(RightsEvent):
    kind: ClassVar[str] = "completed"
    summary: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class RequestRefused(RightsEvent):
    kind: ClassVar[str] = "refused"
    reason: str


@dataclass(frozen=True, kw_only=True)
class DataExported(RightsEvent):
    kind: ClassVar[str] = "exported"
    rows: dict[str, int]
    sha256: str


@dataclass(frozen=True, kw_only=True)
class FactRectified(RightsEvent):
    kind: ClassVar[str] = "rectified"
    table_name: str
    column_name: str
    rectification_id: str


@dataclass(frozen=True, kw_only=True)
class ConsentRecorded(RightsEvent):
    kind: ClassVar[str] = "consent"
    purpose: str
    channel: str
    state: str


@dataclass(frozen=True, kw_only=True)
class ErasureStep(RightsEvent):
    kind: ClassVar[str] = "erasure_step"
    job_id: str
    step: str
    rows: int = 0


@dataclass(frozen=True, kw_only=True)
class ErasureFinished(RightsEvent):
    kind: ClassVar[str] = "erased"
    job_id: str
    rows: dict[str, int]
    aggregates: str


def record(store: Store, *events: RightsEvent) -> None:
    """Append events to the audit trail (in the caller's transaction, if any)."""
    if events:
        store.ensure_table(RIGHTS_EVENTS)
        store.append(RIGHTS_EVENTS, pa.Table.from_pylist([e.to_row() for e in events]), dedupe=False)


def events_for(store: Store, request_id: str) -> list[dict[str, Any]]:
    rows = store.rows(
        f"SELECT event_id, request_id, kind, occurred_at, actor, detail FROM {RIGHTS_EVENTS.name} "
        "WHERE request_id = ? ORDER BY occurred_at, event_id",
        [request_id],
    )
    for r in rows:
        r["detail"] = json.loads(r["detail"]) if r["detail"] else {}
    return rows
