"""serving.values (leaf-substitution rendering, deep merge) and serving.release_values (release values)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from serving.errors import RenderError
from serving.release_values import (
    NodeShape,
    cache_size_gib,
    dcgm_exporter_values,
    device_plugin_values,
    engine_resources,
    model_server_values,
    rollout_strategy,
    startup_budget,
)
from serving.stack_config_models import ModelConfig
from serving.values import HELM_VALUES_DIR, deep_merge, render_values, split_image, template_variables
from tests.plans import plan_8b_l40s, plan_70b_h100

MODEL = ModelConfig(
    alias="llama-8b",
    model="llama-3.1-8b",
    weights="s3://acme/llama-8b/",
    weights_region="us-east-1",
    context=8192,
    concurrency=16,
    replicas_min=2,
    replicas_max=4,
)


def _template(tmp_path: Path, text: str) -> Path:
    (tmp_path / "t.yaml.j2").write_text(text)
    return tmp_path


def test_leaf_values_are_json_encoded_and_parsed(tmp_path: Path) -> None:
    d = _template(
        tmp_path, "name: {{ name | tojson }}\nargs: {{ args | tojson }}\nport: {{ port | tojson }}\n"
    )
    values = render_values(
        "t.yaml.j2", {"name": 'a "quoted": value', "args": ["--x", "1"], "port": 8000}, directory=d
    )
    assert values == {"name": 'a "quoted": value', "args": ["--x", "1"], "port": 8000}
    assert template_variables("t.yaml.j2", d) == frozenset({"name", "args", "port"})


def test_missing_variable_is_an_error(tmp_path: Path) -> None:
    d = _template(tmp_path, "a: {{ a | tojson }}\nb: {{ b | tojson }}\nc: {{ c.d }}\n")
    with pytest.raises(RenderError, match=r"missing template variable\(s\): b, c") as err:
        render_values("t.yaml.j2", {"a": 1}, directory=d)
    assert err.value.field == "t.yaml.j2"
    with pytest.raises(RenderError, match="missing template variable: 'dict object' has no attribute 'd'"):
        render_values("t.yaml.j2", {"a": 1, "b": 2, "c": {}}, directory=d)


def test_unused_context_key_is_an_error(tmp_path: Path) -> None:
    d = _template(tmp_path, "a: {{ a | tojson }}\n")
    with pytest.raises(RenderError, match="not used by the template: extra"):
        render_values("t.yaml.j2", {"a": 1, "extra": 2}, directory=d)


def test_statements_are_rejected(tmp_path: Path) -> None:
    d = _template(tmp_path, "{% if a %}a: 1{% endif %}\n")
    with pytest.raises(RenderError, match="leaf values only"):
        render_values("t.yaml.j2", {"a": 1}, directory=d)


def test_output_must_be_a_yaml_mapping(tmp_path: Path) -> None:
    with pytest.raises(RenderError, match="not a mapping"):
        render_values("t.yaml.j2", {"a": 1}, directory=_template(tmp_path, "- {{ a | tojson }}\n"))
    with pytest.raises(RenderError, match="not valid YAML"):
        render_values("t.yaml.j2", {"a": 1}, directory=_template(tmp_path, "a: {{ a | tojson }}\n  b: [\n"))
    with pytest.raises(RenderError, match="does not exist"):
        render_values("nope.yaml.j2", {}, directory=tmp_path)


def test_deep_merge_like_helm() -> None:
    base = {"a": {"b": 1, "c": [1, 2]}, "d": 1, "e": {"f": 1}}
    merged = deep_merge(base, {"a": {"c": [3], "g": 2}, "d": None, "e": 5})
    assert merged == {"a": {"b": 1, "c": [3], "g": 2}, "e": 5}
    assert base == {"a": {"b": 1, "c": [1, 2]}, "d": 1, "e": {"f": 1}}


@pytest.mark.parametrize(
    ("load", "threshold", "budget", "deadline"),
    [
        (0.0, 18, 180, 1080),
        (80.0, 18, 180, 1080),
        (240.0, 42, 420, 1320),
        (610.0, 98, 980, 1880),
        (3600.0, 546, 5460, 6360),
    ],
)
def test_startup_budget_follows_load_time(load: float, threshold: int, budget: int, deadline: int) -> None:
    b = startup_budget(load)
    assert (b.period_seconds, b.failure_threshold, b.budget_seconds, b.progress_deadline_seconds) == (
        10,
        threshold,
        budget,
        deadline,
    )


def test_startup_budget_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        startup_budget(-1)
    with pytest.raises(ValueError):
        startup_budget(10, period_seconds=0)


def test_engine_resources_share_the_node() -> None:
    assert engine_resources(plan_8b_l40s(), NodeShape(vcpus=4, memory_gib=32, gpus=1)) == ("3", "25Gi")
    assert engine_resources(plan_70b_h100(), NodeShape(vcpus=192, memory_gib=2048, gpus=8)) == ("81", "819Gi")
    assert engine_resources(plan_70b_h100(), None) == ("12", "48Gi")


def test_image_split_and_cache_size() -> None:
    assert split_image("ghcr.io/huggingface/text-generation-inference:3.3.6") == (
        "ghcr.io/huggingface/text-generation-inference",
        "3.3.6",
    )
    assert split_image("localhost:5000/vllm:v1") == ("localhost:5000/vllm", "v1")
    with pytest.raises(ValueError, match="has no tag"):
        split_image("localhost:5000/vllm")
    with pytest.raises(ValueError, match="has no tag; pin one in paddock:versions.gatewayImage"):
        split_image("ghcr.io/x/gw:", key="paddock:versions.gatewayImage")
    assert cache_size_gib(plan_8b_l40s()) == 21  # plan.cache_gib: ceil(14.96 * 1.1) + 4


def test_model_server_values_for_s3_weights() -> None:
    values = model_server_values(
        MODEL,
        plan_8b_l40s(),
        image="vllm/vllm-openai:v0.11.0",
        aws_cli_image="amazon/aws-cli:2.27.50",
        service_account="llama-8b-engine",
        node=NodeShape(vcpus=4, memory_gib=32, gpus=1),
    )
    assert values["replicas"] == 2 and values["engine"] == "vllm"
    assert values["weights"] == {
        "source": "s3",
        "s3Uri": "s3://acme/llama-8b/",
        "region": "us-east-1",
        "hfRepo": "",
        "hfTokenSecret": "paddock-hf-token",
        "syncImage": "amazon/aws-cli:2.27.50",
    }
    assert values["probes"]["startup"] == {"periodSeconds": 10, "failureThreshold": 42}
    assert values["cache"] == {"sizeGi": 21, "mountPath": "/models", "disk": "nvme", "ephemeralStorageGi": 31}
    assert values["allowedClientNamespaces"] == []
    assert values["autoscaled"] is True  # KEDA/HPA owns spec.replicas
    assert values["podAnnotations"] == {
        "cluster-autoscaler.kubernetes.io/safe-to-evict": "false",
        "karpenter.sh/do-not-disrupt": "true",
    }
    assert values["rollout"] == {  # min 2 < max 4: surge one replica, Helm waits for it
        "type": "RollingUpdate",
        "maxSurge": 1,
        "maxUnavailable": 0,
        "outageOnUpdate": False,
    }
    assert values["user"] == "paddock"
    assert set(values) == {
        "autoscaled",
        "podAnnotations",
        "rollout",
        "user",
        "alias",
        "engine",
        "image",
        "servedModelName",
        "replicas",
        "port",
        "engineArgs",
        "gpus",
        "nodesPerReplica",
        "resources",
        "shmSizeGi",
        "weights",
        "cache",
        "probes",
        "progressDeadlineSeconds",
        "serviceAccount",
        "pdb",
        "nodeSelector",
        "tolerations",
        "allowedClientNamespaces",
    }


@pytest.mark.parametrize(
    ("lo", "hi", "multi_node", "expected"),
    [
        (1, 4, False, ("RollingUpdate", 1, 0, False)),
        (0, 1, False, ("RollingUpdate", 1, 0, False)),  # ephemeral: room for one more at min 0
        (1, 1, False, ("Recreate", 0, 1, True)),  # one replica, no room: Helm waits, rollout is an outage
        (1, 1, True, ("RollingUpdate", 0, 1, True)),  # LWS has no Recreate
        (2, 2, False, ("RollingUpdate", 0, 1, False)),
        (3, 5, True, ("RollingUpdate", 1, 0, False)),
    ],
)
def test_rollout_strategy_follows_the_room_in_the_node_group(
    lo: int, hi: int, multi_node: bool, expected: tuple[str, int, int, bool]
) -> None:
    r = rollout_strategy(replicas_min=lo, replicas_max=hi, multi_node=multi_node)
    assert (r.type, r.max_surge, r.max_unavailable, r.outage_on_update) == expected
    assert r.max_surge + r.max_unavailable >= 1  # Kubernetes rejects 0/0


def test_rollout_strategy_rejects_impossible_replicas() -> None:
    with pytest.raises(ValueError, match=r"replicas_min \(3\) <= replicas_max \(2\)"):
        rollout_strategy(replicas_min=3, replicas_max=2, multi_node=False)


@pytest.mark.parametrize(
    ("lo", "hi", "autoscaled"), [(1, 1, False), (2, 2, False), (1, 2, True), (0, 1, True)]
)
def test_helm_owns_replicas_when_the_autoscaler_cannot_change_them(
    lo: int, hi: int, autoscaled: bool
) -> None:
    model = replace(MODEL, replicas_min=lo, replicas_max=hi)
    values = model_server_values(
        model, plan_8b_l40s(), image="vllm/vllm-openai:v0.11.0", aws_cli_image="x/cli:1", service_account="sa"
    )
    assert values["autoscaled"] is autoscaled and values["replicas"] == lo


def test_model_server_values_for_hf_weights() -> None:
    model = ModelConfig(
        alias="m", model="llama-3.1-8b", weights="hf", weights_region="us-east-1", context=8192, concurrency=1
    )
    values = model_server_values(
        model,
        plan_8b_l40s(),
        image="vllm/vllm-openai:v0.11.0",
        aws_cli_image=None,
        service_account="m-engine",
    )
    assert (
        values["weights"]["source"] == "hf"
        and values["weights"]["hfRepo"] == "meta-llama/Llama-3.1-8B-Instruct"
    )
    assert values["weights"]["s3Uri"] == "" and values["weights"]["syncImage"] == ""


def test_gpu_daemonset_values() -> None:
    toleration = [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    plugin = device_plugin_values()
    assert (
        plugin["nodeSelector"] == {"nvidia.com/gpu.present": "true"} and plugin["tolerations"] == toleration
    )
    assert plugin["gfd"] == {"enabled": False}
    assert dcgm_exporter_values(service_monitor=False)["serviceMonitor"]["enabled"] is False
    assert dcgm_exporter_values(service_monitor=True)["serviceMonitor"] == {
        "enabled": True,
        "interval": "15s",
        "honorLabels": True,
    }


def test_every_shipped_template_is_leaf_only() -> None:
    for path in sorted(HELM_VALUES_DIR.glob("*.yaml.j2")):
        assert "{%" not in path.read_text(), path.name
