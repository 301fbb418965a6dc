"""serving/controllers.py and serving/autoscaling/karpenter.py (pure): when the LWS controller and the EFA
device plugin are needed, their values, the missing-chart errors, Karpenter's queue and event documents."""

from __future__ import annotations

import dataclasses
import json

import pytest

from serving.autoscaling import karpenter_node_class
from serving.autoscaling.karpenter import (
    INTERRUPTION_EVENTS,
    event_pattern,
    integration_policy,
    interruption_queue_policy,
    node_lifecycle_policy,
)
from serving.config_reader import ConfigErrors
from serving.controllers import (
    controller_problems,
    efa_device_plugin_values,
    lws_values,
    multi_node,
    needs_efa,
)
from serving.stack_config import StackConfig, parse_stack_config, read_stack_file
from stacks import offline
from tests.unit.scaling_fixtures import make_plan


def test_multi_node_and_efa_need() -> None:
    single = make_plan()
    spanning = dataclasses.replace(single, nodes_per_replica=2, instance_type="p4de.24xlarge")
    no_efa = dataclasses.replace(spanning, instance_type="g6e.12xlarge")
    assert not multi_node([single]) and multi_node([single, spanning])
    assert needs_efa([spanning]) and not needs_efa([single]) and not needs_efa([no_efa])


def test_controller_values() -> None:
    # placement on the system nodes comes from the ReleasePolicy (tests/unit/test_chart_overrides.py)
    assert lws_values() == {
        "replicaCount": 1,
        "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "512Mi"}},
        "enablePrometheus": False,
        "enableCertManager": False,
    }
    assert efa_device_plugin_values() == {
        "nodeSelector": {"nvidia.com/gpu.present": "true"},
        "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
        "resources": {"requests": {"cpu": "10m", "memory": "20Mi"}},
    }


def _dev() -> StackConfig:
    return parse_stack_config(read_stack_file(offline.STACKS_DIR / "Pulumi.dev.yaml"), stack="dev")


def test_controller_problems_name_the_missing_keys() -> None:
    dev = _dev()  # the shipped stack pins both: start without
    cfg = dataclasses.replace(
        dev, versions=dataclasses.replace(dev.versions, lws_chart=None, efa_device_plugin_chart=None)
    )
    alias = cfg.models[0].alias
    spanning = dataclasses.replace(make_plan(), nodes_per_replica=2, instance_type="p4de.24xlarge")
    problems = dict(controller_problems(cfg, {alias: spanning}))
    assert set(problems) == {"paddock:versions.lwsChart", "paddock:versions.efaDevicePluginChart"}
    assert "paddock:models[0] (llama-8b) spans 2 nodes per replica" in problems["paddock:versions.lwsChart"]
    pinned = dataclasses.replace(
        cfg, versions=dataclasses.replace(cfg.versions, lws_chart="0.10.0", efa_device_plugin_chart="v0.5.30")
    )
    assert controller_problems(pinned, {alias: spanning}) == []
    assert controller_problems(cfg, {alias: make_plan()}) == []


def test_bad_controller_chart_versions_are_config_errors() -> None:
    raw = read_stack_file(offline.STACKS_DIR / "Pulumi.dev.yaml")
    raw = {
        **raw,
        "paddock:versions": {**raw["paddock:versions"], "lwsChart": "latest", "efaDevicePluginChart": "x"},
    }
    with pytest.raises(ConfigErrors) as err:
        parse_stack_config(raw, stack="dev")
    text = str(err.value)
    assert "paddock:versions.lwsChart: 'latest' is not a chart version" in text
    assert "paddock:versions.efaDevicePluginChart: 'x' is not a chart version" in text


def test_interruption_documents() -> None:
    assert json.loads(event_pattern("aws.ec2", "EC2 Spot Instance Interruption Warning")) == {
        "source": ["aws.ec2"],
        "detail-type": ["EC2 Spot Instance Interruption Warning"],
    }
    assert len({suffix for suffix, _, _ in INTERRUPTION_EVENTS}) == len(INTERRUPTION_EVENTS)
    policy = interruption_queue_policy("arn:aws:sqs:eu-central-1:1:q")
    assert [s["Effect"] for s in policy["Statement"]] == ["Allow", "Deny"]
    assert all(s["Resource"] == "arn:aws:sqs:eu-central-1:1:q" for s in policy["Statement"])


def test_karpenter_policies_are_bound_to_cluster_region_and_account() -> None:
    lifecycle = node_lifecycle_policy(cluster_name="c1", region="eu-central-1", partition="aws")
    text = json.dumps(lifecycle)
    assert "eu-central-1" in text and "kubernetes.io/cluster/c1" in text and "us-east-1" not in text
    deletion = next(s for s in lifecycle["Statement"] if s["Sid"] == "AllowScopedDeletion")
    assert deletion["Condition"]["StringEquals"] == {"aws:ResourceTag/kubernetes.io/cluster/c1": "owned"}
    integration = integration_policy(
        cluster_name="c1",
        region="eu-central-1",
        partition="aws",
        account_id="123456789012",
        node_role_arn="arn:aws:iam::123456789012:role/n",
        queue_arn="arn:aws:sqs:eu-central-1:123456789012:c1",
    )
    pass_role = next(s for s in integration["Statement"] if s["Sid"] == "AllowPassingInstanceRole")
    assert pass_role["Resource"] == "arn:aws:iam::123456789012:role/n"
    assert "iam:PassRole" not in json.dumps([s for s in integration["Statement"] if s["Resource"] == "*"])


def test_node_class_raid0_only_with_local_nvme() -> None:
    args = dict(name="g", cluster_name="c", node_role="r", ami_alias="al2023@v20251103", root_volume_gib=100)
    assert "instanceStorePolicy" not in karpenter_node_class(**args)["spec"]  # type: ignore[arg-type]
    assert karpenter_node_class(**args, local_nvme=True)["spec"]["instanceStorePolicy"] == "RAID0"  # type: ignore[arg-type]


def test_karpenter_values_isolated_vpc_and_system_nodes() -> None:
    from serving.autoscaling.values import karpenter_values
    from serving.chart_overrides import ReleasePolicy

    values = ReleasePolicy(system_node_selector={"paddock.dev/pool": "system"}).apply(
        "karpenter",
        "1.14.1",
        karpenter_values(cluster_name="c", interruption_queue="c", role_arn=None, isolated_vpc=True),
    )
    assert values["settings"]["isolatedVPC"] is True
    assert values["nodeSelector"] == {"paddock.dev/pool": "system"}
    assert values["serviceAccount"] == {"name": "karpenter", "annotations": {}}
    assert (
        karpenter_values(cluster_name="c", interruption_queue="c", role_arn=None)["settings"]["isolatedVPC"]
        is False
    )
