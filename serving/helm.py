"""Run the ``helm`` binary offline on our own charts (``helm template`` / ``helm lint``).

Used by ``paddock plan`` (rendered manifests) and by tests/chartcheck.py. The binary is the Helm 3 build
that ``scripts/tools.py`` unpacks into ``.tools/bin`` (``PADDOCK_HELM`` overrides the path). Helm's cache,
config and data dirs are pointed at a private scratch folder so nothing touches the user's home.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from serving.errors import RenderError

ROOT = Path(__file__).resolve().parent.parent
CHARTS_DIR = Path(__file__).resolve().parent / "charts"
DEFAULT_KUBE_VERSION = "1.33.0"
_TIMEOUT_S = 60


@cache
def program_dir() -> Path:
    """The Pulumi program directory: the project root joined with ``main`` of Pulumi.yaml (``stacks/``).

    Pulumi runs the program AND its provider plugins with this directory as the working directory
    (pulumi/pulumi pkg/engine/project.go ``getPwdMain``: a ``main`` that is a directory becomes the pwd;
    plugins start in that pwd, sdk/go/common/resource/plugin/plugin.go ``newPlugin(ctx, pwd, ...)``), so a
    relative Helm ``chart`` input is resolved against it by pulumi-kubernetes.
    """
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text()) or {}
    main = str(project.get("main") or ".")
    return (ROOT / main).resolve()


def release_chart(chart_dir: Path) -> str:
    """``chart`` input of a ``helm.v3.Release`` of one of our charts: ``chart_dir`` relative to
    :func:`program_dir` (``../serving/charts/model-server``), never an absolute path, so Pulumi state does not
    depend on where the checkout lives."""
    return PurePosixPath(os.path.relpath(chart_dir.resolve(), program_dir())).as_posix()


def resolve_release_chart(chart: str) -> Path | None:
    """The local chart directory a Release ``chart`` input names (relative to :func:`program_dir`), or None
    when it names no local chart (a repository chart such as ``keda``)."""
    if "/" not in chart:
        return None
    path = (program_dir() / chart).resolve()
    return path if (path / "Chart.yaml").is_file() else None


def helm_binary() -> Path:
    """Path of the helm binary: ``$PADDOCK_HELM`` or ``.tools/bin/helm`` (``python -m scripts.tools``)."""
    override = os.environ.get("PADDOCK_HELM")
    path = Path(override) if override else ROOT / ".tools" / "bin" / "helm"
    if not path.is_file():
        raise RenderError(f"helm not found at {path}; run `uv run python -m scripts.tools` to fetch it")
    return path


def _run(args: Sequence[str], *, values: Mapping[str, Any] | None) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="paddock-helm-") as scratch:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": scratch,
            "XDG_CACHE_HOME": f"{scratch}/cache",
            "XDG_CONFIG_HOME": f"{scratch}/config",
            "XDG_DATA_HOME": f"{scratch}/data",
            "HELM_NO_PLUGINS": "1",
        }
        cmd = [str(helm_binary()), *args]
        if values is not None:
            values_file = Path(scratch) / "values.yaml"
            values_file.write_text(yaml.safe_dump(dict(values), sort_keys=True))
            cmd += ["--values", str(values_file)]
        return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=_TIMEOUT_S, check=False)


def template(
    chart: Path | str,
    values: Mapping[str, Any],
    *,
    release: str,
    namespace: str,
    kube_version: str = DEFAULT_KUBE_VERSION,
    api_versions: Sequence[str] = (),
) -> str:
    """``helm template`` a local chart with ``values``; return the multi-document manifest YAML.

    ``api_versions`` are extra ``--api-versions`` (e.g. ``leaderworkerset.x-k8s.io/v1``) for charts that
    check for CRDs. Raises :class:`RenderError` with helm's stderr when rendering fails (schema errors
    included: helm checks ``values.schema.json``).
    """
    args = ["template", release, str(chart), "--namespace", namespace, "--kube-version", kube_version]
    for api in api_versions:
        args += ["--api-versions", api]
    proc = _run(args, values=values)
    if proc.returncode != 0:
        raise RenderError(f"helm template {chart} failed: {proc.stderr.strip()}", field=release)
    return proc.stdout


def lint(chart: Path | str, values: Mapping[str, Any] | None = None, *, strict: bool = True) -> str:
    """``helm lint [--strict]`` a local chart; return helm's report. Raises :class:`RenderError`."""
    args = ["lint", str(chart), *(["--strict"] if strict else [])]
    proc = _run(args, values=values)
    if proc.returncode != 0:
        raise RenderError(f"helm lint {chart} failed:\n{proc.stdout}{proc.stderr}".strip())
    return proc.stdout


def split_manifests(text: str) -> list[dict[str, Any]]:
    """Parse a multi-document manifest stream into its non-empty documents."""
    return [doc for doc in yaml.safe_load_all(text) if isinstance(doc, dict) and doc]
