"""Contact reasons over time, on the real CFPB narratives: reproducible fits, ids that persist
across a refit, new texts assigned without refitting, and emerging reasons flagged.

    .venv/bin/python benchmarks/understand_reasons_eval.py [--embedder minilm] [--cache DIR]

Parts:

1. Reproducibility: the same texts and seed fitted twice give the same reasons (asserted);
   across seeds, how much do the partitions agree (NMI between fits), beside TF-IDF + k-means.
2. Incremental: fit on the oldest 70% of narratives (by date received), assign the newest 30%
   without refitting: share unassigned on new texts against the fitted ones, and agreement with
   `Issue` on each.
3. Refit: refit on all narratives with the first model as the previous one: the share of old
   reasons that keep their id, and of old texts whose reason id is unchanged.
4. Emerging reasons (real texts, SYNTHETIC timing): every narrative gets a random week in a
   26-week window. In a control run nothing else changes; in a surge run, the narratives of one
   `Issue` are moved so that a share of them land in the last four weeks. A surge counts as found
   when a reason holding most of that Issue's texts is flagged; every flag in the control run is
   a false flag. Repeated over issues and seeds.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from goodwill.understand.reasons import ReasonModel, default_k, emerging_reasons, fit_reasons  # noqa: E402
from goodwill.understand.service import make_embedder  # noqa: E402

DATA = Path(os.environ.get("GOODWILL_DATA", REPO.parent / "shared" / "data"))


def load() -> pd.DataFrame:
    cf = pd.read_csv(DATA / "cfpb-complaints" / "complaints-with-narratives.csv.gz", dtype=str,
                     keep_default_na=False)
    cf = cf[cf["Consumer complaint narrative"].str.strip() != ""].reset_index(drop=True)
    cf["date"] = pd.to_datetime(cf["Date received"])
    return cf


def embeddings(texts: list[str], name: str, cache: Path | None) -> np.ndarray:
    path = cache / f"cfpb-{name}-{len(texts)}.npy" if cache else None
    if path is not None and path.exists():
        return np.load(path)
    emb = make_embedder(name).embed(texts)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, emb)
    return emb


def weekly_counts(labels: np.ndarray, weeks: np.ndarray) -> tuple[dict[int, dict[str, int]], dict[str, int]]:
    weekly: dict[int, dict[str, int]] = {}
    totals: dict[str, int] = {}
    for lab, w in zip(labels.tolist(), weeks.tolist(), strict=True):
        key = f"w{w:02d}"
        totals[key] = totals.get(key, 0) + 1
        if lab >= 0:
            weekly.setdefault(lab, {})
            weekly[lab][key] = weekly[lab].get(key, 0) + 1
    return weekly, totals


def main() -> int:
    from sklearn.cluster import KMeans
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--embedder", default="minilm")
    ap.add_argument("--cache", type=Path, default=Path("/tmp/gw-reasons-eval"))
    ap.add_argument("--surge-seeds", type=int, default=5)
    args = ap.parse_args()

    cf = load()
    texts = cf["Consumer complaint narrative"].tolist()
    issue = cf["Issue"].to_numpy()
    t0 = time.perf_counter()
    emb = embeddings(texts, args.embedder, args.cache)
    embed_s = time.perf_counter() - t0
    k = default_k(len(texts))
    print(f"Command: `.venv/bin/python benchmarks/understand_reasons_eval.py {' '.join(sys.argv[1:])}`; "
          f"date {time.strftime('%Y-%m-%d %H:%M')}; load average {os.getloadavg()[0]:.1f}.")
    print()
    print(f"{len(texts):,} CFPB narratives, {len(set(issue))} `Issue` labels, embedder {args.embedder} "
          f"({embed_s:.0f} s, or read from the cache), k = {k} by the rule.")
    print()

    # 1. Reproducibility ---------------------------------------------------------------------
    def fit(idx: np.ndarray, seed: int, previous: ReasonModel | None = None) -> ReasonModel:
        return fit_reasons(emb[idx], [texts[i] for i in idx], k=k, seed=seed, embedder=args.embedder,
                           previous=previous)

    every = np.arange(len(texts))
    a, b = fit(every, 0), fit(every, 0)
    la, lb = a.assign(emb)[0], b.assign(emb)[0]
    assert np.array_equal(la, lb) and np.array_equal(a.centroids, b.centroids), "same seed, different reasons"
    seeds = [fit(every, s).assign(emb)[0] for s in range(1, 5)]
    ours = [normalized_mutual_info_score(la, s) for s in seeds]
    tfidf = TfidfVectorizer(min_df=2, max_df=0.5, stop_words="english", sublinear_tf=True).fit_transform(texts)
    km = [KMeans(k, n_init=1, random_state=s).fit_predict(tfidf) for s in range(5)]
    base = [normalized_mutual_info_score(km[0], x) for x in km[1:]]
    print("### Reproducibility")
    print()
    print("| method | same seed twice | NMI between fits with seeds 0 and 1..4 (mean, min) |")
    print("|---|---|---|")
    print(f"| goodwill reasons ({args.embedder}) | identical (asserted) | {np.mean(ours):.3f}, {min(ours):.3f} |")
    print(f"| TF-IDF + k-means (n_init=1, baseline) | identical (fixed random_state) | {np.mean(base):.3f}, {min(base):.3f} |")
    print()

    # 2. Incremental assignment and 3. refit ------------------------------------------------
    order = np.argsort(cf["date"].to_numpy(), kind="stable")
    cut = int(len(order) * 0.7)
    old, new = order[:cut], order[cut:]
    first = fit(old, 0)
    lab_old, _ = first.assign(emb[old])
    lab_new, _ = first.assign(emb[new])
    print("### New texts assigned without refitting")
    print()
    print(f"Fitted on the oldest {len(old):,} narratives (received {cf['date'][old].min():%Y-%m-%d} to "
          f"{cf['date'][old].max():%Y-%m-%d}); the newest {len(new):,} ({cf['date'][new].min():%Y-%m-%d} to "
          f"{cf['date'][new].max():%Y-%m-%d}) only assigned. The two periods differ in product mix (the "
          "file's narratives cluster in a few months), so this is a hard case for a frozen model.")
    print()
    print("| texts | count | unassigned | NMI vs Issue | ARI vs Issue |")
    print("|---|---|---|---|---|")
    for name, idx, lab in (("fitted (oldest 70%)", old, lab_old), ("new, assigned only (newest 30%)", new, lab_new)):
        print(f"| {name} | {len(idx):,} | {(lab < 0).mean():.1%} | "
              f"{normalized_mutual_info_score(issue[idx], lab):.3f} | {adjusted_rand_score(issue[idx], lab):.3f} |")
    print()
    print("### Refit on all narratives, the first model as the previous one")
    print()
    print("Warm: k-means starts from the previous reasons (goodwill's refit). Cold: a fresh k-means++ "
          "fit whose reasons are then matched to the old ones (the refit before this change). "
          "Agreement with `Issue` and the mean cosine of each text to its reason are over all narratives.")
    print()
    print("| refit | reasons keeping their id | new ids | oldest 70% keeping their reason id | NMI vs Issue | "
          "mean cosine to reason | time (s) |")
    print("|---|---|---|---|---|---|---|")
    for name, warm in (("warm (goodwill)", True), ("cold (baseline)", False)):
        t = time.perf_counter()
        refit = fit_reasons(emb, texts, k=k, seed=0, embedder=args.embedder, previous=first, warm_start=warm)
        sec = time.perf_counter() - t
        kept = len(set(first.ids.tolist()) & set(refit.ids.tolist()))
        lab_old2, _ = refit.assign(emb[old])
        same = (lab_old2 == lab_old) & (lab_old >= 0)
        lab_all, dist = refit.assign(emb)
        cos = 1.0 - float(dist.mean())
        print(f"| {name} | {kept} of {len(first.reasons)} ({kept / len(first.reasons):.0%}) | "
              f"{len(set(refit.ids.tolist()) - set(first.ids.tolist()))} | {same.mean():.1%} | "
              f"{normalized_mutual_info_score(issue, lab_all):.3f} | {cos:.3f} | {sec:.1f} |")
    print()

    # 4. Emerging reasons ---------------------------------------------------------------------
    counts = pd.Series(issue).value_counts()
    candidates = [i for i, c in counts.items() if 100 <= c <= 600]
    labels_all = la
    rng = np.random.default_rng(11)
    found = 0
    runs = 0
    false_flags: list[int] = []
    flags_in_surge: list[int] = []
    rows = []
    for s in range(args.surge_seeds):
        weeks = rng.integers(0, 26, len(texts))
        weekly, totals = weekly_counts(labels_all, weeks)
        false_flags.append(len(emerging_reasons(weekly, totals, recent_weeks=4)))
        for iss in rng.choice(candidates, size=min(4, len(candidates)), replace=False):
            members = np.flatnonzero(issue == iss)
            surged = weeks.copy()
            # Half of the Issue's narratives move into the last four weeks: a doubling-plus of
            # its share there (4/26 of them would be there by chance).
            move = rng.choice(members, size=len(members) // 2, replace=False)
            surged[move] = rng.integers(22, 26, len(move))
            weekly_s, totals_s = weekly_counts(labels_all, surged)
            flagged = {e.reason_id for e in emerging_reasons(weekly_s, totals_s, recent_weeks=4)}
            main_reasons = pd.Series(labels_all[members]).value_counts()
            top = int(main_reasons.index[0])
            hit = top in flagged
            found += hit
            runs += 1
            flags_in_surge.append(len(flagged))
            rows.append((s, iss, len(members), float(main_reasons.iloc[0] / len(members)), hit, len(flagged)))
    print("### Emerging reasons (real texts, SYNTHETIC timing)")
    print()
    print(f"{runs} surge runs ({args.surge_seeds} random week assignments × 4 Issues of 100–600 narratives each); "
          "in each, half of one Issue's narratives are moved into the last 4 of 26 weeks. Flag rule: recent share "
          "≥ 1.5× the earlier share, ≥ 10 recent texts, one-sided two-proportion z-test p < 0.01.")
    print()
    print("| measure | value |")
    print("|---|---|")
    print(f"| surges found (the reason holding most of the Issue's texts flagged) | {found}/{runs} ({found / runs:.0%}) |")
    print(f"| reasons flagged in a control run (no surge; all flags false) | mean {np.mean(false_flags):.2f}, "
          f"max {max(false_flags)} over {len(false_flags)} runs, of {k} reasons |")
    print(f"| reasons flagged per surge run | mean {np.mean(flags_in_surge):.2f} |")
    print()
    print("| seed | Issue | narratives | share in its main reason | found | flags |")
    print("|---|---|---|---|---|---|")
    for s, iss, n, share, hit, nflag in rows:
        print(f"| {s} | {iss} | {n} | {share:.0%} | {'yes' if hit else 'no'} | {nflag} |")
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
