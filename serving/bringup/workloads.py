"""Pod templates of a stack: our charts' manifests, third-party releases through the chart catalog (as our
values configure them) and the EKS add-ons' own pods."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from serving.bringup import facts
from serving.bringup.charts import ChartCatalog, values_at
from serving.bringup.quantity import cpu_millis, mebibytes
from serving.catalog.charts import ChartSpec, Workload
from serving.chart_overrides import chart_name_of, enabled_workloads, upstream_reference
from serving.images import eks_registry_host

RELEASE = "kubernetes:helm.sh/v3:Release"
ADDON = "aws:eks/addon:Addon"
CLUSTER = "aws:eks/cluster:Cluster"
POD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "LeaderWorkerSet")


@dataclass(frozen=True)
class Pod:
    """One pod template that exists at install: where it may run, what it asks for, what it pulls."""

    name: str
    kind: str
    owner: str
    """Logical name of the resource that creates it (a Helm release, an add-on, the cluster)."""
    namespace: str
    replicas: int
    node_selector: Mapping[str, str]
    tolerations: tuple[Mapping[str, Any], ...]
    cpu_m: float
    memory_mib: float
    gpus: int
    images: tuple[str, ...]
    service_account: str | None = None
    empty_dirs: Mapping[str, float] = field(default_factory=dict)
    """emptyDir name -> sizeLimit MiB (0 when unlimited)."""
    affinity: tuple[Mapping[str, tuple[str, ...]], ...] = ()
    """Required node affinity: alternatives, each label -> allowed values (one alternative must match)."""

    @property
    def daemon(self) -> bool:
        return self.kind == "DaemonSet"


def _requests(containers: Sequence[Mapping[str, Any]]) -> tuple[float, float, int]:
    cpu = mem = 0.0
    gpus = 0
    for c in containers:
        res = c.get("resources") or {}
        req = {**(res.get("limits") or {}), **(res.get("requests") or {})}  # limits alone imply requests
        cpu += cpu_millis(req.get("cpu"))
        mem += mebibytes(req.get("memory"))
        gpus += int(float(req.get("nvidia.com/gpu", 0) or 0))
    return cpu, mem, gpus


def pod_from_template(
    name: str, kind: str, owner: str, namespace: str, replicas: int, template: Mapping[str, Any]
) -> Pod:
    """A :class:`Pod` from a pod template (``spec.template``). Effective request = max(sum of containers,
    largest init container), as the scheduler computes it."""
    spec = template.get("spec") or {}
    main = _requests(spec.get("containers") or [])
    inits = [_requests([c]) for c in spec.get("initContainers") or []]
    cpu = max([main[0], *(i[0] for i in inits)])
    mem = max([main[1], *(i[1] for i in inits)])
    gpus = max([main[2], *(i[2] for i in inits)])
    images = tuple(
        str(c["image"]) for c in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]
    )
    dirs = {
        str(v["name"]): mebibytes((v.get("emptyDir") or {}).get("sizeLimit"))
        for v in spec.get("volumes") or []
        if "emptyDir" in v
    }
    return Pod(
        name=name,
        kind=kind,
        owner=owner,
        namespace=namespace,
        replicas=replicas,
        node_selector=dict(spec.get("nodeSelector") or {}),
        tolerations=tuple(spec.get("tolerations") or ()),
        cpu_m=cpu,
        memory_mib=mem,
        gpus=gpus,
        images=images,
        service_account=spec.get("serviceAccountName"),
        empty_dirs=dirs,
    )


_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present (10x faster)


def manifest_docs(text: str) -> list[Mapping[str, Any]]:
    """The documents of a manifest stream (mappings only)."""
    return [d for d in yaml.load_all(text, Loader=_LOADER) if isinstance(d, Mapping)]


def manifest_pods(owner: str, namespace: str, docs: list[Mapping[str, Any]]) -> Iterator[Pod]:
    """Pods of one rendered manifest stream (``helm template`` of our chart)."""
    for doc in docs:
        if not isinstance(doc, Mapping) or doc.get("kind") not in POD_KINDS:
            continue
        kind, spec = str(doc["kind"]), doc.get("spec") or {}
        name = str((doc.get("metadata") or {}).get("name", kind))
        ns = str((doc.get("metadata") or {}).get("namespace") or namespace)
        if kind == "LeaderWorkerSet":
            lws = spec.get("leaderWorkerTemplate") or {}
            groups = int(spec.get("replicas", 1))
            size = int(lws.get("size", 1))
            leader = lws.get("leaderTemplate") or lws.get("workerTemplate") or {}
            yield pod_from_template(f"{name}-leader", kind, owner, ns, groups, leader)
            if size > 1:
                worker = lws.get("workerTemplate") or {}
                yield pod_from_template(f"{name}-worker", kind, owner, ns, groups * (size - 1), worker)
            continue
        replicas = 1 if kind == "DaemonSet" else int(spec.get("replicas", 1))
        yield pod_from_template(name, kind, owner, ns, replicas, spec.get("template") or {})


def group_kind(api_version: str, kind: str) -> str:
    """``leaderworkerset.x-k8s.io/LeaderWorkerSet``; ``apps/Deployment``; ``Service`` for the core group."""
    group = api_version.rsplit("/", 1)[0] if "/" in api_version else ""
    return f"{group}/{kind}" if group else kind


def manifest_kinds(docs: list[Mapping[str, Any]]) -> list[str]:
    """``group/Kind`` of every document of a manifest stream."""
    return [group_kind(str(d.get("apiVersion", "")), str(d.get("kind", ""))) for d in docs]


def chart_workload_pod(
    release: Mapping[str, Any],
    chart: ChartSpec,
    wl: Workload,
    values: Mapping[str, Any],
    catalog: ChartCatalog,
) -> Pod:
    """The pod of one third-party workload as our values configure it (catalog defaults otherwise)."""
    replicas = values_at(values, wl.replicas_path)
    selector = values_at(values, wl.node_selector_path)
    tolerations = values_at(values, wl.tolerations_path)
    resources = values_at(values, wl.resources_path)
    requests = resources.get("requests") if isinstance(resources, Mapping) else None
    req: Mapping[str, Any] = requests if requests else wl.default_requests
    path, default = catalog.extra(chart.name).service_accounts.get(wl.name, (None, None))
    account = values_at(values, path) or default
    images = tuple(upstream_reference(chart.image(i), values) for i in wl.images)
    return Pod(
        name=wl.name if wl.name.startswith(chart.name) else f"{chart.name}-{wl.name}",
        kind=wl.kind,
        owner=str(release["name"]),
        namespace=str(release["inputs"].get("namespace", "default")),
        replicas=1 if wl.kind == "DaemonSet" else int(replicas if replicas is not None else wl.replicas or 1),
        node_selector=dict(selector) if selector else dict(wl.default_node_selector),
        tolerations=tuple(tolerations) if tolerations else wl.default_tolerations,
        cpu_m=cpu_millis(req.get("cpu")),
        memory_mib=mebibytes(req.get("memory")),
        gpus=int(float(req.get("nvidia.com/gpu", 0) or 0)),
        images=images,
        service_account=str(account) if account else None,
        affinity=() if values.get("affinity") else wl.default_affinity_requires,
    )


def _addon_config(addon: Mapping[str, Any]) -> dict[str, Any]:
    text = addon["inputs"].get("configurationValues")
    try:
        parsed = json.loads(text) if isinstance(text, str) and text else {}
    except json.JSONDecodeError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def addon_pods(
    resources: Sequence[Mapping[str, Any]], region: str, *, cluster_created: bool
) -> Iterator[Pod]:
    """Pods of the EKS add-ons: each managed add-on (with its configurationValues' nodeSelector, tolerations,
    replicaCount) and, on a created cluster, the self-managed defaults EKS installs (coredns, vpc-cni,
    kube-proxy) unless a managed add-on of that name replaces them or bootstrapSelfManagedAddons is false."""
    registry = eks_registry_host(region)
    managed = {str(r["inputs"].get("addonName")): r for r in resources if r["type"] == ADDON}
    cluster = next((r for r in resources if r["type"] == CLUSTER), None)
    bootstrap = cluster is not None and cluster["inputs"].get("bootstrapSelfManagedAddons", True) is not False
    for rec in facts.eks_facts()["addons"]:
        resource = managed.get(rec["name"])
        if resource is None and not (cluster_created and bootstrap and rec["default"]):
            continue
        owner = str(resource["name"]) if resource else str(cluster["name"] if cluster else "cluster")
        conf = _addon_config(resource) if resource else {}
        for wl in rec["workloads"]:
            daemon = wl["kind"] == "DaemonSet"
            req = wl.get("requests") or {}
            yield Pod(
                name=wl["name"],
                kind=wl["kind"],
                owner=owner,
                namespace=wl.get("namespace", "kube-system"),
                replicas=1 if daemon else int(conf.get("replicaCount", wl.get("replicas", 1))),
                node_selector=dict(conf.get("nodeSelector") or wl.get("node_selector") or {}),
                tolerations=tuple(conf.get("tolerations") or wl.get("tolerations") or ()),
                cpu_m=cpu_millis(req.get("cpu")),
                memory_mib=mebibytes(req.get("memory")),
                gpus=0,
                images=tuple(f"{registry}/{i}" for i in wl.get("images", [])),
            )


@dataclass
class Workloads:
    """Every pod at install, plus the releases the analysis could not describe."""

    pods: list[Pod]
    unknown_charts: list[tuple[str, str]]
    """``(release resource, "chart@version")`` third-party releases missing from the chart catalog."""
    unrendered: list[str]
    """Releases of our charts whose manifests were not rendered."""
    kinds: dict[str, list[str]]
    """release resource -> ``group/Kind`` of what it renders (our charts, and catalog ``renders``)."""


def collect(
    resources: Sequence[Mapping[str, Any]],
    manifests: Mapping[str, str] | None,
    charts: ChartCatalog,
    region: str,
    *,
    cluster_created: bool,
) -> Workloads:
    """All pods of the stack (see module doc)."""
    out = Workloads(pods=[], unknown_charts=[], unrendered=[], kinds={})
    for r in resources:
        if r["type"] != RELEASE:
            continue
        inputs = r["inputs"]
        release = str(inputs.get("name") or r["name"])
        values = inputs.get("values") or {}
        namespace = str(inputs.get("namespace", "default"))
        chart_name = str(inputs.get("chart", ""))
        local = "/" in chart_name and not chart_name.startswith("oci://") and not inputs.get("repositoryOpts")
        if local:  # our own chart (a path under serving/charts)
            text = (manifests or {}).get(release)
            if text is None:
                out.unrendered.append(str(r["name"]))
                continue
            docs = manifest_docs(text)
            out.pods.extend(manifest_pods(str(r["name"]), namespace, docs))
            out.kinds[str(r["name"])] = manifest_kinds(docs)
            continue
        spec = charts.get(chart_name_of(chart_name), str(inputs.get("version", "")))
        if spec is None:
            out.unknown_charts.append((str(r["name"]), f"{chart_name}@{inputs.get('version', '')}"))
            continue
        out.pods.extend(
            chart_workload_pod(r, spec, wl, values, charts) for wl in enabled_workloads(spec, values)
        )
        renders = charts.extra(spec.name).renders
        out.kinds[str(r["name"])] = sorted(
            {kind for kind, when in renders if values_at(values, when) is True}
        )
    out.pods.extend(addon_pods(resources, region, cluster_created=cluster_created))
    return out
