"""Monitoring of the serving tier (pure; no Pulumi): metric catalog, scrape targets, alert rules, dashboards.

- :mod:`.catalog`: every metric name we query, with the exporter and the source it was checked against.
- :mod:`.targets`: PodMonitors (engines) and ServiceMonitors (gateway, DCGM exporter).
- :mod:`.rules`: PrometheusRules per model with plan-derived thresholds and runbook annotations.
- :mod:`.dashboards`: Grafana dashboards from the JSON files in ``dashboards/``.
- :mod:`.promql`: lists the metric names a PromQL expression selects (catalog checks).
- :mod:`.values`: kube-prometheus-stack Helm values.
"""
