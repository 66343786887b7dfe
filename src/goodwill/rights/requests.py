"""Data-subject requests and their lifecycle, on a clock.

``received → verified → in_progress → completed`` (or ``refused`` with its reason, from
any open state); ``extended`` may be entered from any open state before the first
deadline passes. Every step is an audit event.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Collection
from dataclasses import asdict, dataclass
from typing import Any

import pyarrow as pa

from goodwill.errors import ConfigError, GoodwillError, NotFoundError
from goodwill.rights import audit
from goodwill.rights._tables import RIGHTS_REQUESTS, ensure_rights_tables
from goodwill.rights.deadlines import (
    days_left,
    due_date,
    extended_due_date,
    may_extend,
    receipt_day,
)
from goodwill.rights.person import resolve_person
from goodwill.store import Store

__all__ = [
    "KINDS",
    "OPEN_STATUSES",
    "STATUSES",
    "Request",
    "RequestStateError",
    "complete_request",
    "create_request",
    "extend_request",
    "get_request",
    "list_requests",
    "refuse_request",
    "start_request",
    "verify_identity",
]

KINDS = ("access", "portability", "rectification", "erasure", "restriction", "objection")
STATUSES = ("received", "verified", "in_progress", "extended", "completed", "refused")
OPEN_STATUSES = ("received", "verified", "in_progress", "extended")


class RequestStateError(GoodwillError):
    code = "request_state"
    http_status = 409


@dataclass(frozen=True)
class Request:
    request_id: str
    person_id: str
    kind: str
    status: str
    received_at: dt.datetime
    due_on: dt.date
    extended_due_on: dt.date | None
    extension_reason: str | None
    verified_at: dt.datetime | None
    verification: str | None
    completed_at: dt.datetime | None
    refusal_reason: str | None
    channel: str | None
    details: dict[str, Any]
    updated_at: dt.datetime
    received_on: dt.date | None = None  # None in rows stored before the day was kept

    @property
    def deadline(self) -> dt.date:
        return self.extended_due_on or self.due_on

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def days_left(self, today: dt.date | None = None) -> int:
        return days_left(self.deadline, today or dt.date.today())

    def overdue(self, today: dt.date | None = None) -> bool:
        return self.is_open and self.days_left(today) < 0

    def to_dict(self, today: dt.date | None = None) -> dict[str, Any]:
        d = asdict(self)
        d["deadline"] = self.deadline
        d["days_left"] = self.days_left(today) if self.is_open else None
        d["overdue"] = self.overdue(today)
        return d


def _from_row(r: dict[str, Any]) -> Request:
    r = dict(r)
    r["details"] = json.loads(r["details"]) if r.get("details") else {}
    return Request(**r)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def get_request(store: Store, request_id: str) -> Request:
    ensure_rights_tables(store)
    rows = store.rows(f"SELECT * FROM {RIGHTS_REQUESTS.name} WHERE request_id = ?", [request_id])
    if not rows:
        raise NotFoundError(
            f"There is no rights request {request_id!r}.",
            hint="List requests with `goodwill rights list`.",
        )
    return _from_row(rows[0])


def create_request(
    store: Store,
    customer_id: str,
    kind: str,
    *,
    received_at: dt.datetime | None = None,
    channel: str | None = None,
    details: dict[str, Any] | None = None,
    actor: str = "goodwill",
    holidays: Collection[dt.date] = (),
) -> Request:
    """Record a request from (or for) the person ``customer_id`` belongs to."""
    if kind not in KINDS:
        raise ConfigError(f"{kind!r} is not a kind of rights request.", hint=f"Use one of: {', '.join(KINDS)}.")
    ensure_rights_tables(store)
    person = resolve_person(store, customer_id)
    at = received_at or _now()
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.UTC)
    # The day where it arrived: the deadlines count from it (see goodwill.rights.deadlines).
    day = at.date()
    due = due_date(day, holidays=holidays)
    rid = "rq_" + uuid.uuid4().hex[:12]
    row = {
        "request_id": rid,
        "person_id": person.person_id,
        "kind": kind,
        "status": "received",
        "received_at": at,
        "due_on": due,
        "channel": channel,
        "details": json.dumps(details or {}, default=str),
        "updated_at": _now(),
        "received_on": day,
    }
    with store.transaction():
        store.append(RIGHTS_REQUESTS, pa.Table.from_pylist([row]))
        audit.record(store, audit.RequestReceived(request_id=rid, actor=actor, request_kind=kind, due_on=due, channel=channel))
    return get_request(store, rid)


def _update(store: Store, request_id: str, **values: Any) -> None:
    values["updated_at"] = _now()
    sets = ", ".join(f"{k} = ?" for k in values)
    store.execute(
        f"UPDATE {RIGHTS_REQUESTS.name} SET {sets} WHERE request_id = ?", [*values.values(), request_id]
    )


def _require_open(req: Request, action: str) -> None:
    if not req.is_open:
        raise RequestStateError(
            f"Request {req.request_id} is {req.status}; it cannot be {action}.",
            hint="Only open requests (received, verified, in progress, extended) change.",
        )


def verify_identity(store: Store, request_id: str, method: str, *, actor: str = "goodwill") -> Request:
    """Record that the requester's identity was checked, and how."""
    req = get_request(store, request_id)
    _require_open(req, "verified")
    if not method.strip():
        raise ConfigError("Say how identity was verified.", hint="e.g. --method 'account login' or 'photo ID checked'.")
    now = _now()
    status = req.status if req.status in ("in_progress", "extended") else "verified"
    with store.transaction():
        _update(store, request_id, status=status, verified_at=now, verification=method)
        audit.record(store, audit.IdentityVerified(request_id=request_id, actor=actor, method=method, at=now))
    return get_request(store, request_id)


def _require_verified(req: Request, action: str) -> None:
    if req.verified_at is None:
        raise RequestStateError(
            f"Request {req.request_id} cannot be {action} before the requester's identity is verified.",
            hint=f"Run `goodwill rights verify {req.request_id} --method ...` first, or refuse it with a reason.",
        )


def start_request(store: Store, request_id: str, *, actor: str = "goodwill") -> Request:
    req = get_request(store, request_id)
    _require_open(req, "started")
    _require_verified(req, "started")
    with store.transaction():
        if req.status != "extended":
            _update(store, request_id, status="in_progress")
        audit.record(store, audit.RequestStarted(request_id=request_id, actor=actor))
    return get_request(store, request_id)


def extend_request(
    store: Store,
    request_id: str,
    months: int,
    reason: str,
    *,
    today: dt.date | None = None,
    actor: str = "goodwill",
    holidays: Collection[dt.date] = (),
) -> Request:
    """Extend by one or two further months; allowed only before the first deadline passes."""
    req = get_request(store, request_id)
    _require_open(req, "extended")
    today = today or dt.date.today()
    if not may_extend(req.due_on, today):
        raise RequestStateError(
            f"Request {request_id} was due on {req.due_on}; an extension must be recorded before then.",
            hint="Complete or refuse it now, and tell the person why it is late.",
        )
    if months not in (1, 2):
        raise ConfigError("An extension is by one or two further months.", hint="Use --months 1 or --months 2.")
    if not reason.strip():
        raise ConfigError("An extension needs a reason the person is told.", hint="e.g. --reason 'complex request'.")
    received = req.received_on or receipt_day(req.received_at, req.due_on, holidays=holidays)
    new_due = extended_due_date(received, months, holidays=holidays)
    if req.extended_due_on is not None and new_due <= req.extended_due_on:
        raise RequestStateError(
            f"Request {request_id} is already extended to {req.extended_due_on}.",
            hint="An extension can only move the deadline later, to at most three months from receipt.",
        )
    with store.transaction():
        _update(store, request_id, status="extended", extended_due_on=new_due, extension_reason=reason)
        audit.record(store, audit.RequestExtended(request_id=request_id, actor=actor, months=months, reason=reason, due_on=new_due))
    return get_request(store, request_id)


def complete_request(
    store: Store, request_id: str, *, summary: dict[str, Any] | None = None, actor: str = "goodwill"
) -> Request:
    req = get_request(store, request_id)
    _require_open(req, "completed")
    _require_verified(req, "completed")
    now = _now()
    with store.transaction():
        _update(store, request_id, status="completed", completed_at=now)
        audit.record(store, audit.RequestCompleted(request_id=request_id, actor=actor, summary=summary or {}, at=now))
    return get_request(store, request_id)


def refuse_request(store: Store, request_id: str, reason: str, *, actor: str = "goodwill") -> Request:
    """Refuse, with the reason the person is told (e.g. manifestly unfounded, identity not proven)."""
    req = get_request(store, request_id)
    _require_open(req, "refused")
    if not reason.strip():
        raise ConfigError("A refusal needs its reason.", hint="e.g. --reason 'identity could not be verified'.")
    now = _now()
    with store.transaction():
        _update(store, request_id, status="refused", refusal_reason=reason, completed_at=now)
        audit.record(store, audit.RequestRefused(request_id=request_id, actor=actor, reason=reason, at=now))
    return get_request(store, request_id)


def list_requests(
    store: Store,
    *,
    status: str | None = None,
    person_id: str | None = None,
    overdue_only: bool = False,
    today: dt.date | None = None,
) -> list[Request]:
    """Requests, soonest deadline first; ``overdue_only`` keeps open ones past their deadline."""
    ensure_rights_tables(store)
    where, params = [], []
    if status:
        where.append("status = ?")
        params.append(status)
    if person_id:
        where.append("person_id = ?")
        params.append(person_id)
    sql = f"SELECT * FROM {RIGHTS_REQUESTS.name}"
    if where:
        sql += " WHERE " + " AND ".join(where)
    reqs = [_from_row(r) for r in store.rows(sql, params)]
    if overdue_only:
        reqs = [r for r in reqs if r.overdue(today)]
    return sorted(reqs, key=lambda r: (not r.is_open, r.deadline, r.request_id))
