"""Bring-up analysis: an offline simulation of ``pulumi up`` over the records of a mock run.

Pure Python (no Pulumi). :func:`analyze` builds a model of the cluster from the resource records
(``dependsOn``/``provider`` per resource), our charts' rendered manifests, third-party releases as configured
by our values (through the chart catalog ``serving/catalog/data/charts.yaml``), the EKS add-ons' own pods
(``serving/bringup/data/eks.yaml``) and the stack config, then runs each check of :data:`CHECKS`. Every
check returns findings: ``(check id, verdict pass|fail|assumed, resource, config key, one line)``.
"""

from __future__ import annotations

from serving.bringup.analysis import CHECKS, analyze, verdicts
from serving.bringup.charts import ChartCatalog, catalog_of, load_chart_catalog
from serving.bringup.model import BringupInput, Finding

__all__ = [
    "CHECKS",
    "BringupInput",
    "ChartCatalog",
    "Finding",
    "analyze",
    "catalog_of",
    "load_chart_catalog",
    "verdicts",
]
