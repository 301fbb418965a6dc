"""Node scaling: cluster-autoscaler settings/values/policy, Karpenter objects, chart values rendering."""

from __future__ import annotations

from pathlib import Path

import jinja2
import pytest

from serving.autoscaling import (
    cluster_autoscaler_policy,
    cluster_autoscaler_settings,
    karpenter_node_class,
    karpenter_node_pool,
    node_group_autoscaler_tags,
    node_scale_down_seconds,
    values,
)
from serving.autoscaling.values import (
    cluster_autoscaler_values,
    karpenter_values,
    keda_values,
    render_template,
)
from serving.errors import RenderError
from serving.monitoring.values import MonitoringSettings, kube_prometheus_stack_values
from tests.unit.scaling_fixtures import assert_golden, make_model, tgi_model


@pytest.mark.parametrize(
    ("loads", "seconds"),
    [((), 600), ((240.0,), 600), ((240.0, 900.0), 1380), ((1000.0,), 1500)],
)
def test_node_scale_down_exceeds_the_slowest_load(loads: tuple[float, ...], seconds: int) -> None:
    models = tuple(make_model(f"m{i}", plan_overrides={"load_time_seconds": s}) for i, s in enumerate(loads))
    assert node_scale_down_seconds(models) == seconds
    assert all(seconds > s for s in loads)


def test_cluster_autoscaler_values_golden() -> None:
    models = (make_model(plan_overrides={"load_time_seconds": 900.0}), tgi_model())
    settings = cluster_autoscaler_settings(
        models, cluster_name="paddock-prod-eu", region="eu-central-1", role_arn="arn:aws:iam::1:role/ca"
    )
    assert (settings.scale_down_unneeded, settings.scale_down_delay_after_add) == ("23m", "23m")
    values = cluster_autoscaler_values(settings)
    assert values["extraArgs"]["scale-down-unneeded-time"] == "23m"
    assert values["rbac"]["serviceAccount"]["annotations"] == {
        "eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/ca"
    }
    assert_golden(values, "autoscaling/cluster-autoscaler-values.yaml")


def test_cluster_autoscaler_without_role_has_no_annotation() -> None:
    settings = cluster_autoscaler_settings((make_model(),), cluster_name="c", region="us-east-1")
    assert cluster_autoscaler_values(settings)["rbac"]["serviceAccount"]["annotations"] == {}


def test_cluster_autoscaler_policy_limits_writes_to_owned_groups() -> None:
    doc = cluster_autoscaler_policy("paddock-prod-eu")
    scale = next(s for s in doc["Statement"] if s["Sid"] == "ScaleOwnedGroups")
    assert scale["Condition"] == {
        "StringEquals": {"aws:ResourceTag/k8s.io/cluster-autoscaler/paddock-prod-eu": "owned"}
    }
    discover = next(s for s in doc["Statement"] if s["Sid"] == "Discover")
    assert "eks:DescribeNodegroup" in discover["Action"]
    assert not any(a.startswith(("autoscaling:Set", "autoscaling:Terminate")) for a in discover["Action"])


def test_node_group_tags_allow_scale_from_zero() -> None:
    assert node_group_autoscaler_tags("c1", gpus_per_node=8) == {
        "k8s.io/cluster-autoscaler/enabled": "true",
        "k8s.io/cluster-autoscaler/c1": "owned",
        "k8s.io/cluster-autoscaler/node-template/resources/nvidia.com/gpu": "8",
        "k8s.io/cluster-autoscaler/node-template/taint/nvidia.com/gpu": "true:NoSchedule",
    }


def test_karpenter_node_pool_golden() -> None:
    labels = {"paddock.dev/model": "llama-70b", "paddock.dev/gpu": "h100-80gb"}
    pool = karpenter_node_pool(make_model(capacity_type="spot"), node_class="paddock-gpu", node_labels=labels)
    assert pool["spec"]["template"]["metadata"]["labels"] == labels
    spec = pool["spec"]
    assert spec["limits"] == {"nvidia.com/gpu": 16}  # 4 GPUs x 4 replicas
    assert spec["disruption"]["consolidationPolicy"] == "WhenEmpty"
    assert spec["disruption"]["consolidateAfter"] == "900s"  # 1.5 x 600 s load time
    assert_golden(pool, "autoscaling/karpenter-nodepool.yaml")


def test_karpenter_node_pool_without_instance_type_keeps_capacity_requirement() -> None:
    pool = karpenter_node_pool(
        make_model(plan_overrides={"instance_type": None}), node_class="n", node_labels={}
    )
    reqs = pool["spec"]["template"]["spec"]["requirements"]
    assert [r["key"] for r in reqs] == ["karpenter.sh/capacity-type"]


def test_karpenter_node_class_and_values() -> None:
    cls = karpenter_node_class(
        name="paddock-gpu",
        cluster_name="c1",
        node_role="c1-gpu",
        ami_alias="al2023@v20251103",
        root_volume_gib=300,
    )
    assert cls["spec"]["amiSelectorTerms"] == [{"alias": "al2023@v20251103"}]
    assert cls["spec"]["blockDeviceMappings"][0]["ebs"]["volumeSize"] == "300Gi"
    assert cls["spec"]["subnetSelectorTerms"] == [{"tags": {"karpenter.sh/discovery": "c1"}}]
    values = karpenter_values(cluster_name="c1", interruption_queue="c1-karpenter", role_arn=None)
    assert values["settings"] == {
        "clusterName": "c1",
        "interruptionQueue": "c1-karpenter",
        "isolatedVPC": False,
    }


def test_keda_and_kps_values_golden() -> None:
    assert keda_values(monitoring=False)["prometheus"]["operator"]["serviceMonitor"]["enabled"] is False
    assert_golden(keda_values(monitoring=True), "autoscaling/keda-values.yaml")
    kps = kube_prometheus_stack_values(MonitoringSettings(grafana=False))
    assert kps["grafana"]["enabled"] is False
    assert kps["grafana"]["sidecar"]["dashboards"]["label"] == "grafana_dashboard"
    assert_golden(
        kube_prometheus_stack_values(MonitoringSettings()), "monitoring/kube-prometheus-stack-values.yaml"
    )


def test_render_errors_name_the_template() -> None:
    with pytest.raises(RenderError, match="no template helm_values/nope.yaml.j2"):
        render_template("nope.yaml.j2")
    with pytest.raises(RenderError, match="keda.yaml.j2: no value for monitoring"):
        render_template("keda.yaml.j2", operator_replicas=2)


def test_template_syntax_error_is_a_render_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "bad.yaml.j2").write_text("a: {{ }}\n")
    (tmp_path / "list.yaml.j2").write_text("- {{ x | tojson }}\n")
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(tmp_path), undefined=jinja2.StrictUndefined)
    monkeypatch.setattr(values, "_ENV", env)
    with pytest.raises(RenderError, match="bad.yaml.j2:1: "):
        render_template("bad.yaml.j2")
    with pytest.raises(RenderError, match="did not render to a mapping"):
        render_template("list.yaml.j2", x=1)
