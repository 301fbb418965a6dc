"""In-memory stand-ins for the ephemeral tests: a Workspace speaking the real protocol, a clock, plans.

FakeWorkspace keeps stacks in a dict the way a Pulumi backend does (tags in the backend, config only
for stacks created through this workspace, resources created by ``up`` and deleted by ``destroy``)
and can be told to fail any operation with the error the real implementation raises.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from serving.ephemeral.errors import EphemeralError, StackOperationError
from serving.ephemeral.workspace import (
    BackendInfo,
    OperationResult,
    ProgressCallback,
    ProgressEvent,
    StackRecord,
)
from serving.sizing.plan import ServingPlan
from tests.plans import plan_8b_l40s

NOW = datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC)

RESOURCES = ("aws:ec2/vpc:Vpc::net", "aws:eks/cluster:Cluster::eks", "aws:eks/nodeGroup:NodeGroup::gpu")


@dataclass
class FakeStack:
    """One stack in the fake backend."""

    tags: dict[str, str] = field(default_factory=dict)
    config: dict[str, Any] | None = None
    resources: list[str] = field(default_factory=list)
    update_in_progress: bool = False


class FakeWorkspace:
    """A Workspace over a dict of stacks; ``fail[op]`` raises that error on ``op`` (once per entry)."""

    def __init__(self, *, pulumi_cloud: bool = False) -> None:
        self.stacks: dict[str, FakeStack] = {}
        self.calls: list[tuple[str, str]] = []
        self.fail: dict[str, EphemeralError] = {}
        self.schedules: dict[str, datetime] = {}
        self.preflight_aws: list[bool] = []
        self.backend = BackendInfo(
            url="https://api.pulumi.com" if pulumi_cloud else "s3://paddock-state",
            user="alice",
            pulumi_cloud=pulumi_cloud,
        )

    def _maybe_fail(self, op: str, name: str) -> None:
        self.calls.append((op, name))
        error = self.fail.pop(op, None)
        if error is not None:
            raise error

    def add(self, name: str, tags: Mapping[str, str], *, resources: int = 3, **kw: Any) -> None:
        """Put an existing stack in the backend (made by someone else)."""
        self.stacks[name] = FakeStack(tags=dict(tags), resources=list(RESOURCES[:resources]), **kw)

    def _get(self, name: str) -> FakeStack:
        if name not in self.stacks:
            raise StackOperationError(f"no stack named {name!r} found")
        return self.stacks[name]

    def preflight(self, *, region: str | None, aws: bool = True) -> BackendInfo:
        self.preflight_aws.append(aws)
        self._maybe_fail("preflight", region or "")
        return self.backend

    def _record(self, name: str, stack: FakeStack) -> StackRecord:
        return StackRecord(
            name=name,
            tags=dict(stack.tags),
            config=None if stack.config is None else dict(stack.config),
            update_in_progress=stack.update_in_progress,
            resource_count=len(stack.resources),
        )

    def list_stacks(self, *, ephemeral_only: bool = False) -> list[StackRecord]:
        """Like ``pulumi stack ls --tag-filter paddock:ephemeral=true`` when ``ephemeral_only``."""
        self._maybe_fail("list", "")
        return [
            self._record(n, s)
            for n, s in self.stacks.items()
            if not ephemeral_only or s.tags.get("paddock:ephemeral") == "true"
        ]

    def get_stack(self, name: str) -> StackRecord | None:
        self._maybe_fail("get", name)
        stack = self.stacks.get(name)
        return None if stack is None else self._record(name, stack)

    def create_stack(self, name: str, *, config: Mapping[str, Any], tags: Mapping[str, str]) -> None:
        if name in self.stacks:
            raise StackOperationError(f"stack {name!r} already exists")
        if "create-early" in self.fail:  # fails before the backend made anything
            self._maybe_fail("create-early", name)
        self.stacks[name] = FakeStack(tags={}, config={})
        self._maybe_fail("create", name)
        self.stacks[name].config = dict(config)
        self.stacks[name].tags = dict(tags)

    def set_config(self, name: str, config: Mapping[str, Any]) -> None:
        self._maybe_fail("set_config", name)
        stack = self._get(name)
        stack.config = {**(stack.config or {}), **config}

    def set_tags(self, name: str, tags: Mapping[str, str]) -> None:
        self._maybe_fail("set_tags", name)
        self._get(name).tags.update(tags)

    def up(self, name: str, *, on_progress: ProgressCallback) -> OperationResult:
        stack = self._get(name)
        for index, resource in enumerate(RESOURCES):
            if resource not in stack.resources:
                on_progress(ProgressEvent(kind="start", message="creating", resource=resource, op="create"))
                stack.resources.append(resource)
                if index == 1 and "up" in self.fail:
                    self._maybe_fail("up", name)
                on_progress(ProgressEvent(kind="done", message="created", resource=resource, op="create"))
        self.calls.append(("up", name))
        on_progress(ProgressEvent(kind="summary", message=f"{len(RESOURCES)} created"))
        return OperationResult(changes={"create": len(RESOURCES)}, outputs={"stack": name})

    def destroy(self, name: str, *, on_progress: ProgressCallback) -> OperationResult:
        self._maybe_fail("destroy", name)
        stack = self._get(name)
        deleted = len(stack.resources)
        for resource in reversed(stack.resources):
            on_progress(ProgressEvent(kind="done", message="deleted", resource=resource, op="delete"))
        stack.resources.clear()
        return OperationResult(changes={"delete": deleted})

    def remove_stack(self, name: str) -> None:
        self._maybe_fail("remove", name)
        stack = self._get(name)
        if stack.resources:
            raise StackOperationError(f"stack {name!r} still has {len(stack.resources)} resources")
        del self.stacks[name]
        self.schedules.pop(name, None)

    def set_ttl_schedule(self, name: str, *, expires_at: datetime) -> str | None:
        self._maybe_fail("ttl", name)
        if not self.backend.pulumi_cloud:
            return None
        self.schedules[name] = expires_at
        return f"Pulumi Cloud TTL schedule: destroy {name} at {expires_at.isoformat()}"


def make_plan(**overrides: Any) -> ServingPlan:
    """Llama-3.1-8B on one L40S (g6e.xlarge) at $1.90/h (tests/plans.py's plan); override any field."""
    return plan_8b_l40s(**{"hourly_cost_usd": 1.90, **overrides})
