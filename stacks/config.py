"""Read the stack's Pulumi config into the raw mapping and parse it with serving.stack_config.

The only reader of ``pulumi.Config``. Structured keys (``paddock:models``...) arrive from the engine as JSON
strings; scalar keys (``aws:region``, ``paddock:environment``, ``paddock:namespace``) as plain strings. Any
problem becomes one ``pulumi.RunError`` listing every bad key (Pulumi prints it without a traceback).
"""

from __future__ import annotations

import json
from typing import Any

import pulumi

from serving.errors import InputError
from serving.stack_config import PADDOCK_KEYS, StackConfig, parse_stack_config

SCALAR_KEYS = ("aws:region", "paddock:environment", "paddock:namespace")
CONFIG_KEYS = ("aws:region", *(f"paddock:{key}" for key in PADDOCK_KEYS))


def raw_config() -> dict[str, Any]:
    """The stack's config as the mapping :func:`serving.stack_config.parse_stack_config` takes."""
    raw: dict[str, Any] = {}
    for key in CONFIG_KEYS:
        namespace, name = key.split(":", 1)
        value = pulumi.Config(namespace).get(name)
        if value is None:
            continue
        if key in SCALAR_KEYS:
            raw[key] = value
            continue
        try:
            raw[key] = json.loads(value)
        except json.JSONDecodeError:
            raw[key] = value  # the parser reports "expected a mapping/list" with the key
    return raw


def load() -> StackConfig:
    """Parse the current stack's config; raise ``pulumi.RunError`` naming every bad key."""
    try:
        return parse_stack_config(raw_config(), stack=pulumi.get_stack())
    except InputError as exc:
        raise pulumi.RunError(str(exc)) from None


def to_pulumi_config(raw: dict[str, Any]) -> dict[str, str]:
    """Inverse of :func:`raw_config`: a stack file's ``config:`` mapping as the engine passes it (values are
    strings; structured ones JSON). Used by the offline runner."""
    return {key: value if isinstance(value, str) else json.dumps(value) for key, value in raw.items()}
