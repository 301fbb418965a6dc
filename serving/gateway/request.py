"""Parse and validate an OpenAI chat-completions request body (types and documented ranges).

Validation is strict on the fields the gateway or the Bedrock translation reads, so bad input is a 400
here, never a 5xx later: any JSON value is either a :class:`ChatRequest` or an :class:`InvalidRequest`
(property-tested over arbitrary JSON). ``NaN``/``Infinity`` (and numbers that overflow to them, ``1e400``)
and integers too long for Python's int parser are 400s; lone UTF-16 surrogates in strings are accepted and
forwarded as JSON escapes. Ranges are OpenAI's: temperature 0-2, top_p 0-1, penalties -2..2; token counts and
``n`` at most 2**31-1. Unknown extra fields pass through to the primary; the gateway's own routing never
reads client fields such as ``fallbacks``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from serving.gateway.errors import InvalidRequest

ROLES = frozenset({"system", "developer", "user", "assistant", "tool"})
TOOL_CHOICES = ("none", "auto", "required")
MAX_INT = 2**31 - 1
#: (low, high) of each numeric sampling option, OpenAI's documented ranges
RANGES = {
    "temperature": (0.0, 2.0),
    "top_p": (0.0, 1.0),
    "presence_penalty": (-2.0, 2.0),
    "frequency_penalty": (-2.0, 2.0),
}
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
    ok = isinstance(role, str) and role in ROLES
    _check(ok, f"{p}.role must be one of {sorted(ROLES)}, got {_kind(role)}", f"{p}.role")
    content = m.get("content")
    ok = content is None or isinstance(content, str) or isinstance(content, list)
    _check(ok, f"{p}.content must be a string or a list of typed parts", f"{p}.content")
    for j, part in enumerate(content if isinstance(content, list) else ()):
        _check_part(part, f"{p}.content[{j}]")
    name = m.get("name")
    _check(name is None or isinstance(name, str), f"{p}.name must be a string", f"{p}.name")
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


def _kind(v: Any) -> str:
    """A short, safe description of a client value for an error message (never a deep repr)."""
    if isinstance(v, str):
        return repr(v[:40])
    if v is None or isinstance(v, bool):
        return repr(v)
    return f"a {type(v).__name__}"


def _check_part(part: Any, p: str) -> None:
    kind = part.get("type") if isinstance(part, dict) else None
    _check(isinstance(kind, str), f"{p} must be an object with a string type", p)
    if kind == "text":
        _check(isinstance(part.get("text"), str), f"{p}.text must be a string", f"{p}.text")
    elif kind == "image_url":
        image = part.get("image_url")
        ok = isinstance(image, dict) and isinstance(image.get("url"), str)
        _check(ok, f"{p}.image_url must be an object with a string url", f"{p}.image_url")


def _check_tool(i: int, t: Any) -> None:
    fn = t.get("function") if isinstance(t, dict) else None
    ok = isinstance(fn, dict) and isinstance(fn.get("name"), str) and bool(fn.get("name"))
    ok = ok and isinstance(fn.get("parameters", {}), dict)  # type: ignore[union-attr]
    ok = ok and isinstance(fn.get("description", ""), str | None)  # type: ignore[union-attr]
    _check(ok, f"tools[{i}] must be {{type: function, function: {{name, parameters}}}}", f"tools[{i}]")


def _check_tool_choice(tc: Any) -> None:
    if tc is None or (isinstance(tc, str) and tc in TOOL_CHOICES):
        return
    fn = tc.get("function") if isinstance(tc, dict) else None
    ok = isinstance(fn, dict) and isinstance(fn.get("name"), str) and bool(fn.get("name"))
    _check(
        ok,
        'tool_choice must be "none", "auto", "required" or {type: function, function: {name}}',
        "tool_choice",
    )


def _check_response_format(rf: Any) -> None:
    ok = rf is None or (isinstance(rf, dict) and rf.get("type") in ("text", "json_object", "json_schema"))
    _check(ok, "response_format.type must be text, json_object or json_schema", "response_format")
    if isinstance(rf, dict) and rf.get("type") == "json_schema":
        js = rf.get("json_schema")
        ok = isinstance(js, dict) and isinstance(js.get("schema", {}), dict)
        _check(ok, "response_format.json_schema must be an object with an object schema", "response_format")


def _check_options(b: dict[str, Any]) -> None:
    for key, (low, high) in RANGES.items():
        if b.get(key) is not None:
            v = b[key]
            _check(_is_num(v) and low <= v <= high, f"{key} must be a number from {low} to {high}", key)
    for key in ("max_tokens", "max_completion_tokens", "n"):
        if b.get(key) is not None:
            v = b[key]
            _check(_is_int(v) and 1 <= v <= MAX_INT, f"{key} must be an integer from 1 to {MAX_INT}", key)
    seed = b.get("seed")
    _check(seed is None or (_is_int(seed) and -(2**63) <= seed < 2**63), "seed must be an int64", "seed")
    stop = b.get("stop")
    ok = (
        stop is None
        or isinstance(stop, str)
        or (isinstance(stop, list) and all(isinstance(s, str) for s in stop))
    )
    _check(ok, "stop must be a string or a list of strings", "stop")
    _check(isinstance(b.get("stream", False), bool | None), "stream must be a boolean", "stream")
    so = b.get("stream_options")
    ok = so is None or (isinstance(so, dict) and isinstance(so.get("include_usage", False), bool | None))
    _check(ok, "stream_options must be an object; include_usage a boolean", "stream_options")
    tools = b.get("tools")
    if tools is not None:
        _check(isinstance(tools, list), "tools must be a list", "tools")
        for i, t in enumerate(tools):
            _check_tool(i, t)
    _check_tool_choice(b.get("tool_choice"))
    _check_response_format(b.get("response_format"))


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:40]} overflows a double")
    return value


def strict_loads(raw: str | bytes) -> Any:
    """``json.loads`` that refuses NaN/Infinity and numbers overflowing a double (ValueError)."""
    return json.loads(raw, parse_constant=_no_constant, parse_float=_finite_float)


def parse_chat_request(raw: bytes) -> ChatRequest:
    """Decode and validate a body; raise :class:`InvalidRequest` (400) naming the parameter at fault."""
    try:
        body = strict_loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidRequest(f"request body is not valid JSON: {exc}", field="body") from None
    except RecursionError:
        raise InvalidRequest("request body is nested too deeply", field="body") from None
    except ValueError as exc:  # NaN/Infinity, overflowing floats, ints over Python's digit limit
        raise InvalidRequest(
            f"request body has a number JSON cannot carry: {exc}"[:300], field="body"
        ) from None
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
