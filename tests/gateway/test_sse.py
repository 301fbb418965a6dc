"""The streaming hot path: incremental SSE splitting, payload checks, and how a stream's end is sent."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from serving.gateway import create_app, sse
from serving.gateway.asgi import DisconnectWatch, SSEResponse
from serving.gateway.errors import UpstreamProtocolError
from serving.gateway.upstream import Opened
from tests.gateway.conftest import settings, static_signer
from tests.gateway.fakes import FakeBedrock, FakeEngine, FakeRequest, FakeServer, ServedApp, Writer
from tests.gateway.helpers import body, errors_in, sse_events, stream_text

STREAM = (
    b'data: {"a":1}\n\n'
    b": keep-alive comment\n\n"
    b'event: message\nid: 7\ndata: {"b":2}\n\n'
    b'data: {"c":\ndata: 3}\n\n'
    b"data: [DONE]\n\n"
)
PAYLOADS = [b'{"a":1}', b'{"b":2}', b'{"c":\n3}', b"[DONE]"]


def feed_all(splitter: sse.EventSplitter, reads: list[bytes]) -> list[bytes]:
    out: list[bytes] = []
    for chunk in reads:
        out.extend(splitter.feed(chunk))
    splitter.close()
    return out


def test_whole_stream_in_one_read_yields_every_event_in_order() -> None:
    assert sse.EventSplitter().feed(STREAM) == PAYLOADS


@pytest.mark.parametrize("cut", range(1, len(STREAM)))
def test_events_spanning_two_reads_are_reassembled_at_every_cut(cut: int) -> None:
    assert feed_all(sse.EventSplitter(), [STREAM[:cut], STREAM[cut:]]) == PAYLOADS


def test_one_byte_reads_yield_each_event_on_the_read_that_completes_it() -> None:
    splitter = sse.EventSplitter()
    completed = [(i, got) for i in range(len(STREAM)) if (got := splitter.feed(STREAM[i : i + 1]))]
    # an event completes on the read carrying its blank line's newline; the comment completes nothing
    ends, pos = [], 0
    for raw in STREAM.split(b"\n\n")[:-1]:
        pos += len(raw) + 2
        if not raw.startswith(b":"):
            ends.append(pos - 1)
    assert [i for i, _ in completed] == ends
    assert [p for _, got in completed for p in got] == PAYLOADS


@pytest.mark.parametrize("cut", range(1, 24))
def test_crlf_line_ends_are_accepted_even_when_cr_and_lf_arrive_apart(cut: int) -> None:
    crlf = b'data: {"a":1}\r\n\r\ndata: [DONE]\r\n\r\n'
    assert feed_all(sse.EventSplitter(), [crlf[:cut], crlf[cut:]]) == [b'{"a":1}', b"[DONE]"]


def test_a_read_that_completes_nothing_returns_no_payloads_and_keeps_the_part() -> None:
    splitter = sse.EventSplitter()
    assert splitter.feed(b'data: {"a"') == []
    assert splitter.feed(b":1}\n") == []
    assert splitter.feed(b"\n") == [b'{"a":1}']


def test_body_ending_inside_an_event_is_a_malformed_stream() -> None:
    splitter = sse.EventSplitter()
    assert splitter.feed(b'data: {"a":1}\n\ndata: {"b"') == [b'{"a":1}']
    with pytest.raises(UpstreamProtocolError) as err:
        splitter.close()
    assert err.value.reason == "malformed_stream" and "ended inside an event" in err.value.message


def test_trailing_blank_lines_are_not_an_unfinished_event() -> None:
    assert feed_all(sse.EventSplitter(), [b'data: {"a":1}\n\n\n', b"\n"]) == [b'{"a":1}']


def test_an_event_over_one_mib_is_refused() -> None:
    splitter = sse.EventSplitter()
    assert splitter.feed(b"data: " + b"x" * 600_000) == []
    with pytest.raises(UpstreamProtocolError) as err:
        splitter.feed(b"x" * 600_000)
    assert err.value.reason == "malformed_stream" and "1 MiB" in err.value.message


@pytest.mark.parametrize(
    "payload",
    [
        b'{"choices":[{"delta":{"content":"t1 "}}]}',
        b'{"a":1} ',
        b'\t{"a":1}',
        b'{"text":"\\u00e9\xc3\xa9"}',
        b'{"a": NaN}',
    ],
)
def test_check_payload_returns_what_json_loads_returns(payload: bytes) -> None:
    assert repr(sse.check_payload(payload)) == repr(json.loads(payload))


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        (b'{"choices": [tru', "malformed"),
        (b'{"a":1}{"b":2}', "malformed"),
        (b'{"a":1} x', "malformed"),
        (b"", "malformed"),
        (b'{"a":"\xff"}', "malformed"),
        (b"[1, 2]", "not a JSON object"),
        (b'"text"', "not a JSON object"),
    ],
)
def test_check_payload_refuses_what_is_not_one_json_object(payload: bytes, words: str) -> None:
    with pytest.raises(UpstreamProtocolError) as err:
        sse.check_payload(payload)
    assert err.value.reason == "malformed_stream" and words in err.value.message


def test_check_payload_done_is_none() -> None:
    assert sse.check_payload(b"[DONE]") is None


class Asgi:
    """An ASGI server's side of one response: records sends; the client never leaves."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.done = asyncio.Event()

    async def send(self, message: Any) -> None:
        self.sent.append(message)
        if message["type"] == "http.response.body" and not message["more_body"]:
            self.done.set()

    async def receive(self) -> Any:
        await self.done.wait()  # like uvicorn: http.disconnect once the response is complete
        return {"type": "http.disconnect"}

    def bodies(self) -> list[tuple[bytes, bool]]:
        return [(m["body"], m["more_body"]) for m in self.sent if m["type"] == "http.response.body"]


async def run_response(opened: Opened, rest: list[bytes], *, mark_last: bool) -> tuple[Asgi, list[str]]:
    log: list[str] = []

    async def produce() -> AsyncIterator[bytes]:
        for i, chunk in enumerate(rest):
            if mark_last and i == len(rest) - 1:
                opened.ended = True
            yield chunk
        await asyncio.sleep(0.01)  # clean-up after the last chunk (draining the upstream) still runs
        log.append("drained")

    async def finalize() -> None:
        log.append("finalized")

    opened.rest = produce()
    asgi = Asgi()
    watch = DisconnectWatch(asgi.receive)
    response = SSEResponse(opened, {"x-paddock-upstream": "primary"}, finalize, watch)
    await response({}, asgi.receive, asgi.send)
    return asgi, log


async def test_the_marked_last_chunk_carries_the_end_of_the_response() -> None:
    asgi, log = await run_response(Opened(first=b"data: 1\n\n"), [b"data: 2\n\n", sse.DONE], mark_last=True)
    assert asgi.sent[0]["type"] == "http.response.start" and asgi.sent[0]["status"] == 200
    assert asgi.bodies() == [(b"data: 1\n\n", True), (b"data: 2\n\n", True), (sse.DONE, False)]
    assert log == ["drained", "finalized"]


async def test_a_first_chunk_that_is_also_the_last_ends_the_response_at_once() -> None:
    asgi, log = await run_response(Opened(first=b"data: 1\n\n" + sse.DONE, ended=True), [], mark_last=False)
    assert asgi.bodies() == [(b"data: 1\n\n" + sse.DONE, False)]
    assert log == ["drained", "finalized"]


async def test_a_producer_that_marks_nothing_gets_a_separate_end() -> None:
    asgi, log = await run_response(Opened(first=b"data: 1\n\n"), [sse.DONE], mark_last=False)
    assert asgi.bodies() == [(b"data: 1\n\n", True), (sse.DONE, True), (b"", False)]
    assert log == ["drained", "finalized"]


@pytest.fixture
def gw(engine: FakeEngine, bedrock: FakeBedrock) -> Iterator[tuple[ServedApp, FakeEngine]]:
    fresh = FakeEngine().start()  # its own connection count
    app = create_app(settings(fresh.url, bedrock.url), signer=static_signer())
    try:
        with ServedApp(app) as served:
            yield served, fresh
    finally:
        assert fresh.server is not None
        fresh.server.stop()


def test_streams_reuse_the_upstream_connection_after_done(gw: tuple[ServedApp, FakeEngine]) -> None:
    served, engine = gw
    with httpx.Client(base_url=served.url, timeout=10) as c:
        for _ in range(3):
            r = c.post("/v1/chat/completions", json=body("pinned", "tokens:4", stream=True))
            events = sse_events(r)
            assert stream_text(events) == "t0 t1 t2 t3 " and events[-1] == "[DONE]"
    assert engine.server is not None and engine.server.connections == 1


def test_usage_chunk_is_forwarded_before_done(gw: tuple[ServedApp, FakeEngine]) -> None:
    served, _ = gw
    req = body("pinned", "tokens:2", stream=True, stream_options={"include_usage": True})
    events = sse_events(httpx.post(f"{served.url}/v1/chat/completions", json=req, timeout=10))
    assert events[-1] == "[DONE]" and events[-2]["choices"] == []
    assert events[-2]["usage"] == {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}


async def _good_then_error_in_one_read(req: FakeRequest, w: Writer) -> bool:
    await w.start()
    ev = [json.dumps({"choices": [{"index": 0, "delta": {"content": t}}]}).encode() for t in ("a", "b")]
    await w.chunk(b"".join(b"data: " + e + b"\n\n" for e in ev))
    await w.chunk(
        b'data: {"choices":[{"index":0,"delta":{"content":"c"}}]}\n\ndata: {"error": {"message": "oom"}}\n\n'
    )
    await w.end()
    return True


def test_good_events_before_an_error_in_the_same_read_are_kept_then_one_error(bedrock: FakeBedrock) -> None:
    server = FakeServer(_good_then_error_in_one_read).start()
    app = create_app(settings(server.url, bedrock.url), signer=static_signer())
    try:
        with ServedApp(app) as served:
            r = httpx.post(f"{served.url}/v1/chat/completions", json=body("pinned", stream=True), timeout=10)
    finally:
        server.stop()
    events = sse_events(r)
    assert stream_text(events) == "abc"
    errs = errors_in(events)
    assert len(errs) == 1 and events[-1] is errs[0] and "oom" in errs[0]["error"]["message"]


def test_a_stall_after_the_first_byte_ends_with_one_idle_timeout_event(
    gw: tuple[ServedApp, FakeEngine],
) -> None:
    served, _ = gw
    with httpx.Client(base_url=served.url, timeout=10) as c:
        r = c.post("/v1/chat/completions", json=body("pinned", "fault:stall_after tokens:5", stream=True))
        events = sse_events(r)
        metrics = c.get("/metrics").text
    assert stream_text(events) == "t0 t1 "
    errs = errors_in(events)
    assert len(errs) == 1 and events[-1] is errs[0] and "stalled" in errs[0]["error"]["message"]
    assert (
        'paddock_gateway_upstream_errors_total{alias="pinned",reason="idle_timeout",upstream="primary"} 1.0'
        in metrics
    )


async def test_a_producer_that_raises_mid_stream_ends_with_one_error_event() -> None:
    log: list[str] = []
    opened = Opened(first=b"data: 1\n\n")

    async def produce() -> AsyncIterator[bytes]:
        yield b"data: 2\n\n"
        raise KeyError("a bug")

    async def finalize() -> None:
        log.append("finalized")

    opened.rest = produce()
    asgi = Asgi()
    response = SSEResponse(opened, {}, finalize, DisconnectWatch(asgi.receive))
    await response({}, asgi.receive, asgi.send)
    bodies = asgi.bodies()
    assert bodies[:2] == [(b"data: 1\n\n", True), (b"data: 2\n\n", True)]
    last, more = bodies[-1]
    assert not more and json.loads(last[6:])["error"]["code"] == "internal_error"
    assert log == ["finalized"] and opened.stats["error"] == "internal_error"


def _client_parse(forwarded: bytes) -> list[Any]:
    """What an SSE client (the openai library's decoder) reads: data lines of one event joined by LF."""
    out: list[Any] = []
    for raw in forwarded.split(b"\n\n"):
        if raw:
            lines = raw.split(b"\n")
            assert all(line.startswith(b"data: ") for line in lines), raw
            out.append(json.loads(b"\n".join(line[6:] for line in lines)))
    return out


@hsettings(max_examples=300, deadline=None)
@given(
    objs=st.lists(
        st.dictionaries(st.text(max_size=5), st.one_of(st.integers(), st.text(max_size=8)), max_size=3),
        min_size=1,
        max_size=5,
    ),
    indent=st.sampled_from([None, 0, 1, 2]),
    crlf=st.booleans(),
    cuts=st.lists(st.integers(min_value=1, max_value=400), max_size=6),
)
def test_any_events_split_anywhere_reach_the_client_as_the_same_objects(
    objs: list[dict[str, Any]], indent: int | None, crlf: bool, cuts: list[int]
) -> None:
    from serving.gateway.upstream import encode_batch

    sep = b"\r\n" if crlf else b"\n"
    stream = b""
    for obj in objs:
        text = json.dumps({"choices": [], **obj}, indent=indent).encode()
        stream += sep.join(b"data: " + line for line in text.split(b"\n")) + sep + sep
    stream += b"data: [DONE]" + sep + sep
    splitter, forwarded, done = sse.EventSplitter(), b"", False
    at = sorted({c for c in cuts if c < len(stream)})
    for a, b in zip([0, *at], [*at, len(stream)], strict=True):
        data, ended, error = encode_batch(splitter.feed(stream[a:b]))
        assert error is None and not done  # nothing after [DONE]
        forwarded, done = forwarded + data, ended
    splitter.close()
    assert done and forwarded.endswith(sse.DONE)
    assert _client_parse(forwarded[: -len(sse.DONE)]) == [{"choices": [], **o} for o in objs]
