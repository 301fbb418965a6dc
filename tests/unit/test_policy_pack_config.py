"""The policy-pack configs that PulumiPolicy.yaml and the pack's README name exist, configure every policy
of the pack, and point at a stack file that parses."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from serving.stack_config import load_stack_file
from stacks.policy_pack.policies import POLICIES, policy_from_config

ROOT = Path(__file__).resolve().parents[2]
PACK = ROOT / "stacks" / "policy_pack"
NAMED = sorted(
    set(re.findall(r"stacks/policy_pack/(config\.[\w-]+\.json)", (PACK / "PulumiPolicy.yaml").read_text()))
    | set(re.findall(r"stacks/policy_pack/(config\.[\w-]+\.json)", (PACK / "README.md").read_text()))
)


def test_the_docs_name_a_config() -> None:
    assert NAMED == ["config.prod-eu.json"]


@pytest.mark.parametrize("stack", ["dev", "prod-eu", "ephemeral"])
def test_each_shipped_stack_has_a_config_for_every_policy(stack: str) -> None:
    config = json.loads((PACK / f"config.{stack}.json").read_text())
    assert set(config) == {p.name for p in POLICIES}
    for policy_config in config.values():
        stack_file = ROOT / policy_config["stackFile"]
        assert load_stack_file(stack_file).stack == stack
        assert policy_from_config(policy_config).home_region == load_stack_file(stack_file).region
