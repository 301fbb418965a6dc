"""ModelServer under Pulumi mocks: Pod Identity role, weights policy, Helm release of our chart + values."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest

from components.model_server import ModelServer, ModelServerArgs
from serving.helm import CHARTS_DIR, ROOT, resolve_release_chart
from serving.release_values import NodeShape
from serving.stack_config_models import ModelConfig
from tests.components.conftest import Registered
from tests.components.test_gpu_node_group import assert_no_wildcard_data_plane
from tests.plans import plan_8b_l40s, plan_70b_h100

Run = Callable[..., Registered]
MODEL = ModelConfig(
    alias="llama-70b",
    model="llama-3.3-70b",
    weights="s3://acme-models-eu/llama-3.3-70b/",
    weights_region="eu-central-1",
    context=32768,
    concurrency=64,
    replicas_min=1,
    replicas_max=4,
)


def _program(**overrides: Any) -> Callable[[], None]:
    def program() -> None:
        provider = k8s.Provider("k8s", kubeconfig="{}")
        base: dict[str, Any] = dict(
            model=MODEL,
            plan=plan_70b_h100(),
            image="vllm/vllm-openai:v0.11.0",
            aws_cli_image="public.ecr.aws/aws-cli/aws-cli:2.27.50",
            cluster_name="paddock-t",
            provider=provider,
            namespace="serving",
            region="eu-central-1",
            tags={"team": "ml"},
            allowed_client_namespaces=("monitoring",),
            node=NodeShape(vcpus=192, memory_gib=2048, gpus=8),
        )
        base.update(overrides)
        ModelServer("model-llama-70b", ModelServerArgs(**base))

    return program


def test_children_and_pod_identity(run: Run) -> None:
    reg = run(_program())
    assert reg.children("model-llama-70b") == {
        "model-llama-70b-pod-role": "aws:iam/role:Role",
        "model-llama-70b-pod-weights": "aws:iam/rolePolicy:RolePolicy",
        "model-llama-70b-pod-identity": "aws:eks/podIdentityAssociation:PodIdentityAssociation",
        "model-llama-70b-release": "kubernetes:helm.sh/v3:Release",
    }
    trust = reg.policy("model-llama-70b-pod-role", "assumeRolePolicy")
    assert trust["Statement"] == [
        {
            "Effect": "Allow",
            "Principal": {"Service": "pods.eks.amazonaws.com"},
            "Action": ["sts:AssumeRole", "sts:TagSession"],
        }
    ]
    assoc = reg.named("model-llama-70b-pod-identity").inputs
    assert (assoc["clusterName"], assoc["namespace"], assoc["serviceAccount"]) == (
        "paddock-t",
        "serving",
        "llama-70b-engine",
    )
    assert assoc["roleArn"] == "arn:aws:iam::123456789012:role/model-llama-70b-pod-role"
    policy = reg.policy("model-llama-70b-pod-weights")
    assert policy["Statement"][0]["Resource"] == ["arn:aws:s3:::acme-models-eu/llama-3.3-70b/*"]
    assert_no_wildcard_data_plane(policy)


def test_release_values_come_from_the_plan(run: Run) -> None:
    reg = run(_program())
    rel = reg.named("model-llama-70b-release").inputs
    # relative to the program dir (stacks/, the cwd of the program and its providers): no checkout path
    assert rel["chart"] == "../serving/charts/model-server" and rel["name"] == "llama-70b"
    assert resolve_release_chart(rel["chart"]) == CHARTS_DIR / "model-server"
    assert str(ROOT) not in json.dumps(rel)
    assert rel["namespace"] == "serving"
    values = rel["values"]
    plan = plan_70b_h100()
    assert values["engineArgs"] == list(plan.engine_args)
    assert values["servedModelName"] == "meta-llama/Llama-3.3-70B-Instruct"
    assert (values["gpus"], values["nodesPerReplica"], values["shmSizeGi"]) == (4, 1, 16)
    # load 610 s -> ceil(1.5 * 610 + 60) = 975 s -> 98 probes of 10 s
    assert values["probes"]["startup"] == {"periodSeconds": 10, "failureThreshold": 98}
    assert values["progressDeadlineSeconds"] == 980 + 900 and rel["timeout"] == 1880
    # 4 of 8 GPUs: half of 85 % of 192 vCPUs, half of 80 % of 2048 GiB
    assert values["resources"] == {"cpu": "81", "memory": "819Gi"}
    assert values["nodeSelector"] == {"paddock.dev/model": "llama-70b"}
    assert values["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    assert values["weights"]["s3Uri"] == "s3://acme-models-eu/llama-3.3-70b/"
    assert values["image"] == {
        "repository": "vllm/vllm-openai",
        "tag": "v0.11.0",
        "pullPolicy": "IfNotPresent",
    }
    assert values["allowedClientNamespaces"] == ["monitoring"]


def test_hf_weights_have_no_s3_policy_and_tgi_uses_its_image(run: Run) -> None:
    model = replace(MODEL, alias="llama-8b", engine="tgi", weights="hf", model="llama-3.1-8b")
    plan = plan_8b_l40s(engine="tgi")
    reg = run(
        _program(
            model=model,
            plan=plan,
            image="ghcr.io/huggingface/text-generation-inference:3.3.6",
            aws_cli_image=None,
            node=None,
        )
    )
    assert reg.of_type("aws:iam/rolePolicy:RolePolicy") == []
    values = reg.named("model-llama-70b-release").inputs["values"]
    assert (values["engine"], values["weights"]["source"], values["weights"]["hfRepo"]) == (
        "tgi",
        "hf",
        "meta-llama/Llama-3.1-8B-Instruct",
    )
    assert values["resources"] == {"cpu": "3", "memory": "12Gi"}


def test_invalid_args_named_together() -> None:
    provider = k8s.Provider.__new__(k8s.Provider)
    args = ModelServerArgs(
        model=MODEL,
        plan=plan_70b_h100(engine="tgi", nodes_per_replica=2),
        image="vllm/vllm-openai",
        aws_cli_image=None,
        cluster_name="c",
        provider=provider,
        namespace="serving",
        region="eu-west-1",
    )
    with pytest.raises(pulumi.InputPropertiesError) as err:
        ModelServer("m", args)
    assert [e["property_path"] for e in err.value.errors or []] == [
        "plan.engine",
        "aws_cli_image",
        "plan.nodes_per_replica",
        "image",
    ]


@pytest.mark.parametrize(("cache", "ephemeral"), [(0, 8), (21, 28)])
def test_a_plan_without_a_cache_size_is_refused(cache: int, ephemeral: int) -> None:
    args = ModelServerArgs(
        model=MODEL,
        plan=plan_70b_h100(cache_gib=cache, ephemeral_storage_gib=ephemeral),
        image="vllm/vllm-openai:v0.11.0",
        aws_cli_image="public.ecr.aws/aws-cli/aws-cli:2.27.50",
        cluster_name="c",
        provider=k8s.Provider.__new__(k8s.Provider),
        namespace="serving",
        region="eu-west-1",
    )
    with pytest.raises(pulumi.InputPropertiesError) as err:
        ModelServer("m", args)
    assert [e["property_path"] for e in err.value.errors or []] == ["plan.cache_gib"]


def test_no_release_input_holds_the_checkout_path() -> None:
    from stacks import offline, program
    from stacks.config import to_pulumi_config
    from stacks.mock_runtime import run_program

    raw = offline.read_stack_file(offline.STACKS_DIR / "Pulumi.dev.yaml")
    cfg = offline.parse_stack_config(raw, stack="dev")
    plans = dict(offline.plan_models(cfg))
    records = run_program(
        lambda: program.main(plans=plans), stack="dev", region=cfg.region, config=to_pulumi_config(raw)
    )
    releases = [r for r in records if r.type == "kubernetes:helm.sh/v3:Release"]
    charts = {r.name: r.inputs["chart"] for r in releases}
    assert charts["model-llama-8b-release"] == "../serving/charts/model-server"
    assert charts["gateway-release"] == "../serving/charts/gateway"
    for r in releases:
        assert str(ROOT) not in json.dumps(r.inputs), r.name
    # the offline plan shows the same charts relative to the repository root (and renders them)
    assert offline.portable("../serving/charts/model-server") == "serving/charts/model-server"
    assert offline.portable("../elsewhere/x") == "../elsewhere/x"


def test_weights_statements_pin_the_requested_region() -> None:
    from components._common import weights_read_statements

    read, listing = weights_read_statements("b", "m/", "aws", "eu-central-1")
    assert read["Condition"] == {"StringEquals": {"aws:RequestedRegion": "eu-central-1"}}
    assert listing["Condition"] == {
        "StringLike": {"s3:prefix": ["m/*"]},
        "StringEquals": {"aws:RequestedRegion": "eu-central-1"},
    }
    unpinned, _ = weights_read_statements("b", "m/")
    assert "Condition" not in unpinned
