"""Gateway overhead bench: direct to a fake engine vs through Paddock vs through LiteLLM proxy.

Same machine, same load generator (bench/loadgen.py: raw keep-alive HTTP/1.1 streams), same fake upstream
(tests/gateway/fakes.py, its own process: streams N tokens with a fixed delay between them). Prints
requests/s, TTFT and end-to-end latency p50/p99 per path, what each gateway adds over direct, each gateway's
peak RSS while the streams are open, its CPU time per streamed request, and Paddock's own pre-upstream time
histogram. LiteLLM runs from a throwaway venv outside the project's dependencies (default
``.bench/litellm-venv``, git-ignored), created with:

    uv venv .bench/litellm-venv && uv pip install -p .bench/litellm-venv 'litellm[proxy]==1.82.6'

(never 1.82.7/1.82.8). Without it the LiteLLM row is skipped, and the bench says so.

Usage: ``uv run python bench/gateway.py [--concurrency 100] [--seconds 15] [--tokens 20] [--delay 0.02]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from loadgen import Samples, run_load  # noqa: E402

from tests.gateway.fakes import closed_port_url  # noqa: E402


@dataclass
class Result:
    samples: Samples
    rss_mib: float | None = None
    cpu_per_request_s: float | None = None


def free_port() -> int:
    return int(closed_port_url().rsplit(":", 1)[1].split("/")[0])


def _pids(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children")
    return [pid] + ([int(p) for p in children.read_text().split()] if children.exists() else [])


def rss_mib(pid: int) -> float:
    """RSS of a process and its direct children (MiB)."""
    total = 0
    for p in _pids(pid):
        for line in Path(f"/proc/{p}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total / 1024


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and its direct children (from /proc/<pid>/stat)."""
    total = 0.0
    for p in _pids(pid):
        fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def wait_http(url: str, seconds: float = 120) -> None:
    end = time.time() + seconds
    while time.time() < end:
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


def measure(url: str, body: dict[str, object], args: argparse.Namespace, pid: int | None) -> Result:
    peak = [0.0]
    stop = threading.Event()

    def sample() -> None:
        while pid is not None and not stop.wait(0.5):
            peak[0] = max(peak[0], rss_mib(pid))

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    asyncio.run(run_load(url, body, concurrency=args.concurrency, seconds=2))  # warm-up
    before = cpu_seconds(pid) if pid is not None else 0.0
    s = asyncio.run(run_load(url, body, concurrency=args.concurrency, seconds=args.seconds))
    cpu = (cpu_seconds(pid) - before) / max(1, len(s.total)) if pid is not None else None
    stop.set()
    t.join()
    return Result(s, peak[0] if pid is not None else None, cpu)


def start_paddock(engine: str, workdir: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    cfg = Path(workdir) / "routes.yaml"
    route = {"primary": {"url": f"{engine}/v1", "model": "m"}, "fallback": "none"}
    cfg.write_text(yaml.safe_dump({"aliases": {"bench": route}}))
    cmd = [sys.executable, "-m", "scripts.cli", "gateway", "--config", str(cfg), "--port", str(port)]
    proc = subprocess.Popen([*cmd, "--log-level", "warning"], cwd=ROOT)
    wait_http(f"http://127.0.0.1:{port}/healthz")
    return proc, f"http://127.0.0.1:{port}"


def start_litellm(venv: Path, engine: str, workdir: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    cfg = Path(workdir) / "litellm.yaml"
    params = {"model": "openai/m", "api_base": f"{engine}/v1", "api_key": "none"}
    cfg.write_text(
        yaml.safe_dump(
            {
                "model_list": [{"model_name": "bench", "litellm_params": params}],
                "litellm_settings": {"drop_params": True, "telemetry": False},
            }
        )
    )
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_LOG": "ERROR"}
    cmd = [str(venv / "bin" / "litellm"), "--config", str(cfg), "--port", str(port), "--host", "127.0.0.1"]
    proc = subprocess.Popen(
        [*cmd, "--num_workers", "1"],
        cwd=workdir,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_http(f"http://127.0.0.1:{port}/health/liveliness")
    return proc, f"http://127.0.0.1:{port}"


def share_under(metrics: str, le: float) -> float:
    """Percent of requests whose ``paddock_gateway_added_latency_seconds`` is <= ``le`` seconds."""
    count = under = 0.0
    for line in metrics.splitlines():
        if line.startswith("paddock_gateway_added_latency_seconds_bucket") and f'le="{le}"' in line:
            under += float(line.rsplit(" ", 1)[1])
        if line.startswith("paddock_gateway_added_latency_seconds_count"):
            count += float(line.rsplit(" ", 1)[1])
    return 100 * under / count if count else float("nan")


def report(results: dict[str, Result], args: argparse.Namespace, pre_upstream: str) -> None:
    print(
        f"gateway bench: {args.concurrency} concurrent streams x {args.seconds:.0f} s, "
        f"{args.tokens} tokens every "
        f"{args.delay * 1e3:.1f} ms; fake upstream, gateway and load generator in separate processes "
        f"on {os.cpu_count()} CPUs"
    )
    print(
        f"{'path':<9} {'req/s':>8} {'ttft p50':>9} {'ttft p99':>9} {'e2e p50':>9} {'e2e p99':>9} "
        f"{'errors':>6} "
        f"{'RSS MiB':>8} {'CPU/req ms':>10}"
    )
    for name, r in results.items():
        s = r.samples
        rss = f"{r.rss_mib:8.1f}" if r.rss_mib else f"{'-':>8}"
        cpu = f"{r.cpu_per_request_s * 1e3:10.3f}" if r.cpu_per_request_s is not None else f"{'-':>10}"
        print(
            f"{name:<9} {s.rps:8.1f} {s.pct('ttft', 0.5) * 1e3:9.2f} {s.pct('ttft', 0.99) * 1e3:9.2f} "
            f"{s.pct('total', 0.5) * 1e3:9.2f} {s.pct('total', 0.99) * 1e3:9.2f} {s.errors:6d} {rss} {cpu}"
        )
    d = results["direct"].samples
    for name in ("paddock", "litellm"):
        if name in results:
            s = results[name].samples
            print(
                f"{name}: added TTFT p50 {(s.pct('ttft', 0.5) - d.pct('ttft', 0.5)) * 1e3:+.2f} ms, p99 "
                f"{(s.pct('ttft', 0.99) - d.pct('ttft', 0.99)) * 1e3:+.2f} ms; added e2e p50 "
                f"{(s.pct('total', 0.5) - d.pct('total', 0.5)) * 1e3:+.2f} ms, p99 "
                f"{(s.pct('total', 0.99) - d.pct('total', 0.99)) * 1e3:+.2f} ms"
            )
    print(
        f"paddock pre-upstream time (own histogram): {share_under(pre_upstream, 0.001):.1f} % of requests "
        f"<= 1 ms, "
        f"{share_under(pre_upstream, 0.005):.1f} % <= 5 ms"
    )
    if "litellm" in results:
        ratio = results["paddock"].samples.rps / results["litellm"].samples.rps
        cpu = (results["litellm"].cpu_per_request_s or 0) / (results["paddock"].cpu_per_request_s or 1)
        print(f"throughput paddock / litellm: {ratio:.1f}x; CPU per request litellm / paddock: {cpu:.1f}x")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--concurrency", type=int, default=100)
    ap.add_argument("--seconds", type=float, default=15)
    ap.add_argument("--tokens", type=int, default=20)
    ap.add_argument("--delay", type=float, default=0.02)
    ap.add_argument("--litellm", type=Path, default=Path(".bench/litellm-venv"))
    args = ap.parse_args()
    fakes = subprocess.Popen(
        [sys.executable, "-m", "tests.gateway.fakes", "--delay", str(args.delay)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert fakes.stdout is not None
    engine = json.loads(fakes.stdout.readline())["engine"]
    body = {
        "model": "bench",
        "stream": True,
        "messages": [{"role": "user", "content": f"hi tokens:{args.tokens}"}],
    }
    results: dict[str, Result] = {}
    procs: list[subprocess.Popen[bytes]] = []
    try:
        results["direct"] = measure(f"{engine}/v1/chat/completions", {**body, "model": "m"}, args, None)
        with tempfile.TemporaryDirectory() as tmp:
            gw, url = start_paddock(engine, tmp)
            procs.append(gw)
            results["paddock"] = measure(f"{url}/v1/chat/completions", body, args, gw.pid)
            pre_upstream = httpx.get(f"{url}/metrics").text
            gw.terminate()
            if not (args.litellm / "bin" / "litellm").exists():
                print(f"litellm row skipped: no {args.litellm}/bin/litellm (see this file's docstring)")
            else:
                ll, url = start_litellm(args.litellm, engine, tmp)
                procs.append(ll)
                results["litellm"] = measure(f"{url}/v1/chat/completions", body, args, ll.pid)
                ll.terminate()
    finally:
        for p in procs:
            p.terminate()
        fakes.terminate()
    report(results, args, pre_upstream)


if __name__ == "__main__":
    main()
