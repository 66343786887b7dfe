"""Foundation commands: init, ingest, mappings, status, quarantine, timeline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from goodwill.cli.common import JsonOption, StoreOption, default_store, open_cli_store
from goodwill.cli.output import console, dumps, emit_json, show_progress
from goodwill.errors import StoreLockedError


def register(app: typer.Typer) -> None:
    app.command("init")(init)
    app.command("ingest")(ingest)
    app.command("mappings")(mappings)
    app.command("status")(status)
    app.command("quarantine")(quarantine)
    app.command("timeline")(timeline_cmd)
    app.command("optimize")(optimize)
    app.command("demo")(demo)


def init(store: StoreOption = default_store(), as_json: JsonOption = False) -> None:
    """Create a store (a DuckDB file by default) with every table.

    Example: goodwill init --store postgresql://127.0.0.1:5432/goodwill
    """
    with open_cli_store(store) as s:
        counts = s.counts()
        version = s.schema_version
    if as_json:
        emit_json({"store": store, "engine": s.engine, "schema_version": version, "tables": sorted(counts)})
        return
    console.print(f"Store ready at [bold]{store}[/] ({s.engine}, schema version {version}, {len(counts)} tables).")


def ingest(
    files: Annotated[list[Path], typer.Argument(help="CSV, TSV, JSON Lines or Parquet files (.gz too).")],
    mapping: Annotated[str, typer.Option("--mapping", "-m", help="A built-in mapping (see `goodwill mappings`) or a YAML file.")],
    store: StoreOption = default_store(),
    format: Annotated[str | None, typer.Option("--format", help="csv, tsv, jsonl or parquet, if the file name does not say.")] = None,
    encoding: Annotated[str | None, typer.Option("--encoding", help="Text encoding of CSV/JSONL, e.g. latin-1.")] = None,
    allow_raw_text: Annotated[bool, typer.Option("--allow-raw-text", help="Store free text unredacted (only where your workspace allows it).")] = False,
    redactor: Annotated[str, typer.Option("--redactor", help="regex (default), presidio or regex+presidio: the last adds names found without a cue; both presidio ones need pip install 'goodwill[pii]' and are far slower.")] = "regex",
    strict: Annotated[bool, typer.Option("--strict", help="Exit with status 1 if any row was quarantined.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Load files into the store through a mapping. Bad rows go to quarantine; re-running adds nothing twice.

    Example: goodwill ingest complaints.csv.gz --mapping cfpb
    """
    from goodwill.ingest import ingest_file, load_mapping
    from goodwill.ingest.redact_presidio import check_redactor

    check_redactor(redactor)
    m = load_mapping(mapping)
    reports: list[dict[str, Any]] = []
    with open_cli_store(store) as s:
        for f in files:
            if show_progress() and not as_json:
                with Progress(
                    TextColumn("[bold]{task.description}"), BarColumn(), DownloadColumn(), TimeRemainingColumn(),
                    console=console, transient=True,
                ) as bar:
                    task = bar.add_task(f.name, total=None)

                    def on_progress(done: int, total: int, _task: Any = task, _bar: Progress = bar) -> None:
                        _bar.update(_task, completed=done, total=total)

                    r = ingest_file(s, f, m, format=format, encoding=encoding, redact=not allow_raw_text, progress=on_progress, redactor=redactor)
            else:
                r = ingest_file(s, f, m, format=format, encoding=encoding, redact=not allow_raw_text, redactor=redactor)
            reports.append(r.to_dict())
            if not as_json:
                written = ", ".join(f"{n:,} {t}" for t, n in r.rows_written.items() if n) or "nothing new"
                again = " (this file was ingested before; only new facts were added)" if r.previously_ingested else ""
                console.print(f"{f.name}: read {r.rows_read:,} rows in {r.seconds:.1f}s; added {written}{again}.")
                if r.rows_quarantined:
                    console.print(f"  [yellow]{r.rows_quarantined:,} row(s) quarantined[/]; see `goodwill quarantine`. Reasons:")
                    for reason, n in r.reasons.most_common(5):
                        console.print(f"    {n:,} × {reason}", markup=False)
    if as_json:
        emit_json(reports)
    if strict and any(r["rows_quarantined"] for r in reports):
        raise typer.Exit(1)


def mappings(as_json: JsonOption = False) -> None:
    """List the built-in source mappings."""
    from goodwill.ingest import builtin_mappings

    names = builtin_mappings()
    if as_json:
        emit_json(names)
        return
    t = Table("mapping", "source", box=None)
    for n, title in names.items():
        t.add_row(n, escape(title))
    console.print(t)


def status(store: StoreOption = default_store(), as_json: JsonOption = False) -> None:
    """What is stored: rows per table, quarantined rows and recent ingests.

    While `goodwill serve` holds a DuckDB store, this asks the server instead.
    """
    try:
        s = open_cli_store(store)
    except StoreLockedError:
        data = through_server("status", {}, store)
        if as_json:
            emit_json(data)
        else:
            _show_status(data)
        return
    from goodwill.store.status import store_status

    with s:
        data = store_status(s)
    if as_json:
        emit_json(data)
        return
    _show_status(data)


def optimize(store: StoreOption = default_store(), as_json: JsonOption = False) -> None:
    """Reorganise the store for fast reads of one person, after bulk loads and measure builds.

    DuckDB: sorts every table by customer and builds the person documents that serve the
    brief, the timeline and the guard in one read (until a write makes a person's facts
    newer; those people are read live). PostgreSQL: refreshes the planner's statistics.
    """
    import time

    with open_cli_store(store) as s:
        t0 = time.perf_counter()
        s.optimize()
        secs = time.perf_counter() - t0
        docs = bool(getattr(s, "_docs", False))
    if as_json:
        emit_json({"store": store, "engine": s.engine, "seconds": round(secs, 3), "person_documents": docs})
        return
    extra = " Person documents built." if docs else ""
    console.print(f"Optimised {escape(str(store))} in {secs:.1f}s.{extra}")


def _show_status(data: dict[str, Any]) -> None:
    counts, people = data["tables"], data["people"]
    console.print(f"[bold]{escape(str(data['store']))}[/] ({data['engine']}, schema version {data['schema_version']})")
    t = Table("table", "rows", box=None)
    for name, n in counts.items():
        t.add_row(name, f"{n:,}")
    console.print(t)
    console.print(f"{people:,} people after identity resolution.")
    if data.get("person_documents") is not None:
        state = "current" if data["person_documents"] else "not built (run `goodwill optimize` after bulk loads)"
        console.print(f"Person documents (DuckDB fast reads): {state}.")
    if counts.get("quarantine"):
        console.print(f"[yellow]{counts['quarantine']:,} quarantined row(s)[/]; top reasons:")
        for r in data["quarantine_reasons"]:
            console.print(f"  {r['n']:,} × {r['reason']}", markup=False)
    for r in data["recent_ingests"]:
        console.print(f"ingested {Path(r['path']).name} with {r['mapping']}: {r['rows_read']:,} rows read, {r['rows_quarantined']:,} quarantined", markup=False)


def quarantine(
    store: StoreOption = default_store(),
    limit: Annotated[int, typer.Option(help="How many rows to show.")] = 20,
    as_json: JsonOption = False,
) -> None:
    """Rows that could not be ingested, with their source line and the reason."""
    with open_cli_store(store) as s:
        rows = s.rows(
            "SELECT source, line, reason, row, quarantined_at FROM quarantine ORDER BY quarantined_at, quarantine_id LIMIT ?",
            [limit],
        )
    if as_json:
        emit_json(rows)
        return
    if not rows:
        console.print("No quarantined rows.")
        return
    t = Table("source", "line", "reason", "row", box=None)
    for r in rows:
        t.add_row(escape(str(r["source"])), str(r["line"] or ""), escape(str(r["reason"])), escape(str(r["row"])[:80]))
    console.print(t)


def timeline_cmd(
    customer: Annotated[str, typer.Argument(help="A customer id, e.g. cfpb:3790251 or telco:7590-VHVEG.")],
    store: StoreOption = default_store(),
    limit: Annotated[int | None, typer.Option(help="Show only the last N entries.")] = None,
    as_json: JsonOption = False,
) -> None:
    """One person's facts from every function, in time order, with how their records were joined."""
    from goodwill.store.timeline import timeline

    try:
        s = open_cli_store(store)
    except StoreLockedError:
        data = through_server("timeline", {"customer_id": customer}, store)
        if as_json:
            emit_json(data)
        else:
            console.print_json(dumps(data))
        return
    with s:
        tl = timeline(s, customer, limit=limit)
    if as_json:
        emit_json(tl.to_dict())
        return
    render_timeline(tl)


def through_server(command: str, args: dict[str, Any], store: str) -> dict[str, Any]:
    """DuckDB lets one process hold the file: while `goodwill serve` holds it, ask the server."""
    try:
        from goodwill.serve.client import forward
    except ImportError as exc:  # the serve extra is not installed, so no server can hold it
        raise StoreLockedError(
            f"The store {store} is open in another process.", hint="Stop that process and try again."
        ) from exc
    return forward(command, args, store)


def render_timeline(tl: Any) -> None:
    console.print(f"[bold]Person {tl.person_id}[/] — records: {', '.join(tl.customer_ids)}")
    for c in tl.customers:
        bits = [f"{k}={c[k]}" for k in ("region", "segment", "age_band") if c.get(k)]
        if c.get("vulnerable"):
            bits.append("[red]vulnerable[/]")
        console.print(f"  {c['customer_id']} from {c.get('source') or '?'}" + (f" ({', '.join(bits)})" if bits else ""))
    if tl.identifiers:
        console.print("  known as: " + ", ".join(f"{i['kind']} {i['value']}" for i in tl.identifiers), markup=False)
    for link in tl.links:
        if link["customer_id"] != tl.person_id:
            ev = link.get("evidence")
            ev_s = json.dumps(ev, ensure_ascii=False) if not isinstance(ev, str) else ev
            console.print(f"  joined {link['customer_id']} by rule {link['rule']} (v{link.get('rule_version')}): {ev_s}", markup=False)
    t = Table("when (UTC)", "what", "where", "", box=None, show_lines=False)
    t.columns[3].overflow = "fold"
    for e in tl.entries:
        when = e.at.strftime("%Y-%m-%d %H:%M") if e.at else "undated"
        arrow = {"inbound": "←", "outbound": "→"}.get(e.direction or "", "·")
        where = "/".join(x for x in (e.function, e.channel) if x)
        t.add_row(when, e.kind, escape(where), escape(f"{arrow} {e.summary}"))
    console.print(t)
    if not tl.entries:
        console.print("No dated facts about this person yet.")




def demo(
    store: Annotated[str, typer.Option("--store", "-s", help="Where to build the demo store (it is rebuilt each time).")] = "",
    serve: Annotated[bool, typer.Option("--serve/--no-serve", help="End by serving the dashboard on the demo data.")] = True,
    port: Annotated[int, typer.Option(help="Port for the dashboard.")] = 8765,
    as_json: JsonOption = False,
) -> None:
    """Build a demo store from the real public data that ships with goodwill, and show what it tells you.

    It loads CFPB complaints (public domain) and IBM's Telco accounts (Apache-2.0), adds the
    labelled simulated facts the guard needs (consents, contacts, vulnerability), then runs
    each capability on them and serves the dashboard. Example: goodwill demo --no-serve
    """
    from goodwill.demo.run import (
        DEMO_STORE,
        demo_steps,
        example_customer,
        fresh_demo_store,
        load_demo_data,
    )
    from goodwill.store.timeline import timeline

    target = store or DEMO_STORE
    out: dict[str, Any] = {"store": target}
    with fresh_demo_store(target) as s:
        if not as_json:
            console.rule("[bold]goodwill demo[/]: real public data (CFPB complaints, public domain; IBM Telco accounts, Apache-2.0)")
        reports = load_demo_data(s)
        out["ingested"] = [r.to_dict() for r in reports]
        if not as_json:
            for r in reports:
                written = ", ".join(f"{n:,} {t}" for t, n in r.rows_written.items() if n)
                console.print(f"Loaded {Path(r.path).name}: {written}.")
        from goodwill.guard.simulate import simulate_company

        sim = simulate_company(s)
        out["simulated"] = sim.to_dict() if hasattr(sim, "to_dict") else str(sim)
        if not as_json:
            console.print(
                "Added SIMULATED facts the public data lacks (consents, past contacts, vulnerability flags; "
                "source='simulated') and inferred new-customer prices, for the guard."
            )
        who = example_customer(s)
        tl = timeline(s, who)
        out["example_timeline"] = tl.to_dict()
        s.optimize()
    if not as_json:
        console.rule(f"One customer's timeline: goodwill timeline {who} --store {target}")
        render_timeline(tl)
    from goodwill.cli.app import app

    out["steps"] = {}
    for title, args in demo_steps(target, who):
        if not as_json:
            console.rule(f"{title}: goodwill {' '.join(args)}")
            app([*args], standalone_mode=False)
            continue
        import contextlib
        import io
        import json as _json

        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            app([*args, "--json"], standalone_mode=False)
        text = buf.getvalue().strip()
        try:
            out["steps"][args[0] + (" " + args[1] if len(args) > 1 and not args[1].startswith("-") else "")] = _json.loads(text)
        except ValueError:
            out["steps"][args[0]] = text
    with open_cli_store(target) as s:
        out["counts"] = s.counts()
    if as_json:
        emit_json(out)
        return
    console.rule("Next")
    console.print(f"Explore: goodwill status --store {target}; goodwill timeline CUSTOMER --store {target}; goodwill brief {who} --store {target}")
    if serve:

        console.print(f"Serving the dashboard on the demo data at http://127.0.0.1:{port} (Ctrl-C stops).")
        app(["serve", "--store", target, "--port", str(port)], standalone_mode=False)
