"""Facts in: streaming readers, declarative mappings, built-in mappings for real data sets."""

from goodwill.ingest.api import IngestReport, ingest_file, link_reply_chains
from goodwill.ingest.mapping import Mapping, builtin_mappings, load_mapping, parse_mapping

__all__ = [
    "IngestReport",
    "Mapping",
    "builtin_mappings",
    "ingest_file",
    "link_reply_chains",
    "load_mapping",
    "parse_mapping",
]
