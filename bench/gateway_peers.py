"""The peers of the gateway bench, each installed outside the project's dependencies (``.bench/``,
git-ignored) and started on its documented production settings, pinned to the gateway core.

- LiteLLM proxy, pinned: ``uv venv .bench/litellm-venv && uv pip install -p .bench/litellm-venv
  'litellm[proxy]==1.82.6'`` (never 1.82.7/1.82.8). One worker (``--num_workers 1``: one core, like the
  others), ``LITELLM_LOG=ERROR``, local cost map, telemetry off.
- Portkey's gateway, ``@portkey-ai/gateway`` 1.15.2 from npm with its direct dependencies pinned (npm
  ``overrides``) to the versions of its own ``package-lock.json`` (``PORTKEY_PINS``): with a plain install
  npm resolves ``@hono/node-server`` 1.19.x, and every Portkey stream then fails with a 500.
  ``python bench/gateway_peers.py portkey`` installs it into ``.bench/portkey``. Started as its docs say
  (``node build/start-server.js``) with ``--headless`` and ``NODE_ENV=production``; requests name the
  upstream with ``x-portkey-provider: openai`` and ``x-portkey-custom-host``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import yaml

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / ".bench"
LITELLM_VENV = BENCH / "litellm-venv"
PORTKEY_DIR = BENCH / "portkey"
PORTKEY_VERSION = "1.15.2"
#: direct dependencies of @portkey-ai/gateway 1.15.2 at the versions in its repository's package-lock.json
#: (github.com/Portkey-AI/gateway, package-lock.json at commit 669825cb, 2026-05-25, package version 1.15.2)
PORTKEY_PINS = {
    "@aws-crypto/sha256-js": "5.2.0",
    "@cfworker/json-schema": "4.0.3",
    "@hono/node-server": "1.13.5",
    "@hono/node-ws": "1.2.0",
    "@portkey-ai/mustache": "2.1.3",
    "@smithy/signature-v4": "2.1.1",
    "@types/mustache": "4.2.5",
    "async-retry": "1.3.3",
    "avsc": "5.7.7",
    "hono": "4.9.7",
    "ioredis": "5.8.0",
    "jose": "6.0.11",
    "patch-package": "8.0.1",
    "ws": "8.18.3",
    "zod": "3.25.76",
}
GATEWAY_CORE, LOAD_CORE = 0, 1


def pin_to(core: int) -> Callable[[], None]:
    """A ``preexec_fn`` that pins the child to ``core`` (when the machine has it)."""

    def pin() -> None:
        if core < (os.cpu_count() or 1):
            os.sched_setaffinity(0, {core})

    return pin


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


def start(cmd: list[str], env: dict[str, str], cwd: Path, health: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        cmd,
        cwd=cwd,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=pin_to(GATEWAY_CORE),  # noqa: PLW1509 - no threads in the bench at this point
    )
    try:
        wait_http(health)
    except RuntimeError:
        proc.terminate()
        raise
    return proc


def start_paddock(engines: dict[str, str], port: int, workdir: Path) -> subprocess.Popen[bytes]:
    """``paddock gateway`` as the chart runs it (log level warning, uvloop + httptools); one pinned alias
    per fake engine."""
    routes = {
        name: {"primary": {"url": f"{url}/v1", "model": "m"}, "fallback": "none"}
        for name, url in engines.items()
    }
    cfg = workdir / "routes.yaml"
    cfg.write_text(yaml.safe_dump({"aliases": routes}))
    cmd = [sys.executable, "-m", "scripts.cli", "gateway", "--config", str(cfg), "--port", str(port)]
    return start([*cmd, "--log-level", "warning"], {}, ROOT, f"http://127.0.0.1:{port}/healthz")


def start_litellm(engines: dict[str, str], port: int, workdir: Path) -> subprocess.Popen[bytes]:
    models = [
        {
            "model_name": name,
            "litellm_params": {"model": "openai/m", "api_base": f"{url}/v1", "api_key": "none"},
        }
        for name, url in engines.items()
    ]
    cfg = workdir / "litellm.yaml"
    settings = {"drop_params": True, "telemetry": False, "set_verbose": False}
    cfg.write_text(yaml.safe_dump({"model_list": models, "litellm_settings": settings}))
    env = {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_LOG": "ERROR"}
    cmd = [str(LITELLM_VENV / "bin" / "litellm"), "--config", str(cfg), "--port", str(port)]
    health = f"http://127.0.0.1:{port}/health/liveliness"
    return start([*cmd, "--host", "127.0.0.1", "--num_workers", "1"], env, workdir, health)


def start_portkey(port: int) -> subprocess.Popen[bytes]:
    script = PORTKEY_DIR / "node_modules" / "@portkey-ai" / "gateway" / "build" / "start-server.js"
    cmd = ["node", str(script), f"--port={port}", "--headless"]
    return start(cmd, {"NODE_ENV": "production"}, PORTKEY_DIR, f"http://127.0.0.1:{port}/")


def available() -> dict[str, str | None]:
    """Each peer: None when installed, else why its rows are skipped."""
    return {
        "litellm": None if (LITELLM_VENV / "bin" / "litellm").exists() else f"no {LITELLM_VENV}/bin/litellm",
        "portkey": None
        if (PORTKEY_DIR / "node_modules" / "@portkey-ai" / "gateway").exists()
        else f"no {PORTKEY_DIR} (python bench/gateway_peers.py portkey)",
    }


def install_portkey() -> None:
    """npm install of @portkey-ai/gateway with its lock file's direct dependency versions."""
    PORTKEY_DIR.mkdir(parents=True, exist_ok=True)
    package = {
        "name": "paddock-bench-portkey",
        "private": True,
        "dependencies": {"@portkey-ai/gateway": PORTKEY_VERSION},
        "overrides": PORTKEY_PINS,
    }
    (PORTKEY_DIR / "package.json").write_text(json.dumps(package, indent=2) + "\n")
    cmd = ["npm", "install", "--no-audit", "--no-fund", "--ignore-scripts", "--omit=dev"]
    subprocess.run(cmd, cwd=PORTKEY_DIR, check=True)
    listed = subprocess.run(
        ["npm", "ls", "--depth=1", "--json"], cwd=PORTKEY_DIR, capture_output=True, text=True, check=False
    )
    deps = json.loads(listed.stdout)["dependencies"]["@portkey-ai/gateway"].get("dependencies", {})
    wrong = {
        n: d.get("version")
        for n, d in deps.items()
        if n in PORTKEY_PINS and d.get("version") != PORTKEY_PINS[n]
    }
    if wrong:
        raise SystemExit(f"npm did not honour the lock-file pins: {wrong}")
    print(f"installed @portkey-ai/gateway {PORTKEY_VERSION} in {PORTKEY_DIR} with {len(PORTKEY_PINS)} pins")


if __name__ == "__main__":
    if sys.argv[1:] == ["portkey"]:
        install_portkey()
    else:
        raise SystemExit("usage: python bench/gateway_peers.py portkey")
