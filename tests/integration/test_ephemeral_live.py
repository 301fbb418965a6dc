"""Live ``paddock ephemeral`` with a real Pulumi CLI, backend and AWS account (opt-in: ``-m integration``).

Free by default: preflight, list and a reaper dry run (nothing is created or destroyed).
``PADDOCK_EPHEMERAL_LIVE_UP=1`` also runs a full ``up`` (1h TTL, scale to zero) and ``down`` of a real stack:
that costs money (EKS control plane, NAT gateway, minutes of GPU node time).
"""

from __future__ import annotations

import os
import shutil

import pytest
from click.testing import CliRunner

from scripts.ephemeral import command


def _needs_real_tools() -> None:
    if shutil.which("pulumi") is None:
        pytest.fail("this opt-in test needs the Pulumi CLI on PATH and a `pulumi login`")


@pytest.mark.integration
def test_live_list_and_reaper_dry_run() -> None:
    _needs_real_tools()
    listed = CliRunner().invoke(command, ["list", "--json"])
    assert listed.exit_code == 0, listed.output + listed.stderr
    dry = CliRunner().invoke(command, ["reap", "--dry-run"])
    assert dry.exit_code in (0, 1), dry.output + dry.stderr
    assert "Reaper (dry run: nothing destroyed)" in dry.output


@pytest.mark.integration
def test_live_up_and_down() -> None:
    _needs_real_tools()
    if os.environ.get("PADDOCK_EPHEMERAL_LIVE_UP") != "1":
        pytest.fail("set PADDOCK_EPHEMERAL_LIVE_UP=1 to create (and pay for) a real ephemeral stack")
    up = CliRunner().invoke(command, ["up", "--model", "llama-3.1-8b", "--ttl", "1h", "--yes"])
    assert up.exit_code == 0, up.output + up.stderr
    stack = next(line.split()[1] for line in up.output.splitlines() if line.startswith("ready: "))
    down = CliRunner().invoke(command, ["down", stack, "--yes"])
    assert down.exit_code == 0, down.output + down.stderr
    assert f"removed {stack}" in down.output
