"""Engine command-line flags for a sized replica (vLLM ``vllm serve`` / TGI ``text-generation-launcher``)."""

from __future__ import annotations

from serving.sizing.settings import EngineSettings


def vllm_args(s: EngineSettings, *, tp: int, pp: int) -> tuple[str, ...]:
    """Flags for ``vllm serve``; --quantization only for online FP8 (quantized checkpoints self-describe)."""
    args = [
        "--tensor-parallel-size",
        str(tp),
        "--pipeline-parallel-size",
        str(pp),
        "--max-model-len",
        str(s.max_model_len),
        "--max-num-seqs",
        str(s.max_num_seqs),
        "--max-num-batched-tokens",
        str(s.max_num_batched_tokens),
        "--gpu-memory-utilization",
        f"{s.gpu_memory_utilization:.2f}",
        "--dtype",
        s.dtype,
        "--kv-cache-dtype",
        s.kv_cache_dtype,
    ]
    if s.quantization == "fp8" and s.weight_format == "fp8":
        args += ["--quantization", "fp8"]
    if s.enforce_eager:
        args.append("--enforce-eager")
    return tuple(args)


def tgi_args(s: EngineSettings, *, tp: int) -> tuple[str, ...]:
    """Flags for ``text-generation-launcher``."""
    args = [
        "--num-shard",
        str(tp),
        "--max-input-tokens",
        str(max(1, s.max_model_len - 1)),
        "--max-total-tokens",
        str(s.max_model_len),
        "--max-batch-prefill-tokens",
        str(s.max_num_batched_tokens),
        "--max-concurrent-requests",
        str(s.max_num_seqs),
        "--cuda-memory-fraction",
        f"{s.gpu_memory_utilization:.2f}",
    ]
    if s.quantization == "fp8" and s.weight_format == "fp8":
        args += ["--quantize", "fp8"]
    else:
        args += ["--dtype", s.dtype]
    if s.kv_cache_dtype == "fp8":
        args += ["--kv-cache-dtype", "fp8_e4m3fn"]
    return tuple(args)


def engine_args(s: EngineSettings, *, tp: int, pp: int) -> tuple[str, ...]:
    """Flags for the chosen engine."""
    return tgi_args(s, tp=tp) if s.engine == "tgi" else vllm_args(s, tp=tp, pp=pp)
