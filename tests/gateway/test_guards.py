"""Regression guards: each pinning guard on its own, the Bearer scheme, the admin port, no slash redirect."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

from serving.gateway import create_app
from serving.gateway.auth import ApiKeys
from serving.gateway.breaker import CircuitBreaker
from serving.gateway.config import AliasRoute, ApiKeySource, parse_routes
from serving.gateway.errors import AuthenticationFailed, ResidencyViolation, UpstreamConnectError
from serving.gateway.fallback import AliasState, route_request
from serving.gateway.request import ChatRequest, parse_chat_request
from serving.gateway.upstream import Opened
from tests.gateway.conftest import routes, static_signer
from tests.gateway.fakes import FakeBedrock, FakeEngine, ServedApp, bound_socket
from tests.gateway.helpers import body


class Refusing:
    name = "primary"

    async def open(self, req: ChatRequest) -> Opened:
        raise UpstreamConnectError("primary: connection refused", reason="connect_refused")


class Recording:
    name = "bedrock"

    def __init__(self) -> None:
        self.calls = 0

    async def open(self, req: ChatRequest) -> Opened:
        self.calls += 1
        return Opened(body=b"{}")


def _pinned_route() -> AliasRoute:
    doc = routes("http://127.0.0.1:9", "http://127.0.0.1:9")
    return parse_routes(doc).aliases["dead-pinned"]


def test_guard_1_a_pinned_alias_state_refuses_a_fallback_upstream() -> None:
    route = _pinned_route()
    with pytest.raises(ResidencyViolation):
        AliasState(
            route=route, primary=Refusing(), fallback=Recording(), breaker=CircuitBreaker(route.breaker)
        )


def test_guard_2_the_policy_refuses_to_route_a_pinned_alias_to_a_fallback_it_was_given() -> None:
    route = _pinned_route()
    state = AliasState(route=route, primary=Refusing(), fallback=None, breaker=CircuitBreaker(route.breaker))
    bedrock = Recording()
    state.fallback = bedrock  # as if guard 1 were gone: only the policy's own check is left
    req = parse_chat_request(b'{"model": "dead-pinned", "messages": [{"role": "user", "content": "x"}]}')
    with pytest.raises(ResidencyViolation):
        asyncio.run(route_request(state, req))
    assert bedrock.calls == 0


def test_guard_3_the_gateway_builds_no_fallback_upstream_for_pinned_aliases() -> None:
    app = create_app(parse_routes(routes("http://127.0.0.1:9", "http://127.0.0.1:9")), signer=static_signer())
    aliases = app.state.gateway.aliases
    assert aliases["pinned"].fallback is None and aliases["dead-pinned"].fallback is None
    assert aliases["flex"].fallback is not None and aliases["dead"].fallback is not None


@pytest.mark.parametrize(
    ("header", "ok"),
    [
        ("Bearer k-one", True),
        ("bearer k-one", True),  # the scheme is case-insensitive (RFC 9110 11.1)
        ("BEARER k-two", True),
        ("Bearer  k-one ", True),
        ("Basic k-one", False),
        ("k-one", False),
        ("Bearer", False),
        ("Bearer ", False),
        ("Bearerk-one", False),
        ("Bearer k-one,k-two", False),
        ("Token k-one", False),
        (None, False),
    ],
)
def test_only_the_bearer_scheme_with_a_known_key_passes(header: str | None, ok: bool) -> None:
    keys = ApiKeys.load(ApiKeySource(env="K"), {"K": "k-one,k-two"})
    if ok:
        keys.check(header)
    else:
        with pytest.raises(AuthenticationFailed):
            keys.check(header)


@pytest.fixture
def admin(engine: FakeEngine, bedrock: FakeBedrock) -> Iterator[tuple[str, str]]:
    sock = bound_socket()
    port = sock.getsockname()[1]
    app = create_app(parse_routes(routes(engine.url, bedrock.url)), signer=static_signer(), admin_port=port)
    with ServedApp(app, extra_sockets=(sock,)) as served:
        yield served.url, f"http://127.0.0.1:{port}"


def test_metrics_live_on_the_admin_port_only(admin: tuple[str, str]) -> None:
    api, adm = admin
    assert httpx.post(f"{api}/v1/chat/completions", json=body("pinned")).status_code == 200
    assert httpx.get(f"{api}/metrics").status_code == 404
    text = httpx.get(f"{adm}/metrics").text
    assert 'paddock_gateway_requests_total{alias="pinned",status="200",upstream="primary"} 1.0' in text
    for base in (api, adm):
        assert httpx.get(f"{base}/readyz").json() == {"status": "ready"}
        assert httpx.get(f"{base}/healthz").status_code == 200
    assert httpx.post(f"{adm}/v1/chat/completions", json=body("pinned")).status_code == 404
    assert httpx.get(f"{adm}/v1/models").status_code == 404


def test_a_trailing_slash_is_not_redirected(admin: tuple[str, str]) -> None:
    api, _ = admin
    r = httpx.post(f"{api}/v1/chat/completions/", json=body("pinned"), headers={"host": "evil.example"})
    assert r.status_code == 404 and "location" not in r.headers


def test_a_bug_while_routing_is_an_openai_shaped_500_with_both_headers(
    engine: FakeEngine, bedrock: FakeBedrock, monkeypatch: pytest.MonkeyPatch
) -> None:
    import serving.gateway.app as app_module

    async def broken(*args: object, **kwargs: object) -> None:
        raise KeyError("a bug")

    monkeypatch.setattr(app_module, "route_request", broken)
    app = create_app(parse_routes(routes(engine.url, bedrock.url)), signer=static_signer())
    with ServedApp(app) as served:
        r = httpx.post(f"{served.url}/v1/chat/completions", json=body("flex"))
    assert r.status_code == 500 and r.json()["error"]["code"] == "internal_error"
    assert (r.headers["x-paddock-upstream"], r.headers["x-paddock-fallback-reason"]) == ("none", "none")
    assert app.state.gateway.aliases["flex"].in_flight == 0
