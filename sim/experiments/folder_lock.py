"""Hold an output folder's lock without claiming the folder for a batch or a run.

``pilotsim calibrate`` and ``pilotsim validate-model`` write into ``--out``: by default the
committed ``calibration/``, which also holds files they never write (targets, priors,
data), so ``batch.claim_out_dir``'s rule (nothing but pilotsim's files) does not apply.
:func:`hold_out_dir` takes only the lock those jobs take (``batch.locked_dir``): two
calibrations, or a calibration and a compare, never write into one folder at once, and the
second is refused at once with the folder and the first one's pid. The job names what it
writes; a file of such a name that pilotsim's record (``sim.experiments.ownership``) does
not list is refused before anything is written, so a user's ``report.md`` is never
overwritten.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sim.experiments import ownership
from sim.experiments.batch import OutDirError, locked_dir
from sim.provenance import remove_temporaries


@contextmanager
def hold_out_dir(out: Path, names: Iterable[str]) -> Iterator[Path]:
    """Hold ``out``'s lock for a job that writes (and may replace or delete) ``names``.

    Temporary files in ``out`` that a killed writer left (``provenance._temp_path``'s names
    only) are removed once the lock is held: no live writer can own them. What the job
    creates is recorded as pilotsim's (``ownership.begin`` and ``end``).

    Raises:
        OutDirError: ``out`` cannot be created or written into, another pilotsim process
            holds it, or it holds a file of one of ``names`` that pilotsim did not write.
    """
    names = list(names)
    with locked_dir(out):
        remove_temporaries(out)
        foreign = ownership.unowned(out, names)
        if foreign:
            raise OutDirError(
                f"--out {out}: holds {', '.join(foreign)}, which pilotsim did not write and "
                "would overwrite; choose another --out"
            )
        ownership.begin(out)  # a job killed here is adopted by the next one (ownership)
        try:
            yield out
        finally:
            ownership.end(out)
