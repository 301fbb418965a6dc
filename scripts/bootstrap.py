"""First-run bootstrap: ``python3 scripts/bootstrap.py <paddock args>`` on any stock Python >= 3.11.

Pure standard library (no pip, no venv module, no ``--break-system-packages``), so it runs on a Debian 12 or
Ubuntu 24.04 python3 that is PEP 668 "externally managed". It finds ``uv`` on PATH or in ``.tools/bin``; when
there is none it downloads the pinned uv wheel from PyPI (one file, about 20 MB, sha256 checked against
PyPI's metadata) and unpacks the ``uv`` binary into ``.tools/bin``. Then it runs
``uv run --frozen --no-dev paddock <args>``: the runtime dependencies of ``uv.lock`` only (no mypy, ruff,
checkov, moto: those are the ``dev`` group, which ``scripts/test`` installs).

``python3 scripts/bootstrap.py --uv`` prints the uv path only (``scripts/test`` uses it).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import platform
import shutil
import stat
import sys
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path

UV_VERSION = "0.13.9"  # the uv that wrote uv.lock; PyPI project "uv"
ROOT = Path(__file__).resolve().parent.parent
BIN_DIR = ROOT / ".tools" / "bin"
INDEX = os.environ.get("PADDOCK_PYPI_JSON", "https://pypi.org/pypi")


def say(message: str) -> None:
    """One progress line on stderr (stdout stays the command's)."""
    print(f"bootstrap: {message}", file=sys.stderr, flush=True)


def wheel_tags() -> list[str]:
    """Substrings that pick this machine's uv wheel, most specific first; [] when uv ships none."""
    machine = platform.machine().lower()
    arch = {"amd64": "x86_64", "x86_64": "x86_64", "arm64": "aarch64", "aarch64": "aarch64"}.get(machine)
    if arch is None:
        return []
    if sys.platform.startswith("linux"):
        libc = "musllinux_1_1" if platform.libc_ver()[0] != "glibc" else "manylinux_2_17"
        return [f"{libc}_{arch}"]
    if sys.platform == "darwin":
        return ["macosx_11_0_arm64" if arch == "aarch64" else "macosx_10_12_x86_64"]
    if sys.platform == "win32":
        return ["win_amd64" if arch == "x86_64" else "win_arm64"]
    return []


def download_uv() -> Path:
    """Fetch uv ``UV_VERSION`` from PyPI into ``.tools/bin/uv``; return its path."""
    tags = wheel_tags()
    if not tags:
        raise SystemExit(
            f"bootstrap: no uv wheel for {sys.platform}/{platform.machine()}; install uv yourself"
        )
    meta_url = f"{INDEX}/uv/json"
    with urllib.request.urlopen(meta_url, timeout=60) as resp:
        files = json.load(resp)["releases"].get(UV_VERSION, [])
    wheel = next((f for f in files if f["filename"].endswith(".whl") and tags[0] in f["filename"]), None)
    if wheel is None:
        raise SystemExit(f"bootstrap: PyPI has no uv {UV_VERSION} wheel matching {tags[0]}")
    size_mb = wheel.get("size", 0) / 1e6
    say(f"downloading uv {UV_VERSION} from PyPI ({wheel['filename']}, {size_mb:.0f} MB) into {BIN_DIR}")
    # a PyPI mirror may answer with URLs relative to the metadata's
    with urllib.request.urlopen(urllib.parse.urljoin(meta_url, wheel["url"]), timeout=300) as resp:
        data: bytes = resp.read()
    if hashlib.sha256(data).hexdigest() != wheel["digests"]["sha256"]:
        raise SystemExit(f"bootstrap: sha256 mismatch for {wheel['filename']}")
    exe = "uv.exe" if sys.platform == "win32" else "uv"
    with zipfile.ZipFile(io.BytesIO(data)) as whl:
        member = next(n for n in whl.namelist() if n.endswith(f".data/scripts/{exe}"))
        BIN_DIR.mkdir(parents=True, exist_ok=True)
        target = BIN_DIR / exe
        tmp = target.with_suffix(".part")
        tmp.write_bytes(whl.read(member))
        tmp.chmod(tmp.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        tmp.replace(target)
    return target


def find_uv() -> Path:
    """uv on PATH, else ``.tools/bin/uv``, else downloaded there."""
    on_path = shutil.which("uv")
    if on_path:
        return Path(on_path)
    local = BIN_DIR / ("uv.exe" if sys.platform == "win32" else "uv")
    return local if local.is_file() else download_uv()


def main(argv: list[str]) -> int:
    """Run ``paddock <argv>`` through uv (runtime dependencies only); ``--uv`` prints the uv path."""
    if sys.version_info < (3, 11):  # noqa: UP036 (this file runs on any python3, before uv)
        say(f"Python >= 3.11 is needed, this is {platform.python_version()} ({sys.executable})")
        return 2
    try:
        uv = find_uv()
    except (OSError, ValueError, zipfile.BadZipFile) as exc:  # network, disk or format: one line
        say(f"could not fetch uv {UV_VERSION} from PyPI: {exc}")
        return 1
    if argv[:1] == ["--uv"]:
        print(uv)
        return 0
    env = dict(os.environ)
    if not (ROOT / ".venv").exists():
        # uv makes .venv itself with this interpreter: no venv module or pip needed. The first install also
        # writes bytecode (pulumi_aws alone is ~4 s of compiling a run where PYTHONDONTWRITEBYTECODE is set).
        env.setdefault("UV_PYTHON", sys.executable)
        env.setdefault("UV_COMPILE_BYTECODE", "1")
    cmd = [str(uv), "run", "--frozen", "--no-dev", "--project", str(ROOT), "paddock", *argv]
    if sys.platform == "win32":
        import subprocess

        return subprocess.call(cmd, env=env)
    os.execve(cmd[0], cmd, env)
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
