"""Helm values: leaf-substitution rendering of ``helm_values/*.yaml.j2`` and deep merge.

A template substitutes leaf values only (``{{ x | tojson }}``): no ``{% %}`` statements, so the YAML shape is
visible in the file and control flow lives in Python. Rendering uses jinja2 ``StrictUndefined`` (a missing
variable is an error) and also rejects context variables the template never uses (drift), then
``yaml.safe_load``s the result and checks it is a mapping. Builders of each release's context live in
:mod:`serving.release_values`.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2
import jinja2.meta
import yaml

from serving.errors import RenderError

HELM_VALUES_DIR = Path(__file__).resolve().parent.parent / "helm_values"


@functools.cache
def _environment(directory: Path) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(directory)),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
    )


def template_variables(name: str, directory: Path = HELM_VALUES_DIR) -> frozenset[str]:
    """Variables a template reads (``model_server.yaml.j2`` -> {"alias", "engine_args", ...})."""
    source = _source(name, directory)
    env = _environment(directory)
    return frozenset(jinja2.meta.find_undeclared_variables(env.parse(source)))


def _source(name: str, directory: Path) -> str:
    path = directory / name
    if not path.is_file():
        raise RenderError(f"values template {path} does not exist", field=name)
    source = path.read_text()
    if "{%" in source:
        raise RenderError(
            "statements ({% %}) are not allowed: templates substitute leaf values only", field=name
        )
    return source


def render_values(
    name: str, context: Mapping[str, Any], *, directory: Path = HELM_VALUES_DIR
) -> dict[str, Any]:
    """Render ``helm_values/<name>`` with ``context`` and parse it into a values mapping.

    Raises :class:`RenderError` (``field`` = template name) when a variable is missing, a context key is
    unused, the template uses statements, or the output is not a YAML mapping.
    """
    source = _source(name, directory)
    wanted = template_variables(name, directory)
    missing = sorted(wanted - set(context))
    if missing:  # checked up front: ``tojson`` would turn an Undefined into a TypeError
        raise RenderError(f"missing template variable(s): {', '.join(missing)}", field=name)
    unused = sorted(set(context) - wanted)
    if unused:
        raise RenderError(f"context keys not used by the template: {', '.join(unused)}", field=name)
    try:
        text = _environment(directory).from_string(source).render(**context)
    except jinja2.UndefinedError as exc:
        raise RenderError(f"missing template variable: {exc.message}", field=name) from None
    try:
        values = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RenderError(f"rendered values are not valid YAML: {exc}", field=name) from None
    if not isinstance(values, dict):
        raise RenderError("rendered values are not a mapping", field=name)
    return values


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Merge ``override`` into a copy of ``base`` the way Helm merges values files: mappings merge
    recursively, anything else (lists included) is replaced; ``None`` in ``override`` deletes the key."""
    merged: dict[str, Any] = copy.deepcopy(dict(base))
    for key, value in override.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def split_image(image: str, *, key: str | None = None) -> tuple[str, str]:
    """``vllm/vllm-openai:v0.11.0`` -> (``vllm/vllm-openai``, ``v0.11.0``), split at the last ':'.

    A digest reference ``repo@sha256:abc`` splits into (``repo@sha256``, ``abc``), which our charts join back
    with ':' unchanged. ValueError when the image has no tag (``key`` names the config key to pin it in)."""
    name, _, tag = image.rpartition(":")
    if not name or "/" in tag or not tag:
        where = f"; pin one in {key}" if key else ""
        raise ValueError(f"image {image!r} has no tag{where}")
    return name, tag
