"""Kubernetes resource quantities as plain numbers: CPU in millicores, memory/storage in MiB."""

from __future__ import annotations

from typing import Any

_BINARY = {"Ki": 1 / 1024, "Mi": 1.0, "Gi": 1024.0, "Ti": 1024.0**2}
_DECIMAL = {"k": 1e3 / 2**20, "M": 1e6 / 2**20, "G": 1e9 / 2**20, "T": 1e12 / 2**20}


def cpu_millis(value: Any) -> float:
    """``"100m"`` -> 100, ``"2"``/``2`` -> 2000, None -> 0."""
    if value is None or value == "":
        return 0.0
    text = str(value)
    if text.endswith("m"):
        return float(text[:-1])
    return float(text) * 1000


def mebibytes(value: Any) -> float:
    """``"300Mi"`` -> 300, ``"2Gi"`` -> 2048, ``"128M"`` -> 122.07, bytes as a number -> MiB, None -> 0."""
    if value is None or value == "":
        return 0.0
    text = str(value)
    for suffix, factor in (_BINARY | _DECIMAL).items():
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * factor
    return float(text) / 2**20
