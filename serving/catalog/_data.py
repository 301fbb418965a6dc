"""Loading of the catalog's YAML data files (``serving/catalog/data``), validated and cached once per process.

Every record of every data file must carry ``source`` (non-empty text) and ``date`` (ISO ``YYYY-MM-DD``);
a file that breaks this raises :class:`~serving.errors.CatalogError` (a bug in Paddock, not user input).
"""

from __future__ import annotations

import datetime as _dt
import functools
from collections.abc import Mapping
from importlib import resources
from typing import Any

import yaml

from serving.errors import CatalogError

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
DATA_FILES = ("models.yaml", "gpus.yaml", "instances.yaml", "prices.yaml", "bedrock.yaml", "charts.yaml")


@functools.cache
def load_file(name: str) -> Mapping[str, Any]:
    """Parse one data file (cached). Raises CatalogError when it is missing or not a mapping."""
    try:
        text = resources.files("serving.catalog").joinpath("data", name).read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise CatalogError(f"catalog data file {name} is missing") from exc
    raw = yaml.load(text, Loader=_LOADER)  # noqa: S506 - a safe loader (C version when available)
    if not isinstance(raw, dict):
        raise CatalogError(f"catalog data file {name} is not a mapping")
    return raw


def records(name: str, key: str) -> list[Mapping[str, Any]]:
    """The list under ``key`` in data file ``name``, each record checked for source and date."""
    raw = load_file(name).get(key)
    if not isinstance(raw, list):
        raise CatalogError(f"{name}: '{key}' must be a list")
    for index, record in enumerate(raw):
        check_provenance(record, where=f"{name}:{key}[{index}]")
    return raw


def check_provenance(record: object, *, where: str) -> None:
    """Raise CatalogError unless ``record`` is a mapping with a non-empty ``source`` and an ISO ``date``."""
    if not isinstance(record, dict):
        raise CatalogError(f"{where}: record is not a mapping")
    source = record.get("source")
    if not isinstance(source, str) or not source.strip():
        raise CatalogError(f"{where}: missing 'source'")
    date = record.get("date")
    try:
        _dt.date.fromisoformat(str(date))
    except ValueError as exc:
        raise CatalogError(f"{where}: 'date' {date!r} is not YYYY-MM-DD") from exc


def number(record: Mapping[str, Any], key: str, *, where: str) -> float:
    """A required numeric field of a record (int or float, not bool)."""
    value = record.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise CatalogError(f"{where}: '{key}' must be a number, got {value!r}")
    return float(value)


def optional_number(record: Mapping[str, Any], key: str, *, where: str) -> float | None:
    """An optional numeric field (None when absent or null)."""
    if record.get(key) is None:
        return None
    return number(record, key, where=where)
