"""Karpenter mode through the whole program under mocks: controller release, Pod Identity IAM with the
documented controller policy (scoped), interruption queue + EventBridge rules, node role + EC2_LINUX access
entry, EC2NodeClass and NodePools, and no managed GPU node groups."""

from __future__ import annotations

import json
from typing import Any

import pytest

from serving.autoscaling.karpenter import INTERRUPTION_EVENTS
from tests.components.deps import Graph
from tests.components.test_creation_order import render, stack_raw

#: statements allowed a "*" resource: read-only calls without resource-level permissions
STAR_OK = {
    "AllowUnscopedInstanceProfileListAction",
    "AllowZonalShiftStatusReadOnly",
    "AllowRegionalReadActions",
    "AllowPricingReadActions",
}


def karpenter_raw() -> dict[str, Any]:
    raw = stack_raw("dev")
    raw["paddock:autoscaling"] = {
        **raw["paddock:autoscaling"],
        "nodeAutoscaler": "karpenter",
        "karpenterAmiAlias": "al2023@v20251103",
    }
    raw["paddock:versions"]["karpenterChart"] = "1.14.1"
    return raw


@pytest.fixture(scope="module")
def graph() -> Graph:
    return render(karpenter_raw(), "karpenter")


def test_no_managed_gpu_node_group_but_one_node_pool_per_model(graph: Graph) -> None:
    # the untainted system group stays managed (Karpenter's controller runs there); no managed GPU group
    assert graph.of_type(":NodeGroup") == ["eks-managed-system-ng"]
    assert graph.of_type(":NodePool") == ["node-scaling-llama-8b-node-pool"]
    pool = graph.inputs["node-scaling-llama-8b-node-pool"]
    assert pool["spec"]["template"]["metadata"]["labels"]["paddock.dev/model"] == "llama-8b"
    assert {"node-scaling-llama-8b-node-pool", "node-scaling-karpenter", "node-scaling-node-class"} <= (
        graph.waits("model-llama-8b-release")
    )
    assert {"node-scaling-karpenter", "node-scaling-node-class"} <= graph.waits(
        "node-scaling-llama-8b-node-pool"
    )


def test_controller_release_and_its_identity(graph: Graph) -> None:
    release = graph.inputs["node-scaling-karpenter"]
    assert (release["chart"], release["version"], release["namespace"]) == (
        "oci://public.ecr.aws/karpenter/karpenter",
        "1.14.1",
        "kube-system",
    )
    values = release["values"]
    assert values["settings"] == {
        "clusterName": "paddock-dev",
        "interruptionQueue": "paddock-dev",
        "isolatedVPC": False,  # dev has a NAT gateway
    }
    assert values["serviceAccount"] == {"name": "karpenter", "annotations": {}}
    assert values["nodeSelector"] == {"paddock.dev/pool": "system"}  # never on a node it manages
    assoc = graph.inputs["node-scaling-karpenter-pod-identity"]
    assert (assoc["namespace"], assoc["serviceAccount"]) == ("kube-system", "karpenter")
    trust = json.loads(graph.inputs["node-scaling-karpenter-role"]["assumeRolePolicy"])
    assert trust["Statement"][0]["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    assert {
        "node-scaling-karpenter-pod-identity",
        "node-scaling-karpenter-attach-0",
        "node-scaling-karpenter-attach-1",
        "node-scaling-karpenter-interruption",
    } <= graph.waits("node-scaling-karpenter")


def test_controller_policies_are_scoped_and_fit_iam_limits(graph: Graph) -> None:
    docs = {
        n: json.loads(graph.inputs[n]["policy"])
        for n in ("node-scaling-karpenter-node-lifecycle", "node-scaling-karpenter-integration")
    }
    for name, doc in docs.items():
        assert len(json.dumps(doc, separators=(",", ":"))) < 6144, name  # managed policy size limit
        for statement in doc["Statement"]:
            resources = (
                statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            )
            if "*" in resources:
                assert statement["Sid"] in STAR_OK, statement["Sid"]
    sids = {s["Sid"]: s for doc in docs.values() for s in doc["Statement"]}
    node_role = "arn:aws:iam::123456789012:role/node-scaling-karpenter-node-role"
    assert sids["AllowPassingInstanceRole"]["Resource"] == node_role
    assert sids["AllowInterruptionQueueActions"]["Resource"].endswith(
        ":queue/node-scaling-karpenter-interruption"
    )
    launch = sids["AllowScopedEC2InstanceActionsWithTags"]["Condition"]["StringEquals"]
    assert launch["aws:RequestTag/kubernetes.io/cluster/paddock-dev"] == "owned"
    assert sids["AllowAPIServerEndpointDiscovery"]["Resource"] == (
        "arn:aws:eks:us-east-1:123456789012:cluster/paddock-dev"
    )


def test_interruption_queue_and_rules(graph: Graph) -> None:
    queue = graph.inputs["node-scaling-karpenter-interruption"]
    assert (queue["name"], queue["messageRetentionSeconds"], queue["sqsManagedSseEnabled"]) == (
        "paddock-dev",
        300.0,
        True,
    )
    policy = json.loads(graph.inputs["node-scaling-karpenter-interruption-policy"]["policy"])
    allow, deny = policy["Statement"]
    assert allow["Principal"] == {"Service": ["events.amazonaws.com", "sqs.amazonaws.com"]}
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    rules = graph.of_type(":EventRule")
    assert len(rules) == len(INTERRUPTION_EVENTS) == 5
    details = {json.loads(graph.inputs[r]["eventPattern"])["detail-type"][0] for r in rules}
    assert {
        "EC2 Spot Instance Interruption Warning",
        "EC2 Instance Rebalance Recommendation",
        "EC2 Instance State-change Notification",
        "AWS Health Event",
    } <= details
    for rule in rules:
        target = graph.inputs[f"{rule}-target"]
        assert target["arn"].endswith(":queue/node-scaling-karpenter-interruption")


def test_node_role_access_entry_and_node_class(graph: Graph) -> None:
    entry = graph.inputs["node-scaling-karpenter-node-access"]
    assert entry["type"] == "EC2_LINUX"
    assert entry["principalArn"] == "arn:aws:iam::123456789012:role/node-scaling-karpenter-node-role"
    cls = graph.inputs["node-scaling-node-class"]
    assert cls["spec"]["role"] == "node-scaling-karpenter-node-role"
    assert cls["spec"]["subnetSelectorTerms"] == [{"tags": {"karpenter.sh/discovery": "paddock-dev"}}]
    assert cls["spec"]["instanceStorePolicy"] == "RAID0"  # g6e.xlarge has local NVMe: the cache lands there
    assert {"node-scaling-karpenter", "node-scaling-karpenter-node-access"} <= graph.waits(
        "node-scaling-node-class"
    )
    attached = {
        graph.inputs[n]["policyArn"].rsplit("/", 1)[-1]
        for n in graph.of_type(":RolePolicyAttachment")
        if n.startswith("node-scaling-karpenter-node-")
    }
    assert attached == {
        "AmazonEKSWorkerNodePolicy",
        "AmazonEKS_CNI_Policy",
        "AmazonEC2ContainerRegistryPullOnly",
    }


def test_reserved_capacity_needs_its_reservation_id() -> None:
    from components.node_scaling import NodeScalingArgs
    from serving.autoscaling import AutoscalingSettings
    from tests.unit.scaling_fixtures import make_model

    args = NodeScalingArgs(
        models=(make_model(capacity_type="reserved"),),
        settings=AutoscalingSettings(node_autoscaler="karpenter"),
        provider=None,  # type: ignore[arg-type]
        cluster_name="c",
        region="eu-central-1",
        account_id="123456789012",
        karpenter_chart_version="1.14.1",
        karpenter_ami_alias="al2023@v20251103",
    )
    assert [p for p, _ in args.problems()] == ["models[0].capacity_reservation_id"]
    ok = NodeScalingArgs(
        **{
            **args.__dict__,
            "models": (make_model(capacity_type="reserved", capacity_reservation_id="cr-0abc"),),
        }
    )
    assert ok.problems() == []


def test_reserved_model_pool_and_class_select_the_reservation() -> None:
    from serving.autoscaling import karpenter_node_class, karpenter_node_pool
    from serving.autoscaling.config import scaling_capacity_type
    from tests.unit.scaling_fixtures import make_model

    assert scaling_capacity_type("capacity-block") == scaling_capacity_type("reservation") == "reserved"
    assert (scaling_capacity_type("spot"), scaling_capacity_type("on-demand")) == ("spot", "on-demand")
    model = make_model(capacity_type="reserved", capacity_reservation_id="cr-0abc")
    requirements = karpenter_node_pool(model, node_class="g", node_labels={})["spec"]["template"]["spec"][
        "requirements"
    ]
    assert {"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["reserved"]} in requirements
    assert {
        "key": "karpenter.k8s.aws/capacity-reservation-id",
        "operator": "In",
        "values": ["cr-0abc"],
    } in requirements
    spec = karpenter_node_class(
        name="g",
        cluster_name="c",
        node_role="r",
        ami_alias="al2023@v20251103",
        root_volume_gib=100,
        capacity_reservation_ids=("cr-0abc",),
    )["spec"]
    assert spec["capacityReservationSelectorTerms"] == [{"id": "cr-0abc"}]
    on_demand = karpenter_node_pool(make_model(), node_class="g", node_labels={})
    assert len(on_demand["spec"]["template"]["spec"]["requirements"]) == 2  # instance type + capacity type
