"""Check ``images``: every image pulled at install has a route from the stack's network: a NAT gateway,
same-region ECR through the ecr.api/ecr.dkr/s3 endpoints (pull-through cache rules and the configured mirror
live there), or, in an adopted VPC, assumed egress."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from serving.bringup.checks_common import assumed, fail, passed
from serving.bringup.context import Cluster
from serving.bringup.model import Finding
from serving.bringup.workloads import Pod
from serving.catalog.charts import get_registry, list_registries
from serving.images import ImageRef, parse_image

CHECK = "images"
NAT = "aws:ec2/natGateway:NatGateway"
ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
PTC_RULE = "aws:ecr/pullThroughCacheRule:PullThroughCacheRule"
REPOSITORY = "aws:ecr/repository:Repository"
ECR_ENDPOINTS = frozenset({"ecr.api", "ecr.dkr", "s3"})


def _needs_credential() -> set[str]:
    """Upstream URLs whose pull-through rule needs a Secrets Manager credential (catalog charts.yaml)."""
    return {
        r.pull_through.upstream_url
        for r in list_registries()
        if r.pull_through is not None and r.pull_through.credential == "required"
    }


def registry_host(image: str) -> str:
    """Registry host of an image reference (``vllm/vllm-openai:v1`` -> ``docker.io``); a reference without
    tag (EKS add-on images as data/eks.yaml names them) is read as if it had one."""
    return _parse(image).registry


def _parse(image: str) -> ImageRef:
    try:
        return parse_image(image)
    except ValueError:
        return parse_image(f"{image}:any")


def endpoint_services(c: Cluster) -> set[str]:
    """Services with a VPC endpoint: ``com.amazonaws.<region>.ecr.api`` -> ``ecr.api``."""
    prefix = f"com.amazonaws.{c.inp.region}."
    return {str(r["inputs"].get("serviceName", "")).removeprefix(prefix) for r in c.graph.of_type(ENDPOINT)}


def stack_account(c: Cluster) -> str | None:
    """The AWS account the stack deploys into, read from an IAM role ARN of its records (None if none)."""
    for r in c.inp.resources:
        for key in ("roleArn", "nodeRoleArn"):
            found = re.match(r"arn:aws[a-z-]*:iam::(\d{12}):", str(r["inputs"].get(key, "")))
            if found:
                return found.group(1)
    return None


def _repository_exists(c: Cluster, pod: Pod, image: str) -> Finding | None:
    """An image in the stack's own ECR registry needs its repository: a pull-through rule for its first path
    segment, an ``aws:ecr/repository:Repository`` of that name, or (assumed) the configured mirror prefix."""
    ref = _parse(image)
    prefix = ref.repository.split("/", 1)[0]
    rules = {str(r["inputs"].get("ecrRepositoryPrefix")) for r in c.graph.of_type(PTC_RULE)}
    repos = {str(r["inputs"].get("name")) for r in c.graph.of_type(REPOSITORY)}
    if prefix in rules or ref.repository in repos:
        return None
    if c.config.get("ephemeral"):
        return assumed(
            CHECK,
            pod.owner,
            "paddock:ephemeral",
            f"{image}: repository {ref.repository} belongs to the region's permanent stack (an "
            "ephemeral stack creates no repositories or pull-through rules)",
        )
    mirror = str((c.config.get("registry") or {}).get("mirror") or "")
    if mirror and (ref.repository.startswith(mirror.rstrip("/") + "/") or image.startswith(mirror)):
        return assumed(
            CHECK,
            pod.owner,
            "paddock:registry.mirror",
            f"{image}: copied into the mirror by the user before `pulumi up`",
        )
    return fail(
        CHECK,
        pod.owner,
        "paddock:registry",
        f"{image} ({pod.name}): no ECR repository {ref.repository}, no pull-through rule for prefix "
        f"{prefix}, not under the mirror: the pull finds nothing",
    )


def _route(c: Cluster, pod: Pod, image: str, *, nat: bool, ecr_ok: bool) -> Finding | None:
    host = registry_host(image)
    region = c.inp.region
    if ".dkr.ecr." in host:
        account = stack_account(c)
        if account and host.startswith(f"{account}.dkr.ecr.{region}."):
            missing = _repository_exists(c, pod, image)
            if missing is not None:
                return missing
        same = host.endswith(f".{region}.amazonaws.com")
        if (same and ecr_ok) or nat:
            return None
        if not c.network_created:
            return assumed(
                CHECK,
                pod.owner,
                "paddock:network.create",
                f"{image}: adopted VPC, its route to ECR (endpoints or NAT) assumed",
            )
        where = "in the stack's region" if same else "in another region"
        return fail(
            CHECK,
            pod.owner,
            "paddock:network.vpcEndpoints",
            f"{image} ({pod.name}): ECR {where} without ecr.api/ecr.dkr/s3 endpoints or a NAT gateway",
        )
    if not c.network_created:
        return assumed(
            CHECK, pod.owner, "paddock:network.create", f"{image}: adopted VPC, egress to {host} assumed"
        )
    if nat:
        return None
    registry = get_registry(host)
    upstream = registry.pull_through if registry else None
    if upstream:
        cred = ", with a Secrets Manager credential" if upstream.credential == "required" else ""
        how = (
            f"add an ECR pull-through cache rule for {upstream.upstream_url} "
            f"(paddock:registry.mode pull-through{cred})"
        )
    else:
        how = f"{host} is no ECR pull-through upstream: copy it into ECR (paddock:registry.mode mirror)"
    return fail(
        CHECK,
        pod.owner,
        "paddock:registry",
        f"{image} ({pod.name}) has no route: no NAT gateway (paddock:network.natGateway), not in ECR "
        f"through a pull-through rule or mirror; {how}",
    )


def check_images(c: Cluster) -> list[Finding]:
    """See the module docstring. Also: a pull-through rule for an upstream that needs a credential has one."""
    out: list[Finding] = []
    nat = bool(c.graph.of_type(NAT))
    ecr_ok = ECR_ENDPOINTS <= endpoint_services(c)
    seen: set[tuple[str, str]] = set()
    for pod in c.pods:
        for image in pod.images:
            if (pod.owner, image) not in seen:
                seen.add((pod.owner, image))
                found = _route(c, pod, image, nat=nat, ecr_ok=ecr_ok)
                if found is not None:
                    out.append(found)
    for rule in c.graph.of_type(PTC_RULE):
        inputs: Mapping[str, Any] = rule["inputs"]
        url = str(inputs.get("upstreamRegistryUrl", ""))
        if url in _needs_credential() and not inputs.get("credentialArn"):
            out.append(
                fail(
                    CHECK,
                    str(rule["name"]),
                    "paddock:registry",
                    f"pull-through rule {inputs.get('ecrRepositoryPrefix')} -> {url} needs a credentialArn "
                    "(a Secrets Manager secret named ecr-pullthroughcache/...)",
                )
            )
    route = "a NAT gateway" if nat else "ECR endpoints (pull-through cache / mirror)"
    return passed(out, CHECK, "network", "paddock:registry", f"every image has a route ({route})")
