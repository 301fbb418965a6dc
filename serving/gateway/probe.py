"""Engine queue depth from the primary's Prometheus endpoint (vLLM and TGI metric names)."""

from __future__ import annotations

import asyncio

import httpx
from prometheus_client.parser import text_string_to_metric_families

from serving.gateway.fallback import AliasState

#: Metric families whose samples (summed) are the engine's waiting queue.
QUEUE_METRICS = frozenset({"vllm:num_requests_waiting", "tgi_queue_size"})


def metrics_url(state: AliasState) -> str:
    p = state.route.primary
    if p.metrics_url:
        return p.metrics_url
    base = p.url.removesuffix("/v1")
    return f"{base}/metrics"


def queue_depth(text: str) -> float | None:
    """Sum of the queue metrics' samples, or None when the page has none."""
    total, seen = 0.0, False
    for family in text_string_to_metric_families(text):
        if family.name in QUEUE_METRICS:
            for sample in family.samples:
                total += sample.value
                seen = True
    return total if seen else None


async def refresh(state: AliasState, client: httpx.AsyncClient) -> None:
    """Read the queue depth once; on any failure the depth becomes unknown (None), never a spill trigger."""
    try:
        resp = await client.get(metrics_url(state), timeout=state.route.timeouts.connect_seconds)
        state.queue_depth = queue_depth(resp.text) if resp.status_code == 200 else None
    except (httpx.HTTPError, ValueError):
        state.queue_depth = None


async def poll_forever(state: AliasState, client: httpx.AsyncClient) -> None:
    while True:
        await refresh(state, client)
        await asyncio.sleep(state.route.primary.metrics_interval_seconds)
