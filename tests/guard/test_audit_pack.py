"""Audit log (hash chain, tamper detection, queries), rule packs and registry, fairness, notices, CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import pytest
from tests.guard.helpers import NOW, add, build_company, days
from typer.testing import CliRunner

from goodwill.cli.app import app
from goodwill.errors import ConfigError
from goodwill.guard import (
    Action,
    Guard,
    Hit,
    Rule,
    RuleContext,
    audit,
    discover,
    load_pack,
    register_rule,
)
from goodwill.guard.facts import PersonFacts
from goodwill.guard.fairness import fairness, fisher_exact, z_test
from goodwill.guard.notices import notice_status
from goodwill.guard.registry import unregister_rule
from goodwill.store import Store


@pytest.fixture
def company(store: Store) -> Store:
    build_company(store)
    return store


def _actions() -> list[Action]:
    return [Action.from_dict({"action_id": f"a-{c}", "customer_id": c, "kind": "upsell", "purpose": "marketing",
                              "channel": "email", "campaign_id": "c1"}) for c in ("ana", "ben", "dee")]


def test_decisions_are_recorded_with_versions_and_facts_and_the_chain_verifies(company: Store) -> None:
    report = Guard(company).vet_campaign(_actions(), as_of=NOW)
    assert [d.decision_id for d in report.decisions] == ["gd-00000000000001", "gd-00000000000002", "gd-00000000000003"]
    rows = audit.query(company, customer_id="ben")
    assert len(rows) == 1 and rows[0]["verdict"] == "deny" and rows[0]["campaign_id"] == "c1"
    assert rows[0]["rule_versions"]["fix_first"].startswith("1.0.0#")
    assert rows[0]["facts"]["person"]["open_complaints"] == ["case-ben-1"]
    assert rows[0]["reasons"][0]["rule"] == "fix_first"
    assert [r["customer_id"] for r in audit.query(company, rule="vulnerable_care")] == ["dee"]
    Guard(company).vet(_actions()[0], as_of=NOW)
    r = audit.verify(company)
    assert r.ok and r.checked == 4 and len(r.head) == 64


def test_what_if_records_nothing(company: Store) -> None:
    report = Guard(company).vet_campaign(_actions(), as_of=NOW, record=False)
    assert report.what_if and report.counts == {"allow": 1, "deny": 2, "change": 0}
    assert company.count("decisions") == 0 and company.count("actions") == 0


def test_tampering_is_detected(company: Store) -> None:
    Guard(company).vet_campaign(_actions(), as_of=NOW)
    company.execute("UPDATE decisions SET verdict = 'allow', reasons = '[]' WHERE decision_id = 'gd-00000000000002'")
    r = audit.verify(company)
    assert not r.ok and r.first_bad == "gd-00000000000002" and "changed after it was recorded" in (r.problem or "")


def test_a_removed_decision_is_detected(company: Store) -> None:
    Guard(company).vet_campaign(_actions(), as_of=NOW)
    company.execute("DELETE FROM decisions WHERE decision_id = 'gd-00000000000002'")
    r = audit.verify(company)
    assert not r.ok and r.first_bad == "gd-00000000000003" and "removed or inserted" in (r.problem or "")


def test_the_chain_continues_from_the_stored_head_after_another_write(company: Store) -> None:
    g = Guard(company)
    for a in _actions():
        g.vet(a, as_of=NOW)
    # A write the guard did not make (here: the last decision removed by hand) must not let a
    # remembered head hide it: the next decision links to what is stored.
    company.execute("DELETE FROM decisions WHERE decision_id = 'gd-00000000000003'")
    d = g.vet(_actions()[0], as_of=NOW)
    assert d.decision_id == "gd-00000000000003"
    r = audit.verify(company)
    assert r.ok and r.checked == 3


def test_workspace_override_disables_and_reparameterises(company: Store, tmp_path: Path) -> None:
    over = tmp_path / "rules.yaml"
    over.write_text("rules:\n  renewal_price_cap: {params: {on_breach: deny}}\n  copy_lint: {enabled: false}\n")
    pack = load_pack(over)
    default = load_pack()
    assert "copy_lint" not in pack.rule_versions()
    assert pack.rule_versions()["renewal_price_cap"] != default.rule_versions()["renewal_price_cap"]
    d = Guard(company, pack).vet(Action.from_dict({"customer_id": "tom", "kind": "renewal", "price": 41.0}), as_of=NOW, record=False)
    assert d.verdict == "deny" and "the renewal is refused" in d.hits[0].reason
    held = Guard(company, pack).vet(Action.from_dict({"customer_id": "ana", "kind": "upsell", "channel": "email", "text": "Hurry!"}),
                                    as_of=NOW, record=False)
    assert held.verdict == "allow"


def test_override_naming_an_unknown_rule_says_which(tmp_path: Path) -> None:
    over = tmp_path / "rules.yaml"
    over.write_text("rules:\n  no_such_rule: {enabled: false}\n")
    with pytest.raises(ConfigError, match="names rule\\(s\\) goodwill does not know: no_such_rule"):
        load_pack(over)


class NoLateNight(Rule):
    """A third party's rule: no sales calls after 20:00."""

    id = "no_late_night"
    version = "2.1.0"
    basis = "Company calling-hours policy"
    reason = "Calls after {hour}:00 are not made."
    params: ClassVar[dict[str, Any]] = {"last_hour": 20}

    def check(self, action: Action, facts: PersonFacts, ctx: RuleContext) -> Hit | None:
        if action.channel == "phone" and action.planned_at and action.planned_at.hour >= ctx.params["last_hour"]:
            return ctx.hit("deny", {"hour": ctx.params["last_hour"]})
        return None


def test_third_party_rule_registers_like_a_builtin(company: Store) -> None:
    register_rule(NoLateNight)
    try:
        pack = load_pack()
        assert pack.rule_versions()["no_late_night"].startswith("2.1.0#")
        d = Guard(company, pack).vet(Action.from_dict({"customer_id": "ana", "kind": "message", "purpose": "service",
                                                       "channel": "phone", "planned_at": "2026-11-24T21:30:00Z"}), as_of=NOW, record=False)
        assert d.verdict == "deny" and d.hits[0].reason == "Calls after 20:00 are not made."
    finally:
        unregister_rule("no_late_night")


def test_entry_point_discovery() -> None:
    class EP:
        name, value = "late", "tests.guard.test_audit_pack:NoLateNight"

        def load(self) -> type[Rule]:
            return NoLateNight

    try:
        assert "no_late_night" in discover(lambda: [EP()])
        assert "fix_first" in discover(lambda: [EP()])
    finally:
        unregister_rule("no_late_night")


def test_fairness_flags_a_group_treated_worse(store: Store) -> None:
    rows = []
    for i in range(200):
        band = "18-34" if i < 100 else "65+"
        add(store, "customers", [{"customer_id": f"p{i}", "age_band": band, "region": "north", "vulnerable": False}])
        allowed = (i % 10 != 0) if band == "18-34" else (i % 10 < 4)
        rows.append({"action_id": f"a{i}", "customer_id": f"p{i}", "kind": "offer", "campaign_id": "camp"})
        audit.append_chain(store, [{"action_id": f"a{i}", "customer_id": f"p{i}", "verdict": "allow" if allowed else "deny",
                                    "reasons": "[]" if allowed else '[{"rule":"marketing_consent"}]', "rule_versions": "{}",
                                    "facts": "{}", "decided_at": NOW}])
    add(store, "actions", rows)
    r = fairness(store, campaign_id="camp", rules=("marketing_consent",))
    by = {(g.attribute, g.group): g for g in r.groups}
    old, young = by[("age_band", "65+")], by[("age_band", "18-34")]
    assert old.flagged and not young.flagged and old.ratio == pytest.approx(0.4 / 0.9)
    assert old.denials_by_rule == {"marketing_consent": 60}
    assert not by[("region", "north")].flagged


def test_statistics_against_known_values() -> None:
    # scipy.stats.fisher_exact([[8, 2], [1, 5]]) -> p = 0.03496503496503495
    assert fisher_exact(8, 2, 1, 5) == pytest.approx(0.034965, abs=1e-6)
    # Two-proportion z-test: 90/100 vs 40/100 -> z = 7.47, p ~ 8e-14
    assert z_test(90, 100, 40, 100) < 1e-12
    assert z_test(50, 100, 50, 100) == pytest.approx(1.0)


def test_notices_due_sent_and_missed(company: Store) -> None:
    r = notice_status(company, as_of=NOW)
    status = {(i.subscription_id, i.notice): i.status for i in r.items}
    assert status[("sub-tom", "end_of_contract")] == "due"  # 25 days left, nothing sent
    assert status[("sub-una", "end_of_contract")] == "missed"  # 5 days left
    assert status[("sub-val", "end_of_contract")] == "missed"  # ended 3 days ago
    full = {k: 1 for k in ("contract_end_date", "services", "price_until_end", "price_after_end", "how_to_end_or_change", "best_tariffs")}
    Guard(company).vet(Action.from_dict({"customer_id": "tom", "kind": "notice", "purpose": "contract", "planned_at": NOW.isoformat(),
                                         "attrs": {"notice": "end_of_contract", "subscription_id": "sub-tom", "content": full}}), as_of=NOW)
    r2 = notice_status(company, as_of=NOW + days(1))
    assert {(i.subscription_id, i.notice): i.status for i in r2.items}[("sub-tom", "end_of_contract")] == "sent"


def _cli(args: list[str]) -> Any:
    return CliRunner().invoke(app, args, catch_exceptions=False)


def test_cli_exit_codes_and_json(tmp_path: Path) -> None:
    from goodwill.store import open_store

    db = str(tmp_path / "s.duckdb")
    with open_store(db) as s:
        build_company(s)
    ok = tmp_path / "ok.json"
    ok.write_text(json.dumps({"customer_id": "ana", "kind": "upsell", "purpose": "marketing", "channel": "email"}))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"customer_id": "ben", "kind": "upsell", "purpose": "marketing", "channel": "email"}))
    assert _cli(["vet", str(ok), "--store", db, "--as-of", NOW.isoformat()]).exit_code == 0
    res = _cli(["vet", str(bad), "--store", db, "--json", "--as-of", NOW.isoformat()])
    assert res.exit_code == 1 and json.loads(res.stdout)["reasons"][0]["rule"] == "fix_first"
    camp = tmp_path / "c.jsonl"
    camp.write_text(ok.read_text() + "\n" + bad.read_text() + "\n")
    res = _cli(["vet-campaign", str(camp), "--store", db, "--what-if", "--json", "--as-of", NOW.isoformat()])
    assert res.exit_code == 1 and json.loads(res.stdout)["counts"] == {"allow": 1, "deny": 1, "change": 0}
    assert _cli(["audit", "verify", "--store", db]).exit_code == 0
    listed = json.loads(_cli(["audit", "--store", db, "--json"]).stdout)
    assert [r["customer_id"] for r in listed] == ["ben", "ana"]  # the what-if run recorded nothing
    with open_store(db) as s:
        s.execute("UPDATE decisions SET verdict = 'allow' WHERE customer_id = 'ben'")
    assert _cli(["audit", "verify", "--store", db]).exit_code == 1


def test_cli_error_is_one_line_exit_2(tmp_path: Path) -> None:
    import subprocess
    import sys

    f = tmp_path / "a.json"
    f.write_text('{"customer_id": "x", "kind": "bogus"}')
    p = subprocess.run([sys.executable, "-c", "from goodwill.cli.app import main; main()", "vet", str(f), "--store", str(tmp_path / "s.duckdb")],
                       capture_output=True, text=True, check=False)
    assert p.returncode == 2
    assert p.stderr.strip() == (
        f"Error: {f}: kind 'bogus' is not an action kind. Use one of: offer, upsell, cross_sell, message, price_change, renewal, notice."
    )


def test_demo_campaign_of_real_customers(tmp_path: Path) -> None:
    """The shipped campaign, on the shipped real demo data plus the labelled simulated facts."""
    from goodwill.guard import read_campaign
    from goodwill.guard.simulate import (
        AS_OF,
        CAMPAIGN_FILE,
        build_campaign,
        load_demo_data,
        simulate_company,
    )
    from goodwill.store import open_store

    with open_store(tmp_path / "demo.duckdb") as s:
        load_demo_data(s)
        simulate_company(s)
        actions = read_campaign(CAMPAIGN_FILE)
        # The file is what the seeded generator makes from this data.
        assert [Action.from_dict(a).to_dict() for a in build_campaign(s)] == [a.to_dict() for a in actions]
        report = Guard(s).vet_campaign(actions, as_of=AS_OF)
        c = report.counts
        assert c["allow"] > 0 and c["deny"] > 0 and c["change"] > 0
        fired = set(report.by_rule)
        assert {"fix_first", "renewal_price_cap", "marketing_consent", "vulnerable_care", "contract_notice"} <= fired
        # Every complainant with an open complaint was kept from the up-sell.
        open_ids = {r["customer_id"] for r in s.rows("SELECT customer_id FROM cases WHERE status = 'open'")}
        for d in report.decisions:
            if d.action.kind == "upsell" and d.action.customer_id in open_ids:
                assert d.verdict == "deny" and "fix_first" in [h.rule_id for h in d.hits]
        assert audit.verify(s).ok
