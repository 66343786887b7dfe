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
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

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


# -- redaction --------------------------------------------------------------------------

VALUES = {
    "EMAIL": ["anna.k@example.com", "j_smith+bank@mail.example.co.uk", "lee99@example.org"],
    "PHONE": ["07700 900123", "+44 20 7946 0018", "(555) 123-4567", "555-987-6543", "+1 212 555 0199", "0161 496 0000"],
    "CARD": ["4111 1111 1111 1111", "5500-0000-0000-0004", "378282246310005"],
    "IBAN": ["GB82 WEST 1234 5698 7654 32", "DE89370400440532013000", "FR1420041010050500013M02606"],
    "ACCOUNT": ["account number 31926819", "sort code 40-47-84", "acct # 00123456789"],
    "POSTCODE": ["SW1A 1AA", "M1 1AE", "Springfield, IL 62704"],
    "ADDRESS": ["221 Baker Street", "1600 Pennsylvania Avenue", "12 Oak Road"],
    "NAME": ["my name is Priya Patel", "Dear Mr. Jones", "I spoke to Dwayne"],
}
# The part of each inserted value that is PII (a cue such as "account number" may stay).
PII_PART = {
    "account number 31926819": "31926819", "sort code 40-47-84": "40-47-84", "acct # 00123456789": "00123456789",
    "Springfield, IL 62704": "62704", "my name is Priya Patel": "Priya Patel", "Dear Mr. Jones": "Mr. Jones",
    "I spoke to Dwayne": "Dwayne",
}


def bench_redaction(quick: bool) -> None:
    say("## PII redaction")
    say("")
    tweets = pd.read_csv(DATA / "airline-sentiment" / "Tweets.csv.gz")["text"].tolist()
    cf = pd.read_csv(DATA / "cfpb-complaints" / "complaints-with-narratives.csv.gz", dtype=str,
                     keep_default_na=False)["Consumer complaint narrative"].tolist()
    rng = np.random.default_rng(5)
    n = 1000 if quick else 4000
    base = [tweets[i] for i in rng.choice(len(tweets), n // 2, replace=False)] + [
        cf[i][:600] for i in rng.choice(len(cf), n // 2, replace=False)]
    tp = {k: 0 for k in VALUES}
    fn = {k: 0 for k in VALUES}
    fp = {k: 0 for k in VALUES}
    for i, text in enumerate(base):
        kind = list(VALUES)[i % len(VALUES)]
        value = VALUES[kind][(i // len(VALUES)) % len(VALUES[kind])]
        pii = PII_PART.get(value, value)
        cut = text.rfind(" ", 0, len(text) // 2) + 1
        doc = f"{text[:cut]}{value} {text[cut:]}"
        lo = cut + value.index(pii)
        hi = lo + len(pii)
        spans = redact_text(doc).spans
        hit = any(s.kind == kind and s.start <= lo and s.end >= hi for s in spans)
        tp[kind] += hit
        fn[kind] += not hit
        for s in spans:
            # Any other placeholder in the text is counted as a false positive of its type. Real
            # texts may hold real PII too (tweets with phone numbers), so precision is a lower bound.
            if not (s.kind == kind and s.start <= lo and s.end >= hi):
                fp[s.kind] += 1
    say(f"{n} real texts ({n // 2} airline tweets, {n // 2} CFPB narratives cut to 600 characters), "
        "each with one known value of one type inserted mid-text (synthetic insertion into real text; "
        "no real labelled PII set exists for these data). Recall: the inserted value was covered by a "
        "placeholder of its type. Precision: placeholders of a type that matched an inserted value of "
        "that type; other placeholders count against it (some are real PII in the source texts, so "
        "precision is a lower bound).")
    say("")
    say("| type | inserted | recall | precision |")
    say("|---|---|---|---|")
    for k in VALUES:
        rec = tp[k] / max(1, tp[k] + fn[k])
        prec = tp[k] / max(1, tp[k] + fp[k])
        say(f"| {k} | {tp[k] + fn[k]} | {rec:.3f} | {prec:.3f} |")
    for name, col in (("airline tweets", tweets), ("CFPB narratives", cf)):
        reps = max(1, (50_000 if quick else 200_000) // len(col))
        arr = pa.array(col * reps)
        t = time.perf_counter()
        redact_array(arr)
        dt = time.perf_counter() - t
        say(f"\n`redact_array` on {len(arr):,} {name} (repeated): {len(arr) / dt:,.0f} rows/s.")
    say("")


# -- sentiment --------------------------------------------------------------------------


def bench_sentiment(emb_model: OnnxMiniLM) -> None:
    from sklearn.metrics import accuracy_score, f1_score
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
    head = HeadSentiment().score(texts, emb).label.to_pylist()
    rows.append(("MiniLM int8 + logistic regression (ours)", head, time.perf_counter() - t))
    say(f"{len(df):,} tweets after dropping duplicate ids; 80/20 stratified split (seed 13); "
        f"the head was trained on the 80% only; scored here on the held-out {len(texts):,}.")
    say("")
    say("| model | accuracy | macro-F1 | time (s, incl. embedding) |")
    say("|---|---|---|---|")
    for name, pred, sec in rows:
        say(f"| {name} | {accuracy_score(truth, pred):.3f} | {f1_score(truth, pred, average='macro'):.3f} | {sec:.1f} |")
    say("")


# -- contact reasons ----------------------------------------------------------------------


def bench_reasons(emb_model: OnnxMiniLM, quick: bool) -> None:
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
    t = time.perf_counter()
    emb = emb_model.embed(texts)
    t_embed = time.perf_counter() - t
    results = []
    for k in (default_k(len(texts)), len(set(issue))):
        t = time.perf_counter()
        model = fit_reasons(emb, texts, k=k, seed=0, embedder=emb_model.name)
        ids, _ = model.assign(emb)
        sec = time.perf_counter() - t
        results.append((f"ours: MiniLM int8 + spherical k-means, k={k}" + (" (rule)" if k == default_k(len(texts)) else " (= #Issues)"),
                        ids, (ids < 0).mean(), sec, t_embed))
        again = fit_reasons(emb, texts, k=k, seed=0, embedder=emb_model.name).assign(emb)[0]
        assert np.array_equal(ids, again), "fit is not reproducible"
    t = time.perf_counter()
    x = TfidfVectorizer(stop_words="english", min_df=2, sublinear_tf=True).fit_transform(texts)
    km = KMeans(n_clusters=len(set(issue)), n_init=1, random_state=0).fit(x)
    results.append((f"TF-IDF + k-means, k={len(set(issue))} (baseline)", km.labels_, 0.0, time.perf_counter() - t, 0.0))
    say(f"{len(texts):,} narratives{' (quick: a random 2,000)' if quick else ''}, "
        f"{len(set(issue))} distinct `Issue` labels. Unassigned texts count as one extra cluster in NMI/ARI. "
        f"Embedding time is shared by both MiniLM rows ({t_embed:.0f}s, {len(texts) / t_embed:.0f} texts/s).")
    say("")
    say("| method | NMI | ARI | unassigned | fit+assign (s) | embedding (s) |")
    say("|---|---|---|---|---|---|")
    for name, lab, un, sec, emb_s in results:
        say(f"| {name} | {normalized_mutual_info_score(issue, lab):.3f} | {adjusted_rand_score(issue, lab):.3f} | "
            f"{un:.1%} | {sec:.1f} | {emb_s:.0f} |")
    say("| BERTopic 0.17.4 defaults (external reference, STACK.md, not run here) | 0.31–0.34 | 0.02–0.11 | 34–42% | 46–54 first fit, 14 warm | same embeddings |")
    say("")
    say("BERTopic is not installed in this run (it pulls torch through sentence-transformers); "
        "its row is the figure measured on the same 7,293 texts in STACK.md, not a same-run number.")
    say("")


# -- throughput ---------------------------------------------------------------------------


def bench_throughput(emb_model: OnnxMiniLM, quick: bool) -> None:
    say("## Whole pipeline throughput (redact + embed + sentiment + assign)")
    say("")
    tweets = pd.read_csv(DATA / "airline-sentiment" / "Tweets.csv.gz")["text"].tolist()
    cf = pd.read_csv(DATA / "cfpb-complaints" / "complaints-with-narratives.csv.gz", dtype=str,
                     keep_default_na=False)["Consumer complaint narrative"].tolist()
    head = HeadSentiment()
    say("| texts | count | texts/s | redact | embed | sentiment | assign | peak RSS (MB) |")
    say("|---|---|---|---|---|---|---|---|")
    for name, col, n in (("tweets", tweets, 3000 if quick else 100_000), ("CFPB narratives", cf, 500 if quick else 100_000)):
        items = (col * (n // len(col) + 1))[:n]
        fit_emb = emb_model.embed(items[:300])
        model = fit_reasons(fit_emb, items[:300], k=10, seed=0)
        times = dict.fromkeys(("redact", "embed", "sentiment", "assign"), 0.0)
        t_all = time.perf_counter()
        for lo in range(0, n, 2048):
            arr = pa.array(items[lo : lo + 2048])
            t = time.perf_counter()
            red = redact_array(arr)
            times["redact"] += time.perf_counter() - t
            t = time.perf_counter()
            e = emb_model.embed(red)
            times["embed"] += time.perf_counter() - t
            t = time.perf_counter()
            head.score(red, e)
            times["sentiment"] += time.perf_counter() - t
            t = time.perf_counter()
            model.assign(e)
            times["assign"] += time.perf_counter() - t
        total = time.perf_counter() - t_all
        shares = " | ".join(f"{times[k] / total:.1%}" for k in times)
        say(f"| {name} | {n:,} | {n / total:.0f} | {shares} | {rss_mb():.0f} |")
    say("")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--only", choices=["redaction", "sentiment", "reasons", "throughput"])
    args = ap.parse_args()
    if not DATA.exists():
        print(f"shared data not found at {DATA} (set GOODWILL_DATA)", file=sys.stderr)
        return 2
    emb = OnnxMiniLM()
    say(f"Command: `.venv/bin/python benchmarks/bench_understand.py{' --quick' if args.quick else ''}`; "
        f"onnxruntime threads: default; CPUs: {os.cpu_count()}.")
    say("")
    steps = {
        "redaction": lambda: bench_redaction(args.quick),
        "sentiment": lambda: bench_sentiment(emb),
        "reasons": lambda: bench_reasons(emb, args.quick),
        "throughput": lambda: bench_throughput(emb, args.quick),
    }
    for name, fn in steps.items():
        if args.only in (None, name):
            fn()
    if args.out:
        args.out.write_text("\n".join(LINES) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
