"""Who sees what: the HTTP API, roles and redaction, the customer brief, feeds, the dashboard.

>>> from goodwill.serve import create_app, run_server  # run_server(".goodwill/demo.duckdb")
"""

from goodwill.serve.app import Settings, create_app
from goodwill.serve.auth import Principal, issue_token, server_secret, verify_token
from goodwill.serve.brief import BriefContext, build_brief
from goodwill.serve.client import forward
from goodwill.serve.policy import ROLES, Policy, load_policy
from goodwill.serve.server import run_server

__all__ = [
    "ROLES",
    "BriefContext",
    "Policy",
    "Principal",
    "Settings",
    "build_brief",
    "create_app",
    "forward",
    "issue_token",
    "load_policy",
    "run_server",
    "server_secret",
    "verify_token",
]
