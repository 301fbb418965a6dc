"""The Workspace protocol: what ``paddock ephemeral`` needs from Pulumi, and nothing more.

``stacks/automation.py`` implements it over ``pulumi.automation.LocalWorkspace`` (which drives the
Pulumi CLI on a user's machine); tests implement it in memory. The command logic in
:mod:`serving.ephemeral.lifecycle` and :mod:`serving.ephemeral.reaper` only talks to this protocol.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

ProgressKind = Literal["start", "done", "failed", "log", "summary"]


@dataclass(frozen=True)
class StackRecord:
    """One stack as the backend lists it."""

    name: str
    tags: Mapping[str, str] = field(default_factory=dict)
    """Stack tags stored in the state backend (Pulumi Cloud; DIY backends since Pulumi CLI 3.211)."""
    config: Mapping[str, Any] | None = None
    """The stack's ``config:`` mapping when it is readable on this machine, else None."""
    update_in_progress: bool = False
    resource_count: int | None = None
    url: str | None = None


@dataclass(frozen=True)
class ProgressEvent:
    """One step of an ``up``/``destroy``: a resource starting or finishing, a log line or the summary."""

    kind: ProgressKind
    message: str
    resource: str = ""
    """``type::name`` of the resource, empty for logs and the summary."""
    op: str = ""
    """Engine step: ``create``, ``update``, ``delete``, ``replace``, ``same``..."""


ProgressCallback = Callable[[ProgressEvent], None]


@dataclass(frozen=True)
class BackendInfo:
    """Where stack state lives. ``pulumi_cloud`` enables the Deployments TTL schedule."""

    url: str
    user: str = ""
    pulumi_cloud: bool = False


@dataclass(frozen=True)
class OperationResult:
    """Outcome of ``up``/``destroy``: resource changes by engine step (``{"create": 41}``), outputs."""

    changes: Mapping[str, int] = field(default_factory=dict)
    outputs: Mapping[str, Any] = field(default_factory=dict)


class Workspace(Protocol):
    """Operations on Pulumi stacks of the Paddock project. Failures raise
    :class:`serving.ephemeral.errors.EphemeralError` subclasses with what to do."""

    def preflight(self, *, region: str | None, aws: bool = True) -> BackendInfo:
        """Check the Pulumi CLI and the backend login, and (``aws=True``) that AWS credentials exist,
        before anything is created or destroyed."""
        ...

    def list_stacks(self, *, ephemeral_only: bool = False) -> list[StackRecord]:
        """Every stack of the project, with tags (config only when readable here). ``ephemeral_only`` lets
        the backend leave out stacks not tagged ``paddock:ephemeral=true`` (callers still check tags)."""
        ...

    def get_stack(self, name: str) -> StackRecord | None:
        """One stack with tags (and config when readable here); None when it does not exist."""
        ...

    def create_stack(self, name: str, *, config: Mapping[str, Any], tags: Mapping[str, str]) -> None:
        """Create stack ``name`` with the ``config:`` mapping and stack tags; fail if it exists."""
        ...

    def set_config(self, name: str, config: Mapping[str, Any]) -> None:
        """Set these top-level config keys on ``name`` (other keys are kept)."""
        ...

    def set_tags(self, name: str, tags: Mapping[str, str]) -> None:
        """Set (add or overwrite) stack tags on ``name``."""
        ...

    def up(self, name: str, *, on_progress: ProgressCallback) -> OperationResult:
        """Deploy ``name``; report each step to ``on_progress``."""
        ...

    def destroy(self, name: str, *, on_progress: ProgressCallback) -> OperationResult:
        """Destroy every resource of ``name`` (a no-op when it has none)."""
        ...

    def remove_stack(self, name: str) -> None:
        """Delete the (empty) stack ``name`` and its config from the backend."""
        ...

    def set_ttl_schedule(self, name: str, *, expires_at: datetime) -> str | None:
        """On Pulumi Cloud, create or move the Deployments TTL schedule (destroy + delete the stack at
        ``expires_at``) and return a line describing it; on other backends do nothing and return None."""
        ...
