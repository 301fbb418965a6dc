"""stacks/automation.py pieces that run without a Pulumi CLI, the failure classifier, and the Pulumi Cloud
TTL schedule client against a loopback stand-in of the REST API (httpx MockTransport)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from pulumi.automation.events import EngineEvent

from serving.ephemeral.cloud_ttl import StackRef, TtlScheduleClient, api_base
from serving.ephemeral.errors import (
    CredentialsError,
    PulumiCliMissingError,
    QuotaError,
    StackOperationError,
    classify_failure,
)
from stacks.automation import (
    PulumiWorkspace,
    check_aws_credentials,
    read_stack_config,
    translate_event,
    write_stack_config,
)

URN = "urn:pulumi:eph-alice-abcdef::paddock::paddock:cluster:Cluster$aws:eks/cluster:Cluster::eph-eks"


def test_missing_pulumi_cli_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    workspace = PulumiWorkspace(work_dir=tmp_path)
    with pytest.raises(PulumiCliMissingError) as err:
        workspace.preflight(region="us-east-1")
    assert "the Pulumi CLI is not installed or not on PATH" in str(err.value)
    assert "https://www.pulumi.com/docs/install/" in str(err.value)
    assert "'pulumi'" in str(err.value)
    with pytest.raises(PulumiCliMissingError):
        workspace.list_stacks()


def _no_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def test_no_aws_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _no_aws(monkeypatch, tmp_path)
    with pytest.raises(CredentialsError, match="no AWS credentials found: run `aws sso login`"):
        check_aws_credentials()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    check_aws_credentials()


def test_unknown_aws_profile(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _no_aws(monkeypatch, tmp_path)
    monkeypatch.setenv("AWS_PROFILE", "does-not-exist")
    with pytest.raises(CredentialsError, match="could not be loaded"):
        check_aws_credentials()


def test_stack_config_file_keeps_cli_keys(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.eph-alice-abcdef.yaml"
    assert read_stack_config(path) is None
    path.write_text("encryptionsalt: v1:abc:def\nconfig:\n  aws:region: us-east-1\n")
    write_stack_config(path, {"paddock:models": [{"alias": "llama-8b", "replicas": {"min": 0, "max": 1}}]})
    assert read_stack_config(path) == {
        "aws:region": "us-east-1",
        "paddock:models": [{"alias": "llama-8b", "replicas": {"min": 0, "max": 1}}],
    }
    assert path.read_text().startswith("encryptionsalt: v1:abc:def\n")


def _event(**kw: object) -> EngineEvent:
    return EngineEvent.from_json({"sequence": 1, "timestamp": 1795000000, **kw})


def test_translate_engine_events() -> None:
    meta = {"op": "create", "urn": URN, "type": "aws:eks/cluster:Cluster", "provider": ""}
    start = translate_event(_event(resourcePreEvent={"metadata": meta}))
    assert start is not None and (start.kind, start.op, start.resource) == (
        "start",
        "create",
        "aws:eks/cluster:Cluster::eph-eks",
    )
    done = translate_event(_event(resOutputsEvent={"metadata": meta}))
    assert done is not None and done.kind == "done"
    same = {**meta, "op": "same"}
    assert translate_event(_event(resOutputsEvent={"metadata": same})) is None
    failed = translate_event(_event(resOpFailedEvent={"metadata": meta, "status": 1, "steps": 1}))
    assert failed is not None and failed.kind == "failed"
    diag = translate_event(
        _event(
            diagnosticEvent={
                "message": "error: VcpuLimitExceeded\n",
                "color": "never",
                "severity": "error",
                "urn": URN,
            }
        )
    )
    assert diag is not None and (diag.kind, diag.message) == ("log", "error: VcpuLimitExceeded")
    info = translate_event(_event(diagnosticEvent={"message": "hi", "color": "never", "severity": "info"}))
    assert info is None
    summary = translate_event(
        _event(
            summaryEvent={
                "maybeCorrupt": False,
                "durationSeconds": 912,
                "resourceChanges": {"create": 41, "same": 2},
                "PolicyPacks": {},
            }
        )
    )
    assert summary is not None and summary.message == "41 create in 912s"


@pytest.mark.parametrize(
    ("text", "kind", "fragment"),
    [
        (
            "aws:eks:NodeGroup gpu: AsgInstanceLaunchFailures: Could not launch On-Demand Instances. "
            "VcpuLimitExceeded - You have requested more vCPU capacity",
            QuotaError,
            "(VcpuLimitExceeded)",
        ),
        (
            "InsufficientInstanceCapacity: We currently do not have sufficient p5.48xlarge capacity",
            QuotaError,
            "Service Quotas console",
        ),
        ("MaxSpotInstanceCountExceeded", QuotaError, "--spot"),
        (
            "error: configuring Terraform AWS Provider: no valid credential sources for Terraform",
            CredentialsError,
            "`aws sso login`",
        ),
        (
            "operation error STS: GetCallerIdentity, StatusCode: 403, api error ExpiredToken",
            CredentialsError,
            "(ExpiredToken)",
        ),
        (
            "error: PULUMI_ACCESS_TOKEN must be set for login during non-interactive CLI sessions",
            CredentialsError,
            "Run `pulumi login`",
        ),
        (
            "error: passphrase must be set with PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE",
            CredentialsError,
            "PULUMI_CONFIG_PASSPHRASE",
        ),
        (
            "line 1\nline 2\nerror: update failed\n",
            StackOperationError,
            "line 1 | line 2 | error: update failed",
        ),
        ("", StackOperationError, "no output from pulumi"),
    ],
)
def test_classify_failure(text: str, kind: type, fragment: str) -> None:
    error = classify_failure(text, operation="up", stack="eph-alice-abcdef")
    assert type(error) is kind
    assert fragment in str(error)
    assert "eph-alice-abcdef" in str(error)


# --- Pulumi Cloud TTL schedule ----------------------------------------------------------------------------


class FakeCloud:
    """Answers the two TTL schedule endpoints like Pulumi Cloud; keeps what it received."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.status != 200:
            return httpx.Response(
                self.status, json={"code": self.status, "message": "stack has no deployment settings"}
            )
        schedule = request.url.path.rsplit("/", 1)[-1]
        sid = "sched-1" if schedule == "schedules" else schedule
        return httpx.Response(200, json={"id": sid, "scheduleOnce": json.loads(request.content)["timestamp"]})


def _client(cloud: FakeCloud) -> TtlScheduleClient:
    return TtlScheduleClient(
        base_url="https://api.pulumi.com",
        token="pul-123",
        http=httpx.Client(transport=httpx.MockTransport(cloud)),
    )


def test_ttl_schedule_create_then_update() -> None:
    cloud = FakeCloud()
    ref = StackRef.from_console_url("https://app.pulumi.com/acme/paddock/eph-alice-abcdef")
    assert ref == StackRef("acme", "paddock", "eph-alice-abcdef")
    expires = datetime(2026, 11, 23, 16, tzinfo=UTC)
    assert _client(cloud).set(ref, expires_at=expires) == "sched-1"
    assert _client(cloud).set(ref, expires_at=expires, schedule_id="sched-1") == "sched-1"
    first, second = cloud.requests
    assert first.method == "POST"
    assert (
        str(first.url)
        == "https://api.pulumi.com/api/stacks/acme/paddock/eph-alice-abcdef/deployments/ttl/schedules"
    )
    assert str(second.url).endswith("/deployments/ttl/schedules/sched-1")
    assert json.loads(first.content) == {"timestamp": "2026-11-23T16:00:00Z", "deleteAfterDestroy": True}
    assert first.headers["Authorization"] == "token pul-123"
    assert first.headers["Accept"] == "application/vnd.pulumi+8"


@pytest.mark.parametrize(
    ("status", "kind", "fragment"),
    [
        (401, CredentialsError, "check PULUMI_ACCESS_TOKEN"),
        (400, StackOperationError, "no deployment settings"),
    ],
)
def test_ttl_schedule_refusals(status: int, kind: type, fragment: str) -> None:
    with pytest.raises(kind, match=fragment):
        _client(FakeCloud(status)).set(StackRef("a", "p", "s"), expires_at=datetime(2026, 11, 23, tzinfo=UTC))


def test_ttl_schedule_needs_a_token_and_a_stack_url() -> None:
    with pytest.raises(CredentialsError, match="PULUMI_ACCESS_TOKEN is not set"):
        TtlScheduleClient(base_url="https://api.pulumi.com", token=None)
    with pytest.raises(StackOperationError, match="cannot read org/project/stack"):
        StackRef.from_console_url("https://app.pulumi.com/acme")


@pytest.mark.parametrize(
    ("url", "base"),
    [
        ("https://app.pulumi.com/alice", "https://api.pulumi.com"),
        ("https://api.pulumi.com", "https://api.pulumi.com"),
        ("https://pulumi.example.com/alice", "https://pulumi.example.com"),
    ],
)
def test_api_base(url: str, base: str) -> None:
    assert api_base(url) == base
