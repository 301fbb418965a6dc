"""``paddock cost``: self-hosted $/month and $/1M tokens vs each Bedrock Claude tier, with break-even volume.

The replica is the one ``paddock size`` recommends for --context x --concurrency (or the given --gpu:
instance type or GPU id). Exit 0 ok, 1 nothing fits, 2 bad input.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from scripts.size import DEFAULT_STACK, stack_engine_version, stack_pins_geography
from serving.cost import CostReport, compare
from serving.errors import InputError, SizingError
from serving.sizing import NoFitError, plan_for_deployment
from serving.sizing.settings import ENGINES, KV_CACHE_DTYPES, QUANTIZATIONS


def _tokens(value: float | None) -> str:
    if value is None:
        return "never"
    return f"{value / 1e6:,.1f}M"


def render(report: CostReport, console: Console) -> None:
    """Print the report as rich tables."""
    head = Table(title=f"{report.model_id} on {report.instance_type} ({report.region})", show_header=False)
    head.add_column("", style="bold")
    head.add_column("")
    head.add_row(
        "total",
        f"{report.replicas} replica(s) on {report.nodes_total} node(s): ${report.total_hourly_usd:,.2f}/h = "
        f"${report.monthly_usd_total:,.0f}/month",
    )
    head.add_row(
        "per replica",
        f"${report.hourly_usd_per_replica:,.2f}/h share = ${report.monthly_usd_per_replica:,.0f}/month; "
        "first "
        f"replica ${report.first_replica_hourly_usd:,.2f}/h (whole node), added replica "
        f"${report.added_replica_hourly_usd:,.2f}/h",
    )
    head.add_row(
        "throughput",
        f"{report.decode_tokens_per_second:,.0f} decode tok/s, "
        f"{report.prefill_tokens_per_second:,.0f} prefill tok/s",
    )
    head.add_row(
        "capacity",
        f"{report.capacity_tokens_per_day / 1e6:,.1f}M tokens/day at "
        f"{report.utilization:.0%} utilisation, {report.input_output_ratio:g}:1 input:output",
    )
    head.add_row(
        "self-hosted",
        f"${report.self_hosted_usd_per_mtok:,.3f} per 1M tokens "
        f"(${report.self_hosted_usd_per_mtok_output:,.3f} per 1M output tokens)",
    )
    console.print(head)
    table = Table(title="Bedrock Claude tiers")
    for col in (
        "tier",
        "endpoint",
        "$/1M in",
        "$/1M out",
        "$/1M mix",
        "break-even 1st",
        "break-even added",
        "saving/day at capacity",
    ):
        table.add_column(col, overflow="fold")
    for t in report.tiers:
        table.add_row(
            t.name,
            t.endpoint,
            f"{t.input_usd_per_mtok:.2f}",
            f"{t.output_usd_per_mtok:.2f}",
            f"{t.blended_usd_per_mtok:.2f}",
            _tokens(t.break_even_tokens_per_day),
            _tokens(t.break_even_tokens_per_day_added_replica),
            f"${t.daily_saving_at_capacity_usd:,.0f}",
        )
    console.print(table)
    console.print(
        "- break-even (M/day = millions of tokens per day of the mix): the volume above which one always-on "
        "replica is cheaper than the tier; 1st = the "
        "first replica paying whole nodes, added = one more replica on a node already paid for; never = not "
        "within one replica's capacity",
        highlight=False,
    )
    for note in report.notes:
        console.print(f"- {note}", highlight=False)


@click.command(name="cost")
@click.option(
    "--model", required=True, help="Catalog id, known Hugging Face repo id, or path to a config.json."
)
@click.option("--context", type=int, required=True, help="Tokens per request.")
@click.option("--concurrency", type=int, required=True, help="Concurrent requests to serve.")
@click.option("--gpu", default="auto", show_default=True, help="auto, an instance type or a GPU id.")
@click.option("--engine", type=click.Choice(ENGINES), default="vllm", show_default=True)
@click.option("--engine-version", default=None, help="Default: the version --stack's image tag pins.")
@click.option(
    "--stack",
    default=None,
    help="Stack (name under stacks/ or a Pulumi.<stack>.yaml path): its image tag names the engine version "
    "(default: the ephemeral template's) and its paddock:residency decides whether the global Bedrock "
    "profile is an option.",
)
@click.option("--quantization", type=click.Choice(QUANTIZATIONS), default="none", show_default=True)
@click.option("--kv-cache-dtype", type=click.Choice(KV_CACHE_DTYPES), default="auto", show_default=True)
@click.option("--region", default="us-east-1", show_default=True)
@click.option("--utilization", type=float, default=0.6, show_default=True, help="Busy fraction of each hour.")
@click.option(
    "--input-output-ratio",
    type=float,
    default=3.0,
    show_default=True,
    help="Prompt tokens per generated token.",
)
@click.option(
    "--cache-hit-rate",
    type=float,
    default=0.0,
    show_default=True,
    help="Bedrock prompt-cache hit rate (share of prompt tokens read from the cache).",
)
@click.option(
    "--prefix-cache-hit-rate",
    type=float,
    default=None,
    help="Self-hosted prefix-cache hit rate (default: --cache-hit-rate).",
)
@click.option("--batch", is_flag=True, help="Price Bedrock batch inference (-50 %, asynchronous).")
@click.option(
    "--geography-pinned",
    is_flag=True,
    help="Compare only regional Bedrock endpoints, never the global profile (implied by a --stack whose "
    "paddock:residency does not allow global inference profiles).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def command(
    as_json: bool,
    utilization: float,
    input_output_ratio: float,
    cache_hit_rate: float,
    prefix_cache_hit_rate: float | None,
    batch: bool,
    geography_pinned: bool,
    **opts: Any,
) -> None:
    """Self-hosted $/1M tokens vs Bedrock Claude tiers, and the break-even volume."""
    try:
        stack = opts.pop("stack")
        if opts["engine_version"] is None:
            opts["engine_version"] = stack_engine_version(stack or DEFAULT_STACK, opts["engine"])[0]
        geography_pinned = geography_pinned or (stack is not None and stack_pins_geography(stack))
        plan = plan_for_deployment(**opts)
        if not plan.offered_on_demand:
            raise SizingError(
                f"{plan.instance_type} is not sold On-Demand in {plan.region}: no list price to compare "
                "(pick another --region or --gpu)"
            )
        report = compare(
            plan,
            utilization=utilization,
            input_output_ratio=input_output_ratio,
            cache_hit_rate=cache_hit_rate,
            prefix_cache_hit_rate=prefix_cache_hit_rate,
            batch=batch,
            regional_only=geography_pinned,
        )
    except InputError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except (NoFitError, SizingError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    if as_json:
        click.echo(json.dumps(report.to_dict()))
    else:
        render(report, Console())
