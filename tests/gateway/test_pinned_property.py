"""Property: a pinned alias never reaches Bedrock, whatever the faults and whatever the client sends.

One gateway serves pinned and fallback aliases side by side (so a Bedrock client exists in the process). Each
example is a random sequence of requests: pinned or fallback alias, any injected fault (before or after the
first byte), random streaming, and random "tricks" in the body and headers that other gateways honour. Every
request carries a nonce; afterwards no Bedrock hit may contain a pinned request's nonce, and no pinned answer
may claim to come from Bedrock. Pinned circuits open and close during the run (threshold 2, short cooldown).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from serving.gateway import create_app
from serving.gateway.config import parse_routes
from tests.gateway.conftest import BEDROCK_MODEL, routes, static_signer
from tests.gateway.fakes import FakeBedrock, FakeEngine, ServedApp

FAULTS = [
    "ok",
    "s429",
    "s500",
    "s503",
    "s400",
    "reset",
    "stall_before",
    "malformed_first",
    "stall_after",
    "malformed",
    "truncate",
    "reset_after",
    "error_mid",
    "drip",
    "bedrock_throttle",
    "bedrock_exception_mid",
    "empty_stream",
    "multiline",
    "huge",
    "comments",
    "hold",
]
PINNED = ["pinned", "dead-pinned"]
FLEX = ["flex", "dead"]
MODEL_TRICKS = [
    "{a}",
    "{a}",
    "bedrock/{a}",
    "{a}/bedrock",
    "{a},flex",
    " {a}",
    "{a} ",
    "{a}\u0000flex",
    "bedrock/converse/" + BEDROCK_MODEL,
    BEDROCK_MODEL,
    "{A}",
    "flex@{a}",
]
BODY_TRICKS: list[dict[str, Any]] = [
    {},
    {"fallbacks": ["flex"]},
    {"fallbacks": [{"model": "dead", "messages": []}]},
    {"disable_fallbacks": False},
    {"context_window_fallbacks": [{"pinned": ["flex"]}]},
    {"mock_testing_fallbacks": True},
    {"fallback": {"bedrock": {"model": BEDROCK_MODEL, "region": "eu-central-1"}}},
    {"metadata": {"fallback": "bedrock", "upstream": "bedrock"}},
    {"user": "bedrock"},
]
HEADER_TRICKS: list[dict[str, str]] = [
    {},
    {"x-paddock-upstream": "bedrock"},
    {"x-paddock-fallback": "bedrock"},
    {"x-paddock-alias": "flex"},
    {"x-litellm-fallbacks": "flex"},
    {"x-amzn-bedrock-model": BEDROCK_MODEL},
]

request_st = st.fixed_dictionaries(
    {
        "alias": st.sampled_from(PINNED + FLEX),
        "fault": st.sampled_from(FAULTS),
        "model": st.sampled_from(MODEL_TRICKS),
        "body": st.sampled_from(BODY_TRICKS),
        "headers": st.sampled_from(HEADER_TRICKS),
        "stream": st.booleans(),
    }
)


@pytest.fixture(scope="module")
def gw(engine: FakeEngine, bedrock: FakeBedrock) -> Iterator[httpx.Client]:
    fast = {"connectSeconds": 0.5, "firstTokenSeconds": 0.2, "idleSeconds": 0.2, "totalSeconds": 2}
    strict = {"failureThreshold": 2, "cooldownSeconds": 0.05}
    doc = routes(engine.url, bedrock.url)
    for alias in doc["aliases"].values():
        alias["timeouts"] = fast
        alias["breaker"] = strict
    with ServedApp(create_app(parse_routes(doc), signer=static_signer())) as app:
        with httpx.Client(base_url=app.url, timeout=10) as c:
            yield c


def _send(c: httpx.Client, r: dict[str, Any], nonce: str) -> httpx.Response:
    model = r["model"].format(a=r["alias"], A=r["alias"].upper()) if r["alias"] in PINNED else r["alias"]
    payload = {
        "model": model,
        "messages": [{"role": "user", "content": f"fault:{r['fault']} tokens:4 nonce:{nonce}"}],
        "stream": r["stream"],
        **r["body"],
    }
    return c.post("/v1/chat/completions", content=json.dumps(payload), headers=r["headers"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sequence=st.lists(request_st, min_size=1, max_size=6))
def test_pinned_aliases_never_reach_bedrock(
    gw: httpx.Client, bedrock: FakeBedrock, sequence: list[dict[str, Any]]
) -> None:
    pinned_nonces: set[str] = set()
    dead_nonces: set[str] = set()
    for r in sequence:
        nonce = uuid.uuid4().hex
        resp = _send(gw, r, nonce)
        assert resp.status_code < 500 or resp.status_code in (502, 503, 504)
        if r["alias"] in PINNED:
            pinned_nonces.add(nonce)
            assert resp.headers["x-paddock-upstream"] in ("primary", "none")
            assert resp.status_code in (200, 400, 404, 429, 502, 503, 504)
        elif r["alias"] == "dead":
            dead_nonces.add(nonce)
            assert resp.headers["x-paddock-upstream"] == "bedrock"
    seen = "\n".join(hit.body.decode() for hit in bedrock.hits)
    assert [n for n in pinned_nonces if n in seen] == []
    assert [n for n in dead_nonces if n not in seen] == []  # the detector sees fallback traffic
