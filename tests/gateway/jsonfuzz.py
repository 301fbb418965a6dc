"""Hypothesis strategies for hostile request bodies: arbitrary JSON (any types, deep nesting, huge and
non-finite numbers, lone surrogates) and chat-shaped bodies whose every field may hold any of it."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

from serving.gateway.request import ROLES

#: strings that break naive code: lone surrogates, NUL, control characters, huge-looking numbers
ODD_TEXT = ["", " ", "\ud800", "a\udfffb", "\x00", "\n\n", "data: x\n\n", "1" * 50, "NaN", "[DONE]"]
text = st.one_of(st.text(max_size=20), st.sampled_from(ODD_TEXT))
numbers = st.one_of(
    st.integers(),
    st.integers(min_value=2**63 - 2, max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -1, 1, 2, 2.5, 1e308, -0.0, 10**30]),
)
leaves = st.one_of(st.none(), st.booleans(), numbers, text)
json_values = st.recursive(
    leaves,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(text, inner, max_size=4)),
    max_leaves=12,
)

PART_TYPES = ["text", "image_url", "input_audio", "file", "refusal", ""]
part = st.one_of(
    json_values,
    st.fixed_dictionaries({"type": st.sampled_from(PART_TYPES)}, optional={"text": json_values}),
    st.fixed_dictionaries(
        {
            "type": st.just("image_url"),
            "image_url": st.one_of(json_values, st.fixed_dictionaries({"url": text})),
        }
    ),
)
content = st.one_of(st.none(), text, st.lists(part, max_size=3), json_values)
tool_call = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {
            "id": st.one_of(text, json_values),
            "type": st.just("function"),
            "function": st.one_of(
                json_values,
                st.fixed_dictionaries(
                    {"name": text, "arguments": st.one_of(text, st.just('{"a": [[[[1]]]]}'), json_values)}
                ),
            ),
        }
    ),
)
message = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {"role": st.one_of(st.sampled_from(sorted(ROLES)), json_values), "content": content},
        optional={
            "tool_calls": st.one_of(st.lists(tool_call, max_size=2), json_values),
            "tool_call_id": st.one_of(text, json_values),
            "name": json_values,
        },
    ),
)
tool = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {
            "type": st.just("function"),
            "function": st.one_of(
                json_values,
                st.fixed_dictionaries(
                    {"name": text},
                    optional={"description": json_values, "parameters": st.one_of(json_values, st.just({}))},
                ),
            ),
        }
    ),
)
OPTION_VALUES: dict[str, Any] = {
    "stream": st.one_of(st.booleans(), json_values),
    "stream_options": st.one_of(st.fixed_dictionaries({"include_usage": json_values}), json_values),
    "temperature": json_values,
    "top_p": json_values,
    "max_tokens": json_values,
    "max_completion_tokens": json_values,
    "n": json_values,
    "seed": json_values,
    "stop": st.one_of(st.lists(text, max_size=3), json_values),
    "tools": st.one_of(st.lists(tool, max_size=2), json_values),
    "tool_choice": st.one_of(
        st.sampled_from(["none", "auto", "required", "any"]),
        st.fixed_dictionaries({"type": st.just("function"), "function": json_values}),
        json_values,
    ),
    "response_format": st.one_of(
        st.fixed_dictionaries(
            {"type": st.sampled_from(["text", "json_object", "json_schema"])},
            optional={"json_schema": json_values},
        ),
        json_values,
    ),
    "fallbacks": json_values,
    "presence_penalty": json_values,
}


def chat_bodies(aliases: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    """Chat-shaped bodies: a known alias (usually), messages and options that may hold anything."""
    return st.fixed_dictionaries(
        {
            "model": st.one_of(st.sampled_from(aliases), json_values),
            "messages": st.one_of(st.lists(message, min_size=1, max_size=4), json_values),
        },
        optional=OPTION_VALUES,
    )


def encode(body: Any) -> bytes:
    """JSON bytes as a careless client would send them (NaN/Infinity literals, surrogate escapes)."""
    return json.dumps(body, allow_nan=True).encode()


#: raw fragments that are not what json.dumps makes: over-long integers, overflowing floats, deep nesting
RAW_NUMBERS = [b"1" * 5000, b"1e400", b"-1e999", b"NaN", b"Infinity", b"-Infinity", b"1" * 4300]


@st.composite
def raw_bodies(draw: st.DrawFn, aliases: list[str]) -> bytes:
    """Chat bodies with one field replaced by a raw hostile fragment, or a deeply nested value."""
    body = draw(chat_bodies(aliases))
    field = draw(st.sampled_from(["temperature", "max_tokens", "seed", "n", "model", "deep"]))
    if field == "deep":
        depth = draw(st.integers(min_value=100, max_value=3000))
        raw = b"[" * depth + b"]" * depth
    else:
        raw = draw(st.sampled_from(RAW_NUMBERS))
    body[field] = "__RAW__"
    return encode(body).replace(b'"__RAW__"', raw)


# -- bodies the validator accepts (so the translator and the served path get exercised), then mutated --
good_text = st.one_of(st.text(max_size=12), st.sampled_from(ODD_TEXT))
PNG = "data:image/png;base64,iVBORw0KGgo="
good_part = st.one_of(
    st.fixed_dictionaries({"type": st.just("text"), "text": good_text}),
    st.fixed_dictionaries(
        {
            "type": st.just("image_url"),
            "image_url": st.fixed_dictionaries(
                {"url": st.sampled_from([PNG, "data:image/png;base64,@@", "https://x/y.png", "data:,"])}
            ),
        }
    ),
    st.fixed_dictionaries({"type": st.sampled_from(["input_audio", "file"])}),
)
good_content = st.one_of(st.none(), good_text, st.lists(good_part, max_size=3))
ARGS = ['{"city": "Berlin"}', "{}", "", "[1]", '{"a": NaN}', "{oops", "[" * 3000 + "]" * 3000, '{"n": 1e400}']
good_call = st.fixed_dictionaries(
    {
        "id": good_text,
        "type": st.just("function"),
        "function": st.fixed_dictionaries({"name": good_text, "arguments": st.sampled_from(ARGS)}),
    }
)
good_message = st.one_of(
    st.fixed_dictionaries(
        {"role": st.sampled_from(["user", "system", "developer"]), "content": good_content}
    ),
    st.fixed_dictionaries(
        {"role": st.just("assistant"), "content": good_content},
        optional={"tool_calls": st.lists(good_call, max_size=2)},
    ),
    st.fixed_dictionaries({"role": st.just("tool"), "tool_call_id": good_text, "content": good_content}),
)
SCHEMAS = [
    {},
    {"type": "object"},
    {"type": "object", "properties": {"a": {"type": "integer"}}},
    {"x": [[[]]]},
]
good_tool = st.fixed_dictionaries(
    {
        "type": st.just("function"),
        "function": st.fixed_dictionaries(
            {"name": st.text(min_size=1, max_size=8)},
            optional={"description": good_text, "parameters": st.sampled_from(SCHEMAS)},
        ),
    }
)
GOOD_OPTIONS: dict[str, Any] = {
    "stream": st.booleans(),
    "stream_options": st.fixed_dictionaries({"include_usage": st.booleans()}),
    "temperature": st.floats(0, 2),
    "top_p": st.floats(0, 1),
    "max_tokens": st.integers(1, 2**31 - 1),
    "stop": st.one_of(good_text, st.lists(good_text, max_size=3)),
    "tools": st.lists(good_tool, max_size=2),
    "tool_choice": st.one_of(
        st.sampled_from(["none", "auto", "required"]),
        st.fixed_dictionaries(
            {"type": st.just("function"), "function": st.fixed_dictionaries({"name": st.text(min_size=1)})}
        ),
    ),
    "response_format": st.fixed_dictionaries(
        {"type": st.sampled_from(["text", "json_object", "json_schema"])},
        optional={
            "json_schema": st.fixed_dictionaries({"name": good_text, "schema": st.sampled_from(SCHEMAS)})
        },
    ),
    "fallbacks": json_values,
    "n": st.integers(1, 3),
}


def good_bodies(aliases: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    """Bodies of valid types and ranges (still odd: blank texts, bad images, bad tool arguments...)."""
    first = st.fixed_dictionaries({"role": st.just("user"), "content": good_content})
    return st.fixed_dictionaries(
        {
            "model": st.sampled_from(aliases),
            "messages": st.tuples(first, st.lists(good_message, max_size=4)).map(lambda t: [t[0], *t[1]]),
        },
        optional=GOOD_OPTIONS,
    )


@st.composite
def mutated_bodies(draw: st.DrawFn, aliases: list[str]) -> dict[str, Any]:
    """A good body with one value somewhere inside replaced by arbitrary JSON."""
    body = draw(good_bodies(aliases))
    node: Any = body
    for _ in range(draw(st.integers(1, 4))):
        keys = (
            list(node) if isinstance(node, dict) else list(range(len(node))) if isinstance(node, list) else []
        )
        if not keys:
            break
        key = draw(st.sampled_from(keys))
        child = node[key]
        if not isinstance(child, dict | list) or not child or draw(st.booleans()):
            node[key] = draw(json_values)
            return body
        node = child
    return body
