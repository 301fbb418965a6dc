"""Dollar figures for ephemeral stacks: per hour, so far, and for the whole TTL.

GPU figures come from the sizing plan's ``hourly_cost_usd`` (on-demand $/hour for all nodes of one
replica). With scale to zero (the default) GPU nodes run only while a replica is up, so the GPU part of
"so far" and "total" is an upper bound: the figure if one replica ran the whole time. The EKS control
plane is billed for every hour the cluster exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

EKS_CONTROL_PLANE_USD_PER_HOUR = 0.10
"""EKS cluster on standard Kubernetes version support: $0.10 per cluster-hour.
Source: https://aws.amazon.com/eks/pricing/ (standard support price, as published 2024-2026; extended
support is $0.60). Checked 2026-11."""
NAT_GATEWAY_USD_PER_HOUR = 0.045
"""One NAT gateway, per hour, us-east-1 (data processing, $0.045/GB, comes on top).
Source: https://aws.amazon.com/vpc/pricing/ (NAT gateway pricing, us-east-1). Checked 2026-11; other
regions cost up to ~$0.09."""


@dataclass(frozen=True)
class CostEstimate:
    """$/hour and totals for one ephemeral stack (USD)."""

    gpu_hourly_usd: float | None
    """On-demand $/hour of one replica's GPU nodes; None when the price is unknown."""
    control_plane_hourly_usd: float
    """$/hour for the EKS control plane (0 when the stack reuses an existing cluster)."""
    ttl: timedelta
    nat_hourly_usd: float = 0.0
    """$/hour for the stack's NAT gateway (0 without one)."""

    @property
    def fixed_hourly_usd(self) -> float:
        """$/hour billed whether or not a replica runs: control plane + NAT gateway."""
        return self.control_plane_hourly_usd + self.nat_hourly_usd

    @property
    def hourly_usd(self) -> float | None:
        """Total $/hour while one replica runs; None when the GPU price is unknown."""
        if self.gpu_hourly_usd is None:
            return None
        return self.gpu_hourly_usd + self.fixed_hourly_usd

    @property
    def total_for_ttl_usd(self) -> float | None:
        """Upper bound for the whole TTL: one replica running every hour until expiry."""
        hourly = self.hourly_usd
        return None if hourly is None else round(hourly * hours(self.ttl), 2)

    @property
    def floor_for_ttl_usd(self) -> float:
        """Lower bound for the whole TTL with scale to zero: the fixed part only."""
        return round(self.fixed_hourly_usd * hours(self.ttl), 2)


def hours(span: timedelta) -> float:
    """Length of ``span`` in hours (negative spans count as 0)."""
    return max(span.total_seconds(), 0.0) / 3600.0


def cost_so_far(hourly_usd: float | None, *, created_at: datetime | None, now: datetime) -> float | None:
    """Upper-bound $ spent since ``created_at`` at ``hourly_usd``; None when either is unknown."""
    if hourly_usd is None or created_at is None:
        return None
    return round(hourly_usd * hours(now - created_at), 2)


def format_usd(value: float | None) -> str:
    """``$12.34``; below 10 cents a fraction of a cent shows (``$0.045``); ``?`` when unknown."""
    if value is None:
        return "?"
    fraction_of_a_cent = abs(round(value, 2) - value) > 1e-9
    return f"${value:,.3f}" if abs(value) < 0.1 and fraction_of_a_cent else f"${value:,.2f}"
