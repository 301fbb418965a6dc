"""Recommendation: the instance, parallelism, replicas and engine options that serve N concurrent requests at
the lowest $ per 1M output tokens (serving/sizing/ranking.py), within an optional TPOT target.

Search: every catalog instance with a price in the region x every TP size that fits its GPUs and the model's
heads (TP above MAX_PCIE_TP on GPUs without NVLink only with ``allow_pcie_tp``); pipeline parallelism across
nodes (EFA instances, TP = the node's GPUs) only when no single node of that type holds the model. With
``variants`` (what ``paddock size`` searches; deployments keep the stack's settings) it also tries the options
users would on GPUs with FP8 tensor cores (Ada, Hopper, Blackwell): fp8 KV cache (the vLLM recipes' default
there) and the model's official FP8 checkpoint. Replicas = ceil(concurrency x (1 + headroom) / requests of the
workload's length one replica holds), after reserving headroom when the KV budget is a small share
(serving/sizing/vllm.py); replicas pack onto a node when they use fewer GPUs than it has.

Types AWS does not sell On-Demand in the region (``serving.catalog.is_offered``) are skipped and listed in
``rejected`` when searching the whole catalog. When the caller pins candidates (``instance_types``) they are
still sized, but any feasible On-Demand option wins over them; their hypothetical catalog price only ranks
them against each other, and a plan on one carries no cost (see ``serving.sizing.offers``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from serving.catalog.hardware import (
    InstanceSpec,
    check_region,
    get_gpu,
    get_instance,
    instance_price,
    list_instances,
)
from serving.catalog.models import ModelSpec, get_model
from serving.errors import InputError, SizingError
from serving.sizing.core import DEFAULT_UTILIZATION, Placement, assemble, estimate_for, memory_for, node_price
from serving.sizing.memory import MemoryResult
from serving.sizing.offers import rejection_reason, unsold
from serving.sizing.options import Variant, engine_variants, tp_layouts
from serving.sizing.plan import Rejection, ServingPlan
from serving.sizing.ranking import DEFAULT_TPOT_TARGET_MS, Board, Ranked
from serving.sizing.settings import EngineSettings, resolve
from serving.sizing.vllm import usable_concurrency
from serving.sizing.workload import Workload, workload

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
    work: Workload
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
    variants: bool = False
    allow_pcie_tp: bool = False
    max_tpot_ms: float | None = None

    @property
    def context(self) -> int:
        """Maximum tokens of one request."""
        return self.work.context

    @property
    def concurrency(self) -> int:
        """Requests in flight."""
        return self.work.concurrency


@dataclass(frozen=True, kw_only=True)
class Option:
    """A feasible placement with its settings, memory result, serving estimate and cost."""

    placement: Placement
    settings: EngineSettings
    memory: MemoryResult
    variant: Variant
    ranked: Ranked


def _short(instance: InstanceSpec) -> str:
    return f"{instance.gpus}×{instance.gpu.name.split()[1]}"


def _settings(req: Request, v: Variant, inst: InstanceSpec, seqs: int) -> EngineSettings:
    return resolve(
        v.model,
        gpu=inst.gpu,
        total_gib=inst.gpu.total_memory_gib,
        engine=req.engine,
        engine_version=req.engine_version,
        dtype=req.dtype,
        quantization=v.quantization,
        kv_cache_dtype=v.kv_cache_dtype,
        max_model_len=req.context,
        gpu_memory_utilization=req.gpu_memory_utilization,
        max_num_seqs=seqs,
    )


def _label(v: Variant, inst: InstanceSpec, nodes: int, tp: int, pp: int) -> str:
    extra = f", {v.label}" if v.label else ""
    return f"{nodes} x {inst.type} TP{tp}{f' PP{pp}' if pp > 1 else ''}{extra}"


def _evaluate(req: Request, v: Variant, inst: InstanceSpec, price: float, tp: int, pp: int) -> Option | str:
    """A feasible option, or the reason this layout fails."""
    total = inst.gpu.total_memory_gib
    mem = memory_for(v.model, _settings(req, v, inst, req.concurrency), total_gib=total, tp=tp, pp=pp)
    if mem.kv_cache_gib <= 0 or not mem.fits:
        return _why(req, inst, mem, tp, pp)
    usable = usable_concurrency(mem)
    if usable < 1:
        return (
            f"{tp * pp}×{inst.gpu.name.split()[1]}: KV cache {mem.kv_cache_gib:.2f} GiB/GPU is too small a "
            f"share to hold one {req.context}-token request reliably (TP{tp} PP{pp})"
        )
    per_replica = usable * req.context / req.work.request_tokens
    replicas = max(1, math.ceil(req.concurrency * (1 + req.headroom) / per_replica))
    if replicas > req.max_replicas:
        return f"needs {replicas} replicas (more than {req.max_replicas}) at TP{tp}"
    settings = _settings(req, v, inst, math.ceil(req.concurrency / replicas))
    mem = memory_for(v.model, settings, total_gib=total, tp=tp, pp=pp)
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
    est = estimate_for(v.model, settings, mem, placement, req.work)
    if req.max_tpot_ms is not None and est.tpot_s * 1000 > req.max_tpot_ms:
        what = f"TP{tp}{', ' + v.label if v.label else ''}"
        return f"{what}: TPOT ~{est.tpot_s * 1000:.1f} ms > --max-tpot-ms {req.max_tpot_ms:g}"
    ranked = Ranked(
        label=_label(v, inst, nodes, tp, pp),
        group=f"{inst.gpu.id} x{tp * pp} TP{tp} PP{pp} replicas {replicas} {v.label}",
        instance_type=inst.type,
        offered=unsold(inst, req.region) is None,
        cost=nodes * price,
        nodes=nodes,
        gpus=tp * pp,
        replicas=replicas,
        estimate=est,
        target_tpot_ms=req.max_tpot_ms or DEFAULT_TPOT_TARGET_MS,
    )
    return Option(placement=placement, settings=settings, memory=mem, variant=v, ranked=ranked)


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
    layouts, skipped = tp_layouts(req.model, inst, engine=req.engine, allow_pcie_tp=req.allow_pcie_tp)
    reason = skipped or (
        f"no TP size <= {inst.gpus} divides the {req.model.num_heads} attention heads / "
        f"{req.model.num_kv_heads} KV heads"
    )
    for v in engine_variants(
        req.model,
        inst,
        engine=req.engine,
        quantization=req.quantization,
        kv_cache_dtype=req.kv_cache_dtype,
        search=req.variants,
    ):
        fp8 = v.quantization == "fp8" or v.model.checkpoint_quantization in ("fp8", "fp8_mlp_only")
        if fp8 and not inst.gpu.fp8:
            reason = (
                f"{_short(inst)} has no FP8 tensor cores (vLLM would fall back to slow weight-only "
                "FP8 kernels); pick --quantization none/int8/int4 to consider it"
            )
            continue
        found = False
        for tp, pp in layouts:
            result = _evaluate(req, v, inst, price, tp, pp)
            if isinstance(result, Option):
                options.append(result)
                found = True
            else:
                reason = result
        if not found and inst.efa and req.engine == "vllm" and layouts:
            tp = max(t for t, _ in layouts)
            for nodes in range(2, MAX_PP_NODES + 1):
                if nodes > req.model.num_layers:
                    break
                result = _evaluate(req, v, inst, price, tp, nodes)
                if isinstance(result, Option):
                    options.append(result)
                    break
                reason = f"{reason}; across {nodes} nodes: {result}"
    return options, reason


def _price(req: Request, inst: InstanceSpec, *, hypothetical: bool) -> float | None:
    if hypothetical:
        return instance_price(inst.type, req.region, hypothetical=True)
    probe = Placement(
        gpu=inst.gpu,
        total_gib=0,
        instance=inst,
        tp=1,
        pp=1,
        region=req.region,
        capacity_type=req.capacity_type,
    )
    return node_price(probe)


@dataclass
class _Search:
    board: Board = field(default_factory=Board)
    options: dict[str, Option] = field(default_factory=dict)
    unsold: list[Rejection] = field(default_factory=list)


def _search(
    req: Request, instances: Sequence[InstanceSpec], utilization: float, *, pinned: bool
) -> ServingPlan:
    found = _Search()
    for inst in instances:
        not_sold = unsold(inst, req.region)
        if not_sold is not None and not pinned:
            found.unsold.append(Rejection(option=inst.type, reason=rejection_reason(not_sold)))
            continue
        price = _price(req, inst, hypothetical=not_sold is not None)
        if price is None:
            found.board.failing.append((math.inf, inst.type, f"no price for {inst.type} in {req.region}"))
            continue
        options, reason = _options(req, inst, price)
        for opt in options:
            found.board.feasible.append(opt.ranked)
            found.options.setdefault(opt.ranked.label, opt)
        if not options and not_sold is not None:
            found.unsold.append(Rejection(option=inst.type, reason=f"{reason} ({not_sold.describe()})"))
        elif not options:
            found.board.failing.append((price, inst.type, reason))
    return _finish(req, found, utilization)


def _finish(req: Request, found: _Search, utilization: float) -> ServingPlan:
    """The plan of the best option, or NoFitError listing every rejection."""
    best = found.board.best()
    if best is None:
        rejected = tuple(Rejection(option=t, reason=r) for _, t, r in sorted(found.board.failing))
        raise NoFitError(
            f"no instance in {req.region} serves {req.concurrency} x {req.context} tokens of {req.model.id}",
            rejected=rejected + tuple(found.unsold),
        )
    opt = found.options[best.label]
    pinned_unsold = [
        Rejection(option=o.instance_type, reason=rejection_reason(av))
        for o in found.board.feasible
        if o.instance_type != best.instance_type and (av := unsold(get_instance(o.instance_type), req.region))
    ]
    cheaper = found.board.rejected(best)
    p = opt.placement
    cost = f"${best.cost:.2f}/h" if best.offered else "no On-Demand list price"
    unsold_all = list({r.option: r for r in found.unsold + pinned_unsold}.values())
    unsold_text = f", {len(unsold_all)} not sold On-Demand in {req.region}" if unsold_all else ""
    choice = f"{p.replicas} replica(s) of TP{p.tp} PP{p.pp} on {best.nodes} x {best.instance_type}"
    if opt.variant.label:
        choice += f" with {opt.variant.label}"
    notes = (f"chosen: {choice} ({cost}); {len(cheaper)} option(s) priced below it rejected{unsold_text}",)
    return assemble(
        opt.variant.model,
        opt.settings,
        opt.memory,
        p,
        rejected=cheaper + tuple(unsold_all),
        notes=notes,
        utilization=utilization,
        work=req.work,
        top=found.board.top(),
    )


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
    prompt_tokens: int | None = None,
    output_tokens: int | None = None,
    variants: bool = False,
    allow_pcie_tp: bool = False,
    max_tpot_ms: float | None = None,
) -> ServingPlan:
    """The instance type, parallelism, replica count (and with ``variants`` the fp8 KV / FP8 checkpoint
    options) with the lowest $ per 1M output tokens for ``concurrency`` requests of at most ``context`` tokens
    (of ``prompt_tokens`` + ``output_tokens`` expected, else the full context) with ``headroom`` spare KV
    capacity and TPOT <= ``max_tpot_ms`` when given. ``instance_types`` pins the candidates: then types not
    sold
    On-Demand in ``region`` are sized too (ranked after every On-Demand option; the plan then has no cost and
    a NOT SOLD ON-DEMAND note); without it they are skipped and listed in ``rejected``.
    Raises NoFitError (a SizingError) with every rejection when nothing fits, InputError for bad input."""
    spec = model if isinstance(model, ModelSpec) else get_model(model)
    work = workload(
        context=context, concurrency=concurrency, prompt_tokens=prompt_tokens, output_tokens=output_tokens
    )
    if max_tpot_ms is not None and not max_tpot_ms > 0:
        raise InputError(f"must be > 0, got {max_tpot_ms}", field="--max-tpot-ms")
    if headroom < 0:
        raise InputError(f"must be >= 0, got {headroom}", field="--headroom")
    if capacity_type not in ("on-demand", "spot"):
        raise InputError(f"'{capacity_type}' is not on-demand or spot", field="--capacity-type")
    check_region(region)
    req = Request(
        model=spec,
        work=work,
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
        variants=variants,
        allow_pcie_tp=allow_pcie_tp,
        max_tpot_ms=max_tpot_ms,
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
    return _search(req, instances, utilization, pinned=bool(instance_types))


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
    An instance type or GPU id is a pin: types not sold On-Demand in ``region`` are still sized when no
    On-Demand candidate fits (see ``recommend``).
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
