"""A labelled identity set built from real records, with the duplicates real systems hold.

Seeded and deterministic. Real records give the people and their keys:
- each person is one real Telco customer (customerID becomes the billing account number,
  tenure dates the billing record);
- a real CFPB complaint (Complaint ID, date) is attached to some as their service case;
- a real TWCS customer author id is attached to some as their Twitter account.
The identifier *values* a person writes (name, e-mail, phone) are GENERATED (seeded),
because no public set holds them; the duplicates are injected systematically:

- billing record: account number, name, e-mail (verified), phone;
- service record (70%): e-mail in another form (case, Gmail dots, plus-tag) and verified
  (60%) or not; a typo in the e-mail (10%); phone in another format; the surname;
- field record (40%): phone in another format, surname (5% with a typo), no e-mail;
- marketing record (50%): e-mail only, unverified;
- social record (20%): the TWCS author id only (no way to link it: a recall loss on purpose);
- a billing duplicate (5%): the account number written differently ("7590 vhveg");
- hard case A, shared family e-mail (8% of people): a second person (another real Telco
  account) with the same verified e-mail and surname, and a marketing record on that e-mail;
- hard case B, two people with one name (5%): a namesake with another real account, another
  e-mail, and (half the time) the same household landline.

Labels: ``person`` per record (a Telco customerID); ``hard`` marks records of hard cases.
"""

from __future__ import annotations

import gzip
import os
import random
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

FIRST = [
    "ann",
    "ben",
    "cara",
    "dev",
    "ella",
    "finn",
    "gita",
    "hugo",
    "ines",
    "jack",
    "kofi",
    "lena",
    "maya",
    "nils",
    "omar",
    "priya",
    "quinn",
    "rosa",
    "sam",
    "tara",
]
LAST = [
    "smith",
    "jones",
    "patel",
    "nguyen",
    "garcia",
    "kowalski",
    "okafor",
    "brown",
    "silva",
    "murphy",
    "khan",
    "rossi",
    "müller",
    "cohen",
    "ali",
    "wright",
    "evans",
    "moore",
    "walker",
    "hughes",
]
DOMAINS = ["gmail.com", "outlook.com", "example.org", "icloud.com", "example.co.uk"]


@dataclass
class Record:
    customer_id: str
    person: str
    source: str
    ids: list[tuple[str, str, bool]]  # kind, raw value, verified
    hard: str = ""


def data_dir() -> Path:
    return Path(
        os.environ.get("GOODWILL_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
    )


def _typo(s: str, rng: random.Random) -> str:
    i = rng.randrange(1, max(2, len(s) - 1))
    return s[:i] + s[i + 1 :] if rng.random() < 0.5 else s[:i] + s[i] + s[i:]


def _email_variant(local: str, domain: str, rng: random.Random) -> str:
    r = rng.random()
    if domain == "gmail.com" and r < 0.4:
        return (
            local.replace("", ".")[1:-1].upper() + "@GMail.com"
            if rng.random() < 0.3
            else local[:2] + "." + local[2:] + "+service@gmail.com"
        )
    if r < 0.7 and domain in ("outlook.com", "icloud.com", "gmail.com"):
        return f"{local}+shop@{domain}"
    return f"{local.capitalize()}@{domain.upper()}"


def _phone_variant(national: str, rng: random.Random) -> str:
    d = national[1:]
    return rng.choice(
        [
            f"0{d[:4]} {d[4:]}",
            f"+44 {d[:4]} {d[4:]}",
            f"+44 (0){d[:4]} {d[4:]}",
            f"0044{d}",
            national,
        ]
    )


def build(seed: int = 20261124, n_people: int = 3000) -> list[Record]:
    root = data_dir()
    telco = pd.read_csv(root / "telco-churn" / "Telco-Customer-Churn.csv.gz", dtype=str)
    cfpb = pd.read_csv(
        root / "cfpb-complaints" / "complaints-with-narratives.csv.gz",
        dtype=str,
        keep_default_na=False,
    )
    with gzip.open(root / "twcs" / "twcs-complete-threads.csv.gz", "rt") as f:
        twcs = pd.read_csv(f, dtype=str)
    authors = sorted(set(twcs.loc[twcs["inbound"] == "True", "author_id"]))
    rng = random.Random(seed)
    accounts = list(telco["customerID"])
    rng.shuffle(accounts)
    complaints = list(cfpb["Complaint ID"])
    rng.shuffle(complaints)
    rng.shuffle(authors)
    people = accounts[:n_people]
    spare = iter(accounts[n_people:])
    recs: list[Record] = []
    used_phones: set[str] = set()

    def phone() -> str:
        while True:
            p = f"07700{rng.randrange(900000, 999999)}"
            if p not in used_phones:
                used_phones.add(p)
                return p

    for k, acct in enumerate(people):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        domain = rng.choice(DOMAINS)
        local = f"{first}{last}{rng.randrange(10, 999)}"
        email = f"{local}@{domain}"
        tel = phone()
        recs.append(
            Record(
                f"bill-{acct}",
                acct,
                "billing",
                [
                    ("account", acct, True),
                    ("email", email, True),
                    ("phone", tel, False),
                    ("surname", last, False),
                ],
            )
        )
        if rng.random() < 0.7:
            e = _email_variant(local, domain, rng)
            if rng.random() < 0.1:
                e = _typo(local, rng) + "@" + domain
            recs.append(
                Record(
                    f"svc-{complaints[k]}",
                    acct,
                    "service",
                    [
                        ("email", e, rng.random() < 0.6),
                        ("phone", _phone_variant(tel, rng), False),
                        ("surname", last.upper(), False),
                    ],
                )
            )
        if rng.random() < 0.4:
            sn = _typo(last, rng) if rng.random() < 0.05 else last
            recs.append(
                Record(
                    f"fld-{k}",
                    acct,
                    "field",
                    [("phone", _phone_variant(tel, rng), False), ("surname", sn, False)],
                )
            )
        if rng.random() < 0.5:
            recs.append(
                Record(
                    f"mkt-{k}",
                    acct,
                    "marketing",
                    [("email", _email_variant(local, domain, rng), False)],
                )
            )
        if rng.random() < 0.2:
            recs.append(
                Record(
                    f"tw-{authors[k % len(authors)]}-{k}",
                    acct,
                    "social",
                    [("twitter", authors[k % len(authors)], True)],
                )
            )
        if rng.random() < 0.05:
            recs.append(
                Record(
                    f"bill2-{acct}",
                    acct,
                    "billing",
                    [
                        ("account", acct[:4] + " " + acct[5:].lower(), True),
                        ("surname", last, False),
                    ],
                )
            )
        if rng.random() < 0.08:
            other = next(spare)
            recs[-1].hard = recs[-1].hard
            recs.append(
                Record(
                    f"bill-{other}",
                    other,
                    "billing",
                    [("account", other, True), ("email", email, True), ("surname", last, False)],
                    hard="shared_email",
                )
            )
            recs.append(
                Record(
                    f"mkt-fam-{k}",
                    rng.choice([acct, other]),
                    "marketing",
                    [("email", email, False)],
                    hard="shared_email",
                )
            )
            for r in recs:
                if r.person == acct:
                    r.hard = r.hard or "shared_email"
        elif rng.random() < 0.05:
            other = next(spare)
            home = tel if rng.random() < 0.5 else phone()
            e2 = f"{first}.{last}{rng.randrange(1000, 9999)}@{rng.choice(DOMAINS)}"
            recs.append(
                Record(
                    f"bill-{other}",
                    other,
                    "billing",
                    [
                        ("account", other, True),
                        ("email", e2, True),
                        ("phone", home, False),
                        ("surname", last, False),
                    ],
                    hard="namesake",
                )
            )
            recs.append(
                Record(
                    f"fld-ns-{k}",
                    other,
                    "field",
                    [("phone", _phone_variant(home, rng), False), ("surname", last, False)],
                    hard="namesake",
                )
            )
            for r in recs:
                if r.person == acct:
                    r.hard = r.hard or "namesake"
    return recs
