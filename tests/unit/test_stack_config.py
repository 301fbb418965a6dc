"""serving.stack_config: the real stacks parse; every error path names its key; all errors come at once."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from serving.config_reader import ConfigErrors
from serving.errors import InputError
from serving.stack_config import load_stack_file, parse_stack_config, stack_name_of

STACKS = Path(__file__).resolve().parents[2] / "stacks"

BASE: dict[str, Any] = {
    "aws:region": "eu-central-1",
    "paddock:versions": {
        "vllmImage": "vllm/vllm-openai:v0.11.0",
        "awsCliImage": "public.ecr.aws/aws-cli/aws-cli:2.27.50",
        "gatewayImage": "ghcr.io/example/paddock-gateway:0.1.0",
        "nvidiaDevicePluginChart": "0.17.1",
        "dcgmExporterChart": "4.1.1",
        "kedaChart": "2.17.2",
        "kubePrometheusStackChart": "75.15.1",
        "clusterAutoscalerChart": "9.48.0",
        "gpuAmiType": "AL2023_x86_64_NVIDIA",
        "eksAddons": {
            "vpc-cni": "v1.21.1-eksbuild.3",
            "coredns": "v1.13.2-eksbuild.1",
            "kube-proxy": "v1.35.0-eksbuild.2",
            "eks-pod-identity-agent": "v1.3.10-eksbuild.3",
            "aws-ebs-csi-driver": "v1.57.1-eksbuild.1",
        },
    },
    "paddock:cluster": {"kubernetesVersion": "1.35"},
    "paddock:models": [
        {
            "alias": "llama-8b",
            "model": "llama-3.1-8b",
            "weights": "s3://bucket-a/llama/",
            "context": 8192,
            "concurrency": 16,
            "fallback": "claude-sonnet",
        },
    ],
    "paddock:fallback": {
        "bedrock": {
            "models": {"claude-sonnet": {"inferenceProfile": "eu.anthropic.claude-sonnet-4-5-20250929-v1:0"}}
        }
    },
}


def _with(path: str, value: Any) -> dict[str, Any]:
    """BASE with ``value`` set at a dotted path (``paddock:models.0.gpu``); value ``...`` deletes it."""
    raw = copy.deepcopy(BASE)
    keys = path.split(".")
    node: Any = raw
    for key in keys[:-1]:
        node = node[int(key)] if isinstance(node, list) else node.setdefault(key, {})
    last: Any = int(keys[-1]) if isinstance(node, list) else keys[-1]
    if value is ...:
        del node[last]
    else:
        node[last] = value
    return raw


def _problems(raw: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(ConfigErrors) as err:
        parse_stack_config(raw, stack="t")
    return err.value.problems


def test_base_config_defaults() -> None:
    cfg = parse_stack_config(BASE, stack="t")
    assert (cfg.environment, cfg.namespace, cfg.cluster.name, cfg.cluster.create) == (
        "t",
        "serving",
        "paddock-t",
        True,
    )
    assert (
        cfg.residency.allowed_regions == ("eu-central-1",)
        and cfg.residency.allow_global_inference_profiles is False
    )
    assert (cfg.network.create, cfg.network.cidr, cfg.network.az_count, cfg.network.nat_gateway) == (
        True,
        "10.0.0.0/16",
        2,
        False,
    )
    m = cfg.models[0]
    assert (m.engine, m.gpu, m.quantization, m.capacity_type, m.replicas_min, m.replicas_max) == (
        "vllm",
        "auto",
        "none",
        "on-demand",
        1,
        1,
    )
    assert (m.weights_region, m.weights_bucket, m.weights_prefix, m.pinned) == (
        "eu-central-1",
        "bucket-a",
        "llama/",
        False,
    )
    assert cfg.fallback.region == "eu-central-1"
    assert cfg.aws_tags() == {"paddock:stack": "t", "paddock:environment": "t", "managed-by": "paddock"}
    assert json.loads(json.dumps(cfg.to_dict()))["models"][0]["alias"] == "llama-8b"


@pytest.mark.parametrize("stack", ["dev", "prod-eu", "ephemeral"])
def test_shipped_stacks_parse(stack: str) -> None:
    cfg = load_stack_file(STACKS / f"Pulumi.{stack}.yaml")
    assert cfg.stack == stack and cfg.models


def test_prod_eu_is_pinned_to_the_eu_with_one_pinned_alias() -> None:
    cfg = load_stack_file(STACKS / "Pulumi.prod-eu.yaml")
    assert cfg.region == "eu-central-1" and all(r.startswith("eu-") for r in cfg.residency.allowed_regions)
    assert [(m.alias, m.pinned) for m in cfg.models] == [("llama-70b", False), ("llama-8b-eu-only", True)]
    big = cfg.model("llama-70b")
    # p5 is not sold On-Demand in eu-central-1: L40S (Ada, FP8 in vLLM) on g6e, which is
    assert (big.gpu, big.quantization, big.kv_cache_dtype) == ("l40s", "fp8", "fp8")
    assert cfg.fallback.models["claude-sonnet"].inference_profile.startswith("eu.")


def test_dev_and_ephemeral_shapes() -> None:
    dev = load_stack_file(STACKS / "Pulumi.dev.yaml")
    assert dev.models[0].gpu.startswith(("g6e.", "g5.")) and dev.models[0].capacity_type == "on-demand"
    eph = load_stack_file(STACKS / "Pulumi.ephemeral.yaml")
    m = eph.models[0]
    assert (m.capacity_type, m.replicas_min, m.weights_source) == ("spot", 0, "hf")
    assert eph.ephemeral is not None and eph.ephemeral.owner == "alice"


ERRORS = [
    ("paddock:bogus", 1, "paddock:bogus", "unknown key"),
    ("aws:region", ..., "aws:region", "is required"),
    ("paddock:environment", "Prod EU", "paddock:environment", "is not a label"),
    ("paddock:namespace", "Serving!", "paddock:namespace", "bad name"),
    ("paddock:tags", {"team": ["a"]}, "paddock:tags.team", "expected a string value"),
    ("paddock:network", 5, "paddock:network", "expected a mapping"),
    (
        "paddock:residency.allowedRegions",
        ["eu-central-1", "mars-1"],
        "paddock:residency.allowedRegions[1]",
        "not a region",
    ),
    ("paddock:residency.logRetentionDays", 0, "paddock:residency.logRetentionDays", "out of range"),
    ("paddock:residency.allowFallback", "yes", "paddock:residency.allowFallback", "expected true or false"),
    (
        "paddock:network.existingVpcId",
        "vpc-0123456789abcdef0",
        "paddock:network.privateSubnetIds",
        "at least 2",
    ),
    ("paddock:network.create", False, "paddock:network.existingVpcId", "is required when create is false"),
    ("paddock:network.cidr", "10.0.0.0/8", "paddock:network.cidr", "is not a /16-/24"),
    ("paddock:network.azCount", 7, "paddock:network.azCount", "out of range"),
    (
        "paddock:network.privateSubnetIds",
        ["sub-1"],
        "paddock:network.privateSubnetIds[0]",
        "is not a subnet id",
    ),
    ("paddock:network.existingVpcId", "vpc-x", "paddock:network.existingVpcId", "is not a VPC id"),
    (
        "paddock:cluster",
        {"create": True, "existingClusterName": "shared", "kubernetesVersion": "1.33"},
        "paddock:cluster.existingClusterName",
        "Only one of",
    ),
    (
        "paddock:network",
        {
            "create": True,
            "existingVpcId": "vpc-0123456789abcdef0",
            "privateSubnetIds": ["subnet-0123456789abcdef0"] * 2,
        },
        "paddock:network.existingVpcId",
        "Only one of",
    ),
    (
        "paddock:cluster.create",
        False,
        "paddock:cluster.existingClusterName",
        "is required when create is false",
    ),
    (
        "paddock:cluster.kubernetesVersion",
        ...,
        "paddock:cluster.kubernetesVersion",
        "is required when the stack creates",
    ),
    ("paddock:cluster.kubernetesVersion", "v1.33", "paddock:cluster.kubernetesVersion", "is not a version"),
    ("paddock:cluster.secretsKmsKeyArn", "key-1", "paddock:cluster.secretsKmsKeyArn", "is not a KMS key ARN"),
    (
        "paddock:cluster.adminRoleArns",
        ["arn:aws:iam::1:user/x"],
        "paddock:cluster.adminRoleArns[0]",
        "not an IAM role ARN",
    ),
    (
        "paddock:cluster.endpointPublicAccess",
        1,
        "paddock:cluster.endpointPublicAccess",
        "expected true or false",
    ),
    ("paddock:versions.gpuAmiType", "AL2_x86_64_GPU", "paddock:versions.gpuAmiType", "is not one of"),
    ("paddock:versions.gpuAmiType", ..., "paddock:versions.gpuAmiType", "is required"),
    (
        "paddock:versions.nvidiaDevicePluginChart",
        ...,
        "paddock:versions.nvidiaDevicePluginChart",
        "is required (GPU plumbing)",
    ),
    (
        "paddock:versions.dcgmExporterChart",
        "four",
        "paddock:versions.dcgmExporterChart",
        "not a chart version",
    ),
    ("paddock:versions.vllmImage", "vllm/vllm-openai", "paddock:versions.vllmImage", "has no tag or digest"),
    ("paddock:versions.vllmImage", "vllm/vllm-openai:latest", "paddock:versions.vllmImage", "uses :latest"),
    ("paddock:versions.vllmImage", ..., "paddock:versions.vllmImage", "a model uses engine vllm"),
    ("paddock:versions.awsCliImage", ..., "paddock:versions.awsCliImage", "s3:// weights"),
    ("paddock:versions.kedaChart", ..., "paddock:versions.kedaChart", "paddock:autoscaling.keda"),
    (
        "paddock:versions.kubePrometheusStackChart",
        ...,
        "paddock:versions.kubePrometheusStackChart",
        "monitoring",
    ),
    (
        "paddock:versions.clusterAutoscalerChart",
        ...,
        "paddock:versions.clusterAutoscalerChart",
        "cluster-autoscaler",
    ),
    (
        "paddock:autoscaling.nodeAutoscaler",
        "karpenter",
        "paddock:versions.karpenterChart",
        "nodeAutoscaler: karpenter",
    ),
    ("paddock:versions.helmChart", "1.0.0", "paddock:versions.helmChart", "unknown key"),
    ("paddock:models", ..., "paddock:models", "is required"),
    ("paddock:models", [], "paddock:models", "non-empty list"),
    ("paddock:models.0", "llama", "paddock:models[0]", "expected a mapping"),
    ("paddock:models.0.alias", "Llama_8B", "paddock:models[0].alias", "is not a DNS label"),
    ("paddock:models.0.model", ..., "paddock:models[0].model", "is required"),
    ("paddock:models.0.engine", "sglang", "paddock:models[0].engine", "is not one of vllm, tgi"),
    ("paddock:models.0.engineVersion", "latest", "paddock:models[0].engineVersion", "is not a version"),
    ("paddock:models.0.weights", "https://x/y", "paddock:models[0].weights", "is not 'hf' or s3://"),
    ("paddock:models.0.weightsRegion", "Frankfurt", "paddock:models[0].weightsRegion", "is not a region"),
    ("paddock:models.0.context", 100, "paddock:models[0].context", "out of range"),
    ("paddock:models.0.context", "8k", "paddock:models[0].context", "expected an integer"),
    ("paddock:models.0.concurrency", 0, "paddock:models[0].concurrency", "out of range"),
    ("paddock:models.0.gpu", "x", "paddock:models[0].gpu", "'x' is not a GPU id or instance type"),
    ("paddock:models.0.quantization", "fp4", "paddock:models[0].quantization", "is not one of"),
    ("paddock:models.0.kvCacheDtype", "int8", "paddock:models[0].kvCacheDtype", "is not one of"),
    ("paddock:models.0.capacityType", "reserved", "paddock:models[0].capacityType", "is not one of"),
    (
        "paddock:models.0.replicas",
        {"min": 3, "max": 2},
        "paddock:models[0].replicas.min",
        "greater than max 2",
    ),
    ("paddock:models.0.replicas", {"min": -1}, "paddock:models[0].replicas.min", "out of range"),
    ("paddock:models.0.replicas", {"mn": 1}, "paddock:models[0].replicas.mn", "unknown key"),
    ("paddock:models.0.fallback", "gpt-4", "paddock:models[0].fallback", "is not 'none' or a key"),
    ("paddock:models.0.sloTtftSeconds", 0, "paddock:models[0].sloTtftSeconds", "out of range"),
    (
        "paddock:models.0.coldStartHoldSeconds",
        True,
        "paddock:models[0].coldStartHoldSeconds",
        "expected a number",
    ),
    ("paddock:models.0.gpuType", "l4", "paddock:models[0].gpuType", "unknown key"),
    (
        "paddock:fallback.bedrock.models.claude-sonnet",
        {},
        "paddock:fallback.bedrock.models.claude-sonnet.inferenceProfile",
        "is required",
    ),
    ("paddock:fallback.bedrock.region", "europe", "paddock:fallback.bedrock.region", "is not a region"),
    ("paddock:fallback.openai", {}, "paddock:fallback.openai", "unknown key"),
    ("paddock:gateway.replicas", 0, "paddock:gateway.replicas", "out of range"),
    ("paddock:gateway.apiKeysSecret", "Keys!", "paddock:gateway.apiKeysSecret", "invalid format"),
    ("paddock:autoscaling.nodeAutoscaler", "kapenter", "paddock:autoscaling.nodeAutoscaler", "is not one of"),
    ("paddock:monitoring.enabled", "true", "paddock:monitoring.enabled", "expected true or false"),
    (
        "paddock:ephemeral",
        {"owner": "alice", "expiresAt": "tomorrow"},
        "paddock:ephemeral.expiresAt",
        "not an ISO-8601",
    ),
    ("paddock:ephemeral", {"owner": "alice", "ttl": "4 hours"}, "paddock:ephemeral.ttl", "not a duration"),
    ("paddock:ephemeral", {"ttl": "4h"}, "paddock:ephemeral.owner", "is required"),
]


@pytest.mark.parametrize(
    ("path", "value", "key", "message"), ERRORS, ids=[f"{e[0]}={e[1]!r}" for e in ERRORS]
)
def test_each_error_names_its_key(path: str, value: Any, key: str, message: str) -> None:
    problems = _problems(_with(path, value))
    assert any(k == key and message in m for k, m in problems), problems


def test_hf_weights_need_a_nat_in_a_created_vpc() -> None:
    raw = _with("paddock:models.0.weights", "hf")
    assert _problems(raw) == [
        (
            "paddock:models[0].weights",
            "'hf' needs internet egress: set paddock:network.natGateway: true or use s3:// weights",
        )
    ]
    raw["paddock:network"] = {"natGateway": True}
    assert parse_stack_config(raw, stack="t").models[0].weights_source == "hf"


def test_region_outside_allowed_regions_is_valid_config_for_the_residency_rules() -> None:
    cfg = parse_stack_config(_with("paddock:residency.allowedRegions", ["eu-west-1"]), stack="t")
    assert (cfg.region, cfg.residency.allowed_regions) == ("eu-central-1", ("eu-west-1",))


def test_duplicate_alias() -> None:
    raw = copy.deepcopy(BASE)
    raw["paddock:models"].append(dict(raw["paddock:models"][0]))
    assert _problems(raw) == [("paddock:models[1].alias", "'llama-8b' duplicates paddock:models[0]")]


def test_tgi_engine_needs_its_image() -> None:
    problems = _problems(_with("paddock:models.0.engine", "tgi"))
    assert problems == [("paddock:versions.tgiImage", "is required (a model uses engine tgi)")]


def test_several_errors_are_reported_at_once_in_order() -> None:
    raw = _with("paddock:models.0.gpu", "x")
    raw["paddock:models"].append(
        {"alias": "b", "model": "m", "weights": "hf", "context": 8192, "concurrency": 1, "gpu": "h100"}
    )
    raw["paddock:network"] = {"azCount": 1}
    with pytest.raises(ConfigErrors) as err:
        parse_stack_config(raw, stack="t")
    keys = [k for k, _ in err.value.problems]
    assert keys == ["paddock:models[0].gpu", "paddock:models[1].gpu", "paddock:network.azCount"]
    assert isinstance(err.value, InputError) and err.value.field == "paddock:models[0].gpu"
    text = str(err.value)
    assert text.startswith("3 problem(s) in stack config:")
    assert "  paddock:models[1].gpu: 'h100' is not a GPU id or instance type" in text


def test_stack_file_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        load_stack_file(tmp_path / "Pulumi.none.yaml")
    bad = tmp_path / "Pulumi.bad.yaml"
    bad.write_text("config: [unclosed\n")
    with pytest.raises(InputError, match="not valid YAML"):
        load_stack_file(bad)
    empty = tmp_path / "Pulumi.empty.yaml"
    empty.write_text("encryptionsalt: x\n")
    with pytest.raises(InputError, match="no `config:` mapping"):
        load_stack_file(empty)
    with pytest.raises(InputError, match="is not a stack file"):
        stack_name_of(tmp_path / "stack.yaml")
    assert stack_name_of(Path("stacks/Pulumi.prod-eu.yaml")) == "prod-eu"


def test_engine_version_defaults_to_the_pinned_image_tag() -> None:
    from pathlib import Path

    from serving.stack_config import load_stack_file
    from stacks.planning import plan_models

    cfg = load_stack_file(Path(__file__).resolve().parents[2] / "stacks" / "Pulumi.prod-eu.yaml")
    assert cfg.versions.image_engine_version("vllm") == "0.11.0"
    assert all(m.engine_version is None for m in cfg.models)
    assert {p.engine_version for p in plan_models(cfg).values()} == {"0.11.0"}


def test_engine_version_that_disagrees_with_the_image_is_named() -> None:
    import copy
    from pathlib import Path

    import pytest

    from serving.errors import InputError
    from serving.stack_config import parse_stack_config, read_stack_file

    raw = copy.deepcopy(
        read_stack_file(Path(__file__).resolve().parents[2] / "stacks" / "Pulumi.prod-eu.yaml")
    )
    raw["paddock:models"][1]["engineVersion"] = "0.19.0"
    with pytest.raises(InputError) as err:
        parse_stack_config(raw, stack="prod-eu")
    assert str(err.value).count("\n") == 1  # exactly one problem, on the right key
    assert "paddock:models[1].engineVersion: 0.19.0 disagrees with the pinned vllm image tag (0.11.0)" in str(
        err.value
    )
