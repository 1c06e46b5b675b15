"""Validated, frozen parameter specs. Every default names its unit and its source.

A source is either a row of ``../shared/data`` (copied under ``calibration/data``), a
paper, or ``assumption: <why>``. ``docs/ODD.md`` lists the same table, generated from
these fields by ``python docs/make_tables.py``; a test keeps the two in step.

Money is in HKD million (``_hkd_m``) in full-economy units, at 2015 prices unless noted;
time in quarters or years as the name says; rates are per year unless ``_per_quarter``.
"""

from __future__ import annotations

import math
import re
from typing import Any

import annotated_types
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from sim.reporting import markdown_table
from sim.units import DATA_YEARS as DATA_YEARS  # the calendar, re-exported
from sim.units import FIRST_YEAR as FIRST_YEAR

#: Sectors shared by labs, projects and manufacturers.
SECTORS: tuple[str, ...] = (
    "electronics",
    "it",
    "biotech",
    "food",
    "metal_machinery",
    "chemicals",
    "paper_printing",
    "textiles_clothing",
    "other",
)
#: "High-end" sectors of the ITF allocation (electronics/electrical/optical, IT, biotech).
HIGH_END_SECTORS: tuple[str, ...] = ("electronics", "it", "biotech")
#: Traditional sectors named by the CMA paper.
TRADITIONAL_SECTORS: tuple[str, ...] = (
    "food",
    "metal_machinery",
    "chemicals",
    "paper_printing",
    "textiles_clothing",
)


def param(default: Any, unit: str, source: str, **constraints: Any) -> Any:
    """A field with a default, a unit and a source, kept in the JSON schema for the docs."""
    return Field(default, json_schema_extra={"unit": unit, "source": source}, **constraints)


#: Largest magnitude of a number parameter without an upper bound of its own: for money,
#: 1,000,000 HKD m is HKD 1 trillion, about a third of Hong Kong's GDP in a year; for counts
#: and factors, far beyond any plausible scenario. Infinite and NaN values are refused.
MAX_MAGNITUDE = 1e6
#: Scenario names become folder names: a letter or digit, then letters, digits, ``_ . - [ ]``
#: (sweep points are ``name[p000]``), at most 100 characters, and never ``..``.
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-\[\]]{0,99}")
NAME_RULE = (
    "a scenario name is also a folder name: 1-100 characters, letters A-Z a-z, digits, "
    "'_', '.', '-', '[', ']', starting with a letter or digit, without '..' or '/'"
)


def _has_upper_bound(field: Any) -> bool:
    return any(isinstance(m, (annotated_types.Le, annotated_types.Lt)) for m in field.metadata)


def _check_magnitude(name: str, value: Any, bounded: bool) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"must be a finite number, got {value}")
    if bounded or abs(value) <= MAX_MAGNITUDE:
        return
    if value < 0:
        what = f"at least {-MAX_MAGNITUDE:,.0f}"
    elif "hkd_m" in name and "per_hkd_m" not in name:
        what = (
            f"at most {MAX_MAGNITUDE:,.0f} HKD m (HKD 1 trillion, about a third of Hong Kong's "
            "GDP in a year)"
        )
    else:
        what = f"at most {MAX_MAGNITUDE:,.0f}"
    raise ValueError(f"must be {what}; no plausible scenario reaches it (got {value:.6g})")


class Spec(BaseModel):
    """Base for all parameter groups: unknown keys are errors and values are frozen.

    Every number (also inside lists and mappings) must be finite, and a number without an
    upper bound of its own must be within ``MAX_MAGNITUDE``.
    """

    model_config = ConfigDict(
        extra="forbid", frozen=True, validate_default=True, allow_inf_nan=False
    )

    @field_validator("*", mode="after")
    @classmethod
    def _finite_and_sane(cls, value: Any, info: ValidationInfo) -> Any:
        name = info.field_name or ""
        field = cls.model_fields.get(name)
        bounded = field is not None and _has_upper_bound(field)
        items = value.values() if isinstance(value, dict) else value
        for v in items if isinstance(value, (tuple, list, dict)) else (value,):
            _check_magnitude(name, v, bounded)
        return value


class RunSpec(Spec):
    """Horizon and scale of one run."""

    end_year: int = param(
        2035,
        "year",
        "docs/ODD.md 2 (Time): default horizon runs to 2035Q4",
        ge=FIRST_YEAR,
        le=2060,
    )
    scale: float = param(
        1.0,
        "fraction of the full economy",
        "docs/ODD.md 2 (Scale): default 1:1 with Hong Kong; smaller for tests and students",
        gt=0.0,
        le=5.0,
    )
    warm_start_years: int = param(
        15,
        "years of pipeline burn-in before 2015Q1",
        "assumption: research, pilot and industrialisation take about 5 years and products "
        "live about 8 (market_life_mean_quarters), so 15 years fill the pipeline and the "
        "markets; 0 starts empty",
        ge=0,
        le=40,
    )


class ResearchSpec(Spec):
    """Research labs and the 0-1 stage."""

    higher_education_rd_hkd_m: tuple[float, ...] = param(
        (9551.0, 10271.0, 10837.0, 12338.0, 13432.0, 14099.0, 14800.0, 16356.0),
        "HKD m per year, 2015-2022",
        "hk_inputs_2015_2019.csv rows gerd_higher_education 2015-2019 (C&SD table 207); "
        "hk_inputs_after_2019.csv rows gerd_higher_education 2020-2022 (2022 published, "
        "2020-2021 by the rule in the csv)",
        min_length=8,
        max_length=8,
    )
    government_rd_hkd_m: tuple[float, ...] = param(
        (726.0, 914.0, 1031.0, 1148.0, 1284.0, 1303.0, 1322.0, 1412.0),
        "HKD m per year, 2015-2022",
        "hk_inputs_2015_2019.csv rows gerd_government 2015-2019 (C&SD table 207); "
        "hk_inputs_after_2019.csv rows gerd_government 2020-2022 (2022 published, "
        "2020-2021 by the rule in the csv)",
        min_length=8,
        max_length=8,
    )
    budget_growth_after_2022: float = param(
        0.05,
        "per year, from 2023",
        "assumption: no published value after 2022 (hk_inputs_after_2019.csv), so the last "
        "one grows at about half the 2015-2022 rate of gerd_higher_education (8.0%/yr), "
        "which includes one-off expansion",
        ge=-0.2,
        le=0.3,
    )
    budget_per_lab_hkd_m: float = param(
        3.0,
        "HKD m per year per research group (2015)",
        "assumption: a group of about 8 researchers at HK university cost levels",
        gt=0.0,
    )
    projects_per_hkd_m: float = param(
        0.047,
        "research projects (invention disclosures) per HKD m of research spending",
        "AUTM FY2016 (priors_literature.csv university_licences_per_disclosure: 25,825 "
        "disclosures) over US academic R&D of about USD 70 bn (assumption: NSF HERD order "
        "of magnitude) at 7.8 HKD/USD",
        gt=0.0,
    )
    high_end_share: float = param(
        0.70,
        "share of lab budget",
        "hk_context_facts.csv row itf_share_high_end_sectors (70%)",
        ge=0.0,
        le=1.0,
    )
    traditional_share: float = param(
        0.10,
        "share of lab budget",
        "hk_context_facts.csv row itf_share_traditional_sectors (under 10%)",
        ge=0.0,
        le=1.0,
    )
    applied_orientation_university: float = param(
        0.3,
        "0-1 index, mean",
        "assumption: CMA paper 'research is strong, application is weak'",
        ge=0.0,
        le=1.0,
    )
    applied_orientation_rd_centre: float = param(
        0.7,
        "0-1 index, mean",
        "assumption: government R&D centres are mission-oriented",
        ge=0.0,
        le=1.0,
    )
    duration_mean_quarters: float = param(
        8.0, "quarters", "assumption: a two-year research project", gt=0.0
    )
    success_probability: float = param(
        0.6,
        "probability at full funding",
        "assumption: share of disclosures with a usable result; with routes it gives "
        "about 0.3 licences per disclosure (priors row university_licences_per_disclosure)",
        gt=0.0,
        lt=1.0,
    )
    quality_sigma: float = param(
        0.6, "log-sd of project quality", "assumption: skewed project quality", ge=0.0, le=2.0
    )

    @model_validator(mode="before")
    @classmethod
    def _moved_keys(cls, data: Any) -> Any:
        if isinstance(data, dict) and "budget_multiplier" in data:
            raise ValueError(
                "research.budget_multiplier has moved to rd_funding.budget_multiplier; "
                "set rd_funding.enabled: true and rd_funding.start_year with it"
            )
        return data

    @model_validator(mode="after")
    def _budgets(self) -> ResearchSpec:
        # Spending cannot be negative (labs' Poisson project rates would be); and startup
        # entry is indexed to the 2015 research budget (StartupSpec.entry_research_elasticity),
        # which is undefined without a 2015 budget.
        for key in ("higher_education_rd_hkd_m", "government_rd_hkd_m"):
            values = getattr(self, key)
            if min(values) < 0:
                raise ValueError(
                    f"{key} must be >= 0 in every year (research spending), got {list(values)}"
                )
        if self.higher_education_rd_hkd_m[0] + self.government_rd_hkd_m[0] <= 0:
            raise ValueError(
                "higher_education_rd_hkd_m[0] + government_rd_hkd_m[0] (the 2015 research "
                "budget) must be > 0: startup entry and the labs are sized from it, so a world "
                "without research in 2015 is outside the model"
            )
        return self

    @model_validator(mode="after")
    def _shares(self) -> ResearchSpec:
        if self.high_end_share + self.traditional_share > 1.0 + 1e-12:
            raise ValueError(
                "high_end_share + traditional_share must be <= 1 "
                f"(got {self.high_end_share} + {self.traditional_share})"
            )
        return self


class PipelineSpec(Spec):
    """Stages 1-10 and 10-100, market life, and the route and location choices."""

    pilot_cost_hkd_m: float = param(
        8.0,
        "HKD m per project, in Hong Kong",
        "assumption within the 1:10:100 prior (priors row "
        "stage_cost_ratio_research_pilot_industrialisation)",
        gt=0.0,
    )
    industrialisation_cost_hkd_m: float = param(
        60.0,
        "HKD m per project, in Hong Kong",
        "assumption: 40-60% of commercialisation cost downstream (priors row "
        "downstream_share_of_commercialisation_cost) within the 1:10:100 prior",
        gt=0.0,
    )
    engineer_cost_share: float = param(
        0.5,
        "share of a Hong Kong pilot's or production line's cost that is engineers' pay",
        "assumption: pilot-scale testing and ramp-up are mostly engineering and technician time",
        ge=0.0,
        le=1.0,
    )
    pilot_duration_mean_quarters: float = param(
        6.0, "quarters", "assumption: 18 months of pilot-scale testing", gt=0.0
    )
    industrialisation_duration_mean_quarters: float = param(
        6.0, "quarters", "assumption: 18 months to mass production", gt=0.0
    )
    duration_sigma: float = param(
        0.35, "log-sd of stage durations", "assumption: lognormal durations", ge=0.0, le=2.0
    )
    pilot_success_probability: float = param(
        0.5,
        "probability at full funding and fit",
        "assumption: combined with the next row gives an idea funnel near Stevens and "
        "Burley (priors row idea_funnel)",
        gt=0.0,
        lt=1.0,
    )
    industrialisation_success_probability: float = param(
        0.5,
        "probability",
        "assumption: between 0.30 without and 0.80 with a proper pilot (priors rows "
        "pilot_stage_industrialisation_success_*)",
        gt=0.0,
        lt=1.0,
    )
    product_value_added_hkd_m: float = param(
        30.0,
        "HKD m per year of a mean-quality product in mass production",
        "assumption: a mid-sized product line, in a market as crowded as in 2015 (not "
        "among the calibrated parameters)",
        gt=0.0,
    )
    product_value_sigma: float = param(
        1.0, "log-sd of product value", "assumption: heavy-tailed returns", ge=0.0, le=3.0
    )
    market_life_mean_quarters: float = param(
        32.0, "quarters", "assumption: eight-year product life", gt=0.0
    )
    discount_rate: float = param(
        0.10, "per year", "assumption: private hurdle rate for new products", ge=0.0, le=1.0
    )
    prd_cost_factor: float = param(
        0.6,
        "x the cost of a Hong Kong in-house pilot",
        "assumption: lower wages and land in Shenzhen/PRD (CMA paper); a PRD pilot base is "
        "a shared line, so the factor holds whether or not in-house lines are divisible "
        "(pipeline.indivisible_lines)",
        gt=0.0,
    )
    abroad_cost_factor: float = param(
        1.3, "x Hong Kong cost", "assumption: overseas pilot lines cost more", gt=0.0
    )
    prd_duration_factor: float = param(
        0.75,
        "x Hong Kong duration",
        "assumption: dense PRD supply chains shorten pilot and ramp-up",
        gt=0.0,
    )
    abroad_duration_factor: float = param(
        1.1, "x Hong Kong duration", "assumption: distance to the lab", gt=0.0
    )
    north_fit_unsupported: float = param(
        0.8,
        "x success probability",
        "assumption: transplanted projects lack fit with market needs (CMA paper, HKU survey "
        "row prd_survey_firms)",
        gt=0.0,
        le=1.0,
    )
    acclimatisation_hazard_per_quarter: float = param(
        0.03,
        "per quarter",
        "assumption: 'not acclimatised' failures of projects moved north without follow-up "
        "support (CMA paper)",
        ge=0.0,
        le=1.0,
    )
    finance_constraints: bool = param(
        True,
        "switch: owners spend only what they can finance (startups their cash and a "
        "scale-up round they may fail to raise, plants a multiple of their value added)",
        "a market failure of scale-up finance (market_failure_evidence rows: about 10% of "
        "Hong Kong start-ups had VC or angel money, HKTDC 2021; hardware about 8-10% of VC "
        "deal value); false gives every owner unlimited finance, the attribution variant "
        "finance_unconstrained",
    )
    indivisible_lines: bool = param(
        True,
        "switch: an in-house pilot line is indivisible (its owner buys the whole line for one "
        "project and must finance it), while a shared line (the platform, a PRD base) "
        "spreads its fixed cost over its clients",
        "a market failure of indivisible pilot equipment (market_failure_evidence rows "
        "indivisibility: bioprocess pilot plant capex USD 15-25 m against opex of millions a "
        "year, Pastor 2016; Hong Kong smart production lines HKD 54-70 m, ITC 2021 and "
        "2023); false makes lines divisible (an in-house pilot costs what a shared line "
        "charges, with no minimum finance), the attribution variant no_indivisibility",
    )
    line_fixed_share: float = param(
        0.6,
        "share of an in-house pilot's cost that is its line (equipment, installation, "
        "commissioning), indivisible and sunk",
        "assumption: capex dominates a pilot's cost (market_failure_evidence row bioprocess "
        "pilot plant: capex USD 15-25 m against opex of a few million a year over an 18-24 "
        "month pilot gives 0.6-0.8, weak); the lower end, as Hong Kong pilots are mostly "
        "electronics and light engineering",
        ge=0.0,
        le=1.0,
    )
    line_pilots_per_life: float = param(
        4.0,
        "pilots one shared line serves over its life",
        "assumption: an equipment life of about 8 years at 18-month pilots and "
        "three-quarters utilisation (8 x 0.75 / 1.5 = 4)",
        ge=1.0,
    )
    owner_returns: bool = param(
        True,
        "switch: choices weigh the owner's own expected income, not the product's whole "
        "value added",
        "issue 22 point 1: owners weigh what they capture (Pipeline.private_capture: the "
        "operating surplus of the functions they perform) net of their costs, against an "
        "outside option (shelve) at every pilot and production choice, and labs value "
        "routes by the new owners' private values; assumption: owners maximise their own "
        "expected profit (the calibration is fitted with it on). False is model 4's rule "
        "(every choice weighs the product's whole value added, and no owner declines), kept "
        "for comparison",
    )
    value_sensitivity_per_hkd_m: float = param(
        0.08,
        "logit utility per HKD m of expected value",
        "assumption: choices respond to tens of HKD m",
        ge=0.0,
    )
    asc_prd: float = param(
        -0.5,
        "logit utility",
        "assumption: switching cost and unfamiliarity of moving north",
    )
    asc_abroad: float = param(-2.5, "logit utility", "assumption: rarely chosen")
    asc_license: float = param(
        0.4,
        "logit utility vs shelving",
        "assumption: set so licences per disclosure near 0.3 (priors row "
        "university_licences_per_disclosure)",
    )
    asc_spin_off: float = param(
        -2.4,
        "logit utility vs shelving",
        "assumption: set so startups per disclosure near 0.04 (priors row "
        "university_startups_per_disclosure)",
    )
    asc_partner: float = param(
        -1.2, "logit utility vs shelving", "assumption: collaborative R&D with a manufacturer"
    )
    asc_north: float = param(
        -1.0, "logit utility vs shelving", "assumption: 'Hong Kong research, used in the north'"
    )
    partner_search_scale: float = param(
        400.0,
        "same-sector local manufacturers for a 63% chance of finding a partner",
        "assumption: search friction; the platform's matching divides it",
        gt=0.0,
    )
    royalty_share: float = param(
        0.25,
        "share of the IP function's value paid to the licensor",
        "assumption: checked against hk_university_ip_income (priors row, HKD 100 m)",
        ge=0.0,
        le=1.0,
    )
    sale_price_share: float = param(
        0.25,
        "share of the buyer's expected private value paid as the price of a project sold outright",
        "the 25% rule of thumb of licensing practice (Goldscheider, Jarosz and Mulhern 2002, "
        "les Nouvelles 37(3); market_failure_evidence: deal prices as a share of the "
        "licensee's expected profit, with a wide range); assumption: the same split for an "
        "outright sale, evidence range 0.1-0.5",
        ge=0.0,
        le=1.0,
    )
    licensee_abroad_share: float = param(
        0.4,
        "share of outside licensees that are overseas (the rest Mainland/PRD firms)",
        "assumption: AUTM row notes 73% of startups stay in the home state; licences "
        "travel further",
        ge=0.0,
        le=1.0,
    )
    applied_route_weight: float = param(
        2.0,
        "logit utility per unit of applied orientation above 0.5",
        "assumption: applied labs shelve less (CMA paper: research strong, application weak)",
        ge=0.0,
    )
    hk_owned_child_probability: float = param(
        0.3,
        "probability",
        "assumption: a Hong Kong owner producing in the PRD uses a Hong Kong-owned factory "
        "(HKU survey row prd_survey_firms: links run through Hong Kong parents)",
        ge=0.0,
        le=1.0,
    )
    startup_relocation_probability: float = param(
        0.3,
        "probability",
        "assumption: a startup piloting in the PRD moves its headquarters north",
        ge=0.0,
        le=1.0,
    )


class ValueSpec(Spec):
    """Split of a product's value added by function (a smile curve) and jobs per value."""

    share_ip_rnd: float = param(
        0.15, "share of value added", "assumption: smile-curve split", ge=0.0, le=1.0
    )
    share_pilot_mother: float = param(
        0.10, "share of value added", "assumption: smile-curve split", ge=0.0, le=1.0
    )
    share_mass_production: float = param(
        0.40, "share of value added", "assumption: smile-curve split", ge=0.0, le=1.0
    )
    share_hq_brand: float = param(
        0.20, "share of value added", "assumption: smile-curve split", ge=0.0, le=1.0
    )
    share_trading_services: float = param(
        0.15, "share of value added", "assumption: smile-curve split", ge=0.0, le=1.0
    )
    knowledge_va_per_worker_hkd_m: float = param(
        0.526,
        "HKD m per job (IP and R&D)",
        "hk_targets_2015_2019.csv row it_value_added_per_worker 2019"
        "; at least 0.01 HKD m (assumption: HKD 10,000 a year, far below any "
        "Hong Kong wage; jobs are value added / this, so a value near 0 overflows job counts)",
        ge=0.01,
    )
    services_va_per_worker_hkd_m: float = param(
        0.886,
        "HKD m per job (headquarters, brand, trading)",
        "hk_context_facts.csv row four_key_industries_va_per_worker 2019"
        "; at least 0.01 HKD m (assumption: HKD 10,000 a year, far below any "
        "Hong Kong wage; jobs are value added / this, so a value near 0 overflows job counts)",
        ge=0.01,
    )
    operating_surplus_share: float = param(
        0.45,
        "share of value added that is gross operating surplus (owners' income; the rest "
        "pays labour and taxes on production)",
        "assumption: Hong Kong's GDP by income component (C&SD) puts gross operating "
        "surplus at a little under half of GDP in 2015-2019 and compensation of employees "
        "at about half (approximate reading, to be checked against the table); used for "
        "owners' income from outside Hong Kong and buyers' value of a project",
        ge=0.0,
        le=1.0,
    )
    shadow_wage_ratio: float = param(
        1.0,
        "shadow wage / market wage of the labour employed in Hong Kong on HK research",
        "HM Treasury Green Book (2022): appraisals assume full employment, so labour's "
        "alternative use is worth its wage (ratio 1); used only by the sensitivity outcome "
        "npv_net_benefit_full_employment_hkd_m (the headline counts value added gross of "
        "labour's alternative use, ratio 0)",
        ge=0.0,
        le=1.0,
    )
    social_discount_rate: float = param(
        0.035,
        "per year, real",
        "HM Treasury Green Book (2022) social time preference rate, 3.5% real; used for "
        "net present values of policy effects (Hong Kong publishes no such rate)",
        ge=0.0,
        le=0.3,
    )

    @model_validator(mode="after")
    def _sum_to_one(self) -> ValueSpec:
        total = (
            self.share_ip_rnd
            + self.share_pilot_mother
            + self.share_mass_production
            + self.share_hq_brand
            + self.share_trading_services
        )
        if abs(total - 1.0) > 1e-9:
            raise ValueError(f"value shares must sum to 1, got {total:.6f}")
        return self


class StartupSpec(Spec):
    """Startups: entry, cash, employees, exit."""

    initial_count: int = param(
        1558, "startups in 2015", "hk_targets_2015_2019.csv row startups 2015", ge=0
    )
    entry_per_year_2015: float = param(
        650.0,
        "new startups per year in 2015",
        "assumption: hand-set with entry_funding_elasticity so startups rise near "
        "1,558 -> 3,184 (targets rows startups 2015, 2019); refit by calibration",
        ge=0.0,
    )
    entry_research_elasticity: float = param(
        1.0,
        "elasticity of exogenous startup entry to Hong Kong's research spending",
        "assumption: entry moves one for one with the research base that feeds it (labs' "
        "budgets, hk_inputs rows gerd_higher_education and gerd_government; a rd_funding "
        "lever raises it too); evidence-ranged in calibration/priors.yaml, not fitted "
        "(research and venture money grew together in 2015-2019, so the data cannot "
        "separate the two drivers)",
        ge=0.0,
        le=3.0,
    )
    entry_funding_elasticity: float = param(
        0.2,
        "elasticity of exogenous startup entry to venture investment in Hong Kong",
        "assumption: hand-set so that startups rise near 1,558 -> 3,184 (targets rows "
        "startups 2015, 2019) while venture investment rose 1,240 -> 9,900 HKD m "
        "(hk_pipeline_evidence rows hk_venture_investment 2014, 2019); refit by calibration",
        ge=0.0,
        le=2.0,
    )
    venture_investment_hkd_m: tuple[float, float] = param(
        (1240.0, 9900.0),
        "HKD m per year in 2014 and 2019",
        "hk_pipeline_evidence.csv rows hk_venture_investment 2014 and 2019 (Secretary for "
        "Innovation and Technology, Xinhua 2020-11-09); years between are interpolated "
        "log-linearly (assumption: no yearly series in the shared data)",
        min_length=2,
        max_length=2,
    )
    venture_growth_after_2019: float = param(
        0.0,
        "per year, from 2020",
        "assumption: no data after 2019, so venture investment is held at its 2019 level "
        "rather than extrapolated; a scenario may set a path",
        ge=-0.5,
        le=0.5,
    )
    exit_hazard: float = param(
        0.12,
        "per year, with cash in hand",
        "assumption: with exits of startups out of cash the total is near 1 - 0.66^(1/2) = "
        "0.187/yr (priors rows startup_survival_2y, startup_survival_4y; US BLS)",
        ge=0.0,
        le=1.0,
    )
    broke_exit_hazard_per_quarter: float = param(
        0.1,
        "per quarter, extra, while out of cash",
        "assumption: a startup without runway closes within a year",
        ge=0.0,
        le=1.0,
    )
    hardware_share: float = param(
        0.25,
        "share of new startups",
        "assumption: startups with a physical product that needs a pilot stage",
        ge=0.0,
        le=1.0,
    )
    initial_employees: float = param(
        2.0,
        "persons",
        "assumption: near startup_employees/startups 2015 = 2.4 (targets rows)",
        gt=0.0,
    )
    hires_per_hkd_m_raised: float = param(
        0.5,
        "persons hired per HKD m of a funding round",
        "assumption: a round is spent mostly on staff at cost_per_employee_hkd_m over about "
        "two to four years (0.5 = 1 / (0.5 x 4) at full staff share); per-startup staff "
        "rose from 2.4 (2015) to 3.9 (2019) while venture investment grew eight-fold "
        "(targets rows startups, startup_employees); refit by calibration",
        ge=0.0,
    )
    max_employees: float = param(
        50.0,
        "persons",
        "assumption: a startup that grows larger is still counted up to this size",
        gt=0.0,
    )
    seed_cash_hkd_m: float = param(2.0, "HKD m at entry (mean)", "assumption: seed round", ge=0.0)
    cost_per_employee_hkd_m: float = param(
        0.5, "HKD m per person per year", "assumption: HK salaries and rent", gt=0.0
    )
    venture_share_raised: float = param(
        0.8,
        "share of Hong Kong's venture investment raised by the model's startups",
        "assumption: rounds are drawn from venture investment (hk_pipeline_evidence rows "
        "hk_venture_investment), most of which goes to young firms; the rest to firms the "
        "InvestHK count does not cover; refit by calibration",
        ge=0.0,
        le=1.0,
    )
    funding_round_hkd_m: float = param(
        4.0, "HKD m per round (mean)", "assumption: seed to series A", ge=0.0
    )
    scaleup_finance_probability: float = param(
        0.35,
        "probability that a startup finances industrialisation beyond its cash",
        "assumption: about 2/3 of TSSSU start-ups later raised some financing "
        "(hk_pipeline_evidence row tsssu_startups_cumulative 2022); a scale-up round of "
        "tens of HKD m is rarer; bounded below by the about 10% of Hong Kong start-ups "
        "with VC or angel money (market_failure_evidence row, HKTDC 2021), which is "
        "unconditional where this is conditional on a successful pilot",
        ge=0.0,
        le=1.0,
    )
    va_per_employee_hkd_m: float = param(
        0.40,
        "HKD m value added per person per year",
        "assumption: below I&T average of 0.526 (targets row it_value_added_per_worker)",
        ge=0.0,
    )

    @model_validator(mode="after")
    def _positive_venture(self) -> StartupSpec:
        if min(self.venture_investment_hkd_m) <= 0:
            raise ValueError(
                f"venture_investment_hkd_m must be > 0, got {self.venture_investment_hkd_m}"
            )
        return self


class ManufacturingSpec(Spec):
    """Local manufacturers in Hong Kong."""

    initial_count: int = param(
        8444,
        "establishments in 2015",
        "hk_targets_2015_2019.csv row manufacturing_establishments 2015",
        ge=0,
    )
    mean_employees: float = param(
        12.1,
        "persons per establishment",
        "priors_literature.csv row local_manufacturer_size_2019 (88,000 / 7,251)",
        gt=0.0,
    )
    employees_sigma: float = param(
        0.9, "log-sd of establishment size", "assumption: many small shops", ge=0.0, le=3.0
    )
    va_per_worker_hkd_m: float = param(
        0.283,
        "HKD m per person per year (2015)",
        "derived: 28,880 HKD m (targets row manufacturing_value_added_constant_prices 2015) "
        "/ (8,444 x 12.1 persons)"
        "; at least 0.01 HKD m (assumption: HKD 10,000 a year, far below any "
        "Hong Kong wage; jobs are value added / this, so a value near 0 overflows job counts)",
        ge=0.01,
    )
    productivity_growth: float = param(
        0.03,
        "per year",
        "assumption: hand-set so value added stays near flat while establishments fall "
        "(targets rows manufacturing_value_added_constant_prices)",
        ge=-0.2,
        le=0.3,
    )
    exit_hazard: float = param(
        0.042,
        "per year at average productivity",
        "assumption: hand-set with entry_rate so establishments fall 8,444 -> 7,251 "
        "(targets rows 2015, 2019)",
        ge=0.0,
        le=1.0,
    )
    entry_rate: float = param(
        0.018,
        "new establishments per year per establishment",
        "assumption: see exit_hazard",
        ge=0.0,
        le=1.0,
    )
    exit_productivity_elasticity: float = param(
        1.0,
        "elasticity of exit hazard to relative productivity",
        "assumption: less productive plants exit first",
        ge=0.0,
    )
    productivity_sigma: float = param(
        0.3, "log-sd of productivity", "assumption: firm heterogeneity", ge=0.0, le=2.0
    )
    sector_shares: dict[str, float] = param(
        {
            "electronics": 0.10,
            "it": 0.0,
            "biotech": 0.02,
            "food": 0.18,
            "metal_machinery": 0.18,
            "chemicals": 0.05,
            "paper_printing": 0.22,
            "textiles_clothing": 0.13,
            "other": 0.12,
        },
        "share of establishments",
        "assumption: ordering of C&SD industry sections; no count by sector in shared data",
    )
    finance_multiple: float = param(
        3.0,
        "x a plant's annual value added it can spend on a project (own funds and credit)",
        "assumption: bank credit to small manufacturers of a few years' value added",
        ge=0.0,
    )
    adoption_rate: float = param(
        0.004,
        "per year",
        "assumption: 'rarely' uses Hong Kong technology (CMA paper)",
        ge=0.0,
        le=1.0,
    )
    adoption_productivity_gain: float = param(
        0.10,
        "x productivity, one-off",
        "assumption: order of Comin et al. (2019) Fraunhofer client effect (priors row "
        "fraunhofer_client_effect)",
        ge=0.0,
        le=2.0,
    )
    adoption_exit_factor: float = param(
        0.7,
        "x exit hazard after adoption",
        "assumption: upgraded plants survive longer",
        ge=0.0,
        le=1.0,
    )

    @model_validator(mode="after")
    def _sectors(self) -> ManufacturingSpec:
        unknown = set(self.sector_shares) - set(SECTORS)
        if unknown:
            raise ValueError(f"unknown sectors {sorted(unknown)}; allowed: {list(SECTORS)}")
        total = sum(self.sector_shares.values())
        if abs(total - 1.0) > 1e-6 or min(self.sector_shares.values()) < 0:
            raise ValueError(f"sector_shares must be >= 0 and sum to 1, got {total:.4f}")
        return self


class PRDSpec(Spec):
    """Hong Kong-owned factories in Guangdong."""

    count: int = param(
        22000,
        "factories",
        "hk_context_facts.csv row hk_owned_manufacturers_on_mainland (about 22,000 in "
        "Guangdong, 2016)",
        ge=0,
    )
    mean_employees: float = param(
        173.0,
        "persons per factory",
        "derived: 3.8 million persons ('millions of workers, close to Hong Kong's total "
        "employment', hk_pipeline_evidence row hk_owned_prd_employment_2021) / 22,000 "
        "factories; 5,000,000 / 40,000 = 125 in 2002 (row hk_firms_prd_employment) is a "
        "lower check; the CMA member mean of 599 (hk_context_facts row "
        "cma_member_prd_factory_size) is for larger member firms",
        gt=0.0,
    )
    employees_sigma: float = param(
        0.5,
        "log-sd of factory size",
        "assumption: sizes spread around the CMA survey mean (no distribution at hand)",
        ge=0.0,
        le=3.0,
    )
    hq_in_hk_share: float = param(
        0.6,
        "share of factories",
        "assumption: most keep a Hong Kong head office (HKU survey row prd_survey_firms: "
        "technology reaches them through a Hong Kong parent); no count measures it; the "
        "13,889 trading firms with offshore production (hk_context_facts) are of that order",
        ge=0.0,
        le=1.0,
    )
    va_per_worker_hkd_m: float = param(
        0.12, "HKD m per person per year", "assumption: PRD labour productivity", gt=0.0
    )
    adoption_rate: float = param(
        0.001,
        "per year, factories without a Hong Kong parent link",
        "assumption: Mainland-based firms rarely use HK technology (HKU survey row "
        "prd_survey_firms)",
        ge=0.0,
        le=1.0,
    )
    parent_link_multiplier: float = param(
        4.0,
        "x adoption rate with a Hong Kong headquarters",
        "assumption: use runs mostly through a Hong Kong parent (HKU survey row)",
        ge=0.0,
    )
    adoption_productivity_gain: float = param(
        0.03,
        "x productivity, one-off",
        "assumption: smaller than for local plants (mismatch with market needs)",
        ge=0.0,
        le=2.0,
    )


#: Source of the platform's engineering-service defaults (virtual evaluations, issue 23).
#: The platform parameters fitted to the published client studies (``sim.evaluation.fit``),
#: the second step of the two-step calibration: the economy is fitted to 2015-2019 first
#: (no platform then), the service to the client studies at that economy.
SERVICE_FIT_PARAMETERS = (
    "platform.success_uplift",
    "platform.industrialisation_success_probability",
    "platform.duration_factor",
)
SERVICE_FIT = (
    "fitted to the published client studies (calibration/data/client_studies.csv) by "
    "sim.evaluation.fit at model 6's economy; prior: the evidence range in "
    "calibration/priors.yaml. Refit at model 7's economy (results/evaluation/service_fit.md): "
    "the emulator's optimum (0.80, 0.50, 0.567; two of three at the prior's bounds) scored "
    "38.7 against 41.8 for these values on the same 16 seeds, within what the fit resolves "
    "(leave-one-out R^2 at most 0.27), and these meet more studies (2 against 1), so held"
)


class PlatformSpec(Spec):
    """The Hong Kong pilot-scale platform (港版中試). Off in the baseline."""

    enabled: bool = param(False, "switch", "docs/ODD.md 7.7: off in the baseline")
    start_year: int = param(
        2025, "year", "assumption: earliest plausible opening", ge=FIRST_YEAR, le=2060
    )
    end_year: int | None = param(
        None,
        "year",
        "assumption: none, the platform runs to the horizon; a sunset scenario sets its last "
        "year of operation (scenarios/hk_pilot_platform_sunset.yaml)",
        ge=FIRST_YEAR,
        le=2100,
    )
    public_budget_hkd_m: float = param(
        300.0,
        "HKD m per year of public base funding",
        "assumption: under a tenth of the HKD 4 bn re-industrialisation funding "
        "(hk_context_facts row reindustrialisation_funding)",
        ge=0.0,
    )
    slot_cost_hkd_m: float = param(
        8.0,
        "HKD m per pilot slot per year, full cost",
        "assumption: a shared line, its engineers and space, and the engineering service's "
        "testing, certification and supply-chain staff; the shared line alone costs 8 x "
        "(0.4 + 0.6 / 4) / 1.5 = 2.9 a slot-year (pipeline.line_fixed_share, "
        "line_pilots_per_life), the rest is the service",
        gt=0.0,
    )
    cost_recovery_share: float = param(
        0.7,
        "share of full cost paid by client fees",
        "priors row applied_institute_funding_mix (Fraunhofer 30% base / 70% contracts)",
        ge=0.0,
        lt=1.0,
    )
    fee_subsidy_share: float = param(
        0.5,
        "share of the client fee paid by government",
        "assumption: voucher-style co-funding",
        ge=0.0,
        le=1.0,
    )
    success_uplift: float = param(
        0.53,
        "relative increase of pilot success probability",
        "engineering, testing and certification support; " + SERVICE_FIT + " (0.527, rounded)",
        ge=0.0,
        le=5.0,
    )
    industrialisation_success_probability: float = param(
        0.51,
        "probability after a platform pilot",
        SERVICE_FIT + " (0.507, rounded); the weak 0.8 claim (priors row "
        "pilot_stage_industrialisation_success_with_pilot) was the previous default",
        gt=0.0,
        lt=1.0,
    )
    duration_factor: float = param(
        0.45,
        "x pilot duration",
        "supply-chain know-how; " + SERVICE_FIT + " (0.450, rounded)",
        gt=0.0,
        le=2.0,
    )
    sectors: tuple[str, ...] = param(
        SECTORS, "sectors served", "assumption: all sectors unless a scenario narrows them"
    )
    engineering: bool = param(
        True,
        "switch",
        "docs/ODD.md 7.7: engineering, testing and certification support for the platform's "
        "clients (success_uplift, duration_factor, industrialisation_success_probability)",
    )
    matching: bool = param(
        True, "switch", "docs/ODD.md 7.7: matching service to local and PRD manufacturers"
    )
    matching_search_factor: float = param(
        3.0,
        "x search intensity of a brokered search for a partner",
        "assumption: brokerage divides search friction",
        ge=1.0,
    )
    matching_capacity_per_year: float = param(
        300.0,
        "brokered searches a year",
        "assumption: a brokerage team of about ten handling a search a week each",
        ge=0.0,
    )
    matching_cost_hkd_m: float = param(
        0.3,
        "HKD m public cost per brokered search",
        "assumption: a few engineer-months of brokerage",
        ge=0.0,
    )
    matching_hk_owned_child_probability: float = param(
        0.7,
        "probability",
        "assumption: matched projects reach Hong Kong-owned PRD factories",
        ge=0.0,
        le=1.0,
    )
    follow_up_support: bool = param(
        True,
        "switch",
        "CMA paper: transplanted projects failed for lack of follow-up support",
    )
    follow_up_capacity_per_year: float = param(
        100.0,
        "projects taken north with follow-up support a year",
        "assumption: a team of engineers stationed in the PRD",
        ge=0.0,
    )
    follow_up_cost_hkd_m: float = param(
        1.0,
        "HKD m public cost per supported project",
        "assumption: about a year of an engineer's time on site",
        ge=0.0,
    )
    engineers_per_slot: float = param(
        8.0,
        "Hong Kong engineers per pilot slot",
        "assumption: a pilot line with testing and certification staff, more than an "
        "in-house pilot (scarcity.engineers_per_pilot)",
        ge=0.0,
    )
    private_space_share: float = param(
        0.5,
        "share of the platform's lines that take floor space from private pilot lines",
        "assumption: half in new science-park space, half in the existing industrial stock",
        ge=0.0,
        le=1.0,
    )
    patience_quarters: int = param(
        4,
        "quarters a project waits in the queue",
        "assumption: a year's wait is as long as firms hold a pilot plan",
        ge=0,
        le=40,
    )

    @model_validator(mode="after")
    def _sunset(self) -> PlatformSpec:
        if self.end_year is not None and self.end_year < self.start_year:
            raise ValueError(
                f"platform.end_year {self.end_year} is before platform.start_year "
                f"{self.start_year}: the platform must operate at least its first year"
            )
        return self

    @model_validator(mode="after")
    def _sectors(self) -> PlatformSpec:
        unknown = set(self.sectors) - set(SECTORS)
        if unknown:
            raise ValueError(f"unknown sectors {sorted(unknown)}; allowed: {list(SECTORS)}")
        return self


class ScarcitySpec(Spec):
    """What is scarce for pilots in Hong Kong: engineers and floor space for pilot lines."""

    engineers_2015: float = param(
        2400.0,
        "engineers available for pilot work at the going wage, 2015",
        "assumption: no Hong Kong count of pilot-scale engineers at hand; set in model 3 so "
        "that in-house pilots used about three quarters of them; held as a measure of Hong "
        "Kong's engineers since in-house pilots fell (model 5, owners on their own returns "
        "with indivisible lines: 216 engineers in 2015Q1, seed 0, scale 1), so the pool binds "
        "only when a platform or production adds demand",
        gt=0.0,
    )
    engineers_growth: float = param(
        0.02, "per year", "assumption: graduates and immigration of engineers", ge=-0.2, le=0.3
    )
    engineers_per_pilot: float = param(
        6.0, "engineers per in-house pilot", "assumption: a small pilot team", ge=0.0
    )
    engineer_supply_elasticity: float = param(
        1.0,
        "elasticity of engineers' supply to their wage beyond the pool",
        "assumption: within the 0.5-2 range usual for specialised labour in the short run; "
        "at least 0.1 (assumption: below it the supply curve is near vertical, twice the "
        "pool's demand would raise the wage over 1,000-fold, and the wage index overflows)",
        ge=0.1,
    )
    hk_pilot_lines_2015: float = param(
        450.0,
        "pilot lines (concurrent private pilots) Hong Kong's floor space holds, 2015",
        "assumption: set in model 3 a little above the in-house pilots of the warm-started "
        "baseline; held as a measure of Hong Kong's floor space since in-house pilots fell "
        "(model 5: 36 in 2015Q1, seed 0, scale 1; 122 with divisible lines)",
        ge=0.0,
    )
    hk_pilot_lines_growth: float = param(
        0.02, "per year", "assumption: new industrial estates and science parks", ge=-0.2, le=0.3
    )


class GBASpec(Spec):
    """Pilot capacity in Guangdong open to Hong Kong projects, its subsidy, its response."""

    pilot_platforms_2015: float = param(
        10.0,
        "provincial pilot-scale platforms in Guangdong, 2015",
        "assumption: before the 2024 notice there were few",
        ge=0.0,
    )
    pilot_platforms_2025: float = param(
        40.0,
        "provincial pilot-scale platforms in Guangdong, 2025",
        "hk_pipeline_evidence row guangdong_pilot_platform_target (30-50 by 2025, midpoint)",
        ge=0.0,
    )
    pilot_platforms_growth_after_2025: float = param(
        0.03,
        "per year",
        "assumption: full coverage of key sectors by 2027 (same row), slow growth after",
        ge=-0.2,
        le=0.3,
    )
    lines_per_platform: float = param(
        8.0,
        "concurrent pilots a platform takes from Hong Kong owners",
        "assumption: a share of each platform's lines open to Hong Kong projects",
        ge=0.0,
    )
    pilot_subsidy_share: float = param(
        0.2,
        "share of a PRD pilot's cost paid by Guangdong, reached in 2027",
        "assumption: provincial support to pilot platforms' users after the 2024 notice "
        "(row guangdong_pilot_platform_target); rises linearly from 0 in 2024",
        ge=0.0,
        le=1.0,
    )
    responds: bool = param(
        False,
        "switch",
        "assumption: off by default; on, Guangdong answers a Hong Kong platform "
        "(scenarios/gba_responds.yaml)",
    )
    response_lag_years: int = param(
        1, "years", "assumption: a provincial budget cycle", ge=0, le=20
    )
    response_subsidy_share: float = param(
        0.35,
        "share of a PRD pilot's cost paid by Guangdong once it responds",
        "assumption: matches the Hong Kong platform's subsidy to its clients (fee subsidy "
        "on 70% cost recovery)",
        ge=0.0,
        le=1.0,
    )
    response_capacity_factor: float = param(
        1.5,
        "x PRD pilot lines open to Hong Kong projects once it responds",
        "assumption: Guangdong opens more of its platforms' lines to compete for Hong "
        "Kong projects",
        ge=1.0,
    )


class MarketSpec(Spec):
    """Markets for products from Hong Kong research: value falls as products crowd a sector."""

    competition_elasticity: float = param(
        0.5,
        "elasticity of a product's value added to the number of products in its sector",
        "assumption: midway between products that create their own demand (0) and a fixed "
        "sector market that entrants only share out (1, Dixit-Stiglitz with fixed "
        "expenditure); no Hong Kong estimate at hand",
        ge=0.0,
        le=1.0,
    )
    reference_products: float = param(
        55.0,
        "products in market, all sectors, at which a product earns its full value (2015)",
        "derived: products in market in 2015Q1 of the warm-started baseline (pilotsim run "
        "baseline, seed 0, scale 1; 50, 61 and 43 with seeds 1-3), re-derived for model 5 "
        "(350 before owners weighed their own returns)",
        gt=0.0,
    )
    demand_growth: float = param(
        0.03,
        "per year",
        "assumption: real growth of demand for new products, near world GDP growth",
        ge=-0.2,
        le=0.3,
    )


class SpilloverSpec(Spec):
    """Knowledge spillovers: pilots and products teach firms that do not own them."""

    enabled: bool = param(
        True,
        "switch: firms adopt Hong Kong technology faster where more pilots and products "
        "from Hong Kong research are under way near them, in their sector",
        "a market failure: the social return to R&D exceeds the private one about 2-4x "
        "(market_failure_evidence rows spillovers: Bloom, Schankerman and Van Reenen 2013; "
        "Lucking, Bloom and Van Reenen 2019), and spillovers are local (Belenzon and "
        "Schankerman 2013; Keller 2002); false holds adoption at its exogenous rates, the "
        "attribution variant no_spillovers",
    )
    local_share: float = param(
        0.5,
        "share of firms' 2015 adoption of Hong Kong technology that comes from exposure to "
        "nearby pilots and products (the rest is exogenous)",
        "assumption: half; the evidence gives the size of spillovers relative to private "
        "returns (social_private_return_ratio is checked against 2-4x, not fitted), not "
        "their channel",
        ge=0.0,
        le=1.0,
    )
    cross_border_weight: float = param(
        0.5,
        "weight of a pilot or product across the Hong Kong-Shenzhen boundary, x one on the "
        "same side",
        "assumption: a border effect like the state-border effect on university spillovers "
        "(Belenzon and Schankerman 2013, market_failure_evidence row decay of university "
        "spillovers); distance alone would give about 0.95 (50-100 km against a half-life "
        "of about 1,200 km, Keller 2002)",
        ge=0.0,
        le=1.0,
    )


class LeverSpec(Spec):
    """A policy lever other than the platform: off in the baseline, on from a start year."""

    enabled: bool = param(False, "switch", "docs/ODD.md 7.16: scenario lever, off in the baseline")
    start_year: int = param(
        2025,
        "year",
        "assumption: same opening year as the platform, to compare levers",
        ge=FIRST_YEAR,
        le=2060,
    )

    def active(self, year: int) -> bool:
        """Whether the lever acts in ``year``."""
        return self.enabled and year >= self.start_year


class MotherFactorySpec(LeverSpec):
    """Antenna - mother factory - child factory (the Tokyo layout)."""

    demand_test_quarters: int = param(
        4,
        "quarters in the Hong Kong mother factory",
        "assumption: a year of small-batch sales in Hong Kong",
        ge=1,
        le=40,
    )
    mother_share_of_production: float = param(
        0.15,
        "share of mass-production value kept in the Hong Kong mother factory",
        "assumption: customised and process-engineering lines",
        ge=0.0,
        le=1.0,
    )
    success_uplift: float = param(
        0.2,
        "relative increase of industrialisation success",
        "assumption: demand proven in Hong Kong's high-end market (the antenna) before "
        "scaling in the child factory",
        ge=0.0,
        le=5.0,
    )
    line_grant_hkd_m: float = param(
        5.0,
        "HKD m public grant per mother-factory line",
        "assumption: like the Re-industrialisation Funding Scheme matching grant",
        ge=0.0,
    )
    demand_threshold: float = param(
        0.3,
        "x mean product value: test-market sales below which a product is not scaled up",
        "assumption: the antenna's signal (docs/ODD.md 7.16: a product is scaled up to a PRD "
        "child factory only if its Hong Kong test-market sales pass a threshold); a product "
        "selling under about a third of the mean in Hong Kong's test market does not justify "
        "a child-factory line (about a quarter of products at pipeline.product_value_sigma 1)",
        ge=0.0,
        le=10.0,
    )


class TraditionalUpgradeSpec(LeverSpec):
    """Upgrading traditional local manufacturing with Hong Kong technology (產業科技化)."""

    adoption_rate: float = param(
        0.04,
        "per year, extra, traditional-sector plants, at the 2015 supply of traditional-sector "
        "Hong Kong research per traditional plant",
        "assumption: a technology-upgrade programme; scaled each quarter by the research "
        "supply index (research_elasticity)",
        ge=0.0,
        le=1.0,
    )
    research_elasticity: float = param(
        1.0,
        "elasticity of the programme's adoption rate to the supply index (traditional-sector "
        "research projects expected per traditional plant, x 2015Q1)",
        "assumption: a plant can only adopt technology that Hong Kong research offers its "
        "sector (CMA paper: under 10% of ITF money reaches traditional sectors); "
        "proportional, 0 gives a flat rate",
        ge=0.0,
        le=5.0,
    )
    grant_per_adoption_hkd_m: float = param(
        0.6,
        "HKD m public grant per adoption",
        "assumption: order of a Technology Voucher Programme grant",
        ge=0.0,
    )


class PRDUpgradeSpec(LeverSpec):
    """Supporting Hong Kong-owned PRD factories to adopt HK research and keep HQ in HK."""

    adoption_multiplier: float = param(
        5.0, "x adoption rate", "assumption: programme brokerage and co-funding", ge=1.0
    )
    hq_return_rate: float = param(
        0.02,
        "per year, share of factories without HK HQ that move HQ functions to HK",
        "assumption: a slow return; no data on HQ relocation at hand",
        ge=0.0,
        le=1.0,
    )
    grant_per_adoption_hkd_m: float = param(
        1.0,
        "HKD m public grant per adoption",
        "assumption: brokerage plus co-funding per adopting factory",
        ge=0.0,
    )


class ITFRebalanceSpec(LeverSpec):
    """Re-balancing the Innovation and Technology Fund's money toward traditional sectors.

    Only the ITF's part of the research budget is re-weighted; the rest keeps the baseline's
    sector split (``research.high_end_share``, ``research.traditional_share``).
    """

    itf_hkd_m_per_year: float = param(
        1500.0,
        "HKD m per year of ITF support, part of the modelled research budget",
        "hk_pipeline_evidence.csv row itf_support_per_year 2017/18 (Budget Speech 2018; "
        "700 in 2013/14); assumption: held at that level, no later row at hand, and its "
        "grants to universities and R&D centres are inside GERD by higher education and "
        "government",
        ge=0.0,
    )
    high_end_share: float = param(
        0.50,
        "share of ITF money",
        "assumption: CMA paper proposal direction (from 70%, hk_context_facts row "
        "itf_share_high_end_sectors)",
        ge=0.0,
        le=1.0,
    )
    traditional_share: float = param(
        0.30,
        "share of ITF money",
        "assumption: CMA paper proposal direction (from under 10%, hk_context_facts row "
        "itf_share_traditional_sectors)",
        ge=0.0,
        le=1.0,
    )

    @model_validator(mode="after")
    def _shares(self) -> ITFRebalanceSpec:
        if self.high_end_share + self.traditional_share > 1.0 + 1e-12:
            raise ValueError(
                "itf_rebalance.high_end_share + itf_rebalance.traditional_share must be <= 1 "
                f"(got {self.high_end_share} + {self.traditional_share})"
            )
        return self


class InnoHKSpec(LeverSpec):
    """InnoHK-style research centres: extra applied research groups with their own budget."""

    budget_hkd_m_per_year: float = param(
        911.0,
        "HKD m per year of public funding, from start_year",
        "derived: about the hk_pilot_platform scenario's public spend, 10,025 HKD m over "
        "2025-2035 / 11 years (see scenarios/more_rd_funding.yaml), to compare levers; "
        "InnoHK itself got HKD 10,000 m for 28 laboratories (2018 Policy Address)",
        ge=0.0,
    )
    applied_orientation: float = param(
        0.8,
        "0-1 index, mean",
        "assumption: InnoHK centres are set up for collaborative, translational research "
        "with industry, more applied than government R&D centres (0.7)",
        ge=0.01,
        le=0.99,
    )
    sector_shares: dict[str, float] = param(
        {"biotech": 0.5, "it": 0.25, "electronics": 0.25},
        "share of the centres' research groups",
        "assumption: InnoHK's two clusters, Health@InnoHK (biotech) and AIR@InnoHK (AI and "
        "robotics: IT and electronics), weighted equally",
    )

    @model_validator(mode="after")
    def _sectors(self) -> InnoHKSpec:
        unknown = set(self.sector_shares) - set(SECTORS)
        if unknown:
            raise ValueError(
                f"innohk.sector_shares: unknown sectors {sorted(unknown)}; allowed: {list(SECTORS)}"
            )
        total = sum(self.sector_shares.values())
        if abs(total - 1.0) > 1e-6 or min(self.sector_shares.values(), default=0.0) < 0:
            raise ValueError(f"innohk.sector_shares must be >= 0 and sum to 1, got {total:.4f}")
        return self


class RFSSpec(LeverSpec):
    """A Re-industrialisation-Funding-Scheme-style matching grant for HK production lines."""

    government_share_of_cost: float = param(
        1.0 / 3.0,
        "share of a production line's cost",
        "hk_pipeline_evidence.csv row rfs_matching_share (news.gov.hk 2020-07-27: government "
        "pays 1 for every 2 from the company)",
        ge=0.0,
        le=1.0,
    )
    cap_hkd_m: float = param(
        15.0,
        "HKD m per production line",
        "hk_pipeline_evidence.csv row rfs_matching_share (capped at the lower of 1/3 of "
        "cost or HKD 15 m, paid on completion)",
        ge=0.0,
    )
    annual_budget_hkd_m: float = param(
        400.0,
        "HKD m per year, grants committed at most",
        "assumption: the HKD 2,000 m launch budget (hk_pipeline_evidence row rfs_budget, "
        "2020) spread over five years; about 100 lines were supported 2020-2025 (row "
        "rfs_nifs_lines_supported)",
        ge=0.0,
    )


class RDFundingSpec(LeverSpec):
    """More research funding: the labs' budgets scaled up from a start year (public spend)."""

    budget_multiplier: float = param(
        1.0311,
        "x baseline research budget (universities and government R&D centres)",
        "derived: 1 + 9,078 / 292,215, the hk_pilot_platform scenario's extra public spend "
        "2025-2035 (committed comparison, 30 seeds, full scale, model 7) over the baseline "
        "research budget 2025-2035 (gerd_higher_education + gerd_government 2022 rows, "
        "hk_inputs_after_2019.csv, grown at budget_growth_after_2022), so the two levers cost "
        "about the same; the extra is counted as public spend. At least 1 (assumption: the "
        "lever models extra funding; public_spend_hkd_m is the levers' outlay and the "
        "benefit-cost ratios divide by it, so a cut, a saving, has no place there; study a "
        "cut by lowering the research.* budget series or research.budget_growth_after_2022)",
        ge=1.0,
        le=5.0,
    )


class ITSectorSpec(Spec):
    """The part of the I&T industry the agents do not represent, as an exogenous trend."""

    other_value_added_2015_hkd_m: float = param(
        15500.0,
        "HKD m",
        "assumption: targets row it_value_added 2015 (16,666) less the modelled part",
        ge=0.0,
    )
    other_value_added_growth: float = param(
        0.07, "per year", "assumption: hand-set toward it_value_added 2019", ge=-0.5, le=1.0
    )
    other_employment_2015: float = param(
        33000.0,
        "persons",
        "assumption: targets row it_employment 2015 (37,010) less modelled startup staff",
        ge=0.0,
    )
    other_employment_growth: float = param(
        0.02, "per year", "assumption: hand-set toward it_employment 2019", ge=-0.5, le=1.0
    )


#: Scenario groups that are policy levers (``enabled``, ``start_year``): the platform and
#: the modules of ``sim/policies``.
LEVER_GROUPS: tuple[str, ...] = (
    "platform",
    "mother_factory",
    "traditional_upgrade",
    "prd_upgrade",
    "itf_rebalance",
    "rd_funding",
    "innohk",
    "rfs",
)


class Scenario(Spec):
    """A complete, validated scenario: every group with its defaults unless overridden."""

    name: str = param(
        "baseline", "text", "scenario file name; also names output folders (NAME_RULE)"
    )
    description: str = param("", "text", "scenario file")
    run: RunSpec = RunSpec()
    research: ResearchSpec = ResearchSpec()
    pipeline: PipelineSpec = PipelineSpec()
    value: ValueSpec = ValueSpec()
    startups: StartupSpec = StartupSpec()
    manufacturing: ManufacturingSpec = ManufacturingSpec()
    prd: PRDSpec = PRDSpec()
    scarcity: ScarcitySpec = ScarcitySpec()
    gba: GBASpec = GBASpec()
    markets: MarketSpec = MarketSpec()
    spillovers: SpilloverSpec = SpilloverSpec()
    platform: PlatformSpec = PlatformSpec()
    mother_factory: MotherFactorySpec = MotherFactorySpec()
    traditional_upgrade: TraditionalUpgradeSpec = TraditionalUpgradeSpec()
    prd_upgrade: PRDUpgradeSpec = PRDUpgradeSpec()
    itf_rebalance: ITFRebalanceSpec = ITFRebalanceSpec()
    rd_funding: RDFundingSpec = RDFundingSpec()
    innohk: InnoHKSpec = InnoHKSpec()
    rfs: RFSSpec = RFSSpec()
    it_sector: ITSectorSpec = ITSectorSpec()

    @field_validator("name")
    @classmethod
    def _safe_name(cls, value: str) -> str:
        if not NAME_PATTERN.fullmatch(value) or ".." in value:
            shown = value if len(value) <= 60 else value[:57] + "..."
            raise ValueError(f"{shown!r} is not allowed: {NAME_RULE}")
        return value

    @field_validator(*LEVER_GROUPS)
    @classmethod
    def _starts_before_the_end(cls, lever: Any, info: ValidationInfo) -> Any:
        run = info.data.get("run")
        if run is not None and lever.enabled and lever.start_year > run.end_year:
            raise ValueError(
                f"start_year {lever.start_year} is after run.end_year {run.end_year}: the "
                f"{info.field_name} would never act and the run would equal the baseline; "
                f"set start_year <= {run.end_year} (or run.end_year / --until later)"
            )
        return lever

    @model_validator(mode="after")
    def _runnable(self) -> Scenario:
        """Validation means runnable: the agents and projects the parameters imply must fit
        in the memory bound at scale 1 (``sim.footprint``)."""
        from sim.footprint import check_footprint

        check_footprint(self)
        return self

    @model_validator(mode="before")
    @classmethod
    def _moved_groups(cls, data: Any) -> Any:
        if isinstance(data, dict) and "funding_rebalance" in data:
            raise ValueError(
                "funding_rebalance has been renamed itf_rebalance: it now re-weights only the "
                "Innovation and Technology Fund's money (itf_rebalance.itf_hkd_m_per_year), "
                "the rest of the research budget keeping its sector split; use "
                "itf_rebalance.enabled, itf_rebalance.start_year, "
                "itf_rebalance.high_end_share and itf_rebalance.traditional_share"
            )
        if isinstance(data, dict):
            for (group, key), why in _REPLACED_KEYS.items():
                if isinstance(data.get(group), dict) and key in data[group]:
                    raise ValueError(f"{group}.{key} no longer exists: {why}")
        return data


#: Parameters removed by model 7 (issue 24) and what took their place.
_REPLACED_KEYS: dict[tuple[str, str], str] = {
    ("research", "budget_growth_after_2019"): "the research budgets now follow published "
    "values to 2022; set research.budget_growth_after_2022 for the years after",
    ("startups", "employee_growth_per_year"): "startups now hire when they raise a round; "
    "set startups.hires_per_hkd_m_raised",
    ("startups", "funding_probability_per_quarter"): "rounds are now drawn from venture "
    "investment; set startups.venture_share_raised (and startups.venture_investment_hkd_m)",
}


def parameter_table() -> list[dict[str, Any]]:
    """Every parameter as a row: dotted key, default, unit, source."""
    rows: list[dict[str, Any]] = []
    for group, field in Scenario.model_fields.items():
        spec_cls = field.annotation
        if not (isinstance(spec_cls, type) and issubclass(spec_cls, Spec)):
            continue
        for name, f in spec_cls.model_fields.items():
            extra = f.json_schema_extra if isinstance(f.json_schema_extra, dict) else {}
            rows.append(
                {
                    "key": f"{group}.{name}",
                    "default": f.default,
                    "unit": extra.get("unit", ""),
                    "source": extra.get("source", ""),
                }
            )
    return rows


def parameter_table_markdown() -> str:
    """The parameter table as Markdown, for docs/ODD.md."""
    rows = []
    for r in parameter_table():
        default = r["default"]
        if isinstance(default, dict):
            default = ", ".join(f"{k} {v}" for k, v in default.items())
        elif isinstance(default, tuple):
            default = ", ".join(str(v) for v in default)
        rows.append([f"`{r['key']}`", f"{default}", f"{r['unit']}", f"{r['source']}"])
    header = ["parameter", "default", "unit", "source"]
    return "\n".join(markdown_table(header, rows)) + "\n"


if __name__ == "__main__":
    print(parameter_table_markdown(), end="")
