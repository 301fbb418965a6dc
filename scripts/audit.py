"""``paddock audit``: every Region a prompt, response, weights or logs can reach, per stack, checked against
``paddock:residency`` by the rules of :data:`serving.residency.rule_table.RULE_TABLE` (the CrossGuard pack
runs the same table).

The offline plan comes from a cache keyed by a hash of the stack file and the renderer's code and catalogs
(:mod:`serving.residency.plan_cache`), rendered when missing. A plan that cannot be rendered is a
``plan-unrendered`` finding (exit 1): the resource-level rules did not run. Live destinations saved by
``paddock preflight`` override the profile data file.

Exit policy: 0 when no finding reaches the threshold; 1 when one does (``--fail-on error``, the default:
errors fail, warnings are reported and exit 0; ``--fail-on-warn`` = ``--fail-on warning``); 2 bad input
(a bad stack file names its stack on every line).
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
from rich.table import Column, Table

from serving.errors import InputError, PaddockError
from serving.residency import StackAudit, audit_stack, load_stack_facts, render_markdown
from serving.residency.model import Finding
from serving.residency.plan_cache import cache_dir, plan_key
from serving.residency.report import grouped_places
from serving.residency.rule_table import finding
from serving.residency.stack import load_preflight_destinations

PLAN_DIR = Path("build/plan")
PREFLIGHT_DIR = Path("build/preflight")
STACKS_DIR = Path("stacks")
SEVERITY_RANK = {"warning": 1, "error": 2}


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


def _render(env: str, path: Path, out_dir: Path) -> Finding | None:
    """Render the offline plan (resources, values, IAM; no manifests: the rules read resource inputs) into
    ``out_dir``; a failure is a ``plan-unrendered`` finding naming the config key when there is one."""
    offline = importlib.import_module("stacks.offline")  # loads the Pulumi SDK only when a plan is missing
    try:
        offline.render_plan(stack_file=path, stack=env, out_dir=out_dir, manifests=False)
    except PaddockError as exc:
        key = exc.field if exc.field and exc.field.startswith(("aws:", "paddock:")) else "aws:region"
        text = " ".join(line.strip() for line in str(exc).splitlines())
        return finding("offline plan", key, "plan-unrendered", None, f"the plan cannot be rendered: {text}")
    except Exception as exc:  # a renderer bug must not hide the config-level audit
        return finding(
            "offline plan",
            "aws:region",
            "plan-unrendered",
            None,
            f"offline render failed: {type(exc).__name__}: {exc}; resource-level rules did not run",
        )
    return None


def _read_records(resources: Path) -> list[dict[str, Any]]:
    try:
        records = json.loads(resources.read_text())
    except json.JSONDecodeError as exc:
        raise InputError(f"{resources} is not valid JSON: {exc}", field="--plan-dir") from exc
    if not isinstance(records, list) or not all(isinstance(r, dict) and "type" in r for r in records):
        raise InputError(f"{resources} is not a list of {{type, name, inputs}} records", field="--plan-dir")
    return records


def load_resources(
    env: str, path: Path, plan_dir: Path, render: bool
) -> tuple[list[dict[str, Any]], str | None, Finding | None]:
    """(records, note, render failure) of the stack's plan from the hash-keyed cache, rendered there when
    missing. Without ``render``: the cached plan, else ``<plan_dir>/<env>/resources.json`` (a ``paddock plan``
    output, not keyed to this file: noted), else a config-only audit."""
    cached = cache_dir(plan_dir, env, plan_key(path)) / "resources.json"
    if cached.is_file():
        return _read_records(cached), None, None
    if render:
        failure = _render(env, path, cached.parent)
        if failure is not None:
            return [], "config-only audit: the offline plan could not be rendered", failure
        return _read_records(cached), None, None
    loose = plan_dir / env / "resources.json"
    if loose.is_file():
        return _read_records(loose), f"{loose} is not keyed to {path}: checked as given", None
    return [], f"no plan for {path} in {plan_dir}: config-only audit", None


def load_overrides(env: str, preflight_dir: Path) -> dict[str, tuple[str, ...]]:
    """Destination Regions found live by ``paddock preflight`` (the pack reads the same file)."""
    return load_preflight_destinations(preflight_dir, env)


def _named(env: str, exc: InputError) -> InputError:
    """The same error with ``stack <env>:`` at the start of every line."""
    lines = str(exc).splitlines() or [""]
    return InputError("\n".join(f"stack {env}: {line}" for line in lines))


def audit_one(
    stack: str, *, stacks_dir: Path, plan_dir: Path, preflight_dir: Path, render: bool
) -> tuple[StackAudit, str | None]:
    """Audit one stack; returns the audit and a note on how the plan was obtained (None = from plan)."""
    env, path = stack_file(stack, stacks_dir)
    try:
        facts = load_stack_facts(path)
        resources, note, failure = load_resources(env, path, plan_dir, render)
        audit = audit_stack(facts, resources, load_overrides(env, preflight_dir))
    except InputError as exc:
        raise _named(env, exc) from exc
    if failure is not None:
        audit = audit.with_findings((failure,))
    return audit, note


def finding_line(stack: str, f: Finding) -> str:
    """One plain line per finding, always naming the stack (greppable in CI logs)."""
    region = f" [{f.region}]" if f.region else ""
    return f"{stack}: {f.severity} {f.rule}{region} {f.config_key} ({f.resource}): {f.message}"


def print_table(console: Console, audits: Sequence[StackAudit], notes: Mapping[str, str | None]) -> None:
    """Rich table of places per stack, then one plain line per finding."""
    for a in audits:
        verdict = "[green]clean[/]" if not a.findings else f"[red]{_counts(a)}[/]"
        console.rule(f"stack {a.stack} ({a.region}; allowed {', '.join(a.allowed_regions)}): {verdict}")
        if notes.get(a.stack):
            console.print(f"[yellow]note:[/] {escape(str(notes[a.stack]))}")
        # fold, never ellipsize: config keys and profile ids are copied from this table
        places = Table(
            *(Column(h, overflow="fold") for h in ("data", "where", "region", "allowed", "config key")),
            title="Where data can reach",
        )
        for p, regions in grouped_places(a.places):
            ok = "[green]yes[/]" if p.allowed else "[red]no[/]"
            places.add_row(p.kind, escape(p.what), regions, ok, escape(p.config_key))
        console.print(places)
        console.print(
            f"fallback aliases: {', '.join(a.fallback_aliases) or 'none'}; "
            f"pinned: {', '.join(a.pinned_aliases) or 'none'}"
        )
        for f in a.findings:
            click.echo(finding_line(a.stack, f))


def _counts(a: StackAudit) -> str:
    errors = sum(f.severity == "error" for f in a.findings)
    return f"{errors} error(s), {len(a.findings) - errors} warning(s)"


def exit_code(audits: Sequence[StackAudit], fail_on: str) -> int:
    """1 when any finding's severity reaches ``fail_on`` (``error`` or ``warning``), else 0."""
    threshold = SEVERITY_RANK[fail_on]
    return int(any(SEVERITY_RANK[f.severity] >= threshold for a in audits for f in a.findings))


@click.command(name="audit")
@click.option(
    "--stack", "stacks", multiple=True, help="Stack name (stacks/Pulumi.<env>.yaml) or a YAML path."
)
@click.option("--all", "all_stacks", is_flag=True, help="Audit every stacks/Pulumi.*.yaml.")
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json", "md"]), default="table", show_default=True
)
@click.option("--json", "as_json", is_flag=True, help="Same as --format json (as plan, size, cost).")
@click.option(
    "--fail-on",
    type=click.Choice(["error", "warning"]),
    default="error",
    show_default=True,
    help="Lowest severity that exits 1 (errors always do).",
)
@click.option("--fail-on-warn", is_flag=True, help="Warnings exit 1 too (same as --fail-on warning).")
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
    as_json: bool,
    fail_on: str,
    fail_on_warn: bool,
    stacks_dir: Path,
    plan_dir: Path,
    preflight_dir: Path,
    no_render: bool,
) -> None:
    """Report every Region a prompt, response, weights or logs can reach (exit 1 on errors)."""
    started = time.perf_counter()
    fmt = "json" if as_json else fmt
    fail_on = "warning" if fail_on_warn else fail_on
    names = list(stacks)
    if all_stacks:
        names += sorted(p.stem.removeprefix("Pulumi.") for p in stacks_dir.glob("Pulumi.*.yaml"))
    if not names:
        raise InputError("name a stack with --stack <env> or use --all", field="--stack")
    audits, notes, bad = [], {}, []
    for name in dict.fromkeys(names):
        try:
            audit, note = audit_one(
                name,
                stacks_dir=stacks_dir,
                plan_dir=plan_dir,
                preflight_dir=preflight_dir,
                render=not no_render,
            )
        except InputError as exc:
            bad.append(exc if str(exc).startswith("stack ") else _named(name, exc))
            continue
        audits.append(audit)
        notes[audit.stack] = note
    elapsed = time.perf_counter() - started
    code = exit_code(audits, fail_on)
    if fmt == "json":
        doc = {
            "stacks": [
                a.to_dict() | {"note": notes[a.stack], "errors": _n(a, "error"), "warnings": _n(a, "warning")}
                for a in audits
            ],
            "failOn": fail_on,
            "exitCode": 2 if bad else code,
            "badInput": [str(e) for e in bad],
            "seconds": round(elapsed, 3),
        }
        click.echo(json.dumps(doc, indent=2))
    elif fmt == "md":
        click.echo(render_markdown(audits, generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")))
    else:
        console = Console()
        print_table(console if console.is_terminal else Console(width=160), audits, notes)
    errors = sum(_n(a, "error") for a in audits)
    warnings = sum(_n(a, "warning") for a in audits)
    click.echo(
        f"audited {len(audits)} stack(s) in {elapsed:.2f} s: {errors} error(s), {warnings} warning(s) "
        f"(exit 1 on: {fail_on})",
        err=True,
    )
    if bad:
        error = InputError("\n".join(str(e) for e in bad))
        error.json_reported = fmt == "json"  # the document's badInput carries it
        raise error
    sys.exit(code)


def _n(a: StackAudit, severity: str) -> int:
    return sum(f.severity == severity for f in a.findings)
