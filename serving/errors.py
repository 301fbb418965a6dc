"""The one error tree of the ``serving`` package.

    PaddockError                     base of every error Paddock raises on purpose
    ├── InputError                   bad user input (CLI flag, config key, config.json field); CLI exit 2
    │   └── CatalogLookupError       an id that is not in a catalog (model, GPU, instance, region)
    ├── CatalogError                 a broken catalog data file (a bug in Paddock, not in user input)
    ├── SizingError                  a request that is valid but cannot be served (nothing fits); CLI exit 1
    └── RenderError                  a template or chart that failed to render or validate

Every error carries ``field``: the flag or config key it is about (``--tp``, ``paddock:models[1].gpu``),
so the CLI can print one clear line naming it. The gateway has its own tree in ``serving/gateway/errors.py``
that subclasses :class:`PaddockError`.
"""

from __future__ import annotations


class PaddockError(Exception):
    """Base class. ``field`` names the flag or config key at fault, when there is one."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        #: the command already printed this error in its own JSON document (``paddock audit --format json``)
        self.json_reported = False

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


class InputError(PaddockError):
    """Bad user input: a flag, a config key or a field of a user's config.json."""


class CatalogLookupError(InputError):
    """An id that is not in a catalog. The message lists the nearest known ids."""


class CatalogError(PaddockError):
    """A catalog data file is malformed (missing source/date, wrong type). A bug in Paddock."""


class SizingError(PaddockError):
    """The request is valid but nothing can serve it (for example no instance fits the model)."""


class RenderError(PaddockError):
    """A Helm values template or one of our charts failed to render or validate."""
