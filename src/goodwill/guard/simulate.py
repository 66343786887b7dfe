"""The simulated company the guard's demo runs on: real customers, some simulated facts.

No public data set holds one company's consents, vulnerability flags and marketing
history next to its complaints and prices. The demo data (real CFPB complaints, IBM's
Telco accounts) lacks them, so this one seeded generator adds them. Everything it adds
is labelled:

- ``consents`` and ``interactions`` rows it writes have ``source = 'simulated'``;
- each vulnerability flag it sets has an ``events`` row of kind ``vulnerability_recorded``
  with ``source = 'simulated'``;
- ``plans`` rows carry new-customer prices *inferred* from real data (the median monthly
  charge of Telco accounts on the same services and contract with tenure of at most six
  months), with ``source = 'inferred:telco-tenure<=6'``. Telco records no sales channel,
  so these prices are channel-free;
- Telco minimum-term end dates are *derived* from tenure and contract length as of a
  given date (``attrs.ends_at_source = 'derived'``).

The demo campaign (``examples/demo-campaign.jsonl``) is made by :func:`build_campaign`
from real customer ids and real prices, with the same seed. Nothing here is a finding
about the real world.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import statistics
from collections import defaultdict
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import pyarrow as pa

from goodwill.ingest import ingest_file
from goodwill.store import Store, open_store

SEED = 8
AS_OF = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)
CAMPAIGN_FILE = Path(__file__).parent / "examples" / "demo-campaign.jsonl"


@dataclass
class SimulationReport:
    plans: int
    consents: int
    contacts: int
    vulnerable: int
    term_ends: int

    def to_dict(self) -> dict[str, Any]:
        return {"simulated": True, **self.__dict__}


def _add_months(t: dt.datetime, months: int) -> dt.datetime:
    m = t.month - 1 + months
    y, m = t.year + m // 12, m % 12 + 1
    return t.replace(year=y, month=m, day=min(t.day, 28))


def _telco(store: Store) -> list[dict[str, Any]]:
    rows = store.rows(
        "SELECT subscription_id, customer_id, plan_id, price, attrs FROM subscriptions WHERE source = 'telco' "
        "AND status = 'active' ORDER BY subscription_id"
    )
    for r in rows:
        r["attrs"] = json.loads(r["attrs"] or "{}")
    return rows


def simulate_company(store: Store, *, seed: int = SEED, as_of: dt.datetime = AS_OF) -> SimulationReport:
    """Add the labelled simulated and inferred facts the guard demo needs (idempotent per seed)."""
    rng = random.Random(seed)
    telco = _telco(store)
    # Inferred: what a new customer pays for the same plan (services + contract).
    short: dict[str, list[float]] = defaultdict(list)
    for r in store.rows("SELECT plan_id, price, attrs FROM subscriptions WHERE source = 'telco' ORDER BY subscription_id"):
        if r["price"] is not None and int(json.loads(r["attrs"] or "{}").get("tenure") or 999) <= 6:
            short[r["plan_id"]].append(float(r["price"]))
    plans = [
        {"plan_id": p, "name": p.removeprefix("telco:"), "product": "telco", "new_customer_price": round(statistics.median(v), 2),
         "currency": "USD", "period": "month", "source": "inferred:telco-tenure<=6",
         "attrs": json.dumps({"basis": f"median of {len(v)} account(s) with tenure <= 6 months"})}
        for p, v in sorted(short.items())
    ]
    n_plans = store.append("plans", pa.Table.from_pylist(plans)) if plans else 0
    # Derived: the end of the current minimum term, from tenure and contract length.
    term_months = {"One year": 12, "Two year": 24}
    ends: list[tuple[str, dt.datetime]] = []
    for r in telco:
        months = term_months.get(r["attrs"].get("Contract"))
        if not months:
            continue
        tenure = int(r["attrs"].get("tenure") or 0)
        start = _add_months(as_of, -tenure)
        ends.append((r["subscription_id"], _add_months(start, (tenure // months + 1) * months)))
    with store.transaction():
        for i in range(0, len(ends), 500):
            chunk = ends[i : i + 500]
            values = ", ".join("(?, CAST(? AS TIMESTAMPTZ))" for _ in chunk)
            store.execute(
                f"UPDATE subscriptions SET ends_at = v.e FROM (VALUES {values}) AS v(id, e) WHERE subscription_id = v.id",
                [x for sid, e in chunk for x in (sid, e.isoformat())],
            )
    # Simulated: marketing consents, objections, withdrawals, recent contacts, vulnerability.
    people = [r["customer_id"] for r in store.rows("SELECT customer_id FROM customers WHERE source IN ('telco', 'cfpb') ORDER BY customer_id")]
    consents: list[dict[str, Any]] = []
    contacts: list[dict[str, Any]] = []
    for cid in people:
        u = rng.random()
        granted_at = as_of - dt.timedelta(days=rng.randint(60, 900))
        if u < 0.62:
            consents.append(_consent(cid, "email", "granted", granted_at, len(consents)))
        elif u < 0.70:
            consents.append(_consent(cid, "email", "granted", granted_at, len(consents)))
            consents.append(_consent(cid, "email", "withdrawn", as_of - dt.timedelta(days=rng.randint(0, 30)), len(consents)))
        elif u < 0.73:
            consents.append(_consent(cid, "email", "granted", granted_at, len(consents)))
            consents.append(_consent(cid, "any", "objected", as_of - dt.timedelta(days=rng.randint(1, 400)), len(consents)))
        if rng.random() < 0.25:
            for _ in range(rng.randint(1, 5)):
                outcome = "rejected" if rng.random() < 0.45 else None
                contacts.append({
                    "interaction_id": f"sim:{cid}:{len(contacts)}",
                    "customer_id": cid,
                    "occurred_at": as_of - dt.timedelta(days=rng.randint(1, 80), hours=rng.randint(0, 23)),
                    "channel": "email",
                    "function": "marketing",
                    "direction": "outbound",
                    "author": "simulated marketing",
                    "source": "simulated",
                    "attrs": json.dumps({"outcome": outcome, "simulated": True}) if outcome else json.dumps({"simulated": True}),
                })
    n_consents = store.append("consents", pa.Table.from_pylist(consents)) if consents else 0
    n_contacts = store.append("interactions", pa.Table.from_pylist(contacts)) if contacts else 0
    vulnerable = sorted(rng.sample(people, k=max(1, len(people) * 4 // 100)))
    with store.transaction():
        for i in range(0, len(vulnerable), 500):
            chunk = vulnerable[i : i + 500]
            marks = ", ".join("?" for _ in chunk)
            store.execute(f"UPDATE customers SET vulnerable = TRUE WHERE customer_id IN ({marks})", chunk)
        store.append("events", pa.Table.from_pylist([
            {"event_id": f"sim:vulnerable:{cid}", "customer_id": cid, "kind": "vulnerability_recorded",
             "occurred_at": as_of - dt.timedelta(days=30), "source": "simulated",
             "attrs": json.dumps({"simulated": True})}
            for cid in vulnerable
        ]))
    return SimulationReport(n_plans, n_consents, n_contacts, len(vulnerable), len(ends))


def _consent(cid: str, channel: str, state: str, at: dt.datetime, n: int) -> dict[str, Any]:
    return {
        "consent_id": f"sim:{cid}:marketing:{n}",
        "customer_id": cid,
        "purpose": "marketing",
        "channel": channel,
        "state": state,
        "recorded_at": at,
        "source": "simulated",
        "evidence": "simulated by goodwill.guard.simulate (seeded)",
    }


def build_campaign(store: Store, *, seed: int = SEED, as_of: dt.datetime = AS_OF) -> list[dict[str, Any]]:
    """The demo campaign: real customer ids and prices from the demo data, seeded choices.

    Three parts: an 8% renewal price rise to Telco accounts whose term ends within 60
    days; a credit-card up-sell by e-mail to CFPB complainants (every one with an open
    complaint, and a sample of the rest); end-of-contract notices to Telco accounts.
    """
    rng = random.Random(seed)
    send = as_of + dt.timedelta(days=7)
    telco = _telco(store)
    actions: list[dict[str, Any]] = []
    ends = {r["subscription_id"]: r["ends_at"] for r in store.rows("SELECT subscription_id, ends_at FROM subscriptions WHERE ends_at IS NOT NULL")}
    renewing = [r for r in telco if r["subscription_id"] in ends and ends[r["subscription_id"]] <= as_of + dt.timedelta(days=60)]
    for r in rng.sample(renewing, k=min(250, len(renewing))):
        actions.append({
            "action_id": f"demo-renewal-{r['subscription_id']}", "customer_id": r["customer_id"], "kind": "renewal",
            "purpose": "contract", "channel": "letter", "product": r["plan_id"], "price": round(float(r["price"]) * 1.08, 2),
            "campaign_id": "demo-renewal-2026-12", "planned_at": send.isoformat(),
            "attrs": {"subscription_id": r["subscription_id"], "current_price": r["price"]},
        })
    open_ids = [r["customer_id"] for r in store.rows("SELECT customer_id FROM cases WHERE source = 'cfpb' AND status = 'open' ORDER BY customer_id")]
    closed = [r["customer_id"] for r in store.rows("SELECT customer_id FROM cases WHERE source = 'cfpb' AND status = 'closed' ORDER BY customer_id")]
    texts = [
        "You could save on interest with our Everyday card. See the rates and fees before you decide.",
        "Hurry! Only 2 days left to claim your upgrade - don't miss out!",
    ]
    for cid in open_ids + rng.sample(closed, k=min(250, len(closed))):
        actions.append({
            "action_id": f"demo-upsell-{cid}", "customer_id": cid, "kind": "upsell", "purpose": "marketing",
            "channel": "email", "product": "everyday-card", "text": texts[1] if rng.random() < 0.1 else texts[0],
            "campaign_id": "demo-upsell-2026-12", "planned_at": send.isoformat(),
        })
    content = {"contract_end_date": True, "services": True, "price_until_end": True, "price_after_end": True,
               "how_to_end_or_change": True, "best_tariffs": True}
    soon = [r for r in telco if r["subscription_id"] in ends and as_of + dt.timedelta(days=5) <= ends[r["subscription_id"]] <= as_of + dt.timedelta(days=90)]
    for r in rng.sample(soon, k=min(60, len(soon))):
        c = dict(content)
        if rng.random() < 0.15:
            c.pop("best_tariffs")
        actions.append({
            "action_id": f"demo-notice-{r['subscription_id']}", "customer_id": r["customer_id"], "kind": "notice",
            "purpose": "contract", "channel": "email", "product": r["plan_id"],
            "campaign_id": "demo-notices-2026-12", "planned_at": send.isoformat(),
            "attrs": {"notice": "end_of_contract", "subscription_id": r["subscription_id"], "content": c},
        })
    return actions


def write_campaign(actions: list[dict[str, Any]], path: Path = CAMPAIGN_FILE) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(a, sort_keys=True) + "\n" for a in actions), "utf-8")
    return path


DEMO_SOURCES = (("cfpb-complaints-demo.csv.gz", "cfpb"), ("telco-customer-churn.csv.gz", "telco"))


def load_demo_data(store: Store) -> None:
    """The demo's real data (shipped in goodwill.demo's package data), ingested with its mappings."""
    for name, mapping in DEMO_SOURCES:
        path = Path(str(resources.files("goodwill.demo").joinpath("data", name)))
        ingest_file(store, path, mapping)


def main() -> None:
    """Regenerate examples/demo-campaign.jsonl from the shipped demo data (seeded)."""
    with open_store(":memory:") as s:
        load_demo_data(s)
        simulate_company(s)
        print(write_campaign(build_campaign(s)))


if __name__ == "__main__":
    main()
