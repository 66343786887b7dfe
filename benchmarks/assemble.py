"""Assemble BENCHMARKS.md from benchmarks/results/*.md (one section per capability)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ORDER = ["foundation", "identity", "understand", "understand_spans", "understand_reasons", "understand_static",
         "understand_redaction", "promises", "measures", "guard", "rights", "serve", "lint", "scale"]

HEADER = """# Benchmarks and evaluations

Every number here comes from a script in `benchmarks/` (the command is given in each section), on
the date and machine stated. Speed targets are met, or not, here, never in timed tests. Ratios are
against a baseline measured in the same run. Synthetic data is used only for scale and is labelled;
model and heuristic quality is measured on the real public data in `../shared/data` next to a
simple baseline. Where a target is missed, the section says so.

This file is assembled from `benchmarks/results/*.md` by `python benchmarks/assemble.py`.

"""


def shift_headings(text: str) -> str:
    """Each section's top heading becomes level 2, so the assembled file has one level 1."""
    levels = [len(m.group(1)) for m in re.finditer(r"^(#+) ", text, flags=re.M)]
    if not levels:
        return text
    delta = 2 - min(levels)
    in_code = False
    out = []
    for line in text.splitlines():
        if line.startswith("```"):
            in_code = not in_code
        if not in_code and re.match(r"^#+ ", line):
            hashes, rest = line.split(" ", 1)
            line = "#" * max(1, len(hashes) + delta) + " " + rest
        out.append(line)
    return "\n".join(out)


def main() -> None:
    results = ROOT / "benchmarks" / "results"
    names = [n for n in ORDER if (results / f"{n}.md").exists()]
    names += sorted(p.stem for p in results.glob("*.md") if p.stem not in ORDER)
    parts = [HEADER]
    for n in names:
        parts.append(shift_headings((results / f"{n}.md").read_text(encoding="utf-8")).rstrip() + "\n\n")
    (ROOT / "BENCHMARKS.md").write_text("".join(parts), encoding="utf-8")


if __name__ == "__main__":
    main()
