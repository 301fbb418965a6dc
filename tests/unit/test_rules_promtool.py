"""Every alert rule against fixture series with ``promtool test rules`` (firing and quiet cases).

promtool comes from Debian's prometheus package via scripts/promtool.py (fetched once into .tools/bin).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from scripts.promtool import ensure_promtool
from serving.autoscaling import ModelScaling
from serving.monitoring.rules import rule_group
from tests.unit.scaling_fixtures import SETTINGS, make_model, tgi_model

VLLM = make_model("llama-70b")
TGI = tgi_model("llama-8b", min_replicas=0)
POD = "llama-70b-7d9f8c-x2k4p"
SEL = f'namespace="serving",alias="llama-70b",pod="{POD}"'
GPU = f'namespace="serving",pod="{POD}",gpu="0",Hostname="ip-10-0-1-5"'
GPU_LABELS = {"Hostname": "ip-10-0-1-5", "gpu": "0", "pod": POD}
OK = 'paddock_gateway_requests_total{alias="llama-70b",upstream="primary",status="200"}'
BAD = 'paddock_gateway_requests_total{alias="llama-70b",upstream="primary",status="503"}'


def _rules(model: ModelScaling) -> dict[str, dict[str, Any]]:
    return {r["alert"]: r for r in rule_group(model, SETTINGS, gateway=True)["rules"]}


def _expand(text: str, labels: dict[str, str], value: str) -> str:
    text = re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels[m.group(1)], text)
    return text.replace("{{ $value }}", value)


def _alert(model: ModelScaling, name: str, labels: dict[str, str], value: str = "") -> dict[str, Any]:
    rule = _rules(model)[name]
    all_labels = {**labels, **rule["labels"]}
    notes = {k: _expand(v, all_labels, value) for k, v in rule["annotations"].items()}
    return {"exp_labels": all_labels, "exp_annotations": notes}


def _case(series: dict[str, str], at: str, alert: str, expected: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "interval": "1m",
        "input_series": [{"series": s, "values": v} for s, v in series.items()],
        "alert_rule_test": [{"eval_time": at, "alertname": alert, "exp_alerts": expected}],
    }


def _ttft_buckets(series: str, slow: bool) -> dict[str, str]:
    # 10 requests a minute; slow = all between 2.5 s and 5 s, fast = all under 1 s
    return {
        f'{series[:-1]},le="1"}}': "0+0x30" if slow else "0+10x30",
        f'{series[:-1]},le="2.5"}}': "0+0x30" if slow else "0+10x30",
        f'{series[:-1]},le="5"}}': "0+10x30",
        f'{series[:-1]},le="+Inf"}}': "0+10x30",
    }


def vllm_cases() -> list[dict[str, Any]]:
    ksm = 'namespace="serving",deployment="llama-70b"'
    gw = 'alias="llama-70b",upstream="primary"'
    restarts = (
        f'kube_pod_container_status_restarts_total{{namespace="serving",pod="{POD}",container="engine"}}'
    )
    return [
        # queue growing past 4/replica: fires once it has grown for longer than a scale-out (15m)
        _case(
            {f"vllm:num_requests_waiting{{{SEL}}}": "0+1x60", f"vllm:num_requests_running{{{SEL}}}": "32x60"},
            "40m",
            "PaddockQueueGrowing",
            [_alert(VLLM, "PaddockQueueGrowing", {})],
        ),
        # a long but stable queue is the autoscaler's job, not an alert
        _case(
            {f"vllm:num_requests_waiting{{{SEL}}}": "10x60", f"vllm:num_requests_running{{{SEL}}}": "32x60"},
            "40m",
            "PaddockQueueGrowing",
            [],
        ),
        _case(
            {f"vllm:kv_cache_usage_perc{{{SEL}}}": "0.95x30"},
            "15m",
            "PaddockKvCacheHigh",
            [_alert(VLLM, "PaddockKvCacheHigh", {"pod": POD})],
        ),
        _case({f"vllm:kv_cache_usage_perc{{{SEL}}}": "0.85x30"}, "15m", "PaddockKvCacheHigh", []),
        _case(
            _ttft_buckets(f"vllm:time_to_first_token_seconds_bucket{{{SEL}}}", True),
            "20m",
            "PaddockTtftSloBreached",
            [_alert(VLLM, "PaddockTtftSloBreached", {})],
        ),
        _case(
            _ttft_buckets(f"vllm:time_to_first_token_seconds_bucket{{{SEL}}}", False),
            "20m",
            "PaddockTtftSloBreached",
            [],
        ),
        _case(
            {
                f"kube_deployment_status_replicas_ready{{{ksm}}}": "0x10",
                f"kube_deployment_spec_replicas{{{ksm}}}": "1x10",
            },
            "5m",
            "PaddockNoReadyReplicas",
            [_alert(VLLM, "PaddockNoReadyReplicas", {"namespace": "serving", "deployment": "llama-70b"})],
        ),
        # scaled to zero on purpose: nothing is wanted, nothing is missing
        _case(
            {
                f"kube_deployment_status_replicas_ready{{{ksm}}}": "0x10",
                f"kube_deployment_spec_replicas{{{ksm}}}": "0x10",
            },
            "5m",
            "PaddockNoReadyReplicas",
            [],
        ),
        _case(
            {OK: "0+100x30", BAD: "0+10x30"},
            "20m",
            "PaddockErrorRatioHigh",
            [_alert(VLLM, "PaddockErrorRatioHigh", {})],
        ),
        _case({OK: "0+100x30", BAD: "0+1x30"}, "20m", "PaddockErrorRatioHigh", []),
        # 30 % of traffic suddenly spills after 40 quiet minutes: a spike
        _case(
            {
                f'paddock_gateway_requests_total{{{gw},status="200"}}': "0+100x70",
                'paddock_gateway_fallbacks_total{alias="llama-70b",reason="connect_refused"}': "0x40 0+30x30",
            },
            "58m",
            "PaddockFallbackRateSpike",
            [_alert(VLLM, "PaddockFallbackRateSpike", {})],
        ),
        # the same 30 % all hour long is the steady state, not a spike
        _case(
            {
                f'paddock_gateway_requests_total{{{gw},status="200"}}': "0+100x70",
                'paddock_gateway_fallbacks_total{alias="llama-70b",reason="connect_refused"}': "0+30x70",
            },
            "65m",
            "PaddockFallbackRateSpike",
            [],
        ),
        _case(
            {restarts: "0x10 1x10"},
            "13m",
            "PaddockModelPodRestarting",
            [
                _alert(
                    VLLM,
                    "PaddockModelPodRestarting",
                    {"namespace": "serving", "pod": POD, "container": "engine"},
                )
            ],
        ),
        _case({restarts: "3x20"}, "13m", "PaddockModelPodRestarting", []),
        _case(
            {f"DCGM_FI_DEV_XID_ERRORS{{{GPU}}}": "0x5 79x10"},
            "10m",
            "PaddockGpuXidError",
            [_alert(VLLM, "PaddockGpuXidError", GPU_LABELS, "79")],
        ),
        # another model's pod (llama-70b-eu) never matches llama-70b's pod regex
        _case(
            {
                'DCGM_FI_DEV_XID_ERRORS{namespace="serving",pod="llama-70b-eu-5c6d7-abcde",gpu="0",'
                'Hostname="ip-10-0-1-6"}': "79x15"
            },
            "10m",
            "PaddockGpuXidError",
            [],
        ),
        _case(
            {f"DCGM_FI_DEV_FB_USED{{{GPU}}}": "76000x30", f"DCGM_FI_DEV_FB_FREE{{{GPU}}}": "3000x30"},
            "20m",
            "PaddockGpuMemoryNearFull",
            [_alert(VLLM, "PaddockGpuMemoryNearFull", GPU_LABELS)],
        ),
        # 90 % used is exactly what gpu-memory-utilization 0.9 preallocates: healthy
        _case(
            {f"DCGM_FI_DEV_FB_USED{{{GPU}}}": "72000x30", f"DCGM_FI_DEV_FB_FREE{{{GPU}}}": "8000x30"},
            "20m",
            "PaddockGpuMemoryNearFull",
            [],
        ),
    ]


def tgi_cases() -> list[dict[str, Any]]:
    sel = 'namespace="serving",alias="llama-8b",pod="llama-8b-5f6d7-abcde"'
    ksm = 'namespace="serving",deployment="llama-8b"'
    ttft = 'paddock_gateway_time_to_first_token_seconds_bucket{alias="llama-8b",upstream="primary"}'
    return [
        _case(
            {f"tgi_queue_size{{{sel}}}": "0+1x60", f"tgi_batch_current_size{{{sel}}}": "25x60"},
            "40m",
            "PaddockQueueGrowing",
            [_alert(TGI, "PaddockQueueGrowing", {})],
        ),
        _case(
            _ttft_buckets(ttft, True),
            "20m",
            "PaddockTtftSloBreached",
            [_alert(TGI, "PaddockTtftSloBreached", {})],
        ),
        # min 0: no ready replica is expected while loading (2m + 1.5 x 240 s = 8m)
        _case(
            {
                f"kube_deployment_status_replicas_ready{{{ksm}}}": "0x20",
                f"kube_deployment_spec_replicas{{{ksm}}}": "1x20",
            },
            "5m",
            "PaddockNoReadyReplicas",
            [],
        ),
        _case(
            {
                f"kube_deployment_status_replicas_ready{{{ksm}}}": "0x20",
                f"kube_deployment_spec_replicas{{{ksm}}}": "1x20",
            },
            "12m",
            "PaddockNoReadyReplicas",
            [_alert(TGI, "PaddockNoReadyReplicas", {"namespace": "serving", "deployment": "llama-8b"})],
        ),
    ]


@pytest.fixture(scope="module")
def promtool() -> Path:
    return ensure_promtool()


def _run(promtool: Path, tmp_path: Path, model: ModelScaling, cases: list[dict[str, Any]]) -> str:
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump({"groups": [rule_group(model, SETTINGS, gateway=True)]}, sort_keys=False))
    tests = tmp_path / "tests.yaml"
    tests.write_text(
        yaml.safe_dump(
            {"rule_files": [rules.name], "evaluation_interval": "1m", "tests": cases}, sort_keys=False
        )
    )
    done = subprocess.run(
        [str(promtool), "test", "rules", tests.name],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_vllm_rules_fire_and_stay_quiet(promtool: Path, tmp_path: Path) -> None:
    assert "SUCCESS" in _run(promtool, tmp_path, VLLM, vllm_cases())


def test_tgi_rules_fire_and_stay_quiet(promtool: Path, tmp_path: Path) -> None:
    assert "SUCCESS" in _run(promtool, tmp_path, TGI, tgi_cases())


def test_every_vllm_rule_has_a_firing_case() -> None:
    fired = {
        t["alert_rule_test"][0]["alertname"] for t in vllm_cases() if t["alert_rule_test"][0]["exp_alerts"]
    }
    assert fired == set(_rules(VLLM))


def test_a_wrong_expectation_fails_promtool(promtool: Path, tmp_path: Path) -> None:
    quiet = _case(
        {f"vllm:kv_cache_usage_perc{{{SEL}}}": "0.5x30"},
        "15m",
        "PaddockKvCacheHigh",
        [_alert(VLLM, "PaddockKvCacheHigh", {"pod": POD})],
    )
    with pytest.raises(AssertionError, match="PaddockKvCacheHigh"):
        _run(promtool, tmp_path, VLLM, [quiet])
