"""up/list/extend/down against the fake workspace: config, tags, cost, rollback, refusals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from serving.ephemeral.errors import NotEphemeralError, QuotaError, StackOperationError
from serving.ephemeral.lifecycle import down, extend, list_ephemeral, run_up
from serving.ephemeral.metadata import TAG_CREATED, TAG_EPHEMERAL, TAG_EXPIRES, TAG_HOURLY, TAG_OWNER, TAG_TTL
from serving.ephemeral.planning import SizingRequest, UpRequest, build_up_plan, model_alias
from serving.ephemeral.ttl import parse_ttl_spec
from serving.ephemeral.workspace import ProgressEvent
from serving.errors import InputError, SizingError
from serving.sizing.plan import ServingPlan
from tests.unit.ephemeral_fakes import NOW, FakeWorkspace, make_plan

TEMPLATE: dict[str, Any] = {
    "aws:region": "eu-central-1",
    "paddock:tags": {"team": "ml-platform"},
    "paddock:cluster": {"create": True, "name": "paddock-ephemeral", "kubernetesVersion": "1.33"},
    "paddock:models": [{"alias": "x", "model": "x", "engine": "vllm", "weights": "hf", "fallback": "none"}],
}


class RecordingSizer:
    """Stands in for the sizing engine and keeps what it was asked."""

    def __init__(self, plan: ServingPlan) -> None:
        self.plan = plan
        self.requests: list[SizingRequest] = []

    def __call__(self, request: SizingRequest) -> ServingPlan:
        self.requests.append(request)
        return self.plan


def plan_up(**kw: Any) -> Any:
    request = UpRequest(**{"model": "llama-3.1-8b", "owner": "Alice", "ttl": parse_ttl_spec("4h"), **kw})
    sizer = RecordingSizer(make_plan())
    return build_up_plan(request, template=TEMPLATE, sizer=sizer, now=NOW), sizer


def test_up_plan_config_tags_and_cost() -> None:
    plan, sizer = plan_up(spot=True, context=16384)
    assert sizer.requests == [SizingRequest("llama-3.1-8b", 16384, 1, None, "eu-central-1", "spot")]
    assert plan.stack.startswith("eph-alice-")
    expires = "2026-11-23T16:00:00Z"
    assert plan.config["paddock:ephemeral"] == {"owner": "alice", "expiresAt": expires, "ttl": "4h"}
    assert plan.config["paddock:tags"] == {
        "team": "ml-platform",
        "paddock:ephemeral": "true",
        "paddock:owner": "alice",
        "paddock:expires-at": expires,
        "paddock:stack": plan.stack,
    }
    assert plan.config["paddock:cluster"]["name"] == plan.stack
    assert plan.config["paddock:environment"] == plan.stack
    assert plan.config["paddock:models"] == [
        {
            "alias": "llama-3-1-8b",
            "model": "llama-3.1-8b",
            "engine": "vllm",
            "weights": "hf",
            "fallback": "none",
            "context": 16384,
            "concurrency": 1,
            "gpu": "g6e.xlarge",
            "capacityType": "spot",
            "replicas": {"min": 0, "max": 1},
        }
    ]
    assert plan.cost.hourly_usd == pytest.approx(2.00)
    assert plan.cost.total_for_ttl_usd == pytest.approx(8.00)
    assert plan.meta.stack_tags() == {
        TAG_EPHEMERAL: "true",
        TAG_OWNER: "alice",
        TAG_EXPIRES: expires,
        TAG_CREATED: "2026-11-23T12:00:00Z",
        TAG_TTL: "4h",
        TAG_HOURLY: "2.0000",
        "paddock:model": "llama-3.1-8b",
    }
    assert TEMPLATE["paddock:tags"] == {"team": "ml-platform"}, "template must not be mutated"


def test_keep_warm_region_and_existing_cluster() -> None:
    plan, sizer = plan_up(keep_warm=True, region="eu-west-1", gpu="h100-80gb")
    assert plan.config["aws:region"] == "eu-west-1"
    assert plan.config["paddock:models"][0]["replicas"] == {"min": 1, "max": 1}
    assert sizer.requests[0].gpu == "h100-80gb" and sizer.requests[0].capacity_type == "on-demand"
    template = {**TEMPLATE, "paddock:cluster": {"existingClusterName": "shared-dev"}}
    request = UpRequest(model="llama-3.1-8b", owner="bob", ttl=parse_ttl_spec("2h"))
    reuse = build_up_plan(request, template=template, sizer=RecordingSizer(make_plan()), now=NOW)
    assert reuse.cost.control_plane_hourly_usd == 0.0
    assert reuse.config["paddock:cluster"] == {"existingClusterName": "shared-dev"}


@pytest.mark.parametrize(
    ("kw", "field"),
    [({"context": 100}, "--context"), ({"concurrency": 0}, "--concurrency"), ({"owner": "!!"}, "--owner")],
)
def test_bad_up_flags(kw: dict[str, Any], field: str) -> None:
    with pytest.raises(InputError) as err:
        plan_up(**kw)
    assert err.value.field == field


def test_no_region_anywhere() -> None:
    request = UpRequest(model="m", owner="a", ttl=parse_ttl_spec("4h"))
    with pytest.raises(InputError) as err:
        build_up_plan(request, template={}, sizer=RecordingSizer(make_plan()), now=NOW)
    assert err.value.field == "--region"


def test_nothing_fits() -> None:
    request = UpRequest(model="llama-3.1-405b", owner="a", ttl=parse_ttl_spec("4h"))
    with pytest.raises(SizingError, match="no instance fits llama-3.1-405b"):
        build_up_plan(request, template=TEMPLATE, sizer=RecordingSizer(make_plan(fits=False)), now=NOW)


@pytest.mark.parametrize(
    ("model", "alias"),
    [
        ("meta-llama/Llama-3.1-8B-Instruct", "llama-3-1-8b-instruct"),
        ("checkpoints/my-model/config.json", "my-model"),
        ("llama-3.3-70b", "llama-3-3-70b"),
        ("config.json", "model"),
    ],
)
def test_model_alias(model: str, alias: str) -> None:
    assert model_alias(model) == alias


def test_run_up_creates_and_deploys_with_progress() -> None:
    ws = FakeWorkspace()
    plan, _ = plan_up()
    events: list[ProgressEvent] = []
    outcome = run_up(ws, plan, backend=ws.backend, on_progress=events.append)
    assert outcome.stack == plan.stack and outcome.ttl_schedule is None
    stack = ws.stacks[plan.stack]
    assert stack.config == dict(plan.config) and stack.tags == plan.meta.stack_tags()
    assert len(stack.resources) == 3
    assert [e.kind for e in events][-1] == "summary"
    assert ("ttl", plan.stack) not in ws.calls


def test_run_up_sets_the_pulumi_cloud_ttl_schedule() -> None:
    ws = FakeWorkspace(pulumi_cloud=True)
    plan, _ = plan_up()
    outcome = run_up(ws, plan, backend=ws.backend, on_progress=lambda e: None)
    assert ws.schedules == {plan.stack: datetime(2026, 11, 23, 16, tzinfo=UTC)}
    assert outcome.ttl_schedule is not None and plan.stack in outcome.ttl_schedule


def test_ttl_schedule_failure_is_a_warning_not_a_failure() -> None:
    ws = FakeWorkspace(pulumi_cloud=True)
    ws.fail["ttl"] = StackOperationError("deployment settings are not configured")
    plan, _ = plan_up()
    warnings: list[str] = []
    outcome = run_up(ws, plan, backend=ws.backend, on_progress=lambda e: None, warn=warnings.append)
    assert outcome.ttl_schedule is None
    assert len(ws.stacks[plan.stack].resources) == 3
    assert warnings == [
        "Pulumi Cloud TTL schedule not set (deployment settings are not configured); "
        "`paddock ephemeral reap` still destroys the stack on time"
    ]


def test_quota_failure_during_up_rolls_everything_back() -> None:
    ws = FakeWorkspace()
    ws.fail["up"] = QuotaError("VcpuLimitExceeded")
    plan, _ = plan_up()
    with pytest.raises(QuotaError) as err:
        run_up(ws, plan, backend=ws.backend, on_progress=lambda e: None)
    assert plan.stack not in ws.stacks
    assert "Nothing was left behind" in str(err.value)
    assert [op for op, _ in ws.calls] == ["get", "create", "up", "destroy", "remove"]


def test_failed_rollback_says_what_to_run() -> None:
    ws = FakeWorkspace()
    ws.fail["up"] = QuotaError("InsufficientInstanceCapacity")
    ws.fail["destroy"] = StackOperationError("throttled")
    plan, _ = plan_up()
    with pytest.raises(QuotaError) as err:
        run_up(ws, plan, backend=ws.backend, on_progress=lambda e: None)
    assert f"run `paddock ephemeral down {plan.stack}`" in str(err.value)
    assert ws.stacks[plan.stack].resources


def test_create_failure_leaves_no_stack() -> None:
    ws = FakeWorkspace()
    ws.fail["create"] = StackOperationError("config set failed")
    plan, _ = plan_up()
    with pytest.raises(StackOperationError, match="Nothing was left behind"):
        run_up(ws, plan, backend=ws.backend, on_progress=lambda e: None)
    assert ws.stacks == {}


def _deployed(ws: FakeWorkspace, **kw: Any) -> str:
    plan, _ = plan_up(**kw)
    run_up(ws, plan, backend=ws.backend, on_progress=lambda e: None)
    return str(plan.stack)


def test_list_shows_ephemeral_stacks_with_cost_so_far() -> None:
    ws = FakeWorkspace()
    mine = _deployed(ws)
    ws.add("prod-eu", {"team": "ml"})
    ws.add("eph-bob-bbbbbb", {TAG_EPHEMERAL: "true", TAG_OWNER: "bob", TAG_EXPIRES: "2026-11-23T13:00:00Z"})
    ws.add("eph-old-cccccc", {TAG_EPHEMERAL: "true", TAG_OWNER: "x", TAG_EXPIRES: "bad"})
    later = NOW + timedelta(minutes=90)
    rows = list_ephemeral(ws, now=later)
    assert [(r.meta.stack, r.expired, r.spent_usd) for r in rows] == [
        ("eph-bob-bbbbbb", True, None),
        (mine, False, pytest.approx(3.0)),
    ]
    assert [r.meta.stack for r in list_ephemeral(ws, now=later, owner="alice")] == [mine]
    after = list_ephemeral(ws, now=NOW + timedelta(hours=10), owner="alice")
    assert after[0].spent_usd == pytest.approx(8.0), "spend stops counting at expiry"


def test_extend_moves_tags_config_and_schedule() -> None:
    ws = FakeWorkspace(pulumi_cloud=True)
    stack = _deployed(ws)
    meta = extend(ws, stack, parse_ttl_spec("2h"), now=NOW + timedelta(hours=1), backend=ws.backend)
    new = datetime(2026, 11, 23, 18, tzinfo=UTC)
    assert meta.expires_at == new and meta.ttl == timedelta(hours=6)
    assert ws.stacks[stack].tags[TAG_EXPIRES] == "2026-11-23T18:00:00Z"
    assert ws.stacks[stack].tags[TAG_TTL] == "6h"
    config = ws.stacks[stack].config
    assert config is not None
    assert config["paddock:ephemeral"] == {"owner": "alice", "expiresAt": "2026-11-23T18:00:00Z", "ttl": "6h"}
    assert config["paddock:tags"]["paddock:expires-at"] == "2026-11-23T18:00:00Z"
    assert config["paddock:tags"]["team"] == "ml-platform"
    assert ws.schedules[stack] == new


def test_extend_without_local_config_updates_tags_and_warns() -> None:
    ws = FakeWorkspace()
    ws.add("eph-bob-bbbbbb", {TAG_EPHEMERAL: "true", TAG_OWNER: "bob", TAG_EXPIRES: "2026-11-23T13:00:00Z"})
    warnings: list[str] = []
    meta = extend(
        ws, "eph-bob-bbbbbb", parse_ttl_spec("1h"), now=NOW, backend=ws.backend, warn=warnings.append
    )
    assert meta.expires_at == datetime(2026, 11, 23, 14, tzinfo=UTC)
    assert ws.stacks["eph-bob-bbbbbb"].config is None
    assert ("set_config", "eph-bob-bbbbbb") not in ws.calls
    assert warnings and "not on this machine" in warnings[0]


@pytest.mark.parametrize("op", ["extend", "down"])
def test_extend_and_down_refuse_other_stacks(op: str) -> None:
    ws = FakeWorkspace()
    ws.add("prod-eu", {"team": "ml"})
    with pytest.raises(NotEphemeralError, match="not an ephemeral stack"):
        if op == "extend":
            extend(ws, "prod-eu", parse_ttl_spec("1h"), now=NOW, backend=ws.backend)
        else:
            down(ws, "prod-eu", on_progress=lambda e: None)
    assert ws.stacks["prod-eu"].resources and ws.stacks["prod-eu"].tags == {"team": "ml"}
    with pytest.raises(InputError, match="no stack named 'nope'"):
        down(ws, "nope", on_progress=lambda e: None)


def test_down_destroys_and_removes() -> None:
    ws = FakeWorkspace()
    stack = _deployed(ws)
    result = down(ws, stack, on_progress=lambda e: None)
    assert result.changes == {"delete": 3}
    assert ws.stacks == {}


def test_region_must_respect_the_template_residency() -> None:
    template = {**TEMPLATE, "paddock:residency": {"allowedRegions": ["eu-central-1", "eu-west-1"]}}
    ok = UpRequest(model="m", owner="a", ttl=parse_ttl_spec("4h"), region="eu-west-1")
    assert (
        build_up_plan(ok, template=template, sizer=RecordingSizer(make_plan()), now=NOW).region == "eu-west-1"
    )
    bad = UpRequest(model="m", owner="a", ttl=parse_ttl_spec("4h"), region="us-east-1")
    with pytest.raises(InputError) as err:
        build_up_plan(bad, template=template, sizer=RecordingSizer(make_plan()), now=NOW)
    assert err.value.field == "--region"
    assert "us-east-1 is outside paddock:residency.allowedRegions" in err.value.message
    assert "(eu-central-1, eu-west-1)" in err.value.message


def test_an_existing_stack_with_the_planned_name_is_never_touched() -> None:
    ws = FakeWorkspace()
    plan, _ = plan_up()
    ws.add(plan.stack, {"team": "someone-else"})
    with pytest.raises(StackOperationError, match="already exists; run the command again"):
        run_up(ws, plan, backend=ws.backend, on_progress=lambda e: None)
    assert ws.stacks[plan.stack].resources and ws.stacks[plan.stack].tags == {"team": "someone-else"}
    assert [op for op, _ in ws.calls] == ["get"]


def test_create_failing_before_anything_exists_skips_the_rollback() -> None:
    ws = FakeWorkspace()
    ws.fail["create-early"] = StackOperationError("backend unreachable")
    plan, _ = plan_up()
    with pytest.raises(StackOperationError) as err:
        run_up(ws, plan, backend=ws.backend, on_progress=lambda e: None)
    assert str(err.value) == "backend unreachable"
    assert [op for op, _ in ws.calls] == ["get", "create-early", "get"]


@pytest.mark.parametrize(
    ("network", "nat"),
    [
        ({"create": True, "natGateway": True}, 0.045),
        ({"create": True, "natGateway": False}, 0.0),
        ({"existingVpcId": "vpc-1", "privateSubnetIds": ["s"]}, 0.0),
        (None, 0.0),
    ],
)
def test_nat_gateway_is_a_fixed_cost(network: dict[str, Any] | None, nat: float) -> None:
    template = {**TEMPLATE, **({"paddock:network": network} if network else {})}
    request = UpRequest(model="m", owner="a", ttl=parse_ttl_spec("10h"))
    cost = build_up_plan(request, template=template, sizer=RecordingSizer(make_plan()), now=NOW).cost
    assert cost.nat_hourly_usd == nat
    assert cost.fixed_hourly_usd == pytest.approx(0.10 + nat)
    assert cost.floor_for_ttl_usd == pytest.approx(round((0.10 + nat) * 10, 2))
    assert cost.total_for_ttl_usd == pytest.approx(round((1.90 + 0.10 + nat) * 10, 2))
