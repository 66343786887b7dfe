"""`goodwill promises`: the promise gap and its trend, or what we owe one customer."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from goodwill.cli.common import JsonOption, StoreOption, default_store, open_cli_store
from goodwill.cli.output import console, emit_json
from goodwill.errors import ConfigError

_ARROW = {
    "narrowing": "↑ narrowing",
    "widening": "↓ widening",
    "no clear change": "→ no clear change",
    "too little data": "· too little data",
}
_STYLE = {
    "overdue": "bold red",
    "broken": "red",
    "open": "yellow",
    "kept_late": "dark_orange",
    "kept": "green",
    "repeat": "dim",
}


def register(app: typer.Typer) -> None:
    app.command("promises")(promises)


def promises(
    customer: Annotated[
        str | None, typer.Argument(help="A customer id: show what we owe them, overdue first.")
    ] = None,
    by: Annotated[
        str,
        typer.Option(
            "--by",
            help="Break the gap down by team, function, product, channel, source, action, kind, customer, week or rule.",
        ),
    ] = "team",
    top: Annotated[int, typer.Option("--top", help="Show this many groups, worst first.")] = 15,
    min_decided: Annotated[
        int, typer.Option("--min", help="Leave out groups with fewer decided promises.")
    ] = 5,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Judge promises as of this date (YYYY-MM-DD); default now."),
    ] = None,
    refresh: Annotated[
        bool, typer.Option("--refresh", help="Rebuild the ledger even if no facts were added.")
    ] = False,
    promise_rules: Annotated[
        Path | None, typer.Option("--promise-rules", help="Your own promise_rules.yaml.")
    ] = None,
    reconcile_rules: Annotated[
        Path | None, typer.Option("--reconcile-rules", help="Your own reconcile_rules.yaml.")
    ] = None,
    expectations: Annotated[
        bool,
        typer.Option(
            "--expectations", help="Also show what customers expected that we never wrote down."
        ),
    ] = False,
    store: StoreOption = default_store(),
    as_json: JsonOption = False,
) -> None:
    """The promise gap, worst first: kept rate with its interval, lateness, and whether the gap is
    narrowing, widening or showing no clear change. With a CUSTOMER, what we owe that person.

    The ledger is rebuilt when facts were added since it was last built (or with --refresh).

    Examples:
      goodwill promises
      goodwill promises --by product --as-of 2018-09-01
      goodwill promises olist:1046
    """
    from goodwill.measure import promises as ledger

    when = _parse_date(as_of)
    with open_cli_store(store) as s:
        built = None
        if (
            refresh
            or as_of is not None
            or promise_rules
            or reconcile_rules
            or not ledger.ledger_is_fresh(s)
        ):
            built = ledger.build_ledger(
                s, as_of=when, promise_rules=promise_rules, reconcile_rules=reconcile_rules
            )
        if customer is not None:
            rows = ledger.owed(s, customer)
            if as_json:
                emit_json({"customer_id": customer, "promises": rows})
            else:
                _show_owed(customer, rows)
            return
        groups = ledger.gap(s, by, min_decided=min_decided, limit=top)
        overall = ledger.gap(s, "all")
        unmet = ledger.expectations(s) if expectations else None
    if as_json:
        emit_json(
            {
                "by": by,
                "overall": overall[0] if overall else None,
                "groups": groups,
                "expectations": unmet,
                "built": built.to_dict() if built else None,
            }
        )
        return
    _show_gap(by, groups, overall[0] if overall else None)
    if unmet is not None:
        _show_expectations(unmet)


def _parse_date(text: str | None) -> dt.datetime | None:
    if text is None:
        return None
    try:
        return dt.datetime.combine(dt.date.fromisoformat(text), dt.time(), tzinfo=dt.UTC)
    except ValueError as exc:
        raise ConfigError(
            f"--as-of {text!r} is not a date.", hint="Write it as YYYY-MM-DD."
        ) from exc


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{100 * v:.1f}%"


def _late(hours: float | None) -> str:
    if hours is None:
        return "–"
    return f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.1f} d"


def _trend(tr: dict[str, Any]) -> str:
    label = _ARROW.get(tr["direction"], tr["direction"])
    if tr.get("per_week") is None or tr.get("low") is None:
        return label
    return f"{label} {100 * tr['per_week']:+.2f} pp/wk [{100 * tr['low']:+.2f}, {100 * tr['high']:+.2f}]"


def _show_gap(by: str, groups: list[dict[str, Any]], overall: dict[str, Any] | None) -> None:
    if overall is None:
        console.print(
            "No promises in this store yet. Ingest some facts first (goodwill ingest ...)."
        )
        return
    console.print(
        f"[bold]Promises kept on time: {_pct(overall['kept_rate'])}[/] "
        f"(95% CI {_pct(overall['kept_rate_low'])}–{_pct(overall['kept_rate_high'])}) of {overall['decided']:,} due; "
        f"{overall['kept_late']:,} kept late (median {_late(overall['median_late_hours'])}), "
        f"{overall['broken']:,} broken, {overall['overdue']:,} overdue, {overall['open']:,} not yet due. "
        f"Trend: {_trend(overall['trend'])}. As of {overall['as_of']:%Y-%m-%d}."
    )
    t = Table(title=f"Promise gap by {by}, worst first", show_lines=False)
    t.add_column(by, overflow="ellipsis", max_width=28, no_wrap=True)
    for col in (
        "due",
        "kept on time (95% CI)",
        "late",
        "median late",
        "broken",
        "overdue",
        "repeats",
        "trend, 95% CI",
    ):
        t.add_column(col, overflow="fold")
    for g in groups:
        t.add_row(
            escape(str(g["group"])),
            f"{g['decided']:,}",
            f"{_pct(g['kept_rate'])} ({_pct(g['kept_rate_low'])}–{_pct(g['kept_rate_high'])})",
            f"{g['kept_late']:,}",
            _late(g["median_late_hours"]),
            f"{g['broken']:,}",
            f"{g['overdue']:,}",
            f"{g['repeats']:,}",
            _trend(g["trend"]),
        )
    console.print(t)
    console.print(
        "Each row traces to its promises: goodwill promises CUSTOMER, or query promise_status.",
        style="dim",
    )


def _show_owed(customer: str, rows: list[dict[str, Any]]) -> None:
    if not rows:
        console.print(f"We have recorded no promise to {escape(customer)}.")
        return
    t = Table(title=f"What we owe {escape(customer)}")
    for col in ("status", "action", "due", "promised", "by", "kept / evidence", "what was said"):
        t.add_column(col, overflow="fold")
    for r in rows:
        status = r["status"] or "open"
        late = f" ({_late(r['late_hours'])} late)" if r["late_hours"] else ""
        rep = f" ×{r['repeats'] + 1}" if r["repeats"] else ""
        due = f"{r['deadline']:%Y-%m-%d %H:%M}" if r["deadline"] else "–"
        if r["due_implied"]:
            due += " (implied)"
        kept = f"{r['kept_at']:%Y-%m-%d} " if r["kept_at"] else ""
        t.add_row(
            f"[{_STYLE.get(status, '')}]{status}{rep}[/]",
            r["action"] or "",
            due,
            f"{r['made_at']:%Y-%m-%d}" if r["made_at"] else "",
            escape(str(r["made_by"] or r["team"] or "")),
            escape(f"{kept}{r['evidence_id'] or ''}{late}"),
            escape(str(r["evidence"] or r["description"] or ""))[:120],
        )
    console.print(t)


def _show_expectations(groups: list[dict[str, Any]]) -> None:
    t = Table(title="What customers expected, against what we wrote down")
    for col in (
        "they said",
        "about",
        "heard",
        "never promised",
        "promised: kept",
        "late",
        "broken",
        "example",
    ):
        t.add_column(col, overflow="fold")
    for g in groups[:12]:
        ex = g["examples"][0]["evidence"] if g["examples"] else ""
        t.add_row(
            g["kind"],
            g["action"],
            f"{g['heard']:,}",
            f"{g['unwritten']:,}",
            f"{g['kept']:,}",
            f"{g['kept_late']:,}",
            f"{g['broken']:,}",
            escape(ex[:80]),
        )
    console.print(t)
