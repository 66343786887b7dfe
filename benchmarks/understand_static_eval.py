"""Evaluate the static embedder (minilm-static-v1) beside MiniLM on the real shared data.

    nice -n 19 .venv/bin/python benchmarks/understand_static_eval.py [--out FILE] [--cache DIR]
        [--pipeline-count 20000]

Sections, all in one run:

- **Sentiment**, held-out 20% of the airline tweets (the heads' split, seed 13): VADER,
  MiniLM's head (its embeddings computed in this run), the shipped static head, and heads
  trained in this run on two other static variants (same split, same settings).
- **Contact reasons**, CFPB narratives vs their ``Issue``: goodwill's ``fit_reasons`` at k by the
  rule and k = 98, against TF-IDF + k-means (``bench_understand.bench_reasons``'s settings).
  The shipped vectors were refined on CFPB half ``a``, so they are scored on half ``b`` only; on
  all 7,293 only variants that saw no CFPB text are scored. A variant refined on half ``b``
  is scored on half ``a`` (the swap check). MiniLM's CFPB embeddings come from the build cache
  (``understand_build_static.py``'s ``teacher_embeddings``: ``OnnxMiniLM().embed`` of the same
  texts with the same model file), as embedding 7,293 narratives takes 3-17 minutes here.
- **Agreement with MiniLM**: mean cosine (MiniLM's embedding centred and projected into the
  static space by the shipped PCA) and Spearman of pairwise cosines, on held-out tweets and
  CFPB half ``b``.
- **Throughput**: embedding alone, static vs MiniLM on tweets and narratives; and the whole
  pipeline (redact + embed + head sentiment + nearest reason) on narratives.

Variants other than the shipped one are built in this run into a temporary folder with
``understand_build_static.build``; the shipped one is rebuilt too, to check it is reproduced.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

import understand_build_static as builder  # noqa: E402
from bench_understand import cpu_s, long_texts, say_sentiment_table, short_texts  # noqa: E402
from goodwill.ingest.redact import redact_array  # noqa: E402
from goodwill.understand.embed import MODEL_DIR, OnnxMiniLM  # noqa: E402
from goodwill.understand.reasons import default_k, fit_reasons  # noqa: E402
from goodwill.understand.sentiment import HeadSentiment, VaderSentiment  # noqa: E402
from goodwill.understand.stages import Embedder  # noqa: E402
from goodwill.understand.static import STATIC_VECTORS, StaticEmbedder  # noqa: E402

LINES: list[str] = []
CLASSES = ["negative", "neutral", "positive"]


def say(line: str = "") -> None:
    print(line, flush=True)
    LINES.append(line)


def load() -> str:
    return " / ".join(f"{x:.1f}" for x in os.getloadavg())


# -- variants ---------------------------------------------------------------------------------

VARIANTS = {
    "distilled": ("none", False, "static, distilled only (no corpus, uniform weights)"),
    "tweets": ("tweets", True, "static, refined on tweets only (no CFPB text)"),
    "swap": ("tweets+cfpb-b", True, "static, refined on tweets + CFPB half b (swap check)"),
    "shipped": ("tweets+cfpb-a", True, "static, shipped (refined on tweets + CFPB half a)"),
}


def build_variants(corpora: builder.Corpora, work: Path, cache: Path) -> dict[str, StaticEmbedder]:
    out: dict[str, StaticEmbedder] = {}
    for tag, (corpus, refine, _) in VARIANTS.items():
        folder = work / tag
        built = builder.build(corpora, corpus, refine=refine, cache=cache)
        builder.save(built, folder, f"understand_static_eval.py variant {tag}")
        shutil.copy(MODEL_DIR / "tokenizer.json", folder)
        out[tag] = StaticEmbedder(folder)
    rebuilt = builder.sha256_file(work / "shipped" / STATIC_VECTORS)
    shipped = builder.sha256_file(MODEL_DIR / STATIC_VECTORS)
    say(f"Shipped vectors rebuilt in this run: sha256 {'identical' if rebuilt == shipped else 'DIFFERENT'} "
        f"({shipped[:12]}…). The shipped files are used below.")
    say("")
    out["shipped"] = StaticEmbedder()
    return out


# -- sentiment ----------------------------------------------------------------------------------


def sentiment(corpora: builder.Corpora, static: dict[str, StaticEmbedder]) -> None:
    from sklearn.linear_model import LogisticRegression

    say("## Sentiment (airline tweets, held-out 20%)")
    say("")
    test = corpora.air_test
    texts = [corpora.air[i] for i in test]
    truth = corpora.air_labels[test]
    rows: list[tuple[str, list[str], float]] = []
    t = time.perf_counter()
    rows.append(("VADER 3.3.2 (baseline)", VaderSentiment().score(texts, None).label.to_pylist(), time.perf_counter() - t))
    rows.append(("always 'negative'", ["negative"] * len(texts), 0.0))
    t = time.perf_counter()
    minilm = OnnxMiniLM()
    minilm_head = HeadSentiment()
    pred = minilm_head.score(texts, minilm.embed(texts)).label.to_pylist()
    rows.append((f"MiniLM int8 + its head ({minilm_head.name}, shipped)", pred, time.perf_counter() - t))
    t = time.perf_counter()
    emb = static["shipped"].embed(texts)
    head = HeadSentiment.for_embedder(StaticEmbedder.name)
    rows.append((f"static shipped + its head ({head.name}, shipped)", head.score(texts, emb).label.to_pylist(),
                 time.perf_counter() - t))
    for tag in ("distilled", "tweets"):
        all_emb = static[tag].embed(corpora.air)
        clf = LogisticRegression(C=4.0, max_iter=2000).fit(all_emb[corpora.air_train], corpora.air_labels[corpora.air_train])
        rows.append((f"{VARIANTS[tag][2]} + a head trained in this run", [str(p) for p in clf.predict(all_emb[test])], 0.0))
    counts = ", ".join(f"{c} {int((truth == c).sum()):,}" for c in CLASSES)
    say(f"{len(corpora.air):,} tweets after dropping duplicate ids; held out: {len(texts):,} ({counts}); every head "
        "was trained on the other 80% only (logistic regression, C = 4). Time includes embedding.")
    say("")
    say_sentiment_table(say, truth, rows, CLASSES)


# -- contact reasons ----------------------------------------------------------------------------


def _scores(issue: np.ndarray, lab: np.ndarray) -> str:
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    out = lab < 0
    nmi_a = normalized_mutual_info_score(issue[~out], lab[~out]) if (~out).any() else float("nan")
    return (f"{len(set(lab[~out].tolist()))} | {normalized_mutual_info_score(issue, lab):.3f} | "
            f"{adjusted_rand_score(issue, lab):.3f} | {nmi_a:.3f} | {out.mean():.1%}")


def reasons_on(
    title: str, rows: np.ndarray, corpora: builder.Corpora, minilm_emb: np.ndarray,
    embedders: dict[str, StaticEmbedder],
) -> None:
    from sklearn.cluster import KMeans
    from sklearn.feature_extraction.text import TfidfVectorizer

    texts = [corpora.cfpb[i] for i in rows]
    issue = corpora.cfpb_issue[rows]
    ks = (default_k(len(texts)), 98)
    say(f"### {title}")
    say("")
    say(f"{len(texts):,} narratives, {len(set(issue.tolist()))} distinct `Issue` labels; k by the rule = {ks[0]}. "
        "Time: embedding (MiniLM: from the cache, not timed) plus fit and assignment.")
    say("")
    say("| embedding | k | clusters | NMI | ARI | NMI assigned | unassigned | time (s) |")
    say("|---|---|---|---|---|---|---|---|")
    sources: list[tuple[str, Callable[[], np.ndarray]]] = [("MiniLM int8 (cached)", lambda: minilm_emb[rows])]
    for tag, emb in embedders.items():
        sources.append((VARIANTS[tag][2], lambda e=emb: e.embed(texts)))  # type: ignore[misc]
    for name, get in sources:
        t = time.perf_counter()
        x = get()
        t_emb = time.perf_counter() - t
        for k in ks:
            t = time.perf_counter()
            model = fit_reasons(x, texts, k=k, seed=0, embedder=name)
            ids, _ = model.assign(x)
            say(f"| {name} | {k} | {_scores(issue, ids)} | {t_emb + time.perf_counter() - t:.1f} |")
    t = time.perf_counter()
    tfidf = TfidfVectorizer(stop_words="english", min_df=2, sublinear_tf=True).fit_transform(texts)
    t_vec = time.perf_counter() - t
    for k in ks:
        t = time.perf_counter()
        km = KMeans(n_clusters=k, n_init=1, random_state=0).fit(tfidf)
        say(f"| TF-IDF + k-means (baseline) | {k} | {_scores(issue, km.labels_)} | {t_vec + time.perf_counter() - t:.1f} |")
    say("")


def reasons(corpora: builder.Corpora, static: dict[str, StaticEmbedder], cache: Path) -> None:
    say("## Contact reasons (CFPB narratives vs `Issue`)")
    say("")
    say("Unassigned texts count as one extra cluster in NMI and ARI; 'NMI assigned' scores only the assigned "
        "texts. Each row is one fit (seed 0); MiniLM rows use the shipped int8 model.")
    say("")
    minilm_emb, cached = builder.teacher_embeddings("cfpb", corpora.cfpb, cache=cache)
    if not cached:
        say("(MiniLM's CFPB embeddings were not cached and were computed in this run.)")
    reasons_on("All 7,293 narratives: variants that saw no CFPB text", np.arange(len(corpora.cfpb)), corpora,
               minilm_emb, {k: static[k] for k in ("distilled", "tweets")})
    reasons_on("Half b (3,647 narratives, never in the shipped vectors' training)", corpora.cfpb_b, corpora,
               minilm_emb, {k: static[k] for k in ("shipped", "tweets", "distilled")})
    reasons_on("Half a (3,646 narratives): the swap check, vectors refined on half b", corpora.cfpb_a, corpora,
               minilm_emb, {"swap": static["swap"]})


# -- agreement with MiniLM ------------------------------------------------------------------------


def agreement(corpora: builder.Corpora, static: dict[str, StaticEmbedder], cache: Path) -> None:
    from scipy.stats import spearmanr

    say("## Agreement with MiniLM")
    say("")
    with np.load(MODEL_DIR / STATIC_VECTORS) as f:
        proj, mean = f["projection"], f["teacher_mean"]
    air, _ = builder.teacher_embeddings("air", corpora.air, cache=cache)
    cf, _ = builder.teacher_embeddings("cfpb", corpora.cfpb, cache=cache)
    sets = [
        ("airline tweets, held-out 20%", [corpora.air[i] for i in corpora.air_test], air[corpora.air_test]),
        ("CFPB narratives, half b", [corpora.cfpb[i] for i in corpora.cfpb_b], cf[corpora.cfpb_b]),
    ]
    rng = np.random.default_rng(0)
    say("Mean cosine: a static embedding against its text's MiniLM embedding centred on the shipped "
        "vectors' training mean and projected by their PCA (MiniLM itself scores 1.0 by construction). "
        "Spearman: rank correlation of the pairwise cosines of 1,500 random texts of the set "
        "(1.1 M pairs), static against MiniLM in its own 384 dimensions. None of these texts was in "
        "any variant's training except where marked.")
    say("")
    say("| embedding | texts | mean cosine | Spearman of pairwise cosines |")
    say("|---|---|---|---|")
    for label, texts, teacher in sets:
        ref = (teacher - mean) @ proj
        ref /= np.linalg.norm(ref, axis=1, keepdims=True)
        pick = rng.choice(len(texts), min(1500, len(texts)), replace=False)
        iu = np.triu_indices(len(pick), 1)
        want = (teacher[pick] @ teacher[pick].T)[iu]
        for tag, emb in static.items():
            x = emb.embed(texts)
            cos = float((x * ref).sum(axis=1).mean())
            rho = spearmanr((x[pick] @ x[pick].T)[iu], want).statistic
            mark = " (trained on CFPB half a, not on these)" if tag == "shipped" else ""
            mark = " (**half b was its training corpus**)" if tag == "swap" and "half b" in label else mark
            say(f"| {VARIANTS[tag][2]}{mark} | {label} | {cos:.3f} | {rho:.3f} |")
    say("")


# -- throughput -----------------------------------------------------------------------------------


def _timed(embed: Callable[[list[str]], np.ndarray], items: list[str]) -> tuple[float, float, str]:
    before = os.getloadavg()[0]
    t, c = time.perf_counter(), cpu_s()
    for lo in range(0, len(items), 2048):
        embed(items[lo : lo + 2048])
    wall, cpu = time.perf_counter() - t, cpu_s() - c
    return len(items) / wall, 2 * len(items) / cpu, f"{before:.1f}–{os.getloadavg()[0]:.1f}"


def throughput(static: StaticEmbedder, pipeline_count: int) -> None:
    say("## Throughput")
    say("")
    say("Embedding alone, in batches of 2,048, in this process. 'per 2 CPU (est.)' is texts / (process CPU "
        "seconds / 2): what two whole cores would give, an estimate on a shared machine. MiniLM runs on "
        "fewer texts (it is slow); every row was measured in this run.")
    say("")
    short, long = short_texts(), long_texts()
    minilm = OnnxMiniLM()
    tok_len = np.median([len(x) for x in static.encode_ids(long)])
    say(f"Short: the {len(short):,} airline and TWCS tweets. Long: the {len(long):,} CFPB narratives "
        f"(median {tok_len:.0f} tokens without [CLS]/[SEP]; the static embedder reads every token, MiniLM "
        "the first 256).")
    say("")
    say("| embedder | texts | count | texts/s (wall) | texts/s per 2 CPU (est.) | load average (1 min) |")
    say("|---|---|---|---|---|---|")
    for corpus, items, n_minilm in (("short", short, 2000), ("long", long, 300)):
        reps = max(1, 20_000 // len(items))
        rows = [
            ("static (minilm-static-v1)", static.embed, (items * reps)[: max(len(items), 20_000)]),
            ("static, tokenizer only", static.encode_ids, (items * reps)[: max(len(items), 20_000)]),
            ("MiniLM int8 (default threads)", minilm.embed, items[:n_minilm]),
        ]
        for name, fn, sel in rows:
            wall, per_cpu, loads = _timed(fn, sel)  # type: ignore[arg-type]
            say(f"| {name} | {corpus} | {len(sel):,} | {wall:,.0f} | {per_cpu:,.0f} | {loads} |")
    say("")
    say("### Whole pipeline on long texts (redact + embed + head sentiment + nearest reason)")
    say("")
    say("CFPB narratives repeated to the count, batches of 2,048, as `bench_understand.py --only throughput` "
        "does; the reason model (k by the rule) is fitted first on 1,000 narratives, outside the timing. The "
        "issue's target for long texts: at least 258 texts/s on 2 CPUs.")
    say("")
    say("| embedder | count | texts/s (wall) | texts/s per 2 CPU (est.) | redact | embed | sentiment | assign | load average |")
    say("|---|---|---|---|---|---|---|---|---|")
    rng = np.random.default_rng(0)
    fit_sample = [long[i] for i in rng.choice(len(long), 1000, replace=False)]
    for emb, count in ((static, pipeline_count), (minilm, 300)):
        head = HeadSentiment.for_embedder(emb.name)
        model = fit_reasons(emb.embed(fit_sample), fit_sample, seed=0, embedder=emb.name)
        items = (long * (count // len(long) + 1))[:count]
        say(_pipeline_row(emb, head, model, items))
    say("")


def _pipeline_row(emb: Embedder, head: HeadSentiment, model: object, items: list[str]) -> str:
    times = dict.fromkeys(("redact", "embed", "sentiment", "assign"), 0.0)
    loads = [os.getloadavg()[0]]
    t_all, c_all = time.perf_counter(), cpu_s()
    for lo in range(0, len(items), 2048):
        arr = pa.array(items[lo : lo + 2048])
        t = time.perf_counter()
        red = redact_array(arr)
        times["redact"] += time.perf_counter() - t
        t = time.perf_counter()
        e = emb.embed(red)
        times["embed"] += time.perf_counter() - t
        t = time.perf_counter()
        head.score(red, e)
        times["sentiment"] += time.perf_counter() - t
        t = time.perf_counter()
        model.assign(e)  # type: ignore[attr-defined]
        times["assign"] += time.perf_counter() - t
        loads.append(os.getloadavg()[0])
    total, cpu = time.perf_counter() - t_all, cpu_s() - c_all
    shares = " | ".join(f"{times[k] / total:.1%}" for k in times)
    return (f"| {emb.name} | {len(items):,} | {len(items) / total:,.0f} | {2 * len(items) / cpu:,.0f} | {shares} | "
            f"{min(loads):.1f}–{max(loads):.1f} |")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, help="also write the tables to this file")
    ap.add_argument("--cache", type=Path, default=builder.CACHE)
    ap.add_argument("--pipeline-count", type=int, default=20_000)
    args = ap.parse_args()
    if not builder.DATA.exists():
        print(f"shared data not found at {builder.DATA} (set GOODWILL_DATA)", file=sys.stderr)
        return 2
    say(f"Command: `nice -n 19 .venv/bin/python benchmarks/understand_static_eval.py {' '.join(sys.argv[1:])}`; "
        f"CPUs: {os.cpu_count()}; load average at the start: {load()} (1/5/15 min); date {time.strftime('%Y-%m-%d %H:%M')}.")
    say("")
    corpora = builder.Corpora.load()
    work = Path(tempfile.mkdtemp(prefix="gw-static-eval-"))
    t0 = time.perf_counter()
    static = build_variants(corpora, work, args.cache)
    say(f"(variants built in {time.perf_counter() - t0:.0f} s; load average {load()})")
    say("")
    for step in (
        lambda: sentiment(corpora, static),
        lambda: reasons(corpora, static, args.cache),
        lambda: agreement(corpora, static, args.cache),
        lambda: throughput(static["shipped"], args.pipeline_count),
    ):
        step()
        say(f"(load average after this section: {load()})")
        say("")
    if args.out:
        args.out.write_text("\n".join(LINES) + "\n")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
