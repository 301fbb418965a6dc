"""Scaling components under Pulumi mocks: PodScaling (KEDA / prometheus-adapter), ModelScalers
(ScaledObjects/HPAs per model), NodeScaling (cluster-autoscaler, Karpenter) with plan-derived values, and
Args validation before any child exists."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest

from components.model_scalers import ModelScalers, ModelScalersArgs
from components.node_scaling import NodeScaling, NodeScalingArgs
from components.pod_scaling import PodScaling, PodScalingArgs
from serving.autoscaling import AutoscalingSettings
from tests.unit.scaling_fixtures import Recorder, make_model, tgi_model

SO = "kubernetes:keda.sh/v1alpha1:ScaledObject"
RELEASE = "kubernetes:helm.sh/v3:Release"


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    rec = Recorder()
    pulumi.runtime.set_mocks(rec, project="paddock", stack="test", preview=False)
    yield rec


POD_FIELDS = (
    "settings",
    "prometheus",
    "keda_chart_version",
    "prometheus_adapter_chart_version",
    "prometheus_url",
)
SCALER_FIELDS = ("models", "settings", "gateway", "prometheus_url")
NODE_FIELDS = (
    "models",
    "settings",
    "cluster_name",
    "region",
    "tags",
    "cluster_autoscaler_chart_version",
    "cluster_autoscaler_role_arn",
    "karpenter_chart_version",
    "karpenter_ami_alias",
    "account_id",
)


def build(**overrides: Any) -> Callable[[], None]:
    """The three scaling components as the program wires them (operator -> scalers; node scaling)."""
    fields: dict[str, Any] = {
        "models": (make_model(), tgi_model(min_replicas=0)),
        "settings": AutoscalingSettings(),
        "cluster_name": "paddock-prod-eu",
        "region": "eu-central-1",
        "gateway": True,
        "prometheus": True,
        "keda_chart_version": "2.17.2",
        "cluster_autoscaler_chart_version": "9.48.0",
        "cluster_autoscaler_role_arn": "arn:aws:iam::123456789012:role/ca",
    }
    fields.update(overrides)

    def pick(names: tuple[str, ...]) -> dict[str, Any]:
        return {k: fields[k] for k in names if k in fields}

    @pulumi.runtime.test  # type: ignore[untyped-decorator]
    def body() -> None:
        provider = k8s.Provider("k8s")
        pods = PodScaling("as", PodScalingArgs(provider=provider, **pick(POD_FIELDS)))
        ModelScalers("as", ModelScalersArgs(provider=provider, operator=pods.operator, **pick(SCALER_FIELDS)))
        NodeScaling("as", NodeScalingArgs(provider=provider, **pick(NODE_FIELDS)))

    return body  # type: ignore[no-any-return]


def test_keda_and_cluster_autoscaler(recorder: Recorder) -> None:
    build()()
    assert sorted(r.name for r in recorder.by_type(SO)) == [
        "as-llama-70b-scaledobject",
        "as-llama-8b-tgi-scaledobject",
    ]
    keda = recorder.named("as-keda").inputs
    assert (keda["chart"], keda["version"], keda["repositoryOpts"]) == (
        "keda",
        "2.17.2",
        {"repo": "https://kedacore.github.io/charts"},
    )
    vllm = recorder.named("as-llama-70b-scaledobject").inputs
    assert (vllm["apiVersion"], vllm["kind"]) == ("keda.sh/v1alpha1", "ScaledObject")
    spec = vllm["spec"]
    assert (spec["minReplicaCount"], spec["maxReplicaCount"], spec["cooldownPeriod"]) == (1.0, 4.0, 960.0)
    thresholds = {t["name"]: t["metadata"]["threshold"] for t in spec["triggers"]}
    assert thresholds == {"queue": "4", "running": "32", "kv-cache": "0.85", "gateway-in-flight": "32"}
    tgi = recorder.named("as-llama-8b-tgi-scaledobject").inputs["spec"]
    assert tgi["minReplicaCount"] == 0.0
    assert [t["name"] for t in tgi["triggers"]] == [
        "queue",
        "running",
        "gateway-in-flight",
        "gateway-requests",
    ]


def test_cluster_autoscaler_values_and_policy(recorder: Recorder) -> None:
    build()()
    ca = recorder.named("as-cluster-autoscaler")
    assert ca.typ == RELEASE
    values = ca.inputs["values"]
    assert values["extraArgs"]["scale-down-unneeded-time"] == "15m"  # 1.5 x 600 s load time
    assert values["autoDiscovery"] == {"clusterName": "paddock-prod-eu"}
    assert values["rbac"]["serviceAccount"]["annotations"] == {
        "eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/ca"
    }
    policy = json.loads(recorder.by_type("aws:iam/policy:Policy")[0].inputs["policy"])
    assert {s["Sid"] for s in policy["Statement"]} == {"Discover", "ScaleOwnedGroups"}


def test_without_a_role_cluster_autoscaler_gets_pod_identity(recorder: Recorder) -> None:
    build(cluster_autoscaler_role_arn=None, tags={"team": "ml"})()
    role = recorder.named("as-cluster-autoscaler-role").inputs
    trust = json.loads(role["assumeRolePolicy"])
    assert trust["Statement"][0]["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    assoc = recorder.named("as-cluster-autoscaler-pod-identity").inputs
    assert (assoc["clusterName"], assoc["namespace"], assoc["serviceAccount"]) == (
        "paddock-prod-eu",
        "kube-system",
        "cluster-autoscaler",
    )
    assert role["tags"] == {"team": "ml"} and assoc["tags"] == {"team": "ml"}
    assert recorder.named("as-cluster-autoscaler-policy").inputs["tags"] == {"team": "ml"}
    attach = recorder.named("as-cluster-autoscaler-attach").inputs
    assert attach["policyArn"] == "arn:aws:iam::123456789012:policy/as-cluster-autoscaler-policy"
    assert (
        recorder.named("as-cluster-autoscaler").inputs["values"]["rbac"]["serviceAccount"]["annotations"]
        == {}
    )


def test_hpa_and_prometheus_adapter_when_keda_is_off(recorder: Recorder) -> None:
    build(
        models=(make_model(), tgi_model(min_replicas=1)),
        settings=AutoscalingSettings(keda=False, node_autoscaler="none"),
        keda_chart_version=None,
        prometheus_adapter_chart_version="5.3.0",
        prometheus_url="http://prometheus-operated.observability.svc:9090",
    )()
    types = sorted({r.typ for r in recorder.resources})
    assert types == [
        "kubernetes:autoscaling/v2:HorizontalPodAutoscaler",
        RELEASE,
        "paddock:scaling:ModelScalers",
        "paddock:scaling:NodeScaling",
        "paddock:scaling:PodScaling",
        "pulumi:providers:kubernetes",
    ]
    adapter = recorder.named("as-prometheus-adapter").inputs
    assert (adapter["chart"], adapter["version"], adapter["repositoryOpts"], adapter["namespace"]) == (
        "prometheus-adapter",
        "5.3.0",
        {"repo": "https://prometheus-community.github.io/helm-charts"},
        "monitoring",
    )
    values = adapter["values"]
    assert values["prometheus"] == {
        "url": "http://prometheus-operated.observability.svc",
        "port": 9090.0,
        "path": "",
    }
    exposed = {r["name"]["as"] for r in values["rules"]["custom"]}
    hpa = recorder.named("as-llama-70b-hpa").inputs
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (1.0, 4.0)
    assert hpa["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 900.0
    tgi = recorder.named("as-llama-8b-tgi-hpa").inputs
    read = {m["pods"]["metric"]["name"] for h in (hpa, tgi) for m in h["spec"]["metrics"]}
    assert read == exposed
    assert exposed == {
        "vllm_num_requests_waiting",
        "vllm_num_requests_running",
        "tgi_queue_size",
        "tgi_batch_current_size",
    }
    assert not recorder.by_type(SO)


def test_keda_off_without_adapter_version_or_with_a_bad_url(recorder: Recorder) -> None:
    with pytest.raises(pulumi.InputPropertiesError) as err:
        build(
            models=(make_model(),),
            settings=AutoscalingSettings(keda=False, node_autoscaler="none"),
            keda_chart_version=None,
            prometheus_url="prometheus-operated:9090",
        )()
    text = str(err.value)
    assert (
        "prometheus_adapter_chart_version: is required when settings.keda is false "
        "(paddock:versions.prometheusAdapterChart)"
    ) in text
    assert "prometheus_url: 'prometheus-operated:9090' is not an http(s)://host" in text
    assert [r.typ for r in recorder.resources] == ["pulumi:providers:kubernetes"]


def test_invalid_args_name_every_field_and_create_nothing(recorder: Recorder) -> None:
    """Each component validates before creating a child; every bad field of one component is named."""
    with pytest.raises(pulumi.InputPropertiesError) as err:
        build(settings=AutoscalingSettings(keda=False), keda_chart_version=None, prometheus=False)()
    text = str(err.value)
    for expected in (
        "invalid PodScaling arguments",
        "prometheus_adapter_chart_version: is required when settings.keda is false",
        "prometheus: autoscaling reads engine metrics from Prometheus",
    ):
        assert expected in text
    assert [r.typ for r in recorder.resources] == ["pulumi:providers:kubernetes"]


def test_model_scalers_reject_scale_to_zero_without_keda_or_gateway(recorder: Recorder) -> None:
    @pulumi.runtime.test  # type: ignore[untyped-decorator]
    def body() -> None:
        ModelScalers(
            "as",
            ModelScalersArgs(
                models=(make_model(min_replicas=0, max_replicas=0),),
                settings=AutoscalingSettings(keda=False),
                provider=k8s.Provider("k8s"),
                gateway=False,
            ),
        )

    with pytest.raises(pulumi.InputPropertiesError) as err:
        body()
    text = str(err.value)
    for expected in (
        "models[0].replicas.max: 0 must be >= 1 and >= min (0)",
        "models[0].min_replicas: 0 (scale to zero) needs settings.keda",
        "models[0].min_replicas: 0 (scale to zero) needs the gateway",
    ):
        assert expected in text
    assert [r.typ for r in recorder.resources] == ["pulumi:providers:kubernetes"]


def test_node_scaling_requires_what_its_mode_needs(recorder: Recorder) -> None:
    @pulumi.runtime.test  # type: ignore[untyped-decorator]
    def body(mode: str) -> None:
        NodeScaling(
            "ns",
            NodeScalingArgs(
                models=(make_model(),),
                settings=AutoscalingSettings(node_autoscaler=mode),  # type: ignore[arg-type]
                provider=k8s.Provider("k8s"),
                cluster_name="",
                region="eu-central-1",
            ),
        )

    with pytest.raises(pulumi.InputPropertiesError) as err:
        body("karpenter")
    text = str(err.value)
    for key in ("karpenter_chart_version", "karpenter_ami_alias", "account_id"):
        assert f"{key}: is required with node_autoscaler karpenter" in text
    assert "cluster_name: is empty" in text
    with pytest.raises(pulumi.InputPropertiesError, match="cluster_autoscaler_chart_version: is required"):
        body("cluster-autoscaler")
    assert [r.typ for r in recorder.resources] == ["pulumi:providers:kubernetes"] * 2


def test_missing_keda_chart_version_is_reported(recorder: Recorder) -> None:
    with pytest.raises(pulumi.InputPropertiesError) as err:
        build(keda_chart_version=None)()
    assert "keda_chart_version: is required" in str(err.value)
