"""The scenario suite (tests/unit/rule_scenarios.py) against the rules of every shipped stack, built exactly
as components/monitoring.py builds them from the stack file and its ServingPlans."""

from __future__ import annotations

from pathlib import Path

import pytest

from scripts.promtool import ensure_promtool
from serving.autoscaling.config import autoscaling_settings, model_scaling, monitoring_settings
from stacks.offline import STACKS_DIR, parse_stack_config, read_stack_file
from stacks.planning import plan_models
from tests.unit.rule_scenarios import Scenarios
from tests.unit.test_rules_promtool import run_promtool

STACKS = ("dev", "prod-eu", "ephemeral")


@pytest.fixture(scope="module")
def promtool() -> Path:
    return ensure_promtool()


@pytest.mark.parametrize("stack", STACKS)
def test_shipped_stack_rules_pass_the_scenario_suite(promtool: Path, tmp_path: Path, stack: str) -> None:
    cfg = parse_stack_config(read_stack_file(STACKS_DIR / f"Pulumi.{stack}.yaml"), stack=stack)
    monitoring = monitoring_settings(cfg)
    models = model_scaling(cfg, plan_models(cfg))
    settings = autoscaling_settings(cfg)
    if monitoring is None or not monitoring.alerts:
        assert stack == "ephemeral"  # the developer stack ships no rules (monitoring.enabled: false)
        return
    assert models
    for model in models:
        cases = [c for _, c in Scenarios(model, settings, gateway=cfg.gateway.enabled).all()]
        out = tmp_path / model.alias
        out.mkdir()
        assert "SUCCESS" in run_promtool(promtool, out, model, settings, cases, gateway=cfg.gateway.enabled)
