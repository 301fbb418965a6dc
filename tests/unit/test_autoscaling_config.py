"""Stack config (stacks/Pulumi.prod-eu.yaml) -> scaling and monitoring inputs."""

from __future__ import annotations

from pathlib import Path

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
    assert got == [("llama-70b", 1, 4, 2.0, 120.0, True), ("llama-8b-eu-only", 1, 3, 1.0, 60.0, False)]
    assert {m.namespace for m in models} == {cfg.namespace}
    settings = autoscaling_settings(cfg)
    assert (settings.keda, settings.node_autoscaler, settings.cooldown_seconds) == (
        True,
        "cluster-autoscaler",
        600,
    )
    assert monitoring_settings(cfg) == MonitoringSettings(enabled=True, grafana=True, alerts=True)


@pytest.mark.parametrize(
    ("monitoring", "keda", "expected"),
    [
        ({"enabled": False}, True, MonitoringSettings(enabled=True, grafana=False, alerts=False)),
        ({"enabled": False}, False, None),
        ({"enabled": True, "grafana": False}, False, MonitoringSettings(grafana=False)),
    ],
)
def test_prometheus_stays_when_keda_needs_it(
    monitoring: dict[str, bool], keda: bool, expected: MonitoringSettings | None
) -> None:
    raw = yaml.safe_load(PROD.read_text())["config"]
    raw["paddock:monitoring"] = monitoring
    raw["paddock:autoscaling"] = {"keda": keda}
    if not (monitoring["enabled"] or keda):
        raw["paddock:versions"].pop("kubePrometheusStackChart", None)  # not required: nothing uses it
    assert monitoring_settings(parse_stack_config(raw, stack="prod-eu")) == expected


def test_missing_plan_is_named() -> None:
    cfg = load_stack_file(PROD)
    with pytest.raises(InputError, match="no ServingPlan for llama-8b-eu-only") as err:
        model_scaling(cfg, {"llama-70b": make_plan()})
    assert err.value.field == "paddock:models"
