"""Outputs: one registry of every output, declared once with its unit and how it aggregates.

``OUTPUTS`` holds two sorts of output:

- *columns* (``METRICS``): a numpy expression of the model after a quarter's step, recorded
  every quarter and aggregated yearly. Extensive columns (money, counts, persons) are divided
  by the run's ``scale`` so that every run reports full-economy units. Money is HKD million.
- *derived outcomes*: formed from a run's annual columns over a policy period by the
  comparisons (``sim.experiments.compare``): present values, ratios per public dollar, shares
  in the policy runs.

``kind`` says how an output aggregates (a year from its quarters, a period from its years):

- ``flow``: summed, and summed over a period;
- ``stock``: the year-end value, averaged over a period;
- ``mean``: the mean of the quarters, averaged over a period;
- ``ratio``: ``ratio_of`` recomputed from the year's (the period's) summed parts;
- ``npv`` (derived): the sum over the period of ``terms``, a linear combination of annual
  columns, discounted to the period's first year at the social rate;
- ``per_dollar`` (derived): a ratio of paired mean differences of two period values
  (``ratio_of``: columns or present values), with a delta-method interval;
- ``policy_share`` (derived): ``ratio_of`` summed over the period in the *policy* runs alone
  (a level, not a difference: the deadweight share of platform clients).

``views`` names the tables and figures that show an output, with its caption there; each view
selects its outputs with ``view(name)``. This module needs no pandas: ``pilotsim columns``
reads it without loading the model's heavy imports.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from sim.accounting import FUNCTIONS, OWNER_TYPES, Place
from sim.params import FIRST_YEAR
from sim.projects import Stage, Status
from sim.units import QUARTERS_PER_YEAR

if TYPE_CHECKING:
    import pandas as pd

    from sim.model import PilotModel

#: Kinds of the recorded columns: how a year is formed from its quarters.
COLUMN_KINDS = ("flow", "stock", "mean", "ratio")
#: Kinds of the derived outcomes (no column; formed over a policy period).
DERIVED_KINDS = ("npv", "per_dollar", "policy_share")
#: The views that select outputs (``Metric.views``), and what each shows.
VIEWS: dict[str, str] = {
    "compare": "outcomes of the comparison table (`pilotsim compare`, summary.csv, report.md)",
    "summary": "the table `pilotsim run` prints",
    "sweep": "outcomes plotted against swept parameters and tabled in the sweep report",
    "route": "what happens to research projects (project_routes.png, left)",
    "stage": "the pipeline by stage at the period's end (project_routes.png, right)",
    "pv_helper": "present values that are the parts of the benefit-cost ratios",
    "analysis": "paired effects the policy analyses report (`pilotsim analyse`, sim.analysis)",
}


@dataclass(frozen=True)
class Metric:
    """One output: a recorded column, or an outcome derived from columns over a period.

    Attributes:
        name: column or outcome name.
        unit: unit of a year's value of a column; of the period's value of a derived outcome.
        kind: how it aggregates (module docstring): one of ``COLUMN_KINDS`` or
            ``DERIVED_KINDS``.
        description: its definition (``pilotsim columns``, docs/ODD.md).
        fn: a column's value in a quarter (None: a ratio column, filled from ``ratio_of``,
            or a derived outcome).
        extensive: a column divided by the run's scale.
        ratio_of: numerator and denominator of ``ratio``, ``per_dollar`` and ``policy_share``.
        terms: ``(column, coefficient)`` pairs of an ``npv`` outcome.
        label: what a reader sees in comparison tables.
        period_only: comparisons show it over the period only, not in single years.
        views: view (``VIEWS``) -> its caption there; "" is the ``label``.
        order: position in a view whose order is not the declaration order.
    """

    name: str
    unit: str
    kind: str
    description: str
    fn: Callable[[PilotModel], float] | None = None
    extensive: bool = True
    ratio_of: tuple[str, str] | None = None
    terms: tuple[tuple[str, float], ...] = ()
    label: str = ""
    period_only: bool = False
    views: Mapping[str, str] = field(default_factory=dict, hash=False)
    order: Mapping[str, int] = field(default_factory=dict, hash=False)

    @property
    def year_unit(self) -> str:
        """Unit of a year's value in comparison tables."""
        return {"flow": f"{self.unit} a year", "stock": f"{self.unit}, year end"}.get(
            self.kind, self.unit
        )

    @property
    def period_unit(self) -> str:
        """Unit of the period's value in comparison tables (flows summed, stocks averaged)."""
        return {
            "flow": f"{self.unit}, sum",
            "stock": f"{self.unit}, mean",
            "mean": f"{self.unit}, mean",
            "ratio": f"{self.unit} of sums",
        }.get(self.kind, self.unit)

    def caption(self, view: str) -> str:
        """What a reader sees in ``view``."""
        return self.views[view] or self.label


#: The net benefit in Hong Kong's territory (``npv`` terms): value added where the work is
#: done, less Hong Kong public spend and the private spend on resources used in Hong Kong.
TERRITORIAL_NET_BENEFIT: tuple[tuple[str, float], ...] = (
    ("hk_value_added_hkd_m", 1.0),
    ("public_spend_hkd_m", -1.0),
    ("hk_site_private_spend_hkd_m", -1.0),
)
#: The benefit to Hong Kong residents before public spend: the territorial frame's private
#: terms plus residents' income from outside Hong Kong, less their spend outside it.
RESIDENT_BENEFIT: tuple[tuple[str, float], ...] = (
    ("hk_value_added_hkd_m", 1.0),
    ("hk_site_private_spend_hkd_m", -1.0),
    ("hk_income_from_outside_hkd_m", 1.0),
    ("hk_outside_private_spend_hkd_m", -1.0),
)


def _hk_income_from_outside(m: PilotModel) -> float:
    """Residents' income from outside HK this quarter (resident frame, ``sim.accounting``)."""
    f = m.ledger.flows
    return float(
        m.spec.value.operating_surplus_share * f["hk_owned_prd_value"] + f["hk_sale_proceeds"]
    )


def _hk_labour_alternative(m: PilotModel) -> float:
    """Labour's alternative use of HK value added this quarter (full-employment frame)."""
    v = m.spec.value
    labour = v.shadow_wage_ratio * (1 - v.operating_surplus_share)
    return float(labour * m.ledger.value[Place.HK].sum())


def _stage_count(stage: Stage, status: Status = Status.ACTIVE) -> Callable[[PilotModel], float]:
    def f(m: PilotModel) -> float:
        b = m.projects
        return float(np.count_nonzero((b["stage"] == stage) & (b["status"] == status)))

    return f


def _flow(name: str) -> Callable[[PilotModel], float]:
    return lambda m: float(m.ledger.flows[name])


def _hk_function(i: int) -> Callable[[PilotModel], float]:
    return lambda m: float(m.ledger.value[Place.HK, i])


def _hk_jobs(m: PilotModel) -> float:
    """Hong Kong jobs sustained by value from HK research: value / value added per worker."""
    v = m.spec.value
    hk = m.ledger.value[Place.HK] * QUARTERS_PER_YEAR  # annualised HKD m
    production_per_worker = m.spec.manufacturing.va_per_worker_hkd_m * m.manufacturers.trend
    per_worker = np.array(
        [
            v.knowledge_va_per_worker_hkd_m,
            production_per_worker,
            production_per_worker,
            v.services_va_per_worker_hkd_m,
            v.services_va_per_worker_hkd_m,
        ]
    )
    return float((hk / per_worker).sum())


def _it_value_added(m: PilotModel) -> float:
    it = m.spec.it_sector
    years = m.t / QUARTERS_PER_YEAR
    other = it.other_value_added_2015_hkd_m * (1 + it.other_value_added_growth) ** years
    startups = m.startups.employment() * m.spec.startups.va_per_employee_hkd_m
    return (startups + other * m.scale) / QUARTERS_PER_YEAR


def _it_employment(m: PilotModel) -> float:
    it = m.spec.it_sector
    years = m.t / QUARTERS_PER_YEAR
    other = it.other_employment_2015 * (1 + it.other_employment_growth) ** years
    return m.startups.employment() + other * m.scale


def _mean_crowding(m: PilotModel) -> float:
    b = m.projects
    live = b.live_rows()
    sectors = b["sector"][
        live[(b["stage"][live] == Stage.MARKET) & (b["status"][live] == Status.ACTIVE)]
    ]
    if sectors.size == 0:
        return 1.0
    return float(m.markets.crowding[sectors].mean())


#: The only output columns that may hold NaN, by definition (a share of an empty cohort).
MAY_BE_NAN: frozenset[str] = frozenset({"startup_survival_2y", "startup_survival_4y"})


def _cohort_survival(years: int) -> Callable[[PilotModel], float]:
    """Share of the startups that entered ``years`` years before this one still operating
    ``years`` years after entry (moving north counts as operating); NaN before a cohort has
    aged that long inside the run. Initial and burn-in startups have no observed entry, so
    only cohorts from 2015 count."""
    age_q = years * QUARTERS_PER_YEAR

    def f(m: PilotModel) -> float:
        c = m.startups.cols
        first_q = (m.year - years - FIRST_YEAR) * QUARTERS_PER_YEAR
        if first_q < 0:
            return float("nan")
        born = c["born_q"]
        cohort = (born >= first_q) & (born < first_q + QUARTERS_PER_YEAR) & (born + age_q <= m.t)
        if not cohort.any():
            return float("nan")
        closed = c["closed_q"][cohort]
        return float(np.mean((closed < 0) | (closed >= born[cohort] + age_q)))

    return f


def _manufacturing_va(m: PilotModel) -> float:
    """Plants' own value added plus Hong Kong production of products (pilot/mother, mass)."""
    hk_production = m.ledger.products[Place.HK, 1] + m.ledger.products[Place.HK, 2]
    return m.manufacturers.value_added_hkd_m_per_q() + hk_production


OUTPUTS: tuple[Metric, ...] = (
    Metric(
        "hk_value_added_hkd_m",
        "HKD m",
        "flow",
        "value added from HK research booked in Hong Kong",
        lambda m: float(m.ledger.value[Place.HK].sum()),
        label="Value retained in HK (HK value added from HK research)",
        views={
            "analysis": "HK value added",
            "compare": "",
            "summary": "HK value added from HK research (HKD m)",
            "sweep": "extra HK value added",
        },
        order={"analysis": 1, "sweep": 1},
    ),
    Metric(
        "prd_value_added_hkd_m",
        "HKD m",
        "flow",
        "value added from HK research booked in the PRD",
        lambda m: float(m.ledger.value[Place.PRD].sum()),
    ),
    Metric(
        "elsewhere_value_added_hkd_m",
        "HKD m",
        "flow",
        "value added from HK research booked elsewhere",
        lambda m: float(m.ledger.value[Place.ELSEWHERE].sum()),
    ),
    Metric(
        "total_value_added_hkd_m",
        "HKD m",
        "flow",
        "all value added from HK research (products and adopted technology)",
        lambda m: float(m.ledger.value.sum()),
    ),
    *(
        Metric(
            f"hk_{f}_hkd_m",
            "HKD m",
            "flow",
            f"HK value added from HK research: {f}",
            _hk_function(i),
        )
        for i, f in enumerate(FUNCTIONS)
    ),
    Metric(
        "product_value_added_hkd_m",
        "HKD m",
        "flow",
        "value added of the products from HK research themselves, all places (without "
        "adopted technology)",
        lambda m: float(m.ledger.products.sum()),
    ),
    Metric(
        "social_private_return_ratio",
        "ratio",
        "ratio",
        "value added owed to HK research in all places (products and technology adopted by "
        "firms that do not own them) / the products' own value added: how much value "
        "reaches firms other than the products' makers. Only a rough counterpart of the "
        "social / private ratio of rates of return to R&D that Bloom, Schankerman and Van "
        "Reenen (2013) and Lucking, Bloom and Van Reenen (2019) put at about 2-4 "
        "(market_failure_evidence rows): the model's only spillover channel is adoption",
        extensive=False,
        ratio_of=("total_value_added_hkd_m", "product_value_added_hkd_m"),
        label="Social / private return ratio (value owed to HK research / products' own value)",
        views={"compare": ""},
    ),
    Metric(
        "adoption_value_added_hkd_m",
        "HKD m",
        "flow",
        "value added owed to HK technology adopted by plants and PRD factories",
        lambda m: float(m.ledger.adoption.sum()),
    ),
    Metric(
        "local_retention_share",
        "share",
        "ratio",
        "hk_value_added / total_value_added",
        extensive=False,
        ratio_of=("hk_value_added_hkd_m", "total_value_added_hkd_m"),
        label="Local retention share (HK / all value added)",
        views={"analysis": "retention share", "compare": "", "summary": "local retention share"},
        order={"analysis": 2},
    ),
    Metric(
        "pilots_declined",
        "projects",
        "flow",
        "projects whose owner chose not to pilot (shelved: the outside option of the pilot "
        "choice when pipeline.owner_returns)",
        _flow("pilots_declined"),
    ),
    Metric(
        "industrialisations_declined",
        "projects",
        "flow",
        "piloted projects whose owner chose not to industrialise (shelved, when "
        "pipeline.owner_returns)",
        _flow("industrialisations_declined"),
    ),
    Metric(
        "pilot_choices",
        "projects",
        "flow",
        "pilot-site choices made (a project that leaves the platform's queue chooses again)",
        _flow("pilot_choices"),
    ),
    Metric(
        "pilot_choices_negative_private",
        "projects",
        "flow",
        "pilot-site choices whose chosen site has a negative expected private value to the "
        "owner (Pipeline.private_capture of V, net of the owner's costs)",
        _flow("pilot_choices_negative_private"),
    ),
    Metric(
        "pilots_negative_private_value_share",
        "share",
        "ratio",
        "share of pilot choices made at a negative expected private value (owners weigh the "
        "product's whole value added, not what they earn: issue 22 point 1)",
        extensive=False,
        ratio_of=("pilot_choices_negative_private", "pilot_choices"),
    ),
    Metric(
        "industrialisation_choices",
        "projects",
        "flow",
        "industrialisations started (after the production-site choice)",
        _flow("industrialisation_choices"),
    ),
    Metric(
        "industrialisation_choices_negative_private",
        "projects",
        "flow",
        "industrialisations started at a negative expected private value to the owner",
        _flow("industrialisation_choices_negative_private"),
    ),
    Metric(
        "industrialisations_negative_private_value_share",
        "share",
        "ratio",
        "share of industrialisations started at a negative expected private value",
        extensive=False,
        ratio_of=("industrialisation_choices_negative_private", "industrialisation_choices"),
    ),
    Metric(
        "hk_jobs",
        "persons",
        "stock",
        "HK jobs sustained by value from HK research (value / value added per worker)",
        _hk_jobs,
        label="HK jobs from HK research",
        views={
            "analysis": "HK jobs",
            "compare": "",
            "summary": "HK jobs from HK research",
            "sweep": "extra HK jobs (mean over period)",
        },
        order={"analysis": 6, "sweep": 3},
    ),
    Metric(
        "startups",
        "count",
        "stock",
        "startups alive in Hong Kong",
        lambda m: float(m.startups.n_alive),
        label="Startups alive",
        views={"compare": "", "summary": "startups"},
    ),
    Metric(
        "startup_employees",
        "persons",
        "stock",
        "people working in HK startups",
        lambda m: m.startups.employment(),
    ),
    Metric(
        "manufacturing_establishments",
        "count",
        "stock",
        "local manufacturing establishments",
        lambda m: float(m.manufacturers.n_alive),
        label="Local manufacturing establishments",
        views={"compare": "", "summary": "manufacturing establishments"},
    ),
    Metric(
        "manufacturing_employment",
        "persons",
        "stock",
        "persons engaged in local plants",
        lambda m: float(m.manufacturers.cols["employees"][m.manufacturers.alive].sum()),
    ),
    Metric(
        "manufacturing_value_added_hkd_m",
        "HKD m (2015 prices)",
        "flow",
        "local manufacturing value added: plants plus HK production of products",
        _manufacturing_va,
    ),
    Metric(
        "manufacturers_using_hk_technology",
        "count",
        "stock",
        "local plants that adopted HK technology",
        lambda m: float(np.count_nonzero(m.manufacturers.alive & m.manufacturers.cols["adopted"])),
    ),
    Metric(
        "prd_factories_using_hk_technology",
        "count",
        "stock",
        "HK-owned PRD factories that adopted HK technology",
        lambda m: float(np.count_nonzero(m.prd.cols["adopted"])),
    ),
    Metric(
        "prd_factories_hq_in_hk",
        "count",
        "stock",
        "HK-owned PRD factories with headquarters functions in HK",
        lambda m: float(np.count_nonzero(m.prd.cols["hq_in_hk"])),
    ),
    Metric(
        "it_value_added_hkd_m",
        "HKD m",
        "flow",
        "I&T industry value added: startups plus an exogenous trend for the rest",
        _it_value_added,
    ),
    Metric(
        "it_employment",
        "persons",
        "stock",
        "I&T industry employment: startup staff plus an exogenous trend for the rest",
        _it_employment,
    ),
    # Routes of research results: flows of projects, in the figure's order (``order``).
    Metric(
        "projects_started",
        "projects",
        "flow",
        "research projects started (labs) plus startups' own",
        _flow("projects_started"),
        views={"route": "started"},
        order={"route": 1},
    ),
    Metric(
        "projects_shelved",
        "projects",
        "flow",
        "research results shelved",
        _flow("projects_shelved"),
        views={"route": "shelved"},
        order={"route": 2},
    ),
    Metric(
        "projects_licensed",
        "projects",
        "flow",
        "research results licensed",
        _flow("projects_licensed"),
        views={"route": "licensed"},
        order={"route": 3},
    ),
    Metric(
        "projects_spun_off",
        "projects",
        "flow",
        "research results spun off into startups",
        _flow("projects_spun_off"),
        views={"route": "spun off (startup)"},
        order={"route": 4},
    ),
    Metric(
        "projects_partnered",
        "projects",
        "flow",
        "research results co-developed with local manufacturers",
        _flow("projects_partnered"),
        views={"route": "partnered (local plant)"},
        order={"route": 5},
    ),
    Metric(
        "projects_north",
        "projects",
        "flow",
        "projects whose pilot stage moved to the PRD (counted once)",
        _flow("projects_north"),
        label="Projects moved north",
        views={
            "compare": "",
            "summary": "projects moved north (year)",
            "route": "pilot moved north",
        },
        order={"route": 7},
    ),
    Metric(
        "projects_piloted_hk",
        "projects",
        "flow",
        "pilots started in Hong Kong (in-house or platform)",
        _flow("projects_piloted_hk"),
        views={"summary": "pilots started in HK (year)", "route": "piloted in HK"},
        order={"route": 6},
    ),
    Metric(
        "projects_failed",
        "projects",
        "flow",
        "projects that failed at any stage",
        _flow("projects_failed"),
        views={"route": "failed"},
        order={"route": 9},
    ),
    Metric(
        "projects_launched",
        "projects",
        "flow",
        "products entering mass production",
        _flow("projects_launched"),
        views={"route": "launched (mass production)"},
        order={"route": 8},
    ),
    Metric(
        "lab_projects_launched",
        "projects",
        "flow",
        "products from lab research projects entering mass production (startups' own "
        "projects excluded)",
        _flow("lab_projects_launched"),
    ),
    Metric(
        "lab_launch_share",
        "ratio",
        "ratio",
        "lab_projects_launched / invention_disclosures in the same period: in a steady "
        "pipeline, the share of lab projects that reach the market (the funnel); below the "
        "cohort funnel while research spending grows, since launches lag starts by years",
        extensive=False,
        ratio_of=("lab_projects_launched", "invention_disclosures"),
    ),
    Metric(
        "pilots_hk_or_north",
        "projects",
        "flow",
        "pilots started in Hong Kong plus projects moving north to pilot (the "
        "denominator of north_pilot_share)",
        _flow("pilots_hk_or_north"),
    ),
    Metric(
        "north_pilot_share",
        "share",
        "ratio",
        "projects_north / pilots_hk_or_north in the same period: the share of pilots done "
        "north (stylised fact 'share of pilots done north')",
        extensive=False,
        ratio_of=("projects_north", "pilots_hk_or_north"),
    ),
    Metric(
        "invention_disclosures",
        "projects",
        "flow",
        "research projects started by labs (the model's invention disclosures)",
        _flow("invention_disclosures"),
    ),
    Metric(
        "university_spinoffs",
        "startups",
        "flow",
        "startups spun off from university labs",
        _flow("university_spinoffs"),
    ),
    Metric(
        "university_ip_income_hkd_m",
        "HKD m",
        "flow",
        "royalties universities earn from licensed and transferred results in market",
        _flow("university_ip_income"),
    ),
    Metric(
        "licences_per_disclosure",
        "ratio",
        "ratio",
        "projects_licensed / invention_disclosures in the same period",
        extensive=False,
        ratio_of=("projects_licensed", "invention_disclosures"),
    ),
    Metric(
        "startup_survival_2y",
        "share",
        "stock",
        "share of the startups that entered two years earlier still operating two years on "
        "(NaN until a cohort from 2015 has aged two years)",
        _cohort_survival(2),
        extensive=False,
    ),
    Metric(
        "startup_survival_4y",
        "share",
        "stock",
        "share of the startups that entered four years earlier still operating four years on "
        "(NaN until a cohort from 2015 has aged four years)",
        _cohort_survival(4),
        extensive=False,
    ),
    # The pipeline by stage.
    Metric(
        "projects_in_research",
        "projects",
        "stock",
        "projects in 0-1",
        _stage_count(Stage.RESEARCH),
        views={"stage": "0-1 research"},
    ),
    Metric(
        "projects_in_pilot",
        "projects",
        "stock",
        "projects in 1-10",
        _stage_count(Stage.PILOT),
        views={"stage": "1-10 pilot"},
    ),
    Metric(
        "projects_queued",
        "projects",
        "stock",
        "projects waiting for a platform slot",
        _stage_count(Stage.PILOT, Status.QUEUED),
        views={"stage": "queued for platform"},
    ),
    Metric(
        "projects_in_industrialisation",
        "projects",
        "stock",
        "projects in 10-100",
        _stage_count(Stage.INDUSTRIALISATION),
        views={"stage": "10-100 industrialisation"},
    ),
    Metric(
        "projects_in_production",
        "projects",
        "stock",
        "products in their market life",
        _stage_count(Stage.MARKET),
        views={"stage": "in production"},
    ),
    Metric(
        "platform_capacity",
        "slots",
        "stock",
        "staffed platform pilot slots: those the budget funds, and occupied ones above them",
        lambda m: float(m.platform.staffed_slots()),
    ),
    Metric(
        "platform_utilisation",
        "share",
        "mean",
        "slots in use / staffed slots, in [0, 1] (0 when closed)",
        lambda m: m.platform.utilisation(),
        extensive=False,
    ),
    # Costs, and the net benefit outcomes derived from them.
    Metric(
        "public_spend_hkd_m",
        "HKD m",
        "flow",
        "Hong Kong policy spend: platform budget, fee subsidies, brokerage and follow-up, "
        "programme grants, extra research",
        _flow("public_spend"),
        label="Public spend",
        views={"compare": "", "summary": "public spend (HKD m)"},
    ),
    Metric(
        "private_spend_hkd_m",
        "HKD m",
        "flow",
        "owners' spend on pilots (platform fees included) and industrialisation, all payers",
        _flow("private_spend"),
        label="Private spend on projects from HK research (all owners)",
        views={"compare": ""},
    ),
    Metric(
        "hk_private_spend_hkd_m",
        "HKD m",
        "flow",
        "the part of private_spend paid by owners headquartered in Hong Kong",
        _flow("hk_private_spend"),
        label="Private spend by Hong Kong owners",
        views={"compare": ""},
    ),
    Metric(
        "hk_site_private_spend_hkd_m",
        "HKD m",
        "flow",
        "the part of private_spend paid for work at Hong Kong sites (in-house lines, the "
        "platform, Hong Kong production), by any owner: resources used in Hong Kong",
        _flow("hk_site_private_spend"),
    ),
    Metric(
        "hk_outside_private_spend_hkd_m",
        "HKD m",
        "flow",
        "the part of hk_private_spend paid for work outside Hong Kong (PRD pilot bases and "
        "factories, overseas)",
        _flow("hk_outside_private_spend"),
    ),
    Metric(
        "gba_public_spend_hkd_m",
        "HKD m",
        "flow",
        "Guangdong's subsidy to pilots of Hong Kong projects on PRD pilot bases",
        _flow("gba_public_spend"),
    ),
    Metric(
        "project_sale_proceeds_hkd_m",
        "HKD m",
        "flow",
        "what outside buyers paid for projects sold outright (Pipeline.sale_price_hkd_m)",
        _flow("sale_proceeds"),
    ),
    Metric(
        "hk_sale_proceeds_hkd_m",
        "HKD m",
        "flow",
        "the part of project_sale_proceeds received by sellers headquartered in Hong Kong",
        _flow("hk_sale_proceeds"),
    ),
    *(
        Metric(
            f"owner_{kind}_{owner}_hkd_m",
            "HKD m",
            "flow",
            f"{what} {owner.replace('_', ' ')}s as owners of projects from Hong Kong research "
            f"({detail})",
            _flow(f"owner_{kind}_{owner}"),
        )
        for kind, what, detail in (
            ("spend", "what", "pilots, industrialisation and projects bought; by owner type"),
            (
                "income",
                "the income of",
                "operating surplus of the functions they perform, Pipeline.capture_of, and "
                "the price of projects they sold",
            ),
        )
        for owner in OWNER_TYPES
    ),
    Metric(
        "hk_owned_prd_value_hkd_m",
        "HKD m",
        "flow",
        "value added in the PRD by Hong Kong-owned factories headquartered in Hong Kong, "
        "from Hong Kong research (products and adopted technology)",
        _flow("hk_owned_prd_value"),
    ),
    Metric(
        "hk_labour_alternative_hkd_m",
        "HKD m",
        "flow",
        "what the labour paid out of HK value added would have earned elsewhere: "
        "value.shadow_wage_ratio x (1 - value.operating_surplus_share) x hk_value_added",
        _hk_labour_alternative,
    ),
    Metric(
        "hk_income_from_outside_hkd_m",
        "HKD m",
        "flow",
        "Hong Kong residents' income from outside Hong Kong owed to HK research: the "
        "operating surplus of hk_owned_prd_value plus hk_sale_proceeds",
        _hk_income_from_outside,
    ),
    # Present values (to the period's first year) that are the numerators and denominators
    # of the benefit-cost ratios. Benefits are value added net of the private costs of the
    # same place (the Green Book convention: the ratio's denominator is the cost to the
    # public purse, private costs are netted from benefits), so that
    # ``benefit_cost_ratio > 1`` exactly when ``npv_net_benefit_hkd_m > 0``.
    Metric(
        "pv_public_spend_hkd_m",
        "HKD m, present value",
        "npv",
        "present value of Hong Kong public spend over the period",
        terms=(("public_spend_hkd_m", 1.0),),
        views={"analysis": "public cost (PV)", "pv_helper": ""},
        order={"analysis": 4},
    ),
    Metric(
        "pv_hk_benefit_hkd_m",
        "HKD m, present value",
        "npv",
        "present value of the benefit to Hong Kong residents before public spend (the "
        "resident frame of npv_net_benefit_hkd_m)",
        terms=RESIDENT_BENEFIT,
        views={"pv_helper": ""},
    ),
    Metric(
        "pv_all_benefit_hkd_m",
        "HKD m, present value",
        "npv",
        "present value of value added in every place net of all private spend and of "
        "Guangdong's subsidy (a cost for all places)",
        terms=(
            ("total_value_added_hkd_m", 1.0),
            ("private_spend_hkd_m", -1.0),
            ("gba_public_spend_hkd_m", -1.0),
        ),
        views={"pv_helper": ""},
    ),
    Metric(
        "value_per_public_dollar",
        "HKD per HKD",
        "per_dollar",
        "extra HK value added / extra public spend (paired mean differences, undiscounted)",
        ratio_of=("hk_value_added_hkd_m", "public_spend_hkd_m"),
        label="HK value retained per public dollar (extra HK value / extra spend)",
        views={"compare": "", "sweep": "HK value retained per public dollar"},
        order={"sweep": 2},
    ),
    Metric(
        "npv_hk_value_added_hkd_m",
        "HKD m, present value",
        "npv",
        "present value of HK value added",
        terms=(("hk_value_added_hkd_m", 1.0),),
        label="NPV of HK value added (discounted to the period's first year)",
        period_only=True,
        views={"compare": ""},
    ),
    Metric(
        "npv_total_value_added_hkd_m",
        "HKD m, present value",
        "npv",
        "present value of value added in every place",
        terms=(("total_value_added_hkd_m", 1.0),),
        label="NPV of value added, all places",
        period_only=True,
        views={"compare": ""},
    ),
    Metric(
        "npv_net_benefit_hkd_m",
        "HKD m, present value",
        "npv",
        "present value of the net benefit to Hong Kong residents (the headline): equal to "
        "npv_net_benefit_resident_hkd_m. Residents, as the Green Book counts value to the "
        "residents of the appraising jurisdiction; but gross of labour's alternative use "
        "(shadow wage 0), where the Green Book's default of full employment is "
        "npv_net_benefit_full_employment_hkd_m",
        terms=(*RESIDENT_BENEFIT, ("public_spend_hkd_m", -1.0)),
        label="NPV of net benefit to HK residents (headline: the resident frame)",
        period_only=True,
        views={"analysis": "net benefit to HK (NPV)", "compare": ""},
        order={"analysis": 3},
    ),
    Metric(
        "npv_net_benefit_full_employment_hkd_m",
        "HKD m, present value",
        "npv",
        "sensitivity: npv_net_benefit_hkd_m less labour's alternative use at the shadow "
        "wage (the Green Book's full employment: jobs moved, not created)",
        terms=(
            *RESIDENT_BENEFIT,
            ("public_spend_hkd_m", -1.0),
            ("hk_labour_alternative_hkd_m", -1.0),
        ),
        label="NPV of net benefit to HK residents at full employment (less labour's "
        "alternative use at the shadow wage)",
        period_only=True,
        views={"compare": ""},
    ),
    Metric(
        "npv_net_benefit_territorial_hkd_m",
        "HKD m, present value",
        "npv",
        "present value of the net benefit in Hong Kong's territory: HK value added - public "
        "spend - private spend on work at Hong Kong sites",
        terms=TERRITORIAL_NET_BENEFIT,
        label="NPV of net benefit, territorial frame (HK value added - public spend - "
        "private spend at HK sites)",
        period_only=True,
        views={"analysis": "net benefit to HK, territorial (NPV)", "compare": ""},
        order={"analysis": 7},
    ),
    Metric(
        "npv_net_benefit_resident_hkd_m",
        "HKD m, present value",
        "npv",
        "present value of the net benefit to Hong Kong residents: the territorial frame "
        "plus residents' income from outside HK minus HK owners' spend outside HK",
        terms=(*RESIDENT_BENEFIT, ("public_spend_hkd_m", -1.0)),
        label="NPV of net benefit, resident frame (territorial + HK income from outside - "
        "HK owners' spend outside)",
        period_only=True,
        views={"compare": ""},
    ),
    Metric(
        "npv_net_benefit_all_hkd_m",
        "HKD m, present value",
        "npv",
        "present value of the net benefit to all places",
        terms=(
            ("total_value_added_hkd_m", 1.0),
            ("public_spend_hkd_m", -1.0),
            ("private_spend_hkd_m", -1.0),
            ("gba_public_spend_hkd_m", -1.0),
        ),
        label="NPV of net benefit, all places (value added - HK and Guangdong public spend - "
        "all private spend)",
        period_only=True,
        views={"analysis": "net benefit, all places (NPV)", "compare": ""},
        order={"analysis": 5},
    ),
    Metric(
        "benefit_cost_ratio",
        "HKD per HKD, present values",
        "per_dollar",
        "extra PV of HK value net of HK private cost / extra PV of public cost",
        ratio_of=("pv_hk_benefit_hkd_m", "pv_public_spend_hkd_m"),
        label="Benefit-cost ratio, HK (PV extra HK value net of HK private cost / PV extra "
        "public cost)",
        period_only=True,
        views={"compare": ""},
    ),
    Metric(
        "benefit_cost_ratio_all",
        "HKD per HKD, present values",
        "per_dollar",
        "extra PV of value net of private cost / extra PV of public cost, all places",
        ratio_of=("pv_all_benefit_hkd_m", "pv_public_spend_hkd_m"),
        label="Benefit-cost ratio, all places (PV extra value net of private cost / PV extra "
        "public cost)",
        period_only=True,
        views={"compare": ""},
    ),
    Metric(
        "platform_clients",
        "projects",
        "flow",
        "pilots started on the Hong Kong platform",
        _flow("platform_clients"),
        label="Platform clients (pilots started on the platform)",
        views={"compare": ""},
    ),
    Metric(
        "platform_deadweight_clients",
        "projects",
        "flow",
        "platform clients whose choice without the platform (same taste shocks, same "
        "prices) was a Hong Kong pilot",
        _flow("platform_deadweight"),
    ),
    Metric(
        "platform_deadweight_share",
        "share of platform clients",
        "policy_share",
        "platform_deadweight_clients / platform_clients over the period, in the policy runs",
        ratio_of=("platform_deadweight_clients", "platform_clients"),
        label="Deadweight: share of platform clients that would have piloted in HK anyway "
        "(policy runs, a level)",
        period_only=True,
        views={"compare": ""},
    ),
    Metric(
        "projects_piloted_hk_private",
        "projects",
        "flow",
        "pilots started in Hong Kong outside the platform (in-house lines)",
        _flow("projects_piloted_hk_private"),
        label="Private HK pilots outside the platform (a fall is displacement)",
        views={"compare": ""},
    ),
    Metric(
        "projects_sold",
        "projects",
        "flow",
        "projects sold to outside firms because the owner could pay for no production site",
        _flow("projects_sold"),
    ),
    Metric(
        "engineer_wage_index",
        "x going wage",
        "mean",
        "wage of Hong Kong engineers for pilot work (1 while demand is within the pool)",
        lambda m: m.markets.wage_index,
        extensive=False,
    ),
    Metric(
        "hk_pilot_lines_free",
        "lines",
        "stock",
        "Hong Kong pilot lines left free at the quarter's end (floor space)",
        lambda m: max(m.markets.hk_lines_free, 0.0),
    ),
    Metric(
        "prd_pilot_lines",
        "lines",
        "stock",
        "PRD pilot lines open to Hong Kong owners",
        lambda m: m.markets.prd_lines(),
    ),
    Metric(
        "market_crowding",
        "x full value",
        "mean",
        "value multiplier of products from crowding, mean over sectors weighted by products",
        lambda m: _mean_crowding(m),
        extensive=False,
    ),
    Metric(
        "prd_hk_owned_employment",
        "persons",
        "stock",
        "persons employed in Hong Kong-owned PRD factories",
        lambda m: m.prd.employment(),
    ),
)
#: The recorded columns, in the order of the output frames.
METRICS: tuple[Metric, ...] = tuple(m for m in OUTPUTS if m.kind in COLUMN_KINDS)
METRIC_BY_NAME = {m.name: m for m in METRICS}
OUTPUT_BY_NAME = {m.name: m for m in OUTPUTS}


def view(name: str) -> tuple[Metric, ...]:
    """The outputs view ``name`` (``VIEWS``) shows, in its order: by ``order`` where its
    members give a position, else in declaration order."""
    if name not in VIEWS:
        raise KeyError(f"unknown view {name!r}; views: {', '.join(VIEWS)}")
    return tuple(
        sorted((m for m in OUTPUTS if name in m.views), key=lambda m: m.order.get(name, 0))
    )


class Recorder:
    """Collects one row per quarter; builds the quarterly and annual frames."""

    def __init__(self, model: PilotModel) -> None:
        self.model = model
        self.rows: list[list[float]] = []

    def record(self) -> None:
        m = self.model
        inv = 1.0 / m.scale
        row = [float(m.year), float(m.t % QUARTERS_PER_YEAR + 1)]
        for metric in METRICS:
            if metric.fn is None:
                row.append(np.nan)
                continue
            x = metric.fn(m)
            row.append(x * inv if metric.extensive else x)
        self.rows.append(row)

    def quarterly(self) -> pd.DataFrame:
        import pandas as pd

        cols = ["year", "quarter", *(m.name for m in METRICS)]
        df = pd.DataFrame(self.rows, columns=cols)
        df["year"] = df["year"].astype(int)
        df["quarter"] = df["quarter"].astype(int)
        _fill_ratios(df)
        return df


def _fill_ratios(df: pd.DataFrame) -> None:
    for metric in METRICS:
        if metric.kind == "ratio" and metric.ratio_of:
            num, den = metric.ratio_of
            df[metric.name] = np.where(df[den] > 0, df[num] / df[den].where(df[den] > 0), 0.0)


def annual(quarterly: pd.DataFrame) -> pd.DataFrame:
    """Year sums of flows, year-end stocks, means of means, ratios of the year's sums."""
    g = quarterly.groupby("year", sort=True)
    how = {
        m.name: {"flow": "sum", "stock": "last", "mean": "mean", "ratio": "sum"}[m.kind]
        for m in METRICS
    }
    df = g.agg(how).reset_index()
    _fill_ratios(df)
    return df


def describe_rows() -> list[tuple[str, str, str, str]]:
    """(column, unit, kind, definition) of every output column; no pandas needed."""
    rows = [("year", "year", "", "calendar year (quarter rows also have 'quarter')")]
    return rows + [(m.name, m.unit, m.kind, m.description) for m in METRICS]


def describe() -> pd.DataFrame:
    """The output columns with units and definitions (for docs and the CLI)."""
    import pandas as pd

    return pd.DataFrame(describe_rows(), columns=["column", "unit", "kind", "definition"])
