"""Evaluate and time ``goodwill lint`` against a bag-of-words baseline, in one run.

    .venv/bin/python benchmarks/bench_lint.py [--data DIR] [--out benchmarks/results/lint.md]
        [--speed-only] [--quick] [--no-prefilter]

1. Held-out split of the Yada dark-pattern set (by page, seed 0): precision and recall per category
   for the baseline (word counts + logistic regression, scikit-learn), our classifier recipe alone,
   the explainable patterns alone, and the lint as shipped (patterns first, classifier only at high
   confidence). The classifier is retrained on the training pages here, so no test page is seen.
2. False alarms on ordinary company copy: company replies in the TWCS support threads
   (inbound=False) and company public responses in the CFPB files.
3. Throughput of ``lint_text`` on one process, with the needle pre-check and without it (every
   regex on every text: the plain path), beside the baseline's.

``--speed-only`` runs part 3 alone and rewrites only its section of the results file; ``--quick``
is a short speed run that prints and writes nothing; ``--no-prefilter`` runs parts 1-2 on the
plain path, whose tables must come out the same.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from goodwill.lint import LintConfig, lint_text  # noqa: E402
from goodwill.lint._classifier import NOT_DARK, load_model  # noqa: E402
from goodwill.lint._config import DEFAULT_THRESHOLD  # noqa: E402
from goodwill.lint.train import fit, load_yada, split_by_page  # noqa: E402
from lint_review import VERDICTS  # noqa: E402

CATEGORIES = [
    "Urgency",
    "Scarcity",
    "Social Proof",
    "Misdirection",
    "Obstruction",
    "Sneaking",
    "Forced Action",
]
# Our categories are finer than the published ones: confirmshaming is a kind of misdirection there.
TO_PUBLISHED = {
    "urgency": "Urgency",
    "scarcity": "Scarcity",
    "social proof": "Social Proof",
    "misdirection": "Misdirection",
    "confirmshaming": "Misdirection",
    "obstruction": "Obstruction",
    "sneaking": "Sneaking",
    "forced action": "Forced Action",
}


def data_dir(arg: Path | None) -> Path:
    if arg:
        return arg
    return Path(os.environ.get("GOODWILL_DATA", ROOT / ".." / "shared" / "data"))


def company_texts(root: Path) -> dict[str, list[str]]:
    twcs = pd.read_csv(root / "twcs/twcs-complete-threads.csv.gz", dtype=str, keep_default_na=False)
    replies = twcs.loc[twcs["inbound"] == "False", "text"].tolist()
    responses: list[str] = []
    for path in sorted((root / "cfpb-complaints").glob("*.csv.gz")):
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        col = frame.get("Company public response")
        if col is not None:
            responses += [t for t in col.tolist() if t.strip() and t.strip() != "None"]
    return {
        "TWCS company replies": replies,
        "CFPB company public responses (rows)": responses,
        "CFPB company public responses (distinct)": sorted(set(responses)),
    }


def lint_categories(texts: Sequence[str], config: LintConfig) -> list[set[str]]:
    out = []
    for text in texts:
        found = lint_text(text, "copy", config)
        out.append(
            {
                TO_PUBLISHED.get(f.category, f.category.title())
                for f in found
                if f.code.startswith("GW1")
            }
        )
    return out


def scores(preds: Sequence[set[str]], gold: Sequence[str]) -> dict[str, tuple[float, float, int]]:
    table: dict[str, tuple[float, float, int]] = {}
    for cat in CATEGORIES:
        tp = sum(1 for p, g in zip(preds, gold, strict=True) if g == cat and cat in p)
        fp = sum(1 for p, g in zip(preds, gold, strict=True) if g != cat and cat in p)
        fn = sum(1 for p, g in zip(preds, gold, strict=True) if g == cat and cat not in p)
        table[cat] = (
            tp / (tp + fp) if tp + fp else float("nan"),
            tp / (tp + fn) if tp + fn else float("nan"),
            tp + fn,
        )
    tp = sum(1 for p, g in zip(preds, gold, strict=True) if g != NOT_DARK and p)
    fp = sum(1 for p, g in zip(preds, gold, strict=True) if g == NOT_DARK and p)
    fn = sum(1 for p, g in zip(preds, gold, strict=True) if g != NOT_DARK and not p)
    table["any dark pattern"] = (
        tp / (tp + fp) if tp + fp else float("nan"),
        tp / (tp + fn),
        tp + fn,
    )
    return table


def fmt(x: float) -> str:
    return "–" if x != x else f"{x:.2f}"


def rate(fn: Callable[[list[str]], object], texts: list[str]) -> tuple[float, float]:
    """Texts per second of wall time, and per second of this process's CPU time.

    On the shared machine the wall rate falls with other people's load; the CPU rate is what one
    CPU of our own does, and moves far less.
    """
    wall, cpu = time.perf_counter(), time.process_time()
    fn(texts)
    return (
        len(texts) / (time.perf_counter() - wall),
        len(texts) / max(time.process_time() - cpu, 1e-9),
    )


@dataclass
class Speed:
    rates: dict[str, float]
    cpu_rates: dict[str, float]
    repeats: int
    n_texts: int
    load: float


def speed_corpus(root: Path) -> list[str]:
    # 4,000 short texts as they come: TWCS company replies, then Yada shop texts.
    twcs = company_texts(root)["TWCS company replies"]
    return (twcs + [e.text for e in load_yada(root)])[:4000]


def throughput(
    corpus: list[str], extra: dict[str, Callable[[list[str]], object]], repeats: int = 3
) -> Speed:
    """Texts/s of each system, best of ``repeats``; systems take turns so load hits them alike."""
    fast = LintConfig()
    plain = fast.with_overrides(prefilter=False)
    systems: dict[str, Callable[[list[str]], object]] = {
        "copy, pre-checked": lambda ts: [lint_text(t, "copy", fast) for t in ts],
        "copy, plain": lambda ts: [lint_text(t, "copy", plain) for t in ts],
        "internal, pre-checked": lambda ts: [lint_text(t, "internal", fast) for t in ts],
        "internal, plain": lambda ts: [lint_text(t, "internal", plain) for t in ts],
        **extra,
    }
    for system in systems.values():
        system(corpus[:50])  # first-use costs (model load, word caches) are not throughput
    best: dict[str, float] = {}
    best_cpu: dict[str, float] = {}
    for _ in range(repeats):
        for name, system in systems.items():
            wall, cpu = rate(system, corpus)
            best[name] = max(best.get(name, 0.0), wall)
            best_cpu[name] = max(best_cpu.get(name, 0.0), cpu)
    return Speed(best, best_cpu, repeats, len(corpus), os.getloadavg()[0])


def speed_lines(speed: Speed) -> list[str]:
    r, c = speed.rates, speed.cpu_rates
    copy_x = c["copy, pre-checked"] / c["copy, plain"]
    internal_x = c["internal, pre-checked"] / c["internal, plain"]
    lines = [
        f"### Throughput (one process, texts as they come: {speed.n_texts:,} short company replies and shop texts)",
        "",
        "Command: `.venv/bin/python benchmarks/bench_lint.py --speed-only` (this section alone, about a",
        "minute), or the full command above. Machine: 2 vCPU shared, 24 GiB, no GPU. Date: 2026-11-24.",
        f"Load average on the shared 2-CPU machine when measured: {speed.load:.1f} (other engineers' jobs",
        f"run beside it; rates scale down with it). Best of {speed.repeats} run(s), the systems taking turns, so the",
        "pre-checked and plain rows see the same load. Texts per CPU-second counts only the time this",
        "process ran on a CPU: it is the \"on one CPU\" figure, and moves far less with load than the",
        "wall-clock rate.",
        "",
        "| what | texts per CPU-second | texts/s (wall clock) | vs plain (CPU) |",
        "|---|---|---|---|",
        f"| `lint_text(kind='copy')`, needle pre-check (shipped): patterns, lexicon, classifier | {c['copy, pre-checked']:,.0f} | {r['copy, pre-checked']:,.0f} | {copy_x:.1f}× |",
        f"| `lint_text(kind='copy')`, plain path: every regex on every text | {c['copy, plain']:,.0f} | {r['copy, plain']:,.0f} | 1.0× |",
        f"| `lint_text(kind='internal')`, needle pre-check (shipped): lexicon | {c['internal, pre-checked']:,.0f} | {r['internal, pre-checked']:,.0f} | {internal_x:.1f}× |",
        f"| `lint_text(kind='internal')`, plain path | {c['internal, plain']:,.0f} | {r['internal, plain']:,.0f} | 1.0× |",
    ]
    if "baseline" in r:
        lines.append(
            f"| baseline: word counts + LR (scikit-learn, batched) | {c['baseline']:,.0f} | {r['baseline']:,.0f} | |"
        )
    lines += [
        "",
        "The pre-check: from each rule regex's parse tree the lint derives needles, words one of which",
        'every match must contain (`hurry|act\\s+now` needs "hurry" or "act"); a text holding none of a',
        "regex's needles is not run through it. The text is folded the way `re.IGNORECASE` compares it",
        "(the long s, dotless i, dotted capital I and Kelvin sign read as s, i, i, k), so the skip is",
        "exact: tests compare both paths finding for finding on the committed Yada sample, the example",
        "templates and generated texts, and `--no-prefilter` reruns the tables above on the plain path.",
        "Both rows share two changes that are not the pre-check: the rules to run are worked out once",
        "per config instead of per text, and the classifier tokenises each sentence once instead of",
        "twice. So the plain row is a little faster than the code before this change.",
        "",
        "Weaknesses: needles are chosen by length, not by how rare a word is, so a few regexes (the",
        "countdown timers, whose only literals are `:` or `d`) still run on most texts; the classifier,",
        "which no pre-check skips, is now most of the copy path's time.",
        "",
    ]
    return lines


def replace_speed_section(out: Path, lines: list[str]) -> None:
    """Swap the throughput section for ``lines``, keeping any section written after it."""
    head, _, rest = out.read_text(encoding="utf-8").partition("### Throughput")
    _, heading, tail = rest.partition("\n### ")
    out.write_text(head + "\n".join(lines) + "\n" + heading.lstrip("\n") + tail, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/lint.md")
    parser.add_argument(
        "--speed-only", action="store_true", help="time the lint only; rewrite that section"
    )
    parser.add_argument(
        "--quick", action="store_true", help="a short speed run (1,000 texts) that writes nothing"
    )
    parser.add_argument(
        "--no-prefilter",
        action="store_true",
        help="evaluate on the plain path (every regex on every text); the tables must not change",
    )
    args = parser.parse_args()
    root = data_dir(args.data)
    if args.speed_only or args.quick:
        corpus = speed_corpus(root)[: 1000 if args.quick else None]
        lines = speed_lines(throughput(corpus, {}, repeats=1 if args.quick else 3))
        if not args.quick:
            replace_speed_section(args.out, lines)
        print("\n".join(lines))
        return
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression

    examples = load_yada(root)
    train, test = split_by_page(examples)
    gold = [e.category for e in test]
    test_texts = [e.text for e in test]

    # Baseline: bag of words (counts) + logistic regression, the usual first model for this set.
    vec = CountVectorizer(lowercase=True)
    base = LogisticRegression(max_iter=2000, random_state=0)
    base.fit(vec.fit_transform([e.text for e in train]), [e.category for e in train])

    def base_predict(texts: list[str]) -> list[set[str]]:
        return [set() if c == NOT_DARK else {c} for c in base.predict(vec.transform(texts))]

    # Our recipe, trained on the training pages only, written where the lint can load it.
    model_file = Path(tempfile.mkdtemp()) / "model-train-split.json"
    model_file.write_text(json.dumps(fit([e.text for e in train], [e.category for e in train])))
    held_model = load_model(str(model_file))

    def clf_predict(texts: list[str]) -> list[set[str]]:
        out = []
        for t in texts:
            p_dark, cat = held_model.predict(t)
            out.append({cat} if p_dark >= 0.5 else set())
        return out

    plain = args.no_prefilter
    shipped = LintConfig().with_overrides(model_path=str(model_file), prefilter=not plain)
    patterns_only = shipped.with_overrides(classifier=False)
    systems: dict[str, Callable[[list[str]], list[set[str]]]] = {
        "baseline: word counts + LR": base_predict,
        "our classifier alone (p≥0.5)": clf_predict,
        "patterns alone": lambda ts: lint_categories(ts, patterns_only),
        f"goodwill lint (patterns + classifier p≥{DEFAULT_THRESHOLD})": lambda ts: lint_categories(
            ts, shipped
        ),
    }
    results = {name: scores(fn(test_texts), gold) for name, fn in systems.items()}

    # Confirmshaming has its own label only in the Princeton set (GPL-3.0, evaluation only).
    princeton = pd.read_csv(
        root / "dark-patterns-princeton/dark-patterns.csv.gz", dtype=str, keep_default_na=False
    )
    shaming = {
        t.strip()
        for t in princeton.loc[princeton["Pattern Type"] == "Confirmshaming", "Pattern String"]
    }
    shaming_test = [t for t in test_texts if t.strip() in shaming]
    shaming_hits = sum(
        1
        for t in shaming_test
        if any(f.code == "GW105" for f in lint_text(t, "copy", patterns_only))
    )

    company = company_texts(root)
    # How the classifier's threshold trades recall on the held-out shop texts against false alarms
    # on company replies (patterns off, so this is the classifier's own contribution).
    twcs_segments = company["TWCS company replies"]
    sweep = []
    for threshold in (0.5, 0.9, 0.95, 0.98, 0.99):
        cfg = shipped.with_overrides(threshold=threshold, select=("GW190",))
        recall = sum(
            1
            for t, g in zip(test_texts, gold, strict=True)
            if g != NOT_DARK and lint_text(t, "copy", cfg)
        ) / sum(1 for g in gold if g != NOT_DARK)
        cfg_real = LintConfig().with_overrides(
            threshold=threshold, select=("GW190",), prefilter=not plain
        )
        flagged = sum(1 for t in twcs_segments if lint_text(t, "copy", cfg_real)) / len(
            twcs_segments
        )
        sweep.append((threshold, recall, flagged))
    # The model as shipped, for texts it was never trained on.
    shipped_real = LintConfig().with_overrides(prefilter=not plain)
    fp_rows = []
    flagged_twcs: list[tuple[str, list[str]]] = []
    for name, texts in company.items():
        base_flags = sum(1 for p in base_predict(texts) if p)
        lint_found = [lint_text(t, "copy", shipped_real) for t in texts]
        pat_flags = sum(1 for fs in lint_found if any(f.source == "pattern" for f in fs))
        clf_flags = sum(1 for fs in lint_found if any(f.source == "classifier" for f in fs))
        any_flags = sum(1 for fs in lint_found if any(f.code.startswith("GW1") for f in fs))
        fp_rows.append((name, len(texts), base_flags, pat_flags, clf_flags, any_flags))
        if name.startswith("TWCS"):
            flagged_twcs = [
                (t, [f"{f.code} {f.excerpt}" for f in fs if f.code.startswith("GW1")])
                for t, fs in zip(texts, lint_found, strict=True)
                if any(f.code.startswith("GW1") for f in fs)
            ]

    speed = throughput(speed_corpus(root), {"baseline": lambda ts: base_predict(ts)})

    lines = [
        "## Lint: dark patterns and belittling language (`goodwill.lint`)",
        "",
        f"Machine: 2 vCPU, 24 GiB, {platform.python_implementation()} {platform.python_version()}, no GPU. Date: 2026-11-24.",
        "Command: `.venv/bin/python benchmarks/bench_lint.py` (about a minute). Seed 0 throughout.",
        "",
        f"### Held-out split of the Yada set ({len(train)} training texts, {len(test)} test texts, split by page)",
        "",
        "Precision / recall per published category. The baseline and our classifier are trained in this",
        "run on the training pages only. Categories with few test texts (n) are noisy: read them as anecdotes.",
        "",
        "| category | n | " + " | ".join(results) + " |",
        "|---|---|" + "---|" * len(results),
    ]
    for cat in [*CATEGORIES, "any dark pattern"]:
        n = next(iter(results.values()))[cat][2]
        cells = " | ".join(f"{fmt(r[cat][0])} / {fmt(r[cat][1])}" for r in results.values())
        lines.append(f"| {cat} | {n} | {cells} |")
    lines += [
        "",
        "Reading the table: the published set labels each text with one category, the lint may give",
        'several ("Hurry! Only 2 left" is urgency and scarcity), so urgency precision counts scarcity texts',
        "that also say \"hurry\" as errors. The patterns were written from domain knowledge, the",
        "training pages and a random look at a few dozen rows of the whole set before the split was",
        "fixed, so their held-out numbers may be a little optimistic; the classifier's are not. The",
        "published set is easy (its negatives are shop navigation strings): the baseline's 0.99 precision",
        "here becomes 7.8% of honest company replies flagged below.",
        "",
        f"Confirmshaming (Princeton's Pattern Type, joined by text to the test split): GW105 found "
        f"{shaming_hits} of {len(shaming_test)}.",
        "",
        "Classifier threshold (classifier alone, as the lint runs it: per sentence, abstaining when it",
        "knows fewer than 3 of the words): recall on the held-out dark patterns vs share of TWCS company",
        "replies flagged. The shipped threshold was chosen from this table, so the TWCS rate at it is",
        "not an unseen-data estimate; the CFPB responses and `examples/templates` are.",
        "",
        "| threshold | held-out recall | TWCS replies flagged |",
        "|---|---|---|",
        *[f"| {t} | {r:.2f} | {f:.1%} |" for t, r, f in sweep],
        "",
        "### False alarms on ordinary company copy (real texts, none of them dark patterns by intent)",
        "",
        "Share of texts flagged by any dark-pattern rule (GW1xx). Baseline = the same word-count LR.",
        "The lint here uses the model as shipped (trained on all of Yada, which holds none of these texts).",
        "",
        "| texts | n | baseline flags | patterns flag | classifier flags | goodwill lint flags |",
        "|---|---|---|---|---|---|",
    ]
    for name, n, b, p, c, a in fp_rows:
        lines.append(
            f"| {name} | {n} | {b} ({b / n:.1%}) | {p} ({p / n:.1%}) | {c} ({c / n:.1%}) | {a} ({a / n:.1%}) |"
        )
    reviewed = [(t, VERDICTS.get(t[:60])) for t, _ in flagged_twcs]
    real = sum(1 for _, v in reviewed if v and v[0])
    false = sum(1 for _, v in reviewed if v and not v[0])
    missing = sum(1 for _, v in reviewed if v is None)
    lines += [
        "",
        f"Hand review: every TWCS reply the lint flagged ({len(flagged_twcs)}) was read by a person; "
        f"{real} are real dark patterns, {false} are false alarms, {missing} not reviewed. "
        "Verdicts are data in `benchmarks/lint_review.py`:",
        "",
    ]
    for (text, hits), (_, verdict) in zip(flagged_twcs, reviewed, strict=True):
        mark = (
            "not reviewed"
            if verdict is None
            else ("real" if verdict[0] else "false alarm") + f": {verdict[1]}"
        )
        short = " ".join(text.split())[:110].replace("|", "/")
        lines.append(f"- `{'; '.join(hits)[:80]}` in “{short}” — {mark}")
    lines += [
        "",
        *speed_lines(speed),
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
