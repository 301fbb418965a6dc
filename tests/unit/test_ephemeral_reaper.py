"""The reaper never destroys a non-ephemeral or unexpired stack, and running it twice changes nothing."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from serving.ephemeral.errors import StackOperationError
from serving.ephemeral.metadata import TAG_CREATED, TAG_EPHEMERAL, TAG_EXPIRES, TAG_OWNER
from serving.ephemeral.reaper import decide, plan_reap, reap
from serving.ephemeral.ttl import format_timestamp
from serving.ephemeral.workspace import StackRecord
from tests.unit.ephemeral_fakes import NOW, FakeWorkspace


def eph_tags(expires_in: timedelta, owner: str = "alice") -> dict[str, str]:
    return {
        TAG_EPHEMERAL: "true",
        TAG_OWNER: owner,
        TAG_EXPIRES: format_timestamp(NOW + expires_in),
        TAG_CREATED: format_timestamp(NOW + expires_in - timedelta(hours=4)),
    }


def test_decisions_for_each_kind_of_stack() -> None:
    records = [
        StackRecord("prod-eu", tags={"pulumi:project": "paddock"}),
        StackRecord("eph-alice-aaaaaa", tags=eph_tags(-timedelta(minutes=5))),
        StackRecord("eph-bob-bbbbbb", tags=eph_tags(timedelta(hours=1))),
        StackRecord("eph-carol-cccccc", tags=eph_tags(-timedelta(hours=1)), update_in_progress=True),
        StackRecord("eph-dave-dddddd", tags={TAG_EPHEMERAL: "true", TAG_OWNER: "dave", TAG_EXPIRES: "soon"}),
        StackRecord("prod-us", tags=eph_tags(-timedelta(hours=1))),
        StackRecord("eph-erin-eeeeee", tags={**eph_tags(-timedelta(hours=1)), TAG_EPHEMERAL: "false"}),
    ]
    decisions = {d.stack: (d.action, d.reason) for d in plan_reap(records, now=NOW)}
    assert decisions == {
        "prod-eu": ("keep", "not an ephemeral stack"),
        "eph-alice-aaaaaa": ("destroy", "expired 2026-11-23T11:55:00Z (5m ago)"),
        "eph-bob-bbbbbb": ("keep", "expires 2026-11-23T13:00:00Z (in 1h)"),
        "eph-carol-cccccc": ("keep", "expired, but an update is running; next run"),
        "eph-dave-dddddd": (
            "keep",
            "marked ephemeral but unreadable: paddock:expires-at: 'soon' is not an ISO 8601 time "
            "(e.g. 2026-11-23T18:00:00Z)",
        ),
        "prod-us": ("keep", "tagged ephemeral but the name is not eph-<owner>-<hash>"),
        "eph-erin-eeeeee": ("keep", "not an ephemeral stack"),
    }


def test_config_alone_never_marks_a_stack_for_the_reaper() -> None:
    record = StackRecord(
        "eph-alice-aaaaaa",
        tags={},
        config={"paddock:ephemeral": {"owner": "alice", "expiresAt": "2020-01-01T00:00:00Z"}},
    )
    assert decide(record, now=NOW).action == "keep"


def test_expiry_exactly_now_is_reaped() -> None:
    record = StackRecord("eph-alice-aaaaaa", tags=eph_tags(timedelta(0)))
    assert decide(record, now=NOW).action == "destroy"
    assert decide(record, now=NOW - timedelta(seconds=1)).action == "keep"


def test_reap_destroys_removes_and_is_idempotent() -> None:
    ws = FakeWorkspace()
    ws.add("prod-eu", {"team": "ml"})
    ws.add("eph-alice-aaaaaa", eph_tags(-timedelta(minutes=1)))
    ws.add("eph-bob-bbbbbb", eph_tags(timedelta(hours=2)))
    report = reap(ws, now=NOW)
    assert [(o.stack, o.status) for o in report.outcomes] == [("eph-alice-aaaaaa", "reaped")]
    assert sorted(ws.stacks) == ["eph-bob-bbbbbb", "prod-eu"]
    assert ws.stacks["prod-eu"].resources and ws.stacks["eph-bob-bbbbbb"].resources
    again = reap(ws, now=NOW)
    assert again.outcomes == ()
    assert sorted(ws.stacks) == ["eph-bob-bbbbbb", "prod-eu"]


def test_dry_run_touches_nothing() -> None:
    ws = FakeWorkspace()
    ws.add("eph-alice-aaaaaa", eph_tags(-timedelta(minutes=1)))
    report = reap(ws, now=NOW, dry_run=True)
    assert report.dry_run and report.outcomes == ()
    assert [d.action for d in report.decisions] == ["destroy"]
    assert [op for op, _ in ws.calls] == ["list"]
    assert ws.stacks["eph-alice-aaaaaa"].resources


def test_one_failure_does_not_stop_the_others_and_the_next_run_finishes() -> None:
    ws = FakeWorkspace()
    ws.add("eph-alice-aaaaaa", eph_tags(-timedelta(minutes=1)))
    ws.add("eph-bob-bbbbbb", eph_tags(-timedelta(minutes=1)))
    ws.fail["remove"] = StackOperationError("backend busy")
    report = reap(ws, now=NOW)
    assert [(o.stack, o.status, o.detail) for o in report.outcomes] == [
        ("eph-alice-aaaaaa", "remove-failed", "backend busy"),
        ("eph-bob-bbbbbb", "reaped", ""),
    ]
    assert [o.stack for o in report.failed] == ["eph-alice-aaaaaa"]
    assert ws.stacks["eph-alice-aaaaaa"].resources == []
    second = reap(ws, now=NOW)
    assert [(o.stack, o.status) for o in second.outcomes] == [("eph-alice-aaaaaa", "reaped")]
    assert ws.stacks == {}


def test_destroy_failure_is_reported() -> None:
    ws = FakeWorkspace()
    ws.add("eph-alice-aaaaaa", eph_tags(-timedelta(minutes=1)))
    ws.fail["destroy"] = StackOperationError("DependencyViolation")
    report = reap(ws, now=NOW)
    assert [(o.status, o.detail) for o in report.outcomes] == [("destroy-failed", "DependencyViolation")]
    assert "eph-alice-aaaaaa" in ws.stacks


def test_recheck_keeps_a_stack_extended_after_the_listing() -> None:
    ws = FakeWorkspace()
    ws.add("eph-alice-aaaaaa", eph_tags(-timedelta(minutes=1)))
    extended = format_timestamp(NOW + timedelta(hours=3))

    def extend_meanwhile(decision: object) -> None:
        ws.stacks["eph-alice-aaaaaa"].tags[TAG_EXPIRES] = extended

    report = reap(ws, now=NOW, on_stack=extend_meanwhile)
    assert [(o.status, o.detail) for o in report.outcomes] == [
        ("kept-on-recheck", "expires 2026-11-23T15:00:00Z (in 3h)")
    ]
    assert ws.stacks["eph-alice-aaaaaa"].resources


def test_stack_removed_by_someone_else_meanwhile() -> None:
    ws = FakeWorkspace()
    ws.add("eph-alice-aaaaaa", eph_tags(-timedelta(minutes=1)))

    def remove_meanwhile(decision: object) -> None:
        del ws.stacks["eph-alice-aaaaaa"]

    report = reap(ws, now=NOW, on_stack=remove_meanwhile)
    assert [o.status for o in report.outcomes] == ["already-gone"]


# --- properties -------------------------------------------------------------------------------------------

names = st.one_of(
    st.from_regex(r"eph-[a-z][a-z0-9-]{0,8}[a-z0-9]-[0-9a-f]{6}", fullmatch=True),
    st.from_regex(r"eph-[a-z]{1,5}-[0-9a-fA-F]{5,7}", fullmatch=True),
    st.sampled_from(["prod-eu", "dev", "staging", "eph-x", "ephemeral"]),
)
minutes = st.integers(min_value=-5000, max_value=5000)
tag_sets = st.one_of(
    st.builds(lambda m, o: eph_tags(timedelta(minutes=m), o), minutes, st.sampled_from(["alice", "bob"])),
    st.builds(lambda m: {**eph_tags(timedelta(minutes=m)), TAG_EPHEMERAL: "no"}, minutes),
    st.builds(lambda m: {TAG_EXPIRES: format_timestamp(NOW + timedelta(minutes=m))}, minutes),
    st.dictionaries(st.sampled_from(["team", TAG_OWNER, TAG_EXPIRES, TAG_EPHEMERAL]), st.text(max_size=12)),
)
stacks = st.dictionaries(names, st.tuples(tag_sets, st.booleans()), max_size=8)


def _should_reap(name: str, tags: dict[str, str], busy: bool) -> bool:
    """Independent statement of the rule."""
    import re

    if tags.get(TAG_EPHEMERAL, "").strip().lower() != "true" or busy:
        return False
    if not re.fullmatch(r"eph-[a-z0-9](?:[a-z0-9-]*[a-z0-9])?-[0-9a-f]{6}", name) or not tags.get(TAG_OWNER):
        return False
    try:
        from serving.ephemeral.ttl import parse_timestamp

        return parse_timestamp(tags[TAG_EXPIRES]) <= NOW
    except Exception:
        return False


@settings(max_examples=150, deadline=None)
@given(stacks)
def test_reaper_destroys_exactly_the_expired_ephemeral_stacks(
    population: dict[str, tuple[dict[str, str], bool]],
) -> None:
    ws = FakeWorkspace()
    for name, (tags, busy) in population.items():
        ws.add(name, tags, update_in_progress=busy)
    report = reap(ws, now=NOW)
    reaped = {o.stack for o in report.outcomes if o.status == "reaped"}
    expected = {n for n, (tags, busy) in population.items() if _should_reap(n, tags, busy)}
    assert reaped == expected
    for name, (tags, _) in population.items():
        if name not in expected:
            assert ws.stacks[name].resources, f"{name} lost resources"
            assert ws.stacks[name].tags == tags
    destroyed = {name for op, name in ws.calls if op == "destroy"}
    assert destroyed == expected
    ws.calls.clear()
    assert reap(ws, now=NOW).outcomes == ()
    assert [op for op, _ in ws.calls] == ["list"]


def test_long_running_update_on_an_expired_stack_is_reported_stuck() -> None:
    busy_recent = StackRecord(
        "eph-alice-aaaaaa", tags=eph_tags(-timedelta(minutes=90)), update_in_progress=True
    )
    busy_long = StackRecord("eph-bob-bbbbbb", tags=eph_tags(-timedelta(hours=3)), update_in_progress=True)
    recent, long = decide(busy_recent, now=NOW), decide(busy_long, now=NOW)
    assert (recent.action, recent.stuck) == ("keep", False)
    assert (long.action, long.stuck) == ("keep", True)
    assert long.reason == (
        "expired 3h ago and an update still holds the stack: if nothing is deploying it, "
        "run `pulumi cancel --stack eph-bob-bbbbbb`; the next run destroys it"
    )
    ws = FakeWorkspace()
    ws.add("eph-bob-bbbbbb", eph_tags(-timedelta(hours=3)), update_in_progress=True)
    report = reap(ws, now=NOW)
    assert [d.stack for d in report.stuck] == ["eph-bob-bbbbbb"] and report.outcomes == ()
    assert ws.stacks["eph-bob-bbbbbb"].resources
