"""PilotModel's agent registry (signals skipped for speed) keeps Mesa's own bookkeeping.

``PilotModel.register_agent``/``deregister_agent`` use only Mesa's public names
(``agents``, ``agents_by_type``, ``agent_id_counter`` and ``Model.register_agent`` for the
first agent of a type). If a Mesa release changes that bookkeeping, these tests say so
instead of a run silently miscounting agents (benchmarks/agent_registry.py times it).
"""

from __future__ import annotations

import mesa

from sim.model import PilotModel

HINT = (
    "PilotModel's agent registry no longer matches Mesa {v}'s own register_agent/"
    "deregister_agent: check sim/model.py against mesa.Model in this Mesa release"
)


class A(mesa.Agent):
    pass


class B(mesa.Agent):
    pass


class WithPilotRegistry(mesa.Model):
    register_agent = PilotModel.register_agent
    deregister_agent = PilotModel.deregister_agent


def _state(model: mesa.Model, agents: list[mesa.Agent]) -> tuple:
    return (
        [a.unique_id for a in agents],
        sorted(a.unique_id for a in model.agents),
        {t.__name__: sorted(a.unique_id for a in s) for t, s in model.agents_by_type.items()},
        model.agent_id_counter,
        len(model.agents),
    )


def _scenario(model_cls: type[mesa.Model]) -> list[tuple]:
    model = model_cls(rng=0)
    agents: list[mesa.Agent] = [(A if i % 3 else B)(model) for i in range(30)]
    states = [_state(model, agents)]
    for a in agents[::4]:
        a.remove()
    states.append(_state(model, [a for a in agents if a in model.agents]))
    agents += [B(model) for _ in range(5)]
    states.append(_state(model, [a for a in agents if a in model.agents]))
    for a in list(model.agents_by_type[A]):
        a.remove()
    states.append(_state(model, list(model.agents)))
    # the sets stay Mesa's agent sets: selections and random order still work
    states.append((len(model.agents.select(lambda a: isinstance(a, B))), len(model.agents)))
    return states


def test_registry_matches_mesa() -> None:
    ours, theirs = _scenario(WithPilotRegistry), _scenario(mesa.Model)
    assert ours == theirs, HINT.format(v=mesa.__version__)


def test_registry_in_a_real_model() -> None:
    from sim.scenario import load_scenario

    model = PilotModel(load_scenario("baseline", {"run.scale": 0.05}), seed=1)
    for _ in range(8):  # two years: startups enter and exit
        model.step()
    counts = {t.__name__: len(s) for t, s in model.agents_by_type.items()}
    assert sum(counts.values()) == len(model.agents) > 0, HINT.format(v=mesa.__version__)
    ids = [a.unique_id for a in model.agents]
    assert len(set(ids)) == len(ids) and max(ids) < model.agent_id_counter


def test_batch_created_agents_match_mesa_constructor() -> None:
    """``PopulationAgent.create_rows`` sets what ``mesa.Agent.__init__`` sets: same attributes,
    consecutive ids, registered by type, and removal leaves the sets as Mesa's would."""
    from sim.agents import Startup
    from sim.scenario import load_scenario

    model = PilotModel(load_scenario("baseline", {"run.scale": 0.02}), seed=3)
    one = Startup(model, 7)
    batch = Startup.create_rows(model, [8, 9, 10])
    assert sorted(vars(one)) == sorted(vars(batch[0])), HINT.format(v=mesa.__version__)
    assert [a.row for a in batch] == [8, 9, 10] and all(a.pos is None for a in batch)
    assert [a.unique_id for a in batch] == [one.unique_id + i for i in (1, 2, 3)]
    assert model.agent_id_counter == batch[-1].unique_id + 1
    assert all(a in model.agents and a in model.agents_by_type[Startup] for a in batch)
    n = len(model.agents)
    model.deregister_agents(batch[:2])
    assert len(model.agents) == n - 2 and batch[0] not in model.agents_by_type[Startup]
    assert batch[2] in model.agents


def test_batch_registration_makes_a_new_type_set() -> None:
    """The first batch of a type goes through Mesa's ``register_agent``, which makes the set."""

    class Lone(mesa.Agent):
        pass

    model = PilotModel.__new__(PilotModel)
    mesa.Model.__init__(model, rng=0)
    agents = [object.__new__(Lone) for _ in range(3)]
    for a in agents:
        a.model, a.pos = model, None
    model.register_agents(agents)
    assert sorted(a.unique_id for a in model.agents_by_type[Lone]) == [1, 2, 3]
    assert len(model.agents) == 3
