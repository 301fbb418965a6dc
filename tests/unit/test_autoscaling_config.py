"""Stack config (stacks/Pulumi.prod-eu.yaml) -> scaling and monitoring inputs."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from serving.autoscaling.config import autoscaling_settings, model_scaling, monitoring_settings
from serving.errors import InputError
from serving.monitoring.values import MonitoringSettings
from serving.stack_config import load_stack_file, parse_stack_config
from tests.unit.scaling_fixtures import make_plan

PROD = Path(__file__).resolve().parents[2] / "stacks" / "Pulumi.prod-eu.yaml"


def test_prod_eu_models_map_one_to_one() -> None:
    cfg = load_stack_file(PROD)
    plans = {m.alias: make_plan() for m in cfg.models}
    models = model_scaling(cfg, plans)
    got = [
        (
            m.alias,
            m.min_replicas,
            m.max_replicas,
            m.slo_ttft_seconds,
            m.cold_start_hold_seconds,
            m.has_fallback,
        )
        for m in models
    ]
    assert got == [("llama-70b", 1, 5, 2.0, 120.0, True), ("llama-8b-eu-only", 1, 4, 1.0, 60.0, False)]
    assert {m.namespace for m in models} == {cfg.namespace}
    settings = autoscaling_settings(cfg)
    assert (settings.keda, settings.node_autoscaler, settings.cooldown_seconds) == (
        True,
        "cluster-autoscaler",
        600,
    )
    assert monitoring_settings(cfg) == MonitoringSettings(enabled=True, grafana=True, alerts=True)


def _raw(monitoring: dict[str, bool], keda: bool) -> dict[str, Any]:
    raw: dict[str, Any] = yaml.safe_load(PROD.read_text())["config"]
    raw["paddock:monitoring"] = monitoring
    raw["paddock:autoscaling"] = {"keda": keda}
    if not keda:
        raw["paddock:versions"].pop("kedaChart")
        raw["paddock:versions"]["prometheusAdapterChart"] = "5.3.0"
    return raw


PROMETHEUS_ONLY = MonitoringSettings(enabled=True, grafana=False, alerts=False)


@pytest.mark.parametrize(
    ("monitoring", "keda", "expected"),
    [
        ({"enabled": False}, True, PROMETHEUS_ONLY),
        ({"enabled": False}, False, PROMETHEUS_ONLY),  # the HPAs read Prometheus through the adapter
        ({"enabled": True, "grafana": False}, False, MonitoringSettings(grafana=False)),
    ],
)
def test_prometheus_stays_when_pod_autoscaling_needs_it(
    monitoring: dict[str, bool], keda: bool, expected: MonitoringSettings | None
) -> None:
    cfg = parse_stack_config(_raw(monitoring, keda), stack="prod-eu")
    assert monitoring_settings(cfg) == expected
    assert cfg.versions.prometheus_adapter_chart == (None if keda else "5.3.0")


def test_without_models_there_is_no_prometheus() -> None:
    cfg = parse_stack_config(_raw({"enabled": False}, False), stack="prod-eu")
    assert monitoring_settings(replace(cfg, models=())) is None


def test_keda_off_requires_the_adapter_chart() -> None:
    raw = _raw({"enabled": False}, False)
    raw["paddock:versions"].pop("prometheusAdapterChart")
    raw["paddock:versions"].pop("kubePrometheusStackChart")
    with pytest.raises(InputError) as err:
        parse_stack_config(raw, stack="prod-eu")
    text = str(err.value)
    assert "paddock:versions.prometheusAdapterChart: is required (paddock:autoscaling.keda is false" in text
    assert "paddock:versions.kubePrometheusStackChart: is required" in text  # the HPAs need a Prometheus


def test_adapter_chart_must_be_a_version() -> None:
    raw = _raw({"enabled": True}, False)
    raw["paddock:versions"]["prometheusAdapterChart"] = "latest"
    with pytest.raises(InputError, match=r"paddock:versions.prometheusAdapterChart: .*not a chart version"):
        parse_stack_config(raw, stack="prod-eu")


def test_missing_plan_is_named() -> None:
    cfg = load_stack_file(PROD)
    with pytest.raises(InputError, match="no ServingPlan for llama-8b-eu-only") as err:
        model_scaling(cfg, {"llama-70b": make_plan()})
    assert err.value.field == "paddock:models"
