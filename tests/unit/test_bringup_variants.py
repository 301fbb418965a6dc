"""The bring-up analysis over variants of the shipped stacks (tests/unit/bringup_variants.py): each renders,
every check gets a verdict, and every failing finding is one precise line naming a resource of the plan and
a config key, and none fails: a 405B model (auto, and bf16 on A100: multi-node LWS + EFA), Karpenter, TGI
at min 0 and an adopted VPC + cluster come up on each shipped stack."""

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
    marks = verdicts(result.findings)
    assert set(marks) == set(CHECKS)
    assert [f.line() for f in result.findings if f.verdict == "fail"] == []
    names = {r["name"] for r in result.resources}
    for f in result.findings:
        assert f.resource in names or f.resource in NON_RESOURCES, f.line()
        assert f.key.startswith(("paddock:", "program order", "resources.json", "helm")), f.line()
        assert "\n" not in f.line() and len(f.message) < 400
    types = {r["type"] for r in result.resources}
    if name.endswith("-405b-multinode"):  # a replica spans nodes: LWS controller + EFA device plugin
        assert next(iter(result.plans.values())).nodes_per_replica > 1
        assert {"controllers-lws", "controllers-efa-device-plugin"} <= names
    if name.endswith("-karpenter"):
        assert "kubernetes:karpenter.sh/v1:NodePool" in types and "node-scaling-karpenter" in names
    if name.endswith("-tgi-min0"):
        assert result.config.models[0].engine == "tgi" and result.config.models[0].replicas_min == 0
    if name.endswith("-adopted"):  # nothing of an adopted cluster is claimed as proven
        assert "aws:eks/cluster:Cluster" not in types
        assert marks["reachability"] == "assumed"


def test_prod_eu_405b_is_a_config_error_naming_the_gpu_key(tmp_path: Path) -> None:
    """No instance type sold On-Demand in eu-central-1 serves 64 x 32k of 405B: an error, not a plan."""
    import yaml
    from bringup_variants import OVERLAYS, STACKS

    from serving.errors import InputError

    doc = yaml.safe_load((STACKS / "Pulumi.prod-eu.yaml").read_text())
    OVERLAYS["405b"](doc["config"])
    path = tmp_path / "Pulumi.prod-eu-405b.yaml"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(InputError, match=r"paddock:models\[0\]\.gpu: no instance in eu-central-1"):
        offline.render_plan(stack="prod-eu-405b", stack_file=path, out_dir=tmp_path / "plan")
