"""Creation order of the shipped stacks' infrastructure, as the real Pulumi dependencies the program declares
(recorded from each registration's ``dependencies``): GPU nodes after the CNI, Kubernetes objects after the
provider, which waits for add-ons and system nodes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from stacks import mock_runtime, offline
from tests.plans import fake_planner


@pytest.fixture
def deps(monkeypatch: pytest.MonkeyPatch) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    original = mock_runtime.RecordingMonitor.RegisterResource

    def register(self: mock_runtime.RecordingMonitor, request: Any) -> Any:
        found[request.name] = {urn.rsplit("::", 1)[-1] for urn in request.dependencies}
        return original(self, request)

    monkeypatch.setattr(mock_runtime.RecordingMonitor, "RegisterResource", register)
    return found


@pytest.mark.parametrize("stack", ["dev", "prod-eu"])
def test_gpu_nodes_wait_for_the_cni_and_the_provider_for_dns(stack: str, deps: dict[str, set[str]]) -> None:
    result = offline.render_stack(stack, planner=fake_planner)
    groups = [
        r["name"] for r in result.resources if r["name"].startswith("gpu-") and r["name"].endswith("-ng")
    ]
    assert groups
    for group in groups:
        component = group.removesuffix("-ng")
        assert {"eks-managed-vpc-cni", "eks-managed-kube-proxy"} <= deps[component], component
    assert {"eks-managed-coredns", "eks-managed-aws-ebs-csi-driver", "eks-managed-system-ng"} <= deps[
        "eks-k8s"
    ]
    names = {r["name"] for r in result.resources}
    assert {"eks-managed-system-ng", "eks-sc-gp3"} <= names


def test_prod_eu_on_a_p5_capacity_block_renders_the_reservation(tmp_path: Path) -> None:
    """The p5 variant of prod-eu: not sold On-Demand in eu-central-1, bought as an EC2 Capacity Block."""
    doc = yaml.safe_load((offline.STACKS_DIR / "Pulumi.prod-eu.yaml").read_text())
    big = doc["config"]["paddock:models"][0]
    big.update(gpu="p5.48xlarge", capacityType="capacity-block", capacityReservationId="cr-0123456789abcdef0")
    path = tmp_path / "Pulumi.prod-eu.yaml"
    path.write_text(yaml.safe_dump(doc))
    result = offline.render_stack("prod-eu", stack_file=path)
    res = {r["name"]: r for r in result.resources}
    lt = res["gpu-llama-70b-lt"]["inputs"]
    assert lt["instanceMarketOptions"] == {"marketType": "capacity-block"}
    assert lt["capacityReservationSpecification"] == {
        "capacityReservationTarget": {"capacityReservationId": "cr-0123456789abcdef0"}
    }
    ng = res["gpu-llama-70b-ng"]["inputs"]
    assert (ng["capacityType"], ng["instanceTypes"]) == ("CAPACITY_BLOCK", ["p5.48xlarge"])
