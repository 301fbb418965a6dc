"""Run a program under mocks and record, per resource, the names of the resources it waits for.

The mock monitor's ``RegisterResource`` request carries ``dependencies``: the URNs of every resource in the
registration's ``depends_on`` (a component expands to its custom children) and of every resource whose
outputs feed its inputs, exactly what the engine orders on. This is what tests of creation order assert on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.runtime import settings as pulumi_settings
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from stacks import ensure_event_loop
from stacks.mock_runtime import RecordingMocks, RecordingMonitor


def _name(urn: str) -> str:
    return urn.rsplit("::", 1)[-1]


class DepsMonitor(RecordingMonitor):
    """RecordingMonitor that also keeps each registration's dependencies and aliases."""

    def __init__(self, mocks: RecordingMocks) -> None:
        super().__init__(mocks)
        self.deps: dict[str, set[str]] = {}
        self.types: dict[str, str] = {}
        self.aliases: dict[str, list[Any]] = {}

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            self.deps[request.name] = {_name(u) for u in request.dependencies}
            self.types[request.name] = request.type
            self.aliases[request.name] = list(request.aliases)
        return response


@dataclass
class Graph:
    """What a program registered: dependencies (name -> names) and inputs per resource."""

    deps: dict[str, set[str]]
    types: dict[str, str]
    inputs: dict[str, dict[str, Any]]
    aliases: dict[str, list[Any]] = field(default_factory=dict)

    def waits(self, name: str) -> set[str]:
        assert name in self.deps, f"{name} not registered (have {sorted(self.deps)})"
        return self.deps[name]

    def of_type(self, suffix: str) -> list[str]:
        return sorted(n for n, t in self.types.items() if t.endswith(suffix))


def run_graph(
    program: Callable[[], None],
    *,
    stack: str = "test",
    region: str = "eu-central-1",
    config: Mapping[str, str] | None = None,
) -> Graph:
    """Run ``program`` as a stack body under mocks (like stacks.mock_runtime.run_program)."""
    ensure_event_loop()
    pulumi_settings.ROOT.set(None)
    mocks = RecordingMocks(region)
    monitor = DepsMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, project="paddock", stack=stack, preview=False, monitor=monitor)
    pulumi.runtime.set_all_config(dict(config or {}))
    pulumi_settings.SETTINGS.rpc_manager.clear()
    pulumi_settings.SETTINGS.outputs.clear()
    _sync_await(run_pulumi_func(program))
    inputs = {r.name: r.inputs for r in monitor.records}
    return Graph(deps=monitor.deps, types=monitor.types, inputs=inputs, aliases=monitor.aliases)
