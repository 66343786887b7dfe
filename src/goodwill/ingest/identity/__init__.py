"""Identity resolution: one person across every system that knows them.

- :func:`normalise_identifiers` turns raw identifiers into comparable values (vectorised).
- :func:`resolve` links records that are one person, by declared rules, incrementally.
- :func:`merge`, :func:`unmerge`, :func:`accept`, :func:`reject`, :func:`list_candidates`
  and :func:`explain` are a person's decisions and the explanation of each.

The answer lives in ``customer_links``; facts keep their source customer ids.
"""

from goodwill.ingest.identity.normalise import (
    KIND_ALIASES,
    KNOWN_KINDS,
    canonical_kinds,
    normalise_identifiers,
    surnames,
)
from goodwill.ingest.identity.resolve import ResolveReport, resolve
from goodwill.ingest.identity.review import (
    IdentityConflictError,
    accept,
    explain,
    list_candidates,
    members_of,
    merge,
    person_of,
    reject,
    unmerge,
    unmerge_merge,
)
from goodwill.ingest.identity.rules import Rule, Rules, load_rules, parse_rules
from goodwill.ingest.identity.tables import ensure_identity_tables

__all__ = [
    "KIND_ALIASES",
    "KNOWN_KINDS",
    "IdentityConflictError",
    "ResolveReport",
    "Rule",
    "Rules",
    "accept",
    "canonical_kinds",
    "ensure_identity_tables",
    "explain",
    "list_candidates",
    "load_rules",
    "members_of",
    "merge",
    "normalise_identifiers",
    "parse_rules",
    "person_of",
    "reject",
    "resolve",
    "surnames",
    "unmerge",
    "unmerge_merge",
]
