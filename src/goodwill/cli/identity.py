"""`goodwill identity`: resolve, review candidate merges, merge and unmerge by hand, explain a person."""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from goodwill.cli.common import JsonOption, StoreOption, default_store, open_cli_store
from goodwill.cli.output import console, emit_json
from goodwill.ingest import identity

identity_app = typer.Typer(
    name="identity",
    help="One customer across every system: resolution, review, merge and unmerge, each explained.",
    no_args_is_help=True,
)

ByOption = Annotated[str, typer.Option("--by", help="Who decides (recorded in the merge log); default: your login.")]
RulesOption = Annotated[Path | None, typer.Option("--rules", help="Identity rules YAML (default: .goodwill/identity.yaml, else goodwill's).")]


def register(app: typer.Typer) -> None:
    app.add_typer(identity_app, name="identity")


def _who(by: str) -> str:
    return by or getpass.getuser()


def _ids(values: list[dict[str, Any]]) -> str:
    return "\n".join(
        f"{escape(i['kind'])}: {escape(str(i['value']))}" + (" ✓" if i.get("verified") else "") for i in values
    )


@identity_app.command("resolve")
def resolve_cmd(
    customers: Annotated[list[str] | None, typer.Argument(help="Customer ids to resolve; none = every stored record.")] = None,
    store: StoreOption = default_store(),
    rules: RulesOption = None,
    as_json: JsonOption = False,
) -> None:
    """Link records that are one person, by the identity rules.

    Example: goodwill identity resolve --json
    """
    with open_cli_store(store) as s:
        report = identity.resolve(s, customers or None, rules=identity.load_rules(rules))
    if as_json:
        emit_json(report.to_dict())
        return
    console.print(
        f"{report.records:,} records: {report.merges:,} merges ({', '.join(f'{k} {v}' for k, v in report.by_rule.items()) or 'none'}), "
        f"{report.candidates:,} new candidates to review, {report.conflicts_refused:,} matches refused "
        f"(different account numbers), {report.ambiguous:,} ambiguous, {report.seconds:.2f} s."
    )


@identity_app.command("review")
def review_cmd(
    limit: Annotated[int, typer.Option("--limit", help="Show this many candidates.")] = 10,
    store: StoreOption = default_store(),
    as_json: JsonOption = False,
) -> None:
    """List candidate merges below the automatic threshold, with both records side by side.

    Example: goodwill identity review; then goodwill identity accept ID or reject ID
    """
    with open_cli_store(store) as s:
        cands = identity.list_candidates(s, limit=limit)
    if as_json:
        emit_json(cands)
        return
    if not cands:
        console.print("No candidate merges to review.")
        return
    for c in cands:
        t = Table(title=f"{c['candidate_id']}  rule {c['rule']} (score {c['score']:g})", title_justify="left")
        t.add_column("")
        t.add_column(escape(c["customer_a"]))
        t.add_column(escape(c["customer_b"]))
        a, b = c["a"], c["b"]
        t.add_row("name", escape(str(a.get("display_name") or "")), escape(str(b.get("display_name") or "")))
        t.add_row("source", escape(str(a.get("source") or "")), escape(str(b.get("source") or "")))
        t.add_row("person", escape(a["person_id"]), escape(b["person_id"]))
        t.add_row("identifiers", _ids(a["identifiers"]), _ids(b["identifiers"]))
        console.print(t)
        matched = ", ".join(f"{m['kind']} {m['value']}" for m in (c["evidence"] or {}).get("matched", []))
        console.print(f"  shared: {escape(matched)}\n  why not automatic: {escape(c['reason'] or '')}\n")


@identity_app.command("accept")
def accept_cmd(
    candidate: Annotated[str, typer.Argument(help="Candidate id from `goodwill identity review`.")],
    by: ByOption = "",
    store: StoreOption = default_store(),
    as_json: JsonOption = False,
) -> None:
    """Accept a candidate: merge its two records."""
    with open_cli_store(store) as s:
        merge_id = identity.accept(s, candidate, by=_who(by))
    emit_json({"candidate_id": candidate, "merge_id": merge_id}) if as_json else console.print(f"Merged ({merge_id}).")


@identity_app.command("reject")
def reject_cmd(
    candidate: Annotated[str, typer.Argument(help="Candidate id from `goodwill identity review`.")],
    note: Annotated[str, typer.Option("--note", help="Why they are two people.")] = "",
    by: ByOption = "",
    store: StoreOption = default_store(),
    as_json: JsonOption = False,
) -> None:
    """Reject a candidate: the two records are two people, now and in later runs."""
    with open_cli_store(store) as s:
        identity.reject(s, candidate, by=_who(by), note=note)
    emit_json({"candidate_id": candidate, "status": "rejected"}) if as_json else console.print("Rejected; they stay apart.")


@identity_app.command("merge")
def merge_cmd(
    customer_a: Annotated[str, typer.Argument(help="A customer id.")],
    customer_b: Annotated[str, typer.Argument(help="Another customer id, the same person.")],
    note: Annotated[str, typer.Option("--note", help="Why (kept in the merge log).")] = "",
    by: ByOption = "",
    store: StoreOption = default_store(),
    rules: RulesOption = None,
    as_json: JsonOption = False,
) -> None:
    """Merge two records by hand (refused when they hold different account numbers).

    Example: goodwill identity merge 7590-VHVEG cfpb-3241 --note "same caller, confirmed DOB"
    """
    with open_cli_store(store) as s:
        merge_id = identity.merge(s, customer_a, customer_b, by=_who(by), note=note, rules=identity.load_rules(rules))
        person = identity.person_of(s, customer_a)
    if as_json:
        emit_json({"merge_id": merge_id, "person_id": person})
    else:
        console.print(f"Merged ({merge_id}); person {escape(person)}.")


@identity_app.command("unmerge")
def unmerge_cmd(
    customer: Annotated[str | None, typer.Argument(help="Take this record out of its person.")] = None,
    merge_id: Annotated[str | None, typer.Option("--merge", help="Undo this one merge instead.")] = None,
    reason: Annotated[str, typer.Option("--reason", help="Why (kept in the merge log).")] = "",
    by: ByOption = "",
    store: StoreOption = default_store(),
    as_json: JsonOption = False,
) -> None:
    """Undo merges: both sides get back exactly what they had, and stay apart in later runs."""
    if (customer is None) == (merge_id is None):
        raise typer.BadParameter("give a customer id or --merge MERGE_ID (one of them)")
    with open_cli_store(store) as s:
        if merge_id is not None:
            out = identity.unmerge_merge(s, merge_id, by=_who(by), reason=reason)
        else:
            assert customer is not None
            out = identity.unmerge(s, customer, by=_who(by), reason=reason)
    if as_json:
        emit_json(out)
    else:
        console.print(f"Unmerged: {escape(json.dumps(out))}")


@identity_app.command("show")
def show_cmd(
    customer: Annotated[str, typer.Argument(help="Any customer id of the person.")],
    store: StoreOption = default_store(),
    as_json: JsonOption = False,
) -> None:
    """Show the person a record belongs to: every record, why it is there, and the merge history."""
    with open_cli_store(store) as s:
        story = identity.explain(s, customer)
    if as_json:
        emit_json(story)
        return
    console.print(f"[bold]person {escape(story['person_id'])}[/bold]: {len(story['records'])} record(s)")
    t = Table()
    for col in ("record", "source", "identifiers", "why"):
        t.add_column(col)
    for r in story["records"]:
        ev = r["link_evidence"] or {}
        matched = ", ".join(f"{m['kind']} {m['value']}" for m in (ev.get("evidence") or {}).get("matched", []))
        why = f"{r['rule']} with {ev.get('with')}" + (f" ({matched})" if matched else "") if r["rule"] else "itself"
        t.add_row(escape(r["customer_id"]), escape(str(r.get("source") or "")), _ids(r["identifiers"]), escape(why))
    console.print(t)
    for m in story["merges"]:
        state = f"undone {m['undone_at']:%Y-%m-%d %H:%M} by {m['undone_by']}" if m["undone_at"] else "active"
        console.print(
            f"  {escape(m['merge_id'])}: {escape(m['customer_a'])} + {escape(m['customer_b'])} by {escape(m['rule'])}, "
            f"{m['decided_at']:%Y-%m-%d %H:%M} by {escape(str(m['decided_by']))} [{state}]"
        )
