"""Value by place: where the value added created from Hong Kong research is booked.

The value added of every product in its market life (its own value times the crowding of
its sector's market) is split by function along a smile
curve (IP and R&D, pilot / mother-factory production, mass production, headquarters and
brand, trading services) and each part is booked where that function is done:

- IP and R&D: where the owner is; a licensor in Hong Kong receives ``royalty_share`` of it
  when the IP is used by a firm outside Hong Kong (licences and transfers north; a project
  sold outright because its owner could not pay for industrialisation was paid for once,
  ``Pipeline.sale_price_hkd_m``, and its IP went with it);
- pilot / mother factory: where the pilot was done, or Hong Kong for a mother-factory line;
- mass production: where the product is made (a mother factory keeps a share in Hong Kong);
- headquarters and brand: where the owner's headquarters are;
- trading services: where the producer's headquarters are (Hong Kong for local plants and
  for Hong Kong-owned PRD factories that keep their headquarters in Hong Kong).

Technology adopted by local plants and PRD factories adds value the same way. The parts are
computed from one set of weights, so they sum to the total exactly (up to float rounding).

This is the territorial frame: value added where the work is done. The resident frame of
the net benefit (``sim.metrics``) adds what Hong Kong residents earn outside Hong Kong: the
operating surplus (``value.operating_surplus_share``) of the value that Hong Kong-owned PRD
factories with their headquarters in Hong Kong add in the PRD
(``hk_owned_prd_value_hkd_m``), and the price of projects Hong Kong owners sell outright.
Royalties from outside licensees are already Hong Kong value added (the licensor's export
of IP services), so they are not added again. No foreign-owned activity is booked in Hong
Kong (a Hong Kong site needs a Hong Kong owner), so no income flows out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.projects import (
    PILOT_SITE_PLACE,
    PRODUCTION_SITE_PLACE,
    UNIVERSITY,
    Owner,
    Place,
    ProductionSite,
    Route,
    Stage,
    Status,
)

if TYPE_CHECKING:
    from sim.model import PilotModel

FUNCTIONS: tuple[str, ...] = (
    "ip_rnd",
    "pilot_mother",
    "mass_production",
    "hq_brand",
    "trading_services",
)
PLACES: tuple[str, ...] = ("hk", "prd", "elsewhere")
IP, PILOT, MASS, HQ, TRADING = range(len(FUNCTIONS))

FLOWS: tuple[str, ...] = (
    "projects_started",
    "invention_disclosures",
    "university_spinoffs",
    "university_ip_income",
    "projects_shelved",
    "projects_licensed",
    "projects_spun_off",
    "projects_partnered",
    "projects_north",
    "projects_piloted_hk",
    "projects_failed",
    "projects_launched",
    "lab_projects_launched",
    "pilots_hk_or_north",
    "projects_sold",
    "projects_piloted_hk_private",
    "platform_clients",
    "platform_deadweight",
    "public_spend",
    "private_spend",
    "hk_private_spend",
    "hk_site_private_spend",
    "hk_outside_private_spend",
    "gba_public_spend",
    "pilots_declined",
    "industrialisations_declined",
    "pilot_choices",
    "pilot_choices_negative_private",
    "industrialisation_choices",
    "industrialisation_choices_negative_private",
    "sale_proceeds",
    "hk_sale_proceeds",
    "hk_owned_prd_value",
)
#: Owner types whose private spend and income are booked (``owner_spend_*``,
#: ``owner_income_*``), in ``Owner`` code order from 1 (labs pay no pilot or production).
OWNER_TYPES: tuple[str, ...] = ("startup", "local_manufacturer", "mainland_firm", "abroad_firm")
OWNER_FLOWS: tuple[str, ...] = tuple(
    f"owner_{kind}_{t}" for kind in ("spend", "income") for t in OWNER_TYPES
)
FLOWS = FLOWS + OWNER_FLOWS


def book_by_owner(ledger: Ledger, kind: str, owner: np.ndarray, amount: np.ndarray) -> None:
    """Add ``amount`` (HKD m per project) to the ``owner_<kind>_<type>`` flows by the
    projects' ``owner`` codes; ``kind`` is ``spend`` or ``income``."""
    if amount.size == 0:
        return
    totals = np.bincount(owner.astype(np.int64), weights=amount, minlength=len(Owner))
    for code, name in enumerate(OWNER_TYPES, start=1):
        if totals[code]:
            ledger.add(f"owner_{kind}_{name}", float(totals[code]))


class Ledger:
    """Flows of the current quarter, in sample units (divide by scale for the economy)."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.flows = dict.fromkeys(FLOWS, 0.0)
        self.products = np.zeros((len(PLACES), len(FUNCTIONS)))  # HKD m this quarter
        self.adoption = np.zeros((len(PLACES), len(FUNCTIONS)))

    def add(self, name: str, amount: float) -> None:
        if name not in self.flows:
            raise KeyError(f"unknown ledger flow {name!r}; known: {FLOWS}")
        self.flows[name] += amount

    @property
    def value(self) -> np.ndarray:
        """Value added from Hong Kong research this quarter, place x function."""
        return self.products + self.adoption


def shares(model: PilotModel) -> np.ndarray:
    v = model.spec.value
    return np.array(
        [
            v.share_ip_rnd,
            v.share_pilot_mother,
            v.share_mass_production,
            v.share_hq_brand,
            v.share_trading_services,
        ]
    )


def market_value_hkd_m_per_q(model: PilotModel, rows: np.ndarray) -> np.ndarray:
    """This quarter's value added of products ``rows``: their own value times the crowding
    of their sector's market (``sim.markets``)."""
    b = model.projects
    return b["value_hkd_m_per_q"][rows] * model.markets.crowding[b["sector"][rows]]


def product_value_by_place(model: PilotModel, rows: np.ndarray) -> np.ndarray:
    """Place x function matrix of this quarter's value added of products ``rows``."""
    b = model.projects
    spec = model.spec
    value = market_value_hkd_m_per_q(model, rows)
    w = shares(model)
    out = np.zeros((len(PLACES), len(FUNCTIONS)))

    def book(function: int, place: np.ndarray, amount: np.ndarray) -> None:
        out[:, function] += np.bincount(place, weights=amount, minlength=len(PLACES))

    owner_place = b["owner_place"][rows].astype(np.int64)
    route = b["route"][rows]
    # IP: royalties return to the Hong Kong licensor when the IP is used outside Hong Kong.
    licensed_out = ((route == Route.LICENSE) | (route == Route.NORTH)) & ~b["sold"][rows]
    licensed_out &= owner_place != Place.HK
    royalty = np.where(licensed_out, spec.pipeline.royalty_share, 0.0)
    ip = value * w[IP]
    book(IP, np.full(rows.size, Place.HK), ip * royalty)
    book(IP, owner_place, ip * (1 - royalty))
    # Pilot / mother-factory production.
    mother = b["mother"][rows]
    pilot_place = np.where(mother, Place.HK, PILOT_SITE_PLACE[b["pilot_site"][rows]])
    book(PILOT, pilot_place.astype(np.int64), value * w[PILOT])
    # Mass production: a mother factory keeps a share in Hong Kong.
    site = b["production_site"][rows]
    prod_place = PRODUCTION_SITE_PLACE[site].astype(np.int64)
    keep = np.where(mother, model.policies.mother_factory.kept_share, 0.0)
    mass = value * w[MASS]
    book(MASS, np.full(rows.size, Place.HK), mass * keep)
    book(MASS, prod_place, mass * (1 - keep))
    # Headquarters and brand: the owner's headquarters.
    book(HQ, owner_place, value * w[HQ])
    # Trading services: the producer's headquarters.
    producer = b["producer_row"][rows]
    child = site == ProductionSite.PRD_HK_OWNED
    hq_hk = np.zeros(rows.size, dtype=bool)
    hq_hk[child] = model.prd.cols["hq_in_hk"][producer[child]]
    trading_place = np.where(child, np.where(hq_hk, Place.HK, Place.PRD), prod_place)
    book(TRADING, trading_place.astype(np.int64), value * w[TRADING])
    return out


def hk_owned_prd_value_hkd_m(model: PilotModel, rows: np.ndarray) -> float:
    """Value added this quarter in the PRD by Hong Kong-owned factories headquartered in
    Hong Kong: their mass production of products ``rows`` (the part
    ``product_value_by_place`` books in the PRD) and of adopted technology. Its operating
    surplus is Hong Kong residents' income from outside Hong Kong (the resident frame)."""
    b = model.projects
    w = shares(model)
    child = rows[b["production_site"][rows] == ProductionSite.PRD_HK_OWNED]
    hq_hk = model.prd.cols["hq_in_hk"][b["producer_row"][child]].astype(bool)
    child = child[hq_hk]
    keep = np.where(b["mother"][child], model.policies.mother_factory.kept_share, 0.0)
    products = float((market_value_hkd_m_per_q(model, child) * w[MASS] * (1 - keep)).sum())
    with_hq, _ = model.prd.adoption_value_hkd_m_per_q()
    adopted = float(with_hq * (w[PILOT] + w[MASS]))  # the production functions, in the PRD
    return products + adopted


def university_royalties_hkd_m(model: PilotModel, rows: np.ndarray) -> float:
    """Royalties that university labs earn this quarter from products ``rows`` in market.

    A licensed or transferred university result pays ``royalty_share`` of its IP function's
    value to the university, whoever the licensee is (a Hong Kong licensee's royalty stays
    inside Hong Kong's value added, so ``product_value_by_place`` books only royalties from
    outside). Compared with hk_pipeline_evidence row hk_university_ip_income.
    """
    b = model.projects
    route = b["route"][rows]
    licensed = rows[(route == Route.LICENSE) | (route == Route.NORTH)]
    lab = b["origin_lab"][licensed]
    licensed = licensed[model.labs.cols["institution"][lab] == UNIVERSITY]
    ip = market_value_hkd_m_per_q(model, licensed) * model.spec.value.share_ip_rnd
    return float(ip.sum() * model.spec.pipeline.royalty_share)


def adoption_value_by_place(model: PilotModel) -> np.ndarray:
    """Place x function matrix of value added owed to adopted Hong Kong technology."""
    w = shares(model)
    out = np.zeros((len(PLACES), len(FUNCTIONS)))
    # Local plants: all functions in Hong Kong.
    out[Place.HK] += model.manufacturers.adoption_value_hkd_m_per_q() * w
    # PRD factories: production in the PRD; IP, HQ and trading in HK with a HK headquarters,
    # else only the royalty share of IP returns.
    with_hq, without_hq = model.prd.adoption_value_hkd_m_per_q()
    production = np.array([0, 1, 1, 0, 0], dtype=float)
    office = 1 - production
    out[Place.PRD] += with_hq * w * production
    out[Place.HK] += with_hq * w * office
    out[Place.PRD] += without_hq * w
    returned = without_hq * w[IP] * model.spec.pipeline.royalty_share
    out[Place.HK, IP] += returned
    out[Place.PRD, IP] -= returned
    return out


def book_quarter(model: PilotModel) -> None:
    """Book this quarter's value by place, pay startup owners, age products in market.

    In the burn-in only products age: nothing is recorded and owners' cash is restored
    after each quarter (``PilotModel._warm_start``), so the value and income are not
    computed.
    """
    b = model.projects
    rows = np.flatnonzero((b["stage"] == Stage.MARKET) & (b["status"] == Status.ACTIVE))
    if not model.burning_in:
        _book_value(model, rows)
    b["remaining_q"][rows] -= 1
    ended = rows[b["remaining_q"][rows] <= 0]
    b["stage"][ended] = Stage.DONE
    b["status"][ended] = Status.ENDED


def _book_value(model: PilotModel, rows: np.ndarray) -> None:
    """Value by place and function of products ``rows`` and of adoption; startup income."""
    b = model.projects
    model.ledger.products += product_value_by_place(model, rows)
    model.ledger.add("university_ip_income", university_royalties_hkd_m(model, rows))
    model.ledger.adoption += adoption_value_by_place(model)
    model.ledger.add("hk_owned_prd_value", hk_owned_prd_value_hkd_m(model, rows))
    # Owners' income: the operating surplus of the functions they perform, as the choices
    # weigh it (Pipeline.capture_of), by owner type.
    owners = b["owner"][rows]
    value = market_value_hkd_m_per_q(model, rows)
    model.firm_panel.book_products(rows, value)
    book_by_owner(model.ledger, "income", owners, model.pipeline.capture_of(owners) * value)
    # Startup owners earn their IP and brand margin (assumption: the functions they perform).
    w = shares(model)
    startup = owners == Owner.STARTUP
    if startup.any():
        np.add.at(
            model.startups.cols["income_hkd_m"],
            b["owner_row"][rows[startup]],
            value[startup] * (w[IP] + w[HQ]),
        )
