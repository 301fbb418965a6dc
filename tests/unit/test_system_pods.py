"""serving/system_pods.py: system pods of a rendered plan and the requests the system pool must hold."""

from __future__ import annotations

import pytest

from serving.chart_overrides import ReleasePolicy
from serving.monitoring.values import MonitoringSettings, kube_prometheus_stack_values
from serving.release_values import SYSTEM_POOL_LABEL, dcgm_exporter_values
from serving.system_pods import (
    cpu_millicores,
    memory_mib,
    system_pods,
    system_pods_markdown,
    system_pool_requests,
)

RELEASE = "kubernetes:helm.sh/v3:Release"


def _release(name: str, chart: str, version: str, values: dict[str, object]) -> dict[str, object]:
    return {
        "type": RELEASE,
        "name": name,
        "inputs": {"name": name, "chart": chart, "version": version, "values": values},
    }


@pytest.mark.parametrize(("q", "m"), [("100m", 100), ("1", 1000), ("0.5", 500), ("2", 2000)])
def test_cpu(q: str, m: int) -> None:
    assert cpu_millicores(q) == m


@pytest.mark.parametrize(("q", "mib"), [("128Mi", 128), ("2Gi", 2048), ("1G", 1e9 / 2**20), ("0", 0)])
def test_memory(q: str, mib: float) -> None:
    assert memory_mib(q) == pytest.approx(mib)


def test_bad_quantities() -> None:
    with pytest.raises(ValueError):
        cpu_millicores("lots")
    with pytest.raises(ValueError):
        memory_mib("12 MB")


def test_sum_counts_replicas_on_the_system_pool_only() -> None:
    policy = ReleasePolicy(system_node_selector=SYSTEM_POOL_LABEL)
    kps = policy.apply(
        "kube-prometheus-stack", "75.15.1", kube_prometheus_stack_values(MonitoringSettings(grafana=False))
    )
    resources = [
        _release("kube-prometheus-stack", "kube-prometheus-stack", "75.15.1", kps),
        _release("dcgm-exporter", "dcgm-exporter", "4.1.1", dcgm_exporter_values(service_monitor=False)),
        _release(
            "paddock-gateway",
            "/somewhere/serving/charts/gateway",
            "",
            {
                "replicas": 2,
                "nodeSelector": SYSTEM_POOL_LABEL,
                "resources": {"requests": {"cpu": "250m", "memory": "128Mi"}},
                "image": {"repository": "r", "tag": "t"},
            },
        ),
        {"type": "aws:ec2/vpc:Vpc", "name": "vpc", "inputs": {}},
    ]
    pods = system_pods(resources)
    names = {(p.release, p.template.workload) for p in pods}
    assert ("kube-prometheus-stack", "grafana") not in names  # disabled in the values
    assert ("dcgm-exporter", "dcgm-exporter") in names
    cpu, mem = system_pool_requests(pods)
    # operator 100m/128Mi, 2 webhook jobs 50m/64Mi, prometheus 500m/2Gi, alertmanager 50m/64Mi,
    # kube-state-metrics 50m/128Mi, gateway 2 x 250m/128Mi; DaemonSets (dcgm, node-exporter) excluded
    assert cpu == 100 + 2 * 50 + 500 + 50 + 50 + 2 * 250
    assert mem == pytest.approx(128 + 2 * 64 + 2048 + 64 + 128 + 2 * 128)
    text = system_pods_markdown(resources)
    assert "## System pods" in text and f"{cpu} m CPU" in text


def test_adopted_cluster_pods_are_not_counted_on_the_pool() -> None:
    kps = kube_prometheus_stack_values(MonitoringSettings())
    pods = system_pods([_release("kps", "kube-prometheus-stack", "75.15.1", kps)])
    assert pods and system_pool_requests(pods) == (0, 0.0)
