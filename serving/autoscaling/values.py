"""Helm values for the scaling charts (KEDA, cluster-autoscaler, Karpenter) from ``helm_values/*.yaml.j2``.

Templates substitute leaf values only (``{{ x | tojson }}``) under ``StrictUndefined``; the result is parsed
with ``yaml.safe_load`` so a component passes one plain dict to ``helm.v3.Release``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
import jinja2.meta
import yaml

from serving.autoscaling.nodes import ClusterAutoscalerSettings
from serving.errors import RenderError

HELM_VALUES_DIR = Path(__file__).resolve().parents[2] / "helm_values"
_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(HELM_VALUES_DIR),
    undefined=jinja2.StrictUndefined,
    autoescape=False,
    keep_trailing_newline=True,
)


def render_template(name: str, **context: Any) -> dict[str, Any]:
    """Render ``helm_values/<name>`` with ``context`` and parse it; RenderError names the template on a
    missing variable or when the output is not a YAML mapping."""
    try:
        source = _ENV.loader.get_source(_ENV, name)[0] if _ENV.loader else ""
        missing = sorted(jinja2.meta.find_undeclared_variables(_ENV.parse(source)) - set(context))
        if missing:
            raise RenderError(f"helm_values/{name}: no value for {', '.join(missing)}", field=name)
        text = _ENV.get_template(name).render(**context)
    except jinja2.TemplateNotFound:
        raise RenderError(f"no template helm_values/{name}", field=name) from None
    except jinja2.UndefinedError as exc:
        raise RenderError(f"helm_values/{name}: {exc.message}", field=name) from None
    except jinja2.TemplateSyntaxError as exc:
        raise RenderError(f"helm_values/{name}:{exc.lineno}: {exc.message}", field=name) from None
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise RenderError(f"helm_values/{name} did not render to a mapping", field=name)
    return data


def _sa_annotations(role_arn: str | None) -> dict[str, str]:
    return {"eks.amazonaws.com/role-arn": role_arn} if role_arn else {}


def keda_values(*, monitoring: bool, operator_replicas: int = 2) -> dict[str, Any]:
    """Values for the KEDA chart (ServiceMonitors for KEDA itself only when monitoring is on)."""
    return render_template("keda.yaml.j2", monitoring=monitoring, operator_replicas=operator_replicas)


def cluster_autoscaler_values(settings: ClusterAutoscalerSettings) -> dict[str, Any]:
    """Values for the cluster-autoscaler chart from plan-derived settings."""
    return render_template(
        "cluster_autoscaler.yaml.j2",
        region=settings.region,
        cluster_name=settings.cluster_name,
        sa_annotations=_sa_annotations(settings.role_arn),
        scale_down_unneeded=settings.scale_down_unneeded,
        scale_down_delay_after_add=settings.scale_down_delay_after_add,
        max_node_provision_time=settings.max_node_provision_time,
        expander=settings.expander,
    )


def karpenter_values(
    *,
    cluster_name: str,
    interruption_queue: str,
    role_arn: str | None,
    isolated_vpc: bool = False,
) -> dict[str, Any]:
    """Values for the Karpenter chart (NodePools are separate objects, see serving.autoscaling.nodes;
    placement on the system nodes and the image route: serving.chart_overrides.ReleasePolicy).
    ``isolated_vpc``: no internet egress (Karpenter then calls only services with a VPC endpoint and skips the
    pricing API)."""
    return render_template(
        "karpenter.yaml.j2",
        cluster_name=cluster_name,
        interruption_queue=interruption_queue,
        sa_annotations=_sa_annotations(role_arn),
        isolated_vpc=isolated_vpc,
    )
