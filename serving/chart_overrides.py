"""Placement and image routes applied to every third-party chart's values, driven by data/charts.yaml.

Pure. :class:`ReleasePolicy` is what components get: ``policy.apply(chart, version, values)`` returns the
values with (1) ``nodeSelector: {paddock.dev/pool: system}`` on every non-DaemonSet workload they enable
(created clusters only: an adopted cluster's labels are unknown, so there system pods keep the chart's
placement), and (2) every image those workloads pull rewritten to the route
:class:`serving.images.ImageRouter` picks, at the values paths charts.yaml names. DaemonSets keep their own
placement (GPU DaemonSets select GPU nodes and tolerate the GPU taint in our values; node-exporter tolerates
every NoSchedule taint by default).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from serving.catalog.charts import ChartImage, ChartSpec, Workload, get_chart
from serving.errors import CatalogLookupError
from serving.images import ImageRouter, PulledImage, parse_image
from serving.values import deep_merge


def get_path(values: Mapping[str, Any], path: str, default: Any = None) -> Any:
    """The value at dotted ``path`` (``grafana.sidecar.image.registry``), else ``default``."""
    node: Any = values
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return default
        node = node[part]
    return node


def set_path(values: dict[str, Any], path: str, value: Any) -> None:
    """Set dotted ``path`` in ``values`` (in place), creating mappings on the way."""
    *parents, last = path.split(".")
    node = values
    for part in parents:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[last] = value


def enabled_workloads(chart: ChartSpec, values: Mapping[str, Any]) -> Iterator[Workload]:
    """Workloads the chart renders with ``values`` (their switch, else the chart's default)."""
    for workload in chart.workloads:
        if workload.enabled_by is None or bool(
            get_path(values, workload.enabled_by, workload.enabled_default)
        ):
            yield workload


def enabled_images(chart: ChartSpec, values: Mapping[str, Any]) -> list[ChartImage]:
    """Images pulled by the enabled workloads, each once, in catalog order."""
    wanted = {i for w in enabled_workloads(chart, values) for i in w.images}
    return [image for image in chart.images if image.id in wanted]


def upstream_reference(image: ChartImage, values: Mapping[str, Any]) -> str:
    """The image as ``values`` (before our rewrite) make the chart render it: overrides in our templates win
    over the chart defaults."""
    registry = get_path(values, image.registry_path, None) if image.registry_path else None
    repository = get_path(values, image.repository_path, None)
    tag = get_path(values, image.tag_path, None) or image.tag
    if image.registry_path is None:
        full = str(repository) if repository else f"{image.registry}/{image.repository}"
    else:
        full = f"{registry or image.registry}/{repository or image.repository}"
    ref = f"{full}:{tag}"
    return f"{ref}@{image.digest}" if image.digest else ref


def image_overrides(image: ChartImage, pulled: PulledImage) -> dict[str, Any]:
    """Values that make the chart pull ``pulled`` instead of its default (tag and digest are kept)."""
    out: dict[str, Any] = {}
    ref = pulled.pulled
    if image.registry_path is None:
        set_path(out, image.repository_path, f"{ref.registry}/{ref.repository}")
    else:
        set_path(out, image.registry_path, ref.registry)
        set_path(out, image.repository_path, ref.repository)
    return out


@dataclass(frozen=True, kw_only=True)
class ChartImageRoute:
    """One image of one release, and its route (for the plan's "Images" section)."""

    release: str
    chart: str
    image_id: str
    pulled: PulledImage


@dataclass(frozen=True, kw_only=True)
class ReleasePolicy:
    """System placement + image routes for third-party releases of one stack."""

    router: ImageRouter | None = None
    """None: images stay as the charts name them (unit tests, direct pulls)."""
    system_node_selector: Mapping[str, str] = field(default_factory=dict)
    """``{paddock.dev/pool: system}`` on created clusters, ``{}`` on adopted ones."""

    def overrides(self, chart: ChartSpec, values: Mapping[str, Any]) -> dict[str, Any]:
        """Values to merge over ``values`` for ``chart`` (see the module docstring)."""
        out: dict[str, Any] = {}
        if self.system_node_selector:
            for workload in enabled_workloads(chart, values):
                if workload.kind != "DaemonSet":
                    set_path(out, workload.node_selector_path, dict(self.system_node_selector))
        for image, pulled in self.routes(chart, values):
            if pulled.pulled != parse_image(upstream_reference(image, values)):
                out = deep_merge(out, image_overrides(image, pulled))
        return out

    def routes(self, chart: ChartSpec, values: Mapping[str, Any]) -> list[tuple[ChartImage, PulledImage]]:
        """Every enabled image of ``chart`` with its route (empty without a router)."""
        if self.router is None:
            return []
        return [
            (image, self.router.resolve(upstream_reference(image, values), key=f"{chart.name} {image.id}"))
            for image in enabled_images(chart, values)
        ]

    def apply(self, chart_name: str, version: str | None, values: Mapping[str, Any]) -> dict[str, Any]:
        """``values`` with placement and image routes applied. ``version`` must be the catalog's (the
        workloads and values paths are those of that version)."""
        if self.router is None and not self.system_node_selector:
            return dict(values)
        try:
            chart = get_chart(chart_name, version)
        except CatalogLookupError:  # another version: same paths assumed; the plan's Images section flags it
            chart = get_chart(chart_name)
        return deep_merge(values, self.overrides(chart, values))


@dataclass(frozen=True, kw_only=True)
class PodTemplate:
    """One workload of a third-party release as our values configure it (for the bring-up scheduling check
    and for sizing the system node group)."""

    chart: str
    workload: str
    kind: str
    created_by: str
    replicas: int | None
    """None for a DaemonSet (one pod per matching node)."""
    node_selector: Mapping[str, str]
    """Chart defaults merged with ours (Helm merges maps)."""
    tolerations: tuple[Mapping[str, Any], ...]
    """Ours when set (Helm replaces lists), else the chart's defaults."""
    affinity_requires: tuple[Mapping[str, tuple[str, ...]], ...]
    requests: Mapping[str, str]
    """``resources.requests``: ours when set, else the chart's defaults."""
    images: tuple[str, ...]
    """Image references the pods pull, as rendered from the values."""


def chart_name_of(chart_input: str) -> str:
    """Catalog name of a Release's ``chart`` input (``oci://public.ecr.aws/karpenter/karpenter``)."""
    return chart_input.rstrip("/").rsplit("/", 1)[-1]


def pod_templates(chart_name: str, version: str | None, values: Mapping[str, Any]) -> list[PodTemplate]:
    """Every enabled workload of the release with its placement, requests and images under ``values`` (the
    values as deployed, e.g. ``resources.json`` inputs of the Release)."""
    try:
        chart = get_chart(chart_name, version)
    except CatalogLookupError:
        chart = get_chart(chart_name)
    images = {image.id: image for image in chart.images}
    out: list[PodTemplate] = []
    for w in enabled_workloads(chart, values):
        selector = {**w.default_node_selector, **(get_path(values, w.node_selector_path) or {})}
        tolerations = get_path(values, w.tolerations_path)
        requests = get_path(values, f"{w.resources_path}.requests") or w.default_requests
        replicas = w.replicas
        if w.replicas_path is not None and isinstance(get_path(values, w.replicas_path), int):
            replicas = get_path(values, w.replicas_path)
        out.append(
            PodTemplate(
                chart=chart.name,
                workload=w.name,
                kind=w.kind,
                created_by=w.created_by,
                replicas=replicas,
                node_selector=selector,
                tolerations=tuple(tolerations) if isinstance(tolerations, list) else w.default_tolerations,
                affinity_requires=w.default_affinity_requires,
                requests=dict(requests),
                images=tuple(upstream_reference(images[i], values) for i in w.images),
            )
        )
    return out
