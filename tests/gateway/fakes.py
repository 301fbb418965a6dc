"""Loopback fakes that speak the real protocols: an OpenAI-compatible engine (HTTP + SSE) and Bedrock
runtime (Converse JSON; ConverseStream ``application/vnd.amazon.eventstream`` framed by moto's encoder).

Each runs a tiny HTTP/1.1 server on 127.0.0.1 in its own thread and event loop, so tests and the
bench scripts share them. Behaviour is chosen per request by a marker in the last user message
(``fault:<name>``), so one server serves a whole random workload and every answer is predictable.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from moto.core.eventstream import EventStreamEncoder

MARKER = re.compile(r"fault:([a-z_0-9]+)")
TOKENS = re.compile(r"tokens:(\d+)")


@dataclass
class FakeRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Writer:
    """Response helpers over an asyncio StreamWriter (HTTP/1.1, keep-alive, chunked streams)."""

    def __init__(self, w: asyncio.StreamWriter, r: asyncio.StreamReader | None = None) -> None:
        self.w, self.r = w, r

    async def client_left(self, within: float) -> bool:
        """True when the peer closes the connection within ``within`` seconds (the request was aborted)."""
        assert self.r is not None
        try:
            return await asyncio.wait_for(self.r.read(1), within) == b""
        except (TimeoutError, ConnectionError):
            return False

    async def send(
        self, status: int, body: bytes, ctype: str = "application/json", headers: dict[str, str] | None = None
    ) -> None:
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        head = f"HTTP/1.1 {status} X\r\ncontent-type: {ctype}\r\ncontent-length: {len(body)}\r\n{extra}\r\n"
        self.w.write(head.encode() + body)
        await self.w.drain()

    async def start(self, status: int = 200, ctype: str = "text/event-stream") -> None:
        self.w.write(
            f"HTTP/1.1 {status} X\r\ncontent-type: {ctype}\r\ntransfer-encoding: chunked\r\n\r\n".encode()
        )
        await self.w.drain()

    async def chunk(self, data: bytes) -> None:
        self.w.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        await self.w.drain()

    async def end(self) -> None:
        self.w.write(b"0\r\n\r\n")
        await self.w.drain()

    def abort(self) -> None:
        self.w.transport.abort()


Handler = Callable[[FakeRequest, Writer], Awaitable[bool]]
"""Returns True to keep the connection alive."""


class FakeServer:
    """A minimal HTTP/1.1 server on 127.0.0.1:<random port> in a background thread."""

    def __init__(self, handler: Handler, port: int = 0) -> None:
        self.handler = handler
        self.loop = asyncio.new_event_loop()
        self.port = port
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        #: TCP connections accepted so far (keep-alive reuse shows as fewer connections than requests)
        self.connections = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeServer:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("fake server did not start")
        return self

    def stop(self) -> None:
        async def _close() -> None:
            assert self._server is not None
            self._server.close()
            for w in list(self._writers):
                w.transport.abort()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(_close(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        self.loop.close()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self._server = self.loop.run_until_complete(
            asyncio.start_server(self._conn, "127.0.0.1", self.port, backlog=4096)
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        self.loop.run_forever()

    async def _conn(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.add(writer)
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                method, path, _ = line.decode().split(" ", 2)
                headers: dict[str, str] = {}
                while (h := await reader.readline()) not in (b"\r\n", b""):
                    k, _, v = h.decode().partition(":")
                    headers[k.strip().lower()] = v.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                if not await self.handler(FakeRequest(method, path, headers, body), Writer(writer, reader)):
                    break
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()


def marker(body: dict[str, Any]) -> str:
    """The ``fault:<name>`` in the last user message ('ok' when none)."""
    text = _last_user_text(body)
    found = MARKER.search(text)
    return found.group(1) if found else "ok"


def _last_user_text(body: dict[str, Any]) -> str:
    for m in reversed(body.get("messages") or []):
        if m.get("role") == "user":
            c = m.get("content")
            if isinstance(c, str):
                return c
            if isinstance(c, list):
                return "".join(p.get("text", "") for p in c if isinstance(p, dict))
    return ""


def n_tokens(body: dict[str, Any], default: int = 5) -> int:
    found = TOKENS.search(_last_user_text(body))
    return int(found.group(1)) if found else default


def token(i: int) -> str:
    return f"t{i} "


@dataclass
class FakeEngine:
    """An OpenAI-compatible engine. ``fault:<name>`` picks a behaviour; ``tokens:<n>`` the answer length."""

    delay: float = 0.0
    """Seconds between streamed tokens."""
    stall: float = 5.0
    """Seconds a stall lasts (longer than the gateway's timeouts in tests)."""
    queue_depth: float = 0.0
    hits: list[FakeRequest] = field(default_factory=list)
    aborted: list[str] = field(default_factory=list)
    """Requests (``fault:hold``) whose connection the gateway closed before any answer: work cancelled."""
    record: bool = True
    server: FakeServer | None = None

    def start(self, port: int = 0) -> FakeEngine:
        self.server = FakeServer(self.handle, port).start()
        return self

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.url

    async def handle(self, req: FakeRequest, w: Writer) -> bool:
        if req.path == "/metrics":
            text = "# TYPE vllm:num_requests_waiting gauge\n"
            text += f'vllm:num_requests_waiting{{model_name="m"}} {self.queue_depth}\n'
            await w.send(200, text.encode(), "text/plain")
            return True
        if self.record:
            self.hits.append(req)
        body = req.json()
        fault = marker(body)
        if fault == "reset":
            w.abort()
            return False
        if fault in ("s429", "s500", "s503", "s400"):
            code = int(fault[1:])
            await w.send(
                code,
                json.dumps({"error": {"message": f"engine {code}", "type": "x", "code": code}}).encode(),
                headers={"retry-after": "7"} if code == 429 else None,
            )
            return True
        if fault == "hold":  # answer nothing; record whether the gateway gave up on the request
            if await w.client_left(self.stall):
                self.aborted.append(_last_user_text(body))
                return False
        if fault == "huge":
            pad = "x" * 2_000_000
            await w.send(200, json.dumps({"choices": [], "pad": pad}).encode())
            return True
        if fault == "empty_stream":
            await w.start()
            await w.end()
            return True
        if fault == "stall_before":
            await asyncio.sleep(self.stall)
        if not body.get("stream"):
            return await self._complete(body, w)
        return await self._stream(body, fault, w)

    async def _complete(self, body: dict[str, Any], w: Writer) -> bool:
        n = n_tokens(body)
        await asyncio.sleep(self.delay * n)
        out = {
            "id": "cmpl-fake",
            "object": "chat.completion",
            "created": 1,
            "model": body["model"],
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "".join(token(i) for i in range(n))},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 3, "completion_tokens": n, "total_tokens": 3 + n},
        }
        await w.send(200, json.dumps(out).encode())
        return True

    def _event(self, body: dict[str, Any], delta: dict[str, Any], finish: str | None = None) -> bytes:
        chunk = {
            "id": "cmpl-fake",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": body["model"],
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        return b"data: " + json.dumps(chunk).encode() + b"\n\n"

    async def _stream(self, body: dict[str, Any], fault: str, w: Writer) -> bool:
        n = n_tokens(body)
        await w.start()
        if fault == "malformed_first":
            await w.chunk(b"data: {not json\n\n")
            await w.end()
            return True
        await w.chunk(self._event(body, {"role": "assistant", "content": ""}))
        for i in range(n):
            if self.delay:
                await asyncio.sleep(self.delay)
            if i == 2 and fault == "stall_after":
                await asyncio.sleep(self.stall)
            if i == 2 and fault == "malformed":
                await w.chunk(b'data: {"choices": [tru\n\n')
                await w.end()
                return True
            if i == 2 and fault == "reset_after":
                w.abort()
                return False
            if i == 2 and fault == "error_mid":
                await w.chunk(b'data: {"error": {"message": "engine died", "code": 500}}\n\n')
                await w.end()
                return True
            ev = self._event(body, {"content": token(i)})
            if i == 2 and fault == "comments":  # keep-alive bytes only, forever: idle by events
                while True:
                    await w.chunk(b": keep-alive\n\n")
                    await asyncio.sleep(0.1)
            if fault == "endless":  # an event every 0.1 s, never ending: the stream deadline
                while True:
                    await w.chunk(ev)
                    await asyncio.sleep(0.1)
            if fault == "multiline":  # one event's JSON over several data: lines (valid SSE)
                text = json.dumps(json.loads(ev[6:]), indent=1).encode()
                ev = b"data: " + text.replace(b"\n", b"\ndata: ") + b"\n\n"
            if fault == "drip":
                for b in range(0, len(ev), 7):
                    await w.chunk(ev[b : b + 7])
                    await asyncio.sleep(0.002)
            else:
                await w.chunk(ev)
        if fault == "truncate":
            await w.end()
            return True
        await w.chunk(self._event(body, {}, "stop"))
        if (body.get("stream_options") or {}).get("include_usage"):
            usage = {
                "id": "cmpl-fake",
                "object": "chat.completion.chunk",
                "created": 1,
                "model": body["model"],
                "choices": [],
                "usage": {"prompt_tokens": 3, "completion_tokens": n, "total_tokens": 3 + n},
            }
            await w.chunk(b"data: " + json.dumps(usage).encode() + b"\n\n")
        await w.chunk(b"data: [DONE]\n\n")
        await w.end()
        return True


def frame(event: str, payload: dict[str, Any], *, exception: bool = False) -> bytes:
    """One ``application/vnd.amazon.eventstream`` message, CRCs by moto's encoder."""
    kind = ":exception-type" if exception else ":event-type"
    headers = {
        kind: event,
        ":content-type": "application/json",
        ":message-type": "exception" if exception else "event",
    }
    out: bytes = EventStreamEncoder().encode_message(headers, json.dumps(payload).encode())
    return out


@dataclass
class FakeBedrock:
    """Bedrock runtime: ``POST /model/{id}/converse`` and ``/converse-stream``. Records every hit."""

    hits: list[FakeRequest] = field(default_factory=list)
    delay: float = 0.0
    server: FakeServer | None = None
    text: str = "Hello from Claude"

    def start(self) -> FakeBedrock:
        self.server = FakeServer(self.handle).start()
        return self

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.url

    async def handle(self, req: FakeRequest, w: Writer) -> bool:
        self.hits.append(req)
        body = req.json()
        fault = marker(body)
        if fault == "bedrock_throttle":
            await w.send(
                429,
                b'{"message":"Too many requests, please wait before trying again."}',
                headers={"x-amzn-ErrorType": "ThrottlingException:http://internal.amazon.com/"},
            )
            return True
        if fault == "bedrock_denied":
            await w.send(
                403,
                b'{"message":"You don\'t have access to the model"}',
                headers={"x-amzn-ErrorType": "AccessDeniedException:http://internal.amazon.com/"},
            )
            return True
        if fault == "bedrock_corrupt":
            await w.start(200, "application/vnd.amazon.eventstream")
            await w.chunk(b"\x00\x00\x00\x20garbage-that-is-not-a-frame-at-all!!")
            await w.end()
            return True
        if req.path.endswith("/converse"):
            await w.send(200, json.dumps(self.converse(body, fault)).encode())
            return True
        await w.start(200, "application/vnd.amazon.eventstream")
        for f in self.stream_frames(body, fault):
            if self.delay:
                await asyncio.sleep(self.delay)
            await w.chunk(f)
        await w.end()
        return True

    def usage(self, body: dict[str, Any], n: int) -> dict[str, int]:
        inp = len(json.dumps(body.get("messages")))
        return {"inputTokens": inp, "outputTokens": n, "totalTokens": inp + n}

    def converse(self, body: dict[str, Any], fault: str) -> dict[str, Any]:
        if fault == "bedrock_tool":
            tool = body["toolConfig"]["tools"][0]["toolSpec"]["name"]
            content = [
                {"text": "Let me check."},
                {"toolUse": {"toolUseId": "tooluse_1", "name": tool, "input": {"city": "Berlin"}}},
            ]
            return {
                "output": {"message": {"role": "assistant", "content": content}},
                "stopReason": "tool_use",
                "usage": self.usage(body, 7),
                "metrics": {"latencyMs": 5},
            }
        return {
            "output": {"message": {"role": "assistant", "content": [{"text": self.text}]}},
            "stopReason": "end_turn",
            "usage": self.usage(body, 4),
            "metrics": {"latencyMs": 5},
        }

    def stream_frames(self, body: dict[str, Any], fault: str) -> list[bytes]:
        if fault == "bedrock_exception_first":
            return [frame("throttlingException", {"message": "slow down"}, exception=True)]
        out = [frame("messageStart", {"role": "assistant"})]
        if fault == "bedrock_tool":
            tool = body["toolConfig"]["tools"][0]["toolSpec"]["name"]
            out += [
                frame(
                    "contentBlockStart",
                    {"contentBlockIndex": 0, "start": {"toolUse": {"toolUseId": "tooluse_1", "name": tool}}},
                ),
                frame(
                    "contentBlockDelta",
                    {"contentBlockIndex": 0, "delta": {"toolUse": {"input": '{"city": '}}},
                ),
                frame(
                    "contentBlockDelta",
                    {"contentBlockIndex": 0, "delta": {"toolUse": {"input": '"Berlin"}'}}},
                ),
                frame("contentBlockStop", {"contentBlockIndex": 0}),
                frame("messageStop", {"stopReason": "tool_use"}),
            ]
        else:
            words = [w + " " for w in self.text.split(" ")]
            words[-1] = words[-1].rstrip()
            out += [frame("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": w}}) for w in words]
            if fault == "bedrock_exception_mid":
                return out + [
                    frame("modelStreamErrorException", {"message": "model stream failed"}, exception=True)
                ]
            out += [
                frame("contentBlockStop", {"contentBlockIndex": 0}),
                frame("messageStop", {"stopReason": "end_turn"}),
            ]
        out.append(frame("metadata", {"usage": self.usage(body, 4), "metrics": {"latencyMs": 5}}))
        return out


def closed_port_url() -> str:
    """A loopback URL nothing listens on (connection refused)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}/v1"


def bound_socket() -> socket.socket:
    """A TCP socket bound to a free loopback port (uvicorn listens on it)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


class ServedApp:
    """An ASGI app served by uvicorn on 127.0.0.1:<random port> in a background thread."""

    def __init__(self, app: Any, extra_sockets: tuple[socket.socket, ...] = (), **config: Any) -> None:
        self.sock = bound_socket()
        self.port = self.sock.getsockname()[1]
        sockets = [self.sock, *extra_sockets]
        config = uvicorn.Config(
            app, log_level="warning", lifespan="on", backlog=4096, timeout_graceful_shutdown=1, **config
        )
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self.server.serve(sockets=sockets)), daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ServedApp:
        self._thread.start()
        for _ in range(500):
            if self.server.started:
                return self
            threading.Event().wait(0.01)
        raise RuntimeError("uvicorn did not start")

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self._thread.join(10)


def main() -> None:
    """``python -m tests.gateway.fakes --delay S --stall S``: serve a fake engine and a fake Bedrock until
    killed; prints ``{"engine": url, "bedrock": url}`` as one JSON line (used by the bench scripts)."""
    import argparse
    import sys

    parser = argparse.ArgumentParser()
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--stall", type=float, default=5.0)
    args = parser.parse_args()
    engine = FakeEngine(delay=args.delay, stall=args.stall, record=False).start()
    bedrock = FakeBedrock().start()
    print(json.dumps({"engine": engine.url, "bedrock": bedrock.url}), flush=True)
    for line in sys.stdin:  # one line per command: "hits" prints Bedrock's recorded bodies' nonces
        if line.strip() == "hits":
            nonces = [
                m.group(1)
                for h in bedrock.hits
                for m in [re.search(r"nonce:([0-9a-f]+)", h.body.decode())]
                if m
            ]
            print(json.dumps(nonces), flush=True)


if __name__ == "__main__":
    main()
