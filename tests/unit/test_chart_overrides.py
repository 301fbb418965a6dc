"""serving/chart_overrides.py: every image in every third-party values file rewritten (compared with
charts.yaml by walking the values), system placement on created clusters only."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from serving.autoscaling.adapter import prometheus_adapter_values
from serving.autoscaling.nodes import ClusterAutoscalerSettings
from serving.autoscaling.values import cluster_autoscaler_values, karpenter_values, keda_values
from serving.catalog.charts import get_chart
from serving.chart_overrides import (
    ReleasePolicy,
    enabled_images,
    enabled_workloads,
    get_path,
    upstream_reference,
)
from serving.controllers import efa_device_plugin_values, lws_values
from serving.images import ImageRouter, eks_registry_host
from serving.monitoring.values import MonitoringSettings, kube_prometheus_stack_values
from serving.release_values import dcgm_exporter_values, device_plugin_values

ECR = "123456789012.dkr.ecr.eu-central-1.amazonaws.com"
SYSTEM = {"paddock.dev/pool": "system"}
CA = ClusterAutoscalerSettings(
    cluster_name="c",
    region="eu-central-1",
    scale_down_unneeded="10m",
    scale_down_delay_after_add="10m",
    max_node_provision_time="15m",
    expander="least-waste",
)
#: chart name -> (pinned version, our values builder)
BUILDERS: dict[str, tuple[str, Callable[[], dict[str, Any]]]] = {
    "kube-prometheus-stack": ("75.15.1", lambda: kube_prometheus_stack_values(MonitoringSettings())),
    "keda": ("2.17.2", lambda: keda_values(monitoring=True)),
    "cluster-autoscaler": ("9.48.0", lambda: cluster_autoscaler_values(CA)),
    "prometheus-adapter": (
        "5.3.0",
        lambda: prometheus_adapter_values(prometheus_url="http://prometheus-operated.monitoring.svc:9090"),
    ),
    "nvidia-device-plugin": ("0.17.1", device_plugin_values),
    "dcgm-exporter": ("4.1.1", lambda: dcgm_exporter_values(service_monitor=True)),
    "lws": ("0.10.0", lws_values),
    "aws-efa-k8s-device-plugin": ("v0.5.30", efa_device_plugin_values),
    "karpenter": (
        "1.14.1",
        lambda: karpenter_values(cluster_name="c", interruption_queue="q", role_arn=None),
    ),
}


def pull_through(mirror: str | None = "paddock-mirror") -> ImageRouter:
    return ImageRouter(
        mode="pull-through",
        region="eu-central-1",
        account="123456789012",
        mirror=mirror,
        docker_hub_credential=True,
        github_credential=True,
    )


def image_maps(values: Any, path: str = "") -> Iterator[str]:
    """Dotted paths of every mapping in ``values`` that names an image (has a ``repository`` key)."""
    if isinstance(values, dict):
        if "repository" in values and isinstance(values["repository"], str):
            yield path
        for key, value in values.items():
            yield from image_maps(value, f"{path}.{key}" if path else str(key))


@pytest.mark.parametrize("chart_name", sorted(BUILDERS))
def test_every_image_is_rewritten_in_pull_through_mode(chart_name: str) -> None:
    version, build = BUILDERS[chart_name]
    chart = get_chart(chart_name, version)
    final = ReleasePolicy(router=pull_through(), system_node_selector=SYSTEM).apply(
        chart_name, version, build()
    )
    known = {image.repository_path.rsplit(".", 1)[0] for image in chart.images}
    unknown = set(image_maps(final)) - known
    assert not unknown, f"values name images charts.yaml does not describe: {unknown}"
    images = enabled_images(chart, final)
    assert images
    for image in images:
        ref = upstream_reference(image, final)
        if image.registry.startswith("602401143452."):  # EKS's registry: its copy in the stack's region
            assert ref.startswith(f"{eks_registry_host('eu-central-1')}/"), ref
            continue
        assert ref.startswith(f"{ECR}/"), (image.id, ref)
        tail = ref.split("/", 1)[1]
        expected_prefix = "paddock-mirror/nvcr.io/" if image.registry == "nvcr.io" else ""
        assert tail.startswith(expected_prefix), ref
        assert tail.endswith(f"{image.repository}:{image.tag}" + (f"@{image.digest}" if image.digest else ""))


@pytest.mark.parametrize("chart_name", sorted(BUILDERS))
def test_system_pods_on_the_system_pool_daemonsets_untouched(chart_name: str) -> None:
    version, build = BUILDERS[chart_name]
    chart = get_chart(chart_name, version)
    values = build()
    created = ReleasePolicy(system_node_selector=SYSTEM).apply(chart_name, version, values)
    adopted = ReleasePolicy(router=pull_through()).apply(chart_name, version, values)
    for workload in enabled_workloads(chart, created):
        selector = get_path(created, workload.node_selector_path)
        if workload.kind == "DaemonSet":
            assert selector != SYSTEM, workload.name
        else:
            assert selector == SYSTEM, workload.name
            assert get_path(adopted, workload.node_selector_path) != SYSTEM, workload.name


def test_gpu_daemonsets_tolerate_the_gpu_taint() -> None:
    taint = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
    for chart_name in ("nvidia-device-plugin", "dcgm-exporter", "aws-efa-k8s-device-plugin"):
        version, build = BUILDERS[chart_name]
        final = ReleasePolicy(system_node_selector=SYSTEM).apply(chart_name, version, build())
        assert taint in final["tolerations"], chart_name
    exporter = next(w for w in get_chart("kube-prometheus-stack").workloads if w.name == "node-exporter")
    assert {"effect": "NoSchedule", "operator": "Exists"} in exporter.default_tolerations


def test_disabled_workloads_pull_nothing() -> None:
    values = kube_prometheus_stack_values(MonitoringSettings(grafana=False, alerts=False))
    chart = get_chart("kube-prometheus-stack")
    ids = {i.id for i in enabled_images(chart, values)}
    assert "grafana" not in ids and "alertmanager" not in ids and "prometheus" in ids
    final = ReleasePolicy(router=pull_through(), system_node_selector=SYSTEM).apply(
        "kube-prometheus-stack", "75.15.1", values
    )
    assert "image" not in final.get("grafana", {})


def test_direct_mode_changes_no_image() -> None:
    router = ImageRouter(mode="direct", region="eu-central-1", account="123456789012")
    for chart_name, (version, build) in BUILDERS.items():
        values = build()
        final = ReleasePolicy(router=router).apply(chart_name, version, values)
        if chart_name == "aws-efa-k8s-device-plugin":  # EKS's own registry: the in-region copy, NAT or not
            assert final["image"]["repository"].startswith(eks_registry_host("eu-central-1"))
            continue
        assert final == values, chart_name


def test_empty_policy_is_a_no_op_and_unknown_versions_fall_back_to_the_catalog() -> None:
    values = keda_values(monitoring=False)
    assert ReleasePolicy().apply("keda", "9.9.9", values) == values
    moved = ReleasePolicy(system_node_selector=SYSTEM).apply("keda", "9.9.9", values)
    assert moved["nodeSelector"] == SYSTEM


def test_prometheus_keeps_its_data_on_gp3() -> None:
    values = kube_prometheus_stack_values(MonitoringSettings())
    spec = values["prometheus"]["prometheusSpec"]
    claim = spec["storageSpec"]["volumeClaimTemplate"]["spec"]
    assert claim["storageClassName"] == "gp3"
    assert claim["resources"]["requests"]["storage"] == "50Gi"
    assert spec["retention"] == "15d" and spec["retentionSize"] == "45GB"


def test_system_pods_have_requests_so_the_pool_can_be_sized() -> None:
    """Every Deployment/StatefulSet/Job we run on the system pool requests CPU and memory (ours or the chart's
    default), so its size can be computed from charts.yaml + our values."""
    for chart_name, (version, build) in BUILDERS.items():
        chart = get_chart(chart_name, version)
        values = build()
        for workload in enabled_workloads(chart, values):
            if workload.kind == "DaemonSet":
                continue
            requests = get_path(values, f"{workload.resources_path}.requests") or workload.default_requests
            assert {"cpu", "memory"} <= set(requests), (chart_name, workload.name)


def test_pod_templates_as_configured() -> None:
    from serving.chart_overrides import chart_name_of, pod_templates

    values = ReleasePolicy(router=pull_through(), system_node_selector=SYSTEM).apply(
        "keda", "2.17.2", keda_values(monitoring=True)
    )
    pods = {p.workload: p for p in pod_templates("keda", "2.17.2", values)}
    assert set(pods) == {"operator", "operator-metrics-apiserver", "admission-webhooks"}
    operator = pods["operator"]
    assert operator.replicas == 2  # ours (helm_values/keda.yaml.j2), not the chart's 1
    assert operator.node_selector == {"kubernetes.io/os": "linux", **SYSTEM}
    assert operator.requests == {"cpu": "100m", "memory": "128Mi"}
    assert pods["admission-webhooks"].requests == {"cpu": "100m", "memory": "100Mi"}  # chart default
    assert operator.images == (f"{ECR}/github/kedacore/keda:2.17.2",)
    plugin = pod_templates("nvidia-device-plugin", "0.17.1", device_plugin_values())[0]
    assert plugin.replicas is None and plugin.node_selector == {"nvidia.com/gpu.present": "true"}
    assert chart_name_of("oci://public.ecr.aws/karpenter/karpenter") == "karpenter"
