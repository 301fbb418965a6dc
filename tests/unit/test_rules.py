"""Alert rules as data: which rules exist per model, plan-derived thresholds, runbooks, catalogued metrics."""

from __future__ import annotations

from pathlib import Path

import pytest

from serving.autoscaling import ModelScaling
from serving.monitoring.catalog import lookup
from serving.monitoring.promql import metric_names, unknown_metrics
from serving.monitoring.rules import AlertRule, gpu_memory_alert_fraction, model_rules, prometheus_rule
from tests.unit.scaling_fixtures import SETTINGS, assert_golden, make_model, tgi_model

ALL = [
    "PaddockQueueBackedUp",
    "PaddockKvCacheHigh",
    "PaddockTtftSloBreached",
    "PaddockNoReadyReplicas",
    "PaddockErrorRatioHigh",
    "PaddockFallbackRateSpike",
    "PaddockFallbackChronic",
    "PaddockModelPodRestarting",
    "PaddockGpuXidError",
    "PaddockGpuMemoryNearFull",
    "PaddockScrapeTargetDown",
    "PaddockMetricsAbsent",
]
FALLBACK = ("PaddockFallbackRateSpike", "PaddockFallbackChronic")


def _by_name(model: ModelScaling, gateway: bool = True) -> dict[str, AlertRule]:
    return {r.alert: r for r in model_rules(model, SETTINGS, gateway=gateway)}


def test_vllm_model_with_gateway_gets_every_rule() -> None:
    assert list(_by_name(make_model())) == ALL


def test_rules_without_their_signal_are_left_out() -> None:
    tgi = list(_by_name(tgi_model()))
    assert "PaddockKvCacheHigh" not in tgi  # TGI exports no KV usage
    assert list(_by_name(tgi_model(), gateway=False)) == [
        a for a in ALL if a not in ("PaddockKvCacheHigh", "PaddockTtftSloBreached", *FALLBACK)
    ]
    pinned = list(_by_name(make_model(has_fallback=False)))
    assert not set(FALLBACK) & set(pinned) and len(pinned) == len(ALL) - 2


@pytest.mark.parametrize(
    ("slo", "load", "min_replicas", "queue_for", "no_ready_for", "fallback_for"),
    [
        # no-ready waits 1.25 x (new node 160 s + load): a rollout or a cold start is not an outage
        (2.0, 600.0, 1, "15m", "16m", "10m"),
        (0.5, 60.0, 1, "10m", "5m", "10m"),
        (2.0, 600.0, 0, "15m", "16m", "15m"),
    ],
)
def test_thresholds_and_waits_follow_the_plan(
    slo: float, load: float, min_replicas: int, queue_for: str, no_ready_for: str, fallback_for: str
) -> None:
    model = make_model(
        slo_ttft_seconds=slo, min_replicas=min_replicas, plan_overrides={"load_time_seconds": load}
    )
    rules = _by_name(model)
    bound = {2.0: "2\\\\.5", 0.5: "0\\\\.5"}[slo]  # the first vLLM bucket at or above the SLO
    assert f'le=~"{bound}"' in rules["PaddockTtftSloBreached"].expr
    assert rules["PaddockQueueBackedUp"].for_ == queue_for
    assert rules["PaddockNoReadyReplicas"].for_ == no_ready_for
    assert rules["PaddockFallbackRateSpike"].for_ == fallback_for


@pytest.mark.parametrize(("gmu", "limit"), [(0.9, 0.95), (0.95, 0.975), (0.99, 0.98), (0.5, 0.75)])
def test_gpu_memory_limit_sits_in_the_planned_headroom(gmu: float, limit: float) -> None:
    assert gpu_memory_alert_fraction(gmu) == limit
    rule = _by_name(make_model(plan_overrides={"gpu_memory_utilization": gmu}))["PaddockGpuMemoryNearFull"]
    assert rule.expr.endswith(f"> {limit:g}")


def test_error_ratio_without_gateway_uses_engine_counters() -> None:
    assert 'finished_reason="abort"' in _by_name(make_model(), gateway=False)["PaddockErrorRatioHigh"].expr
    assert "tgi_request_failure{" in _by_name(tgi_model(), gateway=False)["PaddockErrorRatioHigh"].expr


def test_every_rule_has_a_runbook_and_catalogued_metrics() -> None:
    for model in (make_model(), tgi_model(), make_model("old", plan_overrides={"engine_version": "0.9.2"})):
        for gateway in (True, False):
            for rule in model_rules(model, SETTINGS, gateway=gateway):
                d = rule.to_dict(model.alias, model.namespace, "https://docs.example.com/mon.md")
                notes = d["annotations"]
                assert notes["runbook"] and notes["summary"] and notes["description"]
                assert notes["runbook_url"] == f"https://docs.example.com/mon.md#{rule.alert.lower()}"
                labels = {"severity": rule.severity, "alias": model.alias, "namespace": "serving"}
                assert d["labels"] == labels
                assert rule.to_dict(model.alias, "serving")["annotations"]["runbook_url"].startswith(
                    "serving/monitoring/README.md#"
                )
                assert unknown_metrics([rule.expr]) == set(), rule.alert
                assert all(lookup(n) is not None for n in metric_names(rule.expr))


def test_runbook_sections_exist_in_the_readme() -> None:
    readme = (Path(__file__).resolve().parents[2] / "serving/monitoring/README.md").read_text().lower()
    for alert in [*ALL, "PaddockMonitoringDegraded"]:
        assert f"### {alert.lower()}" in readme, alert


def test_unknown_metrics_flags_a_typo() -> None:
    assert unknown_metrics(['sum(vllm:num_request_waiting{a="b"})']) == {"vllm:num_request_waiting"}


def test_prometheus_rule_golden() -> None:
    assert_golden(
        prometheus_rule(make_model(), SETTINGS, gateway=True), "monitoring/prometheusrule-llama-70b.yaml"
    )


def test_lws_models_are_judged_by_their_leader_and_worker_pods() -> None:
    from serving.monitoring.targets import lws_pod_regex

    lws = _by_name(make_model("llama-405b", plan_overrides={"nodes_per_replica": 2}))
    assert lws_pod_regex("llama-405b") in lws["PaddockNoReadyReplicas"].expr
    assert lws_pod_regex("llama-405b") in lws["PaddockGpuXidError"].expr
    assert "kube_deployment" not in lws["PaddockNoReadyReplicas"].expr
    import re

    regex = re.compile(lws_pod_regex("llama-405b"))
    assert regex.fullmatch("llama-405b-0") and regex.fullmatch("llama-405b-0-1")
    assert not regex.fullmatch("llama-405b-eu-0")


def test_ttft_bucket_is_the_first_at_or_above_the_slo() -> None:
    from serving.monitoring.rules import le_matcher, slo_bucket

    assert slo_bucket(2.0, (1.0, 2.5, 5.0)) == 2.5
    assert slo_bucket(2.5, (1.0, 2.5, 5.0)) == 2.5
    assert slo_bucket(9.0, (1.0, 2.5, 5.0)) == 5.0
    assert le_matcher(2.0) == "2(\\\\.0+)?" and le_matcher(2.5) == "2\\\\.5"


def test_readme_alert_table_matches_the_rules() -> None:
    from serving.monitoring.health import cluster_rules

    readme = (Path(__file__).resolve().parents[2] / "serving/monitoring/README.md").read_text()
    rows = {
        cells[0].split(" ")[0]: cells
        for line in readme.splitlines()
        if line.startswith("| Paddock") and len(cells := [c.strip() for c in line.strip("|").split("|")]) == 6
    }
    rules = [*model_rules(make_model(), SETTINGS, gateway=True), *cluster_rules()]
    assert set(rows) == {r.alert for r in rules}
    for rule in rules:
        name, _, for_, severity, receiver, _ = rows[rule.alert]
        assert for_.split(" ")[0] == rule.for_, rule.alert  # the 600 s-load fixture model
        assert severity.split(" ")[0] == rule.severity and receiver == f"paddock-{rule.severity}"
