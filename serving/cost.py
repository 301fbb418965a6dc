"""Self-hosted cost vs Bedrock Claude: $/month, $/1M tokens, and the break-even volume, stated honestly.

Traffic is a mix of ``input_output_ratio`` prompt tokens per generated token. A replica spends
1/decode_tps GPU-seconds per output token and ratio x (1 - prefix hit rate)/prefill_tps per output token's
prompt share (prefix caching skips the cached part of each prompt), where prefill is compute-bound (55 % of
dense peak, as in the decode estimate). Self-hosted $/1M tokens is at ``utilization`` of each hour.

First replica vs added replica: the first replica pays for whole nodes (a g6e.12xlarge is paid in full even if
the replica uses one of its four GPUs); a further replica that packs onto the free GPUs of that node costs
only its share. The break-even volume is quoted for both: where one always-on first replica costs what
Bedrock charges for the same tokens, and where an added replica does. Either exists only if that volume fits
in the replica's capacity; otherwise Bedrock stays cheaper at every volume one replica can serve.

Bedrock options: prompt caching with a cache-hit rate h (share of prompt tokens read from the cache at 0.1x
the input price; the rest is assumed to be written at 1.25x, an upper bound on write cost), and batch
inference (-50 %, asynchronous: not an option for interactive traffic). A stack pinned to one geography
(``regional_only``) is only offered the regional endpoint's price: the global cross-region profile may route
outside the geography.

The Claude tiers are not the same quality as the self-hosted model: a break-even against Opus does not make an
8B model an Opus substitute. Compare tiers you would actually accept.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from serving.catalog import BedrockPrice, bedrock_options, bedrock_prices, get_gpu, get_model
from serving.errors import InputError, SizingError
from serving.sizing.estimates import COMPUTE_EFFICIENCY
from serving.sizing.plan import ServingPlan
from serving.sizing.weights import active_params_per_token

HOURS_PER_MONTH = 730.0
QUALITY_NOTE = (
    "the Claude tiers are not the same quality as the self-hosted model: a break-even is a price comparison, "
    "not a substitute; compare only tiers whose answers you would accept"
)


@dataclass(frozen=True, kw_only=True)
class TierComparison:
    """One Bedrock Claude tier (global or regional endpoint) against the self-hosted replica."""

    tier: str
    name: str
    endpoint: str
    """``global`` or ``regional`` (geo/in-Region profiles, +premium)."""
    input_usd_per_mtok: float
    """Effective input price after prompt caching and batch (list price x factors)."""
    output_usd_per_mtok: float
    blended_usd_per_mtok: float
    """Bedrock $ per 1M tokens of the traffic mix."""
    break_even_tokens_per_day: float | None
    """Tokens/day (mix) above which one always-on FIRST replica (whole nodes) is cheaper; None when never
    within its capacity."""
    break_even_tokens_per_day_added_replica: float | None
    """The same for a replica added onto free GPUs of a node already paid for (its share of the node)."""
    daily_saving_at_capacity_usd: float
    """Bedrock cost minus first-replica cost per day with the replica at its capacity (negative = loss)."""


@dataclass(frozen=True, kw_only=True)
class CostReport:
    """Self-hosted economics of one plan, compared with every Bedrock tier."""

    model_id: str
    instance_type: str
    region: str
    replicas: int
    nodes_total: int
    total_hourly_usd: float
    """Every node of the plan, $/h."""
    first_replica_hourly_usd: float
    """What the first replica costs: its whole node(s), $/h."""
    added_replica_hourly_usd: float
    """What one more replica costs: its share of a node when it packs onto free GPUs, else whole nodes."""
    hourly_usd_per_replica: float
    """The plan's per-replica share of its nodes, $/h."""
    monthly_usd_per_replica: float
    """hourly share x 730 h."""
    monthly_usd_total: float
    decode_tokens_per_second: float
    prefill_tokens_per_second: float
    utilization: float
    input_output_ratio: float
    cache_hit_rate: float
    """Bedrock prompt-cache hit rate assumed (0 = no caching)."""
    prefix_cache_hit_rate: float
    """Self-hosted prefix-cache hit rate assumed (prompt share not recomputed)."""
    batch: bool
    capacity_tokens_per_day: float
    """Tokens/day (mix) one replica serves at ``utilization``."""
    self_hosted_usd_per_mtok: float
    """$ per 1M tokens of the mix at ``utilization`` (replica share)."""
    self_hosted_usd_per_mtok_output: float
    """$ per 1M generated tokens, prompts included in the GPU time, at ``utilization`` (replica share)."""
    tiers: tuple[TierComparison, ...]
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)


def prefill_tokens_per_second(plan: ServingPlan) -> float:
    """Compute-bound prompt throughput of one replica (tokens/s)."""
    model = get_model(plan.model_id)
    gpu = get_gpu(plan.gpu)
    peak = gpu.fp8_tflops if plan.quantization == "fp8" and gpu.fp8_tflops else gpu.bf16_tflops
    gpus = plan.tensor_parallel_size * plan.pipeline_parallel_size
    return peak * 1e12 * COMPUTE_EFFICIENCY * gpus / (2 * active_params_per_token(model))


def _rate(name: str, value: float) -> float:
    if not 0 <= value <= 1:
        raise InputError(f"must be in [0, 1], got {value}", field=name)
    return value


def _bedrock(
    price: BedrockPrice, *, regional: bool, cache_hit_rate: float, batch: bool
) -> tuple[float, float]:
    """Effective (input, output) $/1M tokens with prompt caching and batch applied."""
    opts = bedrock_options()
    cin, cout = price.price(regional=regional)
    if cache_hit_rate > 0:
        cin *= cache_hit_rate * opts.cache_read_factor + (1 - cache_hit_rate) * opts.cache_write_factor
    if batch:
        cin, cout = cin * opts.batch_factor, cout * opts.batch_factor
    return cin, cout


def _break_even(hourly: float, blended: float, capacity: float) -> float | None:
    volume = hourly * 24 / blended * 1e6
    return round(volume) if volume <= capacity else None


def compare(
    plan: ServingPlan,
    *,
    utilization: float = 0.6,
    input_output_ratio: float = 3.0,
    cache_hit_rate: float = 0.0,
    prefix_cache_hit_rate: float | None = None,
    batch: bool = False,
    regional_only: bool = False,
) -> CostReport:
    """Cost report for ``plan`` (which must have an instance and a price) against each Bedrock tier.

    ``prefix_cache_hit_rate`` defaults to ``cache_hit_rate`` (the same prompts hit both caches)."""
    if not 0 < utilization <= 1:
        raise InputError(f"must be in (0, 1], got {utilization}", field="--utilization")
    if input_output_ratio < 0:
        raise InputError(f"must be >= 0, got {input_output_ratio}", field="--input-output-ratio")
    hit = _rate("--cache-hit-rate", cache_hit_rate)
    prefix = _rate("--prefix-cache-hit-rate", hit if prefix_cache_hit_rate is None else prefix_cache_hit_rate)
    if (
        plan.hourly_cost_usd is None
        or plan.total_hourly_cost_usd is None
        or plan.instance_type is None
        or plan.region is None
    ):
        raise SizingError("the plan has no instance price in the catalog; cost cannot be compared")
    if plan.decode_tokens_per_second <= 0:
        raise SizingError("the plan has no decode throughput estimate")
    prefill = prefill_tokens_per_second(plan)
    seconds_per_output = 1 / plan.decode_tokens_per_second + input_output_ratio * (1 - prefix) / prefill
    mix = 1 + input_output_ratio
    capacity = 86400 * utilization / seconds_per_output * mix
    share = plan.hourly_cost_usd
    node = plan.total_hourly_cost_usd / max(1, plan.nodes_total)
    first = node * plan.nodes_per_replica
    added = share if plan.replicas_per_node > 1 else first
    per_mtok = share / 3600 * seconds_per_output / utilization * 1e6 / mix
    endpoints = (("regional", True),) if regional_only else (("global", False), ("regional", True))
    tiers = []
    for price in bedrock_prices().values():
        for endpoint, regional in endpoints:
            cin, cout = _bedrock(price, regional=regional, cache_hit_rate=hit, batch=batch)
            blended = (input_output_ratio * cin + cout) / mix
            tiers.append(
                TierComparison(
                    tier=price.id,
                    name=price.name,
                    endpoint=endpoint,
                    input_usd_per_mtok=round(cin, 4),
                    output_usd_per_mtok=round(cout, 4),
                    blended_usd_per_mtok=round(blended, 4),
                    break_even_tokens_per_day=_break_even(first, blended, capacity),
                    break_even_tokens_per_day_added_replica=_break_even(added, blended, capacity),
                    daily_saving_at_capacity_usd=round(capacity * blended / 1e6 - first * 24, 2),
                )
            )
    notes = [
        f"replica = {plan.gpus_per_node} GPU(s) of {plan.instance_type} in {plan.region}, decoding "
        f"{plan.max_num_seqs} sequences of up to {plan.max_model_len} tokens; the plan runs {plan.replicas} "
        f"replica(s) on {plan.nodes_total} node(s) = ${plan.total_hourly_cost_usd:,.2f}/h; Bedrock prices "
        "are "
        "indicative (see serving/catalog/data/bedrock.yaml)",
        f"first replica ${first:,.2f}/h (whole node(s)) vs added replica ${added:,.2f}/h"
        + (" (packs onto free GPUs of a paid node)" if added < first else " (needs its own node)"),
        QUALITY_NOTE,
    ]
    if hit > 0:
        notes.append(
            f"Bedrock prompt caching at {hit:.0%} hits: cached prompt tokens at 0.1x, the rest assumed "
            "written "
            "at 1.25x (upper bound)"
        )
    if batch:
        notes.append("Bedrock batch inference (-50 %) is asynchronous: not an option for interactive traffic")
    if regional_only:
        notes.append("geography-pinned: only regional endpoints (the global profile may route outside it)")
    return CostReport(
        model_id=plan.model_id,
        instance_type=plan.instance_type,
        region=plan.region,
        replicas=plan.replicas,
        nodes_total=plan.nodes_total,
        total_hourly_usd=round(plan.total_hourly_cost_usd, 4),
        first_replica_hourly_usd=round(first, 4),
        added_replica_hourly_usd=round(added, 4),
        hourly_usd_per_replica=round(share, 4),
        monthly_usd_per_replica=round(share * HOURS_PER_MONTH, 2),
        monthly_usd_total=round(plan.total_hourly_cost_usd * HOURS_PER_MONTH, 2),
        decode_tokens_per_second=plan.decode_tokens_per_second,
        prefill_tokens_per_second=round(prefill, 1),
        utilization=utilization,
        input_output_ratio=input_output_ratio,
        cache_hit_rate=hit,
        prefix_cache_hit_rate=prefix,
        batch=batch,
        capacity_tokens_per_day=round(capacity),
        self_hosted_usd_per_mtok=round(per_mtok, 4),
        self_hosted_usd_per_mtok_output=round(per_mtok * mix, 4),
        tiers=tuple(tiers),
        notes=tuple(notes),
    )
