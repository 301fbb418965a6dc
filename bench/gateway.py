"""Gateway bench, made fair: direct to a fake engine vs Paddock vs LiteLLM vs Portkey's gateway.

Setup (bench/gateway_peers.py): every gateway is pinned to core 0 and started on its documented production
settings; this process (the load generator, bench/loadgen.py) and the fake engines (tests/gateway/fakes.py,
own processes) run on core 1. Scenarios: streaming at concurrency 1/10/100 with no upstream delay and with
10 ms per chunk, non-streaming at 100. Repetitions are interleaved (each round runs every scenario, each
scenario every path in a rotated order), every answer's text and ``[DONE]`` are checked, and the machine's
load is recorded per measurement (CPU used by processes that are not part of the bench).

Reported per scenario and path (medians over rounds): added TTFB p50/p99 against direct (time to the first
body byte as the client sees it; never the gateway's own pre-upstream timer), throughput, gateway CPU
seconds per 1000 requests, peak RSS, errors by kind.

Usage: ``uv run python bench/gateway.py [--rounds 2] [--seconds 4] [--tokens 20] [--only paddock,litellm]``
(peers that are not installed are skipped and said so; see bench/gateway_peers.py to install them).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import gateway_peers as peers  # noqa: E402
from loadgen import Samples, run_load  # noqa: E402

from tests.gateway.fakes import closed_port_url  # noqa: E402

SCENARIOS = [  # (name, engine, stream, concurrency)
    ("stream c=1", "fast", True, 1),
    ("stream c=10", "fast", True, 10),
    ("stream c=100", "fast", True, 100),
    ("paced 10ms c=1", "paced", True, 1),
    ("paced 10ms c=10", "paced", True, 10),
    ("paced 10ms c=100", "paced", True, 100),
    ("non-stream c=100", "fast", False, 100),
]
CLK = os.sysconf("SC_CLK_TCK")


@dataclass
class Run:
    samples: Samples
    cpu_per_1000: float | None
    rss_peak: float | None
    foreign_cpu: float
    """CPU seconds per second used during the run by processes outside the bench (other work)."""


@dataclass
class Path_:
    name: str
    url: str
    pid: int | None
    headers: dict[str, str] = field(default_factory=dict)
    model: dict[str, str] = field(default_factory=dict)
    """engine kind -> model name to send."""


def free_port() -> int:
    return int(closed_port_url().rsplit(":", 1)[1].split("/")[0])


def tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        for task in Path(f"/proc/{p}/task").iterdir():
            kids = task / "children"
            todo += [int(c) for c in kids.read_text().split()] if kids.exists() else []
    return out


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / CLK


def rss_mib(pids: list[int]) -> float:
    total = 0
    for p in pids:
        for line in Path(f"/proc/{p}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total / 1024


def machine_busy() -> float:
    """CPU seconds all cores spent busy since boot (/proc/stat)."""
    v = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(v) - v[3] - v[4]) / CLK


def measure(p: Path_, scenario: tuple[str, str, bool, int], args: argparse.Namespace, ours: list[int]) -> Run:
    _, engine, stream, conc = scenario
    body = {
        "model": p.model[engine],
        "stream": stream,
        "messages": [{"role": "user", "content": f"hi tokens:{args.tokens}"}],
    }
    expected = "".join(f"t{i} " for i in range(args.tokens))
    gw = tree(p.pid) if p.pid is not None else []
    peak, stop = [0.0], threading.Event()

    def sample() -> None:
        while gw and not stop.wait(0.25):
            peak[0] = max(peak[0], rss_mib(gw))

    def load(seconds: float) -> Samples:
        run = run_load(p.url, body, concurrency=conc, seconds=seconds, expected=expected, headers=p.headers)
        return asyncio.run(run)

    load(1)  # warm-up
    t = threading.Thread(target=sample, daemon=True)
    t.start()
    mine = gw + ours
    busy0, own0 = machine_busy(), cpu_seconds(mine) + cpu_seconds([os.getpid()])
    gw0 = cpu_seconds(gw)
    s = load(args.seconds)
    busy1, own1 = machine_busy(), cpu_seconds(mine) + cpu_seconds([os.getpid()])
    stop.set()
    t.join()
    n = len(s.total) + sum(s.errors.values())
    cpu = (cpu_seconds(gw) - gw0) / max(1, n) * 1000 if gw else None
    foreign = max(0.0, (busy1 - busy0) - (own1 - own0)) / s.elapsed
    return Run(s, cpu, peak[0] if gw else None, foreign)


def start_paths(
    engines: dict[str, str], only: set[str], workdir: Path
) -> tuple[list[Path_], list[subprocess.Popen[bytes]]]:
    names = {"fast": "bench-fast", "paced": "bench-paced"}
    paths = [
        Path_("direct", f"{engines['fast']}/v1/chat/completions", None, model={"fast": "m", "paced": "m"})
    ]
    procs: list[subprocess.Popen[bytes]] = []
    missing = peers.available()
    by_name = {names[k]: v for k, v in engines.items()}
    if "paddock" in only:
        port = free_port()
        procs.append(peers.start_paddock(by_name, port, workdir))
        paths.append(
            Path_("paddock", f"http://127.0.0.1:{port}/v1/chat/completions", procs[-1].pid, model=names)
        )
    if "litellm" in only:
        if missing["litellm"]:
            print(f"litellm skipped: {missing['litellm']}")
        else:
            port = free_port()
            procs.append(peers.start_litellm(by_name, port, workdir))
            paths.append(
                Path_("litellm", f"http://127.0.0.1:{port}/v1/chat/completions", procs[-1].pid, model=names)
            )
    if "portkey" in only:
        if missing["portkey"]:
            print(f"portkey skipped: {missing['portkey']}")
        else:
            port = free_port()
            procs.append(peers.start_portkey(port))
            paths.append(
                Path_(
                    "portkey",
                    f"http://127.0.0.1:{port}/v1/chat/completions",
                    procs[-1].pid,
                    model={"fast": "m", "paced": "m"},
                )
            )
    return paths, procs


def portkey_headers(engine: str) -> dict[str, str]:
    return {"x-portkey-provider": "openai", "x-portkey-custom-host": f"{engine}/v1"}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=4)
    ap.add_argument("--tokens", type=int, default=20)
    ap.add_argument("--only", default="paddock,litellm,portkey")
    ap.add_argument("--scenarios", default="", help="comma-separated scenario names (default: all)")
    args = ap.parse_args()
    if (os.cpu_count() or 1) > peers.LOAD_CORE:
        os.sched_setaffinity(0, {peers.LOAD_CORE})  # the fakes started below inherit it
    fakes, engines = [], {}
    for kind, delay in (("fast", 0.0), ("paced", 0.01)):
        cmd = [sys.executable, "-m", "tests.gateway.fakes", "--delay", str(delay)]
        fake = subprocess.Popen(cmd, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert fake.stdout is not None
        engines[kind] = json.loads(fake.stdout.readline())["engine"]
        fakes.append(fake)
    scenarios = [s for s in SCENARIOS if not args.scenarios or s[0] in args.scenarios.split(",")]
    results: dict[tuple[str, str], list[Run]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        paths, procs = start_paths(engines, set(args.only.split(",")), Path(tmp))
        ours = [f.pid for f in fakes]
        try:
            for rnd in range(args.rounds):
                for i, sc in enumerate(scenarios):
                    order = paths[(rnd + i) % len(paths) :] + paths[: (rnd + i) % len(paths)]
                    for p in order:
                        if p.name == "portkey":
                            p.headers = portkey_headers(engines[sc[1]])
                        elif p.name == "direct":
                            p.url = f"{engines[sc[1]]}/v1/chat/completions"
                        results.setdefault((sc[0], p.name), []).append(measure(p, sc, args, ours))
                        print(f"  round {rnd + 1} {sc[0]:<18} {p.name:<8} done", file=sys.stderr)
        finally:
            for proc in procs:
                proc.terminate()
            for engine_proc in fakes:
                engine_proc.terminate()
    report(results, scenarios, [p.name for p in paths], args)


def _added(run: Run, direct: Run, q: float) -> float:
    """TTFB quantile ``q`` of ``run`` minus direct's in the same round (ms)."""
    return (run.samples.pct("ttfb", q) - direct.samples.pct("ttfb", q)) * 1e3


def report(
    results: dict[tuple[str, str], list[Run]],
    scenarios: list[tuple[str, str, bool, int]],
    names: list[str],
    args: argparse.Namespace,
) -> None:
    med = statistics.median
    print(
        f"gateway bench: {args.rounds} interleaved rounds x {args.seconds:.0f} s per measurement, "
        f"{args.tokens} tokens; gateways pinned to core {peers.GATEWAY_CORE}, load generator + fake engines "
        f"on core {peers.LOAD_CORE} ({os.cpu_count()} CPUs); medians over rounds; TTFB in ms"
    )
    print(
        f"{'scenario':<18} {'path':<8} {'req/s':>8} {'TTFB p50':>9} {'p99':>8} {'added p50':>10} "
        f"{'added p99':>10} {'CPU s/1k':>9} {'RSS MiB':>8} {'errors':>7} {'other load':>10}"
    )
    for sc in scenarios:
        direct = results.get((sc[0], "direct"), [])
        for name in names:
            runs = results.get((sc[0], name), [])
            if not runs:
                continue
            p50 = med(r.samples.pct("ttfb", 0.5) for r in runs) * 1e3
            p99 = med(r.samples.pct("ttfb", 0.99) for r in runs) * 1e3
            add50 = add99 = "-"
            if name != "direct" and direct:
                pairs = list(zip(runs, direct, strict=False))
                add50 = f"{med(_added(r, d, 0.5) for r, d in pairs):+.2f}"
                add99 = f"{med(_added(r, d, 0.99) for r, d in pairs):+.2f}"
            cpu = [r.cpu_per_1000 for r in runs if r.cpu_per_1000 is not None]
            rss = [r.rss_peak for r in runs if r.rss_peak]
            errors = sum(sum(r.samples.errors.values()) for r in runs)
            kinds = ",".join(sorted({k for r in runs for k in r.samples.errors}))
            rps = med(r.samples.rps for r in runs)
            cpu_s = f"{med(cpu):.2f}" if cpu else "-"
            rss_s = f"{max(rss):.0f}" if rss else "-"
            err_s = f"{errors}" + (f" {kinds}" if kinds else "")
            other = max(r.foreign_cpu for r in runs)
            print(
                f"{sc[0]:<18} {name:<8} {rps:8.1f} {p50:9.2f} {p99:8.2f} {add50:>10} {add99:>10} "
                f"{cpu_s:>9} {rss_s:>8} {err_s:>7} {other:9.2f}c"
            )


if __name__ == "__main__":
    main()
