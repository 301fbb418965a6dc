"""OpenAI chat completions <-> Bedrock Converse, pure functions (no I/O).

Requests: system/developer messages -> ``system``; user/assistant turns -> ``messages`` (same-role
turns merged, tool results become a user turn of ``toolResult`` blocks); tools -> ``toolConfig``;
``response_format`` JSON -> a forced ``json_response`` tool whose input becomes the answer's content.
Responses and stream events map back to ``chat.completion`` / ``chat.completion.chunk`` objects.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any

from serving.gateway.errors import InvalidRequest
from serving.gateway.request import ChatRequest

JSON_TOOL = "json_response"
STOP_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "guardrail_intervened": "content_filter",
    "content_filtered": "content_filter",
}
IMAGE_FORMATS = {"image/png": "png", "image/jpeg": "jpeg", "image/gif": "gif", "image/webp": "webp"}


def _text_of(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "".join(p.get("text", "") for p in content if p.get("type") == "text")


def _image_block(part: dict[str, Any], where: str) -> dict[str, Any]:
    url = (part.get("image_url") or {}).get("url", "")
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
    if content is None or content == "":
        return []
    if isinstance(content, str):
        return [{"text": content}]
    blocks: list[dict[str, Any]] = []
    for i, part in enumerate(content):
        if part["type"] == "text":
            blocks.append({"text": str(part.get("text", ""))})
        elif part["type"] == "image_url":
            blocks.append(_image_block(part, f"{where}[{i}]"))
        else:
            raise InvalidRequest(
                f"content part type {part['type']!r} is not supported by the fallback", field=where
            )
    return blocks


def _tool_use(call: dict[str, Any], where: str) -> dict[str, Any]:
    fn = call["function"]
    try:
        args = json.loads(fn.get("arguments") or "{}")
    except json.JSONDecodeError:
        raise InvalidRequest("tool call arguments are not valid JSON", field=where) from None
    return {"toolUse": {"toolUseId": call["id"], "name": fn["name"], "input": args}}


def _messages(req: ChatRequest) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    system: list[dict[str, Any]] = []
    turns: list[dict[str, Any]] = []
    for i, m in enumerate(req.body["messages"]):
        where = f"messages[{i}]"
        role = m["role"]
        if role in ("system", "developer"):
            system.append({"text": _text_of(m.get("content"))})
            continue
        if role == "tool":
            result = {"toolUseId": m["tool_call_id"], "content": [{"text": _text_of(m.get("content"))}]}
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


def _tool_config(req: ChatRequest) -> dict[str, Any] | None:
    b = req.body
    tools = [
        {
            "toolSpec": {
                "name": t["function"]["name"],
                "description": t["function"].get("description") or t["function"]["name"],
                "inputSchema": {"json": t["function"].get("parameters") or {"type": "object"}},
            }
        }
        for t in b.get("tools") or []
    ]
    if not tools:
        return None
    choice = b.get("tool_choice")
    config: dict[str, Any] = {"tools": tools}
    if choice == "required":
        config["toolChoice"] = {"any": {}}
    elif isinstance(choice, dict):
        config["toolChoice"] = {"tool": {"name": (choice.get("function") or {}).get("name", "")}}
    elif choice in (None, "auto", "none"):
        config["toolChoice"] = {"auto": {}}
    else:
        raise InvalidRequest(f"tool_choice {choice!r} is not supported", field="tool_choice")
    return config


def _json_tool(req: ChatRequest) -> dict[str, Any] | None:
    rf = req.body.get("response_format") or {}
    if rf.get("type") not in ("json_object", "json_schema") or req.body.get("tools"):
        return None
    schema = (rf.get("json_schema") or {}).get("schema") or {"type": "object"}
    spec = {
        "name": JSON_TOOL,
        "description": "Return the answer as this JSON object.",
        "inputSchema": {"json": schema},
    }
    return {"tools": [{"toolSpec": spec}], "toolChoice": {"tool": {"name": JSON_TOOL}}}


def to_converse(req: ChatRequest, model_id: str, default_max_tokens: int) -> dict[str, Any]:
    """Converse / ConverseStream parameters (botocore shape names) for a validated request."""
    b = req.body
    if (b.get("n") or 1) > 1:
        raise InvalidRequest("n > 1 is not supported by the Bedrock fallback", field="n")
    system, turns = _messages(req)
    inference: dict[str, Any] = {"maxTokens": req.max_tokens or default_max_tokens}
    if b.get("temperature") is not None:
        inference["temperature"] = float(b["temperature"])
    if b.get("top_p") is not None:
        inference["topP"] = float(b["top_p"])
    stop = b.get("stop")
    if stop:
        inference["stopSequences"] = [stop] if isinstance(stop, str) else list(stop)
    params: dict[str, Any] = {"modelId": model_id, "messages": turns, "inferenceConfig": inference}
    if system:
        params["system"] = system
    tool_config = _tool_config(req) or _json_tool(req)
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


def from_converse(resp: dict[str, Any], alias: str, json_mode: bool) -> dict[str, Any]:
    """A ``chat.completion`` object from a Converse response."""
    blocks = ((resp.get("output") or {}).get("message") or {}).get("content") or []
    text = "".join(b["text"] for b in blocks if "text" in b)
    calls = [b["toolUse"] for b in blocks if "toolUse" in b]
    finish = STOP_REASONS.get(resp.get("stopReason", ""), "stop")
    message: dict[str, Any] = {"role": "assistant", "content": text or None}
    if json_mode and calls:
        message["content"] = json.dumps(calls[0].get("input", {}))
        finish = "stop"
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
        "model": alias,
        "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
        "usage": usage_of(resp.get("usage") or {}),
    }


class StreamTranslator:
    """ConverseStream events -> ``chat.completion.chunk`` dicts, one translator per response."""

    def __init__(self, alias: str, *, include_usage: bool, json_mode: bool) -> None:
        self.alias, self.include_usage, self.json_mode = alias, include_usage, json_mode
        self.id, self.created = completion_id(), int(time.time())
        self._tool_index: dict[int, int] = {}

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.alias,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
        }

    def feed(self, event: str, payload: dict[str, Any]) -> list[dict[str, Any]]:
        """Chunks for one event (often one, sometimes none)."""
        if event == "messageStart":
            return [self._chunk({"role": "assistant", "content": ""})]
        if event == "contentBlockStart":
            tool = (payload.get("start") or {}).get("toolUse")
            if tool is None or self.json_mode:
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
            finish = STOP_REASONS.get(payload.get("stopReason", ""), "stop")
            return [self._chunk({}, "stop" if self.json_mode and finish == "tool_calls" else finish)]
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
            idx = self._tool_index.get(payload.get("contentBlockIndex", 0), 0)
            return [self._chunk({"tool_calls": [{"index": idx, "function": {"arguments": fragment}}]})]
        return []
