"""Recommendation: the cheapest instance (and replica count) that serves N concurrent sequences of C tokens.

Search: every catalog instance with a price in the region x every TP size that fits its GPUs and the model's
heads; pipeline parallelism across nodes (EFA instances, TP = the node's GPUs) only when no single node of
that type holds the model. Replicas = ceil(concurrency x (1 + headroom) / KV concurrency per replica);
replicas pack onto a node when they use fewer GPUs than it has. Cost = nodes x node price. Every instance
whose node price is below the chosen total is reported with the reason it lost.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from serving.catalog.hardware import InstanceSpec, check_region, get_gpu, get_instance, list_instances
from serving.catalog.models import ModelSpec, get_model
from serving.errors import InputError, SizingError
from serving.sizing.core import DEFAULT_UTILIZATION, Placement, assemble, memory_for, node_price
from serving.sizing.memory import MemoryResult
from serving.sizing.plan import Rejection, ServingPlan
from serving.sizing.settings import EngineSettings, check_parallelism, resolve

MAX_PP_NODES = 4


class NoFitError(SizingError):
    """Nothing in the searched catalog serves the request; ``rejected`` says why for each option."""

    def __init__(self, message: str, *, rejected: tuple[Rejection, ...], field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.rejected = rejected


@dataclass(frozen=True, kw_only=True)
class Request:
    """One recommendation request (validated)."""

    model: ModelSpec
    context: int
    concurrency: int
    engine: str
    engine_version: str | None
    dtype: str | None
    quantization: str
    kv_cache_dtype: str
    region: str
    capacity_type: str
    headroom: float
    gpu_memory_utilization: float | None
    max_replicas: int


@dataclass(frozen=True, kw_only=True)
class Option:
    """A feasible placement with its settings, memory result and cost."""

    placement: Placement
    settings: EngineSettings
    memory: MemoryResult
    cost: float
    nodes: int


def _short(instance: InstanceSpec) -> str:
    return f"{instance.gpus}×{instance.gpu.name.split()[1]}"


def _settings(req: Request, inst: InstanceSpec, seqs: int) -> EngineSettings:
    return resolve(
        req.model,
        gpu=inst.gpu,
        total_gib=inst.gpu.total_memory_gib,
        engine=req.engine,
        engine_version=req.engine_version,
        dtype=req.dtype,
        quantization=req.quantization,
        kv_cache_dtype=req.kv_cache_dtype,
        max_model_len=req.context,
        gpu_memory_utilization=req.gpu_memory_utilization,
        max_num_seqs=seqs,
    )


def _layouts(req: Request, inst: InstanceSpec) -> list[tuple[int, int]]:
    out = []
    for tp in (1, 2, 4, 8):
        if tp > inst.gpus:
            continue
        try:
            check_parallelism(req.model, tp, 1, engine=req.engine)
        except InputError:
            continue
        out.append((tp, 1))
    return out


def _evaluate(req: Request, inst: InstanceSpec, price: float, tp: int, pp: int) -> Option | str:
    """A feasible option, or the reason this layout fails."""
    total = inst.gpu.total_memory_gib
    first = _settings(req, inst, req.concurrency)
    mem = memory_for(req.model, first, total_gib=total, tp=tp, pp=pp)
    if mem.kv_cache_gib <= 0 or not mem.fits:
        return _why(req, inst, mem, tp, pp)
    replicas = max(1, math.ceil(req.concurrency * (1 + req.headroom) / mem.max_concurrency))
    if replicas > req.max_replicas:
        return f"needs {replicas} replicas (more than {req.max_replicas}) at TP{tp}"
    settings = _settings(req, inst, math.ceil(req.concurrency / replicas))
    mem = memory_for(req.model, settings, total_gib=total, tp=tp, pp=pp)
    placement = Placement(
        gpu=inst.gpu,
        total_gib=total,
        instance=inst,
        tp=tp,
        pp=pp,
        replicas=replicas,
        region=req.region,
        capacity_type=req.capacity_type,
    )
    nodes = math.ceil(replicas / placement.replicas_per_node) * placement.nodes_per_replica
    return Option(placement=placement, settings=settings, memory=mem, cost=nodes * price, nodes=nodes)


def _why(req: Request, inst: InstanceSpec, mem: MemoryResult, tp: int, pp: int) -> str:
    gpus = tp * pp
    label = f"{gpus}×{inst.gpu.name.split()[1]}"
    if mem.weights_gib_max >= mem.requested_gib:
        return (
            f"{label} {gpus * mem.requested_gib:.1f} GiB usable < {mem.weights_gib_max * gpus:.1f} GiB "
            f"weights (TP{tp} PP{pp})"
        )
    if mem.kv_cache_gib <= 0:
        return (
            f"{label}: weights {mem.weights_gib_max:.1f} GiB/GPU leave no room for activations and KV cache"
        )
    return (
        f"{label}: KV cache {mem.kv_cache_gib:.1f} GiB/GPU holds {mem.kv_cache_tokens} tokens < one "
        f"{req.context}-token request"
    )


def _options(req: Request, inst: InstanceSpec, price: float) -> tuple[list[Option], str]:
    options: list[Option] = []
    fp8 = req.quantization == "fp8" or req.model.checkpoint_quantization in ("fp8", "fp8_mlp_only")
    if fp8 and not inst.gpu.fp8:
        return options, (
            f"{_short(inst)} has no FP8 tensor cores (vLLM would fall back to slow weight-only "
            "FP8 kernels); pick --quantization none/int8/int4 to consider it"
        )
    reason = (
        f"no TP size <= {inst.gpus} divides the {req.model.num_heads} attention heads / "
        f"{req.model.num_kv_heads} KV heads"
    )
    for tp, pp in _layouts(req, inst):
        result = _evaluate(req, inst, price, tp, pp)
        if isinstance(result, Option):
            options.append(result)
        else:
            reason = result
    if not options and inst.efa and req.engine == "vllm" and _layouts(req, inst):
        tp = max(t for t, _ in _layouts(req, inst))
        for nodes in range(2, MAX_PP_NODES + 1):
            if nodes > req.model.num_layers:
                break
            result = _evaluate(req, inst, price, tp, nodes)
            if isinstance(result, Option):
                options.append(result)
                break
            reason = f"{reason}; across {nodes} nodes: {result}"
    return options, reason


def _search(req: Request, instances: Sequence[InstanceSpec], utilization: float) -> ServingPlan:
    best: Option | None = None
    losers: list[tuple[float, str, str]] = []
    for inst in instances:
        probe = Placement(
            gpu=inst.gpu,
            total_gib=0,
            instance=inst,
            tp=1,
            pp=1,
            region=req.region,
            capacity_type=req.capacity_type,
        )
        price = node_price(probe)
        if price is None:
            losers.append((math.inf, inst.type, f"no price for {inst.type} in {req.region}"))
            continue
        options, reason = _options(req, inst, price)
        if not options:
            losers.append((price, inst.type, reason))
            continue
        mine = min(options, key=_rank)
        if best is None or _rank(mine) < _rank(best):
            if best is not None:
                losers.append((_node(best), _type(best), _pricier(best)))
            best = mine
        else:
            losers.append((price, inst.type, _pricier(mine)))
    if best is None:
        rejected = tuple(Rejection(option=t, reason=r) for _, t, r in sorted(losers))
        raise NoFitError(
            f"no instance in {req.region} serves {req.concurrency} x {req.context} tokens of {req.model.id}",
            rejected=rejected,
        )
    chosen = _type(best)
    rejected = _cheaper(losers, best.cost, chosen)
    p = best.placement
    notes = (
        f"chosen: {p.replicas} replica(s) of TP{p.tp} PP{p.pp} on {best.nodes} x {chosen} "
        f"(${best.cost:.2f}/h); {len(rejected)} cheaper option(s) rejected",
    )
    return assemble(
        req.model, best.settings, best.memory, p, rejected=rejected, notes=notes, utilization=utilization
    )


def _rank(opt: Option) -> tuple[float, int, int]:
    return opt.cost, opt.nodes, opt.placement.tp * opt.placement.pp


def _type(opt: Option) -> str:
    return opt.placement.instance.type if opt.placement.instance else ""


def _node(opt: Option) -> float:
    return opt.cost / opt.nodes


def _pricier(opt: Option) -> str:
    p = opt.placement
    return (
        f"TP{p.tp} PP{p.pp} fits {opt.memory.max_concurrency:.1f} requests/replica but needs {p.replicas} "
        f"replica(s) on {opt.nodes} node(s): ${opt.cost:.2f}/h"
    )


def _cheaper(losers: list[tuple[float, str, str]], best_cost: float, chosen: str) -> tuple[Rejection, ...]:
    seen: dict[str, str] = {}
    for price, itype, reason in sorted(losers):
        if itype != chosen and price < best_cost and itype not in seen:
            seen[itype] = reason
    return tuple(Rejection(option=t, reason=r) for t, r in seen.items())


def recommend(
    model: str | ModelSpec,
    *,
    context: int,
    concurrency: int,
    engine: str = "vllm",
    engine_version: str | None = None,
    dtype: str | None = None,
    quantization: str = "none",
    kv_cache_dtype: str = "auto",
    region: str = "us-east-1",
    capacity_type: str = "on-demand",
    headroom: float = 0.1,
    gpu_memory_utilization: float | None = None,
    instance_types: Sequence[str] | None = None,
    max_replicas: int = 64,
    utilization: float = DEFAULT_UTILIZATION,
) -> ServingPlan:
    """The cheapest instance type, parallelism and replica count for ``concurrency`` sequences of ``context``
    tokens with ``headroom`` spare KV capacity. Raises NoFitError (a SizingError) with every rejection when
    nothing fits, InputError for bad input."""
    spec = model if isinstance(model, ModelSpec) else get_model(model)
    if context < 1:
        raise InputError(f"must be >= 1, got {context}", field="--context")
    if concurrency < 1:
        raise InputError(f"must be >= 1, got {concurrency}", field="--concurrency")
    if headroom < 0:
        raise InputError(f"must be >= 0, got {headroom}", field="--headroom")
    if capacity_type not in ("on-demand", "spot"):
        raise InputError(f"'{capacity_type}' is not on-demand or spot", field="--capacity-type")
    check_region(region)
    req = Request(
        model=spec,
        context=context,
        concurrency=concurrency,
        engine=engine,
        engine_version=engine_version,
        dtype=dtype,
        quantization=quantization,
        kv_cache_dtype=kv_cache_dtype,
        region=region,
        capacity_type=capacity_type,
        headroom=headroom,
        gpu_memory_utilization=gpu_memory_utilization,
        max_replicas=max_replicas,
    )
    # validate the engine flags once, up front: bad input is an InputError, never a rejection
    resolve(
        spec,
        gpu=None,
        total_gib=80.0,
        engine=engine,
        engine_version=engine_version,
        dtype=dtype,
        quantization=quantization,
        kv_cache_dtype=kv_cache_dtype,
        max_model_len=context,
        gpu_memory_utilization=gpu_memory_utilization,
    )
    instances = (
        [get_instance(t, field="--gpu") for t in instance_types] if instance_types else list_instances()
    )
    return _search(req, instances, utilization)


def plan_for_deployment(
    *,
    model: str,
    engine: str = "vllm",
    engine_version: str | None = None,
    context: int,
    concurrency: int,
    gpu: str = "auto",
    quantization: str = "none",
    kv_cache_dtype: str = "auto",
    region: str = "us-east-1",
    capacity_type: str = "on-demand",
) -> ServingPlan:
    """The plan the platform stack deploys for one ``paddock:models`` entry.

    ``gpu``: "auto" (whole catalog), an instance type (only that type) or a GPU id (instances with that GPU).
    Raises InputError / CatalogLookupError for bad values (fields named like the CLI flags), NoFitError
    when nothing fits."""
    candidates: list[str] | None = None
    if gpu != "auto":
        try:
            gpu_id = get_gpu(gpu, field="--gpu").id
            candidates = [i.type for i in list_instances() if i.gpu.id == gpu_id]
        except InputError:
            candidates = [get_instance(gpu, field="--gpu").type]
    return recommend(
        get_model(model),
        context=context,
        concurrency=concurrency,
        engine=engine,
        engine_version=engine_version,
        quantization=quantization,
        kv_cache_dtype=kv_cache_dtype,
        region=region,
        capacity_type=capacity_type,
        instance_types=candidates,
    )
