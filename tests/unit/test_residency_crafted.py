"""Crafted residency stacks derived at test time from the base fixtures in tests/fixtures/stacks.

Each crafted stack is one mutation of a base fixture (``clean-eu`` or ``unknown-eu-profile``) read when the
test runs, so keys the schema adds to the base fixtures later (pinned versions, cluster settings) flow into
every crafted stack too. :func:`stack_path` returns the fixture file itself for a base name.
"""

from __future__ import annotations

import copy
import dataclasses
import tempfile
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from serving.stack_config import ClusterConfig

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "stacks"
Config = dict[str, Any]
EVERY_EU = [
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
]
ADOPTED = {
    "existingVpcId": "vpc-0123456789abcdef0",
    "privateSubnetIds": ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"],
}


def _profile(pid: str) -> Callable[[Config], None]:
    def mutate(c: Config) -> None:
        c["paddock:fallback"]["bedrock"]["models"]["claude-sonnet"]["inferenceProfile"] = pid

    return mutate


def _global_allowed(c: Config) -> None:
    _profile("global.anthropic.claude-sonnet-4-5-20250929-v1:0")(c)
    c["paddock:residency"]["allowGlobalInferenceProfiles"] = True


def _hf(c: Config) -> None:
    c["paddock:models"][0]["weights"] = "hf"
    c["paddock:network"]["natGateway"] = True


def _hf_opted_in(c: Config) -> None:
    _hf(c)
    c["paddock:residency"]["allowPublicEgress"] = True


def _adopted(c: Config) -> None:
    c["paddock:network"] = {**ADOPTED, "vpcEndpoints": True}
    c["paddock:residency"]["allowPublicEgress"] = True  # stated: what the VPC does is checked elsewhere


def _adopted_no_opt_in(c: Config) -> None:
    c["paddock:network"] = {**ADOPTED, "vpcEndpoints": True}


def _adopted_hf(c: Config) -> None:
    c["paddock:network"] = {**ADOPTED, "vpcEndpoints": False}
    c["paddock:models"][0]["weights"] = "hf"


def _open_api(c: Config) -> None:
    c["paddock:cluster"]["endpointPublicAccess"] = True
    if "public_access_cidrs" in {f.name for f in dataclasses.fields(ClusterConfig)}:
        c["paddock:cluster"]["publicAccessCidrs"] = ["0.0.0.0/0"]  # schemas that require the key


def _unknown_allowed(c: Config) -> None:
    c["paddock:residency"]["allowedRegions"] = [*c["paddock:residency"]["allowedRegions"], "eu-nowhere-1"]


def _unknown_home(c: Config) -> None:
    _unknown_allowed(c)
    c["aws:region"] = "eu-nowhere-1"
    c["paddock:fallback"]["bedrock"]["region"] = "eu-central-1"


def _contained(c: Config) -> None:
    c["paddock:residency"]["allowedRegions"] = EVERY_EU


#: crafted stack -> (base fixture, what it shows, mutation of its ``config:``)
CRAFTED: dict[str, tuple[str, str, Callable[[Config], None]]] = {
    "unknown-geography": (
        "clean-eu",
        "a ca. prefix is no known geography: fail closed",
        _profile("ca.anthropic.claude-sonnet-4-5-20250929-v1:0"),
    ),
    "clean-global-allowed": (
        "clean-eu",
        "a global. profile with allowGlobalInferenceProfiles",
        _global_allowed,
    ),
    "hf-weights": ("clean-eu", "hf weights and a NAT gateway without allowPublicEgress", _hf),
    "clean-public-egress-opt-in": (
        "clean-eu",
        "NAT + hf weights stated with allowPublicEgress",
        _hf_opted_in,
    ),
    "adopted-vpc": (
        "clean-eu",
        "an adopted VPC with allowPublicEgress: egress not visible (warning)",
        _adopted,
    ),
    "adopted-vpc-no-opt-in": ("clean-eu", "an adopted VPC, fallback, no opt-in", _adopted_no_opt_in),
    "adopted-vpc-hf": ("clean-eu", "adopted VPC, hf weights, no endpoints, no opt-in", _adopted_hf),
    "public-api-endpoint": ("clean-eu", "EKS API endpoint open to 0.0.0.0/0", _open_api),
    "unknown-allowed-region": (
        "clean-eu",
        "allowedRegions names a Region AWS does not know",
        _unknown_allowed,
    ),
    "unknown-home-region": ("clean-eu", "aws:region is no AWS Region", _unknown_home),
    "unverified-contained": (
        "unknown-eu-profile",
        "an unlisted eu. profile, every EU Region allowed",
        _contained,
    ),
}


@cache
def _crafted_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="paddock-crafted-"))


def stack_path(name: str) -> Path:
    """The stack file of ``name``: a fixture file, or a crafted stack written (once) to a temp dir."""
    if name not in CRAFTED:
        return FIXTURES / f"Pulumi.{name}.yaml"
    path = _crafted_dir() / f"Pulumi.{name}.yaml"
    if not path.is_file():
        base, why, mutate = CRAFTED[name]
        doc = yaml.safe_load((FIXTURES / f"Pulumi.{base}.yaml").read_text())
        config = copy.deepcopy(doc["config"])
        mutate(config)
        path.write_text(
            f"# Crafted from {base}: {why}.\n" + yaml.safe_dump({"config": config}, sort_keys=False)
        )
    return path


@pytest.mark.parametrize("name", sorted(CRAFTED))
def test_crafted_stacks_are_written_from_their_base(name: str) -> None:
    path = stack_path(name)
    base = CRAFTED[name][0]
    assert path.read_text().startswith(f"# Crafted from {base}") and stack_path(name) == path
