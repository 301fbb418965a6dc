"""serving/catalog/data/charts.yaml and its loader: what each pinned third-party chart runs and pulls."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from serving.catalog import charts as catalog
from serving.catalog._data import load_file
from serving.errors import CatalogError, CatalogLookupError

STACKS = Path(__file__).resolve().parents[2] / "stacks"
SHIPPED = ("dev", "prod-eu", "ephemeral")


def _chart_record(name: str) -> dict[str, Any]:
    for record in load_file("charts.yaml")["charts"]:
        if record["name"] == name:
            return copy.deepcopy(record)
    raise AssertionError(name)


def test_every_chart_the_stacks_deploy_is_described() -> None:
    names = {c.name for c in catalog.list_charts()}
    assert names == {
        "kube-prometheus-stack",
        "keda",
        "cluster-autoscaler",
        "prometheus-adapter",
        "nvidia-device-plugin",
        "dcgm-exporter",
        "karpenter",
        "lws",
        "aws-efa-k8s-device-plugin",
    }


@pytest.mark.parametrize("stack", SHIPPED)
def test_shipped_pins_are_the_described_versions(stack: str) -> None:
    doc = yaml.safe_load((STACKS / f"Pulumi.{stack}.yaml").read_text())
    versions = doc["config"]["paddock:versions"]
    by_key = {c.version_key: c for c in catalog.list_charts()}
    pinned = {k: v for k, v in versions.items() if k in by_key}
    assert pinned, stack
    for key, version in pinned.items():
        assert catalog.get_chart(by_key[key].name, str(version)).version == str(version), key


def test_get_chart_rejects_a_version_the_catalog_does_not_describe() -> None:
    assert catalog.get_chart("keda", "2.17.2").app_version == "2.17.2"
    with pytest.raises(CatalogLookupError, match="keda 2.18.0 is not described"):
        catalog.get_chart("keda", "2.18.0")
    with pytest.raises(CatalogLookupError, match="unknown chart"):
        catalog.get_chart("nginx")


def test_kube_prometheus_stack_facts() -> None:
    kps = catalog.get_chart("kube-prometheus-stack")
    assert kps.crds_via == "crds-dir" and "servicemonitors.monitoring.coreos.com" in kps.crds
    names = {w.name: w for w in kps.workloads}
    assert set(names) >= {"operator", "prometheus", "alertmanager", "grafana", "kube-state-metrics"}
    assert names["admission-create"].created_by == "hook:pre-install,pre-upgrade"
    exporter = names["node-exporter"]
    assert exporter.kind == "DaemonSet" and exporter.replicas is None
    assert {"effect": "NoSchedule", "operator": "Exists"} in exporter.default_tolerations
    assert kps.image("prometheus").reference == "quay.io/prometheus/prometheus:v3.5.0"
    assert kps.image("grafana").registry == "docker.io"


def test_gpu_daemonsets_and_nvcr() -> None:
    plugin = catalog.get_chart("nvidia-device-plugin")
    (workload,) = plugin.workloads
    assert {"nvidia.com/gpu.present": ("true",)} in workload.default_affinity_requires
    assert plugin.image("k8s-device-plugin").registry == "nvcr.io"
    nvcr = catalog.get_registry("nvcr.io")
    assert nvcr is not None and nvcr.pull_through is None
    docker = catalog.get_registry("docker.io")
    assert docker is not None and docker.pull_through is not None
    assert docker.pull_through.credential == "required" and docker.official_namespace == "library"
    assert catalog.get_registry("example.com") is None


def test_only_verified_digests() -> None:
    digests = {i.id: i.digest for c in catalog.list_charts() for i in c.images if i.digest}
    assert digests == {
        "karpenter-controller": "sha256:445baefaaa689029cc12ac1f659b916b0b82fb14308ce536f8521fcf079116fa"
    }


def test_every_image_host_is_a_known_registry() -> None:
    hosts = {r.host for r in catalog.list_registries()}
    for chart in catalog.list_charts():
        for image in chart.images:
            assert image.registry in hosts, (chart.name, image.id)


def test_loader_rejects_broken_records() -> None:
    good = _chart_record("keda")
    assert catalog._chart(good, "x").name == "keda"

    missing_source = copy.deepcopy(good)
    del missing_source["workloads"][0]["source"]
    with pytest.raises(CatalogError, match="missing 'source'"):
        catalog._chart(missing_source, "x")

    unknown_image = copy.deepcopy(good)
    unknown_image["workloads"][0]["images"] = ["nope"]
    with pytest.raises(CatalogError, match="unknown image id"):
        catalog._chart(unknown_image, "x")

    unused_image = copy.deepcopy(good)
    unused_image["workloads"] = unused_image["workloads"][:1]
    with pytest.raises(CatalogError, match="no workload pulls"):
        catalog._chart(unused_image, "x")

    bad_digest = copy.deepcopy(good)
    bad_digest["images"][0]["digest"] = "sha256:abc"
    with pytest.raises(CatalogError, match="not sha256"):
        catalog._chart(bad_digest, "x")

    daemonset_with_replicas = copy.deepcopy(good)
    daemonset_with_replicas["workloads"][0]["kind"] = "DaemonSet"
    with pytest.raises(CatalogError, match="null exactly for a DaemonSet"):
        catalog._chart(daemonset_with_replicas, "x")

    crds_mismatch = copy.deepcopy(good)
    crds_mismatch["crdsVia"] = "none"
    with pytest.raises(CatalogError, match="crdsVia none exactly"):
        catalog._chart(crds_mismatch, "x")

    bad_affinity = copy.deepcopy(good)
    bad_affinity["workloads"][0]["defaultAffinityRequires"] = [{"a": "b"}]
    with pytest.raises(CatalogError, match="list of string values"):
        catalog._chart(bad_affinity, "x")


def test_registry_loader_rejects_bad_credential() -> None:
    record = copy.deepcopy(load_file("charts.yaml")["registries"][0])
    assert catalog._registry(record, "x").host == "docker.io"
    record["pullThrough"]["credential"] = "maybe"
    with pytest.raises(CatalogError, match="pullThrough needs"):
        catalog._registry(record, "x")
