"""The soak/fault driver shared by the bounded test and ``bench/gateway_soak.py``.

N concurrent streaming clients loop until a deadline, each request carrying a nonce and a fault marker.
Every count that matters can fail, and each is computed from independent records, not from one counter:

- ``lost``: nonces sent (recorded before the request goes out) that never got a classified answer, a
  request that hung past its own timeout included (a per-request ``wait_for``; it never aborts the run);
- ``duplicated``: a nonce answered twice, or seen twice by the fake Bedrock or the fake engine;
- ``malformed``: a stream that is not whole ``data:`` events of JSON ending in exactly one ``[DONE]`` or
  exactly one final error event, or an HTTP error without an OpenAI error body;
- ``pinned_leaks``: a pinned request seen by Bedrock or answered with ``x-paddock-upstream: bedrock``;
- ``wrong``: an answer other than the expected (outcome, upstream) for its alias and fault, unless the
  gateway's own headers or error event explain it by load (first-token or idle timeout, open circuit);
- text before an error event must be exactly what the engine sent before its fault (no token lost or
  repeated), and a complete answer exactly the full text.

The gateway's RSS and open fds are sampled after a warm-up and at the end (``probe``); growth beyond
``FD_SLACK`` fds is a violation. ``pinned-breaker`` is a pinned alias with a strict circuit breaker, so
circuits open and close during the run.
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

PRE_FAULTS = ["s429", "s500", "s503", "reset", "stall_before", "malformed_first", "empty_stream"]
MID_FAULTS = ["stall_after", "malformed", "truncate", "reset_after", "error_mid"]
WEIGHTS = {"ok": 40, "drip": 5, "multiline": 3, **{f: 3 for f in PRE_FAULTS}, **{f: 3 for f in MID_FAULTS}}
ALIASES = {"flex": 35, "pinned": 30, "pinned-breaker": 15, "dead": 10, "dead-pinned": 10}
TOKENS = 8
FULL_TEXT = "".join(f"t{i} " for i in range(TOKENS))
#: text the fake engine sends before each mid-stream fault
PREFIX = {"stall_after": "t0 t1 ", "malformed": "t0 t1 ", "reset_after": "t0 t1 ", "error_mid": "t0 t1 "}
PREFIX["truncate"] = FULL_TEXT
#: reasons (header or error event) that explain a deviation from the unloaded expectation
LOAD_REASONS = ("ttft_timeout", "circuit_open")
LOAD_WORDS = ("stalled", "no first token")
NONCE = re.compile(r"nonce:([0-9a-f]+)")
REQUEST_TIMEOUT = 30.0
FD_SLACK = 64
#: the last error message seen per upstream (diagnostics for reports)
LAST_ERRORS: dict[str, str] = {}


@dataclass
class SoakReport:
    sent: set[str] = field(default_factory=set)
    answered: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    by_upstream: Counter[str] = field(default_factory=Counter)
    violations: list[str] = field(default_factory=list)
    wrong: Counter[str] = field(default_factory=Counter)
    tolerated: Counter[str] = field(default_factory=Counter)
    malformed: int = 0
    pinned_leaks: int = 0
    duplicated: int = 0
    pinned_nonces: set[str] = field(default_factory=set)
    elapsed: float = 0.0
    start: tuple[float, int] = (0.0, 0)
    end: tuple[float, int] = (0.0, 0)
    """(RSS MiB, open fds) of the gateway after the warm-up and after the run."""

    @property
    def lost(self) -> int:
        return len(self.sent - set(self.answered))

    @property
    def finished(self) -> int:
        return sum(self.outcomes.values())


def expected(alias: str, fault: str) -> tuple[str, str]:
    """(outcome, upstream) the request should get when the machine is not overloaded."""
    pinned = "pinned" in alias
    if alias.startswith("dead"):
        return ("error", "primary") if pinned else ("complete", "bedrock")
    if fault in MID_FAULTS:
        return ("error", "primary")
    if fault in PRE_FAULTS:
        return ("error", "primary") if pinned else ("complete", "bedrock")
    return ("complete", "primary")


def _parse_stream(events: list[bytes]) -> tuple[list[Any], str | None]:
    """(payloads, problem): whole events of ``data: <json>`` or ``data: [DONE]``; multi-line joined."""
    parsed: list[Any] = []
    for ev in events:
        lines = ev.split(b"\n")
        if not all(line.startswith(b"data: ") for line in lines):
            return parsed, f"event without data: {ev[:60]!r}"
        payload = b"\n".join(line[6:] for line in lines)
        try:
            parsed.append("[DONE]" if payload == b"[DONE]" else json.loads(payload))
        except ValueError:
            return parsed, f"event is not JSON: {payload[:60]!r}"
    return parsed, None


def _check_stream(events: list[bytes], fault: str, upstream: str) -> tuple[str, str | None, str]:
    """Classify a 200 stream: (outcome, problem or None, error message or '')."""
    parsed, problem = _parse_stream(events)
    if problem:
        return "malformed", problem, ""
    errors = [p for p in parsed if isinstance(p, dict) and "error" in p]
    chunks = [p for p in parsed if isinstance(p, dict) and p.get("choices")]
    text = "".join((p["choices"][0]["delta"].get("content") or "") for p in chunks)
    want = "Hello from Claude" if upstream == "bedrock" else FULL_TEXT
    if not want.startswith(text):
        return "malformed", f"text {text[:40]!r} is not a prefix of the answer: lost or repeated tokens", ""
    if errors:
        if len(errors) != 1 or parsed[-1] is not errors[0] or "[DONE]" in parsed:
            return "malformed", f"{len(errors)} error events / not last / with [DONE]", ""
        message = str(errors[0]["error"].get("message"))
        LAST_ERRORS[upstream] = message
        prefix = PREFIX.get(fault)
        if upstream == "primary" and prefix is not None and text != prefix:
            if not any(w in message for w in LOAD_WORDS):
                return "malformed", f"text before the error {text!r}, engine sent {prefix!r}", message
        return "error", None, message
    if not parsed or parsed[-1] != "[DONE]" or parsed.count("[DONE]") != 1:
        return "malformed", "stream ended without exactly one [DONE]", ""
    if text != want:
        return "malformed", f"text mismatch ({len(text)} chars): lost tokens", ""
    return "complete", None, ""


async def _exchange(
    client: aiohttp.ClientSession, body: dict[str, Any], fault: str
) -> tuple[str, str, str | None, str]:
    """(outcome, upstream, problem, explanation) of one request."""
    async with client.post("/v1/chat/completions", json=body) as resp:
        upstream = resp.headers.get("x-paddock-upstream", "missing")
        reason = resp.headers.get("x-paddock-fallback-reason", "missing")
        if resp.status != 200:
            try:
                err = json.loads(await resp.read()).get("error")
            except ValueError:
                err = None
            if isinstance(err, dict) and "message" in err:
                return "error", upstream, None, f"{reason} {err['message']}"
            return "malformed", upstream, "HTTP error without an OpenAI error body", reason
        buf, events = b"", []
        async for chunk in resp.content.iter_any():
            buf += chunk
            *done, buf = buf.split(b"\n\n")
            events += done
        if buf:
            return "malformed", upstream, "trailing partial event", reason
        outcome, problem, message = _check_stream(events, fault, upstream)
        return outcome, upstream, problem, f"{reason} {message}"


async def _one(client: aiohttp.ClientSession, alias: str, fault: str, report: SoakReport) -> None:
    nonce = uuid.uuid4().hex
    pinned = "pinned" in alias
    if pinned:
        report.pinned_nonces.add(nonce)
    body = {
        "model": alias,
        "stream": True,
        "fallbacks": ["flex"],
        "messages": [{"role": "user", "content": f"fault:{fault} tokens:{TOKENS} nonce:{nonce}"}],
    }
    report.sent.add(nonce)
    try:
        outcome, upstream, problem, why = await asyncio.wait_for(
            _exchange(client, body, fault), REQUEST_TIMEOUT
        )
    except TimeoutError:
        return  # never answered: counted as lost from ``sent`` - ``answered``
    except (aiohttp.ClientError, ValueError) as exc:
        outcome, upstream, problem, why = "malformed", "none", f"client saw {type(exc).__name__}", ""
    report.answered[nonce] += 1
    report.outcomes[outcome] += 1
    report.by_upstream[upstream] += 1
    if pinned and upstream == "bedrock":
        report.pinned_leaks += 1
        report.violations.append(f"pinned {alias} answered by bedrock")
    if problem:
        report.malformed += 1
        report.violations.append(f"{alias}/{fault}: {problem}")
        return
    want = expected(alias, fault)
    if (outcome, upstream) != want:
        key = f"{alias}/{fault}: got {outcome}/{upstream}, expected {want[0]}/{want[1]}"
        explained = any(r in why for r in LOAD_REASONS) or any(w in why for w in LOAD_WORDS)
        (report.tolerated if explained else report.wrong)[key] += 1


def nonces_of(hits: list[Any]) -> list[str]:
    """The nonce of every request a fake received (one entry per hit)."""
    return [m.group(1) for h in hits for m in [NONCE.search(h.body.decode())] if m]


def _probe_none() -> tuple[float, int]:
    return (0.0, 0)


async def run_soak(
    base_url: str,
    bedrock_nonces: Callable[[], list[str]],
    *,
    streams: int,
    seconds: float,
    seed: int = 7,
    engine_nonces: Callable[[], list[str]] | None = None,
    probe: Callable[[], tuple[float, int]] = _probe_none,
    warmup: float = 0.5,
) -> SoakReport:
    """Drive ``streams`` concurrent clients for ``warmup`` + ``seconds`` against the gateway at ``base_url``;
    ``bedrock_nonces``/``engine_nonces`` return the nonces the fakes saw (leaks and duplicates), ``probe``
    the gateway's (RSS MiB, open fds)."""
    report = SoakReport()
    rng = random.Random(seed)
    faults, fw = list(WEIGHTS), list(WEIGHTS.values())
    aliases, aw = list(ALIASES), list(ALIASES.values())
    start = time.monotonic()
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=None)
    async with aiohttp.ClientSession(base_url=base_url, connector=connector, timeout=timeout) as client:

        async def worker(until: float) -> None:
            while time.monotonic() < until:
                await _one(client, rng.choices(aliases, aw)[0], rng.choices(faults, fw)[0], report)

        await asyncio.gather(*(worker(start + warmup) for _ in range(streams)))
        report.start = probe()
        deadline = time.monotonic() + seconds
        tasks = [asyncio.ensure_future(worker(deadline)) for _ in range(streams)]
        _, stuck = await asyncio.wait(tasks, timeout=seconds + REQUEST_TIMEOUT + 5)
        for task in stuck:  # a worker that never returned: its request stays unanswered (lost)
            task.cancel()
        await asyncio.sleep(0.2)  # let the gateway release what the last requests held
        report.end = probe()
    report.elapsed = time.monotonic() - start
    _check_fakes(report, bedrock_nonces(), engine_nonces() if engine_nonces else [])
    if report.lost:
        report.violations.append(f"{report.lost} requests never answered")
    if report.wrong:
        report.violations.append(f"{sum(report.wrong.values())} wrong answers not explained by load")
    if report.end[1] > report.start[1] + FD_SLACK:
        report.violations.append(f"gateway fds grew from {report.start[1]} to {report.end[1]}")
    return report


def _check_fakes(report: SoakReport, bedrock: list[str], engine: list[str]) -> None:
    seen = Counter(bedrock)
    leaked = [n for n in report.pinned_nonces if n in seen]
    if leaked:
        report.pinned_leaks += len(leaked)
        report.violations.append(f"{len(leaked)} pinned requests reached bedrock")
    twice = {n for counts in (seen, Counter(engine), report.answered) for n, k in counts.items() if k > 1}
    if twice:
        report.duplicated = len(twice)
        report.violations.append(f"{len(twice)} requests sent or answered more than once")


def soak_routes(
    engine_url: str, bedrock_url: str, dead_url: str, *, ttft: float, idle: float
) -> dict[str, Any]:
    """routes.yaml of the soak: flex/pinned/pinned-breaker on the fake engine, dead/dead-pinned refused."""
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
    strict = {"failureThreshold": 3, "cooldownSeconds": 0.2}
    dead = {"url": dead_url, "model": "m"}
    return {
        "aliases": {
            "flex": {"primary": primary, "fallback": fb, "timeouts": timeouts, "breaker": lenient},
            "pinned": {"primary": primary, "fallback": "none", "timeouts": timeouts, "breaker": lenient},
            "pinned-breaker": {
                "primary": primary,
                "fallback": "none",
                "timeouts": timeouts,
                "breaker": strict,
            },
            "dead": {"primary": dead, "fallback": fb, "timeouts": timeouts},
            "dead-pinned": {"primary": dead, "fallback": "none", "timeouts": timeouts},
        }
    }
