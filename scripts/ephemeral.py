"""``paddock ephemeral``: short-lived developer GPU stacks — up, list, extend, down, reap.

Thin click layer over :mod:`serving.ephemeral` (pure logic) and a Workspace (``stacks/automation.py``,
which drives the Pulumi CLI through the Automation API and is imported only when a command needs it).
Exit codes: 0 done; 1 an operation failed (quota, credentials, Pulumi CLI missing, a reaper failure) or
the user declined; 2 bad input (a flag, a stack that is not ephemeral, no TTY to confirm on without --yes).
"""

from __future__ import annotations

import getpass
import json
import os
import re
import secrets
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import click
import yaml
from rich.console import Console

from scripts.ephemeral_output import ProgressPrinter, list_table, plan_notes, plan_table, reap_table
from serving.ephemeral.errors import ConfirmationRequiredError
from serving.ephemeral.lifecycle import down, extend, list_ephemeral, run_up
from serving.ephemeral.naming import sanitize_owner
from serving.ephemeral.planning import Sizer, UpPlan, UpRequest, build_up_plan, engine_sizer
from serving.ephemeral.reaper import reap
from serving.ephemeral.ttl import TtlSpec, format_timestamp, parse_ttl_spec
from serving.ephemeral.workspace import BackendInfo, Workspace
from serving.errors import InputError, PaddockError

ROOT = Path(__file__).resolve().parent.parent


def project_dir() -> Path:
    """The Pulumi project to drive: ``$PADDOCK_PROJECT_DIR`` (the reaper's image) or this checkout."""
    override = os.environ.get("PADDOCK_PROJECT_DIR")
    return Path(override) if override else ROOT


def _pulumi_workspace() -> Workspace:
    from stacks.automation import PulumiWorkspace  # lazy: imports pulumi.automation

    return PulumiWorkspace(work_dir=project_dir())


def _validate_with_schema(config: dict[str, Any], stack: str) -> None:
    from serving.stack_config import parse_stack_config

    parse_stack_config(config, stack=stack)


@dataclass
class Env:
    """What the commands depend on; tests pass their own as ``obj=`` to CliRunner."""

    workspace_factory: Callable[[], Workspace] = _pulumi_workspace
    sizer: Sizer = engine_sizer
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    template_path: Path = field(default_factory=lambda: project_dir() / "stacks" / "Pulumi.ephemeral.yaml")
    interactive: Callable[[], bool] = field(default=lambda: sys.stdin.isatty() and sys.stdout.isatty())
    validate: Callable[[dict[str, Any], str], None] = _validate_with_schema

    def console(self) -> Console:
        return Console(highlight=False, soft_wrap=False, width=None if self.interactive() else 140)


def _fail(exc: PaddockError) -> NoReturn:
    click.echo(f"error: {exc}", err=True)
    raise SystemExit(2 if isinstance(exc, InputError) else 1)


@contextmanager
def _errors() -> Iterator[None]:
    """Turn Paddock errors into one line on stderr and the exit code (no traceback)."""
    try:
        yield
    except PaddockError as exc:
        _fail(exc)


def _confirm(env: Env, question: str, *, yes: bool, flag: str = "--yes") -> bool:
    if yes:
        return True
    if not env.interactive():
        raise ConfirmationRequiredError(
            f"confirmation needed and there is no terminal to ask on; pass {flag} to proceed", field=flag
        )
    return click.confirm(question, default=False)


def _load_template(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise InputError(
            f"template {path} not found (the ephemeral stack template)", field="stacks/Pulumi.ephemeral.yaml"
        )
    data = yaml.safe_load(path.read_text()) or {}
    config = data.get("config") if isinstance(data, dict) else None
    if not isinstance(config, dict):
        raise InputError(f"{path} has no config: mapping", field="stacks/Pulumi.ephemeral.yaml")
    return config


def _activity(console: Console, text: str) -> AbstractContextManager[object]:
    """A spinner while a long operation runs (terminals only; logs get the per-resource lines)."""
    return console.status(text) if console.is_terminal else nullcontext()


def _default_owner() -> str:
    """$USER, else the login name; InputError naming --owner when neither is known (containers)."""
    try:
        return os.environ.get("USER") or getpass.getuser()
    except (OSError, KeyError) as exc:
        raise InputError(
            "cannot tell who you are ($USER is not set); pass --owner <name>", field="--owner"
        ) from exc


def _checked_owner(owner: str | None) -> str:
    """``--owner`` (default $USER), refused when empty or not ASCII: it becomes the stack name and a tag, and
    silently dropping letters (``Ålice`` -> ``lice``) would name someone else."""
    name = _default_owner() if owner is None else owner
    where = "--owner" if owner is not None else "--owner (default $USER)"
    if not name.strip():
        raise InputError("is empty: pass your user name, e.g. --owner alice", field=where)
    if not name.isascii():
        raise InputError(
            f"{name!r} is not ASCII (it becomes the stack name and a tag): "
            "pass an ASCII name, e.g. --owner alice",
            field=where,
        )
    return name


#: a Pulumi stack name, optionally ``org/project/stack`` (letters, digits, ``-``, ``_``, ``.``)
STACK_NAME = r"([A-Za-z0-9_.-]{1,100}/){0,2}[A-Za-z0-9_.-]{1,100}"


def _future_ttl(text: str, now: datetime) -> TtlSpec:
    """``--ttl`` parsed; an expiry time that has already passed is named as such (not "too short")."""
    spec = parse_ttl_spec(text)
    if spec.until is not None and spec.until <= now:
        raise InputError(f"{text!r} is in the past (now {format_timestamp(now)})", field="--ttl")
    return spec


def _check_stack_name(stack: str) -> None:
    """STACK is a Pulumi stack name, checked before anything needs the Pulumi CLI or AWS."""
    if not re.fullmatch(STACK_NAME, stack):
        raise InputError(
            f"{stack!r} is not a stack name (letters, digits, - _ .; see `paddock ephemeral list`)",
            field="STACK",
        )


def _env(ctx: click.Context) -> Env:
    obj = ctx.find_root().obj
    return obj if isinstance(obj, Env) else Env()


@click.group(name="ephemeral")
@click.pass_context
def command(ctx: click.Context) -> None:
    """Short-lived developer GPU stacks: cost shown first, destroyed on time.

    Stacks are tagged (paddock:ephemeral, owner, expires-at) in the Pulumi backend and on every AWS
    resource. Run `paddock ephemeral reap --yes` on a schedule (Helm chart serving/charts/paddock-reaper)
    to destroy expired ones; on Pulumi Cloud a Deployments TTL schedule is set as well.
    """
    if not isinstance(ctx.obj, Env):
        ctx.obj = Env()


@command.command("up")
@click.option("--model", required=True, help="Catalog id, Hugging Face repo id, or path to a config.json.")
@click.option(
    "--gpu", default=None, help="GPU id (l40s, h100-80gb...) or instance type; default: cheapest fit."
)
@click.option(
    "--context", "context_len", type=int, default=8192, show_default=True, help="Tokens per sequence."
)
@click.option("--concurrency", type=int, default=1, show_default=True, help="Sequences served at once.")
@click.option(
    "--ttl", default="4h", show_default=True, help="4h, 90m, 2d, 1h30m, PT4H or 2026-11-23T18:00:00Z."
)
@click.option("--region", default=None, help="AWS region (default: aws:region of the template).")
@click.option("--spot", is_flag=True, help="Use spot GPU capacity.")
@click.option("--keep-warm", is_flag=True, help="Keep one replica running (default: scale to zero).")
@click.option("--owner", default=None, help="Owner name (default: $USER).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation (scripts).")
@click.option("--dry-run", is_flag=True, help="Print the plan and cost, create nothing.")
@click.pass_context
def up_cmd(
    ctx: click.Context, /, yes: bool, dry_run: bool, owner: str | None, model: str, **flags: Any
) -> None:
    """Size --model, show the plan and its cost, confirm, then create and deploy the stack."""
    env = _env(ctx)
    console = env.console()
    with _errors():
        now = env.clock().replace(microsecond=0)
        if not model.strip():
            raise InputError(
                "is empty: pass a catalog id (llama-3.1-8b), a Hugging Face id or a config.json",
                field="--model",
            )
        request = UpRequest(
            model=str(Path(model).resolve()) if model.endswith(".json") or Path(model).is_dir() else model,
            owner=_checked_owner(owner),
            ttl=_future_ttl(flags.pop("ttl"), now),
            context=flags.pop("context_len"),
            **flags,
        )
        try:
            plan = build_up_plan(
                request,
                template=_load_template(env.template_path),
                sizer=env.sizer,
                now=now,
                salt=secrets.token_hex(4),
            )
        except InputError as exc:
            if exc.field == "--max-model-len":  # the sizer's flag; here the user wrote --context
                exc.field = "--context"
            raise
        env.validate(dict(plan.config), plan.stack)
        console.print(plan_table(plan, now=now))
        for note in plan_notes(plan):
            console.print(f"  note: {note}", markup=False)
        if dry_run:
            console.print("dry run: nothing was created")
            return
        workspace = env.workspace_factory()
        backend = workspace.preflight(region=plan.region)
        if not _confirm(env, f"Create {plan.stack} and start paying for it?", yes=yes):
            console.print("aborted: nothing was created")
            raise SystemExit(1)
        _deploy(console, workspace, backend, plan)


def _deploy(console: Console, workspace: Workspace, backend: BackendInfo, plan: UpPlan) -> None:
    """Create and deploy with per-resource progress; Ctrl-C says how the stack goes away."""
    console.print(f"creating {plan.stack} (backend {backend.url})")
    try:
        with _activity(console, f"deploying {plan.stack} (EKS + GPU nodes take 15-25 minutes)"):
            outcome = run_up(
                workspace,
                plan,
                backend=backend,
                on_progress=ProgressPrinter(console, "up"),
                warn=lambda w: console.print(f"warning: {w}", markup=False),
            )
    except KeyboardInterrupt:
        click.echo(
            f"interrupted: {plan.stack} may be partly created. It is tagged to expire at "
            f"{format_timestamp(plan.meta.expires_at)} and `paddock ephemeral reap` destroys it then; "
            f"run `paddock ephemeral down {plan.stack}` to remove it now.",
            err=True,
        )
        raise SystemExit(130) from None
    console.print(f"ready: {outcome.stack} expires {format_timestamp(plan.meta.expires_at)}")
    if outcome.ttl_schedule:
        console.print(outcome.ttl_schedule, markup=False)
    console.print(f"tear down early with: paddock ephemeral down {outcome.stack}", markup=False)


@command.command("list")
@click.option("--owner", default=None, help="Only this owner's stacks.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def list_cmd(ctx: click.Context, owner: str | None, as_json: bool) -> None:
    """List ephemeral stacks: owner, expiry, $ so far."""
    env = _env(ctx)
    with _errors():
        now = env.clock()
        wanted = sanitize_owner(owner) if owner else None
        rows = list_ephemeral(env.workspace_factory(), now=now, owner=wanted)
        if as_json:
            click.echo(
                json.dumps(
                    [
                        {
                            "stack": r.meta.stack,
                            "owner": r.meta.owner,
                            "model": r.meta.model,
                            "expiresAt": format_timestamp(r.meta.expires_at),
                            "expired": r.expired,
                            "hourlyCostUsd": r.meta.hourly_cost_usd,
                            "spentUsdMax": r.spent_usd,
                        }
                        for r in rows
                    ],
                    indent=2,
                )
            )
            return
        console = env.console()
        if not rows:
            console.print("no ephemeral stacks")
            return
        console.print(list_table(rows, now=now))


@command.command("extend")
@click.argument("stack")
@click.option("--ttl", required=True, help="Add a duration (2h) to the expiry, or set a time (…Z).")
@click.pass_context
def extend_cmd(ctx: click.Context, stack: str, ttl: str) -> None:
    """Move the expiry of STACK."""
    env = _env(ctx)
    console = env.console()
    with _errors():
        _check_stack_name(stack)
        spec = _future_ttl(ttl, env.clock())
        workspace = env.workspace_factory()
        backend = workspace.preflight(region=None, aws=False)
        meta = extend(
            workspace,
            stack,
            spec,
            now=env.clock(),
            backend=backend,
            warn=lambda w: console.print(f"warning: {w}", markup=False),
        )
        console.print(f"{stack} now expires {format_timestamp(meta.expires_at)}")


@command.command("down")
@click.argument("stack")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def down_cmd(ctx: click.Context, stack: str, yes: bool) -> None:
    """Destroy STACK's resources and remove the stack."""
    env = _env(ctx)
    console = env.console()
    with _errors():
        _check_stack_name(stack)
        workspace = env.workspace_factory()
        workspace.preflight(region=None)
        if not _confirm(env, f"Destroy every resource of {stack}?", yes=yes):
            console.print("aborted: nothing was destroyed")
            raise SystemExit(1)
        with _activity(console, f"destroying {stack}"):
            result = down(workspace, stack, on_progress=ProgressPrinter(console, "down"))
        console.print(f"destroyed {sum(result.changes.values())} resources and removed {stack}")


@command.command("reap")
@click.option("--dry-run", is_flag=True, help="Only report what would be destroyed.")
@click.option("--yes", is_flag=True, help="Destroy without asking (for schedules).")
@click.pass_context
def reap_cmd(ctx: click.Context, dry_run: bool, yes: bool) -> None:
    """Destroy every expired ephemeral stack (never any other stack). Exit 1 if one failed or is stuck."""
    env = _env(ctx)
    console = env.console()
    with _errors():
        workspace = env.workspace_factory()
        workspace.preflight(region=None)
        now = env.clock()
        if not dry_run:
            preview = reap(workspace, now=now, dry_run=True)
            doomed = [d.stack for d in preview.decisions if d.action == "destroy"]
            if doomed and not _confirm(env, f"Destroy {', '.join(doomed)}?", yes=yes):
                console.print("aborted: nothing was destroyed")
                raise SystemExit(1)
        report = reap(
            workspace,
            now=now,
            dry_run=dry_run,
            on_progress=ProgressPrinter(console, "destroy"),
            on_stack=lambda d: console.print(f"reaping {d.stack}: {d.reason}", markup=False),
        )
        console.print(reap_table(report))
        reaped = sum(1 for o in report.outcomes if o.status == "reaped")
        kept = sum(1 for d in report.decisions if d.action == "keep")
        for decision in report.stuck:
            click.echo(f"stuck: {decision.stack}: {decision.reason}")
        for outcome in report.failed:
            click.echo(f"failed: {outcome.stack}: {outcome.status}: {outcome.detail}")
        console.print(f"reaped {reaped}, failed {len(report.failed)}, kept {kept}, stuck {len(report.stuck)}")
        if report.failed or report.stuck:
            raise SystemExit(1)
