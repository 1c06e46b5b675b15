"""Stages and transitions: how a research result becomes a product, and where.

Each stage has a cost, a lognormal duration and a success probability that rises with
effort (spending relative to need, times quality, times fit with where it is done) in the
Keynes+Schumpeter form ``P = 1 - exp(-zeta * effort)``, with ``zeta = -ln(1 - p_base)`` so
that ``P = p_base`` at full effort (Dosi, Fagiolo and Roventini 2010).

Transitions are choices. At the end of 0-1 the lab chooses a route (shelve, license, spin
off, partner with a manufacturer, transfer north); the new owner then chooses a pilot site
(in-house in Hong Kong, the Hong Kong platform, a PRD pilot base, abroad); at the end of
1-10 the owner chooses where to industrialise. Every choice is a logit over expected values
(success chances, costs net of subsidies, time to market, switching costs as
alternative-specific constants) plus Gumbel noise; the route choice uses the site choice's
logsum (a nested logit). Leakage to the north is what these choices add up to, nothing
more. Projects moved north without follow-up support fit worse and face an extra hazard.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.projects import (
    NO_SITE,
    PILOT_SITE_PLACE,
    Owner,
    PilotSite,
    Place,
    ProductionSite,
    Route,
    Stage,
    Status,
)
from sim.units import QUARTERS_PER_YEAR

if TYPE_CHECKING:
    from sim.model import PilotModel

MAX_P = 0.99  # success probabilities are capped below one after uplifts
N_ROUTES = 5  # SHELVE, LICENSE, SPIN_OFF, PARTNER, NORTH: route codes 1..5
N_SITES = 4


def success_probability(p_base: np.ndarray | float, effort: np.ndarray | float) -> np.ndarray:
    """``1 - exp(-zeta * effort)`` with ``zeta = -ln(1 - p_base)``: equals p_base at effort 1."""
    p = np.minimum(p_base, MAX_P)
    return 1.0 - np.power(1.0 - p, effort)


def draw_durations(
    rng: np.random.Generator, mean_q: float, sigma: float, factor: np.ndarray | float, k: int
) -> np.ndarray:
    """Lognormal durations in whole quarters (at least one) with mean ``mean_q * factor``."""
    d = mean_q * np.asarray(factor) * rng.lognormal(-(sigma**2) / 2, sigma, size=k)
    return np.maximum(1, np.rint(d)).astype(np.int16)


def logit_choice(utility: np.ndarray, available: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """Index of the best available option once Gumbel noise is added (multinomial logit)."""
    return np.argmax(np.where(available, utility + noise, -np.inf), axis=1)


def logsum(utility: np.ndarray, available: np.ndarray) -> np.ndarray:
    """Expected maximum utility over available options (``-inf`` if none is available)."""
    u = np.where(available, utility, -np.inf)
    top = u.max(axis=1)
    safe = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(divide="ignore"):
        return safe + np.log(np.exp(u - safe[:, None]).sum(axis=1))


class Pipeline:
    """Moves projects through the stages; owns no state beyond the model's ProjectBook."""

    def __init__(self, model: PilotModel) -> None:
        self.m = model
        spec = model.spec.pipeline
        self.disc_q = (1 + spec.discount_rate) ** (-1 / QUARTERS_PER_YEAR)
        life = spec.market_life_mean_quarters
        annuity = (1 - self.disc_q**life) / (1 - self.disc_q) if self.disc_q < 1 else life
        #: present value at launch of a quality-1 product, HKD m
        self.v0 = spec.product_value_added_hkd_m / QUARTERS_PER_YEAR * annuity

    @property
    def book(self):  # noqa: ANN201 - ProjectBook
        return self.m.projects

    # ------------------------------------------------------------------ entry points
    def _new_projects(
        self, rng: np.random.Generator, sectors: np.ndarray, **columns: object
    ) -> np.ndarray:
        """Append active Hong Kong-owned projects of random quality; returns their rows."""
        m = self.m
        s = m.spec.research.quality_sigma
        rows = self.book.append(
            len(sectors),
            sector=sectors,
            quality=rng.lognormal(-(s**2) / 2, s, size=len(sectors)),
            status=Status.ACTIVE,
            owner_place=Place.HK,
            pilot_site=NO_SITE,
            production_site=NO_SITE,
            producer_row=-1,
            started_q=m.t,
            **columns,
        )
        m.ledger.add("projects_started", rows.size)
        return rows

    def start_research(self, labs: np.ndarray, sectors: np.ndarray) -> None:
        """New 0-1 projects in the given labs."""
        m, spec = self.m, self.m.spec.research
        rng = m.streams.research
        rows = self._new_projects(
            rng,
            sectors,
            origin_lab=labs,
            stage=Stage.RESEARCH,
            route=Route.NONE,
            owner=Owner.LAB,
            owner_row=labs,
        )
        b = self.book
        b["p_success"][rows] = success_probability(spec.success_probability, b["quality"][rows])
        b["remaining_q"][rows] = draw_durations(
            rng, spec.duration_mean_quarters, m.spec.pipeline.duration_sigma, 1.0, rows.size
        )

    def start_own_projects(self, startup_rows: np.ndarray, sectors: np.ndarray) -> None:
        """Hardware startups' own projects enter the pilot stage and choose a site."""
        rows = self._new_projects(
            self.m.streams.startups,
            sectors,
            origin_lab=-1,
            stage=Stage.PILOT,
            route=Route.OWN,
            owner=Owner.STARTUP,
            owner_row=startup_rows,
            supported=True,
        )
        self._choose_and_begin_pilot(rows)

    def owner_closed(self, startup_rows: np.ndarray) -> None:
        """Projects of startups that closed fail unless already in the market (acquired)."""
        b = self.book
        live = b.live_rows()
        live = live[(b["owner"][live] == Owner.STARTUP) & (b["stage"][live] < Stage.MARKET)]
        closed = np.zeros(self.m.startups.cols.n, dtype=bool)
        closed[startup_rows] = True
        hit = live[closed[b["owner_row"][live]]]
        self._end(hit, Status.FAILED)

    # ------------------------------------------------------------------ quarterly step
    def step(self) -> None:
        """Advance active stages one quarter and act on the stages that end."""
        m, b = self.m, self.book
        spec = m.spec.pipeline
        live = b.live_rows()
        stage, status = b["stage"][live], b["status"][live]
        working = live[(status == Status.ACTIVE) & (stage < Stage.MARKET)]
        b["remaining_q"][working] -= 1

        # Projects moved north without follow-up support: the acclimatisation hazard.
        ws = b["stage"][working]
        north_site = ((ws == Stage.PILOT) & (b["pilot_site"][working] == PilotSite.PRD)) | (
            (ws == Stage.INDUSTRIALISATION)
            & (b["production_site"][working] == ProductionSite.PRD_MAINLAND)
        )
        exposed = working[north_site & ~b["supported"][working]]
        hit = m.streams.pilot.random(exposed.size) < spec.acclimatisation_hazard_per_quarter
        self._end(exposed[hit], Status.FAILED)

        done = working[(b["remaining_q"][working] <= 0) & (b["status"][working] == Status.ACTIVE)]
        done_stage = b["stage"][done]
        finished = {s: done[done_stage == s] for s in Stage if s < Stage.MARKET}
        for s, stream in (
            (Stage.RESEARCH, m.streams.research),
            (Stage.PILOT, m.streams.pilot),
            (Stage.INDUSTRIALISATION, m.streams.industrialisation),
        ):
            rows = finished[s]
            ok = stream.random(rows.size) < b["p_success"][rows]
            self._end(rows[~ok], Status.FAILED)
            if not ok.any():
                continue
            if s == Stage.RESEARCH:
                self._choose_route(rows[ok])
            elif s == Stage.PILOT:
                self._choose_production(rows[ok])
            else:
                self._launch(rows[ok])

    def _end(self, rows: np.ndarray, status: Status) -> None:
        if rows.size == 0:
            return
        b = self.book
        b["stage"][rows] = Stage.DONE
        b["status"][rows] = status
        name = {Status.FAILED: "projects_failed", Status.SHELVED: "projects_shelved"}.get(status)
        if name:
            self.m.ledger.add(name, rows.size)

    # ------------------------------------------------------------------ option values
    def _pilot_costs(self) -> tuple[np.ndarray, np.ndarray]:
        """Owner's cost (HKD m) and duration factor of a pilot at each site, PilotSite order."""
        spec, plat = self.m.spec.pipeline, self.m.platform
        dur_f = np.array(
            [1.0, plat.duration_factor, spec.prd_duration_factor, spec.abroad_duration_factor]
        )
        cost = spec.pilot_cost_hkd_m * np.array(
            [1.0, 0.0, spec.prd_cost_factor, spec.abroad_cost_factor]
        )
        if plat.active:
            dur_platform = spec.pilot_duration_mean_quarters * dur_f[PilotSite.HK_PLATFORM]
            cost[PilotSite.HK_PLATFORM] = float(plat.client_cost_hkd_m(dur_platform))
        return cost, dur_f

    def _pilot_values(
        self, quality: np.ndarray, cash: np.ndarray, supported: np.ndarray
    ) -> np.ndarray:
        """Expected value (HKD m) to the owner of piloting at each site, shape (k, 4).

        ``EV = P(pilot) P(industrialise) P(no acclimatisation failure) V d^T - pilot cost
        - P(pilot) industrialisation cost``, with V the product's present value at launch,
        d the quarterly discount factor and T the time to market.

        Args:
            quality: project quality, shape (k,).
            cash: owner's cash for cash-limited owners, ``inf`` for funded owners.
            supported: whether a move north keeps follow-up support, shape (k,).
        """
        spec, plat = self.m.spec.pipeline, self.m.platform
        cost, dur_f = self._pilot_costs()
        dur = spec.pilot_duration_mean_quarters * dur_f
        free = cost[None, :] <= 0  # a fully subsidised pilot is fully funded
        funding = np.where(free, 1.0, np.minimum(1.0, cash[:, None] / np.where(free, 1.0, cost)))
        fit = np.ones((len(quality), N_SITES))
        fit[:, PilotSite.PRD] = np.where(supported, 1.0, spec.north_fit_unsupported)
        p_base = spec.pilot_success_probability * np.array([1.0, plat.success_factor, 1.0, 1.0])
        p_pilot = success_probability(p_base[None, :], funding * quality[:, None] * fit)
        p_ind = np.full(N_SITES, spec.industrialisation_success_probability)
        p_ind[PilotSite.HK_PLATFORM] = plat.industrialisation_success(p_ind[0])
        p_ind = p_ind[None, :] * fit
        t = (
            dur
            + np.array([0.0, plat.expected_wait_q(), 0.0, 0.0])
            + spec.industrialisation_duration_mean_quarters * spec.prd_duration_factor
        )
        exposed = np.zeros((len(quality), N_SITES), dtype=bool)
        exposed[:, PilotSite.PRD] = ~supported
        survive = np.where(exposed, (1 - spec.acclimatisation_hazard_per_quarter) ** t, 1.0)
        ind_cost = spec.industrialisation_cost_hkd_m * spec.prd_cost_factor
        value = self.v0 * quality[:, None] * self.disc_q**t
        return p_pilot * p_ind * survive * value - funding * cost - p_pilot * ind_cost

    def _site_asc(self, hk_owner: np.ndarray) -> np.ndarray:
        spec = self.m.spec.pipeline
        asc = np.zeros((len(hk_owner), N_SITES))
        asc[:, PilotSite.PRD] = np.where(hk_owner, spec.asc_prd, 0.0)
        asc[:, PilotSite.ABROAD] = spec.asc_abroad
        return asc

    def _pilot_availability(
        self, owner: np.ndarray, owner_place: np.ndarray, sectors: np.ndarray
    ) -> np.ndarray:
        hk = owner_place == Place.HK
        avail = np.zeros((len(owner), N_SITES), dtype=bool)
        avail[:, PilotSite.HK_INHOUSE] = hk
        avail[:, PilotSite.HK_PLATFORM] = hk & self.m.platform.available(sectors)
        avail[:, PilotSite.PRD] = owner != Owner.ABROAD_FIRM
        avail[:, PilotSite.ABROAD] = owner != Owner.MAINLAND_FIRM
        return avail

    # ------------------------------------------------------------------ 0-1 -> route
    def _choose_route(self, rows: np.ndarray) -> None:
        """The lab chooses what to do with a research result (nested logit over sites)."""
        m, b = self.m, self.book
        spec = m.spec.pipeline
        rng = m.streams.routing
        k = rows.size
        beta = spec.value_sensitivity_per_hkd_m
        sectors = b["sector"][rows].astype(np.int64)
        quality = b["quality"][rows]
        plat = m.platform

        partner = m.manufacturers.find_partners(sectors, plat.matching_search_factor)
        found = partner >= 0
        abroad_licensee = rng.random(k) < spec.licensee_abroad_share
        route_noise = rng.gumbel(size=(k, N_ROUTES))
        site_noise = rng.gumbel(size=(k, N_SITES))

        hk_place = np.full(k, Place.HK, dtype=np.int8)
        yes = np.ones(k, dtype=bool)
        funded = np.full(k, np.inf)
        seed_cash = np.full(k, m.spec.startups.seed_cash_hkd_m)
        ev_firm = self._pilot_values(quality, funded, yes)
        ev_start = self._pilot_values(quality, seed_cash, yes)
        north_supported = np.full(k, plat.follow_up_support)
        ev_north = self._pilot_values(quality, funded, north_supported)
        asc_hk = self._site_asc(yes)
        avail_hk = self._pilot_availability(np.full(k, Owner.STARTUP), hk_place, sectors)

        iv_firm = logsum(beta * ev_firm + asc_hk, avail_hk)
        iv_start = logsum(beta * ev_start + asc_hk, avail_hk)
        outside = np.where(
            abroad_licensee,
            beta * ev_firm[:, PilotSite.ABROAD] + spec.asc_abroad,
            beta * ev_north[:, PilotSite.PRD],
        )
        applied = m.labs.cols["applied"][b["origin_lab"][rows]]
        bonus = spec.applied_route_weight * (applied - 0.5)
        u = np.column_stack(
            [
                np.zeros(k),
                np.where(found, iv_firm, outside) + spec.asc_license + bonus,
                iv_start + spec.asc_spin_off + bonus,
                iv_firm + spec.asc_partner + bonus,
                beta * ev_north[:, PilotSite.PRD] + spec.asc_north + bonus,
            ]
        )
        avail = np.column_stack([yes, yes, yes, found, yes])
        route = logit_choice(u, avail, route_noise) + 1  # Route codes start at 1
        b["route"][rows] = route

        self._end(rows[route == Route.SHELVE], Status.SHELVED)
        b["stage"][rows[route != Route.SHELVE]] = Stage.PILOT
        for name, r in (
            ("projects_licensed", Route.LICENSE),
            ("projects_spun_off", Route.SPIN_OFF),
            ("projects_partnered", Route.PARTNER),
        ):
            m.ledger.add(name, int(np.count_nonzero(route == r)))

        # New owners.
        to_mfr = ((route == Route.LICENSE) & found) | (route == Route.PARTNER)
        b["owner"][rows[to_mfr]] = Owner.LOCAL_MANUFACTURER
        b["owner_row"][rows[to_mfr]] = partner[to_mfr]
        b["supported"][rows[to_mfr]] = True
        spin = route == Route.SPIN_OFF
        if spin.any():
            b["owner"][rows[spin]] = Owner.STARTUP
            b["owner_row"][rows[spin]] = m.startups.spin_off(sectors[spin])
            b["supported"][rows[spin]] = True
        out_lic = (route == Route.LICENSE) & ~found
        north = route == Route.NORTH
        mainland = (out_lic & ~abroad_licensee) | north
        abroad = out_lic & abroad_licensee
        b["owner"][rows[mainland]] = Owner.MAINLAND_FIRM
        b["owner_place"][rows[mainland]] = Place.PRD
        b["supported"][rows[mainland]] = plat.follow_up_support
        b["owner"][rows[abroad]] = Owner.ABROAD_FIRM
        b["owner_place"][rows[abroad]] = Place.ELSEWHERE
        b["owner_row"][rows[mainland | abroad]] = -1

        going = route != Route.SHELVE
        self._choose_and_begin_pilot(rows[going], site_noise[going])

    # ------------------------------------------------------------------ 1-10
    def _choose_and_begin_pilot(
        self, rows: np.ndarray, noise: np.ndarray | None = None, allow_platform: bool = True
    ) -> None:
        """Owners choose a pilot site (logit over expected values) and start or queue."""
        if rows.size == 0:
            return
        m, b = self.m, self.book
        spec = m.spec.pipeline
        if noise is None:
            noise = m.streams.routing.gumbel(size=(rows.size, N_SITES))
        owner, place = b["owner"][rows], b["owner_place"][rows]
        cash = self._owner_cash(rows)
        ev = self._pilot_values(b["quality"][rows], cash, b["supported"][rows])
        sectors = b["sector"][rows].astype(np.int64)
        avail = self._pilot_availability(owner, place, sectors)
        if not allow_platform:
            avail[:, PilotSite.HK_PLATFORM] = False
        u = spec.value_sensitivity_per_hkd_m * ev + self._site_asc(place == Place.HK)
        site = logit_choice(u, avail, noise)
        self._begin_pilot(rows, site)

    def _owner_cash(self, rows: np.ndarray) -> np.ndarray:
        """Cash of startup owners (their funding limit); ``inf`` for funded owners."""
        b, st = self.book, self.m.startups
        is_startup = b["owner"][rows] == Owner.STARTUP
        cash = np.full(rows.size, np.inf)
        cash[is_startup] = np.maximum(st.cols["cash_hkd_m"][b["owner_row"][rows[is_startup]]], 0)
        return cash

    def _begin_pilot(self, rows: np.ndarray, site: np.ndarray) -> None:
        m, b = self.m, self.book
        b["pilot_site"][rows] = site
        # Moving north early: counted once per project.
        north = (site == PilotSite.PRD) & ~b["moved_north"][rows]
        b["moved_north"][rows[north]] = True
        m.ledger.add("projects_north", int(north.sum()))
        # Hong Kong startups that pilot in the PRD may move their headquarters north.
        st_rows = rows[
            (site == PilotSite.PRD)
            & (b["owner"][rows] == Owner.STARTUP)
            & (b["owner_place"][rows] == Place.HK)
        ]
        moving = st_rows[
            m.streams.startups.random(st_rows.size) < m.spec.pipeline.startup_relocation_probability
        ]
        if moving.size:
            b["owner_place"][moving] = Place.PRD
            m.startups.relocate(np.unique(b["owner_row"][moving]))
        on_platform = rows[site == PilotSite.HK_PLATFORM]
        admitted = m.platform.request(on_platform) if on_platform.size else on_platform
        queued = np.setdiff1d(on_platform, admitted)
        b["status"][queued] = Status.QUEUED
        b["queued_q"][queued] = 0
        self._start_pilot(np.concatenate([rows[site != PilotSite.HK_PLATFORM], admitted]))

    def start_platform_pilots(self, rows: np.ndarray) -> None:
        """Queued projects that got a platform slot."""
        self._start_pilot(rows)

    def leave_queue(self, rows: np.ndarray) -> None:
        """Projects out of patience choose again without the platform."""
        self.book["status"][rows] = Status.ACTIVE
        self._choose_and_begin_pilot(rows, allow_platform=False)

    def _start_pilot(self, rows: np.ndarray) -> None:
        """Pay for the pilot, set its success chance and duration."""
        if rows.size == 0:
            return
        m, b = self.m, self.book
        spec = m.spec.pipeline
        plat = m.platform
        site = b["pilot_site"][rows].astype(np.int64)
        cash = self._owner_cash(rows)
        cost, dur_f = self._pilot_costs()
        need = cost[site]
        paid = np.minimum(need, cash)
        startup = b["owner"][rows] == Owner.STARTUP
        if startup.any():
            np.subtract.at(
                m.startups.cols["cash_hkd_m"], b["owner_row"][rows[startup]], paid[startup]
            )
        funding = np.where(need > 0, paid / np.maximum(need, 1e-9), 1.0)
        fit = np.where(
            (site == PilotSite.PRD) & ~b["supported"][rows], spec.north_fit_unsupported, 1.0
        )
        on_platform = site == PilotSite.HK_PLATFORM
        p_base = spec.pilot_success_probability * np.where(on_platform, plat.success_factor, 1.0)
        b["p_success"][rows] = success_probability(p_base, funding * b["quality"][rows] * fit)
        b["remaining_q"][rows] = draw_durations(
            m.streams.pilot,
            spec.pilot_duration_mean_quarters,
            spec.duration_sigma,
            dur_f[site],
            rows.size,
        )
        b["status"][rows] = Status.ACTIVE
        b["stage"][rows] = Stage.PILOT
        b["spent_hkd_m"][rows] += paid
        b["platform_piloted"][rows] = on_platform
        if on_platform.any():
            mean_q = spec.pilot_duration_mean_quarters * dur_f[PilotSite.HK_PLATFORM]
            m.ledger.add("public_spend", on_platform.sum() * plat.fee_subsidy_hkd_m(mean_q))
        m.ledger.add(
            "projects_piloted_hk", int(np.count_nonzero(PILOT_SITE_PLACE[site] == Place.HK))
        )

    # ------------------------------------------------------------------ 10-100
    def _choose_production(self, rows: np.ndarray) -> None:
        """After a successful pilot the owner chooses where to industrialise."""
        m, b = self.m, self.book
        spec = m.spec.pipeline
        plat = m.platform
        rng = m.streams.routing
        k = rows.size
        beta = spec.value_sensitivity_per_hkd_m
        sectors = b["sector"][rows].astype(np.int64)
        quality = b["quality"][rows]
        owner, place = b["owner"][rows], b["owner_place"][rows]
        hk = place == Place.HK
        noise = rng.gumbel(size=(k, N_SITES))
        link_draw = rng.random(k)
        partner = m.manufacturers.find_partners(sectors, plat.matching_search_factor)

        avail = np.zeros((k, N_SITES), dtype=bool)
        avail[:, ProductionSite.HK] = hk & ((owner == Owner.LOCAL_MANUFACTURER) | (partner >= 0))
        p_link = np.where(
            hk,
            plat.hk_owned_child_probability(spec.hk_owned_child_probability),
            np.where(b["supported"][rows], plat.hk_owned_child_probability(0.0), 0.0),
        )
        avail[:, ProductionSite.PRD_HK_OWNED] = (link_draw < p_link) & (owner != Owner.ABROAD_FIRM)
        avail[:, ProductionSite.PRD_MAINLAND] = owner != Owner.ABROAD_FIRM
        avail[:, ProductionSite.ABROAD] = owner != Owner.MAINLAND_FIRM

        mf = m.spec.mother_factory
        mother = mf.active(m.year) & hk & (PILOT_SITE_PLACE[b["pilot_site"][rows]] == Place.HK)
        base = spec.industrialisation_success_probability
        p_base = np.where(b["platform_piloted"][rows], plat.industrialisation_success(base), base)
        p_base = np.minimum(MAX_P, p_base * np.where(mother, 1 + mf.success_uplift, 1.0))
        supported = b["supported"][rows]
        fit = np.ones((k, N_SITES))
        fit[:, ProductionSite.PRD_MAINLAND] = np.where(supported, 1.0, spec.north_fit_unsupported)
        dur_f = np.array(
            [1.0, spec.prd_duration_factor, spec.prd_duration_factor, spec.abroad_duration_factor]
        )
        cost_f = np.array(
            [1.0, spec.prd_cost_factor, spec.prd_cost_factor, spec.abroad_cost_factor]
        )
        t = spec.industrialisation_duration_mean_quarters * dur_f
        exposed = np.zeros((k, N_SITES), dtype=bool)
        exposed[:, ProductionSite.PRD_MAINLAND] = ~supported
        survive = np.where(exposed, (1 - spec.acclimatisation_hazard_per_quarter) ** t, 1.0)
        p = np.minimum(MAX_P, p_base[:, None] * fit) * survive
        ev = (
            p * self.v0 * quality[:, None] * self.disc_q**t
            - spec.industrialisation_cost_hkd_m * cost_f
        )
        asc = np.zeros((k, N_SITES))
        asc[:, ProductionSite.PRD_HK_OWNED] = np.where(hk, spec.asc_prd, 0.0)
        asc[:, ProductionSite.PRD_MAINLAND] = np.where(hk, spec.asc_prd, 0.0)
        asc[:, ProductionSite.ABROAD] = spec.asc_abroad
        site = logit_choice(beta * ev + asc, avail, noise)

        b["production_site"][rows] = site
        producer = np.full(k, -1, dtype=np.int64)
        at_hk = site == ProductionSite.HK
        producer[at_hk] = np.where(
            owner[at_hk] == Owner.LOCAL_MANUFACTURER, b["owner_row"][rows[at_hk]], partner[at_hk]
        )
        child = site == ProductionSite.PRD_HK_OWNED
        if child.any():
            producer[child] = m.prd.pick_child(sectors[child])
        b["producer_row"][rows] = producer
        b["mother"][rows] = mother
        if mother.any():
            m.ledger.add("public_spend", int(mother.sum()) * mf.line_grant_hkd_m)
        b["p_success"][rows] = np.minimum(MAX_P, p_base * fit[np.arange(k), site])
        extra = np.where(mother, mf.demand_test_quarters, 0)
        b["remaining_q"][rows] = (
            draw_durations(
                m.streams.industrialisation,
                spec.industrialisation_duration_mean_quarters,
                spec.duration_sigma,
                dur_f[site],
                k,
            )
            + extra
        )
        b["stage"][rows] = Stage.INDUSTRIALISATION
        b["spent_hkd_m"][rows] += spec.industrialisation_cost_hkd_m * cost_f[site]

    def _launch(self, rows: np.ndarray) -> None:
        """Successful industrialisation: the product enters its market life."""
        m, b = self.m, self.book
        spec = m.spec.pipeline
        rng = m.streams.market
        k = rows.size
        s = spec.product_value_sigma
        value = (
            spec.product_value_added_hkd_m
            / QUARTERS_PER_YEAR
            * b["quality"][rows]
            * rng.lognormal(-(s**2) / 2, s, size=k)
        )
        b["value_hkd_m_per_q"][rows] = value
        b["remaining_q"][rows] = draw_durations(
            rng, spec.market_life_mean_quarters, spec.duration_sigma, 1.0, k
        )
        b["stage"][rows] = Stage.MARKET
        m.ledger.add("projects_launched", k)
        # Technology adoption by the Hong Kong plants and PRD factories that make it.
        site = b["production_site"][rows]
        mfr = np.concatenate(
            [
                b["owner_row"][rows[b["owner"][rows] == Owner.LOCAL_MANUFACTURER]],
                b["producer_row"][rows[site == ProductionSite.HK]],
            ]
        )
        m.manufacturers.adopt(mfr[mfr >= 0])
        child = b["producer_row"][rows[site == ProductionSite.PRD_HK_OWNED]]
        if child.size:
            np.add.at(m.prd.cols["child_lines"], child, 1)
