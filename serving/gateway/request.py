"""Parse and validate an OpenAI chat-completions request body (types only; the engine judges semantics).

Validation is strict on the fields the gateway or the Bedrock translation reads, so bad input is a 400
here, never a 5xx later. Unknown extra fields pass through to the primary; the gateway's own routing never
reads client fields such as ``fallbacks``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from serving.gateway.errors import InvalidRequest

ROLES = frozenset({"system", "developer", "user", "assistant", "tool"})
#: Client fields that only mean something to other gateways; stripped before the body goes upstream.
STRIPPED_FIELDS = frozenset(
    {
        "fallbacks",
        "context_window_fallbacks",
        "content_policy_fallbacks",
        "disable_fallbacks",
        "mock_testing_fallbacks",
    }
)


@dataclass(frozen=True, kw_only=True)
class ChatRequest:
    """A validated request. ``body`` is the client's JSON object (not mutated)."""

    body: dict[str, Any]
    alias: str
    stream: bool
    include_usage: bool
    max_tokens: int | None
    """``max_completion_tokens`` or ``max_tokens`` (tokens), whichever is set."""

    def upstream_body(self, model: str) -> bytes:
        """The body for the primary: model replaced by the served name, routing fields dropped."""
        out = {k: v for k, v in self.body.items() if k not in STRIPPED_FIELDS}
        out["model"] = model
        return json.dumps(out, separators=(",", ":")).encode()


def _check(cond: bool, msg: str, param: str) -> None:
    if not cond:
        raise InvalidRequest(msg, field=param)


def _is_num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _check_message(i: int, m: Any) -> None:
    p = f"messages[{i}]"
    _check(isinstance(m, dict), f"{p} must be an object", p)
    role = m.get("role")
    _check(role in ROLES, f"{p}.role must be one of {sorted(ROLES)}, got {role!r}", f"{p}.role")
    content = m.get("content")
    ok = (
        content is None
        or isinstance(content, str)
        or (
            isinstance(content, list)
            and all(isinstance(c, dict) and isinstance(c.get("type"), str) for c in content)
        )
    )
    _check(ok, f"{p}.content must be a string or a list of typed parts", f"{p}.content")
    if role == "tool":
        _check(
            isinstance(m.get("tool_call_id"), str), f"{p}.tool_call_id must be a string", f"{p}.tool_call_id"
        )
    calls = m.get("tool_calls")
    if calls is not None:
        _check(isinstance(calls, list), f"{p}.tool_calls must be a list", f"{p}.tool_calls")
        for j, c in enumerate(calls):
            fn = c.get("function") if isinstance(c, dict) else None
            ok = isinstance(c, dict) and isinstance(c.get("id"), str) and isinstance(fn, dict)
            ok = ok and isinstance(fn.get("name"), str) and isinstance(fn.get("arguments", ""), str)  # type: ignore[union-attr]
            _check(
                ok,
                f"{p}.tool_calls[{j}] needs id, function.name and function.arguments",
                f"{p}.tool_calls[{j}]",
            )


def _check_options(b: dict[str, Any]) -> None:
    for key in ("temperature", "top_p", "presence_penalty", "frequency_penalty"):
        if b.get(key) is not None:
            _check(_is_num(b[key]), f"{key} must be a number", key)
    for key in ("max_tokens", "max_completion_tokens", "n", "seed"):
        if b.get(key) is not None:
            _check(
                _is_int(b[key]) and (key == "seed" or b[key] >= 1), f"{key} must be a positive integer", key
            )
    stop = b.get("stop")
    ok = (
        stop is None
        or isinstance(stop, str)
        or (isinstance(stop, list) and all(isinstance(s, str) for s in stop))
    )
    _check(ok, "stop must be a string or a list of strings", "stop")
    _check(isinstance(b.get("stream", False), bool | None), "stream must be a boolean", "stream")
    so = b.get("stream_options")
    _check(so is None or isinstance(so, dict), "stream_options must be an object", "stream_options")
    tools = b.get("tools")
    if tools is not None:
        _check(isinstance(tools, list), "tools must be a list", "tools")
        for i, t in enumerate(tools):
            fn = t.get("function") if isinstance(t, dict) else None
            ok = isinstance(fn, dict) and isinstance(fn.get("name"), str)
            ok = ok and isinstance(fn.get("parameters", {}), dict)  # type: ignore[union-attr]
            _check(
                ok, f"tools[{i}] must be {{type: function, function: {{name, parameters}}}}", f"tools[{i}]"
            )
    tc = b.get("tool_choice")
    _check(
        tc is None or isinstance(tc, str | dict), "tool_choice must be a string or an object", "tool_choice"
    )
    rf = b.get("response_format")
    ok = rf is None or (isinstance(rf, dict) and rf.get("type") in ("text", "json_object", "json_schema"))
    _check(ok, "response_format.type must be text, json_object or json_schema", "response_format")


def parse_chat_request(raw: bytes) -> ChatRequest:
    """Decode and validate a body; raise :class:`InvalidRequest` (400) naming the parameter at fault."""
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidRequest(f"request body is not valid JSON: {exc}", field="body") from None
    except RecursionError:
        raise InvalidRequest("request body is nested too deeply", field="body") from None
    _check(isinstance(body, dict), "request body must be a JSON object", "body")
    model = body.get("model")
    _check(isinstance(model, str) and bool(model), "model must be a non-empty string", "model")
    messages = body.get("messages")
    _check(isinstance(messages, list) and bool(messages), "messages must be a non-empty list", "messages")
    for i, m in enumerate(messages):
        _check_message(i, m)
    _check_options(body)
    so = body.get("stream_options") or {}
    max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
    return ChatRequest(
        body=body,
        alias=model,
        stream=bool(body.get("stream")),
        include_usage=bool(so.get("include_usage")),
        max_tokens=max_tokens,
    )
