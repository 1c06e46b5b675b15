"""Cost of Mesa's agent registry: default ``Model.register/deregister_agent`` vs PilotModel's.

Run from the repository root:

    .venv/bin/python benchmarks/agent_registry.py [--agents N] [--repeats R]

Creates N trivial ``mesa.Agent`` objects (``Agent.__init__`` calls ``model.register_agent``)
and removes them all (``model.deregister_agent``, as ``sim.agents.base.Population.remove``
does), on two otherwise empty models: ``mesa.Model`` with Mesa's methods, which emit
observable signals and format a debug message per agent, and ``mesa.Model`` with
``PilotModel``'s overrides, which keep the bookkeeping and skip the signals. Prints the best
of R repeats for each phase and the ratio default / ours.
"""

from __future__ import annotations

import argparse
import gc
import os
import time

import mesa

from sim.model import PilotModel


class Plain(mesa.Agent):
    """An agent with no state of its own."""


class WithPilotRegistry(mesa.Model):
    """An empty model with PilotModel's register/deregister overrides (nothing else)."""

    register_agent = PilotModel.register_agent
    deregister_agent = PilotModel.deregister_agent


def one_run(model_cls: type[mesa.Model], n: int) -> tuple[float, float, float]:
    """Seconds, on a fresh model, to create ``n`` agents, deregister them all, register again.

    The last phase calls ``model.register_agent`` on the existing agents, so it times the
    registry method alone, without ``Agent.__init__``. The cyclic garbage collector is off
    while timing, so that only the registry is measured.
    """
    model = model_cls(rng=0)
    gc.collect()
    gc.disable()
    try:
        t0 = time.perf_counter()
        agents = [Plain(model) for _ in range(n)]
        t1 = time.perf_counter()
        deregister = model.deregister_agent
        for a in agents:
            deregister(a)
        t2 = time.perf_counter()
        assert len(model.agents) == 0 and agents[-1].unique_id == n
        register = model.register_agent
        for a in agents:
            register(a)
        t3 = time.perf_counter()
    finally:
        gc.enable()
    assert len(model.agents) == n
    return t1 - t0, t2 - t1, t3 - t2


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--agents", type=int, default=50_000, help="agents created and removed")
    ap.add_argument("--repeats", type=int, default=7, help="fresh models per variant (best)")
    args = ap.parse_args(argv)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

    n = args.agents
    print(f"mesa {mesa.__version__}; {n:,} agents; best of {args.repeats} fresh models each")
    # Interleave the two variants so that machine noise hits both alike.
    runs: dict[str, list[tuple[float, float, float]]] = {"mesa": [], "pilot": []}
    for _ in range(args.repeats):
        runs["mesa"].append(one_run(mesa.Model, n))
        runs["pilot"].append(one_run(WithPilotRegistry, n))
    best = {
        k: {
            "create": min(r[0] for r in v),
            "deregister": min(r[1] for r in v),
            "register": min(r[2] for r in v),
            "create+remove": min(r[0] + r[1] for r in v),
            "register+deregister": min(r[2] + r[1] for r in v),
        }
        for k, v in runs.items()
    }
    names = {
        "mesa": "mesa.Model default (signals, debug message)",
        "pilot": "PilotModel overrides (bookkeeping only)",
    }
    cols = list(best["mesa"])
    print("seconds for all agents; last row: default / overrides")
    w = {c: len(c) + 2 for c in cols}
    print(f"{'variant':<44}" + "".join(f"{c:>{w[c]}}" for c in cols))
    for k, row in best.items():
        print(f"{names[k]:<44}" + "".join(f"{row[c]:>{w[c]}.4f}" for c in cols))
    ratios = "".join(f"{best['mesa'][c] / best['pilot'][c]:>{w[c] - 1}.1f}x" for c in cols)
    print(f"{'ratio':<44}" + ratios)
    per = {k: best[k]["register+deregister"] / n * 1e6 for k in best}
    print(
        f"registry calls per agent (register + deregister): default {per['mesa']:.2f} us, "
        f"overrides {per['pilot']:.2f} us; create = Agent.__init__ including register"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
