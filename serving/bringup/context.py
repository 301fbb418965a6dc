"""The cluster model every check reads: graph, pools, pods, and a few lookups naming config keys."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from serving.bringup.model import BringupInput, Graph
from serving.bringup.pools import Pool, collect_pools
from serving.bringup.workloads import RELEASE, Pod, Workloads, collect
from serving.catalog.charts import list_charts
from serving.chart_overrides import chart_name_of

#: chart name -> the config key that pins its version
SYSTEM_KEY = "paddock:cluster.systemNodes"


@dataclass
class Cluster:
    """Built once per analysis from a :class:`BringupInput`."""

    inp: BringupInput
    memo: dict[str, object] = field(default_factory=dict)
    """Results several checks share (the placement), computed once."""

    @cached_property
    def graph(self) -> Graph:
        return Graph(self.inp.resources)

    @property
    def config(self) -> Mapping[str, Any]:
        return self.inp.config

    @cached_property
    def cluster_created(self) -> bool:
        return bool((self.config.get("cluster") or {}).get("create", True))

    @cached_property
    def network_created(self) -> bool:
        return bool((self.config.get("network") or {}).get("create", True))

    @cached_property
    def pools(self) -> list[Pool]:
        return collect_pools(self.graph, cluster_created=self.cluster_created)

    @cached_property
    def workloads(self) -> Workloads:
        return collect(
            self.inp.resources,
            self.inp.manifests,
            self.inp.charts,
            self.inp.region,
            cluster_created=self.cluster_created,
        )

    @property
    def pods(self) -> list[Pod]:
        return self.workloads.pods

    def releases(self, chart: str) -> list[Mapping[str, Any]]:
        """Helm release records of chart ``chart``."""
        return [
            r
            for r in self.inp.resources
            if r["type"] == RELEASE and chart_name_of(str(r["inputs"].get("chart", ""))) == chart
        ]

    def model_key(self, alias: str | None, field: str = "") -> str:
        """``paddock:models[i].<field>`` for an alias (``paddock:models`` when unknown)."""
        for i, m in enumerate(self.config.get("models") or []):
            if m.get("alias") == alias:
                return f"paddock:models[{i}]" + (f".{field}" if field else "")
        return "paddock:models"

    def pod_key(self, pod: Pod) -> str:
        """The key that decides where a pod runs: its model for GPU pods, the system pool otherwise."""
        alias = pod.node_selector.get("paddock.dev/model")
        if pod.gpus or alias:
            return self.model_key(alias, "replicas.min")
        return SYSTEM_KEY

    def chart_key(self, release: str) -> str:
        rec = self.graph.by_name.get(release)
        chart = str(rec["inputs"].get("chart", "")) if rec else ""
        name = chart_name_of(chart)
        keys = {spec.name: spec.version_key for spec in list_charts()}
        return f"paddock:versions.{keys[name]}" if name in keys else "paddock:versions"
