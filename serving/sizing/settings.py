"""Resolved engine settings: user flags plus each engine version's defaults, validated (errors name flags)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from serving.catalog.hardware import GpuSpec
from serving.catalog.models import ModelSpec
from serving.errors import InputError
from serving.sizing.versions import EngineVersion, parse_version

ENGINES = ("vllm", "tgi")
DTYPES = ("bfloat16", "float16", "float32")
QUANTIZATIONS = ("none", "fp8", "int8", "int4")
KV_CACHE_DTYPES = ("auto", "fp8")


@dataclass(frozen=True, kw_only=True)
class EngineSettings:
    """Everything the memory model needs besides the model, GPU and parallelism."""

    engine: str
    version: EngineVersion
    dtype: str
    quantization: str
    """Quantization as requested (none|fp8|int8|int4), what the plan reports."""
    weight_format: str
    """Layout used for weight bytes: the requested one or the checkpoint's (e.g. fp8_mlp_only)."""
    kv_cache_dtype: str
    max_model_len: int
    gpu_memory_utilization: float
    """vLLM --gpu-memory-utilization, or TGI --cuda-memory-fraction."""
    max_num_batched_tokens: int
    """vLLM --max-num-batched-tokens, or TGI --max-batch-prefill-tokens."""
    max_num_seqs: int
    """vLLM --max-num-seqs, or TGI --max-concurrent-requests."""
    block_size: int
    enforce_eager: bool = False

    @property
    def dtype_bytes(self) -> int:
        """Bytes per element of the model dtype."""
        return 4 if self.dtype == "float32" else 2

    @property
    def kv_bytes(self) -> int:
        """Bytes per KV element: 1 for fp8, else the model dtype's."""
        return 1 if self.kv_cache_dtype == "fp8" else self.dtype_bytes


def _choice(value: str, allowed: tuple[str, ...], field: str) -> str:
    if value not in allowed:
        raise InputError(f"'{value}' is not one of {', '.join(allowed)}", field=field)
    return value


def check_parallelism(model: ModelSpec, tp: int, pp: int, *, engine: str = "vllm") -> None:
    """TP must divide the attention heads and fit the KV heads (divide them, or be a multiple of them
    when KV heads are replicated); PP must not exceed the layers; TGI has no PP."""
    if tp < 1:
        raise InputError(f"must be >= 1, got {tp}", field="--tp")
    if pp < 1:
        raise InputError(f"must be >= 1, got {pp}", field="--pp")
    if model.num_heads % tp:
        raise InputError(
            f"{tp} does not divide the {model.num_heads} attention heads of {model.id}", field="--tp"
        )
    kv = model.num_kv_heads
    if (tp <= kv and kv % tp) or (tp > kv and tp % kv):
        raise InputError(
            f"{tp} does not divide (nor is a multiple of) the {kv} KV heads of {model.id}", field="--tp"
        )
    if pp > model.num_layers:
        raise InputError(f"{pp} stages exceed the {model.num_layers} layers of {model.id}", field="--pp")
    if engine == "tgi" and pp > 1:
        raise InputError("TGI has no pipeline parallelism; use --tp or --engine vllm", field="--pp")


def _weight_format(model: ModelSpec, quantization: str) -> str:
    ckpt = model.checkpoint_quantization
    if ckpt == "none":
        return quantization
    family = "fp8" if ckpt == "fp8_mlp_only" else ckpt
    if quantization not in ("none", family):
        raise InputError(
            f"{model.id} is a pre-quantized {ckpt} checkpoint; it cannot be served as {quantization}",
            field="--quantization",
        )
    return ckpt


def _big_gpu(gpu: GpuSpec | None, total_gib: float) -> bool:
    return total_gib >= 70 and not (gpu is not None and gpu.id.startswith("a100"))


def _defaults(
    engine: str, version: EngineVersion, length: int, gpu: GpuSpec | None, total_gib: float
) -> tuple[int, int, int]:
    """(block size, max_num_batched_tokens, max_num_seqs) the engine picks by itself (§1.4, §2)."""
    if engine == "tgi":
        prefill = min(4096, length) if version.at_least(3, 0) else length + 49
        return (1 if version.at_least(3, 0) else 16), prefill, 128
    if not version.vllm_v1:
        return 16, (512 if length > 32768 else max(length, 2048)), 256
    big = _big_gpu(gpu, total_gib)
    tokens = 16384 if version.at_least(0, 33) and total_gib >= 160 else (8192 if big else 2048)
    return 16, tokens, (1024 if big else 256)


def resolve(
    model: ModelSpec,
    *,
    gpu: GpuSpec | None,
    total_gib: float,
    engine: str = "vllm",
    engine_version: str | None = None,
    dtype: str | None = None,
    quantization: str = "none",
    kv_cache_dtype: str = "auto",
    max_model_len: int | None = None,
    gpu_memory_utilization: float | None = None,
    max_num_batched_tokens: int | None = None,
    max_num_seqs: int | None = None,
    enforce_eager: bool = False,
) -> EngineSettings:
    """Fill engine defaults for this GPU and version and validate every flag (InputError names it)."""
    _choice(engine, ENGINES, "--engine")
    version = parse_version(engine, engine_version)
    dtype = _choice(dtype or model.dtype, DTYPES, "--dtype")
    _choice(quantization, QUANTIZATIONS, "--quantization")
    _choice(kv_cache_dtype, KV_CACHE_DTYPES, "--kv-cache-dtype")
    length = model.max_position_embeddings if max_model_len is None else max_model_len
    if length < 1:
        raise InputError(f"must be >= 1, got {length}", field="--max-model-len")
    if length > model.max_position_embeddings:
        raise InputError(
            f"{length} exceeds the model's max_position_embeddings {model.max_position_embeddings}",
            field="--max-model-len",
        )
    util = (
        version.default_gpu_memory_utilization if gpu_memory_utilization is None else gpu_memory_utilization
    )
    if not 0 < util <= 1:
        raise InputError(f"must be in (0, 1], got {util}", field="--gpu-memory-utilization")
    block, default_tokens, default_seqs = _defaults(engine, version, length, gpu, total_gib)
    tokens = default_tokens if max_num_batched_tokens is None else max_num_batched_tokens
    seqs = default_seqs if max_num_seqs is None else max_num_seqs
    if tokens < 1:
        raise InputError(f"must be >= 1, got {tokens}", field="--max-num-batched-tokens")
    if seqs < 1:
        raise InputError(f"must be >= 1, got {seqs}", field="--max-num-seqs")
    if engine == "vllm" and tokens < seqs and max_num_batched_tokens is not None:
        raise InputError(
            f"{tokens} is smaller than --max-num-seqs {seqs} (vLLM refuses to start)",
            field="--max-num-batched-tokens",
        )
    tokens = max(tokens, seqs) if engine == "vllm" else tokens
    return EngineSettings(
        engine=engine,
        version=version,
        dtype=dtype,
        quantization=quantization,
        weight_format=_weight_format(model, quantization),
        kv_cache_dtype=kv_cache_dtype,
        max_model_len=length,
        gpu_memory_utilization=util,
        max_num_batched_tokens=tokens,
        max_num_seqs=seqs,
        block_size=block,
        enforce_eager=enforce_eager,
    )


def blocks_for(tokens: int, block_size: int) -> int:
    """Blocks needed to hold ``tokens`` tokens."""
    return math.ceil(tokens / block_size)
