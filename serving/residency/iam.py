"""IAM documents for the gateway's Bedrock access (pure dicts; the component serialises them).

Least privilege per reference §3.2: ``bedrock:InvokeModel`` + ``InvokeModelWithResponseStream`` on each
inference-profile ARN, and on the foundation-model ARN in each destination Region only when called through
that profile (``bedrock:InferenceProfileArn`` condition). Converse/ConverseStream use the same actions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from serving.errors import InputError
from serving.residency.model import ResidencyPolicy
from serving.residency.profiles import (
    ProfileRoute,
    Scope,
    aws_regions,
    candidate_regions,
    foundation_model_arn,
    profile_arn,
    resolve_profile,
)
from serving.residency.stack import StackFacts

ACTIONS = ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
PolicyDoc = dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class BedrockTarget:
    """One inference profile (or In-Region model) the gateway may call, and the Regions its role may reach."""

    profile_id: str
    model_id: str
    scope: Scope
    source_region: str
    destinations: tuple[str, ...]
    """Regions whose foundation-model ARN is granted (sorted): the profile's destinations (or, when unknown,
    its geography's Regions) that ``allowedRegions`` permits. Fail closed: never a Region outside the list,
    except for an accepted global profile (any commercial Region)."""
    basis: str
    """Where the destinations came from (``data file``, ``preflight``, ``in-region``, ``geography``)."""
    config_key: str


def _granted(route: ProfileRoute, policy: ResidencyPolicy, config_key: str) -> tuple[str, ...]:
    pid = route.profile_id
    if route.scope == "unknown":
        raise InputError(f"{pid}: {route.known_from}; cannot bound its destinations", field=config_key)
    if route.scope == "global":
        if not policy.allow_global_profiles:
            raise InputError(
                f"{pid} is a global profile; allowGlobalInferenceProfiles is false", field=config_key
            )
        return route.destinations or aws_regions()
    if route.scope == "geo" and not policy.allow_geo_profiles:
        raise InputError(f"{pid} is a geo profile; allowGeoInferenceProfiles is false", field=config_key)
    granted = tuple(r for r in candidate_regions(route) if policy.allows(r))
    if not granted:
        raise InputError(
            f"{pid} from {route.source_region} reaches none of allowedRegions "
            f"({', '.join(policy.allowed_regions)})",
            field=config_key,
        )
    return granted


def bedrock_targets(
    facts: StackFacts, overrides: Mapping[str, tuple[str, ...]] | None = None
) -> tuple[BedrockTarget, ...]:
    """Distinct fallback targets of aliases that are not pinned; ``()`` when none (then: no role at all).

    Raises InputError (naming the config key) when a target cannot be granted inside ``paddock:residency``:
    a global/geo profile that is not allowed, or one that reaches no allowed Region.
    """
    if not facts.policy.allow_fallback:
        return ()
    out = []
    for key in sorted({m.fallback for m in facts.models if m.fallback is not None}):
        config_key = f"paddock:fallback.bedrock.models.{key}.inferenceProfile"
        route = resolve_profile(facts.fallback_profiles[key], facts.bedrock_region, overrides)
        out.append(
            BedrockTarget(
                profile_id=route.profile_id,
                model_id=route.model_id,
                scope=route.scope,
                source_region=route.source_region,
                destinations=_granted(route, facts.policy, config_key),
                basis=route.basis if route.destinations is not None else "geography",
                config_key=config_key,
            )
        )
    return tuple(out)


def _statements(targets: tuple[BedrockTarget, ...], account_id: str, partition: str) -> list[PolicyDoc]:
    statements: list[PolicyDoc] = []
    for i, t in enumerate(targets):
        if t.scope == "in-region":
            arn = foundation_model_arn(partition=partition, region=t.source_region, model_id=t.model_id)
            statements.append(
                {"Sid": f"InvokeInRegion{i}", "Effect": "Allow", "Action": ACTIONS, "Resource": [arn]}
            )
            continue
        p_arn = profile_arn(
            partition=partition, account_id=account_id, source_region=t.source_region, profile_id=t.profile_id
        )
        models = [
            foundation_model_arn(partition=partition, region=r, model_id=t.model_id) for r in t.destinations
        ]
        if t.scope == "global":
            models.append(foundation_model_arn(partition=partition, region="", model_id=t.model_id))
        statements.append(
            {"Sid": f"InvokeProfile{i}", "Effect": "Allow", "Action": ACTIONS, "Resource": [p_arn]}
        )
        statements.append(
            {
                "Sid": f"InvokeModelsViaProfile{i}",
                "Effect": "Allow",
                "Action": ACTIONS,
                "Resource": models,
                "Condition": {"StringEquals": {"bedrock:InferenceProfileArn": p_arn}},
            }
        )
    return statements


def invoke_policy(
    targets: tuple[BedrockTarget, ...], *, account_id: str, partition: str = "aws"
) -> PolicyDoc:
    """Identity policy for the gateway role. ``targets`` must be non-empty (no targets → no role)."""
    if not targets:
        raise InputError(
            "no Bedrock targets: a stack whose aliases are all pinned gets no role", field="targets"
        )
    return {"Version": "2012-10-17", "Statement": _statements(targets, account_id, partition)}


def endpoint_policy(
    targets: tuple[BedrockTarget, ...], *, role_arn: str, account_id: str, partition: str = "aws"
) -> PolicyDoc:
    """bedrock-runtime VPC endpoint policy: only ``role_arn`` may invoke, only the same ARNs."""
    statements = _statements(targets, account_id, partition)
    for st in statements:
        st["Principal"] = {"AWS": [role_arn]}
    return {"Version": "2012-10-17", "Statement": statements}


def pod_identity_trust_policy() -> PolicyDoc:
    """Trust policy for an EKS Pod Identity association (principal ``pods.eks.amazonaws.com``)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "pods.eks.amazonaws.com"},
                "Action": ["sts:AssumeRole", "sts:TagSession"],
            }
        ],
    }


def irsa_trust_policy(
    *, oidc_provider_arn: str, issuer: str, namespace: str, service_account: str
) -> PolicyDoc:
    """Trust policy for IRSA: only ``system:serviceaccount:<namespace>:<service_account>`` may assume it.

    ``issuer`` is the cluster's OIDC issuer host and path without ``https://``.
    """
    host = issuer.removeprefix("https://")
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": oidc_provider_arn},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        f"{host}:sub": f"system:serviceaccount:{namespace}:{service_account}",
                        f"{host}:aud": "sts.amazonaws.com",
                    }
                },
            }
        ],
    }
