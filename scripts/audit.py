"""``paddock audit``: every Region a prompt, response, weights or logs can reach, per stack, checked against
``paddock:residency``. Reads ``build/plan/<env>/resources.json`` (rendering it offline when missing) and the
stack file; live destinations saved by ``paddock preflight`` override the data file.

The stack file is read by the one parser (``serving.stack_config``), which checks shapes only: a cluster
Region outside ``allowedRegions`` is a finding here (exit 1), not bad input.

Exit 0 clean, 1 findings, 2 bad input.
"""

from __future__ import annotations

import importlib
import json
import sys
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from serving.errors import InputError, PaddockError
from serving.residency import StackAudit, audit_stack, load_stack_facts, render_markdown
from serving.residency.report import grouped_places

PLAN_DIR = Path("build/plan")
PREFLIGHT_DIR = Path("build/preflight")
STACKS_DIR = Path("stacks")


def stack_file(stack: str, stacks_dir: Path) -> tuple[str, Path]:
    """``prod-eu`` → (``prod-eu``, ``stacks/Pulumi.prod-eu.yaml``); a path to a YAML file is taken as is."""
    if stack.endswith((".yaml", ".yml")):
        path = Path(stack)
        return path.stem.removeprefix("Pulumi."), path
    path = stacks_dir / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        known = sorted(p.stem.removeprefix("Pulumi.") for p in stacks_dir.glob("Pulumi.*.yaml"))
        raise InputError(
            f"no stack file {path} (known stacks: {', '.join(known) or 'none'})", field="--stack"
        )
    return stack, path


def _render(env: str, path: Path, plan_dir: Path) -> str | None:
    """Render the offline plan (resources, values, IAM; no Helm manifests: the rules read resource inputs)
    with the platform's renderer; returns why not, or None on success."""
    offline = importlib.import_module("stacks.offline")  # loads the Pulumi SDK only when a plan is missing
    try:
        offline.render_plan(stack_file=path, stack=env, out_dir=plan_dir / env, manifests=False)
    except PaddockError:
        raise
    except Exception as exc:  # a renderer bug must not hide the config-level audit
        return f"offline render failed: {type(exc).__name__}: {exc}"
    return None


def load_resources(
    env: str, path: Path, plan_dir: Path, render: bool
) -> tuple[list[dict[str, Any]], str | None]:
    """Resource records of the stack's offline plan, rendered when missing or older than the stack file
    (unless ``render`` is false: then a stale plan is used with a note)."""
    resources = plan_dir / env / "resources.json"
    stale = resources.is_file() and resources.stat().st_mtime < path.stat().st_mtime
    note = f"{resources} is older than {path}" if stale else None
    if render and (stale or not resources.is_file()):
        note = _render(env, path, plan_dir)
        if note is not None and stale:
            return [], f"{note}; stale {resources} ignored: config-only audit"
    if not resources.is_file():
        return [], note or f"no {resources}: config-only audit"
    try:
        records = json.loads(resources.read_text())
    except json.JSONDecodeError as exc:
        raise InputError(f"{resources} is not valid JSON: {exc}", field="--plan-dir") from exc
    if not isinstance(records, list) or not all(isinstance(r, dict) and "type" in r for r in records):
        raise InputError(f"{resources} is not a list of {{type, name, inputs}} records", field="--plan-dir")
    return records, note


def load_overrides(env: str, preflight_dir: Path) -> dict[str, tuple[str, ...]]:
    """Destination Regions found live by ``paddock preflight --save`` (``{"profiles": {id: [regions]}}``)."""
    path = preflight_dir / env / "profiles.json"
    if not path.is_file():
        return {}
    try:
        raw = json.loads(path.read_text())["profiles"]
        return {str(k): tuple(str(r) for r in v) for k, v in raw.items()}
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
        raise InputError(f"{path} is not a preflight result ({exc})", field="--preflight-dir") from exc


def audit_one(
    stack: str, *, stacks_dir: Path, plan_dir: Path, preflight_dir: Path, render: bool
) -> tuple[StackAudit, str | None]:
    """Audit one stack; returns the audit and a note on how the plan was obtained (None = from plan)."""
    env, path = stack_file(stack, stacks_dir)
    facts = load_stack_facts(path)
    resources, note = load_resources(env, path, plan_dir, render)
    return audit_stack(facts, resources, load_overrides(env, preflight_dir)), note


def print_table(console: Console, audits: Sequence[StackAudit], notes: Mapping[str, str | None]) -> None:
    """Rich tables: places per stack, then findings."""
    for a in audits:
        verdict = "[green]clean[/]" if not a.findings else f"[red]{len(a.findings)} finding(s)[/]"
        console.rule(f"stack {a.stack} ({a.region}; allowed {', '.join(a.allowed_regions)}): {verdict}")
        if notes.get(a.stack):
            console.print(f"[yellow]note:[/] {notes[a.stack]}")
        places = Table("data", "where", "region", "allowed", "config key", title="Where data can reach")
        for p, regions in grouped_places(a.places):
            ok = "[green]yes[/]" if p.allowed else "[red]no[/]"
            places.add_row(p.kind, escape(p.what), regions, ok, escape(p.config_key))
        console.print(places)
        console.print(
            f"fallback aliases: {', '.join(a.fallback_aliases) or 'none'}; "
            f"pinned: {', '.join(a.pinned_aliases) or 'none'}"
        )
        if a.findings:
            table = Table("severity", "rule", "resource", "config key", "region", "message", title="Findings")
            for f in a.findings:
                colour = "red" if f.severity == "error" else "yellow"
                table.add_row(
                    f"[{colour}]{f.severity}[/]",
                    f.rule,
                    escape(f.resource),
                    escape(f.config_key),
                    f.region or "-",
                    escape(f.message),
                )
            console.print(table)


@click.command(name="audit")
@click.option(
    "--stack", "stacks", multiple=True, help="Stack name (stacks/Pulumi.<env>.yaml) or a YAML path."
)
@click.option("--all", "all_stacks", is_flag=True, help="Audit every stacks/Pulumi.*.yaml.")
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json", "md"]), default="table", show_default=True
)
@click.option("--stacks-dir", type=click.Path(path_type=Path), default=STACKS_DIR, show_default=True)
@click.option("--plan-dir", type=click.Path(path_type=Path), default=PLAN_DIR, show_default=True)
@click.option("--preflight-dir", type=click.Path(path_type=Path), default=PREFLIGHT_DIR, show_default=True)
@click.option(
    "--no-render", is_flag=True, help="Do not render missing plans; audit config (and plans present)."
)
def command(
    stacks: tuple[str, ...],
    all_stacks: bool,
    fmt: str,
    stacks_dir: Path,
    plan_dir: Path,
    preflight_dir: Path,
    no_render: bool,
) -> None:
    """Report every Region a prompt, response, weights or logs can reach (exit 1 on findings)."""
    started = time.perf_counter()
    names = list(stacks)
    if all_stacks:
        names += sorted(p.stem.removeprefix("Pulumi.") for p in stacks_dir.glob("Pulumi.*.yaml"))
    if not names:
        raise InputError("name a stack with --stack <env> or use --all", field="--stack")
    audits, notes = [], {}
    for name in dict.fromkeys(names):
        audit, note = audit_one(
            name, stacks_dir=stacks_dir, plan_dir=plan_dir, preflight_dir=preflight_dir, render=not no_render
        )
        audits.append(audit)
        notes[audit.stack] = note
    elapsed = time.perf_counter() - started
    if fmt == "json":
        doc = {
            "stacks": [a.to_dict() | {"note": notes[a.stack]} for a in audits],
            "seconds": round(elapsed, 3),
        }
        click.echo(json.dumps(doc, indent=2))
    elif fmt == "md":
        click.echo(render_markdown(audits, generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")))
    else:
        console = Console()
        print_table(console if console.is_terminal else Console(width=160), audits, notes)
    total = sum(len(a.findings) for a in audits)
    click.echo(f"audited {len(audits)} stack(s) in {elapsed:.2f} s: {total} finding(s)", err=True)
    sys.exit(1 if total else 0)
