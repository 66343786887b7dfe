"""Fairness check: do guard decisions fall differently on different groups of customers?

In the spirit of Pega's Ethical Bias Check: for each attribute (age band, vulnerability,
region) and each group, the share of actions allowed, compared with the best-treated
group (the four-fifths rule: a ratio under ``threshold`` is adverse impact) and tested
against the rest of the population (two-proportion z-test; Fisher's exact test when a
group is small). A group is flagged only when both say so.

Some rules exist to treat a group differently (``vulnerable_care`` stops sales to people
in vulnerable circumstances). Denials by such *intended* rules are shown, and the check
is repeated without them, so a flag says whether anything else falls on that group.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from goodwill.errors import ConfigError
from goodwill.store import Store

ATTRIBUTES = {"age_band": "c.age_band", "vulnerable": "COALESCE(c.vulnerable, FALSE)", "region": "c.region"}
INTENDED = {"vulnerable": ("vulnerable_care",)}


def _norm_sf(z: float) -> float:
    return 0.5 * math.erfc(z / math.sqrt(2))


def z_test(k1: int, n1: int, k2: int, n2: int) -> float:
    """Two-sided p-value that two proportions are equal (pooled two-proportion z-test)."""
    if n1 == 0 or n2 == 0:
        return 1.0
    p = (k1 + k2) / (n1 + n2)
    se = math.sqrt(p * (1 - p) * (1 / n1 + 1 / n2))
    if se == 0:
        return 1.0
    return min(1.0, 2 * _norm_sf(abs(k1 / n1 - k2 / n2) / se))


def fisher_exact(a: int, b: int, c: int, d: int) -> float:
    """Two-sided p-value of Fisher's exact test on the table [[a, b], [c, d]]."""
    n1, n2, k = a + b, c + d, a + c
    n = n1 + n2

    def logp(x: int) -> float:
        return (
            math.lgamma(n1 + 1) - math.lgamma(x + 1) - math.lgamma(n1 - x + 1)
            + math.lgamma(n2 + 1) - math.lgamma(k - x + 1) - math.lgamma(n2 - k + x + 1)
            - (math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1))
        )

    observed = logp(a)
    lo, hi = max(0, k - n2), min(k, n1)
    total = sum(math.exp(logp(x)) for x in range(lo, hi + 1) if logp(x) <= observed + 1e-7)
    return min(1.0, total)


@dataclass
class GroupRate:
    attribute: str
    group: str
    n: int
    allowed: int
    denied: int
    changed: int
    allowed_without_intended: int
    ratio: float | None = None
    ratio_without_intended: float | None = None
    p_value: float | None = None
    p_value_without_intended: float | None = None
    test: str = ""
    flagged: bool = False
    flagged_without_intended: bool = False
    denials_by_rule: dict[str, int] = field(default_factory=dict)

    @property
    def allow_rate(self) -> float:
        return self.allowed / self.n if self.n else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "attribute": self.attribute,
            "group": self.group,
            "n": self.n,
            "allowed": self.allowed,
            "denied": self.denied,
            "changed": self.changed,
            "allow_rate": round(self.allow_rate, 4),
            "ratio_to_best": None if self.ratio is None else round(self.ratio, 4),
            "p_value": self.p_value,
            "test": self.test,
            "flagged": self.flagged,
            "ratio_without_intended": None if self.ratio_without_intended is None else round(self.ratio_without_intended, 4),
            "p_value_without_intended": self.p_value_without_intended,
            "flagged_without_intended": self.flagged_without_intended,
            "denials_by_rule": self.denials_by_rule,
        }


@dataclass
class FairnessReport:
    threshold: float
    alpha: float
    campaign_id: str | None
    groups: list[GroupRate]

    @property
    def flagged(self) -> list[GroupRate]:
        return [g for g in self.groups if g.flagged]

    def to_dict(self) -> dict[str, Any]:
        return {
            "threshold": self.threshold,
            "alpha": self.alpha,
            "campaign_id": self.campaign_id,
            "flagged": [f"{g.attribute}={g.group}" for g in self.flagged],
            "groups": [g.to_dict() for g in self.groups],
        }


def _p(k1: int, n1: int, k2: int, n2: int) -> tuple[float, str]:
    small = min(n1, n2) > 0 and min(
        (k1 + k2) * n1 / (n1 + n2), (n1 + n2 - k1 - k2) * n1 / (n1 + n2),
        (k1 + k2) * n2 / (n1 + n2), (n1 + n2 - k1 - k2) * n2 / (n1 + n2),
    ) < 5
    if small and n1 + n2 <= 20_000:
        return fisher_exact(k1, n1 - k1, k2, n2 - k2), "fisher"
    return z_test(k1, n1, k2, n2), "z"


def fairness(
    store: Store,
    *,
    campaign_id: str | None = None,
    attributes: tuple[str, ...] = ("age_band", "vulnerable", "region"),
    rules: tuple[str, ...] = (),
    threshold: float = 0.8,
    alpha: float = 0.05,
    min_group: int = 5,
) -> FairnessReport:
    """Allow rates by group over recorded decisions (one campaign, or all of them)."""
    for a in attributes:
        if a not in ATTRIBUTES:
            raise ConfigError(f"Cannot group decisions by {a!r}.", hint=f"Use any of: {', '.join(ATTRIBUTES)}.")
    rule_ids = sorted(set(rules) | {r for a in attributes for r in INTENDED.get(a, ())})
    groups: list[GroupRate] = []
    where, params = "", []
    if campaign_id is not None:
        where, params = " WHERE a.campaign_id = ?", [campaign_id]
    for attr in attributes:
        intended = INTENDED.get(attr, ())
        rule_cols = ", ".join(
            f"SUM(CASE WHEN d.verdict = 'deny' AND d.reasons LIKE ? THEN 1 ELSE 0 END) AS r{i}" for i in range(len(rule_ids))
        )
        only_intended = (
            "SUM(CASE WHEN d.verdict = 'deny' AND "
            + " AND ".join(["d.reasons LIKE ?"] * len(intended))
            + " THEN 1 ELSE 0 END)"
            if intended
            else "0"
        )
        sql = (
            f"SELECT CAST({ATTRIBUTES[attr]} AS TEXT) AS g, COUNT(*) AS n, "
            "SUM(CASE WHEN d.verdict = 'allow' THEN 1 ELSE 0 END) AS allowed, "
            "SUM(CASE WHEN d.verdict = 'deny' THEN 1 ELSE 0 END) AS denied, "
            "SUM(CASE WHEN d.verdict = 'change' THEN 1 ELSE 0 END) AS changed, "
            f"{only_intended} AS intended_deny"
            + (", " + rule_cols if rule_ids else "")
            + " FROM decisions d LEFT JOIN actions a ON a.action_id = d.action_id "
            "LEFT JOIN customers c ON c.customer_id = d.customer_id" + where + " GROUP BY 1 ORDER BY 1"
        )
        p = [f'%"rule":"{r}"%' for r in intended] + [f'%"rule":"{r}"%' for r in rule_ids] + params
        rows = store.rows(sql, p)
        # A denial "by an intended rule" counts as allowed in the second check only when that rule alone
        # stood in the way; the SQL above counts denials whose reasons include it, a close upper bound.
        gs = [
            GroupRate(
                attr, "unknown" if r["g"] is None else str(r["g"]).lower(), int(r["n"]), int(r["allowed"]), int(r["denied"]),
                int(r["changed"]), int(r["allowed"]) + int(r["intended_deny"] or 0),
                denials_by_rule={rid: int(r[f"r{i}"] or 0) for i, rid in enumerate(rule_ids) if r[f"r{i}"]},
            )
            for r in rows
        ]
        total_n = sum(g.n for g in gs)
        total_k = sum(g.allowed for g in gs)
        total_k2 = sum(g.allowed_without_intended for g in gs)
        eligible = [g for g in gs if g.n >= min_group]
        best = max((g.allow_rate for g in eligible), default=0.0)
        best2 = max((g.allowed_without_intended / g.n for g in eligible), default=0.0)
        for g in gs:
            g.ratio = g.allow_rate / best if best else None
            g.ratio_without_intended = (g.allowed_without_intended / g.n) / best2 if best2 and g.n else None
            g.p_value, g.test = _p(g.allowed, g.n, total_k - g.allowed, total_n - g.n)
            g.p_value_without_intended, _ = _p(g.allowed_without_intended, g.n, total_k2 - g.allowed_without_intended, total_n - g.n)
            if g.n >= min_group:
                g.flagged = g.ratio is not None and g.ratio < threshold and g.p_value < alpha
                g.flagged_without_intended = (
                    g.ratio_without_intended is not None and g.ratio_without_intended < threshold and g.p_value_without_intended < alpha
                )
        groups += gs
    return FairnessReport(threshold, alpha, campaign_id, groups)
