"""Self-hosted cost vs Bedrock Claude: $/month per replica, $/1M tokens, and the break-even volume.

Traffic is a mix of ``input_output_ratio`` prompt tokens per generated token. A replica spends
1/decode_tps GPU-seconds per output token and ratio/prefill_tps per output token's prompt share, where
prefill is compute-bound (55 % of dense peak, as in the decode estimate). Self-hosted $/1M tokens is at
``utilization`` of each hour; the break-even volume is where one replica running 24 h costs what Bedrock
charges for the same tokens, and only exists if that volume fits in the replica's capacity (otherwise more
replicas cost more per token than Bedrock and Bedrock stays cheaper).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from serving.catalog import bedrock_prices, get_gpu, get_model
from serving.errors import InputError, SizingError
from serving.sizing.estimates import COMPUTE_EFFICIENCY
from serving.sizing.plan import ServingPlan
from serving.sizing.weights import active_params_per_token

HOURS_PER_MONTH = 730.0


@dataclass(frozen=True, kw_only=True)
class TierComparison:
    """One Bedrock Claude tier (global or regional endpoint) against the self-hosted replica."""

    tier: str
    name: str
    endpoint: str
    """``global`` or ``regional`` (geo/in-Region profiles, +premium)."""
    input_usd_per_mtok: float
    output_usd_per_mtok: float
    blended_usd_per_mtok: float
    """Bedrock $ per 1M tokens of the traffic mix."""
    break_even_tokens_per_day: float | None
    """Tokens/day (mix) above which one always-on replica is cheaper; None when never within its capacity."""
    daily_saving_at_capacity_usd: float
    """Bedrock cost minus replica cost per day when the replica runs at its capacity (negative = loss)."""


@dataclass(frozen=True, kw_only=True)
class CostReport:
    """Self-hosted economics of one plan, compared with every Bedrock tier."""

    model_id: str
    instance_type: str
    region: str
    hourly_usd_per_replica: float
    monthly_usd_per_replica: float
    """hourly x 730 h."""
    decode_tokens_per_second: float
    prefill_tokens_per_second: float
    utilization: float
    input_output_ratio: float
    capacity_tokens_per_day: float
    """Tokens/day (mix) one replica serves at ``utilization``."""
    self_hosted_usd_per_mtok: float
    """$ per 1M tokens of the mix at ``utilization``."""
    self_hosted_usd_per_mtok_output: float
    """$ per 1M generated tokens, prompts included in the GPU time, at ``utilization``."""
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


def compare(plan: ServingPlan, *, utilization: float = 0.6, input_output_ratio: float = 3.0) -> CostReport:
    """Cost report for ``plan`` (which must have an instance and a price) against each Bedrock tier."""
    if not 0 < utilization <= 1:
        raise InputError(f"must be in (0, 1], got {utilization}", field="--utilization")
    if input_output_ratio < 0:
        raise InputError(f"must be >= 0, got {input_output_ratio}", field="--input-output-ratio")
    if plan.hourly_cost_usd is None or plan.instance_type is None or plan.region is None:
        raise SizingError("the plan has no instance price in the catalog; cost cannot be compared")
    if plan.decode_tokens_per_second <= 0:
        raise SizingError("the plan has no decode throughput estimate")
    prefill = prefill_tokens_per_second(plan)
    seconds_per_output = 1 / plan.decode_tokens_per_second + input_output_ratio / prefill
    mix = 1 + input_output_ratio
    capacity = 86400 * utilization / seconds_per_output * mix
    hourly = plan.hourly_cost_usd
    per_mtok = hourly / 3600 * seconds_per_output / utilization * 1e6 / mix
    per_mtok_out = per_mtok * mix
    daily = hourly * 24
    tiers = []
    for price in bedrock_prices().values():
        for endpoint, regional in (("global", False), ("regional", True)):
            cin, cout = price.price(regional=regional)
            blended = (input_output_ratio * cin + cout) / mix
            volume = daily / blended * 1e6
            tiers.append(
                TierComparison(
                    tier=price.id,
                    name=price.name,
                    endpoint=endpoint,
                    input_usd_per_mtok=round(cin, 4),
                    output_usd_per_mtok=round(cout, 4),
                    blended_usd_per_mtok=round(blended, 4),
                    break_even_tokens_per_day=round(volume) if volume <= capacity else None,
                    daily_saving_at_capacity_usd=round(capacity * blended / 1e6 - daily, 2),
                )
            )
    return CostReport(
        model_id=plan.model_id,
        instance_type=plan.instance_type,
        region=plan.region,
        hourly_usd_per_replica=round(hourly, 4),
        monthly_usd_per_replica=round(hourly * HOURS_PER_MONTH, 2),
        decode_tokens_per_second=plan.decode_tokens_per_second,
        prefill_tokens_per_second=round(prefill, 1),
        utilization=utilization,
        input_output_ratio=input_output_ratio,
        capacity_tokens_per_day=round(capacity),
        self_hosted_usd_per_mtok=round(per_mtok, 4),
        self_hosted_usd_per_mtok_output=round(per_mtok_out, 4),
        tiers=tuple(tiers),
        notes=(
            f"replica = {plan.gpus_per_node} GPU(s) of {plan.instance_type} in {plan.region}, decoding "
            f"{plan.max_num_seqs} sequences of up to {plan.max_model_len} tokens; Bedrock prices are "
            "indicative (see serving/catalog/data/bedrock.yaml)",
        ),
    )
