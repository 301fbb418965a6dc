"""Typed reads from a raw config mapping that COLLECT problems instead of raising at the first one.

Used by :mod:`serving.stack_config`. Every read names its key path (``paddock:models[1].gpu``) so the final
error lists each problem with the key a user must edit. A failed read returns the default (or ``None``) and
records the problem; the caller raises once at the end via :meth:`Problems.raise_if_any`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from serving.errors import InputError

T = TypeVar("T")
#: top-level Pulumi config namespaces whose keys read ``<namespace>:<key>``
NAMESPACES = ("paddock", "aws")
_MISSING: Any = object()


class ConfigErrors(InputError):
    """Several config problems at once. ``problems`` holds ``(key, message)`` pairs; ``str()`` lists them,
    one per line, as ``key: message``; ``field`` is the first key."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  {key}: {msg}" for key, msg in self.problems)
        super().__init__(
            f"{len(self.problems)} problem(s) in stack config:\n{lines}", field=self.problems[0][0]
        )

    def __str__(self) -> str:
        return self.message


@dataclass
class Problems:
    """Collector of ``(key, message)`` pairs."""

    items: list[tuple[str, str]] = field(default_factory=list)

    def add(self, key: str, message: str) -> None:
        self.items.append((key, message))

    def raise_if_any(self) -> None:
        if self.items:
            raise ConfigErrors(self.items)


@dataclass
class Section:
    """A mapping read under key path ``path``; remembers which keys were read so unknown ones are reported."""

    data: Mapping[str, Any]
    path: str
    problems: Problems
    _seen: set[str] = field(default_factory=set)

    @classmethod
    def of(cls, value: Any, path: str, problems: Problems) -> Section:
        """Wrap ``value`` (None = empty section); a non-mapping is a problem and reads as empty."""
        if value is None:
            return cls({}, path, problems)
        if not isinstance(value, Mapping):
            problems.add(path, f"expected a mapping, got {type(value).__name__}")
            return cls({}, path, problems)
        return cls(value, path, problems)

    def key(self, name: str) -> str:
        """The key as the user writes it: ``paddock:tags`` at the top, ``paddock:models[0].gpu`` below."""
        sep = ":" if self.path in NAMESPACES else "."
        return f"{self.path}{sep}{name}"

    def has(self, name: str) -> bool:
        return name in self.data

    def raw(self, name: str) -> Any:
        self._seen.add(name)
        return self.data.get(name)

    def _get(self, name: str, kinds: tuple[type, ...], label: str, default: Any) -> Any:
        self._seen.add(name)
        if name not in self.data or self.data[name] is None:
            if default is _MISSING:
                self.problems.add(self.key(name), "is required")
                return None
            return default
        value = self.data[name]
        if isinstance(value, bool) and bool not in kinds:
            self.problems.add(self.key(name), f"expected {label}, got {value!r}")
            return None if default is _MISSING else default
        if not isinstance(value, kinds):
            self.problems.add(self.key(name), f"expected {label}, got {value!r}")
            return None if default is _MISSING else default
        return value

    def get_str(
        self, name: str, default: Any = _MISSING, *, pattern: str | None = None, hint: str = ""
    ) -> Any:
        value = self._get(name, (str,), "a string", default)
        if isinstance(value, str) and pattern and not re.fullmatch(pattern, value):
            self.problems.add(self.key(name), f"{value!r} {hint or 'has an invalid format'}")
            return None if default is _MISSING else default
        return value

    def get_choice(self, name: str, choices: Iterable[str], default: Any = _MISSING) -> Any:
        allowed = list(choices)
        value = self._get(name, (str,), "a string", default)
        if isinstance(value, str) and value not in allowed:
            self.problems.add(self.key(name), f"{value!r} is not one of {', '.join(allowed)}")
            return None if default is _MISSING else default
        return value

    def get_bool(self, name: str, default: Any = _MISSING) -> Any:
        return self._get(name, (bool,), "true or false", default)

    def get_int(
        self, name: str, default: Any = _MISSING, *, lo: int | None = None, hi: int | None = None
    ) -> Any:
        value = self._get(name, (int,), "an integer", default)
        return self._bounded(name, value, default, lo, hi)

    def get_number(
        self, name: str, default: Any = _MISSING, *, lo: float | None = None, hi: float | None = None
    ) -> Any:
        value = self._get(name, (int, float), "a number", default)
        return self._bounded(name, float(value) if value is not None else None, default, lo, hi)

    def _bounded(self, name: str, value: Any, default: Any, lo: float | None, hi: float | None) -> Any:
        if value is None or value is default:
            return value
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            bounds = (
                f"between {lo} and {hi}"
                if lo is not None and hi is not None
                else (f">= {lo}" if lo is not None else f"<= {hi}")
            )
            self.problems.add(self.key(name), f"{value} is out of range (must be {bounds})")
            return None if default is _MISSING else default
        return value

    def get_str_list(
        self, name: str, default: Any = _MISSING, *, pattern: str | None = None, hint: str = ""
    ) -> Any:
        value = self._get(name, (list,), "a list of strings", default)
        if not isinstance(value, list):
            return value
        out: list[str] = []
        for i, item in enumerate(value):
            if not isinstance(item, str) or (pattern and not re.fullmatch(pattern, item)):
                self.problems.add(f"{self.key(name)}[{i}]", f"{item!r} {hint or 'is not a valid string'}")
            else:
                out.append(item)
        return tuple(out)

    def get_str_map(self, name: str) -> dict[str, str]:
        value = self._get(name, (dict,), "a mapping of strings", {})
        out: dict[str, str] = {}
        for k, v in value.items():
            if not isinstance(k, str) or not isinstance(v, str | int | float) or isinstance(v, bool):
                self.problems.add(f"{self.key(name)}.{k}", f"expected a string value, got {v!r}")
            else:
                out[k] = str(v)
        return out

    def section(self, name: str) -> Section:
        self._seen.add(name)
        return Section.of(self.data.get(name), self.key(name), self.problems)

    def finish(self) -> None:
        """Report keys that were never read (typos, keys from another schema)."""
        for name in self.data:
            if name not in self._seen:
                self.problems.add(self.key(name), "unknown key")
