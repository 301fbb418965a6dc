"""The third-party chart catalog as the bring-up analysis reads it: ``serving/catalog/data/charts.yaml``
(typed by serving.catalog.charts, owned by "images") indexed by (chart, pinned version), plus the few chart
facts that catalog does not hold (``data/chart_extras.yaml``: custom resources a chart renders when a value
is true, where its ServiceAccount name is set)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from serving.catalog.charts import ChartSpec, list_charts

CATALOG_PATH = "serving/catalog/data/charts.yaml"
EXTRAS = Path(__file__).resolve().parent / "data" / "chart_extras.yaml"


@dataclass(frozen=True)
class ChartExtras:
    """Facts of one chart the catalog does not hold."""

    renders: tuple[tuple[str, str], ...] = ()
    """``(group/Kind, values path)``: the chart renders that custom resource when the value is true."""
    service_accounts: Mapping[str, tuple[str | None, str | None]] = field(default_factory=dict)
    """workload name -> (values path of its ServiceAccount name, default name)."""


@dataclass(frozen=True)
class ChartCatalog:
    """Charts by ``(name, version)``; ``path`` names the source in messages."""

    charts: Mapping[tuple[str, str], ChartSpec]
    path: str = CATALOG_PATH
    extras: Mapping[str, ChartExtras] = field(default_factory=dict)

    def get(self, chart: str, version: str) -> ChartSpec | None:
        return self.charts.get((chart, version))

    def installers(self, kind: str) -> list[ChartSpec]:
        """Charts that install the CRD of ``group/Kind``."""
        return [c for c in self.charts.values() if any(crd_matches(crd, kind) for crd in c.crds)]

    def extra(self, chart: str) -> ChartExtras:
        return self.extras.get(chart, ChartExtras())

    def without(self, *names: str) -> ChartCatalog:
        """The same catalog minus charts ``names`` (tests, what-if)."""
        kept = {k: v for k, v in self.charts.items() if k[0] not in names}
        return ChartCatalog(charts=kept, path=self.path, extras=self.extras)


def crd_matches(crd: str, kind: str) -> bool:
    """Whether CRD ``<plural>.<group>`` serves ``group/Kind`` (plural = lower-case kind + s/es)."""
    group, _, name = kind.rpartition("/")
    plural, _, crd_group = crd.partition(".")
    lower = name.lower()
    return crd_group == group and plural in (lower + "s", lower + "es", lower)


@cache
def _extras() -> dict[str, ChartExtras]:
    data = yaml.safe_load(EXTRAS.read_text()) or {}
    out: dict[str, ChartExtras] = {}
    for name, rec in (data.get("charts") or {}).items():
        out[str(name)] = ChartExtras(
            renders=tuple((str(r["kind"]), str(r["when"])) for r in rec.get("renders") or ()),
            service_accounts={
                str(w): (s.get("path"), s.get("default"))
                for w, s in (rec.get("serviceAccounts") or {}).items()
            },
        )
    return out


def catalog_of(specs: Iterable[ChartSpec]) -> ChartCatalog:
    """A catalog of ``specs`` with the shipped extras."""
    return ChartCatalog(charts={(s.name, s.version): s for s in specs}, extras=_extras())


def load_chart_catalog() -> ChartCatalog:
    """The shipped catalog (serving/catalog/data/charts.yaml + data/chart_extras.yaml)."""
    return catalog_of(list_charts())


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
