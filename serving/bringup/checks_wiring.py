"""Checks on wiring: images (a route from the stack's network to every registry), order (CRDs before custom
resources, Pod Identity before pods, API/CNI/DNS before anything Kubernetes), controllers (LWS, network
policy enforcement, EBS CSI, Karpenter, any CRD's controller installed) and reachability (the program can
reach the API endpoint)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from serving.bringup import facts
from serving.bringup.context import Cluster
from serving.bringup.model import Finding
from serving.bringup.workloads import ADDON, CLUSTER, RELEASE, group_kind

NAT = "aws:ec2/natGateway:NatGateway"
ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
PTC_RULE = "aws:ecr/pullThroughCacheRule:PullThroughCacheRule"
POD_IDENTITY = "aws:eks/podIdentityAssociation:PodIdentityAssociation"
#: API groups served by Kubernetes itself (no CRD needed)
BUILTIN_GROUPS = {
    "", "v1", "apps", "batch", "policy", "networking.k8s.io", "rbac.authorization.k8s.io", "autoscaling",
    "storage.k8s.io", "scheduling.k8s.io", "coordination.k8s.io", "admissionregistration.k8s.io",
    "apiextensions.k8s.io", "discovery.k8s.io", "node.k8s.io", "certificates.k8s.io", "helm.sh", "core",
}


def split_image(image: str) -> tuple[str, str]:
    """``(registry host, repository)``: ``vllm/vllm-openai:v1`` -> (``docker.io``, ``vllm/vllm-openai``)."""
    ref = image.split("@", 1)[0]
    first, _, rest = ref.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        host, path = first, rest
    else:
        host, path = "docker.io", ref if rest else f"library/{ref}"
    repo = path.rsplit(":", 1)[0] if ":" in path.rsplit("/", 1)[-1] else path
    return host, repo


def _endpoints(c: Cluster) -> set[str]:
    """Services with a VPC endpoint: ``com.amazonaws.<region>.ecr.api`` -> ``ecr.api``."""
    return {str(r["inputs"].get("serviceName", "")).split(f"{c.inp.region}.", 1)[-1] for r in c.graph.of_type(ENDPOINT)}


def check_images(c: Cluster) -> list[Finding]:
    """Each image pulled at install has a route: a NAT gateway, same-region ECR through the ecr.api/ecr.dkr/
    s3 endpoints, an ECR pull-through cache rule for its upstream, or the configured mirror."""
    out: list[Finding] = []
    region = c.inp.region
    nat = bool(c.graph.of_type(NAT))
    eps = _endpoints(c)
    ecr_private = {"ecr.api", "ecr.dkr", "s3"} <= eps
    rules = {str(r["inputs"].get("ecrRepositoryPrefix")): r for r in c.graph.of_type(PTC_RULE)}
    registry_cfg: Mapping[str, Any] = c.config.get("registry") or {}
    mirror = str(registry_cfg.get("mirror") or "")
    upstreams = facts.eks_facts()["pull_through_upstreams"]["registries"]
    seen: set[tuple[str, str]] = set()
    for pod in c.pods:
        for image in pod.images:
            if (pod.owner, image) in seen:
                continue
            seen.add((pod.owner, image))
            host, repo = split_image(image)
            if mirror and image.startswith(mirror):
                if ".dkr.ecr." in host and (ecr_private or nat):
                    continue
            if ".dkr.ecr." in host:
                same = host.endswith(f".{region}.amazonaws.com")
                prefix = repo.split("/", 1)[0]
                if prefix in rules or same:
                    if (same and ecr_private) or nat:
                        continue
                out.append(Finding("images", "fail", pod.owner, "paddock:network.vpcEndpoints",
                                   f"{image}: ECR {'in another region ' if not same else ''}without ecr.api/ecr.dkr/s3 endpoints or a NAT"))
                continue
            if not c.network_created:
                out.append(Finding("images", "assumed", pod.owner, "paddock:network.create",
                                   f"{image}: adopted VPC, egress to {host} assumed"))
                continue
            if nat:
                continue
            hint = upstreams.get(host)
            how = (f"add an ECR pull-through cache rule for {hint['upstream']} (paddock:registry.mode pull-through"
                   + (", with a credential" if hint["credential"] else "") + ")") if hint else f"{host} has no ECR pull-through upstream: copy it to ECR (paddock:registry.mode mirror)"
            out.append(Finding("images", "fail", pod.owner, "paddock:registry",
                               f"{image} ({pod.name}) has no route: no NAT gateway (paddock:network.natGateway), no pull-through rule or mirror; {how}"))
    for prefix, rule in rules.items():
        url = str(rule["inputs"].get("upstreamRegistryUrl", ""))
        if url in ("registry-1.docker.io", "ghcr.io", "registry.gitlab.com") and not rule["inputs"].get("credentialArn"):
            out.append(Finding("images", "fail", str(rule["name"]), "paddock:registry",
                               f"pull-through rule {prefix} -> {url} needs a credentialArn (Secrets Manager ecr-pullthroughcache/...)"))
    if not any(f.verdict == "fail" for f in out):
        route = "NAT gateway" if nat else "VPC endpoints / pull-through cache / mirror"
        out.append(Finding("images", "pass", "network", "paddock:registry", f"every image has a route ({route})"))
    return out


def _installers(c: Cluster, kind: str) -> list[str]:
    """Release resources that install the CRD ``group/Kind``."""
    names: list[str] = []
    for spec in c.inp.charts.installers(kind):
        names += [str(r["name"]) for r in c.releases(spec.chart) if str(r["inputs"].get("version")) == spec.version]
    return names


def _custom_kinds(c: Cluster) -> list[tuple[str, str]]:
    """``(resource, group/Kind)`` of every custom resource: direct Pulumi resources and the CRs our/third-party
    releases render."""
    out: list[tuple[str, str]] = []
    for r in c.inp.resources:
        typ = str(r["type"])
        if typ.startswith("kubernetes:") and r["type"] != RELEASE:
            group_ver, _, kind = typ.split(":", 1)[1].partition(":")
            group = group_ver.rsplit("/", 1)[0]
            if group not in BUILTIN_GROUPS and kind != "CustomResourceDefinition":
                out.append((str(r["name"]), f"{group}/{kind}"))
    for release, kinds in c.workloads.kinds.items():
        for gk in kinds:
            group = gk.rsplit("/", 1)[0] if "/" in gk else ""
            if group not in BUILTIN_GROUPS:
                out.append((release, gk))
    return out


def check_order(c: Cluster) -> list[Finding]:
    """Custom resources after the release installing their CRD; pods after their Pod Identity association;
    every Kubernetes resource after the cluster's API, CNI and DNS (the provider's dependencies)."""
    out: list[Finding] = []
    for name, gk in _custom_kinds(c):
        installers = _installers(c, gk)
        if installers and not any(i in c.graph.waits_for(name) or i == name for i in installers):
            out.append(Finding("order", "fail", name, c.chart_key(installers[0]),
                               f"{gk} is created before {installers[0]}, which installs its CRD (no dependsOn)"))
    for pia in c.graph.of_type(POD_IDENTITY):
        ns, sa = pia["inputs"].get("namespace"), pia["inputs"].get("serviceAccount")
        for owner in sorted({p.owner for p in c.pods if p.namespace == ns and p.service_account == sa}):
            if str(pia["name"]) not in c.graph.waits_for(owner):
                out.append(Finding("order", "fail", owner, "program order (components/ dependsOn)",
                                   f"pods of {ns}/{sa} start before {pia['name']} exists: EKS injects credentials only at admission"))
    cluster = next(iter(c.graph.of_type(CLUSTER)), None)
    addons = {str(r["inputs"].get("addonName")): str(r["name"]) for r in c.graph.of_type(ADDON)}
    needs = [str(cluster["name"])] if cluster else []
    needs += [addons[a] for a in ("vpc-cni", "coredns") if a in addons]
    for r in c.inp.resources:
        if not str(r["type"]).startswith("kubernetes:") or str(r["type"]).startswith("pulumi:"):
            continue
        waits = c.graph.waits_for(str(r["name"]))
        missing = [n for n in needs if n not in waits]
        if missing:
            out.append(Finding("order", "fail", str(r["name"]), "paddock:versions.eksAddons",
                               f"created before {', '.join(missing)} (API/CNI/DNS not up)"))
    if not any(f.verdict == "fail" for f in out):
        out.append(Finding("order", "pass", "dependsOn", "resources.json",
                           "CRDs precede custom resources, identities precede pods, the API/CNI/DNS precede Kubernetes resources"))
    return out


def check_controllers(c: Cluster) -> list[Finding]:
    """Every feature's in-cluster controller is installed: each custom resource's CRD/controller (LWS,
    KEDA, Prometheus operator, Karpenter NodePools), NetworkPolicy enforcement (vpc-cni add-on with
    enableNetworkPolicy) on a created cluster, the EBS CSI driver for PersistentVolumeClaims."""
    out: list[Finding] = []
    for name, gk in _custom_kinds(c):
        if not _installers(c, gk):
            chart = "lws" if "leaderworkerset" in gk else "karpenter" if "karpenter" in gk else None
            key = f"paddock:versions.{chart}Chart" if chart else "serving/catalog/data/charts.yaml"
            out.append(Finding("controllers", "fail", name, key,
                               f"{gk} needs a controller/CRD that no release installs (per {c.inp.charts.path})"))
    kinds = {gk for ks in c.workloads.kinds.values() for gk in ks}
    netpol_owners = sorted(r for r, ks in c.workloads.kinds.items() if "networking.k8s.io/NetworkPolicy" in ks)
    addons = {str(r["inputs"].get("addonName")): r for r in c.graph.of_type(ADDON)}
    if netpol_owners:
        cni = addons.get("vpc-cni")
        conf = str((cni or {}).get("inputs", {}).get("configurationValues") or "")
        enforced = '"enableNetworkPolicy": "true"' in conf.replace("'", '"') or '"enableNetworkPolicy":"true"' in conf
        if not c.cluster_created:
            out.append(Finding("controllers", "assumed", netpol_owners[0], "paddock:cluster.create",
                               "adopted cluster: NetworkPolicy enforcement assumed"))
        elif not enforced:
            out.append(Finding("controllers", "fail", netpol_owners[0], "paddock:versions.eksAddons",
                               f"NetworkPolicies ({', '.join(netpol_owners)}) are not enforced: no vpc-cni add-on with enableNetworkPolicy"))
    pvc = "PersistentVolumeClaim" in kinds or any(
        ((r["inputs"].get("values") or {}).get("prometheus") or {}).get("prometheusSpec", {}).get("storageSpec")
        for r in c.inp.resources if r["type"] == RELEASE
    )
    if pvc and c.cluster_created and "aws-ebs-csi-driver" not in addons:
        out.append(Finding("controllers", "fail", "persistent volumes", "paddock:versions.eksAddons",
                           "PersistentVolumeClaims without the aws-ebs-csi-driver add-on stay Pending"))
    if not any(f.verdict == "fail" for f in out):
        out.append(Finding("controllers", "pass", "cluster", "paddock:versions",
                           "every feature's controller is installed"))
    return out


def check_reachability(c: Cluster) -> list[Finding]:
    """The program that creates Kubernetes resources can reach the API endpoint: public endpoint, or a
    private one with privateAccessCidrs in an adopted VPC (a created VPC has no route in on the first deploy)."""
    cluster = next(iter(c.graph.of_type(CLUSTER)), None)
    if cluster is None:
        return [Finding("reachability", "assumed", "cluster", "paddock:cluster.create",
                        "adopted cluster: its endpoint is assumed reachable from where pulumi runs")]
    vpc = cluster["inputs"].get("vpcConfig") or {}
    name = str(cluster["name"])
    if vpc.get("endpointPublicAccess"):
        cidrs = vpc.get("publicAccessCidrs") or ["0.0.0.0/0"]
        return [Finding("reachability", "pass", name, "paddock:cluster.publicAccessCidrs",
                        f"public endpoint reachable from {', '.join(cidrs)}")]
    private = (c.config.get("cluster") or {}).get("private_access_cidrs") or vpc.get("privateAccessCidrs") or []
    if c.network_created:
        return [Finding("reachability", "fail", name, "paddock:cluster.endpointPublicAccess",
                        "private-only endpoint in a VPC this stack creates: nothing can route in on the first deploy")]
    if not private:
        return [Finding("reachability", "fail", name, "paddock:cluster.privateAccessCidrs",
                        "private-only endpoint and no privateAccessCidrs: the cluster security group admits only itself")]
    return [Finding("reachability", "assumed", name, "paddock:cluster.privateAccessCidrs",
                    f"private endpoint reachable from {', '.join(private)} (routing from the runner assumed)")]


__all__ = ["check_controllers", "check_images", "check_order", "check_reachability", "group_kind", "split_image"]
