"""Unit tests of the model's pure building blocks, and an accounting test that can fail.

Each block is tested on hand-made input, not through whole runs: the logit choice and its
logsum, the success probability, durations, ``first_k``, ``pick_by_sector``, the
``Columns`` table, the random ``Streams`` and value by place. The last tests book a small
run's value quarter by quarter from the project book, independently of
``sim.accounting``, and compare with what the model recorded: a value lost or counted twice
fails them.
"""

from __future__ import annotations

import copy
import pickle
from types import SimpleNamespace

import numpy as np
import pytest

import sim.model
from sim.accounting import (
    FUNCTIONS,
    HQ,
    IP,
    MASS,
    PILOT,
    PLACES,
    TRADING,
    product_value_by_place,
    shares,
)
from sim.agents.base import pick_by_sector
from sim.columns import Columns
from sim.model import PilotModel
from sim.params import Scenario
from sim.pipeline import MAX_P, durations, first_k, logit_choice, logsum, success_probability
from sim.projects import (
    Owner,
    PilotSite,
    Place,
    ProductionSite,
    ProjectBook,
    Route,
    Stage,
    Status,
)
from sim.rng import QUARTER_KEY_OFFSET, STREAM_NAMES, Streams, check_seed
from sim.scenario import load_scenario

from .conftest import SCENARIOS

EULER_GAMMA = 0.5772156649015329


# ------------------------------------------------------------------ logit, logsum
def _softmax(u: np.ndarray) -> np.ndarray:
    e = np.exp(u - u.max())
    return e / e.sum()


def test_logsum_is_log_sum_exp_over_available_options() -> None:
    u = np.array([[1.0, 2.0, 0.5], [0.0, 0.0, 0.0], [3.0, -1.0, 2.0]])
    avail = np.array([[True, True, True], [True, True, True], [True, False, True]])
    expected = [np.log(np.exp(u[0]).sum()), np.log(3.0), np.log(np.exp(3.0) + np.exp(2.0))]
    np.testing.assert_allclose(logsum(u, avail), expected, rtol=1e-12)


def test_logsum_without_options_is_minus_infinity_and_large_utilities_are_stable() -> None:
    u = np.array([[1.0, 2.0], [1000.0, 1000.0]])
    avail = np.array([[False, False], [True, True]])
    out = logsum(u, avail)
    assert out[0] == -np.inf
    assert out[1] == pytest.approx(1000.0 + np.log(2.0), abs=1e-9)


def test_logit_choice_shares_converge_to_logit_probabilities() -> None:
    rng = np.random.default_rng(12)
    n = 200_000
    u = np.array([0.3, 1.0, -0.5, 0.0])
    utility = np.broadcast_to(u, (n, u.size))
    available = np.ones((n, u.size), dtype=bool)
    noise = rng.gumbel(size=(n, u.size))
    choice = logit_choice(utility, available, noise)
    shares_seen = np.bincount(choice, minlength=u.size) / n
    np.testing.assert_allclose(shares_seen, _softmax(u), atol=0.005)
    # the expected maximum utility is the logsum plus Euler's constant
    best = (utility + noise)[np.arange(n), choice].mean()
    assert best == pytest.approx(logsum(utility[:1], available[:1])[0] + EULER_GAMMA, abs=0.01)


def test_logit_choice_never_picks_an_unavailable_option() -> None:
    rng = np.random.default_rng(3)
    n = 50_000
    u = np.array([0.0, 5.0, 1.0])  # the best option is unavailable
    utility = np.broadcast_to(u, (n, 3))
    available = np.broadcast_to(np.array([True, False, True]), (n, 3))
    choice = logit_choice(utility, available, rng.gumbel(size=(n, 3)))
    assert not np.any(choice == 1)
    seen = np.bincount(choice, minlength=3) / n
    expected = _softmax(np.array([0.0, 1.0]))
    np.testing.assert_allclose(seen[[0, 2]], expected, atol=0.01)
    # per row: availability varies from project to project
    avail = np.array([[False, False, True], [True, False, False]])
    assert list(logit_choice(np.zeros((2, 3)), avail, np.full((2, 3), 9.0))) == [2, 0]


# ------------------------------------------------------------------ success, durations
def test_success_probability_equals_p_base_at_effort_one() -> None:
    p = np.array([0.0, 0.1, 0.5, 0.9, 0.98])
    np.testing.assert_allclose(success_probability(p, 1.0), p, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(success_probability(p, 0.0), 0.0)


def test_success_probability_rises_with_effort_and_is_capped() -> None:
    effort = np.linspace(0.0, 5.0, 101)
    for p in (0.05, 0.4, 0.95):
        curve = success_probability(p, effort)
        assert np.all(np.diff(curve) > 0)
        assert np.all((curve >= 0) & (curve < 1))
    # p_base above the cap is capped: at effort 1 the probability is MAX_P, not 1
    assert success_probability(1.0, 1.0) == pytest.approx(MAX_P)
    assert success_probability(np.array([0.995, 1.0]), 1.0) == pytest.approx([MAX_P, MAX_P])
    # the Keynes+Schumpeter form: P = 1 - (1 - p)^effort
    assert success_probability(0.5, 2.0) == pytest.approx(0.75)


def test_durations_are_whole_quarters_with_the_given_mean() -> None:
    z = np.random.default_rng(5).standard_normal(400_000)
    d = durations(8.0, 0.4, 1.5, z)
    assert d.dtype == np.int16 and d.min() >= 1
    assert d.mean() == pytest.approx(12.0, rel=0.01)  # lognormal mean mean_q * factor
    # no dispersion: exactly the rounded mean; never below one quarter
    np.testing.assert_array_equal(
        durations(3.0, 0.0, np.array([1.0, 0.5, 0.01]), np.zeros(3)), [3, 2, 1]
    )
    # a project's own draw sets its duration: higher z, longer
    zs = np.array([-1.0, 0.0, 1.0])
    assert np.all(np.diff(durations(10.0, 0.5, 1.0, zs)) > 0)


# ------------------------------------------------------------------ first_k
def test_first_k_keeps_the_first_true_entries() -> None:
    mask = np.array([False, True, True, False, True, True])
    np.testing.assert_array_equal(first_k(mask, 2), [0, 1, 1, 0, 0, 0])
    np.testing.assert_array_equal(first_k(mask, 2.9), [0, 1, 1, 0, 0, 0])  # floor
    np.testing.assert_array_equal(first_k(mask, 10), mask)
    np.testing.assert_array_equal(first_k(mask, np.inf), mask)
    for k in (0, -3, -np.inf, np.nan):
        assert not first_k(mask, k).any()
    out = first_k(mask, 10)
    out[1] = False
    assert mask[1]  # a copy, not a view


# ------------------------------------------------------------------ pick_by_sector
def test_pick_by_sector_picks_by_position_within_the_sector() -> None:
    rows = np.array([10, 11, 12, 13, 14])
    sectors = np.array([2, 0, 2, 1, 2])
    wanted = np.array([2, 2, 2, 1, 0, 3])
    u = np.array([0.0, 0.5, 0.99, 0.3, 0.1, 0.5])
    picked, n = pick_by_sector(rows, sectors, wanted, u)
    np.testing.assert_array_equal(picked, [10, 12, 14, 13, 11, -1])
    np.testing.assert_array_equal(n, [3, 3, 3, 1, 1, 0])


def test_pick_by_sector_without_rows_picks_nothing() -> None:
    picked, n = pick_by_sector(
        np.array([], dtype=np.int64), np.array([], dtype=np.int64), np.array([0, 3]), np.zeros(2)
    )
    np.testing.assert_array_equal(picked, [-1, -1])
    np.testing.assert_array_equal(n, [0, 0])


def test_pick_by_sector_is_uniform_within_a_sector() -> None:
    rows = np.arange(100, 106)
    sectors = np.array([1, 0, 1, 1, 0, 1])  # sector 1: rows 100, 102, 103, 105
    u = np.random.default_rng(8).random(80_000)
    picked, _ = pick_by_sector(rows, sectors, np.ones(u.size, dtype=np.int64), u)
    values, counts = np.unique(picked, return_counts=True)
    np.testing.assert_array_equal(values, [100, 102, 103, 105])
    np.testing.assert_allclose(counts / u.size, 0.25, atol=0.01)


def test_population_sector_index_follows_entry_and_exit() -> None:
    """The cached index of living plants is rebuilt when plants enter or exit: a partner
    search never picks a plant that has closed and can pick one that just entered."""
    from sim.model import PilotModel
    from sim.scenario import load_scenario

    model = PilotModel(load_scenario("baseline", {"run.scale": 0.05}), seed=2)
    mfr = model.manufacturers

    def fresh() -> np.ndarray:
        rows = np.flatnonzero(mfr.alive)
        return pick_by_sector(rows, mfr.cols["sector"][rows], wanted, u)[0]

    wanted = np.repeat(np.arange(3), 200)
    u = np.tile(np.linspace(0, 0.999, 200), 3)
    before = mfr.sector_index().pick(wanted, u)[0]
    np.testing.assert_array_equal(before, fresh())
    gone = np.unique(before[before >= 0])[:5]
    mfr.remove(gone)
    after = mfr.sector_index().pick(wanted, u)[0]
    assert not np.isin(after, gone).any()
    np.testing.assert_array_equal(after, fresh())
    new = mfr._add_plants(model.streams.manufacturing, 50)
    np.testing.assert_array_equal(mfr.sector_index().pick(wanted, u)[0], fresh())
    assert np.isin(new, mfr.sector_index().rows).all()


# ------------------------------------------------------------------ Columns
def test_columns_append_fills_named_columns_and_zeros_the_rest() -> None:
    c = Columns({"a": np.int32, "x": np.float64, "flag": np.bool_}, capacity=4)
    rows = c.append(3, a=np.array([1, 2, 3]), x=0.5)
    np.testing.assert_array_equal(rows, [0, 1, 2])
    assert len(c) == 3 and c.names == ("a", "x", "flag")
    np.testing.assert_array_equal(c["a"], [1, 2, 3])
    np.testing.assert_array_equal(c["x"], [0.5] * 3)
    assert not c["flag"].any() and c["a"].dtype == np.int32
    c["x"][1] = 7.0  # a writable view
    c["flag"] = np.array([True, False, True])
    assert c["x"][1] == 7.0 and list(c["flag"]) == [True, False, True]
    with pytest.raises(KeyError, match="unknown columns"):
        c.append(1, b=1)
    assert len(c) == 3


def test_columns_grow_past_capacity_and_keep_2d_columns() -> None:
    c = Columns({"id": np.int64, "u": np.dtype((np.float64, 3))}, capacity=16)
    first = c.append(10, id=np.arange(10), u=np.arange(30.0).reshape(10, 3))
    assert c["u"].shape == (10, 3)
    rows = c.append(50, id=np.arange(10, 60), u=1.5)  # past the capacity of 16: grows
    np.testing.assert_array_equal(rows, np.arange(10, 60))
    assert len(c) == 60 and c["u"].shape == (60, 3)
    np.testing.assert_array_equal(c["id"], np.arange(60))
    np.testing.assert_array_equal(c["u"][first], np.arange(30.0).reshape(10, 3))
    np.testing.assert_array_equal(c["u"][10:], 1.5)
    c.append(2)  # nothing named: zeros
    np.testing.assert_array_equal(c["u"][-2:], 0.0)
    assert c.append(0).size == 0 and len(c) == 62


def test_columns_views_follow_appends_and_copies_share_nothing() -> None:
    """Columns keeps a dict of views of the used rows: an append must refresh them (a stale
    view would be too short), and a pickled or deep-copied table must get its own storage
    (views restored as plain dict items would still point at the original's arrays)."""
    c = Columns({"x": np.float64, "u": np.dtype((np.float64, 2))}, capacity=16)
    c.append(3, x=1.0)
    assert c["x"].shape == (3,) and list(c) == ["x", "u"]
    c.append(20, x=2.0)  # grows past the capacity: new storage behind the views
    assert c["x"].shape == (23,) and c["u"].shape == (23, 2)
    c["x"][0] = 5.0
    assert c._data["x"][0] == 5.0  # the view writes into the storage
    for copy_ in (pickle.loads(pickle.dumps(c)), copy.deepcopy(c)):
        assert len(copy_) == 23 and copy_["x"][0] == 5.0
        copy_["x"][0] = -1.0
        assert c["x"][0] == 5.0 and copy_._data["x"][0] == -1.0
        copy_.append(1, x=3.0)
        assert copy_["x"].shape == (24,) and c["x"].shape == (23,)


# ------------------------------------------------------------------ Streams
def test_streams_same_seed_and_quarter_give_the_same_draws() -> None:
    a, b = Streams(7), Streams(7)
    for s in (a, b):
        s.begin_quarter(3)
    np.testing.assert_array_equal(a.research.random(5), b["research"].random(5))
    b.begin_quarter(3)  # re-keying the quarter restarts its streams
    a.begin_quarter(3)
    np.testing.assert_array_equal(a.startups.random(5), b.startups.random(5))


def test_streams_differ_by_quarter_seed_and_name() -> None:
    s = Streams(7)
    s.begin_quarter(3)
    q3 = {n: s[n].random(4) for n in STREAM_NAMES}
    s.begin_quarter(4)
    q4 = {n: s[n].random(4) for n in STREAM_NAMES}
    other = Streams(8)
    other.begin_quarter(3)
    for n in STREAM_NAMES:
        assert not np.array_equal(q3[n], q4[n])
        assert not np.array_equal(q3[n], other[n].random(4))
    flat = np.concatenate(list(q3.values()))
    assert np.unique(flat).size == flat.size  # no two streams share their draws


def test_streams_are_independent_of_each_other() -> None:
    """Drawing more from one stream shifts no draw of another (common random numbers)."""
    a, b = Streams(11), Streams(11)
    a.begin_quarter(-5)
    b.begin_quarter(-5)
    a.research.random(1000)  # a policy that draws more research numbers this quarter
    np.testing.assert_array_equal(a.startups.random(6), b.startups.random(6))
    np.testing.assert_array_equal(a.prd.standard_normal(6), b.prd.standard_normal(6))


def test_streams_reject_unknown_names_early_quarters_and_bad_seeds() -> None:
    s = Streams(0)
    with pytest.raises(KeyError, match="unknown random stream 'reseach'"):
        s["reseach"]
    with pytest.raises(AttributeError, match="unknown random stream"):
        s.reseach  # noqa: B018
    with pytest.raises(ValueError, match="before the earliest keyed quarter"):
        s.begin_quarter(-QUARTER_KEY_OFFSET - 1)
    for bad in (-1, True, 1.5, "3"):
        with pytest.raises(ValueError, match="non-negative integer"):
            check_seed(bad)
    assert check_seed(np.int64(4)) == 4


# ------------------------------------------------------------------ value by place
def _stub(book: ProjectBook, crowding: np.ndarray, kept_share: float = 0.0) -> SimpleNamespace:
    """The parts of a model that ``product_value_by_place`` reads."""
    return SimpleNamespace(
        projects=book,
        markets=SimpleNamespace(crowding=crowding),
        spec=Scenario(),
        policies=SimpleNamespace(mother_factory=SimpleNamespace(kept_share=kept_share)),
        prd=SimpleNamespace(cols={"hq_in_hk": np.array([True, False])}),
    )


def _product(book: ProjectBook, **values: object) -> int:
    base = dict(stage=Stage.MARKET, status=Status.ACTIVE, producer_row=-1, value_hkd_m_per_q=100.0)
    return int(book.append(1, **{**base, **values})[0])  # type: ignore[arg-type]


def test_licensed_north_product_returns_the_royalty_share_of_ip_to_hk() -> None:
    book = ProjectBook(capacity=16)
    row = _product(
        book, sector=1, route=Route.NORTH, owner=Owner.MAINLAND_FIRM, owner_place=Place.PRD,
        pilot_site=PilotSite.PRD, production_site=ProductionSite.PRD_MAINLAND,
    )  # fmt: skip
    model = _stub(book, crowding=np.array([1.0, 0.5, 1.0]))
    out = product_value_by_place(model, np.array([row]))
    w, royalty = shares(model), model.spec.pipeline.royalty_share
    value = 100.0 * 0.5  # own value times the crowding of its sector
    hk = out[Place.HK]
    assert hk[IP] == pytest.approx(value * w[IP] * royalty, rel=1e-12)
    assert hk.sum() == pytest.approx(value * w[IP] * royalty, rel=1e-12)  # nothing else in HK
    assert out[Place.PRD, IP] == pytest.approx(value * w[IP] * (1 - royalty), rel=1e-12)
    for f in (PILOT, MASS, HQ, TRADING):
        assert out[Place.PRD, f] == pytest.approx(value * w[f], rel=1e-12)
    assert out[Place.ELSEWHERE].sum() == 0.0
    assert out.sum() == pytest.approx(value, rel=1e-12)


def test_hand_computed_places_of_a_mother_factory_and_a_child_factory() -> None:
    book = ProjectBook(capacity=16)
    mother = _product(
        book, sector=0, route=Route.PARTNER, owner=Owner.LOCAL_MANUFACTURER,
        owner_place=Place.HK, pilot_site=PilotSite.PRD, production_site=ProductionSite.PRD_MAINLAND,
        mother=True,
    )  # fmt: skip
    child = _product(
        book, sector=0, route=Route.SPIN_OFF, owner=Owner.STARTUP, owner_place=Place.HK,
        pilot_site=PilotSite.HK_PLATFORM, production_site=ProductionSite.PRD_HK_OWNED,
        producer_row=1,  # its PRD factory has no HK headquarters
    )  # fmt: skip
    model = _stub(book, crowding=np.ones(3), kept_share=0.3)
    w = shares(model)
    m = product_value_by_place(model, np.array([mother]))
    # mother factory: IP, pilot, HQ in HK, 30% of mass production kept in HK
    assert m[Place.HK] == pytest.approx(100 * np.array([w[IP], w[PILOT], 0.3 * w[MASS], w[HQ], 0]))
    assert m[Place.PRD] == pytest.approx(100 * np.array([0, 0, 0.7 * w[MASS], 0, w[TRADING]]))
    c = product_value_by_place(model, np.array([child]))
    # HK-owned child factory without HK headquarters: production and trading in the PRD
    assert c[Place.HK] == pytest.approx(100 * np.array([w[IP], w[PILOT], 0, w[HQ], 0]))
    assert c[Place.PRD] == pytest.approx(100 * np.array([0, 0, w[MASS], 0, w[TRADING]]))


def test_every_booked_value_lands_in_exactly_one_place() -> None:
    rng = np.random.default_rng(21)
    n = 400
    book = ProjectBook(capacity=16)
    book.append(
        n,
        sector=rng.integers(0, 3, n),
        stage=Stage.MARKET,
        status=Status.ACTIVE,
        route=rng.integers(1, 7, n),
        owner=rng.integers(0, 5, n),
        owner_place=rng.integers(0, 3, n),
        pilot_site=rng.integers(0, 4, n),
        production_site=rng.integers(0, 4, n),
        producer_row=rng.integers(0, 2, n),
        mother=rng.random(n) < 0.2,
        sold=rng.random(n) < 0.2,
        value_hkd_m_per_q=rng.lognormal(1.0, 1.0, n),
    )
    crowding = np.array([1.0, 0.7, 0.4])
    model = _stub(book, crowding, kept_share=0.25)
    rows = np.arange(n)
    out = product_value_by_place(model, rows)
    assert out.shape == (len(PLACES), len(FUNCTIONS)) and (out >= 0).all()
    crowded = book["value_hkd_m_per_q"] * crowding[book["sector"]]
    w = shares(model)
    assert w.sum() == pytest.approx(1.0)
    # each function's value is booked once, across the places
    np.testing.assert_allclose(out.sum(axis=0), crowded.sum() * w, rtol=1e-12)
    assert out.sum() == pytest.approx(crowded.sum(), rel=1e-12)
    # product by product: the parts add up to the whole book, and each to its own value
    one_by_one = [product_value_by_place(model, np.array([r])) for r in rows]
    np.testing.assert_allclose(np.sum(one_by_one, axis=0), out, rtol=1e-10)
    np.testing.assert_allclose([m.sum() for m in one_by_one], crowded, rtol=1e-12)
    assert product_value_by_place(model, np.array([], dtype=np.int64)).sum() == 0.0


# ------------------------------------------------------------------ accounting of a run
@pytest.mark.parametrize("scenario", ["hk_pilot_platform", "mother_factory"])
def test_a_runs_value_added_is_its_products_value_times_crowding(
    scenario: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Book a small run's value independently from the project book, quarter by quarter.

    Just before the model books a quarter, the test reads which products are in their
    market life, their own value and their sector's crowding, and the adoption value of
    plants and factories. The model's recorded total value added must equal that, quarter
    by quarter and summed: a product lost, booked twice or booked at the wrong crowding
    fails. Each product must also be booked in consecutive quarters with its market life
    counting down by one (never twice in a quarter, never skipped).
    """
    spec = load_scenario(SCENARIOS / f"{scenario}.yaml", {"run.scale": 0.05, "run.end_year": 2028})
    model = PilotModel(spec, seed=4)  # the warm start is booked before the patch
    seen: list[dict[str, object]] = []
    real = sim.model.book_quarter

    def observed(m: PilotModel) -> None:
        b = m.projects
        rows = np.flatnonzero((b["stage"] == Stage.MARKET) & (b["status"] == Status.ACTIVE))
        value = b["value_hkd_m_per_q"][rows] * m.markets.crowding[b["sector"][rows]]
        with_hq, without_hq = m.prd.adoption_value_hkd_m_per_q()
        adoption = m.manufacturers.adoption_value_hkd_m_per_q() + with_hq + without_hq
        seen.append(
            dict(
                t=m.t, rows=rows.copy(), remaining=b["remaining_q"][rows].copy(),
                products=float(value.sum()), adoption=float(adoption),
            )
        )  # fmt: skip
        real(m)

    monkeypatch.setattr(sim.model, "book_quarter", observed)
    model.run()
    q = model.recorder.quarterly()
    assert len(seen) == len(q) == model.n_quarters
    products = np.array([s["products"] for s in seen]) / spec.run.scale
    adoption = np.array([s["adoption"] for s in seen]) / spec.run.scale
    assert products.sum() > 0 and adoption.sum() > 0
    recorded = q["total_value_added_hkd_m"].to_numpy()
    np.testing.assert_allclose(recorded, products + adoption, rtol=1e-9)
    assert recorded.sum() == pytest.approx(products.sum() + adoption.sum(), rel=1e-12)
    assert q["adoption_value_added_hkd_m"].to_numpy() == pytest.approx(adoption, rel=1e-9)
    # value by place adds up: HK + PRD + elsewhere is the total, and HK is part of it
    hk = q["hk_value_added_hkd_m"].to_numpy()
    assert np.all(hk <= recorded * (1 + 1e-12)) and hk.sum() > 0
    # each product is booked once a quarter while in market, its life counting down
    last: dict[int, tuple[int, int]] = {}
    for s in seen:
        rows, remaining, t = s["rows"], s["remaining"], s["t"]
        assert np.unique(rows).size == rows.size
        for r, left in zip(rows.tolist(), remaining.tolist(), strict=True):
            if r in last:
                assert last[r] == (t - 1, left + 1), (r, last[r], t, left)
            last[r] = (t, left)
