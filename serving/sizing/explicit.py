"""Explicit sizing: ``size_on_gpu`` (a GPU id or instance type, TP and PP given) and its explanation note."""

from __future__ import annotations

import math

from serving.catalog.hardware import GpuSpec, InstanceSpec, check_region, get_gpu, get_instance
from serving.catalog.models import ModelSpec, get_model
from serving.errors import InputError
from serving.sizing.core import DEFAULT_UTILIZATION, Placement, assemble, memory_for
from serving.sizing.memory import MemoryResult
from serving.sizing.plan import ServingPlan
from serving.sizing.settings import EngineSettings, check_parallelism, resolve
from serving.sizing.workload import workload

#: stand-in GPU for --gpu-memory-gib without --gpu (bandwidth/FLOPs of an H100 for the estimates)
_GENERIC_GPU = "h100-80gb"


def _hardware(
    gpu: str | None, gpu_memory_gib: float | None, instance_type: str | None
) -> tuple[GpuSpec, float, InstanceSpec | None]:
    instance = get_instance(instance_type, field="--instance-type") if instance_type else None
    if gpu is not None and instance is None:
        try:
            spec = get_gpu(gpu)
        except InputError:
            instance = get_instance(gpu, field="--gpu")
            spec = instance.gpu
    elif instance is not None:
        spec = instance.gpu
    elif gpu_memory_gib is not None:
        spec = get_gpu(_GENERIC_GPU)
    else:
        raise InputError(
            "give a GPU id (e.g. h100-80gb) or --gpu-memory-gib, or use --context/--concurrency "
            "for a recommendation",
            field="--gpu",
        )
    if gpu_memory_gib is not None and not gpu_memory_gib > 0:
        raise InputError(f"must be > 0, got {gpu_memory_gib}", field="--gpu-memory-gib")
    return spec, gpu_memory_gib or spec.total_memory_gib, instance


def size_on_gpu(
    model: str | ModelSpec,
    *,
    gpu: str | None = None,
    gpu_memory_gib: float | None = None,
    tp: int = 1,
    pp: int = 1,
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
    instance_type: str | None = None,
    region: str = "us-east-1",
    capacity_type: str = "on-demand",
    utilization: float = DEFAULT_UTILIZATION,
    prompt_tokens: int | None = None,
    output_tokens: int | None = None,
) -> ServingPlan:
    """Size one replica on a given GPU (catalog id or instance type) with explicit TP/PP; the serving
    estimates use ``prompt_tokens`` + ``output_tokens`` per request when given (else full-length requests),
    at max_num_seqs requests or as many as the KV cache holds.

    Returns a plan whose ``fits`` says whether vLLM/TGI would start with one request of max_model_len.
    Raises InputError (field = the CLI flag) for bad input."""
    spec = model if isinstance(model, ModelSpec) else get_model(model)
    gpu_spec, total, instance = _hardware(gpu, gpu_memory_gib, instance_type)
    check_region(region)
    if capacity_type not in ("on-demand", "spot"):
        raise InputError(f"'{capacity_type}' is not on-demand or spot", field="--capacity-type")
    check_parallelism(spec, tp, pp, engine=engine)
    if instance is not None and tp > instance.gpus:
        raise InputError(
            f"{tp} exceeds the {instance.gpus} GPU(s) of {instance.type}: tensor parallelism stays "
            "inside one node (use --pp to span nodes)",
            field="--tp",
        )
    settings = resolve(
        spec,
        gpu=gpu_spec,
        total_gib=total,
        engine=engine,
        engine_version=engine_version,
        dtype=dtype,
        quantization=quantization,
        kv_cache_dtype=kv_cache_dtype,
        max_model_len=max_model_len,
        gpu_memory_utilization=gpu_memory_utilization,
        max_num_batched_tokens=max_num_batched_tokens,
        max_num_seqs=max_num_seqs,
        enforce_eager=enforce_eager,
    )
    mem = memory_for(spec, settings, total_gib=total, tp=tp, pp=pp)
    placement = Placement(
        gpu=gpu_spec,
        total_gib=total,
        instance=instance,
        tp=tp,
        pp=pp,
        region=region if instance else None,
        capacity_type=capacity_type,
    )
    notes = [_explain(spec, settings, mem, tp, pp)]
    if gpu is None and instance is None:
        notes.append(
            f"--gpu-memory-gib {total:g} without --gpu: bandwidth and FLOPs of {_GENERIC_GPU} are assumed"
        )
    if quantization == "fp8" and not gpu_spec.fp8:
        notes.append(f"{gpu_spec.id} has no FP8 tensor cores: vLLM runs FP8 weights weight-only (Marlin)")
    work = None
    if prompt_tokens is not None or output_tokens is not None:
        length = (prompt_tokens or 0) + (output_tokens or 0)
        fit = math.floor(mem.max_concurrency * settings.max_model_len / max(1, length))
        work = workload(
            context=settings.max_model_len,
            concurrency=max(1, min(settings.max_num_seqs, fit)),
            prompt_tokens=prompt_tokens,
            output_tokens=output_tokens,
        )
    return assemble(spec, settings, mem, placement, notes=tuple(notes), utilization=utilization, work=work)


def _explain(m: ModelSpec, s: EngineSettings, mem: MemoryResult, tp: int, pp: int) -> str:
    graphs = f" - CUDA graphs {mem.cuda_graph_gib:.2f}" if mem.cuda_graph_gib else ""
    verdict = "fits" if mem.fits else "does NOT fit"
    return (
        f"{s.engine} {s.version.text}: {mem.total_gib:.2f} GiB x {s.gpu_memory_utilization:.2f} = "
        f"{mem.requested_gib:.2f} GiB per GPU - weights {mem.weights_gib:.2f} - activation "
        f"{mem.activation_gib:.2f} - non-torch {mem.non_torch_gib:.2f}{graphs} = KV "
        f"{mem.kv_cache_gib:.2f} GiB "
        f"-> {mem.num_blocks} blocks x {s.block_size} = {mem.kv_cache_tokens} tokens at "
        f"{mem.kv_bytes_per_token / 1024:.1f} KiB/token/GPU (TP{tp} PP{pp}); "
        f"{mem.max_concurrency:.2f} x {s.max_model_len}-token requests: {verdict}"
    )
