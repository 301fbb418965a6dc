"""The metric catalog: sources with dates, version switches, histogram lookups, the PromQL name lister."""

from __future__ import annotations

import re

import pytest

from serving.errors import InputError
from serving.monitoring.catalog import CATALOG, exported_by, lookup, vllm_metrics
from serving.monitoring.promql import metric_names


def test_every_entry_has_a_dated_source_and_a_unique_name() -> None:
    names = [m.name for m in CATALOG]
    assert len(names) == len(set(names))
    for m in CATALOG:
        assert re.search(r"\d{4}-\d{2}-\d{2}", m.source), m.name
        assert m.type != "counter" or m.name.endswith("_total") or m.exporter == "tgi", m.name


@pytest.mark.parametrize(
    ("version", "kv", "itl"),
    [
        ("0.9.2", "vllm:gpu_cache_usage_perc", "vllm:time_per_output_token_seconds"),
        ("0.10.1", "vllm:kv_cache_usage_perc", "vllm:time_per_output_token_seconds"),
        ("0.11.0", "vllm:kv_cache_usage_perc", "vllm:inter_token_latency_seconds"),
        ("0.19.0+cu128", "vllm:kv_cache_usage_perc", "vllm:inter_token_latency_seconds"),
    ],
)
def test_vllm_names_by_version(version: str, kv: str, itl: str) -> None:
    names = vllm_metrics(version)
    assert (names.kv_cache_usage, names.inter_token_latency) == (kv, itl)


def test_deprecated_names_stop_at_their_removal() -> None:
    old = lookup("vllm:gpu_cache_usage_perc")
    assert old is not None
    assert exported_by(old, "0.10.2") and not exported_by(old, "0.11.0")


def test_bad_version_is_input_error() -> None:
    with pytest.raises(InputError, match="'latest' is not a version") as err:
        vllm_metrics("latest")
    assert err.value.field == "engineVersion"


def test_lookup_resolves_histogram_series_only() -> None:
    ttft = lookup("vllm:time_to_first_token_seconds_bucket")
    assert ttft is not None and ttft.type == "histogram"
    assert lookup("vllm:num_requests_running_sum") is None  # a gauge has no _sum series
    assert lookup("nope") is None


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        (
            'sum(rate(vllm:generation_tokens_total{alias="a"}[5m])) * 3600 / 1e6',
            {"vllm:generation_tokens_total"},
        ),
        ("histogram_quantile(0.95, sum by (le) (rate(x_bucket[$__rate_interval])))", {"x_bucket"}),
        ("a == 0 and on(namespace) b > bool 0 or vector(0)", {"a", "b"}),
        ('label_replace(up{job="x"}, "dst", "$1", "src", "(.*)")', {"up"}),
        ("deriv(sum(q)[10m:1m]) > 0 unless ignoring(pod) r offset 5m", {"q", "r"}),
    ],
)
def test_metric_names(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names
