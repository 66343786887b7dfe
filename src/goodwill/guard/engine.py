"""Vetting: one action, or a whole campaign, against a rule pack.

Every rule runs on every action it has a view on (no short-circuit), so a decision
lists *every* reason, not only the first. The verdict is ``deny`` if any rule denies,
else ``change`` if any rule changes the action (the changes are applied and listed),
else ``allow``. Unless asked for a what-if, each decision goes into the audit log with
the rule versions and the facts it used.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from goodwill.guard import audit
from goodwill.guard.action import Action
from goodwill.guard.facts import Contact, PersonFacts, Tables, campaign_facts, person_facts
from goodwill.guard.registry import Hit, RulePack, load_pack
from goodwill.store import Store


@dataclass
class Decision:
    action: Action
    verdict: str
    hits: list[Hit]
    facts: dict[str, Any]
    rule_versions: dict[str, str]
    decided_at: dt.datetime
    changes: dict[str, Any] = field(default_factory=dict)
    route: str | None = None
    decision_id: str | None = None
    hash: str | None = None

    @property
    def reasons(self) -> list[dict[str, Any]]:
        return [h.to_dict() for h in self.hits]

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "decision_id": self.decision_id,
            "action_id": self.action.action_id,
            "customer_id": self.action.customer_id,
            "kind": self.action.kind,
            "verdict": self.verdict,
            "reasons": self.reasons,
            "changes": self.changes,
            "route": self.route,
            "rule_versions": self.rule_versions,
            "facts": self.facts,
            "decided_at": self.decided_at.isoformat(),
            "hash": self.hash,
        }
        return d

    def audit_row(self) -> dict[str, Any]:
        return {
            "action_id": self.action.action_id,
            "customer_id": self.action.customer_id,
            "verdict": self.verdict,
            "reasons": audit.to_json(self.reasons),
            "rule_versions": audit.to_json(self.rule_versions),
            "facts": audit.to_json({"action": self.action.to_dict(), "person": self.facts, "changes": self.changes, "route": self.route}),
            "decided_at": self.decided_at,
        }


@dataclass
class CampaignReport:
    decisions: list[Decision]
    what_if: bool
    pack: str
    seconds: float = 0.0

    @property
    def counts(self) -> dict[str, int]:
        c = Counter(d.verdict for d in self.decisions)
        return {v: c.get(v, 0) for v in ("allow", "deny", "change")}

    @property
    def by_rule(self) -> dict[str, dict[str, int]]:
        out: dict[str, Counter[str]] = {}
        for d in self.decisions:
            for h in d.hits:
                out.setdefault(h.rule_id, Counter())[h.effect] += 1
        return {k: dict(v) for k, v in sorted(out.items())}

    @property
    def routed(self) -> dict[str, int]:
        return dict(Counter(d.route for d in self.decisions if d.route))

    def to_dict(self, *, limit: int | None = None) -> dict[str, Any]:
        ds = self.decisions if limit is None else self.decisions[:limit]
        return {
            "what_if": self.what_if,
            "pack": self.pack,
            "actions": len(self.decisions),
            "counts": self.counts,
            "by_rule": self.by_rule,
            "routed": self.routed,
            "seconds": round(self.seconds, 3),
            "decisions": [d.to_dict() for d in ds],
        }


class Guard:
    """Vets outbound actions against a rule pack, on one store."""

    def __init__(self, store: Store, pack: RulePack | str | Path | None = None) -> None:
        self.store = store
        self.pack = pack if isinstance(pack, RulePack) else load_pack(pack)
        self.versions = {"_pack": f"{self.pack.name}@{self.pack.version}", **self.pack.rule_versions()}
        self.contact_days = self._contact_days()
        self.tables = Tables(store)

    def _contact_days(self) -> int:
        days = [1]
        for b in self.pack.bound:
            p = b.ctx.params
            days += [int(c.get("days", 0)) for c in (p.get("caps") or {}).values()]
            if "days" in p:
                days.append(int(p["days"]))
        return max(days)

    # -- evaluation ---------------------------------------------------------------------
    def evaluate(self, action: Action, facts: PersonFacts, as_of: dt.datetime) -> Decision:
        hits: list[Hit] = []
        for b in self.pack.bound:
            if b.kinds is not None and action.kind not in b.kinds:
                continue
            b.ctx.as_of = as_of
            h = b.rule.check(action, facts, b.ctx)
            if h is not None:
                hits.append(h)
        verdict = "allow"
        changes: dict[str, Any] = {}
        route = None
        for h in hits:
            if h.effect == "deny":
                verdict = "deny"
            elif verdict != "deny":
                verdict = "change"
            if h.change:
                changes.update(h.change)
            route = route or h.route
        if not facts.known:
            facts_summary = facts.summary()
            facts_summary["note"] = "no customer record with this id; rules ran on what is stored"
        else:
            facts_summary = facts.summary()
        return Decision(action, verdict, hits, facts_summary, self.versions, as_of, changes, route)

    def vet(self, action: Action | dict[str, Any], *, record: bool = True, as_of: dt.datetime | None = None) -> Decision:
        """Vet one action. With ``record`` (the default) the decision goes into the audit log."""
        a = action if isinstance(action, Action) else Action.from_dict(action)
        now = as_of or dt.datetime.now(dt.UTC)
        facts = person_facts(self.store, a.customer_id, as_of=now, contact_days=self.contact_days, tables=self.tables)
        d = self.evaluate(a, facts, now)
        if record:
            self._record([d])
        return d

    def vet_campaign(
        self, actions: Sequence[Action], *, record: bool = True, as_of: dt.datetime | None = None
    ) -> CampaignReport:
        """Vet every action of a campaign; ``record=False`` is the what-if mode (nothing is written)."""
        import time

        t0 = time.perf_counter()
        now = as_of or dt.datetime.now(dt.UTC)
        facts = campaign_facts(self.store, [a.customer_id for a in actions], as_of=now, contact_days=self.contact_days)
        order = sorted(range(len(actions)), key=lambda i: (actions[i].planned_at or now, i))
        out: list[Decision | None] = [None] * len(actions)
        for i in order:
            a = actions[i]
            f = facts[a.customer_id]
            d = self.evaluate(a, f, now)
            out[i] = d
            if d.verdict != "deny" and self._is_marketing(a):
                # What this campaign sends counts towards the caps of its own later actions.
                f.contacts.append(Contact(a.planned_at or now, a.channel, "marketing", None))
        decisions = [d for d in out if d is not None]
        if record:
            self._record(decisions)
        return CampaignReport(decisions, not record, f"{self.pack.name}@{self.pack.version}", time.perf_counter() - t0)

    def _is_marketing(self, a: Action) -> bool:
        if a.purpose:
            return a.purpose in self.pack.marketing_purposes
        return a.kind in self.pack.sales_kinds

    def _record(self, decisions: Iterable[Decision]) -> None:
        ds = list(decisions)
        rows = [d.audit_row() for d in ds]
        actions = pa.Table.from_pylist([d.action.to_row() for d in ds])
        audit.append_chain(self.store, rows, actions)
        for d, r in zip(ds, rows, strict=True):
            d.decision_id, d.hash = r["decision_id"], r["hash"]
