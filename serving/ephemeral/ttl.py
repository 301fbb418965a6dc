"""Time-to-live parsing and expiry arithmetic for ephemeral stacks.

A TTL is written as a compact duration (``4h``, ``90m``, ``2d``, ``1h30m``, ``1d12h``), an ISO 8601
duration (``PT4H``, ``P1DT2H``) or an absolute ISO 8601 time with a zone (``2026-11-23T18:00:00Z``,
``2026-11-23T19:00:00+01:00``). Every datetime here is timezone-aware UTC; timestamps are written as
``YYYY-MM-DDTHH:MM:SSZ`` (the form stored in stack tags and ``paddock:ephemeral.expiresAt``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from serving.errors import InputError

MIN_TTL = timedelta(minutes=15)
"""Shortest TTL accepted: an EKS cluster and a GPU node take longer than this to come up."""
MAX_TTL = timedelta(days=14)
"""Longest TTL (from now) accepted: ephemeral stacks are for hours or days, not months."""

_COMPACT = re.compile(r"^(?:(?P<d>\d+)d)?(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?$")
_ISO_DURATION = re.compile(r"^P(?:(?P<d>\d+)D)?(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+)S)?)?$")
_TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


@dataclass(frozen=True)
class TtlSpec:
    """A parsed ``--ttl``: exactly one of ``duration`` (relative) or ``until`` (absolute, UTC)."""

    text: str
    duration: timedelta | None = None
    until: datetime | None = None


def _duration(match: re.Match[str]) -> timedelta:
    parts = {k: int(v) for k, v in match.groupdict().items() if v is not None}
    return timedelta(
        days=parts.get("d", 0), hours=parts.get("h", 0), minutes=parts.get("m", 0), seconds=parts.get("s", 0)
    )


def parse_ttl_spec(text: str, *, field: str = "--ttl") -> TtlSpec:
    """Parse a TTL string into a :class:`TtlSpec`; raise InputError naming ``field`` when it is not one."""
    raw = text.strip()
    compact = _COMPACT.match(raw.lower())
    if raw and compact and any(compact.groupdict().values()):
        return TtlSpec(text=raw, duration=_duration(compact))
    iso = _ISO_DURATION.match(raw.upper())
    if raw.upper() not in ("P", "PT") and iso and any(iso.groupdict().values()):
        return TtlSpec(text=raw, duration=_duration(iso))
    if "T" in raw.upper() and raw[:1].isdigit():
        return TtlSpec(text=raw, until=parse_timestamp(raw, field=field))
    raise InputError(
        f"{text!r} is not a TTL: use a duration like 4h, 90m, 2d, 1h30m (or ISO PT4H) "
        "or an expiry time like 2026-11-23T18:00:00Z",
        field=field,
    )


def parse_timestamp(text: str, *, field: str = "expiresAt") -> datetime:
    """Parse an ISO 8601 time that carries a zone (``Z`` or ``+HH:MM``) into UTC."""
    try:
        value = datetime.fromisoformat(text.strip().replace("z", "Z"))
    except ValueError as exc:
        raise InputError(
            f"{text!r} is not an ISO 8601 time (e.g. 2026-11-23T18:00:00Z)", field=field
        ) from exc
    if value.tzinfo is None:
        raise InputError(f"{text!r} has no time zone: add Z for UTC or an offset like +01:00", field=field)
    return value.astimezone(UTC)


def format_timestamp(value: datetime) -> str:
    """UTC ``YYYY-MM-DDTHH:MM:SSZ`` (seconds precision) of an aware datetime."""
    return value.astimezone(UTC).strftime(_TIMESTAMP_FORMAT)


def format_duration(value: timedelta) -> str:
    """Compact form of a duration, minutes precision: ``4h``, ``1d2h30m``, ``0m``; negative gets ``-``."""
    sign = "-" if value < timedelta(0) else ""
    minutes = int(abs(value).total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    text = "".join(f"{n}{unit}" for n, unit in ((days, "d"), (hours, "h"), (mins, "m")) if n)
    return sign + (text or "0m")


def single_unit_duration(value: timedelta) -> str:
    """One-unit form for config (schema pattern ``\\d+[mhd]``): ``2d``, ``6h`` or ``390m``."""
    minutes = max(int(value.total_seconds() // 60), 0)
    if minutes and minutes % (24 * 60) == 0:
        return f"{minutes // (24 * 60)}d"
    if minutes and minutes % 60 == 0:
        return f"{minutes // 60}h"
    return f"{minutes}m"


def _check_bounds(ttl: timedelta, *, field: str, text: str) -> None:
    if ttl < MIN_TTL:
        raise InputError(
            f"{text!r} is shorter than the minimum TTL {format_duration(MIN_TTL)} "
            "(the stack needs time to come up)",
            field=field,
        )
    if ttl > MAX_TTL:
        raise InputError(
            f"{text!r} is longer than the maximum TTL {format_duration(MAX_TTL)}; "
            "use a long-lived stack instead",
            field=field,
        )


def expiry_for(spec: TtlSpec, *, now: datetime, field: str = "--ttl") -> tuple[datetime, timedelta]:
    """Expiry time and TTL of a new stack created at ``now``; the TTL must lie in [MIN_TTL, MAX_TTL]."""
    if spec.until is not None:
        ttl = spec.until - now
    else:
        assert spec.duration is not None
        ttl = spec.duration
    _check_bounds(ttl, field=field, text=spec.text)
    expires = (now + ttl).replace(microsecond=0)
    return expires, expires - now.replace(microsecond=0)


def extended_expiry(spec: TtlSpec, *, current: datetime, now: datetime, field: str = "--ttl") -> datetime:
    """New expiry after ``extend --ttl``: a duration is added to the current expiry (or to ``now`` when the
    stack has already expired); an absolute time replaces it. The result must be in the future and at most
    MAX_TTL from now."""
    if spec.until is not None:
        new = spec.until
    else:
        assert spec.duration is not None
        if spec.duration <= timedelta(0):
            raise InputError(f"{spec.text!r} must be a positive duration", field=field)
        new = max(current, now) + spec.duration
    if new <= now:
        raise InputError(f"{spec.text!r} is in the past ({format_timestamp(new)})", field=field)
    if new - now > MAX_TTL:
        raise InputError(
            f"{spec.text!r} would expire {format_duration(new - now)} from now, past the maximum "
            f"{format_duration(MAX_TTL)}",
            field=field,
        )
    return new.replace(microsecond=0)
