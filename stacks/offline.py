"""The offline plan: run the platform program under Pulumi's mock runtime with a stack file's own config.

``render_stack`` returns the parsed config, the ServingPlans and every resource record; ``render_plan`` also
writes ``build/plan/<env>/`` (serving.plan_report). No cloud credentials, no Pulumi CLI. Callable for several
stacks in one process. Imported lazily by scripts/plan.py and scripts/audit.py (scripts never import Pulumi).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from serving.bringup import BringupInput, ChartCatalog, Finding, analyze, load_chart_catalog
from serving.helm import resolve_release_chart
from serving.plan_report import render_manifests, write_plan
from serving.sizing.plan import ServingPlan
from serving.stack_config import StackConfig, parse_stack_config, read_stack_file
from serving.stack_images import images_markdown, stack_image_routes
from serving.system_pods import system_pods_markdown
from stacks.config import to_pulumi_config
from stacks.mock_runtime import ACCOUNT_ID, run_program
from stacks.planning import plan_models

ROOT = Path(__file__).resolve().parent.parent
STACKS_DIR = ROOT / "stacks"
Planner = Callable[[StackConfig], Mapping[str, ServingPlan]]


@dataclass(frozen=True)
class PlanResult:
    """One rendered stack."""

    stack: str
    config: StackConfig
    plans: Mapping[str, ServingPlan]
    resources: list[dict[str, Any]]
    """``{type, name, parent, inputs}`` per resource, sorted by name (registration order varies)."""
    seconds: float
    """Wall time of sizing + the mock run (s)."""
    findings: tuple[Finding, ...] = ()
    """Bring-up analysis (render_plan only)."""
    analysis_seconds: float = 0.0
    """Wall time of the bring-up analysis (s), ``helm template`` excluded."""


SECRET_SIG = "4dabf18193072939515e22adb298388d"  # Pulumi's marker key of a serialized secret


def portable(value: Any) -> Any:
    """Inputs as a reviewer should read them: repository paths (the local chart) relative to the repo root,
    whole-number floats (the RPC turns every number into a float) back to ints, secrets as ``[secret]``."""
    if isinstance(value, str) and value.startswith(f"{ROOT}/"):
        return value[len(str(ROOT)) + 1 :]
    if isinstance(value, str) and value.startswith("../"):
        chart = resolve_release_chart(value)  # a Release chart input, relative to the program dir
        if chart is not None and chart.is_relative_to(ROOT):
            return chart.relative_to(ROOT).as_posix()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        if SECRET_SIG in value:
            return "[secret]"
        return {k: portable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [portable(v) for v in value]
    return value


def render_stack(stack: str, *, stack_file: Path | None = None, planner: Planner = plan_models) -> PlanResult:
    """Parse ``stacks/Pulumi.<stack>.yaml`` (or ``stack_file``), size its models and run the program under
    mocks. Raises serving.errors.InputError (a ConfigErrors naming each key) on invalid config."""
    from stacks import program  # imports pulumi_aws/pulumi_kubernetes (~1 s): only when rendering

    started = time.perf_counter()
    path = stack_file or STACKS_DIR / f"Pulumi.{stack}.yaml"
    raw = read_stack_file(path)
    cfg = parse_stack_config(raw, stack=stack)
    plans = dict(planner(cfg))

    def body() -> None:
        program.main(plans=plans)

    records = run_program(body, stack=stack, region=cfg.region, config=to_pulumi_config(raw))
    resources = sorted((portable(r.to_dict()) for r in records), key=lambda r: (r["name"], r["type"]))
    return PlanResult(
        stack=stack, config=cfg, plans=plans, resources=resources, seconds=time.perf_counter() - started
    )


def render_plan(
    *,
    stack: str,
    out_dir: Path,
    stack_file: Path | None = None,
    planner: Planner = plan_models,
    manifests: bool = True,
    charts: ChartCatalog | None = None,
) -> PlanResult:
    """:func:`render_stack`, the bring-up analysis (``charts``: the chart catalog, default
    serving/catalog/data/charts.yaml) and write ``out_dir`` (resources.json, plans.json, stack_config.json,
    values/, manifests/ (unless ``manifests=False``), iam/, summary.md)."""
    result = render_stack(stack, stack_file=stack_file, planner=planner)
    config = result.config.to_dict()
    plans = {alias: plan.to_dict() for alias, plan in result.plans.items()}
    texts = render_manifests(result.resources, ROOT) if manifests else None
    started = time.perf_counter()
    findings = analyze(
        BringupInput(
            stack=stack,
            config=config,
            plans=plans,
            resources=result.resources,
            manifests=texts,
            charts=charts or load_chart_catalog(),
        )
    )
    analysis = time.perf_counter() - started
    write_plan(
        out_dir,
        stack=stack,
        config=config,
        plans=plans,
        resources=result.resources,
        root=ROOT,
        manifests=manifests,
        manifest_texts=texts,
        bringup=findings,
        sections=[
            images_markdown(stack_image_routes(result.config, ACCOUNT_ID)),
            system_pods_markdown(result.resources),
        ],
    )
    return replace(result, findings=tuple(findings), analysis_seconds=analysis)
