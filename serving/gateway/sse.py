"""Server-sent events: split an upstream byte stream into events, check them, and encode our own.

Every event the gateway forwards is one ``data: <json>`` or ``data: [DONE]`` event, so a client never sees
half an event or a malformed one: a malformed upstream event becomes our single error event instead.

This is the streaming hot path (once per upstream read), so :class:`EventSplitter` is a plain synchronous
object fed each read as it comes (no generator layers), and the common read (whole ``data: {...}`` events,
LF line ends, nothing left over) is split with one ``split`` call.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from serving.gateway.errors import UpstreamProtocolError

DONE_PAYLOAD = b"[DONE]"
DONE = b"data: [DONE]\n\n"
MAX_EVENT_BYTES = 1_048_576
_DECODER = json.JSONDecoder()
_DECODE = _DECODER.decode
#: the C scanner under ``json.loads``: one value from an index, (value, end); StopIteration when none starts
_SCAN: Callable[[str, int], tuple[Any, int]] = _DECODER.scan_once  # type: ignore[attr-defined]


def encode(obj: dict[str, Any]) -> bytes:
    """One SSE event carrying ``obj`` as compact JSON."""
    return b"data: " + json.dumps(obj, separators=(",", ":")).encode() + b"\n\n"


def error_event(
    message: str, *, error_type: str = "upstream_error", code: str = "stream_interrupted"
) -> bytes:
    """The single error event that ends an interrupted stream (OpenAI error shape)."""
    return encode({"error": {"message": message, "type": error_type, "param": None, "code": code}})


def _data_of(raw: bytes) -> bytes | None:
    """The joined ``data`` lines of one raw event (no blank line inside); None when it has none."""
    if raw.startswith(b"data:") and b"\n" not in raw:
        return raw[5:].lstrip(b" ")
    data = [line[5:].lstrip(b" ") for line in raw.split(b"\n") if line.startswith(b"data:")]
    return b"\n".join(data) if data else None


class EventSplitter:
    """Incremental SSE event splitter: :meth:`feed` each upstream read, get the ``data`` payloads of the
    events it completed (an event may span any number of reads; one read may hold many events).

    Comments and ``event:``/``id:`` lines are dropped; CRLF line ends are accepted, also when a CR and its
    LF arrive in different reads. An event over :data:`MAX_EVENT_BYTES` is a protocol error."""

    __slots__ = ("_buf",)

    def __init__(self) -> None:
        self._buf = b""

    def feed(self, chunk: bytes) -> list[bytes]:
        """The payloads of the events completed by ``chunk``, in order (often empty)."""
        buf = self._buf + chunk if self._buf else chunk
        if b"\r" in buf:
            buf = buf.replace(b"\r\n", b"\n")
        end = buf.rfind(b"\n\n")
        if end < 0:
            self._keep(buf)
            return []
        self._keep(buf[end + 2 :])
        out = []
        for raw in buf[:end].split(b"\n\n"):
            data = _data_of(raw)
            if data is not None:
                out.append(data)
        return out

    def _keep(self, rest: bytes) -> None:
        # a trailing lone CR may be the first half of a CRLF: it stays in the buffer either way
        if len(rest) > MAX_EVENT_BYTES:
            raise UpstreamProtocolError("upstream SSE event exceeds 1 MiB", reason="malformed_stream")
        self._buf = rest

    def close(self) -> None:
        """The body ended: raise if it ended inside an event."""
        if self._buf.strip():
            raise UpstreamProtocolError("upstream stream ended inside an event", reason="malformed_stream")


def check_payload(payload: bytes) -> dict[str, Any] | None:
    """Parse one event payload: a chunk dict, or None for ``[DONE]``; malformed -> UpstreamProtocolError.

    Accepts exactly what ``json.loads`` accepts. The common payload (a JSON value from its first character
    to its last) is parsed by the C scanner directly, without ``json.loads``'s Python layers; anything
    else (surrounding whitespace, junk, invalid JSON) takes the full ``json`` path."""
    if payload == DONE_PAYLOAD:
        return None
    try:
        text = payload.decode()
        try:
            obj, end = _SCAN(text, 0)
        except StopIteration:
            end = -1
        if end != len(text):
            obj = _DECODE(text)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise UpstreamProtocolError(
            "upstream sent a malformed SSE event", reason="malformed_stream"
        ) from None
    if not isinstance(obj, dict):
        raise UpstreamProtocolError("upstream SSE event is not a JSON object", reason="malformed_stream")
    return obj
