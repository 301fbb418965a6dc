"""serving.plan_report: policy extraction, warnings and the summary (pure, no Pulumi)."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

from serving.plan_report import local_chart, policy_documents, summary, warnings
from tests.plans import plan_8b_l40s

ROOT = Path(__file__).resolve().parents[2]
CONFIG = {
    "region": "eu-west-1",
    "cluster": {"name": "c"},
    "residency": {"allowed_regions": ["eu-west-1"]},
    "models": [{"alias": "a", "replicas_min": 1, "replicas_max": 2, "concurrency": 64, "fallback": "none"}],
}


def test_warns_when_the_replica_ceiling_cannot_reach_the_concurrency() -> None:
    plans = {"a": {**plan_8b_l40s().to_dict(), "replicas": 4}}
    assert warnings(CONFIG, plans) == [
        "paddock:models[0].replicas.max: 2 < 4 replicas the sizing engine needs for concurrency 64 (a)"
    ]
    assert warnings(CONFIG, {"a": plan_8b_l40s().to_dict()}) == []


def test_warns_when_the_instance_is_not_sold_on_demand_in_the_region() -> None:
    plans = {"a": {**plan_8b_l40s().to_dict(), "offered_on_demand": False, "instance_type": "p5.48xlarge"}}
    assert warnings({**CONFIG, "region": "eu-central-1"}, plans) == [
        "paddock:models[0].gpu: p5.48xlarge is not sold On-Demand in eu-central-1: reserve capacity "
        "(Capacity Block/ODCR) first (a)"
    ]


def test_reserved_capacity_silences_the_not_sold_on_demand_warning() -> None:
    plans = {"a": {**plan_8b_l40s().to_dict(), "offered_on_demand": False, "instance_type": "p5.48xlarge"}}
    for capacity in ("capacity-block", "reservation"):
        model = {**CONFIG["models"][0], "capacity_type": capacity}  # type: ignore[index]
        assert warnings({**CONFIG, "region": "eu-central-1", "models": [model]}, plans) == []


def test_warns_when_every_rollout_is_an_outage() -> None:
    single = {**CONFIG["models"][0], "replicas_max": 1}  # type: ignore[index]
    found = warnings({**CONFIG, "models": [single]}, {"a": plan_8b_l40s().to_dict()})
    assert len(found) == 1 and found[0].startswith("paddock:models[0].replicas.max: every rollout of a is an")


def test_cluster_warnings_are_part_of_the_plan_warnings() -> None:
    cluster = {"name": "c", "create": True, "kubernetes_version": "1.33", "endpoint_public_access": True}
    cfg = {**CONFIG, "cluster": {**cluster, "public_access_cidrs": ["10.1.0.0/16"]}}
    found = warnings(cfg, {"a": plan_8b_l40s().to_dict()}, today=datetime.date(2026, 12, 4))
    assert [w.split(":")[1] for w in found] == ["cluster.kubernetesVersion"], found


def test_summary_lists_models_warnings_releases_and_counts() -> None:
    plan = {**plan_8b_l40s(hourly_cost_usd=None).to_dict(), "replicas": 2}
    release = {
        "type": "kubernetes:helm.sh/v3:Release",
        "name": "r",
        "parent": None,
        "inputs": {
            "name": "dcgm-exporter",
            "chart": "dcgm-exporter",
            "version": "4.1.1",
            "repositoryOpts": {"repo": "https://x"},
        },
    }
    text = summary("t", CONFIG, {"a": plan}, [release])
    assert (
        "| a | meta-llama/Llama-3.1-8B-Instruct | vllm 0.11.0 | g6e.xlarge | 1 × 1 | 1/1 | 8192 | 16 "
        "| 240 s | 420 s | n/a | none |" in text
    )
    assert "## Warnings" not in text  # 2 replicas needed, max 2
    assert "- `dcgm-exporter`: chart `dcgm-exporter` 4.1.1 (https://x)" in text
    assert "| `kubernetes:helm.sh/v3:Release` | 1 |" in text


def test_policy_documents_and_local_charts() -> None:
    doc = {"Version": "2012-10-17", "Statement": []}
    resources = [
        {
            "type": "aws:iam/role:Role",
            "name": "r",
            "parent": None,
            "inputs": {"assumeRolePolicy": json.dumps(doc)},
        },
        {
            "type": "aws:iam/rolePolicy:RolePolicy",
            "name": "p",
            "parent": "r",
            "inputs": {"policy": json.dumps(doc)},
        },
        {"type": "aws:ec2/vpcEndpoint:VpcEndpoint", "name": "e", "parent": None, "inputs": {}},
    ]
    assert policy_documents(resources) == {"r.trust": doc, "p": doc}
    ours = {"inputs": {"chart": "serving/charts/model-server"}}
    assert local_chart(ours, ROOT) == ROOT / "serving/charts/model-server"
    assert local_chart({"inputs": {"chart": "dcgm-exporter"}}, ROOT) is None
