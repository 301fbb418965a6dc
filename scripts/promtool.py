"""Fetch ``promtool`` (Prometheus' rule checker) for the alert-rule tests: ``promtool test rules``.

It ships in Debian's ``prometheus`` package. We fetch that one .deb with ``apt-get download`` (the ordinary
client; ``apt-get update`` is run once if the package lists are empty), read the ``ar`` archive and its
``data.tar.*`` in Python, and keep only ``usr/bin/promtool`` as ``.tools/bin/promtool``. Nothing is installed
system-wide. Idempotent: does nothing when the binary is present.

Run: ``python -m scripts.promtool`` (prints the path). Tests call :func:`ensure_promtool`.
"""

from __future__ import annotations

import io
import os
import shutil
import stat
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN_DIR = ROOT / ".tools" / "bin"
PACKAGE = "prometheus"
MEMBER = "usr/bin/promtool"


def promtool_path() -> Path:
    """Path of the promtool binary (``.tools/bin/promtool``); call :func:`ensure_promtool` first."""
    return BIN_DIR / "promtool"


def ar_members(data: bytes) -> dict[str, bytes]:
    """Members of a Unix ``ar`` archive (the .deb container): name -> bytes."""
    if not data.startswith(b"!<arch>\n"):
        raise RuntimeError("not an ar archive (expected a .deb)")
    members: dict[str, bytes] = {}
    pos = 8
    while pos + 60 <= len(data):
        header = data[pos : pos + 60]
        name = header[:16].decode("ascii").strip().rstrip("/")
        size = int(header[48:58].decode("ascii").strip())
        start = pos + 60
        members[name] = data[start : start + size]
        pos = start + size + (size % 2)
    return members


def extract_promtool(deb: bytes) -> bytes:
    """The promtool binary inside a ``prometheus`` .deb."""
    members = ar_members(deb)
    data_name = next((n for n in members if n.startswith("data.tar")), None)
    if data_name is None:
        raise RuntimeError("no data.tar.* member in the .deb")
    with tarfile.open(fileobj=io.BytesIO(members[data_name]), mode="r:*") as tar:
        for info in tar.getmembers():
            if info.name.lstrip("./") == MEMBER and info.isfile():
                handle = tar.extractfile(info)
                if handle is not None:
                    return handle.read()
    raise RuntimeError(f"{MEMBER} not found in {data_name}")


def _apt_download(workdir: Path) -> Path:
    if shutil.which("apt-get") is None:
        raise RuntimeError("apt-get is not available (promtool comes from Debian's prometheus package)")
    cmd = ["apt-get", "download", "-q", PACKAGE]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    done = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, env=env, timeout=600)
    if done.returncode != 0:  # empty or stale package lists on a fresh machine: refresh once and retry
        subprocess.run(["apt-get", "update", "-q"], capture_output=True, env=env, timeout=600, check=False)
        done = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, env=env, timeout=600)
    debs = sorted(workdir.glob(f"{PACKAGE}_*.deb"))
    if done.returncode != 0 or not debs:
        raise RuntimeError(f"apt-get download {PACKAGE} failed: {done.stderr.strip()[-300:]}")
    return debs[0]


def ensure_promtool() -> Path:
    """Make sure ``.tools/bin/promtool`` exists; return its path."""
    target = promtool_path()
    if target.exists():
        return target
    with tempfile.TemporaryDirectory() as tmp:
        deb = _apt_download(Path(tmp))
        binary = extract_promtool(deb.read_bytes())
    BIN_DIR.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    partial.write_bytes(binary)
    partial.chmod(partial.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    partial.replace(target)
    return target


if __name__ == "__main__":
    try:
        print(ensure_promtool())
    except Exception as exc:  # a missing apt or network problem: one line, non-zero exit
        print(f"error: could not fetch promtool from Debian's {PACKAGE} package: {exc}", file=sys.stderr)
        sys.exit(1)
