"""Value types of the residency checks: the policy a stack declares, the places data can reach, and findings.

A :class:`Finding` is one violation of ``paddock:residency``; its severity comes from the rule table
(:mod:`serving.residency.rule_table`): ``error`` exits 1 in ``paddock audit``, ``warning`` exits 0 unless
``--fail-on-warn``. A :class:`Place` is one location data can reach, reported whether or not it is allowed
(the auditor's inventory).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Severity = Literal["error", "warning"]
DataKind = Literal["prompts", "responses", "weights", "logs", "volumes", "egress"]


@dataclass(frozen=True, kw_only=True)
class Finding:
    """One residency violation, e.g. ``Finding(resource="paddock:fallback.bedrock.models.claude",
    config_key="paddock:models[0].fallback", rule="profile-destinations", region="eu-north-1", ...)``."""

    resource: str
    """Resource name (``gateway-bedrock-role``) or config path when no resource exists yet."""
    config_key: str
    """The stack config key that causes the finding (``paddock:models[1].weightsRegion``)."""
    rule: str
    """Rule id from :data:`serving.residency.rule_table.RULE_TABLE`."""
    region: str | None
    """The offending Region, when there is one."""
    severity: Severity
    message: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (keys as the fields)."""
        return asdict(self)


@dataclass(frozen=True, kw_only=True)
class Place:
    """One place data can reach: ``Place(kind="weights", region="eu-central-1", resource="s3://b/", ...)``."""

    kind: DataKind
    what: str
    """Human description (``S3 weights bucket acme-models-eu``)."""
    region: str | None
    """AWS Region; None for destinations outside AWS (Hugging Face) or unknown."""
    resource: str
    config_key: str
    allowed: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (keys as the fields)."""
        return asdict(self)


@dataclass(frozen=True, kw_only=True)
class ResidencyPolicy:
    """``paddock:residency`` of one stack, plus the facts the resource rules need from elsewhere in config."""

    home_region: str
    """``aws:region``: where resources without an explicit ``region`` input are created."""
    allowed_regions: tuple[str, ...]
    """Regions compute, storage, logs and inference may use; defaults to ``(home_region,)``."""
    allow_geo_profiles: bool = True
    """``eu.``/``us.``/``apac.``… profiles are acceptable if every destination Region is allowed."""
    allow_global_profiles: bool = False
    allow_fallback: bool = True
    """False: prompts never leave the cluster (no Bedrock route, no Bedrock IAM at all)."""
    log_retention_days: int | None = None
    """Maximum retention for log groups, days; None = not constrained."""
    pinned_aliases: frozenset[str] = field(default_factory=frozenset)
    """Aliases whose ``fallback`` is ``none``: they must never reach a Bedrock route."""
    profile_overrides: Mapping[str, tuple[str, ...]] = field(default_factory=dict, hash=False)
    """Live destinations by profile id from ``paddock preflight`` (``build/preflight/<env>/profiles.json``);
    they win over the data file wherever a profile is resolved (config, routes)."""
    allow_public_egress: bool = False
    """``allowPublicEgress``: a NAT gateway, Hugging Face weights, Bedrock without a VPC endpoint or an open
    public API endpoint are accepted (the stack opts in); false = each is an error."""

    def allows(self, region: str | None) -> bool:
        """True when ``region`` is in the allowed list (None, an unknown Region, is never allowed)."""
        return region is not None and region in self.allowed_regions
