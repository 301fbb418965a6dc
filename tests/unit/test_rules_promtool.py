"""Every alert rule against fixture series with ``promtool test rules`` (firing and quiet cases), on vLLM,
TGI (min 0) and LWS fixture models; the same scenarios run against each shipped stack's rules in
test_rules_promtool_stacks.py.

promtool comes from Debian's prometheus package via scripts/promtool.py (fetched once into .tools/bin).
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from scripts.promtool import ensure_promtool
from serving.autoscaling import AutoscalingSettings, ModelScaling
from serving.monitoring.health import cluster_group
from serving.monitoring.rules import rule_group
from tests.unit.rule_scenarios import Case, Scenarios
from tests.unit.scaling_fixtures import SETTINGS, make_model, tgi_model

VLLM = make_model("llama-70b")
TGI = tgi_model("llama-8b", min_replicas=0)
LWS = make_model("llama-405b", plan_overrides={"nodes_per_replica": 2})


@pytest.fixture(scope="module")
def promtool() -> Path:
    return ensure_promtool()


def run_promtool(
    promtool: Path,
    tmp_path: Path,
    model: ModelScaling,
    settings: AutoscalingSettings,
    cases: list[Case],
    *,
    gateway: bool = True,
) -> str:
    """promtool test rules with the model's rule group and the cluster group; AssertionError on failure."""
    rules = tmp_path / "rules.yaml"
    groups = [rule_group(model, settings, gateway=gateway), cluster_group()]
    rules.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
    tests = tmp_path / "tests.yaml"
    body: dict[str, Any] = {"rule_files": [rules.name], "evaluation_interval": "1m", "tests": cases}
    tests.write_text(yaml.safe_dump(body, sort_keys=False))
    done = subprocess.run(
        [str(promtool), "test", "rules", tests.name],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.mark.parametrize("model", [VLLM, TGI, LWS], ids=["vllm", "tgi-zero", "lws"])
def test_rules_fire_and_stay_quiet(promtool: Path, tmp_path: Path, model: ModelScaling) -> None:
    cases = [c for _, c in Scenarios(model, SETTINGS, gateway=True).all()]
    assert "SUCCESS" in run_promtool(promtool, tmp_path, model, SETTINGS, cases)


@pytest.mark.parametrize("model", [VLLM, TGI], ids=["vllm", "tgi-zero"])
def test_every_rule_has_a_firing_and_a_quiet_scenario(model: ModelScaling) -> None:
    scenarios = Scenarios(model, SETTINGS, gateway=True)
    fired = {
        c["alert_rule_test"][0]["alertname"]
        for _, c in scenarios.all()
        if c["alert_rule_test"][0]["exp_alerts"]
    }
    quiet = {
        c["alert_rule_test"][0]["alertname"]
        for _, c in scenarios.all()
        if not c["alert_rule_test"][0]["exp_alerts"]
    }
    assert fired == quiet == set(scenarios.rules)


def test_a_wrong_expectation_fails_promtool(promtool: Path, tmp_path: Path) -> None:
    s = Scenarios(VLLM, SETTINGS, gateway=True)
    names = dict(s.all())
    flipped = names["the last XID held for hours is quiet"]
    flipped["alert_rule_test"][0]["exp_alerts"] = [s.alert("PaddockGpuXidError", s.gpu_labels, "79")]
    with pytest.raises(AssertionError, match="PaddockGpuXidError"):
        run_promtool(promtool, tmp_path, VLLM, SETTINGS, [flipped])
