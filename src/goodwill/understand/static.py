"""A static embedder distilled from the shipped MiniLM: one vector per WordPiece token.

A text's embedding is the L2-normalised sum of its tokens' vectors (SIF weights are baked into
the vectors), so no model runs at embed time: the cost is the tokenizer and one sparse product,
linear in the text's length and with no truncation. The vectors (``models/minilm-static-v1.npz``,
float16) are built by ``benchmarks/understand_build_static.py`` from the shipped ONNX model and
tokenizer, without torch; ``models/minilm-static-v1.json`` records how, from what, and the
file's sha256. What it gives up against MiniLM is measured in
``benchmarks/results/understand_static.md``.

Embeddings of this embedder and of MiniLM live in different spaces (256 against 384
dimensions): a reason model or sentiment head fitted on one never reads the other.
"""

from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from goodwill.errors import ConfigError, MissingDependencyError
from goodwill.understand.embed import MODEL_DIR, texts_of
from goodwill.understand.embed import load_tokenizer as load_embed_tokenizer

__all__ = ["STATIC_META", "STATIC_VECTORS", "StaticEmbedder", "load_tokenizer", "token_ids"]

STATIC_VECTORS = "minilm-static-v1.npz"
STATIC_META = "minilm-static-v1.json"
_BUILD_HINT = "Build them with: nice -n 19 python benchmarks/understand_build_static.py"


def load_tokenizer(model_dir: Path = MODEL_DIR) -> Any:
    """MiniLM's WordPiece tokenizer with no truncation: a static embedding costs linear time."""
    return load_embed_tokenizer(model_dir, "The static embedder")


def token_ids(tokenizer: Any, items: list[str]) -> list[list[int]]:
    """WordPiece ids without [CLS] and [SEP]: the vectors were built for the words alone."""
    # encode_batch_fast skips character offsets (tokenizers >= 0.20); the ids are the same.
    encode = getattr(tokenizer, "encode_batch_fast", tokenizer.encode_batch)
    return [e.ids for e in encode(items, add_special_tokens=False)]


class StaticEmbedder:
    """Token vectors distilled from all-MiniLM-L6-v2 (and refined toward its text embeddings)."""

    name = "minilm-static-v1"

    def __init__(self, model_dir: Path = MODEL_DIR, *, chunk: int = 8192) -> None:
        self.model_dir = model_dir
        # Bounds the tokenizer's output held at once; a text's vector never depends on its chunk.
        self.chunk = chunk
        meta_path = model_dir / STATIC_META
        try:
            self.meta: dict[str, Any] = json.loads(meta_path.read_text())
        except FileNotFoundError as exc:
            raise ConfigError(f"The static embedder's vectors are missing ({meta_path}).", hint=_BUILD_HINT) from exc
        self.dim = int(self.meta["dim"])

    @cached_property
    def vectors(self) -> np.ndarray:
        path = self.model_dir / STATIC_VECTORS
        try:
            with np.load(path) as f:
                vectors = np.asarray(f["vectors"], dtype=np.float32)
        except FileNotFoundError as exc:
            raise ConfigError(f"The static embedder's vectors are missing ({path}).", hint=_BUILD_HINT) from exc
        size = self.tokenizer.get_vocab_size()
        if vectors.shape != (size, self.dim):
            raise ConfigError(
                f"{path} holds {vectors.shape[0]} x {vectors.shape[1]} vectors; the tokenizer has "
                f"{size} tokens and {STATIC_META} says {self.dim} dimensions.",
                hint=_BUILD_HINT,
            )
        return vectors

    @cached_property
    def tokenizer(self) -> Any:
        return load_tokenizer(self.model_dir)

    def encode_ids(self, items: list[str]) -> list[list[int]]:
        return token_ids(self.tokenizer, items)

    def embed(self, texts: pa.Array | pa.ChunkedArray | list[str]) -> np.ndarray:
        items = texts_of(texts)
        out = np.zeros((len(items), self.dim), dtype=np.float32)
        for lo in range(0, len(items), self.chunk):
            out[lo : lo + self.chunk] = self._embed(items[lo : lo + self.chunk])
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        # A text with no known token (empty, or only emoji) stays a zero vector: it says nothing.
        norms[norms == 0] = 1.0
        return np.asarray(out / norms, dtype=np.float32)

    def _embed(self, items: list[str]) -> np.ndarray:
        try:
            import scipy.sparse as sp
        except ImportError as exc:
            raise MissingDependencyError("scipy", "text", "The static embedder") from exc
        ids = self.encode_ids(items)
        ptr = np.zeros(len(ids) + 1, dtype=np.int64)
        np.cumsum([len(x) for x in ids], out=ptr[1:])
        flat = np.fromiter((i for x in ids for i in x), dtype=np.int32, count=int(ptr[-1]))
        bag = sp.csr_matrix(
            (np.ones(len(flat), dtype=np.float32), flat, ptr), shape=(len(ids), len(self.vectors))
        )
        return np.asarray(bag @ self.vectors, dtype=np.float32)
