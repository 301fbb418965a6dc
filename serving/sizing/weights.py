"""Parameter counts and weight bytes per GPU (the number vLLM logs as "Model loading took X GiB").

Per rank: linear layers are sharded by TP (column/row parallel; K/V replicated when TP > KV heads),
embedding and lm_head are vocab-parallel (vocab padded to a multiple of 64), norms/routers replicate,
layers are split across PP stages as vLLM's ``get_pp_indices`` does (remainder layers go to the stages
just before the last). Quantized linear weights: fp8/int8 = 1 byte + an fp32 scale per output channel;
int4 (w4a16, group 128) = 0.5 byte + fp16 scale and packed zero point per group. Embeddings, lm_head,
norms, routers, biases and vision towers stay in ``dtype``. Every rank also holds the rotary cos/sin
cache: max_position_embeddings x rotary_dim in ``dtype``.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

from serving.catalog.models import ModelSpec

GIB = float(2**30)
DTYPE_BYTES = {"bfloat16": 2, "float16": 2, "float32": 4}
#: bytes per parameter of a quantized linear weight, before per-channel / per-group scales
_QUANT_BYTES = {"fp8": 1.0, "int8": 1.0, "int4": 0.5}
_INT4_GROUP = 128


def pp_layer_split(num_layers: int, pp: int) -> list[int]:
    """Layers per pipeline stage, as vLLM partitions them (extra layers on the stages before the last)."""
    base = num_layers // pp
    parts = [base] * pp
    for i in range(2, num_layers % pp + 2):
        parts[-i] += 1
    return parts


def stage_layers(model: ModelSpec, pp: int) -> list[range]:
    """Layer index ranges of each PP stage."""
    out, start = [], 0
    for n in pp_layer_split(model.num_layers, pp):
        out.append(range(start, start + n))
        start += n
    return out


@dataclass(frozen=True)
class _Linear:
    """``count`` identical linear weight shards of ``rows`` output channels x ``cols`` inputs."""

    rows: int
    cols: int
    count: int = 1


def _attention_linears(m: ModelSpec, tp: int) -> list[_Linear]:
    q_heads = m.num_heads // tp
    kv_heads = max(1, m.num_kv_heads // tp)
    return [
        _Linear(q_heads * m.head_dim, m.hidden_size),
        _Linear(kv_heads * m.head_dim, m.hidden_size),
        _Linear(kv_heads * m.head_dim, m.hidden_size),
        _Linear(m.hidden_size, q_heads * m.head_dim),
    ]


def _mlp_linears(hidden: int, inter: int, tp: int, copies: int = 1) -> list[_Linear]:
    shard = inter // tp
    return [_Linear(shard, hidden, 2 * copies), _Linear(hidden, shard, copies)]


def _layer_linears(m: ModelSpec, layer: int, tp: int) -> tuple[list[_Linear], list[_Linear]]:
    """(attention linears, MLP/expert linears) of one layer on one TP rank."""
    if layer in m.moe_layers:
        mlp = _mlp_linears(m.hidden_size, m.moe_intermediate_size, tp, copies=m.num_experts)
        if m.shared_expert_intermediate_size:
            mlp += _mlp_linears(m.hidden_size, m.shared_expert_intermediate_size, tp)
    else:
        mlp = _mlp_linears(m.hidden_size, m.intermediate_size, tp)
    return _attention_linears(m, tp), mlp


def _layer_extra_params(m: ModelSpec, layer: int, tp: int) -> int:
    """Unquantized per-layer parameters on one rank: norms, qk-norms, qkv bias, router, shared-expert gate."""
    extra = 2 * m.hidden_size
    if m.qk_norm:
        extra += 2 * m.head_dim
    if m.qkv_bias:
        extra += (m.num_heads // tp + 2 * max(1, m.num_kv_heads // tp)) * m.head_dim
    if layer in m.moe_layers:
        extra += m.hidden_size * m.num_experts + (m.hidden_size if m.shared_expert_gate else 0)
    return extra


def _linear_bytes(lin: _Linear, quant: str, dtype_bytes: int) -> float:
    params = lin.rows * lin.cols
    if quant in ("fp8", "int8"):
        one = params * 1.0 + lin.rows * 4
    elif quant == "int4":
        one = params * _QUANT_BYTES["int4"] + params / _INT4_GROUP * 2.5
    else:
        one = float(params * dtype_bytes)
    return one * lin.count


def padded_vocab(vocab: int) -> int:
    """vLLM pads the vocab-parallel embedding and lm_head to a multiple of 64."""
    return math.ceil(vocab / 64) * 64


def rope_cache_bytes(m: ModelSpec, dtype: str) -> int:
    """Rotary cos/sin cache every rank holds (max_position_embeddings x rotary_dim in dtype)."""
    return m.max_position_embeddings * m.rotary_dim * DTYPE_BYTES[dtype]


@functools.lru_cache(maxsize=4096)
def stage_weight_bytes(m: ModelSpec, *, dtype: str, quantization: str, tp: int, pp: int) -> tuple[float, ...]:
    """Weight bytes on one GPU of each PP stage (TP ranks of a stage are equal), rope cache included.

    ``quantization``: none | fp8 | int8 | int4 | fp8_mlp_only (fp8 on MLPs of all but the first and last
    layer, the rest in dtype: Meta's Llama-3.1-405B-Instruct-FP8 layout)."""
    db = DTYPE_BYTES[dtype]
    out: list[float] = []
    vocab_shard = padded_vocab(m.vocab_size) // tp * m.hidden_size
    stages = stage_layers(m, pp)
    for index, layers in enumerate(stages):
        total = float(rope_cache_bytes(m, dtype))
        for layer in layers:
            attn, mlp = _layer_linears(m, layer, tp)
            attn_q = "none" if quantization == "fp8_mlp_only" else quantization
            mlp_q = quantization
            if quantization == "fp8_mlp_only":
                mlp_q = "fp8" if 0 < layer < m.num_layers - 1 else "none"
            total += sum(_linear_bytes(lin, attn_q, db) for lin in attn)
            total += sum(_linear_bytes(lin, mlp_q, db) for lin in mlp)
            total += _layer_extra_params(m, layer, tp) * db
        if index == 0:
            total += vocab_shard * db + m.vision_params / tp * db
        if index == len(stages) - 1:
            total += m.hidden_size * db
            if not m.tie_embeddings or pp > 1:
                total += vocab_shard * db
        out.append(total)
    return tuple(out)


def language_model_params(m: ModelSpec) -> int:
    """Parameters of the language model (no vision tower), tied embeddings counted once."""
    total = m.vocab_size * m.hidden_size * (1 if m.tie_embeddings else 2) + m.hidden_size
    for layer in range(m.num_layers):
        attn, mlp = _layer_linears(m, layer, 1)
        total += sum(lin.rows * lin.cols * lin.count for lin in attn + mlp) + _layer_extra_params(m, layer, 1)
    return total


@functools.lru_cache(maxsize=256)
def active_params_per_token(m: ModelSpec) -> int:
    """Parameters one decode token multiplies through (only ``experts_per_token`` experts), with lm_head."""
    total = m.vocab_size * m.hidden_size
    for layer in range(m.num_layers):
        attn, _ = _layer_linears(m, layer, 1)
        total += sum(lin.rows * lin.cols * lin.count for lin in attn)
        if layer in m.moe_layers:
            inter = m.moe_intermediate_size * m.experts_per_token + m.shared_expert_intermediate_size
        else:
            inter = m.intermediate_size
        total += 3 * m.hidden_size * inter
    return total


def checkpoint_bytes(m: ModelSpec, *, dtype: str, quantization: str) -> float:
    """Bytes of the checkpoint on disk / in S3. Online ``--quantization fp8`` still downloads the
    unquantized checkpoint, so only pre-quantized checkpoints are smaller."""
    stored = m.checkpoint_quantization if m.checkpoint_quantization != "none" else quantization
    if stored == "fp8" and m.checkpoint_quantization == "none":
        stored = "none"
    per_gpu = stage_weight_bytes(m, dtype=dtype, quantization=stored, tp=1, pp=1)[0]
    return per_gpu - rope_cache_bytes(m, dtype)
