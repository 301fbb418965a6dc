"""HPA fallback without KEDA: prometheus-adapter values, and every HPA metric served by one of its rules."""

from __future__ import annotations

import re
from typing import Any

import pytest

from serving.autoscaling import hpa
from serving.autoscaling.adapter import prometheus_adapter_values, split_prometheus_url
from serving.errors import InputError
from serving.monitoring.catalog import lookup
from tests.unit.scaling_fixtures import SETTINGS, assert_golden, make_model, tgi_model

URL = "http://prometheus-operated.monitoring.svc:9090"
#: a PromQL series selector: metric name (colons allowed) followed by label matchers
_SELECTOR = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)\{(.*)\}$")


def _rendered_rules() -> list[dict[str, Any]]:
    rules = prometheus_adapter_values(prometheus_url=URL)["rules"]
    assert rules["default"] is False and rules["external"] == []
    assert "resource" not in rules  # metrics.k8s.io stays with metrics-server
    custom: list[dict[str, Any]] = rules["custom"]
    return custom


def _exposed_name(rule: dict[str, Any], series: str) -> str:
    """The custom-metrics API name the adapter gives ``series``: the ``name.matches`` regex must match and
    ``name.as`` is expanded with its groups (Go ``$1``/``${1}`` syntax)."""
    found = re.search(rule["name"]["matches"], series)
    assert found is not None, f"{rule['name']['matches']} does not match {series}"
    return found.expand(re.sub(r"\$\{?(\d+)\}?", r"\\\1", rule["name"]["as"]))


def test_values_golden() -> None:
    values = prometheus_adapter_values(prometheus_url=URL)
    assert values["prometheus"] == {
        "url": "http://prometheus-operated.monitoring.svc",
        "port": 9090,
        "path": "",
    }
    assert (values["replicas"], values["metricsRelistInterval"]) == (2, "30s")
    assert_golden(values, "autoscaling/prometheus-adapter-values.yaml")


def test_every_hpa_metric_is_served_by_a_rule_on_a_catalog_metric() -> None:
    exposed: dict[str, tuple[str, str]] = {}  # API name -> (series, its exporter)
    for rule in _rendered_rules():
        selector = _SELECTOR.match(rule["seriesQuery"])
        assert selector is not None, rule["seriesQuery"]
        series, matchers = selector.groups()
        metric = lookup(series)
        assert metric is not None, f"{series} is not in serving/monitoring's metric catalog"
        assert metric.type == "gauge"  # summed per pod as-is, no rate()
        assert set(matchers.split(",")) == {'namespace!=""', 'pod!=""'}
        assert rule["resources"]["overrides"] == {
            "namespace": {"resource": "namespace"},
            "pod": {"resource": "pod"},
        }
        assert rule["metricsQuery"] == "sum(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy>>)"
        name = _exposed_name(rule, series)
        assert name not in exposed, f"two rules expose {name}"
        exposed[name] = (series, metric.exporter)
    for model in (make_model(), tgi_model()):
        metrics = hpa(model, SETTINGS)["spec"]["metrics"]
        for m in metrics:
            assert m["type"] == "Pods"
            name = m["pods"]["metric"]["name"]
            assert name in exposed, f"HPA of {model.alias} reads {name}, which no adapter rule exposes"
            assert exposed[name][1] == model.plan.engine
    assert sorted(exposed) == [
        "tgi_batch_current_size",
        "tgi_queue_size",
        "vllm_num_requests_running",
        "vllm_num_requests_waiting",
    ]


def test_a_renamed_rule_would_be_caught() -> None:
    rule = _rendered_rules()[0]
    assert _exposed_name(rule, "vllm:num_requests_waiting") == "vllm_num_requests_waiting"
    renamed = {**rule, "name": {"matches": "^vllm:(.*)$", "as": "engine_${1}"}}
    assert _exposed_name(renamed, "vllm:num_requests_waiting") == "engine_num_requests_waiting"


@pytest.mark.parametrize(
    ("url", "parts"),
    [
        (URL, ("http://prometheus-operated.monitoring.svc", 9090, "")),
        ("https://prom.example.internal/prometheus/", ("https://prom.example.internal", 443, "/prometheus")),
        ("http://prometheus.monitoring", ("http://prometheus.monitoring", 80, "")),
    ],
)
def test_split_prometheus_url(url: str, parts: tuple[str, int, str]) -> None:
    assert split_prometheus_url(url) == parts
    values = prometheus_adapter_values(prometheus_url=url)["prometheus"]
    assert (values["url"], values["port"], values["path"]) == parts


@pytest.mark.parametrize(
    "url",
    ["prometheus-operated:9090", "ftp://prom:21", "http://:9090", "http://prom:notaport", "http://p?x=1"],
)
def test_bad_prometheus_url_is_refused(url: str) -> None:
    with pytest.raises(InputError, match="is not an http") as err:
        prometheus_adapter_values(prometheus_url=url)
    assert err.value.field == "prometheus_url"
