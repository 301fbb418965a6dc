"""``paddock ephemeral`` through click's CliRunner: output, exit codes, every error path."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from scripts.ephemeral import Env, command
from serving.ephemeral.errors import CredentialsError, PulumiCliMissingError, classify_failure
from serving.ephemeral.metadata import TAG_CREATED, TAG_EPHEMERAL, TAG_EXPIRES, TAG_HOURLY, TAG_OWNER
from serving.ephemeral.planning import SizingRequest
from serving.ephemeral.ttl import format_timestamp
from serving.sizing.plan import ServingPlan
from tests.unit.ephemeral_fakes import NOW, FakeWorkspace, make_plan

TEMPLATE = {
    "config": {
        "aws:region": "us-east-1",
        "paddock:tags": {"team": "ml-platform"},
        "paddock:cluster": {"create": True, "name": "paddock-ephemeral"},
        "paddock:models": [{"alias": "llama-8b", "model": "llama-3.1-8b", "engine": "vllm", "weights": "hf"}],
    }
}


def sizer(request: SizingRequest) -> ServingPlan:
    return make_plan(max_model_len=request.context)


def make_env(tmp_path: Path, ws: FakeWorkspace, *, interactive: bool = False, **kw: Any) -> Env:
    template = tmp_path / "Pulumi.ephemeral.yaml"
    template.write_text(yaml.safe_dump(TEMPLATE))
    validated: list[str] = []
    return Env(
        workspace_factory=lambda: ws,
        sizer=kw.pop("sizer", sizer),
        clock=lambda: NOW,
        template_path=kw.pop("template_path", template),
        interactive=lambda: interactive,
        validate=kw.pop("validate", lambda config, stack: validated.append(stack)),
    )


def run(env: Env, *args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(command, list(args), obj=env, input=input)


UP = ("up", "--model", "llama-3.1-8b", "--owner", "alice", "--ttl", "4h")


def test_up_prints_plan_and_cost_then_deploys(tmp_path: Path) -> None:
    ws = FakeWorkspace()
    result = run(make_env(tmp_path, ws), *UP, "--yes", "--spot", "--context", "16384")
    assert result.exit_code == 0, result.output
    out = result.output
    [stack] = list(ws.stacks)
    assert f"Ephemeral stack {stack}" in out
    assert "g6e.xlarge (1x l40s, TP=1)" in out
    assert "$2.00 while a replica runs (GPU $1.90 + EKS control plane $0.10)" in out
    assert "at most $8.00, at least $0.40 if it stays scaled to zero" in out
    assert "2026-11-23T16:00:00Z (in 4h)" in out
    assert "0-1 (scale to zero when idle)" in out and "spot" in out
    assert out.index("$/hour") < out.index("creating")
    assert "+ create  aws:eks/cluster:Cluster::eks" in out
    assert f"ready: {stack} expires 2026-11-23T16:00:00Z" in out
    config = ws.stacks[stack].config
    assert config is not None
    assert config["paddock:models"][0]["capacityType"] == "spot"
    assert ws.stacks[stack].tags[TAG_OWNER] == "alice"


def test_up_dry_run_creates_nothing(tmp_path: Path) -> None:
    ws = FakeWorkspace()
    result = run(make_env(tmp_path, ws), *UP, "--dry-run")
    assert result.exit_code == 0
    assert "dry run: nothing was created" in result.output
    assert ws.calls == [] and ws.stacks == {}


def test_up_without_tty_or_yes_refuses_after_showing_cost(tmp_path: Path) -> None:
    ws = FakeWorkspace()
    result = run(make_env(tmp_path, ws), *UP)
    assert result.exit_code == 2
    assert "$/hour" in result.stdout
    assert "error: --yes: confirmation needed and there is no terminal to ask on" in result.stderr
    assert ws.stacks == {}


def test_up_interactive_confirm_yes_and_no(tmp_path: Path) -> None:
    ws = FakeWorkspace()
    declined = run(make_env(tmp_path, ws, interactive=True), *UP, input="n\n")
    assert declined.exit_code == 1
    assert "aborted: nothing was created" in declined.output and ws.stacks == {}
    accepted = run(make_env(tmp_path, ws, interactive=True), *UP, input="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert len(ws.stacks) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--ttl", "forever"), "error: --ttl: 'forever' is not a TTL"),
        (("--ttl", "5m"), "error: --ttl: '5m' is shorter than the minimum TTL 15m"),
        (("--context", "10"), "error: --context: 10 tokens is too small a context"),
        (("--owner", "???"), "error: --owner: '???' has no letters or digits"),
        (("--owner", ""), "error: --owner: is empty"),
        (
            ("--ttl", "2026-11-23T11:00:00Z"),
            "error: --ttl: '2026-11-23T11:00:00Z' is in the past (now 2026-11-23T12:00:00Z)",
        ),
        (("--model", ""), "error: --model: is empty"),
        (("--owner", "  "), "error: --owner: is empty"),
        (("--owner", "Ålice O'Neil"), 'error: --owner: "Ålice O\'Neil" is not ASCII'),
    ],
)
def test_up_bad_input_exits_2_without_traceback(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    ws = FakeWorkspace()
    result = run(make_env(tmp_path, ws), "up", "--model", "llama-3.1-8b", "--owner", "alice", *args, "--yes")
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.output and ws.calls == []


def test_up_missing_template(tmp_path: Path) -> None:
    env = make_env(tmp_path, FakeWorkspace(), template_path=tmp_path / "nope.yaml")
    result = run(env, *UP, "--yes")
    assert result.exit_code == 2
    assert "nope.yaml not found" in result.stderr


def test_up_config_rejected_by_the_schema(tmp_path: Path) -> None:
    from serving.errors import InputError

    def reject(config: dict[str, Any], stack: str) -> None:
        raise InputError("'g9.huge' is not a GPU id or instance type", field="paddock:models[0].gpu")

    ws = FakeWorkspace()
    result = run(make_env(tmp_path, ws, validate=reject), *UP, "--yes")
    assert result.exit_code == 2
    assert "error: paddock:models[0].gpu: 'g9.huge' is not a GPU id" in result.stderr
    assert ws.calls == []


def test_nothing_fits_exits_1(tmp_path: Path) -> None:
    ws = FakeWorkspace()
    env = make_env(tmp_path, ws, sizer=lambda request: make_plan(fits=False))
    result = run(env, *UP, "--yes")
    assert result.exit_code == 1
    assert "error: --model: no instance fits llama-3.1-8b at 8192 tokens" in result.stderr


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            PulumiCliMissingError("[Errno 2] No such file or directory: 'pulumi'"),
            "the Pulumi CLI is not installed",
        ),
        (CredentialsError("no AWS credentials found: run `aws sso login`"), "no AWS credentials found"),
    ],
)
def test_preflight_failures_create_nothing(tmp_path: Path, error: Exception, expected: str) -> None:
    ws = FakeWorkspace()
    ws.fail["preflight"] = error  # type: ignore[assignment]
    result = run(make_env(tmp_path, ws), *UP, "--yes")
    assert result.exit_code == 1
    assert f"error: {expected}" in result.stderr
    assert "Traceback" not in result.output
    assert ws.stacks == {} and [op for op, _ in ws.calls] == ["preflight"]


def test_quota_error_during_up_rolls_back(tmp_path: Path) -> None:
    ws = FakeWorkspace()
    ws.fail["up"] = classify_failure(
        "error: creating EC2 instance: VcpuLimitExceeded: You have requested more vCPU capacity than your "
        "current vCPU limit of 0 allows",
        operation="up",
        stack="eph-alice-abcdef",
    )
    result = run(make_env(tmp_path, ws), *UP, "--yes")
    assert result.exit_code == 1
    assert "hit an AWS capacity or quota limit (VcpuLimitExceeded)" in result.stderr
    assert "Service Quotas console" in result.stderr
    assert "Nothing was left behind" in result.stderr
    assert ws.stacks == {}


def test_up_on_pulumi_cloud_reports_the_ttl_schedule(tmp_path: Path) -> None:
    ws = FakeWorkspace(pulumi_cloud=True)
    result = run(make_env(tmp_path, ws), *UP, "--yes")
    assert result.exit_code == 0, result.output
    [stack] = list(ws.stacks)
    assert f"Pulumi Cloud TTL schedule: destroy {stack} at 2026-11-23T16:00:00+00:00" in result.output


def _tags(owner: str, expires_in: timedelta, hourly: float = 2.0) -> dict[str, str]:
    return {
        TAG_EPHEMERAL: "true",
        TAG_OWNER: owner,
        TAG_EXPIRES: format_timestamp(NOW + expires_in),
        TAG_CREATED: format_timestamp(NOW + expires_in - timedelta(hours=4)),
        TAG_HOURLY: str(hourly),
        "paddock:model": "llama-3.1-8b",
    }


def populated() -> FakeWorkspace:
    ws = FakeWorkspace()
    ws.add("prod-eu", {"team": "ml"})
    ws.add("eph-alice-aaaaaa", _tags("alice", -timedelta(minutes=30)))
    ws.add("eph-bob-bbbbbb", _tags("bob", timedelta(hours=1), hourly=4.0))
    return ws


def test_list_table_and_json(tmp_path: Path) -> None:
    ws = populated()
    result = run(make_env(tmp_path, ws), "list")
    assert result.exit_code == 0
    lines = [line for line in result.output.splitlines() if "eph-" in line]
    assert "eph-alice-aaaaaa" in lines[0] and "EXPIRED" in lines[0] and "$8.00" in lines[0]
    assert "eph-bob-bbbbbb" in lines[1] and "1h" in lines[1] and "$12.00" in lines[1]
    assert "prod-eu" not in result.output
    as_json = run(make_env(tmp_path, ws), "list", "--json", "--owner", "bob")
    assert json.loads(as_json.output) == [
        {
            "stack": "eph-bob-bbbbbb",
            "owner": "bob",
            "model": "llama-3.1-8b",
            "expiresAt": "2026-11-23T13:00:00Z",
            "expired": False,
            "hourlyCostUsd": 4.0,
            "spentUsdMax": 12.0,
        }
    ]


def test_list_empty(tmp_path: Path) -> None:
    result = run(make_env(tmp_path, FakeWorkspace()), "list")
    assert result.exit_code == 0 and "no ephemeral stacks" in result.output


def test_extend(tmp_path: Path) -> None:
    ws = populated()
    result = run(make_env(tmp_path, ws), "extend", "eph-bob-bbbbbb", "--ttl", "2h")
    assert result.exit_code == 0, result.output
    assert "eph-bob-bbbbbb now expires 2026-11-23T15:00:00Z" in result.output
    assert ws.stacks["eph-bob-bbbbbb"].tags[TAG_EXPIRES] == "2026-11-23T15:00:00Z"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("extend", "prod-eu", "--ttl", "2h"), "error: STACK: stack 'prod-eu' is not an ephemeral stack"),
        (("extend", "nope", "--ttl", "2h"), "error: STACK: no stack named 'nope'"),
        (("extend", "eph-bob-bbbbbb", "--ttl", "20d"), "past the maximum 14d"),
        (("down", "prod-eu", "--yes"), "error: STACK: stack 'prod-eu' is not an ephemeral stack"),
        (
            ("extend", "eph-bob-bbbbbb", "--ttl", "2026-01-01T00:00:00Z"),
            "error: --ttl: '2026-01-01T00:00:00Z' is in the past",
        ),
    ],
)
def test_extend_and_down_refusals_exit_2(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    ws = populated()
    result = run(make_env(tmp_path, ws), *args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert (
        ws.stacks["prod-eu"].resources
        and ws.stacks["eph-bob-bbbbbb"].tags[TAG_EXPIRES] == "2026-11-23T13:00:00Z"
    )


def test_down(tmp_path: Path) -> None:
    ws = populated()
    refused = run(make_env(tmp_path, ws), "down", "eph-bob-bbbbbb")
    assert refused.exit_code == 2 and "eph-bob-bbbbbb" in ws.stacks
    result = run(make_env(tmp_path, ws), "down", "eph-bob-bbbbbb", "--yes")
    assert result.exit_code == 0, result.output
    assert "destroyed 3 resources and removed eph-bob-bbbbbb" in result.output
    assert "- delete  aws:ec2/vpc:Vpc::net" in result.output
    assert "eph-bob-bbbbbb" not in ws.stacks


def test_reap_dry_run_then_reap_then_idempotent(tmp_path: Path) -> None:
    ws = populated()
    dry = run(make_env(tmp_path, ws), "reap", "--dry-run")
    assert dry.exit_code == 0
    assert "would destroy" in dry.output and "eph-alice-aaaaaa" in ws.stacks
    refused = run(make_env(tmp_path, ws), "reap")
    assert refused.exit_code == 2 and "eph-alice-aaaaaa" in ws.stacks
    done = run(make_env(tmp_path, ws), "reap", "--yes")
    assert done.exit_code == 0, done.output
    assert "reaping eph-alice-aaaaaa: expired 2026-11-23T11:30:00Z (30m ago)" in done.output
    assert "reaped 1, failed 0, kept 1, stuck 0" in done.output
    assert sorted(ws.stacks) == ["eph-bob-bbbbbb", "prod-eu"]
    again = run(make_env(tmp_path, ws), "reap", "--yes")
    assert again.exit_code == 0 and "reaped 0, failed 0, kept 1, stuck 0" in again.output


def test_reap_failure_exits_1(tmp_path: Path) -> None:
    from serving.ephemeral.errors import StackOperationError

    ws = populated()
    ws.fail["destroy"] = StackOperationError("DependencyViolation: network interface in use")
    result = run(make_env(tmp_path, ws), "reap", "--yes")
    assert result.exit_code == 1
    assert "reaped 0, failed 1, kept 1, stuck 0" in result.output
    assert (
        "failed: eph-alice-aaaaaa: destroy-failed: DependencyViolation: network interface in use"
        in result.output
    )


def test_reap_without_pulumi_cli(tmp_path: Path) -> None:
    ws = populated()
    ws.fail["preflight"] = PulumiCliMissingError()
    result = run(make_env(tmp_path, ws), "reap", "--yes")
    assert result.exit_code == 1
    assert "error: the Pulumi CLI is not installed or not on PATH" in result.stderr
    assert "Traceback" not in result.output


def test_group_help_lists_subcommands(tmp_path: Path) -> None:
    result = CliRunner().invoke(command, ["--help"])
    assert result.exit_code == 0
    for name in ("up", "list", "extend", "down", "reap"):
        assert f"  {name}" in result.output


def test_extend_does_not_need_aws_credentials(tmp_path: Path) -> None:
    ws = populated()
    assert run(make_env(tmp_path, ws), "extend", "eph-bob-bbbbbb", "--ttl", "1h").exit_code == 0
    assert ws.preflight_aws == [False]
    run(make_env(tmp_path, ws), "down", "eph-bob-bbbbbb", "--yes")
    assert ws.preflight_aws == [False, True]


def test_list_owner_filter_is_sanitized(tmp_path: Path) -> None:
    result = run(make_env(tmp_path, populated()), "list", "--owner", "Alice", "--json")
    assert result.exit_code == 0
    assert [row["stack"] for row in json.loads(result.output)] == ["eph-alice-aaaaaa"]


def test_owner_defaults_to_user_and_fails_clearly_without_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("USER", "Carol")
    ws = FakeWorkspace()
    assert run(make_env(tmp_path, ws), "up", "--model", "llama-3.1-8b", "--yes").exit_code == 0
    assert [name.rsplit("-", 1)[0] for name in ws.stacks] == ["eph-carol"]
    monkeypatch.delenv("USER")

    def no_user() -> str:
        raise OSError("No username set in the environment")

    monkeypatch.setattr("getpass.getuser", no_user)
    result = run(make_env(tmp_path, FakeWorkspace()), "up", "--model", "llama-3.1-8b", "--yes")
    assert result.exit_code == 2
    assert "error: --owner: cannot tell who you are ($USER is not set); pass --owner <name>" in result.stderr


class InterruptedWorkspace(FakeWorkspace):
    def up(self, name: str, *, on_progress: Any) -> Any:
        raise KeyboardInterrupt


def test_ctrl_c_during_up_says_how_the_stack_goes_away(tmp_path: Path) -> None:
    ws = InterruptedWorkspace()
    result = run(make_env(tmp_path, ws), *UP, "--yes")
    assert result.exit_code == 130
    [stack] = list(ws.stacks)
    assert f"interrupted: {stack} may be partly created" in result.stderr
    assert "expire at 2026-11-23T16:00:00Z" in result.stderr
    assert f"run `paddock ephemeral down {stack}`" in result.stderr
    assert ws.stacks[stack].tags[TAG_EXPIRES] == "2026-11-23T16:00:00Z"


def test_reap_exits_1_when_a_stack_is_stuck(tmp_path: Path) -> None:
    ws = FakeWorkspace()
    ws.add("eph-bob-bbbbbb", _tags("bob", -timedelta(hours=5)), update_in_progress=True)
    result = run(make_env(tmp_path, ws), "reap", "--yes")
    assert result.exit_code == 1
    assert "reaped 0, failed 0, kept 1, stuck 1" in result.output
    assert "pulumi cancel --stack eph-bob-bbbbbb" in result.output


@pytest.mark.parametrize(
    "args",
    [("extend", "eph bob", "--ttl", "2h"), ("down", "a;rm -rf /", "--yes"), ("down", "", "--yes")],
    ids=["space", "shell", "empty"],
)
def test_a_bad_stack_name_is_refused_before_the_pulumi_cli(tmp_path: Path, args: tuple[str, ...]) -> None:
    def no_workspace() -> FakeWorkspace:
        raise AssertionError("the workspace (Pulumi CLI) was reached")

    env = make_env(tmp_path, FakeWorkspace())
    env.workspace_factory = no_workspace
    result = run(env, *args)
    assert result.exit_code == 2, result.output
    assert "error: STACK: " in result.stderr and "is not a stack name" in result.stderr
    assert "Traceback" not in result.output


def test_context_past_the_model_is_named_as_the_user_wrote_it(tmp_path: Path) -> None:
    from scripts.ephemeral import engine_sizer

    env = make_env(tmp_path, FakeWorkspace(), sizer=engine_sizer)
    result = run(env, *UP, "--context", "99999999", "--dry-run")
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: --context: 99999999 exceeds the model's max_position_embeddings")
