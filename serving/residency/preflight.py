"""Live preflight of a stack's Bedrock fallback targets (reference §3.3 sequence), over injected botocore
clients so tests can use ``botocore.stub.Stubber``:

1. ``GetInferenceProfile`` (geo/global profiles): status ACTIVE, destinations from ``models[].modelArn``;
   for a bare model id, ``GetFoundationModel`` must list ``ON_DEMAND`` (In-Region invocation);
2. destinations against ``paddock:residency`` (the same rules as ``paddock audit``);
3. ``GetFoundationModelAvailability``: agreement, authorization, entitlement and Region all positive;
4. optionally a 1-token ``Converse`` smoke call through the profile;
5. drift: the live destinations against the data file's row for this source Region (AWS states geo lists do
   not change, so any difference means the catalog is wrong and is a problem);
6. ``weightsRegion``: each s3:// weights bucket's real location (``GetBucketLocation``) is the declared
   Region and an allowed one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from serving.residency.profiles import ProfileRoute, region_of_arn, resolve_profile
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
    catalog: tuple[str, ...] | None = None
    """The data file's destinations for this profile and source Region; None when it has no row."""
    drift: dict[str, list[str]] = field(default_factory=dict)
    """``{"added": [...], "removed": [...]}``: live destinations against :attr:`catalog` (empty = agree)."""
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
    _drift(check, route)
    live = resolve_profile(profile_id, facts.bedrock_region, {profile_id: check.destinations})
    check.problems += [f.message for f in check_profile(live, facts.policy, resource=profile_id, key=key)]
    try:
        _access(check, bedrock, route.model_id)
    except (ClientError, BotoCoreError) as exc:
        check.problems.append(f"GetFoundationModelAvailability failed: {_error(exc)}")
    if runtime is not None:
        _smoke(check, runtime)
    return check


def _drift(check: TargetCheck, route: ProfileRoute) -> None:
    """Live destinations against the data file's row (geo profiles; global lists change by design)."""
    if route.scope != "geo" or route.destinations is None or not route.basis.startswith("data file"):
        return
    check.catalog = route.destinations
    live, known = set(check.destinations), set(route.destinations)
    added, removed = sorted(live - known), sorted(known - live)
    if added or removed:
        check.drift = {"added": added, "removed": removed}
        check.problems.append(
            f"catalog drift from {check.source_region}: live destinations add [{', '.join(added)}], drop "
            f"[{', '.join(removed)}] against {route.known_from}; update serving/residency/data/"
            "inference_profiles.json"
        )


@dataclass(kw_only=True)
class WeightsCheck:
    """The live location of one s3:// weights bucket against ``paddock:models[i].weightsRegion``."""

    key: str
    """``paddock:models[i].weightsRegion``."""
    bucket: str
    declared: str
    actual: str | None = None
    problems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def bucket_region(location: str | None) -> str:
    """Region of a ``GetBucketLocation`` answer: empty/None means us-east-1 and the legacy ``EU`` eu-west-1
    (S3 API reference, GetBucketLocation)."""
    if not location:
        return "us-east-1"
    return "eu-west-1" if location == "EU" else location


def check_weights(facts: StackFacts, *, s3: Any) -> list[WeightsCheck]:
    """One check per distinct s3:// bucket; API errors become problems, never exceptions."""
    checks: dict[str, WeightsCheck] = {}
    for m in facts.models:
        if not m.weights.startswith("s3://"):
            continue
        bucket = m.weights[len("s3://") :].split("/", 1)[0]
        if bucket in checks:
            continue
        check = WeightsCheck(
            key=f"paddock:models[{m.index}].weightsRegion", bucket=bucket, declared=m.weights_region
        )
        checks[bucket] = check
        try:
            check.actual = bucket_region(s3.get_bucket_location(Bucket=bucket).get("LocationConstraint"))
        except (ClientError, BotoCoreError) as exc:
            check.problems.append(f"cannot read the location of s3://{bucket}: {_error(exc)}")
            continue
        if check.actual != check.declared:
            check.problems.append(
                f"s3://{bucket} is in {check.actual}, but {check.key} declares {check.declared}"
            )
        if not facts.policy.allows(check.actual):
            check.problems.append(
                f"s3://{bucket} is in {check.actual}, outside allowedRegions "
                f"({', '.join(facts.policy.allowed_regions)})"
            )
    return list(checks.values())


def fallback_entries(facts: StackFacts) -> list[tuple[str, str]]:
    """(config key, profile id) of every Bedrock target an alias that is not pinned can reach."""
    used = sorted({m.fallback for m in facts.models if m.fallback is not None})
    return [
        (f"paddock:fallback.bedrock.models.{k}.inferenceProfile", facts.fallback_profiles[k]) for k in used
    ]


def saved_destinations(checks: list[TargetCheck]) -> Mapping[str, list[str]]:
    """``{profile id: [Regions]}`` for ``build/preflight/<env>/profiles.json`` (read by ``paddock audit``)."""
    return {c.profile_id: list(c.destinations) for c in checks if c.destinations and c.status is not None}
