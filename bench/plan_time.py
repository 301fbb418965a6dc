"""Time ``paddock plan`` per stack: one-off imports, then sizing + mock run, manifests, bring-up analysis.

Run: ``uv run python bench/plan_time.py [--repeat N] [--stacks dev ...]``. Prints one row per stack: first
render in the process, best of N warm renders (render_stack: sizing + Pulumi mock run), best of N
``helm template`` passes of our charts, best of N bring-up analyses (serving.bringup.analyze over the
rendered records and manifests) and best of N full plans (render_plan: all of it + files). The budget is
5 s per stack for the full plan (issue 11); the row says ``over`` when the best full plan exceeds it.
Figures depend on the machine; bytecode caching matters for the one-off import
(``PYTHONDONTWRITEBYTECODE=1`` makes every process recompile pulumi_aws).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

BUDGET_S = 5.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--stacks", nargs="*", default=["dev", "prod-eu", "ephemeral"])
    args = parser.parse_args()
    started = time.perf_counter()
    from serving.bringup import BringupInput, analyze, load_chart_catalog
    from serving.plan_report import render_manifests
    from stacks import offline, program  # noqa: F401  (pulumi, pulumi_aws, pulumi_kubernetes, sizing)

    charts = load_chart_catalog()
    imported = time.perf_counter() - started
    print(f"imports: {imported:.2f} s (one-off per process); chart catalog {charts.path}")
    print(
        f"{'stack':<10} {'resources':>9} {'first s':>8} {'render s':>9} {'helm s':>7} "
        f"{'analysis s':>11} {'plan+files s':>13} {'findings':>9}"
    )
    with tempfile.TemporaryDirectory() as scratch:
        for stack in args.stacks:
            t0 = time.perf_counter()
            first = offline.render_stack(stack)
            first_s = time.perf_counter() - t0
            warm, helm, analysis, full = [], [], [], []
            failing = 0
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                result = offline.render_stack(stack)
                warm.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                texts = render_manifests(result.resources, offline.ROOT)
                helm.append(time.perf_counter() - t0)
                inp = BringupInput(
                    stack=stack,
                    config=result.config.to_dict(),
                    plans={a: p.to_dict() for a, p in result.plans.items()},
                    resources=result.resources,
                    manifests=texts,
                    charts=charts,
                )
                t0 = time.perf_counter()
                findings = analyze(inp)
                analysis.append(time.perf_counter() - t0)
                failing = sum(f.verdict == "fail" for f in findings)
                t0 = time.perf_counter()
                offline.render_plan(stack=stack, out_dir=Path(scratch) / stack, charts=charts)
                full.append(time.perf_counter() - t0)
            flag = "  over" if min(full) > BUDGET_S else ""
            print(
                f"{stack:<10} {len(first.resources):>9} {first_s:>8.2f} {min(warm):>9.2f} {min(helm):>7.2f} "
                f"{min(analysis):>11.3f} {min(full):>13.2f} {failing:>9}{flag}"
            )
    print(f"total wall: {time.perf_counter() - started:.2f} s")


if __name__ == "__main__":
    main()
