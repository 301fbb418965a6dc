"""Fixtures for gateway tests: loopback fake engine + fake Bedrock, settings builders, a served gateway."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import botocore.session
import pytest

from serving.gateway.bedrock import BedrockSigner
from serving.gateway.config import GatewaySettings, parse_routes
from tests.gateway.fakes import FakeBedrock, FakeEngine, closed_port_url

BEDROCK_MODEL = "eu.anthropic.claude-sonnet-4-5-20250929-v1:0"


@pytest.fixture(scope="module")
def engine() -> Iterator[FakeEngine]:
    e = FakeEngine(stall=3.0).start()
    yield e
    assert e.server is not None
    e.server.stop()


@pytest.fixture(scope="module")
def bedrock() -> Iterator[FakeBedrock]:
    b = FakeBedrock().start()
    yield b
    assert b.server is not None
    b.server.stop()


@pytest.fixture(autouse=True)
def _clear_hits(request: pytest.FixtureRequest) -> None:
    for name in ("engine", "bedrock"):
        if name in request.fixturenames:
            request.getfixturevalue(name).hits.clear()


def static_signer() -> BedrockSigner:
    """A signer with fixed test credentials (the fake checks the SigV4 shape, not the secret)."""
    session = botocore.session.Session()
    session.set_credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    return BedrockSigner(session)


def routes(engine_url: str, bedrock_url: str, **overrides: Any) -> dict[str, Any]:
    """A routes.yaml document: ``flex`` (falls back), ``pinned``, ``dead``/``dead-pinned`` (refused)."""
    timeouts = {"connectSeconds": 1, "firstTokenSeconds": 1, "idleSeconds": 1, "totalSeconds": 5}
    fb = {"bedrock": {"model": BEDROCK_MODEL, "region": "eu-central-1", "endpoint": bedrock_url}}
    primary = {"url": f"{engine_url}/v1", "model": "meta-llama/Llama-3.1-8B-Instruct"}
    dead = {"url": closed_port_url(), "model": "m"}
    lenient = {"failureThreshold": 1_000_000}  # breaker behaviour has its own tests
    doc: dict[str, Any] = {
        "aliases": {
            "flex": {"primary": primary, "fallback": fb, "timeouts": timeouts, "breaker": lenient},
            "pinned": {"primary": primary, "fallback": "none", "timeouts": timeouts, "breaker": lenient},
            "dead": {"primary": dead, "fallback": fb, "timeouts": timeouts, "breaker": lenient},
            "dead-pinned": {"primary": dead, "fallback": "none", "timeouts": timeouts, "breaker": lenient},
        }
    }
    for alias, extra in overrides.items():
        doc["aliases"].setdefault(alias.replace("_", "-"), {}).update(extra)
    return doc


def settings(engine_url: str, bedrock_url: str, **overrides: Any) -> GatewaySettings:
    return parse_routes(routes(engine_url, bedrock_url, **overrides))
