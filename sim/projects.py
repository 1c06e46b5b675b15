"""Research projects: the unit that moves through 0-1, 1-10, 10-100 and market life.

Projects are rows of one ``Columns`` table (the ``ProjectBook``); codes below are the values
of its small-integer columns, and the institution codes those of the ``institution`` column of
the research labs where projects start (``sim.agents.research_lab``). A project is never
deleted: it ends in a terminal status, so projects are conserved and every start can be
traced to its end.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np

from sim.columns import Columns

#: Institution codes of a research lab (its ``institution`` column): a project's origin
#: institution is that of its ``origin_lab``.
UNIVERSITY, RD_CENTRE, INNOHK = 0, 1, 2
INSTITUTIONS = ("university", "rd_centre", "innohk_centre")
#: Institutions whose budgets follow the GERD rows (InnoHK-style centres have their own).
FUNDED_INSTITUTIONS = (UNIVERSITY, RD_CENTRE)


class Stage(IntEnum):
    RESEARCH = 0  # 0-1, in a Hong Kong lab
    PILOT = 1  # 1-10, pilot-scale testing and application development
    INDUSTRIALISATION = 2  # 10-100, scale-up to mass production
    MARKET = 3  # market life: the product creates value added
    DONE = 4  # terminal: see Status


class Status(IntEnum):
    ACTIVE = 0
    QUEUED = 1  # waiting for a pilot-platform slot
    SHELVED = 2  # result published or left in a drawer
    FAILED = 3  # a stage failed (or its owner closed)
    ENDED = 4  # market life over


class Route(IntEnum):
    NONE = 0  # still in research
    SHELVE = 1
    LICENSE = 2
    SPIN_OFF = 3
    PARTNER = 4  # co-development with a local manufacturer
    NORTH = 5  # transferred to a Mainland firm ("Hong Kong research, used in the north")
    OWN = 6  # a startup's own project (not a lab spin-off)


class Owner(IntEnum):
    LAB = 0
    STARTUP = 1
    LOCAL_MANUFACTURER = 2
    MAINLAND_FIRM = 3
    ABROAD_FIRM = 4


class Place(IntEnum):
    HK = 0
    PRD = 1
    ELSEWHERE = 2


class PilotSite(IntEnum):
    """Where the 1-10 stage is done; the order is the column order of choice matrices."""

    HK_INHOUSE = 0
    HK_PLATFORM = 1
    PRD = 2
    ABROAD = 3


class ProductionSite(IntEnum):
    """Where the 10-100 stage and mass production are done."""

    HK = 0
    PRD_HK_OWNED = 1  # a Hong Kong-owned child factory in the PRD
    PRD_MAINLAND = 2
    ABROAD = 3


class U(IntEnum):
    """Columns of a project's uniform draws (``u``), one per event that needs one."""

    RESEARCH_OK = 0  # 0-1 succeeds
    PILOT_OK = 1  # 1-10 succeeds
    IND_OK = 2  # 10-100 succeeds
    ABROAD_LICENSEE = 3  # an outside licensee or buyer is overseas
    FIND_ROUTE = 4  # the lab's own search for a local partner succeeds
    PICK_ROUTE = 5  # which same-sector plant
    BROKER = 6  # the platform's brokered search succeeds
    FIND_PROD = 7  # the owner's search for a Hong Kong producer succeeds
    PICK_PROD = 8
    LINK = 9  # a Hong Kong-owned PRD factory is within reach
    PICK_CHILD = 10  # which Hong Kong-owned PRD factory
    RELOCATE = 11  # a startup piloting in the PRD moves north
    SCALEUP = 12  # a startup raises a scale-up round for industrialisation


class Z(IntEnum):
    """Columns of a project's standard normal draws (``z``)."""

    RESEARCH_DURATION = 0
    PILOT_DURATION = 1
    IND_DURATION = 2
    MARKET_LIFE = 3
    VALUE = 4


#: Columns of a project's Gumbel taste shocks (``g``): route choice, pilot site, production
#: site. Route codes 1..5 take columns 0..4.
G_ROUTE = slice(0, 5)
G_PILOT = slice(5, 9)
G_PRODUCTION = slice(9, 13)
#: Draws of the outside option "do not go on" (shelve) of the pilot and production choices,
#: used when owners weigh their own returns (``pipeline.owner_returns``).
G_DECLINE_PILOT = 13
G_DECLINE_PRODUCTION = 14
N_GUMBEL = 15

NO_SITE = -1
PILOT_SITE_PLACE = np.array([Place.HK, Place.HK, Place.PRD, Place.ELSEWHERE], dtype=np.int8)
PRODUCTION_SITE_PLACE = np.array([Place.HK, Place.PRD, Place.PRD, Place.ELSEWHERE], dtype=np.int8)
OWNER_PLACE = np.array([Place.HK, Place.HK, Place.HK, Place.PRD, Place.ELSEWHERE], dtype=np.int8)

PROJECT_COLUMNS: dict[str, type | np.dtype] = {
    "origin_lab": np.int32,  # lab row, -1 for a startup's own project
    "sector": np.int8,
    "quality": np.float64,  # mean-one multiplier of success effort and value
    "stage": np.int8,
    "status": np.int8,
    "route": np.int8,
    "owner": np.int8,  # Owner code
    "owner_row": np.int32,  # row in the owner's population, -1 for outside firms
    "owner_place": np.int8,  # where the owner's headquarters are
    "pilot_site": np.int8,
    "production_site": np.int8,
    "producer_row": np.int32,  # PRD factory row for PRD_HK_OWNED, else -1
    "supported": np.bool_,  # follow-up support when moved north (platform matching)
    "platform_piloted": np.bool_,
    "mother": np.bool_,  # antenna - mother factory - child factory layout
    "moved_north": np.bool_,
    "p_success": np.float64,  # success probability of the current stage, set at its start
    "remaining_q": np.int16,  # quarters left in the current stage or market life
    "queued_q": np.int16,  # quarters spent waiting for a platform slot
    "started_q": np.int16,
    "value_hkd_m_per_q": np.float64,  # value added per quarter in market before crowding
    "spent_hkd_m": np.float64,
    "sale_price_hkd_m": np.float64,  # what an outside buyer paid for it (sold projects)
    "sold": np.bool_,  # sold outright to an outside firm because the owner could not pay
    "would_pilot_hk": np.bool_,  # platform client that would have piloted in HK without it
    "acclimatisation": np.float64,  # cumulated hazard of failing north, unsupported
    # The project's own random numbers, drawn once at creation (common random numbers).
    "u": np.dtype((np.float64, len(U))),
    "z": np.dtype((np.float64, len(Z))),
    "g": np.dtype((np.float64, N_GUMBEL)),
    "e": np.float64,  # Exp(1) threshold of the acclimatisation hazard
}


def draw_project_randomness(rng: np.random.Generator, k: int) -> dict[str, np.ndarray]:
    """Every random number ``k`` new projects will use in their lives, in one batch."""
    return {
        "u": rng.random((k, len(U))),
        "z": rng.standard_normal((k, len(Z))),
        "g": rng.gumbel(size=(k, N_GUMBEL)),
        "e": rng.exponential(size=k),
    }


class ProjectBook(Columns):
    """All projects of a run, one row each."""

    def __init__(self, capacity: int = 4096) -> None:
        super().__init__(PROJECT_COLUMNS, capacity)

    def live_rows(self) -> np.ndarray:
        """Rows not yet in a terminal status (research to market life, queued included)."""
        return (self["stage"] != Stage.DONE).nonzero()[0]

    def in_stage(self, stage: Stage, status: Status = Status.ACTIVE) -> np.ndarray:
        """Rows in ``stage`` with ``status``."""
        return ((self["stage"] == stage) & (self["status"] == status)).nonzero()[0]

    def stage_counts(self) -> dict[str, int]:
        """Projects by stage and terminal status (for conservation checks)."""
        stage, status = self["stage"], self["status"]
        out = {s.name.lower(): int(np.sum((stage == s) & (stage != Stage.DONE))) for s in Stage}
        for st in (Status.SHELVED, Status.FAILED, Status.ENDED):
            out[st.name.lower()] = int(np.sum(status == st))
        out.pop("done")
        return out
