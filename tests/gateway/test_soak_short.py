"""A bounded soak: 150 concurrent streams for 2 s with every fault kind mixed in (the long run is a bench)."""

from __future__ import annotations

import asyncio

from serving.gateway import create_app
from serving.gateway.config import parse_routes
from tests.gateway.conftest import static_signer
from tests.gateway.fakes import FakeBedrock, FakeEngine, ServedApp, closed_port_url
from tests.gateway.soak import nonces_of, run_soak, soak_routes


def test_short_soak_every_request_ends_cleanly(bedrock: FakeBedrock) -> None:
    engine = FakeEngine(delay=0.005, stall=2.5).start()
    try:
        doc = soak_routes(engine.url, bedrock.url, closed_port_url(), ttft=1.5, idle=1.5)
        with ServedApp(create_app(parse_routes(doc), signer=static_signer())) as app:
            # a private loop, not asyncio.run: later tests (Pulumi mocks) need the main thread's loop state
            loop = asyncio.new_event_loop()
            try:
                report = loop.run_until_complete(
                    run_soak(app.url, lambda: nonces_of(bedrock), streams=150, seconds=2)
                )
            finally:
                loop.close()
    finally:
        assert engine.server is not None
        engine.server.stop()
    assert report.violations == []
    assert report.finished == report.sent and report.sent >= 150
    assert report.outcomes["bad"] == 0 and report.outcomes["complete"] > 0 and report.outcomes["error"] > 0
    assert report.by_upstream["bedrock"] > 0 and report.by_upstream["primary"] > 0
    # which side answered can shift under CPU starvation (a TTFT timeout spills to Bedrock), so expectations
    # are reported by the bench; the invariants above hold whatever the load
