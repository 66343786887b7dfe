"""Vetting: one action, or a whole campaign, against a rule pack.

Every rule runs on every action it has a view on (no short-circuit), so a decision
lists *every* reason, not only the first. The verdict is ``deny`` if any rule denies,
else ``change`` if any rule changes the action (the changes are applied and listed),
else ``allow``. Unless asked for a what-if, each decision goes into the audit log with
the rule versions and the facts it used.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, overload

import numpy as np
import pyarrow as pa

from goodwill.guard import audit
from goodwill.guard import batch as _batch
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


class DecisionList(Sequence[Decision]):
    """A campaign's decisions in action order; set-based rows become :class:`Decision` objects
    only when looked at, so a what-if over a million actions needs no million objects."""

    def __init__(self, n: int, make: Callable[[int], Decision], verdicts: np.ndarray,
                 by_rule: dict[str, dict[str, int]], routed: dict[str, int]) -> None:
        self._n = n
        self._make = make
        self._cache: list[Decision | None] = [None] * n
        self.verdicts = verdicts
        self.by_rule = by_rule
        self.routed = routed

    def __len__(self) -> int:
        return self._n

    @overload
    def __getitem__(self, j: int) -> Decision: ...
    @overload
    def __getitem__(self, j: slice) -> list[Decision]: ...
    def __getitem__(self, j: int | slice) -> Decision | list[Decision]:
        if isinstance(j, slice):
            return [self[k] for k in range(*j.indices(self._n))]
        if j < 0:
            j += self._n
        if not 0 <= j < self._n:
            raise IndexError(j)
        d = self._cache[j]
        if d is None:
            d = self._cache[j] = self._make(j)
        return d


@dataclass
class CampaignReport:
    decisions: Sequence[Decision]
    what_if: bool
    pack: str
    seconds: float = 0.0

    @property
    def counts(self) -> dict[str, int]:
        if isinstance(self.decisions, DecisionList):
            vs, ns = np.unique(self.decisions.verdicts.astype(str), return_counts=True)
            c: Counter[str] = Counter(dict(zip(vs.tolist(), ns.tolist(), strict=True)))
        else:
            c = Counter(d.verdict for d in self.decisions)
        return {v: c.get(v, 0) for v in ("allow", "deny", "change")}

    @property
    def by_rule(self) -> dict[str, dict[str, int]]:
        if isinstance(self.decisions, DecisionList):
            return self.decisions.by_rule
        out: dict[str, Counter[str]] = {}
        for d in self.decisions:
            for h in d.hits:
                out.setdefault(h.rule_id, Counter())[h.effect] += 1
        return {k: dict(v) for k, v in sorted(out.items())}

    @property
    def routed(self) -> dict[str, int]:
        if isinstance(self.decisions, DecisionList):
            return self.decisions.routed
        return dict(Counter(d.route for d in self.decisions if d.route))

    def to_dict(self, *, limit: int | None = None) -> dict[str, Any]:
        ds = list(self.decisions) if limit is None else list(self.decisions[:limit])
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
        summary = facts.summary()
        if not facts.known:
            summary["note"] = "no customer record with this id; rules ran on what is stored"
        return self.decide(action, hits, summary, as_of)

    def decide(self, action: Action, hits: list[Hit], summary: dict[str, Any], as_of: dt.datetime) -> Decision:
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
        return Decision(action, verdict, hits, summary, self.versions, as_of, changes, route)

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
        self, actions: Sequence[Action], *, record: bool = True, as_of: dt.datetime | None = None, batch: bool | None = None
    ) -> CampaignReport:
        """Vet every action of a campaign; ``record=False`` is the what-if mode (nothing is written).

        ``batch`` (default: whenever every rule of the pack has a set-based form) vets the
        campaign set-based (:mod:`goodwill.guard.batch`); ``batch=False`` runs every action
        through the per-action path, which gives the same decisions.
        """
        t0 = time.perf_counter()
        now = as_of or dt.datetime.now(dt.UTC)
        use_batch = (batch if batch is not None else True) and bool(actions) and _batch.batchable(self)
        ds: Sequence[Decision] = self._campaign_batch(actions, now) if use_batch else self._campaign_rows(actions, now)
        if record:
            self._record(ds)
        return CampaignReport(ds, not record, f"{self.pack.name}@{self.pack.version}", time.perf_counter() - t0)

    def _campaign_rows(self, actions: Sequence[Action], now: dt.datetime) -> list[Decision]:
        facts = campaign_facts(self.store, [a.customer_id for a in actions], as_of=now, contact_days=self.contact_days,
                               tables=self.tables)
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
        return [d for d in out if d is not None]

    def _campaign_batch(self, actions: Sequence[Action], now: dt.datetime) -> DecisionList:
        cols = _batch.gather(self, actions, now, self.tables)
        slow = _batch.per_action_rows(self, actions, cols.person)
        masks = _batch.evaluate(self, actions, cols, now)
        slow_idx = np.flatnonzero(slow).tolist()
        done: dict[int, Decision] = {}
        if slow_idx:
            done = dict(zip(slow_idx, self._campaign_rows([actions[j] for j in slow_idx], now), strict=True))
        n = len(actions)
        fast = ~slow
        any_hit = np.zeros(n, dtype=bool)
        by_rule: dict[str, Counter[str]] = {}
        routed: Counter[str] = Counter()
        for rid, fired in masks.fired.items():
            m = fired & fast
            any_hit |= m
            k = int(m.sum())
            if k:
                # Every rule kept on set-based rows denies (the changing ones send their rows to the per-action path).
                by_rule.setdefault(rid, Counter())["deny"] += k
        verdicts = np.where(any_hit, "deny", "allow").astype(object)
        first_route = None
        for b in self.pack.bound:
            vm = masks.fired.get(b.ctx.spec.id)
            if vm is not None and b.ctx.spec.id == "vulnerable_care":
                first_route = str(b.ctx.params.get("route", "customer care"))
                k = int((vm & fast).sum())
                if k:
                    routed[first_route] += k
        for j, d in done.items():
            verdicts[j] = d.verdict
            for h in d.hits:
                by_rule.setdefault(h.rule_id, Counter())[h.effect] += 1
            if d.route:
                routed[d.route] += 1
        for b in self.pack.bound:
            b.ctx.as_of = now

        def make(j: int) -> Decision:
            if j in done:
                return done[j]
            hits, summary = _batch.hits_for(self, actions[j], cols, masks, j)
            if not summary["known"]:
                summary["note"] = "no customer record with this id; rules ran on what is stored"
            return self.decide(actions[j], hits, summary, now)

        return DecisionList(n, make, verdicts, {k: dict(v) for k, v in sorted(by_rule.items())}, dict(routed))

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
