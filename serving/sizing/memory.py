"""The result of an engine memory model for one replica (per-GPU figures; GiB = 2**30 bytes)."""

from __future__ import annotations

from dataclasses import dataclass, field

GIB = float(2**30)


@dataclass(frozen=True, kw_only=True)
class MemoryResult:
    """How one replica's GPU memory is spent, and the KV capacity that results."""

    total_gib: float
    """Total memory per GPU as cudaMemGetInfo reports it."""
    requested_gib: float
    """Engine budget per GPU (vLLM total x utilisation; TGI total x fraction)."""
    weights_gib: float
    """Weights on the first GPU (what the engine logs as "Model loading took")."""
    weights_gib_max: float
    """Weights on the most loaded GPU (the last PP stage can be heavier)."""
    weights_gib_sum: float
    """Weights of one GPU of every PP stage, summed (x TP = all GPUs of the replica)."""
    activation_gib: float
    """Peak activation of the profile/warm-up run on the first GPU."""
    non_torch_gib: float
    """NCCL/custom all-reduce buffers, cuBLAS workspaces (TGI: CUDA context + NCCL)."""
    cuda_graph_gib: float
    """CUDA-graph memory subtracted from the KV budget (vLLM >= 0.20), else 0."""
    cuda_graph_outside_gib: float
    """CUDA-graph memory captured after the KV cache is sized, on top of the budget (vLLM < 0.20, TGI)."""
    kv_cache_gib: float
    """KV-cache memory on the first GPU (vLLM logs "Available KV cache memory")."""
    kv_bytes_per_token: float
    """KV bytes per token per GPU on the tightest stage, all of its layers."""
    num_blocks: int
    block_size: int
    kv_cache_tokens: int
    """What the engine prints as "GPU KV cache size: N tokens" (TGI: max batch total tokens)."""
    max_concurrency: float
    """Requests of max_model_len tokens that fit at once."""
    fits: bool
    notes: tuple[str, ...] = field(default=())
