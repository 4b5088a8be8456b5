"""Scenario files: the schema of a simulation and the loader that turns YAML into it.

``load_scenario("scenarios/quickstart.yaml")`` gives a validated, frozen :class:`Scenario`, or
raises one :class:`ScenarioError` whose lines read ``file:line: dotted.key: message``.
"""

from .loader import ScenarioError, ScenarioIssue, load_scenario, parse_scenario
from .schema import Scenario

__all__ = ["Scenario", "ScenarioError", "ScenarioIssue", "load_scenario", "parse_scenario"]
