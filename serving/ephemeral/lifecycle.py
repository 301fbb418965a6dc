"""The ephemeral commands over a :class:`~serving.ephemeral.workspace.Workspace`: up, list, extend, down.

``up`` never leaves a half-created stack: if creating the stack or deploying it fails, what was made is
destroyed and the stack removed before the error is raised (the error says if that clean-up failed too).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from serving.ephemeral.cost import cost_so_far
from serving.ephemeral.errors import EphemeralError, NotEphemeralError, StackOperationError
from serving.ephemeral.metadata import CONFIG_KEY, TAGS_CONFIG_KEY, EphemeralMeta, MetadataError, read_meta
from serving.ephemeral.planning import UpPlan
from serving.ephemeral.ttl import TtlSpec, extended_expiry
from serving.ephemeral.workspace import BackendInfo, OperationResult, ProgressCallback, StackRecord, Workspace
from serving.errors import InputError

Warn = Callable[[str], None]


@dataclass(frozen=True)
class UpOutcome:
    """A deployed ephemeral stack."""

    stack: str
    result: OperationResult
    ttl_schedule: str | None
    """The Pulumi Cloud TTL schedule line, or None (other backend, or it could not be set: see warnings)."""


def _rollback(workspace: Workspace, stack: str, on_progress: ProgressCallback) -> str:
    """Destroy and remove ``stack``; return '' on success or what is left to clean up."""
    try:
        workspace.destroy(stack, on_progress=on_progress)
        workspace.remove_stack(stack)
    except EphemeralError as exc:
        return f" Clean-up failed too ({exc}); run `paddock ephemeral down {stack}` when the cause is fixed."
    return f" Nothing was left behind: stack {stack!r} was destroyed and removed."


def run_up(
    workspace: Workspace,
    plan: UpPlan,
    *,
    backend: BackendInfo,
    on_progress: ProgressCallback,
    warn: Warn = lambda line: None,
) -> UpOutcome:
    """Create the stack from ``plan`` and deploy it; roll back on any failure (see module doc).

    A stack that already exists under the planned name is never touched (not ours to roll back)."""
    if workspace.get_stack(plan.stack) is not None:
        raise StackOperationError(f"a stack named {plan.stack!r} already exists; run the command again")
    try:
        workspace.create_stack(plan.stack, config=plan.config, tags=plan.meta.stack_tags())
    except EphemeralError as exc:
        if workspace.get_stack(plan.stack) is not None:
            exc.message += _rollback(workspace, plan.stack, on_progress)
        raise
    schedule = None
    if backend.pulumi_cloud:
        schedule = _set_schedule(workspace, plan.stack, plan.meta.expires_at, warn)
    try:
        result = workspace.up(plan.stack, on_progress=on_progress)
    except EphemeralError as exc:
        exc.message += _rollback(workspace, plan.stack, on_progress)
        raise
    return UpOutcome(stack=plan.stack, result=result, ttl_schedule=schedule)


def _set_schedule(workspace: Workspace, stack: str, expires_at: datetime, warn: Warn) -> str | None:
    try:
        return workspace.set_ttl_schedule(stack, expires_at=expires_at)
    except EphemeralError as exc:
        warn(
            f"Pulumi Cloud TTL schedule not set ({exc}); "
            "`paddock ephemeral reap` still destroys the stack on time"
        )
        return None


@dataclass(frozen=True)
class ListedStack:
    """One row of ``paddock ephemeral list``."""

    meta: EphemeralMeta
    expired: bool
    spent_usd: float | None
    """Upper bound of $ spent so far (None when unknown)."""


def list_ephemeral(workspace: Workspace, *, now: datetime, owner: str | None = None) -> list[ListedStack]:
    """Ephemeral stacks (optionally of one owner), soonest expiry first; unreadable ones are skipped."""
    rows = []
    for record in workspace.list_stacks(ephemeral_only=True):
        try:
            meta = read_meta(record.name, record.tags, record.config)
        except MetadataError:
            continue
        if meta is None or (owner is not None and meta.owner != owner):
            continue
        spent = cost_so_far(meta.hourly_cost_usd, created_at=meta.created_at, now=min(now, meta.expires_at))
        rows.append(ListedStack(meta=meta, expired=meta.expires_at <= now, spent_usd=spent))
    return sorted(rows, key=lambda row: (row.meta.expires_at, row.meta.stack))


def _require_ephemeral(workspace: Workspace, stack: str, *, field: str) -> tuple[StackRecord, EphemeralMeta]:
    record = workspace.get_stack(stack)
    if record is None:
        raise InputError(f"no stack named {stack!r} (see `paddock ephemeral list`)", field=field)
    try:
        meta = read_meta(record.name, record.tags, record.config)
    except MetadataError as exc:
        raise NotEphemeralError(
            f"stack {stack!r} is marked ephemeral but unreadable: {exc}", field=field
        ) from exc
    if meta is None:
        raise NotEphemeralError(
            f"stack {stack!r} is not an ephemeral stack; Paddock will not touch it (use `pulumi` directly)",
            field=field,
        )
    return record, meta


def extend(
    workspace: Workspace,
    stack: str,
    spec: TtlSpec,
    *,
    now: datetime,
    backend: BackendInfo,
    warn: Warn = lambda line: None,
) -> EphemeralMeta:
    """Move the expiry of ``stack`` (see :func:`serving.ephemeral.ttl.extended_expiry`): stack tags always,
    the config file when it is on this machine, and the Pulumi Cloud TTL schedule. Resource tags on AWS
    follow at the next ``up`` of the stack."""
    record, meta = _require_ephemeral(workspace, stack, field="STACK")
    new_expiry = extended_expiry(spec, current=meta.expires_at, now=now)
    created = meta.created_at
    updated = replace(meta, expires_at=new_expiry, ttl=(new_expiry - created) if created else meta.ttl)
    workspace.set_tags(stack, updated.stack_tags())
    if record.config is not None:
        tags = record.config.get(TAGS_CONFIG_KEY)
        merged = {**(dict(tags) if isinstance(tags, dict) else {}), **updated.resource_tags()}
        workspace.set_config(stack, {CONFIG_KEY: updated.config_value(), TAGS_CONFIG_KEY: merged})
    else:
        warn(
            f"the config of {stack!r} is not on this machine: "
            "its stack tags were updated (the reaper uses them)"
        )
    if backend.pulumi_cloud:
        _set_schedule(workspace, stack, new_expiry, warn)
    return updated


def down(workspace: Workspace, stack: str, *, on_progress: ProgressCallback) -> OperationResult:
    """Destroy every resource of the ephemeral ``stack`` and remove the stack. Refuses other stacks."""
    _require_ephemeral(workspace, stack, field="STACK")
    result = workspace.destroy(stack, on_progress=on_progress)
    workspace.remove_stack(stack)
    return result
