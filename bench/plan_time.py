"""Time ``paddock plan`` per stack: one-off imports, then sizing + mock run (+ files and helm template).

Run: ``uv run python bench/plan_time.py [--repeat N]``. Prints one row per stack: first render in the
process, best of N warm renders (render_stack: sizing + Pulumi mock run) and best of N full plans
(render_plan: + files, ``helm template`` of our chart). Figures depend on the machine; bytecode caching
matters for the one-off import (``PYTHONDONTWRITEBYTECODE=1`` makes every process recompile pulumi_aws).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--stacks", nargs="*", default=["dev", "prod-eu", "ephemeral"])
    args = parser.parse_args()
    started = time.perf_counter()
    from stacks import offline, program  # noqa: F401  (pulumi, pulumi_aws, pulumi_kubernetes, sizing)

    imported = time.perf_counter() - started
    print(f"imports: {imported:.2f} s (one-off per process)")
    print(f"{'stack':<10} {'resources':>9} {'first s':>8} {'warm s':>7} {'plan+files s':>13}")
    with tempfile.TemporaryDirectory() as scratch:
        for stack in args.stacks:
            t0 = time.perf_counter()
            first = offline.render_stack(stack)
            first_s = time.perf_counter() - t0
            warm = []
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                offline.render_stack(stack)
                warm.append(time.perf_counter() - t0)
            full = []
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                offline.render_plan(stack=stack, out_dir=Path(scratch) / stack)
                full.append(time.perf_counter() - t0)
            print(
                f"{stack:<10} {len(first.resources):>9} {first_s:>8.2f} {min(warm):>7.2f} {min(full):>13.2f}"
            )
    print(f"total wall: {time.perf_counter() - started:.2f} s")


if __name__ == "__main__":
    main()
