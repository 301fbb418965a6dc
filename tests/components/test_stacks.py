"""The shipped stacks rendered offline (stacks.offline, real sizing engine): what each creates, tags and IAM
hygiene, golden files for rendered values/manifests/IAM (``uv run pytest --update-golden`` rewrites them)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pulumi
import pytest

from stacks import offline, program
from stacks.config import to_pulumi_config
from stacks.mock_runtime import run_program
from tests.components.test_gpu_node_group import assert_no_wildcard_data_plane
from tests.plans import fake_planner

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
STACKS = ("dev", "prod-eu", "ephemeral")
GOLDEN_DIRS = ("values", "manifests", "iam")
#: top-level components of the platform core (add-ons carry their own checks and goldens)
CORE_PREFIXES = ("net", "eks", "gpu", "model-")
UNTAGGABLE = {
    "aws:ec2/routeTableAssociation:RouteTableAssociation",
    "aws:ec2/route:Route",
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    "aws:iam/rolePolicy:RolePolicy",
    "aws:eks/accessPolicyAssociation:AccessPolicyAssociation",
    "aws:ec2/tag:Tag",  # is itself a tag (karpenter.sh/discovery on the EKS-made cluster security group)
    "aws:ecr/pullThroughCacheRule:PullThroughCacheRule",  # the resource has no tags argument
}


@pytest.fixture(scope="module")
def plans(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[offline.PlanResult, Path]]:
    out = tmp_path_factory.mktemp("plan")
    return {s: (offline.render_plan(stack=s, out_dir=out / s), out / s) for s in STACKS}


def _by_name(result: offline.PlanResult) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in result.resources}


def _root(resources: dict[str, dict[str, Any]], name: str) -> str:
    while resources[name]["parent"] is not None:
        name = resources[name]["parent"]
    return name


def _core_files(out: Path, result: offline.PlanResult) -> list[Path]:
    """Golden-tracked files of the core: our charts' manifests, core releases' values, core IAM documents."""
    core_releases = {*result.plans, "nvidia-device-plugin", "dcgm-exporter"}
    files = sorted((out / "manifests").glob("*.yaml"))
    files += [p for p in sorted((out / "values").glob("*.yaml")) if p.stem in core_releases]
    files += [p for p in sorted((out / "iam").glob("*.json")) if p.stem.startswith(CORE_PREFIXES)]
    return files


def test_prod_eu_serves_70b_on_l40s_with_the_sizing_flags(
    plans: dict[str, tuple[offline.PlanResult, Path]],
) -> None:
    result, _ = plans["prod-eu"]
    plan = result.plans["llama-70b"]
    # p5 is not sold On-Demand in eu-central-1; g6e (L40S, Ada: FP8 in vLLM) is
    assert plan.gpu == "l40s" and plan.instance_type is not None and plan.instance_type.startswith("g6e.")
    res = _by_name(result)
    assert res["gpu-llama-70b-ng"]["inputs"]["instanceTypes"] == [plan.instance_type]
    values = res["model-llama-70b-release"]["inputs"]["values"]
    assert values["engineArgs"] == list(plan.engine_args)
    assert "--quantization" in values["engineArgs"] and values["gpus"] == plan.gpus_per_node
    endpoint = res["bedrock-bedrock-runtime"]["inputs"]  # BedrockFallback's, with a policy naming its role
    assert endpoint["serviceName"] == "com.amazonaws.eu-central-1.bedrock-runtime"
    principals = {p for st in json.loads(endpoint["policy"])["Statement"] for p in st["Principal"]["AWS"]}
    assert principals == {"arn:aws:iam::123456789012:role/bedrock-role"}
    assert "net-vpce-bedrock-runtime" not in res
    assert "net-nat" not in res
    vpc = res["eks-eks"]["inputs"]["vpcConfig"]
    # the runner outside the created VPC reaches the public endpoint (restricted to its CIDR); nodes: private
    assert (vpc["endpointPublicAccess"], vpc["endpointPrivateAccess"]) == (True, True)
    assert vpc["publicAccessCidrs"] == ["203.0.113.10/32"]
    assert {"net-vpce-autoscaling", "net-vpce-eks"} <= set(res)
    assert sorted(result.plans) == ["llama-70b", "llama-8b-eu-only"]


def test_dev_and_ephemeral_shapes(plans: dict[str, tuple[offline.PlanResult, Path]]) -> None:
    dev = _by_name(plans["dev"][0])
    assert dev["gpu-llama-8b-ng"]["inputs"]["instanceTypes"] == ["g6e.xlarge"]
    assert dev["gpu-llama-8b-ng"]["inputs"]["capacityType"] == "ON_DEMAND"
    assert "gpu-device-plugin" in dev
    eph = _by_name(plans["ephemeral"][0])
    ng = eph["gpu-llama-8b-ng"]["inputs"]
    assert (ng["capacityType"], ng["scalingConfig"]["minSize"], ng["amiType"]) == (
        "SPOT",
        0,
        "BOTTLEROCKET_x86_64_NVIDIA",
    )
    assert "gpu-device-plugin" not in eph  # Bottlerocket NVIDIA ships the device plugin
    assert "model-llama-8b-pod-weights" not in eph  # hf weights: no S3 access at all
    assert eph["model-llama-8b-release"]["inputs"]["values"]["replicas"] == 0
    # KEDA-only Prometheus (monitoring.enabled: false) must still be let through the engine NetworkPolicy
    assert eph["model-llama-8b-release"]["inputs"]["values"]["allowedClientNamespaces"] == ["monitoring"]
    # DCGM's ServiceMonitor comes from Monitoring (after the CRDs), never from the dcgm-exporter chart
    assert dev["monitoring-paddock-dcgm"]["parent"] == "monitoring"
    assert dev["gpu-dcgm-exporter"]["inputs"]["values"]["serviceMonitor"]["enabled"] is False


@pytest.mark.parametrize("stack", STACKS)
def test_every_aws_resource_is_tagged_and_iam_is_scoped(
    plans: dict[str, tuple[offline.PlanResult, Path]], stack: str
) -> None:
    result, out = plans[stack]
    tagged = [
        r for r in result.resources if r["type"].startswith("aws:") and r["type"] not in UNTAGGABLE
    ]  # core and add-ons alike: ephemeral stacks reach AWS's owner/expiry tags only this way
    assert len(tagged) > 15
    for r in tagged:
        assert r["inputs"]["tags"]["paddock:stack"] == stack, r["name"]
    docs = sorted((out / "iam").glob("*.json"))
    assert docs
    for path in docs:  # every policy in the stack, add-ons included
        assert_no_wildcard_data_plane(json.loads(path.read_text()))


def test_plan_files(plans: dict[str, tuple[offline.PlanResult, Path]]) -> None:
    result, out = plans["prod-eu"]
    resources = json.loads((out / "resources.json").read_text())
    assert resources == result.resources
    assert {"type", "name", "parent", "dependsOn", "provider", "inputs"} == set(resources[0])
    assert (
        json.loads((out / "plans.json").read_text())["llama-70b"]["instance_type"]
        == result.plans["llama-70b"].instance_type
    )
    assert json.loads((out / "stack_config.json").read_text())["region"] == "eu-central-1"
    assert sorted(p.name for p in (out / "manifests").iterdir()) == [
        "llama-70b.yaml",
        "llama-8b-eu-only.yaml",
        "paddock-gateway.yaml",
    ]
    assert (out / "values" / "dcgm-exporter.yaml").is_file()
    summary = (out / "summary.md").read_text()
    assert "| llama-70b | meta-llama/Llama-3.3-70B-Instruct | vllm" in summary
    release = next(r for r in resources if r["name"] == "model-llama-70b-release")
    assert release["inputs"]["chart"] == "serving/charts/model-server"  # portable, relative to the repo


@pytest.mark.parametrize("stack", STACKS)
def test_golden_files(
    plans: dict[str, tuple[offline.PlanResult, Path]], stack: str, update_golden: bool
) -> None:
    result, out = plans[stack]
    golden = GOLDEN / stack
    rendered = {p.relative_to(out): p.read_text() for p in _core_files(out, result)}
    if update_golden:
        shutil.rmtree(golden, ignore_errors=True)
        for rel, text in rendered.items():
            (golden / rel).parent.mkdir(parents=True, exist_ok=True)
            (golden / rel).write_text(text)
    expected = {
        p.relative_to(golden): p.read_text() for sub in GOLDEN_DIRS for p in sorted((golden / sub).glob("*"))
    }
    assert sorted(rendered) == sorted(expected), (
        "files differ; review and run `uv run pytest --update-golden`"
    )
    for path, text in rendered.items():
        assert text == expected[path], (
            f"{stack}/{path} differs from tests/golden (regenerate: --update-golden)"
        )


def test_rendering_is_deterministic_across_runs() -> None:
    first = offline.render_stack("dev", planner=fake_planner)
    second = offline.render_stack("dev", planner=fake_planner)
    assert first.resources == second.resources


def test_invalid_config_in_the_pulumi_path_is_a_run_error() -> None:
    raw = json.loads(json.dumps(offline.read_stack_file(offline.STACKS_DIR / "Pulumi.dev.yaml")))
    raw["paddock:models"][0]["gpu"] = "x"
    raw["paddock:network"]["azCount"] = 1
    with pytest.raises(pulumi.RunError) as err:
        run_program(
            lambda: None if program.main(plans={}) else None,
            stack="dev",
            region="us-east-1",
            config=to_pulumi_config(raw),
        )
    assert "paddock:models[0].gpu: 'x' is not a GPU id or instance type" in str(err.value)
    assert "paddock:network.azCount" in str(err.value)


@pytest.mark.parametrize("stack", STACKS)
def test_pulumi_config_path_parses_like_the_stack_file(stack: str) -> None:
    from serving.stack_config import load_stack_file
    from stacks import config as stack_config

    path = offline.STACKS_DIR / f"Pulumi.{stack}.yaml"
    seen = []
    run_program(
        lambda: seen.append(stack_config.load()),
        stack=stack,
        region="us-east-1",
        config=to_pulumi_config(offline.read_stack_file(path)),
    )
    assert seen == [load_stack_file(path)]


def test_keda_off_stack_scales_with_hpas_read_through_prometheus_adapter(tmp_path: Path) -> None:
    """The HPA fallback end to end through the real program: KEDA off -> prometheus-adapter (pinned) +
    one HPA per model, and a Prometheus (without Grafana/alerts) for the adapter to read."""
    import yaml

    doc = yaml.safe_load((offline.STACKS_DIR / "Pulumi.dev.yaml").read_text())
    doc["config"]["paddock:autoscaling"] = {**doc["config"]["paddock:autoscaling"], "keda": False}
    doc["config"]["paddock:monitoring"] = {"enabled": False}
    doc["config"]["paddock:versions"]["prometheusAdapterChart"] = "5.3.0"
    stack_file = tmp_path / "Pulumi.hpa.yaml"
    stack_file.write_text(yaml.safe_dump(doc))
    res = _by_name(offline.render_stack("hpa", stack_file=stack_file))
    adapter = next(r for r in res.values() if r["inputs"].get("name") == "prometheus-adapter")
    assert adapter["inputs"]["version"] == "5.3.0"
    hpas = [r for r in res.values() if r["type"] == "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"]
    assert len(hpas) == 1 and not [r for r in res.values() if r["type"].endswith(":ScaledObject")]
    assert any(r["inputs"].get("name") == "kube-prometheus-stack" for r in res.values())
