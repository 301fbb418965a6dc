"""Grafana dashboards: valid JSON, plan values, every query names catalogued metrics, PromQL syntax."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from scripts.promtool import ensure_promtool
from serving.autoscaling import ModelScaling
from serving.errors import RenderError
from serving.monitoring import dashboards as dash
from serving.monitoring.catalog import exported_by, lookup
from serving.monitoring.promql import metric_names
from tests.unit.scaling_fixtures import SETTINGS, assert_golden, make_model, tgi_model

MODELS = {
    "vllm-0.11": make_model("llama-70b"),
    "vllm-0.9": make_model("llama-old", plan_overrides={"engine_version": "0.9.2"}),
    "vllm-0.13": make_model("llama-new", plan_overrides={"engine_version": "0.13.0"}),
    "tgi": tgi_model("llama-8b"),
    "no-price": make_model("llama-free", plan_overrides={"hourly_cost_usd": None}),
}


def _panels(d: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["title"]: p for p in d["panels"]}


@pytest.mark.parametrize("name", sorted(p.name for p in dash.DASHBOARD_DIR.glob("*.json")))
def test_dashboard_files_are_valid_grafana_json(name: str) -> None:
    data = json.loads((dash.DASHBOARD_DIR / name).read_text())
    ids = [p["id"] for p in data["panels"]]
    assert len(ids) == len(set(ids)) and ids == sorted(ids)
    assert data["templating"]["list"][0]["type"] == "datasource"
    for panel in data["panels"]:
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert panel["targets"], panel["title"]
        assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24


@pytest.mark.parametrize("key", sorted(MODELS))
def test_built_dashboard_queries_name_only_metrics_the_engine_exports(key: str) -> None:
    model = MODELS[key]
    board = dash.model_dashboard(model, SETTINGS)
    assert "__" not in json.dumps(board).replace("$__rate_interval", "")
    for title, expr in dash.panel_queries(board):
        for name in metric_names(expr):
            metric = lookup(name)
            assert metric is not None, f"{title}: {name} is not in the catalog"
            if metric.exporter in ("vllm", "tgi"):
                assert metric.exporter == model.plan.engine, f"{title}: {name}"
                assert exported_by(metric, model.plan.engine_version), f"{title}: {name} @ {key}"


def test_gateway_dashboard_queries_are_catalogued_gateway_metrics() -> None:
    found = [lookup(n) for _, e in dash.panel_queries(dash.gateway_dashboard()) for n in metric_names(e)]
    assert {m.exporter if m else None for m in found} == {"gateway"}


def test_plan_values_land_in_panels() -> None:
    board = dash.model_dashboard(MODELS["vllm-0.11"], SETTINGS)
    panels = _panels(board)
    ttft = panels["Time to first token"]
    assert ttft["fieldConfig"]["defaults"]["thresholds"]["steps"][1] == {"color": "red", "value": 2.0}
    gpu = panels["GPU memory used"]
    assert gpu["fieldConfig"]["defaults"]["thresholds"]["steps"][1]["value"] == 0.95
    cost = panels[dash.COST_PANEL_TITLE]["targets"][0]["expr"]
    assert cost.startswith("(98.32 * count(count by (pod) (vllm:num_requests_running{")
    assert "Sizing estimate: 14.22 $/1M" in panels[dash.COST_PANEL_TITLE]["description"]
    assert panels["Queue depth and running sequences"]["description"] == (
        "Scaling targets per replica: running 32, waiting 4 (capacity 40)"
    )
    assert "vllm:kv_cache_usage_perc{" in panels["KV-cache usage"]["targets"][0]["expr"]
    assert (board["uid"], board["title"]) == ("paddock-llama-70b", "Paddock / llama-70b (vLLM)")


def test_version_specific_names_are_used() -> None:
    old = _panels(dash.model_dashboard(MODELS["vllm-0.9"], SETTINGS))
    assert "vllm:gpu_cache_usage_perc{" in old["KV-cache usage"]["targets"][0]["expr"]
    assert "vllm:time_per_output_token_seconds_bucket" in old["Time per output token"]["targets"][0]["expr"]
    new = _panels(dash.model_dashboard(MODELS["vllm-0.13"], SETTINGS))
    assert "vllm:inter_token_latency_seconds_bucket" in new["Time per output token"]["targets"][0]["expr"]


def test_no_price_drops_the_cost_panel() -> None:
    titles = set(_panels(dash.model_dashboard(MODELS["no-price"], SETTINGS)))
    assert dash.COST_PANEL_TITLE not in titles
    assert dash.COST_PANEL_TITLE in set(_panels(dash.model_dashboard(MODELS["vllm-0.11"], SETTINGS)))


def test_dashboards_set_and_golden() -> None:
    models: tuple[ModelScaling, ...] = (MODELS["vllm-0.11"], MODELS["tgi"])
    boards = dash.dashboards(models, SETTINGS, gateway=True)
    assert sorted(boards) == ["paddock-gateway.json", "paddock-llama-70b.json", "paddock-llama-8b.json"]
    assert sorted(dash.dashboards(models, SETTINGS, gateway=False)) == [
        "paddock-llama-70b.json",
        "paddock-llama-8b.json",
    ]
    assert_golden(boards["paddock-llama-70b.json"], "monitoring/dashboard-llama-70b.json")
    assert_golden(boards["paddock-llama-8b.json"], "monitoring/dashboard-llama-8b-tgi.json")


def test_every_query_is_valid_promql(tmp_path: Path) -> None:
    exprs = [e for m in MODELS.values() for _, e in dash.panel_queries(dash.model_dashboard(m, SETTINGS))]
    exprs += [e for _, e in dash.panel_queries(dash.gateway_dashboard())]
    rules = [
        {"record": f"paddock:check:{i}", "expr": e.replace("$__rate_interval", "5m")}
        for i, e in enumerate(exprs)
    ]
    path = tmp_path / "queries.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    done = subprocess.run(
        [str(ensure_promtool()), "check", "rules", str(path)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(rules)} rules found" in done.stdout


def test_fill_types_whole_placeholders_and_reports_missing_ones() -> None:
    node = {"a": "__X__", "b": ["x=__X__ y=__Y__"], "c": 3}
    assert dash.fill(node, {"X": 0.5, "Y": "q"}) == {"a": 0.5, "b": ["x=0.5 y=q"], "c": 3}
    with pytest.raises(RenderError, match=re.escape("no value for __Y__")):
        dash.fill(node, {"X": 1})


def test_load_errors_name_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dash, "DASHBOARD_DIR", tmp_path)
    with pytest.raises(RenderError, match="dashboard missing.json"):
        dash.load("missing.json")
    (tmp_path / "list.json").write_text("[1]")
    with pytest.raises(RenderError, match="list.json is not a JSON object"):
        dash.load("list.json")


def test_lws_dashboard_counts_leader_and_worker_pods_per_replica() -> None:
    from serving.monitoring.targets import lws_pod_regex

    model = make_model("llama-405b", plan_overrides={"nodes_per_replica": 2})
    text = json.dumps(dash.dashboards((model,), SETTINGS, gateway=True))
    assert "kube_deployment" not in text
    assert json.dumps(lws_pod_regex("llama-405b"))[1:-1] in text
    assert ") / 2" in text  # wanted replicas = pods / nodes per replica
