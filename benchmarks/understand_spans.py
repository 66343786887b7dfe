"""Evaluate the expectation / repeat-contact / effort span taggers on hand-labelled real texts.

    .venv/bin/python benchmarks/understand_spans.py [--out FILE]
    .venv/bin/python benchmarks/understand_spans.py --draw-dev FILE   # the dev sample, unlabelled
    .venv/bin/python benchmarks/understand_spans.py --speed [--before REV] [--out FILE]

Two label files in tests/data/understand (see its README):

- ``span_labels_dev.csv``: the development set. The patterns were written while reading it, so
  its scores are optimistic and are reported as *dev*, never as the tagger's quality.
- ``span_labels.csv``: the test set, not read while writing the patterns.

Both taggers (the patterns and the one-keyword baseline) are scored on both sets in the same
run. A text counts as found for a kind when the tagger puts at least one span of that kind in it.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "benchmarks"))

from evalstats import prf  # noqa: E402
from goodwill.understand.spans import KeywordSpanTagger, PatternSpanTagger, _engine, _reference_tag  # noqa: E402

DATA = Path(os.environ.get("GOODWILL_DATA", REPO.parent / "shared" / "data"))
LABELS = REPO / "tests" / "data" / "understand"
TEST = LABELS / "span_labels.csv"
DEV = LABELS / "span_labels_dev.csv"
KINDS = ("expectation", "repeat_contact", "effort")
CUT = 1500
DEV_SEED = 2026
LINES: list[str] = []


def say(line: str = "") -> None:
    print(line, flush=True)
    LINES.append(line)


def _cfpb() -> pd.DataFrame:
    path = DATA / "cfpb-complaints" / "complaints-with-narratives.csv.gz"
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def _tweets() -> pd.DataFrame:
    path = DATA / "airline-sentiment" / "Tweets.csv.gz"
    return pd.read_csv(path, dtype={"tweet_id": str}).drop_duplicates("tweet_id")


def draw_dev() -> pd.DataFrame:
    """The dev sample: same sources, mix and cut as the test set, none of its texts.

    The test set took ``sample(100, random_state=7)`` of the narratives and ``sample(50,
    random_state=7)`` of the de-duplicated tweets. Here every test id *and* every test text
    (some narratives and tweets are published twice under different ids) is removed first, and
    repeated texts are kept once, so no dev text is a test text or another dev text.
    """
    test = pd.read_csv(TEST, dtype=str, keep_default_na=False)
    tweets = _tweets()
    by_id = dict(zip(tweets["tweet_id"], tweets["text"], strict=True))
    test_texts = {t if s == "cfpb" else by_id[i] for s, i, t in zip(test["source"], test["id"], test["text"], strict=True)}
    test_ids = set(test["id"])

    cfpb = _cfpb()
    cfpb["cut"] = cfpb["Consumer complaint narrative"].str[:CUT]
    cfpb = cfpb[~cfpb["Complaint ID"].isin(test_ids) & ~cfpb["cut"].isin(test_texts)].drop_duplicates("cut")
    c = cfpb.sample(100, random_state=DEV_SEED)
    tweets = tweets[~tweets["tweet_id"].isin(test_ids) & ~tweets["text"].isin(test_texts)].drop_duplicates("text")
    a = tweets.sample(50, random_state=DEV_SEED)
    # Tweets' licence is not stated: only their id is committed, as in the test set.
    return pd.concat(
        [
            pd.DataFrame({"source": "cfpb", "id": c["Complaint ID"], "text": c["cut"]}),
            pd.DataFrame({"source": "airline", "id": a["tweet_id"], "text": ""}),
        ],
        ignore_index=True,
    )


def load(path: Path) -> tuple[pd.DataFrame, list[str]]:
    """The label rows and their texts (tweets read from GOODWILL_DATA by id)."""
    labels = pd.read_csv(path, dtype=str, keep_default_na=False)
    by_id = dict(zip(*(_tweets()[c] for c in ("tweet_id", "text")), strict=True))
    texts = [t if s == "cfpb" else by_id[i] for s, i, t in zip(labels["source"], labels["id"], labels["text"], strict=True)]
    return labels, texts


def wilson(k: int, n: int) -> str:
    """95% Wilson interval of k/n: with 30-40 labelled texts a kind's recall is known to about ±0.15."""
    if n == 0:
        return "n/a"
    z = 1.96
    p = k / n
    mid = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return f"{max(0.0, mid - half):.2f}–{min(1.0, mid + half):.2f}"


def found_kinds(tagger: PatternSpanTagger | KeywordSpanTagger, texts: list[str]) -> dict[str, np.ndarray]:
    """Per kind, whether the tagger put at least one span of it in each text."""
    f = tagger.tag(texts)
    out = {}
    for k in KINDS:
        hit = np.zeros(len(texts), dtype=bool)
        hit[[r for r, kind in zip(f.row, f.kind, strict=True) if kind == k]] = True
        out[k] = hit
    return out


def score(path: Path, role: str) -> None:
    labels, texts = load(path)
    source = labels["source"].to_numpy()
    n_cfpb = int((source == "cfpb").sum())
    n_air = int((source == "airline").sum())
    say(
        f"**{role}** (`{path.relative_to(REPO)}`): {len(labels)} texts ({n_cfpb} CFPB narratives cut to "
        f"{CUT:,} characters, {n_air} airline tweets)."
    )
    say("")
    say("| kind | texts with it | tagger | precision (95% CI) | recall (95% CI) | F1 | TP / predicted / labelled |")
    say("|---|---|---|---|---|---|---|")
    taggers = (PatternSpanTagger(), KeywordSpanTagger())
    found = {t.name: found_kinds(t, texts) for t in taggers}
    for k in KINDS:
        gold = [v == "1" for v in labels[k]]
        for t in taggers:
            res = prf(found[t.name][k].tolist(), gold)
            base = " (baseline)" if isinstance(t, KeywordSpanTagger) else ""
            say(
                f"| {k} | {res['gold']} | {t.name}{base} | {res['precision']:.2f} ({wilson(res['tp'], res['predicted'])}) | "
                f"{res['recall']:.2f} ({wilson(res['tp'], res['gold'])}) | "
                f"{res['f1']:.2f} | {res['tp']} / {res['predicted']} / {res['gold']} |"
            )
    say("")
    say("By source (TP / predicted / labelled):")
    say("")
    say("| kind | tagger | CFPB narratives | airline tweets |")
    say("|---|---|---|---|")
    for k in KINDS:
        gold = labels[k].to_numpy() == "1"
        for t in taggers:
            cells = []
            for src in ("cfpb", "airline"):
                m = source == src
                res = prf(found[t.name][k][m].tolist(), gold[m].tolist())
                cells.append(f"{res['tp']} / {res['predicted']} / {res['gold']}")
            say(f"| {k} | {t.name} | {cells[0]} | {cells[1]} |")
    say("")


def speed() -> None:
    """CPU time of each tagger over every narrative (whole, not cut) and every tweet."""
    sets = {
        "7,293 CFPB narratives (whole)": list(_cfpb()["Consumer complaint narrative"]),
        "14,485 airline tweets": list(_tweets()["text"]),
    }
    say("Speed, one process, CPU seconds (the machine is shared; CPU time, not wall time):")
    say("")
    say("| texts | tagger | CPU s | texts per CPU-second |")
    say("|---|---|---|---|")
    for name, texts in sets.items():
        for t in (PatternSpanTagger(), KeywordSpanTagger()):
            t0 = time.process_time()
            t.tag(texts)
            dt = time.process_time() - t0
            say(f"| {name} | {t.name} | {dt:.1f} | {len(texts) / dt:,.0f} |")
    say("")


def _tagger_at(rev: str) -> Any:
    """spans-patterns-v2 as ``src/goodwill/understand/spans.py`` was at git revision ``rev``."""
    source = subprocess.run(["git", "show", f"{rev}:src/goodwill/understand/spans.py"], cwd=REPO,
                            check=True, capture_output=True, text=True).stdout
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "spans_before.py"
        path.write_text(source, encoding="utf-8")
        spec = importlib.util.spec_from_file_location("spans_before", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return module.PatternSpanTagger()


def _spans(found: Any) -> list[tuple[int, str, int, int]]:
    return list(zip(found.row.tolist(), found.kind, found.start.tolist(), found.end.tolist(), strict=True))


def speed_compare(before: str | None, repeat: int) -> None:
    """The fast path against the plain loop (every pattern over every whole text) and, with
    ``before``, against the tagger as committed at that revision: CPU time, same process,
    interleaved, median of ``repeat`` runs; the spans must be identical."""
    sets = {
        "7,293 CFPB narratives (whole)": list(_cfpb()["Consumer complaint narrative"]),
        "14,485 airline tweets": list(_tweets()["text"]),
    }
    t0 = time.process_time()
    _engine()
    build = time.process_time() - t0
    taggers: list[tuple[str, Any]] = [
        ("spans-patterns-v2, fast path (`PatternSpanTagger`)", PatternSpanTagger().tag),
        ("spans-patterns-v2, plain loop (`_reference_tag`)", _reference_tag),
    ]
    if before:
        taggers.append((f"spans-patterns-v2 as committed at {before}", _tagger_at(before).tag))
    taggers.append(("spans-keywords-v1 (baseline)", KeywordSpanTagger().tag))
    say(f"Each tagger over every text, CPU seconds of this process (`time.process_time`), median of {repeat} "
        "runs taken in turn; the fast path's plans are made once per process before timing "
        f"({build:.2f} CPU s here).")
    say("")
    say("| texts | tagger | CPU s (median) | texts per CPU-second | x plain loop |")
    say("|---|---|---|---|---|")
    for name, texts in sets.items():
        times: dict[str, list[float]] = {label: [] for label, _ in taggers}
        outputs: dict[str, Any] = {}
        for _ in range(repeat):
            for label, tag in taggers:
                t0 = time.process_time()
                found = tag(texts)
                times[label].append(time.process_time() - t0)
                outputs[label] = _spans(found)
        labels = [label for label, _ in taggers]
        for label in labels[1:-1]:
            if outputs[label] != outputs[labels[0]]:
                raise SystemExit(f"{label} and the fast path found different spans on {name}")
        plain = statistics.median(times[labels[1]])
        for label in labels:
            dt = statistics.median(times[label])
            say(f"| {name} | {label} | {dt:.2f} | {len(texts) / dt:,.0f} | {plain / dt:.1f} |")
        say(f"| {name} | spans found (identical for the first {len(labels) - 1}) | {len(outputs[labels[0]]):,} | | |")
    say("")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, help="write the tables (markdown) here too")
    ap.add_argument("--draw-dev", type=Path, metavar="FILE",
                    help="write the dev sample (unlabelled: source, id, text) to FILE and stop")
    ap.add_argument("--speed", action="store_true",
                    help="only time the fast path against the plain loop (and --before) and stop")
    ap.add_argument("--before", metavar="REV", help="with --speed: also time spans.py as committed at this git revision")
    ap.add_argument("--repeat", type=int, default=3, help="with --speed: runs per tagger (median reported)")
    args = ap.parse_args()
    if not DATA.exists():
        print(f"shared data not found at {DATA}: set GOODWILL_DATA to the folder holding "
              "cfpb-complaints/ and airline-sentiment/", file=sys.stderr)
        return 2
    if args.draw_dev:
        draw_dev().to_csv(args.draw_dev, index=False)
        return 0
    if args.speed:
        niceness = os.nice(0)
        command = " ".join([f"nice -n {niceness}" if niceness else "", ".venv/bin/python benchmarks/understand_spans.py",
                            *sys.argv[1:]]).strip()
        say(f"Command: `{command}`; CPUs: {os.cpu_count()}; load average at the start: "
            f"{' / '.join(f'{x:.1f}' for x in os.getloadavg())} (1/5/15 min); date {time.strftime('%Y-%m-%d %H:%M')}.")
        say("")
        speed_compare(args.before, args.repeat)
        say(f"(load average at the end: {' / '.join(f'{x:.1f}' for x in os.getloadavg())})")
        if args.out:
            args.out.write_text("\n".join(LINES) + "\n", encoding="utf-8")
        return 0
    if not DEV.exists():
        print(f"{DEV} is missing: draw it with --draw-dev and label it (tests/data/understand/README.md)",
              file=sys.stderr)
        return 2
    say(f"Command: `.venv/bin/python benchmarks/understand_spans.py{' --out ' + str(args.out) if args.out else ''}`; "
        f"CPUs: {os.cpu_count()}; load average at the start: "
        f"{' / '.join(f'{x:.1f}' for x in os.getloadavg())} (1/5/15 min); date {time.strftime('%Y-%m-%d %H:%M')}.")
    say("")
    score(DEV, "Development set (the patterns were written against it: optimistic)")
    score(TEST, "Test set (untouched while writing the patterns)")
    speed()
    say(f"(load average at the end: {' / '.join(f'{x:.1f}' for x in os.getloadavg())})")
    if args.out:
        args.out.write_text("\n".join(LINES) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
