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
    "PaddockQueueGrowing",
    "PaddockKvCacheHigh",
    "PaddockTtftSloBreached",
    "PaddockNoReadyReplicas",
    "PaddockErrorRatioHigh",
    "PaddockFallbackRateSpike",
    "PaddockModelPodRestarting",
    "PaddockGpuXidError",
    "PaddockGpuMemoryNearFull",
]


def _by_name(model: ModelScaling, gateway: bool = True) -> dict[str, AlertRule]:
    return {r.alert: r for r in model_rules(model, SETTINGS, gateway=gateway)}


def test_vllm_model_with_gateway_gets_every_rule() -> None:
    assert list(_by_name(make_model())) == ALL


def test_rules_without_their_signal_are_left_out() -> None:
    tgi = list(_by_name(tgi_model()))
    assert "PaddockKvCacheHigh" not in tgi  # TGI exports no KV usage
    assert list(_by_name(tgi_model(), gateway=False)) == [
        a
        for a in ALL
        if a not in ("PaddockKvCacheHigh", "PaddockTtftSloBreached", "PaddockFallbackRateSpike")
    ]
    pinned = list(_by_name(make_model(has_fallback=False)))
    assert "PaddockFallbackRateSpike" not in pinned and len(pinned) == len(ALL) - 1


@pytest.mark.parametrize(
    ("slo", "load", "min_replicas", "queue_for", "no_ready_for", "fallback_for"),
    [
        (2.0, 600.0, 1, "15m", "2m", "10m"),
        (0.5, 60.0, 1, "10m", "2m", "10m"),
        (2.0, 600.0, 0, "15m", "17m", "15m"),  # scale to zero: a cold start is not an outage
    ],
)
def test_thresholds_and_waits_follow_the_plan(
    slo: float, load: float, min_replicas: int, queue_for: str, no_ready_for: str, fallback_for: str
) -> None:
    model = make_model(
        slo_ttft_seconds=slo, min_replicas=min_replicas, plan_overrides={"load_time_seconds": load}
    )
    rules = _by_name(model)
    assert rules["PaddockTtftSloBreached"].expr.endswith(f"> {slo:g}")
    assert rules["PaddockQueueGrowing"].for_ == queue_for
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
                d = rule.to_dict(model.alias)
                assert d["annotations"]["runbook"] and d["annotations"]["summary"]
                assert d["annotations"]["runbook_url"] == f"serving/monitoring/README.md#{rule.alert.lower()}"
                assert d["labels"] == {"severity": rule.severity, "alias": model.alias}
                assert unknown_metrics([rule.expr]) == set(), rule.alert
                assert all(lookup(n) is not None for n in metric_names(rule.expr))


def test_runbook_sections_exist_in_the_readme() -> None:
    readme = (Path(__file__).resolve().parents[2] / "serving/monitoring/README.md").read_text().lower()
    for alert in ALL:
        assert f"### {alert.lower()}" in readme, alert


def test_unknown_metrics_flags_a_typo() -> None:
    assert unknown_metrics(['sum(vllm:num_request_waiting{a="b"})']) == {"vllm:num_request_waiting"}


def test_prometheus_rule_golden() -> None:
    assert_golden(
        prometheus_rule(make_model(), SETTINGS, gateway=True), "monitoring/prometheusrule-llama-70b.yaml"
    )
