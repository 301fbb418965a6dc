"""The Pulumi program of Paddock (see stacks/README.md).

Importing ``pulumi`` needs a usable asyncio event loop in the importing thread (its gRPC setup asks for
one); a process that ran and closed a loop before (an async test, a CLI) would fail with "There is no current
event loop". Every ``stacks`` module imports Pulumi, so the package makes sure one exists first.
"""

from __future__ import annotations

import asyncio


def ensure_event_loop() -> None:
    """Install a fresh event loop when the thread has none or its loop is closed."""
    try:
        loop: asyncio.AbstractEventLoop | None = asyncio.get_event_loop()
    except RuntimeError:
        loop = None
    if loop is None or loop.is_closed():
        asyncio.set_event_loop(asyncio.new_event_loop())


ensure_event_loop()
