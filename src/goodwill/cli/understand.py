"""``goodwill enrich`` and ``goodwill reasons``: what customers are telling the company."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import typer

from goodwill.cli.common import JsonOption, StoreOption, default_store, open_cli_store
from goodwill.cli.output import console, emit_json, err_console, show_progress


class EmbedderChoice(StrEnum):
    minilm = "minilm"
    static = "static"
    hashing = "hashing"


class SentimentChoice(StrEnum):
    head = "head"
    vader = "vader"
    lexicon = "lexicon"


ENRICH_EPILOG = (
    "Examples:\n\n"
    "  goodwill enrich\n\n"
    "  goodwill enrich --limit 10000 --json\n\n"
    "  goodwill enrich --embedder static\n\n"
    "  goodwill enrich --sentiment vader --store postgresql://127.0.0.1:5432/goodwill"
)

REASONS_EPILOG = (
    "Examples:\n\n"
    "  goodwill reasons\n\n"
    "  goodwill reasons --top 10 --weeks 12\n\n"
    "  goodwill reasons --refit --json"
)


def enrich(
    store: StoreOption = default_store(),
    embedder: Annotated[
        EmbedderChoice,
        typer.Option(
            help="minilm (shipped ONNX model), static (token vectors distilled from it: far faster "
            "on long texts, less accurate; see BENCHMARKS.md) or hashing (no model)."
        ),
    ] = EmbedderChoice.minilm,
    sentiment: Annotated[
        SentimentChoice,
        typer.Option(help="head (logistic regression on the embedder's vectors), vader or lexicon."),
    ] = SentimentChoice.head,
    limit: Annotated[int | None, typer.Option(help="Enrich at most this many texts.")] = None,
    batch_size: Annotated[int, typer.Option(help="Texts per record batch.")] = 2048,
    seed: Annotated[int, typer.Option(help="Seed of the contact-reason fit.")] = 0,
    as_json: JsonOption = False,
) -> None:
    """Read customer texts not yet enriched: sentiment, contact reason, expectation and effort spans.

    Fits contact reasons first when the store has none. Texts were redacted at ingest."""
    from goodwill.understand.service import (
        enrich_store,
        make_embedder,
        make_sentiment,
        pending_count,
    )

    # Before opening the store: a head that does not exist for this embedder fails at once.
    sent = make_sentiment(sentiment.value, embedder.value)
    emb = make_embedder(embedder.value)
    with open_cli_store(store) as st:
        todo = pending_count(st)
        if limit is not None:
            todo = min(todo, limit)
        if show_progress() and not as_json and todo:
            from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

            with Progress(
                TextColumn("enriching"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                TimeRemainingColumn(), console=err_console,
            ) as bar:
                task = bar.add_task("enrich", total=todo)
                report = enrich_store(
                    st, embedder=emb, sentiment=sent, batch_size=batch_size, limit=limit, seed=seed,
                    progress=lambda n: bar.advance(task, n),
                )
        else:
            report = enrich_store(
                st, embedder=emb, sentiment=sent, batch_size=batch_size, limit=limit, seed=seed
            )
    data = report.to_dict()
    if as_json:
        emit_json(data)
        return
    if report.fitted:
        console.print(f"Found contact reasons ({report.reason_model}).")
    rate = f", {data['texts_per_second']:.0f} texts/s" if data["texts_per_second"] else ""
    console.print(
        f"Enriched {report.enriched:,} texts in {report.seconds:.1f}s{rate}; "
        f"{data['unassigned_share']:.1%} without a reason; {report.spans:,} expectation/effort spans."
    )


def _spark(values: list[float]) -> str:
    bars = "▁▂▃▄▅▆▇█"
    top = max(values) if values else 0.0
    if top <= 0:
        return "·" * len(values)
    return "".join(bars[min(7, int(v / top * 7.999))] for v in values)


def reasons(
    store: StoreOption = default_store(),
    top: Annotated[int, typer.Option(help="Show this many reasons (largest first).")] = 20,
    weeks: Annotated[int, typer.Option(help="Weeks of trend to show.")] = 8,
    refit: Annotated[
        bool, typer.Option("--refit", help="Refit reasons on a fresh sample (ids persist where reasons do).")
    ] = False,
    k: Annotated[int | None, typer.Option(help="Number of reasons on a refit (default: a rule on the sample size).")] = None,
    embedder: Annotated[EmbedderChoice, typer.Option(help="Embedder for a refit.")] = EmbedderChoice.minilm,
    as_json: JsonOption = False,
) -> None:
    """The reasons customers get in touch: share, sentiment, weekly trend and a verbatim each."""
    from goodwill.understand.service import fit_reasons_in_store, make_embedder, reason_report

    with open_cli_store(store) as st:
        if refit:
            model = fit_reasons_in_store(st, make_embedder(embedder.value), k=k)
            if not as_json:
                kept = sum(1 for old, new in model.id_changes.items() if old == new)
                console.print(
                    f"Refit: {len(model.reasons)} reasons, {kept} kept their ids. "
                    "Stored texts keep their reason until re-enriched."
                )
        data = reason_report(st, weeks=weeks)
    data["reasons"] = data["reasons"][:top]
    if as_json:
        emit_json(data)
        return
    _print_table(data)


def _print_table(data: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table(
        title=f"Contact reasons — {data['enriched']:,} texts, "
        f"{data['unassigned_share']:.1%} unassigned ({data['model_version']})",
        show_lines=True,
    )
    table.add_column("id", justify="right")
    table.add_column("reason")
    table.add_column("share", justify="right")
    table.add_column("sentiment", justify="right")
    table.add_column(f"trend ({len(data['weeks'])} wk)")
    table.add_column("verbatim", max_width=70)
    for r in data["reasons"]:
        label = r["label"] + (" [bold red]▲ emerging[/]" if r["emerging"] else "")
        sent = "" if r["sentiment"] is None else f"{r['sentiment']:+.2f}"
        verbatim = (r["verbatims"][0] if r["verbatims"] else "")[:240]
        trend = _spark([t["share"] for t in r["trend"]])
        if r["emerging"]:
            trend += f"\n{r['evidence']}"
        table.add_row(str(r["reason_id"]), label, f"{r['share']:.1%}", sent, trend, verbatim)
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command("enrich", epilog=ENRICH_EPILOG)(enrich)
    app.command("reasons", epilog=REASONS_EPILOG)(reasons)
