"""What we may do to a customer, and why not.

The guard vets every outbound action (an offer, a renewal price, a message) before it
happens, against rules that are data (``rules.yaml``, overridable per workspace) and
code (classes registered with :func:`register_rule`, as the built-ins are). Each
decision is allow, deny or change, with every reason, the rule versions and the facts
behind it, and goes into a hash-chained, append-only audit log.

>>> from goodwill.guard import Guard
>>> # Guard(store).vet({"customer_id": "cfpb:123", "kind": "upsell", "channel": "email"})
"""

from __future__ import annotations

from goodwill.guard.action import KINDS, Action, read_action, read_campaign
from goodwill.guard.engine import CampaignReport, Decision, Guard
from goodwill.guard.facts import PersonFacts
from goodwill.guard.registry import (
    ENTRY_POINT_GROUP,
    Hit,
    Rule,
    RuleContext,
    RulePack,
    discover,
    load_pack,
    register_rule,
    registered_rules,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "KINDS",
    "Action",
    "CampaignReport",
    "Decision",
    "Guard",
    "Hit",
    "PersonFacts",
    "Rule",
    "RuleContext",
    "RulePack",
    "discover",
    "load_pack",
    "read_action",
    "read_campaign",
    "register_rule",
    "registered_rules",
]
