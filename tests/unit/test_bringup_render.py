"""The bring-up analysis through the real renderer: dependsOn/provider recorded by the mock runtime, the
expansion through parents, and findings on a shipped stack variant."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from serving.bringup import verdicts
from serving.bringup.model import Graph
from stacks import offline
from stacks.mock_runtime import provider_name, request_dependencies, urn_name

URN = "urn:pulumi:dev::paddock::paddock:cluster:Cluster$aws:eks/cluster:Cluster::eks-eks"


def test_urn_and_provider_names() -> None:
    assert urn_name(URN) == "eks-eks"
    provider = "urn:pulumi:dev::paddock::paddock:cluster:Cluster$pulumi:providers:kubernetes::eks-k8s::id-1"
    assert provider_name(provider) == "eks-k8s" and provider_name("") is None


def test_request_dependencies_merge_explicit_and_property_dependencies() -> None:
    stack = "urn:pulumi:dev::paddock::pulumi:pulumi:Stack::paddock-dev"
    request = SimpleNamespace(
        name="model-a-release",
        dependencies=[URN, stack],
        propertyDependencies={"values": SimpleNamespace(urns=[URN.replace("eks-eks", "a-role")])},
    )
    assert request_dependencies(request) == ("a-role", "eks-eks")  # sorted, the stack dropped


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> tuple[offline.PlanResult, Path]:
    out = tmp_path_factory.mktemp("dev")
    return offline.render_plan(stack="dev", out_dir=out), out


def test_resources_record_depends_on_and_provider(dev: tuple[offline.PlanResult, Path]) -> None:
    result, out = dev
    res = {r["name"]: r for r in json.loads((out / "resources.json").read_text())}
    # the kubeconfig Output comes from the cluster; the provider also waits for the add-ons and system nodes
    assert res["eks-k8s"]["dependsOn"] == [
        "eks-eks",
        "eks-managed-aws-ebs-csi-driver",
        "eks-managed-coredns",
        "eks-managed-eks-pod-identity-agent",
        "eks-managed-kube-proxy",
        "eks-managed-system-ng",
        "eks-managed-vpc-cni",
    ]
    assert res["model-llama-8b-release"]["provider"] == "eks-k8s"
    assert all(r["dependsOn"] == sorted(r["dependsOn"]) for r in res.values())
    graph = Graph(result.resources)
    waits = graph.waits_for("model-llama-8b-release")
    assert {"eks-k8s", "eks-eks", "model-llama-8b-pod-role"} <= waits  # provider and Output dependencies
    # the node autoscaler comes before the model (scale from zero), never after it
    assert "node-scaling-cluster-autoscaler" in waits
    assert "model-llama-8b-release" not in graph.waits_for("node-scaling-cluster-autoscaler")


def test_dev_findings_and_summary(dev: tuple[offline.PlanResult, Path]) -> None:
    result, out = dev
    marks = verdicts(result.findings)
    assert set(marks) == {"scheduling", "images", "order", "disk", "capacity", "controllers", "reachability"}
    summary = (out / "summary.md").read_text()
    assert "## Bring-up" in summary
    for check, verdict in marks.items():
        assert f"| `{check}` |" in summary and f"**{verdict}**" in summary
    for f in result.findings:
        assert f.key and f.resource and "\n" not in f.message
    assert result.analysis_seconds < 5


def test_private_endpoint_variant_fails_reachability(tmp_path: Path) -> None:
    doc = yaml.safe_load((offline.STACKS_DIR / "Pulumi.dev.yaml").read_text())
    doc["config"]["paddock:cluster"]["endpointPublicAccess"] = False
    del doc["config"]["paddock:cluster"]["publicAccessCidrs"]
    path = tmp_path / "Pulumi.private.yaml"
    path.write_text(yaml.safe_dump(doc))
    result = offline.render_plan(
        stack="private",
        stack_file=path,
        out_dir=tmp_path / "p",
        manifests=False,
    )
    (f,) = [f for f in result.findings if f.check == "reachability"]
    assert (f.verdict, f.resource, f.key) == ("fail", "eks-eks", "paddock:cluster.endpointPublicAccess")
