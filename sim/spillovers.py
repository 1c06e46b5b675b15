"""Knowledge spillovers: pilots and products from Hong Kong research teach nearby firms.

Local plants and Hong Kong-owned PRD factories adopt Hong Kong technology at a base rate
(``manufacturing.adoption_rate``, ``prd.adoption_rate``). With ``spillovers.enabled``, a
``spillovers.local_share`` of that rate is owed to exposure: the pilots under way and the
products in mass production from Hong Kong research in the firm's sector, near it, per
firm of that sector and place. A pilot or product across the Hong Kong-Shenzhen boundary
counts ``spillovers.cross_border_weight`` of one on the same side (spillovers decay with
distance and borders: Keller 2002; Belenzon and Schankerman 2013). For place ``P`` and
sector ``s``::

    exposure[P, s] = (here[P, s] + w * there[P, s]) / firms[P, s]
    factor[P, s]   = (1 - local_share) + local_share * exposure[P, s] / reference[P]

where ``reference[P]`` is the exposure per firm of all sectors together in 2015Q1, at the
end of the burn-in, so the firm-weighted mean factor is 1 then: 2015 adoption equals the
base rates on average and the calibration is unchanged at its start. A platform that
brings pilots to Hong Kong thereby raises Hong Kong plants' adoption of its clients'
sectors' technology, whoever the clients are: value to firms that are not clients, which is
what makes the social return exceed the private one
(``social_private_return_ratio``). Off, or before 2015, or where there is no reference
activity, every factor is 1.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.params import SECTORS
from sim.projects import PILOT_SITE_PLACE, PRODUCTION_SITE_PLACE, Place, Stage, Status

if TYPE_CHECKING:
    from sim.model import PilotModel

#: The two places whose firms adopt: local plants (Hong Kong) and Hong Kong-owned PRD
#: factories (PRD), in this order in ``Spillovers.factor``.
ADOPTING_PLACES: tuple[int, int] = (Place.HK, Place.PRD)


class Spillovers:
    """Adoption factors by place and sector of one run, updated once a quarter."""

    def __init__(self, model: PilotModel) -> None:
        self.m = model
        n = len(SECTORS)
        #: x base adoption rate, rows ``ADOPTING_PLACES``, columns sectors
        self.factor = np.ones((len(ADOPTING_PLACES), n))
        self.reference: np.ndarray | None = None  # all-sector exposure per firm, 2015Q1

    def begin_quarter(self) -> None:
        m = self.m
        spec = m.spec.spillovers
        if not spec.enabled or m.burning_in or m.t < 0:
            return
        activity = self._activity()  # (2, sectors): HK-sited, PRD-sited
        w = spec.cross_border_weight
        exposed = activity + w * activity[::-1]
        firms = np.vstack(
            [
                self._firms(m.manufacturers.cols["sector"][m.manufacturers.alive]),
                self._firms(m.prd.cols["sector"][: m.prd.cols.n]),
            ]
        )
        if self.reference is None:  # first quarter of 2015: sectors with firms to expose
            total = firms.sum(axis=1)
            seen = np.where(firms > 0, exposed, 0.0).sum(axis=1)
            self.reference = np.where(total > 0, seen / np.maximum(total, 1), 0.0)
        ref = self.reference
        density = exposed / np.maximum(firms, 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(ref[:, None] > 0, density / ref[:, None], 1.0)
        self.factor = (1 - spec.local_share) + spec.local_share * ratio

    def _activity(self) -> np.ndarray:
        """Pilots under way and products in mass production, by site place and sector."""
        b = self.m.projects
        live = b.live_rows()
        stage, status = b["stage"][live], b["status"][live]
        n = len(SECTORS)
        out = np.zeros((len(ADOPTING_PLACES), n))
        piloting = live[(stage == Stage.PILOT) & (status == Status.ACTIVE)]
        producing = live[(stage == Stage.MARKET) & (status == Status.ACTIVE)]
        places = np.concatenate(
            [
                PILOT_SITE_PLACE[b["pilot_site"][piloting]],
                PRODUCTION_SITE_PLACE[b["production_site"][producing]],
            ]
        )
        sectors = np.concatenate([b["sector"][piloting], b["sector"][producing]])
        for i, place in enumerate(ADOPTING_PLACES):
            out[i] = np.bincount(sectors[places == place], minlength=n)
        return out

    @staticmethod
    def _firms(sectors: np.ndarray) -> np.ndarray:
        return np.bincount(sectors.astype(np.int64), minlength=len(SECTORS)).astype(float)

    def adoption_factor(self, place: int) -> np.ndarray:
        """x the base adoption rate, by sector, for firms in ``place`` (``Place.HK`` or
        ``Place.PRD``)."""
        return self.factor[ADOPTING_PLACES.index(place)]
