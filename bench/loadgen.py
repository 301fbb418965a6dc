"""A lean load generator for the gateway benches: raw asyncio HTTP/1.1 keep-alive streams (no client library
overhead in the measurement). Each worker holds one connection and loops for a fixed time, recording per
request the time to the first body chunk (TTFT, s) and to the end of the stream (s)."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass
class Samples:
    ttft: list[float] = field(default_factory=list)
    total: list[float] = field(default_factory=list)
    errors: int = 0
    elapsed: float = 0.0

    def pct(self, which: str, q: float) -> float:
        data = sorted(getattr(self, which))
        return data[min(len(data) - 1, int(q * len(data)))] if data else float("nan")

    @property
    def rps(self) -> float:
        return len(self.total) / self.elapsed if self.elapsed else 0.0


async def _read_stream(reader: asyncio.StreamReader, t0: float, s: Samples) -> bool:
    head = await reader.readuntil(b"\r\n\r\n")
    ok = head.startswith(b"HTTP/1.1 200")
    headers = head.lower()
    if b"transfer-encoding: chunked" not in headers:
        length = int(headers.split(b"content-length:")[1].split(b"\r\n")[0])
        await reader.readexactly(length)
        return False
    first = True
    while True:
        size = int((await reader.readuntil(b"\r\n")).strip(), 16)
        if first and size:
            s.ttft.append(time.perf_counter() - t0)
            first = False
        await reader.readexactly(size + 2)
        if size == 0:
            return ok


async def run_load(url: str, body: dict[str, object], *, concurrency: int, seconds: float) -> Samples:
    """POST ``body`` (streaming) to ``url`` from ``concurrency`` connections for ``seconds``."""
    parts = urlsplit(url)
    payload = json.dumps(body).encode()
    request = (
        f"POST {parts.path} HTTP/1.1\r\nhost: {parts.netloc}\r\ncontent-type: application/json\r\n"
        f"authorization: Bearer bench\r\ncontent-length: {len(payload)}\r\n\r\n"
    ).encode() + payload
    s = Samples()
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        try:
            while time.perf_counter() < deadline:
                t0 = time.perf_counter()
                writer.write(request)
                if await _read_stream(reader, t0, s):
                    s.total.append(time.perf_counter() - t0)
                else:
                    s.errors += 1
        finally:
            writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    s.elapsed = time.perf_counter() - start
    return s
