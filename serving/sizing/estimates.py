"""Throughput, load-time, disk and shm estimates for a sized replica (pure arithmetic, stated assumptions).

Decode (roofline): one step reads every weight a token touches once plus the KV of every running sequence,
at 76 % of datasheet bandwidth (measured on H100: 2.55 of 3.35 TB/s; reference/h100-decode-roofline.md),
or is bound by tensor throughput at 55 % of the dense datasheet peak (the same measurement at B=256);
TP adds two all-reduces per layer (8 us over NVLink, 25 us over PCIe; assumed). Sequences are assumed half
full (KV read = max_model_len / 2 tokens each). Routed experts: a batch touches 1 - (1 - k/E)^B of them.

Load time (pod start -> ready, node provisioning excluded): container start 16 s (vllm#44881) + image pull at
58 MB/s (15-20 GB in 4-6 min, AWS SOCI blog in anchors.md) of the compressed image (serving/sizing/disk.py) +
checkpoint download at the rate of serving/sizing/disk.py (60 % of the instance's network bandwidth, capped by
the write throughput of the disk the cache really lands on: NVMe RAID0 2000 MB/s, or gp3 as provisioned,
500 MiB/s) + load from page cache/disk at 1.3 GB/s per GPU rank (vllm#44881: 21.8 GiB in 18 s), capped
at 4 GB/s + warm-up (vLLM: torch.compile 45 s + profile/graph capture 30 s; eager 10 s; TGI warm-up + graphs
60 s).
"""

from __future__ import annotations

import math

from serving.catalog.hardware import GpuSpec, InstanceSpec
from serving.catalog.models import ModelSpec
from serving.sizing.disk import IMAGE_PULL_GB
from serving.sizing.memory import GIB, MemoryResult
from serving.sizing.settings import EngineSettings
from serving.sizing.weights import active_params_per_token, padded_vocab, rope_cache_bytes, stage_layers

BANDWIDTH_EFFICIENCY = 0.76
COMPUTE_EFFICIENCY = 0.55
ALLREDUCE_S = {True: 8e-6, False: 25e-6}
IMAGE_PULL_GBPS = 0.058
CONTAINER_START_S = 16.0
LOAD_GBPS_PER_RANK = 1.3
LOAD_GBPS_MAX = 4.0


def weight_read_bytes(
    m: ModelSpec, s: EngineSettings, mem: MemoryResult, tp: int, pp: int, batch: float
) -> float:
    """Weight bytes one step of ``batch`` tokens reads on the most loaded GPU."""
    weights = mem.weights_gib_max * GIB - rope_cache_bytes(m, s.dtype)
    if pp == 1:
        weights -= padded_vocab(m.vocab_size) // tp * m.hidden_size * s.dtype_bytes  # embedding is a lookup
    if not m.is_moe:
        return weights
    layers = max(len(r) for r in stage_layers(m, pp))
    moe_share = len(m.moe_layers) / m.num_layers * layers
    qbytes = {"none": s.dtype_bytes, "int4": 0.52}.get(s.weight_format, 1.0)
    experts = moe_share * m.num_experts * 3 * m.hidden_size * m.moe_intermediate_size / tp * qbytes
    touched: float = 1.0 - (1.0 - m.experts_per_token / m.num_experts) ** max(batch, 1.0)
    return float(weights - experts + experts * touched)


def peak_flops(gpu: GpuSpec, s: EngineSettings) -> float:
    if s.weight_format in ("fp8", "fp8_mlp_only") and gpu.fp8_tflops:
        return gpu.fp8_tflops * 1e12
    if s.weight_format == "int8" and gpu.int8_tops:
        return gpu.int8_tops * 1e12
    return gpu.bf16_tflops * 1e12


def kv_read_bytes(m: ModelSpec, s: EngineSettings, tp: int, pp: int) -> float:
    """KV bytes one half-full sequence makes the busiest stage read per decode step (local-attention layers
    read at most their chunk / window)."""
    avg = s.max_model_len / 2
    per_layer = 2 * max(1, m.num_kv_heads // tp) * m.head_dim * s.kv_bytes
    layers = max(stage_layers(m, pp), key=len)
    total = 0.0
    for layer in layers:
        if layer in m.chunked_layers and m.attention_chunk_size:
            total += per_layer * min(avg, m.attention_chunk_size)
        elif layer in m.sliding_layers and m.sliding_window and s.engine == "vllm":
            total += per_layer * min(avg, m.sliding_window)
        else:
            total += per_layer * avg
    return total


def effective_batch(s: EngineSettings, mem: MemoryResult) -> int:
    """Sequences decoding at once: max_num_seqs, capped by what the KV cache holds at half length."""
    return max(1, min(s.max_num_seqs, math.floor(2 * mem.max_concurrency)))


def step_seconds(
    m: ModelSpec, s: EngineSettings, mem: MemoryResult, gpu: GpuSpec, tp: int, pp: int, batch: float
) -> float:
    """Seconds of one decode step of one PP stage running ``batch`` sequences."""
    bandwidth = gpu.memory_bandwidth_gbps * 1e9 * BANDWIDTH_EFFICIENCY
    kv = batch * kv_read_bytes(m, s, tp, pp)
    t_mem = (weight_read_bytes(m, s, mem, tp, pp, batch) + kv) / bandwidth
    flops = 2 * active_params_per_token(m) / (tp * pp) * batch
    t_compute = flops / (peak_flops(gpu, s) * COMPUTE_EFFICIENCY)
    layers = max(len(r) for r in stage_layers(m, pp))
    t_comm = 2 * layers * ALLREDUCE_S[gpu.nvlink] if tp > 1 else 0.0
    return max(t_mem, t_compute) + t_comm


def decode_tokens_per_second(
    m: ModelSpec, s: EngineSettings, mem: MemoryResult, gpu: GpuSpec, tp: int, pp: int, batch: int
) -> tuple[float, float]:
    """(aggregate tokens/s with ``batch`` running sequences, single-sequence tokens/s) for one replica.

    With PP, ``batch`` is split into PP micro-batches that keep every stage busy."""
    micro = max(batch / pp, 1.0)
    aggregate = micro / step_seconds(m, s, mem, gpu, tp, pp, micro)
    single = 1.0 / (pp * step_seconds(m, s, mem, gpu, tp, pp, 1.0))
    return aggregate, single


def load_time(
    *, engine: str, checkpoint_gib: float, download_mb_s: float, ranks: int, enforce_eager: bool
) -> tuple[tuple[str, float], ...]:
    """(step, seconds) from pod start to ready; ``download_mb_s`` from serving.sizing.disk.disk_plan."""
    size_gb = checkpoint_gib * GIB / 1e9
    download = size_gb * 1000 / download_mb_s
    load = size_gb / min(LOAD_GBPS_PER_RANK * ranks, LOAD_GBPS_MAX)
    if engine == "tgi":
        warmup = 60.0
    else:
        warmup = 10.0 if enforce_eager else 75.0
    return (
        ("container start", CONTAINER_START_S),
        ("image pull", IMAGE_PULL_GB[engine] / IMAGE_PULL_GBPS),
        ("weight download", download),
        ("weight load", load),
        ("warm-up (compile, profile, CUDA graphs)", warmup),
    )


def shm_size_gib(*, gpus_per_node: int, instance: InstanceSpec | None) -> float:
    """/dev/shm for the engine pod: 2 GiB on one GPU, else 2 GiB per GPU (4..16), at most 1/4 of node RAM."""
    size = 2.0 if gpus_per_node == 1 else float(min(16, max(4, 2 * gpus_per_node)))
    if instance is not None:
        size = min(size, instance.memory_gib / 4)
    return size
