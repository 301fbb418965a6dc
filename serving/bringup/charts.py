"""The third-party chart catalog (``serving/catalog/data/charts.yaml``, written by "images") as the
bring-up analysis reads it.

Shape (one record per chart and pinned version; every record carries ``source`` and ``date``)::

    charts:
    - chart: keda                      # chart name as the Helm release names it
      version: 2.17.2
      repository: https://kedacore.github.io/charts
      crds: [keda.sh/ScaledObject, ...]           # "group/Kind" of every CRD the chart installs
      renders:                                    # custom resources the chart renders when a value is true
      - {kind: monitoring.coreos.com/ServiceMonitor, when: prometheus.operator.serviceMonitor.enabled}
      workloads:
      - name: keda-operator
        kind: Deployment                          # Deployment | StatefulSet | DaemonSet | Job
        replicas: 1                               # chart default
        replicas_path: operator.replicaCount      # values paths (dotted); all optional
        enabled_path: null                        # a value that switches the workload off when false
        enabled_default: true
        node_selector_path: nodeSelector
        tolerations_path: tolerations
        resources_path: resources.operator
        service_account_path: null                # where the ServiceAccount name is set
        service_account: keda-operator            # its default name
        default_node_selector: {kubernetes.io/os: linux}
        default_tolerations: []
        default_requests: {cpu: 100m, memory: 100Mi}
      images:
      - {registry: ghcr.io, repository: kedacore/keda, registry_path: image.keda.registry,
         repository_path: image.keda.repository, workload: keda-operator}

Unknown fields are ignored; a missing file is an empty catalog (each release it cannot describe is then a
finding, never a silent pass).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from serving.errors import InputError

DEFAULT_PATH = Path(__file__).resolve().parents[1] / "catalog" / "data" / "charts.yaml"


@dataclass(frozen=True)
class ChartWorkload:
    """One pod template a chart runs, with where our values override its scheduling fields."""

    name: str
    kind: str
    replicas: int = 1
    replicas_path: str | None = None
    enabled_path: str | None = None
    enabled_default: bool = True
    node_selector_path: str | None = None
    tolerations_path: str | None = None
    resources_path: str | None = None
    service_account_path: str | None = None
    service_account: str | None = None
    default_node_selector: Mapping[str, str] = field(default_factory=dict)
    default_tolerations: tuple[Mapping[str, Any], ...] = ()
    default_requests: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ChartImage:
    """One image a chart pulls and the values paths that override its registry/repository."""

    registry: str
    repository: str
    registry_path: str | None = None
    repository_path: str | None = None
    workload: str | None = None


@dataclass(frozen=True)
class ChartSpec:
    """One chart at one pinned version."""

    chart: str
    version: str
    repository: str
    crds: tuple[str, ...]
    renders: tuple[tuple[str, str], ...]
    """``(group/Kind, values path)``: a custom resource rendered when the value is true."""
    workloads: tuple[ChartWorkload, ...]
    images: tuple[ChartImage, ...]
    source: str


@dataclass(frozen=True)
class ChartCatalog:
    """Charts by ``(chart, version)``; ``path`` is where they were read from (for messages)."""

    charts: Mapping[tuple[str, str], ChartSpec]
    path: str

    def get(self, chart: str, version: str) -> ChartSpec | None:
        return self.charts.get((chart, version))

    def installers(self, kind: str) -> list[ChartSpec]:
        """Charts that install the CRD ``group/Kind``."""
        return [c for c in self.charts.values() if kind in c.crds]


def _workload(rec: Mapping[str, Any]) -> ChartWorkload:
    return ChartWorkload(
        name=str(rec["name"]),
        kind=str(rec.get("kind", "Deployment")),
        replicas=int(rec.get("replicas", 1)),
        replicas_path=rec.get("replicas_path"),
        enabled_path=rec.get("enabled_path"),
        enabled_default=bool(rec.get("enabled_default", True)),
        node_selector_path=rec.get("node_selector_path"),
        tolerations_path=rec.get("tolerations_path"),
        resources_path=rec.get("resources_path"),
        service_account_path=rec.get("service_account_path"),
        service_account=rec.get("service_account"),
        default_node_selector=dict(rec.get("default_node_selector") or {}),
        default_tolerations=tuple(rec.get("default_tolerations") or ()),
        default_requests=dict(rec.get("default_requests") or {}),
    )


def _image(rec: Mapping[str, Any]) -> ChartImage:
    return ChartImage(
        registry=str(rec["registry"]),
        repository=str(rec["repository"]),
        registry_path=rec.get("registry_path"),
        repository_path=rec.get("repository_path"),
        workload=rec.get("workload"),
    )


def parse_chart_catalog(data: Any, *, path: str) -> ChartCatalog:
    """Parse the YAML document; InputError naming the file and record on a malformed record."""
    charts: dict[tuple[str, str], ChartSpec] = {}
    records = (data or {}).get("charts", []) if isinstance(data, Mapping) else []
    for i, rec in enumerate(records):
        try:
            spec = ChartSpec(
                chart=str(rec["chart"]),
                version=str(rec["version"]),
                repository=str(rec.get("repository", "")),
                crds=tuple(str(c) for c in rec.get("crds") or ()),
                renders=tuple((str(r["kind"]), str(r["when"])) for r in rec.get("renders") or ()),
                workloads=tuple(_workload(w) for w in rec.get("workloads") or ()),
                images=tuple(_image(m) for m in rec.get("images") or ()),
                source=str(rec.get("source", "")),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InputError(f"{path}: charts[{i}] is malformed ({exc!r})", field=path) from exc
        charts[(spec.chart, spec.version)] = spec
    return ChartCatalog(charts=charts, path=path)


def load_chart_catalog(path: Path | None = None) -> ChartCatalog:
    """Read the catalog (default ``serving/catalog/data/charts.yaml``); empty when the file is absent."""
    target = path or DEFAULT_PATH
    if not target.is_file():
        return ChartCatalog(charts={}, path=str(target))
    return parse_chart_catalog(yaml.safe_load(target.read_text()), path=str(target))


def values_at(values: Mapping[str, Any], path: str | None) -> Any:
    """The value at a dotted path (``operator.replicaCount``), or None when any step is missing."""
    if not path:
        return None
    node: Any = values
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node
