"""Residency rules over the gateway's routes, checked where they live: the gateway Helm release's
``values.routes`` (what Paddock ships) and any ConfigMap whose data holds a routes.yaml (hand-made tables).

Per alias: a pinned alias (``fallback: none`` in the stack) has no Bedrock route; with
``allowFallback: false`` no alias has one; a Bedrock route's Region and profile pass
:func:`serving.residency.rules.check_profile`; every primary URL is in-cluster or an endpoint of an allowed
Region. Content logging switched on anywhere in the document is an error. Routes YAML with a duplicate key
(a second ``fallback:`` silently wins in PyYAML) is an error before anything else is read from it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

import yaml

from serving.gateway.config import DuplicateKeyError, load_unique
from serving.residency.model import Finding, ResidencyPolicy
from serving.residency.profiles import is_known_region, resolve_profile
from serving.residency.rule_table import finding
from serving.residency.rules import check_profile

Record = Mapping[str, Any]
TRUTHY = ("1", "true", "yes", "on")
CLUSTER_SUFFIXES = (".svc", ".svc.cluster.local", ".cluster.local")
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")


def _truthy(value: Any) -> bool:
    return value is True or str(value).strip().lower() in TRUTHY


LOGGING_CONTENT_KEYS = (
    "content",
    "prompts",
    "bodies",
    "body",
    "messages",
    "requests",
    "responses",
    "payloads",
)
FLAG_KEYS = ("logcontent", "logprompts", "logbodies", "logbody", "logmessages", "logrequests", "logpayloads")
CONTENT_LOG_WORDS = ("LOG_CONTENT", "LOG_PROMPTS", "LOG_BODIES", "LOG_BODY", "LOG_MESSAGES", "LOG_PAYLOADS")


def _env_hit(entry: Mapping[str, Any]) -> bool:
    name = str(entry.get("name", "")).upper()
    return any(w in name for w in CONTENT_LOG_WORDS) and _truthy(entry.get("value", ""))


def logs_content(mapping: Mapping[str, Any], path: str = "") -> list[str]:
    """Paths in a routes/values document that switch on content logging, at any depth: ``logging:
    {content: true}`` (or prompts, bodies…), ``logContent: true`` (any case), an env entry
    ``{name: PADDOCK_LOG_PROMPTS, value: "true"}``, an arg ``--log-content``."""
    hits: list[str] = []
    for key, value in mapping.items():
        here = f"{path}{key}"
        lowered = str(key).lower()
        if lowered == "logging" and isinstance(value, Mapping):
            hits += [f"{here}.{k}" for k in LOGGING_CONTENT_KEYS if _truthy(value.get(k, False))]
        elif lowered in FLAG_KEYS and _truthy(value):
            hits.append(here)
        if isinstance(value, Mapping):
            hits += logs_content(value, here + ".")
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, Mapping):
                    hits += [f"{here}[{i}]"] if _env_hit(item) else logs_content(item, f"{here}[{i}].")
                elif isinstance(item, str) and item.startswith(
                    ("--log-content", "--log-prompts", "--log-bodies")
                ):
                    hits.append(f"{here}[{i}]={item}")
    return list(dict.fromkeys(hits))


def _host_region(host: str) -> str | None:
    """The Region named in an endpoint host (``x.eu-central-1.elb.amazonaws.com`` → ``eu-central-1``)."""
    return next((label for label in host.split(".") if is_known_region(label)), None)


def url_place(url: str, policy: ResidencyPolicy) -> str | None:
    """None when ``url`` stays in the cluster or in an allowed Region's endpoint, else why not."""
    host = (urlsplit(url).hostname or "").lower()
    if not host:
        return f"{url!r} has no host"
    if host in LOCAL_HOSTS or "." not in host or host.endswith(CLUSTER_SUFFIXES):
        return None
    region = _host_region(host)
    if region is None:
        return f"{host} is neither in-cluster (*.svc) nor an endpoint of a known AWS Region"
    return None if policy.allows(region) else f"{host} is in {region}"


def _bedrock(entry: Any) -> Mapping[str, Any] | None:
    fallback = entry.get("fallback") if isinstance(entry, Mapping) else None
    bedrock = fallback.get("bedrock") if isinstance(fallback, Mapping) else None
    return bedrock if isinstance(bedrock, Mapping) else None


def _alias_findings(
    name: str, where: str, alias: str, entry: Mapping[str, Any], policy: ResidencyPolicy
) -> list[Finding]:
    out: list[Finding] = []
    primary = entry.get("primary")
    for url_key in ("url", "metricsUrl"):
        url = primary.get(url_key) if isinstance(primary, Mapping) else None
        why = url_place(url, policy) if isinstance(url, str) else None
        if why is not None:
            out.append(
                finding(
                    name,
                    "paddock:models[].alias",
                    "primary-off-cluster",
                    _host_region((urlsplit(str(url)).hostname or "").lower()),
                    f"{where}: alias {alias} primary.{url_key} leaves the cluster: {why}",
                )
            )
    bedrock = _bedrock(entry)
    if bedrock is None:
        return out
    if alias in policy.pinned_aliases:
        out.append(
            finding(
                name,
                "paddock:models[].fallback",
                "pinned-alias-bedrock-route",
                None,
                f"alias {alias} is pinned (fallback: none) but {where} routes it to Bedrock",
            )
        )
    if not policy.allow_fallback:
        return [
            *out,
            finding(
                name,
                "paddock:residency.allowFallback",
                "fallback-forbidden",
                None,
                f"{where} routes alias {alias} to Bedrock",
            ),
        ]
    model, region = str(bedrock.get("model", "")), str(bedrock.get("region", policy.home_region))
    if not policy.allows(region):
        out.append(
            finding(
                name,
                "paddock:fallback.bedrock.region",
                "bedrock-source-region",
                region,
                f"{where}: alias {alias} calls Bedrock in {region}",
            )
        )
    endpoint = bedrock.get("endpoint")
    why = url_place(endpoint, policy) if isinstance(endpoint, str) else None
    if why is not None:
        out.append(
            finding(
                name,
                "paddock:fallback.bedrock.region",
                "bedrock-source-region",
                None,
                f"{where}: alias {alias} Bedrock endpoint override {why}",
            )
        )
    route = resolve_profile(model, region, policy.profile_overrides or None)
    return out + check_profile(route, policy, resource=name, key="paddock:fallback.bedrock.models")


def check_routes(doc: Mapping[str, Any], policy: ResidencyPolicy, *, name: str, where: str) -> list[Finding]:
    """Findings for one parsed routes document (``{aliases: {...}}``) of resource ``name``."""
    out = [
        finding(name, "paddock:gateway", "gateway-logs-content", None, f"{where}: {hit} logs content")
        for hit in logs_content(doc)
    ]
    aliases = doc.get("aliases")
    for alias, entry in aliases.items() if isinstance(aliases, Mapping) else []:
        if isinstance(entry, Mapping):
            out += _alias_findings(name, where, str(alias), entry, policy)
    return out


def _config_map_routes(record: Record) -> Iterator[tuple[str, Mapping[str, Any] | DuplicateKeyError]]:
    """(data key, parsed routes document or the duplicate key) for every ConfigMap value that is routes."""
    for data_key, text in (record.get("inputs", {}).get("data") or {}).items():
        if not isinstance(text, str) or "aliases" not in text:
            continue
        try:
            doc = load_unique(text)
        except DuplicateKeyError as exc:
            yield data_key, exc
            continue
        except yaml.YAMLError:
            continue
        if isinstance(doc, Mapping) and isinstance(doc.get("aliases"), Mapping):
            yield data_key, doc


def check_config_map(record: Record, policy: ResidencyPolicy) -> list[Finding]:
    """Routes tables in a ConfigMap's data (hand-made or from another chart)."""
    out: list[Finding] = []
    name = str(record["name"])
    for data_key, doc in _config_map_routes(record):
        if isinstance(doc, DuplicateKeyError):
            out.append(
                finding(
                    name,
                    "paddock:gateway",
                    "routes-duplicate-key",
                    None,
                    f"{data_key}: {doc} (YAML keeps the last value silently)",
                )
            )
        else:
            out += check_routes(doc, policy, name=name, where=data_key)
    return out


def check_release_values(record: Record, policy: ResidencyPolicy) -> list[Finding]:
    """The gateway release (``values.routes``, content-logging values) of a ``helm.v3.Release``."""
    values = record.get("inputs", {}).get("values")
    if not isinstance(values, Mapping):
        return []
    name = str(record["name"])
    out = [
        finding(name, "paddock:gateway", "gateway-logs-content", None, f"values: {hit} logs content")
        for hit in logs_content({k: v for k, v in values.items() if k != "routes"})
    ]
    routes = values.get("routes")
    if isinstance(routes, Mapping) and isinstance(routes.get("aliases"), Mapping):
        out += check_routes(routes, policy, name=name, where="values.routes")
    return out
