"""stacks/automation.PulumiWorkspace driven through the real Automation API against a stand-in ``pulumi``
executable (tests/unit/fake_pulumi_cli.py) that answers with the CLI's JSON shapes and event log."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from serving.ephemeral.errors import QuotaError, StackOperationError
from serving.ephemeral.lifecycle import run_up
from serving.ephemeral.metadata import TAG_EPHEMERAL, TAG_EXPIRES, TAG_OWNER
from serving.ephemeral.reaper import reap
from serving.ephemeral.workspace import ProgressEvent
from stacks.automation import PulumiWorkspace
from tests.unit.ephemeral_fakes import NOW

FAKE = Path(__file__).with_name("fake_pulumi_cli.py")


class Backend:
    """The fake CLI's state file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> dict[str, Any]:
        return dict(json.loads(self.path.read_text()))

    def write(self, state: dict[str, Any]) -> None:
        self.path.write_text(json.dumps(state))

    def add(self, name: str, tags: dict[str, str], resources: int = 3) -> None:
        state = self.read()
        from tests.unit.fake_pulumi_cli import RESOURCES

        state["stacks"][name] = {"tags": tags, "resources": list(RESOURCES[:resources]), "busy": False}
        self.write(state)

    def fail(self, command: str, text: str) -> None:
        state = self.read()
        state.setdefault("fail", {})[command] = text
        self.write(state)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[PulumiWorkspace, Backend]]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "pulumi"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FAKE}" "$@"\n')
    wrapper.chmod(0o755)
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"stacks": {}}))
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    monkeypatch.setenv("FAKE_PULUMI_STATE", str(state))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    work = tmp_path / "project"
    (work / "stacks").mkdir(parents=True)
    (work / "Pulumi.yaml").write_text(
        "name: paddock\nruntime: python\nmain: stacks/\nstackConfigDir: stacks\n"
    )
    yield PulumiWorkspace(work_dir=work), Backend(state)


def test_preflight_reads_the_backend(project: tuple[PulumiWorkspace, Backend]) -> None:
    ws, backend = project
    info = ws.preflight(region="us-east-1")
    assert (info.url, info.user, info.pulumi_cloud) == ("s3://paddock-state", "alice", False)
    state = backend.read()
    state["url"] = "https://app.pulumi.com/alice"
    backend.write(state)
    assert PulumiWorkspace(work_dir=ws.work_dir).preflight(region=None).pulumi_cloud is True


def test_create_tag_list_and_remove(project: tuple[PulumiWorkspace, Backend]) -> None:
    ws, backend = project
    config = {
        "aws:region": "us-east-1",
        "paddock:models": [{"alias": "llama-8b", "replicas": {"min": 0, "max": 1}}],
    }
    ws.create_stack("eph-alice-abcdef", config=config, tags={TAG_EPHEMERAL: "true", TAG_OWNER: "alice"})
    assert backend.read()["stacks"]["eph-alice-abcdef"]["tags"] == {TAG_EPHEMERAL: "true", TAG_OWNER: "alice"}
    stack_file = ws.work_dir / "stacks" / "Pulumi.eph-alice-abcdef.yaml"
    assert yaml.safe_load(stack_file.read_text()) == {"config": config}
    record = ws.get_stack("eph-alice-abcdef")
    assert record is not None
    assert record.tags == {"pulumi:project": "paddock", TAG_EPHEMERAL: "true", TAG_OWNER: "alice"}
    assert record.config == config and record.resource_count == 0
    assert record.url == "https://app.pulumi.com/acme/paddock/eph-alice-abcdef"
    assert ws.get_stack("nope") is None
    with pytest.raises(StackOperationError, match="stack 'eph-alice-abcdef' already exists"):
        ws.create_stack("eph-alice-abcdef", config={}, tags={})
    ws.remove_stack("eph-alice-abcdef")
    assert ws.list_stacks() == []


def test_up_streams_progress_and_destroy_cleans_up(project: tuple[PulumiWorkspace, Backend]) -> None:
    ws, backend = project
    ws.create_stack("eph-alice-abcdef", config={"aws:region": "us-east-1"}, tags={})
    events: list[ProgressEvent] = []
    result = ws.up("eph-alice-abcdef", on_progress=events.append)
    assert result.changes == {"create": 3}
    assert result.outputs == {"endpoint": "http://gateway"}
    done = [(e.op, e.resource) for e in events if e.kind == "done"]
    assert done == [
        ("create", "aws:ec2/vpc:Vpc::net"),
        ("create", "aws:eks/cluster:Cluster::eks"),
        ("create", "aws:eks/nodeGroup:NodeGroup::gpu"),
    ]
    assert events[-1].kind == "summary" and events[-1].message == "3 create in 7s"
    up_call = next(argv for argv in backend.read()["argv"] if argv[:1] == ["up"])
    assert up_call[up_call.index("--event-log") + 1].startswith("tcp://127.0.0.1:"), "gRPC event stream"
    events.clear()
    assert ws.destroy("eph-alice-abcdef", on_progress=events.append).changes == {"delete": 3}
    assert [e.op for e in events if e.kind == "done"] == ["delete"] * 3
    assert backend.read()["stacks"]["eph-alice-abcdef"]["resources"] == []


def test_quota_failure_is_classified_and_rolled_back(project: tuple[PulumiWorkspace, Backend]) -> None:
    from serving.ephemeral.planning import UpRequest, build_up_plan
    from serving.ephemeral.ttl import parse_ttl_spec
    from tests.unit.ephemeral_fakes import make_plan

    ws, backend = project
    backend.fail(
        "up",
        "aws:eks:NodeGroup gpu: creating: AsgInstanceLaunchFailures: Could not launch On-Demand Instances. "
        "VcpuLimitExceeded - You have requested more vCPU capacity than your current vCPU limit of 0",
    )
    plan = build_up_plan(
        UpRequest(model="llama-3.1-8b", owner="alice", ttl=parse_ttl_spec("4h")),
        template={"aws:region": "us-east-1"},
        sizer=lambda request: make_plan(),
        now=NOW,
    )
    backend_info = ws.preflight(region="us-east-1")
    with pytest.raises(QuotaError) as err:
        run_up(ws, plan, backend=backend_info, on_progress=lambda e: None)
    assert "hit an AWS capacity or quota limit (VcpuLimitExceeded)" in str(err.value)
    assert "Nothing was left behind" in str(err.value)
    assert backend.read()["stacks"] == {}


def test_reaper_through_the_cli(project: tuple[PulumiWorkspace, Backend]) -> None:
    ws, backend = project
    backend.add("prod-eu", {"team": "ml"})
    backend.add(
        "eph-bob-bbbbbb", {TAG_EPHEMERAL: "true", TAG_OWNER: "bob", TAG_EXPIRES: "2026-11-23T11:00:00Z"}
    )
    backend.add(
        "eph-eve-eeeeee", {TAG_EPHEMERAL: "true", TAG_OWNER: "eve", TAG_EXPIRES: "2026-11-23T18:00:00Z"}
    )
    report = reap(ws, now=datetime(2026, 11, 23, 12, tzinfo=UTC))
    assert [(o.stack, o.status) for o in report.outcomes] == [("eph-bob-bbbbbb", "reaped")]
    assert sorted(backend.read()["stacks"]) == ["eph-eve-eeeeee", "prod-eu"]
    destroyed = [argv for argv in backend.read()["argv"] if argv[:1] == ["destroy"]]
    assert len(destroyed) == 1 and destroyed[0][destroyed[0].index("--stack") + 1] == "eph-bob-bbbbbb"


def test_remove_refused_while_resources_remain(project: tuple[PulumiWorkspace, Backend]) -> None:
    ws, backend = project
    backend.add("eph-bob-bbbbbb", {TAG_EPHEMERAL: "true"})
    with pytest.raises(StackOperationError, match="still has resources"):
        ws.remove_stack("eph-bob-bbbbbb")


def test_destroy_failure_with_expired_token(project: tuple[PulumiWorkspace, Backend]) -> None:
    from serving.ephemeral.errors import CredentialsError

    ws, backend = project
    backend.add("eph-bob-bbbbbb", {TAG_EPHEMERAL: "true"})
    backend.fail("destroy", "error: operation error STS: GetCallerIdentity, api error ExpiredToken: expired")
    with pytest.raises(CredentialsError, match=r"no valid AWS credentials \(ExpiredToken\)"):
        ws.destroy("eph-bob-bbbbbb", on_progress=lambda e: None)


def test_ephemeral_listing_filters_in_the_backend(project: tuple[PulumiWorkspace, Backend]) -> None:
    ws, backend = project
    backend.add("prod-eu", {"team": "ml"})
    backend.add(
        "eph-bob-bbbbbb", {TAG_EPHEMERAL: "true", TAG_OWNER: "bob", TAG_EXPIRES: "2026-11-23T11:00:00Z"}
    )
    assert [r.name for r in ws.list_stacks()] == ["prod-eu", "eph-bob-bbbbbb"]
    state = backend.read()
    state["argv"] = []
    backend.write(state)
    assert [r.name for r in ws.list_stacks(ephemeral_only=True)] == ["eph-bob-bbbbbb"]
    calls = backend.read()["argv"]
    assert ["stack", "ls", "--json", "--tag-filter", "paddock:ephemeral=true"] in calls
    tag_reads = [c[c.index("--stack") + 1] for c in calls if c[:3] == ["stack", "tag", "ls"]]
    assert tag_reads == ["eph-bob-bbbbbb"], "a non-ephemeral stack's tags are never read"


def _set(backend: Backend, **values: Any) -> None:
    state = backend.read()
    state.update(values)
    backend.write(state)


def test_old_cli_on_a_self_managed_backend_is_refused(project: tuple[PulumiWorkspace, Backend]) -> None:
    from serving.ephemeral.errors import PulumiCliTooOldError

    ws, backend = project
    _set(backend, version="3.200.0")
    with pytest.raises(
        PulumiCliTooOldError, match="Pulumi CLI 3.200.0 cannot keep stack tags on the self-managed"
    ):
        ws.preflight(region="us-east-1")
    _set(backend, url="https://app.pulumi.com/alice")
    assert PulumiWorkspace(work_dir=ws.work_dir).preflight(region=None).pulumi_cloud is True


def test_events_from_an_older_cli_come_through_the_log_file(project: tuple[PulumiWorkspace, Backend]) -> None:
    ws, backend = project
    _set(backend, version="3.200.0", url="https://app.pulumi.com/alice")
    ws.create_stack("eph-alice-abcdef", config={}, tags={})
    events: list[ProgressEvent] = []
    assert ws.up("eph-alice-abcdef", on_progress=events.append).changes == {"create": 3}
    assert [e.resource for e in events if e.kind == "done"] == [
        "aws:ec2/vpc:Vpc::net",
        "aws:eks/cluster:Cluster::eks",
        "aws:eks/nodeGroup:NodeGroup::gpu",
    ]
    up_call = next(argv for argv in backend.read()["argv"] if argv[:1] == ["up"])
    assert not up_call[up_call.index("--event-log") + 1].startswith("tcp://")


@pytest.mark.parametrize(
    ("text", "parsed"),
    [("3.211.0", (3, 211, 0)), ("v3.215.1-dev.0", (3, 215, 1)), ("3.99", (3, 99, 0)), ("x", (0, 0, 0))],
)
def test_version_tuple(text: str, parsed: tuple[int, ...]) -> None:
    from stacks.automation import version_tuple

    assert version_tuple(text) == parsed
