"""CrossGuard validators over the same pure rules and the same rule table as ``paddock audit``
(:mod:`serving.residency`): enforcement comes from each rule's severity in
:data:`serving.residency.rule_table.RULE_TABLE` (``error`` → mandatory, ``warning`` → advisory).

Four policies:

- ``paddock-residency`` / ``paddock-residency-advisory`` (resource validation): every resource record
  through :func:`serving.residency.check_resource` (Regions, IAM and endpoint grants and the profiles they
  name, gateway routes in the gateway release's values and in ConfigMaps, model-server weights, NAT, public
  API endpoint…);
- ``paddock-residency-stack`` / ``paddock-residency-stack-advisory`` (stack validation): the config-level
  rules (:func:`serving.residency.check_stack`: weights regions, profile destinations, unknown Regions,
  egress opt-ins) of the stack file named by ``stackFile``; not applicable with explicit keys only.

The residency settings come from the policy config: ``stackFile`` (a ``stacks/Pulumi.<env>.yaml`` whose
``paddock:residency`` is read) or explicit keys (``homeRegion``, ``allowedRegions``…). A resource's Region is
its ``region`` input, else its provider's, else ``homeRegion`` / ``aws:region``.
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
    StackValidationArgs,
    StackValidationPolicy,
)

from serving.errors import InputError
from serving.residency import ResidencyPolicy, StackFacts, check_resource, check_stack, load_stack_facts
from serving.residency.model import Finding, Severity
from serving.residency.stack import load_preflight_destinations

ReportViolation = Callable[[str, str | None], None]
ROOT = Path(__file__).resolve().parents[2]
ENFORCEMENT: Mapping[Severity, EnforcementLevel] = {
    "error": EnforcementLevel.MANDATORY,
    "warning": EnforcementLevel.ADVISORY,
}

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
        "allowPublicEgress": {"type": "boolean", "default": False},
        "logRetentionDays": {"type": "integer", "minimum": 1},
        "pinnedAliases": {"type": "array", "items": {"type": "string"}},
        "preflightDir": {
            "type": "string",
            "description": "where paddock preflight saved live destinations (default build/preflight)",
        },
    }
)


def _stack_path(config: Mapping[str, Any]) -> Path:
    path = Path(str(config["stackFile"]))
    return path if path.is_absolute() else ROOT / path


def stack_facts(config: Mapping[str, Any]) -> StackFacts | None:
    """Facts of the configured ``stackFile``; None when the config gives explicit keys only."""
    return load_stack_facts(_stack_path(config)) if config.get("stackFile") else None


def preflight_overrides(config: Mapping[str, Any], facts: StackFacts) -> dict[str, tuple[str, ...]]:
    """Live destinations ``paddock preflight`` saved for the stack (the same file ``paddock audit`` reads)."""
    base = Path(str(config.get("preflightDir") or "build/preflight"))
    return load_preflight_destinations(base if base.is_absolute() else ROOT / base, facts.stack)


def policy_from_config(config: Mapping[str, Any]) -> ResidencyPolicy:
    """The :class:`ResidencyPolicy` the pack enforces, from its config (``stackFile`` or explicit keys)."""
    facts = stack_facts(config)
    if facts is not None:
        return dataclasses.replace(facts.policy, profile_overrides=preflight_overrides(config, facts))
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
        allow_public_egress=bool(config.get("allowPublicEgress", False)),
    )


def _provider_region(provider: Any) -> str | None:
    region = provider.props.get("region") if provider is not None and provider.props else None
    return region if isinstance(region, str) and region else None


def violation(f: Finding) -> str:
    """The message reported for one finding: ``rule [region]: message (config key k)``."""
    where = f" [{f.region}]" if f.region else ""
    return f"{f.rule}{where}: {f.message} (config key {f.config_key})"


def resource_findings(args: ResourceValidationArgs) -> list[Finding]:
    """Every finding of the rules for the resource in ``args`` (all severities)."""
    policy = policy_from_config(args.get_config())
    region = _provider_region(args.provider)
    if region:
        policy = dataclasses.replace(policy, home_region=region)
    record = {"type": args.resource_type, "name": args.name, "inputs": dict(args.props)}
    return check_resource(record, policy)


def _resource_validator(severity: Severity) -> Callable[[ResourceValidationArgs, ReportViolation], None]:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        for f in resource_findings(args):
            if f.severity == severity:
                report_violation(violation(f), None)

    return validate


def _stack_validator(severity: Severity) -> Callable[[StackValidationArgs, ReportViolation], None]:
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        facts = stack_facts(args.get_config())
        if facts is None:
            args.not_applicable("config-level rules need stackFile in the policy config")
            return
        for f in check_stack(facts, preflight_overrides(args.get_config(), facts)):
            if f.severity == severity:
                report_violation(violation(f), None)

    return validate


validate_residency = _resource_validator("error")
"""Mandatory: error findings of each resource."""
validate_residency_advisory = _resource_validator("warning")
"""Advisory: warning findings of each resource (log retention, endpoint without policy…)."""
validate_residency_stack = _stack_validator("error")
"""Mandatory: error findings of the stack file's config (weights Regions, profile destinations, egress)."""
validate_residency_stack_advisory = _stack_validator("warning")
"""Advisory: warning findings of the stack file's config (adopted VPC egress, unverified profiles)."""

POLICIES: list[Policy] = [
    ResourceValidationPolicy(
        name="paddock-residency",
        description="Prompts, responses, weights and logs stay in paddock:residency.allowedRegions.",
        enforcement_level=ENFORCEMENT["error"],
        validate=validate_residency,
        config_schema=CONFIG_SCHEMA,
    ),
    ResourceValidationPolicy(
        name="paddock-residency-advisory",
        description="Warning-severity residency rules (log retention, endpoint policy).",
        enforcement_level=ENFORCEMENT["warning"],
        validate=validate_residency_advisory,
        config_schema=CONFIG_SCHEMA,
    ),
    StackValidationPolicy(
        name="paddock-residency-stack",
        description="Config-level residency rules of stackFile: weights, profiles, Regions, egress.",
        enforcement_level=ENFORCEMENT["error"],
        validate=validate_residency_stack,
        config_schema=CONFIG_SCHEMA,
    ),
    StackValidationPolicy(
        name="paddock-residency-stack-advisory",
        description="Warning-severity config-level rules of stackFile (adopted VPC, unverified profiles).",
        enforcement_level=ENFORCEMENT["warning"],
        validate=validate_residency_stack_advisory,
        config_schema=CONFIG_SCHEMA,
    ),
]
