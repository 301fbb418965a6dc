"""The real :class:`serving.ephemeral.workspace.Workspace`: Pulumi Automation API over the ``pulumi`` CLI.

``LocalWorkspace`` runs the Pulumi CLI found on PATH against this project (``Pulumi.yaml`` at the repo
root, stack config in ``stacks/Pulumi.<stack>.yaml``). Failures become the errors of
:mod:`serving.ephemeral.errors` with what to do: no CLI (``FileNotFoundError: 'pulumi'``), no backend
login or AWS credentials, EC2 quota/capacity refusals (``VcpuLimitExceeded``,
``InsufficientInstanceCapacity``...). Stack tags live in the backend (Pulumi Cloud; DIY backends since
CLI 3.211), so the reaper can run from any machine logged in to the same backend.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import botocore.session
import pulumi.automation as auto
import yaml
from pulumi.automation.events import EngineEvent

from serving.ephemeral.cloud_ttl import StackRef, TtlScheduleClient, api_base
from serving.ephemeral.errors import (
    CredentialsError,
    PulumiCliMissingError,
    PulumiCliTooOldError,
    StackOperationError,
    classify_failure,
)
from serving.ephemeral.metadata import TAG_EPHEMERAL, TAG_TTL_SCHEDULE
from serving.ephemeral.ttl import format_timestamp
from serving.ephemeral.workspace import (
    BackendInfo,
    OperationResult,
    ProgressCallback,
    ProgressEvent,
    StackRecord,
)

ROOT = Path(__file__).resolve().parent.parent
T = TypeVar("T")
DIY_TAGS_VERSION = (3, 211, 0)
"""First Pulumi CLI that stores stack tags on self-managed (S3/file/...) backends (pulumi/pulumi#19882)."""


def version_tuple(version: str) -> tuple[int, ...]:
    """``v3.211.0-dev.1`` -> ``(3, 211, 0)``; unparseable parts count as 0."""
    core = version.strip().lstrip("v").split("-")[0].split("+")[0]
    return tuple(int(p) if p.isdigit() else 0 for p in (core.split(".") + ["0", "0"])[:3])


def translate_event(event: EngineEvent) -> ProgressEvent | None:
    """One engine event as a :class:`ProgressEvent` (None for events not worth a line)."""
    if event.resource_pre_event is not None:
        meta = event.resource_pre_event.metadata
        if meta.op == auto.OpType.SAME:
            return None
        return ProgressEvent(
            kind="start", message=str(meta.op.value), resource=_resource(meta.urn), op=meta.op.value
        )
    if event.res_outputs_event is not None:
        meta = event.res_outputs_event.metadata
        if meta.op == auto.OpType.SAME:
            return None
        return ProgressEvent(
            kind="done", message=str(meta.op.value), resource=_resource(meta.urn), op=meta.op.value
        )
    if event.res_op_failed_event is not None:
        meta = event.res_op_failed_event.metadata
        return ProgressEvent(kind="failed", message="failed", resource=_resource(meta.urn), op=meta.op.value)
    if event.diagnostic_event is not None and event.diagnostic_event.severity in ("error", "warning"):
        diag = event.diagnostic_event
        resource = _resource(diag.urn) if diag.urn else ""
        return ProgressEvent(kind="log", message=diag.message.strip(), resource=resource)
    if event.summary_event is not None:
        changes = {
            str(k.value if hasattr(k, "value") else k): v
            for k, v in event.summary_event.resource_changes.items()
        }
        text = ", ".join(f"{n} {op}" for op, n in sorted(changes.items()) if op != "same") or "no changes"
        return ProgressEvent(kind="summary", message=f"{text} in {event.summary_event.duration_seconds}s")
    return None


def _resource(urn: str) -> str:
    """``urn:pulumi:stack::project::type$type::name`` -> ``type::name`` (the last type)."""
    parts = urn.split("::")
    if len(parts) < 4:
        return urn
    return f"{parts[2].split('$')[-1]}::{parts[3]}"


def check_aws_credentials() -> None:
    """Raise CredentialsError when botocore finds no AWS credentials (env, profile, SSO, IMDS...)."""
    session = botocore.session.Session()
    try:
        credentials = session.get_credentials()
    except Exception as exc:  # botocore raises profile/SSO errors of many types
        raise CredentialsError(
            f"AWS credentials could not be loaded ({exc}); run `aws sso login` or `aws configure`"
        ) from exc
    if credentials is None:
        raise CredentialsError(
            "no AWS credentials found: run `aws sso login` or `aws configure`, or export AWS_PROFILE "
            "(or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY); check with `aws sts get-caller-identity`"
        )


def write_stack_config(path: Path, config: Mapping[str, Any]) -> None:
    """Set top-level ``config:`` keys in a ``Pulumi.<stack>.yaml`` and keep everything else
    (``encryptionsalt``, ``secretsprovider``, other keys) exactly as the CLI wrote it."""
    data: dict[str, Any] = {}
    if path.is_file():
        loaded = yaml.safe_load(path.read_text()) or {}
        data = dict(loaded) if isinstance(loaded, dict) else {}
    current = data.get("config")
    data["config"] = {**(current if isinstance(current, dict) else {}), **dict(config)}
    path.write_text(yaml.safe_dump(data, sort_keys=False, default_flow_style=False))


def read_stack_config(path: Path) -> dict[str, Any] | None:
    """The ``config:`` mapping of a stack file, or None when the file is not on this machine."""
    if not path.is_file():
        return None
    loaded = yaml.safe_load(path.read_text()) or {}
    config = loaded.get("config") if isinstance(loaded, dict) else None
    return dict(config) if isinstance(config, dict) else {}


class PulumiWorkspace:
    """Workspace over ``pulumi.automation`` for the project at ``work_dir``."""

    def __init__(self, *, work_dir: Path = ROOT, env: Mapping[str, str] | None = None) -> None:
        self.work_dir = work_dir
        self.env = dict(os.environ if env is None else env)
        self._ws: auto.LocalWorkspace | None = None
        self._backend: BackendInfo | None = None

    # -- plumbing --
    @contextmanager
    def _mapped(self, operation: str, stack: str, diagnostics: list[str] | None = None) -> Iterator[None]:
        try:
            yield
        except FileNotFoundError as exc:
            raise PulumiCliMissingError(str(exc)) from exc
        except auto.StackNotFoundError as exc:
            raise StackOperationError(f"no stack named {stack!r} in this backend") from exc
        except auto.StackAlreadyExistsError as exc:
            raise StackOperationError(f"stack {stack!r} already exists") from exc
        except auto.ConcurrentUpdateError as exc:
            raise StackOperationError(
                f"another update is running on {stack!r}; try again when it ends"
            ) from exc
        except auto.CommandError as exc:
            text = "\n".join([*(diagnostics or []), str(exc)])
            raise classify_failure(text, operation=operation, stack=stack) from exc

    def _workspace(self) -> auto.LocalWorkspace:
        if self._ws is None:
            with self._mapped("start", ""):
                self._ws = auto.LocalWorkspace(work_dir=str(self.work_dir), env_vars=self.env)
        return self._ws

    def _call(self, operation: str, stack: str, fn: Callable[[], T]) -> T:
        with self._mapped(operation, stack):
            return fn()

    def _config_path(self, name: str) -> Path:
        return self.work_dir / "stacks" / f"Pulumi.{name}.yaml"

    def _select(self, name: str) -> auto.Stack:
        ws = self._workspace()
        return self._call("select", name, lambda: auto.Stack.select(name, ws))

    # -- Workspace protocol --
    def preflight(self, *, region: str | None, aws: bool = True) -> BackendInfo:
        ws = self._workspace()
        who = self._call("whoami", "", ws.who_am_i)
        url = who.url or ""
        cloud = url.startswith(("https://", "http://"))
        version = ws.pulumi_version
        if not cloud and version_tuple(version) < DIY_TAGS_VERSION:
            raise PulumiCliTooOldError(
                f"Pulumi CLI {version} cannot keep stack tags on the self-managed backend {url} (the reaper "
                "relies on them): install 3.211 or newer (https://www.pulumi.com/docs/install/)"
            )
        self._backend = BackendInfo(url=url, user=who.user, pulumi_cloud=cloud)
        if aws:
            check_aws_credentials()
        return self._backend

    def _summaries(self, tag_filter: str | None = None) -> list[auto.StackSummary]:
        ws = self._workspace()
        if tag_filter is None:
            return self._call("list", "", ws.list_stacks)
        args = ["stack", "ls", "--json", "--tag-filter", tag_filter]
        result = self._call("list", "", lambda: ws.pulumi_command.run(args, ws.work_dir, dict(ws.env_vars)))
        return [
            auto.StackSummary(
                name=row["name"],
                current=bool(row.get("current", False)),
                update_in_progress=row.get("updateInProgress"),
                resource_count=row.get("resourceCount"),
                url=row.get("url"),
            )
            for row in json.loads(result.stdout or "[]")
        ]

    def _record(self, summary: auto.StackSummary) -> StackRecord:
        ws = self._workspace()
        tags = self._call("list tags", summary.name, lambda: ws.list_tags(summary.name))
        return StackRecord(
            name=summary.name,
            tags=dict(tags),
            config=read_stack_config(self._config_path(summary.name)),
            update_in_progress=bool(summary.update_in_progress),
            resource_count=summary.resource_count,
            url=summary.url,
        )

    def list_stacks(self, *, ephemeral_only: bool = False) -> list[StackRecord]:
        """With ``ephemeral_only`` the backend filters on the tag (``--tag-filter``), so other stacks'
        tags are never even read."""
        tag_filter = f"{TAG_EPHEMERAL}=true" if ephemeral_only else None
        return [self._record(s) for s in self._summaries(tag_filter)]

    def get_stack(self, name: str) -> StackRecord | None:
        for summary in self._summaries():
            if summary.name == name:
                return self._record(summary)
        return None

    def create_stack(self, name: str, *, config: Mapping[str, Any], tags: Mapping[str, str]) -> None:
        ws = self._workspace()
        self._call("create", name, lambda: auto.Stack.create(name, ws))
        write_stack_config(self._config_path(name), config)
        self.set_tags(name, tags)

    def set_config(self, name: str, config: Mapping[str, Any]) -> None:
        write_stack_config(self._config_path(name), config)

    def set_tags(self, name: str, tags: Mapping[str, str]) -> None:
        ws = self._workspace()
        with self._mapped("tag", name):
            for key, value in tags.items():
                ws.set_tag(name, key, value)

    def _run(self, operation: str, name: str, on_progress: ProgressCallback) -> OperationResult:
        stack = self._select(name)
        diagnostics: list[str] = []

        def on_event(event: EngineEvent) -> None:
            translated = translate_event(event)
            if translated is None:
                return
            if translated.kind == "log":
                diagnostics.append(translated.message)
            on_progress(translated)

        with self._mapped(operation, name, diagnostics):
            if operation == "up":
                up = stack.up(on_event=on_event, color="never", suppress_progress=True)
                summary, outputs = up.summary, {k: v.value for k, v in up.outputs.items()}
            else:
                down = stack.destroy(on_event=on_event, color="never", suppress_progress=True)
                summary, outputs = down.summary, {}
        changes = {str(getattr(k, "value", k)): int(v) for k, v in (summary.resource_changes or {}).items()}
        return OperationResult(changes=changes, outputs=outputs)

    def up(self, name: str, *, on_progress: ProgressCallback) -> OperationResult:
        return self._run("up", name, on_progress)

    def destroy(self, name: str, *, on_progress: ProgressCallback) -> OperationResult:
        return self._run("destroy", name, on_progress)

    def remove_stack(self, name: str) -> None:
        ws = self._workspace()
        self._call("remove", name, lambda: ws.remove_stack(name))

    def set_ttl_schedule(self, name: str, *, expires_at: datetime) -> str | None:
        backend = self._backend or self.preflight(region=None, aws=False)
        if not backend.pulumi_cloud:
            return None
        record = self.get_stack(name)
        if record is None or not record.url:
            raise StackOperationError(f"stack {name!r} has no Pulumi Cloud URL")
        ref = StackRef.from_console_url(record.url)
        client = TtlScheduleClient(base_url=api_base(backend.url), token=self.env.get("PULUMI_ACCESS_TOKEN"))
        schedule = client.set(ref, expires_at=expires_at, schedule_id=record.tags.get(TAG_TTL_SCHEDULE))
        if schedule:
            self.set_tags(name, {TAG_TTL_SCHEDULE: schedule})
        return (
            f"Pulumi Cloud TTL schedule {schedule or '(set)'}: destroy and delete "
            f"{ref.org}/{ref.project}/{ref.stack} at {format_timestamp(expires_at)}"
        )
