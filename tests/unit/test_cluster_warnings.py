"""serving.cluster_warnings: support calendar, internet-open endpoint and placeholder CIDR warnings."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from serving.cluster_warnings import cluster_warnings
from serving.stack_config import load_stack_file

STACKS = Path(__file__).resolve().parents[2] / "stacks"
TODAY = dt.date(2026, 12, 4)


def _cfg(**cluster: object) -> dict[str, object]:
    base: dict[str, object] = {
        "create": True,
        "kubernetes_version": "1.35",
        "endpoint_public_access": True,
        "public_access_cidrs": ["198.18.7.0/24"],
    }
    base.update(cluster)
    return {"cluster": base}


def test_clean_cluster_has_no_warning() -> None:
    assert cluster_warnings(_cfg(), TODAY) == []


def test_version_out_of_standard_support_is_named() -> None:
    (line,) = cluster_warnings(_cfg(kubernetes_version="1.33"), TODAY)
    assert line.startswith("paddock:cluster.kubernetesVersion: Kubernetes 1.33 left EKS standard support")
    assert cluster_warnings(_cfg(kubernetes_version="1.33", create=False), TODAY) == []


def test_internet_open_and_placeholder_cidrs() -> None:
    lines = cluster_warnings(_cfg(public_access_cidrs=["0.0.0.0/0", "203.0.113.10/32"]), TODAY)
    assert lines[0] == (
        "paddock:cluster.publicAccessCidrs[0]: 0.0.0.0/0 opens the public API endpoint to the whole internet"
    )
    assert lines[1].startswith(
        "paddock:cluster.publicAccessCidrs[1]: 203.0.113.10/32 is a documentation-range"
    )
    private = _cfg(endpoint_public_access=False, public_access_cidrs=[], private_access_cidrs=["10.9.0.0/24"])
    assert cluster_warnings(private, TODAY) == []


def test_shipped_prod_eu_warns_only_about_its_placeholder() -> None:
    cfg = load_stack_file(STACKS / "Pulumi.prod-eu.yaml").to_dict()
    (line,) = cluster_warnings(cfg, TODAY)
    assert "203.0.113.10/32 is a documentation-range placeholder" in line


def test_private_only_endpoint_reachability() -> None:
    created = {**_cfg(endpoint_public_access=False, public_access_cidrs=[]), "network": {"create": True}}
    (line,) = cluster_warnings(created, TODAY)
    assert line.startswith("paddock:cluster.endpointPublicAccess: false with a created VPC")
    adopted = {**_cfg(endpoint_public_access=False, public_access_cidrs=[]), "network": {"create": False}}
    (line,) = cluster_warnings(adopted, TODAY)
    assert line.startswith("paddock:cluster.privateAccessCidrs: empty with a private-only endpoint")
    adopted["cluster"]["private_access_cidrs"] = ["10.99.0.0/24"]  # type: ignore[index]
    assert cluster_warnings(adopted, TODAY) == []
