"""The null platform (``NoPlatform``) answers everything the model asks a platform, so the
pipeline never needs a guard (``getattr``/``hasattr``) for a platform that is off."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np

from sim.policies.platform import NoPlatform, PilotPlatform

PACKAGE = Path(__file__).resolve().parent.parent / "sim"
#: Expressions that hold the model's platform object (not the scenario's ``platform`` spec).
HOLDERS = {"m.platform", "model.platform", "self.m.platform", "self.model.platform"}


def _platform_uses() -> dict[str, set[str]]:
    """Attribute names read on the platform object anywhere in ``sim``, with their files."""
    uses: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        aliases = {"plat"}
        for node in ast.walk(tree):  # names bound to the platform: plat = m.platform
            if isinstance(node, ast.Assign) and ast.unparse(node.value) in HOLDERS:
                aliases |= {ast.unparse(t) for t in node.targets if isinstance(t, ast.Name)}
        for node in ast.walk(tree):
            if not isinstance(node, ast.Attribute):
                continue
            base = ast.unparse(node.value)
            if base in HOLDERS or base in aliases:
                uses.setdefault(node.attr, set()).add(path.name)
    return uses


def test_no_platform_has_every_member_the_model_uses() -> None:
    uses = _platform_uses()
    assert "fee_subsidy_hkd_m" in uses and "request" in uses  # the scan sees the pipeline
    missing = {a: sorted(f) for a, f in uses.items() if not hasattr(NoPlatform, a)}
    assert not missing, f"NoPlatform lacks members the model uses: {missing}"
    extra = {a for a in vars(PilotPlatform) if not a.startswith("_") and not hasattr(NoPlatform, a)}
    assert not extra & set(uses), f"PilotPlatform-only members used by the model: {extra}"


def test_pipeline_does_not_guard_platform_members() -> None:
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("getattr", "hasattr")
                and node.args
                and ast.unparse(node.args[0]) in HOLDERS | {"plat", "self.platform"}
            ):
                raise AssertionError(f"{path.name}:{node.lineno}: {ast.unparse(node)}")


def test_no_platform_costs_nothing() -> None:
    p = NoPlatform.__new__(NoPlatform)  # the null object's answers need no model state
    assert p.fee_subsidy_hkd_m(4.0) == 0.0
    assert not p.available(np.array([0, 1])).any()
    assert p.industrialisation_success(0.3) == 0.3
