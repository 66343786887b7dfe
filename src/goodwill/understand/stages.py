"""The one-method interfaces of the enrichment pipeline.

Each stage works on a whole Arrow column (or the embeddings computed from one), so the
pipeline can be mapped over record batches, locally or over a cluster's partitions. Every
stage has a deterministic, dependency-free implementation used in tests, and a real one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import pyarrow as pa

__all__ = ["Embedder", "Sentiment", "SentimentModel", "SpanTagger", "TextSpans"]


@runtime_checkable
class Embedder(Protocol):
    """Texts to unit-length float32 vectors, one row per text (nulls embed as empty text)."""

    name: str
    dim: int

    def embed(self, texts: pa.Array) -> np.ndarray: ...


@dataclass(frozen=True)
class Sentiment:
    """Per text: a score in [-1, 1] and a label (negative, neutral, positive)."""

    score: np.ndarray
    label: pa.Array


@runtime_checkable
class SentimentModel(Protocol):
    name: str

    def score(self, texts: pa.Array, embeddings: np.ndarray | None) -> Sentiment: ...


@dataclass(frozen=True)
class TextSpans:
    """Spans found in a column of texts: ``row`` indexes the input, offsets are characters."""

    row: np.ndarray
    kind: list[str]
    start: np.ndarray
    end: np.ndarray
    text: list[str]

    def __len__(self) -> int:
        return len(self.kind)


@runtime_checkable
class SpanTagger(Protocol):
    name: str

    def tag(self, texts: pa.Array) -> TextSpans: ...
