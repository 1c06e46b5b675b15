"""The four agent types; each module holds a Mesa agent class and its vectorised population."""

from sim.agents.local_manufacturer import LocalManufacturer, LocalManufacturers
from sim.agents.prd_factory import PRDFactories, PRDFactory
from sim.agents.research_lab import ResearchLab, ResearchLabs
from sim.agents.startup import Startup, Startups

__all__ = [
    "LocalManufacturer",
    "LocalManufacturers",
    "PRDFactories",
    "PRDFactory",
    "ResearchLab",
    "ResearchLabs",
    "Startup",
    "Startups",
]
