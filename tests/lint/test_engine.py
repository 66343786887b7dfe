# goodwill: noqa-file -- these tests quote the dark patterns and belittling words the lint must catch.
"""lint_text: each category found with its span, honest copy left alone, context rules."""

from __future__ import annotations

import dataclasses

import pytest

from goodwill.errors import ConfigError
from goodwill.lint import Finding, LintConfig, lint_text

NO_CLF = LintConfig().with_overrides(classifier=False)


def codes(text: str, kind: str = "copy", **kw: object) -> list[str]:
    return [f.code for f in lint_text(text, kind, NO_CLF, **kw)]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "code", "category"),
    [
        ("Offer ends tonight, act now!", "GW101", "urgency"),
        ("Sale ends in 12h 13m 56s", "GW101", "urgency"),
        ("Only 2 left in stock", "GW102", "scarcity"),
        ("Selling fast", "GW102", "scarcity"),
        ("14 people are viewing this right now", "GW103", "social proof"),
        ("Someone in Leeds just bought this kettle", "GW103", "social proof"),
        ("Untick this box if you do not want our newsletter", "GW104", "misdirection"),
        ("No thanks, I don't like saving money", "GW105", "confirmshaming"),
        ("No thanks, I’d rather pay full price.", "GW105", "confirmshaming"),
        ("Cancellations can only be made by telephone.", "GW106", "obstruction"),
        ("To cancel, you must call us on 0800 000 0000.", "GW106", "obstruction"),
        ("Purchase protection added", "GW107", "sneaking"),
        ("Service fees will be added at checkout.", "GW107", "sneaking"),
        (
            "By creating an account, you agree to receive marketing emails.",
            "GW108",
            "forced action",
        ),
        ("You must download the app to cancel.", "GW108", "forced action"),
        ("Maybe later", "GW109", "nagging"),
    ],
)
def test_each_dark_pattern_category(text: str, code: str, category: str) -> None:
    found = lint_text(text, "copy", NO_CLF)
    assert code in [f.code for f in found]
    hit = next(f for f in found if f.code == code)
    assert hit.category == category
    assert hit.source == "pattern"
    assert hit.basis and hit.message
    assert (
        text[hit.start : hit.end] == hit.excerpt
        or " ".join(text[hit.start : hit.end].split()) == hit.excerpt
    )


@pytest.mark.parametrize(
    "text",
    [
        "We have 3 plans; compare them before you choose.",
        "Our team aims to reply within 24 hours.",
        "You can cancel online at any time in Settings, in two clicks.",
        "Please pay by 14 March, or call us if you are struggling.",
        "Thanks for reaching out! Please DM us your order number.",
        "No thanks",
        "Maybe later. Never ask me again.",
    ],
)
def test_honest_copy_is_clean(text: str) -> None:
    assert lint_text(text, "copy") == []


@pytest.mark.parametrize(
    "text",
    [
        "Your fixed price ends on 31 March. After that you pay the standard variable price.",
        "This limited time offer ended last week.",
    ],
)
def test_known_classifier_false_alarms_stay_info_level_and_patterns_stay_quiet(text: str) -> None:
    # The classifier learnt shop micro-copy; a plain deadline reads as urgency to it. That is why
    # it is a secondary, info-level signal, and why these texts must get nothing from the patterns.
    assert lint_text(text, "copy", NO_CLF) == []
    assert all(f.source == "classifier" and f.severity == "info" for f in lint_text(text, "copy"))


def test_span_line_and_column_are_one_based_and_exact() -> None:
    text = "Welcome back!\n  Hurry, only 3 left."
    found = lint_text(text, "copy", NO_CLF)
    scarcity = next(f for f in found if f.code == "GW102")
    assert (scarcity.line, scarcity.col) == (2, 10)
    assert text[scarcity.start : scarcity.end] == "only 3 left"


def test_finding_is_a_frozen_dataclass_with_the_documented_fields() -> None:
    f = lint_text("Only 2 left", "copy", NO_CLF)[0]
    assert isinstance(f, Finding)
    with pytest.raises(dataclasses.FrozenInstanceError):
        f.code = "GW000"  # type: ignore[misc]
    assert set(f.to_dict()) >= {
        "code",
        "category",
        "message",
        "start",
        "end",
        "line",
        "col",
        "basis",
        "suggestion",
        "severity",
        "source",
    }


def test_internal_kind_checks_language_not_dark_patterns() -> None:
    text = "Only 2 left. Our punters love it."
    assert codes(text, "internal") == ["GW201"]
    assert codes(text, "copy") == ["GW102", "GW201"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Grow share of wallet among whales.", ["GW202", "GW202"]),
        ("compute_share_of_wallet(churners)", ["GW202", "GW203"]),
        ("Target customers over 70 with the surcharge.", ["GW204"]),
        ("The target date is 1 May and the target price is £10.", []),
        ("We support Apple and Google wallets and digital wallets.", []),
        ("Whale watching: we saw blue whales.", []),
        ("Our muppets in finance", ["GW201"]),
        ("We watched The Muppets show.", []),
        ("Bad payers go to collections.", ["GW203"]),
        ("Those customers are easy marks.", ["GW201"]),
        ("Customers in vulnerable circumstances get a named contact.", []),
    ],
)
def test_lexicon_with_context_rules(text: str, expected: list[str]) -> None:
    assert codes(text, "internal") == expected


def test_lexicon_findings_carry_a_suggestion() -> None:
    f = lint_text("List of churners", "internal")[0]
    assert f.suggestion == "customers who left"
    assert f.source == "lexicon"


def test_opt_in_rule_users_is_off_by_default_and_on_when_selected() -> None:
    assert codes("Our users pay monthly.", "internal") == []
    cfg = NO_CLF.with_overrides(extend_select=("GW205",))
    assert [f.code for f in lint_text("Our users pay monthly.", "internal", cfg)] == ["GW205"]
    assert lint_text("Create the admin users table.", "internal", cfg) == []


def test_html_markup_is_hidden_but_offsets_and_attribute_copy_are_kept() -> None:
    html = '<p class="x">Only <b>{{ n }}</b> left!</p>\n<button value="No thanks, I hate saving money">x</button>'
    found = lint_text(html, "copy", NO_CLF, fmt="html")
    assert [f.code for f in found] == ["GW102", "GW105"]
    assert html[found[0].start : found[0].end].startswith("Only")
    assert found[1].line == 2


def test_template_placeholders_are_tolerated() -> None:
    text = "{% if low %}Only {{ stock }} left{% endif %} — {{#if x}}{{viewers}} people are viewing this{{/if}}"
    assert codes(text) == ["GW102", "GW103"]


def test_markdown_link_urls_are_not_copy() -> None:
    assert codes("[Read more](https://example.com/hurry-only-2-left)", fmt="markdown") == []


def test_unknown_kind_is_a_config_error_with_hint() -> None:
    with pytest.raises(ConfigError) as err:
        lint_text("x", "letters")  # type: ignore[arg-type]
    assert err.value.hint == "Use kind='copy' or kind='internal'."


def test_classifier_adds_a_second_signal_only_where_no_pattern_explains() -> None:
    text = "Limited edition deals you will love, selling out across the store"
    pattern_only = lint_text(text, "copy", NO_CLF)
    both = lint_text(text, "copy", LintConfig().with_overrides(threshold=0.5))
    assert all(f.source == "pattern" for f in pattern_only)
    classifier = [f for f in both if f.source == "classifier"]
    assert all(
        not any(p.start < c.end and c.start < p.end for p in pattern_only) for c in classifier
    )


def test_classifier_finds_dark_copy_the_patterns_miss() -> None:
    text = "Claim your exclusive deal before everyone else does, hurry up and grab it!"
    cfg = LintConfig().with_overrides(select=("GW190",), threshold=0.5)
    found = lint_text(text, "copy", cfg)
    assert [f.code for f in found] == ["GW190"]
    assert found[0].source == "classifier"
    assert found[0].category in {"urgency", "scarcity", "misdirection", "social proof"}
