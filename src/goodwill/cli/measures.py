"""`goodwill goodwill`, `silent`, `fair-value`, `runaround`, `report`: how we are doing by customers."""

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
from goodwill.measure import fair_value as fv
from goodwill.measure import goodwill_ledger as gl
from goodwill.measure import report as rp
from goodwill.measure import runaround as ra
from goodwill.measure import silence as si
from goodwill.store import Store

WeightsOption = Annotated[
    Path | None, typer.Option("--weights", help="Your own goodwill_weights.yaml (versioned).")
]
RefreshOption = Annotated[
    bool, typer.Option("--refresh", help="Rebuild the measures even if no facts were added.")
]
AsOfOption = Annotated[
    str | None, typer.Option("--as-of", help="Judge as of this date (YYYY-MM-DD); default now.")
]


def register(app: typer.Typer) -> None:
    app.command("goodwill")(goodwill)
    app.command("silent")(silent)
    app.command("fair-value")(fair_value)
    app.command("runaround")(runaround)
    app.command("report")(report)


def _as_of(value: str | None) -> dt.datetime | None:
    if value is None:
        return None
    try:
        d = dt.date.fromisoformat(value)
    except ValueError as exc:
        raise ConfigError(f"{value!r} is not a date.", hint="Write it as YYYY-MM-DD.") from exc
    return dt.datetime(d.year, d.month, d.day, 23, 59, 59, tzinfo=dt.UTC)


def _ready(
    store: Store, refresh: bool, weights: Path | None, as_of: dt.datetime | None, patterns: Path | None = None
) -> None:
    rp.build_measures(store, as_of=as_of, weights=weights, refresh=refresh, patterns=patterns)


def _missing(meta: dict[str, Any]) -> None:
    for m in meta.get("missing", []):
        console.print(f"[yellow]Not counted:[/] {escape(m)}")


def goodwill(
    customer: Annotated[
        str | None, typer.Argument(help="A customer id: show their goodwill ledger.")
    ] = None,
    by: Annotated[
        str,
        typer.Option("--by", help="Without a customer: balance by " + ", ".join(gl.GROUPS) + "."),
    ] = "source",
    top: Annotated[int, typer.Option("--top", help="Show this many groups, worst first.")] = 20,
    weights: WeightsOption = None,
    refresh: RefreshOption = False,
    as_of: AsOfOption = None,
    store: StoreOption = default_store(),
    as_json: JsonOption = False,
) -> None:
    """The goodwill ledger: one customer's deposits and withdrawals with the facts behind them, or
    balances by group.

    Examples:
      goodwill goodwill cfpb:3198084
      goodwill goodwill --by product
      goodwill goodwill --by customer --top 10 --json
    """
    with open_cli_store(store) as s:
        _ready(s, refresh, weights, _as_of(as_of))
        if customer:
            led = gl.customer_ledger(s, customer)
            if as_json:
                emit_json(led)
                return
            console.print(
                f"[bold]{escape(customer)}[/]: balance [bold]{led['balance']:+.1f}[/] "
                f"({led['deposits']:+.1f} in, {led['withdrawals']:+.1f} out), weights {led['rules_version']}"
            )
            t = Table("when", "kind", "amount", "balance", "reason", "evidence")
            for e in led["entries"]:
                when = e["occurred_at"].strftime("%Y-%m-%d") if e["occurred_at"] else ""
                style = "red" if e["amount"] < 0 else "green"
                t.add_row(
                    when,
                    e["kind"],
                    f"[{style}]{e['amount']:+.0f}[/]",
                    f"{e['balance']:+.0f}",
                    escape(e["reason"] or ""),
                    escape(f"{e['fact_table']} {e['fact_id']}; {e['detail'] or ''}"),
                )
            console.print(t)
            _missing(led)
            return
        rows = gl.balances(s, by, limit=top)
        meta = gl.ledger_meta(s)
        if as_json:
            emit_json({**meta, "by": by, "rows": rows})
            return
        t = Table(by, "customers", "balance", "per customer", "deposits", "withdrawals", "weights")
        for r in rows:
            t.add_row(
                escape(str(r["grp"])),
                f"{r['customers']:,}",
                f"{r['balance']:+,.0f}",
                f"{r['per_customer']:+.2f}",
                f"{r['deposits']:+,.0f}",
                f"{r['withdrawals']:+,.0f}",
                str(r["rules_version"]),
            )
        console.print(t)
        _missing(meta)


def silent(
    limit: Annotated[int, typer.Option("--limit", help="Show this many people.")] = 20,
    book_rhythm: Annotated[
        bool,
        typer.Option(
            "--book-rhythm",
            help="Also judge people with too few contacts of their own, against the book's median rhythm (flagged).",
        ),
    ] = False,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="Judge as of this date (YYYY-MM-DD); default the latest fact in the store.",
        ),
    ] = None,
    weights: WeightsOption = None,
    refresh: RefreshOption = False,
    store: StoreOption = default_store(),
    as_json: JsonOption = False,
) -> None:
    """People we let down who then went quiet, for longer than their own usual rhythm, longest first.

    Examples:
      goodwill silent
      goodwill silent --as-of 2017-12-01 --limit 50 --json
    """
    with open_cli_store(store) as s:
        _ready(s, refresh, weights, None)
        when = _as_of(as_of) or si.data_horizon(s)
        res = si.silent(
            s, as_of=when, weights=weights, limit=limit, include_book_rhythm=book_rhythm
        )
        if as_json:
            emit_json(res)
            return
        console.print(
            f"As of {res['as_of'][:10]}: {res['people_with_a_failure']:,} people let down; "
            f"[bold]{res['silent']:,}[/] quiet since for at least {res['threshold_ratio']:g} x their usual gap. "
            f"{res['failed_without_own_rhythm']:,} had too few contacts for a rhythm of their own"
            + (
                " (judged on the book's rhythm, flagged)."
                if book_rhythm
                else " and are not judged."
            )
        )
        t = Table("person", "x rhythm", "quiet days", "rhythm", "why")
        for r in res["rows"]:
            t.add_row(
                escape(r["person_id"]),
                f"{r['ratio']:.1f}",
                str(r["quiet_days"]),
                r["rhythm"],
                escape(r["why"]),
            )
        console.print(t)


def fair_value(
    by: Annotated[
        str, typer.Option("--by", help="Break the penalty down by " + ", ".join(fv.GROUPS) + ".")
    ] = "tenure",
    owed: Annotated[
        int, typer.Option("--owed", help="List this many customers owed a better deal.")
    ] = 10,
    any_channel: Annotated[
        bool,
        typer.Option(
            "--any-channel", help="Infer new-customer prices across channels, not per channel."
        ),
    ] = False,
    weights: WeightsOption = None,
    refresh: RefreshOption = False,
    as_of: AsOfOption = None,
    store: StoreOption = default_store(),
    as_json: JsonOption = False,
) -> None:
    """Fair value and the loyalty penalty: what customers pay against what a new customer pays for
    the same plan through the same channel, by tenure; and who is owed a better deal.

    Examples:
      goodwill fair-value
      goodwill fair-value --by age_band --owed 20 --json
    """
    with open_cli_store(store) as s:
        when = _as_of(as_of)
        _ready(s, refresh, weights, when)
        if any_channel:
            fv.build_fair_value(s, as_of=when, weights=weights, match_channel=False)
        book = fv.book_summary(s, weights=weights)
        groups = fv.penalty_by(s, by)
        who = fv.owed_better_deal(s, limit=owed, weights=weights)
        rel = fv.price_tenure(s)
        if as_json:
            emit_json({"book": book, "by": by, "groups": groups, "owed": who, "price_tenure": rel})
            return
        console.print(
            f"{book['subscriptions']:,} active subscriptions; {book['judged']:,} judged against a new customer's price "
            f"({book['declared_references']:,} recorded, {book['inferred_references']:,} inferred). "
            f"[bold]{book['paying_more']:,}[/] pay more; {book['owed_better_deal']:,} by over {book['tolerance_pct']:g}%: "
            f"[bold]{book['annual_penalty'] or 0:,.2f}[/] a year. Weights {book['rules_version']}."
        )
        t = Table(by, "subscriptions", "judged", "paying more", "no reference", "penalty a year")
        for r in groups:
            t.add_row(
                escape(str(r["grp"])),
                f"{r['subscriptions']:,}",
                f"{r['judged']:,}",
                f"{r['paying_more']:,}",
                f"{r['no_reference']:,}",
                f"{r['annual_penalty'] or 0:,.2f}",
            )
        console.print(t)
        w = rel["within_plan"]
        if w.get("ci95"):
            console.print(
                f"Like for like ({w['plans']:,} plans, n = {w['n']:,}): price changes by {w['slope_per_month']:+.4f} "
                f"a month of tenure (95% CI {w['ci95'][0]:+.4f} to {w['ci95'][1]:+.4f}); across plans "
                f"{rel['raw']['slope_per_month']:+.3f}, which mixes plans. One price per customer: no price history."
            )
        if who:
            o = Table("customer", "tenure", "pays", "new pays", "a year", "how we know")
            for r in who:
                o.add_row(
                    escape(r["customer_id"]),
                    f"{r['tenure_months']:.0f}",
                    f"{r['price']:.2f}",
                    f"{r['reference_price']:.2f}",
                    f"{r['annual_penalty']:.2f}",
                    escape(r["reference_basis"]),
                )
            console.print(o)


def runaround(
    customer: Annotated[
        str | None, typer.Argument(help="A customer id: show their cases and paths.")
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", help="Show this many cases, most effort first.")
    ] = 10,
    weights: WeightsOption = None,
    patterns: Annotated[
        Path | None,
        typer.Option("--patterns", help="Your own conflict_patterns.yaml (versioned) for conflicting answers."),
    ] = None,
    refresh: RefreshOption = False,
    as_of: AsOfOption = None,
    store: StoreOption = default_store(),
    as_json: JsonOption = False,
) -> None:
    """Runaround: the effort each case cost the customer, with hand-offs, channel switches,
    reopens, conflicting answers, time to resolution and the path it took.

    Examples:
      goodwill runaround
      goodwill runaround twcs:116025 --json
      goodwill runaround --patterns my_conflict_patterns.yaml --refresh
    """
    with open_cli_store(store) as s:
        _ready(s, refresh, weights, _as_of(as_of), patterns)
        if customer:
            res: dict[str, Any] = ra.customer_effort(s, customer)
            cases = res["cases"][:limit]
        else:
            res = {"summary": ra.summary(s), "cases": ra.worst_cases(s, limit=limit)}
            cases = res["cases"]
        if as_json:
            emit_json(res)
            return
        t = Table(
            "case",
            "effort",
            "contacts",
            "hand-offs",
            "switches",
            "reopens",
            "conflicts",
            "hours",
            "path (* = customer, ! = conflicting answer)",
        )
        for c in cases:
            t.add_row(
                escape(c["case_key"]),
                f"{c['effort']:.1f}",
                str(c["inbound"]),
                str(c["handoffs"]),
                str(c["channel_switches"]),
                str(c["reopens"]),
                str(c["conflicts"]),
                f"{c['hours_to_resolution']:.1f}",
                escape(c["path"][:120]),
            )
        console.print(t)
        for c in cases:
            for k in c["conflicting_answers"]:
                first = f"{k['first_interaction_id']}: {k['first_says']}  ->  " if k["first_interaction_id"] else ""
                console.print(
                    f"{escape(c['case_key'])} [bold]{k['kind']}[/]: "
                    + escape(f"{first}{k['second_interaction_id']}: {k['second_says']}"[:300])
                )


def report(
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Where to write the report (.html or .pdf).")
    ] = Path("goodwill-outcomes.html"),
    title: Annotated[
        str, typer.Option("--title", help="The report's title.")
    ] = "Customer outcomes",
    weights: WeightsOption = None,
    refresh: RefreshOption = False,
    as_of: AsOfOption = None,
    store: StoreOption = default_store(),
    as_json: JsonOption = False,
) -> None:
    """The outcome report for a board: the Consumer Duty's four outcomes, per product and group,
    with the poor outcomes and their evidence. HTML always; PDF when --out ends in .pdf
    (needs Chromium: apt-get install -y chromium).

    Examples:
      goodwill report --out outcomes.html
      goodwill report --out outcomes.pdf
    """
    with open_cli_store(store) as s:
        when = _as_of(as_of)
        _ready(s, refresh, weights, when)
        if as_json:
            emit_json(rp.report_data(s, as_of=when))
            return
        text = rp.render_html(s, as_of=when, title=title)
        if out.suffix.lower() == ".pdf":
            rp.write_pdf(text, out)
        else:
            out.write_text(text, encoding="utf-8")
        console.print(f"Wrote {escape(str(out))}")
