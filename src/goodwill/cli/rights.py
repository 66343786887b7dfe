"""``goodwill rights``: data-subject requests, export, rectification, erasure, consent."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from goodwill.cli.common import JsonOption, StoreOption, default_store, open_cli_store
from goodwill.cli.output import console, emit_json

rights_app = typer.Typer(
    help="What customers own: requests on a clock, export, correction, erasure, consent.",
    no_args_is_help=True,
)

Actor = Annotated[str, typer.Option("--actor", help="Who is doing this (recorded in the audit trail).")]


def _req_out(req: Any, as_json: bool) -> None:
    d = req.to_dict()
    if as_json:
        emit_json(d)
        return
    left = "" if d["days_left"] is None else f", {d['days_left']} day(s) left"
    flag = " [bold red]OVERDUE[/]" if d["overdue"] else ""
    console.print(f"{d['request_id']} {d['kind']} for {d['person_id']}: {d['status']}, due {d['deadline']}{left}{flag}")


@rights_app.command("request")
def request_cmd(
    customer_id: Annotated[str, typer.Argument(help="Any customer id of the person.")],
    kind: Annotated[str, typer.Argument(help="access, portability, rectification, erasure, restriction, objection")],
    received: Annotated[str | None, typer.Option("--received", help="When it arrived (ISO date/time); default now.")] = None,
    channel: Annotated[str | None, typer.Option("--channel", help="How it arrived: email, phone, web, letter.")] = None,
    details: Annotated[str | None, typer.Option("--details", help="JSON with what was asked (rectification: table, key, column, value, reason).")] = None,
    store: StoreOption = default_store(),
    actor: Actor = "cli",
    as_json: JsonOption = False,
) -> None:
    """Record a request. Example: goodwill rights request C123 erasure --channel email"""
    from goodwill.rights import create_request

    at = dt.datetime.fromisoformat(received) if received else None
    with open_cli_store(store) as s:
        _req_out(create_request(s, customer_id, kind, received_at=at, channel=channel, details=json.loads(details) if details else None, actor=actor), as_json)


@rights_app.command("verify")
def verify_cmd(
    request_id: str,
    method: Annotated[str, typer.Option("--method", help="How identity was checked.")],
    store: StoreOption = default_store(),
    actor: Actor = "cli",
    as_json: JsonOption = False,
) -> None:
    """Record that the requester's identity was verified. Example: goodwill rights verify rq_1 --method 'account login'"""
    from goodwill.rights import verify_identity

    with open_cli_store(store) as s:
        _req_out(verify_identity(s, request_id, method, actor=actor), as_json)


@rights_app.command("extend")
def extend_cmd(
    request_id: str,
    months: Annotated[int, typer.Option("--months", help="1 or 2 further months.")],
    reason: Annotated[str, typer.Option("--reason", help="The reason the person is told.")],
    store: StoreOption = default_store(),
    actor: Actor = "cli",
    as_json: JsonOption = False,
) -> None:
    """Extend a request's deadline (only before its first deadline)."""
    from goodwill.rights import extend_request

    with open_cli_store(store) as s:
        _req_out(extend_request(s, request_id, months, reason, actor=actor), as_json)


@rights_app.command("complete")
def complete_cmd(
    request_id: str,
    out: Annotated[Path | None, typer.Option("--out", help="Folder for an access package.")] = None,
    store: StoreOption = default_store(),
    actor: Actor = "cli",
    as_json: JsonOption = False,
) -> None:
    """Carry out a verified request (export, erase, rectify, restrict, object) and complete it."""
    from goodwill.rights import fulfil_request

    with open_cli_store(store) as s:
        req, summary = fulfil_request(s, request_id, out=out, actor=actor)
        if as_json:
            emit_json({"request": req.to_dict(), "result": summary})
            return
        _req_out(req, False)
        console.print(json.dumps(summary, default=str), markup=False)


@rights_app.command("refuse")
def refuse_cmd(
    request_id: str,
    reason: Annotated[str, typer.Option("--reason", help="Why, as the person is told.")],
    store: StoreOption = default_store(),
    actor: Actor = "cli",
    as_json: JsonOption = False,
) -> None:
    """Refuse a request, with its reason."""
    from goodwill.rights import refuse_request

    with open_cli_store(store) as s:
        _req_out(refuse_request(s, request_id, reason, actor=actor), as_json)


@rights_app.command("list")
def list_cmd(
    status: Annotated[str | None, typer.Option("--status")] = None,
    overdue: Annotated[bool, typer.Option("--overdue", help="Only open requests past their deadline.")] = False,
    store: StoreOption = default_store(),
    as_json: JsonOption = False,
) -> None:
    """List requests, soonest deadline first, with days left and overdue flags."""
    from goodwill.rights import list_requests

    with open_cli_store(store) as s:
        reqs = list_requests(s, status=status, overdue_only=overdue)
    if as_json:
        emit_json([r.to_dict() for r in reqs])
        return
    if not reqs:
        console.print("No requests.")
    for r in reqs:
        _req_out(r, False)


@rights_app.command("export")
def export_cmd(
    customer_id: str,
    out: Annotated[Path, typer.Option("--out", help="A .zip path or a folder.")] = Path("."),
    store: StoreOption = default_store(),
    as_json: JsonOption = False,
) -> None:
    """Write everything held about a person as a zip (JSON, CSV and a readable summary)."""
    from goodwill.rights import export_person

    with open_cli_store(store) as s:
        pkg = export_person(s, customer_id, out)
    if as_json:
        emit_json(pkg.to_dict())
    else:
        console.print(f"Wrote {pkg.path} ({sum(pkg.rows.values())} rows from {len(pkg.rows)} tables).")


@rights_app.command("rectify")
def rectify_cmd(
    customer_id: str,
    table: Annotated[str, typer.Option("--table")],
    key: Annotated[list[str], typer.Option("--key", help="Primary key column=value (repeat for each).")],
    column: Annotated[str, typer.Option("--column")],
    value: Annotated[str, typer.Option("--value")],
    reason: Annotated[str, typer.Option("--reason")],
    store: StoreOption = default_store(),
    actor: Actor = "cli",
    as_json: JsonOption = False,
) -> None:
    """Correct one fact, keeping what it was. Example: goodwill rights rectify C1 --table customers --key customer_id=C1 --column display_name --value 'Ann Lee' --reason 'name change'"""
    from goodwill.errors import ConfigError
    from goodwill.rights import rectify

    row_key = {}
    for k in key:
        if "=" not in k:
            raise ConfigError(f"--key {k!r} is not column=value.", hint="e.g. --key customer_id=C1")
        name, _, v = k.partition("=")
        row_key[name] = v
    with open_cli_store(store) as s:
        rec = rectify(s, customer_id, table, row_key, column, value, reason=reason, actor=actor)
    if as_json:
        emit_json(rec)
    else:
        console.print(f"{table}.{column}: {rec['old_value']!r} → {rec['new_value']!r} ({rec['rectification_id']}).", markup=False)


@rights_app.command("erase")
def erase_cmd(
    customer_id: str,
    keep_counts: Annotated[bool, typer.Option("--keep-counts", help="Keep anonymous monthly row counts (explicit choice).")] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    store: StoreOption = default_store(),
    actor: Actor = "cli",
    as_json: JsonOption = False,
) -> None:
    """Erase a person everywhere (rows, identifiers, texts, derived rows, file bytes) and suppress re-ingest."""
    from goodwill.rights import erase_person

    if not yes and not typer.confirm(f"Erase every record of the person {customer_id} belongs to? This cannot be undone."):
        raise typer.Exit(1)
    with open_cli_store(store) as s:
        res = erase_person(s, customer_id, keep_counts=keep_counts, actor=actor)
    if as_json:
        emit_json(res.to_dict())
    else:
        console.print(f"Erased {sum(res.rows.values())} rows ({res.person_ref}); aggregates: {res.aggregates}.", markup=False)


@rights_app.command("resume")
def resume_cmd(store: StoreOption = default_store(), as_json: JsonOption = False) -> None:
    """Finish erasures a crash interrupted."""
    from goodwill.rights import resume

    with open_cli_store(store) as s:
        done = resume(s)
    if as_json:
        emit_json({"resumed": done})
    else:
        console.print(f"Resumed {len(done)} job(s)." if done else "Nothing to resume.")


@rights_app.command("consent")
def consent_cmd(
    customer_id: str,
    action: Annotated[str, typer.Argument(help="give, withdraw, object, show or history")],
    purpose: Annotated[str, typer.Option("--purpose")] = "marketing",
    channel: Annotated[str, typer.Option("--channel")] = "any",
    source: Annotated[str | None, typer.Option("--source", help="Where it came from (required to record).")] = None,
    store: StoreOption = default_store(),
    actor: Actor = "cli",
    as_json: JsonOption = False,
) -> None:
    """Record or show consent. Example: goodwill rights consent C1 withdraw --purpose marketing --channel email --source 'phone call'"""
    from goodwill.errors import ConfigError
    from goodwill.rights import consent_history, current_consent, record_consent

    states = {"give": "granted", "withdraw": "withdrawn", "object": "objected"}
    with open_cli_store(store) as s:
        if action in states:
            if not source:
                raise ConfigError("Say where this consent came from.", hint="Add --source 'preference centre' (or similar).")
            out: Any = record_consent(s, customer_id, purpose, states[action], channel=channel, source=source, actor=actor).to_dict()
        elif action == "show":
            out = current_consent(s, customer_id, purpose, channel).to_dict()
        elif action == "history":
            out = consent_history(s, customer_id)
        else:
            raise ConfigError(f"{action!r} is not a consent action.", hint="Use give, withdraw, object, show or history.")
    if as_json:
        emit_json(out)
    elif isinstance(out, list):
        for r in out:
            console.print(f"{r['recorded_at']:%Y-%m-%d %H:%M} {r['purpose']}/{r['channel']}: {r['state']} ({r['source']})", markup=False)
    else:
        console.print(f"{out['purpose']}/{out['channel']}: {out['state']}", markup=False)


def register(app: typer.Typer) -> None:
    app.add_typer(rights_app, name="rights")
