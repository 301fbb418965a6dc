"""Read the stack's Pulumi config into the raw mapping and parse it with serving.stack_config.

The only reader of ``pulumi.Config``. Structured keys (``paddock:models``...) arrive from the engine as JSON
strings; scalar keys (``aws:region``, ``paddock:environment``, ``paddock:namespace``) as plain strings. Every
``paddock:*`` key the engine passes is read (not only the known ones), so ``pulumi up`` rejects a typo such as
``paddock:monitorng`` exactly as ``paddock plan`` does: one parser, one list of known keys. Any problem
becomes one ``pulumi.RunError`` listing every bad key (Pulumi prints it without a traceback).
"""

from __future__ import annotations

import json
from typing import Any

import pulumi
from pulumi.runtime import config as runtime_config

from serving.errors import InputError
from serving.stack_config import PADDOCK_KEYS, StackConfig, parse_stack_config

SCALAR_KEYS = ("aws:region", "paddock:environment", "paddock:namespace")
CONFIG_KEYS = ("aws:region", *(f"paddock:{key}" for key in PADDOCK_KEYS))
NAMESPACE = "paddock"


def _plain_key(key: str) -> str:
    """``paddock:config:models`` (the engine's older spelling) -> ``paddock:models``."""
    namespace, _, name = key.partition(":")
    return f"{namespace}:{name.removeprefix('config:')}"


def _present() -> dict[str, str]:
    """Plain key -> the key as the engine spelled it, for every config key of the running stack: those set
    in this process (the language host, or ``set_all_config`` under mocks) and those in the
    ``PULUMI_CONFIG`` environment bag the CLI passes."""
    found = {_plain_key(k): k for k in runtime_config.get_config_env()}
    found.update({_plain_key(k): k for k in runtime_config.CONFIG.get()})
    return found


def stack_config_keys() -> list[str]:
    """Every config key of the running stack (``paddock:models``, ``aws:region``...), sorted."""
    return sorted(_present())


def raw_config() -> dict[str, Any]:
    """The stack's config as the mapping :func:`serving.stack_config.parse_stack_config` takes: ``aws:region``
    and EVERY ``paddock:*`` key present (unknown ones included, so the parser reports them)."""
    present = _present()
    wanted = [*CONFIG_KEYS, *(k for k in sorted(present) if k.startswith(f"{NAMESPACE}:"))]
    raw: dict[str, Any] = {}
    for key in dict.fromkeys(wanted):
        value = runtime_config.get_config(present.get(key, key))
        if value is None:
            continue
        if key in SCALAR_KEYS:
            raw[key] = value
            continue
        try:
            raw[key] = json.loads(value)
        except json.JSONDecodeError:
            raw[key] = value  # the parser reports "expected a mapping/list" (or "unknown key") with the key
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
