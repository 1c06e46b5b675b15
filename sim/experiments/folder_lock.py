"""Hold an output folder's lock without claiming the folder for a batch or a run.

``pilotsim calibrate`` writes its pyabc database, the database's log and its reports into
``--out``: by default the committed ``calibration/``, which also holds files that compare
and run never write (targets, priors), so ``batch.claim_out_dir`` and its checks of what a
folder holds do not apply. :func:`hold_out_dir` takes only the lock those jobs take
(``OUT/.lock``, ``flock``, ``batch._lock``): two calibrations, or a calibration and a
compare, never write into one folder at once, and the second is refused at once with the
folder and the first one's pid, before it reads or writes anything there.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sim.experiments import batch
from sim.provenance import remove_temporaries


@contextmanager
def hold_out_dir(out: Path) -> Iterator[Path]:
    """Hold ``out``'s lock (creating the folder if needed) for the duration of a job.

    Temporary files in ``out`` that a killed writer left (``provenance._temp_path``'s names
    only) are removed once the lock is held: no live writer can own them. Folders created
    here are removed again if the job leaves them empty.

    Raises:
        OutDirError: ``out`` cannot be created or written into, or another pilotsim process
            holds it (the message names the folder and that process' pid).
    """
    created = batch._make_dirs(out)
    try:
        fd = batch._lock(out)
    except BaseException:
        batch._remove_if_empty(created)
        raise
    try:
        remove_temporaries(out)
        yield out
    finally:
        batch._unlock(out, fd)
        batch._remove_if_empty(created)
