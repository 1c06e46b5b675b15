"""Outputs: a registry of named metrics with units, recorded every quarter, aggregated yearly.

Each metric is a numpy expression of the model after a quarter's step. ``kind`` says how a
year is formed from its quarters: ``flow`` (sum), ``stock`` (year-end value), ``mean``
(average of quarters) or ``ratio`` (recomputed from the year's numerator and denominator).
Extensive metrics (money, counts, persons) are divided by the run's ``scale`` so that every
run reports full-economy units. Money is HKD million.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from sim.accounting import FUNCTIONS, Place
from sim.params import FIRST_YEAR
from sim.projects import Stage, Status
from sim.units import QUARTERS_PER_YEAR

if TYPE_CHECKING:
    import pandas as pd

    from sim.model import PilotModel


@dataclass(frozen=True)
class Metric:
    name: str
    unit: str
    kind: str  # flow | stock | mean | ratio
    description: str
    fn: Callable[[PilotModel], float] | None = None
    extensive: bool = True
    ratio_of: tuple[str, str] | None = None


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


METRICS: tuple[Metric, ...] = (
    Metric(
        "hk_value_added_hkd_m",
        "HKD m",
        "flow",
        "value added from HK research booked in Hong Kong",
        lambda m: float(m.ledger.value[Place.HK].sum()),
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
    ),
    Metric(
        "hk_jobs",
        "persons",
        "stock",
        "HK jobs sustained by value from HK research (value / value added per worker)",
        _hk_jobs,
    ),
    Metric(
        "startups",
        "count",
        "stock",
        "startups alive in Hong Kong",
        lambda m: float(m.startups.n_alive),
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
    *(
        Metric(name, "projects", "flow", desc, _flow(name))
        for name, desc in (
            ("projects_started", "research projects started (labs) plus startups' own"),
            ("projects_shelved", "research results shelved"),
            ("projects_licensed", "research results licensed"),
            ("projects_spun_off", "research results spun off into startups"),
            ("projects_partnered", "research results co-developed with local manufacturers"),
            ("projects_north", "projects whose pilot stage moved to the PRD (counted once)"),
            ("projects_piloted_hk", "pilots started in Hong Kong (in-house or platform)"),
            ("projects_failed", "projects that failed at any stage"),
            ("projects_launched", "products entering mass production"),
        )
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
        "share of the startups that entered two years earlier still operating two years on",
        _cohort_survival(2),
        extensive=False,
    ),
    Metric(
        "startup_survival_4y",
        "share",
        "stock",
        "share of the startups that entered four years earlier still operating four years on",
        _cohort_survival(4),
        extensive=False,
    ),
    Metric(
        "projects_in_research", "projects", "stock", "projects in 0-1", _stage_count(Stage.RESEARCH)
    ),
    Metric("projects_in_pilot", "projects", "stock", "projects in 1-10", _stage_count(Stage.PILOT)),
    Metric(
        "projects_queued",
        "projects",
        "stock",
        "projects waiting for a platform slot",
        _stage_count(Stage.PILOT, Status.QUEUED),
    ),
    Metric(
        "projects_in_industrialisation",
        "projects",
        "stock",
        "projects in 10-100",
        _stage_count(Stage.INDUSTRIALISATION),
    ),
    Metric(
        "projects_in_production",
        "projects",
        "stock",
        "products in their market life",
        _stage_count(Stage.MARKET),
    ),
    Metric(
        "platform_capacity",
        "slots",
        "stock",
        "concurrent platform pilot slots",
        lambda m: float(m.platform.capacity if m.platform.is_open else 0),
    ),
    Metric(
        "platform_utilisation",
        "share",
        "mean",
        "slots in use / capacity (0 when closed)",
        lambda m: m.platform.utilisation(),
        extensive=False,
    ),
    Metric(
        "public_spend_hkd_m",
        "HKD m",
        "flow",
        "Hong Kong policy spend: platform budget, fee subsidies, brokerage and follow-up, "
        "programme grants, extra research",
        _flow("public_spend"),
    ),
    Metric(
        "private_spend_hkd_m",
        "HKD m",
        "flow",
        "owners' spend on pilots (platform fees included) and industrialisation, all payers",
        _flow("private_spend"),
    ),
    Metric(
        "hk_private_spend_hkd_m",
        "HKD m",
        "flow",
        "the part of private_spend paid by owners headquartered in Hong Kong",
        _flow("hk_private_spend"),
    ),
    Metric(
        "gba_public_spend_hkd_m",
        "HKD m",
        "flow",
        "Guangdong's subsidy to pilots of Hong Kong projects on PRD pilot bases",
        _flow("gba_public_spend"),
    ),
    Metric(
        "platform_clients",
        "projects",
        "flow",
        "pilots started on the Hong Kong platform",
        _flow("platform_clients"),
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
        "projects_piloted_hk_private",
        "projects",
        "flow",
        "pilots started in Hong Kong outside the platform (in-house lines)",
        _flow("projects_piloted_hk_private"),
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
METRIC_BY_NAME = {m.name: m for m in METRICS}


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
