"""The assembly of a ServingPlan from a memory result (cost, disk, load time, serving estimates)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from serving.catalog.hardware import (
    GpuSpec,
    InstanceSpec,
    instance_price,
)
from serving.catalog.models import ModelSpec
from serving.sizing.disk import DiskPlan, disk_plan
from serving.sizing.engine_args import engine_args
from serving.sizing.estimates import (
    decode_tokens_per_second,
    effective_batch,
    load_time,
    shm_size_gib,
)
from serving.sizing.memory import GIB, MemoryResult
from serving.sizing.offers import pin_note, unsold
from serving.sizing.plan import Alternative, Rejection, ServingPlan
from serving.sizing.settings import EngineSettings
from serving.sizing.tgi import tgi_memory
from serving.sizing.throughput import ServingEstimate, serving_estimate
from serving.sizing.versions import calibration_note
from serving.sizing.vllm import vllm_memory
from serving.sizing.weights import checkpoint_bytes
from serving.sizing.workload import Workload, workload

DEFAULT_UTILIZATION = 0.6
"""Assumed fraction of each hour a replica decodes at max_num_seqs (for $/1M tokens)."""


@dataclass(frozen=True, kw_only=True)
class Placement:
    """Where one replica runs: GPU, optional instance, parallelism and packing."""

    gpu: GpuSpec
    total_gib: float
    instance: InstanceSpec | None
    tp: int
    pp: int
    replicas: int = 1
    region: str | None = None
    capacity_type: str = "on-demand"

    @property
    def gpus_per_node(self) -> int:
        """GPUs of one replica on each node."""
        ranks = self.tp * self.pp
        return min(ranks, self.instance.gpus) if self.instance else ranks

    @property
    def nodes_per_replica(self) -> int:
        """Nodes one replica spans (PP across nodes)."""
        return math.ceil(self.tp * self.pp / self.instance.gpus) if self.instance else 1

    @property
    def replicas_per_node(self) -> int:
        """Replicas packed on one node."""
        if not self.instance or self.nodes_per_replica > 1:
            return 1
        return max(1, self.instance.gpus // (self.tp * self.pp))


def memory_for(model: ModelSpec, s: EngineSettings, *, total_gib: float, tp: int, pp: int) -> MemoryResult:
    """Dispatch to the engine's memory model."""
    if s.engine == "tgi":
        return tgi_memory(model, s, total_gib=total_gib, tp=tp)
    return vllm_memory(model, s, total_gib=total_gib, tp=tp, pp=pp)


def node_price(p: Placement) -> float | None:
    """$/hour of one node in the placement's region (spot falls back to on-demand when unknown); None when the
    catalog has no price or AWS does not sell the type On-Demand there."""
    if p.instance is None or p.region is None:
        return None
    spot = instance_price(p.instance.type, p.region, spot=True) if p.capacity_type == "spot" else None
    return spot if spot is not None else instance_price(p.instance.type, p.region)


def _memory_fields(mem: MemoryResult, p: Placement) -> dict[str, Any]:
    """ServingPlan fields that come straight from the memory model (GiB per GPU unless named)."""
    return {
        "weights_gib_per_gpu": round(mem.weights_gib, 4),
        "kv_cache_gib_per_gpu": round(mem.kv_cache_gib, 4),
        "kv_cache_tokens": mem.kv_cache_tokens,
        "max_concurrency": round(mem.max_concurrency, 4),
        "fits": mem.fits,
        "weights_gib_total": round(mem.weights_gib_sum * p.tp, 3),
        "gpu_total_memory_gib": p.total_gib,
        "requested_gib_per_gpu": round(mem.requested_gib, 4),
        "weights_gib_per_gpu_max": round(mem.weights_gib_max, 4),
        "activation_gib_per_gpu": round(mem.activation_gib, 4),
        "non_torch_gib_per_gpu": round(mem.non_torch_gib, 4),
        "cuda_graph_gib_per_gpu": round(mem.cuda_graph_gib, 4),
        "kv_cache_blocks": mem.num_blocks,
        "kv_bytes_per_token_per_gpu": mem.kv_bytes_per_token,
        "block_size": mem.block_size,
    }


def _settings_fields(s: EngineSettings) -> dict[str, Any]:
    """ServingPlan fields that echo the resolved engine settings."""
    return {
        "engine": s.engine,
        "engine_version": s.version.text,
        "dtype": s.dtype,
        "quantization": s.quantization,
        "kv_cache_dtype": s.kv_cache_dtype,
        "max_model_len": s.max_model_len,
        "max_num_seqs": s.max_num_seqs,
        "max_num_batched_tokens": s.max_num_batched_tokens,
        "gpu_memory_utilization": s.gpu_memory_utilization,
    }


def _disk_fields(d: DiskPlan) -> dict[str, Any]:
    """ServingPlan fields of the model cache and the disk under it (serving/sizing/disk.py)."""
    return {
        "weights_on_local_nvme": d.cache_disk == "nvme",
        "cache_disk": d.cache_disk,
        "cache_gib": d.cache_gib,
        "ephemeral_storage_gib": d.ephemeral_storage_gib,
        "image_gib": d.image_gib,
        "disk_used_gib": d.disk_used_gib,
        "disk_capacity_gib": d.disk_capacity_gib,
        "disk_fits": d.disk_fits,
        "disk_throughput_mb_s": d.disk_throughput_mb_s,
        "download_mb_s": d.download_mb_s,
    }


def _cost_fields(p: Placement, aggregate: float, utilization: float) -> dict[str, Any]:
    """Hourly cost per replica and in total, and $ per 1M output tokens at ``utilization``."""
    price = node_price(p)
    nodes_total = math.ceil(p.replicas / p.replicas_per_node) * p.nodes_per_replica
    out: dict[str, Any] = {
        "nodes_total": nodes_total,
        "hourly_cost_usd": None,
        "total_hourly_cost_usd": None,
        "cost_per_million_tokens_usd": None,
        "capacity_type": p.capacity_type,
        "assumed_utilization": utilization,
    }
    if price is not None and p.instance is not None:
        hourly = price * p.nodes_per_replica * p.gpus_per_node / p.instance.gpus
        out["hourly_cost_usd"] = round(hourly, 4)
        out["total_hourly_cost_usd"] = round(price * nodes_total, 4)
        if aggregate > 0:
            out["cost_per_million_tokens_usd"] = round(hourly / (aggregate * 3600 * utilization) * 1e6, 4)
    return out


def assemble(
    model: ModelSpec,
    s: EngineSettings,
    mem: MemoryResult,
    p: Placement,
    *,
    rejected: tuple[Rejection, ...] = (),
    notes: tuple[str, ...] = (),
    utilization: float = DEFAULT_UTILIZATION,
    work: Workload | None = None,
    top: tuple[Alternative, ...] = (),
) -> ServingPlan:
    """Build the ServingPlan (flags, disk, load time, throughput, cost) for a sized placement; ``work`` is the
    workload (default: as many full-context requests as max_num_seqs and the KV cache allow)."""
    ckpt_gib = checkpoint_bytes(model, dtype=s.dtype, quantization=s.weight_format) / GIB
    batch = effective_batch(s, mem)
    aggregate, single = decode_tokens_per_second(model, s, mem, p.gpu, p.tp, p.pp, batch)
    disk = disk_plan(
        engine=s.engine, checkpoint_gib=ckpt_gib, instance=p.instance, pods_per_node=p.replicas_per_node
    )
    steps = load_time(
        engine=s.engine,
        checkpoint_gib=ckpt_gib,
        download_mb_s=disk.download_mb_s,
        ranks=p.gpus_per_node,
        enforce_eager=s.enforce_eager,
    )
    if work is None:
        per = max(1, min(s.max_num_seqs, math.floor(mem.max_concurrency)))
        work = workload(context=s.max_model_len, concurrency=per)
    est = estimate_for(model, s, mem, p, work)
    extra = list(notes) + list(mem.notes) + [work.basis()]
    calibration = calibration_note(s.version)
    if calibration is not None:
        extra.append(calibration)
    if not disk.disk_fits:
        extra.append(
            f"DISK TOO SMALL: {disk.disk_used_gib:g} GiB (image + {disk.pods_per_node} x "
            f"{disk.ephemeral_storage_gib} GiB cache/scratch) > 90 % of the {disk.disk_capacity_gib:g} GiB "
            f"{disk.cache_disk} disk of {p.instance.type if p.instance else 'the node'}"
        )
    not_sold = unsold(p.instance, p.region)
    if not_sold is not None:
        extra.insert(0, pin_note(not_sold))
    if p.capacity_type == "spot" and p.instance is not None:
        extra.append("no verified spot price in the catalog: costs shown are on-demand (an upper bound)")
    return ServingPlan(
        model_id=model.hf_ids[0] if model.hf_ids else model.id,
        instance_type=p.instance.type if p.instance else None,
        gpu=p.gpu.id,
        gpus_per_node=p.gpus_per_node,
        nodes_per_replica=p.nodes_per_replica,
        replicas=p.replicas,
        tensor_parallel_size=p.tp,
        pipeline_parallel_size=p.pp,
        root_volume_gib=disk.root_volume_gib,
        shm_size_gib=shm_size_gib(gpus_per_node=p.gpus_per_node, instance=p.instance),
        load_time_seconds=round(sum(sec for _, sec in steps), 1),
        load_time_breakdown=tuple((k, round(v, 1)) for k, v in steps),
        decode_tokens_per_second=round(aggregate, 1),
        single_stream_tokens_per_second=round(single, 1),
        engine_args=engine_args(s, tp=p.tp, pp=p.pp),
        rejected=rejected,
        notes=tuple(extra),
        region=p.region,
        replicas_per_node=p.replicas_per_node,
        checkpoint_gib=round(ckpt_gib, 3),
        **_disk_fields(disk),
        offered_on_demand=not_sold is None,
        **_settings_fields(s),
        **_memory_fields(mem, p),
        **_cost_fields(p, aggregate, utilization),
        **_serving_fields(p, est, work),
        top_options=top,
    )


def estimate_for(
    model: ModelSpec, s: EngineSettings, mem: MemoryResult, p: Placement, work: Workload
) -> ServingEstimate:
    """The serving estimate of one replica for its share of ``work`` (concurrency per replica)."""
    return serving_estimate(
        model,
        s,
        mem,
        p.gpu,
        tp=p.tp,
        pp=p.pp,
        concurrency=replica_share(work.concurrency, p.replicas),
        prompt_tokens=work.prompt_tokens,
        output_tokens=work.output_tokens,
    )


def replica_share(concurrency: int, replicas: int) -> int:
    """Requests in flight on one replica when ``concurrency`` spread over ``replicas``."""
    return max(1, math.ceil(concurrency / max(1, replicas)))


def per_million(total_hourly: float | None, tokens_per_second: float) -> float | None:
    """$ per 1M tokens at ``tokens_per_second`` for ``total_hourly`` $/h (None without a price)."""
    if total_hourly is None or tokens_per_second <= 0:
        return None
    return round(total_hourly / (tokens_per_second * 3600) * 1e6, 4)


def _serving_fields(p: Placement, est: ServingEstimate, work: Workload) -> dict[str, Any]:
    """ServingPlan fields of the serving estimate (serving/sizing/throughput.py)."""
    price = node_price(p)
    nodes_total = math.ceil(p.replicas / p.replicas_per_node) * p.nodes_per_replica
    total = price * nodes_total if price is not None else None
    return {
        "prompt_tokens": work.prompt_tokens,
        "output_tokens": work.output_tokens,
        "workload_basis": work.basis(),
        "concurrency_per_replica": est.concurrency,
        "ttft_ms": round(est.ttft_s * 1000, 1),
        "tpot_ms": round(est.tpot_s * 1000, 2),
        "serving_tokens_per_second": round(est.output_tokens_per_second, 1),
        "serving_cost_per_million_output_usd": per_million(total, est.output_tokens_per_second * p.replicas),
    }
