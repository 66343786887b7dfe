"""Turn marked-up copy into prose the rules can read, without moving a single character.

Every mask keeps the text's length and its newlines, so an offset found in the masked text is the
same offset in the file: line and column need no mapping back.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable
from typing import Literal

TextFormat = Literal["plain", "markdown", "html"]

_HTML_SUFFIXES = {
    ".html",
    ".htm",
    ".xhtml",
    ".hbs",
    ".handlebars",
    ".mustache",
    ".j2",
    ".jinja",
    ".jinja2",
    ".mjml",
    ".tpl",
    ".tmpl",
    ".liquid",
    ".njk",
    ".vue",
    ".svelte",
}
_MARKDOWN_SUFFIXES = {".md", ".markdown", ".mdx"}


def format_for(path: str) -> TextFormat:
    lower = path.lower()
    for suffix in _HTML_SUFFIXES:
        if lower.endswith(suffix):
            return "html"
    for suffix in _MARKDOWN_SUFFIXES:
        if lower.endswith(suffix):
            return "markdown"
    if lower.endswith(".eml"):
        return "html"
    return "plain"


def _blank(text: str, first: str = "") -> str:
    body = "".join("\n" if c == "\n" else " " for c in text[len(first) :])
    return first + body


def _sub(pattern: re.Pattern[str], text: str, fill: Callable[[re.Match[str]], str]) -> str:
    return pattern.sub(fill, text)


# A value placeholder reads as a number to the rules ("Only {{ n }} left" is still a stock
# count); control blocks ({% if %}) read as nothing.
_VALUE_PLACEHOLDER = re.compile(
    r"\{\{\{.*?\}\}\}|\{\{(?![!#/]).*?\}\}|\*\|.*?\|\*|\$\{[^}\n]*\}", re.S
)
_BLOCK_PLACEHOLDER = re.compile(
    r"\{\{!--.*?--\}\}|\{\{[!#/].*?\}\}|\{%.*?%\}|\{#.*?#\}|<%.*?%>", re.S
)
_SCRIPT = re.compile(r"<(script|style)\b.*?</\1\s*>", re.S | re.I)
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_TAG = re.compile(r"</?[A-Za-z][^<>]*>")
_BLOCK_TAG = re.compile(
    r"</?(?:p|div|br|li|ul|ol|h[1-6]|tr|td|th|table|button|section|article|header|footer|form|label|option|select|input|hr|title|a)\b",
    re.I,
)
_ATTR = re.compile(
    r"""\b(?:value|alt|title|placeholder|aria-label)\s*=\s*(["'])(.*?)\1""", re.S | re.I
)
_ENTITY = re.compile(r"&(?:[A-Za-z]+|#\d+|#x[0-9A-Fa-f]+);")
_ENTITY_CHAR = {
    "&amp;": "&",
    "&pound;": "£",
    "&euro;": "€",
    "&apos;": "'",
    "&#39;": "'",
    "&rsquo;": "'",
    "&nbsp;": " ",
}
_MD_LINK_URL = re.compile(r"\]\([^)\n]*\)")
_MD_FENCE = re.compile(r"^```.*?^```", re.S | re.M)


def _mask_tag(match: re.Match[str]) -> str:
    tag = match.group(0)
    # Block tags become a line break so that two buttons are two sentences to the classifier.
    masked = list(_blank(tag, "\n" if _BLOCK_TAG.match(tag) else ""))
    for attr in _ATTR.finditer(tag):
        # What a customer reads in a button value or an alt text is copy too.
        start, end = attr.span(2)
        masked[start:end] = tag[start:end]
    return "".join(masked)


def _mask_entity(match: re.Match[str]) -> str:
    entity = match.group(0)
    char = _ENTITY_CHAR.get(entity.lower(), " ")
    return char + " " * (len(entity) - 1)


def mask(text: str, fmt: TextFormat) -> str:
    """Hide markup and template syntax behind spaces, keeping every offset."""
    text = _BLOCK_PLACEHOLDER.sub(lambda m: _blank(m.group(0)), text)
    text = _VALUE_PLACEHOLDER.sub(lambda m: _blank(m.group(0), "0"), text)
    if fmt == "markdown":
        text = _MD_FENCE.sub(lambda m: _blank(m.group(0)), text)
        text = _MD_LINK_URL.sub(lambda m: "]" + _blank(m.group(0)[1:]), text)
    if fmt in ("html", "markdown"):
        text = _SCRIPT.sub(lambda m: _blank(m.group(0)), text)
        text = _COMMENT.sub(lambda m: _blank(m.group(0)), text)
        text = _TAG.sub(_mask_tag, text)
        text = _ENTITY.sub(_mask_entity, text)
    return text


class LineIndex:
    """Offsets to 1-based (line, column), by bisection over line starts."""

    def __init__(self, text: str) -> None:
        self.starts = [0]
        self.starts.extend(m.end() for m in re.finditer("\n", text))

    def position(self, offset: int) -> tuple[int, int]:
        line = bisect.bisect_right(self.starts, offset) - 1
        return line + 1, offset - self.starts[line] + 1

    def line_span(self, line: int, text_len: int) -> tuple[int, int]:
        start = self.starts[line - 1]
        end = self.starts[line] - 1 if line < len(self.starts) else text_len
        return start, end


_SEGMENT_BREAK = re.compile(r"\n|(?<=[.!?])\s+(?=[A-Z0-9\"'(])")


def segments(masked: str) -> list[tuple[int, int]]:
    """Sentence-sized pieces of the masked text, as (start, end) offsets without outer spaces."""
    spans: list[tuple[int, int]] = []
    pos = 0
    for brk in _SEGMENT_BREAK.finditer(masked):
        spans.append((pos, brk.start()))
        pos = brk.end()
    spans.append((pos, len(masked)))
    out: list[tuple[int, int]] = []
    for start, end in spans:
        piece = masked[start:end]
        stripped = piece.strip()
        if stripped:
            lead = len(piece) - len(piece.lstrip())
            out.append((start + lead, start + lead + len(stripped)))
    return out
