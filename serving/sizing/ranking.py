"""Ranking the feasible options of a recommendation, the top three with why, and the honest rejected list.

Rank: options sold On-Demand first, then $ per 1M output tokens at the requested latency, then $/h, nodes and
GPUs. "$ per 1M tokens at the requested latency" = total $/h over the output tokens/s the replicas deliver to
the requested concurrency and mix (serving/sizing/throughput.py), where tokens a replica streams faster than
the TPOT target (--max-tpot-ms; else DEFAULT_TPOT_TARGET_MS) count only at the target's pace: a user served
at 10 ms per token is not worth 5x a user served at 50 ms, so among options meeting the target the ranking is
by $/h, and slower ones pay for their lower delivered rate. (Options over an explicit --max-tpot-ms are
rejected before ranking.)
``rejected`` lists only options whose price is below the chosen total: a failing instance type whose node
price is lower (with why it fails), or a feasible one cheaper per hour in total that loses per token (said so,
with both figures). An option dearer in total is never called cheaper.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from serving.sizing.plan import Alternative, Rejection
from serving.sizing.throughput import ServingEstimate

TOP = 3
DEFAULT_TPOT_TARGET_MS = 50.0
"""Interactive TPOT target when none is given: InferenceBench's llm.standard SLO template (TPOT p99 50 ms,
https://yobitelcomm.github.io/bench/plugins/llm-inference/, accessed 2026-12-04), ~20 tokens/s per user."""


@dataclass(frozen=True, kw_only=True)
class Ranked:
    """What ranking needs of a feasible option."""

    label: str
    """e.g. ``2 x g6e.12xlarge TP4, fp8 KV cache``."""
    group: str
    """GPU, layout and engine options: the top three show one instance size per group (the best)."""
    instance_type: str
    offered: bool
    cost: float
    """Total $/h of every node."""
    nodes: int
    gpus: int
    replicas: int
    estimate: ServingEstimate
    target_tpot_ms: float = DEFAULT_TPOT_TARGET_MS

    @property
    def tokens_per_second(self) -> float:
        """Output tokens/s of all replicas at the requested load."""
        return self.estimate.output_tokens_per_second * self.replicas

    @property
    def per_million(self) -> float:
        """$ per 1M output tokens at the requested load (inf without throughput)."""
        tps = self.tokens_per_second
        return self.cost / (tps * 3600) * 1e6 if tps > 0 else math.inf

    @property
    def per_million_at_target(self) -> float:
        """$ per 1M output tokens counting tokens faster than the TPOT target at the target's pace."""
        tpot_ms = self.estimate.tpot_s * 1000
        tps = self.tokens_per_second * min(1.0, tpot_ms / self.target_tpot_ms)
        return self.cost / (tps * 3600) * 1e6 if tps > 0 else math.inf

    def key(self) -> tuple[bool, float, float, int, int]:
        """Sort key: On-Demand first, $/1M tokens at the latency target, $/h, nodes, GPUs."""
        return not self.offered, round(self.per_million_at_target, 6), self.cost, self.nodes, self.gpus


@dataclass
class Board:
    """Every feasible option, and each failing instance type with its node price."""

    feasible: list[Ranked] = field(default_factory=list)
    failing: list[tuple[float, str, str]] = field(default_factory=list)

    def best(self) -> Ranked | None:
        """The first-ranked option, or None."""
        return min(self.feasible, key=Ranked.key) if self.feasible else None

    def top(self) -> tuple[Alternative, ...]:
        """The best three distinct options with why each ranks where it does."""
        ranked = sorted(self.feasible, key=Ranked.key)
        chosen: list[Ranked] = []
        for opt in ranked:
            if all(opt.group != c.group for c in chosen):
                chosen.append(opt)
            if len(chosen) == TOP:
                break
        return tuple(_alternative(opt, chosen[0], index) for index, opt in enumerate(chosen))

    def rejected(self, best: Ranked) -> tuple[Rejection, ...]:
        """Options priced below the chosen total, each with the reason it lost (one per instance type)."""
        limit = best.cost if best.offered else math.inf
        seen: dict[str, str] = {}
        for price, itype, reason in sorted(self.failing):
            if itype != best.instance_type and price < limit and itype not in seen:
                seen[itype] = reason
        for opt in sorted(self.feasible, key=lambda o: o.cost):
            if opt.instance_type in seen or opt.instance_type == best.instance_type or opt.cost >= limit:
                continue
            seen[opt.instance_type] = (
                f"{opt.label}: cheaper per hour (${opt.cost:.2f}/h total vs ${best.cost:.2f}/h) but "
                f"${opt.per_million_at_target:.2f} vs ${best.per_million_at_target:.2f} per 1M output tokens "
                "at "
                f"the {best.target_tpot_ms:g} ms TPOT target (TPOT {opt.estimate.tpot_s * 1000:.1f} vs "
                f"{best.estimate.tpot_s * 1000:.1f} ms)"
            )
        return tuple(Rejection(option=t, reason=r) for t, r in seen.items())


def _alternative(opt: Ranked, first: Ranked, index: int) -> Alternative:
    est = opt.estimate
    facts = (
        f"{opt.tokens_per_second:,.0f} output tok/s at {est.concurrency} request(s)/replica, TPOT "
        f"{est.tpot_s * 1000:.1f} ms, TTFT {est.ttft_s * 1000:.0f} ms; ${opt.cost:.2f}/h for {opt.replicas} "
        f"replica(s) on {opt.nodes} node(s)"
    )
    at = f"${opt.per_million_at_target:.2f} per 1M output tokens at the {opt.target_tpot_ms:g} ms TPOT target"
    if index == 0:
        why = f"lowest {at}: {facts}"
    else:
        base = first.per_million_at_target
        dearer = opt.per_million_at_target / base - 1 if base > 0 else 0.0
        if abs(opt.cost - first.cost) < 0.005:
            hourly = "the same per hour"
        else:
            hourly = "cheaper per hour" if opt.cost < first.cost else "dearer per hour"
        why = f"{dearer:+.0%} vs #1 ({at}), {hourly}: {facts}"
    return Alternative(
        option=opt.label,
        total_hourly_cost_usd=round(opt.cost, 4) if opt.offered else None,
        cost_per_million_output_usd=round(opt.per_million, 4) if opt.offered else None,
        tpot_ms=round(est.tpot_s * 1000, 2),
        ttft_ms=round(est.ttft_s * 1000, 1),
        why=why,
    )
