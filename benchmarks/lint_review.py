"""Hand review of the company texts that ``goodwill lint`` flags, as data.

bench_lint.py lists every flagged company text; a person read each one and recorded here whether it
is a real dark pattern (True) or a false alarm (False), keyed by the first 60 characters of the
text. A flagged text missing from this table is reported as "not reviewed", never guessed.
"""

from __future__ import annotations

VERDICTS: dict[str, tuple[bool, str]] = {}
