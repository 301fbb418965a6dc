"""``paddock preflight`` against real botocore clients driven by ``botocore.stub.Stubber`` (the real wire
shapes: responses are validated against the Bedrock service model)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from botocore.stub import Stubber

import scripts.preflight as preflight_cli
from scripts.cli import main

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "stacks"
ACCT = "123456789012"
SONNET = "eu.anthropic.claude-sonnet-4-5-20250929-v1:0"
MODEL = "anthropic.claude-sonnet-4-5-20250929-v1:0"
HAIKU = "anthropic.claude-haiku-4-5-20251001-v1:0"
BUCKET = "acme-models-eu"
EU6 = ["eu-central-1", "eu-north-1", "eu-south-1", "eu-south-2", "eu-west-1", "eu-west-3"]


@dataclass
class FakeSession:
    """A boto3.Session stand-in handing out stubbed real clients."""

    clients: dict[str, Any]
    credentials: object | None = field(default_factory=object)
    s3_stub: Stubber | None = None

    def get_credentials(self) -> object | None:
        return self.credentials

    def client(self, service: str, region_name: str, config: Any) -> Any:
        assert region_name == "eu-central-1"
        return self.clients[service]


@pytest.fixture
def stubs(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Stubber, Stubber, FakeSession]]:
    kw = {"region_name": "eu-central-1", "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    bedrock, runtime = boto3.client("bedrock", **kw), boto3.client("bedrock-runtime", **kw)
    s3 = boto3.client("s3", **kw)
    session = FakeSession({"bedrock": bedrock, "bedrock-runtime": runtime, "s3": s3})
    monkeypatch.setattr(preflight_cli, "boto3_session", lambda profile: session)
    with Stubber(bedrock) as b, Stubber(runtime) as r, Stubber(s3) as s:
        session.s3_stub = s
        # every fixture keeps its weights in s3://acme-models-eu (eu-central-1); weights tests re-stub it
        s.add_response("get_bucket_location", {"LocationConstraint": "eu-central-1"}, {"Bucket": BUCKET})
        yield b, r, session
        b.assert_no_pending_responses()
        r.assert_no_pending_responses()


def profile_response(regions: list[str], status: str = "ACTIVE") -> dict[str, Any]:
    return {
        "inferenceProfileName": "EU Claude Sonnet 4.5",
        "inferenceProfileId": SONNET,
        "status": status,
        "inferenceProfileArn": f"arn:aws:bedrock:eu-central-1:{ACCT}:inference-profile/{SONNET}",
        "type": "SYSTEM_DEFINED",
        "createdAt": datetime(2025, 9, 29),
        "updatedAt": datetime(2025, 9, 29),
        "models": [{"modelArn": f"arn:aws:bedrock:{r}::foundation-model/{MODEL}"} for r in regions],
    }


def availability(model: str = MODEL, agreement: str = "AVAILABLE", **over: str) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "modelId": model,
        "agreementAvailability": {"status": agreement},
        "authorizationStatus": "AUTHORIZED",
        "entitlementAvailability": "AVAILABLE",
        "regionAvailability": "AVAILABLE",
    }
    if agreement != "AVAILABLE":
        doc["agreementAvailability"]["errorMessage"] = "You have not filled out the request form"
    return doc | over


def run(capsys: pytest.CaptureFixture[str], tmp_path: Path, name: str, *extra: str) -> tuple[int, Any, str]:
    with pytest.raises(SystemExit) as exc:
        main(
            [
                "preflight",
                "--stack",
                str(FIXTURES / f"Pulumi.{name}.yaml"),
                "--format",
                "json",
                "--preflight-dir",
                str(tmp_path),
                *extra,
            ]
        )
    out, err = capsys.readouterr()
    code = int(exc.value.code or 0)
    return code, (json.loads(out) if out.startswith("{") else out), err


def expect_profile(b: Stubber, regions: list[str], status: str = "ACTIVE") -> None:
    b.add_response(
        "get_inference_profile", profile_response(regions, status), {"inferenceProfileIdentifier": SONNET}
    )


def test_clean_profile_passes_and_saves_live_destinations(
    stubs: tuple[Stubber, Stubber, FakeSession], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    b, _, _ = stubs
    expect_profile(b, EU6)
    b.add_response("get_foundation_model_availability", availability(), {"modelId": MODEL})
    code, doc, err = run(capsys, tmp_path, "clean-eu")
    (check,) = doc["checks"]
    assert code == 0 and check["problems"] == [] and check["status"] == "ACTIVE"
    assert check["destinations"] == EU6 and check["model_access"]["agreement"] == "AVAILABLE"
    saved = json.loads((tmp_path / "clean-eu" / "profiles.json").read_text())
    assert saved["profiles"] == {SONNET: EU6} and saved["region"] == "eu-central-1"
    assert err == "preflight clean-eu: 1 target(s), 1 bucket(s), 0 problem(s)\n"


def test_live_destinations_outside_allowed_list_are_problems(
    stubs: tuple[Stubber, Stubber, FakeSession], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    b, _, _ = stubs
    expect_profile(b, ["eu-central-1", "eu-west-1", "eu-west-2"])
    b.add_response("get_foundation_model_availability", availability(), {"modelId": MODEL})
    code, doc, _ = run(capsys, tmp_path, "eu-narrow-allowed")
    problems = doc["checks"][0]["problems"]
    assert code == 1 and any("can process prompts in eu-west-2 (preflight)" in p for p in problems)
    assert doc["checks"][0]["drift"]["added"] == ["eu-west-2"]


def test_inactive_profile_and_missing_agreement(
    stubs: tuple[Stubber, Stubber, FakeSession], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    b, _, _ = stubs
    expect_profile(b, EU6, status="LEGACY")
    b.add_response(
        "get_foundation_model_availability",
        availability(agreement="NOT_AVAILABLE", authorizationStatus="NOT_AUTHORIZED"),
        {"modelId": MODEL},
    )
    code, doc, _ = run(capsys, tmp_path, "clean-eu", "--no-save")
    assert code == 1 and doc["checks"][0]["problems"] == [
        "profile status is LEGACY, not ACTIVE",
        "model access: authorizationStatus is NOT_AUTHORIZED",
        "model access: agreement is NOT_AVAILABLE (You have not filled out the request form)",
    ]
    assert not (tmp_path / "clean-eu").exists()


def test_unknown_profile_is_reported_not_raised(
    stubs: tuple[Stubber, Stubber, FakeSession], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    b, _, _ = stubs
    b.add_client_error("get_inference_profile", "ResourceNotFoundException", "profile not found", 404)
    code, doc, _ = run(capsys, tmp_path, "clean-eu")
    assert code == 1 and doc["checks"][0]["problems"] == [
        f"cannot resolve {SONNET} in eu-central-1: ResourceNotFoundException: profile not found"
    ]


def test_availability_access_denied_is_a_problem(
    stubs: tuple[Stubber, Stubber, FakeSession], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    b, _, _ = stubs
    expect_profile(b, EU6)
    b.add_client_error("get_foundation_model_availability", "AccessDeniedException", "no", 403)
    code, doc, _ = run(capsys, tmp_path, "clean-eu")
    assert code == 1
    assert doc["checks"][0]["problems"] == [
        "GetFoundationModelAvailability failed: AccessDeniedException: no"
    ]


def test_smoke_converse_one_token(
    stubs: tuple[Stubber, Stubber, FakeSession], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    b, r, _ = stubs
    expect_profile(b, EU6)
    b.add_response("get_foundation_model_availability", availability(), {"modelId": MODEL})
    r.add_response(
        "converse",
        {
            "output": {"message": {"role": "assistant", "content": [{"text": "Hi"}]}},
            "stopReason": "max_tokens",
            "usage": {"inputTokens": 12, "outputTokens": 1, "totalTokens": 13},
            "metrics": {"latencyMs": 321},
        },
        {
            "modelId": SONNET,
            "messages": [{"role": "user", "content": [{"text": "Reply with one word."}]}],
            "inferenceConfig": {"maxTokens": 1},
        },
    )
    code, doc, _ = run(capsys, tmp_path, "clean-eu", "--smoke")
    assert code == 0 and doc["checks"][0]["smoke"] == "ok (1 output tokens, 321 ms)"


def test_smoke_failure_is_a_problem(
    stubs: tuple[Stubber, Stubber, FakeSession], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    b, r, _ = stubs
    expect_profile(b, EU6)
    b.add_response("get_foundation_model_availability", availability(), {"modelId": MODEL})
    r.add_client_error("converse", "ThrottlingException", "slow down", 429)
    code, doc, _ = run(capsys, tmp_path, "clean-eu", "--smoke")
    assert code == 1 and doc["checks"][0]["problems"] == [
        "smoke Converse failed: ThrottlingException: slow down"
    ]


@pytest.mark.parametrize(
    ("types", "problems"),
    [
        (["ON_DEMAND", "INFERENCE_PROFILE"], []),
        (["INFERENCE_PROFILE"], [f"{HAIKU} has no on-demand In-Region invocation; use an inference profile"]),
    ],
)
def test_in_region_model_needs_on_demand(
    stubs: tuple[Stubber, Stubber, FakeSession],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    types: list[str],
    problems: list[str],
) -> None:
    b, _, _ = stubs
    details = {
        "modelArn": f"arn:aws:bedrock:eu-central-1::foundation-model/{HAIKU}",
        "modelId": HAIKU,
        "inferenceTypesSupported": types,
        "modelLifecycle": {"status": "ACTIVE"},
    }
    b.add_response("get_foundation_model", {"modelDetails": details}, {"modelIdentifier": HAIKU})
    b.add_response("get_foundation_model_availability", availability(HAIKU), {"modelId": HAIKU})
    code, doc, _ = run(capsys, tmp_path, "clean-in-region")
    assert doc["checks"][0]["problems"] == problems and code == (1 if problems else 0)
    assert doc["checks"][0]["destinations"] == ["eu-central-1"]


def test_table_output(
    stubs: tuple[Stubber, Stubber, FakeSession], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    b, _, _ = stubs
    expect_profile(b, EU6, status="LEGACY")
    b.add_response("get_foundation_model_availability", availability(), {"modelId": MODEL})
    with pytest.raises(SystemExit) as exc:
        main(
            ["preflight", "--stack", str(FIXTURES / "Pulumi.clean-eu.yaml"), "--preflight-dir", str(tmp_path)]
        )
    out = capsys.readouterr().out
    assert (
        exc.value.code == 1
        and "Bedrock preflight: stack clean-eu" in out
        and "profile status is LEGACY" in out
    )


def test_no_credentials_is_a_clear_exit_two(
    stubs: tuple[Stubber, Stubber, FakeSession], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    stubs[2].credentials = None
    code, _, err = run(capsys, tmp_path, "clean-eu")
    assert code == 2 and err.startswith("error: AWS credentials: no AWS credentials found")


def test_bad_aws_profile_is_exit_two(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    code, _, err = run(capsys, tmp_path, "clean-eu", "--profile", "no-such-profile")
    assert code == 2 and "--profile: cannot open AWS profile 'no-such-profile'" in err


@pytest.mark.parametrize("name", ["clean-pinned", "fallback-forbidden"])
def test_only_weights_are_checked_when_no_alias_falls_back(
    stubs: tuple[Stubber, Stubber, FakeSession], capsys: pytest.CaptureFixture[str], tmp_path: Path, name: str
) -> None:
    code, doc, err = run(capsys, tmp_path, name)
    assert code == 0 and doc["checks"] == [] and [w["actual"] for w in doc["weights"]] == ["eu-central-1"]
    assert err == f"preflight {name}: 0 target(s), 1 bucket(s), 0 problem(s)\n"


def test_nothing_to_check_without_fallback_or_s3_weights(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    doc = yaml.safe_load((FIXTURES / "Pulumi.clean-pinned.yaml").read_text())
    for m in doc["config"]["paddock:models"]:
        m["weights"] = "hf"
    doc["config"]["paddock:network"]["natGateway"] = True
    path = tmp_path / "Pulumi.hf-pinned.yaml"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(SystemExit) as exc:
        main(["preflight", "--stack", str(path)])
    out = capsys.readouterr().out
    assert exc.value.code == 0
    assert (
        out == "stack hf-pinned: no alias can fall back to Bedrock and no s3:// weights; nothing to check\n"
    )


def test_bad_stack_is_exit_two(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["preflight", "--stack", "no-such-stack"])
    assert exc.value.code == 2 and "--stack: no stack file" in capsys.readouterr().err


def test_catalog_drift_is_reported(
    stubs: tuple[Stubber, Stubber, FakeSession], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The live list from eu-central-1 differs from the data file's row: named, and exit 1."""
    b, _, _ = stubs
    live = [*EU6[:-1], "eu-central-2"]  # drops eu-west-3, adds eu-central-2 (all allowed by prod-like lists)
    expect_profile(b, live)
    b.add_response("get_foundation_model_availability", availability(), {"modelId": MODEL})
    code, doc, _ = run(capsys, tmp_path, "clean-eu")
    (check,) = doc["checks"]
    assert check["catalog"] == EU6 and check["drift"] == {"added": ["eu-central-2"], "removed": ["eu-west-3"]}
    drift = [p for p in check["problems"] if p.startswith("catalog drift")]
    assert code == 1 and len(drift) == 1 and "inference_profiles.json" in drift[0]


def test_agreeing_live_list_has_no_drift(
    stubs: tuple[Stubber, Stubber, FakeSession], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    b, _, _ = stubs
    expect_profile(b, list(reversed(EU6)))
    b.add_response("get_foundation_model_availability", availability(), {"modelId": MODEL})
    code, doc, _ = run(capsys, tmp_path, "clean-eu")
    assert code == 0 and doc["checks"][0]["drift"] == {} and doc["checks"][0]["catalog"] == EU6


@pytest.mark.parametrize(
    ("location", "problems"),
    [
        ("eu-central-1", []),
        (None, ["is in us-east-1, but", "outside allowedRegions"]),  # S3: no constraint = us-east-1
        ("EU", ["is in eu-west-1, but"]),  # legacy constraint, allowed but not the declared Region
        ("us-west-2", ["is in us-west-2, but", "outside allowedRegions"]),
    ],
)
def test_weights_bucket_location_is_checked(
    stubs: tuple[Stubber, Stubber, FakeSession],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    location: str | None,
    problems: list[str],
) -> None:
    b, _, session = stubs
    assert session.s3_stub is not None
    session.s3_stub.deactivate()  # replace the fixture's answer
    s3 = boto3.client("s3", region_name="eu-central-1", aws_access_key_id="t", aws_secret_access_key="t")
    session.clients["s3"] = s3
    with Stubber(s3) as s:
        s.add_response(
            "get_bucket_location", {"LocationConstraint": location} if location else {}, {"Bucket": BUCKET}
        )
        expect_profile(b, EU6)
        b.add_response("get_foundation_model_availability", availability(), {"modelId": MODEL})
        code, doc, _ = run(capsys, tmp_path, "clean-eu")
        s.assert_no_pending_responses()
    (weights,) = doc["weights"]
    assert weights["key"] == "paddock:models[0].weightsRegion" and weights["declared"] == "eu-central-1"
    assert len(weights["problems"]) == len(problems)
    assert all(needle in p for needle, p in zip(problems, weights["problems"], strict=True))
    assert code == (1 if problems else 0)


def test_unreadable_bucket_is_a_problem_not_a_traceback(
    stubs: tuple[Stubber, Stubber, FakeSession], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    _, _, session = stubs
    assert session.s3_stub is not None
    session.s3_stub.deactivate()
    s3 = boto3.client("s3", region_name="eu-central-1", aws_access_key_id="t", aws_secret_access_key="t")
    session.clients["s3"] = s3
    with Stubber(s3) as s:
        s.add_client_error(
            "get_bucket_location", "AccessDenied", "Access Denied", 403, expected_params={"Bucket": BUCKET}
        )
        code, doc, _ = run(capsys, tmp_path, "clean-pinned")
    assert code == 1 and doc["checks"] == []
    (weights,) = doc["weights"]
    assert weights["actual"] is None and weights["problems"] == [
        f"cannot read the location of s3://{BUCKET}: AccessDenied: Access Denied"
    ]
