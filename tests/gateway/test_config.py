"""routes.yaml parsing: the documented shape loads; every problem is reported at once, naming its key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from serving.errors import InputError
from serving.gateway.config import load_routes, parse_routes
from serving.gateway.errors import RoutesConfigError

DESIGN_EXAMPLE = """
apiKeys: {env: PADDOCK_API_KEYS}
aliases:
  llama-8b:
    primary: {url: http://llama-8b.serving.svc:8000/v1, model: meta-llama/Llama-3.1-8B-Instruct}
    fallback:
      bedrock: {model: eu.anthropic.claude-sonnet-4-5-20250929-v1:0, region: eu-central-1}
    timeouts: {connectSeconds: 2, firstTokenSeconds: 30}
  llama-8b-eu-only:
    primary: {url: http://llama-8b.serving.svc:8000/v1, model: meta-llama/Llama-3.1-8B-Instruct}
    fallback: none
"""


def test_design_example_loads(tmp_path: Path) -> None:
    path = tmp_path / "routes.yaml"
    path.write_text(DESIGN_EXAMPLE)
    s = load_routes(path)
    assert s.api_keys is not None and s.api_keys.env == "PADDOCK_API_KEYS"
    flex, pinned = s.aliases["llama-8b"], s.aliases["llama-8b-eu-only"]
    assert (
        flex.fallback is not None
        and flex.fallback.region == "eu-central-1"
        and flex.fallback.endpoint is None
    )
    assert flex.fallback.model == "eu.anthropic.claude-sonnet-4-5-20250929-v1:0"
    assert (flex.timeouts.connect_seconds, flex.timeouts.first_token_seconds) == (2.0, 30.0)
    assert pinned.pinned and pinned.fallback is None and not flex.pinned
    assert s.max_body_bytes == 1_048_576


def test_alias_without_fallback_key_is_pinned() -> None:
    s = parse_routes({"aliases": {"a": {"primary": {"url": "http://x:8000/v1", "model": "m"}}}})
    assert s.aliases["a"].pinned


def _problems(doc: Any) -> list[str]:
    with pytest.raises(RoutesConfigError) as info:
        parse_routes(doc)
    assert isinstance(info.value, InputError)
    msg = info.value.message
    return msg.split("\n  ")[1:] or [msg]


def test_every_problem_is_named_at_once() -> None:
    doc = {
        "apiKeys": {"env": "K", "file": "/f"},
        "limits": {"maxBodyBytes": -1},
        "aliases": {
            "a": {
                "primary": {"url": "ftp://x", "model": ""},
                "fallbak": "none",
                "timeouts": {"firstTokenSeconds": "soon"},
                "fallback": {"bedrock": {"model": "m"}},
                "limits": {"maxTokens": 0},
            },
            "b": {"primary": {"url": "http://x/v1", "model": "m"}, "fallback": None, "retries": -1},
        },
    }
    assert _problems(doc) == [
        "apiKeys: give exactly one of 'env' or 'file'",
        "limits.maxBodyBytes: expected an integer >= 1, got -1",
        "aliases.a.fallbak: unknown key (allowed: breaker, coldStartHoldSeconds, fallback, limits, primary, "
        "retries, timeouts)",
        "aliases.a.primary.url: expected an http(s) URL, got 'ftp://x'",
        "aliases.a.primary.model: expected a non-empty string, got ''",
        "aliases.a.fallback.bedrock.region: is required",
        "aliases.a.timeouts.firstTokenSeconds: expected a number > 0, got 'soon'",
        "aliases.a.limits.maxTokens: expected an integer >= 1, got 0",
        "aliases.b.fallback: is empty; write 'none' to pin the alias or give a bedrock target",
        "aliases.b.retries: expected an integer >= 0, got -1",
    ]


@pytest.mark.parametrize(
    ("doc", "problem"),
    [
        ([], "<root>: expected a mapping, got []"),
        ({"aliases": {}}, "aliases: expected a non-empty mapping of alias -> route, got {}"),
        ({"aliases": {"a": "x"}}, "aliases.a: expected a mapping, got 'x'"),
        (
            {"aliases": {"a": {"primary": {"url": "http://x", "model": "m"}, "fallback": {"openai": {}}}}},
            "aliases.a.fallback.openai: unknown key (allowed: bedrock)",
        ),
        (
            {"aliases": {"a": {"primary": {"url": "http://x", "model": "m", "maxInFlight": True}}}},
            "aliases.a.primary.maxInFlight: expected an integer >= 1, got True",
        ),
        (
            {"aliases": {"a": {"primary": {"url": "http://x", "model": "m"}}}, "extra": 1},
            "<root>.extra: unknown key (allowed: aliases, apiKeys, limits)",
        ),
    ],
)
def test_single_problems(doc: Any, problem: str) -> None:
    assert problem in _problems(doc)


def test_missing_file_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(RoutesConfigError, match="cannot read") as info:
        load_routes(tmp_path / "nope.yaml")
    assert info.value.field == "--config"
    bad = tmp_path / "bad.yaml"
    bad.write_text("aliases: [unclosed")
    with pytest.raises(RoutesConfigError, match="not valid YAML"):
        load_routes(bad)
