"""Sentiment models: a small lexicon for tests, VADER (the baseline), and logistic-regression
heads over sentence embeddings: one per embedder, since each reads only its own embedder's
space (MiniLM: ``models/sentiment_head.json``, the default; the static embedder:
``models/sentiment_head_static.json``).

Every model gives a score in [-1, 1] and a label: negative, neutral or positive.
"""

from __future__ import annotations

import json
import re
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from goodwill.errors import ConfigError, MissingDependencyError
from goodwill.understand.embed import MODEL_DIR, OnnxMiniLM, texts_of
from goodwill.understand.stages import Sentiment
from goodwill.understand.static import StaticEmbedder

__all__ = [
    "HEAD_FILES",
    "LABELS",
    "HeadSentiment",
    "LexiconSentiment",
    "VaderSentiment",
    "labels_from_scores",
]

LABELS = ("negative", "neutral", "positive")

# The head trained on each embedder's vectors, by the embedder's name.
HEAD_FILES = {
    OnnxMiniLM.name: "sentiment_head.json",
    StaticEmbedder.name: "sentiment_head_static.json",
}


def labels_from_scores(scores: np.ndarray, threshold: float = 0.05) -> pa.Array:
    idx = np.where(scores >= threshold, 2, np.where(scores <= -threshold, 0, 1))
    return pa.array(np.array(LABELS, dtype=object)[idx], type=pa.string())


_POS = frozenset(
    ["good", "great", "love", "thanks", "thank", "awesome", "amazing", "excellent", "happy", "best", "nice", "helpful", "appreciate", "wonderful", "perfect", "fantastic", "glad", "pleased", "resolved", "quick", "fast", "friendly", "kind"]
)
_NEG = frozenset(
    ["bad", "worst", "terrible", "awful", "hate", "angry", "delayed", "delay", "cancelled", "canceled", "lost", "rude", "never", "late", "broken", "refund", "wrong", "problem", "issue", "fail", "failed", "failure", "unacceptable", "disappointed", "poor", "waiting", "complaint", "fraud", "unfair", "horrible", "ridiculous", "useless", "stuck", "charged", "denied"]
)
_NEGATORS = frozenset(["not", "no", "never", "don't", "didn't", "isn't", "wasn't", "can't", "won't"])
_WORD = re.compile(r"[a-z']+")


class LexiconSentiment:
    """Counts a few dozen positive and negative words, flipping after a negator. Deterministic."""

    name = "lexicon-v1"

    def score(self, texts: pa.Array | list[str], embeddings: np.ndarray | None = None) -> Sentiment:
        items = texts_of(texts)
        scores = np.zeros(len(items), dtype=np.float64)
        for i, t in enumerate(items):
            words = _WORD.findall(t.lower())
            total = 0.0
            for j, w in enumerate(words):
                v = 1.0 if w in _POS else -1.0 if w in _NEG else 0.0
                if v and j > 0 and words[j - 1] in _NEGATORS:
                    v = -v
                total += v
            scores[i] = total / (abs(total) + 2.0)
        return Sentiment(scores, labels_from_scores(scores))


class VaderSentiment:
    """VADER's compound score, labelled with its authors' ±0.05 thresholds."""

    name = "vader-3.3.2"

    @cached_property
    def _analyzer(self) -> Any:
        try:
            from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
        except ImportError as exc:
            raise MissingDependencyError("vaderSentiment", "text", "VADER sentiment") from exc
        return SentimentIntensityAnalyzer()

    def score(self, texts: pa.Array | list[str], embeddings: np.ndarray | None = None) -> Sentiment:
        polarity = self._analyzer.polarity_scores
        scores = np.array([polarity(t)["compound"] for t in texts_of(texts)], dtype=np.float64)
        return Sentiment(scores, labels_from_scores(scores))


class HeadSentiment:
    """Multinomial logistic regression over sentence embeddings, run in numpy.

    The score is P(positive) - P(negative); the label is the most probable class."""

    def __init__(self, path: Path = MODEL_DIR / "sentiment_head.json") -> None:
        try:
            spec = json.loads(path.read_text())
        except FileNotFoundError as exc:
            raise ConfigError(
                f"The sentiment head {path} is missing.",
                hint="Train it with: python benchmarks/understand_train_sentiment.py",
            ) from exc
        self.classes: list[str] = spec["classes"]
        self.coef = np.asarray(spec["coef"], dtype=np.float32)
        self.intercept = np.asarray(spec["intercept"], dtype=np.float32)
        self.embedder: str = spec["embedder"]
        self.name = f"head-{spec['version']}"
        self._pos = self.classes.index("positive")
        self._neg = self.classes.index("negative")

    @classmethod
    def for_embedder(cls, embedder: str, model_dir: Path = MODEL_DIR) -> HeadSentiment:
        """The head trained on the named embedder's vectors (an embedder's ``name``)."""
        file = HEAD_FILES.get(embedder)
        if file is None:
            raise ConfigError(
                f"No sentiment head was trained on {embedder} embeddings.",
                hint="Use --embedder minilm or static, or --sentiment vader or lexicon.",
            )
        head = cls(model_dir / file)
        if head.embedder != embedder:
            raise ConfigError(
                f"{model_dir / file} was trained on {head.embedder} embeddings, not {embedder}.",
                hint="Retrain it with: python benchmarks/understand_train_sentiment.py",
            )
        return head

    def proba(self, embeddings: np.ndarray) -> np.ndarray:
        # float64, so a text's score does not depend on its batch (see reasons.assign).
        z = embeddings.astype(np.float64) @ self.coef.T.astype(np.float64) + self.intercept
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        return np.asarray(p / p.sum(axis=1, keepdims=True))

    def score(self, texts: pa.Array | list[str], embeddings: np.ndarray | None) -> Sentiment:
        if embeddings is None:
            raise ConfigError(
                "The sentiment head scores embeddings, and none were given.",
                hint=f"Embed the texts with {self.embedder} first.",
            )
        if embeddings.ndim != 2 or embeddings.shape[1] != self.coef.shape[1]:
            raise ConfigError(
                f"The sentiment head {self.name} reads {self.coef.shape[1]}-dimensional {self.embedder} "
                f"embeddings; it was given {embeddings.shape[-1]}-dimensional ones.",
                hint="Use the head of the embedder in use: HeadSentiment.for_embedder(embedder.name).",
            )
        p = self.proba(embeddings)
        scores = (p[:, self._pos] - p[:, self._neg]).astype(np.float64)
        labels = pa.array(np.array(self.classes, dtype=object)[p.argmax(axis=1)], type=pa.string())
        return Sentiment(scores, labels)
