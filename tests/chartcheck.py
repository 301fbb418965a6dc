"""Shared checks for our own Helm charts (reuse them for every chart under serving/charts/).

    manifests = render(chart, values, release="llama-8b", namespace="serving")   # helm template (Helm 3)
    lint(chart, values)                         # helm lint --strict; raises on failure
    assert validate_strict(manifests) == []     # kubernetes-validate --strict against K8s 1.33 schemas
    report = checkov_report({"a": manifests, "b": other})   # one checkov run (~8 s) for several streams
    assert checkov_failures(report) == []       # checkov (kubernetes framework), offline

Kinds without a bundled schema (CRDs such as LeaderWorkerSet, ScaledObject) are returned by
:func:`unvalidated_kinds` so a test can assert exactly which ones were skipped. Checkov skips must be
written inline in the chart as ``checkov.io/skip<N>: CKV_K8S_<id>=<reason>`` annotations; this helper
never passes ``--skip-check``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import kubernetes_validate
import yaml

from serving import helm

KUBE_VERSION = "1.33.0"


def render(
    chart: Path | str,
    values: Mapping[str, Any],
    *,
    release: str,
    namespace: str,
    api_versions: tuple[str, ...] = (),
) -> str:
    """``helm template`` the chart (Helm 3 from .tools/bin) for K8s 1.33; returns manifest YAML."""
    return helm.template(
        chart,
        values,
        release=release,
        namespace=namespace,
        kube_version=KUBE_VERSION,
        api_versions=api_versions,
    )


def lint(chart: Path | str, values: Mapping[str, Any] | None = None) -> str:
    """``helm lint --strict``; raises serving.errors.RenderError with helm's report on failure."""
    return helm.lint(chart, values, strict=True)


def documents(manifests: str) -> list[dict[str, Any]]:
    """The manifest stream as a list of objects."""
    return helm.split_manifests(manifests)


def validate_strict(manifests: str, version: str = KUBE_VERSION) -> list[str]:
    """kubernetes-validate (strict: unknown fields are errors) every object; return error lines
    ``Kind/name: message``. Objects whose kind has no bundled schema are skipped (see
    :func:`unvalidated_kinds`)."""
    errors: list[str] = []
    for obj in documents(manifests):
        where = f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            continue
        except kubernetes_validate.ValidationError as exc:
            errors.append(f"{where}: {exc.message} at {'.'.join(str(p) for p in exc.path)}")
    return errors


def unvalidated_kinds(manifests: str, version: str = KUBE_VERSION) -> list[str]:
    """Kinds in the stream that kubernetes-validate has no schema for (CRDs), sorted."""
    missing: set[str] = set()
    for obj in documents(manifests):
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            missing.add(str(obj.get("kind")))
        except kubernetes_validate.ValidationError:
            pass
    return sorted(missing)


def checkov_report(manifests: str | Mapping[str, str]) -> dict[str, Any]:
    """Run checkov once (kubernetes framework, offline: BC_SKIP_MAPPING=TRUE) on one manifest stream or
    several (name -> stream; one checkov run is ~8 s, so batch); return its parsed JSON report for the
    kubernetes framework (``summary``, ``results.failed_checks``, ``results.skipped_checks``)."""
    streams = {"manifests": manifests} if isinstance(manifests, str) else dict(manifests)
    with tempfile.TemporaryDirectory(prefix="paddock-checkov-") as scratch:
        target = Path(scratch) / "manifests"
        for stream_name, text in streams.items():
            folder = target / stream_name
            folder.mkdir(parents=True)
            for i, obj in enumerate(documents(text)):
                (folder / f"{i:03d}-{obj.get('kind', 'obj').lower()}.yaml").write_text(yaml.safe_dump(obj))
        env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "HOME": scratch}
        checkov = Path(sys.executable).parent / "checkov"
        proc = subprocess.run(
            [str(checkov), "-d", str(target), "--framework", "kubernetes", "-o", "json", "--compact"],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
            check=False,
        )
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"checkov failed (rc {proc.returncode}): {proc.stderr[-2000:]}")
    data = json.loads(proc.stdout)
    reports = data if isinstance(data, list) else [data]
    for report in reports:
        if report.get("check_type") == "kubernetes":
            return dict(report)
    raise RuntimeError(f"checkov printed no kubernetes report: {proc.stdout[:500]}")


def checkov_failures(report: dict[str, Any]) -> list[str]:
    """Failed checks of a :func:`checkov_report` as ``CKV_K8S_n Kind.ns.name (file): title`` lines."""
    failed = report.get("results", {}).get("failed_checks", [])
    return sorted(
        f"{c['check_id']} {c.get('resource')} ({c.get('file_path')}): {c.get('check_name')}" for c in failed
    )


def checkov_skipped(report: dict[str, Any]) -> list[tuple[str, str]]:
    """Checks skipped inline (annotations) as sorted ``(check_id, reason)`` pairs."""
    skipped = report.get("results", {}).get("skipped_checks", [])
    return sorted({(c["check_id"], str(c.get("check_result", {}).get("suppress_comment"))) for c in skipped})


def checkov_passed_count(report: dict[str, Any]) -> int:
    """Number of passed checks (proves checkov really looked at the objects)."""
    return int(report.get("summary", {}).get("passed", 0))
