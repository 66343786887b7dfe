"""Out-of-sample evaluations for heard promises and heard expectations.

    .venv/bin/python benchmarks/promises_eval_expectations.py            # print the sections
    .venv/bin/python benchmarks/promises_eval_expectations.py --write    # and put them in results/promises.md

Three evaluations, each beside a keyword baseline measured in the same run:

1. Olist reviews (Portuguese, three human votes per review): does ``read_expectations`` flag the
   reviews whose most-voted subclass is a delivery failure, and does its "set against what
   happened" judgement (``goodwill.measure.promises.expectations`` over the real ledger) agree
   with the delivery facts?
2. CFPB narratives (English, public domain): 120 drawn with a fixed seed, hand-labelled by one
   annotator for "states what they were told or expected" (``tests/data/promises/cfpb_expectation_labels.jsonl``).
3. TWCS company tweets never used for tuning: the 419 company tweets of the extract that are not in
   ``promise-labels.jsonl``, hand-labelled before the extractor was run on them
   (``tests/data/promises/fresh_tweet_labels.jsonl``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from evalstats import prf, prf_row
from goodwill.ingest import ingest_file
from goodwill.measure import promises as ledger
from goodwill.understand.heard_promises import read_expectations
from promises_extraction import READERS, evaluate

REPO = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("GOODWILL_DATA", REPO.parent / "shared" / "data"))
LABELS = REPO / "tests" / "data" / "promises"
AS_OF = dt.datetime(2026, 11, 24, tzinfo=dt.UTC)
RESULTS = REPO / "benchmarks" / "results" / "promises.md"
BEGIN, END = "<!-- expectations-eval:begin -->", "<!-- expectations-eval:end -->"

# What counts as "the customer states an unmet delivery expectation" in Olist: the reviewers'
# most-voted subclass is a late or a partial delivery. "outro_entrega" (other delivery problem)
# mixes damaged boxes, pick-up at the post office and freight complaints, so it is reported as a
# variant, not in the main definition.
OLIST_POSITIVE = ("atrasado", "entrega_parcial")
OLIST_POSITIVE_WIDE = (*OLIST_POSITIVE, "outro_entrega")
# Fixed before any result was seen; a first attempt a person would write.
OLIST_KEYWORDS = re.compile(r"atras|n[ãa]o chegou|ainda n[ãa]o", re.I)
CFPB_KEYWORDS = re.compile(
    r"\b(?:told|promised|expected|still (?:waiting|haven['’]?t|have not))\b", re.I
)
CFPB_CHARS = 1200
SPLIT_SEED = 20261124


# -- Olist -------------------------------------------------------------------------------------


def detector_flags(text: str) -> dict[str, bool]:
    found = read_expectations(text)
    return {
        "any": bool(found),
        "unmet": any(e.kind == "unmet" for e in found),
        "unmet_deliver": any(e.kind == "unmet" and e.action == "deliver" for e in found),
    }


def load_olist() -> pd.DataFrame:
    o = pd.read_csv(DATA / "olist" / "olist_classified_public_dataset.csv.gz", index_col=0)
    o["text"] = o.review_comment_message.fillna("").astype(str)
    est = pd.to_datetime(o.order_estimated_delivery_date).dt.normalize()
    dlv = pd.to_datetime(o.order_delivered_customer_date)
    late = (dlv.dt.normalize() - est).dt.days > 0
    o["fact"] = np.where(dlv.isna(), "not delivered", np.where(late, "late", "on time"))
    # a fixed half for error reading (dev) and a half never read (test)
    rng = np.random.default_rng(SPLIT_SEED)
    o["half"] = np.where(rng.random(len(o)) < 0.5, "dev", "test")
    return o


def olist_eval(o: pd.DataFrame) -> dict[str, Any]:
    lab = o[o.most_voted_subclass.notna()].copy()
    flags = [detector_flags(t) for t in lab.text]
    for k in ("any", "unmet", "unmet_deliver"):
        lab[f"det_{k}"] = [f[k] for f in flags]
    lab["kw"] = [bool(OLIST_KEYWORDS.search(t)) for t in lab.text]
    out: dict[str, Any] = {"n": len(lab), "rows": {}}
    for part in ("all", "dev", "test"):
        d = lab if part == "all" else lab[lab.half == part]
        for wide in (False, True):
            gold = d.most_voted_subclass.isin(OLIST_POSITIVE_WIDE if wide else OLIST_POSITIVE)
            g = gold.tolist()
            key = (part, wide)
            out["rows"][key] = {
                "detector: any expectation": prf(d.det_any.tolist(), g),
                "detector: kind unmet": prf(d.det_unmet.tolist(), g),
                "detector: unmet + deliver": prf(d.det_unmet_deliver.tolist(), g),
                "keyword baseline": prf(d.kw.tolist(), g),
            }
    out["frame"] = lab
    # what the "any expectation" flag fires on among reviews people called satisfied
    sat = lab[lab.most_voted_class == "satisfeito_com_pedido"]
    out["satisfied_flagged"] = (int(sat.det_any.sum()), len(sat))
    out["satisfied_unmet"] = (int(sat.det_unmet.sum()), len(sat))
    return out


def olist_against_facts(o: pd.DataFrame) -> dict[str, Any]:
    """Run the real ledger, then ``expectations()``; and per review, detector vs delivery facts."""
    with tempfile.TemporaryDirectory() as tmp:
        from goodwill.store import open_store

        store = open_store(Path(tmp) / "olist.duckdb")
        ingest_file(store, DATA / "olist" / "olist_classified_public_dataset.csv.gz", "olist")
        ledger.build_ledger(store, as_of=AS_OF, heard=False)
        groups = ledger.expectations(store, source="olist", examples=2)
        store.close()
    per = []
    on_time_unmet: Counter[str] = Counter()
    for t, fact, sub in zip(o.text, o.fact, o.most_voted_subclass.fillna("no label"), strict=True):
        if not t.strip():
            continue
        found = read_expectations(t)
        if any(e.kind == "unmet" and e.action == "deliver" for e in found):
            said = "unmet delivery"
        elif any(e.action == "deliver" for e in found):
            said = "delivery expectation, not unmet"
        elif found:
            said = "other expectation only"
        else:
            said = "no expectation"
        per.append((said, fact))
        if said == "unmet delivery" and fact == "on time":
            on_time_unmet[sub] += 1
    table = Counter(per)
    # the ledger's own judgement, summed over the groups it reports
    judged: Counter[str] = Counter()
    for g in groups:
        for k in ("unwritten", "kept", "kept_late", "broken", "overdue", "open"):
            judged[f"{g['action']}:{k}"] += g[k]
    return {"table": table, "groups": groups, "judged": judged, "on_time_unmet": on_time_unmet}


def olist_lines(res: dict[str, Any], facts: dict[str, Any]) -> list[str]:
    lab = res["frame"]
    n_pos = int(lab.most_voted_subclass.isin(OLIST_POSITIVE).sum())
    lines = [
        "## Expectations heard in Olist reviews (Portuguese), against human votes and delivery facts",
        "",
        f"Set: the {res['n']:,} reviews of `olist_classified_public_dataset.csv.gz` that carry a most-voted "
        "label (171 have none and are left out). **Positive** = the customer states an unmet delivery "
        "expectation = `most_voted_subclass` is `atrasado` (late) or `entrega_parcial` (partial delivery): "
        f"{n_pos:,} reviews. Variant: also `outro_entrega` (other delivery problem). The detector is "
        "`read_expectations`; its flag is read three ways: any expectation found (what the ledger's "
        "`expectations()` counts as heard), one of kind `unmet`, one of kind `unmet` with action `deliver`. "
        f"Keyword baseline, fixed before the run: `{OLIST_KEYWORDS.pattern}`. `dev` and `test` are a fixed "
        f"random half each (seed {SPLIT_SEED}); only `dev` errors were read.",
        "",
    ]
    for wide in (False, True):
        title = "late or partial" if not wide else "late, partial or other delivery problem"
        lines += [
            f"Positive = {title}:",
            "",
            "| half | method | precision | recall | F1 | tp / predicted / gold |",
            "|---|---|---:|---:|---:|---|",
        ]
        for part in ("all", "dev", "test"):
            for name, r in res["rows"][(part, wide)].items():
                lines.append(prf_row(f"{part} | {name}", r))
        lines.append("")
    lines += [
        "**Before and after one fix.** The rows above are for the grammar after a fix found by reading "
        "errors on the `dev` half only: the Portuguese `unmet` patterns missed verb forms (`atrasou`, "
        "`demorou`), the `n` that many reviews write for `não`, an object pronoun or auxiliary before the verb "
        "(`não o recebi`, `não tenha recebido`), waiting (`aguardo`, `esperando`) and partial deliveries "
        "(`só veio`, `veio apenas`, `faltou`); a negated delay (`sem atraso`, `não demorou`) is kept out. "
        "Before the fix (commit eac98af), positive = late or partial, kind `unmet`: dev P 0.901 R 0.490 "
        "F1 0.635; **test P 0.876 R 0.480 F1 0.620**. After: the `test` rows above. The `test` half was "
        "never read, so its before/after change is a held-out measure of the fix; the `dev` rows are not.",
        "",
    ]
    s_any, s_n = res["satisfied_flagged"]
    s_unmet, _ = res["satisfied_unmet"]
    lines += [
        f"Among the {s_n:,} reviews voted *satisfied with the order*, the detector finds an expectation in "
        f"{s_any:,} ({100 * s_any / s_n:.1f}%) and an `unmet` one in {s_unmet:,} ({100 * s_unmet / s_n:.1f}%).",
        "",
        "### Set against what happened",
        "",
        "Per review with text (all 3,584, labelled or not): what the detector hears, against the delivery "
        "facts from the same file (late = delivered after the estimated *date*; not delivered = no "
        "delivery date).",
        "",
        "| detector hears | on time | late | not delivered | total |",
        "|---|---:|---:|---:|---:|",
    ]
    t = facts["table"]
    for said in (
        "unmet delivery",
        "delivery expectation, not unmet",
        "other expectation only",
        "no expectation",
    ):
        cells = [t.get((said, f), 0) for f in ("on time", "late", "not delivered")]
        lines.append(f"| {said} | " + " | ".join(f"{c:,}" for c in cells) + f" | {sum(cells):,} |")
    un = [t.get(("unmet delivery", f), 0) for f in ("on time", "late", "not delivered")]
    late_all = sum(v for (_, f), v in t.items() if f != "on time")
    lines += [
        "",
        f"When the detector hears an unmet delivery, the facts agree (late or not delivered) for "
        f"{un[1] + un[2]:,} of {sum(un):,} reviews ({100 * (un[1] + un[2]) / max(sum(un), 1):.1f}%); "
        f"it hears one for {un[1] + un[2]:,} of the {late_all:,} late or undelivered orders "
        f"({100 * (un[1] + un[2]) / max(late_all, 1):.1f}%). The {un[0]:,} unmet deliveries heard on orders "
        "delivered on time are, by the reviewers' most-voted subclass: "
        + ", ".join(f"{k} {v:,}" for k, v in facts["on_time_unmet"].most_common())
        + ". A partial delivery is on time by the order's date and still unmet for the customer: the "
        "order-level fact cannot see it, which is the point of hearing it.",
        "",
        "The ledger's own judgement (`goodwill.measure.promises.expectations(store, source='olist')` after "
        "`build_ledger`), summed per expected action: `unwritten` means no recorded promise of a matching "
        "action; otherwise the worst status of the matching promise.",
        "",
        "| action | heard | unwritten | kept | kept_late | broken |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    by_action: dict[str, Counter[str]] = {}
    for g in facts["groups"]:
        c = by_action.setdefault(g["action"], Counter())
        for k in ("heard", "unwritten", "kept", "kept_late", "broken"):
            c[k] += g[k]
    for action, c in sorted(by_action.items(), key=lambda kv: -kv[1]["heard"]):
        lines.append(
            f"| {action} | {c['heard']:,} | {c['unwritten']:,} | {c['kept']:,} | {c['kept_late']:,} | {c['broken']:,} |"
        )
    lines.append("")
    return lines


# -- CFPB --------------------------------------------------------------------------------------


def load_cfpb() -> list[dict[str, Any]]:
    c = pd.read_csv(
        DATA / "cfpb-complaints" / "complaints-with-narratives.csv.gz",
        dtype=str,
        keep_default_na=False,
    )
    text = dict(zip(c["Complaint ID"], c["Consumer complaint narrative"], strict=True))
    rows = []
    for line in (LABELS / "cfpb_expectation_labels.jsonl").read_text("utf-8").splitlines():
        r = json.loads(line)
        # the annotator read the first 1,200 characters with whitespace collapsed; so does the detector
        r["text"] = " ".join(text[r["complaint_id"]][:CFPB_CHARS].split())
        rows.append(r)
    return rows


def cfpb_eval(rows: list[dict[str, Any]]) -> dict[str, Any]:
    gold = [bool(r["states_told_or_expected"]) for r in rows]
    flags = [detector_flags(r["text"]) for r in rows]
    kinds = Counter(e.kind for r in rows for e in read_expectations(r["text"]))
    return {
        "n": len(rows),
        "rows": {
            "detector: any expectation": prf([f["any"] for f in flags], gold),
            "keyword baseline": prf([bool(CFPB_KEYWORDS.search(r["text"])) for r in rows], gold),
        },
        "kinds": kinds,
        "misses": [
            r["complaint_id"]
            for r, f, g in zip(rows, flags, gold, strict=True)
            if g and not f["any"]
        ],
        "false": [
            r["complaint_id"]
            for r, f, g in zip(rows, flags, gold, strict=True)
            if f["any"] and not g
        ],
    }


def cfpb_lines(res: dict[str, Any]) -> list[str]:
    g = res["rows"]["keyword baseline"]["gold"]
    lines = [
        "## Expectations heard in CFPB narratives (English), hand-labelled sample",
        "",
        f"Set: {res['n']} narratives drawn from `complaints-with-narratives.csv.gz` with "
        f"`DataFrame.sample(n=120, random_state={SPLIT_SEED})`, read as their first {CFPB_CHARS:,} characters "
        "(whitespace collapsed), and labelled by one annotator (the engineer who wrote this evaluation) "
        "*before* the detector was run on them. **Positive** = the text states what the company (its "
        "staff, letters, website, contract or adverts) told, promised or assured the consumer would happen "
        "or what the terms were (refusals included), or what the consumer expected or was supposed to get, "
        "or that they are still waiting for something told or expected. Negative = disputes, fraud reports "
        "and demands with none of that. "
        f"{g} of {res['n']} are positive. Labels (complaint ids only): "
        "`tests/data/promises/cfpb_expectation_labels.jsonl`. No agreement figure: one annotator. "
        f"Keyword baseline, fixed before the run: `{CFPB_KEYWORDS.pattern}`.",
        "",
        "| method | precision | recall | F1 | tp / predicted / gold |",
        "|---|---:|---:|---:|---|",
    ]
    for name, r in res["rows"].items():
        lines.append(prf_row(name, r))
    lines += [
        "",
        f"Expectations found, by kind: {dict(res['kinds'])}.",
        "",
    ]
    return lines


# -- TWCS: heard promises on tweets never used for tuning --------------------------------------------


def load_fresh() -> list[dict[str, Any]]:
    tw = pd.read_csv(
        DATA / "twcs" / "twcs-complete-threads.csv.gz", dtype=str, keep_default_na=False
    )
    text = dict(zip(tw.tweet_id, tw.text, strict=True))
    rows = []
    for line in (LABELS / "fresh_tweet_labels.jsonl").read_text("utf-8").splitlines():
        r = json.loads(line)
        r["text"] = text[r["tweet_id"]]
        r["made_at"] = dt.datetime.strptime(r["created_at"], "%a %b %d %H:%M:%S %z %Y")
        r.setdefault("evidence", None)
        rows.append(r)
    return rows


def fresh_eval(rows: list[dict[str, Any]]) -> dict[str, Any]:
    out = {}
    for name, reader in READERS.items():
        out[name] = evaluate(rows, reader)
    # the first 150 in the seeded order: the sample size the brief asked for
    out["first150"] = {name: evaluate(rows[:150], reader) for name, reader in READERS.items()}
    return out


def fresh_lines(res: dict[str, Any], rows: list[dict[str, Any]]) -> list[str]:
    n = len(rows)
    p = sum(r["is_promise"] for r in rows)
    v = sum(r["vague"] for r in rows)
    lines = [
        "## Heard promises on the 419 other extract tweets (held out once, development data since)",
        "",
        f"No labelled promise data was left unseen: all 1,200 labelled tweets were used to revise the grammar. "
        f"The extract holds 1,619 company tweets; the {n} not in `promise-labels.jsonl` were put in a fixed "
        f"random order (`sample(frac=1, random_state={SPLIT_SEED})`) and **all {n}** were hand-labelled by one "
        "annotator (the engineer who wrote this evaluation) following `PROMISES.md`, reading each tweet with "
        "the customer tweet it answers, *before* the extractor was run on any of them. Ids and labels only: "
        "`tests/data/promises/fresh_tweet_labels.jsonl`. "
        f"{p} promises ({100 * p / n:.1f}%), {v} vague, {n - p - v} other. The guide's borderline cases were "
        "followed as written (conditional offers such as 'DM us and we'll take a look' are vague; an offer "
        "of help plus a bare request such as 'happy to help, can you DM the address?' is other, as in the "
        "guide's own examples).",
        "",
        "| set | field | method | precision | recall | F1 | tp / predicted / gold |",
        "|---|---|---|---|---:|---:|---|",
    ]
    for label, block in ((f"all {n}", res), ("first 150", res["first150"])):
        for field in ("is_promise", "action", "vague"):
            for name in READERS:
                f = block[name][field]
                lines.append(
                    f"| {label} | {field} | {name} | {f['precision']:.3f} | {f['recall']:.3f} | {f['f1']:.3f} | "
                    f"{f['tp']} / {f['predicted']} / {f['gold']} |"
                )
    g = res["grammar"]
    lines += [
        "",
        "**Held-out numbers are the ones from before the fix.** Run on these labels first (grammar as of "
        "commit eac98af): is_promise P 0.538 R 0.778 F1 0.636 (7 / 13 / 9), action P 0.385 R 0.556 F1 0.455, "
        "vague P 0.577 R 0.720 F1 0.641; keyword baseline is_promise F1 0.071. Reading those errors showed "
        "one general bug, an adverb between the modal and the verb hid vague talk from the vague-verb "
        "filter ('we'll *absolutely* pass on your feedback', 'I will *definitely* pass that insight over'), "
        "and a too-narrow 'let the team know' ('let the right team know'). Both were fixed (tests in "
        "`tests/promises/test_expectations_eval.py`); the rows above are after that fix and after the later "
        "revisions that used these tweets as development data, and are therefore **no longer out of sample**; "
        "the current held-out figures are in 'Who made a heard promise, and extraction on a new held-out "
        "sample' below. The fix changed the in-sample 1,200-tweet figures from is_promise P "
        "0.844 to 0.871 (recall 1.000 both). With 9 promises, every figure here has a very wide interval "
        "(7/9 recall: Wilson 95% 0.45–0.94).",
        "",
        "Errors of the grammar on is_promise (all of them):",
        "",
    ]
    for e in g["errors"]:
        kind = "missed" if e["gold"] else "false promise"
        lines.append(
            f"- {kind} (tweet {e['tweet_id']}, labelled {'vague' if e['vague'] else 'promise' if e['gold'] else 'other'})"
        )
    lines.append("")
    return lines


def build(sections: tuple[str, ...] = ("olist", "cfpb", "fresh")) -> list[str]:
    lines: list[str] = [
        BEGIN,
        "",
        "Held-out evaluations. Date 2026-11-24, same machine. Command: "
        "`.venv/bin/python benchmarks/promises_eval_expectations.py --write` (also run by "
        "`benchmarks/bench_promises.py`); about 5 s.",
        "",
    ]
    if "olist" in sections:
        o = load_olist()
        lines += olist_lines(olist_eval(o), olist_against_facts(o))
    if "cfpb" in sections:
        lines += cfpb_lines(cfpb_eval(load_cfpb()))
    if "fresh" in sections:
        rows = load_fresh()
        lines += fresh_lines(fresh_eval(rows), rows)
    lines += [END]
    return lines


def write(block: str, path: Path = RESULTS) -> None:
    text = path.read_text("utf-8")
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
        text = head + block + tail
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text, "utf-8")


def main(argv: list[str] | None = None, run: Callable[..., list[str]] = build) -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--write", action="store_true", help="replace the block in results/promises.md")
    ap.add_argument("--only", choices=["olist", "cfpb", "fresh"], default=None)
    args = ap.parse_args(argv)
    block = "\n".join(run((args.only,) if args.only else ("olist", "cfpb", "fresh")))
    if args.write:
        write(block)
    print(block)


if __name__ == "__main__":
    main()
