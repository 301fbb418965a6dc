"""Planning ``paddock ephemeral up``: size the model, name the stack, build its config, price it.

Pure: no Pulumi, no AWS. The sizing engine is passed in as a :data:`Sizer` so tests and the CLI can
choose; the CLI passes :func:`serving.sizing` through ``scripts/ephemeral.py``.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from serving.ephemeral.cost import EKS_CONTROL_PLANE_USD_PER_HOUR, NAT_GATEWAY_USD_PER_HOUR, CostEstimate
from serving.ephemeral.metadata import CONFIG_KEY, TAGS_CONFIG_KEY, EphemeralMeta
from serving.ephemeral.naming import sanitize_owner, stack_name
from serving.ephemeral.ttl import TtlSpec, expiry_for
from serving.errors import InputError, SizingError
from serving.sizing.plan import ServingPlan
from serving.sizing.versions import image_version


@dataclass(frozen=True)
class SizingRequest:
    """What ``up`` asks the sizing engine for: the cheapest instance serving ``model`` at ``context``."""

    model: str
    """Catalog id, Hugging Face repo id known to the catalog, or an absolute path to a config.json."""
    context: int
    """Tokens per sequence (prompt + output)."""
    concurrency: int
    """Sequences served at once."""
    gpu: str | None
    """GPU id or instance type the user pinned; None = cheapest that fits."""
    region: str
    capacity_type: str
    """``on-demand`` or ``spot``."""
    engine_version: str | None = None
    """vLLM version the template's pinned image tag names (None: the sizing engine's default)."""


Sizer = Callable[[SizingRequest], ServingPlan]


def engine_sizer(request: SizingRequest) -> ServingPlan:
    """The sizing engine's plan for ``request``: the cheapest instance in the region (or among the pinned
    GPU's / instance type's) serving ``concurrency`` sequences of ``context`` tokens, at the capacity
    type's price. Raises InputError for bad input and SizingError (NoFitError) when nothing fits."""
    from serving.sizing import plan_for_deployment  # lazy: loads the catalogs

    return plan_for_deployment(
        model=request.model,
        context=request.context,
        concurrency=request.concurrency,
        gpu=request.gpu or "auto",
        region=request.region,
        capacity_type=request.capacity_type,
        engine_version=request.engine_version,
    )


@dataclass(frozen=True)
class UpRequest:
    """The flags of ``paddock ephemeral up``."""

    model: str
    owner: str
    ttl: TtlSpec
    context: int = 8192
    concurrency: int = 1
    gpu: str | None = None
    region: str | None = None
    spot: bool = False
    keep_warm: bool = False
    """False (default) = scale to zero (``replicas.min: 0``)."""


@dataclass(frozen=True)
class UpPlan:
    """Everything ``up`` will do, shown to the user before anything is created."""

    stack: str
    region: str
    meta: EphemeralMeta
    serving: ServingPlan
    cost: CostEstimate
    config: Mapping[str, Any]
    """The new stack's ``config:`` mapping (template + overrides)."""
    capacity_type: str
    replicas_min: int


def model_alias(model: str) -> str:
    """Short alias for a model id or config.json path: ``meta-llama/Llama-3.1-8B-Instruct`` ->
    ``llama-3-1-8b-instruct``; a path uses its folder name."""
    base = model.rstrip("/")
    if base.endswith("config.json"):
        base = base[: -len("config.json")].rstrip("/") or "model"
    tail = base.rsplit("/", 1)[-1]
    alias = re.sub(r"[^a-z0-9]+", "-", tail.lower()).strip("-")[:40].rstrip("-")
    return alias or "model"


def _check_request(request: UpRequest) -> None:
    problems = []
    if request.context < 256:
        problems.append(
            InputError(f"{request.context} tokens is too small a context (minimum 256)", field="--context")
        )
    if request.concurrency < 1:
        problems.append(InputError(f"{request.concurrency} must be at least 1", field="--concurrency"))
    if not request.model.strip():
        problems.append(InputError("a model is required", field="--model"))
    if problems:
        raise problems[0] if len(problems) == 1 else InputError("; ".join(str(p) for p in problems))


def _region(request: UpRequest, template: Mapping[str, Any]) -> str:
    region = request.region or template.get("aws:region")
    if not isinstance(region, str) or not region:
        raise InputError(
            "no region: pass --region or set aws:region in stacks/Pulumi.ephemeral.yaml", field="--region"
        )
    residency = template.get("paddock:residency")
    allowed = residency.get("allowedRegions") if isinstance(residency, Mapping) else None
    if isinstance(allowed, list) and allowed and region not in allowed:
        raise InputError(
            f"{region} is outside paddock:residency.allowedRegions of the ephemeral template "
            f"({', '.join(map(str, allowed))}); pick one of those",
            field="--region",
        )
    return region


def _model_entry(
    request: UpRequest, plan: ServingPlan, template: Mapping[str, Any], capacity: str
) -> dict[str, Any]:
    models = template.get("paddock:models")
    base: dict[str, Any] = (
        dict(models[0]) if isinstance(models, list) and models and isinstance(models[0], Mapping) else {}
    )
    base.update(
        alias=model_alias(request.model),
        model=request.model,
        engine=plan.engine,
        context=request.context,
        concurrency=request.concurrency,
        gpu=plan.instance_type or request.gpu or "auto",
        capacityType=capacity,
        replicas={"min": 1 if request.keep_warm else 0, "max": 1},
    )
    if plan.quantization != "none":
        base["quantization"] = plan.quantization
    return base


def _config(
    request: UpRequest,
    template: Mapping[str, Any],
    plan: ServingPlan,
    meta: EphemeralMeta,
    region: str,
    capacity: str,
) -> dict[str, Any]:
    config: dict[str, Any] = copy.deepcopy(dict(template))
    config["aws:region"] = region
    config["paddock:environment"] = meta.stack
    cluster = config.get("paddock:cluster")
    if isinstance(cluster, Mapping) and cluster.get("create", False):
        config["paddock:cluster"] = {**cluster, "name": meta.stack}
    config["paddock:models"] = [_model_entry(request, plan, template, capacity)]
    config[CONFIG_KEY] = meta.config_value()
    tags = config.get(TAGS_CONFIG_KEY)
    config[TAGS_CONFIG_KEY] = {**(dict(tags) if isinstance(tags, Mapping) else {}), **meta.resource_tags()}
    return config


def creates_nat(template: Mapping[str, Any]) -> bool:
    """True when the template creates its own network with a NAT gateway."""
    network = template.get("paddock:network")
    if not isinstance(network, Mapping) or "existingVpcId" in network:
        return False
    return bool(network.get("create", True)) and bool(network.get("natGateway", False))


def creates_cluster(template: Mapping[str, Any]) -> bool:
    """True when the template creates its own EKS cluster (then the control plane is billed)."""
    cluster = template.get("paddock:cluster")
    if not isinstance(cluster, Mapping):
        return True
    return bool(cluster.get("create", "existingClusterName" not in cluster))


def build_up_plan(
    request: UpRequest, *, template: Mapping[str, Any], sizer: Sizer, now: datetime, salt: str = ""
) -> UpPlan:
    """Size the model (cheapest fit for the context), name the stack and build its config.

    ``template`` is the ``config:`` mapping of ``stacks/Pulumi.ephemeral.yaml``. Raises InputError for
    bad flags and SizingError when nothing fits. Creates nothing.
    """
    _check_request(request)
    now = now.replace(microsecond=0)
    owner = sanitize_owner(request.owner)
    region = _region(request, template)
    expires, ttl = expiry_for(request.ttl, now=now)
    capacity = "spot" if request.spot else "on-demand"
    versions = template.get("paddock:versions")
    image = versions.get("vllmImage") if isinstance(versions, Mapping) else None
    plan = sizer(
        SizingRequest(
            request.model,
            request.context,
            request.concurrency,
            request.gpu,
            region,
            capacity,
            image_version(image if isinstance(image, str) else None),
        )
    )
    if not plan.fits:
        raise SizingError(f"no instance fits {request.model} at {request.context} tokens", field="--model")
    control = EKS_CONTROL_PLANE_USD_PER_HOUR if creates_cluster(template) else 0.0
    nat = NAT_GATEWAY_USD_PER_HOUR if creates_nat(template) else 0.0
    cost = CostEstimate(
        gpu_hourly_usd=plan.hourly_cost_usd, control_plane_hourly_usd=control, nat_hourly_usd=nat, ttl=ttl
    )
    created = now
    name = stack_name(owner, model=request.model, created_at=created, salt=salt)
    meta = EphemeralMeta(
        stack=name,
        owner=owner,
        expires_at=expires,
        created_at=created,
        ttl=ttl,
        hourly_cost_usd=cost.hourly_usd,
        model=request.model[-200:],
    )
    config = _config(request, template, plan, meta, region, capacity)
    return UpPlan(
        stack=name,
        region=region,
        meta=meta,
        serving=plan,
        cost=cost,
        config=config,
        capacity_type=capacity,
        replicas_min=1 if request.keep_warm else 0,
    )
