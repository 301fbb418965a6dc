"""``paddock gateway --config routes.yaml [--host H] [--port N] [--admin-port N]``: run the gateway.

The same routes.yaml the platform stack renders into the gateway's ConfigMap. A config problem exits 2 with
one message naming each bad key. Bedrock credentials come from the default AWS chain (env, profile, IRSA).
``--admin-port`` serves ``/metrics`` (and the probes) on a second port of the same server, so the API
port never shows which aliases are pinned; point Prometheus at it and leave it out of the Service.
"""

from __future__ import annotations

import gc
import socket
from typing import Any

import click
from starlette.applications import Starlette

from serving.gateway import create_app, load_routes
from serving.gateway.logs import configure


def build(config_path: str, log_level: str = "info", admin_port: int | None = None) -> Starlette:
    """Load and validate ``config_path`` and build the ASGI app (raises RoutesConfigError, exit 2)."""
    settings = load_routes(config_path)
    configure(log_level.upper())
    return create_app(settings, admin_port=admin_port)


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def startup_line(app: Any, host: str, port: int, admin_port: int | None) -> str:
    """What an operator sees at start: the address, each alias with its fallback, where /metrics is."""
    aliases = app.state.gateway.aliases
    shown = ", ".join(
        f"{name} ({'pinned' if state.route.pinned else 'fallback: bedrock'})"
        for name, state in sorted(aliases.items())
    )
    metrics = (
        f"http://{host}:{admin_port}/metrics" if admin_port is not None else f"http://{host}:{port}/metrics"
    )
    return f"paddock gateway on http://{host}:{port}/v1 · aliases: {shown} · metrics: {metrics}"


@click.command(name="gateway", help="Run the OpenAI-compatible fallback gateway locally.")
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False), help="routes.yaml")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535), help="TCP port.")
@click.option(
    "--log-level",
    default="info",
    show_default=True,
    type=click.Choice(["debug", "info", "warning", "error"]),
    help="Request log level (JSON lines).",
)
@click.option(
    "--admin-port",
    default=None,
    envvar="PADDOCK_GATEWAY_ADMIN_PORT",
    type=click.IntRange(1, 65535),
    help="Serve /metrics on this port only (and /readyz, /healthz on both). Env: PADDOCK_GATEWAY_ADMIN_PORT.",
)
def command(config_path: str, host: str, port: int, log_level: str, admin_port: int | None) -> None:
    import uvicorn

    if admin_port == port:
        raise click.BadParameter("must differ from --port", param_hint="--admin-port")
    app = build(config_path, log_level, admin_port)
    # everything alive now (modules, settings, the app) lives as long as the process: keep it out of the
    # cyclic collector's scans, which otherwise revisit it on every older-generation pass under load
    gc.collect()
    gc.freeze()
    from serving.gateway.server import bounded_httptools

    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        # httptools, with the request head bounded before the app sees it (431)
        http=bounded_httptools(app.state.gateway.settings.max_header_bytes),
        log_level="warning",
        access_log=False,
        proxy_headers=False,  # nothing reads the client address; saves a middleware hop per request
        backlog=4096,
        timeout_graceful_shutdown=10,
    )
    click.echo(startup_line(app, host, port, admin_port), err=True)
    if admin_port is None:
        uvicorn.Server(config).run()
        return
    # one server, two listening sockets: the app tells them apart by the local port (scope["server"])
    uvicorn.Server(config).run(sockets=[_listen(host, port), _listen(host, admin_port)])
