"""The outcome report a board can read, and the one call that builds every measure behind it.

The report follows the four outcomes of the FCA Consumer Duty (PRIN 2A): products and
services, price and value, consumer understanding, consumer support. Each section shows
results per product and per group of customers (age band; vulnerability where the company
records it, said plainly where it does not), then the poor outcomes with their evidence: the
ledger entries, the fact ids behind them, and the customer's own words (redacted).
HTML is rendered with Jinja2 with inline SVG charts; PDF is printed from that HTML by a
headless Chromium when one is installed.
"""

from __future__ import annotations

import datetime as dt
import html
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import jinja2

from goodwill.errors import ConfigError, GoodwillError
from goodwill.measure import fair_value as fv
from goodwill.measure import goodwill_ledger as gl
from goodwill.measure import runaround as ra
from goodwill.measure import silence as si
from goodwill.measure.promises import build_ledger, ledger_is_fresh, ledger_stamp
from goodwill.store import Store


def measures_stamp(store: Store) -> str:
    """Changes whenever facts the measures read are added."""
    parts = [ledger_stamp(store)]
    for t in ("subscriptions", "plans", "consents", "enrichments", "customer_links"):
        # A plain count: enrichments may exist in the store while its module is not imported.
        parts.append(str(store.scalar(f"SELECT count(*) FROM {t}")) if store.table_exists(t) else "-")
    return "/".join(parts)


def build_measures(
    store: Store,
    *,
    as_of: dt.datetime | None = None,
    weights: str | Path | gl.Weights | None = None,
    refresh: bool = False,
    patterns: str | Path | ra.ConflictPatterns | None = None,
) -> dict[str, Any]:
    """Build the promise ledger (when stale), fair value, runaround and the goodwill ledger.

    Skips the work when nothing was added since the last build and ``refresh`` is false.
    ``patterns`` are the conflicting-answer patterns (runaround), the packaged ones by default.
    """
    w = weights if isinstance(weights, gl.Weights) else gl.load_weights(weights)
    p = patterns if isinstance(patterns, ra.ConflictPatterns) else ra.load_patterns(patterns)
    stamp = (
        measures_stamp(store) + "|" + w.version + "|" + p.version + "|" + (as_of.isoformat() if as_of else "now")
    )
    if not refresh and store.get_meta("measures_stamp") == stamp and as_of is None:
        return {"rebuilt": False}
    out: dict[str, Any] = {"rebuilt": True}
    if refresh or not ledger_is_fresh(store):
        out["promises"] = build_ledger(store, as_of=as_of).to_dict()
    out["fair_value"] = fv.build_fair_value(store, as_of=as_of, weights=w)
    out["runaround"] = ra.build_runaround(store, as_of=as_of, weights=w, patterns=p)
    out["goodwill"] = gl.build_goodwill(store, as_of=as_of, weights=w).to_dict()
    store.set_meta(
        "measures_stamp",
        measures_stamp(store) + "|" + w.version + "|" + p.version + "|" + (as_of.isoformat() if as_of else "now"),
    )
    return out


# -- charts ----------------------------------------------------------------------------------


def bar_chart(
    rows: list[tuple[str, float]], *, title: str, unit: str = "", width: int = 640
) -> str:
    """A horizontal bar chart as inline SVG; negative values run left of the axis in red."""
    if not rows:
        return ""
    bar, gap, label_w = 18, 6, 220
    h = len(rows) * (bar + gap) + 30
    vals = [v for _, v in rows]
    lo, hi = min(0.0, *vals), max(0.0, *vals)
    span = (hi - lo) or 1.0
    plot = width - label_w - 70
    x0 = label_w + plot * (-lo / span)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{h}" role="img" aria-label="{html.escape(title)}">',
        f'<text x="0" y="14" font-size="13" font-weight="bold">{html.escape(title)}</text>',
        f'<line x1="{x0:.1f}" y1="20" x2="{x0:.1f}" y2="{h}" stroke="#888"/>',
    ]
    for k, (label, v) in enumerate(rows):
        y = 24 + k * (bar + gap)
        wv = plot * abs(v) / span
        x = x0 if v >= 0 else x0 - wv
        colour = "#2f7d4f" if v >= 0 else "#b3382c"
        parts.append(f'<text x="0" y="{y + 13}" font-size="12">{html.escape(label[:34])}</text>')
        parts.append(
            f'<rect x="{x:.1f}" y="{y}" width="{max(wv, 0.5):.1f}" height="{bar}" fill="{colour}"/>'
        )
        tx = x0 + wv + 4 if v >= 0 else x0 + 4
        parts.append(
            f'<text x="{tx:.1f}" y="{y + 13}" font-size="11">{v:,.2f}{html.escape(unit)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def line_chart(
    points: list[tuple[str, float]], *, title: str, width: int = 640, height: int = 200
) -> str:
    """A line chart of a series (e.g. the company balance by month) as inline SVG."""
    if len(points) < 2:
        return ""
    vals = [v for _, v in points]
    lo, hi = min(vals), max(vals)
    span = (hi - lo) or 1.0
    left, top, pw, ph = 60, 24, width - 80, height - 50
    xy = [
        (left + pw * k / (len(points) - 1), top + ph * (1 - (v - lo) / span))
        for k, (_, v) in enumerate(points)
    ]
    path = " ".join(f"{'M' if k == 0 else 'L'}{x:.1f},{y:.1f}" for k, (x, y) in enumerate(xy))
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" aria-label="{html.escape(title)}">'
        f'<text x="0" y="14" font-size="13" font-weight="bold">{html.escape(title)}</text>'
        f'<text x="0" y="{top + 8}" font-size="11">{hi:,.0f}</text><text x="0" y="{top + ph}" font-size="11">{lo:,.0f}</text>'
        f'<path d="{path}" fill="none" stroke="#2b5d9b" stroke-width="2"/>'
        f'<text x="{left}" y="{height - 8}" font-size="11">{html.escape(points[0][0])}</text>'
        f'<text x="{left + pw - 50}" y="{height - 8}" font-size="11">{html.escape(points[-1][0])}</text></svg>'
    )


# -- the report's data -------------------------------------------------------------------------


def _verbatim(store: Store, fact_table: str, fact_id: str) -> str | None:
    from goodwill.ingest.redact import redact_text

    if fact_table == "interactions":
        text = store.scalar("SELECT text FROM interactions WHERE interaction_id = ?", [fact_id])
    elif fact_table == "cases":
        text = store.scalar(
            "SELECT text FROM interactions WHERE case_id = ? AND direction = 'inbound' AND text IS NOT NULL "
            "ORDER BY occurred_at LIMIT 1",
            [fact_id],
        )
    elif fact_table == "promises":
        text = store.scalar(
            "SELECT coalesce(evidence, description) FROM promises WHERE promise_id = ?", [fact_id]
        )
    else:
        return None
    if not text:
        return None
    red = redact_text(str(text)).text
    return red if len(red) <= 400 else red[:400] + "..."


def _poor_outcomes(store: Store, n: int) -> list[dict[str, Any]]:
    worst = gl.balances(store, "customer", limit=n)
    out = []
    for w in worst:
        if w["balance"] >= 0:
            break
        led = gl.customer_ledger(store, w["grp"])
        withdrawals = [e for e in led["entries"] if e["amount"] < 0]
        for e in withdrawals:
            e["verbatim"] = _verbatim(store, e["fact_table"], e["fact_id"])
        out.append({"customer_id": w["grp"], "balance": w["balance"], "entries": withdrawals[:6]})
    return out


def _kind_share(store: Store, kinds: tuple[str, ...], by: str) -> list[dict[str, Any]]:
    g = gl.GROUPS[by]
    return gl.clean(
        store.rows(
            f"SELECT {g} AS grp, count(DISTINCT e.customer_id) AS customers, count(*) AS entries, sum(e.amount) AS amount "
            f"FROM goodwill_entries e LEFT JOIN customers cu ON cu.customer_id = e.customer_id "
            f"WHERE e.kind IN {gl.in_list(kinds)} GROUP BY {g} ORDER BY amount, grp"
        )
    )


def report_data(store: Store, *, as_of: dt.datetime | None = None, top: int = 10) -> dict[str, Any]:
    """Everything the report shows, as plain data (the JSON twin of the HTML)."""
    gl.need_goodwill(store)
    meta = gl.ledger_meta(store)
    customers = int(store.count("customers"))
    vulnerable_recorded = int(
        store.scalar("SELECT count(*) FROM customers WHERE vulnerable IS NOT NULL") or 0
    )
    age_recorded = int(
        store.scalar("SELECT count(*) FROM customers WHERE age_band IS NOT NULL") or 0
    )
    silent_as_of = as_of or si.data_horizon(store)
    data: dict[str, Any] = {
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "ledger": meta,
        "customers": customers,
        "groups_note": (
            f"{vulnerable_recorded:,} of {customers:,} customers have a vulnerability marker recorded"
            + (
                "; results by vulnerability are therefore not shown. Age band is recorded for "
                f"{age_recorded:,} customers and is shown instead: it is not the same as vulnerability."
                if vulnerable_recorded == 0
                else "."
            )
        ),
        "group_by": "vulnerable" if vulnerable_recorded else "age_band",
        "company": gl.balances(store, "company"),
        "series": gl.balance_series(store, "company"),
        "by_product": gl.balances(store, "product", limit=top),
        "by_source": gl.balances(store, "source"),
    }
    g = data["group_by"]
    data["fair"] = None
    data["support"] = None
    data["by_group"] = gl.balances(store, g)
    # Products and services: promises and complaints.
    data["promises_by_product"] = _kind_share(
        store, ("promise_kept", "promise_kept_late", "promise_broken", "promise_overdue"), "product"
    )[:top]
    data["complaints_by_product"] = _kind_share(
        store, ("complaint_made", "complaint_open", "complaint_unresolved"), "product"
    )[:top]
    # Price and value.
    if store.get_meta("fair_value_as_of") and store.count("fair_value"):
        data["fair"] = {
            "book": fv.book_summary(store),
            "by_tenure": fv.penalty_by(store, "tenure"),
            "by_group": fv.penalty_by(store, g),
            "owed": fv.owed_better_deal(store, limit=top),
            "price_tenure": fv.price_tenure(store),
        }
    # Consumer understanding.
    data["understanding"] = {
        "dark_pattern": _kind_share(store, ("dark_pattern",), "source"),
        "unwanted_contact": _kind_share(store, ("unwanted_contact",), "source"),
        "repeat_contact": _kind_share(store, ("repeat_contact",), "source"),
        "copy_linted": int(store.count("copy_lint")) if store.table_exists("copy_lint") else 0,
    }
    # Consumer support.
    if store.table_exists("runaround_cases") and store.get_meta("runaround_as_of"):
        data["support"] = {
            "runaround": ra.summary(store, "source"),
            "worst": ra.worst_cases(store, limit=5),
        }
        data["support"]["by_group"] = ra.summary(store, g) if g in ("age_band",) else []
    data["silent"] = si.silent(store, as_of=silent_as_of, limit=top)
    data["poor_outcomes"] = _poor_outcomes(store, top)
    return data


def _charts(d: dict[str, Any]) -> dict[str, str]:
    ch = {
        "series": line_chart(
            [(str(r["month"]), float(r["balance"])) for r in d["series"]],
            title="Company goodwill balance by month",
        ),
        "by_product": bar_chart(
            [(str(r["grp"]), float(r["per_customer"] or 0)) for r in d["by_product"]],
            title="Goodwill per customer, worst products",
        ),
        "by_group": bar_chart(
            [(str(r["grp"]), float(r["per_customer"] or 0)) for r in d["by_group"]],
            title=f"Goodwill per customer by {d['group_by'].replace('_', ' ')}",
        ),
    }
    if d["fair"]:
        ch["penalty"] = bar_chart(
            [(str(r["grp"]), float(r["annual_penalty"] or 0)) for r in d["fair"]["by_tenure"]],
            title="Yearly loyalty penalty by tenure (months)",
        )
        ch["within"] = bar_chart(
            [
                (str(r["band"]), float(r["mean_within_plan_diff"] or 0))
                for r in d["fair"]["price_tenure"]["bands"]
            ],
            title="Price against the plan's mean, by tenure (like-for-like)",
        )
    return ch


def render_html(
    store: Store, *, as_of: dt.datetime | None = None, title: str = "Customer outcomes"
) -> str:
    d = report_data(store, as_of=as_of)
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("goodwill.measure", "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
    )
    env.filters["num"] = lambda v, p=0: "" if v is None else f"{v:,.{p}f}"
    tpl = env.get_template("outcome_report.html")
    return tpl.render(
        d=d,
        charts={k: jinja2.utils.markupsafe.Markup(v) for k, v in _charts(d).items()},
        title=title,
    )


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        p = shutil.which(name)
        if p:
            return p
    return None


def write_pdf(html_text: str, out: Path, *, browser: str | None = None) -> Path:
    """Print the HTML to PDF with a headless Chromium (offline; nothing is fetched)."""
    exe = browser or find_chromium()
    if exe is None:
        raise ConfigError(
            "Writing a PDF needs Chromium, which is not installed.",
            hint="Install it with: apt-get install -y chromium (or write --html only).",
        )
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "report.html"
        src.write_text(html_text, encoding="utf-8")
        cmd = [
            exe,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-pdf-header-footer",
            f"--user-data-dir={tmp}/profile",
            f"--print-to-pdf={out.resolve()}",
            src.as_uri(),
        ]
        try:
            subprocess.run(cmd, check=True, capture_output=True, timeout=120)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
            raise GoodwillError(
                f"Chromium could not print the report: {exc}",
                hint="Check that `chromium --headless` runs here.",
            ) from exc
    if not out.is_file() or out.stat().st_size == 0:
        raise GoodwillError(
            "Chromium wrote no PDF.", hint="Check that `chromium --headless` runs here."
        )
    return out


__all__ = [
    "bar_chart",
    "build_measures",
    "find_chromium",
    "line_chart",
    "measures_stamp",
    "render_html",
    "report_data",
    "write_pdf",
]
