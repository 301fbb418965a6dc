"""The facts of one stack that residency rules need, taken from the parsed
:class:`serving.stack_config.StackConfig` (the one reader of ``stacks/Pulumi.<env>.yaml``).

The parser validates shapes only: a stack whose ``aws:region`` is outside ``paddock:residency.allowedRegions``
parses, and the residency rules report it (``compute-region``, config key ``aws:region``) in
``paddock audit`` and the CrossGuard pack. Bad input is the parser's
:class:`serving.config_reader.ConfigErrors` (an :class:`serving.errors.InputError` naming each key).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from serving.errors import InputError
from serving.residency.model import ResidencyPolicy
from serving.stack_config import StackConfig, load_stack_file


@dataclass(frozen=True, kw_only=True)
class ModelFacts:
    """One ``paddock:models[i]`` entry, reduced to what residency cares about."""

    index: int
    alias: str
    weights: str
    """``s3://bucket/prefix/`` or ``hf``."""
    weights_region: str
    fallback: str | None
    """Key in ``paddock:fallback.bedrock.models``; None when pinned (``fallback: none``)."""


@dataclass(frozen=True, kw_only=True)
class StackFacts:
    """Residency-relevant facts of one stack."""

    stack: str
    region: str
    policy: ResidencyPolicy
    models: tuple[ModelFacts, ...]
    bedrock_region: str
    fallback_profiles: Mapping[str, str]
    """``paddock:fallback.bedrock.models`` key → inference profile (or bare model) id."""
    nat_gateway: bool
    vpc_endpoints: bool
    existing_vpc: bool
    """True when ``paddock:network.existingVpcId`` adopts a VPC: its egress is not visible to Paddock."""
    gateway_enabled: bool
    public_api_endpoint: bool = False
    """``paddock:cluster.endpointPublicAccess`` of a created cluster."""
    public_access_cidrs: tuple[str, ...] | None = None
    """``paddock:cluster.publicAccessCidrs`` when the schema has it; None = unrestricted (EKS: 0.0.0.0/0)."""


def facts_from_stack_config(cfg: StackConfig) -> StackFacts:
    """The same facts from a parsed :class:`serving.stack_config.StackConfig` (what ``stacks/`` holds)."""
    res = cfg.residency
    models = tuple(
        ModelFacts(
            index=i,
            alias=m.alias,
            weights=m.weights,
            weights_region=m.weights_region,
            fallback=None if m.pinned else m.fallback,
        )
        for i, m in enumerate(cfg.models)
    )
    policy = ResidencyPolicy(
        home_region=cfg.region,
        allowed_regions=tuple(res.allowed_regions),
        allow_geo_profiles=res.allow_geo_inference_profiles,
        allow_global_profiles=res.allow_global_inference_profiles,
        allow_fallback=res.allow_fallback,
        log_retention_days=res.log_retention_days,
        pinned_aliases=frozenset(m.alias for m in models if m.fallback is None),
        allow_public_egress=res.allow_public_egress,
    )
    cidrs = getattr(cfg.cluster, "public_access_cidrs", None)  # the bring-up schema may not carry it yet
    return StackFacts(
        stack=cfg.stack,
        region=cfg.region,
        policy=policy,
        models=models,
        bedrock_region=cfg.fallback.region or cfg.region,
        fallback_profiles={k: v.inference_profile for k, v in cfg.fallback.models.items()},
        nat_gateway=cfg.network.nat_gateway,
        vpc_endpoints=cfg.network.vpc_endpoints,
        existing_vpc=cfg.network.existing_vpc_id is not None,
        gateway_enabled=cfg.gateway.enabled,
        public_api_endpoint=cfg.cluster.create and cfg.cluster.endpoint_public_access,
        public_access_cidrs=tuple(str(c) for c in cidrs) if cidrs else None,
    )


def load_preflight_destinations(preflight_dir: Path, env: str) -> dict[str, tuple[str, ...]]:
    """Destination Regions found live by ``paddock preflight`` (``<dir>/<env>/profiles.json``:
    ``{"profiles": {id: [regions]}}``); ``{}`` when there is none. Raises InputError on a malformed file."""
    path = preflight_dir / env / "profiles.json"
    if not path.is_file():
        return {}
    try:
        raw = json.loads(path.read_text())["profiles"]
        return {str(k): tuple(str(r) for r in v) for k, v in raw.items()}
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
        raise InputError(f"{path} is not a preflight result ({exc})", field="--preflight-dir") from exc


def load_stack_facts(path: Path | str) -> StackFacts:
    """Facts of the stack file ``Pulumi.<env>.yaml`` at ``path``: :func:`serving.stack_config.load_stack_file`
    then :func:`facts_from_stack_config`. Raises the parser's InputError (each bad key named)."""
    return facts_from_stack_config(load_stack_file(path))
