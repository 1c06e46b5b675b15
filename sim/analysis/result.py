"""What the result objects of the policy analyses share, and how one is read back.

Each analysis' ``run`` returns a frozen result (``SensitivityResult``, ``DiscoverResult``,
``InstrumentsResult``, ``DesignResult``, ``HorizonsResult``) holding its tables as
DataFrames; its figures and ``report()`` are computed from them, and ``write(folder)``
writes the tables, figures and report (its ``NAMES``). The lab records ``analysis.json``
beside them (``experiment.finish``: settings, runs, times, commit and the result's
:meth:`AnalysisResult.record`). ``read(folder)`` rebuilds the result from those files
alone, so that the index of ``pilotsim analyse`` (``report.write_index``), the notebooks and
the tests use one object whether it was computed now or committed long ago; :func:`load`
reads one by its analysis' name. :class:`Files` reads a folder's files with errors that name
the file (``Folder``, an analysis' folder; the virtual evaluation's ``Evaluation.read``
uses it too). Importing this module loads no analysis library (the command's ``--help``
stays fast).
"""

from __future__ import annotations

import dataclasses
import importlib
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Self

from sim.errors import BatchError

if TYPE_CHECKING:
    import pandas as pd

    from sim.analysis.experiment import RunCount, Settings

#: What the lab writes beside every analysis' own files (``experiment.finish``).
INFO = "analysis.json"
#: The result class of each analysis (``sizes.ANALYSES``), in its module ``sim.analysis.<name>``.
RESULT_CLASSES = {
    "sensitivity": "SensitivityResult",
    "discover": "DiscoverResult",
    "instruments": "InstrumentsResult",
    "design": "DesignResult",
    "horizons": "HorizonsResult",
}


class Files:
    """The files a pilotsim command wrote into one folder, read with errors that name the file.

    Checks on opening that the folder holds every file of ``files``; ``what`` names the
    output in the messages (``"horizons analysis"``) and ``command`` the command that
    writes it (``"pilotsim analyse horizons"``).

    Raises:
        BatchError: the folder or one of ``files`` is missing.
    """

    def __init__(self, path: str | Path, files: Sequence[str], what: str, command: str) -> None:
        self.path = Path(path)
        if not self.path.is_dir():
            raise BatchError(f"{self.path}: no such folder (of the {what})")
        missing = [f for f in files if not (self.path / f).is_file()]
        if missing:
            raise BatchError(
                f"{self.path}: {', '.join(missing)} missing: not a complete {what} "
                f"(written by `{command}`)"
            )

    def json(self, file: str) -> dict[str, Any]:
        """A JSON object of the folder."""
        try:
            data = json.loads((self.path / file).read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise BatchError(f"{self.path / file}: cannot read JSON: {e}") from None
        if not isinstance(data, dict):
            raise BatchError(f"{self.path / file}: expected a JSON object")
        return data

    def table(
        self, file: str, columns: Sequence[str] = (), index: str | None = None
    ) -> pd.DataFrame:
        """A CSV of the folder, checked for ``columns`` (and ``index``, made its index)."""
        import pandas as pd

        try:
            t = pd.read_csv(self.path / file)
        except (OSError, ValueError) as e:  # pandas' parser errors are ValueErrors
            raise BatchError(f"{self.path / file}: cannot read CSV: {e}") from None
        need = [*columns, *([index] if index else [])]
        missing = [c for c in need if c not in t.columns]
        if missing:
            raise BatchError(f"{self.path / file}: columns {missing} missing")
        return t.set_index(index) if index else t


class Folder(Files):
    """The files an analysis wrote into one folder, read with errors that name the file.

    Checks on opening that the folder holds ``analysis.json`` of analysis ``name`` and every
    file of ``files``; ``info`` is the parsed ``analysis.json``.

    Raises:
        BatchError: the folder, ``analysis.json`` or one of ``files`` is missing, or
            ``analysis.json`` is not JSON or records another analysis.
    """

    def __init__(self, path: str | Path, name: str, files: Sequence[str]) -> None:
        super().__init__(path, (INFO, *files), f"{name} analysis", f"pilotsim analyse {name}")
        self.info = self.json(INFO)
        if self.info.get("analysis") != name:
            raise BatchError(
                f"{self.path / INFO}: records analysis {self.info.get('analysis')!r}, not {name!r}"
            )

    def get(self, key: str, *alternatives: str) -> Any:
        """``analysis.json``'s ``key`` (or the first of ``alternatives`` it has)."""
        for k in (key, *alternatives):
            if k in self.info:
                return self.info[k]
        raise BatchError(f"{self.path / INFO}: no {key!r}: not written by a complete analysis")


@dataclass(frozen=True, eq=False, kw_only=True)
class AnalysisResult(ABC):
    """An analysis' result: its tables, findings and the runs behind them.

    Attributes:
        size: the analysis' size (``sim.analysis.sizes``); settings: its run settings.
        count: the lab's runs (:class:`~sim.analysis.experiment.RunCount`).
        wall_seconds: wall time of the analysis up to its result.
        code_commit: the commit of the model code the runs were made with, if known.
    """

    #: The analysis (``sizes.ANALYSES``).
    NAME: ClassVar[str]
    #: Files :meth:`write` produces (``analysis.json`` and the store are the lab's).
    NAMES: ClassVar[tuple[str, ...]]
    #: The class of its size (``sim.analysis.sizes``).
    SIZE: ClassVar[type]

    size: Any
    settings: Settings
    count: RunCount
    wall_seconds: float
    code_commit: str | None = None

    @property
    @abstractmethod
    def findings(self) -> dict[str, Any]:
        """What the analysis found, in short (printed by the CLI, in ``analysis.json``)."""

    def facts(self) -> dict[str, Any]:
        """What :meth:`read` needs beyond the tables and the lab's counts, recorded in
        ``analysis.json``."""
        return {}

    @property
    def summary(self) -> dict[str, Any]:
        """The findings with the runs used and made now and the wall time (the CLI's)."""
        return {
            "runs": self.count.used,
            "runs_done": self.count.done,
            "wall_seconds": self.wall_seconds,
            **self.findings,
        }

    def record(self) -> dict[str, Any]:
        """What ``analysis.json`` records beside the lab's counts (``experiment.finish``)."""
        return {
            "size": dataclasses.asdict(self.size),
            "wall_seconds": self.wall_seconds,
            **self.facts(),
            **self.findings,
        }

    @abstractmethod
    def figure(self) -> Any:
        """The analysis' main figure, drawn from the tables (nothing written)."""

    @abstractmethod
    def report(self) -> str:
        """The Markdown section (``report.md``), computed from the tables."""

    @abstractmethod
    def writers(self) -> dict[str, Callable[[Path], Any]]:
        """A writer of each file of :attr:`NAMES`."""

    def write(self, out: str | Path) -> list[Path]:
        """Write :attr:`NAMES` into ``out``, all or nothing."""
        from sim.provenance import write_files

        return write_files(out, self.writers())

    def write_report(self, path: Path) -> None:
        """Write :meth:`report` to ``path`` (a writer of ``report.md``)."""
        path.write_text(self.report(), encoding="utf-8")

    @classmethod
    @abstractmethod
    def fields_from(cls, files: Folder) -> dict[str, Any]:
        """The analysis' own fields, read from its files (the tables and ``analysis.json``)."""

    @classmethod
    def read(cls, folder: str | Path) -> Self:
        """The result written to ``folder`` by :meth:`write` and ``experiment.finish``.

        Raises:
            BatchError: ``folder`` misses a file, records another analysis or holds a table
                or record that is not this analysis' (the message names the file).
        """
        tables = [n for n in cls.NAMES if n.endswith((".csv", ".json"))]
        files = Folder(folder, cls.NAME, tables)
        try:
            return cls(**common_fields(files, cls.SIZE), **cls.fields_from(files))
        except BatchError:
            raise
        except (KeyError, IndexError, TypeError, ValueError) as e:
            raise BatchError(
                f"{files.path}: not a {cls.NAME} analysis this version reads "
                f"({type(e).__name__}: {e}); rerun `pilotsim analyse {cls.NAME}`"
            ) from None


def common_fields(files: Folder, size_class: type) -> dict[str, Any]:
    """The fields every result reads from ``analysis.json``: size, settings, runs, times."""
    from sim.analysis.experiment import RunCount, Settings

    s = files.get("settings")
    size = files.get("size", "sizes")  # "sizes": design and instruments before the result read
    return {
        "size": size_class(**size),
        "settings": Settings(
            float(s["scale"]),
            int(s["until"]),
            (int(s["period"][0]), int(s["period"][1])),
            int(s["root_seed"]),
        ),
        "count": RunCount(
            int(files.get("runs_done")),
            int(files.get("runs_skipped")),
            int(files.get("runs_failed")),
            float(files.get("run_seconds")),
        ),
        "wall_seconds": float(files.get("wall_seconds")),
        "code_commit": files.info.get("code_commit"),
    }


def load(name: str, folder: str | Path) -> AnalysisResult:
    """The result of analysis ``name`` (one of ``sizes.ANALYSES``) read from ``folder``,
    where ``pilotsim analyse NAME`` (or ``run``) wrote it, e.g.
    ``load("sensitivity", "results/policy_analysis/sensitivity")``: its tables as
    DataFrames, ``figure()``, ``report()``, ``summary`` and ``write(folder)``.

    Raises:
        BatchError: an unknown analysis, or a folder that misses a file, records another
            analysis or holds a malformed table (the message names the folder and file).
    """
    if name not in RESULT_CLASSES:
        raise BatchError(f"unknown analysis {name!r}; allowed: {', '.join(RESULT_CLASSES)}")
    cls = getattr(importlib.import_module(f"sim.analysis.{name}"), RESULT_CLASSES[name])
    result: AnalysisResult = cls.read(folder)
    return result
