"""OpenAI chat completions <-> Bedrock Converse, pure functions (no I/O).

Requests: system/developer messages -> ``system`` (blank ones dropped: Converse rejects blank text);
user/assistant turns -> ``messages`` (same-role turns merged, blank text parts dropped, tool results become a
user turn of ``toolResult`` blocks); tools -> ``toolConfig``; ``response_format`` JSON -> a forced
``json_response`` tool whose input becomes the answer's content. Decisions where the two APIs differ:

- ``tool_choice: "none"`` (or no tools): Converse has only ``auto``/``any``/``tool``. Without tool blocks in
  the history the tools are not sent at all (Claude cannot call what it is not given). With them, Converse
  requires a ``toolConfig``, so the tools (or placeholders named after the history's calls) are sent with an
  instruction not to call them, and any tool call Claude makes anyway is dropped from the answer
  (``finish_reason`` ``stop``): the client never gets a call it forbade.
- ``temperature``: OpenAI's range is 0-2, Claude's 0-1 with the same default (1); values above 1 are sent
  as 1. Claude 4.x rejects ``temperature`` and ``top_p`` together, so ``top_p`` is sent only alone.
- ``response_format`` JSON together with callable tools is a 400 (``response_format``): one forced JSON tool
  and client tools cannot both be honoured.
- ``model`` in answers is the model that produced them: here the Bedrock model id (the primary's answers
  carry the engine's served name, forwarded untouched).
- ``model_context_window_exceeded`` -> ``length``.

Responses and stream events map back to ``chat.completion`` / ``chat.completion.chunk`` objects.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

from serving.gateway.errors import InvalidRequest
from serving.gateway.request import ChatRequest, strict_loads

JSON_TOOL = "json_response"
NO_TOOLS_NOTE = "Tools are unavailable for this answer: reply with text only and call no tool."
STOP_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "guardrail_intervened": "content_filter",
    "content_filtered": "content_filter",
}
IMAGE_FORMATS = {"image/png": "png", "image/jpeg": "jpeg", "image/gif": "gif", "image/webp": "webp"}
#: Claude's temperature ceiling (OpenAI allows up to 2)
CLAUDE_MAX_TEMPERATURE = 1.0


@dataclass(frozen=True)
class AnswerMode:
    """How Bedrock's answer maps back: ``json`` (the forced JSON tool's input is the content) and
    ``no_tools`` (tool_choice "none": tool calls are dropped)."""

    json: bool = False
    no_tools: bool = False


def _text_of(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "".join(p["text"] for p in content if p.get("type") == "text")


def _image_block(part: dict[str, Any], where: str) -> dict[str, Any]:
    url = part["image_url"]["url"]
    head, _, data = url.partition(",")
    mime = head.removeprefix("data:").removesuffix(";base64")
    if not url.startswith("data:") or mime not in IMAGE_FORMATS:
        raise InvalidRequest(
            "the Bedrock fallback accepts only base64 data: URLs of png/jpeg/gif/webp images", field=where
        )
    try:
        raw = base64.b64decode(data, validate=True)
    except ValueError:
        raise InvalidRequest("image data is not valid base64", field=where) from None
    return {"image": {"format": IMAGE_FORMATS[mime], "source": {"bytes": raw}}}


def _content_blocks(content: Any, where: str) -> list[dict[str, Any]]:
    if content is None or (isinstance(content, str) and not content.strip()):
        return []
    if isinstance(content, str):
        return [{"text": content}]
    blocks: list[dict[str, Any]] = []
    for i, part in enumerate(content):
        if part["type"] == "text":
            if part["text"].strip():
                blocks.append({"text": part["text"]})
        elif part["type"] == "image_url":
            blocks.append(_image_block(part, f"{where}[{i}]"))
        else:
            raise InvalidRequest(
                f"content part type {part['type'][:40]!r} is not supported by the fallback",
                field=f"{where}[{i}]",
            )
    return blocks


def _tool_use(call: dict[str, Any], where: str) -> dict[str, Any]:
    fn = call["function"]
    try:
        args = strict_loads(fn.get("arguments") or "{}")
    except (ValueError, RecursionError):
        raise InvalidRequest("tool call arguments are not valid JSON", field=where) from None
    if not isinstance(args, dict):
        raise InvalidRequest("tool call arguments must be a JSON object", field=where)
    return {"toolUse": {"toolUseId": call["id"], "name": fn["name"], "input": args}}


def _messages(req: ChatRequest) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    system: list[dict[str, Any]] = []
    turns: list[dict[str, Any]] = []
    for i, m in enumerate(req.body["messages"]):
        where = f"messages[{i}]"
        role = m["role"]
        if role in ("system", "developer"):
            text = _text_of(m.get("content"))
            if text.strip():
                system.append({"text": text})
            continue
        if role == "tool":
            text = _text_of(m.get("content"))
            result = {"toolUseId": m["tool_call_id"], "content": [{"text": text}] if text else []}
            blocks, role = [{"toolResult": result}], "user"
        else:
            blocks = _content_blocks(m.get("content"), f"{where}.content")
            for j, call in enumerate(m.get("tool_calls") or []):
                blocks.append(_tool_use(call, f"{where}.tool_calls[{j}]"))
        if not blocks:
            continue
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    if not turns or turns[0]["role"] != "user":
        raise InvalidRequest(
            "the conversation must start with a user message for the fallback", field="messages"
        )
    return system, turns


def _has_tool_blocks(turns: list[dict[str, Any]]) -> bool:
    return any("toolUse" in b or "toolResult" in b for t in turns for b in t["content"])


def _tool_specs(req: ChatRequest) -> list[dict[str, Any]]:
    return [
        {
            "toolSpec": {
                "name": t["function"]["name"],
                "description": t["function"].get("description") or t["function"]["name"],
                "inputSchema": {"json": t["function"].get("parameters") or {"type": "object"}},
            }
        }
        for t in req.body.get("tools") or []
    ]


def _json_spec(req: ChatRequest) -> dict[str, Any]:
    rf = req.body["response_format"]
    schema = (rf.get("json_schema") or {}).get("schema") or {"type": "object"}
    spec = {
        "name": JSON_TOOL,
        "description": "Return the answer as this JSON object.",
        "inputSchema": {"json": schema},
    }
    return {"toolSpec": spec}


def _history_specs(turns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Tool specs named after the history's tool calls: Converse needs a toolConfig whenever the history
    holds tool blocks, even when the request lists no tools (nothing may be called then)."""
    names = {b["toolUse"]["name"] for t in turns for b in t["content"] if "toolUse" in b} or {"unavailable"}
    schema = {"json": {"type": "object"}}
    return [
        {"toolSpec": {"name": n, "description": "(not available)", "inputSchema": schema}}
        for n in sorted(names)
    ]


def answer_mode(req: ChatRequest) -> AnswerMode:
    """How the Bedrock answer to ``req`` maps back (see :class:`AnswerMode`): no tool calls come back
    when the client forbade them (``tool_choice: "none"``) or listed no tools."""
    rf = req.body.get("response_format") or {}
    return AnswerMode(
        json=rf.get("type") in ("json_object", "json_schema"),
        no_tools=req.body.get("tool_choice") == "none" or not req.body.get("tools"),
    )


def _tool_config(
    req: ChatRequest, mode: AnswerMode, turns: list[dict[str, Any]]
) -> tuple[dict[str, Any] | None, bool]:
    """(toolConfig or None, whether the "call no tool" instruction must be added)."""
    tools = _tool_specs(req)
    history = _has_tool_blocks(turns)
    if mode.json:
        if tools and not mode.no_tools:
            raise InvalidRequest(
                "response_format json_object/json_schema together with tools is not supported by the "
                'Bedrock fallback (use tool_choice "none" or drop one of them)',
                field="response_format",
            )
        listed = ((tools or _history_specs(turns)) if history else []) + [_json_spec(req)]
        return {"tools": listed, "toolChoice": {"tool": {"name": JSON_TOOL}}}, False
    if mode.no_tools:
        if not history:
            return None, False
        return {"tools": tools or _history_specs(turns), "toolChoice": {"auto": {}}}, True
    choice = req.body.get("tool_choice")
    config: dict[str, Any] = {"tools": tools}
    if choice == "required":
        config["toolChoice"] = {"any": {}}
    elif isinstance(choice, dict):
        config["toolChoice"] = {"tool": {"name": choice["function"]["name"]}}
    else:
        config["toolChoice"] = {"auto": {}}
    return config, False


def to_converse(req: ChatRequest, model_id: str, default_max_tokens: int) -> dict[str, Any]:
    """Converse / ConverseStream parameters (botocore shape names) for a validated request."""
    b = req.body
    if (b.get("n") or 1) > 1:
        raise InvalidRequest("n > 1 is not supported by the Bedrock fallback", field="n")
    system, turns = _messages(req)
    inference: dict[str, Any] = {"maxTokens": req.max_tokens or default_max_tokens}
    if b.get("temperature") is not None:
        inference["temperature"] = min(float(b["temperature"]), CLAUDE_MAX_TEMPERATURE)
    elif b.get("top_p") is not None:
        inference["topP"] = float(b["top_p"])
    stop = b.get("stop")
    if stop:
        stops = [stop] if isinstance(stop, str) else [s for s in stop if s]
        if stops:
            inference["stopSequences"] = stops
    params: dict[str, Any] = {"modelId": model_id, "messages": turns, "inferenceConfig": inference}
    tool_config, note = _tool_config(req, answer_mode(req), turns)
    if note:
        system.append({"text": NO_TOOLS_NOTE})
    if system:
        params["system"] = system
    if tool_config:
        params["toolConfig"] = tool_config
    return params


def completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"


def usage_of(u: dict[str, Any]) -> dict[str, int]:
    prompt, completion = int(u.get("inputTokens", 0)), int(u.get("outputTokens", 0))
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": int(u.get("totalTokens", prompt + completion)),
    }


def from_converse(resp: dict[str, Any], model: str, mode: AnswerMode) -> dict[str, Any]:
    """A ``chat.completion`` object from a Converse response; ``model`` is reported as its ``model``."""
    blocks = ((resp.get("output") or {}).get("message") or {}).get("content") or []
    text = "".join(str(b["text"]) for b in blocks if isinstance(b, dict) and "text" in b)
    calls = [b["toolUse"] for b in blocks if isinstance(b, dict) and isinstance(b.get("toolUse"), dict)]
    finish = STOP_REASONS.get(str(resp.get("stopReason", "")), "stop")
    message: dict[str, Any] = {"role": "assistant", "content": text or None}
    if mode.json and calls:
        message["content"] = json.dumps(calls[0].get("input", {}))
        finish = "stop"
    elif mode.no_tools:
        finish = "stop" if finish == "tool_calls" else finish
    elif calls:
        message["tool_calls"] = [
            {
                "id": c["toolUseId"],
                "type": "function",
                "function": {"name": c["name"], "arguments": json.dumps(c.get("input", {}))},
            }
            for c in calls
        ]
    return {
        "id": completion_id(),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
        "usage": usage_of(resp.get("usage") or {}),
    }


class StreamTranslator:
    """ConverseStream events -> ``chat.completion.chunk`` dicts, one translator per response."""

    def __init__(self, model: str, *, include_usage: bool, mode: AnswerMode) -> None:
        self.model, self.include_usage, self.mode = model, include_usage, mode
        self.json_mode = mode.json
        self.id, self.created = completion_id(), int(time.time())
        self._tool_index: dict[int, int] = {}

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
        }

    def feed(self, event: str, payload: dict[str, Any]) -> list[dict[str, Any]]:
        """Chunks for one event (often one, sometimes none)."""
        if event == "messageStart":
            return [self._chunk({"role": "assistant", "content": ""})]
        if event == "contentBlockStart":
            tool = (payload.get("start") or {}).get("toolUse")
            if tool is None or self.json_mode or self.mode.no_tools:
                return []
            idx = self._tool_index.setdefault(payload.get("contentBlockIndex", 0), len(self._tool_index))
            call = {
                "index": idx,
                "id": tool["toolUseId"],
                "type": "function",
                "function": {"name": tool["name"], "arguments": ""},
            }
            return [self._chunk({"tool_calls": [call]})]
        if event == "contentBlockDelta":
            return self._delta(payload)
        if event == "messageStop":
            finish = STOP_REASONS.get(str(payload.get("stopReason", "")), "stop")
            mapped = self.json_mode or self.mode.no_tools
            return [self._chunk({}, "stop" if mapped and finish == "tool_calls" else finish)]
        if event == "metadata" and self.include_usage:
            usage_chunk = self._chunk({})
            usage_chunk["choices"] = []
            usage_chunk["usage"] = usage_of(payload.get("usage") or {})
            return [usage_chunk]
        return []

    def _delta(self, payload: dict[str, Any]) -> list[dict[str, Any]]:
        delta = payload.get("delta") or {}
        if "text" in delta:
            return [self._chunk({"content": delta["text"]})]
        if "toolUse" in delta:
            fragment = delta["toolUse"].get("input", "")
            if self.json_mode:
                return [self._chunk({"content": fragment})]
            if self.mode.no_tools:
                return []
            idx = self._tool_index.get(payload.get("contentBlockIndex", 0), 0)
            return [self._chunk({"tool_calls": [{"index": idx, "function": {"arguments": fragment}}]})]
        return []
