"""The facts of one stack that residency rules need, read from the raw ``config:`` mapping of
``stacks/Pulumi.<env>.yaml`` (keys as agreed in the stack-config schema: ``aws:region``,
``paddock:residency``…).

Reading the raw mapping keeps the rules independent of the full parser; ``paddock audit`` still validates the
whole file with ``serving.stack_config`` first. Errors are collected and raised once, each naming its key.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from serving.errors import InputError
from serving.residency.model import ResidencyPolicy

if TYPE_CHECKING:
    from serving.stack_config import StackConfig

PINNED = "none"


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
    gateway_enabled: bool


def _section(raw: Mapping[str, Any], key: str, problems: list[str]) -> dict[str, Any]:
    value = raw.get(key, {})
    if isinstance(value, str):  # pulumi.Config hands structured values over as JSON text
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            problems.append(f"{key}: not valid JSON")
            return {}
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.append(f"{key}: expected a mapping, got {type(value).__name__}")
        return {}
    return value


def _policy(
    raw: Mapping[str, Any], region: str, pinned: frozenset[str], problems: list[str]
) -> ResidencyPolicy:
    res = _section(raw, "paddock:residency", problems)
    allowed = res.get("allowedRegions", [region])
    if not isinstance(allowed, list) or not all(isinstance(r, str) for r in allowed) or not allowed:
        problems.append("paddock:residency.allowedRegions: expected a non-empty list of Region names")
        allowed = [region]
    flags = {}
    for key in ("allowGeoInferenceProfiles", "allowGlobalInferenceProfiles", "allowFallback"):
        default = key != "allowGlobalInferenceProfiles"
        flags[key] = res.get(key, default)
        if not isinstance(flags[key], bool):
            problems.append(f"paddock:residency.{key}: expected true or false, got {flags[key]!r}")
            flags[key] = default
    days = res.get("logRetentionDays")
    if days is not None and (isinstance(days, bool) or not isinstance(days, int) or days <= 0):
        problems.append(f"paddock:residency.logRetentionDays: expected a positive integer, got {days!r}")
        days = None
    return ResidencyPolicy(
        home_region=region,
        allowed_regions=tuple(allowed),
        allow_geo_profiles=flags["allowGeoInferenceProfiles"],
        allow_global_profiles=flags["allowGlobalInferenceProfiles"],
        allow_fallback=flags["allowFallback"],
        log_retention_days=days,
        pinned_aliases=pinned,
    )


def _models(raw: Mapping[str, Any], region: str, problems: list[str]) -> tuple[ModelFacts, ...]:
    items = raw.get("paddock:models", [])
    if isinstance(items, str):
        items = json.loads(items)
    if not isinstance(items, list):
        problems.append("paddock:models: expected a list")
        return ()
    out = []
    for i, m in enumerate(items):
        key = f"paddock:models[{i}]"
        if not isinstance(m, dict) or not isinstance(m.get("alias"), str):
            problems.append(f"{key}.alias: every model needs a string alias")
            continue
        fallback = m.get("fallback", PINNED)
        if not isinstance(fallback, str):
            problems.append(f"{key}.fallback: expected a fallback model key or 'none'")
            fallback = PINNED
        out.append(
            ModelFacts(
                index=i,
                alias=m["alias"],
                weights=str(m.get("weights", "hf")),
                weights_region=str(m.get("weightsRegion", region)),
                fallback=None if fallback == PINNED else fallback,
            )
        )
    return tuple(out)


def facts_from_raw(raw: Mapping[str, Any], *, stack: str) -> StackFacts:
    """Build :class:`StackFacts` from a stack file's ``config:`` mapping; InputError lists every problem."""
    problems: list[str] = []
    region = raw.get("aws:region")
    if not isinstance(region, str) or not region:
        problems.append("aws:region: required (the stack's home Region)")
        region = ""
    models = _models(raw, region, problems)
    pinned = frozenset(m.alias for m in models if m.fallback is None)
    policy = _policy(raw, region, pinned, problems)
    bedrock = _section(raw, "paddock:fallback", problems).get("bedrock") or {}
    profiles: dict[str, str] = {}
    for key, entry in (bedrock.get("models") or {}).items():
        if not isinstance(entry, dict) or not isinstance(entry.get("inferenceProfile"), str):
            problems.append(f"paddock:fallback.bedrock.models.{key}.inferenceProfile: required string")
            continue
        profiles[key] = entry["inferenceProfile"]
    for m in models:
        if m.fallback is not None and m.fallback not in profiles:
            problems.append(
                f"paddock:models[{m.index}].fallback: {m.fallback!r} is not a key of "
                f"paddock:fallback.bedrock.models (known: {sorted(profiles)}) nor 'none'"
            )
    network = _section(raw, "paddock:network", problems)
    gateway = _section(raw, "paddock:gateway", problems)
    if problems:
        raise InputError("; ".join(problems), field=f"stack {stack}")
    return StackFacts(
        stack=stack,
        region=region,
        policy=policy,
        models=models,
        bedrock_region=str(bedrock.get("region", region)),
        fallback_profiles=profiles,
        nat_gateway=bool(network.get("natGateway", False)),
        vpc_endpoints=bool(network.get("vpcEndpoints", True)),
        existing_vpc="existingVpcId" in network,
        gateway_enabled=bool(gateway.get("enabled", True)),
    )


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
    )
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
    )


def read_stack_yaml(path: Path) -> Mapping[str, Any]:
    """The ``config:`` mapping of a ``Pulumi.<env>.yaml`` file; InputError when unreadable or malformed."""
    try:
        doc = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}", field="--stack") from exc
    except yaml.YAMLError as exc:
        raise InputError(f"{path} is not valid YAML: {exc}", field="--stack") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("config"), dict):
        raise InputError(f"{path} has no 'config:' mapping", field="--stack")
    config: Mapping[str, Any] = doc["config"]
    return config
