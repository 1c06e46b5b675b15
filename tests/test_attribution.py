"""Attribution of the platform's effect to its services (issue 9, point 1), and the
end-to-end `pilotsim compare` with net benefit outcomes (point 11): `--until 2050`,
`--no-attribution`, bad input.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.cli import main
from sim.experiments.batch import Batch
from sim.experiments.compare import (
    ATTRIBUTION_OUTCOMES,
    SLOTS_ONLY,
    attribution_table,
    attribution_variants,
    format_attribution,
    t_interval,
)
from sim.experiments.seeds import replicate_seeds
from sim.experiments.workflows import add_attribution_variants, default_years_and_period
from sim.scenario import load_scenario, scenario_hash, with_overrides

from .conftest import SCENARIOS

TINY = {"run.scale": 0.05, "run.end_year": 2027}
SERVICES = ("engineering", "matching", "follow_up_support")


def platform_spec(**over: object):  # noqa: ANN201
    return load_scenario(SCENARIOS / "hk_pilot_platform.yaml", {**TINY, **over})


# ------------------------------------------------------------------ variants
def test_variants_switch_each_service_off_and_all_for_slots_only() -> None:
    v = attribution_variants(platform_spec())
    assert v == {
        "no_engineering": {"platform.engineering": False},
        "no_matching": {"platform.matching": False},
        "no_follow_up_support": {"platform.follow_up_support": False},
        SLOTS_ONLY: {f"platform.{s}": False for s in SERVICES},
        "no_engineer_hiring": {"platform.engineers_per_slot": 0.0},
        "no_private_space": {"platform.private_space_share": 0.0},
    }


def test_no_variants_without_the_platform_and_only_services_that_are_on() -> None:
    assert attribution_variants(load_scenario(SCENARIOS / "baseline.yaml", TINY)) == {}
    scarce = {"platform.engineers_per_slot": 0.0, "platform.private_space_share": 0.0}
    one = platform_spec(**{"platform.engineering": False, "platform.follow_up_support": False,
                           **scarce})  # fmt: skip
    assert attribution_variants(one) == {"no_matching": {"platform.matching": False}}
    none = platform_spec(**{f"platform.{s}": False for s in SERVICES}, **scarce)
    assert attribution_variants(none) == {}


def test_variants_join_the_batch_with_the_policys_seeds() -> None:
    base = load_scenario(SCENARIOS / "baseline.yaml", TINY)
    pol = platform_spec()
    specs = {"baseline": base, "hk_pilot_platform": pol}
    sources = {"baseline": "baseline", "hk_pilot_platform": "hk_pilot_platform"}
    variants = add_attribution_variants(specs, sources, ["hk_pilot_platform"])
    labels = [f"hk_pilot_platform-{s}" for s in attribution_variants(pol)]
    assert list(specs) == ["baseline", "hk_pilot_platform", *labels]
    assert list(variants["hk_pilot_platform"]) == labels
    for lab, over in variants["hk_pilot_platform"].items():
        spec = specs[lab]
        assert spec.name == lab and "with platform." in sources[lab]
        assert spec == with_overrides(pol, over).model_copy(update={"name": lab})
        for s in SERVICES:  # the overrides and nothing else
            want = over.get(f"platform.{s}", True)
            assert getattr(spec.platform, s) is want, (lab, s)
        assert spec.platform.public_budget_hkd_m == pol.platform.public_budget_hkd_m
    slots = specs["hk_pilot_platform-slots_only"].platform
    assert not (slots.engineering or slots.matching or slots.follow_up_support)
    assert len({scenario_hash(s) for s in specs.values()}) == len(specs)

    b = Batch("compare", specs, sources, 3, 2)
    runs = pd.DataFrame(b.runs())
    seeds = runs.groupby("label")["seed"].apply(list)
    assert all(s == replicate_seeds(3, 2) for s in seeds)  # shared with the policy
    assert len(b.tasks()) == 2 * len(specs)


# ------------------------------------------------------------------ the table
def attribution_panel(n: int = 4) -> pd.DataFrame:
    """baseline, policy and two variants; effects by hand (HKD m a year from 2025)."""
    noise = np.random.default_rng(1).normal(0, 3, size=(n, 6))
    effect = {"baseline": 0.0, "p": 100.0, "p-no_matching": 60.0, "p-slots_only": 20.0}
    rows = []
    for lab, e in effect.items():
        for i in range(n):
            for k, y in enumerate(range(2024, 2030)):
                on = y >= 2025
                va = 500.0 + noise[i, k] + (e + 2 * i * (e > 0)) * on
                rows.append(
                    {
                        "label": lab, "replicate": i, "seed": i, "year": y,
                        "hk_value_added_hkd_m": va, "total_value_added_hkd_m": 2 * va,
                        "public_spend_hkd_m": 10.0 * on * (e > 0),
                        "hk_private_spend_hkd_m": 5.0 * on * (e > 0),
                        "hk_site_private_spend_hkd_m": 2.0 * on * (e > 0),
                        "hk_outside_private_spend_hkd_m": 3.0 * on * (e > 0),
                        "hk_income_from_outside_hkd_m": 1.0 * on * (e > 0),
                        "private_spend_hkd_m": 8.0 * on * (e > 0),
                    }
                )  # fmt: skip
    return pd.DataFrame(rows)


def test_attribution_table_effects_and_parts_by_hand() -> None:
    panel = attribution_panel()
    variants = {"p-no_matching": {"platform.matching": False}, "p-slots_only": {"x": False}}
    t = attribution_table(panel, "baseline", "p", variants, (2025, 2029), discount_rate=0.0)
    assert list(dict.fromkeys(t["variant"])) == ["full", "no_matching", "slots_only"]
    assert set(t["outcome"]) == set(ATTRIBUTION_OUTCOMES)
    va = t[t["outcome"] == "hk_value_added_hkd_m"].set_index("variant")
    extra = np.array([2 * i for i in range(4)]) * 5  # 2i a year, 5 years
    assert va.loc["full", "effect_mean"] == pytest.approx(500 + extra.mean())
    assert va.loc["no_matching", "effect_mean"] == pytest.approx(300 + extra.mean())
    assert va.loc["no_matching", "attributed_mean"] == pytest.approx(200.0)
    assert va.loc["slots_only", "attributed_mean"] == pytest.approx(400.0)
    assert va.loc["slots_only", "attributed_share"] == pytest.approx(400 / (500 + extra.mean()))
    assert math.isnan(va.loc["full", "attributed_mean"])
    assert va.loc["no_matching", "switched_off"] == "matching"
    # the attributed part is paired: full - variant replicate by replicate (no noise left)
    assert va.loc["no_matching", "attributed_low"] == pytest.approx(200.0)
    # the effect's interval is the t-interval of the paired differences with the baseline
    sub = (
        panel[(panel["year"] >= 2025)].groupby(["label", "replicate"])["hk_value_added_hkd_m"].sum()
    )
    d = (sub["p-no_matching"] - sub["baseline"]).to_numpy()
    assert (va.loc["no_matching", "effect_low"], va.loc["no_matching", "effect_high"]) == (
        pytest.approx(t_interval(d)[1:])
    )
    nb = t[t["outcome"] == "npv_net_benefit_hkd_m"].set_index("variant")
    # net benefit at 0% (resident frame): value effect - public 50 - HK private 25 (10 at HK
    # sites, 15 outside) + income from outside 5
    assert nb.loc["full", "effect_mean"] == pytest.approx(500 + extra.mean() - 75 + 5)
    assert nb.loc["no_matching", "attributed_mean"] == pytest.approx(200.0)
    bcr = t[t["outcome"] == "benefit_cost_ratio"].set_index("variant")
    assert math.isnan(bcr.loc["no_matching", "attributed_mean"])  # ratios are not additive
    text = format_attribution(t)
    share = f"({200 / (500 + extra.mean()):.0%})"
    assert "no_matching" in text and "slots_only" in text and share in text
    assert format_attribution(t, markdown=True).count("\n") == 4


def test_until_2050_defaults_follow_the_horizon() -> None:
    years, period = default_years_and_period(None, None, 2050)
    assert list(years) == [2025, 2030, 2035, 2040, 2045, 2050] and period == (2025, 2050)
    assert default_years_and_period(None, None, 2035) == (None, None)
    assert default_years_and_period([2030], (2026, 2030), 2050) == ([2030], (2026, 2030))


# ------------------------------------------------------------- end to end
SMALL = ["--scale", "0.05", "--jobs", "1", "--no-progress", "--no-figures"]


def _compare(argv: list[str]) -> tuple[int, str]:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = main(["compare", *argv])
    return rc, buf.getvalue()


@pytest.fixture(scope="module")
def compared(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("attr") / "cmp"
    rc, printed = _compare(
        ["--seeds", "2", "--root-seed", "4", "--until", "2028", *SMALL, "--out", str(out)]
    )
    assert rc == 0, printed
    return out, printed


def test_compare_writes_attribution_and_net_benefit(compared: tuple[Path, str]) -> None:
    out, printed = compared
    # baseline, policy, 6 service variants, 3 market-failure variants and their baseline twins
    assert printed.startswith("28 runs: 28 run now")
    t = pd.read_csv(out / "attribution.csv")
    assert list(dict.fromkeys(t["variant"])) == [
        "full",
        "no_engineering",
        "no_matching",
        "no_follow_up_support",
        "slots_only",
        "no_engineer_hiring",
        "no_private_space",
        "finance_unconstrained",
        "no_indivisibility",
        "no_spillovers",
    ]
    assert (t["n_pairs"] == 2).all()
    s = pd.read_csv(out / "summary.csv")
    assert set(s["policy"]) == {"hk_pilot_platform"}  # variants are not policies
    for name in (
        "npv_hk_value_added_hkd_m",
        "npv_net_benefit_hkd_m",
        "benefit_cost_ratio",
        "npv_total_value_added_hkd_m",
        "npv_net_benefit_all_hkd_m",
        "benefit_cost_ratio_all",
        "platform_deadweight_share",
        "projects_piloted_hk_private",
    ):
        rows = s[(s["outcome"] == name) & (s["period"] == "2025-2028")]
        assert len(rows) == 1, name
    report = (out / "report.md").read_text()
    for heading in (
        "### Net benefit, 2025-2028",
        "### Attribution of the platform's effect, 2025-2028",
        "## Beside published evaluations",
        "hk_pilot_platform-slots_only",
        "3.5% a year",
    ):
        assert heading in report, heading
    assert "attribution of hk_pilot_platform's effect" in printed
    manifest = json.loads((out / "manifest.json").read_text())
    seeds = replicate_seeds(4, 2)
    assert manifest["batch"]["seeds"] == seeds
    assert "hk_pilot_platform-no_matching" in manifest["batch"]["attribution"]["hk_pilot_platform"]
    assert len(set(manifest["batch"]["runs"].values())) == 28  # 14 scenarios x 2 seeds
    twins = manifest["batch"]["attribution_baselines"]
    assert twins == {
        f"hk_pilot_platform-{v}": f"baseline-{v}"
        for v in ("finance_unconstrained", "no_indivisibility", "no_spillovers")
    }
    assert "## Private returns by owner type, baseline, 2015-2028" in report


def test_rerun_resumes_and_no_attribution_skips(compared: tuple[Path, str]) -> None:
    out, _ = compared
    rc, printed = _compare(
        ["--seeds", "2", "--root-seed", "4", "--until", "2028", *SMALL, "--out", str(out)]
    )
    assert rc == 0 and printed.startswith("28 runs: 0 run now, 28 already stored")
    rc, printed = _compare(
        ["--seeds", "2", "--root-seed", "4", "--until", "2028", *SMALL, "--out", str(out)]
        + ["--no-attribution"]
    )
    assert rc == 0 and printed.startswith("4 runs: 0 run now, 4 already stored")
    assert not (out / "attribution.csv").exists()
    assert "Attribution" not in (out / "report.md").read_text()
    assert "attribution of" not in printed


def test_until_2050_runs_and_the_table_reaches_it(tmp_path: Path) -> None:
    out = tmp_path / "to2050"
    rc, printed = _compare(
        ["--seeds", "2", "--until", "2050", "--no-attribution", *SMALL, "--out", str(out)]
    )
    assert rc == 0, printed
    s = pd.read_csv(out / "summary.csv", dtype={"period": str})
    assert {"2025", "2030", "2035", "2040", "2045", "2050", "2025-2050"} <= set(s["period"])
    npv = s[(s["outcome"] == "npv_net_benefit_hkd_m")]
    assert list(npv["period"]) == ["2025-2050"] and npv["n_pairs"].iloc[0] == 2
    assert "2025-2050" in printed


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--until", "2050", "--period", "2025-2051"], "--period 2025-2051: must be START-END"),
        (["--until", "2040", "--years", "2045"], "--years 2045: outside"),
        (["--until", "2061"], "--until 2061"),
    ],
)
def test_bad_horizon_input_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    rc = main(["compare", *argv, "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert rc == 2 and message in err and err.startswith("error: ")
    assert not (tmp_path / "out").exists()


def test_market_failure_variant_is_a_difference_in_differences_with_its_baseline_twin() -> None:
    """Switched off in both runs: the variant's effect is against its own baseline twin,
    and what is attributed to the failure is (policy - base) - (variant - twin)."""
    rows = []
    noise = np.random.default_rng(1).normal(0, 30, size=(4, 6))
    for i in range(4):
        for k, y in enumerate(range(2024, 2030)):
            on = y >= 2025
            for lab, level, extra in (
                ("baseline", 500.0, 0.0),
                ("p", 500.0, 100.0 + i),
                ("baseline-finance_unconstrained", 530.0, 0.0),
                ("p-finance_unconstrained", 530.0, 40.0),
            ):
                va = level + noise[i, k] + extra * on
                rows.append(
                    {
                        "label": lab, "replicate": i, "seed": i, "year": y,
                        "hk_value_added_hkd_m": va, "total_value_added_hkd_m": 2 * va,
                        "public_spend_hkd_m": 10.0 * on * (extra > 0),
                        "hk_private_spend_hkd_m": 0.0, "private_spend_hkd_m": 0.0,
                        "hk_site_private_spend_hkd_m": 0.0,
                        "hk_outside_private_spend_hkd_m": 0.0,
                        "hk_income_from_outside_hkd_m": 0.0,
                    }
                )  # fmt: skip
    panel = pd.DataFrame(rows)
    lab = "p-finance_unconstrained"
    t = attribution_table(
        panel, "baseline", "p", {lab: {"pipeline.finance_constraints": False}}, (2025, 2029),
        discount_rate=0.0, baselines={lab: "baseline-finance_unconstrained"},
    )  # fmt: skip
    va = t[t["outcome"] == "hk_value_added_hkd_m"].set_index("variant")
    assert va.loc["finance_unconstrained", "effect_mean"] == pytest.approx(200.0)  # 40 x 5
    full = np.mean([(100.0 + i) * 5 for i in range(4)])
    assert va.loc["full", "effect_mean"] == pytest.approx(full)
    assert va.loc["finance_unconstrained", "attributed_mean"] == pytest.approx(full - 200.0)
    # paired: the noise cancels, so the interval is that of (100 + i) x 5 - 200
    d = np.array([(100.0 + i) * 5 - 200.0 for i in range(4)])
    low, high = t_interval(d)[1:]
    assert va.loc["finance_unconstrained", "attributed_low"] == pytest.approx(low)
    assert va.loc["finance_unconstrained", "attributed_high"] == pytest.approx(high)
    assert va.loc["finance_unconstrained", "switched_off"].endswith("(baseline too)")


def test_market_failure_twins_join_the_batch() -> None:
    from sim.experiments.workflows import add_market_failure_twins

    base = load_scenario(SCENARIOS / "baseline.yaml", TINY)
    pol = platform_spec()
    specs = {"baseline": base, "hk_pilot_platform": pol}
    sources = {"baseline": "baseline", "hk_pilot_platform": "hk_pilot_platform"}
    variants, twins = add_market_failure_twins(specs, sources, "baseline", ["hk_pilot_platform"])
    lab, twin = "hk_pilot_platform-finance_unconstrained", "baseline-finance_unconstrained"
    assert twins[lab] == twin and len(twins) == 3
    assert variants["hk_pilot_platform"][lab] == {"pipeline.finance_constraints": False}
    assert variants["hk_pilot_platform"]["hk_pilot_platform-no_indivisibility"] == {
        "pipeline.indivisible_lines": False
    }
    assert variants["hk_pilot_platform"]["hk_pilot_platform-no_spillovers"] == {
        "spillovers.enabled": False
    }
    assert specs[twin].pipeline.finance_constraints is False
    assert specs[lab].pipeline.finance_constraints is False and specs[lab].platform.enabled
    assert specs["baseline"].pipeline.finance_constraints is True
    assert specs["baseline-no_spillovers"].spillovers.enabled is False
    assert specs["baseline-no_indivisibility"].pipeline.indivisible_lines is False
