"""Recommendation: the cheapest instance (and replica count) that serves N concurrent sequences of C tokens.

Search: every catalog instance with a price in the region x every TP size that fits its GPUs and the model's
heads; pipeline parallelism across nodes (EFA instances, TP = the node's GPUs) only when no single node of
that type holds the model. Replicas = ceil(concurrency x (1 + headroom) / KV concurrency per replica);
replicas pack onto a node when they use fewer GPUs than it has. Cost = nodes x node price. Every instance
whose node price is below the chosen total is reported with the reason it lost.

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
from serving.sizing.core import DEFAULT_UTILIZATION, Placement, assemble, memory_for, node_price
from serving.sizing.memory import MemoryResult
from serving.sizing.offers import rejection_reason, unsold
from serving.sizing.plan import Rejection, ServingPlan
from serving.sizing.settings import EngineSettings, check_parallelism, resolve
from serving.sizing.vllm import usable_concurrency

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
    """nodes x node price, USD/hour (hypothetical catalog figure when not ``offered``: ranking only)."""
    nodes: int

    @property
    def offered(self) -> bool:
        """AWS sells the placement's instance type On-Demand in its region."""
        return unsold(self.placement.instance, self.placement.region) is None


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
    usable = usable_concurrency(mem)
    if usable < 1:
        return (
            f"{tp * pp}×{inst.gpu.name.split()[1]}: KV cache {mem.kv_cache_gib:.2f} GiB/GPU is too small a "
            f"share to hold one {req.context}-token request reliably (TP{tp} PP{pp})"
        )
    replicas = max(1, math.ceil(req.concurrency * (1 + req.headroom) / usable))
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


@dataclass
class _Tally:
    """The best option so far and every loser: priced (filtered to cheaper ones later) and unsold."""

    region: str
    best: Option | None = None
    losers: list[tuple[float, str, str]] = field(default_factory=list)
    unsold: list[Rejection] = field(default_factory=list)

    def offer(self, opt: Option) -> None:
        """Keep ``opt`` if it ranks before the best so far; the other one loses."""
        if self.best is None:
            self.best = opt
        elif _rank(opt) < _rank(self.best):
            self.lose(self.best)
            self.best = opt
        else:
            self.lose(opt)

    def lose(self, opt: Option) -> None:
        not_sold = unsold(opt.placement.instance, self.region)
        if not_sold is not None:
            self.unsold.append(Rejection(option=_type(opt), reason=rejection_reason(not_sold)))
        else:
            self.losers.append((_node(opt), _type(opt), _pricier(opt)))


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


def _search(
    req: Request, instances: Sequence[InstanceSpec], utilization: float, *, pinned: bool
) -> ServingPlan:
    tally = _Tally(region=req.region)
    for inst in instances:
        not_sold = unsold(inst, req.region)
        if not_sold is not None and not pinned:
            tally.unsold.append(Rejection(option=inst.type, reason=rejection_reason(not_sold)))
            continue
        price = _price(req, inst, hypothetical=not_sold is not None)
        if price is None:
            tally.losers.append((math.inf, inst.type, f"no price for {inst.type} in {req.region}"))
            continue
        options, reason = _options(req, inst, price)
        if options:
            tally.offer(min(options, key=_rank))
        elif not_sold is not None:
            tally.unsold.append(Rejection(option=inst.type, reason=f"{reason} ({not_sold.describe()})"))
        else:
            tally.losers.append((price, inst.type, reason))
    return _finish(req, tally, utilization)


def _finish(req: Request, tally: _Tally, utilization: float) -> ServingPlan:
    """The plan of the best option, or NoFitError listing every rejection."""
    best = tally.best
    if best is None:
        rejected = tuple(Rejection(option=t, reason=r) for _, t, r in sorted(tally.losers))
        raise NoFitError(
            f"no instance in {req.region} serves {req.concurrency} x {req.context} tokens of {req.model.id}",
            rejected=rejected + tuple(tally.unsold),
        )
    chosen = _type(best)
    cheaper = _cheaper(tally.losers, best.cost if best.offered else math.inf, chosen)
    p = best.placement
    cost = f"${best.cost:.2f}/h" if best.offered else "no On-Demand list price"
    unsold_text = f", {len(tally.unsold)} not sold On-Demand in {req.region}" if tally.unsold else ""
    notes = (
        f"chosen: {p.replicas} replica(s) of TP{p.tp} PP{p.pp} on {best.nodes} x {chosen} ({cost}); "
        f"{len(cheaper)} {'cheaper' if best.offered else 'On-Demand'} option(s) rejected{unsold_text}",
    )
    return assemble(
        req.model,
        best.settings,
        best.memory,
        p,
        rejected=cheaper + tuple(tally.unsold),
        notes=notes,
        utilization=utilization,
    )


def _rank(opt: Option) -> tuple[bool, float, int, int]:
    """On-Demand options first, then cost, nodes and GPUs."""
    return not opt.offered, opt.cost, opt.nodes, opt.placement.tp * opt.placement.pp


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
    tokens with ``headroom`` spare KV capacity. ``instance_types`` pins the candidates: then types not sold
    On-Demand in ``region`` are sized too (ranked after every On-Demand option; the plan then has no cost and
    a NOT SOLD ON-DEMAND note); without it they are skipped and listed in ``rejected``.
    Raises NoFitError (a SizingError) with every rejection when nothing fits, InputError for bad input."""
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
