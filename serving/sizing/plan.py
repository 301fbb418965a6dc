"""The ServingPlan: what the sizing engine decides for one model, and what components deploy.

This is the contract between ``serving/sizing`` (producer) and ``components/`` (consumers: GpuNodeGroup,
ModelServer, Autoscaling, Monitoring) and the CLI (``paddock size --json``). Add fields freely; never rename
or drop one without a migration note in README.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

Engine = Literal["vllm", "tgi"]
Dtype = Literal["bfloat16", "float16", "float32"]
Quantization = Literal["none", "fp8", "int8", "int4"]
KvCacheDtype = Literal["auto", "fp8"]


@dataclass(frozen=True, kw_only=True)
class Rejection:
    """An option that was considered and why it was not chosen: cheaper than the choice but failing, e.g.
    ``Rejection(option="g6e.xlarge", reason="1×L40S 44.4 GiB < 140.4 GiB weights")``, or not sold On-Demand in
    the region (``reason`` then starts "not sold On-Demand in ..." or "no On-Demand list price ...")."""

    option: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class Alternative:
    """One of the best options a recommendation found (the chosen one first), with why it ranks there."""

    option: str
    """e.g. ``1 x p4de.24xlarge TP8, fp8 KV``."""
    total_hourly_cost_usd: float | None
    cost_per_million_output_usd: float | None
    """Total $/h over the output tokens/s the replicas serve at the requested concurrency and mix."""
    tpot_ms: float
    ttft_ms: float
    why: str


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
    """Weights as loaded on the GPUs, all shards (GiB; after online quantization). The disk and download
    figures use ``checkpoint_gib`` (what is synced), not this."""
    root_volume_gib: int
    """Root (AL2023) / data (Bottlerocket) EBS volume to request (GiB): OS + image, plus every engine pod's
    ephemeral storage when the cache is on EBS (``cache_disk == "ebs"``), over 90 % usable (kubelet
    eviction)."""
    shm_size_gib: float
    """/dev/shm size for the engine pod (GiB); grows with TP (NCCL)."""
    load_time_seconds: float
    """Estimated time from pod start to ready (image pull + weight download + load + warmup), seconds."""
    decode_tokens_per_second: float
    """Estimated aggregate decode throughput per replica at max_num_seqs (tokens/s, roofline), capped by the
    sequences the KV cache holds at half of max_model_len."""
    hourly_cost_usd: float | None
    """On-demand $/hour for all nodes of one replica in the chosen region; None when unknown or when the type
    is not sold On-Demand there (``offered_on_demand`` False)."""
    cost_per_million_tokens_usd: float | None
    """$ per 1M output tokens at the decode estimate and the assumed utilisation; None when unknown."""
    engine_args: tuple[str, ...]
    """Command-line flags for the engine, e.g. ``("--max-model-len", "32768", ...)``."""
    rejected: tuple[Rejection, ...] = field(default=())
    notes: tuple[str, ...] = field(default=())
    """Human explanation lines (assumptions, warnings)."""
    region: str | None = None
    """AWS region whose prices were used (None for a bare GPU)."""
    capacity_type: Literal["on-demand", "spot"] = "on-demand"
    replicas_per_node: int = 1
    """Engine replicas packed on one node (a node's GPUs // GPUs per replica; 1 with multi-node PP)."""
    nodes_total: int = 1
    """Nodes for all replicas: ceil(replicas / replicas_per_node) x nodes_per_replica."""
    total_hourly_cost_usd: float | None = None
    """$/hour for all nodes_total nodes (what the deployment costs while scaled to ``replicas``)."""
    gpu_total_memory_gib: float = 0.0
    """Memory per GPU as cudaMemGetInfo reports it (GiB)."""
    requested_gib_per_gpu: float = 0.0
    """Engine budget per GPU: total x gpu_memory_utilization (GiB)."""
    weights_gib_per_gpu_max: float = 0.0
    """Weights on the most loaded GPU (last PP stage may hold more than rank 0), GiB."""
    activation_gib_per_gpu: float = 0.0
    """Peak activation of the engine's profile / warm-up run (GiB per GPU)."""
    non_torch_gib_per_gpu: float = 0.0
    """NCCL / all-reduce buffers and workspaces outside torch (GiB per GPU)."""
    cuda_graph_gib_per_gpu: float = 0.0
    """CUDA-graph memory taken from the KV budget (vLLM >= 0.20), GiB per GPU."""
    kv_cache_blocks: int = 0
    """KV-cache blocks (vLLM "num_gpu_blocks"; TGI "KV-cache blocks")."""
    kv_bytes_per_token_per_gpu: float = 0.0
    """KV-cache bytes one token takes on one GPU (all layers of its stage)."""
    checkpoint_gib: float = 0.0
    """Checkpoint size to download and cache on disk (GiB); bf16 for online --quantization fp8."""
    single_stream_tokens_per_second: float = 0.0
    """Decode tokens/s of one lone sequence (roofline; latency view)."""
    assumed_utilization: float = 0.6
    """Fraction of each hour the replica decodes at max_num_seqs, used for $/1M tokens."""
    load_time_breakdown: tuple[tuple[str, float], ...] = field(default=())
    """(step, seconds) pairs summing to load_time_seconds."""
    weights_on_local_nvme: bool = False
    """True when the instance has local NVMe (``cache_disk == "nvme"``): the node group mounts it RAID0 for
    kubelet/containerd, the cache lives there and root_volume_gib excludes the weights."""
    cache_disk: Literal["nvme", "ebs"] = "ebs"
    """Disk the model cache emptyDir is written to: the instance store RAID0 ("nvme") when the instance has
    one, else the root/data EBS volume ("ebs"). See serving/sizing/disk.py."""
    cache_gib: int = 0
    """Model cache emptyDir sizeLimit of one engine pod (GiB): ceil(1.1 x checkpoint_gib) + 4."""
    ephemeral_storage_gib: int = 0
    """ephemeral-storage request = limit of each engine container (GiB): cache_gib + 8 (/tmp) + 2 (logs)."""
    image_gib: float = 0.0
    """Engine image on the node's disk at the peak of a pull (unpacked + compressed layers), GiB."""
    disk_used_gib: float = 0.0
    """What the cache disk of one node holds at peak (GiB): image + replicas_per_node x ephemeral_storage_gib
    (+ 30 GiB OS/logs on EBS)."""
    disk_capacity_gib: float = 0.0
    """Capacity of the disk the cache is written to (GiB): NVMe RAID0 total, or root_volume_gib on EBS."""
    disk_fits: bool = True
    """disk_used_gib <= 90 % of disk_capacity_gib (kubelet evicts pods below 10 % free)."""
    disk_throughput_mb_s: float = 0.0
    """Write throughput of the cache disk used by the load-time estimate (MB/s): NVMe RAID0 2000 (assumed),
    gp3 500 MiB/s = 524.3 MB/s as the launch template provisions it."""
    download_mb_s: float = 0.0
    """Weight download rate used by the load-time estimate (MB/s): min(60 % of the network, disk write)."""
    prompt_tokens: int = 0
    """Prompt tokens per request the serving estimates assume (see workload_basis)."""
    output_tokens: int = 0
    workload_basis: str = ""
    """Which workload was sized: the expected prompt/output mix, or every request at the full context."""
    concurrency_per_replica: int = 0
    """Requests in flight on one replica in the serving estimates."""
    ttft_ms: float = 0.0
    """Estimated time to first token at concurrency_per_replica (serving/sizing/throughput.py)."""
    tpot_ms: float = 0.0
    """Estimated time per output token at concurrency_per_replica."""
    serving_tokens_per_second: float = 0.0
    """Estimated output tokens/s of one replica at concurrency_per_replica (prefill, decode share steps)."""
    serving_cost_per_million_output_usd: float | None = None
    """total_hourly_cost_usd over the output tokens/s all replicas serve at the requested load ($/1M)."""
    top_options: tuple[Alternative, ...] = field(default=())
    """The best three options of a recommendation, chosen first (empty for explicit sizing)."""
    offered_on_demand: bool = True
    """False when AWS does not sell ``instance_type`` On-Demand in ``region`` (an explicit pin sized for
    capacity held through an ODCR or a Capacity Block): the cost fields are then None and the first note
    starts "NOT SOLD ON-DEMAND"."""

    def with_notes(self, notes: tuple[str, ...]) -> ServingPlan:
        """This plan with ``notes`` appended."""
        return replace(self, notes=self.notes + notes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of every field (``paddock size --json`` builds on it)."""
        return asdict(self)
