"""The bring-up analysis over variants of the shipped stacks (tests/unit/bringup_variants.py): each renders,
every check gets a verdict, and every failing finding is one precise line naming a resource of the plan and
a config key. (Whether they pass is the point of issue 11; that depends on the other fixes of this round.)"""

from __future__ import annotations

from pathlib import Path

import pytest
from bringup_variants import VARIANTS, write_variants

from serving.bringup import CHECKS, verdicts
from stacks import offline

NON_RESOURCES = {"persistent volumes", "cluster", "network", "node groups", "models", "dependsOn"}


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_variant_is_analysed_precisely(name: str, tmp_path: Path) -> None:
    write_variants(tmp_path)
    result = offline.render_plan(
        stack=name, stack_file=tmp_path / f"Pulumi.{name}.yaml", out_dir=tmp_path / "plan"
    )
    assert set(verdicts(result.findings)) == set(CHECKS)
    names = {r["name"] for r in result.resources}
    for f in result.findings:
        assert f.resource in names or f.resource in NON_RESOURCES, f.line()
        assert f.key.startswith(("paddock:", "program order", "resources.json", "helm")), f.line()
        assert "\n" not in f.line() and len(f.message) < 400
    if name == "dev-adopted":  # nothing of an adopted cluster is claimed as proven
        assert verdicts(result.findings)["reachability"] == "assumed"
