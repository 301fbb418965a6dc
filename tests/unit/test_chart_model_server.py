"""Our model-server chart: helm lint, helm template, kubernetes-validate --strict (1.33) and checkov, for the
serving scenarios Paddock renders (vLLM 8B on L40S, 70B TP 4 on H100, TGI from HF, multi-node LWS)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from serving.engine_pod import engine_pod
from serving.errors import RenderError
from serving.release_values import NodeShape, model_server_values
from serving.stack_config_models import ModelConfig
from tests import chartcheck
from tests.plans import plan_8b_l40s, plan_70b_h100

CHART = chartcheck.helm.CHARTS_DIR / "model-server"
S3_MODEL = ModelConfig(
    alias="llama-8b",
    model="llama-3.1-8b",
    weights="s3://acme-models/llama-8b/",
    weights_region="us-east-1",
    context=8192,
    concurrency=16,
    replicas_min=1,
    replicas_max=2,
)
CLI = "public.ecr.aws/aws-cli/aws-cli:2.27.50"
VLLM = "vllm/vllm-openai:v0.11.0"


def _values(name: str) -> dict[str, Any]:
    if name == "vllm-8b-s3":
        return model_server_values(
            S3_MODEL,
            plan_8b_l40s(),
            image=VLLM,
            aws_cli_image=CLI,
            service_account="llama-8b-engine",
            allowed_client_namespaces=("monitoring",),
            node=NodeShape(vcpus=4, memory_gib=32, gpus=1),
            autoscaled=False,  # the one scenario where Helm owns spec.replicas
        )
    if name == "vllm-70b-tp4":
        model = replace(S3_MODEL, alias="llama-70b", weights="s3://acme-models/llama-70b/")
        return model_server_values(
            model,
            plan_70b_h100(),
            image=VLLM,
            aws_cli_image=CLI,
            service_account="llama-70b-engine",
            node=NodeShape(vcpus=192, memory_gib=2048, gpus=8),
        )
    if name == "vllm-8b-single":
        model = replace(S3_MODEL, alias="llama-pinned", replicas_min=1, replicas_max=1)
        return model_server_values(
            model, plan_8b_l40s(), image=VLLM, aws_cli_image=CLI, service_account="llama-pinned-engine"
        )
    if name == "tgi-8b-hf":
        model = replace(S3_MODEL, alias="llama-tgi", engine="tgi", weights="hf")
        return model_server_values(
            model,
            plan_8b_l40s(engine="tgi"),
            image="ghcr.io/huggingface/text-generation-inference:3.3.6",
            aws_cli_image=None,
            service_account="llama-tgi-engine",
        )
    model = replace(S3_MODEL, alias="llama-405b", weights="s3://acme-models/llama-405b/")
    plan = plan_70b_h100(
        gpus_per_node=8, nodes_per_replica=2, pipeline_parallel_size=2, tensor_parallel_size=8
    )
    return model_server_values(
        model, plan, image=VLLM, aws_cli_image=CLI, service_account="llama-405b-engine"
    )


SCENARIOS = ("vllm-8b-s3", "vllm-70b-tp4", "vllm-8b-single", "tgi-8b-hf", "vllm-405b-lws")


@pytest.fixture(scope="module")
def rendered() -> dict[str, str]:
    return {
        name: chartcheck.render(CHART, _values(name), release=name, namespace="serving") for name in SCENARIOS
    }


@pytest.fixture(scope="module")
def objects(rendered: dict[str, str]) -> dict[str, dict[str, dict[str, Any]]]:
    return {name: {o["kind"]: o for o in chartcheck.documents(text)} for name, text in rendered.items()}


BAD_POD = """
apiVersion: v1
kind: Pod
metadata: {name: bad, namespace: serving}
spec:
  containers:
    - name: c
      image: busybox:latest
      securityContext: {privileged: true}
"""


GOLDEN = Path(__file__).resolve().parents[1] / "golden"
#: the shipped stacks' rendered model-server manifests (kept equal to a fresh render by
#: tests/components/test_stacks.py; the gateway chart's are checked in tests/gateway/test_chart.py)
STACK_MANIFESTS = {
    f"{p.parent.parent.name}-{p.stem}": p.read_text()
    for p in sorted(GOLDEN.glob("*/manifests/*.yaml"))
    if p.stem != "paddock-gateway"
}


@pytest.fixture(scope="module")
def checkov(rendered: dict[str, str]) -> dict[str, Any]:
    # one checkov run (~8 s) for every stream: scenarios, the shipped stacks, and a known-bad pod
    return chartcheck.checkov_report({**rendered, **STACK_MANIFESTS, "bad-pod": BAD_POD})


@pytest.mark.parametrize("name", SCENARIOS)
def test_helm_lint_strict(name: str) -> None:
    report = chartcheck.lint(CHART, _values(name))
    assert "1 chart(s) linted, 0 chart(s) failed" in report


def test_kinds_per_scenario(objects: dict[str, dict[str, dict[str, Any]]]) -> None:
    base = {"ServiceAccount", "Service", "PodDisruptionBudget", "NetworkPolicy"}
    assert set(objects["vllm-8b-s3"]) == base | {"Deployment"}
    assert set(objects["vllm-405b-lws"]) == base | {"LeaderWorkerSet"}


@pytest.mark.parametrize("name", SCENARIOS)
def test_manifests_validate_strictly_against_kubernetes_1_33(rendered: dict[str, str], name: str) -> None:
    assert chartcheck.validate_strict(rendered[name]) == []
    assert chartcheck.unvalidated_kinds(rendered[name]) == (
        ["LeaderWorkerSet"] if name.endswith("lws") else []
    )


def test_shipped_stack_manifests_validate() -> None:
    assert sorted(STACK_MANIFESTS) == [
        "dev-llama-8b",
        "ephemeral-llama-8b",
        "prod-eu-llama-70b",
        "prod-eu-llama-8b-eu-only",
    ]
    for name, text in STACK_MANIFESTS.items():
        assert chartcheck.validate_strict(text) == [], name


def test_strict_validation_catches_unknown_fields() -> None:
    bad = "apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: {ports: [{port: 80}], bogusField: 1}\n"
    errors = chartcheck.validate_strict(bad)
    assert len(errors) == 1 and errors[0].startswith("Service/x:") and "bogusField" in errors[0]


def test_checkov_passes_with_only_the_written_skip(checkov: dict[str, Any]) -> None:
    failures = chartcheck.checkov_failures(checkov)
    assert failures and all("/bad-pod/" in f for f in failures)  # the checker really fails bad input
    assert chartcheck.checkov_skipped(checkov) == [
        (
            "CKV_K8S_15",
            "Pinned tags are pulled IfNotPresent (serving/images.py) because Always re-pulls on every pod "
            "start and hits the Docker Hub anonymous pull limit behind one NAT IP.",
        ),
        (
            "CKV_K8S_43",
            "Images are pinned by tag in the stack config (paddock:versions); a digest may be used "
            "there and is passed through unchanged.",
        ),
    ]
    assert chartcheck.checkov_passed_count(checkov) > 300


def test_vllm_deployment_follows_the_plan(objects: dict[str, dict[str, dict[str, Any]]]) -> None:
    dep = objects["vllm-8b-s3"]["Deployment"]
    assert dep["metadata"]["namespace"] == "serving" and dep["spec"]["replicas"] == 1
    # replicas 1..2: surge one replica and keep the old one, so Helm's wait (ready >= replicas - 0) is real
    assert dep["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
    }
    pod = dep["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"paddock.dev/model": "llama-8b"}
    assert pod["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    assert pod["serviceAccountName"] == "llama-8b-engine" and pod["automountServiceAccountToken"] is False
    (engine,) = pod["containers"]
    assert engine["command"] == ["vllm", "serve"]
    assert engine["args"][:8] == [
        "/models/weights",
        "--served-model-name",
        "meta-llama/Llama-3.1-8B-Instruct",
        "--host",
        "0.0.0.0",
        "--port",
        "8000",
        "--max-model-len",
    ]
    assert engine["args"][7:] == list(plan_8b_l40s().engine_args)
    assert engine["resources"]["limits"] == {
        "cpu": "3",
        "memory": "25Gi",
        "nvidia.com/gpu": "1",
        "ephemeral-storage": "31Gi",  # cache 21 + /tmp 8 + logs 2
    }
    assert engine["resources"]["requests"] == engine["resources"]["limits"]
    assert engine["startupProbe"]["httpGet"]["path"] == "/health"
    assert (engine["startupProbe"]["failureThreshold"], engine["startupProbe"]["periodSeconds"]) == (42, 10)
    script = engine["readinessProbe"]["exec"]["command"][2]
    assert "/v1/models" in script and "/health" in script and '"meta-llama/Llama-3.1-8B-Instruct"' in script
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["shm"]["emptyDir"] == {"medium": "Memory", "sizeLimit": "1Gi"}
    assert volumes["models"]["emptyDir"] == {
        "sizeLimit": "21Gi"
    }  # plan.cache_gib: whole checkpoint x 1.1 + 4
    (init,) = pod["initContainers"]
    assert init["command"] == [
        "/bin/sh",
        "-c",
        "aws configure set default.s3.preferred_transfer_client crt && "
        'exec aws s3 sync "$1" "$2" --no-progress --region "$3"',
        "sync-weights",
        "s3://acme-models/llama-8b/",
        "/models/weights",
        "us-east-1",
    ]
    assert not any(e["name"].startswith("AWS_ACCESS") for e in engine["env"])


def test_autoscaled_engines_leave_replicas_to_the_autoscaler_and_refuse_eviction(
    objects: dict[str, dict[str, dict[str, Any]]],
) -> None:
    autoscaled = objects["vllm-70b-tp4"]["Deployment"]
    assert "replicas" not in autoscaled["spec"]  # helm upgrade must not reset KEDA's choice
    assert objects["vllm-405b-lws"]["LeaderWorkerSet"]["spec"].get("replicas") is None
    for name in ("vllm-8b-s3", "vllm-70b-tp4"):
        annotations = objects[name]["Deployment"]["spec"]["template"]["metadata"]["annotations"]
        assert annotations["cluster-autoscaler.kubernetes.io/safe-to-evict"] == "false"
        assert annotations["karpenter.sh/do-not-disrupt"] == "true"


def test_70b_gets_four_gpus_and_a_larger_shm(objects: dict[str, dict[str, dict[str, Any]]]) -> None:
    pod = objects["vllm-70b-tp4"]["Deployment"]["spec"]["template"]["spec"]
    assert pod["containers"][0]["resources"]["requests"]["nvidia.com/gpu"] == "4"
    assert {v["name"]: v for v in pod["volumes"]}["shm"]["emptyDir"]["sizeLimit"] == "16Gi"
    assert pod["containers"][0]["startupProbe"]["failureThreshold"] == 98
    assert objects["vllm-70b-tp4"]["Deployment"]["spec"]["progressDeadlineSeconds"] == 1880


def test_tgi_from_hf_mounts_the_token_as_a_file(objects: dict[str, dict[str, dict[str, Any]]]) -> None:
    pod = objects["tgi-8b-hf"]["Deployment"]["spec"]["template"]["spec"]
    engine = pod["containers"][0]
    assert engine["command"] == ["text-generation-launcher"]
    assert engine["args"][:2] == ["--model-id", "meta-llama/Llama-3.1-8B-Instruct"]
    assert "initContainers" not in pod
    assert {"name": "HF_TOKEN_PATH", "value": "/var/run/secrets/hf/token"} in engine["env"]
    assert {v["name"]: v for v in pod["volumes"]}["hf-token"]["secret"]["secretName"] == "paddock-hf-token"
    assert "/info" in engine["readinessProbe"]["exec"]["command"][2]


def test_multi_node_uses_a_leader_worker_set(objects: dict[str, dict[str, dict[str, Any]]]) -> None:
    lws = objects["vllm-405b-lws"]["LeaderWorkerSet"]
    assert lws["spec"]["leaderWorkerTemplate"]["size"] == 2
    leader = lws["spec"]["leaderWorkerTemplate"]["leaderTemplate"]["spec"]["containers"][0]
    assert (
        leader["command"][2].startswith("ray start --head")
        and "--distributed-executor-backend" in leader["args"]
    )
    worker = lws["spec"]["leaderWorkerTemplate"]["workerTemplate"]["spec"]["containers"][0]
    assert "ray start --address=${LWS_LEADER_ADDRESS}:6379" in worker["command"][2]
    assert worker["resources"]["limits"]["nvidia.com/gpu"] == "8"
    assert (
        objects["vllm-405b-lws"]["Service"]["spec"]["selector"]["leaderworkerset.sigs.k8s.io/worker-index"]
        == "0"
    )


def test_companions(objects: dict[str, dict[str, dict[str, Any]]]) -> None:
    o = objects["vllm-8b-s3"]
    pdb = o["PodDisruptionBudget"]["spec"]
    # one Ready pod always survives a voluntary drain (a single replica too); not-Ready pods stay evictable
    assert (pdb["minAvailable"], pdb["unhealthyPodEvictionPolicy"]) == (1, "AlwaysAllow")
    assert "maxUnavailable" not in pdb
    lws_pdb = objects["vllm-405b-lws"]["PodDisruptionBudget"]["spec"]
    assert lws_pdb["minAvailable"] == 1
    assert (
        lws_pdb["selector"]["matchLabels"].items()
        <= objects["vllm-405b-lws"]["LeaderWorkerSet"]["spec"]["leaderWorkerTemplate"]["leaderTemplate"][
            "metadata"
        ]["labels"].items()
    )
    assert o["Service"]["spec"]["ports"] == [
        {"name": "http", "port": 8000, "targetPort": "http", "protocol": "TCP"}
    ]
    peers = o["NetworkPolicy"]["spec"]["ingress"][0]["from"]
    assert {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}} in peers
    assert o["ServiceAccount"]["automountServiceAccountToken"] is False


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"engine": "sglang"}, "engine"),
        ({"image": {"repository": "vllm/vllm-openai", "tag": "latest", "pullPolicy": "Always"}}, "tag"),
        ({"gpus": 0}, "gpus"),
        ({"unknownKey": 1}, "unknownKey"),
    ],
)
def test_values_schema_rejects_bad_values(patch: dict[str, Any], message: str) -> None:
    with pytest.raises(RenderError, match=message):
        chartcheck.render(CHART, {**_values("vllm-8b-s3"), **patch}, release="x", namespace="serving")


def test_multi_node_tgi_is_refused() -> None:
    with pytest.raises(RenderError, match="only supported with engine=vllm"):
        chartcheck.render(
            CHART, {**_values("vllm-405b-lws"), "engine": "tgi"}, release="x", namespace="serving"
        )


IDENTITY = [
    {"name": "HOME", "value": "/tmp"},
    {"name": "USER", "value": "paddock"},
    {"name": "LOGNAME", "value": "paddock"},
]


def _engine_containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    if obj["kind"] == "Deployment":
        return [obj["spec"]["template"]["spec"]["containers"][0]]
    tpl = obj["spec"]["leaderWorkerTemplate"]
    return [tpl["leaderTemplate"]["spec"]["containers"][0], tpl["workerTemplate"]["spec"]["containers"][0]]


@pytest.mark.parametrize("name", SCENARIOS)
def test_engine_has_a_user_name_and_writable_caches(
    objects: dict[str, dict[str, dict[str, Any]]], name: str
) -> None:
    workload = objects[name].get("Deployment") or objects[name]["LeaderWorkerSet"]
    for container in _engine_containers(workload):
        env = {e["name"]: e["value"] for e in container["env"]}
        assert container["env"][:3] == IDENTITY  # torch's getpass.getuser() reads USER/LOGNAME first
        assert container["securityContext"]["runAsUser"] == 10001
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        for key in ("XDG_CACHE_HOME", "TORCHINDUCTOR_CACHE_DIR", "TRITON_CACHE_DIR", "HF_HOME"):
            assert env[key].startswith("/models/"), key  # the cache emptyDir, never the read-only root
        if name.startswith("vllm"):
            assert env["VLLM_CACHE_ROOT"] == "/models/cache/vllm"
            assert env["VLLM_CONFIG_ROOT"].startswith("/tmp/")
        else:
            assert "VLLM_CACHE_ROOT" not in env
        mounts = {m["mountPath"] for m in container["volumeMounts"]}
        assert {"/tmp", "/models"} <= mounts
        assert container["resources"]["requests"]["ephemeral-storage"].endswith("Gi")


def test_init_container_has_the_same_identity(objects: dict[str, dict[str, dict[str, Any]]]) -> None:
    (init,) = objects["vllm-8b-s3"]["Deployment"]["spec"]["template"]["spec"]["initContainers"]
    assert init["env"] == IDENTITY


def test_single_replica_is_recreated_so_helm_waits(objects: dict[str, dict[str, dict[str, Any]]]) -> None:
    dep = objects["vllm-8b-single"]["Deployment"]
    assert dep["spec"]["strategy"] == {"type": "Recreate"}
    assert dep["spec"]["replicas"] == 1  # min == max: Helm owns the count, the autoscaler cannot change it
    assert _values("vllm-8b-single")["rollout"]["outageOnUpdate"] is True


def test_leader_worker_set_rolls_by_plan_and_refuses_eviction(
    objects: dict[str, dict[str, dict[str, Any]]],
) -> None:
    lws = objects["vllm-405b-lws"]["LeaderWorkerSet"]
    assert lws["spec"]["rolloutStrategy"] == {
        "type": "RollingUpdate",
        "rollingUpdateConfiguration": {"maxUnavailable": 0, "maxSurge": 1},
    }
    tpl = lws["spec"]["leaderWorkerTemplate"]
    for role in ("leaderTemplate", "workerTemplate"):
        annotations = tpl[role]["metadata"]["annotations"]
        assert annotations == {
            "cluster-autoscaler.kubernetes.io/safe-to-evict": "false",
            "karpenter.sh/do-not-disrupt": "true",
        }, role
        (init,) = tpl[role]["spec"]["initContainers"]  # every node of a replica syncs the whole checkpoint
        assert init["command"][-3:] == ["s3://acme-models/llama-405b/", "/models/weights", "us-east-1"]
        volumes = {v["name"]: v for v in tpl[role]["spec"]["volumes"]}
        assert volumes["models"]["emptyDir"] == {"sizeLimit": "149Gi"}


def test_ephemeral_storage_must_cover_the_cache() -> None:
    bad = {**_values("vllm-8b-s3"), "cache": {**_values("vllm-8b-s3")["cache"], "ephemeralStorageGi": 28}}
    with pytest.raises(RenderError, match="ephemeralStorageGi must cover"):
        chartcheck.render(CHART, bad, release="x", namespace="serving")


def test_values_schema_rejects_a_rollout_that_cannot_progress() -> None:
    bad = {
        **_values("vllm-8b-s3"),
        "rollout": {"type": "RollingUpdate", "maxSurge": 0, "maxUnavailable": 0, "outageOnUpdate": False},
    }
    with pytest.raises(RenderError, match="rollout"):
        chartcheck.render(CHART, bad, release="x", namespace="serving")


@pytest.mark.parametrize("name", SCENARIOS)
def test_engine_pod_summary_matches_the_rendered_pod(
    objects: dict[str, dict[str, dict[str, Any]]], name: str
) -> None:
    pod = engine_pod(_values(name))
    workload = objects[name].get("Deployment") or objects[name]["LeaderWorkerSet"]
    assert pod.kind == workload["kind"]
    if workload["kind"] == "Deployment":
        specs = [workload["spec"]["template"]["spec"]]
        assert pod.pods_at_install == workload["spec"].get("replicas", 1)  # omitted spec.replicas = 1
    else:
        tpl = workload["spec"]["leaderWorkerTemplate"]
        specs = [tpl["leaderTemplate"]["spec"], tpl["workerTemplate"]["spec"]]
        assert pod.pods_per_replica == tpl["size"]
        assert pod.pods_at_install == workload["spec"].get("replicas", 1) * tpl["size"]
    for spec in specs:
        assert spec["containers"][0]["resources"]["requests"] == dict(pod.requests)
        assert spec["nodeSelector"] == dict(pod.node_selector)
        assert spec["tolerations"] == [dict(t) for t in pod.tolerations]
        pulled = [c["image"] for c in spec["containers"] + spec.get("initContainers", [])]
        assert sorted(pulled) == sorted(pod.images)


def test_helm_waits_for_a_ready_engine_except_on_a_leader_worker_set() -> None:
    waits = {name: engine_pod(_values(name)).helm_ready_replicas for name in SCENARIOS}
    # surge (8b 1..2, 70b 1..4, tgi 1..2) and Recreate (pinned 1..1): Helm waits for one ready engine
    assert waits == {
        "vllm-8b-s3": 1,
        "vllm-70b-tp4": 1,
        "vllm-8b-single": 1,
        "tgi-8b-hf": 1,
        "vllm-405b-lws": 0,
    }
    old = {
        **_values("vllm-8b-single"),
        "rollout": {"type": "RollingUpdate", "maxSurge": 0, "maxUnavailable": 1, "outageOnUpdate": True},
    }
    assert engine_pod(old).helm_ready_replicas == 0  # the former strategy: Helm's wait was a no-op
