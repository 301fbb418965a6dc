"""Creation order as real Pulumi dependencies, through the whole program under mocks (stacks/program.py).

Each assertion reads the ``dependencies`` of a RegisterResource request (tests/components/deps.py): what
the engine waits for before creating a resource, and deletes after it on destroy.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pulumi
import pytest

from serving.stack_config import parse_stack_config, read_stack_file
from stacks import offline, program
from stacks.config import to_pulumi_config
from stacks.planning import plan_models
from tests.components.deps import Graph, run_graph

RELEASE = "kubernetes:helm.sh/v3:Release"


def stack_raw(stack: str) -> dict[str, Any]:
    return copy.deepcopy(read_stack_file(offline.STACKS_DIR / f"Pulumi.{stack}.yaml"))


def render(raw: dict[str, Any], stack: str = "variant") -> Graph:
    cfg = parse_stack_config(raw, stack=stack)
    plans = plan_models(cfg)
    return run_graph(
        lambda: None if program.main(plans=plans) else None,
        stack=stack,
        region=cfg.region,
        config=to_pulumi_config(raw),
    )


@pytest.fixture(scope="module")
def dev() -> Graph:
    return render(stack_raw("dev"), "dev")


@pytest.fixture(scope="module")
def ephemeral() -> Graph:
    return render(stack_raw("ephemeral"), "ephemeral")


def test_model_release_waits_for_identity_node_group_autoscalers_and_device_plugin(dev: Graph) -> None:
    waits = dev.waits("model-llama-8b-release")
    assert {
        "model-llama-8b-pod-identity",  # the association, not only the role
        "model-llama-8b-pod-weights",
        "gpu-llama-8b-ng",  # destroy removes the pods before the nodes
        "node-scaling-cluster-autoscaler",
        "pod-scaling-keda",
        "gpu-device-plugin",
    } <= waits


def test_scale_to_zero_stack_installs_autoscalers_before_the_model(ephemeral: Graph) -> None:
    """ephemeral: GPU group at min 0. The engine release needs a node only cluster-autoscaler can add."""
    waits = ephemeral.waits("model-llama-8b-release")
    assert {"node-scaling-cluster-autoscaler", "pod-scaling-keda", "gpu-llama-8b-ng"} <= waits
    # and nothing of the autoscalers waits for a model (that was the deadlock)
    for name in ("node-scaling-cluster-autoscaler", "pod-scaling-keda"):
        assert not {w for w in ephemeral.waits(name) if w.startswith("model-")}


def test_controllers_wait_for_their_pod_identity_association(dev: Graph) -> None:
    assert {
        "node-scaling-cluster-autoscaler-pod-identity",
        "node-scaling-cluster-autoscaler-attach",
    } <= dev.waits("node-scaling-cluster-autoscaler")
    assert {"bedrock-pod-identity", "bedrock-invoke"} <= dev.waits("gateway-release")


def test_custom_resources_wait_for_the_release_with_their_crd(dev: Graph) -> None:
    assert dev.waits("autoscaling-llama-8b-scaledobject") >= {"pod-scaling-keda", "model-llama-8b-release"}
    for name in dev.of_type(":ServiceMonitor") + dev.of_type(":PodMonitor") + dev.of_type(":PrometheusRule"):
        assert "monitoring-kube-prometheus-stack" in dev.waits(name), name
    # KEDA's chart renders its own ServiceMonitors when monitoring is on
    assert "monitoring-kube-prometheus-stack" in dev.waits("pod-scaling-keda")


def test_system_charts_are_atomic_with_a_node_sized_timeout(dev: Graph) -> None:
    system = [n for n in dev.of_type(":Release") if not n.startswith("model-")]
    assert {
        "pod-scaling-keda",
        "node-scaling-cluster-autoscaler",
        "monitoring-kube-prometheus-stack",
        "gateway-release",
    } <= set(system)
    for name in system:
        inputs = dev.inputs[name]
        assert (inputs["atomic"], inputs["cleanupOnFail"], inputs["timeout"]) == (True, True, 600.0), name


def test_split_components_alias_their_former_urns(dev: Graph) -> None:
    """Existing stacks keep the releases/objects the former Autoscaling component made (no re-create)."""
    spec = dev.aliases["pod-scaling-keda"][0].spec
    assert (spec.name, spec.parentUrn) == (
        "autoscaling-keda",
        "urn:pulumi:dev::paddock::paddock:scaling:Autoscaling::autoscaling",
    )
    assert dev.aliases["autoscaling-llama-8b-scaledobject"][0].spec.parentUrn.endswith(
        "paddock:scaling:Autoscaling::autoscaling"
    )
    node = dev.aliases["node-scaling"][0].spec
    assert (node.name, node.type) == ("autoscaling", "paddock:scaling:Autoscaling")


# ── multi-node ────────────────────────────────────────────────────────────────────────────────────────────
def multi_node_raw(**versions: str) -> dict[str, Any]:
    raw = stack_raw("dev")
    raw["paddock:models"][0].update(
        {
            "model": "llama-3.1-405b",
            "gpu": "a100-80gb",  # bf16 405B: two p4de per replica (PP2), EFA
            "context": 8192,
            "concurrency": 16,
            "replicas": {"min": 1, "max": 1},
        }
    )
    for key in ("lwsChart", "efaDevicePluginChart"):  # the shipped stacks pin them: start without
        raw["paddock:versions"].pop(key, None)
    raw["paddock:versions"].update(versions)
    return raw


def test_multi_node_plan_installs_lws_and_efa_before_the_model() -> None:
    graph = render(multi_node_raw(lwsChart="0.10.0", efaDevicePluginChart="v0.5.30"))
    lws = graph.inputs["controllers-lws"]
    assert (lws["chart"], lws["version"], lws["namespace"]) == (
        "oci://registry.k8s.io/lws/charts/lws",
        "0.10.0",
        "lws-system",
    )
    assert lws["values"]["nodeSelector"] == {"paddock.dev/pool": "system"}
    efa = graph.inputs["controllers-efa-device-plugin"]
    assert (efa["chart"], efa["version"], efa["repositoryOpts"]) == (
        "aws-efa-k8s-device-plugin",
        "v0.5.30",
        {"repo": "https://aws.github.io/eks-charts"},
    )
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in efa["values"][
        "tolerations"
    ]
    assert {"controllers-lws", "controllers-efa-device-plugin"} <= graph.waits("model-llama-8b-release")


def test_single_node_stacks_install_no_controllers(dev: Graph) -> None:
    assert not [n for n in dev.deps if n.startswith("controllers")]


def test_multi_node_plan_without_the_lws_chart_is_a_config_error() -> None:
    from serving.config_reader import ConfigErrors

    raw = multi_node_raw()
    with pytest.raises(ConfigErrors) as err:
        plan_models(parse_stack_config(raw, stack="variant"))
    text = str(err.value)
    assert "paddock:versions.lwsChart: is required: paddock:models[0] (llama-8b) spans 2 nodes" in text
    assert "paddock:versions.efaDevicePluginChart: is required" in text


# ── pulumi up reads every paddock:* key ─────────────────────────────────────────────────────────────────────
def test_unknown_paddock_key_fails_pulumi_up_like_paddock_plan() -> None:
    raw = stack_raw("dev")
    raw["paddock:monitorng"] = {"enabled": False}
    with pytest.raises(pulumi.RunError) as err:
        run_graph(lambda: None if program.main(plans={}) else None, stack="dev", config=to_pulumi_config(raw))
    assert "paddock:monitorng: unknown key" in str(err.value)


def test_pulumi_config_env_bag_keys_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI hands config to the language host in PULUMI_CONFIG; a typo there is rejected too."""
    from stacks import config as stack_config

    raw = stack_raw("dev")
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps({"paddock:config:gatway": '{"enabled": true}'}))
    seen: list[list[str]] = []
    run_graph(
        lambda: seen.append(stack_config.stack_config_keys()), stack="dev", config=to_pulumi_config(raw)
    )
    assert "paddock:gatway" in seen[0] and "paddock:models" in seen[0]
    with pytest.raises(pulumi.RunError, match="paddock:gatway: unknown key"):
        run_graph(lambda: None if stack_config.load() else None, stack="dev", config=to_pulumi_config(raw))


# ── component level: each edge is the component's own (deleting it fails these) ─────────────────────────────
def test_model_server_release_waits_for_its_association_and_after() -> None:
    import pulumi_aws as aws

    from tests.components.test_model_server import _program

    def body() -> None:
        gate = aws.iam.Role("gate", assume_role_policy="{}")
        _program(after=[gate])()

    waits = run_graph(body).waits("model-llama-70b-release")
    assert {"model-llama-70b-pod-identity", "model-llama-70b-pod-weights", "gate"} <= waits


def test_gateway_release_waits_for_after() -> None:
    import pulumi_aws as aws

    from components.gateway import Gateway, GatewayArgs
    from tests.components.test_gateway_component import prod_routes

    def body() -> None:
        association = aws.iam.Role("assoc", assume_role_policy="{}")
        Gateway(
            "gw",
            GatewayArgs(
                namespace="serving",
                image="ghcr.io/acme/paddock-gateway:0.1.0",
                routes=prod_routes(),
                provider=None,
                after=[association],
            ),
        )

    assert "assoc" in run_graph(body).waits("gw-release")


def test_bedrock_fallback_ready_lists_policy_and_association(dev: Graph) -> None:
    """The program hands BedrockFallback.ready to the gateway: both are in the gateway release's waits."""
    assert dev.types["bedrock-pod-identity"].endswith(":PodIdentityAssociation")
    assert dev.types["bedrock-invoke"].endswith(":RolePolicy")
