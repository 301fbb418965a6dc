"""scripts/promtool.py: reading promtool out of a Debian .deb (ar + data.tar.*) and its error paths."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from scripts import promtool


def _ar(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    out.write(b"!<arch>\n")
    for name, data in members.items():
        header = f"{name + '/':<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(data):<10}`\n".encode("ascii")
        assert len(header) == 60
        out.write(header + data + (b"\n" if len(data) % 2 else b""))
    return out.getvalue()


def _tar_xz(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:xz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_extracts_promtool_from_a_deb() -> None:
    data = _tar_xz({"./usr/bin/prometheus": b"server", "./usr/bin/promtool": b"\x7fELF tool"})
    deb = _ar({"debian-binary": b"2.0\n", "control.tar.xz": b"x", "data.tar.xz": data})
    assert promtool.ar_members(deb)["debian-binary"] == b"2.0\n"
    assert promtool.extract_promtool(deb) == b"\x7fELF tool"


@pytest.mark.parametrize(
    ("deb", "message"),
    [
        (b"PK\x03\x04 not a deb", "not an ar archive"),
        (_ar({"debian-binary": b"2.0\n"}), "no data.tar.* member"),
        (_ar({"data.tar.xz": _tar_xz({"./usr/bin/prometheus": b"x"})}), "usr/bin/promtool not found"),
    ],
    ids=["not-ar", "no-data", "no-promtool"],
)
def test_broken_debs_are_named(deb: bytes, message: str) -> None:
    with pytest.raises(RuntimeError, match=message):
        promtool.extract_promtool(deb)


def test_without_apt_get_the_error_says_so(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr("scripts.promtool.shutil.which", lambda _: None)
    with pytest.raises(RuntimeError, match="apt-get is not available"):
        promtool._apt_download(tmp_path)


def test_ensure_is_idempotent(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(promtool, "BIN_DIR", tmp_path)
    (tmp_path / "promtool").write_bytes(b"already here")
    monkeypatch.setattr(promtool, "_apt_download", lambda _: pytest.fail("must not download"))
    assert promtool.ensure_promtool() == tmp_path / "promtool"
