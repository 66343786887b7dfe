"""Evaluate and time the understand layer on the real shared data, beside baselines.

    .venv/bin/python benchmarks/bench_understand.py [--quick] [--out FILE]

Sections: PII redaction (known values inserted into real texts), sentiment (airline tweets,
held-out 20%), contact reasons (CFPB narratives vs their ``Issue``: ours vs TF-IDF + k-means,
same texts, same run) and whole-pipeline throughput (redact + embed + sentiment + assign).
``--quick`` uses subsets so the run takes a few minutes on 2 shared cores.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "benchmarks"))

import redaction_eval as ev  # noqa: E402
from goodwill.ingest.redact import redact_array, redact_text  # noqa: E402
from goodwill.understand.embed import OnnxMiniLM  # noqa: E402
from goodwill.understand.reasons import default_k, fit_reasons  # noqa: E402
from goodwill.understand.sentiment import HeadSentiment, VaderSentiment  # noqa: E402

DATA = Path(os.environ.get("GOODWILL_DATA", REPO.parent / "shared" / "data"))
LINES: list[str] = []


def say(line: str = "") -> None:
    print(line, flush=True)
    LINES.append(line)


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


# -- redaction --------------------------------------------------------------------------

def bench_redaction(quick: bool) -> None:
    say("## PII redaction")
    say("")
    tweets = pd.read_csv(DATA / "airline-sentiment" / "Tweets.csv.gz")["text"].tolist()
    cf = pd.read_csv(DATA / "cfpb-complaints" / "complaints-with-narratives.csv.gz", dtype=str,
                     keep_default_na=False)["Consumer complaint narrative"].tolist()
    n = 1000 if quick else 4000
    cases = ev.insertion_cases(ev.base_texts(DATA, n))
    sc = ev.score(cases, [redact_text(c.doc).spans for c in cases])
    say(f"{n} real texts ({n // 2} airline tweets, {n // 2} CFPB narratives cut to 600 characters), "
        "each with one known value of one type inserted mid-text (synthetic insertion into real text; "
        "no real labelled PII set exists for these data). Recall: the inserted value was covered by a "
        "placeholder of its type. Precision: placeholders of a type that matched an inserted value of "
        "that type; other placeholders count against it (some are real PII in the source texts, so "
        "precision is a lower bound). `benchmarks/understand_redaction.py` scores other redactors on "
        "the same cases.")
    say("")
    say("| type | inserted | recall | precision |")
    say("|---|---|---|---|")
    for k in ev.KINDS:
        say(f"| {k} | {sc.inserted(k)} | {sc.recall(k):.3f} | {sc.precision(k):.3f} |")
    for name, col in (("airline tweets", tweets), ("CFPB narratives", cf)):
        reps = max(1, (50_000 if quick else 200_000) // len(col))
        arr = pa.array(col * reps)
        t = time.perf_counter()
        redact_array(arr)
        dt = time.perf_counter() - t
        say(f"\n`redact_array` on {len(arr):,} {name} (repeated): {len(arr) / dt:,.0f} rows/s.")
    say("")


# -- sentiment --------------------------------------------------------------------------


def say_sentiment_table(out: Callable[[str], None], truth: np.ndarray,
                        rows: Sequence[tuple[str, list[str], float]], classes: Sequence[str]) -> None:
    """Accuracy, macro-F1 and per-class F1 of each model's labels, one table row each."""
    from sklearn.metrics import accuracy_score, f1_score

    out("| model | accuracy | macro-F1 | F1 negative | F1 neutral | F1 positive | time (s, incl. embedding) |")
    out("|---|---|---|---|---|---|---|")
    for name, p, sec in rows:
        per = f1_score(truth, p, labels=list(classes), average=None, zero_division=0)
        out(f"| {name} | {accuracy_score(truth, p):.3f} | {f1_score(truth, p, average='macro', zero_division=0):.3f} | "
            + " | ".join(f"{v:.3f}" for v in per) + f" | {sec:.1f} |")
    out("")


def bench_sentiment(emb_model: OnnxMiniLM) -> None:
    from sklearn.model_selection import train_test_split

    say("## Sentiment (airline tweets)")
    say("")
    df = pd.read_csv(DATA / "airline-sentiment" / "Tweets.csv.gz", dtype={"tweet_id": str})
    df = df.drop_duplicates("tweet_id").reset_index(drop=True)
    y = df["airline_sentiment"].to_numpy()
    _, test = train_test_split(np.arange(len(y)), test_size=0.2, stratify=y, random_state=13)
    test = np.sort(test)
    texts = df["text"].to_numpy()[test].tolist()
    truth = y[test]
    rows = []
    t = time.perf_counter()
    vader = VaderSentiment().score(texts, None).label.to_pylist()
    rows.append(("VADER 3.3.2 (baseline)", vader, time.perf_counter() - t))
    rows.append(("always 'negative'", ["negative"] * len(texts), 0.0))
    t = time.perf_counter()
    emb = emb_model.embed(texts)
    head = HeadSentiment()
    pred = head.score(texts, emb).label.to_pylist()
    rows.append((f"MiniLM int8 + logistic regression ({head.name}, ours)", pred, time.perf_counter() - t))
    classes = ["negative", "neutral", "positive"]
    counts = ", ".join(f"{c} {int((truth == c).sum()):,}" for c in classes)
    say(f"{len(df):,} tweets after dropping duplicate ids; 80/20 stratified split (seed 13); "
        f"the head was trained on the 80% only; scored here on the held-out {len(texts):,} ({counts}).")
    say("")
    say_sentiment_table(say, truth, rows, classes)
    for name, p, _ in rows[:1] + rows[2:]:
        say(f"{name}: predicted " + ", ".join(f"{c} {p.count(c):,}" for c in classes) + ".")
    say("")


# -- contact reasons ----------------------------------------------------------------------


def _bertopic(python: Path, texts: list[str], emb: np.ndarray, work: Path) -> dict[str, object] | None:
    import json
    import subprocess

    (work / "texts.json").write_text(json.dumps(texts))
    np.save(work / "emb.npy", emb)
    out = work / "bertopic.json"
    t = time.perf_counter()
    res = subprocess.run(
        [str(python), str(REPO / "benchmarks" / "understand_bertopic.py"), str(work / "texts.json"),
         str(work / "emb.npy"), str(out)],
        capture_output=True, text=True, check=False,
    )
    wall = time.perf_counter() - t
    if res.returncode != 0:
        say(f"BERTopic failed to run: {res.stderr.strip().splitlines()[-1:]}")
        return None
    got: dict[str, object] = json.loads(out.read_text())
    got["process_seconds"] = wall
    return got


def bench_reasons(emb_model: OnnxMiniLM, quick: bool, bertopic_python: Path | None, work: Path) -> None:
    from sklearn.cluster import KMeans
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    say("## Contact reasons (CFPB narratives vs `Issue`)")
    say("")
    df = pd.read_csv(DATA / "cfpb-complaints" / "complaints-with-narratives.csv.gz", dtype=str, keep_default_na=False)
    if quick:
        df = df.sample(2000, random_state=3).reset_index(drop=True)
    texts = df["Consumer complaint narrative"].tolist()
    issue = df["Issue"].to_numpy()
    n_issue = len(set(issue))
    k_rule = default_k(len(texts))
    load = os.getloadavg()[0]
    t, c = time.perf_counter(), cpu_s()
    emb = emb_model.embed(texts)
    t_embed, c_embed = time.perf_counter() - t, cpu_s() - c
    results: list[tuple[str, np.ndarray, float]] = []
    for k in (k_rule, n_issue):
        t = time.perf_counter()
        model = fit_reasons(emb, texts, k=k, seed=0, embedder=emb_model.name)
        ids, _ = model.assign(emb)
        sec = time.perf_counter() - t
        tag = "(the rule)" if k == k_rule else "(= #Issues)"
        results.append((f"goodwill: spherical k-means, k={k} {tag}", ids, sec))
        again = fit_reasons(emb, texts, k=k, seed=0, embedder=emb_model.name).assign(emb)[0]
        assert np.array_equal(ids, again), "fit is not reproducible"
    t = time.perf_counter()
    x = TfidfVectorizer(stop_words="english", min_df=2, sublinear_tf=True).fit_transform(texts)
    t_vec = time.perf_counter() - t
    for k in (n_issue, k_rule):
        t = time.perf_counter()
        km = KMeans(n_clusters=k, n_init=1, random_state=0).fit(x)
        results.append((f"TF-IDF + k-means, k={k} (baseline)", km.labels_, t_vec + time.perf_counter() - t))
    bt = None
    if bertopic_python is not None and bertopic_python.exists():
        bt = _bertopic(bertopic_python, texts, emb, work)
        if bt is not None:
            for i, fit in enumerate(bt["fits"]):  # type: ignore[attr-defined]
                which = "first fit in a fresh process (numba JIT)" if i == 0 else "second fit, warm"
                results.append((f"BERTopic {bt['version']} defaults, {which}", np.array(fit["topics"]), fit["seconds"]))
    say(f"{len(texts):,} narratives{' (quick: a random 2,000)' if quick else ''}, {n_issue} distinct `Issue` "
        "labels. Every MiniLM row uses the same embeddings (goodwill's shipped int8 MiniLM, computed once "
        f"in this run: {t_embed:.0f} s wall, {len(texts) / t_embed:.1f} texts/s, {c_embed:.0f} CPU-s; "
        f"load average {load:.1f} at the start). Unassigned texts (goodwill's outliers, BERTopic's topic -1) "
        "count as one extra cluster in NMI and ARI; 'NMI assigned' scores only the assigned texts. "
        "Times exclude the shared embedding and include TF-IDF vectorising for the baselines.")
    say("")
    say("| method | clusters | NMI | ARI | NMI assigned | unassigned | time (s) |")
    say("|---|---|---|---|---|---|---|")
    for name, lab, sec in results:
        out = lab < 0
        nmi_a = normalized_mutual_info_score(issue[~out], lab[~out]) if (~out).any() else float("nan")
        n_clusters = len(set(lab[~out].tolist()))
        say(f"| {name} | {n_clusters} | {normalized_mutual_info_score(issue, lab):.3f} | "
            f"{adjusted_rand_score(issue, lab):.3f} | {nmi_a:.3f} | {out.mean():.1%} | {sec:.1f} |")
    say("")
    if bt is not None:
        say(f"BERTopic ran in a separate venv ({bertopic_python}) on the same texts and embeddings, in a fresh "
            f"process: import {bt['import_seconds']:.1f} s, whole process {bt['process_seconds']:.1f} s "
            "(import, both fits, writing the result).")
    else:
        say("BERTopic did not run in this session; STACK.md's figures (NMI 0.31–0.34, ARI 0.02–0.11, "
            "34–42% outliers, first fit 46–54 s) are an external reference only.")
    say("")


# -- throughput ---------------------------------------------------------------------------


def short_texts() -> list[str]:
    tweets = pd.read_csv(DATA / "airline-sentiment" / "Tweets.csv.gz")["text"].tolist()
    twcs = pd.read_csv(DATA / "twcs" / "twcs-complete-threads.csv.gz", dtype=str, keep_default_na=False)["text"]
    return tweets + [t for t in twcs.tolist() if t]


def long_texts() -> list[str]:
    cf = pd.read_csv(DATA / "cfpb-complaints" / "complaints-with-narratives.csv.gz", dtype=str, keep_default_na=False)
    return cf["Consumer complaint narrative"].tolist()


def throughput_one(embedder_name: str, corpus: str, n: int) -> None:
    """One corpus in this process (so its peak RSS is its own); prints one table row.

    The product's own path: ``redact_array`` (ingest's redaction), then the ``Enricher`` that
    ``goodwill enrich`` maps over record batches (embed, sentiment head, reason, spans)."""
    from goodwill.understand.pipeline import Enricher
    from goodwill.understand.service import make_embedder
    from goodwill.understand.spans import PatternSpanTagger

    col = short_texts() if corpus == "short" else long_texts()
    items = (col * (n // len(col) + 1))[:n]
    embedder = make_embedder(embedder_name)
    head = HeadSentiment.for_embedder(embedder.name)
    rng = np.random.default_rng(0)
    fit_sample = [col[i] for i in rng.choice(len(col), min(1000, len(col)), replace=False)]
    model = fit_reasons(embedder.embed(pa.array(fit_sample)), fit_sample, seed=0, embedder=embedder.name)
    tokens = [len(x) for x in OnnxMiniLM().encode_ids(col)]
    enricher = Enricher(embedder, head, model, PatternSpanTagger())
    redact_s = 0.0
    loads = [os.getloadavg()[0]]
    t_all, c_all = time.perf_counter(), cpu_s()
    for k, lo in enumerate(range(0, n, 2048)):
        arr = pa.array(items[lo : lo + 2048])
        t = time.perf_counter()
        red = redact_array(arr)
        redact_s += time.perf_counter() - t
        ids = pa.array([f"t{i}" for i in range(lo, lo + len(red))])
        enricher.enrich(pa.table({"interaction_id": ids, "text": red}))
        if k % 10 == 0:
            loads.append(os.getloadavg()[0])
    total, cpu = time.perf_counter() - t_all, cpu_s() - c_all
    loads.append(os.getloadavg()[0])
    stage = {"redact": redact_s, **enricher.times.seconds}
    shares = " | ".join(f"{stage.get(k, 0.0) / total:.1%}" for k in ("redact", "embed", "sentiment", "reason", "spans"))
    name = "short (airline + TWCS tweets)" if corpus == "short" else "long (CFPB narratives)"
    print(f"| {name} | {embedder.name} | {n:,} | {np.median(tokens):.0f} | {n / total:.0f} | {2 * n / cpu:.0f} | "
          f"{shares} | {rss_mb():.0f} | {min(loads):.1f}–{max(loads):.1f} |", flush=True)


def bench_throughput(args: argparse.Namespace) -> None:
    import subprocess

    say("## Whole pipeline throughput (redact + embed + sentiment + reason + spans)")
    say("")
    say("Each corpus runs in its own process (peak RSS is that process's), texts repeated to the count, "
        "record batches of 2,048: ingest's `redact_array`, then the `Enricher` that `goodwill enrich` maps "
        "over batches (embed, sentiment head, nearest reason, expectation and effort spans). "
        "The reason model (k by the rule) is fitted first on 1,000 texts of the corpus, outside the timing. "
        "MiniLM runs each text alone on one core, a text per CPU at once. 'texts/s per 2 CPU' is count / (process CPU "
        "seconds / 2): what two whole cores would give if this process had them, an estimate for a "
        "machine shared with other work, not a measurement. Stage shares are of the wall time.")
    say("")
    say("| texts | embedder | count | median tokens | texts/s (wall) | texts/s per 2 CPU (est.) | redact | embed | "
        "sentiment | reason | spans | peak RSS (MB) | load average |")
    say("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    counts = {"short": args.count_short, "long": args.count_long}
    for corpus in ("short", "long"):
        for name in args.embedders:
            cmd = [sys.executable, __file__, "--only", "throughput-one", "--corpus", corpus, "--count",
                   str(counts[corpus]), "--embedders", name]
            res = subprocess.run(cmd, capture_output=True, text=True, check=True)
            say(res.stdout.strip().splitlines()[-1])
    say("")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--only", choices=["redaction", "sentiment", "reasons", "throughput", "throughput-one"])
    ap.add_argument("--threads", type=int, help="onnxruntime intra-op threads (default: onnxruntime's)")
    ap.add_argument("--bertopic-python", type=Path, default=Path("/tmp/btvenv/bin/python"),
                    help="python of a venv with bertopic (see benchmarks/understand_bertopic.py)")
    ap.add_argument("--count-short", type=int, help="texts for the short-text throughput (default 100,000)")
    ap.add_argument("--count-long", type=int, help="texts for the long-text throughput (default 100,000)")
    ap.add_argument("--embedders", nargs="+", default=["minilm"],
                    help="embedders for the throughput section (make_embedder names)")
    ap.add_argument("--corpus", choices=["short", "long"], help=argparse.SUPPRESS)
    ap.add_argument("--count", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if not DATA.exists():
        print(f"shared data not found at {DATA} (set GOODWILL_DATA)", file=sys.stderr)
        return 2
    emb = OnnxMiniLM(threads=args.threads)
    if args.only == "throughput-one":
        throughput_one(args.embedders[0], args.corpus, args.count)
        return 0
    args.count_short = args.count_short or (3000 if args.quick else 100_000)
    args.count_long = args.count_long or (500 if args.quick else 100_000)
    cmd = " ".join(sys.argv[1:])
    say(f"Command: `.venv/bin/python benchmarks/bench_understand.py {cmd}`; CPUs: {os.cpu_count()}; "
        f"load average at the start: {' / '.join(f'{x:.1f}' for x in os.getloadavg())} (1/5/15 min); "
        f"date {time.strftime('%Y-%m-%d %H:%M')}.")
    say("")
    work = Path(tempfile.mkdtemp(prefix="gw-bench-understand-"))
    steps = {
        "redaction": lambda: bench_redaction(args.quick),
        "sentiment": lambda: bench_sentiment(emb),
        "reasons": lambda: bench_reasons(emb, args.quick, args.bertopic_python, work),
        "throughput": lambda: bench_throughput(args),
    }
    for name, fn in steps.items():
        if args.only in (None, name):
            fn()
            say(f"(load average after this section: {os.getloadavg()[0]:.1f})")
            say("")
    if args.out:
        args.out.write_text("\n".join(LINES) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
