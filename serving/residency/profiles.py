"""Bedrock inference profiles: scope (in-Region / geo / global) and destination Regions.

Destinations come from, in order: a live preflight result (``overrides``), the data file
``data/inference_profiles.json`` (each entry with source and date, keyed by source Region), or, for a
geo profile missing there, only the geography (exact list unknown: a superset). A bare model id of a known
provider (``anthropic.claude-…``) is an In-Region call: it never leaves the source Region. Anything else, e.g.
an unknown prefix ``ca.anthropic…``, has scope ``unknown`` and no destinations: the rules fail closed on it.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from serving.errors import CatalogError

Scope = Literal["in-region", "geo", "global", "unknown"]
DATA_FILE = Path(__file__).with_name("data") / "inference_profiles.json"


@dataclass(frozen=True, kw_only=True)
class Geography:
    """A profile prefix (``eu.``) and the Regions it may route to (explicit list or Region-name prefixes)."""

    prefix: str
    scope: Scope
    name: str
    regions: tuple[str, ...]
    region_prefixes: tuple[str, ...]

    def may_include(self, region: str) -> bool:
        """True when ``region`` can be a destination of a profile in this geography."""
        if region in self.regions:
            return True
        return any(region.startswith(p) for p in self.region_prefixes) and not (
            self.prefix == "us." and region.startswith("us-gov-")
        )


@dataclass(frozen=True, kw_only=True)
class ProfileRoute:
    """Where one fallback target can send a prompt, as far as Paddock knows."""

    profile_id: str
    """As configured: ``eu.anthropic.claude-sonnet-4-5-20250929-v1:0`` or a bare model id."""
    model_id: str
    """Foundation-model id without the geography prefix."""
    scope: Scope
    source_region: str
    geography: str
    destinations: tuple[str, ...] | None
    """Destination Regions, sorted; None when only the geography is known."""
    known_from: str
    """Where ``destinations`` came from (``preflight``, the data file's source and date, or ``in-region``)."""
    basis: str
    """Short form of ``known_from``: ``preflight``, ``data file``, ``data file, unverified``, ``unknown``."""
    geo: Geography | None

    def may_reach(self, region: str) -> bool:
        """True when a prompt could be processed in ``region`` (exact list if known, else the geography)."""
        if self.destinations is not None:
            return region in self.destinations
        return self.geo is not None and self.geo.may_include(region)


@dataclass(frozen=True, kw_only=True)
class _Catalog:
    geographies: tuple[Geography, ...]
    profiles: Mapping[str, Mapping[str, Any]]
    providers: frozenset[str]
    """First segment of a bare foundation-model id (``anthropic`` in ``anthropic.claude-…``)."""


def _require(entry: Mapping[str, Any], where: str) -> None:
    for key in ("source", "date"):
        if not isinstance(entry.get(key), str) or not entry[key]:
            raise CatalogError(f"{DATA_FILE.name}: {where} has no {key!r}")


@lru_cache(maxsize=1)
def _catalog() -> _Catalog:
    raw = json.loads(DATA_FILE.read_text())
    geos = []
    for g in raw["geographies"]:
        _require(g, f"geography {g.get('prefix')!r}")
        geos.append(
            Geography(
                prefix=g["prefix"],
                scope=g["scope"],
                name=g["name"],
                regions=tuple(g.get("regions", ())),
                region_prefixes=tuple(g.get("regionPrefixes", ())),
            )
        )
    profiles: dict[str, Mapping[str, Any]] = {}
    for p in raw["profiles"]:
        _require(p, f"profile {p.get('id')!r}")
        if "destinations" not in p and "destinationsBySource" not in p:
            raise CatalogError(f"{DATA_FILE.name}: profile {p['id']!r} has no destinations")
        profiles[p["id"]] = p
    providers = raw["modelProviders"]
    _require(providers, "modelProviders")
    # Longest prefix first so "us-gov." wins over "us.".
    geos.sort(key=lambda g: -len(g.prefix))
    return _Catalog(geographies=tuple(geos), profiles=profiles, providers=frozenset(providers["ids"]))


def geography_of(profile_id: str) -> Geography | None:
    """The geography whose prefix starts ``profile_id``; None for a bare model id (In-Region)."""
    return next((g for g in _catalog().geographies if profile_id.startswith(g.prefix)), None)


def is_bare_model_id(model_id: str) -> bool:
    """True for ``<known provider>.<model>`` (``anthropic.claude-haiku-4-5-20251001-v1:0``)."""
    return model_id.split(".", 1)[0] in _catalog().providers and "." in model_id


@lru_cache(maxsize=1)
def _endpoints() -> Mapping[str, Any]:
    import botocore.session  # lazy: ~0.3-2 s to import, and only some rules need the Region list

    data: Mapping[str, Any] = botocore.session.get_session().get_data("endpoints")
    return data


@lru_cache(maxsize=16)
def aws_regions(partition: str = "aws") -> tuple[str, ...]:
    """Every Region of an AWS partition (``aws`` = commercial, ``aws-us-gov``), sorted, from botocore's
    bundled endpoints data (``botocore/data/endpoints.json``)."""
    parts = _endpoints()["partitions"]
    return tuple(sorted(r for p in parts if p["partition"] == partition for r in p["regions"]))


def is_known_region(region: str) -> bool:
    """True when ``region`` is a Region of any AWS partition in botocore's bundled endpoints data."""
    return any(region in p["regions"] for p in _endpoints()["partitions"])


def candidate_regions(route: ProfileRoute) -> tuple[str, ...]:
    """The profile's destinations if known, else every Region of its geography (a superset), sorted."""
    if route.destinations is not None:
        return route.destinations
    if route.geo is None:
        return ()
    geo = route.geo
    partition = "aws-us-gov" if geo.prefix == "us-gov." else "aws"
    return tuple(r for r in aws_regions(partition) if geo.may_include(r))


def known_profile_ids() -> tuple[str, ...]:
    """Ids of the profiles in the data file, sorted."""
    return tuple(sorted(_catalog().profiles))


def _from_data_file(profile_id: str, source_region: str) -> tuple[tuple[str, ...], str, str] | None:
    entry = _catalog().profiles.get(profile_id)
    if entry is None:
        return None
    by_source = entry.get("destinationsBySource")
    if by_source is not None:
        if source_region not in by_source:
            return None
        dests = by_source[source_region]
    else:
        dests = entry["destinations"]
    verified = "" if entry.get("verified") else ", unverified"
    known = f"data file: {entry['source']}, {entry['date']}{verified}"
    return tuple(sorted(dests)), known, f"data file{verified}"


def resolve_profile(
    profile_id: str,
    source_region: str,
    overrides: Mapping[str, tuple[str, ...]] | None = None,
) -> ProfileRoute:
    """Scope and destination Regions of ``profile_id`` called from ``source_region``.

    ``overrides`` maps profile ids to destination Regions found live by ``paddock preflight``; they win.
    """
    if profile_id.startswith("arn:"):
        return _resolve_arn(profile_id, source_region, overrides)
    geo = geography_of(profile_id)
    if geo is None and not is_bare_model_id(profile_id):
        prefix = profile_id.split(".", 1)[0] + "." if "." in profile_id else profile_id
        return ProfileRoute(
            profile_id=profile_id,
            model_id=profile_id,
            scope="unknown",
            source_region=source_region,
            geography=f"unknown prefix {prefix!r}",
            destinations=None,
            known_from=f"unknown: {prefix!r} is no geography or model provider in {DATA_FILE.name}",
            basis="unknown",
            geo=None,
        )
    if geo is None:
        return ProfileRoute(
            profile_id=profile_id,
            model_id=profile_id,
            scope="in-region",
            source_region=source_region,
            geography=f"In-Region {source_region}",
            destinations=(source_region,),
            known_from="in-region (bare model id)",
            basis="in-region",
            geo=None,
        )
    dests: tuple[str, ...] | None
    if overrides and profile_id in overrides:
        dests = tuple(sorted(overrides[profile_id]))
        known, basis = "preflight (GetInferenceProfile)", "preflight"
    else:
        found = _from_data_file(profile_id, source_region)
        unknown = f"unknown: not in {DATA_FILE.name}; run paddock preflight"
        dests, known, basis = found if found else (None, unknown, "unknown")
    return ProfileRoute(
        profile_id=profile_id,
        model_id=profile_id[len(geo.prefix) :],
        scope=geo.scope,
        source_region=source_region,
        geography=geo.name,
        destinations=dests,
        known_from=known,
        basis=basis,
        geo=geo,
    )


def _resolve_arn(
    arn: str, source_region: str, overrides: Mapping[str, tuple[str, ...]] | None
) -> ProfileRoute:
    """``…:inference-profile/<id>`` resolves as ``<id>`` from the ARN's Region, ``…:foundation-model/<id>``
    as an In-Region call there; any other ARN (application profiles, provisioned models) is ``unknown``."""
    region = region_of_arn(arn) or source_region
    resource = arn.split(":", 5)[5] if arn.count(":") >= 5 else ""
    kind, _, ident = resource.partition("/")
    if kind == "inference-profile" and ident:
        route = resolve_profile(ident, region, overrides)
        return dataclasses.replace(route, profile_id=arn)
    if kind == "foundation-model" and ident and is_bare_model_id(ident):
        return resolve_profile(ident, region, overrides)
    return ProfileRoute(
        profile_id=arn,
        model_id=ident or arn,
        scope="unknown",
        source_region=region,
        geography=f"unknown ARN kind {kind!r}",
        destinations=None,
        known_from=f"unknown: {kind or 'this'} ARN's destinations are not known offline",
        basis="unknown",
        geo=None,
    )


def profile_arn(*, partition: str, account_id: str, source_region: str, profile_id: str) -> str:
    """ARN of an inference profile (``arn:aws:bedrock:eu-central-1:123…:inference-profile/eu.anthropic…``)."""
    return f"arn:{partition}:bedrock:{source_region}:{account_id}:inference-profile/{profile_id}"


def foundation_model_arn(*, partition: str, region: str, model_id: str) -> str:
    """ARN of a foundation model in ``region`` (no account); ``region=""`` gives the global-profile form."""
    return f"arn:{partition}:bedrock:{region}::foundation-model/{model_id}"


def region_of_arn(arn: str) -> str | None:
    """The Region field of an ARN (``arn:aws:bedrock:eu-west-1::foundation-model/x`` → ``eu-west-1``)."""
    parts = arn.split(":")
    return parts[3] if len(parts) > 5 and parts[0] == "arn" else None
