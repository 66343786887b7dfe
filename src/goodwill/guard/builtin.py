"""The built-in guard rules. Each registers through :func:`register_rule`, as a third party's would.

Their versions, legal basis, reason texts and parameters live in ``rules.yaml``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from goodwill.guard.action import Action
from goodwill.guard.facts import PersonFacts
from goodwill.guard.registry import Hit, Rule, RuleContext, register_rule
from goodwill.lint import lint_text


def _who(facts: PersonFacts) -> str:
    return facts.person_id


def _channel(action: Action) -> str:
    return action.channel or "any"


def _purposes(action: Action, ctx: RuleContext) -> set[str]:
    if action.purpose and action.purpose not in ctx.marketing_purposes:
        return {action.purpose}
    return set(ctx.marketing_purposes) | ({action.purpose} if action.purpose else set())


@register_rule
class FixFirst(Rule):
    """No up-sell or cross-sell while the person has an open complaint or an overdue promise."""

    id = "fix_first"

    def check(self, action: Action, facts: PersonFacts, ctx: RuleContext) -> Hit | None:
        if not facts.open_complaints and not facts.overdue_promises:
            return None
        parts = []
        if facts.open_complaints:
            parts.append(f"{len(facts.open_complaints)} open complaint(s) ({', '.join(facts.open_complaints)})")
        if facts.overdue_promises:
            parts.append(f"{len(facts.overdue_promises)} overdue promise(s) ({', '.join(facts.overdue_promises)})")
        return ctx.hit(
            "deny",
            {
                "customer": _who(facts),
                "kind": action.kind.replace("_", "-"),
                "outstanding": " and ".join(parts),
                "open_complaints": len(facts.open_complaints),
                "complaint_ids": facts.open_complaints,
                "overdue_promises": len(facts.overdue_promises),
                "promise_ids": facts.overdue_promises,
            },
        )


@register_rule
class RenewalPriceCap(Rule):
    """A renewal price at most the equivalent new-business price through the same channel."""

    id = "renewal_price_cap"

    def check(self, action: Action, facts: PersonFacts, ctx: RuleContext) -> Hit | None:
        sub = facts.subscription(action.attrs.get("subscription_id"), action.product)
        # "Same channel" is the sales channel the customer bought through, not the letter's delivery.
        channel = action.attrs.get("sales_channel") or (sub.channel if sub else None) or action.channel
        price = action.price if action.price is not None else (sub.price if sub else None)
        plan = (sub.plan_id if sub else None) or action.product
        nb: float | None = None
        source = None
        if sub is not None:
            if sub.plan_price is not None and sub.plan_channel in (None, channel):
                nb, source = sub.plan_price, f"plans.new_customer_price of {sub.plan_id}"
            elif sub.new_customer_price is not None:
                nb, source = sub.new_customer_price, f"subscriptions.new_customer_price of {sub.subscription_id}"
        values: dict[str, Any] = {
            "subscription": sub.subscription_id if sub else None,
            "plan": plan,
            "channel": channel,
            "price": price,
            "current_price": sub.price if sub else None,
            "nb_price": nb,
            "nb_source": source,
        }
        if price is None:
            return None
        if nb is None:
            if ctx.params.get("when_unknown", "deny") == "allow":
                return None
            return ctx.hit("deny", values, template="reason_unknown")
        tolerance = float(ctx.params.get("tolerance", 0.0))
        if price <= nb + tolerance:
            return None
        values["excess"] = round(price - nb, 2)
        if ctx.params.get("on_breach", "change") == "deny":
            values["outcome"] = "the renewal is refused"
            return ctx.hit("deny", values)
        values["outcome"] = f"price changed to {nb:,.2f}"
        return ctx.hit("change", values, change={"price": round(nb, 2)})


@register_rule
class MarketingConsent(Rule):
    """Marketing only with consent for that purpose and channel."""

    id = "marketing_consent"

    def check(self, action: Action, facts: PersonFacts, ctx: RuleContext) -> Hit | None:
        if not ctx.is_marketing(action):
            return None
        channel = _channel(action)
        c = facts.consent(_purposes(action, ctx), channel)
        # Withdrawals and objections have rules (and reasons) of their own.
        if c is not None and c.state in ("granted", "withdrawn", "objected"):
            return None
        return ctx.hit(
            "deny",
            {
                "purpose": action.purpose or "marketing",
                "channel": channel,
                "state": c.state if c else "not_provided",
                "since": f" since {c.recorded_at.date().isoformat()} ({c.source or 'unknown source'})" if c else " (nothing recorded)",
                "consent_id": c.consent_id if c else None,
            },
        )


@register_rule
class MarketingObjection(Rule):
    """An objection to direct marketing is absolute."""

    id = "marketing_objection"

    def check(self, action: Action, facts: PersonFacts, ctx: RuleContext) -> Hit | None:
        if not ctx.is_marketing(action):
            return None
        o = facts.standing_objection(ctx.marketing_purposes | {action.purpose or "marketing"}, _channel(action))
        if o is None:
            return None
        return ctx.hit(
            "deny",
            {
                "customer": _who(facts),
                "objected_at": o.recorded_at,
                "objected_channel": "all channels" if o.channel == "any" else f"recorded on {o.channel}",
                "consent_id": o.consent_id,
                "source": o.source,
            },
        )


@register_rule
class WithdrawnConsent(Rule):
    """Withdrawn consent takes effect at once."""

    id = "withdrawn_consent"

    def check(self, action: Action, facts: PersonFacts, ctx: RuleContext) -> Hit | None:
        if not action.purpose and not ctx.is_marketing(action):
            return None
        channel = _channel(action)
        c = facts.consent(_purposes(action, ctx), channel)
        if c is None or c.state != "withdrawn":
            return None
        return ctx.hit(
            "deny",
            {
                "purpose": c.purpose,
                "channel": channel,
                "withdrawn_at": c.recorded_at,
                "consent_id": c.consent_id,
                "source": c.source,
            },
        )


def _contacts_in(facts: PersonFacts, since: dt.datetime, channel: str | None, functions: frozenset[str]) -> int:
    return sum(
        1
        for c in facts.contacts
        if c.at >= since and (c.function in functions) and (channel is None or c.channel == channel)
    )


_SALES_FUNCTIONS = frozenset({"marketing", "sales"})


@register_rule
class ContactCap(Rule):
    """Contact-frequency caps per channel and period."""

    id = "contact_cap"

    def check(self, action: Action, facts: PersonFacts, ctx: RuleContext) -> Hit | None:
        if not ctx.is_marketing(action):
            return None
        caps: dict[str, dict[str, Any]] = ctx.params.get("caps") or {}
        at = action.planned_at or ctx.as_of
        for key in (action.channel, "all"):
            if not key or key not in caps:
                continue
            cap = caps[key]
            days, most = int(cap["days"]), int(cap["max"])
            n = _contacts_in(facts, at - dt.timedelta(days=days), None if key == "all" else key, _SALES_FUNCTIONS)
            if n >= most:
                return ctx.hit(
                    "deny",
                    {
                        "customer": _who(facts),
                        "count": n,
                        "channel": "all channels" if key == "all" else key,
                        "days": days,
                        "max": most,
                    },
                )
        return None


@register_rule
class RejectionSuppression(Rule):
    """Suppression after repeated rejections."""

    id = "rejection_suppression"

    def check(self, action: Action, facts: PersonFacts, ctx: RuleContext) -> Hit | None:
        if not ctx.is_marketing(action):
            return None
        days = int(ctx.params.get("days", 90))
        most = int(ctx.params.get("max_rejections", 3))
        outcomes = set(ctx.params.get("outcomes") or ())
        at = action.planned_at or ctx.as_of
        since = at - dt.timedelta(days=days)
        times = sorted(c.at for c in facts.contacts if c.at >= since and c.outcome in outcomes)
        if len(times) < most:
            return None
        return ctx.hit(
            "deny",
            {
                "customer": _who(facts),
                "count": len(times),
                "days": days,
                "max": most,
                "until": times[-most] + dt.timedelta(days=days),
            },
        )


@register_rule
class VulnerableCare(Rule):
    """Customers marked vulnerable get no sales pressure and are routed to care."""

    id = "vulnerable_care"

    def check(self, action: Action, facts: PersonFacts, ctx: RuleContext) -> Hit | None:
        if not facts.vulnerable:
            return None
        route = str(ctx.params.get("route", "customer care"))
        return ctx.hit(
            "deny",
            {"customer": _who(facts), "kind": action.kind.replace("_", "-"), "route": route},
            route=route,
        )


@register_rule
class ContractNotice(Rule):
    """End-of-contract and annual best-deal notices: in the window and with the required content."""

    id = "contract_notice"

    def check(self, action: Action, facts: PersonFacts, ctx: RuleContext) -> Hit | None:
        which = action.attrs.get("notice")
        required: dict[str, list[str]] = ctx.params.get("required_content") or {}
        if which not in required:
            return None
        content = action.attrs.get("content") or {}
        missing = [k for k in required[which] if not content.get(k)]
        sub = facts.subscription(action.attrs.get("subscription_id"), action.product)
        values: dict[str, Any] = {"subscription": sub.subscription_id if sub else action.attrs.get("subscription_id")}
        if missing:
            values["problem"] = f"lacks required content: {', '.join(missing)}; held until complete"
            values["missing"] = missing
            return ctx.hit("deny", values)
        if which != "end_of_contract":
            return None
        if sub is None or sub.ends_at is None:
            values["problem"] = "names no subscription with a known minimum-term end"
            return ctx.hit("deny", values)
        lo, hi = int(ctx.params.get("min_days", 10)), int(ctx.params.get("max_days", 40))
        send = action.planned_at or ctx.as_of
        days = (sub.ends_at - send).total_seconds() / 86400
        values.update({"ends_at": sub.ends_at, "send_at": send, "days_before": round(days, 1), "window": f"{lo}-{hi} days"})
        if lo <= days <= hi:
            return None
        earliest, latest = sub.ends_at - dt.timedelta(days=hi), sub.ends_at - dt.timedelta(days=lo)
        now = ctx.as_of
        if latest < now:
            values["problem"] = (
                f"is planned {days:.0f} days before the term ends on {sub.ends_at.date()}; "
                f"the {lo}-{hi} day window closed on {latest.date()}: missed, send it now and record the breach"
            )
            return ctx.hit("deny", values)
        new_send = max(earliest, now)
        values["problem"] = (
            f"is planned {days:.0f} days before the term ends on {sub.ends_at.date()}, outside the "
            f"{lo}-{hi} day window; moved to {new_send.date()}"
        )
        return ctx.hit("change", values, change={"planned_at": new_send.isoformat()})


@register_rule
class CopyLint(Rule):
    """Outbound copy that fails the language lint is held."""

    id = "copy_lint"
    needs_facts = False

    def check(self, action: Action, facts: PersonFacts, ctx: RuleContext) -> Hit | None:
        if not action.text:
            return None
        severities = set(ctx.params.get("severities") or ("error", "warning"))
        found = [f for f in lint_text(action.text, "copy") if f.severity in severities]
        if not found:
            return None
        return ctx.hit(
            "deny",
            {
                "findings": [f"{f.code} {f.category} '{f.excerpt or action.text[f.start:f.end]}' ({f.severity})" for f in found],
                "codes": sorted({f.code for f in found}),
            },
        )
