"""The ServingPlan: what the sizing engine decides for one model, and what components deploy.

This is the contract between ``serving/sizing`` (producer) and ``components/`` (consumers: GpuNodeGroup,
ModelServer, Autoscaling, Monitoring) and the CLI (``paddock size --json``). Add fields freely; never rename
or drop one without a migration note in README.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Engine = Literal["vllm", "tgi"]
Dtype = Literal["bfloat16", "float16", "float32"]
Quantization = Literal["none", "fp8", "int8", "int4"]
KvCacheDtype = Literal["auto", "fp8"]


@dataclass(frozen=True, kw_only=True)
class Rejection:
    """A cheaper option that was considered and why it fails, e.g.
    ``Rejection(option="g6e.xlarge", reason="1×L40S 44.4 GiB < 140.4 GiB weights")``."""

    option: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class ServingPlan:
    """How one model is served: hardware, parallelism, engine flags and the estimates behind them.

    Memory figures are GiB (2**30 bytes) per GPU unless the name says otherwise.
    """

    model_id: str
    """Catalog id or Hugging Face repo id of the model (e.g. ``meta-llama/Llama-3.1-8B-Instruct``)."""
    engine: Engine
    engine_version: str
    """Engine version whose memory accounting was modelled (e.g. ``0.19.0``)."""
    instance_type: str | None
    """EC2 instance type (``g6e.xlarge``); None when sized for a bare GPU (``paddock size --gpu``)."""
    gpu: str
    """GPU catalog id (``l40s``, ``h100-80gb``...)."""
    gpus_per_node: int
    """GPUs one engine replica uses on each node (= tensor_parallel_size, or the node's GPUs with PP)."""
    nodes_per_replica: int
    """1 unless pipeline parallelism spans nodes (then a LeaderWorkerSet of this size)."""
    replicas: int
    """Engine replicas needed for the requested concurrency (recommendation mode); 1 otherwise."""
    tensor_parallel_size: int
    pipeline_parallel_size: int
    dtype: Dtype
    quantization: Quantization
    kv_cache_dtype: KvCacheDtype
    max_model_len: int
    """Tokens per sequence (prompt + output)."""
    max_num_seqs: int
    max_num_batched_tokens: int
    gpu_memory_utilization: float
    """Fraction (0, 1] of each GPU's total memory the engine may use."""
    block_size: int
    weights_gib_per_gpu: float
    kv_cache_gib_per_gpu: float
    kv_cache_tokens: int
    """What vLLM logs as "GPU KV cache size: N tokens" (per replica)."""
    max_concurrency: float
    """Sequences of ``max_model_len`` tokens that fit in the KV cache at once (per replica)."""
    fits: bool
    weights_gib_total: float
    """Size of the checkpoint as loaded, all shards (GiB); drives disk and load-time estimates."""
    root_volume_gib: int
    """Node root volume to request (GiB): OS + image + weights cache + headroom."""
    shm_size_gib: float
    """/dev/shm size for the engine pod (GiB); grows with TP (NCCL)."""
    load_time_seconds: float
    """Estimated time from pod start to ready (image pull + weight download + load + warmup), seconds."""
    decode_tokens_per_second: float
    """Estimated aggregate decode throughput per replica at max_num_seqs (tokens/s, roofline)."""
    hourly_cost_usd: float | None
    """On-demand $/hour for all nodes of one replica in the chosen region; None when unknown."""
    cost_per_million_tokens_usd: float | None
    """$ per 1M output tokens at the decode estimate and the assumed utilisation; None when unknown."""
    engine_args: tuple[str, ...]
    """Command-line flags for the engine, e.g. ``("--max-model-len", "32768", ...)``."""
    rejected: tuple[Rejection, ...] = field(default=())
    notes: tuple[str, ...] = field(default=())
    """Human explanation lines (assumptions, warnings)."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of every field (``paddock size --json`` builds on it)."""
        return asdict(self)
