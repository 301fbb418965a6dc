"""serving.catalog.eks: the EKS support calendar and the pinned add-on versions of the shipped stacks."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from serving.catalog._data import load_file
from serving.catalog.eks import eks_calendar, end_of_standard_support, pinned_addon_versions, support_warning
from serving.stack_config import load_stack_file

STACKS = Path(__file__).resolve().parents[2] / "stacks"
TODAY = dt.date(2026, 12, 4)


def test_calendar_dates_from_the_eks_docs() -> None:
    assert end_of_standard_support("1.33") == dt.date(2026, 7, 29)
    assert end_of_standard_support("1.34") == dt.date(2026, 12, 2)
    assert end_of_standard_support("1.35") == dt.date(2027, 3, 27)
    assert end_of_standard_support("1.99") is None
    for row in eks_calendar().values():
        assert row.eks_release < row.end_of_standard_support < row.end_of_extended_support


def test_every_record_carries_source_and_date() -> None:
    doc = load_file("eks.yaml")
    for key in ("kubernetes_versions", "addons"):
        for rec in doc[key]:
            assert len(rec["source"]) > 20 and dt.date.fromisoformat(str(rec["date"]))


def test_warning_past_soon_unknown_and_fine() -> None:
    past = support_warning("1.33", TODAY)
    assert past is not None and "left EKS standard support on 2026-07-29" in past
    assert support_warning("1.35", TODAY) is None  # 113 days left
    soon = support_warning("1.35", dt.date(2027, 1, 1))
    assert soon is not None and "(85 days)" in soon
    unknown = support_warning("1.99", TODAY)
    assert unknown is not None and "not in the EKS support calendar" in unknown


@pytest.mark.parametrize("stack", ["dev", "prod-eu", "ephemeral"])
def test_shipped_stacks_are_in_standard_support_and_pin_the_catalog_addons(stack: str) -> None:
    cfg = load_stack_file(STACKS / f"Pulumi.{stack}.yaml")
    version = str(cfg.cluster.kubernetes_version)
    assert support_warning(version, TODAY) is None
    assert dict(cfg.versions.eks_addons) == pinned_addon_versions(version)
