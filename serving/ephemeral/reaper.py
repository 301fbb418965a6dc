"""The reaper: destroy every expired ephemeral stack, and nothing else.

Safe on a schedule. A stack is destroyed only when ALL of these hold:
  * the backend tag ``paddock:ephemeral`` is ``"true"`` (config files are never trusted here),
  * its name has the ephemeral shape ``eph-<owner>-<hash6>``,
  * its ``paddock:expires-at`` tag parses and is at or before ``now``,
  * no update is running on it.
Anything else is kept, with the reason. Idempotent: a destroyed stack is also removed, so the next run
does not see it; if removal failed, the next run destroys nothing more (no resources) and removes it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from serving.ephemeral.errors import EphemeralError
from serving.ephemeral.metadata import EphemeralMeta, MetadataError, read_meta
from serving.ephemeral.naming import looks_ephemeral
from serving.ephemeral.ttl import format_duration, format_timestamp
from serving.ephemeral.workspace import ProgressCallback, StackRecord, Workspace

Action = Literal["destroy", "keep"]
STUCK_AFTER = timedelta(hours=2)
"""An expired stack still "updating" this long after expiry is reported stuck (the reaper never cancels)."""


@dataclass(frozen=True)
class ReapDecision:
    """What the reaper does with one stack, and why."""

    stack: str
    action: Action
    reason: str
    meta: EphemeralMeta | None = None
    stuck: bool = False
    """Expired for over STUCK_AFTER while an update still runs: likely a crashed ``up`` holding the lock."""


Status = Literal["reaped", "already-gone", "kept-on-recheck", "destroy-failed", "remove-failed"]


@dataclass(frozen=True)
class ReapOutcome:
    """What happened to one stack the reaper decided to destroy."""

    stack: str
    status: Status
    detail: str = ""


@dataclass(frozen=True)
class ReapReport:
    """Every decision and, unless a dry run, every outcome."""

    decisions: tuple[ReapDecision, ...]
    outcomes: tuple[ReapOutcome, ...] = field(default=())
    dry_run: bool = False

    @property
    def stuck(self) -> tuple[ReapDecision, ...]:
        """Expired stacks an update has held for over STUCK_AFTER (they need a person)."""
        return tuple(d for d in self.decisions if d.stuck)

    @property
    def failed(self) -> tuple[ReapOutcome, ...]:
        """Outcomes where a destroy or a removal failed."""
        return tuple(o for o in self.outcomes if o.status in ("destroy-failed", "remove-failed"))


def decide(record: StackRecord, *, now: datetime) -> ReapDecision:
    """The reaper's decision for one stack at ``now`` (pure)."""
    try:
        meta = read_meta(record.name, record.tags, None, allow_config=False)
    except MetadataError as exc:
        return ReapDecision(record.name, "keep", f"marked ephemeral but unreadable: {exc}")
    if meta is None:
        return ReapDecision(record.name, "keep", "not an ephemeral stack")
    if not looks_ephemeral(record.name):
        return ReapDecision(
            record.name, "keep", "tagged ephemeral but the name is not eph-<owner>-<hash>", meta
        )
    if meta.expires_at > now:
        left = format_duration(meta.expires_at - now)
        return ReapDecision(
            record.name, "keep", f"expires {format_timestamp(meta.expires_at)} (in {left})", meta
        )
    if record.update_in_progress:
        if now - meta.expires_at < STUCK_AFTER:
            return ReapDecision(record.name, "keep", "expired, but an update is running; next run", meta)
        return ReapDecision(
            record.name,
            "keep",
            f"expired {format_duration(now - meta.expires_at)} ago and an update still holds the stack: if "
            f"nothing is deploying it, run `pulumi cancel --stack {record.name}`; the next run destroys it",
            meta,
            stuck=True,
        )
    late = format_duration(now - meta.expires_at)
    return ReapDecision(
        record.name, "destroy", f"expired {format_timestamp(meta.expires_at)} ({late} ago)", meta
    )


def plan_reap(records: Sequence[StackRecord], *, now: datetime) -> tuple[ReapDecision, ...]:
    """Decisions for every stack, sorted by name."""
    return tuple(decide(r, now=now) for r in sorted(records, key=lambda r: r.name))


def _reap_one(
    workspace: Workspace, stack: str, *, now: datetime, on_progress: ProgressCallback
) -> ReapOutcome:
    current = workspace.get_stack(stack)
    if current is None:
        return ReapOutcome(stack, "already-gone")
    recheck = decide(current, now=now)
    if recheck.action != "destroy":
        return ReapOutcome(stack, "kept-on-recheck", recheck.reason)
    try:
        workspace.destroy(stack, on_progress=on_progress)
    except EphemeralError as exc:
        return ReapOutcome(stack, "destroy-failed", str(exc))
    try:
        workspace.remove_stack(stack)
    except EphemeralError as exc:
        return ReapOutcome(stack, "remove-failed", str(exc))
    return ReapOutcome(stack, "reaped")


def reap(
    workspace: Workspace,
    *,
    now: datetime,
    dry_run: bool = False,
    on_progress: ProgressCallback = lambda event: None,
    on_stack: Callable[[ReapDecision], None] = lambda decision: None,
) -> ReapReport:
    """Destroy and remove every expired ephemeral stack (see module doc); one failure does not stop the
    others. Each stack is re-read and re-decided right before its destroy (someone may have extended it
    since the listing). ``on_stack`` is called before each destroy."""
    decisions = plan_reap(workspace.list_stacks(ephemeral_only=True), now=now)
    if dry_run:
        return ReapReport(decisions=decisions, dry_run=True)
    outcomes = []
    for decision in decisions:
        if decision.action == "destroy":
            on_stack(decision)
            outcomes.append(_reap_one(workspace, decision.stack, now=now, on_progress=on_progress))
    return ReapReport(decisions=decisions, outcomes=tuple(outcomes))
