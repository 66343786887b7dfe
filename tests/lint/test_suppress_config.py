# goodwill: noqa-file -- these tests quote suppression directives and flagged words as data.
"""Inline suppressions and the lint configuration."""

from __future__ import annotations

from pathlib import Path

import pytest

from goodwill.errors import ConfigError
from goodwill.lint import LintConfig, config_from_mapping, discover_config, lint_text, load_config

NO_CLF = LintConfig().with_overrides(classifier=False)
# Spelled in two pieces so that this file's own lint does not read them as directives.
NOQA = "goodwill: " + "noqa"


def found(text: str, config: LintConfig = NO_CLF, kind: str = "copy") -> list[str]:
    return [f.code for f in lint_text(text, kind, config)]  # type: ignore[arg-type]


def test_suppression_with_reason_silences_that_code_on_that_line() -> None:
    text = f"Only 2 left <!-- {NOQA} GW102 -- stock count is live and true -->\nOnly 3 left"
    result = lint_text(text, "copy", NO_CLF)
    assert [(f.code, f.line) for f in result] == [("GW102", 2)]


def test_suppression_by_prefix_and_of_other_codes() -> None:
    assert found(f"Hurry, only 2 left # {NOQA} GW1 -- reviewed by legal") == []
    assert found(f"Hurry, only 2 left # {NOQA} GW102 -- stock is real") == ["GW101"]


def test_suppression_without_reason_is_itself_a_finding_and_suppresses_nothing() -> None:
    result = lint_text(f"Only 2 left  # {NOQA} GW102", "copy", NO_CLF)
    assert sorted(f.code for f in result) == ["GW001", "GW102"]
    meta = next(f for f in result if f.code == "GW001")
    assert (
        meta.message == "Suppression without a reason: add ' -- why this is fine' after the codes."
    )


def test_suppression_of_an_unknown_code_is_reported() -> None:
    assert found(f"Fine text  # {NOQA} GW999 -- old rule") == ["GW002"]


def test_comment_only_line_covers_the_next_line() -> None:
    text = f"<!-- {NOQA} GW102 -- live stock feed -->\n<p>Only 2 left</p>\n<p>Only 3 left</p>"
    assert [(f.code, f.line) for f in lint_text(text, "copy", NO_CLF, fmt="html")] == [("GW102", 3)]


def test_file_wide_suppression_needs_a_reason_too() -> None:
    assert found(f"# {NOQA}-file GW2 -- this is a glossary\nOur whales", kind="internal") == []
    assert sorted(found(f"# {NOQA}-file GW2\nOur whales", kind="internal")) == ["GW001", "GW202"]


def test_select_ignore_and_most_specific_prefix_wins() -> None:
    text = "Hurry, only 2 left, no thanks I don't like saving"
    assert found(text, NO_CLF.with_overrides(select=("GW102",))) == ["GW102"]
    assert found(text, NO_CLF.with_overrides(ignore=("GW1",))) == []
    assert found(text, NO_CLF.with_overrides(ignore=("GW1",), extend_select=("GW105",))) == [
        "GW105"
    ]


def test_config_from_yaml_file(tmp_path: Path) -> None:
    path = tmp_path / "goodwill-lint.yaml"
    path.write_text("ignore: [GW101]\ncopy: ['emails/*']\nclassifier: {enabled: false}\n")
    cfg = load_config(path)
    assert cfg.ignore == ("GW101",) and cfg.classifier is False
    assert cfg.kind_of("emails/renewal.txt") == "copy"
    assert cfg.kind_of("docs/plan.md") == "internal"
    assert found("Hurry, only 2 left", cfg) == ["GW102"]


def test_config_from_pyproject_table_and_discovery(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.goodwill.lint]\nselect = ["GW2"]\n')
    sub = tmp_path / "a" / "b"
    sub.mkdir(parents=True)
    cfg = discover_config(sub)
    assert cfg.select == ("GW2",)
    assert cfg.origin.endswith("pyproject.toml")
    (tmp_path / "a" / "goodwill-lint.yaml").write_text("select: [GW1]\n")
    assert discover_config(sub).select == ("GW1",)


def test_defaults_when_nothing_is_configured(tmp_path: Path) -> None:
    assert discover_config(tmp_path).origin == "defaults"


@pytest.mark.parametrize(
    ("data", "message", "hint"),
    [
        (
            {"selct": ["GW1"]},
            "t.yaml: unknown lint setting(s): selct.",
            "Allowed: classifier, copy, exclude, extend-select, ignore, rules, select.",
        ),
        (
            {"ignore": ["GW777"]},
            "t.yaml: 'ignore' names GW777, which matches no rule.",
            "Run 'goodwill lint-rules' to see the codes.",
        ),
        (
            {"classifier": {"threshold": 3}},
            "t.yaml: classifier threshold 3 is not a probability.",
            "Use a number above 0 and at most 1, such as 0.95.",
        ),
        (
            {"copy": "*.html"},
            "t.yaml: 'copy' must be a list of glob patterns.",
            'For example: ["emails/*"].',
        ),
    ],
)
def test_config_errors_say_how_to_fix(data: dict[str, object], message: str, hint: str) -> None:
    with pytest.raises(ConfigError) as err:
        config_from_mapping(data, "t.yaml")
    assert err.value.message == message
    assert err.value.hint == hint


def test_invalid_yaml_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "goodwill-lint.yaml"
    path.write_text("select: [GW1\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert err.value.hint == "Fix the YAML syntax."


def test_a_company_rules_file_replaces_the_shipped_rules(tmp_path: Path) -> None:
    (tmp_path / "rules.yaml").write_text(
        "rules:\n"
        "  - {code: GW001, name: a, category: suppression, kinds: [copy, internal]}\n"
        "  - {code: GW002, name: b, category: suppression, kinds: [copy, internal]}\n"
        "  - code: GW301\n    name: house-word\n    category: belittling\n    kinds: [internal]\n"
        "    lexicon: true\n    patterns:\n      - {regex: 'bagholders', message: 'Say customers.', suggestion: customers}\n"
    )
    (tmp_path / "goodwill-lint.yaml").write_text("rules: rules.yaml\n")
    cfg = load_config(tmp_path / "goodwill-lint.yaml")
    result = lint_text("Tell the bagholders.", "internal", cfg)
    assert [(f.code, f.suggestion) for f in result] == [("GW301", "customers")]


def test_bad_regex_in_rules_file_is_reported(tmp_path: Path) -> None:
    (tmp_path / "rules.yaml").write_text(
        "rules:\n  - code: GW301\n    patterns:\n      - {regex: '(', message: m}\n"
    )
    (tmp_path / "c.yaml").write_text("rules: rules.yaml\n")
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path / "c.yaml")
    assert "invalid regular expression" in err.value.message
