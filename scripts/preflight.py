"""``paddock preflight --stack <env>``: check a stack's Bedrock fallback targets live (needs AWS credentials).

For each inference profile an alias can reach: resolve it (GetInferenceProfile), require ACTIVE, compare its
destination Regions with ``paddock:residency`` and with the data file's row for the source Region (drift),
check model access (GetFoundationModelAvailability), and with ``--smoke`` make a 1-token Converse call. For
each s3:// weights bucket: its real location (GetBucketLocation) must be the declared ``weightsRegion`` and
allowed. Saves the live destinations to ``build/preflight/<env>/profiles.json``, which ``paddock audit``
prefers over its data file. Exit 0 ok, 1 problems, 2 bad input or no credentials.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import click
from botocore.config import Config
from rich.console import Console
from rich.markup import escape
from rich.table import Column, Table

from scripts.audit import PREFLIGHT_DIR, STACKS_DIR, stack_file
from serving.errors import InputError
from serving.residency import load_stack_facts
from serving.residency.preflight import (
    TargetCheck,
    WeightsCheck,
    check_target,
    check_weights,
    fallback_entries,
    saved_destinations,
)

RETRIES = Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=30)


def boto3_session(profile: str | None) -> boto3.Session:
    """The AWS session (default credential chain, or a named profile)."""
    return boto3.Session(profile_name=profile) if profile else boto3.Session()


def _clients(profile: str | None, region: str, smoke: bool) -> tuple[Any, Any | None, Any]:
    try:
        session = boto3_session(profile)
    except Exception as exc:  # botocore ProfileNotFound and friends
        raise InputError(f"cannot open AWS profile {profile!r}: {exc}", field="--profile") from exc
    if session.get_credentials() is None:
        raise InputError(
            "no AWS credentials found (set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or use "
            "--profile); preflight calls Bedrock live. `paddock audit` works offline.",
            field="AWS credentials",
        )
    bedrock = session.client("bedrock", region_name=region, config=RETRIES)
    runtime = session.client("bedrock-runtime", region_name=region, config=RETRIES) if smoke else None
    s3 = session.client("s3", region_name=region, config=RETRIES)  # GetBucketLocation works cross-Region
    return bedrock, runtime, s3


def _print_weights(console: Console, env: str, weights: list[WeightsCheck]) -> None:
    headers = ("config key", "bucket", "declared", "actual", "problems")
    table = Table(*(Column(h, overflow="fold") for h in headers), title=f"Weights buckets: {env}")
    for w in weights:
        problems = "\n".join(escape(p) for p in w.problems) or "[green]none[/]"
        table.add_row(escape(w.key), w.bucket, w.declared, w.actual or "-", problems)
    console.print(table)


def _print(console: Console, env: str, checks: list[TargetCheck]) -> None:
    headers = ("config key", "profile", "status", "destinations", "model access", "smoke", "problems")
    # fold, never ellipsize: config keys and profile ids are copied from this table
    table = Table(*(Column(h, overflow="fold") for h in headers), title=f"Bedrock preflight: stack {env}")
    for c in checks:
        access = ", ".join(f"{k}={v}" for k, v in c.model_access.items()) or "-"
        problems = "\n".join(escape(p) for p in c.problems) or "[green]none[/]"
        table.add_row(
            escape(c.key),
            c.profile_id,
            c.status or "-",
            ", ".join(c.destinations) or "-",
            access,
            escape(c.smoke or "-"),
            problems,
        )
    console.print(table)


@click.command(name="preflight")
@click.option("--stack", required=True, help="Stack name (stacks/Pulumi.<env>.yaml) or a YAML path.")
@click.option(
    "--smoke", is_flag=True, help="Also make a 1-token Converse call per profile (costs a request)."
)
@click.option("--profile", default=None, help="AWS named profile (default: the standard credential chain).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Same as --format json (as plan, size, cost).")
@click.option("--stacks-dir", type=click.Path(path_type=Path), default=STACKS_DIR, show_default=True)
@click.option("--preflight-dir", type=click.Path(path_type=Path), default=PREFLIGHT_DIR, show_default=True)
@click.option("--no-save", is_flag=True, help="Do not write build/preflight/<env>/profiles.json.")
def command(
    stack: str,
    smoke: bool,
    profile: str | None,
    fmt: str,
    as_json: bool,
    stacks_dir: Path,
    preflight_dir: Path,
    no_save: bool,
) -> None:
    """Check Bedrock inference profiles, Regions and model access live (exit 1 on problems)."""
    fmt = "json" if as_json else fmt
    env, path = stack_file(stack, stacks_dir)
    facts = load_stack_facts(path)
    entries = fallback_entries(facts) if facts.policy.allow_fallback else []
    buckets = [m for m in facts.models if m.weights.startswith("s3://")]
    if not entries and not buckets:
        click.echo(f"stack {env}: no alias can fall back to Bedrock and no s3:// weights; nothing to check")
        sys.exit(0)
    bedrock, runtime, s3 = _clients(profile, facts.bedrock_region, smoke)
    checks = [check_target(facts, key, pid, bedrock=bedrock, runtime=runtime) for key, pid in entries]
    weights = check_weights(facts, s3=s3)
    if not no_save and (found := saved_destinations(checks)):
        out = preflight_dir / env / "profiles.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        out.write_text(
            json.dumps({"region": facts.bedrock_region, "checkedAt": stamp, "profiles": found}, indent=2)
        )
    if fmt == "json":
        doc = {
            "stack": env,
            "checks": [c.to_dict() for c in checks],
            "weights": [w.to_dict() for w in weights],
        }
        click.echo(json.dumps(doc, indent=2))
    else:
        console = Console() if sys.stdout.isatty() else Console(width=160)
        if checks:
            _print(console, env, checks)
        else:
            click.echo(f"stack {env}: no alias can fall back to Bedrock")
        if weights:
            _print_weights(console, env, weights)
    problems = sum(len(c.problems) for c in checks) + sum(len(w.problems) for w in weights)
    click.echo(
        f"preflight {env}: {len(checks)} target(s), {len(weights)} bucket(s), {problems} problem(s)", err=True
    )
    sys.exit(1 if problems else 0)
