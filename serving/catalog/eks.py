"""The EKS support calendar (``serving/catalog/data/eks.yaml``): when a Kubernetes minor version leaves EKS
standard support, so ``paddock plan`` can warn before a stack starts paying extended support."""

from __future__ import annotations

import datetime as _dt
import functools
from dataclasses import dataclass

from serving.catalog._data import records
from serving.errors import CatalogError

#: warn when the pinned version leaves standard support within this many days
SUPPORT_WARNING_DAYS = 90


@dataclass(frozen=True, kw_only=True)
class KubernetesVersionSupport:
    """One row of the EKS release calendar (UTC dates)."""

    version: str
    eks_release: _dt.date
    end_of_standard_support: _dt.date
    end_of_extended_support: _dt.date


def _date(value: object, where: str) -> _dt.date:
    try:
        return _dt.date.fromisoformat(str(value))
    except ValueError as exc:
        raise CatalogError(f"{where}: {value!r} is not YYYY-MM-DD") from exc


@functools.cache
def eks_calendar() -> dict[str, KubernetesVersionSupport]:
    """Kubernetes minor version (``"1.35"``) -> its EKS support dates."""
    out: dict[str, KubernetesVersionSupport] = {}
    for i, rec in enumerate(records("eks.yaml", "kubernetes_versions")):
        where = f"eks.yaml:kubernetes_versions[{i}]"
        out[str(rec["version"])] = KubernetesVersionSupport(
            version=str(rec["version"]),
            eks_release=_date(rec["eks_release"], where),
            end_of_standard_support=_date(rec["end_of_standard_support"], where),
            end_of_extended_support=_date(rec["end_of_extended_support"], where),
        )
    return out


def end_of_standard_support(version: str) -> _dt.date | None:
    """The day EKS standard support of ``version`` ends (None when the calendar does not know it)."""
    row = eks_calendar().get(version)
    return row.end_of_standard_support if row else None


def support_warning(version: str, today: _dt.date, days: int = SUPPORT_WARNING_DAYS) -> str | None:
    """A one-line warning when ``version`` is unknown, already past, or leaves standard support within
    ``days`` of ``today``; None when it is comfortably inside standard support."""
    end = end_of_standard_support(version)
    if end is None:
        return f"Kubernetes {version} is not in the EKS support calendar (serving/catalog/data/eks.yaml)"
    left = (end - today).days
    if left <= 0:
        return (
            f"Kubernetes {version} left EKS standard support on {end.isoformat()}: the cluster pays extended "
            "support; bump paddock:cluster.kubernetesVersion"
        )
    if left <= days:
        return (
            f"Kubernetes {version} leaves EKS standard support on {end.isoformat()} ({left} days): plan the "
            "upgrade of paddock:cluster.kubernetesVersion"
        )
    return None


def pinned_addon_versions(kubernetes_version: str) -> dict[str, str]:
    """Add-on name -> the version recorded in the catalog for ``kubernetes_version`` (may be empty)."""
    return {
        str(r["name"]): str(r["version"])
        for r in records("eks.yaml", "addons")
        if str(r["kubernetes_version"]) == kubernetes_version
    }
