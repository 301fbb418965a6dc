"""Alert scenarios for ``promtool test rules``, generated from one model (its thresholds, load time, pods,
engine, SLO) so the same behaviour runs against the fixture models and against every shipped stack's rules.

Each scenario is (name, promtool test case); every alert has at least one firing and one quiet scenario.
"""

from __future__ import annotations

import re
from typing import Any

from serving.autoscaling import AutoscalingSettings, ModelScaling
from serving.autoscaling.model import thresholds
from serving.autoscaling.timeline import rollout_seconds
from serving.gateway.metrics import TTFT_BUCKETS as GATEWAY_TTFT_BUCKETS
from serving.monitoring.catalog import VLLM_TTFT_BUCKETS, vllm_metrics
from serving.monitoring.health import cluster_group
from serving.monitoring.rules import engine_series, rule_group, slo_bucket

Case = dict[str, Any]


def rules_by_name(
    model: ModelScaling, settings: AutoscalingSettings, gateway: bool
) -> dict[str, dict[str, Any]]:
    group = rule_group(model, settings, gateway=gateway)
    return {r["alert"]: r for r in [*group["rules"], *cluster_group()["rules"]]}


def _expand(text: str, labels: dict[str, str], value: str) -> str:
    text = re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels[m.group(1)], text)
    return text.replace("{{ $value }}", value)


class Scenarios:
    """Scenario builder for one model."""

    def __init__(self, model: ModelScaling, settings: AutoscalingSettings, *, gateway: bool) -> None:
        self.model, self.gateway = model, gateway
        self.rules = rules_by_name(model, settings, gateway)
        self.t = thresholds(model.plan, settings)
        self.ns, self.alias = model.namespace, model.alias
        lws = model.plan.nodes_per_replica > 1
        self.pod = f"{model.workload}-0" if lws else f"{model.workload}-7d9f8c-x2k4p"
        self.pod2 = f"{model.workload}-1" if lws else f"{model.workload}-7d9f8c-b8n2q"
        self.sel = f'namespace="{self.ns}",alias="{self.alias}",pod="{self.pod}"'
        self.gpu = f'namespace="{self.ns}",pod="{self.pod}",gpu="0",Hostname="ip-10-0-1-5"'
        self.gpu_labels = {"Hostname": "ip-10-0-1-5", "gpu": "0", "pod": self.pod}
        self.waiting, self.running = engine_series(model)

    def alert(self, name: str, labels: dict[str, str] | None = None, value: str = "") -> dict[str, Any]:
        rule = self.rules[name]
        all_labels = {**(labels or {}), **rule["labels"]}
        notes = {k: _expand(v, all_labels, value) for k, v in rule["annotations"].items()}
        return {"exp_labels": all_labels, "exp_annotations": notes}

    @staticmethod
    def case(series: dict[str, str], at: str, alert: str, expected: list[dict[str, Any]]) -> Case:
        return {
            "interval": "1m",
            "input_series": [{"series": s, "values": v} for s, v in series.items()],
            "alert_rule_test": [{"eval_time": at, "alertname": alert, "exp_alerts": expected}],
        }

    # --- engine queue ---
    def queue(self) -> list[tuple[str, Case]]:
        w, r, sel = self.waiting, self.running, self.sel
        high = int(self.t.waiting_per_replica) * 12 + 2
        noisy = " ".join(str(high - 3 + 6 * (i % 2)) for i in range(121))
        fire = [self.alert("PaddockQueueBackedUp")]
        return [
            (
                "queue flat and high (at replicas.max) fires",
                self.case(
                    {f"{w}{{{sel}}}": f"{high}x120", f"{r}{{{sel}}}": "8x120"},
                    "60m",
                    "PaddockQueueBackedUp",
                    fire,
                ),
            ),
            (
                "noisy high queue fires",
                self.case(
                    {f"{w}{{{sel}}}": noisy, f"{r}{{{sel}}}": "8x120"}, "60m", "PaddockQueueBackedUp", fire
                ),
            ),
            (
                "growing queue fires",
                self.case(
                    {f"{w}{{{sel}}}": "0+1x120", f"{r}{{{sel}}}": "8x120"},
                    "60m",
                    "PaddockQueueBackedUp",
                    fire,
                ),
            ),
            (
                "queue under the target is quiet",
                self.case(
                    {
                        f"{w}{{{sel}}}": f"{max(0, int(self.t.waiting_per_replica) - 1)}x120",
                        f"{r}{{{sel}}}": "8x120",
                    },
                    "60m",
                    "PaddockQueueBackedUp",
                    [],
                ),
            ),
        ]

    # --- TTFT ---
    def _ttft(self) -> tuple[str, tuple[float, ...]] | None:
        if self.model.plan.engine == "vllm":
            return f"vllm:time_to_first_token_seconds_bucket{{{self.sel}", VLLM_TTFT_BUCKETS
        if self.gateway:
            return (
                f'paddock_gateway_time_to_first_token_seconds_bucket{{alias="{self.alias}",upstream="primary"',
                GATEWAY_TTFT_BUCKETS,
            )
        return None

    def ttft(self) -> list[tuple[str, Case]]:
        got = self._ttft()
        if got is None:
            return []
        prefix, buckets = got
        slo = self.model.slo_ttft_seconds
        bound = slo_bucket(slo, buckets)
        below = max((b for b in buckets if b < slo), default=None)

        def hist(latency: float, per_minute: str) -> dict[str, str]:
            out = {}
            for b in [*buckets, float("inf")]:
                le = "+Inf" if b == float("inf") else repr(float(b))
                out[f'{prefix},le="{le}"}}'] = per_minute if latency <= b else "0x40"
            return out

        trickle = " ".join(str(i // 5) for i in range(41))
        slow = next(b for b in [*buckets, float("inf")] if b > bound)
        cases = [
            (
                "every first token slower than the SLO fires",
                self.case(
                    hist(min(slow, 1e9), "0+10x40"),
                    "30m",
                    "PaddockTtftSloBreached",
                    [self.alert("PaddockTtftSloBreached")],
                ),
            ),
            (
                "one slow request per 5 min on an idle stack is quiet",
                self.case(hist(min(slow, 1e9), trickle), "30m", "PaddockTtftSloBreached", []),
            ),
        ]
        if below is not None:
            # every request just under the SLO (e.g. 1.1 s vs 2 s): an interpolated p95 would read 2.4 s
            cases.append(
                (
                    "every request just under the SLO is quiet",
                    self.case(hist(bound, "0+10x40"), "30m", "PaddockTtftSloBreached", []),
                )
            )
        return cases

    # --- readiness ---
    def no_ready(self) -> list[tuple[str, Case]]:
        ns, pod, pod2 = self.ns, self.pod, self.pod2
        hold = rollout_seconds(self.model.plan.load_time_seconds) // 60
        span = hold + 30
        info = lambda p: f'kube_pod_info{{namespace="{ns}",pod="{p}"}}'  # noqa: E731
        ready = lambda p: f'kube_pod_status_ready{{namespace="{ns}",pod="{p}",condition="true"}}'  # noqa: E731
        fire = [self.alert("PaddockNoReadyReplicas")]
        loading = hold - 3  # a rollout whose new pod is ready a bit before the hold ends
        return [
            (
                "a pod that never gets ready pages after the hold",
                self.case(
                    {info(pod): f"1x{span}", ready(pod): f"0x{span}"},
                    f"{hold + 5}m",
                    "PaddockNoReadyReplicas",
                    fire,
                ),
            ),
            (
                "a pod stuck Pending (no Ready condition) pages",
                self.case({info(pod): f"1x{span}"}, f"{hold + 5}m", "PaddockNoReadyReplicas", fire),
            ),
            (
                "a planned rollout of one replica does not page",
                self.case(
                    {
                        info(pod): "1x10",
                        ready(pod): "1x10",
                        info(pod2): f"_x10 1x{span}",
                        ready(pod2): f"_x10 0x{loading} 1x{span}",
                    },
                    f"{10 + loading}m",
                    "PaddockNoReadyReplicas",
                    [],
                ),
            ),
            (
                "scaled to zero is quiet",
                self.case(
                    {f'kube_pod_info{{namespace="{ns}",pod="other-5f6d7-abcde"}}': f"1x{span}"},
                    f"{hold + 5}m",
                    "PaddockNoReadyReplicas",
                    [],
                ),
            ),
        ]

    # --- spill ---
    def fallback(self) -> list[tuple[str, Case]]:
        if "PaddockFallbackChronic" not in self.rules:
            return []
        a = self.alias
        req = f'paddock_gateway_requests_total{{alias="{a}",upstream="primary",status="200"}}'
        spilled = f'paddock_gateway_requests_total{{alias="{a}",upstream="bedrock",status="200"}}'
        fb = f'paddock_gateway_fallbacks_total{{alias="{a}",reason="connect_refused"}}'
        return [
            (
                "constant 30 % spill for 3 h fires",
                self.case(
                    {req: "0+70x180", spilled: "0+30x180", fb: "0+30x180"},
                    "150m",
                    "PaddockFallbackChronic",
                    [self.alert("PaddockFallbackChronic")],
                ),
            ),
            (
                "100 % spill stays firing while it lasts",
                self.case(
                    {req: "0+100x60 6000x120", spilled: "0x60 0+100x120", fb: "0x60 0+100x120"},
                    "175m",
                    "PaddockFallbackChronic",
                    [self.alert("PaddockFallbackChronic")],
                ),
            ),
            (
                "5 % spill is quiet",
                self.case(
                    {req: "0+95x180", spilled: "0+5x180", fb: "0+5x180"}, "150m", "PaddockFallbackChronic", []
                ),
            ),
            (
                "a sudden spill fires the spike",
                self.case(
                    {req: "0+100x70", fb: "0x40 0+30x30"},
                    "58m",
                    "PaddockFallbackRateSpike",
                    [self.alert("PaddockFallbackRateSpike")],
                ),
            ),
            (
                "steady spill is no spike",
                self.case({req: "0+100x70", fb: "0+30x70"}, "65m", "PaddockFallbackRateSpike", []),
            ),
        ]

    # --- XID ---
    def xid(self) -> list[tuple[str, Case]]:
        x = f"DCGM_FI_DEV_XID_ERRORS{{{self.gpu}}}"
        return [
            (
                "a new fatal XID pages",
                self.case(
                    {x: "0x5 79x20"},
                    "10m",
                    "PaddockGpuXidError",
                    [self.alert("PaddockGpuXidError", self.gpu_labels, "79")],
                ),
            ),
            (
                "the last XID held for hours is quiet",
                self.case({x: "0x5 79x300"}, "300m", "PaddockGpuXidError", []),
            ),
            ("an application XID 31 is quiet", self.case({x: "0x5 31x20"}, "10m", "PaddockGpuXidError", [])),
        ]

    # --- scrape health ---
    def health(self) -> list[tuple[str, Case]]:
        up = f'up{{namespace="{self.ns}",pod="{self.pod}",job="serving/{self.model.workload}"}}'
        ready = f'kube_pod_status_ready{{namespace="{self.ns}",pod="{self.pod}",condition="true"}}'
        ksm = 'up{job="kube-state-metrics",namespace="monitoring",instance="10.0.0.9:8080"}'
        down = {**self.gpu_labels, "job": f"serving/{self.model.workload}", "namespace": self.ns}
        del down["Hostname"], down["gpu"]
        return [
            (
                "engine target down fires",
                self.case(
                    {up: "0x20"},
                    "10m",
                    "PaddockScrapeTargetDown",
                    [self.alert("PaddockScrapeTargetDown", down)],
                ),
            ),
            ("engine target up is quiet", self.case({up: "1x20"}, "10m", "PaddockScrapeTargetDown", [])),
            (
                "ready pods without engine series fire",
                self.case(
                    {ready: "1x30"}, "20m", "PaddockMetricsAbsent", [self.alert("PaddockMetricsAbsent")]
                ),
            ),
            (
                "ready pods with engine series are quiet",
                self.case(
                    {ready: "1x30", f"{self.waiting}{{{self.sel}}}": "0x30"},
                    "20m",
                    "PaddockMetricsAbsent",
                    [],
                ),
            ),
            (
                "kube-state-metrics down fires",
                self.case(
                    {ksm: "0x20"},
                    "10m",
                    "PaddockMonitoringDegraded",
                    [
                        self.alert(
                            "PaddockMonitoringDegraded",
                            {"job": "kube-state-metrics", "instance": "10.0.0.9:8080"},
                        )
                    ],
                ),
            ),
            (
                "kube-state-metrics gone fires",
                self.case(
                    {ready: "1x20"},
                    "10m",
                    "PaddockMonitoringDegraded",
                    [self.alert("PaddockMonitoringDegraded", {"job": "kube-state-metrics"})],
                ),
            ),
            (
                "kube-state-metrics up is quiet",
                self.case({ksm: "1x20"}, "10m", "PaddockMonitoringDegraded", []),
            ),
        ]

    # --- the rest: KV cache, errors, restarts, GPU memory ---
    def others(self) -> list[tuple[str, Case]]:
        out: list[tuple[str, Case]] = []
        if "PaddockKvCacheHigh" in self.rules:
            kv = f"{kv_metric(self.model)}{{{self.sel}}}"
            out += [
                (
                    "KV cache at 97 % fires",
                    self.case(
                        {kv: "0.97x30"},
                        "15m",
                        "PaddockKvCacheHigh",
                        [self.alert("PaddockKvCacheHigh", {"pod": self.pod})],
                    ),
                ),
                ("KV cache at 85 % is quiet", self.case({kv: "0.85x30"}, "15m", "PaddockKvCacheHigh", [])),
            ]
        if self.gateway:
            ok = f'paddock_gateway_requests_total{{alias="{self.alias}",upstream="primary",status="200"}}'
            bad = f'paddock_gateway_requests_total{{alias="{self.alias}",upstream="primary",status="503"}}'
            out += [
                (
                    "10 % 503s fire",
                    self.case(
                        {ok: "0+90x30", bad: "0+10x30"},
                        "20m",
                        "PaddockErrorRatioHigh",
                        [self.alert("PaddockErrorRatioHigh")],
                    ),
                ),
                (
                    "1 % 503s are quiet",
                    self.case({ok: "0+99x30", bad: "0+1x30"}, "20m", "PaddockErrorRatioHigh", []),
                ),
            ]
        restarts = (
            "kube_pod_container_status_restarts_total"
            f'{{namespace="{self.ns}",pod="{self.pod}",container="engine"}}'
        )
        used, free = f"DCGM_FI_DEV_FB_USED{{{self.gpu}}}", f"DCGM_FI_DEV_FB_FREE{{{self.gpu}}}"
        gmu = self.model.plan.gpu_memory_utilization
        total = 80000
        out += [
            (
                "a restart fires",
                self.case(
                    {restarts: "0x10 1x10"},
                    "13m",
                    "PaddockModelPodRestarting",
                    [
                        self.alert(
                            "PaddockModelPodRestarting",
                            {"namespace": self.ns, "pod": self.pod, "container": "engine"},
                        )
                    ],
                ),
            ),
            ("old restarts are quiet", self.case({restarts: "3x20"}, "13m", "PaddockModelPodRestarting", [])),
            (
                "GPU memory past the headroom fires",
                self.case(
                    {used: f"{total - 400}x30", free: "400x30"},
                    "20m",
                    "PaddockGpuMemoryNearFull",
                    [self.alert("PaddockGpuMemoryNearFull", self.gpu_labels)],
                ),
            ),
            (
                "GPU memory at the planned share is quiet",
                self.case(
                    {used: f"{int(total * gmu)}x30", free: f"{total - int(total * gmu)}x30"},
                    "20m",
                    "PaddockGpuMemoryNearFull",
                    [],
                ),
            ),
        ]
        return out

    def all(self) -> list[tuple[str, Case]]:
        return [
            *self.queue(),
            *self.ttft(),
            *self.no_ready(),
            *self.fallback(),
            *self.xid(),
            *self.health(),
            *self.others(),
        ]


def kv_metric(model: ModelScaling) -> str:
    return vllm_metrics(model.plan.engine_version).kv_cache_usage
