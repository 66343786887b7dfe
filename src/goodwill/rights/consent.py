"""Consent per purpose and channel, with its full history and source.

Each grant, withdrawal, objection or restriction is one row of ``consents``; nothing is
overwritten, so the history is the table. What stands now is the latest event that
applies: one for the same purpose (or ``all``) and the same channel (or ``any``).
Withdrawing is one call, exactly as giving is, and takes effect at once.

The guard asks :func:`current_consent` (one person) or :func:`consent_states` (many
at once); :func:`may_contact` is the yes/no form.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from goodwill.errors import ConfigError
from goodwill.rights import audit
from goodwill.rights._tables import ensure_rights_tables
from goodwill.rights.person import resolve_person
from goodwill.store import Store

__all__ = [
    "STATES",
    "ConsentState",
    "consent_history",
    "consent_states",
    "current_consent",
    "current_consents",
    "give_consent",
    "may_contact",
    "object_to",
    "record_consent",
    "restrict_processing",
    "withdraw_consent",
]

STATES = ("granted", "withdrawn", "objected", "restricted", "not_provided")


@dataclass(frozen=True)
class ConsentState:
    purpose: str
    channel: str
    state: str  # one of STATES; "not_provided" when nothing is recorded
    recorded_at: dt.datetime | None
    source: str | None
    consent_id: str | None
    customer_id: str | None

    @property
    def granted(self) -> bool:
        return self.state == "granted"

    def to_dict(self) -> dict[str, Any]:
        return {
            "purpose": self.purpose,
            "channel": self.channel,
            "state": self.state,
            "recorded_at": self.recorded_at,
            "source": self.source,
            "consent_id": self.consent_id,
            "customer_id": self.customer_id,
        }


def record_consent(
    store: Store,
    customer_id: str,
    purpose: str,
    state: str,
    *,
    channel: str = "any",
    source: str,
    evidence: str | None = None,
    at: dt.datetime | None = None,
    request_id: str | None = None,
    actor: str = "goodwill",
) -> ConsentState:
    """Record one consent event for the person ``customer_id`` belongs to."""
    if state not in STATES:
        raise ConfigError(f"{state!r} is not a consent state.", hint=f"Use one of: {', '.join(STATES)}.")
    if not purpose or not channel:
        raise ConfigError("A consent needs a purpose and a channel.", hint="e.g. purpose 'marketing', channel 'email' (or 'any').")
    if not source:
        raise ConfigError("Say where this consent came from.", hint="e.g. --source 'preference centre' or 'phone call, agent 42'.")
    ensure_rights_tables(store)
    now = at or dt.datetime.now(dt.UTC)
    cid = "cs_" + uuid.uuid4().hex[:16]
    row = {
        "consent_id": cid,
        "customer_id": customer_id,
        "purpose": purpose,
        "channel": channel,
        "state": state,
        "recorded_at": now,
        "source": source,
        "evidence": evidence,
    }
    with store.transaction():
        store.append("consents", pa.Table.from_pylist([row]))
        audit.record(store, audit.ConsentRecorded(request_id=request_id, actor=actor, purpose=purpose, channel=channel, state=state))
    return ConsentState(purpose, channel, state, now, source, cid, customer_id)


def give_consent(store: Store, customer_id: str, purpose: str, *, channel: str = "any", source: str, **kw: Any) -> ConsentState:
    return record_consent(store, customer_id, purpose, "granted", channel=channel, source=source, **kw)


def withdraw_consent(store: Store, customer_id: str, purpose: str, *, channel: str = "any", source: str, **kw: Any) -> ConsentState:
    return record_consent(store, customer_id, purpose, "withdrawn", channel=channel, source=source, **kw)


def object_to(store: Store, customer_id: str, purpose: str, *, channel: str = "any", source: str, **kw: Any) -> ConsentState:
    """Art. 21 objection (e.g. to direct marketing or profiling): stops that purpose at once."""
    return record_consent(store, customer_id, purpose, "objected", channel=channel, source=source, **kw)


def restrict_processing(store: Store, customer_id: str, *, source: str, **kw: Any) -> ConsentState:
    """Art. 18 restriction: every purpose and channel stops until it is lifted."""
    return record_consent(store, customer_id, "all", "restricted", channel="any", source=source, **kw)


def _person_rows(store: Store, customer_ids: list[str], purpose: str | None) -> pa.Table:
    marks = ", ".join("?" for _ in customer_ids)
    sql = f"SELECT * FROM consents WHERE customer_id IN ({marks})"
    params: list[Any] = list(customer_ids)
    if purpose is not None:
        sql += " AND purpose IN (?, 'all')"
        params.append(purpose)
    return store.query(sql + " ORDER BY recorded_at, consent_id", params)


def _applies(row: dict[str, Any], purpose: str, channel: str) -> bool:
    return row["purpose"] in (purpose, "all") and (row["channel"] in (channel, "any", None) or channel == "any")


def _latest(rows: list[dict[str, Any]], purpose: str, channel: str) -> dict[str, Any] | None:
    best = None
    for r in rows:
        if _applies(r, purpose, channel) and (best is None or (r["recorded_at"], r["consent_id"]) >= (best["recorded_at"], best["consent_id"])):
            # Asking about "any" channel: a grant for one channel is not a grant for all.
            if channel == "any" and r["state"] == "granted" and r["channel"] not in ("any", None):
                continue
            best = r
    return best


def current_consent(store: Store, customer_id: str, purpose: str, channel: str = "any") -> ConsentState:
    """What the person has said, as it stands now, about ``purpose`` by ``channel``."""
    person = resolve_person(store, customer_id, must_exist=False)
    rows = _person_rows(store, list(person.customer_ids), purpose).to_pylist()
    r = _latest(rows, purpose, channel)
    if r is None:
        return ConsentState(purpose, channel, "not_provided", None, None, None, None)
    return ConsentState(purpose, channel, r["state"], r["recorded_at"], r["source"], r["consent_id"], r["customer_id"])


def may_contact(store: Store, customer_id: str, purpose: str, channel: str = "any") -> bool:
    """True only where the person has granted this purpose on this channel and not since withdrawn,
    objected or restricted."""
    return current_consent(store, customer_id, purpose, channel).granted


def consent_states(store: Store, customer_ids: list[str], purpose: str, channel: str = "any") -> dict[str, str]:
    """For many customers at once (a campaign), each one's state for ``purpose`` by ``channel``."""
    if not customer_ids:
        return {}
    person_of: dict[str, str] = {c: c for c in customer_ids}
    members: dict[str, set[str]] = {c: {c} for c in customer_ids}
    if store.table_exists("customer_links"):
        for i in range(0, len(customer_ids), 5_000):
            chunk = customer_ids[i : i + 5_000]
            marks = ", ".join("?" for _ in chunk)
            for r in store.rows(f"SELECT customer_id, person_id FROM customer_links WHERE customer_id IN ({marks})", chunk):
                person_of[r["customer_id"]] = r["person_id"]
        persons = sorted(set(person_of.values()))
        members = {p: {p} for p in persons}
        for i in range(0, len(persons), 5_000):
            chunk = persons[i : i + 5_000]
            marks = ", ".join("?" for _ in chunk)
            for r in store.rows(f"SELECT customer_id, person_id FROM customer_links WHERE person_id IN ({marks})", chunk):
                members[r["person_id"]].add(r["customer_id"])
    all_ids = sorted({m for ms in members.values() for m in ms})
    by_customer: dict[str, list[dict[str, Any]]] = {}
    for i in range(0, len(all_ids), 5_000):
        for r in _person_rows(store, all_ids[i : i + 5_000], purpose).to_pylist():
            by_customer.setdefault(r["customer_id"], []).append(r)
    out = {}
    for c in customer_ids:
        rows = [r for m in members[person_of[c]] for r in by_customer.get(m, [])]
        best = _latest(rows, purpose, channel)
        out[c] = best["state"] if best else "not_provided"
    return out


def consent_history(store: Store, customer_id: str, purpose: str | None = None) -> list[dict[str, Any]]:
    """Every consent event of the person, oldest first."""
    person = resolve_person(store, customer_id, must_exist=False)
    return _person_rows(store, list(person.customer_ids), purpose).to_pylist()


def current_consents(consents: pa.Table) -> dict[tuple[str, str], dict[str, Any]]:
    """From a person's consent rows: the latest event per (purpose, channel) as recorded."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for r in sorted(consents.to_pylist(), key=lambda r: (r["recorded_at"], r["consent_id"])):
        out[(r["purpose"], r["channel"] or "any")] = r
    return out
