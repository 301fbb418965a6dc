"""routes_from_stack: the routing table the platform renders, exact per stack file."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from serving.errors import InputError
from serving.gateway.routes_from_stack import routes_from_stack
from serving.stack_config import StackConfig, load_stack_file

STACKS = Path(__file__).resolve().parents[2] / "stacks"


@pytest.fixture(scope="module")
def prod() -> StackConfig:
    return load_stack_file(STACKS / "Pulumi.prod-eu.yaml")


def test_prod_eu_table(prod: StackConfig) -> None:
    assert routes_from_stack(prod) == {
        "aliases": {
            "llama-70b": {
                "primary": {
                    "url": "http://llama-70b.serving.svc:8000/v1",
                    "model": "llama-3.3-70b",
                    "maxInFlight": 320,  # prod-eu: replicas.max 5 on g6e.12xlarge
                },
                "fallback": {
                    "bedrock": {
                        "model": "eu.anthropic.claude-sonnet-4-5-20250929-v1:0",
                        "region": "eu-central-1",
                    }
                },
                "timeouts": {"connectSeconds": 2, "firstTokenSeconds": 8.0},
                "limits": {"maxTokens": 32768},
            },
            "llama-8b-eu-only": {
                "primary": {"url": "http://llama-8b-eu-only.serving.svc:8000/v1", "model": "llama-3.1-8b"},
                "fallback": "none",
                "timeouts": {"connectSeconds": 2, "firstTokenSeconds": 5.0},
                "limits": {"maxTokens": 16384},
            },
        },
        "limits": {"maxBodyBytes": 1048576},
        "apiKeys": {"file": "/etc/paddock/api-keys/keys"},
    }


def test_residency_without_fallback_pins_every_alias(prod: StackConfig) -> None:
    closed = dataclasses.replace(prod, residency=dataclasses.replace(prod.residency, allow_fallback=False))
    table = routes_from_stack(closed)
    assert {a: r["fallback"] for a, r in table["aliases"].items()} == {
        "llama-70b": "none",
        "llama-8b-eu-only": "none",
    }
    assert "maxInFlight" not in table["aliases"]["llama-70b"]["primary"]


def test_scale_to_zero_alias_holds_through_cold_start(prod: StackConfig) -> None:
    models = (dataclasses.replace(prod.models[0], replicas_min=0), prod.models[1])
    table = routes_from_stack(dataclasses.replace(prod, models=models))
    assert table["aliases"]["llama-70b"]["coldStartHoldSeconds"] == 120.0
    assert "coldStartHoldSeconds" not in table["aliases"]["llama-8b-eu-only"]


def test_no_api_key_secret_means_no_auth(prod: StackConfig) -> None:
    open_gw = dataclasses.replace(prod, gateway=dataclasses.replace(prod.gateway, api_keys_secret=""))
    assert "apiKeys" not in routes_from_stack(open_gw)


def test_unknown_fallback_key_names_the_model_key(prod: StackConfig) -> None:
    models = (dataclasses.replace(prod.models[0], fallback="claude-opus"), prod.models[1])
    with pytest.raises(InputError) as info:
        routes_from_stack(dataclasses.replace(prod, models=models))
    assert info.value.field == "paddock:models[0].fallback"
    assert (
        "'claude-opus' is not a key of paddock:fallback.bedrock.models (claude-sonnet)" in info.value.message
    )
