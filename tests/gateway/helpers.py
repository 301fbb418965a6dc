"""Small helpers shared by gateway tests: raw SSE collection and request bodies."""

from __future__ import annotations

import json
from typing import Any

import httpx


def body(alias: str, text: str = "hello", *, stream: bool = False, **extra: Any) -> dict[str, Any]:
    return {"model": alias, "messages": [{"role": "user", "content": text}], "stream": stream, **extra}


def sse_events(resp: httpx.Response) -> list[Any]:
    """The ``data`` payloads of a finished SSE body: dicts, or the string ``[DONE]``."""
    out: list[Any] = []
    for raw in resp.text.split("\n\n"):
        if not raw.strip():
            continue
        assert raw.startswith("data: "), raw
        payload = raw[6:]
        out.append(payload if payload == "[DONE]" else json.loads(payload))
    return out


def stream_text(events: list[Any]) -> str:
    return "".join(
        (e["choices"][0]["delta"].get("content") or "")
        for e in events
        if isinstance(e, dict) and e.get("choices")
    )


def errors_in(events: list[Any]) -> list[dict[str, Any]]:
    return [e for e in events if isinstance(e, dict) and "error" in e]
