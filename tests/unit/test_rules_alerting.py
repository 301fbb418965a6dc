"""Alert delivery: Alertmanager routes/receivers/inhibition from ``paddock:monitoring.alerts``, its parser,
and
the plan warnings (serving/monitoring/alerting.py)."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from serving.config_reader import Problems, Section
from serving.monitoring.alerting import alert_warnings, alertmanager_config, secret_names
from serving.monitoring.values import MonitoringSettings, kube_prometheus_stack_values
from serving.stack_config_models import AlertReceiver, AlertsConfig
from serving.stack_config_sections import parse_monitoring

PD = AlertReceiver(kind="pagerduty", secret="am-keys", key="pd", severities=("critical",))
SLACK = AlertReceiver(kind="slack", secret="am-keys", key="slack", channel="#ops")
BEAT = AlertReceiver(kind="webhook", secret="heartbeat", key="url")
ARN = "arn:aws:sns:eu-west-1:123456789012:paddock-alerts"


def _receivers(cfg: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in cfg["receivers"]}


def _route(cfg: dict[str, Any], labels: dict[str, str]) -> str:
    """First matching child route (Alertmanager's default continue: false), else the root receiver."""
    for route in cfg["route"]["routes"]:
        name, _, value = route["matchers"][0].partition(" = ")
        if labels.get(name) == value.strip('"'):
            return str(route["receiver"])
    return str(cfg["route"]["receiver"])


def test_critical_pages_warning_tickets_and_the_watchdog_pings_the_heartbeat() -> None:
    cfg = alertmanager_config(
        AlertsConfig(sns=True, receivers=(PD, SLACK), heartbeat=BEAT), sns_topic_arn=ARN
    )
    assert _route(cfg, {"alertname": "PaddockNoReadyReplicas", "severity": "critical"}) == "paddock-critical"
    assert _route(cfg, {"alertname": "PaddockKvCacheHigh", "severity": "warning"}) == "paddock-warning"
    assert _route(cfg, {"alertname": "Watchdog", "severity": "none"}) == "paddock-heartbeat"
    assert _route(cfg, {"alertname": "InfoInhibitor", "severity": "none"}) == "null"
    got = _receivers(cfg)
    assert set(got["paddock-critical"]) == {"name", "pagerduty_configs", "slack_configs", "sns_configs"}
    assert set(got["paddock-warning"]) == {"name", "slack_configs", "sns_configs"}  # PagerDuty: critical only
    assert (
        got["paddock-critical"]["pagerduty_configs"][0]["routing_key_file"]
        == "/etc/alertmanager/secrets/am-keys/pd"
    )
    assert got["paddock-warning"]["slack_configs"][0]["channel"] == "#ops"
    assert (
        got["paddock-heartbeat"]["webhook_configs"][0]["url_file"]
        == "/etc/alertmanager/secrets/heartbeat/url"
    )
    assert got["paddock-critical"]["sns_configs"][0]["attributes"]["severity"] == "critical"
    watchdog = cfg["route"]["routes"][0]
    assert watchdog["repeat_interval"] == "1m"  # a dead man's switch needs a steady ping


def test_per_model_alerts_are_muted_while_the_monitoring_itself_is_down() -> None:
    rules = alertmanager_config(AlertsConfig(receivers=(SLACK,)))["inhibit_rules"]
    cluster = rules[0]
    assert "PaddockMonitoringDegraded" in cluster["source_matchers"][0]
    assert "PrometheusNotIngestingSamples" in cluster["source_matchers"][0]
    assert cluster["target_matchers"] == ['alias =~ ".+"']  # every per-model alert carries alias
    assert rules[1]["equal"] == ["alertname", "namespace", "alias"]


def test_no_secret_in_values_only_mounted_secret_names() -> None:
    settings = MonitoringSettings(alerting=AlertsConfig(receivers=(PD, SLACK), heartbeat=BEAT))
    am = kube_prometheus_stack_values(settings)["alertmanager"]
    assert am["alertmanagerSpec"]["secrets"] == ["am-keys", "heartbeat"] == secret_names(settings.alerting)
    assert am["serviceAccount"]["name"] == "kps-alertmanager"
    off = kube_prometheus_stack_values(MonitoringSettings(alerts=False))["alertmanager"]
    assert off["enabled"] is False and "config" not in off


def test_without_sns_no_sns_config() -> None:
    cfg = alertmanager_config(AlertsConfig(receivers=(SLACK,)))
    assert all("sns_configs" not in r for r in cfg["receivers"])


def _parse(value: Any) -> tuple[AlertsConfig, list[tuple[str, str]]]:
    problems = Problems()
    m = parse_monitoring(Section.of({"alerts": value}, "paddock:monitoring", problems))
    return m.alerting, problems.items


def test_parser_reads_receivers_and_names_every_bad_key() -> None:
    got, problems = _parse(
        {
            "sns": True,
            "receivers": [
                {"kind": "pagerduty", "secret": "am-keys", "key": "pd", "severities": ["critical"]}
            ],
            "heartbeat": {"secret": "heartbeat", "key": "url"},
            "docsBaseUrl": "https://docs.example.com/paddock/monitoring.md",
        }
    )
    assert problems == []
    assert got.receivers == (PD,) and got.heartbeat == BEAT and got.sns and got.has_receiver
    _, problems = _parse(
        {"receivers": [{"kind": "sms", "secret": "x"}], "docsBaseUrl": "README.md", "snss": 1}
    )
    assert [k for k, _ in problems] == [
        "paddock:monitoring.alerts.receivers[0].kind",
        "paddock:monitoring.alerts.receivers[0].key",
        "paddock:monitoring.alerts.docsBaseUrl",
        "paddock:monitoring.alerts.snss",
    ]
    assert _parse(False)[0].enabled is False and _parse(None)[0].enabled is True
    assert _parse("yes")[1] == [("paddock:monitoring.alerts", "expected true, false or a mapping, got 'yes'")]


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=8),
        lambda c: (
            st.lists(c, max_size=3)
            | st.dictionaries(
                st.sampled_from(["kind", "secret", "key", "receivers", "sns", "heartbeat", "x"]),
                c,
                max_size=4,
            )
        ),
        max_leaves=12,
    )
)
def test_any_input_gives_a_config_or_named_problems_never_a_traceback(value: Any) -> None:
    got, problems = _parse(value)
    assert isinstance(got, AlertsConfig)
    assert all(k.startswith("paddock:monitoring.alerts") for k, _ in problems)


def test_plan_warns_when_alerts_reach_no_one() -> None:
    none = {"enabled": True, "alerting": {"enabled": True, "sns": False, "receivers": [], "heartbeat": None}}
    found = alert_warnings(none)
    assert [w.split(":")[1] for w in found] == [
        "monitoring.alerts",
        "monitoring.alerts.heartbeat",
        "monitoring.alerts.docsBaseUrl",
    ]
    ok = {
        "enabled": True,
        "alerting": {"sns": True, "heartbeat": {"secret": "h"}, "docs_base_url": "https://d"},
    }
    assert alert_warnings(ok) == []
    assert alert_warnings({"enabled": True, "alerting": {"enabled": False}}) == []
