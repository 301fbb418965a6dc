"""Stack names for ephemeral stacks: ``eph-<owner>-<hash6>``.

Pulumi stack names allow letters, digits, ``-``, ``_`` and ``.``; we keep to lowercase letters, digits and
``-`` so the name is also valid in AWS resource names and Kubernetes labels. The hash is the first six hex
digits of SHA-256 over the owner, the model and the creation time, so two stacks of one owner differ.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime

from serving.errors import InputError

PREFIX = "eph"
"""Every ephemeral stack name starts with ``eph-`` (the reaper still decides on tags, never on names)."""
OWNER_MAX = 20
"""Longest owner part kept in a stack name (characters)."""
_NAME = re.compile(r"^eph-[a-z0-9](?:[a-z0-9-]*[a-z0-9])?-[0-9a-f]{6}$")


def sanitize_owner(owner: str, *, field: str = "--owner") -> str:
    """Lowercase ``owner`` and keep ``[a-z0-9-]`` (other runs become ``-``), trimmed to OWNER_MAX.

    ``Alice.Smith@corp`` -> ``alice-smith-corp``. Raises InputError when nothing usable remains.
    """
    cleaned = re.sub(r"[^a-z0-9]+", "-", owner.strip().lower()).strip("-")
    cleaned = cleaned[:OWNER_MAX].rstrip("-")
    if not cleaned:
        raise InputError(
            f"{owner!r} has no letters or digits to name a stack after; pass --owner <name>", field=field
        )
    return cleaned


def short_hash(*parts: str) -> str:
    """First six hex digits of SHA-256 over ``parts`` joined by NUL."""
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:6]


def stack_name(owner: str, *, model: str, created_at: datetime, salt: str = "") -> str:
    """``eph-<sanitized owner>-<hash6>`` for a stack of ``owner`` serving ``model``, created at
    ``created_at``."""
    clean = sanitize_owner(owner)
    return f"{PREFIX}-{clean}-{short_hash(clean, model, created_at.isoformat(), salt)}"


def looks_ephemeral(name: str) -> bool:
    """True when ``name`` has the shape :func:`stack_name` produces (a hint for listings, not a licence)."""
    return bool(_NAME.match(name))
