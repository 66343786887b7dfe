"""Findings as text (like ruff), JSON, or SARIF 2.1.0 for code-review tools."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from typing import Any

from goodwill.lint._finding import Finding
from goodwill.lint._rules import Rule

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_SARIF_LEVEL = {"error": "error", "warning": "warning", "info": "note"}
INFO_URI = "https://github.com/goodwill/goodwill/blob/main/docs/lint.md"


def format_text(findings: Sequence[Finding]) -> str:
    lines = []
    for f in findings:
        where = f"{f.path or '<text>'}:{f.line}:{f.col}"
        line = f"{where} {f.code} [{f.category}] {f.message}"
        if f.suggestion:
            line += f" Try: {f.suggestion}."
        lines.append(line)
    if findings:
        counts = Counter(f.code for f in findings)
        summary = ", ".join(f"{code} x{n}" for code, n in sorted(counts.items()))
        lines.append(f"Found {len(findings)} finding(s): {summary}.")
    return "\n".join(lines)


def format_json(findings: Sequence[Finding]) -> str:
    return json.dumps([f.to_dict() for f in findings], ensure_ascii=False, indent=2)


def sarif(
    findings: Sequence[Finding], rules: Sequence[Rule], version: str = "0.1.0"
) -> dict[str, Any]:
    used = sorted({f.code for f in findings})
    by_code = {r.code: r for r in rules}
    rule_entries = [
        {
            "id": code,
            "name": by_code[code].name,
            "shortDescription": {"text": by_code[code].name.replace("-", " ")},
            "fullDescription": {"text": by_code[code].explanation or by_code[code].name},
            "helpUri": f"{INFO_URI}#{code.lower()}",
            "defaultConfiguration": {"level": _SARIF_LEVEL[by_code[code].severity]},
            "properties": {"category": by_code[code].category, "basis": by_code[code].basis},
        }
        for code in used
        if code in by_code
    ]
    index = {code: i for i, code in enumerate(used)}
    results = []
    for f in findings:
        text = (
            f.message + (f" Try: {f.suggestion}." if f.suggestion else "") + f" Basis: {f.basis}."
        )
        results.append(
            {
                "ruleId": f.code,
                "ruleIndex": index[f.code],
                "level": _SARIF_LEVEL[f.severity],
                "message": {"text": text},
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": {"uri": (f.path or "stdin").replace("\\", "/")},
                            "region": {
                                "startLine": f.line,
                                "startColumn": f.col,
                                "charOffset": f.start,
                                "charLength": f.end - f.start,
                                "snippet": {"text": f.excerpt},
                            },
                        }
                    }
                ],
                "properties": {"category": f.category, "source": f.source},
            }
        )
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "goodwill-lint",
                        "version": version,
                        "informationUri": INFO_URI,
                        "rules": rule_entries,
                    }
                },
                "results": results,
            }
        ],
    }
