"""Pulumi mocks fixture: run a program under the mock runtime and inspect what it registered.

``run(program)`` executes ``program()`` as a stack body (stacks/mock_runtime.py records every
``new_resource`` call with its parent) and returns a :class:`Registered` to query by name or type.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from stacks.mock_runtime import Recorded, run_program


@dataclass
class Registered:
    """The resources one program registered."""

    records: list[Recorded]

    def named(self, name: str) -> Recorded:
        found = [r for r in self.records if r.name == name]
        assert len(found) == 1, (
            f"{name}: {len(found)} resources (have {sorted(r.name for r in self.records)})"
        )
        return found[0]

    def of_type(self, typ: str) -> list[Recorded]:
        return sorted((r for r in self.records if r.type == typ), key=lambda r: r.name)

    def children(self, parent: str) -> dict[str, str]:
        """{child name: type} of one parent."""
        return {r.name: r.type for r in self.records if r.parent == parent}

    def policy(self, name: str, key: str = "policy") -> dict[str, Any]:
        doc: dict[str, Any] = json.loads(self.named(name).inputs[key])
        return doc


@pytest.fixture
def run() -> Callable[..., Registered]:
    def _run(program: Callable[[], None], *, region: str = "eu-central-1", stack: str = "test") -> Registered:
        return Registered(run_program(program, stack=stack, region=region))

    return _run
