"""Third-party Helm charts at their pinned versions, and upstream image registries (``data/charts.yaml``).

Typed, validated view of the data file: what each chart runs (workloads with the values paths of their
nodeSelector / tolerations / resources, default tolerations and requests), every image it pulls (and the
values paths that override registry, repository and tag), the CRDs it installs, and which upstream registries
ECR pull-through cache can serve. The bring-up analysis reads it to simulate scheduling and image routes; the
values builders read it to place system pods and rewrite images.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from serving.catalog._data import check_provenance, load_file
from serving.errors import CatalogError, CatalogLookupError

_FILE = "charts.yaml"
CrdsVia = Literal["crds-dir", "templates", "none"]
Credential = Literal["required", "optional"]


@dataclass(frozen=True, kw_only=True)
class PullThroughUpstream:
    """How an ECR pull-through cache rule reaches one upstream registry."""

    upstream_url: str
    """``upstreamRegistryUrl`` of the rule (``registry-1.docker.io``)."""
    prefix: str
    """``ecrRepositoryPrefix`` of the rule (``docker-hub``): images become ``<ecr>/<prefix>/<repo>``."""
    credential: Credential
    """``required``: the rule needs a Secrets Manager secret named ``ecr-pullthroughcache/...``."""


@dataclass(frozen=True, kw_only=True)
class RegistrySpec:
    """One upstream registry host an image reference can name."""

    host: str
    pull_through: PullThroughUpstream | None
    """None when ECR pull-through cannot serve it (nvcr.io): a mirror is needed without NAT."""
    official_namespace: str | None
    """Namespace of one-segment repositories upstream (Docker Hub: ``library``)."""
    aws_regional: bool
    """An AWS-owned per-region ECR registry (EKS images), reachable through its region's ECR endpoints."""
    source: str
    date: str


@dataclass(frozen=True, kw_only=True)
class ChartImage:
    """One image a chart pulls, as its default values name it."""

    id: str
    registry: str
    repository: str
    """Repository path without the registry (``prometheus/prometheus``)."""
    tag: str
    """Tag the chart renders by default (its appVersion when the tag value is empty)."""
    digest: str | None
    """Digest the chart itself pins (``sha256:...``), else None."""
    registry_path: str | None
    """Values path of the registry; None when the registry is part of the repository value."""
    repository_path: str
    tag_path: str
    source: str
    date: str

    @property
    def reference(self) -> str:
        """``registry/repository:tag[@digest]`` as the chart renders it by default."""
        ref = f"{self.registry}/{self.repository}:{self.tag}"
        return f"{ref}@{self.digest}" if self.digest else ref


@dataclass(frozen=True, kw_only=True)
class Workload:
    """One pod template a chart runs with its default values."""

    name: str
    kind: str
    """Deployment, DaemonSet, StatefulSet or Job."""
    created_by: str
    """``chart``, ``operator`` (StatefulSet an operator creates from a custom resource), ``hook:<hooks>``."""
    enabled_by: str | None
    """Values path of the switch that renders it (None: always rendered)."""
    enabled_default: bool
    replicas: int | None
    """Default replicas; None for a DaemonSet (one pod per matching node)."""
    replicas_path: str | None
    node_selector_path: str
    tolerations_path: str
    resources_path: str
    default_node_selector: Mapping[str, str]
    default_tolerations: tuple[Mapping[str, str], ...]
    default_affinity_requires: tuple[Mapping[str, tuple[str, ...]], ...]
    """Required node affinity: alternatives, each label -> allowed values; empty = none."""
    default_requests: Mapping[str, str]
    """``resources.requests`` without our values (cpu/memory as Kubernetes quantities)."""
    images: tuple[str, ...]
    """Ids of :attr:`ChartSpec.images` this workload pulls."""
    source: str
    date: str


@dataclass(frozen=True, kw_only=True)
class ChartSpec:
    """One third-party chart at one pinned version."""

    name: str
    version_key: str
    """``paddock:versions`` key that pins it (``kedaChart``)."""
    repository: str
    version: str
    app_version: str
    global_registry_path: str | None
    crds_via: CrdsVia
    crds: tuple[str, ...]
    workloads: tuple[Workload, ...]
    images: tuple[ChartImage, ...]
    source: str
    date: str

    def image(self, image_id: str) -> ChartImage:
        """The image with ``image_id``; CatalogLookupError when the chart has none."""
        for image in self.images:
            if image.id == image_id:
                return image
        raise CatalogLookupError(f"chart {self.name} has no image {image_id!r}")


def _str(record: Mapping[str, Any], key: str, *, where: str) -> str:
    value = record.get(key)
    if not isinstance(value, str) or not value:
        raise CatalogError(f"{where}: '{key}' must be a non-empty string, got {value!r}")
    return value


def _opt_str(record: Mapping[str, Any], key: str, *, where: str) -> str | None:
    if record.get(key) is None:
        return None
    return _str(record, key, where=where)


def _str_map(value: object, *, where: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise CatalogError(f"{where}: must be a mapping of strings, got {value!r}")
    return dict(value)


def _list(record: Mapping[str, Any], key: str, *, where: str) -> list[Any]:
    value = record.get(key)
    if not isinstance(value, list):
        raise CatalogError(f"{where}: '{key}' must be a list")
    return value


def _registry(record: Mapping[str, Any], where: str) -> RegistrySpec:
    check_provenance(record, where=where)
    raw = record.get("pullThrough")
    upstream = None
    if raw is not None:
        if not isinstance(raw, dict) or raw.get("credential") not in ("required", "optional"):
            raise CatalogError(
                f"{where}: pullThrough needs upstreamUrl, prefix, credential required|optional"
            )
        upstream = PullThroughUpstream(
            upstream_url=_str(raw, "upstreamUrl", where=where),
            prefix=_str(raw, "prefix", where=where),
            credential=raw["credential"],
        )
    if not isinstance(record.get("awsRegional"), bool):
        raise CatalogError(f"{where}: 'awsRegional' must be true or false")
    return RegistrySpec(
        host=_str(record, "host", where=where),
        pull_through=upstream,
        official_namespace=_opt_str(record, "officialNamespace", where=where),
        aws_regional=record["awsRegional"],
        source=record["source"],
        date=str(record["date"]),
    )


def _image(record: Mapping[str, Any], where: str) -> ChartImage:
    check_provenance(record, where=where)
    digest = _opt_str(record, "digest", where=where)
    if digest is not None and not (digest.startswith("sha256:") and len(digest) == 71):
        raise CatalogError(f"{where}: digest {digest!r} is not sha256:<64 hex>")
    return ChartImage(
        id=_str(record, "id", where=where),
        registry=_str(record, "registry", where=where),
        repository=_str(record, "repository", where=where),
        tag=str(_str(record, "tag", where=where)),
        digest=digest,
        registry_path=_opt_str(record, "registryPath", where=where),
        repository_path=_str(record, "repositoryPath", where=where),
        tag_path=_str(record, "tagPath", where=where),
        source=record["source"],
        date=str(record["date"]),
    )


def _affinity(value: object, *, where: str) -> tuple[Mapping[str, tuple[str, ...]], ...]:
    if not isinstance(value, list):
        raise CatalogError(f"{where}: 'defaultAffinityRequires' must be a list")
    alternatives: list[Mapping[str, tuple[str, ...]]] = []
    for alternative in value:
        if not isinstance(alternative, dict):
            raise CatalogError(f"{where}: each affinity alternative must be a mapping")
        terms: dict[str, tuple[str, ...]] = {}
        for label, allowed in alternative.items():
            if not isinstance(allowed, list) or not all(isinstance(v, str) for v in allowed):
                raise CatalogError(f"{where}: affinity label {label!r} needs a list of string values")
            terms[str(label)] = tuple(allowed)
        alternatives.append(terms)
    return tuple(alternatives)


def _workload(record: Mapping[str, Any], where: str, image_ids: set[str]) -> Workload:
    check_provenance(record, where=where)
    replicas = record.get("replicas")
    if replicas is not None and (isinstance(replicas, bool) or not isinstance(replicas, int)):
        raise CatalogError(f"{where}: 'replicas' must be an integer or null")
    kind = _str(record, "kind", where=where)
    if (replicas is None) != (kind == "DaemonSet"):
        raise CatalogError(f"{where}: 'replicas' is null exactly for a DaemonSet")
    images = tuple(str(i) for i in _list(record, "images", where=where))
    unknown = sorted(set(images) - image_ids)
    if unknown:
        raise CatalogError(f"{where}: unknown image id(s) {', '.join(unknown)}")
    tolerations = _list(record, "defaultTolerations", where=where)
    if not isinstance(record.get("enabledDefault"), bool):
        raise CatalogError(f"{where}: 'enabledDefault' must be true or false")
    return Workload(
        name=_str(record, "name", where=where),
        kind=kind,
        created_by=_str(record, "createdBy", where=where),
        enabled_by=_opt_str(record, "enabledBy", where=where),
        enabled_default=record["enabledDefault"],
        replicas=replicas,
        replicas_path=_opt_str(record, "replicasPath", where=where),
        node_selector_path=_str(record, "nodeSelectorPath", where=where),
        tolerations_path=_str(record, "tolerationsPath", where=where),
        resources_path=_str(record, "resourcesPath", where=where),
        default_node_selector=_str_map(
            record.get("defaultNodeSelector"), where=f"{where}.defaultNodeSelector"
        ),
        default_tolerations=tuple(
            _str_map(t, where=f"{where}.defaultTolerations[{i}]") for i, t in enumerate(tolerations)
        ),
        default_affinity_requires=_affinity(record.get("defaultAffinityRequires"), where=where),
        default_requests=_str_map(record.get("defaultRequests"), where=f"{where}.defaultRequests"),
        images=images,
        source=record["source"],
        date=str(record["date"]),
    )


def _chart(record: Mapping[str, Any], where: str) -> ChartSpec:
    check_provenance(record, where=where)
    crds_via = record.get("crdsVia")
    if crds_via not in ("crds-dir", "templates", "none"):
        raise CatalogError(f"{where}: 'crdsVia' must be crds-dir, templates or none")
    crds = tuple(str(c) for c in _list(record, "crds", where=where))
    if (crds_via == "none") != (not crds):
        raise CatalogError(f"{where}: crdsVia none exactly when the chart installs no CRD")
    images = tuple(
        _image(r, f"{where}.images[{i}]") for i, r in enumerate(_list(record, "images", where=where))
    )
    ids = {image.id for image in images}
    if len(ids) != len(images):
        raise CatalogError(f"{where}: duplicate image ids")
    workloads = tuple(
        _workload(r, f"{where}.workloads[{i}]", ids)
        for i, r in enumerate(_list(record, "workloads", where=where))
    )
    unused = sorted(ids - {i for w in workloads for i in w.images})
    if unused:
        raise CatalogError(f"{where}: image(s) no workload pulls: {', '.join(unused)}")
    return ChartSpec(
        name=_str(record, "name", where=where),
        version_key=_str(record, "versionKey", where=where),
        repository=_str(record, "repository", where=where),
        version=str(_str(record, "version", where=where)),
        app_version=str(_str(record, "appVersion", where=where)),
        global_registry_path=_opt_str(record, "globalRegistryPath", where=where),
        crds_via=crds_via,
        crds=crds,
        workloads=workloads,
        images=images,
        source=record["source"],
        date=str(record["date"]),
    )


@functools.cache
def _charts() -> tuple[ChartSpec, ...]:
    raw = load_file(_FILE).get("charts")
    if not isinstance(raw, list):
        raise CatalogError(f"{_FILE}: 'charts' must be a list")
    charts = tuple(_chart(r, f"{_FILE}:charts[{i}]") for i, r in enumerate(raw))
    names = [c.name for c in charts]
    if len(set(names)) != len(names):
        raise CatalogError(f"{_FILE}: duplicate chart names")
    return charts


@functools.cache
def _registries() -> tuple[RegistrySpec, ...]:
    raw = load_file(_FILE).get("registries")
    if not isinstance(raw, list):
        raise CatalogError(f"{_FILE}: 'registries' must be a list")
    return tuple(_registry(r, f"{_FILE}:registries[{i}]") for i, r in enumerate(raw))


def list_charts() -> tuple[ChartSpec, ...]:
    """Every third-party chart of the catalog, in file order."""
    return _charts()


def get_chart(name: str, version: str | None = None) -> ChartSpec:
    """The chart ``name`` (``keda``); with ``version``, only if the catalog describes that exact version.

    CatalogLookupError when unknown, or when the stack pins a version the catalog does not describe (its
    workloads and images may differ: update data/charts.yaml from that version's values.yaml)."""
    for chart in _charts():
        if chart.name == name:
            if version is not None and version != chart.version:
                raise CatalogLookupError(
                    f"chart {name} {version} is not described in serving/catalog/data/charts.yaml "
                    f"(it holds {chart.version})"
                )
            return chart
    raise CatalogLookupError(f"unknown chart {name!r}")


def list_registries() -> tuple[RegistrySpec, ...]:
    """Every upstream registry of the catalog."""
    return _registries()


def get_registry(host: str) -> RegistrySpec | None:
    """The registry record for ``host`` (``quay.io``), or None when the catalog does not know it."""
    for registry in _registries():
        if registry.host == host:
            return registry
    return None
