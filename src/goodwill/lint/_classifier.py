"""The learned dark-pattern classifier: TF-IDF over words and word pairs, softmax regression.

Inference is numpy over a JSON file shipped in the package (``model.json``), so the lint needs
neither scikit-learn nor torch at run time. ``goodwill.lint.train`` writes the file; the same
``features`` function is used there, so training and inference cannot drift apart.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
import numpy.typing as npt

from goodwill.errors import ConfigError

NOT_DARK = "Not Dark Pattern"
_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_DIGITS = re.compile(r"\d+")
# Handles and links are not copy; left in, an "@115718" reads as a number, and numbers are what
# the published dark patterns are full of ("only 3 left").
_NOISE = re.compile(r"@\w+|https?://\S+|www\.\S+")


def tokens(text: str) -> list[str]:
    # Every number becomes 0: "only 3 left" and "only 7 left" are the same message.
    words = _DIGITS.sub("0", " ".join(_TOKEN.findall(_NOISE.sub(" ", text).lower()))).split()
    # A run of numbers is one number: a phone number must not read as a countdown timer.
    return [w for i, w in enumerate(words) if not (w == "0" and i and words[i - 1] == "0")]


def terms(text: str) -> list[str]:
    return terms_of(tokens(text))


def terms_of(words: list[str]) -> list[str]:
    return words + [f"{a} {b}" for a, b in itertools.pairwise(words)]


@dataclass(frozen=True)
class Model:
    vocabulary: dict[str, int]
    idf: npt.NDArray[np.float64]
    coef: npt.NDArray[np.float64]  # (n_features, n_classes)
    intercept: npt.NDArray[np.float64]
    classes: tuple[str, ...]
    meta: dict[str, object]

    def known_words(self, text: str) -> int:
        """How many of the text's words (numbers aside) the model has seen in training."""
        return self.known_tokens(tokens(text))

    def known_tokens(self, words: list[str]) -> int:
        vocab = self.vocabulary
        return sum(1 for w in words if w != "0" and w in vocab)

    def vector(self, text: str) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.float64]]:
        return self._vector(terms(text))

    def _vector(
        self, text_terms: list[str]
    ) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.float64]]:
        counts: dict[int, int] = {}
        vocab = self.vocabulary
        for term in text_terms:
            idx = vocab.get(term)
            if idx is not None:
                counts[idx] = counts.get(idx, 0) + 1
        if not counts:
            return np.empty(0, dtype=np.intp), np.empty(0)
        idx_arr = np.fromiter(counts.keys(), dtype=np.intp, count=len(counts))
        # Sublinear term frequency, as in training.
        tf = np.fromiter(
            (1.0 + math.log(c) for c in counts.values()), dtype=np.float64, count=len(counts)
        )
        values = tf * self.idf[idx_arr]
        norm = float(np.sqrt(values @ values))
        return idx_arr, values / norm if norm else values

    def proba(self, text: str) -> npt.NDArray[np.float64]:
        return self._proba(terms(text))

    def _proba(self, text_terms: list[str]) -> npt.NDArray[np.float64]:
        idx, values = self._vector(text_terms)
        scores = self.intercept + (values @ self.coef[idx] if len(idx) else 0.0)
        scores = scores - scores.max()
        exp = np.exp(scores)
        return np.asarray(exp / exp.sum(), dtype=np.float64)

    def predict(self, text: str) -> tuple[float, str]:
        """P(dark pattern) and the most likely dark-pattern category."""
        return self.predict_tokens(tokens(text))

    def predict_tokens(self, words: list[str]) -> tuple[float, str]:
        """`predict` of the text whose `tokens` these are: the lint tokenises each text once."""
        p = self._proba(terms_of(words))
        not_dark = self.classes.index(NOT_DARK)
        p_dark = 1.0 - float(p[not_dark])
        p_cat = p.copy()
        p_cat[not_dark] = -1.0
        return p_dark, self.classes[int(p_cat.argmax())]


def model_from_dict(data: dict[str, object]) -> Model:
    vocab_list = data["vocabulary"]
    assert isinstance(vocab_list, list)
    return Model(
        vocabulary={str(t): i for i, t in enumerate(vocab_list)},
        idf=np.asarray(data["idf"], dtype=np.float64),
        coef=np.asarray(data["coef"], dtype=np.float64).T.copy(),
        intercept=np.asarray(data["intercept"], dtype=np.float64),
        classes=tuple(str(c) for c in data["classes"]),  # type: ignore[attr-defined]
        meta=dict(data.get("meta", {})),  # type: ignore[call-overload]
    )


@lru_cache(maxsize=4)
def load_model(path: str | None = None) -> Model:
    try:
        if path is None:
            raw = (
                resources.files("goodwill.lint").joinpath("model.json").read_text(encoding="utf-8")
            )
        else:
            raw = Path(path).read_text(encoding="utf-8")
        return model_from_dict(json.loads(raw))
    except (OSError, ValueError, KeyError, AssertionError) as exc:
        raise ConfigError(
            f"The dark-pattern model {path or 'model.json'} cannot be loaded: {exc}.",
            hint="Rebuild it with: python -m goodwill.lint.train, or disable it with classifier: {enabled: false}.",
        ) from exc
