"""Precision, recall and F1 as the evaluation scripts report them, and their table row."""

from __future__ import annotations

from typing import Any


def prf(pred: list[bool], gold: list[bool]) -> dict[str, Any]:
    tp = sum(p and g for p, g in zip(pred, gold, strict=True))
    n_pred, n_gold = sum(pred), sum(gold)
    p = tp / n_pred if n_pred else 0.0
    r = tp / n_gold if n_gold else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": p, "recall": r, "f1": f, "tp": tp, "predicted": n_pred, "gold": n_gold}


def prf_row(name: str, res: dict[str, Any]) -> str:
    return (
        f"| {name} | {res['precision']:.3f} | {res['recall']:.3f} | {res['f1']:.3f} | "
        f"{res['tp']} / {res['predicted']} / {res['gold']} |"
    )
