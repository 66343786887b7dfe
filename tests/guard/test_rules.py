"""Each built-in rule on realistic cases, on both engines, one action at a time and as a campaign."""

from __future__ import annotations

from typing import Any

import pytest
from tests.guard.helpers import NOW, add, build_company, consent, days

from goodwill.guard import Action, Guard
from goodwill.store import Store


@pytest.fixture
def company(store: Store) -> Store:
    build_company(store)
    return store


def upsell(cid: str, **kw: Any) -> Action:
    d = {"customer_id": cid, "kind": "upsell", "purpose": "marketing", "channel": "email", "product": "fibre-500",
         "text": "Faster broadband for the same room: see what Fibre 500 costs before you decide.", **kw}
    return Action.from_dict(d)


def fired(d: Any) -> list[str]:
    return [h.rule_id for h in d.hits]


def test_clean_customer_is_allowed(company: Store) -> None:
    d = Guard(company).vet(upsell("ana"), as_of=NOW, record=False)
    assert d.verdict == "allow" and d.hits == []
    # The kept promise (an event names it) and the closed complaint do not count.
    assert d.facts["open_complaints"] == [] and d.facts["overdue_promises"] == []


def test_fix_first_open_complaint_and_overdue_promise(company: Store) -> None:
    g = Guard(company)
    ben = g.vet(upsell("ben"), as_of=NOW, record=False)
    assert ben.verdict == "deny" and fired(ben) == ["fix_first"]
    assert "1 open complaint(s) (case-ben-1)" in ben.hits[0].reason
    cai = g.vet(upsell("cai", kind="cross_sell"), as_of=NOW, record=False)
    assert fired(cai) == ["fix_first"] and "1 overdue promise(s) (pr-cai-1)" in cai.hits[0].reason
    # A service message to the same person is not a sale and is not stopped by fix-first.
    msg = g.vet(Action.from_dict({"customer_id": "ben", "kind": "message", "purpose": "service", "channel": "email"}), as_of=NOW, record=False)
    assert "fix_first" not in fired(msg)


def test_rules_apply_to_the_whole_person(company: Store) -> None:
    d = Guard(company).vet(upsell("ivy-a"), as_of=NOW, record=False)
    assert fired(d) == ["fix_first"] and "case-ivy-1" in d.hits[0].reason
    assert d.facts["customer_ids"] == ["ivy-a", "ivy-b"]


def test_renewal_above_new_business_price_is_changed_with_figures(company: Store) -> None:
    d = Guard(company).vet(Action.from_dict({"customer_id": "tom", "kind": "renewal", "price": 41.0,
                                             "attrs": {"subscription_id": "sub-tom"}}), as_of=NOW, record=False)
    assert d.verdict == "change" and d.changes == {"price": 30.0}
    r = d.hits[0].reason
    assert "41.00" in r and "30.00" in r and "by 11.00" in r and "price changed to 30.00" in r
    assert d.hits[0].facts["nb_source"] == "plans.new_customer_price of fibre-100"


def test_renewal_at_or_below_new_business_price_is_allowed(company: Store) -> None:
    d = Guard(company).vet(Action.from_dict({"customer_id": "una", "kind": "renewal", "price": 30.0}), as_of=NOW, record=False)
    assert d.verdict == "allow"


def test_renewal_with_no_known_new_business_price_is_denied(company: Store) -> None:
    d = Guard(company).vet(Action.from_dict({"customer_id": "val", "kind": "renewal"}), as_of=NOW, record=False)
    assert d.verdict == "deny" and "No equivalent new-business price is on record for legacy-10" in d.hits[0].reason


def test_plan_price_for_another_channel_is_not_equivalent(company: Store) -> None:
    add(company, "subscriptions", [{"subscription_id": "sub-tom-2", "customer_id": "tom", "plan_id": "fibre-500",
                                    "channel": "web", "price": 50.0, "status": "active"}])
    d = Guard(company).vet(Action.from_dict({"customer_id": "tom", "kind": "renewal", "attrs": {"subscription_id": "sub-tom-2"}}),
                           as_of=NOW, record=False)
    # fibre-500's new-business price is for phone sales; for a web customer there is none on record.
    assert d.verdict == "deny" and "via web" in d.hits[0].reason


def test_marketing_needs_consent_for_that_channel(company: Store) -> None:
    d = Guard(company).vet(upsell("ana", channel="sms"), as_of=NOW, record=False)
    assert d.verdict == "deny" and fired(d) == ["marketing_consent"]
    assert "Marketing by sms needs consent for marketing on sms" in d.hits[0].reason


def test_objection_is_absolute_even_with_a_grant(company: Store) -> None:
    # eli granted e-mail marketing 200 days ago, then objected on every channel.
    d = Guard(company).vet(upsell("eli"), as_of=NOW, record=False)
    assert d.verdict == "deny" and "marketing_objection" in fired(d)
    assert "absolute" in d.hits[fired(d).index("marketing_objection")].reason
    post = Guard(company).vet(upsell("eli", channel="post", kind="offer"), as_of=NOW, record=False)
    assert "marketing_objection" in fired(post)


def test_withdrawal_takes_effect_at_once(company: Store) -> None:
    g = Guard(company)
    assert g.vet(upsell("una"), as_of=NOW, record=False).verdict == "allow"
    add(company, "consents", [consent("una", "withdrawn", NOW + days(0.001))])
    d = g.vet(upsell("una"), as_of=NOW + days(0.002), record=False)
    assert d.verdict == "deny" and fired(d) == ["withdrawn_consent"]
    fay = g.vet(upsell("fay"), as_of=NOW, record=False)
    assert fired(fay) == ["withdrawn_consent"] and "withdrawn on 2026-11-23" in fay.hits[0].reason


def test_contact_cap_per_channel(company: Store) -> None:
    g = Guard(company)
    d = g.vet(upsell("gus"), as_of=NOW, record=False)
    assert fired(d) == ["contact_cap"] and "4 marketing contact(s) by email in the last 30 days (cap 4)" in d.hits[0].reason
    # Another channel has its own cap (and the 'all' cap of 6 is not reached).
    add(company, "consents", [consent("gus", "granted", NOW - days(5), channel="post")])
    assert g.vet(upsell("gus", channel="post"), as_of=NOW, record=False).verdict == "allow"


def test_rejections_suppress_sales(company: Store) -> None:
    d = Guard(company).vet(upsell("hal"), as_of=NOW, record=False)
    assert fired(d) == ["rejection_suppression"] and "turned down 3 offer(s)" in d.hits[0].reason


def test_vulnerable_customer_gets_no_sales_and_is_routed_to_care(company: Store) -> None:
    d = Guard(company).vet(upsell("dee"), as_of=NOW, record=False)
    assert d.verdict == "deny" and fired(d) == ["vulnerable_care"] and d.route == "customer care (vulnerability team)"


def test_copy_that_fails_the_lint_is_held(company: Store) -> None:
    d = Guard(company).vet(upsell("ana", text="Hurry, only 2 left! Offer ends tonight."), as_of=NOW, record=False)
    assert d.verdict == "deny" and fired(d) == ["copy_lint"] and "GW101" in d.hits[0].reason


def test_end_of_contract_notice_window_and_content(company: Store) -> None:
    g = Guard(company)
    full = {"contract_end_date": 1, "services": 1, "price_until_end": 1, "price_after_end": 1, "how_to_end_or_change": 1, "best_tariffs": 1}

    def notice(cid: str, sub: str, content: dict[str, Any], at: Any = None) -> Action:
        return Action.from_dict({"customer_id": cid, "kind": "notice", "purpose": "contract", "channel": "email",
                                 "planned_at": at, "attrs": {"notice": "end_of_contract", "subscription_id": sub, "content": content}})

    assert g.vet(notice("tom", "sub-tom", full), as_of=NOW, record=False).verdict == "allow"  # 25 days before
    short = dict(full)
    short.pop("best_tariffs")
    d = g.vet(notice("tom", "sub-tom", short), as_of=NOW, record=False)
    assert d.verdict == "deny" and "lacks required content: best_tariffs" in d.hits[0].reason
    late = g.vet(notice("una", "sub-una", full), as_of=NOW, record=False)  # 5 days before: window closed
    assert late.verdict == "deny" and "missed" in late.hits[0].reason
    early = g.vet(notice("tom", "sub-tom", full, at=(NOW - days(30)).isoformat()), as_of=NOW - days(35), record=False)
    assert early.verdict == "change" and early.changes["planned_at"].startswith((NOW - days(15)).date().isoformat())


def test_every_reason_is_listed_not_just_the_first(company: Store) -> None:
    d = Guard(company).vet(upsell("ben", channel="sms", text="Only 2 left!"), as_of=NOW, record=False)
    assert set(fired(d)) == {"fix_first", "marketing_consent", "copy_lint"}


CASES = [("ana", "allow"), ("ben", "deny"), ("cai", "deny"), ("dee", "deny"), ("eli", "deny"), ("fay", "deny"),
         ("gus", "deny"), ("hal", "deny"), ("ivy-b", "deny"), ("nobody", "deny")]


def test_campaign_matches_one_by_one(company: Store) -> None:
    g = Guard(company)
    actions = [upsell(c, action_id=f"a-{c}") for c, _ in CASES]
    report = g.vet_campaign(actions, as_of=NOW, record=False)
    single = [g.vet(a, as_of=NOW, record=False) for a in actions]
    assert [d.verdict for d in report.decisions] == [v for _, v in CASES] == [d.verdict for d in single]
    assert [fired(d) for d in report.decisions] == [fired(d) for d in single]


def test_unknown_customer_without_consent_is_denied(company: Store) -> None:
    d = Guard(company).vet(upsell("stranger"), as_of=NOW, record=False)
    assert d.verdict == "deny" and fired(d) == ["marketing_consent"] and "note" in d.facts


def test_campaign_counts_its_own_contacts_towards_caps(company: Store) -> None:
    # ana has had no contact; the e-mail cap is 4 in 30 days, so the 5th e-mail of this campaign is stopped.
    actions = [upsell("ana", action_id=f"ana-{i}", planned_at=(NOW + days(i)).isoformat()) for i in range(5)]
    report = Guard(company).vet_campaign(actions, as_of=NOW, record=False)
    assert [d.verdict for d in report.decisions] == ["allow"] * 4 + ["deny"]
    assert report.by_rule == {"contact_cap": {"deny": 1}}


def test_promise_ledger_decides_where_it_has_reconciled(company: Store) -> None:
    from goodwill.measure.promises import PROMISE_STATUS

    company.ensure_table(PROMISE_STATUS)
    g = Guard(company)
    # An empty ledger says nothing, so the fallback (due date passed, no event) still finds pr-cai-1.
    assert g.vet(upsell("cai"), as_of=NOW, record=False).facts["overdue_promises"] == ["pr-cai-1"]
    add(company, "promise_status", [{"promise_id": "pr-cai-1", "status": "kept", "rule": "refund"},
                                    {"promise_id": "pr-ana-1", "status": "overdue", "rule": "refund"}])
    assert g.vet(upsell("cai"), as_of=NOW, record=False).verdict == "allow"
    ana = g.vet_campaign([upsell("ana")], as_of=NOW, record=False).decisions[0]
    assert ana.facts["overdue_promises"] == ["pr-ana-1"] and ana.verdict == "deny"
