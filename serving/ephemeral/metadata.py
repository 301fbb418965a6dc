"""What marks a stack as ephemeral, and where it is written.

The source of truth is the stack's **tags** in the state backend (readable by the reaper on any
machine). The same facts go into the ``paddock:ephemeral`` config key (``{owner, expiresAt, ttl}``,
read by the stack program) and into ``paddock:tags`` so every AWS resource carries owner, expiry and
stack name. A stack is ephemeral only when tag ``paddock:ephemeral`` is ``"true"``; when tags are absent
(old DIY backends) the ``paddock:ephemeral`` config key, if readable, is used instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from serving.ephemeral.ttl import format_duration, format_timestamp, parse_timestamp, single_unit_duration
from serving.errors import InputError

TAG_EPHEMERAL = "paddock:ephemeral"
TAG_OWNER = "paddock:owner"
TAG_EXPIRES = "paddock:expires-at"
TAG_CREATED = "paddock:created-at"
TAG_TTL = "paddock:ttl"
TAG_HOURLY = "paddock:hourly-usd"
TAG_MODEL = "paddock:model"
TAG_STACK = "paddock:stack"
TAG_TTL_SCHEDULE = "paddock:ttl-schedule"
CONFIG_KEY = "paddock:ephemeral"
TAGS_CONFIG_KEY = "paddock:tags"


class MetadataError(Exception):
    """A stack marked ephemeral whose metadata cannot be read (the reaper skips it, loudly)."""


@dataclass(frozen=True)
class EphemeralMeta:
    """The facts about one ephemeral stack. Times are aware UTC datetimes."""

    stack: str
    owner: str
    expires_at: datetime
    created_at: datetime | None = None
    ttl: timedelta | None = None
    hourly_cost_usd: float | None = None
    """$/hour while one replica runs (GPU nodes); None when unknown."""
    model: str = ""

    def stack_tags(self) -> dict[str, str]:
        """Stack tags (backend) carrying every fact."""
        tags = {TAG_EPHEMERAL: "true", TAG_OWNER: self.owner, TAG_EXPIRES: format_timestamp(self.expires_at)}
        if self.created_at is not None:
            tags[TAG_CREATED] = format_timestamp(self.created_at)
        if self.ttl is not None:
            tags[TAG_TTL] = format_duration(self.ttl)
        if self.hourly_cost_usd is not None:
            tags[TAG_HOURLY] = f"{self.hourly_cost_usd:.4f}"
        if self.model:
            tags[TAG_MODEL] = self.model
        return tags

    def resource_tags(self) -> dict[str, str]:
        """AWS tags for every resource (merged into ``paddock:tags``)."""
        return {
            TAG_EPHEMERAL: "true",
            TAG_OWNER: self.owner,
            TAG_EXPIRES: format_timestamp(self.expires_at),
            TAG_STACK: self.stack,
        }

    def config_value(self) -> dict[str, str]:
        """Value of the ``paddock:ephemeral`` config key (schema: owner, expiresAt, ttl)."""
        value = {"owner": self.owner, "expiresAt": format_timestamp(self.expires_at)}
        if self.ttl is not None:
            value["ttl"] = single_unit_duration(self.ttl)
        return value


def _time(value: Any, key: str) -> datetime:
    try:
        return parse_timestamp(str(value), field=key)
    except InputError as exc:
        raise MetadataError(str(exc)) from exc


def _from_tags(name: str, tags: Mapping[str, str]) -> EphemeralMeta:
    if TAG_EXPIRES not in tags or not tags.get(TAG_OWNER):
        raise MetadataError(f"tagged {TAG_EPHEMERAL}=true but {TAG_OWNER}/{TAG_EXPIRES} tags are missing")
    created = _time(tags[TAG_CREATED], TAG_CREATED) if TAG_CREATED in tags else None
    hourly: float | None = None
    if TAG_HOURLY in tags:
        try:
            hourly = float(tags[TAG_HOURLY])
        except ValueError as exc:
            raise MetadataError(f"{TAG_HOURLY}: {tags[TAG_HOURLY]!r} is not a number") from exc
    expires = _time(tags[TAG_EXPIRES], TAG_EXPIRES)
    return EphemeralMeta(
        stack=name,
        owner=tags[TAG_OWNER],
        expires_at=expires,
        created_at=created,
        ttl=(expires - created) if created else None,
        hourly_cost_usd=hourly,
        model=tags.get(TAG_MODEL, ""),
    )


def _from_config(name: str, value: Any) -> EphemeralMeta:
    if not isinstance(value, Mapping) or not value.get("owner") or "expiresAt" not in value:
        raise MetadataError(f"config {CONFIG_KEY} must be a mapping with owner and expiresAt")
    return EphemeralMeta(
        stack=name, owner=str(value["owner"]), expires_at=_time(value["expiresAt"], f"{CONFIG_KEY}.expiresAt")
    )


def read_meta(
    name: str, tags: Mapping[str, str], config: Mapping[str, Any] | None, *, allow_config: bool = True
) -> EphemeralMeta | None:
    """The stack's ephemeral facts; None when the stack is not ephemeral.

    ``allow_config=False`` (the reaper) trusts only the backend's tags, never a config file.
    Raises :class:`MetadataError` when the stack is marked ephemeral but its facts are unreadable.
    """
    marker = tags.get(TAG_EPHEMERAL)
    if marker is not None:
        if marker.strip().lower() != "true":
            return None
        return _from_tags(name, tags)
    if allow_config and config is not None and CONFIG_KEY in config:
        return _from_config(name, config[CONFIG_KEY])
    return None
