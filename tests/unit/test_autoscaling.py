"""Pod scaling derived from ServingPlans: thresholds, delays, ScaledObject, HPA fallback, pod metadata."""

from __future__ import annotations

from dataclasses import replace

import pytest

from serving.autoscaling import (
    AutoscalingSettings,
    adapter_rules,
    delays,
    engine_pod_annotations,
    engine_pod_labels,
    hpa,
    scaled_object,
    thresholds,
    validate_models,
    validate_settings,
)
from serving.autoscaling.model import raise_if
from serving.errors import InputError
from tests.unit.scaling_fixtures import SETTINGS, assert_golden, make_model, make_plan, tgi_model


@pytest.mark.parametrize(
    ("max_num_seqs", "max_concurrency", "capacity", "running", "waiting"),
    [
        (64, 40.5, 40, 32, 4),  # KV cache (full context) binds: 40 sequences
        (64, 200.0, 64, 51, 7),  # batch size binds
        (1, 0.4, 1, 1, 1),  # tiny replica: every target at least 1
        (256, 256.0, 256, 204, 26),
    ],
)
def test_thresholds_follow_the_plan(
    max_num_seqs: int, max_concurrency: float, capacity: int, running: int, waiting: int
) -> None:
    t = thresholds(make_plan(max_num_seqs=max_num_seqs, max_concurrency=max_concurrency), SETTINGS)
    assert (t.capacity, t.running_per_replica, t.waiting_per_replica) == (capacity, running, waiting)
    assert t.kv_cache_usage == 0.85


def test_target_utilisation_setting_moves_the_running_target() -> None:
    t = thresholds(make_plan(), AutoscalingSettings(target_utilisation=0.5))
    assert t.running_per_replica == 20


@pytest.mark.parametrize(
    ("load", "hold", "up", "down", "cooldown"),
    [
        (600.0, 60.0, 600, 900, 960),  # 1.5 x 600 + 60 = 960 > 600 configured
        (60.0, 60.0, 60, 300, 600),  # fast model: floors win
        (5.0, 0.0, 15, 300, 600),
        (3000.0, 60.0, 1800, 3600, 4560),  # HPA API caps: policy period 1800, window 3600
    ],
)
def test_delays_exceed_the_load_time(load: float, hold: float, up: int, down: int, cooldown: int) -> None:
    model = make_model(plan_overrides={"load_time_seconds": load}, cold_start_hold_seconds=hold)
    d = delays(model, SETTINGS)
    assert (d.scale_up_period, d.scale_down_window, d.cooldown) == (up, down, cooldown)
    assert d.cooldown > load


def test_vllm_scaled_object_golden() -> None:
    assert_golden(scaled_object(make_model(), SETTINGS, gateway=True), "autoscaling/scaledobject-vllm.yaml")


def test_tgi_scale_to_zero_scaled_object_golden() -> None:
    obj = scaled_object(tgi_model(min_replicas=0), SETTINGS, gateway=True)
    assert_golden(obj, "autoscaling/scaledobject-tgi-zero.yaml")


def test_vllm_triggers_use_plan_thresholds_and_version_metric() -> None:
    spec = scaled_object(make_model(), SETTINGS, gateway=True)["spec"]
    got = {t["name"]: (t["metadata"]["query"], t["metadata"]["threshold"]) for t in spec["triggers"]}
    sel = 'namespace="serving",alias="llama-70b"'
    assert got == {
        "queue": (f"sum(vllm:num_requests_waiting{{{sel}}})", "4"),
        "running": (f"sum(vllm:num_requests_running{{{sel}}})", "32"),
        "kv-cache": (f"sum(vllm:kv_cache_usage_perc{{{sel}}})", "0.85"),
        "gateway-in-flight": ('sum(paddock_gateway_in_flight{alias="llama-70b"})', "32"),
    }
    assert {t["metricType"] for t in spec["triggers"]} == {"AverageValue"}  # KEDA fallback needs it
    assert (spec["minReplicaCount"], spec["maxReplicaCount"], spec["cooldownPeriod"]) == (1, 4, 960)


def test_old_vllm_uses_gpu_cache_usage_perc() -> None:
    model = make_model(plan_overrides={"engine_version": "0.9.2"})
    queries = [
        t["metadata"]["query"] for t in scaled_object(model, SETTINGS, gateway=True)["spec"]["triggers"]
    ]
    assert any(q.startswith("sum(vllm:gpu_cache_usage_perc{") for q in queries)


def test_scale_to_zero_adds_an_activation_only_request_trigger() -> None:
    spec = scaled_object(tgi_model(min_replicas=0), SETTINGS, gateway=True)["spec"]
    last = spec["triggers"][-1]
    assert last["name"] == "gateway-requests"
    assert last["metadata"]["query"] == (
        'sum(increase(paddock_gateway_requests_total{alias="llama-8b-tgi"}[2m]))'
    )
    assert (last["metadata"]["threshold"], last["metadata"]["activationThreshold"]) == ("1000000", "0")
    names = [t["name"] for t in scaled_object(make_model(), SETTINGS, gateway=True)["spec"]["triggers"]]
    assert "gateway-requests" not in names  # min >= 1: nothing to wake


def test_without_gateway_there_is_no_gateway_trigger() -> None:
    spec = scaled_object(make_model(), SETTINGS, gateway=False)["spec"]
    assert [t["name"] for t in spec["triggers"]] == ["queue", "running", "kv-cache"]


def test_scale_to_zero_without_gateway_is_refused() -> None:
    with pytest.raises(InputError, match="no signal exists at zero replicas") as err:
        scaled_object(make_model(min_replicas=0), SETTINGS, gateway=False)
    assert err.value.field == "paddock:models.replicas.min"


def test_hpa_fallback_golden_and_scale_to_zero_error() -> None:
    assert_golden(hpa(make_model(), SETTINGS), "autoscaling/hpa-vllm.yaml")
    with pytest.raises(InputError, match="needs KEDA"):
        hpa(make_model(min_replicas=0), SETTINGS)


def test_tgi_hpa_reads_tgi_gauges() -> None:
    metrics = hpa(tgi_model(), SETTINGS)["spec"]["metrics"]
    assert [(m["pods"]["metric"]["name"], m["pods"]["target"]["averageValue"]) for m in metrics] == [
        ("tgi_queue_size", "4"),
        ("tgi_batch_current_size", "25"),
    ]


def test_adapter_rules_expose_what_the_hpa_reads() -> None:
    exposed = {r["name"]["as"] for r in adapter_rules()}
    wanted = {m["pods"]["metric"]["name"] for m in hpa(make_model(), SETTINGS)["spec"]["metrics"]}
    wanted |= {m["pods"]["metric"]["name"] for m in hpa(tgi_model(), SETTINGS)["spec"]["metrics"]}
    assert wanted <= exposed


def test_engine_pod_metadata() -> None:
    assert engine_pod_annotations() == {
        "cluster-autoscaler.kubernetes.io/safe-to-evict": "false",
        "karpenter.sh/do-not-disrupt": "true",
    }
    assert engine_pod_labels("llama-70b", "vllm") == {
        "app.kubernetes.io/name": "model-server",
        "app.kubernetes.io/instance": "llama-70b",
        "paddock.dev/engine": "vllm",
    }


def test_validate_models_names_every_problem() -> None:
    bad = (
        make_model("Llama_70B", min_replicas=-1),
        replace(make_model("x"), max_replicas=0, slo_ttft_seconds=0.0, cold_start_hold_seconds=-1.0),
        make_model("x", plan_overrides={"max_num_seqs": 0}),
    )
    problems = validate_models(bad)
    assert problems == [
        "models[0].alias: 'Llama_70B' is not a DNS label (lower-case letters, digits, '-')",
        "models[0].replicas.min: -1 is negative",
        "models[1].replicas.max: 0 must be >= 1 and >= min (1)",
        "models[1].sloTtftSeconds: 0.0 must be > 0",
        "models[1].coldStartHoldSeconds: -1.0 must be >= 0",
        "models[2].alias: 'x' appears twice",
        "models[2].plan.max_num_seqs: 0 must be >= 1",
    ]
    with pytest.raises(InputError, match="appears twice") as err:
        raise_if(problems, "paddock:models")
    assert err.value.field == "paddock:models"
    assert validate_models((make_model(), tgi_model())) == []


def test_validate_settings() -> None:
    bad = AutoscalingSettings(
        polling_interval_seconds=0, cooldown_seconds=-1, target_utilisation=1.5, kv_cache_target=1.0
    )
    assert validate_settings(bad) == [
        "autoscaling.pollingIntervalSeconds: 0 not in 1..3600",
        "autoscaling.cooldownSeconds: -1 must be >= 0",
        "autoscaling.targetUtilisation: 1.5 not in (0, 1]",
        "autoscaling.kvCacheTarget: 1.0 not in (0, 1)",
    ]
    assert validate_settings(SETTINGS) == []
    raise_if([], "x")  # nothing to raise


def test_hpa_passes_the_kubernetes_schema() -> None:
    import kubernetes_validate

    for model in (make_model(), tgi_model()):
        assert kubernetes_validate.validate(hpa(model, SETTINGS), "1.33.0", strict=True) == "1.33"
    broken = hpa(make_model(), SETTINGS)
    broken["spec"]["minReplicas"] = "one"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, "1.33.0", strict=True)


def test_multi_node_replicas_scale_the_leader_worker_set() -> None:
    model = make_model(plan_overrides={"nodes_per_replica": 2})
    ref = {"apiVersion": "leaderworkerset.x-k8s.io/v1", "kind": "LeaderWorkerSet", "name": "llama-70b"}
    assert scaled_object(model, SETTINGS, gateway=True)["spec"]["scaleTargetRef"] == ref
    assert hpa(model, SETTINGS)["spec"]["scaleTargetRef"] == ref
    assert (
        scaled_object(make_model(), SETTINGS, gateway=True)["spec"]["scaleTargetRef"]["kind"] == "Deployment"
    )


def test_prometheus_outage_keeps_current_replicas_and_fresh_deploys_wait_a_cold_start() -> None:
    from serving.autoscaling.timeline import cold_start_timeline

    model = tgi_model(min_replicas=0)
    spec = scaled_object(model, SETTINGS, gateway=True)["spec"]
    # KEDA 2.17 fallback.behavior: max(current, replicas) after 3 failed polls, never a drop to 1 at peak
    assert spec["fallback"] == {"failureThreshold": 3, "replicas": 1, "behavior": "currentReplicasIfHigher"}
    assert all(t["metadata"]["ignoreNullValues"] == "true" for t in spec["triggers"])
    assert all("vector(0)" not in t["metadata"]["query"] for t in spec["triggers"])
    timeline = cold_start_timeline(model, SETTINGS)
    assert spec["initialCooldownPeriod"] == int(timeline.total_seconds) + spec["cooldownPeriod"]
    assert spec["initialCooldownPeriod"] > timeline.total_seconds > model.plan.load_time_seconds


def test_a_pinned_alias_at_zero_is_a_loud_plan_warning_and_the_timeline_is_in_the_summary() -> None:
    from serving.autoscaling.timeline import cold_start_warnings, timeline_section

    config = {
        "autoscaling": {"polling_interval_seconds": 15},
        "models": [
            {"alias": "eu", "fallback": "none", "replicas_min": 0, "cold_start_hold_seconds": 60},
            {"alias": "open", "fallback": "bedrock", "replicas_min": 0},
            {"alias": "warm", "fallback": "none", "replicas_min": 1},
        ],
    }
    plans = {
        "eu": {"load_time_seconds": 300.0, "load_time_breakdown": [["image pull", 200.0], ["load", 100.0]]}
    }
    (warning,) = cold_start_warnings(config, plans)
    # detect 15 + 15, node 160, pod 300 = 490 s; 430 s of 503 after the 60 s hold
    assert warning.startswith("paddock:models[0].replicas.min: eu is pinned")
    assert "~490 s" in warning and "~430 s" in warning
    rows = timeline_section(config, plans)
    assert rows[0] == "## Scale from zero"
    assert "| eu | 0 | 30 | 160 | 300 | 490 | 330 | 60 |" in rows
