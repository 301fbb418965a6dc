"""The soak/fault driver shared by the bounded test and ``bench/gateway_soak.py``.

N concurrent streaming clients loop until a deadline, each request carrying a nonce and a fault marker. Every
answer is classified while it streams: ``complete`` (events then ``[DONE]``, the exact expected text, no
error) or ``error`` (an HTTP error with an OpenAI error body, or a 200 stream whose last and only error event
ends it). Anything else is a violation, as is a pinned request seen by Bedrock, a nonce answered twice, or a
request that never ends.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from tests.gateway.fakes import FakeBedrock

PRE_FAULTS = ["s429", "s500", "s503", "reset", "stall_before", "malformed_first"]
MID_FAULTS = ["stall_after", "malformed", "truncate", "reset_after", "error_mid"]
WEIGHTS = {"ok": 40, "drip": 5, **{f: 3 for f in PRE_FAULTS}, **{f: 3 for f in MID_FAULTS}}
ALIASES = {"flex": 40, "pinned": 40, "dead": 10, "dead-pinned": 10}
TOKENS = 8
NONCE = re.compile(r"nonce:([0-9a-f]+)")
#: the last error message seen per upstream (diagnostics for reports)
LAST_ERRORS: dict[str, str] = {}


@dataclass
class SoakReport:
    sent: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    by_upstream: Counter[str] = field(default_factory=Counter)
    violations: list[str] = field(default_factory=list)
    unexpected: Counter[str] = field(default_factory=Counter)
    pinned_nonces: set[str] = field(default_factory=set)
    elapsed: float = 0.0

    @property
    def finished(self) -> int:
        return sum(self.outcomes.values())


def expected(alias: str, fault: str) -> tuple[str, str]:
    """(outcome, upstream) the request should get when the machine is not overloaded."""
    pinned = alias.endswith("pinned")
    if alias.startswith("dead"):
        return ("error", "primary") if pinned else ("complete", "bedrock")
    if fault in MID_FAULTS:
        return ("error", "primary")
    if fault in PRE_FAULTS:
        return ("error", "primary") if pinned else ("complete", "bedrock")
    return ("complete", "primary")


def _check_stream(events: list[bytes], fault: str, upstream: str) -> tuple[str, str | None]:
    """Classify a 200 stream; returns (outcome, violation or None)."""
    parsed: list[Any] = []
    for ev in events:
        if not ev.startswith(b"data: "):
            return "bad", f"event without data: {ev[:60]!r}"
        payload = ev[6:]
        parsed.append("[DONE]" if payload == b"[DONE]" else json.loads(payload))
    errors = [p for p in parsed if isinstance(p, dict) and "error" in p]
    text = "".join(
        (p["choices"][0]["delta"].get("content") or "")
        for p in parsed
        if isinstance(p, dict) and p.get("choices")
    )
    if errors:
        if len(errors) != 1 or parsed[-1] is not errors[0] or "[DONE]" in parsed:
            return "bad", f"{len(errors)} error events / not last / with [DONE]"
        LAST_ERRORS[upstream] = str(errors[0]["error"].get("message"))
        return "error", None
    if not parsed or parsed[-1] != "[DONE]" or parsed.count("[DONE]") != 1:
        return "bad", "stream ended without exactly one [DONE]"
    want = "Hello from Claude" if upstream == "bedrock" else "".join(f"t{i} " for i in range(TOKENS))
    if text != want:
        return "bad", f"text mismatch ({len(text)} chars): lost or duplicated tokens"
    return "complete", None


async def _one(client: aiohttp.ClientSession, alias: str, fault: str, report: SoakReport) -> None:
    nonce = uuid.uuid4().hex
    if alias.endswith("pinned"):
        report.pinned_nonces.add(nonce)
    body = {
        "model": alias,
        "stream": True,
        "fallbacks": ["flex"],
        "messages": [{"role": "user", "content": f"fault:{fault} tokens:{TOKENS} nonce:{nonce}"}],
    }
    report.sent += 1
    try:
        async with client.post("/v1/chat/completions", json=body) as resp:
            upstream = resp.headers.get("x-paddock-upstream", "missing")
            report.by_upstream[upstream] += 1
            if alias.endswith("pinned") and upstream == "bedrock":
                report.violations.append(f"pinned {alias} answered by bedrock")
            if resp.status != 200:
                err = json.loads(await resp.read()).get("error")
                outcome = "error" if isinstance(err, dict) and "message" in err else "bad"
                problem = None if outcome == "error" else "HTTP error without an OpenAI error body"
            else:
                buf, events = b"", []
                async for chunk in resp.content.iter_any():
                    buf += chunk
                    *done, buf = buf.split(b"\n\n")
                    events += done
                outcome, problem = (
                    ("bad", "trailing partial event") if buf else _check_stream(events, fault, upstream)
                )
    except (aiohttp.ClientError, ValueError) as exc:
        outcome, problem, upstream = "bad", f"client saw {type(exc).__name__}", "none"
    report.outcomes[outcome] += 1
    if problem:
        report.violations.append(f"{alias}/{fault}: {problem}")
    want = expected(alias, fault)
    if (outcome, upstream) != want:
        report.unexpected[f"{alias}/{fault}: got {outcome}/{upstream}, expected {want[0]}/{want[1]}"] += 1


def nonces_of(bedrock: FakeBedrock) -> list[str]:
    """The nonce of every request the in-process fake Bedrock received (one entry per hit)."""
    return [m.group(1) for h in bedrock.hits for m in [NONCE.search(h.body.decode())] if m]


async def run_soak(
    base_url: str, bedrock_nonces: Callable[[], list[str]], *, streams: int, seconds: float, seed: int = 7
) -> SoakReport:
    """Drive ``streams`` concurrent clients for ``seconds`` against the gateway at ``base_url``;
    ``bedrock_nonces`` returns the nonces the fake Bedrock saw (checked for pinned leaks and duplicates)."""
    report = SoakReport()
    rng = random.Random(seed)
    faults, fw = list(WEIGHTS), list(WEIGHTS.values())
    aliases, aw = list(ALIASES), list(ALIASES.values())
    deadline = time.monotonic() + seconds
    timeout = aiohttp.ClientTimeout(total=30.0)
    start = time.monotonic()
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(base_url=base_url, connector=connector, timeout=timeout) as client:

        async def worker() -> None:
            while time.monotonic() < deadline:
                await _one(client, rng.choices(aliases, aw)[0], rng.choices(faults, fw)[0], report)

        await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(streams))), timeout=seconds + 60)
    report.elapsed = time.monotonic() - start
    counts = Counter(bedrock_nonces())
    leaked = [n for n in report.pinned_nonces if n in counts]
    if leaked:
        report.violations.append(f"{len(leaked)} pinned requests reached bedrock")
    dups = [n for n, k in counts.items() if k > 1]
    if dups:
        report.violations.append(f"{len(dups)} requests sent to bedrock more than once")
    return report


def soak_routes(
    engine_url: str, bedrock_url: str, dead_url: str, *, ttft: float, idle: float
) -> dict[str, Any]:
    """routes.yaml of the soak: flex/pinned on the fake engine, dead/dead-pinned on a refused port."""
    timeouts = {"connectSeconds": 1, "firstTokenSeconds": ttft, "idleSeconds": idle, "totalSeconds": 30}
    fb = {
        "bedrock": {
            "model": "eu.anthropic.claude-sonnet-4-5-20250929-v1:0",
            "region": "eu-central-1",
            "endpoint": bedrock_url,
        }
    }
    primary = {"url": f"{engine_url}/v1", "model": "m"}
    lenient = {"failureThreshold": 1_000_000}
    dead = {"url": dead_url, "model": "m"}
    return {
        "aliases": {
            "flex": {"primary": primary, "fallback": fb, "timeouts": timeouts, "breaker": lenient},
            "pinned": {"primary": primary, "fallback": "none", "timeouts": timeouts, "breaker": lenient},
            "dead": {"primary": dead, "fallback": fb, "timeouts": timeouts},
            "dead-pinned": {"primary": dead, "fallback": "none", "timeouts": timeouts},
        }
    }
