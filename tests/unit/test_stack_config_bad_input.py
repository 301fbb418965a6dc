"""Bad stack config, as a table: each case edits the shipped dev stack and names the ONE key (as the user
writes it) its ONE problem line must start with, and a phrase of that line (the review's cases and more)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from serving.config_reader import ConfigErrors
from serving.errors import InputError
from serving.stack_config import load_stack_file, parse_stack_config, read_stack_file

STACKS = Path(__file__).resolve().parents[2] / "stacks"
DEV: dict[str, Any] = read_stack_file(STACKS / "Pulumi.dev.yaml")

Edit = Callable[[dict[str, Any]], None]


def model(**changes: Any) -> Edit:
    def edit(raw: dict[str, Any]) -> None:
        raw["paddock:models"][0].update(changes)

    return edit


def section(name: str, **changes: Any) -> Edit:
    def edit(raw: dict[str, Any]) -> None:
        raw.setdefault(f"paddock:{name}", {}).update(changes)

    return edit


def top(key: str, value: Any) -> Edit:
    def edit(raw: dict[str, Any]) -> None:
        raw[key] = value

    return edit


def drop(key: str) -> Edit:
    def edit(raw: dict[str, Any]) -> None:
        raw.pop(key)

    return edit


def rename(old: str, new: str) -> Edit:
    def edit(raw: dict[str, Any]) -> None:
        raw[new] = raw.pop(old)

    return edit


def both(*edits: Edit) -> Edit:
    def edit(raw: dict[str, Any]) -> None:
        for e in edits:
            e(raw)

    return edit


def bedrock_profile(value: Any) -> Edit:
    def edit(raw: dict[str, Any]) -> None:
        raw["paddock:fallback"]["bedrock"]["models"]["claude-haiku"]["inferenceProfile"] = value

    return edit


# (id, edit, key the single problem names, phrase of its message)
CASES: list[tuple[str, Edit, str, str]] = [
    # keys and namespaces
    ("no-namespace", top("foo", "bar"), "foo", "without a namespace"),
    ("no-namespace-near-key", top("models", []), "models", "write paddock:models"),
    ("unknown-paddock-key", top("paddock:modles", []), "paddock:modles", "did you mean paddock:models"),
    ("region-missing", drop("aws:region"), "aws:region", "is required"),
    ("region-without-namespace", rename("aws:region", "region"), "region", "write aws:region"),
    ("region-misspelled", rename("aws:region", "aws:regoin"), "aws:regoin", "did you mean aws:region"),
    ("region-bad", top("aws:region", "europe"), "aws:region", "is not a region"),
    ("region-not-string", top("aws:region", 5), "aws:region", "is not a region"),
    # top-level keys use ':' as the user writes them, not '.'
    ("tags-not-mapping", top("paddock:tags", "x"), "paddock:tags", "expected a mapping"),
    ("tag-value-list", top("paddock:tags", {"team": [1]}), "paddock:tags.team", "expected a string"),
    ("environment-bad", top("paddock:environment", "Dev Env"), "paddock:environment", "not a label"),
    ("namespace-bad", top("paddock:namespace", "Serving_"), "paddock:namespace", "bad name"),
    ("models-empty", top("paddock:models", []), "paddock:models", "non-empty list"),
    ("models-not-list", top("paddock:models", {"a": 1}), "paddock:models", "non-empty list"),
    # one model
    (
        "replicas-min-negative",
        model(replicas={"min": -1, "max": 2}),
        "paddock:models[0].replicas.min",
        "out of range",
    ),
    (
        "replicas-min-over-max",
        model(replicas={"min": 3, "max": 2}),
        "paddock:models[0].replicas.min",
        "greater than max",
    ),
    (
        "replicas-max-zero",
        model(replicas={"min": 0, "max": 0}),
        "paddock:models[0].replicas.max",
        "out of range",
    ),
    (
        "replicas-not-int",
        model(replicas={"min": "one", "max": 2}),
        "paddock:models[0].replicas.min",
        "an integer",
    ),
    (
        "replicas-bool",
        model(replicas={"min": True, "max": 2}),
        "paddock:models[0].replicas.min",
        "an integer",
    ),
    (
        "replicas-unknown",
        model(replicas={"minimum": 1, "max": 2}),
        "paddock:models[0].replicas.minimum",
        "unknown key",
    ),
    ("gpu-bogus", model(gpu="p5.48xl"), "paddock:models[0].gpu", "not a GPU id or instance type"),
    ("engine-bogus", model(engine="sglang"), "paddock:models[0].engine", "not one of vllm, tgi"),
    ("engine-version-bad", model(engineVersion="latest"), "paddock:models[0].engineVersion", "not a version"),
    (
        "engine-version-vs-image",
        model(engineVersion="0.10.0"),
        "paddock:models[0].engineVersion",
        "disagrees",
    ),
    ("weights-bad", model(weights="http://x"), "paddock:models[0].weights", "is not 'hf' or s3://"),
    ("weights-missing", model(weights=None), "paddock:models[0].weights", "is required"),
    ("weights-region-bad", model(weightsRegion="mars"), "paddock:models[0].weightsRegion", "not a region"),
    ("context-tiny", model(context=10), "paddock:models[0].context", "out of range"),
    ("context-float", model(context=8192.5), "paddock:models[0].context", "an integer"),
    ("concurrency-zero", model(concurrency=0), "paddock:models[0].concurrency", "out of range"),
    ("alias-bad", model(alias="Llama_8B"), "paddock:models[0].alias", "DNS label"),
    ("quantization-bad", model(quantization="int3"), "paddock:models[0].quantization", "not one of"),
    ("capacity-bad", model(capacityType="cheap"), "paddock:models[0].capacityType", "not one of"),
    (
        "reservation-without-type",
        model(capacityReservationId="cr-0123456789abcdef0"),
        "paddock:models[0].capacityReservationId",
        "only valid with",
    ),
    (
        "reservation-missing",
        model(capacityType="capacity-block"),
        "paddock:models[0].capacityReservationId",
        "is required",
    ),
    ("slo-zero", model(sloTtftSeconds=0), "paddock:models[0].sloTtftSeconds", "out of range"),
    ("model-unknown-key", model(replica=2), "paddock:models[0].replica", "unknown key"),
    ("fallback-unknown", model(fallback="claude-opus"), "paddock:models[0].fallback", "not 'none' or a key"),
    # contradictions that used to pass silently or fail later, in a component
    (
        "fallback-without-gateway",
        section("gateway", enabled=False),
        "paddock:models[0].fallback",
        "needs the gateway",
    ),
    (
        "scale-to-zero-without-keda",
        both(
            model(replicas={"min": 0, "max": 2}),
            section("autoscaling", keda=False),
            section("versions", prometheusAdapterChart="4.11.0"),
        ),
        "paddock:models[0].replicas.min",
        "needs paddock:autoscaling.keda",
    ),
    (
        "scale-to-zero-without-gateway",
        both(model(replicas={"min": 0, "max": 2}, fallback="none"), section("gateway", enabled=False)),
        "paddock:models[0].replicas.min",
        "gateway to wake",
    ),
    # other sections
    ("gateway-replicas-zero", section("gateway", replicas=0), "paddock:gateway.replicas", "out of range"),
    ("gateway-unknown", section("gateway", port=80), "paddock:gateway.port", "unknown key"),
    ("keda-string", section("autoscaling", keda="yes"), "paddock:autoscaling.keda", "true or false"),
    (
        "node-autoscaler-bad",
        section("autoscaling", nodeAutoscaler="kapenter"),
        "paddock:autoscaling.nodeAutoscaler",
        "not one of",
    ),
    (
        "retention-zero",
        section("residency", logRetentionDays=0),
        "paddock:residency.logRetentionDays",
        "out of range",
    ),
    (
        "allowed-region-bad",
        section("residency", allowedRegions=["us-east-1", "nowhere"]),
        "paddock:residency.allowedRegions[1]",
        "not a region",
    ),
    ("network-cidr-bad", section("network", cidr="10.0.0.0/8"), "paddock:network.cidr", "/16-/24"),
    ("network-az-one", section("network", azCount=1), "paddock:network.azCount", "out of range"),
    ("registry-mode-bad", section("registry", mode="proxy"), "paddock:registry.mode", "not one of"),
    (
        "inference-profile-bad",
        bedrock_profile("Claude Haiku!"),
        "paddock:fallback.bedrock.models.claude-haiku.inferenceProfile",
        "not a model/profile id",
    ),
    (
        "ephemeral-owner-unicode",
        top("paddock:ephemeral", {"owner": "Ålice"}),
        "paddock:ephemeral.owner",
        "not a user name",
    ),
    (
        "ephemeral-owner-empty",
        top("paddock:ephemeral", {"owner": ""}),
        "paddock:ephemeral.owner",
        "not a user name",
    ),
    (
        "ephemeral-expires-bad",
        top("paddock:ephemeral", {"owner": "alice", "expiresAt": "tomorrow"}),
        "paddock:ephemeral.expiresAt",
        "ISO-8601",
    ),
    (
        "ephemeral-ttl-bad",
        top("paddock:ephemeral", {"owner": "alice", "ttl": "4 hours"}),
        "paddock:ephemeral.ttl",
        "duration",
    ),
]


@pytest.mark.parametrize(("edit", "key", "phrase"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_one_bad_value_is_one_line_naming_its_key(edit: Edit, key: str, phrase: str) -> None:
    raw = copy.deepcopy(DEV)
    edit(raw)
    with pytest.raises(ConfigErrors) as info:
        parse_stack_config(raw, stack="dev")
    assert len(info.value.problems) == 1, info.value.problems
    got_key, message = info.value.problems[0]
    assert got_key == key
    assert phrase in message
    assert f"  {key}: " in str(info.value)


def test_every_problem_comes_at_once() -> None:
    raw = copy.deepcopy(DEV)
    picked = {"no-namespace", "no-namespace-near-key", "unknown-paddock-key", "gpu-bogus", "gateway-unknown"}
    for _, edit, _, _ in (c for c in CASES if c[0] in picked):
        edit(raw)
    with pytest.raises(ConfigErrors) as info:
        parse_stack_config(raw, stack="dev")
    keys = {k for k, _ in info.value.problems}
    assert keys == {"foo", "models", "paddock:modles", "paddock:models[0].gpu", "paddock:gateway.port"}
    assert str(info.value).startswith("5 problem(s) in stack config:")


@pytest.mark.parametrize(
    ("content", "phrase"),
    [
        (b"config:\n  aws:region: \xff\xfe\n", "is not UTF-8"),
        (b"config: [unclosed\n", "is not valid YAML"),
        (b"name: x\n", "has no `config:` mapping"),
        (b"", "has no `config:` mapping"),
    ],
    ids=["latin-1", "bad-yaml", "no-config", "empty"],
)
def test_an_unreadable_stack_file_is_one_input_error(tmp_path: Path, content: bytes, phrase: str) -> None:
    path = tmp_path / "Pulumi.x.yaml"
    path.write_bytes(content)
    with pytest.raises(InputError) as info:
        load_stack_file(path)
    assert phrase in str(info.value)
    assert str(path) in str(info.value)


def test_a_directory_is_not_a_stack_file(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.x.yaml"
    path.mkdir()
    with pytest.raises(InputError, match="is a directory"):
        load_stack_file(path)


@pytest.mark.parametrize("stack", ["dev", "prod-eu", "ephemeral"])
def test_shipped_stacks_still_parse(stack: str) -> None:
    assert load_stack_file(STACKS / f"Pulumi.{stack}.yaml").stack == stack
