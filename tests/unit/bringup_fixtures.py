"""Hand-written resource records for the bring-up checks: a small stack that comes up (``healthy()``), and
helpers to break it one fact at a time."""

from __future__ import annotations

import copy
import json
from typing import Any

import yaml

from serving.bringup import BringupInput, Finding, analyze, load_chart_catalog

CHARTS = load_chart_catalog()  # the shipped serving/catalog/data/charts.yaml
SYSTEM = {"paddock.dev/pool": "system"}
GPU_TAINT = [{"key": "nvidia.com/gpu", "value": "true", "effect": "NO_SCHEDULE"}]
GPU_TOL = [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]


def rec(
    typ: str,
    rname: str,
    *,
    parent: str | None = None,
    deps: tuple[str, ...] = (),
    provider: str | None = None,
    **inputs: Any,
) -> dict[str, Any]:
    return {
        "type": typ,
        "name": rname,
        "parent": parent,
        "dependsOn": list(deps),
        "provider": provider,
        "inputs": inputs,
    }


def release(
    name: str,
    chart: str,
    *,
    version: str = "",
    values: dict[str, Any] | None = None,
    namespace: str = "kube-system",
    deps: tuple[str, ...] = (),
    release_name: str | None = None,
    parent: str | None = None,
) -> dict[str, Any]:
    repo = {} if "/" in chart else {"repositoryOpts": {"repo": "https://example.invalid"}}
    return rec(
        "kubernetes:helm.sh/v3:Release",
        name,
        deps=deps,
        provider="eks-k8s",
        parent=parent,
        chart=chart,
        version=version,
        name=release_name or name,
        namespace=namespace,
        values=values or {},
        **repo,
    )


def engine_manifest(
    alias: str = "a",
    *,
    size_limit: str = "20Gi",
    kind: str = "Deployment",
    netpol: bool = False,
    image: str = "vllm/vllm-openai:v0.11.0",
) -> str:
    template = {
        "spec": {
            "serviceAccountName": f"{alias}-engine",
            "nodeSelector": {"paddock.dev/model": alias},
            "tolerations": GPU_TOL,
            "initContainers": [
                {
                    "name": "sync",
                    "image": "public.ecr.aws/aws-cli/aws-cli:2.27.50",
                    "resources": {"requests": {"cpu": "1", "memory": "1Gi"}},
                }
            ],
            "containers": [
                {
                    "name": "engine",
                    "image": image,
                    "resources": {
                        "requests": {"cpu": "3", "memory": "25Gi", "nvidia.com/gpu": 1},
                        "limits": {"nvidia.com/gpu": 1},
                    },
                }
            ],
            "volumes": [{"name": "cache", "emptyDir": {"sizeLimit": size_limit}}],
        }
    }
    if kind == "LeaderWorkerSet":
        doc: dict[str, Any] = {
            "apiVersion": "leaderworkerset.x-k8s.io/v1",
            "kind": kind,
            "metadata": {"name": alias},
            "spec": {"replicas": 1, "leaderWorkerTemplate": {"size": 2, "workerTemplate": template}},
        }
    else:
        doc = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": alias},
            "spec": {"template": template},
        }
    docs = [doc]
    if netpol:
        docs.append(
            {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": alias}}
        )
    return yaml.safe_dump_all(docs)


def healthy() -> dict[str, Any]:
    """A stack that comes up: system pool (m5.xlarge x2), GPU pool at min 1, NAT, managed CNI/DNS first,
    identities before pods, KEDA before its ScaledObject, cluster-autoscaler on the system pool."""
    resources = [
        rec(
            "aws:eks/cluster:Cluster",
            "eks-eks",
            parent="eks",
            name="c",
            roleArn="arn:aws:iam::123456789012:role/eks",
            vpcConfig={"endpointPublicAccess": True, "endpointPrivateAccess": True},
        ),
        rec("paddock:cluster:Cluster", "eks"),
        rec(
            "aws:eks/addon:Addon",
            "eks-vpc-cni",
            parent="eks",
            deps=("eks-eks",),
            addonName="vpc-cni",
            configurationValues=json.dumps({"enableNetworkPolicy": "true"}),
        ),
        rec(
            "aws:eks/addon:Addon",
            "eks-coredns",
            parent="eks",
            deps=("eks-eks", "system-ng"),
            addonName="coredns",
            configurationValues=json.dumps({"nodeSelector": SYSTEM}),
        ),
        rec(
            "pulumi:providers:kubernetes",
            "eks-k8s",
            parent="eks",
            deps=("eks-eks", "eks-vpc-cni", "eks-coredns"),
        ),
        rec(
            "aws:eks/nodeGroup:NodeGroup",
            "system-ng",
            deps=("eks-eks",),
            instanceTypes=["m5.xlarge"],
            labels=SYSTEM,
            scalingConfig={"minSize": 2, "maxSize": 3},
            capacityType="ON_DEMAND",
        ),
        rec(
            "aws:ec2/launchTemplate:LaunchTemplate",
            "gpu-a-lt",
            blockDeviceMappings=[{"deviceName": "/dev/xvda", "ebs": {"volumeSize": 100}}],
        ),
        rec(
            "aws:eks/nodeGroup:NodeGroup",
            "gpu-a-ng",
            deps=("eks-eks", "gpu-a-lt"),
            instanceTypes=["g6e.xlarge"],
            labels={"paddock.dev/model": "a", "nvidia.com/gpu.present": "true"},
            taints=GPU_TAINT,
            scalingConfig={"minSize": 1, "maxSize": 2},
            capacityType="ON_DEMAND",
            tags={"k8s.io/cluster-autoscaler/enabled": "true", "k8s.io/cluster-autoscaler/c": "owned"},
        ),
        rec("aws:ec2/natGateway:NatGateway", "net-nat"),
        rec(
            "aws:eks/addon:Addon",
            "eks-pod-identity-agent",
            parent="eks",
            deps=("eks-eks",),
            addonName="eks-pod-identity-agent",
        ),
        release(
            "device-plugin",
            "nvidia-device-plugin",
            version="0.17.1",
            values={"nodeSelector": {"nvidia.com/gpu.present": "true"}, "tolerations": GPU_TOL},
        ),
        rec(
            "aws:eks/podIdentityAssociation:PodIdentityAssociation",
            "a-pia",
            namespace="serving",
            serviceAccount="a-engine",
        ),
        rec(
            "aws:eks/podIdentityAssociation:PodIdentityAssociation",
            "ca-pia",
            namespace="kube-system",
            serviceAccount="cluster-autoscaler",
        ),
        release(
            "ca",
            "cluster-autoscaler",
            version="9.48.0",
            deps=("ca-pia",),
            values={
                "autoDiscovery": {"clusterName": "c"},
                "nodeSelector": SYSTEM,
                "resources": {"requests": {"cpu": "100m", "memory": "300Mi"}},
            },
        ),
        release("keda", "keda", version="2.17.2", namespace="keda", values={"nodeSelector": SYSTEM}),
        rec("kubernetes:keda.sh/v1alpha1:ScaledObject", "a-scaledobject", deps=("keda",), provider="eks-k8s"),
        release(
            "a-release",
            "serving/charts/model-server",
            namespace="serving",
            deps=("a-pia", "ca"),
            release_name="a",
        ),
    ]
    return {
        "resources": resources,
        "manifests": {"a": engine_manifest()},
        "config": {
            "region": "us-east-1",
            "cluster": {"create": True},
            "network": {"create": True},
            "models": [{"alias": "a", "capacity_type": "on-demand"}],
        },
        "plans": {"a": {"checkpoint_gib": 15.0, "replicas_per_node": 1}},
    }


def by_name(stack: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(r for r in stack["resources"] if r["name"] == name)
    return found


def drop(stack: dict[str, Any], *names: str) -> dict[str, Any]:
    stack["resources"] = [r for r in stack["resources"] if r["name"] not in names]
    return stack


def run(stack: dict[str, Any], check: str | None = None) -> list[Finding]:
    findings = analyze(
        BringupInput(
            stack="t",
            config=stack["config"],
            plans=stack["plans"],
            resources=copy.deepcopy(stack["resources"]),
            manifests=stack["manifests"],
            charts=CHARTS,
        )
    )
    return [f for f in findings if check is None or f.check == check]


def fails(stack: dict[str, Any], check: str) -> list[Finding]:
    return [f for f in run(stack, check) if f.verdict == "fail"]
