"""``goodwill vet``, ``vet-campaign``, ``audit``, ``notices``, ``fairness``: the guard from the shell.

Exit codes a pipeline can use: 0 every action allowed (or, for ``audit verify``, the chain
is intact); 1 some action denied or changed (the chain is broken); 2 an error.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from goodwill.cli.common import JsonOption, StoreOption, default_store, open_cli_store
from goodwill.cli.output import console, emit_json

RulesOption = Annotated[
    Path | None, typer.Option("--rules", help="A workspace rule pack (YAML) merged over the defaults.")
]
AsOfOption = Annotated[
    str | None, typer.Option("--as-of", help="Vet as of this time (ISO 8601); default now.")
]


def register(app: typer.Typer) -> None:
    app.command("vet")(vet)
    app.command("vet-campaign")(vet_campaign)
    app.command("audit")(audit_cmd)
    app.command("notices")(notices)
    app.command("fairness")(fairness_cmd)


def _as_of(v: str | None) -> dt.datetime | None:
    if v is None:
        return None
    from goodwill.errors import ConfigError

    try:
        t = dt.datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ConfigError(f"--as-of {v!r} is not a date and time.", hint="e.g. --as-of 2026-11-24T09:00:00Z") from exc
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


def _exit_for(verdicts: list[str]) -> None:
    if any(v != "allow" for v in verdicts):
        raise typer.Exit(1)


def vet(
    action_file: Annotated[Path, typer.Argument(help="A JSON file with one action.")],
    store: StoreOption = default_store(),
    rules: RulesOption = None,
    what_if: Annotated[bool, typer.Option("--what-if", help="Decide but record nothing.")] = False,
    as_of: AsOfOption = None,
    as_json: JsonOption = False,
) -> None:
    """Vet one outbound action: allow, deny or change, with every reason and the facts behind it.

    Exit code 0: allowed; 1: denied or changed; 2: an error.

    Example: goodwill vet upsell.json --json
    """
    from goodwill.guard import Guard, read_action

    action = read_action(action_file)
    with open_cli_store(store) as s:
        d = Guard(s, rules).vet(action, record=not what_if, as_of=_as_of(as_of))
    if as_json:
        emit_json(d.to_dict())
    else:
        _print_decision(d.to_dict())
    _exit_for([d.verdict])


def _print_decision(d: dict[str, Any]) -> None:
    colour = {"allow": "green", "deny": "red", "change": "yellow"}[d["verdict"]]
    console.print(
        f"[bold {colour}]{d['verdict'].upper()}[/] {escape(d['kind'])} to {escape(d['customer_id'])} "
        f"(action {escape(d['action_id'])}{', decision ' + d['decision_id'] if d['decision_id'] else ', not recorded'})"
    )
    for r in d["reasons"]:
        console.print(f"  - [bold]{r['rule']}[/] {r['version']} ({r['effect']}): {escape(r['reason'])}")
        console.print(f"    [dim]basis: {escape(r['basis'])}[/]")
    if d["changes"]:
        console.print(f"  changes: {escape(str(d['changes']))}")
    if d["route"]:
        console.print(f"  routed to: {escape(d['route'])}")


def vet_campaign(
    campaign_file: Annotated[Path, typer.Argument(help="JSON Lines, one action a line.")],
    store: StoreOption = default_store(),
    rules: RulesOption = None,
    what_if: Annotated[bool, typer.Option("--what-if", help="Run the campaign against the rules; record nothing.")] = False,
    as_of: AsOfOption = None,
    show: Annotated[int, typer.Option("--show", help="How many decisions to list (all with --json).")] = 20,
    as_json: JsonOption = False,
) -> None:
    """Vet a whole campaign: how many allowed, denied, changed, by which rules, and the list.

    Exit code 0: all allowed; 1: some denied or changed; 2: an error.

    Example: goodwill vet-campaign campaign.jsonl --what-if --rules workspace-rules.yaml
    """
    from goodwill.guard import Guard, read_campaign

    actions = read_campaign(campaign_file)
    with open_cli_store(store) as s:
        report = Guard(s, rules).vet_campaign(actions, record=not what_if, as_of=_as_of(as_of))
    if as_json:
        emit_json(report.to_dict())
    else:
        c = report.counts
        mode = "what-if, nothing recorded" if report.what_if else "recorded in the audit log"
        console.print(
            f"{len(report.decisions):,} actions ({mode}, {report.seconds:.2f}s): "
            f"[green]{c['allow']:,} allowed[/], [red]{c['deny']:,} denied[/], [yellow]{c['change']:,} changed[/]."
        )
        t = Table("rule", "denied", "changed")
        for rule, n in report.by_rule.items():
            t.add_row(rule, f"{n.get('deny', 0):,}", f"{n.get('change', 0):,}")
        console.print(t)
        for route, k in report.routed.items():
            console.print(f"Routed to {escape(route)}: {k:,}")
        for d in report.decisions[:show]:
            _print_decision(d.to_dict())
    _exit_for([d.verdict for d in report.decisions])


def audit_cmd(
    what: Annotated[str, typer.Argument(help="'list' (the default) or 'verify' (recompute the hash chain).")] = "list",
    store: StoreOption = default_store(),
    customer: Annotated[str | None, typer.Option("--customer", help="Only decisions about this customer_id.")] = None,
    action: Annotated[str | None, typer.Option("--action", help="Only decisions about this action_id.")] = None,
    verdict: Annotated[str | None, typer.Option("--verdict", help="allow, deny or change.")] = None,
    rule: Annotated[str | None, typer.Option("--rule", help="Only decisions where this rule fired.")] = None,
    campaign: Annotated[str | None, typer.Option("--campaign", help="Only this campaign_id.")] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many, newest first.")] = 50,
    as_json: JsonOption = False,
) -> None:
    """Query the guard's audit log, or prove it has not been tampered with.

    `goodwill audit verify` exits 0 when the chain is intact and 1 when it is not, and prints the
    head hash: keep it somewhere else to prove later that nothing was rewritten.

    Examples: goodwill audit --customer cfpb:19838019 --json;  goodwill audit verify
    """
    from goodwill.errors import ConfigError
    from goodwill.guard import audit

    with open_cli_store(store) as s:
        if what == "verify":
            v = audit.verify(s)
            if as_json:
                emit_json(v.to_dict())
            elif v.ok:
                console.print(f"[green]Audit log intact[/]: {v.checked:,} decisions, head {v.head}.")
            else:
                console.print(f"[red]Audit log broken[/] at {v.first_bad}: {v.problem} ({v.checked:,} checked).")
            if not v.ok:
                raise typer.Exit(1)
            return
        if what != "list":
            raise ConfigError(f"goodwill audit has no {what!r}.", hint="Use `goodwill audit list` or `goodwill audit verify`.")
        rows = audit.query(s, customer_id=customer, action_id=action, verdict=verdict, rule=rule, campaign_id=campaign, limit=limit)
    if as_json:
        emit_json(rows)
        return
    t = Table("decision", "decided", "customer", "kind", "verdict", "rules fired")
    for r in rows:
        t.add_row(r["decision_id"], str(r["decided_at"])[:19], r["customer_id"], r["kind"] or "", r["verdict"],
                  ", ".join(x["rule"] for x in r["reasons"] or []))
    console.print(t)


def notices(
    store: StoreOption = default_store(),
    rules: RulesOption = None,
    as_of: AsOfOption = None,
    status: Annotated[str | None, typer.Option("--status", help="Only due, sent or missed.")] = None,
    as_json: JsonOption = False,
) -> None:
    """End-of-contract (Ofcom GC C1: 10-40 days before the term ends) and annual best-deal notices: due, sent, missed.

    Exit code 0: none missed; 1: some missed; 2: an error.

    Example: goodwill notices --status missed --json
    """
    from goodwill.guard import load_pack
    from goodwill.guard.notices import notice_status

    with open_cli_store(store) as s:
        report = notice_status(s, as_of=_as_of(as_of), pack=load_pack(rules))
    items = [i for i in report.items if status is None or i.status == status]
    if as_json:
        emit_json({**report.to_dict(), "items": [i.to_dict() for i in items]})
    else:
        for notice, c in report.counts.items():
            console.print(f"{notice}: {c['due']:,} due, {c['sent']:,} sent, [red]{c['missed']:,} missed[/].")
        t = Table("customer", "subscription", "notice", "status", "term ends", "window")
        for i in items[:50]:
            t.add_row(i.customer_id, i.subscription_id, i.notice, i.status, str(i.ends_at.date()),
                      f"{i.window_opens.date()} to {i.window_closes.date()}")
        console.print(t)
    if any(i.status == "missed" for i in report.items):
        raise typer.Exit(1)


def fairness_cmd(
    store: StoreOption = default_store(),
    campaign: Annotated[str | None, typer.Option("--campaign", help="Only this campaign's decisions (recommended: campaigns differ in kind).")] = None,
    threshold: Annotated[float, typer.Option("--threshold", help="Flag an allow-rate ratio to the best group below this.")] = 0.8,
    alpha: Annotated[float, typer.Option("--alpha", help="Significance level of the test.")] = 0.05,
    min_group: Annotated[int, typer.Option("--min-group", help="Smallest group that can be flagged.")] = 5,
    as_json: JsonOption = False,
) -> None:
    """Decision rates by age band, vulnerability and region; flag groups that diverge.

    Exit code 0: nothing flagged; 1: some group flagged; 2: an error.

    Example: goodwill fairness --campaign demo-upsell-2026-12
    """
    from goodwill.guard import registered_rules
    from goodwill.guard.fairness import fairness

    with open_cli_store(store) as s:
        r = fairness(s, campaign_id=campaign, threshold=threshold, alpha=alpha, min_group=min_group,
                     rules=tuple(registered_rules()))
    if as_json:
        emit_json(r.to_dict())
    else:
        t = Table("attribute", "group", "n", "allow rate", "ratio", "p", "flag", "flag w/o intended", "denials by rule")
        for g in r.groups:
            d = g.to_dict()
            t.add_row(g.attribute, g.group, f"{g.n:,}", f"{d['allow_rate']:.3f}", "" if g.ratio is None else f"{g.ratio:.2f}",
                      f"{g.p_value:.3g} ({g.test})", "[red]FLAG[/]" if g.flagged else "",
                      "[red]FLAG[/]" if g.flagged_without_intended else "",
                      ", ".join(f"{k} {v}" for k, v in sorted(g.denials_by_rule.items())))
        console.print(t)
    if r.flagged:
        raise typer.Exit(1)
