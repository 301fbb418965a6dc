"""Live preflight of a stack's Bedrock fallback targets (reference §3.3 sequence), over injected botocore
clients so tests can use ``botocore.stub.Stubber``:

1. ``GetInferenceProfile`` (geo/global profiles): status ACTIVE, destinations from ``models[].modelArn``;
   for a bare model id, ``GetFoundationModel`` must list ``ON_DEMAND`` (In-Region invocation);
2. destinations against ``paddock:residency`` (the same rules as ``paddock audit``);
3. ``GetFoundationModelAvailability``: agreement, authorization, entitlement and Region all positive;
4. optionally a 1-token ``Converse`` smoke call through the profile.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from serving.residency.profiles import region_of_arn, resolve_profile
from serving.residency.rules import check_profile
from serving.residency.stack import StackFacts

#: GetFoundationModelAvailability field → the value that means "invokable"
AVAILABLE = {
    "authorizationStatus": "AUTHORIZED",
    "entitlementAvailability": "AVAILABLE",
    "regionAvailability": "AVAILABLE",
}


@dataclass(kw_only=True)
class TargetCheck:
    """The live result for one ``paddock:fallback.bedrock.models`` entry."""

    key: str
    """Config key of the entry (``paddock:fallback.bedrock.models.claude.inferenceProfile``)."""
    profile_id: str
    source_region: str
    status: str | None = None
    destinations: tuple[str, ...] = ()
    model_access: dict[str, str] = field(default_factory=dict)
    smoke: str | None = None
    """``ok (N output tokens)`` or the error; None when not run."""
    problems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def _error(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        return f"{err.get('Code', 'ClientError')}: {err.get('Message', '')}"
    return f"{type(exc).__name__}: {exc}"


def _resolve(check: TargetCheck, bedrock: Any, model_id: str, in_region: bool) -> None:
    if in_region:
        details = bedrock.get_foundation_model(modelIdentifier=model_id)["modelDetails"]
        check.status = (details.get("modelLifecycle") or {}).get("status")
        check.destinations = (check.source_region,)
        if "ON_DEMAND" not in details.get("inferenceTypesSupported", []):
            check.problems.append(
                f"{model_id} has no on-demand In-Region invocation; use an inference profile"
            )
        return
    profile = bedrock.get_inference_profile(inferenceProfileIdentifier=check.profile_id)
    check.status = profile["status"]
    regions = {region_of_arn(m["modelArn"]) for m in profile["models"]}
    check.destinations = tuple(sorted(r for r in regions if r))
    if check.status != "ACTIVE":
        check.problems.append(f"profile status is {check.status}, not ACTIVE")


def _access(check: TargetCheck, bedrock: Any, model_id: str) -> None:
    avail = bedrock.get_foundation_model_availability(modelId=model_id)
    agreement = avail["agreementAvailability"]
    check.model_access = {k: str(avail[k]) for k in AVAILABLE} | {"agreement": agreement["status"]}
    for key, good in AVAILABLE.items():
        if avail[key] != good:
            check.problems.append(f"model access: {key} is {avail[key]}")
    if agreement["status"] != "AVAILABLE":
        detail = f" ({agreement['errorMessage']})" if agreement.get("errorMessage") else ""
        check.problems.append(f"model access: agreement is {agreement['status']}{detail}")


def _smoke(check: TargetCheck, runtime: Any) -> None:
    try:
        reply = runtime.converse(
            modelId=check.profile_id,
            messages=[{"role": "user", "content": [{"text": "Reply with one word."}]}],
            inferenceConfig={"maxTokens": 1},
        )
    except (ClientError, BotoCoreError) as exc:
        check.smoke = _error(exc)
        check.problems.append(f"smoke Converse failed: {check.smoke}")
        return
    check.smoke = f"ok ({reply['usage']['outputTokens']} output tokens, {reply['metrics']['latencyMs']} ms)"


def check_target(
    facts: StackFacts, key: str, profile_id: str, *, bedrock: Any, runtime: Any | None
) -> TargetCheck:
    """Run the preflight sequence for one target; API errors become problems, never exceptions."""
    route = resolve_profile(profile_id, facts.bedrock_region)
    check = TargetCheck(key=key, profile_id=profile_id, source_region=facts.bedrock_region)
    try:
        _resolve(check, bedrock, route.model_id, route.scope == "in-region")
    except (ClientError, BotoCoreError) as exc:
        check.problems.append(f"cannot resolve {profile_id} in {facts.bedrock_region}: {_error(exc)}")
        return check
    live = resolve_profile(profile_id, facts.bedrock_region, {profile_id: check.destinations})
    check.problems += [f.message for f in check_profile(live, facts.policy, resource=profile_id, key=key)]
    try:
        _access(check, bedrock, route.model_id)
    except (ClientError, BotoCoreError) as exc:
        check.problems.append(f"GetFoundationModelAvailability failed: {_error(exc)}")
    if runtime is not None:
        _smoke(check, runtime)
    return check


def fallback_entries(facts: StackFacts) -> list[tuple[str, str]]:
    """(config key, profile id) of every Bedrock target an alias that is not pinned can reach."""
    used = sorted({m.fallback for m in facts.models if m.fallback is not None})
    return [
        (f"paddock:fallback.bedrock.models.{k}.inferenceProfile", facts.fallback_profiles[k]) for k in used
    ]


def saved_destinations(checks: list[TargetCheck]) -> Mapping[str, list[str]]:
    """``{profile id: [Regions]}`` for ``build/preflight/<env>/profiles.json`` (read by ``paddock audit``)."""
    return {c.profile_id: list(c.destinations) for c in checks if c.destinations and c.status is not None}
