"""Just enough PromQL lexing to list the metric names an expression selects.

Used by tests and by :func:`unknown_metrics` to prove that every dashboard query and alert rule names only
metrics from :mod:`serving.monitoring.catalog`. Syntax is checked by ``promtool`` (scripts/promtool.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from serving.monitoring.catalog import lookup

_STRING = re.compile(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGE = re.compile(r"\[[^\]]*\]")
_GRAFANA_VAR = re.compile(r"\$\{[^}]*\}|\$\w+")
_LABEL_LIST = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_TOKEN = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_KEYWORDS = frozenset(
    {"and", "or", "unless", "bool", "offset", "inf", "nan", "atan2", "by", "without", "on", "ignoring"}
    | {"group_left", "group_right"}
)


def metric_names(expr: str) -> set[str]:
    """Series names selected by ``expr``: ``sum(rate(vllm:generation_tokens_total{alias="a"}[5m]))`` gives
    ``{"vllm:generation_tokens_total"}``. Function names, keywords, label names and strings are ignored."""
    text = _STRING.sub('""', expr)
    text = _GRAFANA_VAR.sub("1", text)
    text = _MATCHERS.sub(" ", text)
    text = _RANGE.sub(" ", text)
    text = _LABEL_LIST.sub(" ", text)
    names: set[str] = set()
    for match in _TOKEN.finditer(text):
        token = match.group(0)
        rest = text[match.end() :].lstrip()
        if rest.startswith("(") or token.lower() in _KEYWORDS:
            continue
        before = text[: match.start()]
        if before and (before[-1].isdigit() or before[-1] == "."):
            continue  # the tail of a number or duration such as 1e6 or 5m
        names.add(token)
    return names


def unknown_metrics(exprs: Iterable[str]) -> set[str]:
    """Names used in ``exprs`` that the metric catalog does not list (empty = all known)."""
    return {name for expr in exprs for name in metric_names(expr) if lookup(name) is None}
