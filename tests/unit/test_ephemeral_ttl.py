"""TTL parsing, expiry arithmetic, stack naming and cost figures of ``paddock ephemeral``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from serving.ephemeral.cost import CostEstimate, cost_so_far, format_usd
from serving.ephemeral.naming import looks_ephemeral, sanitize_owner, stack_name
from serving.ephemeral.ttl import (
    expiry_for,
    extended_expiry,
    format_duration,
    format_timestamp,
    parse_timestamp,
    parse_ttl_spec,
    single_unit_duration,
)
from serving.errors import InputError
from tests.unit.ephemeral_fakes import NOW


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("4h", timedelta(hours=4)),
        ("90m", timedelta(minutes=90)),
        ("2d", timedelta(days=2)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("1d12h", timedelta(days=1, hours=12)),
        (" 4H ", timedelta(hours=4)),
        ("PT4H", timedelta(hours=4)),
        ("P1DT2H", timedelta(days=1, hours=2)),
        ("pt90m", timedelta(minutes=90)),
    ],
)
def test_durations_parse(text: str, expected: timedelta) -> None:
    spec = parse_ttl_spec(text)
    assert spec.duration == expected
    assert spec.until is None


def test_iso_times_parse_to_utc() -> None:
    assert parse_ttl_spec("2026-11-23T18:00:00Z").until == datetime(2026, 11, 23, 18, tzinfo=UTC)
    assert parse_ttl_spec("2026-11-23T19:00:00+01:00").until == datetime(2026, 11, 23, 18, tzinfo=UTC)


@pytest.mark.parametrize("text", ["", "4", "h", "4x", "4h4d", "-4h", "P", "PT", "four hours", "4 h"])
def test_bad_durations_name_the_flag(text: str) -> None:
    with pytest.raises(InputError) as err:
        parse_ttl_spec(text)
    assert err.value.field == "--ttl"
    assert "4h, 90m, 2d" in err.value.message


def test_time_without_zone_is_refused() -> None:
    with pytest.raises(InputError, match="no time zone"):
        parse_ttl_spec("2026-11-23T18:00:00")
    with pytest.raises(InputError, match="not an ISO 8601 time"):
        parse_timestamp("2026-13-40T18:00:00Z")


def test_expiry_for_duration_and_time() -> None:
    assert expiry_for(parse_ttl_spec("4h"), now=NOW) == (
        datetime(2026, 11, 23, 16, tzinfo=UTC),
        timedelta(hours=4),
    )
    until = parse_ttl_spec("2026-11-24T00:30:00Z")
    assert expiry_for(until, now=NOW) == (
        datetime(2026, 11, 24, 0, 30, tzinfo=UTC),
        timedelta(hours=12, minutes=30),
    )


@pytest.mark.parametrize(
    ("text", "message"), [("10m", "shorter than the minimum TTL 15m"), ("15d", "maximum TTL 14d")]
)
def test_expiry_bounds(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        expiry_for(parse_ttl_spec(text), now=NOW)


def test_expiry_in_the_past_is_refused() -> None:
    with pytest.raises(InputError, match="shorter than the minimum"):
        expiry_for(parse_ttl_spec("2026-11-23T11:00:00Z"), now=NOW)


def test_extend_adds_to_current_expiry_or_now() -> None:
    later = datetime(2026, 11, 23, 14, tzinfo=UTC)
    assert extended_expiry(parse_ttl_spec("2h"), current=later, now=NOW) == datetime(
        2026, 11, 23, 16, tzinfo=UTC
    )
    earlier = datetime(2026, 11, 23, 9, tzinfo=UTC)
    assert extended_expiry(parse_ttl_spec("2h"), current=earlier, now=NOW) == datetime(
        2026, 11, 23, 14, tzinfo=UTC
    )
    assert extended_expiry(parse_ttl_spec("2026-11-25T00:00:00Z"), current=later, now=NOW) == datetime(
        2026, 11, 25, tzinfo=UTC
    )


def test_extend_refuses_past_and_too_far() -> None:
    with pytest.raises(InputError, match="in the past"):
        extended_expiry(parse_ttl_spec("2026-11-23T10:00:00Z"), current=NOW, now=NOW)
    with pytest.raises(InputError, match="past the maximum 14d"):
        extended_expiry(parse_ttl_spec("14d"), current=NOW + timedelta(hours=1), now=NOW)


@given(st.integers(min_value=0, max_value=20 * 24 * 60))
def test_format_duration_round_trips(minutes: int) -> None:
    text = format_duration(timedelta(minutes=minutes))
    if minutes == 0:
        assert text == "0m"
    else:
        assert parse_ttl_spec(text).duration == timedelta(minutes=minutes)


def test_format_duration_and_timestamp() -> None:
    assert format_duration(timedelta(days=1, hours=2, minutes=30, seconds=59)) == "1d2h30m"
    assert format_duration(timedelta(minutes=-90)) == "-1h30m"
    assert format_timestamp(datetime(2026, 11, 23, 19, 0, 5, 999, tzinfo=UTC)) == "2026-11-23T19:00:05Z"


@pytest.mark.parametrize(
    ("owner", "clean"),
    [
        ("alice", "alice"),
        ("Alice.Smith@Corp", "alice-smith-corp"),
        ("  bob__x  ", "bob-x"),
        ("a" * 30, "a" * 20),
    ],
)
def test_owner_sanitizing(owner: str, clean: str) -> None:
    assert sanitize_owner(owner) == clean


def test_owner_without_letters_is_refused() -> None:
    with pytest.raises(InputError) as err:
        sanitize_owner("@@@")
    assert err.value.field == "--owner"


def test_stack_name_shape_and_determinism() -> None:
    name = stack_name("Alice", model="llama-3.1-8b", created_at=NOW)
    assert name == stack_name("alice", model="llama-3.1-8b", created_at=NOW)
    assert name.startswith("eph-alice-") and len(name) == len("eph-alice-") + 6
    assert looks_ephemeral(name)
    assert name != stack_name("alice", model="llama-3.1-8b", created_at=NOW + timedelta(seconds=1))
    assert name != stack_name("alice", model="llama-3.3-70b", created_at=NOW)


@given(st.text(min_size=1, max_size=60), st.text(max_size=40))
def test_every_generated_name_is_valid(owner: str, model: str) -> None:
    try:
        name = stack_name(owner, model=model, created_at=NOW)
    except InputError:
        assert not any(c.isascii() and c.isalnum() for c in owner)
        return
    assert looks_ephemeral(name)
    assert len(name) <= 4 + 20 + 7


@pytest.mark.parametrize(
    "name", ["prod-eu", "dev", "eph-alice", "eph-alice-XYZ123", "eph--abcdef", "eph-alice-abcdef0"]
)
def test_other_names_do_not_look_ephemeral(name: str) -> None:
    assert not looks_ephemeral(name)


def test_cost_estimate_figures() -> None:
    cost = CostEstimate(gpu_hourly_usd=1.90, control_plane_hourly_usd=0.10, ttl=timedelta(hours=4))
    assert cost.hourly_usd == pytest.approx(2.00)
    assert cost.total_for_ttl_usd == pytest.approx(8.00)
    assert cost.floor_for_ttl_usd == pytest.approx(0.40)
    unknown = CostEstimate(gpu_hourly_usd=None, control_plane_hourly_usd=0.10, ttl=timedelta(hours=4))
    assert unknown.hourly_usd is None and unknown.total_for_ttl_usd is None


def test_cost_so_far() -> None:
    assert cost_so_far(2.0, created_at=NOW - timedelta(minutes=90), now=NOW) == pytest.approx(3.0)
    assert cost_so_far(2.0, created_at=NOW + timedelta(hours=1), now=NOW) == 0.0
    assert cost_so_far(None, created_at=NOW, now=NOW) is None
    assert cost_so_far(2.0, created_at=None, now=NOW) is None
    assert format_usd(1234.5) == "$1,234.50" and format_usd(None) == "?"
    assert (format_usd(0.045), format_usd(0.1), format_usd(0.0), format_usd(1.2345)) == (
        "$0.045",
        "$0.10",
        "$0.00",
        "$1.23",
    )


@pytest.mark.parametrize(
    ("span", "text"),
    [
        (timedelta(days=2), "2d"),
        (timedelta(hours=6), "6h"),
        (timedelta(hours=6, minutes=30), "390m"),
        (timedelta(hours=48), "2d"),
        (timedelta(0), "0m"),
    ],
)
def test_single_unit_duration_for_config(span: timedelta, text: str) -> None:
    assert single_unit_duration(span) == text
