"""A bounded soak: 150 concurrent streams for 2 s with every fault kind mixed in (the long run is a bench).

Every count the soak keeps must be able to fail; the last tests feed it a broken gateway to prove that."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from serving.gateway import create_app
from serving.gateway.config import parse_routes
from tests.gateway.conftest import static_signer
from tests.gateway.fakes import FakeBedrock, FakeEngine, ServedApp, closed_port_url
from tests.gateway.soak import SoakReport, nonces_of, run_soak, soak_routes


def probe() -> tuple[float, int]:
    """(RSS MiB, open fds) of this process, where the gateway runs in a thread."""
    rss = next(
        int(ln.split()[1]) for ln in Path("/proc/self/status").read_text().splitlines() if "VmRSS" in ln
    )
    return rss / 1024, len(os.listdir("/proc/self/fd"))


def soak(
    url: str, bedrock: Callable[[], list[str]], engine: Callable[[], list[str]], **kw: Any
) -> SoakReport:
    # a private loop, not asyncio.run: later tests (Pulumi mocks) need the main thread's loop state
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(run_soak(url, bedrock, engine_nonces=engine, probe=probe, **kw))
    finally:
        loop.close()


@pytest.fixture
def soak_engine() -> Iterator[FakeEngine]:
    engine = FakeEngine(delay=0.005, stall=2.5).start()
    yield engine
    assert engine.server is not None
    engine.server.stop()


def test_short_soak_every_request_ends_cleanly(bedrock: FakeBedrock, soak_engine: FakeEngine) -> None:
    doc = soak_routes(soak_engine.url, bedrock.url, closed_port_url(), ttft=1.5, idle=1.0)
    with ServedApp(create_app(parse_routes(doc), signer=static_signer())) as app:
        report = soak(
            app.url,
            lambda: nonces_of(bedrock.hits),
            lambda: nonces_of(soak_engine.hits),
            streams=150,
            seconds=2,
        )
    assert report.violations == [], (report.wrong, report.violations[:5])
    assert report.lost == 0 and report.duplicated == 0 and report.malformed == 0 and report.pinned_leaks == 0
    assert len(report.sent) >= 150 and report.finished == len(report.sent)
    assert report.outcomes["complete"] > 0 and report.outcomes["error"] > 0
    assert report.by_upstream["bedrock"] > 0 and report.by_upstream["primary"] > 0
    assert report.start[1] > 0 and report.end[0] > 0


def _broken(kind: str) -> Callable[[Request], Any]:
    """A 'gateway' that breaks one invariant on every request."""

    async def app(request: Request) -> Response:
        body = await request.json()
        if kind == "hang":
            await asyncio.sleep(3600)
        headers = {"x-paddock-upstream": "bedrock" if kind == "leak" else "primary"}
        text = "t0 t0 " if kind == "repeat" else "t0 t1 "

        async def events() -> Any:
            chunk = json.dumps({"choices": [{"index": 0, "delta": {"content": text}}]})
            yield f"data: {chunk}\n\n".encode()
            if kind == "malformed":
                yield b"data: {not json\n\n"
            yield b'data: {"error": {"message": "x"}}\n\n'

        del body
        return StreamingResponse(events(), media_type="text/event-stream", headers=headers)

    return app


@pytest.mark.parametrize(
    ("kind", "check"),
    [
        ("hang", lambda r: r.lost > 0),
        ("repeat", lambda r: r.malformed > 0),
        ("malformed", lambda r: r.malformed > 0),
        ("leak", lambda r: r.pinned_leaks > 0),
        ("wrong", lambda r: sum(r.wrong.values()) > 0),
        ("twice", lambda r: r.duplicated == 1),
    ],
)
def test_the_soak_fails_a_gateway_that_breaks_an_invariant(
    kind: str, check: Callable[[SoakReport], bool], monkeypatch: pytest.MonkeyPatch
) -> None:
    from starlette.applications import Starlette
    from starlette.routing import Route

    import tests.gateway.soak as soak_module

    monkeypatch.setattr(soak_module, "REQUEST_TIMEOUT", 1.0)
    app = Starlette(routes=[Route("/v1/chat/completions", _broken(kind), methods=["POST"])])
    with ServedApp(app) as served:
        twice = ["a", "a"] if kind == "twice" else []  # as if the fake Bedrock got one request twice
        report = soak(served.url, lambda: twice, lambda: [], streams=5, seconds=0.3, warmup=0.0)
    assert check(report) and report.violations
