"""Entry point Pulumi runs for ``--policy-pack stacks/policy_pack`` (serves the pack over gRPC; blocks)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root: serving/, stacks/

from pulumi_policy import PolicyPack  # noqa: E402

from stacks.policy_pack.policies import POLICIES  # noqa: E402

PolicyPack(name="paddock-residency", policies=POLICIES)
