"""The library's error types (a leaf module: imports nothing from ``sim``).

Every error the library raises for bad input derives from :class:`PilotsimError`; the
``pilotsim`` command (``sim/cli.py``) maps them to exit codes in one place. Each type is
also importable from the module that raises it (``sim.scenario.ScenarioError``,
``sim.experiments.batch.BatchError`` ...). The ``ValueError`` base of the input errors is
kept so that code catching ``ValueError`` keeps working.
"""

from __future__ import annotations

from pathlib import Path


class PilotsimError(Exception):
    """Base of the library's errors: bad input or settings, reported without a traceback."""


class UsageError(PilotsimError):
    """Bad command-line or API arguments (an option's value, a combination of options)."""


class ScenarioError(PilotsimError, ValueError):
    """A scenario that cannot be loaded; the message names file, key and what is allowed."""

    def __init__(self, file: str | Path | None, message: str, key: str | None = None) -> None:
        self.file = str(file) if file is not None else "<overrides>"
        self.key = key
        where = f"{self.file}: " + (f"key '{key}': " if key else "")
        super().__init__(where + message)


class CalibrationError(ScenarioError):
    """Bad calibration input; the message names the file, the key and what is allowed."""


class BatchError(PilotsimError, ValueError):
    """Bad batch settings; the message names the option and what is allowed."""


class StoreError(PilotsimError, ValueError):
    """A store folder that cannot be used; the message names the file."""


class ExecutorError(PilotsimError, ValueError):
    """An executor that cannot be made (bad option, Dask missing, scheduler unreachable)."""
