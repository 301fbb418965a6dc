"""API keys: loaded once from an env var or a mounted Secret file, kept only as SHA-256 digests.

A presented key is hashed and compared with every stored digest using ``hmac.compare_digest`` (no early exit),
so neither the keys nor their count leak through timing.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from pathlib import Path

from serving.gateway.config import ApiKeySource
from serving.gateway.errors import AuthenticationFailed, RoutesConfigError


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


class ApiKeys:
    """The set of accepted keys, as digests. ``None`` source = authentication off."""

    def __init__(self, digests: list[bytes] | None) -> None:
        self._digests = digests

    @classmethod
    def load(cls, source: ApiKeySource | None, environ: dict[str, str] | None = None) -> ApiKeys:
        if source is None:
            return cls(None)
        env = os.environ if environ is None else environ
        if source.env is not None:
            raw = env.get(source.env)
            if raw is None:
                raise RoutesConfigError(f"environment variable {source.env} is not set", field="apiKeys.env")
        else:
            try:
                raw = Path(str(source.file)).read_text()
            except OSError as exc:
                raise RoutesConfigError(
                    f"cannot read {source.file}: {exc.strerror}", field="apiKeys.file"
                ) from None
        keys = [k for k in re.split(r"[,\s]+", raw) if k]
        if not keys:
            raise RoutesConfigError("no API keys found", field="apiKeys")
        return cls([_digest(k) for k in keys])

    @property
    def enabled(self) -> bool:
        return self._digests is not None

    def check(self, authorization: str | None) -> None:
        """Raise :class:`AuthenticationFailed` unless ``Authorization: Bearer <key>`` holds a known key."""
        if self._digests is None:
            return
        scheme, _, key = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise AuthenticationFailed("missing API key: send Authorization: Bearer <key>")
        presented = _digest(key.strip())
        ok = False
        for d in self._digests:
            ok |= hmac.compare_digest(presented, d)
        if not ok:
            raise AuthenticationFailed("invalid API key")
