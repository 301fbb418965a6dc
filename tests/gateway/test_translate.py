"""OpenAI <-> Converse translation, table-driven with exact expected shapes."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from serving.gateway.errors import InvalidRequest
from serving.gateway.request import parse_chat_request
from serving.gateway.translate import AnswerMode, StreamTranslator, from_converse, to_converse

WEATHER = {
    "type": "function",
    "function": {
        "name": "weather",
        "description": "Get weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


def conv(**body: Any) -> dict[str, Any]:
    body.setdefault("model", "flex")
    return to_converse(parse_chat_request(json.dumps(body).encode()), "eu.model", 4096)


def test_system_multiturn_tools_and_results() -> None:
    params = conv(
        messages=[
            {"role": "system", "content": "be brief"},
            {"role": "developer", "content": [{"type": "text", "text": "use metric"}]},
            {"role": "user", "content": "weather in Berlin and Paris?"},
            {
                "role": "assistant",
                "content": "Checking.",
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "weather", "arguments": '{"city": "Berlin"}'},
                    },
                    {
                        "id": "c2",
                        "type": "function",
                        "function": {"name": "weather", "arguments": '{"city": "Paris"}'},
                    },
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "12C"},
            {"role": "tool", "tool_call_id": "c2", "content": [{"type": "text", "text": "15C"}]},
            {"role": "user", "content": "thanks"},
        ],
        tools=[WEATHER],
        tool_choice="required",
        max_completion_tokens=100,
        temperature=0.5,
        top_p=0.9,
        stop="END",
    )
    assert params == {
        "modelId": "eu.model",
        "system": [{"text": "be brief"}, {"text": "use metric"}],
        "messages": [
            {"role": "user", "content": [{"text": "weather in Berlin and Paris?"}]},
            {
                "role": "assistant",
                "content": [
                    {"text": "Checking."},
                    {"toolUse": {"toolUseId": "c1", "name": "weather", "input": {"city": "Berlin"}}},
                    {"toolUse": {"toolUseId": "c2", "name": "weather", "input": {"city": "Paris"}}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {"toolResult": {"toolUseId": "c1", "content": [{"text": "12C"}]}},
                    {"toolResult": {"toolUseId": "c2", "content": [{"text": "15C"}]}},
                    {"text": "thanks"},
                ],
            },
        ],
        # Claude 4.x refuses temperature and top_p together: temperature wins
        "inferenceConfig": {"maxTokens": 100, "temperature": 0.5, "stopSequences": ["END"]},
        "toolConfig": {
            "tools": [
                {
                    "toolSpec": {
                        "name": "weather",
                        "description": "Get weather",
                        "inputSchema": {"json": WEATHER["function"]["parameters"]},
                    }
                }
            ],
            "toolChoice": {"any": {}},
        },
    }


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("auto", {"auto": {}}),
        (None, {"auto": {}}),
        ({"type": "function", "function": {"name": "weather"}}, {"tool": {"name": "weather"}}),
    ],
)
def test_tool_choice(choice: Any, expected: dict[str, Any]) -> None:
    extra = {} if choice is None else {"tool_choice": choice}
    params = conv(messages=[{"role": "user", "content": "x"}], tools=[WEATHER], **extra)
    assert params["toolConfig"]["toolChoice"] == expected


def test_response_format_json_schema_forces_a_tool_and_max_tokens_default() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    params = conv(
        messages=[{"role": "user", "content": "x"}],
        response_format={"type": "json_schema", "json_schema": {"name": "s", "schema": schema}},
    )
    assert params["toolConfig"]["toolChoice"] == {"tool": {"name": "json_response"}}
    assert params["toolConfig"]["tools"][0]["toolSpec"]["inputSchema"] == {"json": schema}
    assert params["inferenceConfig"] == {"maxTokens": 4096}


def test_image_data_url_becomes_bytes() -> None:
    png = b"\x89PNG fake"
    url = "data:image/png;base64," + base64.b64encode(png).decode()
    params = conv(
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "what?"},
                    {"type": "image_url", "image_url": {"url": url}},
                ],
            }
        ]
    )
    assert params["messages"][0]["content"][1] == {"image": {"format": "png", "source": {"bytes": png}}}


@pytest.mark.parametrize(
    ("messages", "extra", "param"),
    [
        (
            [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}],
            {},
            "messages[0].content[0]",
        ),
        (
            [{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}],
            {},
            "messages[0].content[0]",
        ),
        (
            [
                {"role": "user", "content": "x"},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{oops"}}
                    ],
                },
            ],
            {},
            "messages[1].tool_calls[0]",
        ),
        ([{"role": "assistant", "content": "hi"}], {}, "messages"),
        ([{"role": "user", "content": "x"}], {"n": 2}, "n"),
    ],
)
def test_untranslatable_requests_are_400(messages: list[Any], extra: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        conv(messages=messages, **extra)
    assert info.value.field == param and info.value.status == 400


def test_from_converse_text_tool_use_and_json_mode() -> None:
    resp = {
        "output": {
            "message": {
                "role": "assistant",
                "content": [
                    {"text": "Let me check."},
                    {"toolUse": {"toolUseId": "t1", "name": "weather", "input": {"city": "Berlin"}}},
                ],
            }
        },
        "stopReason": "tool_use",
        "usage": {"inputTokens": 11, "outputTokens": 7, "totalTokens": 18},
    }
    out = from_converse(resp, "eu.model", AnswerMode())
    assert out["model"] == "eu.model" and out["object"] == "chat.completion"
    assert out["choices"][0]["finish_reason"] == "tool_calls"
    assert out["choices"][0]["message"] == {
        "role": "assistant",
        "content": "Let me check.",
        "tool_calls": [
            {
                "id": "t1",
                "type": "function",
                "function": {"name": "weather", "arguments": '{"city": "Berlin"}'},
            }
        ],
    }
    assert out["usage"] == {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}
    as_json = from_converse(resp, "eu.model", AnswerMode(json=True))
    assert as_json["choices"][0]["message"]["content"] == '{"city": "Berlin"}'
    assert as_json["choices"][0]["finish_reason"] == "stop"


@pytest.mark.parametrize(
    ("stop", "finish"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("guardrail_intervened", "content_filter"),
        ("content_filtered", "content_filter"),
        ("model_context_window_exceeded", "length"),
    ],
)
def test_stop_reasons(stop: str, finish: str) -> None:
    resp = {"output": {"message": {"content": [{"text": "x"}]}}, "stopReason": stop, "usage": {}}
    assert from_converse(resp, "a", AnswerMode())["choices"][0]["finish_reason"] == finish
    tr = StreamTranslator("a", include_usage=False, mode=AnswerMode())
    assert tr.feed("messageStop", {"stopReason": stop})[0]["choices"][0]["finish_reason"] == finish


def test_stream_translator_sequence() -> None:
    tr = StreamTranslator("eu.model", include_usage=True, mode=AnswerMode())
    events = [
        ("messageStart", {"role": "assistant"}),
        ("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "Hi"}}),
        ("contentBlockStop", {"contentBlockIndex": 0}),
        (
            "contentBlockStart",
            {"contentBlockIndex": 1, "start": {"toolUse": {"toolUseId": "t9", "name": "f"}}},
        ),
        ("contentBlockDelta", {"contentBlockIndex": 1, "delta": {"toolUse": {"input": '{"a":'}}}),
        ("contentBlockDelta", {"contentBlockIndex": 1, "delta": {"toolUse": {"input": "1}"}}}),
        ("messageStop", {"stopReason": "tool_use"}),
        ("metadata", {"usage": {"inputTokens": 3, "outputTokens": 2, "totalTokens": 5}}),
    ]
    chunks = [c for name, payload in events for c in tr.feed(name, payload)]
    deltas = [c["choices"][0]["delta"] if c["choices"] else c["usage"] for c in chunks]
    assert deltas == [
        {"role": "assistant", "content": ""},
        {"content": "Hi"},
        {
            "tool_calls": [
                {"index": 0, "id": "t9", "type": "function", "function": {"name": "f", "arguments": ""}}
            ]
        },
        {"tool_calls": [{"index": 0, "function": {"arguments": '{"a":'}}]},
        {"tool_calls": [{"index": 0, "function": {"arguments": "1}"}}]},
        {},
        {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
    ]
    assert chunks[5]["choices"][0]["finish_reason"] == "tool_calls"
    assert {c["id"] for c in chunks} == {tr.id} and all(
        c["object"] == "chat.completion.chunk" for c in chunks
    )
    assert {c["model"] for c in chunks} == {"eu.model"}


def test_stream_translator_without_usage_drops_metadata() -> None:
    tr = StreamTranslator("flex", include_usage=False, mode=AnswerMode())
    assert tr.feed("metadata", {"usage": {"inputTokens": 1}}) == []


def _tool_history() -> list[dict[str, Any]]:
    call = {"id": "c1", "type": "function", "function": {"name": "weather", "arguments": "{}"}}
    return [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "c1", "content": "12C"},
    ]


def test_tool_choice_none_without_tool_history_sends_no_tools() -> None:
    params = conv(messages=[{"role": "user", "content": "x"}], tools=[WEATHER], tool_choice="none")
    assert "toolConfig" not in params and "system" not in params


def test_tool_choice_none_with_tool_history_sends_tools_forbids_and_drops_calls() -> None:
    params = conv(messages=_tool_history(), tools=[WEATHER], tool_choice="none")
    assert params["toolConfig"]["toolChoice"] == {"auto": {}}  # Converse needs toolConfig here
    assert params["system"][-1]["text"].startswith("Tools are unavailable")
    call = {"toolUse": {"toolUseId": "t", "name": "weather", "input": {}}}
    resp = {"output": {"message": {"content": [{"text": "ok"}, call]}}, "stopReason": "tool_use"}
    out = from_converse(resp, "m", AnswerMode(no_tools=True))["choices"][0]
    assert out["message"] == {"role": "assistant", "content": "ok"} and out["finish_reason"] == "stop"
    tr = StreamTranslator("m", include_usage=False, mode=AnswerMode(no_tools=True))
    start = {"contentBlockIndex": 1, "start": {"toolUse": {"toolUseId": "t", "name": "weather"}}}
    assert tr.feed("contentBlockStart", start) == []
    assert tr.feed("contentBlockDelta", {"contentBlockIndex": 1, "delta": {"toolUse": {"input": "{}"}}}) == []
    assert tr.feed("messageStop", {"stopReason": "tool_use"})[0]["choices"][0]["finish_reason"] == "stop"


def test_tool_history_without_tools_gets_placeholder_specs() -> None:
    params = conv(messages=_tool_history())
    assert [t["toolSpec"]["name"] for t in params["toolConfig"]["tools"]] == ["weather"]


@pytest.mark.parametrize(("temperature", "sent"), [(0, 0.0), (0.7, 0.7), (1, 1.0), (1.5, 1.0), (2, 1.0)])
def test_temperature_is_capped_at_claudes_maximum(temperature: float, sent: float) -> None:
    params = conv(messages=[{"role": "user", "content": "x"}], temperature=temperature)
    assert params["inferenceConfig"]["temperature"] == sent


def test_top_p_alone_is_sent() -> None:
    params = conv(messages=[{"role": "user", "content": "x"}], top_p=0.3)
    assert params["inferenceConfig"] == {"maxTokens": 4096, "topP": 0.3}


def test_blank_system_and_text_parts_are_dropped() -> None:
    params = conv(
        messages=[
            {"role": "system", "content": ""},
            {"role": "system", "content": "  "},
            {"role": "user", "content": [{"type": "text", "text": ""}, {"type": "text", "text": "hi"}]},
        ]
    )
    assert "system" not in params
    assert params["messages"] == [{"role": "user", "content": [{"text": "hi"}]}]


def test_json_mode_with_tools_is_a_clear_400_unless_tools_are_off() -> None:
    rf = {"type": "json_object"}
    with pytest.raises(InvalidRequest) as info:
        conv(messages=[{"role": "user", "content": "x"}], tools=[WEATHER], response_format=rf)
    assert info.value.field == "response_format" and "tools" in info.value.message
    params = conv(messages=_tool_history(), tools=[WEATHER], tool_choice="none", response_format=rf)
    assert params["toolConfig"]["toolChoice"] == {"tool": {"name": "json_response"}}
    assert [t["toolSpec"]["name"] for t in params["toolConfig"]["tools"]] == ["weather", "json_response"]
