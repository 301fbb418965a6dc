"""vLLM's GPU memory budget, per worker, as each version accounts it (shared/reference/vllm-tgi-memory.md §1).

    requested = total x gpu_memory_utilization
    available = requested - weights - activation peak - non-torch - CUDA graphs (>= 0.20)
    num_blocks = min over PP stages of
                 available // (block_size x layers of one KV group x KV bytes/token/layer)

Terms (fitted on the v0.19 H100 logs of bench/data/vllm-calibration-cases.csv; bench/sizing_accuracy.py):
- activation (V1 >= 0.17): max(sampler phase, forward branch) + persistent fused-MoE workspaces (+ the vision
  profile), see sampler_bytes / forward_bytes / moe_workspace_bytes. Before 0.17 a compiled (non-eager) run
  used ~2.53x more (Qwen3-14B 5.64 -> 2.23 GiB). V0: one fp32 logits copy + tokens x (3 x I/TP + H) x dtype.
- non-torch: 0.25 GiB (TP1), 0.07 (PP only), 2.04 + 0.021 x (TP - 2) + 0.0004 x TP x layers GiB with TP > 1;
  V0 TP1 0.05.
- CUDA graphs: (0.32 + 0.0183 x layers) GiB x min(1, largest capture size / 512).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from serving.catalog.models import ModelSpec
from serving.sizing.memory import GIB, MemoryResult
from serving.sizing.settings import EngineSettings, blocks_for
from serving.sizing.weights import stage_layers, stage_weight_bytes

SAMPLER_FP32_COPIES = 3.13
"""fp32 copies of the sampler's logits (max_num_seqs x vocab x 4 bytes) alive at its peak (fitted)."""
SAMPLER_BASE_GIB = 0.036
FORWARD_BASE_GIB = 0.20
"""Workspaces of the dense forward branch (fitted on CodeLlama-7B, granite-8B and PP rank 0 of Llama 8B)."""
PRE_017_COMPILED_FACTOR = 2.53
VISION_PROFILE_GIB = 0.12
"""Encoder outputs of the multimodal profile kept during the LM profile (Scout 0.15, Mistral-Small 0.08)."""
#: checkpoint formats whose linears quantize their input activations at run time (w8a8, fp8 dynamic)
ACT_QUANT_FORMATS = ("fp8", "int8", "fp8_mlp_only")


def sampler_bytes(m: ModelSpec, s: EngineSettings) -> float:
    """Peak of ``_dummy_sampler_run`` on the last stage (bytes): the dummy forward's hidden states
    (T x H) stay alive while the sampler builds model-dtype logits (S x V) and their fp32 copies, plus the
    pruned hidden states and their norm (2 x S x H)."""
    tokens, db = s.max_num_batched_tokens, s.dtype_bytes
    seqs = min(s.max_num_seqs, tokens)
    vocab = m.vocab_size
    return (
        tokens * m.hidden_size * db
        + seqs * vocab * db
        + SAMPLER_FP32_COPIES * seqs * vocab * 4
        + 2 * seqs * m.hidden_size * db
        + SAMPLER_BASE_GIB * GIB
    )


def forward_bytes(m: ModelSpec, s: EngineSettings, tp: int, layers: range, *, last: bool) -> float:
    """Peak of the dummy forward itself (bytes): the residual stream (T x H, not split by TP) next to the
    dense MLP's gate/up output and activation (3 x I/TP per token), the quantized copy of the down
    projection's input for activation-quantized linears (1 byte per element plus fp32 per-token scales),
    and, on a stage that is not the last, the hidden states and residual it sends on (2 x T x H)."""
    tokens, db = s.max_num_batched_tokens, s.dtype_bytes
    dense = any(layer not in m.moe_layers for layer in layers) or not m.is_moe
    width = m.intermediate_size if dense else m.shared_expert_intermediate_size
    per_token = (3 * width / tp + m.hidden_size) * db
    if s.weight_format in ACT_QUANT_FORMATS and s.engine == "vllm":
        per_token += width / tp + 4
    if not last:
        per_token += 2 * m.hidden_size * db
    return tokens * per_token + FORWARD_BASE_GIB * GIB


def moe_workspace_bytes(m: ModelSpec, s: EngineSettings, tp: int, layers: range) -> float:
    """Fused-MoE workspaces of a stage with MoE layers (bytes): T x top_k x (max(2N, H) + N) x dtype with
    N = moe_intermediate/TP; they persist across the profile run, so they add to the peak (Mixtral TP2:
    1.21 GiB logged = 0.56 sampler + 0.66 workspace)."""
    if not m.is_moe or not any(layer in m.moe_layers for layer in layers):
        return 0.0
    n = m.moe_intermediate_size / tp
    per_token = m.experts_per_token * (max(2 * n, m.hidden_size) + n)
    return s.max_num_batched_tokens * per_token * s.dtype_bytes


def activation_gib(
    m: ModelSpec, s: EngineSettings, *, tp: int, layers: range, first: bool, last: bool
) -> float:
    """Peak activation of the profile run on one GPU of a stage (GiB): the larger of the sampler phase
    (last stage only) and the forward branch, plus persistent MoE workspaces and the vision profile."""
    if not s.version.vllm_v1:
        logits = s.max_num_seqs * m.vocab_size * 4 if last else 0.0
        fwd = s.max_num_batched_tokens * (3 * m.intermediate_size / tp + m.hidden_size) * s.dtype_bytes
        return (logits + fwd) / GIB
    sampler = sampler_bytes(m, s) if last else 0.0
    peak = max(sampler, forward_bytes(m, s, tp, layers, last=last)) + moe_workspace_bytes(m, s, tp, layers)
    peak /= GIB
    if first and m.vision_params:
        peak += VISION_PROFILE_GIB
    if not s.version.at_least(0, 17) and not s.enforce_eager:
        peak *= PRE_017_COMPILED_FACTOR
    return peak


def non_torch_gib(s: EngineSettings, *, tp: int, pp: int, layers: int) -> float:
    """Non-torch memory growth during the profile run (GiB per GPU); at TP > 1 the all-reduce buffers grow
    with TP and, per layer of the stage, with TP (8B vs 70B at TP4: 2.13 vs 2.21 GiB; TP2: 2.07 vs 2.10)."""
    if tp > 1:
        return 2.04 + 0.021 * (tp - 2) + 0.0004 * tp * layers
    if pp > 1:
        return 0.07
    return 0.25 if s.version.vllm_v1 else 0.05


def cuda_graph_gib(s: EngineSettings, *, layers: int) -> float:
    """CUDA-graph pool estimate for one GPU (0 with --enforce-eager)."""
    if s.enforce_eager:
        return 0.0
    capture = min(2 * s.max_num_seqs, 512)
    return (0.32 + 0.0183 * layers) * min(1.0, capture / 512)


@dataclass(frozen=True)
class _Groups:
    """vLLM's KV-cache groups of one stage: equal-size groups of full, chunked-local and sliding layers."""

    size: int
    full: int
    chunked: int
    sliding: int

    @property
    def count(self) -> int:
        """Number of groups."""
        return self.full + self.chunked + self.sliding


def _groups(m: ModelSpec, layers: range, hybrid: bool) -> _Groups:
    """Group layers by attention type (hybrid KV-cache manager); one group of all layers otherwise."""
    if not hybrid:
        return _Groups(len(layers), 1, 0, 0)
    chunked = sum(1 for layer in layers if layer in m.chunked_layers)
    sliding = sum(1 for layer in layers if layer in m.sliding_layers and layer not in m.chunked_layers)
    full = len(layers) - chunked - sliding
    size = math.gcd(math.gcd(full, chunked), sliding)
    return _Groups(size, full // size, chunked // size, sliding // size)


def _blocks_per_request(m: ModelSpec, s: EngineSettings, g: _Groups) -> int:
    """Blocks one max_model_len request needs across all groups (vLLM ``max_memory_usage_bytes``)."""
    length, bs, tokens = s.max_model_len, s.block_size, s.max_num_batched_tokens
    blocks = g.full * blocks_for(length, bs)
    if g.chunked and m.attention_chunk_size:
        blocks += g.chunked * blocks_for(min(m.attention_chunk_size + tokens, length), bs)
    if g.sliding and m.sliding_window:
        blocks += g.sliding * (blocks_for(min(m.sliding_window - 1 + tokens, length), bs) + 1)
    return blocks


def _stage_blocks(
    m: ModelSpec, s: EngineSettings, *, tp: int, pp: int, index: int, available: float, hybrid: bool
) -> int:
    """KV blocks one stage can hold with ``available`` GiB per GPU."""
    size = _groups(m, stage_layers(m, pp)[index], hybrid).size
    layer_token = 2 * max(1, m.num_kv_heads // tp) * m.head_dim * s.kv_bytes
    return max(0, math.floor(available * GIB / (s.block_size * size * layer_token)))


def _capacity(m: ModelSpec, s: EngineSettings, blocks: int, first: range, hybrid: bool) -> tuple[int, float]:
    """(printed "GPU KV cache size" tokens, max concurrency at max_model_len) for ``blocks`` blocks."""
    groups = _groups(m, first, hybrid)
    usable = blocks - 1 if s.version.at_least(0, 33) else blocks
    concurrency = max(0, usable) / _blocks_per_request(m, s, groups)
    if not s.version.vllm_v1:
        return blocks * s.block_size, concurrency
    if s.version.at_least(0, 21):
        return int(concurrency * s.max_model_len), concurrency
    return blocks // groups.count * s.block_size, concurrency


def vllm_memory(m: ModelSpec, s: EngineSettings, *, total_gib: float, tp: int, pp: int) -> MemoryResult:
    """KV capacity and memory breakdown of one vLLM replica with TP x PP GPUs of ``total_gib`` each."""
    requested = total_gib * s.gpu_memory_utilization
    weights = stage_weight_bytes(m, dtype=s.dtype, quantization=s.weight_format, tp=tp, pp=pp)
    stages = stage_layers(m, pp)
    hybrid = s.version.vllm_v1 and (m.attention_chunk_size is not None or m.sliding_window is not None)
    nt = max(non_torch_gib(s, tp=tp, pp=pp, layers=len(layers)) for layers in stages)
    in_budget = s.version.at_least(0, 20)
    graph = max(cuda_graph_gib(s, layers=len(layers)) for layers in stages)
    acts, avails, blocks = [], [], []
    for index, layers in enumerate(stages):
        acts.append(
            activation_gib(m, s, tp=tp, layers=layers, first=index == 0, last=index == len(stages) - 1)
        )
        cg = cuda_graph_gib(s, layers=len(layers)) if in_budget else 0.0
        avails.append(requested - weights[index] / GIB - acts[-1] - nt - cg)
        blocks.append(_stage_blocks(m, s, tp=tp, pp=pp, index=index, available=avails[-1], hybrid=hybrid))
    tight = blocks.index(min(blocks))
    tokens, concurrency = _capacity(m, s, blocks[tight], stages[0], hybrid)
    kv_token = 2 * max(1, m.num_kv_heads // tp) * m.head_dim * s.kv_bytes * len(stages[tight])
    return MemoryResult(
        total_gib=total_gib,
        requested_gib=requested,
        weights_gib=weights[0] / GIB,
        weights_gib_max=max(weights) / GIB,
        weights_gib_sum=sum(weights) / GIB,
        activation_gib=acts[0],
        non_torch_gib=nt,
        cuda_graph_gib=graph if in_budget else 0.0,
        cuda_graph_outside_gib=0.0 if in_budget else graph,
        kv_cache_gib=max(0.0, avails[0]),
        kv_bytes_per_token=kv_token,
        num_blocks=blocks[tight],
        block_size=s.block_size,
        kv_cache_tokens=tokens,
        max_concurrency=concurrency,
        fits=min(avails) > 0 and concurrency >= 1,
        notes=_notes(s, graph, requested, total_gib, in_budget) + _share_note(avails[tight], requested),
    )


SMALL_KV_SHARE = 0.10
"""KV budget below this share of requested memory: absolute errors become large relative ones."""
KV_ERROR_GIB = 0.2
"""Typical absolute error of the non-KV terms per GPU on public cases (GiB): the headroom reserved then."""


def kv_share(kv_gib: float, requested_gib: float) -> float:
    """KV-cache budget as a share of the requested memory per GPU."""
    return kv_gib / requested_gib if requested_gib > 0 else 0.0


def usable_concurrency(mem: MemoryResult) -> float:
    """Max concurrency after reserving ``KV_ERROR_GIB`` per GPU when the KV budget is a small share."""
    kv = mem.kv_cache_gib
    if kv <= 0 or kv_share(kv, mem.requested_gib) >= SMALL_KV_SHARE:
        return mem.max_concurrency
    return mem.max_concurrency * max(0.0, kv - KV_ERROR_GIB) / kv


def _share_note(kv_gib: float, requested: float) -> tuple[str, ...]:
    share = kv_share(kv_gib, requested)
    if kv_gib <= 0 or share >= SMALL_KV_SHARE:
        return ()
    return (
        f"SMALL KV BUDGET: {kv_gib:.2f} GiB is {share:.1%} of the {requested:.2f} GiB requested per GPU; an "
        f"error of {KV_ERROR_GIB} GiB in the other terms is {KV_ERROR_GIB / kv_gib:.0%} of the KV capacity "
        f"(the recommender reserves it as headroom); prefer more GPUs, FP8 KV cache or a shorter context",
    )


def _notes(
    s: EngineSettings, graph: float, requested: float, total: float, in_budget: bool
) -> tuple[str, ...]:
    if in_budget or s.enforce_eager:
        return ()
    peak = requested + graph + 0.5
    if peak <= total:
        return ()
    return (
        f"vLLM {s.version.text} captures ~{graph:.2f} GiB of CUDA graphs outside the budget: peak "
        f"~{peak:.2f} GiB > {total:.2f} GiB per GPU; lower --gpu-memory-utilization",
    )
