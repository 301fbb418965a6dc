"""Live ``paddock ephemeral`` with a real Pulumi CLI, backend and AWS account (opt-in: ``-m integration``).

Free: list and a reaper dry run (nothing is created or destroyed). Selecting these tests is asking for a live
run, so each FAILS, naming what is missing, without the Pulumi CLI, a `pulumi login` or AWS credentials: an
opt-in run never passes without having talked to the real services. ``-m live_cost`` runs a full ``up`` (1h
TTL, scale to zero) and ``down`` of a real stack: that costs money (EKS control plane, NAT gateway, minutes of
GPU node time), so it has its own marker, deselected by default like ``integration``.
"""

from __future__ import annotations

import shutil
import subprocess

import boto3
import pytest
from click.testing import CliRunner

from scripts.ephemeral import command


def _needs_real_tools(*, aws: bool = True) -> None:
    """Fail, saying what is missing, unless the Pulumi CLI is logged in (and AWS credentials exist)."""
    pulumi = shutil.which("pulumi")
    if pulumi is None:
        pytest.fail("needs the Pulumi CLI on PATH (https://www.pulumi.com/docs/install/)")
    who = subprocess.run([pulumi, "whoami"], capture_output=True, text=True, timeout=60, check=False)
    if who.returncode != 0:
        pytest.fail(f"needs a `pulumi login` (pulumi whoami: {who.stderr.strip() or who.returncode})")
    if aws and boto3.Session().get_credentials() is None:
        pytest.fail("needs AWS credentials (AWS_PROFILE or AWS_ACCESS_KEY_ID/...)")


@pytest.mark.integration
def test_live_list_and_reaper_dry_run() -> None:
    _needs_real_tools()
    listed = CliRunner().invoke(command, ["list", "--json"])
    assert listed.exit_code == 0, listed.output + listed.stderr
    dry = CliRunner().invoke(command, ["reap", "--dry-run"])
    assert "Reaper (dry run: nothing destroyed)" in dry.output
    # a dry run destroys nothing, so nothing fails: exit 1 exactly when it reports a stuck stack
    stuck = [line for line in dry.output.splitlines() if line.startswith("stuck: ")]
    assert dry.exit_code == (1 if stuck else 0), dry.output + dry.stderr


@pytest.mark.live_cost
def test_live_up_and_down() -> None:
    _needs_real_tools()
    up = CliRunner().invoke(command, ["up", "--model", "llama-3.1-8b", "--ttl", "1h", "--yes"])
    assert up.exit_code == 0, up.output + up.stderr
    stack = next(line.split()[1] for line in up.output.splitlines() if line.startswith("ready: "))
    down = CliRunner().invoke(command, ["down", stack, "--yes"])
    assert down.exit_code == 0, down.output + down.stderr
    assert f"removed {stack}" in down.output
