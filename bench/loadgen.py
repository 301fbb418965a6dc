"""A lean load generator for the gateway benches: raw asyncio HTTP/1.1 keep-alive requests (no client
library overhead in the measurement). Each worker holds one connection and loops for a fixed time,
recording per request the time to the first body byte (TTFB, s) and to the end of the answer (s).

Every answer is checked, not just counted: a stream must carry exactly the expected text (the ``content``
fields joined, found by one regex pass so the check costs little on the load core) and end with
``data: [DONE]``; a non-streaming answer must be a 200 carrying the text. Anything else is an error of the
kind it is (``status``, ``content``, ``done``, ``io``)."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlsplit

CONTENT = re.compile(rb'"content":\s*"([^"]*)"')


@dataclass
class Samples:
    ttfb: list[float] = field(default_factory=list)
    total: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    elapsed: float = 0.0

    def pct(self, which: str, q: float) -> float:
        data = sorted(getattr(self, which))
        return data[min(len(data) - 1, int(q * len(data)))] if data else float("nan")

    @property
    def rps(self) -> float:
        return len(self.total) / self.elapsed if self.elapsed else 0.0


def _verdict(status_ok: bool, body: bytes, expected: str, stream: bool) -> str | None:
    if not status_ok:
        return "status"
    text = b"".join(CONTENT.findall(body)).decode()
    if text != expected:
        return "content"
    if stream and not body.rstrip().endswith(b"data: [DONE]"):
        return "done"
    return None


async def _read_answer(reader: asyncio.StreamReader, t0: float, s: Samples) -> tuple[bool, bytes]:
    """(status 200, body); records the TTFB (first body byte)."""
    head = await reader.readuntil(b"\r\n\r\n")
    ok = head.startswith(b"HTTP/1.1 200")
    headers = head.lower()
    if b"transfer-encoding: chunked" not in headers:
        length = int(headers.split(b"content-length:")[1].split(b"\r\n")[0])
        body = await reader.readexactly(length)
        s.ttfb.append(time.perf_counter() - t0)
        return ok, body
    chunks: list[bytes] = []
    first = True
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0].strip(), 16)
        if first and size:
            s.ttfb.append(time.perf_counter() - t0)
            first = False
        data = await reader.readexactly(size + 2)
        if size == 0:
            return ok, b"".join(chunks)
        chunks.append(data[:-2])


async def run_load(
    url: str,
    body: dict[str, object],
    *,
    concurrency: int,
    seconds: float,
    expected: str,
    headers: dict[str, str] | None = None,
) -> Samples:
    """POST ``body`` to ``url`` from ``concurrency`` connections for ``seconds``; every answer must carry
    ``expected`` as its text."""
    parts = urlsplit(url)
    payload = json.dumps(body).encode()
    extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    request = (
        f"POST {parts.path} HTTP/1.1\r\nhost: {parts.netloc}\r\ncontent-type: application/json\r\n"
        f"authorization: Bearer bench\r\n{extra}content-length: {len(payload)}\r\n\r\n"
    ).encode() + payload
    stream = bool(body.get("stream"))
    s = Samples()
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port, limit=1 << 22)
        try:
            while time.perf_counter() < deadline:
                t0 = time.perf_counter()
                writer.write(request)
                ok, answer = await _read_answer(reader, t0, s)
                problem = _verdict(ok, answer, expected, stream)
                if problem is None:
                    s.total.append(time.perf_counter() - t0)
                else:
                    s.errors[problem] += 1
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
            s.errors["io"] += 1
        finally:
            writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    s.elapsed = time.perf_counter() - start
    return s
