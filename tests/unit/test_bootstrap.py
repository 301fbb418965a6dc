"""scripts/bootstrap.py: standard library only, picks this machine's uv wheel, checks its sha256, unpacks the
binary, and runs paddock with the runtime dependencies only. The index is a local folder (file:// URLs)."""

from __future__ import annotations

import ast
import hashlib
import io
import json
import os
import sys
import zipfile
from pathlib import Path

import pytest

from scripts import bootstrap

ROOT = Path(__file__).resolve().parents[2]


def test_bootstrap_imports_only_the_standard_library() -> None:
    tree = ast.parse((ROOT / "scripts" / "bootstrap.py").read_text())
    names = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert names - {"__future__"} <= set(sys.stdlib_module_names)


def _index(tmp_path: Path, *, payload: bytes, digest: str | None = None) -> str:
    tag = bootstrap.wheel_tags()[0]
    name = f"uv-{bootstrap.UV_VERSION}-py3-none-{tag}.whl"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as whl:
        whl.writestr(f"uv-{bootstrap.UV_VERSION}.data/scripts/uv", payload)
    wheel = buf.getvalue()
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / name).write_bytes(wheel)
    meta = {
        "releases": {
            bootstrap.UV_VERSION: [
                {"filename": "uv-0.0.0.tar.gz", "url": "nope", "digests": {"sha256": ""}},
                {
                    "filename": name,
                    "url": f"../files/{name}",  # relative, as a mirror answers
                    "size": len(wheel),
                    "digests": {"sha256": digest or hashlib.sha256(wheel).hexdigest()},
                },
            ]
        }
    }
    (tmp_path / "uv").mkdir()
    (tmp_path / "uv" / "json").write_text(json.dumps(meta))
    return tmp_path.as_uri()


@pytest.mark.skipif(not bootstrap.wheel_tags(), reason="uv ships no wheel for this platform")
def test_download_checks_and_unpacks_the_uv_binary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(bootstrap, "INDEX", _index(tmp_path, payload=b"#!/bin/sh\necho fake uv\n"))
    monkeypatch.setattr(bootstrap, "BIN_DIR", tmp_path / "bin")
    uv = bootstrap.download_uv()
    assert uv == tmp_path / "bin" / "uv" and uv.read_bytes() == b"#!/bin/sh\necho fake uv\n"
    assert os.access(uv, os.X_OK)
    assert f"bootstrap: downloading uv {bootstrap.UV_VERSION} from PyPI" in capsys.readouterr().err


@pytest.mark.skipif(not bootstrap.wheel_tags(), reason="uv ships no wheel for this platform")
def test_a_wheel_whose_sha256_differs_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bootstrap, "INDEX", _index(tmp_path, payload=b"x", digest="0" * 64))
    monkeypatch.setattr(bootstrap, "BIN_DIR", tmp_path / "bin")
    with pytest.raises(SystemExit, match="sha256 mismatch"):
        bootstrap.download_uv()
    assert not (tmp_path / "bin" / "uv").exists()


def test_uv_flag_prints_the_uv_it_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = tmp_path / "uv"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert bootstrap.main(["--uv"]) == 0
    assert capsys.readouterr().out == f"{fake}\n"


def test_paddock_runs_without_the_dev_group(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[list[str]] = []
    monkeypatch.setattr(bootstrap, "find_uv", lambda: Path("/opt/uv"))
    monkeypatch.setattr(bootstrap.os, "execve", lambda path, args, env: seen.append(list(args)))
    bootstrap.main(["plan", "--stack", "dev"])
    assert seen == [
        [
            "/opt/uv",
            "run",
            "--frozen",
            "--no-dev",
            "--project",
            str(ROOT),
            "paddock",
            "plan",
            "--stack",
            "dev",
        ]
    ]


def test_the_readme_and_scripts_test_use_it() -> None:
    assert "python3 scripts/bootstrap.py plan --stack dev" in (ROOT / "README.md").read_text()
    assert "pip install" not in (ROOT / "README.md").read_text()
    script = (ROOT / "scripts" / "test").read_text()
    assert "UV=$(python3 scripts/bootstrap.py --uv)" in script and "pip install" not in script
    assert (ROOT / ".ci" / "run").read_text().strip().endswith("exec sh scripts/test")
