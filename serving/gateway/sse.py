"""Server-sent events: split an upstream byte stream into events, check them, and encode our own.

Every event the gateway forwards is one ``data: <json>`` or ``data: [DONE]`` event, so a client never sees
half an event or a malformed one: a malformed upstream event becomes our single error event instead.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from serving.gateway.errors import UpstreamProtocolError

DONE = b"data: [DONE]\n\n"
MAX_EVENT_BYTES = 1_048_576


def encode(obj: dict[str, Any]) -> bytes:
    """One SSE event carrying ``obj`` as compact JSON."""
    return b"data: " + json.dumps(obj, separators=(",", ":")).encode() + b"\n\n"


def error_event(
    message: str, *, error_type: str = "upstream_error", code: str = "stream_interrupted"
) -> bytes:
    """The single error event that ends an interrupted stream (OpenAI error shape)."""
    return encode({"error": {"message": message, "type": error_type, "param": None, "code": code}})


async def split_events(chunks: AsyncIterator[bytes]) -> AsyncIterator[list[bytes]]:
    """Yield, per upstream read, the ``data`` payloads of the events it completed (never an empty list).

    Batching per read keeps "forward as they arrive" while sending one write downstream for what one read
    brought in. Comments and ``event:``/``id:`` lines are dropped.
    """
    buf = b""
    async for chunk in chunks:
        buf += chunk.replace(b"\r\n", b"\n") if b"\r" in chunk else chunk
        batch: list[bytes] = []
        while True:
            end = buf.find(b"\n\n")
            if end < 0:
                break
            raw, buf = buf[:end], buf[end + 2 :]
            data = [line[5:].lstrip(b" ") for line in raw.split(b"\n") if line.startswith(b"data:")]
            if data:
                batch.append(b"\n".join(data))
        if batch:
            yield batch
        if len(buf) > MAX_EVENT_BYTES:
            raise UpstreamProtocolError("upstream SSE event exceeds 1 MiB", reason="malformed_stream")
    if buf.strip():
        raise UpstreamProtocolError("upstream stream ended inside an event", reason="malformed_stream")


def check_payload(payload: bytes) -> dict[str, Any] | None:
    """Parse one event payload: a chunk dict, or None for ``[DONE]``; malformed -> UpstreamProtocolError."""
    if payload == b"[DONE]":
        return None
    try:
        obj = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise UpstreamProtocolError(
            "upstream sent a malformed SSE event", reason="malformed_stream"
        ) from None
    if not isinstance(obj, dict):
        raise UpstreamProtocolError("upstream SSE event is not a JSON object", reason="malformed_stream")
    return obj
