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
from serving.residency.profiles import Scope, foundation_model_arn, profile_arn, resolve_profile
from serving.residency.stack import StackFacts

ACTIONS = ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
PolicyDoc = dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class BedrockTarget:
    """One inference profile (or In-Region model) the gateway may call, and where it routes."""

    profile_id: str
    model_id: str
    scope: Scope
    source_region: str
    destinations: tuple[str, ...]
    """Destination Regions (sorted); empty only for a global profile whose list is unknown."""
    config_key: str


def bedrock_targets(
    facts: StackFacts, overrides: Mapping[str, tuple[str, ...]] | None = None
) -> tuple[BedrockTarget, ...]:
    """Distinct fallback targets of aliases that are not pinned; ``()`` when none (then: no role at all).

    Raises InputError when a geo profile's destinations are unknown (add it to the data file or run
    preflight): exact ARNs cannot be written without them.
    """
    if not facts.policy.allow_fallback:
        return ()
    keys = sorted({m.fallback for m in facts.models if m.fallback is not None})
    out = []
    for key in keys:
        config_key = f"paddock:fallback.bedrock.models.{key}.inferenceProfile"
        route = resolve_profile(facts.fallback_profiles[key], facts.bedrock_region, overrides)
        if route.destinations is None and route.scope != "global":
            raise InputError(
                f"destination Regions of {route.profile_id} are unknown ({route.known_from})",
                field=config_key,
            )
        out.append(
            BedrockTarget(
                profile_id=route.profile_id,
                model_id=route.model_id,
                scope=route.scope,
                source_region=route.source_region,
                destinations=route.destinations or (),
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
