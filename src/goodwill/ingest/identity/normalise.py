"""Identifier normalisation, vectorised over Arrow arrays.

Ingest sends hundreds of thousands of identifiers a second through here, so every
kind is normalised with ``pyarrow.compute`` (RE2 regular expressions) over the whole
group of rows of that kind at once; no Python code runs per value. A value that
cannot be normalised is *reported* with a reason and never repaired by guessing:
ingest puts it in quarantine.

Kinds (aliases in :data:`KIND_ALIASES`):

``email``
    trimmed, ``mailto:`` and angle brackets removed, lower-cased; plus-tags removed
    where the provider delivers ``name+tag`` to ``name`` (Gmail, Outlook/Hotmail/Live,
    iCloud, Fastmail, Proton), dots removed where the provider ignores them (Gmail,
    whose ``googlemail.com`` becomes ``gmail.com``). Other domains keep dots and tags,
    because for them ``a.b`` and ``ab`` may be two people.
``phone``
    E.164. ``+``/``00`` international numbers keep their country code; a national
    number is read as UK when it starts with ``0`` and has 11 digits (``07700 900123``)
    and as US/NANP when it has 10 digits, or 11 starting with ``1`` (``(415) 555-2671``),
    which are disjoint. UK (+44) and NANP (+1) numbers are checked for length and
    leading digits; other country codes only for the E.164 shape (8 to 15 digits).
    Extensions (``x123``, ``ext. 4``) are dropped.
``account``, ``customer_number``
    upper-cased with spaces, hyphens, dots and slashes removed; letters and digits only.
``twitter``
    ``@`` removed, lower-cased, 1 to 15 letters, digits or ``_`` (TWCS author ids are digits).
``handle``
    another social handle: ``@`` removed, lower-cased, 1 to 30 of letters, digits, ``_ . -``.
``name``, ``surname``
    lower-cased, punctuation removed, spaces collapsed.
``postcode``
    upper-cased, spaces removed.
anything else
    trimmed and passed through.

A missing or blank value yields ``(null, null)``: nothing to record and nothing wrong.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

KIND_ALIASES: dict[str, str] = {
    "e-mail": "email",
    "mail": "email",
    "email_address": "email",
    "tel": "phone",
    "telephone": "phone",
    "mobile": "phone",
    "msisdn": "phone",
    "phone_number": "phone",
    "account_number": "account",
    "account_id": "account",
    "acct": "account",
    "customer_no": "customer_number",
    "customer_num": "customer_number",
    "twitter_handle": "twitter",
    "x": "twitter",
    "social": "handle",
    "instagram": "handle",
    "full_name": "name",
    "last_name": "surname",
    "family_name": "surname",
    "zip": "postcode",
    "postal_code": "postcode",
}

KNOWN_KINDS = (
    "email",
    "phone",
    "account",
    "customer_number",
    "twitter",
    "handle",
    "name",
    "surname",
    "postcode",
)

# Providers that deliver name+tag@ to name@ (documented by each provider).
PLUS_TAG_DOMAINS = (
    "gmail.com",
    "googlemail.com",
    "outlook.com",
    "hotmail.com",
    "hotmail.co.uk",
    "live.com",
    "live.co.uk",
    "msn.com",
    "icloud.com",
    "me.com",
    "mac.com",
    "fastmail.com",
    "fastmail.fm",
    "protonmail.com",
    "proton.me",
    "pm.me",
)
# Providers that ignore dots in the local part.
DOTLESS_DOMAINS = ("gmail.com", "googlemail.com")

_EMAIL_RE = (
    # Letters beyond ASCII are allowed in the local part (RFC 6531: jack.müller@…).
    r"^[\pL\pN!#$%&'*+/=?^_`{|}~-]+(\.[\pL\pN!#$%&'*+/=?^_`{|}~-]+)*"
    r"@[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*\.[a-z]{2,63}$"
)
# Every NANP number: area code and exchange start 2-9; N11 codes are services, not lines.
_NANP_RE = r"^\+1[2-9][0-9]{2}[2-9][0-9]{6}$"
_NANP_N11_RE = r"^\+1[2-9]11"
# UK national significant numbers: 10 digits (9 for a few old 01 areas), never 0, 4 or 6 first.
_UK_RE = r"^\+44(1[0-9]{8,9}|[2357-9][0-9]{9})$"


def canonical_kinds(kinds: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Lower-case, trim and map aliases (``e-mail`` → ``email``) to goodwill's kind names."""
    k = _flat(kinds).cast(pa.string())
    k = pc.utf8_lower(pc.utf8_trim_whitespace(k))
    for alias, kind in KIND_ALIASES.items():
        k = pc.if_else(pc.equal(k, alias), kind, k)
    return k


def normalise_identifiers(
    kinds: pa.Array | pa.ChunkedArray, values: pa.Array | pa.ChunkedArray
) -> tuple[pa.Array, pa.Array]:
    """Normalise ``values`` by their ``kinds``: ``(normalised or null, reason if invalid or null)``.

    Both results line up with the input rows. A blank value gives ``(null, null)``.
    """
    kinds_a = canonical_kinds(kinds)
    vals = _flat(values).cast(pa.string())
    if len(kinds_a) != len(vals):
        raise ValueError(f"kinds and values differ in length ({len(kinds_a)} and {len(vals)})")
    n = len(vals)
    if n == 0:
        return pa.array([], pa.string()), pa.array([], pa.string())
    vals = pc.utf8_trim_whitespace(vals)
    # A blank value is absence, not an error.
    vals = pc.if_else(pc.equal(vals, ""), pa.scalar(None, pa.string()), vals)

    groups = pc.fill_null(kinds_a, "")
    uniq = pc.unique(groups)
    if len(uniq) == 1:
        return _normalise_kind(str(uniq[0].as_py()), vals)
    out_idx: list[pa.Array] = []
    out_val: list[pa.Array] = []
    out_why: list[pa.Array] = []
    for kind in uniq.to_pylist():
        idx = pc.indices_nonzero(pc.equal(groups, kind))
        v, why = _normalise_kind(str(kind), vals.take(idx))
        out_idx.append(idx)
        out_val.append(v)
        out_why.append(why)
    order = pc.sort_indices(pa.concat_arrays(out_idx))
    return (
        pa.concat_arrays(out_val).take(order),
        pa.concat_arrays(out_why).take(order),
    )


def _flat(a: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(a, pa.ChunkedArray):
        return a.combine_chunks() if a.num_chunks != 1 else a.chunk(0)
    return a


_NULL = pa.scalar(None, pa.string())


def _reject(values: pa.Array, bad: pa.Array, reason: str, why: pa.Array) -> pa.Array:
    """Set ``reason`` where ``bad`` and no earlier reason was given."""
    bad = pc.and_kleene(bad, pc.is_null(why))
    return pc.if_else(pc.fill_null(bad, False), pa.scalar(reason, pa.string()), why)


def _finish(values: pa.Array, why: pa.Array) -> tuple[pa.Array, pa.Array]:
    return pc.if_else(pc.is_null(why), values, _NULL), why


def _normalise_kind(kind: str, vals: pa.Array) -> tuple[pa.Array, pa.Array]:
    fn = _NORMALISERS.get(kind)
    if fn is None:
        return vals, pa.nulls(len(vals), pa.string())
    out, why = fn(vals)
    # Absent values are not invalid ones, whatever a check made of them.
    return out, pc.if_else(pc.is_null(vals), _NULL, why)


def _email(vals: pa.Array) -> tuple[pa.Array, pa.Array]:
    why = pa.nulls(len(vals), pa.string())
    v = pc.utf8_lower(vals)
    v = pc.replace_substring_regex(v, r"^mailto:", "")
    # "Name <a@b.com>" and "<a@b.com>" keep only the address.
    v = pc.replace_substring_regex(v, r"^.*<([^<>]*)>\s*$", r"\1")
    v = pc.utf8_trim_whitespace(v)
    why = _reject(v, pc.not_equal(pc.count_substring(v, "@"), 1), "e-mail has no single '@'", why)
    why = _reject(v, pc.greater(pc.utf8_length(v), 254), "e-mail is longer than 254 characters", why)
    why = _reject(v, pc.invert(pc.match_substring_regex(v, _EMAIL_RE)), "e-mail is not a valid address", why)
    local = pc.replace_substring_regex(v, r"@.*$", "")
    domain = pc.replace_substring_regex(v, r"^[^@]*@", "")
    domain = pc.if_else(pc.equal(domain, "googlemail.com"), "gmail.com", domain)
    plus = pc.is_in(domain, value_set=pa.array(PLUS_TAG_DOMAINS))
    local = pc.if_else(plus, pc.replace_substring_regex(local, r"\+.*$", ""), local)
    dotless = pc.is_in(domain, value_set=pa.array(DOTLESS_DOMAINS))
    local = pc.if_else(dotless, pc.replace_substring(local, ".", ""), local)
    why = _reject(v, pc.equal(local, ""), "e-mail has nothing before the '@' once its tag is removed", why)
    out = pc.binary_join_element_wise(local, domain, "@")
    return _finish(out, why)


def _phone(vals: pa.Array) -> tuple[pa.Array, pa.Array]:
    why = pa.nulls(len(vals), pa.string())
    v = pc.utf8_lower(vals)
    v = pc.replace_substring_regex(v, r"^tel:", "")
    # Extensions reach a desk, not a line: drop them.
    v = pc.replace_substring_regex(v, r"\s*(ext\.?|extension|x|#)\s*[0-9]{1,6}\s*$", "")
    why = _reject(v, pc.match_substring_regex(v, r"[a-z]"), "phone number contains letters", why)
    # "+44 (0)20 ..." : the (0) is the national trunk prefix, written for UK readers.
    v = pc.replace_substring_regex(v, r"^\+44\s*\(0\)", "+44")
    plus = pc.match_substring_regex(v, r"^\s*(\+|00)")
    digits = pc.replace_substring_regex(v, r"[^0-9]", "")
    digits = pc.if_else(pc.starts_with(pc.utf8_trim_whitespace(v), "00"), pc.utf8_slice_codeunits(digits, 2), digits)
    ndig = pc.utf8_length(digits)
    is_uk_nat = pc.and_(pc.invert(plus), pc.and_(pc.starts_with(digits, "0"), pc.equal(ndig, 11)))
    is_us10 = pc.and_(pc.invert(plus), pc.and_(pc.equal(ndig, 10), pc.match_substring_regex(digits, r"^[2-9]")))
    is_us11 = pc.and_(pc.invert(plus), pc.and_(pc.equal(ndig, 11), pc.starts_with(digits, "1")))
    e164 = pc.if_else(
        plus,
        pc.binary_join_element_wise("+", digits, ""),
        pc.if_else(
            is_uk_nat,
            pc.binary_join_element_wise("+44", pc.utf8_slice_codeunits(digits, 1), ""),
            pc.if_else(
                is_us10,
                pc.binary_join_element_wise("+1", digits, ""),
                pc.if_else(is_us11, pc.binary_join_element_wise("+", digits, ""), _NULL),
            ),
        ),
    )
    why = _reject(
        v,
        pc.is_null(e164),
        "phone number has no country code and is neither a UK (0…, 11 digits) nor a US (10 digits) number",
        why,
    )
    e164 = pc.fill_null(e164, "")
    why = _reject(v, pc.invert(pc.match_substring_regex(e164, r"^\+[1-9][0-9]{7,14}$")), "phone number is not 8 to 15 digits with a country code", why)
    uk = pc.starts_with(e164, "+44")
    why = _reject(v, pc.and_(uk, pc.invert(pc.match_substring_regex(e164, _UK_RE))), "not a valid UK phone number", why)
    us = pc.starts_with(e164, "+1")
    bad_us = pc.or_(pc.invert(pc.match_substring_regex(e164, _NANP_RE)), pc.match_substring_regex(e164, _NANP_N11_RE))
    why = _reject(v, pc.and_(us, bad_us), "not a valid US/NANP phone number", why)
    return _finish(e164, why)


def _account(vals: pa.Array) -> tuple[pa.Array, pa.Array]:
    why = pa.nulls(len(vals), pa.string())
    v = pc.utf8_upper(pc.replace_substring_regex(vals, r"[\s\-./]", ""))
    why = _reject(v, pc.equal(v, ""), "account number has no letters or digits", why)
    why = _reject(v, pc.invert(pc.match_substring_regex(v, r"^[A-Z0-9]+$")), "account number may hold only letters and digits", why)
    why = _reject(v, pc.greater(pc.utf8_length(v), 64), "account number is longer than 64 characters", why)
    return _finish(v, why)


def _twitter(vals: pa.Array) -> tuple[pa.Array, pa.Array]:
    why = pa.nulls(len(vals), pa.string())
    v = pc.utf8_lower(pc.replace_substring_regex(vals, r"^@", ""))
    why = _reject(v, pc.invert(pc.match_substring_regex(v, r"^[a-z0-9_]{1,15}$")), "Twitter handle must be 1 to 15 letters, digits or '_'", why)
    return _finish(v, why)


def _handle(vals: pa.Array) -> tuple[pa.Array, pa.Array]:
    why = pa.nulls(len(vals), pa.string())
    v = pc.utf8_lower(pc.replace_substring_regex(vals, r"^@", ""))
    why = _reject(v, pc.invert(pc.match_substring_regex(v, r"^[a-z0-9_.\-]{1,30}$")), "handle must be 1 to 30 letters, digits, '_', '.' or '-'", why)
    return _finish(v, why)


def _name(vals: pa.Array) -> tuple[pa.Array, pa.Array]:
    why = pa.nulls(len(vals), pa.string())
    v = pc.utf8_lower(vals)
    v = pc.replace_substring_regex(v, r"[^\pL\pN\s'-]", " ")
    v = pc.replace_substring_regex(v, r"['-]", "")
    v = pc.utf8_trim_whitespace(pc.replace_substring_regex(v, r"\s+", " "))
    why = _reject(v, pc.equal(v, ""), "name has no letters", why)
    return _finish(v, why)


def _postcode(vals: pa.Array) -> tuple[pa.Array, pa.Array]:
    why = pa.nulls(len(vals), pa.string())
    v = pc.utf8_upper(pc.replace_substring_regex(vals, r"\s", ""))
    why = _reject(v, pc.invert(pc.match_substring_regex(v, r"^[A-Z0-9-]{2,10}$")), "postcode must be 2 to 10 letters or digits", why)
    return _finish(v, why)


def surnames(names: pa.Array | pa.ChunkedArray) -> pa.Array:
    """The last word of each full name, normalised as kind ``surname`` (for rules that compare surnames)."""
    v, _ = _name(_flat(names).cast(pa.string()))
    return pc.replace_substring_regex(v, r"^.*\s", "")


_NORMALISERS = {
    "email": _email,
    "phone": _phone,
    "account": _account,
    "customer_number": _account,
    "twitter": _twitter,
    "handle": _handle,
    "name": _name,
    "surname": _name,
    "postcode": _postcode,
}
