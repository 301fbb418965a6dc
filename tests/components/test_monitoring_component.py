"""Monitoring under Pulumi mocks: kube-prometheus-stack release, monitors, PrometheusRules with plan-derived
thresholds, dashboard ConfigMaps with valid JSON, switches, and Args validation."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest

from components.monitoring import Monitoring, MonitoringArgs
from serving.autoscaling import AutoscalingSettings
from serving.monitoring.dashboards import panel_queries
from serving.monitoring.promql import unknown_metrics
from serving.monitoring.values import MonitoringSettings
from tests.unit.scaling_fixtures import Recorder, make_model, tgi_model

RULE = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"
CM = "kubernetes:core/v1:ConfigMap"


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    rec = Recorder()
    pulumi.runtime.set_mocks(rec, project="paddock", stack="test", preview=False)
    yield rec


def build(**overrides: Any) -> Callable[[], None]:
    fields: dict[str, Any] = {
        "models": (make_model(), tgi_model()),
        "settings": MonitoringSettings(),
        "autoscaling": AutoscalingSettings(),
        "kube_prometheus_stack_version": "75.15.1",
        "gateway": True,
    }
    fields.update(overrides)

    @pulumi.runtime.test  # type: ignore[untyped-decorator]
    def body() -> None:
        Monitoring("mon", MonitoringArgs(provider=k8s.Provider("k8s"), **fields))

    return body  # type: ignore[no-any-return]


def test_everything_on_by_default(recorder: Recorder) -> None:
    build()()
    kps = recorder.named("mon-kube-prometheus-stack").inputs
    assert (kps["chart"], kps["version"], kps["namespace"]) == (
        "kube-prometheus-stack",
        "75.15.1",
        "monitoring",
    )
    assert kps["values"]["prometheus"]["prometheusSpec"]["ruleSelectorNilUsesHelmValues"] is False
    kinds = sorted((r.typ.rsplit(":", 1)[1], r.name) for r in recorder.resources if "coreos" in r.typ)
    assert kinds == [
        ("PodMonitor", "mon-paddock-tgi"),
        ("PodMonitor", "mon-paddock-vllm"),
        ("PrometheusRule", "mon-cluster-rules"),
        ("PrometheusRule", "mon-llama-70b-rules"),
        ("PrometheusRule", "mon-llama-8b-tgi-rules"),
        ("ServiceMonitor", "mon-paddock-dcgm"),
        ("ServiceMonitor", "mon-paddock-gateway"),
    ]
    pod_monitor = recorder.named("mon-paddock-vllm").inputs["spec"]
    assert pod_monitor["selector"]["matchLabels"] == {
        "app.kubernetes.io/name": "model-server",
        "paddock.dev/engine": "vllm",
    }
    assert pod_monitor["podMetricsEndpoints"][0]["relabelings"] == [
        {"sourceLabels": ["__meta_kubernetes_pod_label_app_kubernetes_io_instance"], "targetLabel": "alias"}
    ]
    assert recorder.named("mon-paddock-dcgm").inputs["spec"]["endpoints"][0]["honorLabels"] is True


def test_rules_carry_plan_thresholds_and_runbooks(recorder: Recorder) -> None:
    build()()
    rules = recorder.named("mon-llama-70b-rules").inputs["spec"]["groups"][0]["rules"]
    by_name = {r["alert"]: r for r in rules}
    assert 'le=~"2\\\\.5"' in by_name["PaddockTtftSloBreached"]["expr"]  # the bucket at the 2 s SLO
    assert by_name["PaddockGpuMemoryNearFull"]["expr"].endswith("> 0.95")
    assert by_name["PaddockQueueBackedUp"]["for"] == "15m"
    assert all(r["annotations"]["runbook"] and r["annotations"]["runbook_url"] for r in rules)
    assert len(recorder.by_type(RULE)) == 3  # one per model + paddock-cluster


def test_dashboards_are_configmaps_with_valid_json(recorder: Recorder) -> None:
    build()()
    maps = {r.name: r.inputs for r in recorder.by_type(CM)}
    assert sorted(maps) == [
        "mon-paddock-gateway-dashboard",
        "mon-paddock-llama-70b-dashboard",
        "mon-paddock-llama-8b-tgi-dashboard",
    ]
    for cm in maps.values():
        assert cm["metadata"]["labels"] == {"grafana_dashboard": "1"}
        (board_text,) = cm["data"].values()
        board = json.loads(board_text)
        assert unknown_metrics(e for _, e in panel_queries(board)) == set()
    board = json.loads(maps["mon-paddock-llama-70b-dashboard"]["data"]["paddock-llama-70b.json"])
    cost = next(p for p in board["panels"] if p["title"].startswith("Estimated $"))
    assert cost["targets"][0]["expr"].startswith("(98.32 * ")


def test_switches_turn_parts_off(recorder: Recorder) -> None:
    build(
        settings=MonitoringSettings(alerts=False, grafana=False), gateway=False, dcgm_service_monitor=False
    )()
    assert not recorder.by_type(RULE) and not recorder.by_type(CM)
    monitors = sorted(r.name for r in recorder.resources if "coreos" in r.typ)
    assert monitors == ["mon-paddock-tgi", "mon-paddock-vllm"]
    values = recorder.named("mon-kube-prometheus-stack").inputs["values"]
    assert (values["grafana"]["enabled"], values["alertmanager"]["enabled"]) == (False, False)


def test_invalid_args(recorder: Recorder) -> None:
    with pytest.raises(pulumi.InputPropertiesError) as err:
        build(
            settings=MonitoringSettings(enabled=False),
            kube_prometheus_stack_version="latest",
            models=(make_model("Bad_Alias"),),
        )()
    text = str(err.value)
    assert "models[0].alias: 'Bad_Alias' is not a DNS label" in text
    assert "settings.enabled: is false" in text
    assert "kube_prometheus_stack_version: 'latest' is not a chart version" in text
    assert [r.typ for r in recorder.resources] == ["pulumi:providers:kubernetes"]


def test_sns_alerts_create_a_topic_a_publish_only_role_and_its_pod_identity(recorder: Recorder) -> None:
    from serving.stack_config_models import AlertsConfig

    settings = MonitoringSettings(alerting=AlertsConfig(sns=True))
    build(settings=settings, cluster_name="c1", region="eu-west-1")()
    topic = recorder.named("mon-alerts")
    TOPIC = "arn:aws:sns:eu-west-1:123456789012:mon-alerts"  # noqa: N806
    assert topic.typ == "aws:sns/topic:Topic"
    assoc = recorder.named("mon-alertmanager-pod-identity").inputs
    assert (assoc["clusterName"], assoc["namespace"], assoc["serviceAccount"]) == (
        "c1",
        "monitoring",
        "kps-alertmanager",
    )
    policy = json.loads(recorder.named("mon-alertmanager-publish").inputs["policy"])
    assert policy["Statement"] == [{"Effect": "Allow", "Action": "sns:Publish", "Resource": TOPIC}]
    trust = json.loads(recorder.named("mon-alertmanager-role").inputs["assumeRolePolicy"])
    assert trust["Statement"][0]["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    am = recorder.named("mon-kube-prometheus-stack").inputs["values"]["alertmanager"]
    sns = {r["name"]: r.get("sns_configs") for r in am["config"]["receivers"]}
    assert sns["paddock-critical"][0]["topic_arn"] == TOPIC
    assert sns["paddock-critical"][0]["sigv4"] == {"region": "eu-west-1"}


def test_sns_alerts_without_a_cluster_name_are_refused() -> None:
    from serving.stack_config_models import AlertsConfig

    with pytest.raises(pulumi.InputPropertiesError, match="Pod Identity"):
        build(settings=MonitoringSettings(alerting=AlertsConfig(sns=True)))()


def test_no_sns_no_aws_resources(recorder: Recorder) -> None:
    build()()
    assert not [r for r in recorder.resources if r.typ.startswith("aws:")]
