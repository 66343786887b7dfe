# goodwill: noqa-file -- these tests quote dark-pattern copy and suppression directives as data.
"""The shipped classifier, the CLI (exit codes, formats), the pre-commit hook, the CLI registration."""

from __future__ import annotations

import ast
import csv
import json
from pathlib import Path

import numpy as np
import pytest
import typer
import yaml
from typer.testing import CliRunner

from goodwill.cli.lint import register
from goodwill.lint._classifier import NOT_DARK, load_model, model_from_dict, terms
from goodwill.lint.train import Example, fit, split_by_page

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "tests/data/lint/yada-sample.tsv"


def sample() -> list[Example]:
    with SAMPLE.open(encoding="utf-8", newline="") as fh:
        return [
            Example(r["page_id"], r["text"], r["Pattern Category"])
            for r in csv.DictReader(fh, delimiter="\t")
        ]


def test_shipped_model_separates_the_committed_sample() -> None:
    model = load_model()
    rows = sample()
    p = np.array([model.predict(r.text)[0] for r in rows])
    y = np.array([r.category != NOT_DARK for r in rows])
    # The sample was in the model's training data: this checks the file loads and scores as
    # trained, not how well it generalises (that is in BENCHMARKS.md).
    assert ((p >= 0.5) == y).mean() >= 0.95
    assert model.meta["trained_on"].startswith("Yada")


def test_numpy_inference_matches_scikit_learn() -> None:
    sklearn = pytest.importorskip("sklearn.linear_model")
    from scipy import sparse

    rows = sample()
    data = fit([r.text for r in rows], [r.category for r in rows], c=1.0, min_df=1)
    model = model_from_dict(data)
    vocab = model.vocabulary
    ours, x_rows = [], []
    for r in rows:
        idx, values = model.vector(r.text)
        vec = np.zeros(len(vocab))
        vec[idx] = values
        x_rows.append(vec)
        ours.append(model.proba(r.text))
    clf = sklearn.LogisticRegression()
    clf.classes_ = np.array(data["classes"])
    clf.coef_ = np.array(data["coef"])
    clf.intercept_ = np.array(data["intercept"])
    theirs = clf.predict_proba(sparse.csr_matrix(np.array(x_rows)))
    assert np.allclose(np.array(ours), theirs, atol=1e-9)


def test_training_is_deterministic_and_split_keeps_pages_whole() -> None:
    rows = sample()
    a = fit([r.text for r in rows], [r.category for r in rows])
    b = fit([r.text for r in rows], [r.category for r in rows])
    assert a == b
    train, test = split_by_page(rows, 0.3)
    assert not {r.page_id for r in train} & {r.page_id for r in test}
    assert len(train) + len(test) == len(rows)


def test_terms_fold_numbers_and_ignore_handles_and_links() -> None:
    assert terms("@1234 Only 3 left https://t.co/x") == ["only", "0", "left", "only 0", "0 left"]
    assert terms("Call 0800 000 0000") == ["call", "0", "call 0"]


def test_model_abstains_on_text_it_does_not_know() -> None:
    model = load_model()
    assert model.known_words("Lamentamos el inconveniente") < 3


# ---------------------------------------------------------------- CLI


def cli() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """Test harness."""

    register(app)
    return app


runner = CliRunner()


def test_cli_text_output_and_exit_code_one(tmp_path: Path) -> None:
    page = tmp_path / "offer.html"
    page.write_text("<p>Welcome</p>\n<p>Hurry, only 2 left!</p>\n")
    result = runner.invoke(cli(), ["lint", "--no-classifier", str(page)])
    assert result.exit_code == 1
    assert f"{page}:2:4 GW101 [urgency]" in result.output
    assert f"{page}:2:11 GW102 [scarcity]" in result.output


def test_cli_clean_exits_zero(tmp_path: Path) -> None:
    page = tmp_path / "ok.html"
    page.write_text("<p>Your plan renews on 1 May at £10 a month. Cancel online any time.</p>\n")
    result = runner.invoke(cli(), ["lint", str(page)])
    assert result.exit_code == 0, result.output
    assert result.output == ""


def test_cli_json_and_stdin() -> None:
    result = runner.invoke(
        cli(), ["lint", "--format", "json", "--kind", "copy", "-"], input="Only 2 left\n"
    )
    assert result.exit_code == 1
    data = json.loads(result.output)
    assert data[0]["code"] == "GW102" and data[0]["path"] == "-" and data[0]["line"] == 1


def test_cli_sarif_has_rules_results_and_regions(tmp_path: Path) -> None:
    page = tmp_path / "a.txt"
    page.write_text("x\nNo thanks, I don't like saving money\n")
    result = runner.invoke(cli(), ["lint", "--format", "sarif", "--kind", "copy", str(page)])
    assert result.exit_code == 1
    doc = json.loads(result.output)
    assert doc["version"] == "2.1.0"
    run = doc["runs"][0]
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == ["GW105"]
    res = run["results"][0]
    assert res["ruleId"] == "GW105" and res["level"] == "error"
    region = res["locations"][0]["physicalLocation"]["region"]
    assert (region["startLine"], region["startColumn"]) == (2, 1)


def test_cli_kind_auto_uses_copy_globs(tmp_path: Path) -> None:
    (tmp_path / "notes.md").write_text("Only 2 left, said the shop.\n")
    result = runner.invoke(cli(), ["lint", str(tmp_path)])
    assert result.exit_code == 0, result.output  # Markdown is internal by default
    result = runner.invoke(cli(), ["lint", "--kind", "copy", str(tmp_path)])
    assert result.exit_code == 1


def test_cli_errors_are_one_line_with_exit_two(tmp_path: Path) -> None:
    result = runner.invoke(cli(), ["lint", str(tmp_path / "missing")])
    assert result.exit_code == 2
    assert (
        result.stderr.strip()
        == f"Error: No such file or folder: {tmp_path / 'missing'}. Check the path; use '-' to read standard input."
    )
    bad = tmp_path / "c.yaml"
    bad.write_text("colour: red\n")
    result = runner.invoke(cli(), ["lint", "--config", str(bad), str(tmp_path)])
    assert result.exit_code == 2
    assert "unknown lint setting(s): colour." in result.stderr
    assert "Traceback" not in result.output + result.stderr


def test_cli_select_and_ignore_options() -> None:
    result = runner.invoke(
        cli(), ["lint", "--kind", "copy", "--ignore", "GW101", "-"], input="Hurry, only 2 left\n"
    )
    assert "GW101" not in result.output and "GW102" in result.output
    result = runner.invoke(
        cli(), ["lint", "--kind", "copy", "--select", "GW101", "-"], input="Hurry, only 2 left\n"
    )
    assert "GW101" in result.output and "GW102" not in result.output


def test_cli_lists_rules() -> None:
    result = runner.invoke(cli(), ["lint-rules", "--json"])
    rules = json.loads(result.output)
    assert {r["code"] for r in rules} >= {f"GW10{i}" for i in range(1, 10)}
    assert all(r["basis"] for r in rules)


def test_cli_module_is_registered_in_the_app() -> None:
    tree = ast.parse((ROOT / "src/goodwill/cli/app.py").read_text())
    names = [
        elt.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign)
        and any(getattr(t, "id", "") == "COMMAND_MODULES" for t in node.targets)
        for elt in node.value.elts  # type: ignore[attr-defined]
    ]
    assert "goodwill.cli.lint" in names


def test_pre_commit_hook_runs_the_lint_command() -> None:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    hook = next(h for h in hooks if h["id"] == "goodwill-lint")
    assert hook["entry"] == "goodwill lint"
    assert hook["language"] == "python"
    import re

    assert re.search(hook["files"], "emails/renewal.html.j2")
    assert re.search(hook["files"], "copy/cancel.hbs")
