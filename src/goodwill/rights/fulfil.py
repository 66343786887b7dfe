"""Doing what a request asks, by its kind, and closing it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from goodwill.errors import ConfigError
from goodwill.rights.access import export_person
from goodwill.rights.consent import object_to, restrict_processing
from goodwill.rights.erase import erase_person, resume_jobs
from goodwill.rights.rectify import rectify
from goodwill.rights.requests import (
    Request,
    complete_request,
    get_request,
    list_requests,
    start_request,
)
from goodwill.store import Store

__all__ = ["fulfil_request", "resume"]


def fulfil_request(store: Store, request_id: str, *, out: str | Path | None = None, actor: str = "goodwill") -> tuple[Request, dict[str, Any]]:
    """Carry out a verified request and complete it; returns the request and what was done.

    access/portability need ``out`` (a zip path or folder); rectification reads
    ``details = {table, key, column, value, reason}``; objection reads
    ``details = {purposes: [...], channel}`` (default: marketing and profiling on any channel).
    """
    req = get_request(store, request_id)
    if req.status not in ("in_progress", "extended"):
        req = start_request(store, request_id, actor=actor)
    cid = req.person_id
    d = req.details
    summary: dict[str, Any]
    if req.kind in ("access", "portability"):
        if out is None:
            raise ConfigError("An access request needs somewhere to write the package.", hint="Pass --out FOLDER.")
        summary = export_person(store, cid, out, request_id=request_id, actor=actor).to_dict()
    elif req.kind == "erasure":
        summary = erase_person(store, cid, request_id=request_id, keep_counts=bool(d.get("keep_counts")), actor=actor).to_dict()
    elif req.kind == "rectification":
        missing = [k for k in ("table", "key", "column", "value") if k not in d]
        if missing:
            raise ConfigError(f"This rectification request does not say its {', '.join(missing)}.", hint="Record it with --detail table=... --detail column=... etc.")
        summary = rectify(store, cid, d["table"], d["key"], d["column"], d["value"], reason=d.get("reason") or "customer's request", request_id=request_id, actor=actor)
    elif req.kind == "restriction":
        summary = restrict_processing(store, cid, source=f"rights request {request_id}", request_id=request_id, actor=actor).to_dict()
    else:  # objection
        purposes = d.get("purposes") or ["marketing", "profiling"]
        states = [object_to(store, cid, p, channel=d.get("channel") or "any", source=f"rights request {request_id}", request_id=request_id, actor=actor) for p in purposes]
        summary = {"objected": [s.purpose for s in states]}
    done = complete_request(store, request_id, summary={k: v for k, v in summary.items() if k in ("rows", "rows_total", "sha256", "objected", "state")}, actor=actor)
    return done, summary


def resume(store: Store, *, actor: str = "goodwill") -> list[str]:
    """Finish erasure jobs a crash interrupted, and erasure requests left in progress."""
    finished = [r.job_id for r in resume_jobs(store)]
    for req in list_requests(store, status="in_progress") + list_requests(store, status="extended"):
        if req.kind == "erasure" and req.verified_at is not None:
            if req.person_id.startswith("erased:"):
                complete_request(store, req.request_id, actor=actor)
            else:
                fulfil_request(store, req.request_id, actor=actor)
            finished.append(req.request_id)
    return finished
