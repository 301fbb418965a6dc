"""Checks ``order`` (custom resources after the release installing their CRD; pods after their Pod Identity
association; every Kubernetes resource after the cluster's API, CNI and DNS) and ``controllers`` (each
feature's in-cluster controller installed: any custom resource's CRD, NetworkPolicy enforcement, EBS CSI, the
Pod Identity agent, the NVIDIA device plugin where GPU pods run)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from serving.bringup.checks_common import assumed, fail, passed
from serving.bringup.checks_scheduling import place
from serving.bringup.context import Cluster
from serving.bringup.model import Finding
from serving.bringup.pools import matches
from serving.bringup.workloads import ADDON, CLUSTER, RELEASE

POD_IDENTITY = "aws:eks/podIdentityAssociation:PodIdentityAssociation"
PROGRAM_ORDER = "program order (components/ dependsOn)"
EKS_ADDONS = "paddock:versions.eksAddons"
#: API groups served by Kubernetes itself (no CRD needed)
BUILTIN_GROUPS = frozenset(
    {
        "",
        "core",
        "apps",
        "batch",
        "policy",
        "autoscaling",
        "networking.k8s.io",
        "rbac.authorization.k8s.io",
        "storage.k8s.io",
        "scheduling.k8s.io",
        "coordination.k8s.io",
        "admissionregistration.k8s.io",
        "apiextensions.k8s.io",
        "discovery.k8s.io",
        "node.k8s.io",
        "certificates.k8s.io",
        "helm.sh",
    }
)
#: CRD group fragment -> chart that installs it (for the config key of a missing controller)
CONTROLLER_CHARTS = {
    "leaderworkerset": "lws",
    "karpenter": "karpenter",
    "keda.sh": "keda",
    "monitoring.coreos.com": "kubePrometheusStack",
}


def installers(c: Cluster, kind: str) -> list[str]:
    """Release resources (at the catalog's pinned version) that install the CRD ``group/Kind``."""
    return [
        str(r["name"])
        for spec in c.inp.charts.installers(kind)
        for r in c.releases(spec.name)
        if str(r["inputs"].get("version")) == spec.version
    ]


def custom_resources(c: Cluster) -> list[tuple[str, str]]:
    """``(resource, group/Kind)`` of every custom resource: Pulumi resources and what releases render."""
    out: list[tuple[str, str]] = []
    for r in c.inp.resources:
        typ = str(r["type"])
        if typ.startswith("kubernetes:") and typ != RELEASE:
            group_version, _, kind = typ.split(":", 1)[1].partition(":")
            group = group_version.rsplit("/", 1)[0]
            if group not in BUILTIN_GROUPS and kind != "CustomResourceDefinition":
                out.append((str(r["name"]), f"{group}/{kind}"))
    for release, kinds in sorted(c.workloads.kinds.items()):
        out += [(release, gk) for gk in kinds if "/" in gk and gk.rsplit("/", 1)[0] not in BUILTIN_GROUPS]
    return out


def _crd_order(c: Cluster) -> list[Finding]:
    out: list[Finding] = []
    for name, gk in custom_resources(c):
        found = installers(c, gk)
        if found and not any(i == name or i in c.graph.waits_for(name) for i in found):
            out.append(
                fail(
                    "order",
                    name,
                    c.chart_key(found[0]),
                    f"{gk} is created before {found[0]}, which installs its CRD (no dependsOn)",
                )
            )
    return out


def _identity_order(c: Cluster) -> list[Finding]:
    out: list[Finding] = []
    for pia in c.graph.of_type(POD_IDENTITY):
        ns, sa = pia["inputs"].get("namespace"), pia["inputs"].get("serviceAccount")
        for owner in sorted({p.owner for p in c.pods if p.namespace == ns and p.service_account == sa}):
            if str(pia["name"]) not in c.graph.waits_for(owner):
                out.append(
                    fail(
                        "order",
                        owner,
                        PROGRAM_ORDER,
                        f"pods of {ns}/{sa} start before {pia['name']} exists: EKS injects Pod Identity "
                        "credentials only at pod admission",
                    )
                )
    return out


def _api_order(c: Cluster) -> list[Finding]:
    """Every Kubernetes resource waits for the cluster and, on a created cluster, for managed vpc-cni and
    coredns add-ons; the coredns add-on itself waits for a node group its pods can run on."""
    cluster = next(iter(c.graph.of_type(CLUSTER)), None)
    if cluster is None:
        return []
    out: list[Finding] = []
    addons = {str(r["inputs"].get("addonName")): str(r["name"]) for r in c.graph.of_type(ADDON)}
    needs = [str(cluster["name"])] + [addons[a] for a in ("vpc-cni", "coredns") if a in addons]
    unmanaged = [a for a in ("vpc-cni", "coredns") if a not in addons]
    if c.cluster_created and unmanaged:
        out.append(
            fail(
                "order",
                str(cluster["name"]),
                EKS_ADDONS,
                f"{' and '.join(unmanaged)} are EKS's self-managed defaults: no resource can wait for the "
                "CNI/DNS to run, so Kubernetes resources race them (declare them as managed add-ons)",
            )
        )
    for r in c.inp.resources:
        typ = str(r["type"])
        if typ.startswith("kubernetes:"):
            missing = [n for n in needs if n not in c.graph.waits_for(str(r["name"]))]
            if missing:
                out.append(
                    fail(
                        "order",
                        str(r["name"]),
                        EKS_ADDONS,
                        f"created before {', '.join(missing)} (the cluster API/CNI/DNS are not up)",
                    )
                )
    if "coredns" in addons:
        placement = place(c)
        hosts = {
            pool
            for i, p in enumerate(c.pods)
            if p.owner == addons["coredns"] and p.name == "coredns"
            for pool in placement.placed.get(i, [])
        }
        waits = c.graph.waits_for(addons["coredns"])
        if hosts and not hosts & waits:
            out.append(
                fail(
                    "order",
                    addons["coredns"],
                    "paddock:cluster.systemNodes",
                    f"the coredns add-on is created before {', '.join(sorted(hosts))}, the node group its "
                    "pods run on (it stays DEGRADED until nodes join)",
                )
            )
    return out


def _namespace_of(r: Mapping[str, Any]) -> str | None:
    inputs = r["inputs"]
    if r["type"] == RELEASE:
        return None if inputs.get("createNamespace") else str(inputs.get("namespace") or "default")
    meta = inputs.get("metadata") or {}
    return str(meta["namespace"]) if isinstance(meta, Mapping) and meta.get("namespace") else None


def _namespace_order(c: Cluster) -> list[Finding]:
    """A namespaced resource (or a release without createNamespace) waits for the Namespace it lives in,
    when the plan creates that Namespace (``default``/``kube-system`` and namespaces created by a release
    with createNamespace exist otherwise)."""
    created: dict[str, str] = {}
    for r in c.graph.of_type("kubernetes:core/v1:Namespace"):
        meta = r["inputs"].get("metadata") or {}
        created[str(meta.get("name") or r["name"])] = str(r["name"])
    out: list[Finding] = []
    for r in c.inp.resources:
        if not str(r["type"]).startswith("kubernetes:") or r["type"] == "kubernetes:core/v1:Namespace":
            continue
        ns = _namespace_of(r)
        owner = created.get(ns or "")
        if owner and owner not in c.graph.waits_for(str(r["name"])):
            out.append(
                fail(
                    "order",
                    str(r["name"]),
                    PROGRAM_ORDER,
                    f"created in namespace {ns} before {owner} creates it (no dependsOn)",
                )
            )
    return out


def check_order(c: Cluster) -> list[Finding]:
    """See the module docstring."""
    out = _crd_order(c) + _identity_order(c) + _api_order(c) + _namespace_order(c)
    return passed(
        out,
        "order",
        "dependsOn",
        "resources.json",
        "CRDs precede custom resources, identities precede pods, the API/CNI/DNS precede Kubernetes "
        "resources",
    )


def _addon_config(addon: Mapping[str, Any] | None) -> dict[str, Any]:
    text = (addon or {}).get("inputs", {}).get("configurationValues")
    try:
        parsed = json.loads(text) if isinstance(text, str) and text else {}
    except json.JSONDecodeError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _uses_pvcs(c: Cluster) -> bool:
    kinds = {gk for ks in c.workloads.kinds.values() for gk in ks}
    if "PersistentVolumeClaim" in kinds:
        return True
    for r in c.inp.resources:
        spec = ((r["inputs"].get("values") or {}).get("prometheus") or {}).get("prometheusSpec") or {}
        if r["type"] == RELEASE and spec.get("storageSpec"):
            return True
    return False


def _gpu_plugin(c: Cluster) -> list[Finding]:
    """GPU pods need a pool where the NVIDIA device plugin runs (a DaemonSet pulling k8s-device-plugin that
    matches the pool), else nvidia.com/gpu is never advertised; Bottlerocket NVIDIA AMIs bundle the plugin."""
    out: list[Finding] = []
    plugins = [p for p in c.pods if p.daemon and any("k8s-device-plugin" in i for i in p.images)]
    for pod in (p for p in c.pods if p.gpus and not p.daemon and p.replicas):
        pools = [p for p in c.pools if matches(pod, p) and p.gpus >= pod.gpus and p.kind != "assumed"]
        served = [p for p in pools if "BOTTLEROCKET" in p.ami_type or any(matches(d, p) for d in plugins)]
        if pools and not served:
            out.append(
                fail(
                    "controllers",
                    pod.owner,
                    "paddock:versions.nvidiaDevicePluginChart",
                    f"{pod.kind} {pod.namespace}/{pod.name} asks for nvidia.com/gpu but no NVIDIA device "
                    f"plugin runs on {', '.join(p.name for p in pools)} (the resource is never advertised)",
                )
            )
    return out


def check_controllers(c: Cluster) -> list[Finding]:
    """See the module docstring."""
    out: list[Finding] = _gpu_plugin(c)
    for name, gk in custom_resources(c):
        if not installers(c, gk):
            chart = next((v for k, v in CONTROLLER_CHARTS.items() if k in gk), None)
            key = f"paddock:versions.{chart}Chart" if chart else "serving/catalog/data/charts.yaml"
            out.append(
                fail(
                    "controllers",
                    name,
                    key,
                    f"{gk} needs a controller and CRD that no release installs (per {c.inp.charts.path})",
                )
            )
    netpols = sorted(r for r, ks in c.workloads.kinds.items() if "networking.k8s.io/NetworkPolicy" in ks)
    addons = {str(r["inputs"].get("addonName")): r for r in c.graph.of_type(ADDON)}
    if netpols and not c.cluster_created:
        out.append(
            assumed(
                "controllers",
                netpols[0],
                "paddock:cluster.create",
                "adopted cluster: NetworkPolicy enforcement assumed",
            )
        )
    elif netpols and str(_addon_config(addons.get("vpc-cni")).get("enableNetworkPolicy")).lower() != "true":
        out.append(
            fail(
                "controllers",
                netpols[0],
                EKS_ADDONS,
                f"NetworkPolicies of {', '.join(netpols)} are not enforced: no vpc-cni add-on with "
                'configurationValues enableNetworkPolicy "true"',
            )
        )
    if c.graph.of_type(POD_IDENTITY) and c.cluster_created and "eks-pod-identity-agent" not in addons:
        out.append(
            fail(
                "controllers",
                "pod identity",
                EKS_ADDONS,
                "Pod Identity associations without the eks-pod-identity-agent add-on: pods get none",
            )
        )
    if _uses_pvcs(c) and c.cluster_created and "aws-ebs-csi-driver" not in addons:
        out.append(
            fail(
                "controllers",
                "persistent volumes",
                EKS_ADDONS,
                "PersistentVolumeClaims stay Pending without the aws-ebs-csi-driver add-on",
            )
        )
    return passed(
        out, "controllers", "cluster", "paddock:versions", "every feature's controller is installed"
    )


def check_reachability(c: Cluster) -> list[Finding]:
    """The program that creates Kubernetes resources reaches the API endpoint: a public endpoint, or
    a private one with privateAccessCidrs in an adopted VPC (a created VPC has no route in on a first
    deploy)."""
    cluster = next(iter(c.graph.of_type(CLUSTER)), None)
    if cluster is None:
        return [
            assumed(
                "reachability",
                "cluster",
                "paddock:cluster.create",
                "adopted cluster: its endpoint is assumed reachable from where pulumi runs",
            )
        ]
    vpc = cluster["inputs"].get("vpcConfig") or {}
    name = str(cluster["name"])
    if vpc.get("endpointPublicAccess"):
        cidrs = vpc.get("publicAccessCidrs") or ["0.0.0.0/0"]
        return [
            Finding(
                "reachability",
                "pass",
                name,
                "paddock:cluster.publicAccessCidrs",
                f"public endpoint reachable from {', '.join(cidrs)}",
            )
        ]
    private = (c.config.get("cluster") or {}).get("private_access_cidrs") or []
    if c.network_created:
        return [
            fail(
                "reachability",
                name,
                "paddock:cluster.endpointPublicAccess",
                "private-only endpoint in a VPC this stack creates: nothing can route in on the first deploy",
            )
        ]
    if not private:
        return [
            fail(
                "reachability",
                name,
                "paddock:cluster.privateAccessCidrs",
                "private-only endpoint and no privateAccessCidrs: the cluster security group admits only "
                "itself",
            )
        ]
    return [
        assumed(
            "reachability",
            name,
            "paddock:cluster.privateAccessCidrs",
            f"private endpoint reachable from {', '.join(private)} (the runner's route into the VPC assumed)",
        )
    ]
