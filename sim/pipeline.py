"""Stages and transitions: how a research result becomes a product, and where.

Each stage has a cost, a lognormal duration and a success probability that rises with
effort (spending relative to need, times quality, times fit with where it is done) in the
Keynes+Schumpeter form ``P = 1 - exp(-zeta * effort)``, with ``zeta = -ln(1 - p_base)`` so
that ``P = p_base`` at full effort (Dosi, Fagiolo and Roventini 2010).

Transitions are choices. At the end of 0-1 the lab chooses a route (shelve, license, spin
off, partner with a manufacturer, transfer north); the new owner then chooses a pilot site
(in-house in Hong Kong, the Hong Kong platform, a PRD pilot base, abroad); at the end of
1-10 the owner chooses where to industrialise. Every choice is a logit over expected values
(success chances, costs net of subsidies, time to market, crowding of the product's market,
switching costs as alternative-specific constants) plus Gumbel taste shocks; the route
choice uses the site choice's logsum (a nested logit). Leakage to the north is what these
choices add up to, nothing more.

What is scarce binds the choices (``sim.markets``): a Hong Kong in-house pilot needs a free
pilot line and engineers whose wage rises with use; a PRD pilot base needs a free line. Pilot
lines are indivisible (``pipeline.indivisible_lines``): an owner piloting in-house buys a
whole line for one project and must be able to finance it, while a shared line (a PRD base,
the platform) spreads its fixed cost over ``line_pilots_per_life`` pilots.
Owners pay what they choose: startups from cash (a short purse lowers a pilot's success,
and industrialisation needs a scale-up round), local plants up to their finance capacity;
an owner who can afford no production site sells the project to an outside firm, and a
royalty returns to Hong Kong. Projects moved north without follow-up support fit worse and
face an extra hazard. Every random number a project uses is its own, drawn at its creation
(``sim.projects``), so a baseline and a policy run give the same project the same luck.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from sim.accounting import book_by_owner
from sim.projects import (
    G_DECLINE_PILOT,
    G_DECLINE_PRODUCTION,
    G_PILOT,
    G_PRODUCTION,
    G_ROUTE,
    NO_SITE,
    PILOT_SITE_PLACE,
    PRODUCTION_SITE_PLACE,
    UNIVERSITY,
    Owner,
    PilotSite,
    Place,
    ProductionSite,
    Route,
    Stage,
    Status,
    U,
    Z,
    draw_project_randomness,
)
from sim.units import QUARTERS_PER_YEAR

if TYPE_CHECKING:
    from sim.model import PilotModel

MAX_P = 0.99  # success probabilities are capped below one after uplifts
N_ROUTES = 5  # SHELVE, LICENSE, SPIN_OFF, PARTNER, NORTH: route codes 1..5
N_SITES = 4
#: Index of the outside option "do not go on" (shelve) appended to a site choice when
#: owners weigh their own returns (``pipeline.owner_returns``).
DECLINE = N_SITES


def success_probability(p_base: np.ndarray | float, effort: np.ndarray | float) -> np.ndarray:
    """``1 - exp(-zeta * effort)`` with ``zeta = -ln(1 - p_base)``: equals p_base at effort 1."""
    p = np.minimum(p_base, MAX_P)
    return 1.0 - np.power(1.0 - p, effort)


def durations(mean_q: float, sigma: float, factor: np.ndarray | float, z: np.ndarray) -> np.ndarray:
    """Lognormal durations in whole quarters (at least one) with mean ``mean_q * factor``.

    ``z`` are the projects' own standard normal draws.
    """
    d = mean_q * np.asarray(factor) * np.exp(sigma * z - sigma**2 / 2)
    return np.maximum(1, np.rint(d)).astype(np.int16)


def logit_choice(utility: np.ndarray, available: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """Index of the best available option once Gumbel noise is added (multinomial logit)."""
    return np.argmax(np.where(available, utility + noise, -np.inf), axis=1)


def logsum(utility: np.ndarray, available: np.ndarray) -> np.ndarray:
    """Expected maximum utility over available options (``-inf`` if none is available)."""
    u = np.where(available, utility, -np.inf)
    top = u.max(axis=1)
    safe = np.where(np.isfinite(top), top, 0.0)
    total = np.exp(u - safe[:, None]).sum(axis=1)
    # log(0) is -inf (no option available), without numpy's divide warning machinery.
    return safe + np.log(total, out=np.full_like(total, -np.inf), where=total != 0)


def with_outside_option(
    utility: np.ndarray, available: np.ndarray, noise: np.ndarray, g_out: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The choice arrays with an always-available last option of utility 0 (shelve: no
    cost, no value) and its own Gumbel draws ``g_out``; its index is ``DECLINE``."""
    k = utility.shape[0]
    return (
        np.column_stack([utility, np.zeros(k)]),
        np.column_stack([available, np.ones(k, dtype=bool)]),
        np.column_stack([noise, g_out]),
    )


def first_k(mask: np.ndarray, k: float) -> np.ndarray:
    """``mask`` with only its first ``max(k, 0)`` true entries kept (row order)."""
    out = np.zeros_like(mask)
    if not np.isfinite(k):
        return mask.copy() if k > 0 else out
    idx = np.flatnonzero(mask)[: max(int(np.floor(k)), 0)]
    out[idx] = True
    return out


class SiteTerms(NamedTuple):
    """A quarter's terms of a pilot at each site (arrays in ``PilotSite`` order)."""

    cost: np.ndarray  # owner's cost, HKD m (inf: not on offer)
    dur_f: np.ndarray  # duration factor of the pilot
    free: np.ndarray  # fully subsidised: fully funded whatever the owner's cash
    off: np.ndarray  # not on offer: no funding
    any_free: bool  # free.any()
    any_off: bool  # off.any()
    denominator: np.ndarray  # cost where it divides cash, else 1
    fail: np.ndarray  # 1 - base success probability (capped)
    p_ind: np.ndarray  # probability that industrialisation succeeds after the pilot
    prd_survival: float  # chance to survive the acclimatisation hazard to market, north
    discount: np.ndarray  # discount factor over the time to market
    ind_cost: float  # industrialisation cost, HKD m


class Pipeline:
    """Moves projects through the stages; owns no state beyond the model's ProjectBook."""

    def __init__(self, model: PilotModel) -> None:
        self.m = model
        spec = model.spec.pipeline
        self.disc_q = (1 + spec.discount_rate) ** (-1 / QUARTERS_PER_YEAR)
        life = spec.market_life_mean_quarters
        annuity = (1 - self.disc_q**life) / (1 - self.disc_q) if self.disc_q < 1 else life
        #: present value at launch of a quality-1 product in an uncrowded market, HKD m
        self.v0 = spec.product_value_added_hkd_m / QUARTERS_PER_YEAR * annuity

    @property
    def book(self):  # noqa: ANN201 - ProjectBook
        return self.m.projects

    # ------------------------------------------------------------------ entry points
    def _new_projects(
        self, rng: np.random.Generator, sectors: np.ndarray, **columns: object
    ) -> np.ndarray:
        """Append active Hong Kong-owned projects with their own random numbers."""
        m = self.m
        s = m.spec.research.quality_sigma
        k = len(sectors)
        rows = self.book.append(
            k,
            sector=sectors,
            quality=rng.lognormal(-(s**2) / 2, s, size=k),
            status=Status.ACTIVE,
            owner_place=Place.HK,
            pilot_site=NO_SITE,
            production_site=NO_SITE,
            producer_row=-1,
            started_q=m.t,
            **draw_project_randomness(rng, k),
            **columns,
        )
        m.ledger.add("projects_started", rows.size)
        return rows

    def start_research(self, labs: np.ndarray, sectors: np.ndarray) -> None:
        """New 0-1 projects in the given labs."""
        m, spec = self.m, self.m.spec.research
        rows = self._new_projects(
            m.streams.research,
            sectors,
            origin_lab=labs,
            stage=Stage.RESEARCH,
            route=Route.NONE,
            owner=Owner.LAB,
            owner_row=labs,
        )
        self.m.ledger.add("invention_disclosures", rows.size)
        b = self.book
        b["p_success"][rows] = success_probability(spec.success_probability, b["quality"][rows])
        b["remaining_q"][rows] = durations(
            spec.duration_mean_quarters,
            m.spec.pipeline.duration_sigma,
            1.0,
            b["z"][rows, Z.RESEARCH_DURATION],
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

        # Projects moved north without follow-up support: the acclimatisation hazard, as a
        # cumulated hazard against each project's own Exp(1) threshold.
        ws = b["stage"][working]
        north_site = ((ws == Stage.PILOT) & (b["pilot_site"][working] == PilotSite.PRD)) | (
            (ws == Stage.INDUSTRIALISATION)
            & (b["production_site"][working] == ProductionSite.PRD_MAINLAND)
        )
        exposed = working[north_site & ~b["supported"][working]]
        b["acclimatisation"][exposed] += -np.log1p(-spec.acclimatisation_hazard_per_quarter)
        self._end(exposed[b["acclimatisation"][exposed] > b["e"][exposed]], Status.FAILED)

        done = working[(b["remaining_q"][working] <= 0) & (b["status"][working] == Status.ACTIVE)]
        done_stage = b["stage"][done]
        for s, col in (
            (Stage.RESEARCH, U.RESEARCH_OK),
            (Stage.PILOT, U.PILOT_OK),
            (Stage.INDUSTRIALISATION, U.IND_OK),
        ):
            rows = done[done_stage == s]
            if rows.size == 0:
                continue
            ok = b["u"][rows, col] < b["p_success"][rows]
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
    def pilot_costs(self) -> tuple[np.ndarray, np.ndarray]:
        """Owner's cost (HKD m) and duration factor of a pilot at each site, PilotSite order.

        A Hong Kong pilot's engineers are paid the going wage index; Guangdong pays part of
        a PRD pilot; a platform pilot costs its client fee after the fee subsidy.
        """
        spec, plat, mk = self.m.spec.pipeline, self.m.platform, self.m.markets
        dur_f = np.array(
            [1.0, plat.duration_factor, spec.prd_duration_factor, spec.abroad_duration_factor]
        )
        inhouse = 1.0 if spec.indivisible_lines else self.shared_line_factor()
        cost = spec.pilot_cost_hkd_m * np.array(
            [
                mk.hk_engineering_cost_factor() * inhouse,
                0.0,
                spec.prd_cost_factor * (1 - mk.prd_subsidy_share()),
                spec.abroad_cost_factor,
            ]
        )
        dur_platform = spec.pilot_duration_mean_quarters * dur_f[PilotSite.HK_PLATFORM]
        cost[PilotSite.HK_PLATFORM] = plat.client_cost_hkd_m(dur_platform)
        return cost, dur_f

    def shared_line_factor(self) -> float:
        """A pilot's cost on a shared line over its cost on an owner's own line: the
        variable part plus a ``1 / line_pilots_per_life`` share of the line."""
        spec = self.m.spec.pipeline
        f = spec.line_fixed_share
        return 1.0 - f + f / spec.line_pilots_per_life

    def line_minimum_hkd_m(self, terms: SiteTerms) -> float:
        """What an owner must be able to finance to pilot in-house: the whole line
        (``line_fixed_share`` of the in-house cost) when lines are indivisible, else 0."""
        spec = self.m.spec.pipeline
        if not spec.indivisible_lines:
            return 0.0
        return spec.line_fixed_share * float(terms.cost[PilotSite.HK_INHOUSE])

    def _product_value(self, rows: np.ndarray) -> np.ndarray:
        """Present value at launch (HKD m) of each project's product in today's market."""
        b = self.book
        return self.v0 * b["quality"][rows] * self.m.markets.crowding[b["sector"][rows]]

    def capture_of(self, owner: np.ndarray) -> np.ndarray:
        """Share of a product's value added an owner of type ``owner`` (``Owner`` codes)
        earns: the operating surplus (``value.operating_surplus_share``) of the functions it
        performs, IP and headquarters for a startup (as ``accounting`` pays it), every
        function for a firm that makes the product itself."""
        v = self.m.spec.value
        functions = np.where(owner == Owner.STARTUP, v.share_ip_rnd + v.share_hq_brand, 1.0)
        return v.operating_surplus_share * functions

    def private_capture(self, rows: np.ndarray) -> np.ndarray:
        """``capture_of`` the current owners of ``rows``."""
        return self.capture_of(self.book["owner"][rows])

    def decision_capture(self, owner: np.ndarray) -> np.ndarray | float:
        """The share of V the choices weigh: the owner's own (``capture_of``) when
        ``pipeline.owner_returns``, else 1 (the product's whole value added)."""
        return self.capture_of(owner) if self.m.spec.pipeline.owner_returns else 1.0

    def _site_terms(self) -> SiteTerms:
        """This quarter's terms of a pilot at each site, as the markets and platform stand.

        Costs and durations are fixed within a quarter; the expected wait for the platform
        changes when projects join its queue (``Platform.request``), so terms are passed on
        only until the next request.
        """
        spec, plat = self.m.spec.pipeline, self.m.platform
        cost, dur_f = self.pilot_costs()
        free = cost <= 0  # a fully subsidised pilot is fully funded
        off = ~free & np.isinf(cost)  # a site that is not on offer: no funding reaches it
        p_base = spec.pilot_success_probability * np.array([1.0, plat.success_factor, 1.0, 1.0])
        p_ind = np.full(N_SITES, spec.industrialisation_success_probability)
        p_ind[PilotSite.HK_PLATFORM] = plat.industrialisation_success(p_ind[0])
        t = (
            spec.pilot_duration_mean_quarters * dur_f
            + np.array([0.0, plat.expected_wait_q(), 0.0, 0.0])
            + spec.industrialisation_duration_mean_quarters * spec.prd_duration_factor
        )
        return SiteTerms(
            cost=cost,
            dur_f=dur_f,
            free=free,
            off=off,
            any_free=bool(free.any()),
            any_off=bool(off.any()),
            denominator=np.where(free | off, 1.0, cost),
            fail=1.0 - np.minimum(p_base, MAX_P),
            p_ind=p_ind,
            prd_survival=((1 - spec.acclimatisation_hazard_per_quarter) ** t)[PilotSite.PRD],
            discount=self.disc_q**t,
            ind_cost=spec.industrialisation_cost_hkd_m * spec.prd_cost_factor,
        )

    def _pilot_values(
        self,
        rows: np.ndarray,
        cash: np.ndarray,
        supported: np.ndarray,
        terms: SiteTerms | None = None,
        capture: np.ndarray | float = 1.0,
    ) -> np.ndarray:
        """Expected value (HKD m) to the owner of piloting at each site, shape (k, 4).

        ``EV = P(pilot) P(industrialise) P(no acclimatisation failure) V d^T - pilot cost
        - P(pilot) industrialisation cost``, with V the product's present value at launch in
        its market as crowded as today, d the quarterly discount factor, T the time to market.
        A move north without follow-up support fits worse (success chances times
        ``north_fit_unsupported``) and risks the acclimatisation hazard over T.

        Args:
            rows: the projects.
            cash: what the owner can spend on the pilot (``inf`` for funded owners).
            supported: whether a move north keeps follow-up support, shape (k,).
            terms: this quarter's ``_site_terms()`` (computed if not given).
            capture: the share of V the owner earns itself (``private_capture``), shape
                (k,) or a number; 1 (the product's whole value added) drives the choices.
        """
        t = terms if terms is not None else self._site_terms()
        prd = PilotSite.PRD
        fit_prd = np.where(supported, 1.0, self.m.spec.pipeline.north_fit_unsupported)
        funding = np.minimum(1.0, cash[:, None] / t.denominator)
        if t.any_free:
            funding[:, t.free] = 1.0
        if t.any_off:
            funding[:, t.off] = 0.0
        effort = funding * self.book["quality"][rows][:, None]
        effort[:, prd] *= fit_prd
        p_pilot = 1.0 - np.power(t.fail, effort)
        value = (np.asarray(capture) * self._product_value(rows))[:, None] * t.discount
        gain = t.p_ind * value
        survive = np.where(supported, 1.0, t.prd_survival)
        gain[:, prd] = t.p_ind[prd] * fit_prd * survive * value[:, prd]
        spend = np.minimum(t.cost[None, :], cash[:, None])
        return p_pilot * (gain - t.ind_cost) - spend

    def _site_asc(self, hk_owner: np.ndarray) -> np.ndarray:
        spec = self.m.spec.pipeline
        asc = np.zeros((len(hk_owner), N_SITES))
        asc[:, PilotSite.PRD] = np.where(hk_owner, spec.asc_prd, 0.0)
        asc[:, PilotSite.ABROAD] = spec.asc_abroad
        return asc

    def _pilot_availability(
        self,
        owner: np.ndarray,
        owner_place: np.ndarray,
        sectors: np.ndarray,
        cash: np.ndarray,
        terms: SiteTerms,
    ) -> np.ndarray:
        """Sites open to each owner: a Hong Kong in-house line needs a Hong Kong owner, a
        free line, and finance for the whole line (``line_minimum_hkd_m``)."""
        mk = self.m.markets
        hk = owner_place == Place.HK
        avail = np.zeros((len(owner), N_SITES), dtype=bool)
        avail[:, PilotSite.HK_INHOUSE] = (
            hk & (mk.hk_lines_free >= 1) & (cash >= self.line_minimum_hkd_m(terms))
        )
        avail[:, PilotSite.HK_PLATFORM] = hk & self.m.platform.available(sectors)
        mainland = owner == Owner.MAINLAND_FIRM  # own PRD lines, not the bases' capacity
        avail[:, PilotSite.PRD] = mainland | (
            (owner != Owner.ABROAD_FIRM) & (mk.prd_lines_free >= 1)
        )
        avail[:, PilotSite.ABROAD] = ~mainland
        return avail

    # ------------------------------------------------------------------ 0-1 -> route
    def _choose_route(self, rows: np.ndarray) -> None:
        """The lab chooses what to do with a research result (nested logit over sites).

        The lab searches for a local partner itself; if that fails it may use the
        platform's brokerage (while the year's searches last). A transfer north keeps
        follow-up support only if the platform still has a place for it this year.
        """
        m, b = self.m, self.book
        spec = m.spec.pipeline
        k = rows.size
        beta = spec.value_sensitivity_per_hkd_m
        sectors = b["sector"][rows].astype(np.int64)
        u = b["u"][rows]
        plat = m.platform

        mfr = m.manufacturers
        partner = mfr.find_partners(sectors, u[:, U.FIND_ROUTE], u[:, U.PICK_ROUTE])
        brokered = plat.broker(partner < 0)
        if brokered.any():
            retry = mfr.find_partners(
                sectors[brokered],
                u[brokered, U.BROKER],
                u[brokered, U.PICK_ROUTE],
                m.spec.platform.matching_search_factor,
            )
            partner[brokered] = retry
        found = partner >= 0
        abroad_licensee = u[:, U.ABROAD_LICENSEE] < spec.licensee_abroad_share

        hk_place = np.full(k, Place.HK, dtype=np.int8)
        yes = np.ones(k, dtype=bool)
        funded = np.full(k, np.inf)
        seed_cash = np.full(k, m.spec.startups.seed_cash_hkd_m)
        terms = self._site_terms()
        own = spec.owner_returns
        firm, start, mainland = (
            self.decision_capture(np.full(k, o))
            for o in (Owner.LOCAL_MANUFACTURER, Owner.STARTUP, Owner.MAINLAND_FIRM)
        )
        ev_firm = self._pilot_values(rows, funded, yes, terms, firm)
        ev_start = self._pilot_values(rows, seed_cash, yes, terms, start)
        # A transfer north is valued as supported only by a result a place is left for
        # (rationed before the choice, first come first served in row order).
        offered = plat.follow_up_offers(np.ones(k, dtype=bool))
        ev_north = self._pilot_values(rows, funded, offered, terms, mainland)
        asc_hk = self._site_asc(yes)
        as_startup = np.full(k, Owner.STARTUP)
        avail_firm = self._pilot_availability(as_startup, hk_place, sectors, funded, terms)
        avail_start = self._pilot_availability(as_startup, hk_place, sectors, seed_cash, terms)

        def inclusive(ev: np.ndarray, avail_hk: np.ndarray) -> np.ndarray:
            """Logsum of the new owner's pilot choice (with its outside option, if any)."""
            u_sites, a_sites = beta * ev + asc_hk, avail_hk
            if own:  # shelving is worth 0 to the new owner
                u_sites = np.column_stack([u_sites, np.zeros(k)])
                a_sites = np.column_stack([a_sites, yes])
            return logsum(u_sites, a_sites)

        iv_firm = inclusive(ev_firm, avail_firm)
        iv_start = inclusive(ev_start, avail_start)
        outside = np.where(
            abroad_licensee,
            beta * ev_firm[:, PilotSite.ABROAD] + spec.asc_abroad,
            beta * ev_north[:, PilotSite.PRD],
        )
        applied = m.labs.cols["applied"][b["origin_lab"][rows]]
        bonus = spec.applied_route_weight * (applied - 0.5)
        utility = np.column_stack(
            [
                np.zeros(k),
                np.where(found, iv_firm, outside) + spec.asc_license + bonus,
                iv_start + spec.asc_spin_off + bonus,
                iv_firm + spec.asc_partner + bonus,
                beta * ev_north[:, PilotSite.PRD] + spec.asc_north + bonus,
            ]
        )
        avail = np.column_stack([yes, yes, yes, found, yes])
        route = logit_choice(utility, avail, b["g"][rows, G_ROUTE]) + 1  # codes start at 1
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
        from_university = m.labs.cols["institution"][b["origin_lab"][rows]] == UNIVERSITY
        m.ledger.add("university_spinoffs", int(np.count_nonzero(spin & from_university)))
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
        b["supported"][rows[mainland]] = plat.support(mainland & offered)[mainland]
        b["owner"][rows[abroad]] = Owner.ABROAD_FIRM
        b["owner_place"][rows[abroad]] = Place.ELSEWHERE
        b["owner_row"][rows[mainland | abroad]] = -1

        going = route != Route.SHELVE
        self._choose_and_begin_pilot(rows[going], terms=terms)  # no request since the terms

    # ------------------------------------------------------------------ 1-10
    def _choose_and_begin_pilot(
        self, rows: np.ndarray, allow_platform: bool = True, terms: SiteTerms | None = None
    ) -> None:
        """Owners choose a pilot site (logit over expected values) and start or queue.

        Free Hong Kong pilot lines and PRD lines open to Hong Kong owners are taken in row
        order; an owner who finds its chosen lines full chooses again among the rest with the
        same taste shocks. A platform client whose choice without the platform would have
        been a Hong Kong pilot is marked (deadweight). ``terms``: this quarter's
        ``_site_terms()`` if the caller has them.
        """
        if rows.size == 0:
            return
        m, b = self.m, self.book
        spec = m.spec.pipeline
        mk = m.markets
        noise = b["g"][rows, G_PILOT]
        owner, place = b["owner"][rows], b["owner_place"][rows]
        cash = self._owner_finance(rows)
        terms = terms if terms is not None else self._site_terms()
        capture = self.decision_capture(owner)
        ev = self._pilot_values(rows, cash, b["supported"][rows], terms, capture)
        sectors = b["sector"][rows].astype(np.int64)
        avail = self._pilot_availability(owner, place, sectors, cash, terms)
        if not allow_platform:
            avail[:, PilotSite.HK_PLATFORM] = False
        u = spec.value_sensitivity_per_hkd_m * ev + self._site_asc(place == Place.HK)
        if spec.owner_returns:  # or do not pilot at all: the project is shelved
            u, avail, noise = with_outside_option(u, avail, noise, b["g"][rows, G_DECLINE_PILOT])
        site = logit_choice(u, avail, noise)
        # Lines are scarce: beyond the free ones, owners choose again without them.
        hk_owner_prd = owner != Owner.MAINLAND_FIRM
        for s, free, owners in (
            (PilotSite.HK_INHOUSE, mk.hk_lines_free, np.ones(rows.size, dtype=bool)),
            (PilotSite.PRD, mk.prd_lines_free, hk_owner_prd),
        ):
            chose = (site == s) & owners
            if np.count_nonzero(chose) <= free:  # all fit (the common case)
                continue
            over = chose & ~first_k(chose, free)
            if over.any():
                avail[over, s] = False
                site[over] = logit_choice(u[over], avail[over], noise[over])
        declined = site == DECLINE
        if declined.any():
            self._end(rows[declined], Status.SHELVED)
            m.ledger.add("pilots_declined", int(np.count_nonzero(declined)))
            go = ~declined
            rows, site, cash, u, avail, noise = (a[go] for a in (rows, site, cash, u, avail, noise))
            ev = ev[go]
        if spec.owner_returns:
            private = ev
        else:
            private = self._pilot_values(
                rows, cash, b["supported"][rows], terms, self.private_capture(rows)
            )
        m.ledger.add("pilot_choices", rows.size)
        negative = private[np.arange(rows.size), site] < 0
        m.ledger.add("pilot_choices_negative_private", int(np.count_nonzero(negative)))
        on_platform = site == PilotSite.HK_PLATFORM
        if on_platform.any():
            no_plat = avail[on_platform].copy()
            no_plat[:, PilotSite.HK_PLATFORM] = False
            cf = logit_choice(u[on_platform], no_plat, noise[on_platform])
            in_hk = PILOT_SITE_PLACE[np.minimum(cf, N_SITES - 1)] == Place.HK
            b["would_pilot_hk"][rows[on_platform]] = in_hk & (cf != DECLINE)
        self._begin_pilot(rows, site, cash, terms)

    def _owner_finance(self, rows: np.ndarray) -> np.ndarray:
        """What each owner can spend on a project (HKD m): startups their cash, local plants
        their finance capacity, outside firms without limit; everyone without limit when
        ``pipeline.finance_constraints`` is off."""
        b = self.book
        owner, owner_row = b["owner"][rows], b["owner_row"][rows]
        out = np.full(rows.size, np.inf)
        if not self.m.spec.pipeline.finance_constraints:
            return out
        st = owner == Owner.STARTUP
        if st.any():
            out[st] = np.maximum(self.m.startups.cols["cash_hkd_m"][owner_row[st]], 0.0)
        mf = owner == Owner.LOCAL_MANUFACTURER
        if mf.any():
            out[mf] = self.m.manufacturers.finance_capacity_hkd_m(owner_row[mf])
        return out

    def _pay(self, rows: np.ndarray, amount: np.ndarray, site_place: np.ndarray) -> None:
        """Owners pay ``amount`` (HKD m each) for work done at ``site_place`` (``Place``):
        startups from cash. Private spend is booked by owner (Hong Kong owners, anywhere)
        and by place (resources used in Hong Kong, by any owner; Hong Kong owners' spend
        outside Hong Kong), the two frames of the net benefit (``sim.metrics``)."""
        m, b = self.m, self.book
        st = b["owner"][rows] == Owner.STARTUP
        if st.any():  # beyond its cash a startup pays from a scale-up round
            cash = m.startups.cols["cash_hkd_m"]
            owners = b["owner_row"][rows[st]]
            np.subtract.at(cash, owners, np.minimum(amount[st], np.maximum(cash[owners], 0.0)))
        m.ledger.add("private_spend", float(amount.sum()))
        book_by_owner(m.ledger, "spend", b["owner"][rows], amount)
        hk_owner = b["owner_place"][rows] == Place.HK
        in_hk = site_place == Place.HK
        m.ledger.add("hk_private_spend", float(amount[hk_owner].sum()))
        m.ledger.add("hk_site_private_spend", float(amount[in_hk].sum()))
        m.ledger.add("hk_outside_private_spend", float(amount[hk_owner & ~in_hk].sum()))
        b["spent_hkd_m"][rows] += amount

    def _begin_pilot(
        self, rows: np.ndarray, site: np.ndarray, cash: np.ndarray, terms: SiteTerms
    ) -> None:
        """Start the chosen pilots, or queue for the platform; ``cash`` is the owners'
        finance as ``_owner_finance(rows)`` gave it for the choice."""
        m, b = self.m, self.book
        b["pilot_site"][rows] = site
        # Moving north early: counted once per project.
        north = (site == PilotSite.PRD) & ~b["moved_north"][rows]
        b["moved_north"][rows[north]] = True
        m.ledger.add("projects_north", int(north.sum()))
        m.ledger.add("pilots_hk_or_north", int(north.sum()))
        # Hong Kong startups that pilot in the PRD may move their headquarters north.
        st_rows = rows[
            (site == PilotSite.PRD)
            & (b["owner"][rows] == Owner.STARTUP)
            & (b["owner_place"][rows] == Place.HK)
        ]
        p_move = m.spec.pipeline.startup_relocation_probability
        moving = st_rows[b["u"][st_rows, U.RELOCATE] < p_move]
        if moving.size and not m.burning_in:
            b["owner_place"][moving] = Place.PRD
            m.startups.relocate(np.unique(b["owner_row"][moving]))
        platform = site == PilotSite.HK_PLATFORM
        if not platform.any():
            self._start_pilot(rows, cash, terms)
            return
        on_platform = rows[platform]
        admitted = m.platform.request(on_platform)
        queued = np.setdiff1d(on_platform, admitted)
        b["status"][queued] = Status.QUEUED
        b["queued_q"][queued] = 0
        # Requests change no cost or duration, only the expected wait (not used here).
        self._start_pilot(np.concatenate([rows[~platform], admitted]), terms=terms)

    def start_platform_pilots(self, rows: np.ndarray) -> None:
        """Queued projects that got a platform slot."""
        self._start_pilot(rows)

    def leave_queue(self, rows: np.ndarray) -> None:
        """Projects out of patience choose again without the platform."""
        self.book["status"][rows] = Status.ACTIVE
        self._choose_and_begin_pilot(rows, allow_platform=False)

    def _start_pilot(
        self, rows: np.ndarray, cash: np.ndarray | None = None, terms: SiteTerms | None = None
    ) -> None:
        """Pay for the pilot, take its line, set its success chance and duration.

        ``cash`` (the owners' ``_owner_finance``) and ``terms`` (the quarter's
        ``_site_terms``) are computed here unless the caller has them.
        """
        if rows.size == 0:
            return
        m, b = self.m, self.book
        spec = m.spec.pipeline
        plat = m.platform
        site = b["pilot_site"][rows].astype(np.int64)
        if cash is None:
            cash = self._owner_finance(rows)
        cost, dur_f = (terms.cost, terms.dur_f) if terms is not None else self.pilot_costs()
        need = cost[site]
        paid = np.minimum(need, cash)
        self._pay(rows, paid, PILOT_SITE_PLACE[site])
        funding = np.where(need > 0, paid / np.maximum(need, 1e-9), 1.0)
        fit = np.where(
            (site == PilotSite.PRD) & ~b["supported"][rows], spec.north_fit_unsupported, 1.0
        )
        on_platform = site == PilotSite.HK_PLATFORM
        p_base = spec.pilot_success_probability * np.where(on_platform, plat.success_factor, 1.0)
        b["p_success"][rows] = success_probability(p_base, funding * b["quality"][rows] * fit)
        b["remaining_q"][rows] = durations(
            spec.pilot_duration_mean_quarters,
            spec.duration_sigma,
            dur_f[site],
            b["z"][rows, Z.PILOT_DURATION],
        )
        b["status"][rows] = Status.ACTIVE
        b["stage"][rows] = Stage.PILOT
        b["platform_piloted"][rows] = on_platform
        m.firm_panel.pilots_started(rows, on_platform)
        mk = m.markets
        mk.take_hk_lines(int(np.count_nonzero(site == PilotSite.HK_INHOUSE)))
        prd_bases = (site == PilotSite.PRD) & (b["owner"][rows] != Owner.MAINLAND_FIRM)
        mk.take_prd_lines(int(np.count_nonzero(prd_bases)))
        gba_share = mk.prd_subsidy_share()
        if gba_share > 0:
            full = spec.pilot_cost_hkd_m * spec.prd_cost_factor
            m.ledger.add("gba_public_spend", float(prd_bases.sum()) * full * gba_share)
        n_plat = int(on_platform.sum())
        if n_plat:
            mean_q = spec.pilot_duration_mean_quarters * dur_f[PilotSite.HK_PLATFORM]
            m.ledger.add("public_spend", n_plat * plat.fee_subsidy_hkd_m(mean_q))
            m.ledger.add("platform_clients", n_plat)
            m.ledger.add("platform_deadweight", int(b["would_pilot_hk"][rows[on_platform]].sum()))
        in_hk = PILOT_SITE_PLACE[site] == Place.HK
        m.ledger.add("projects_piloted_hk", int(np.count_nonzero(in_hk)))
        m.ledger.add("pilots_hk_or_north", int(np.count_nonzero(in_hk)))
        m.ledger.add("projects_piloted_hk_private", int(np.count_nonzero(in_hk & ~on_platform)))

    # ------------------------------------------------------------------ 10-100
    def _choose_production(self, rows: np.ndarray) -> None:
        """After a successful pilot the owner chooses where to industrialise, and pays.

        The owner searches for a Hong Kong producer (the platform's clients through its
        brokerage); a Hong Kong-owned PRD factory is within reach through a Hong Kong owner
        (the platform's matching raises the chance for its clients). A site the owner cannot
        pay for is out of reach; an owner who can pay for none sells the project to an
        outside firm. Platform clients going north get follow-up support while places last.
        """
        m, b = self.m, self.book
        spec = m.spec.pipeline
        plat = m.platform
        pol = m.policies
        k = rows.size
        beta = spec.value_sensitivity_per_hkd_m
        sectors = b["sector"][rows].astype(np.int64)
        u = b["u"][rows]
        client = b["platform_piloted"][rows]
        mfr = m.manufacturers
        partner = mfr.find_partners(sectors, u[:, U.FIND_PROD], u[:, U.PICK_PROD])
        brokered = plat.broker(client & (partner < 0))
        if brokered.any():
            partner[brokered] = mfr.find_partners(
                sectors[brokered],
                u[brokered, U.BROKER],
                u[brokered, U.PICK_PROD],
                m.spec.platform.matching_search_factor,
            )

        cost_f = np.array(
            [1.0, spec.prd_cost_factor, spec.prd_cost_factor, spec.abroad_cost_factor]
        )
        cost_f[ProductionSite.HK] = m.markets.hk_engineering_cost_factor()
        cost = np.tile(spec.industrialisation_cost_hkd_m * cost_f, (k, 1))
        rfs_grant = pol.rfs.grant_hkd_m(cost[:, ProductionSite.HK])
        cost[:, ProductionSite.HK] -= rfs_grant

        # Finance: sites the owner cannot pay for are out of reach; none -> sell.
        finance = self._owner_finance(rows)
        startup = b["owner"][rows] == Owner.STARTUP
        raised = startup & (u[:, U.SCALEUP] < m.spec.startups.scaleup_finance_probability)
        finance[raised] = np.inf
        own_plant = b["owner"][rows] == Owner.LOCAL_MANUFACTURER
        # A partner plant adds its finance; asked only of rows with one (there may be none).
        partnered = ~own_plant & (partner >= 0)
        partner_finance = np.zeros(k)
        partner_finance[partnered] = mfr.finance_capacity_hkd_m(partner[partnered])
        with_partner = finance + partner_finance
        afford = cost <= finance[:, None]
        afford[:, ProductionSite.HK] = cost[:, ProductionSite.HK] <= with_partner
        hk = b["owner_place"][rows] == Place.HK
        can_produce_hk = hk & (own_plant | (partner >= 0))
        sell = ~afford[:, 1:].any(axis=1) & ~(afford[:, ProductionSite.HK] & can_produce_hk)
        if sell.any():
            self._sell(rows[sell], u[sell, U.ABROAD_LICENSEE])
            afford[sell] = True
        owner, place = b["owner"][rows], b["owner_place"][rows]
        hk = place == Place.HK
        supported = b["supported"][rows].copy()

        avail = np.zeros((k, N_SITES), dtype=bool)
        avail[:, ProductionSite.HK] = hk & ((owner == Owner.LOCAL_MANUFACTURER) | (partner >= 0))
        # A Hong Kong owner reaches a Hong Kong-owned PRD factory by itself with some chance;
        # a platform client that does not may ask the brokerage (a search from its capacity).
        linked = hk & (u[:, U.LINK] < spec.hk_owned_child_probability)
        ask = client & ~linked
        brokered_link = plat.broker(ask)
        p_client = plat.hk_owned_child_probability(spec.hk_owned_child_probability)
        linked |= brokered_link & (u[:, U.LINK] < p_client)
        # A world without Hong Kong-owned PRD factories (prd.count x scale rounds to 0) has
        # no child factory to reach.
        has_child = m.prd.cols.n > 0
        avail[:, ProductionSite.PRD_HK_OWNED] = linked & (owner != Owner.ABROAD_FIRM) & has_child
        avail[:, ProductionSite.PRD_MAINLAND] = owner != Owner.ABROAD_FIRM
        avail[:, ProductionSite.ABROAD] = owner != Owner.MAINLAND_FIRM
        avail &= afford

        # Follow-up support is offered to the platform's clients a place is left for.
        offer = plat.follow_up_offers(client & ~supported)
        fit_north = np.where(supported | offer, 1.0, spec.north_fit_unsupported)

        mc = pol.mother_factory
        mother = mc.eligible(hk, PILOT_SITE_PLACE[b["pilot_site"][rows]] == Place.HK)
        base = spec.industrialisation_success_probability
        p_base = np.where(client, plat.industrialisation_success(base), base)
        p_base = np.minimum(MAX_P, p_base * np.where(mother, mc.success_multiplier, 1.0))
        fit = np.ones((k, N_SITES))
        fit[:, ProductionSite.PRD_MAINLAND] = fit_north
        dur_f = np.array(
            [1.0, spec.prd_duration_factor, spec.prd_duration_factor, spec.abroad_duration_factor]
        )
        t = spec.industrialisation_duration_mean_quarters * dur_f
        exposed = np.zeros((k, N_SITES), dtype=bool)
        exposed[:, ProductionSite.PRD_MAINLAND] = fit_north < 1.0
        survive = np.where(exposed, (1 - spec.acclimatisation_hazard_per_quarter) ** t, 1.0)
        p = np.minimum(MAX_P, p_base[:, None] * fit) * survive
        value = self.decision_capture(owner) * self._product_value(rows)
        ev = p * value[:, None] * self.disc_q**t - cost
        asc = np.zeros((k, N_SITES))
        asc[:, ProductionSite.PRD_HK_OWNED] = np.where(hk, spec.asc_prd, 0.0)
        asc[:, ProductionSite.PRD_MAINLAND] = np.where(hk, spec.asc_prd, 0.0)
        asc[:, ProductionSite.ABROAD] = spec.asc_abroad
        u, options, noise = beta * ev + asc, avail, b["g"][rows, G_PRODUCTION]
        if spec.owner_returns:  # or do not industrialise: the project is shelved
            u, options, noise = with_outside_option(
                u, options, noise, b["g"][rows, G_DECLINE_PRODUCTION]
            )
        site = logit_choice(u, options, noise)
        none = ~avail.any(axis=1)  # nowhere to go (an overseas owner without reach): shelved
        declined = ~none & (site == DECLINE)
        if declined.any():
            m.ledger.add("industrialisations_declined", int(np.count_nonzero(declined)))
        if (none | declined).any():
            self._end(rows[none | declined], Status.SHELVED)
        go = ~none & ~declined
        rows, site, k = rows[go], site[go], int(go.sum())
        mother, p_base, fit, sectors = mother[go], p_base[go], fit[go], sectors[go]
        cost, rfs_grant, partner, owner = cost[go], rfs_grant[go], partner[go], owner[go]

        want = (site == ProductionSite.PRD_MAINLAND) & offer[go]
        b["supported"][rows[plat.support(want)]] = True
        b["production_site"][rows] = site
        producer = np.full(k, -1, dtype=np.int64)
        at_hk = site == ProductionSite.HK
        producer[at_hk] = np.where(
            owner[at_hk] == Owner.LOCAL_MANUFACTURER, b["owner_row"][rows[at_hk]], partner[at_hk]
        )
        child = site == ProductionSite.PRD_HK_OWNED
        if child.any():
            producer[child] = m.prd.pick_child(sectors[child], b["u"][rows[child], U.PICK_CHILD])
        b["producer_row"][rows] = producer
        pol.rfs.award(np.where(at_hk, rfs_grant, 0.0))

        # The antenna: a mother-factory product is sold in Hong Kong first; one whose demand
        # there falls short is not scaled up, and its industrialisation cost is saved.
        signal = np.exp(
            spec.product_value_sigma * b["z"][rows, Z.VALUE] - spec.product_value_sigma**2 / 2
        )
        stopped = mother & (signal < mc.demand_threshold)
        b["mother"][rows] = mother
        mc.book_lines(int(mother.sum()))
        chosen_cost = cost[np.arange(k), site]
        p_chosen = (
            np.minimum(MAX_P, p_base * fit[np.arange(k), site]) * survive[go][np.arange(k), site]
        )
        private = (
            p_chosen
            * self.private_capture(rows)
            * self._product_value(rows)
            * self.disc_q ** t[site]
            - chosen_cost
        )
        m.ledger.add("industrialisation_choices", int(np.count_nonzero(~stopped)))
        m.ledger.add(
            "industrialisation_choices_negative_private",
            int(np.count_nonzero((private < 0) & ~stopped)),
        )
        self._pay(rows[~stopped], chosen_cost[~stopped], PRODUCTION_SITE_PLACE[site[~stopped]])
        b["p_success"][rows] = np.where(
            stopped, 0.0, np.minimum(MAX_P, p_base * fit[np.arange(k), site])
        )
        extra = np.where(mother, mc.demand_test_quarters, 0)
        b["remaining_q"][rows] = np.where(
            stopped,
            np.maximum(extra, 1),
            durations(
                spec.industrialisation_duration_mean_quarters,
                spec.duration_sigma,
                dur_f[site],
                b["z"][rows, Z.IND_DURATION],
            )
            + extra,
        ).astype(np.int16)
        b["stage"][rows] = Stage.INDUSTRIALISATION

    def sale_price_hkd_m(self, rows: np.ndarray, abroad: np.ndarray) -> np.ndarray:
        """Price (HKD m) an outside buyer pays for a piloted project sold outright.

        The bargaining rule: the seller gets ``sale_price_share`` of the buyer's expected
        private value, ``P(industrialise) x operating surplus share x V x d^T - cost`` at
        the buyer's site (the PRD for a Mainland buyer, overseas otherwise), and nothing
        for a project worth nothing to the buyer. V is the product's present value at
        launch in its market as crowded as today, d the quarterly discount factor. A sold
        project has no follow-up support, so a Mainland buyer's chance is the one it will
        face: the unsupported fit (``north_fit_unsupported``) and the acclimatisation
        hazard over the industrialisation (7.2 of the ODD).
        """
        spec = self.m.spec.pipeline
        t = spec.industrialisation_duration_mean_quarters * np.where(
            abroad, spec.abroad_duration_factor, spec.prd_duration_factor
        )
        cost = spec.industrialisation_cost_hkd_m * np.where(
            abroad, spec.abroad_cost_factor, spec.prd_cost_factor
        )
        north = spec.north_fit_unsupported * (1 - spec.acclimatisation_hazard_per_quarter) ** t
        p = np.minimum(MAX_P, spec.industrialisation_success_probability) * np.where(
            abroad, 1.0, north
        )
        surplus = self.m.spec.value.operating_surplus_share * self._product_value(rows)
        ev = p * surplus * self.disc_q**t - cost
        return spec.sale_price_share * np.maximum(ev, 0.0)

    def _sell(self, rows: np.ndarray, u_abroad: np.ndarray) -> None:
        """Owners who can pay for no production site sell the project outright to an
        outside firm (overseas with ``licensee_abroad_share``) at ``sale_price_hkd_m``: the
        seller books the proceeds (a startup's go to its cash), the IP goes with the project
        (no royalty returns)."""
        m, b = self.m, self.book
        abroad = u_abroad < m.spec.pipeline.licensee_abroad_share
        price = self.sale_price_hkd_m(rows, abroad)
        m.ledger.add("sale_proceeds", float(price.sum()))
        m.ledger.add("hk_sale_proceeds", float(price[b["owner_place"][rows] == Place.HK].sum()))
        book_by_owner(m.ledger, "income", b["owner"][rows], price)  # the seller's
        buyer = np.where(abroad, Owner.ABROAD_FIRM, Owner.MAINLAND_FIRM)
        book_by_owner(m.ledger, "spend", buyer, price)  # the buyer's
        st = b["owner"][rows] == Owner.STARTUP
        if st.any():
            np.add.at(m.startups.cols["income_hkd_m"], b["owner_row"][rows[st]], price[st])
        b["sale_price_hkd_m"][rows] = price
        b["owner"][rows] = np.where(abroad, Owner.ABROAD_FIRM, Owner.MAINLAND_FIRM)
        b["owner_place"][rows] = np.where(abroad, Place.ELSEWHERE, Place.PRD)
        b["owner_row"][rows] = -1
        b["sold"][rows] = True
        b["supported"][rows] = False
        m.ledger.add("projects_sold", rows.size)

    def _launch(self, rows: np.ndarray) -> None:
        """Successful industrialisation: the product enters its market life."""
        m, b = self.m, self.book
        spec = m.spec.pipeline
        s = spec.product_value_sigma
        b["value_hkd_m_per_q"][rows] = (
            spec.product_value_added_hkd_m
            / QUARTERS_PER_YEAR
            * b["quality"][rows]
            * np.exp(s * b["z"][rows, Z.VALUE] - s**2 / 2)
        )
        b["remaining_q"][rows] = durations(
            spec.market_life_mean_quarters, spec.duration_sigma, 1.0, b["z"][rows, Z.MARKET_LIFE]
        )
        b["stage"][rows] = Stage.MARKET
        m.ledger.add("projects_launched", rows.size)
        from_lab = int(np.count_nonzero(b["origin_lab"][rows] >= 0))
        m.ledger.add("lab_projects_launched", from_lab)
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
