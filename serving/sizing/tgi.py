"""TGI's KV budget: sized after a real warm-up forward (shared/reference/vllm-tgi-memory.md §2).

    free = total - CUDA context - weights - warm-up KV - warm-up activation (- NCCL with TP > 1)
    2.2:        blocks = 0.95 x (free - (1 - fraction) x total) // block_bytes + warm-up blocks
    2.4 - 2.x:  blocks = 0.90 x (free - (1 - fraction) x total) // block_bytes + warm-up blocks
    >= 3.0:     blocks = (free - (1 - fraction x W) x total) // block_bytes + warm-up blocks,
                W = 0.95 (3.0), 0.93 (3.1 - 3.2), 0.90 (>= 3.3)
    tokens = blocks x block_size (16 paged in 2.x; 1 with flashinfer in 3.x)

The warm-up runs one prefill batch of --max-batch-prefill-tokens with prefill logprobs, so its peak holds
logits over the whole vocabulary for every prefill token: 8.86 bytes x tokens x vocab (bf16 logits plus fp32
copies; fitted on the TGI 2.2 A10G log T01). CUDA context: 0.5 GiB (1.5 GiB with TP > 1, llm-d H100 logs).
"""

from __future__ import annotations

import math

from serving.catalog.models import ModelSpec
from serving.sizing.memory import GIB, MemoryResult
from serving.sizing.settings import EngineSettings, blocks_for
from serving.sizing.weights import stage_weight_bytes

WARMUP_LOGIT_BYTES = 8.86
CONTEXT_GIB = 0.5
CONTEXT_TP_GIB = 1.5


def _reserve(s: EngineSettings, free: float, total: float) -> float:
    fraction = s.gpu_memory_utilization
    v = s.version
    if not v.at_least(2, 4):
        return 0.95 * (free - (1 - fraction) * total)
    if not v.at_least(3, 0):
        return 0.90 * (free - (1 - fraction) * total)
    wiggle = 0.95 if not v.at_least(3, 1) else (0.93 if not v.at_least(3, 3) else 0.90)
    return free - (1 - fraction * wiggle) * total


def tgi_memory(m: ModelSpec, s: EngineSettings, *, total_gib: float, tp: int) -> MemoryResult:
    """KV capacity and memory breakdown of one TGI replica with ``tp`` shards of ``total_gib`` each."""
    weights = stage_weight_bytes(m, dtype=s.dtype, quantization=s.weight_format, tp=tp, pp=1)[0] / GIB
    per_block = s.block_size * m.num_layers * 2 * max(1, m.num_kv_heads // tp) * m.head_dim * s.kv_bytes
    prefill = s.max_num_batched_tokens
    warm_blocks = blocks_for(prefill, s.block_size)
    activation = prefill * m.vocab_size * WARMUP_LOGIT_BYTES / GIB
    context = CONTEXT_TP_GIB if tp > 1 else CONTEXT_GIB
    free = total_gib - context - weights - warm_blocks * per_block / GIB - activation
    usable = _reserve(s, free, total_gib)
    blocks = max(0, math.floor(usable * GIB / per_block)) + warm_blocks if free > 0 else 0
    tokens = blocks * s.block_size
    notes: tuple[str, ...] = ()
    if free <= 0:
        notes = (
            f"TGI warm-up of {prefill} prefill tokens does not fit: lower --max-num-batched-tokens "
            "(--max-batch-prefill-tokens)",
        )
    return MemoryResult(
        total_gib=total_gib,
        requested_gib=total_gib * s.gpu_memory_utilization,
        weights_gib=weights,
        weights_gib_max=weights,
        weights_gib_sum=weights,
        activation_gib=activation,
        non_torch_gib=context,
        cuda_graph_gib=0.0,
        cuda_graph_outside_gib=0.3,
        kv_cache_gib=blocks * per_block / GIB,
        kv_bytes_per_token=per_block / s.block_size,
        num_blocks=blocks,
        block_size=s.block_size,
        kv_cache_tokens=tokens,
        max_concurrency=tokens / s.max_model_len,
        fits=free > 0 and tokens >= s.max_model_len,
        notes=notes,
    )
