"""No module of ``sim`` or ``benchmarks`` imports another ``sim`` module's private names.

A name with a single leading underscore is private to its module: what several modules
share is made public (the house style of reports lives in ``sim.reporting``). Every import
is checked, deferred ones inside functions and ``TYPE_CHECKING`` blocks included, relative
imports resolved. Dunder names (``__version__``) are public.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: Folders whose modules are checked.
CHECKED = ("sim", "benchmarks")


def _is_private(name: str) -> bool:
    """A single leading underscore: ``_plt`` is private, ``__version__`` is not."""
    return name.startswith("_") and not name.startswith("__")


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_sim(module: str) -> bool:
    return module == "sim" or module.startswith("sim.")


def private_imports(source: str, module: str, is_package: bool = False) -> list[tuple[int, str]]:
    """``(line, what)`` for each private name of another ``sim`` module that ``source``
    (the module ``module``; ``is_package`` for an ``__init__``) imports."""
    package = module if is_package else module.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for a in node.names:
                if _is_sim(a.name) and any(_is_private(p) for p in a.name.split(".")):
                    found.append((node.lineno, f"import {a.name}"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            if not _is_sim(target) or target == module:
                continue
            private_path = any(_is_private(p) for p in target.split("."))
            for a in node.names:
                if private_path or _is_private(a.name):
                    found.append((node.lineno, f"from {target} import {a.name}"))
    return found


def _checked_files() -> list[Path]:
    return [
        p
        for folder in CHECKED
        for p in sorted((ROOT / folder).rglob("*.py"))
        if "__pycache__" not in p.parts
    ]


def test_no_module_imports_another_modules_private_names() -> None:
    offences = [
        f"{path.relative_to(ROOT).as_posix()}:{line}: {what}"
        for path in _checked_files()
        for line, what in private_imports(
            path.read_text(encoding="utf-8"),
            _module_name(path, ROOT),
            is_package=path.name == "__init__.py",
        )
    ]
    assert not offences, (
        "imports of another module's private names (make the name public, or move what is "
        "shared to a public module such as sim.reporting):\n" + "\n".join(offences)
    )


def test_the_check_covers_the_package_and_the_benchmarks() -> None:
    files = {p.relative_to(ROOT).as_posix() for p in _checked_files()}
    assert {"sim/reporting.py", "sim/experiments/report.py"} <= files
    assert any(f.startswith("benchmarks/") for f in files)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        # deferred import inside a function, as the figures used to take the house style
        (
            "def f():\n    from sim.experiments.report import _plt, pyplot\n",
            [(2, "from sim.experiments.report import _plt")],
        ),
        # TYPE_CHECKING blocks and relative imports count too
        (
            "if TYPE_CHECKING:\n    from .compare import _render\n",
            [(2, "from sim.experiments.compare import _render")],
        ),
        (
            "from .. import calibration\nfrom ..calibration.config import _field\n",
            [(2, "from sim.calibration.config import _field")],
        ),
        ("import sim._hidden\n", [(1, "import sim._hidden")]),
        # public, dunder, non-sim and own names are fine
        ("from sim.reporting import pyplot, save_figure\n", []),
        ("from sim import __version__\n", []),
        ("from os import _exit\n", []),
        ("from sim.experiments.sweep import _own\n", []),
    ],
)
def test_checker_flags_private_imports(source: str, expected: list[tuple[int, str]]) -> None:
    assert private_imports(source, "sim.experiments.sweep") == expected
