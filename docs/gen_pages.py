"""Bring the pages that live outside docs/ into the documentation site (mkdocs-gen-files).

Run by ``mkdocs build`` (``plugins: gen-files`` in mkdocs.yml), never by hand: it writes
nothing into the repository, only into the build's virtual file set, so each page has one
committed copy. Brought in: the README as the home page, the committed reports with their
figures (``results/*/report.md``, ``results/policy_analysis/*/report.md``,
``calibration/report.md``, ``calibration/stylised_facts.md``), the changelog, the
contributing guide (beside the home page, so the README's link to it works), the notebooks
(their README, and each notebook with its committed outputs, rendered by mkdocs-jupyter and
not executed) and one API reference page per public module of ``sim`` (from docstrings, by
mkdocstrings).
"""

from __future__ import annotations

from pathlib import Path

import mkdocs_gen_files

ROOT = Path(__file__).resolve().parent.parent

#: Public modules of the API reference, in the order of the navigation (mkdocs.yml).
API_MODULES = [
    "sim",
    "sim.run",
    "sim.scenario",
    "sim.params",
    "sim.model",
    "sim.pipeline",
    "sim.markets",
    "sim.spillovers",
    "sim.accounting",
    "sim.metrics",
    "sim.policies",
    "sim.experiments.compare",
    "sim.experiments.workflows",
    "sim.reporting",
    "sim.calibration.api",
    "sim.evaluation",
    "sim.analysis.result",
    "sim.analysis.sensitivity",
    "sim.analysis.discover",
    "sim.analysis.instruments",
    "sim.analysis.design",
    "sim.analysis.horizons",
]
#: Packages whose page also documents their submodules (one module per lever; the designs).
WITH_SUBMODULES = {"sim.policies", "sim.evaluation"}


def copy(src: Path, dest: str, text: str | None = None) -> None:
    """Write ``src`` (or ``text``) at ``dest`` in the site; a page's edit link goes to ``src``."""
    if text is not None:
        with mkdocs_gen_files.open(dest, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        with mkdocs_gen_files.open(dest, "wb") as f:
            f.write(src.read_bytes())
    if dest.endswith((".md", ".ipynb")):
        mkdocs_gen_files.set_edit_path(dest, str(src.relative_to(ROOT)))


def report_folder(folder: Path, pages: tuple[str, ...] = ("report.md",)) -> None:
    """A report folder: its Markdown pages and every figure beside them."""
    rel = folder.relative_to(ROOT).as_posix()
    for name in pages:
        copy(folder / name, f"{rel}/{name}")
    for png in sorted(folder.glob("*.png")):
        copy(png, f"{rel}/{png.name}")


# The README is the home page; its picture lives in docs/ already.
readme = (ROOT / "README.md").read_text(encoding="utf-8")
copy(ROOT / "README.md", "index.md", readme.replace("](docs/dashboard.png)", "](dashboard.png)"))

for report in sorted(ROOT.glob("results/*/report.md")):
    report_folder(report.parent)
for report in sorted(ROOT.glob("results/policy_analysis/*/report.md")):
    report_folder(report.parent)
report_folder(ROOT / "calibration", ("report.md", "stylised_facts.md"))
copy(ROOT / "CHANGELOG.md", "changelog.md")
copy(ROOT / "CONTRIBUTING.md", "CONTRIBUTING.md")
for png in sorted((ROOT / "calibration" / "figures").glob("*.png")):
    copy(png, f"calibration/figures/{png.name}")

copy(ROOT / "notebooks" / "README.md", "notebooks/index.md")
for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
    copy(nb, f"notebooks/{nb.name}")

for module in API_MODULES:
    path = module.replace(".", "/")
    source = ROOT / (path + ".py")
    if not source.is_file():
        source = ROOT / path / "__init__.py"
    options = "    options:\n      show_submodules: true\n" if module in WITH_SUBMODULES else ""
    copy(source, f"reference/{module}.md", f"# `{module}`\n\n::: {module}\n{options}")
