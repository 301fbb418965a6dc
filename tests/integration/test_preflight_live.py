"""Live ``paddock preflight`` against a real AWS account (opt-in: ``pytest -m integration``).

Uses the default credential chain. Resolves the EU fixture's profile for real and checks that what
GetInferenceProfile returns has the shape the residency rules rely on. ``PADDOCK_PREFLIGHT_SMOKE=1`` adds the
1-token Converse call (costs one request). Selecting it asks for a live run: without AWS credentials it
fails, saying so.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import boto3
import pytest

from scripts.cli import main

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "stacks" / "Pulumi.clean-eu.yaml"


@pytest.mark.integration
def test_preflight_resolves_a_real_eu_profile(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    if boto3.Session().get_credentials() is None:
        pytest.fail("needs AWS credentials (AWS_PROFILE or AWS_ACCESS_KEY_ID/...)")
    args = ["preflight", "--stack", str(FIXTURE), "--format", "json", "--preflight-dir", str(tmp_path)]
    if os.environ.get("PADDOCK_PREFLIGHT_SMOKE") == "1":
        args.append("--smoke")
    with pytest.raises(SystemExit) as exc:
        main(args)
    doc = json.loads(capsys.readouterr().out)
    (check,) = doc["checks"]
    assert check["status"] == "ACTIVE", check["problems"]
    # the fixture is clean: a real EU profile has only EU destinations, so preflight finds nothing
    assert check["problems"] == [] and exc.value.code == 0, check
    assert check["destinations"] and all(re.fullmatch(r"eu-[a-z]+-\d", r) for r in check["destinations"])
    saved = json.loads((tmp_path / "clean-eu" / "profiles.json").read_text())
    assert saved["profiles"][check["profile_id"]] == check["destinations"]
