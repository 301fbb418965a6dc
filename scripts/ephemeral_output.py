"""Rich output of ``paddock ephemeral``: the plan summary, resource progress, list and reap tables."""

from __future__ import annotations

from datetime import datetime

from rich.console import Console
from rich.table import Table

from serving.ephemeral.cost import format_usd
from serving.ephemeral.lifecycle import ListedStack
from serving.ephemeral.planning import UpPlan
from serving.ephemeral.reaper import ReapReport
from serving.ephemeral.ttl import format_duration, format_timestamp
from serving.ephemeral.workspace import ProgressEvent


def plan_table(plan: UpPlan, *, now: datetime) -> Table:
    """What ``up`` will create and what it costs, shown before anything happens."""
    sp, cost = plan.serving, plan.cost
    table = Table(title=f"Ephemeral stack {plan.stack}", show_header=False, title_justify="left")
    table.add_column("key", style="bold")
    table.add_column("value", overflow="fold")
    gpus = sp.gpus_per_node * sp.nodes_per_replica
    rows = [
        ("owner", plan.meta.owner),
        ("model", f"{plan.meta.model} ({sp.engine} {sp.engine_version})"),
        ("instance", f"{sp.instance_type or '?'} ({gpus}x {sp.gpu}, TP={sp.tensor_parallel_size})"),
        ("context", f"{sp.max_model_len} tokens, max {sp.max_num_seqs} sequences"),
        ("capacity", plan.capacity_type),
        ("replicas", "0-1 (scale to zero when idle)" if plan.replicas_min == 0 else "1 (kept warm)"),
        ("region", plan.region),
        (
            "expires",
            f"{format_timestamp(plan.meta.expires_at)} (in {format_duration(plan.meta.expires_at - now)})",
        ),
        (
            "$/hour",
            f"{format_usd(cost.hourly_usd)} while a replica runs (GPU {format_usd(cost.gpu_hourly_usd)}"
            f" + EKS control plane {format_usd(cost.control_plane_hourly_usd)}"
            + (f" + NAT gateway {format_usd(cost.nat_hourly_usd)}" if cost.nat_hourly_usd else "")
            + ")",
        ),
        (
            f"total for {format_duration(cost.ttl)}",
            f"at most {format_usd(cost.total_for_ttl_usd)}"
            + (
                f", at least {format_usd(cost.floor_for_ttl_usd)} if it stays scaled to zero"
                if plan.replicas_min == 0
                else ""
            ),
        ),
    ]
    for key, value in rows:
        table.add_row(key, value)
    return table


def plan_notes(plan: UpPlan) -> list[str]:
    """Caveats printed under the plan table."""
    notes = [f"GPU $/hour: the sizing catalog's {plan.capacity_type} price in {plan.region} for one replica."]
    if plan.capacity_type == "spot":
        notes.append("Spot: the price moves, and the node can be reclaimed at 2 minutes' notice.")
    if plan.replicas_min == 0:
        notes.append(
            "Scale to zero: GPU hours are billed only while a replica runs; a cold start waits for a node."
        )
    if plan.serving.hourly_cost_usd is None:
        notes.append("No price is known for this instance in this region: totals are unknown.")
    notes.extend(plan.serving.notes)
    return notes


class ProgressPrinter:
    """Prints one line per finished resource step (``+ create``, ``- delete``...) with a running count."""

    SYMBOLS = {"create": "+", "delete": "-", "update": "~", "replace": "+-", "same": "=", "read": ">"}

    def __init__(self, console: Console, verb: str) -> None:
        self.console = console
        self.verb = verb
        self.done = 0
        self.failed = 0

    def __call__(self, event: ProgressEvent) -> None:
        if event.kind == "done":
            self.done += 1
            symbol = self.SYMBOLS.get(event.op, "*")
            self.console.print(f"  {symbol} {event.op:<7} {event.resource}", markup=False, highlight=False)
        elif event.kind == "failed":
            self.failed += 1
            self.console.print(f"  ! failed  {event.resource}: {event.message}", style="red", markup=False)
        elif event.kind == "log":
            self.console.print(f"    {event.message}", style="dim", markup=False, highlight=False)
        elif event.kind == "summary":
            self.console.print(f"{self.verb}: {event.message}", markup=False)


def list_table(rows: list[ListedStack], *, now: datetime) -> Table:
    """``paddock ephemeral list``."""
    table = Table(title="Ephemeral stacks", title_justify="left")
    for column in ("stack", "owner", "model", "expires (UTC)", "left", "$/hour", "$ so far (max)"):
        table.add_column(column, overflow="fold")  # stack names are copied into extend/down
    for row in rows:
        meta = row.meta
        left = "EXPIRED" if row.expired else format_duration(meta.expires_at - now)
        table.add_row(
            meta.stack,
            meta.owner,
            meta.model or "?",
            format_timestamp(meta.expires_at),
            left,
            format_usd(meta.hourly_cost_usd),
            format_usd(row.spent_usd),
        )
    return table


def reap_table(report: ReapReport) -> Table:
    """Every stack the reaper looked at: what it decided and what happened."""
    outcomes = {o.stack: o for o in report.outcomes}
    table = Table(
        title="Reaper (dry run: nothing destroyed)" if report.dry_run else "Reaper", title_justify="left"
    )
    for column in ("stack", "decision", "reason", "result"):
        table.add_column(column, overflow="fold")
    for decision in report.decisions:
        outcome = outcomes.get(decision.stack)
        result = "" if outcome is None else outcome.status + (f": {outcome.detail}" if outcome.detail else "")
        if report.dry_run and decision.action == "destroy":
            result = "would destroy"
        table.add_row(decision.stack, decision.action, decision.reason, result)
    return table
