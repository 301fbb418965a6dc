"""Alert delivery: the Alertmanager configuration kube-prometheus-stack runs with (receivers, severity routes,
inhibition, the Watchdog heartbeat), the SNS publish policy of its Pod Identity role, and the plan warnings.

Routing (``paddock:monitoring.alerts``):

- ``severity=critical`` -> receiver ``paddock-critical`` (pages: PagerDuty, SNS, Slack; re-sent every 1 h),
- ``severity=warning`` -> receiver ``paddock-warning`` (tickets: re-sent every 12 h),
- ``alertname=Watchdog`` (kube-prometheus-stack's always-firing alert) -> ``paddock-heartbeat`` every 1 min:
  an external dead man's switch notices when the pings stop (Prometheus or Alertmanager down),
- anything else (``InfoInhibitor``, severity ``info``/``none``) -> ``null``.

Inhibition: while a cluster-level monitoring alert fires (:data:`MONITORING_DOWN_ALERTS`: Prometheus cannot
ingest, evaluate rules or reach its targets' API), per-model alerts (they carry an ``alias`` label) are muted:
their signals are unreliable then and the one cluster alert says why. A critical per-model alert mutes the
warning of the same name/alias.

Secrets: each Slack/PagerDuty/webhook receiver reads its URL or routing key from a file the operator mounts
from the named Secret (``alertmanagerSpec.secrets``: /etc/alertmanager/secrets/<secret>/<key>), so no secret
is in stack config, Helm values or Pulumi state. SNS uses sigv4 with the default AWS credential chain, i.e.
the EKS Pod Identity association of ServiceAccount :data:`ALERTMANAGER_SERVICE_ACCOUNT`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from serving.stack_config_models import AlertReceiver, AlertsConfig

ALERTMANAGER_SERVICE_ACCOUNT = "kps-alertmanager"
"""Alertmanager's ServiceAccount with ``fullnameOverride: kps`` (helm_values/kube_prometheus_stack.*)."""
SECRETS_DIR = "/etc/alertmanager/secrets"
"""Where prometheus-operator mounts ``alertmanagerSpec.secrets`` (one folder per Secret)."""
MONITORING_DOWN_ALERTS = (
    "PaddockMonitoringDegraded",
    "PrometheusNotIngestingSamples",
    "PrometheusMissingRuleEvaluations",
    "PrometheusRuleFailures",
)
"""Cluster-level alerts that mute per-model alerts (the last three come with kube-prometheus-stack)."""
REPEAT = {"critical": "1h", "warning": "12h"}
HEARTBEAT_REPEAT = "1m"
TITLE = "[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }} {{ .CommonLabels.alias }}"


def _file(r: AlertReceiver) -> str:
    return f"{SECRETS_DIR}/{r.secret}/{r.key}"


def _config_for(r: AlertReceiver) -> tuple[str, dict[str, Any]]:
    if r.kind == "slack":
        slack: dict[str, Any] = {
            "api_url_file": _file(r),
            "send_resolved": True,
            "title": TITLE,
            "text": (
                "{{ range .Alerts }}{{ .Annotations.description }}\n{{ .Annotations.runbook_url }}\n{{ end }}"
            ),
        }
        if r.channel is not None:
            slack["channel"] = r.channel
        return "slack_configs", slack
    if r.kind == "pagerduty":
        return "pagerduty_configs", {
            "routing_key_file": _file(r),
            "send_resolved": True,
            "description": TITLE + ": {{ .CommonAnnotations.summary }}",
        }
    return "webhook_configs", {"url_file": _file(r), "send_resolved": True}


def _receiver(
    name: str, severity: str | None, alerts: AlertsConfig, sns_topic_arn: str | None, region: str
) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name}
    for r in alerts.receivers:
        if severity in r.severities:
            kind, cfg = _config_for(r)
            out.setdefault(kind, []).append(cfg)
    if sns_topic_arn is not None and severity in alerts.sns_severities:
        out["sns_configs"] = [
            {
                "topic_arn": sns_topic_arn,
                "sigv4": {"region": region},
                "send_resolved": True,
                "subject": TITLE,
                "attributes": {"severity": severity or "", "alias": "{{ .CommonLabels.alias }}"},
            }
        ]
    return out


def secret_names(alerts: AlertsConfig) -> list[str]:
    """Secrets Alertmanager mounts (``alertmanagerSpec.secrets``), sorted, each once."""
    refs = [*alerts.receivers, *([alerts.heartbeat] if alerts.heartbeat else [])]
    return sorted({r.secret for r in refs})


def alertmanager_config(
    alerts: AlertsConfig, *, sns_topic_arn: str | None = None, region: str = ""
) -> dict[str, Any]:
    """``alertmanager.config`` of kube-prometheus-stack (replaces the chart's default: route 'null')."""
    heartbeat: dict[str, Any] = {"name": "paddock-heartbeat"}
    if alerts.heartbeat is not None:
        heartbeat["webhook_configs"] = [{"url_file": _file(alerts.heartbeat), "send_resolved": False}]
    return {
        "global": {"resolve_timeout": "5m"},
        "route": {
            "receiver": "null",
            "group_by": ["alertname", "namespace", "alias"],
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": REPEAT["warning"],
            "routes": [
                {
                    "receiver": "paddock-heartbeat",
                    "matchers": ['alertname = "Watchdog"'],
                    "group_wait": "0s",
                    "group_interval": HEARTBEAT_REPEAT,
                    "repeat_interval": HEARTBEAT_REPEAT,
                },
                {"receiver": "null", "matchers": ['alertname = "InfoInhibitor"']},
                {
                    "receiver": "paddock-critical",
                    "matchers": ['severity = "critical"'],
                    "repeat_interval": REPEAT["critical"],
                },
                {
                    "receiver": "paddock-warning",
                    "matchers": ['severity = "warning"'],
                    "repeat_interval": REPEAT["warning"],
                },
            ],
        },
        "inhibit_rules": [
            {
                "source_matchers": [f'alertname =~ "{"|".join(MONITORING_DOWN_ALERTS)}"'],
                "target_matchers": ['alias =~ ".+"'],
            },
            {
                "source_matchers": ['severity = "critical"'],
                "target_matchers": ['severity = "warning"'],
                "equal": ["alertname", "namespace", "alias"],
            },
        ],
        "receivers": [
            {"name": "null"},
            heartbeat,
            _receiver("paddock-critical", "critical", alerts, sns_topic_arn, region),
            _receiver("paddock-warning", "warning", alerts, sns_topic_arn, region),
        ],
    }


def sns_publish_policy(topic_arn: str) -> dict[str, Any]:
    """The inline policy of Alertmanager's Pod Identity role: publish to its own topic only."""
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sns:Publish", "Resource": topic_arn}],
    }


def alert_warnings(monitoring: Mapping[str, Any]) -> list[str]:
    """Plan warnings from the ``monitoring`` block of the stack config (its ``to_dict`` form)."""
    alerting = monitoring.get("alerting", {})
    if not monitoring or not monitoring.get("enabled", True) or not alerting.get("enabled", True):
        return []
    found: list[str] = []
    if not alerting.get("sns") and not alerting.get("receivers"):
        found.append(
            "paddock:monitoring.alerts: alerts are on but no receiver is set (sns: true or receivers[]): "
            "alerts fire in Prometheus and reach no one"
        )
    if alerting.get("heartbeat") is None:
        found.append(
            "paddock:monitoring.alerts.heartbeat: no dead man's switch: if Prometheus or Alertmanager dies, "
            "nothing pages"
        )
    if alerting.get("docs_base_url") is None:
        found.append(
            "paddock:monitoring.alerts.docsBaseUrl: unset, so runbook_url is a repository path a pager "
            "cannot open; set the published URL of serving/monitoring/README.md"
        )
    return found
