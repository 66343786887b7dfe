"""Identifier normalisation: variants meet, invalid values are reported, never guessed."""

from __future__ import annotations

import phonenumbers
import pyarrow as pa
import pytest

from goodwill.ingest.identity import canonical_kinds, normalise_identifiers, surnames


def norm(kind: str, *values: str | None) -> list[tuple[str | None, str | None]]:
    v, why = normalise_identifiers(pa.array([kind] * len(values)), pa.array(list(values), pa.string()))
    return list(zip(v.to_pylist(), why.to_pylist(), strict=True))


def ok(kind: str, value: str) -> str:
    [(v, why)] = norm(kind, value)
    assert why is None, why
    assert v is not None
    return v


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("John.Smith+News@GoogleMail.com", "johnsmith@gmail.com"),
        ("j.o.h.n.smith@gmail.com", "johnsmith@gmail.com"),
        (" a.b+c@outlook.com ", "a.b@outlook.com"),
        ("a.b+c@example.org", "a.b+c@example.org"),
        ("Jane Roe <Jane.Roe@Example.ORG>", "jane.roe@example.org"),
        ("mailto:x@icloud.com", "x@icloud.com"),
    ],
)
def test_email_provider_rules(raw: str, expected: str) -> None:
    assert ok("email", raw) == expected


def test_email_dots_kept_where_the_provider_keeps_them() -> None:
    assert ok("email", "a.b@outlook.com") != ok("email", "ab@outlook.com")


@pytest.mark.parametrize("raw", ["bad@", "a@b", "two@@x.com", "no-at.example.com", "sp ace@x.com", "+tag@gmail.com"])
def test_invalid_emails_are_reported(raw: str) -> None:
    [(v, why)] = norm("email", raw)
    assert v is None
    assert why and "e-mail" in why


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("07700 900123", "+447700900123"),
        ("+44 (0)20 7946 0018", "+442079460018"),
        ("0044 7700 900123", "+447700900123"),
        ("(415) 555-2671", "+14155552671"),
        ("1-415-555-2671", "+14155552671"),
        ("+1 415 555 2671 ext. 12", "+14155552671"),
        ("tel:+33 1 42 68 53 00", "+33142685300"),
    ],
)
def test_phone_e164(raw: str, expected: str) -> None:
    assert ok("phone", raw) == expected


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ("12345", "no country code"),
        ("555-1234", "no country code"),
        ("+44 7700 9001", "not a valid UK"),
        ("+1 011 555 2671", "not a valid US"),
        ("+1 911 555 2671", "not a valid US"),
        ("call me", "letters"),
    ],
)
def test_invalid_phones_are_reported(raw: str, why: str) -> None:
    [(v, reason)] = norm("phone", raw)
    assert v is None
    assert reason is not None and why in reason


def test_phones_agree_with_libphonenumber_on_its_example_numbers() -> None:
    """For every GB and US number type libphonenumber has an example of, in national and
    international format, our vectorised E.164 equals libphonenumber's."""
    checked = 0
    for region in ("GB", "US"):
        for t in range(12):
            ex = phonenumbers.example_number_for_type(region, t)
            if ex is None or not phonenumbers.is_valid_number(ex):
                continue
            want = phonenumbers.format_number(ex, phonenumbers.PhoneNumberFormat.E164)
            for fmt in (phonenumbers.PhoneNumberFormat.NATIONAL, phonenumbers.PhoneNumberFormat.INTERNATIONAL):
                written = phonenumbers.format_number(ex, fmt)
                assert ok("phone", written) == want, (region, t, written)
                checked += 1
    assert checked >= 10


def test_account_twitter_name_kinds() -> None:
    assert ok("account", " 7590-vhveg ") == "7590VHVEG"
    assert ok("customer_number", "12 34.56/7") == "1234567"
    assert norm("account", "AB#12")[0][0] is None
    assert ok("twitter", "@SprintCare") == "sprintcare"
    assert ok("twitter", "115712") == "115712"
    assert norm("twitter", "@this_handle_is_far_too_long")[0][0] is None
    assert ok("name", "  Mary-Jane  O'Neil ") == "maryjane oneil"
    assert ok("postcode", "sw1a 1aa") == "SW1A1AA"
    assert ok("loyalty_card", "  LC 0042 ") == "LC 0042"


def test_blank_is_absent_not_invalid() -> None:
    assert norm("email", None, "", "   ") == [(None, None)] * 3


def test_aliases_and_mixed_kinds_keep_row_order() -> None:
    kinds = pa.array(["E-Mail", "mobile", "account_number", "email", "phone"])
    values = pa.array(["A@Gmail.com", "07700 900123", "x-1", "bad", "+1 415 555 2671"])
    assert canonical_kinds(kinds).to_pylist() == ["email", "phone", "account", "email", "phone"]
    v, why = normalise_identifiers(kinds, values)
    assert v.to_pylist() == ["a@gmail.com", "+447700900123", "X1", None, "+14155552671"]
    assert [w is None for w in why.to_pylist()] == [True, True, True, False, True]


def test_surnames() -> None:
    assert surnames(pa.array(["Mary Smith-Jones", " bob ", None])).to_pylist() == ["smithjones", "bob", None]


def test_lengths_must_match() -> None:
    with pytest.raises(ValueError):
        normalise_identifiers(pa.array(["email"]), pa.array(["a@b.com", "c@d.com"]))
