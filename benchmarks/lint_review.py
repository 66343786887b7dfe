"""Hand review of the company texts that ``goodwill lint`` flags, as data.

bench_lint.py lists every flagged company text; a person read each one and recorded here whether it
is a real dark pattern (True) or a false alarm (False), keyed by the first 60 characters of the
text. A flagged text missing from this table is reported as "not reviewed", never guessed.
"""

from __future__ import annotations

VERDICTS: dict[str, tuple[bool, str]] = {
    "@116399 Hi Diz, the Lima route is currently suspended for Wi": (
        False,
        "a plain statement of a route suspension with its dates; the classifier reads dates as a timer",
    ),
    "@116031 We understand, and we’ve added your comments to your": (
        False,
        "'we've added your comments' is not an add-on slipped into an order (pattern since narrowed)",
    ),
    "@117007 Hi - our team aims to reply within 24 hours :) Thanks": (
        False,
        "a service promise, not a deadline put on the customer (pattern since narrowed)",
    ),
    "@117288 @115913 This Limited time offer ended on 11/02/2017, ": (
        False,
        "refers to a past offer (pattern since given an 'ended' exception)",
    ),
}
