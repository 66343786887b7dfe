"""``lint_text``: the whole lint of one text, with no files and no store."""

from __future__ import annotations

from dataclasses import dataclass, replace

from goodwill.errors import ConfigError
from goodwill.lint._classifier import load_model, tokens
from goodwill.lint._config import LintConfig
from goodwill.lint._finding import Finding, Kind
from goodwill.lint._prefilter import NeedleIndex, fold
from goodwill.lint._rules import Pattern, Rule, rules_by_code
from goodwill.lint._suppress import Suppression, find_suppressions
from goodwill.lint._text import LineIndex, TextFormat, mask, segments

_DEFAULT = LintConfig()
# Built in two pieces so that this file does not hold a directive of its own.
_DIRECTIVE_HELP = "goodwill" + ": noqa <codes> -- <why this is fine>"
_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"'})
_CLASSIFIER_CODE = "GW190"
# Shorter pieces carry too little for the classifier, and the published training texts are shop
# strings of a few words: long letter sentences are out of its range and are left to the patterns.
_MIN_TOKENS, _MAX_TOKENS = 3, 40
# With fewer words it has seen, the model answers from its intercept and number tokens alone,
# and on company replies that was most of its false alarms: it abstains instead.
_MIN_KNOWN_WORDS = 3


def _excerpt(text: str, start: int, end: int) -> str:
    return " ".join(text[start:end].split())[:120]


@dataclass(frozen=True, slots=True)
class _Plan:
    """What one config runs on one kind of text, worked out once instead of per text."""

    by_code: dict[str, Rule]
    patterns: tuple[tuple[Rule, Pattern, frozenset[str] | None], ...]
    # Every needle of every pattern, looked for once per text.
    needles: NeedleIndex
    classifier: Rule | None


def _plan(config: LintConfig, kind: Kind) -> _Plan:
    plan = config._memo.get(kind)
    if isinstance(plan, _Plan):
        return plan
    all_rules = config.rules()
    by_code = rules_by_code(all_rules)
    active = [r for r in all_rules if kind in r.kinds and config.enabled(r)]
    patterns = tuple(
        (rule, p, frozenset(p.needles) if p.needles is not None else None)
        for rule in active
        for p in rule.patterns
    )
    classifier = by_code.get(_CLASSIFIER_CODE)
    plan = _Plan(
        by_code=by_code,
        patterns=patterns,
        needles=NeedleIndex(n for _, _, wanted in patterns if wanted for n in wanted),
        classifier=classifier if classifier in active and config.classifier else None,
    )
    config._memo[kind] = plan
    return plan


def _pattern_findings(
    original: str, masked: str, plan: _Plan, index: LineIndex, prefilter: bool = True
) -> list[Finding]:
    found: list[Finding] = []
    # Most texts hold none of a regex's needles, and looking for a word is far cheaper than
    # running the regex; a regex whose needles are all absent cannot match (see _prefilter).
    if prefilter:
        folded = fold(masked)
        present = plan.needles.present(folded)
    for rule, pattern, wanted in plan.patterns:
        if prefilter and wanted is not None and wanted.isdisjoint(present):
            continue
        for m in pattern.regex.finditer(masked):
            start, end = m.span()
            if start == end:
                continue
            if pattern.unless is not None:
                around = masked[max(0, start - pattern.window) : end + pattern.window]
                if pattern.unless.search(around):
                    continue
            if pattern.requires is not None:
                around = masked[max(0, start - pattern.window) : end + pattern.window]
                if not pattern.requires.search(around):
                    continue
            line, col = index.position(start)
            found.append(
                Finding(
                    code=rule.code,
                    category=rule.category,
                    message=pattern.message,
                    start=start,
                    end=end,
                    line=line,
                    col=col,
                    basis=rule.basis,
                    severity=rule.severity,
                    source="lexicon" if rule.lexicon else "pattern",
                    excerpt=_excerpt(original, start, end),
                    suggestion=pattern.suggestion,
                )
            )
    return _dedupe(found)


def _dedupe(found: list[Finding]) -> list[Finding]:
    """Two patterns of one rule on the same words are one finding, the first and longest."""
    kept: list[Finding] = []
    for f in sorted(found, key=lambda f: (f.start, -(f.end - f.start))):
        if not any(k.code == f.code and k.start < f.end and f.start < k.end for k in kept[-8:]):
            kept.append(f)
    return kept


def _classifier_findings(
    original: str,
    masked: str,
    rule: Rule,
    config: LintConfig,
    index: LineIndex,
    taken: list[Finding],
) -> list[Finding]:
    model = load_model(config.model_path)
    found: list[Finding] = []
    for start, end in segments(masked):
        piece = masked[start:end]
        n_tokens = len(piece.split())
        if not _MIN_TOKENS <= n_tokens <= _MAX_TOKENS:
            continue
        # A sentence a pattern already explains needs no second, vaguer finding.
        if any(f.start < end and start < f.end for f in taken):
            continue
        words = tokens(piece)
        if model.known_tokens(words) < _MIN_KNOWN_WORDS:
            continue
        p_dark, category = model.predict_tokens(words)
        if p_dark < config.threshold:
            continue
        line, col = index.position(start)
        found.append(
            Finding(
                code=rule.code,
                category=category.lower(),
                message=(
                    f"Reads like {category.lower()} dark-pattern copy to the classifier "
                    f"(p={p_dark:.2f}); no explainable pattern matched, so check it by reading."
                ),
                start=start,
                end=end,
                line=line,
                col=col,
                basis=rule.basis,
                severity=rule.severity,
                source="classifier",
                excerpt=_excerpt(original, start, end),
            )
        )
    return found


def _apply_suppressions(
    findings: list[Finding],
    suppressions: list[Suppression],
    known: set[str],
    index: LineIndex,
    config: LintConfig,
    by_code: dict[str, Rule],
) -> list[Finding]:
    kept = [
        f for f in findings if not any(s.covers(f.code, f.line) for s in suppressions if s.reason)
    ]
    meta: list[Finding] = []
    for s in suppressions:
        line, col = index.position(s.start)
        if not s.reason and config.enabled(by_code["GW001"]):
            rule = by_code["GW001"]
            meta.append(
                Finding(
                    code="GW001",
                    category=rule.category,
                    start=s.start,
                    end=s.end,
                    line=line,
                    col=col,
                    message="Suppression without a reason: add ' -- why this is fine' after the codes.",
                    basis=rule.basis,
                    severity=rule.severity,
                    source="suppression",
                    suggestion=_DIRECTIVE_HELP,
                )
            )
        unknown = [c for c in s.codes if not any(k.startswith(c) for k in known)]
        if unknown and config.enabled(by_code["GW002"]):
            rule = by_code["GW002"]
            meta.append(
                Finding(
                    code="GW002",
                    category=rule.category,
                    start=s.start,
                    end=s.end,
                    line=line,
                    col=col,
                    message=f"Suppression names {', '.join(unknown)}, which no rule has.",
                    basis=rule.basis,
                    severity=rule.severity,
                    source="suppression",
                )
            )
    # A file-wide suppression with a reason covers the meta findings too: test files quote
    # directives as data. A suppression without a reason suppresses nothing: both findings stay.
    meta = [
        f
        for f in meta
        if not any(s.whole_file and s.reason and s.covers(f.code, f.line) for s in suppressions)
    ]
    return kept + meta


def lint_text(
    text: str,
    kind: Kind = "copy",
    config: LintConfig | None = None,
    *,
    fmt: TextFormat = "plain",
    path: str = "",
) -> list[Finding]:
    """Lint one text: dark patterns (copy only) and belittling language (copy and internal).

    ``kind`` is ``"copy"`` for what customers read and ``"internal"`` for what we write about
    them. ``fmt`` says how to read markup (``plain``, ``markdown``, ``html``; template
    placeholders are tolerated in all). Findings come sorted by position.
    """
    if kind not in ("copy", "internal"):
        raise ConfigError(
            f"Unknown text kind {kind!r}.", hint="Use kind='copy' or kind='internal'."
        )
    config = config or _DEFAULT
    plan = _plan(config, kind)
    by_code = plan.by_code
    masked = mask(text, fmt) if fmt != "plain" or "{" in text or "*|" in text else text
    # Curly quotes become straight ones (same length) so that rules need spell "don't" only once.
    masked = masked.translate(_QUOTES)
    index = LineIndex(text)
    findings = _pattern_findings(text, masked, plan, index, config.prefilter)
    if plan.classifier is not None:
        findings += _classifier_findings(text, masked, plan.classifier, config, index, findings)
    suppressions = find_suppressions(text) if "goodwill:" in text.lower() else []
    if suppressions:
        findings = _apply_suppressions(findings, suppressions, set(by_code), index, config, by_code)
    if path:
        findings = [replace(f, path=path) for f in findings]
    return sorted(findings, key=Finding.sort_key)
