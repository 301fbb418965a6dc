"""Soak/fault bench: 1,000 concurrent streams for 60 s through a real ``paddock gateway`` process.

Processes: the fakes (engine + Bedrock, ``python -m tests.gateway.fakes``), the gateway
(``python -m scripts.cli gateway``), and this load generator. Faults injected per request: refused
(dead aliases), 429, 5xx, reset, stall before / after the first byte, malformed SSE (first event and mid-
stream), truncation, mid-stream error events, slow drip. Prints the outcome table and every invariant:
each request ends complete or with exactly one well-formed error (the text before it exactly what the
engine sent), none lost, duplicated or malformed, answers as expected unless the gateway's own headers
explain the deviation by load, pinned aliases (one with a strict breaker) never reach Bedrock, and the
gateway's RSS and open fds after the warm-up and at the end (fd growth fails the run).
Usage: ``uv run python bench/gateway_soak.py [--streams 1000] [--seconds 60]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.gateway.fakes import closed_port_url  # noqa: E402
from tests.gateway.soak import LAST_ERRORS, run_soak, soak_routes  # noqa: E402


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def start_gateway(routes: dict[str, object], port: int, workdir: str) -> subprocess.Popen[bytes]:
    cfg = Path(workdir) / "routes.yaml"
    cfg.write_text(yaml.safe_dump(routes))
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "x",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "scripts.cli",
            "gateway",
            "--config",
            str(cfg),
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    for _ in range(200):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.05)
    raise RuntimeError("gateway did not start")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--streams", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--ttft", type=float, default=3.0)
    args = ap.parse_args()
    fakes = subprocess.Popen(
        [sys.executable, "-m", "tests.gateway.fakes", "--delay", "0.01", "--stall", str(args.ttft + 2)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert fakes.stdout is not None and fakes.stdin is not None
    urls = json.loads(fakes.stdout.readline())
    port = int(closed_port_url().rsplit(":", 1)[1].split("/")[0])
    with tempfile.TemporaryDirectory() as tmp:
        gw = start_gateway(
            soak_routes(urls["engine"], urls["bedrock"], closed_port_url(), ttft=args.ttft, idle=args.ttft),
            port,
            tmp,
        )

        def bedrock_nonces() -> list[str]:
            fakes.stdin.write("hits\n")  # type: ignore[union-attr]
            fakes.stdin.flush()  # type: ignore[union-attr]
            return list(json.loads(fakes.stdout.readline()))  # type: ignore[union-attr]

        try:
            report = asyncio.run(
                run_soak(
                    f"http://127.0.0.1:{port}",
                    bedrock_nonces,
                    streams=args.streams,
                    seconds=args.seconds,
                    probe=lambda: (rss_mib(gw.pid), fds(gw.pid)),
                    warmup=2.0,
                )
            )
        finally:
            gw.terminate()
            fakes.terminate()
            gw.wait(10)
            fakes.wait(10)
    print(f"soak: {args.streams} concurrent streams for {args.seconds:.0f} s (ran {report.elapsed:.1f} s)")
    print(f"  requests sent {len(report.sent)}, finished {report.finished}, lost {report.lost}")
    print(
        f"  duplicated {report.duplicated}, malformed {report.malformed}, pinned leaks {report.pinned_leaks}"
    )
    print(f"  outcomes {dict(report.outcomes)}; by upstream {dict(report.by_upstream)}")
    (rss0, fd0), (rss1, fd1) = report.start, report.end
    print(f"  gateway RSS {rss0:.1f} -> {rss1:.1f} MiB, open fds {fd0} -> {fd1} (after warm-up -> end)")
    print(f"  violations: {len(report.violations)}")
    for v in report.violations[:20]:
        print(f"    - {v}")
    for label, counts in (("wrong (unexplained)", report.wrong), ("explained by load", report.tolerated)):
        off = sum(counts.values())
        print(f"  answers other than the unloaded expectation, {label}: {off}")
        for k, n in counts.most_common(8):
            print(f"    {n:6d}  {k}")
    print(f"  last error events: {LAST_ERRORS}")
    sys.exit(1 if report.violations else 0)


if __name__ == "__main__":
    main()
