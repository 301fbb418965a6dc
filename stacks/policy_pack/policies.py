"""CrossGuard validators over the same pure rules as ``paddock audit`` (:mod:`serving.residency`).

Two ResourceValidationPolicies: ``paddock-residency`` (mandatory; error findings block ``pulumi up``)
and ``paddock-residency-advisory`` (advisory; warnings such as NAT egress or log retention). The residency
settings come from the policy config: ``stackFile`` (a ``stacks/Pulumi.<env>.yaml`` whose
``paddock:residency`` is read) or explicit keys (``homeRegion``, ``allowedRegions``…). A resource's
Region is its ``region`` input, else its provider's, else ``homeRegion`` / ``aws:region``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyConfigSchema,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)

from serving.errors import InputError
from serving.residency import ResidencyPolicy, check_resource, load_stack_facts
from serving.residency.model import Severity

ReportViolation = Callable[[str, str | None], None]
ROOT = Path(__file__).resolve().parents[2]

CONFIG_SCHEMA = PolicyConfigSchema(
    properties={
        "stackFile": {
            "type": "string",
            "description": "stacks/Pulumi.<env>.yaml to read paddock:residency from",
        },
        "homeRegion": {"type": "string", "description": "aws:region, for resources without a Region"},
        "allowedRegions": {"type": "array", "items": {"type": "string"}},
        "allowGeoInferenceProfiles": {"type": "boolean", "default": True},
        "allowGlobalInferenceProfiles": {"type": "boolean", "default": False},
        "allowFallback": {"type": "boolean", "default": True},
        "logRetentionDays": {"type": "integer", "minimum": 1},
        "pinnedAliases": {"type": "array", "items": {"type": "string"}},
    }
)


def policy_from_config(config: Mapping[str, Any]) -> ResidencyPolicy:
    """The :class:`ResidencyPolicy` the pack enforces, from its config (``stackFile`` or explicit keys)."""
    if config.get("stackFile"):
        path = Path(str(config["stackFile"]))
        path = path if path.is_absolute() else ROOT / path
        return load_stack_facts(path).policy
    home = config.get("homeRegion")
    if not isinstance(home, str) or not home:
        raise InputError("set stackFile or homeRegion in the policy config", field="paddock-residency")
    days = config.get("logRetentionDays")
    return ResidencyPolicy(
        home_region=home,
        allowed_regions=tuple(config.get("allowedRegions") or (home,)),
        allow_geo_profiles=bool(config.get("allowGeoInferenceProfiles", True)),
        allow_global_profiles=bool(config.get("allowGlobalInferenceProfiles", False)),
        allow_fallback=bool(config.get("allowFallback", True)),
        log_retention_days=int(days) if days else None,
        pinned_aliases=frozenset(config.get("pinnedAliases") or ()),
    )


def _provider_region(args: ResourceValidationArgs) -> str | None:
    provider = args.provider
    region = provider.props.get("region") if provider is not None and provider.props else None
    return region if isinstance(region, str) and region else None


def _validator(severity: Severity) -> Callable[[ResourceValidationArgs, ReportViolation], None]:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        policy = policy_from_config(args.get_config())
        region = _provider_region(args)
        if region:
            policy = dataclasses.replace(policy, home_region=region)
        record = {"type": args.resource_type, "name": args.name, "inputs": dict(args.props)}
        for f in check_resource(record, policy):
            if f.severity == severity:
                where = f" [{f.region}]" if f.region else ""
                report_violation(f"{f.rule}{where}: {f.message} (config key {f.config_key})", None)

    return validate


validate_residency = _validator("error")
"""Mandatory: error findings (Regions, profiles, pinned routes, content logging, IAM wildcards)."""
validate_residency_advisory = _validator("warning")
"""Advisory: warnings (NAT egress, log retention, endpoint without policy, unverified profiles)."""

POLICIES: list[Policy] = [
    ResourceValidationPolicy(
        name="paddock-residency",
        description="Prompts, responses, weights and logs stay in paddock:residency.allowedRegions.",
        enforcement_level=EnforcementLevel.MANDATORY,
        validate=validate_residency,
        config_schema=CONFIG_SCHEMA,
    ),
    ResourceValidationPolicy(
        name="paddock-residency-advisory",
        description="Egress, log retention and endpoint-policy advice from the residency rules.",
        enforcement_level=EnforcementLevel.ADVISORY,
        validate=validate_residency_advisory,
        config_schema=CONFIG_SCHEMA,
    ),
]
