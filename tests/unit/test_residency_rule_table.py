"""One rule table, two enforcers: every rule runs through ``paddock audit`` (CLI, JSON) and through the
CrossGuard pack's validators on the same crafted stack + resource records, and both give the same verdict
(same (rule, severity, Region) set; CLI exit 1 exactly when the pack's mandatory policies report).

Each rule has a violating case and a clean counterpart. ``plan-unrendered`` is the one CLI-only rule (the pack
always sees the real resources); tests/unit/test_audit_cli.py covers it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pulumi_policy import PolicyProviderResource, ResourceValidationArgs, StackValidationArgs

from scripts.cli import main
from serving.gateway.config import load_routes
from serving.gateway.errors import RoutesConfigError
from serving.residency.resource_rules import INVOCATION_LOGGING
from serving.residency.rule_table import RULE_TABLE, RULES, markdown_table
from stacks.policy_pack.policies import (
    POLICIES,
    validate_residency,
    validate_residency_advisory,
    validate_residency_stack,
    validate_residency_stack_advisory,
)
from tests.unit.test_residency_crafted import stack_path

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "stacks"
SONNET = "eu.anthropic.claude-sonnet-4-5-20250929-v1:0"
GLOBAL = "global.anthropic.claude-sonnet-4-5-20250929-v1:0"
MODEL = "anthropic.claude-sonnet-4-5-20250929-v1:0"
ACCT = "123456789012"
CLI_ONLY = {"plan-unrendered"}
Verdict = set[tuple[str, str, str | None]]


def rec(rtype: str, name: str, **inputs: Any) -> dict[str, Any]:
    return {"type": rtype, "name": name, "parent": None, "inputs": inputs}


def invoke(*resources: str, condition: str | None = None) -> str:
    st: dict[str, Any] = {"Effect": "Allow", "Action": ["bedrock:InvokeModel"], "Resource": list(resources)}
    if condition:
        st["Condition"] = {"StringEquals": {"bedrock:InferenceProfileArn": condition}}
    return json.dumps({"Version": "2012-10-17", "Statement": [st]})


def gateway(aliases: dict[str, Any], **values: Any) -> dict[str, Any]:
    return rec(
        "kubernetes:helm.sh/v3:Release", "gateway-release", values={"routes": {"aliases": aliases}, **values}
    )


EU_PROFILE_ARN = f"arn:aws:bedrock:eu-central-1:{ACCT}:inference-profile/{SONNET}"
GLOBAL_ARN = f"arn:aws:bedrock:eu-central-1:{ACCT}:inference-profile/{GLOBAL}"
PRIMARY = {"url": "http://llama-8b-eu-only.serving.svc:8000/v1", "model": "m"}
TO_BEDROCK = {"bedrock": {"model": SONNET, "region": "eu-central-1"}}
CLUSTER = rec("aws:eks/cluster:Cluster", "eks", vpcConfig={"endpointPublicAccess": False})
OPEN_CLUSTER = rec("aws:eks/cluster:Cluster", "eks", vpcConfig={"endpointPublicAccess": True})
RUNNER_CLUSTER = rec(
    "aws:eks/cluster:Cluster",
    "eks",
    vpcConfig={"endpointPublicAccess": True, "publicAccessCidrs": ["203.0.113.7/32"]},
)
CLEAN_RESOURCES = [
    CLUSTER,
    rec("aws:eks/nodeGroup:NodeGroup", "ng"),
    rec("aws:cloudwatch/logGroup:LogGroup", "logs", retentionInDays=30),
    rec(
        "aws:ec2/vpcEndpoint:VpcEndpoint",
        "vpce-bedrock",
        serviceName="com.amazonaws.eu-central-1.bedrock-runtime",
        policy=invoke(EU_PROFILE_ARN),
    ),
    rec("aws:iam/rolePolicy:RolePolicy", "invoke", policy=invoke(EU_PROFILE_ARN)),
    gateway(
        {"llama-8b-eu-only": {"primary": PRIMARY, "fallback": "none"}, "llama-8b": {"fallback": TO_BEDROCK}}
    ),
    rec(
        "kubernetes:helm.sh/v3:Release",
        "model-release",
        values={"weights": {"source": "s3", "region": "eu-west-1"}},
    ),
]

#: rule -> (violating (stack fixture, resources), clean (stack fixture, resources))
Case = tuple[str, list[dict[str, Any]]]
CASES: dict[str, tuple[Case, Case]] = {
    "compute-region": (("compute-region", [CLUSTER]), ("clean-eu", [CLUSTER])),
    "region-unknown": (("unknown-allowed-region", []), ("clean-eu", [])),
    "weights-region": (
        (
            "clean-eu",
            [
                rec(
                    "kubernetes:helm.sh/v3:Release",
                    "m",
                    values={"weights": {"source": "s3", "region": "us-east-1"}},
                )
            ],
        ),
        ("clean-eu", CLEAN_RESOURCES),
    ),
    "weights-public": (("hf-weights", []), ("clean-public-egress-opt-in", [])),
    "fallback-forbidden": (
        (
            "fallback-forbidden",
            [rec("aws:iam/rolePolicy:RolePolicy", "invoke", policy=invoke(EU_PROFILE_ARN))],
        ),
        ("clean-pinned", [gateway({"llama-8b": {"primary": PRIMARY, "fallback": "none"}})]),
    ),
    "bedrock-source-region": (("bedrock-region", []), ("clean-eu", [])),
    "profile-global": (
        ("eu-global-profile", [rec("aws:iam/rolePolicy:RolePolicy", "invoke", policy=invoke(GLOBAL_ARN))]),
        (
            "clean-global-allowed",
            [
                rec(
                    "aws:iam/rolePolicy:RolePolicy",
                    "invoke",
                    policy=invoke(
                        f"arn:aws:bedrock:us-west-2::foundation-model/{MODEL}", condition=GLOBAL_ARN
                    ),
                )
            ],
        ),
    ),
    "profile-geo": (("geo-not-allowed", []), ("clean-eu", [])),
    "profile-destinations": (("eu-narrow-allowed", []), ("clean-eu", [])),
    "profile-unknown-geography": (("unknown-geography", []), ("clean-eu", [])),
    "profile-unverified": (("unknown-eu-profile", []), ("clean-eu", [])),
    "profile-unverified-contained": (("unverified-contained", []), ("clean-eu", [])),
    "public-egress": (
        ("public-egress", [rec("aws:ec2/natGateway:NatGateway", "nat")]),
        ("clean-public-egress-opt-in", [rec("aws:ec2/natGateway:NatGateway", "nat")]),
    ),
    "bedrock-public-egress": (("public-egress", []), ("clean-public-egress-opt-in", [])),
    "public-api-endpoint": (("public-api-endpoint", [OPEN_CLUSTER]), ("clean-eu", [RUNNER_CLUSTER])),
    "adopted-vpc-egress": (("adopted-vpc", []), ("clean-eu", [])),
    "pinned-alias-bedrock-route": (
        ("clean-eu", [gateway({"llama-8b-eu-only": {"primary": PRIMARY, "fallback": TO_BEDROCK}})]),
        ("clean-eu", CLEAN_RESOURCES),
    ),
    "primary-off-cluster": (
        (
            "clean-eu",
            [gateway({"llama-8b": {"primary": {"url": "https://api.example.com/v1", "model": "m"}}})],
        ),
        (
            "clean-eu",
            [
                gateway(
                    {"llama-8b": {"primary": {"url": "http://x.eu-west-1.elb.amazonaws.com", "model": "m"}}}
                )
            ],
        ),
    ),
    "routes-duplicate-key": (
        (
            "clean-eu",
            [
                rec(
                    "kubernetes:core/v1:ConfigMap",
                    "routes",
                    data={"routes.yaml": "aliases:\n  a: {fallback: none}\n  a: {fallback: none}\n"},
                )
            ],
        ),
        (
            "clean-eu",
            [rec("kubernetes:core/v1:ConfigMap", "routes", data={"routes.yaml": "aliases:\n  a: {}\n"})],
        ),
    ),
    "resource-region": (
        ("clean-eu", [rec("aws:ec2/launchTemplate:LaunchTemplate", "lt", region="us-east-2")]),
        ("clean-eu", [rec("aws:ec2/launchTemplate:LaunchTemplate", "lt", region="eu-west-1")]),
    ),
    "log-region": (
        (
            "clean-eu",
            [rec("aws:cloudwatch/logGroup:LogGroup", "logs", region="us-west-2", retentionInDays=7)],
        ),
        (
            "clean-eu",
            [rec("aws:cloudwatch/logGroup:LogGroup", "logs", region="eu-west-1", retentionInDays=7)],
        ),
    ),
    "log-retention": (
        ("clean-eu", [rec("aws:cloudwatch/logGroup:LogGroup", "logs")]),
        ("clean-eu", [rec("aws:cloudwatch/logGroup:LogGroup", "logs", retentionInDays=30)]),
    ),
    "gateway-logs-content": (
        ("clean-eu", [gateway({}, logging={"prompts": True})]),
        ("clean-eu", [gateway({}, logging={"prompts": False})]),
    ),
    "bedrock-invocation-logging": (
        ("clean-eu", [rec(INVOCATION_LOGGING, "invlog", loggingConfig={"textDataDeliveryEnabled": True})]),
        ("clean-eu", [rec(INVOCATION_LOGGING, "invlog", loggingConfig={"textDataDeliveryEnabled": False})]),
    ),
    "bedrock-iam-wildcard": (
        ("clean-eu", [rec("aws:iam/rolePolicy:RolePolicy", "invoke", policy=invoke("*"))]),
        ("clean-eu", [rec("aws:iam/rolePolicy:RolePolicy", "invoke", policy=invoke(EU_PROFILE_ARN))]),
    ),
    "bedrock-iam-region": (
        (
            "clean-eu",
            [
                rec(
                    "aws:iam/rolePolicy:RolePolicy",
                    "invoke",
                    policy=invoke(f"arn:aws:bedrock:us-east-1::foundation-model/{MODEL}"),
                )
            ],
        ),
        (
            "clean-eu",
            [
                rec(
                    "aws:iam/rolePolicy:RolePolicy",
                    "invoke",
                    policy=invoke(f"arn:aws:bedrock:eu-west-3::foundation-model/{MODEL}"),
                )
            ],
        ),
    ),
    "endpoint-region": (
        (
            "clean-eu",
            [rec("aws:ec2/vpcEndpoint:VpcEndpoint", "vpce", serviceName="com.amazonaws.us-east-1.sts")],
        ),
        (
            "clean-eu",
            [rec("aws:ec2/vpcEndpoint:VpcEndpoint", "vpce", serviceName="com.amazonaws.eu-central-1.sts")],
        ),
    ),
    "endpoint-policy": (
        (
            "clean-eu",
            [
                rec(
                    "aws:ec2/vpcEndpoint:VpcEndpoint",
                    "vpce",
                    serviceName="com.amazonaws.eu-central-1.bedrock-runtime",
                )
            ],
        ),
        ("clean-eu", CLEAN_RESOURCES),
    ),
}

MESSAGE = re.compile(r"^(?P<rule>[a-z0-9-]+)(?: \[(?P<region>[^\]]+)\])?: ")


def cli_verdict(capsys: pytest.CaptureFixture[str], tmp_path: Path, case: Case) -> tuple[int, Verdict]:
    stack, resources = case
    plan = tmp_path / "plan"
    (plan / stack).mkdir(parents=True, exist_ok=True)
    (plan / stack / "resources.json").write_text(json.dumps(resources))
    args = ["audit", "--stack", str(stack_path(stack)), "--format", "json"]
    args += ["--plan-dir", str(plan), "--preflight-dir", str(tmp_path / "pre"), "--no-render"]
    with pytest.raises(SystemExit) as exc:
        main(args)
    (doc,) = json.loads(capsys.readouterr().out)["stacks"]
    return int(exc.value.code or 0), {(f["rule"], f["severity"], f["region"]) for f in doc["findings"]}


def pack_verdict(case: Case) -> tuple[bool, Verdict]:
    """(mandatory policies reported?, verdict) from the pack's four validators."""
    stack, resources = case
    config = {"stackFile": str(stack_path(stack))}
    reported: list[tuple[str, str]] = []

    def sink(severity: str) -> Any:
        return lambda message, urn=None: reported.append((severity, message))

    providers = {r["name"]: r for r in resources if r["type"].startswith("pulumi:providers:")}
    for r in resources:
        urn = f"urn:pulumi:test::paddock::{r['type']}::{r['name']}"
        p = providers.get(r.get("provider") or "")
        provider = (
            PolicyProviderResource(p["type"], p["inputs"], f"urn:{p['name']}", p["name"]) if p else None
        )
        args = ResourceValidationArgs(r["type"], r["inputs"], urn, r["name"], None, provider, config)
        validate_residency(args, sink("error"))
        validate_residency_advisory(args, sink("warning"))
    stack_args = StackValidationArgs([], config)
    validate_residency_stack(stack_args, sink("error"))
    validate_residency_stack_advisory(stack_args, sink("warning"))
    verdict: Verdict = set()
    for severity, message in reported:
        m = MESSAGE.match(message)
        assert m is not None, message
        verdict.add((m["rule"], severity, m["region"]))
    return any(s == "error" for s, _ in reported), verdict


def test_every_rule_has_a_violating_and_a_clean_case() -> None:
    assert set(CASES) | CLI_ONLY == set(RULES)


@pytest.mark.parametrize("rule", sorted(CASES))
@pytest.mark.parametrize("kind", ["violating", "clean"])
def test_cli_and_pack_give_the_same_verdict(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, rule: str, kind: str
) -> None:
    case = CASES[rule][0 if kind == "violating" else 1]
    code, cli = cli_verdict(capsys, tmp_path, case)
    blocked, pack = pack_verdict(case)
    assert cli == pack
    assert code == int(blocked) == int(any(sev == "error" for _, sev, _ in cli))
    rules = {r for r, _, _ in cli}
    if kind == "violating":
        assert rule in rules and all(sev == RULES[r].severity for r, sev, _ in cli)
    else:
        assert rule not in rules


def test_a_rendered_plan_gets_the_same_verdict_from_both(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The real prod-eu plan (every record the components register) through the CLI and the pack."""
    plan = tmp_path / "plan"
    args = ["audit", "--stack", str(ROOT / "stacks" / "Pulumi.prod-eu.yaml"), "--format", "json"]
    with pytest.raises(SystemExit) as exc:
        main([*args, "--plan-dir", str(plan), "--preflight-dir", str(tmp_path / "pre")])
    (doc,) = json.loads(capsys.readouterr().out)["stacks"]
    assert doc["resourcesChecked"] > 40
    (cached,) = (plan / ".audit").glob("prod-eu-*/resources.json")
    records = json.loads(cached.read_text())
    types = {r["type"] for r in records}
    assert {
        "kubernetes:helm.sh/v3:Release",
        "aws:iam/rolePolicy:RolePolicy",
        "aws:eks/cluster:Cluster",
    } <= types
    config = {"stackFile": str(ROOT / "stacks" / "Pulumi.prod-eu.yaml")}
    reported: list[str] = []
    for r in records:
        rv = ResourceValidationArgs(r["type"], r.get("inputs") or {}, "urn:x", r["name"], None, None, config)
        for validate in (validate_residency, validate_residency_advisory):
            validate(rv, lambda message, urn=None: reported.append(message))
    for validate_stack in (validate_residency_stack, validate_residency_stack_advisory):
        validate_stack(StackValidationArgs([], config), lambda message, urn=None: reported.append(message))
    assert (exc.value.code or 0) == 0 and doc["findings"] == [] and reported == []


def test_pack_enforcement_follows_the_rule_severities() -> None:
    levels = {p.name: p.enforcement_level.value for p in POLICIES}
    assert levels == {
        "paddock-residency": "mandatory",
        "paddock-residency-advisory": "advisory",
        "paddock-residency-stack": "mandatory",
        "paddock-residency-stack-advisory": "advisory",
    }
    assert {r.severity for r in RULE_TABLE} == {"error", "warning"}


def test_readme_shows_the_rule_table() -> None:
    readme = (ROOT / "stacks" / "policy_pack" / "README.md").read_text()
    assert markdown_table() in readme


DUPLICATE = (
    "aliases:\n  a:\n    primary: {url: 'http://a.serving.svc:8000/v1', model: m}\n    fallback: none\n"
    "    fallback: {bedrock: {model: m, region: eu-central-1}}\n"
)


def test_plain_yaml_would_have_hidden_the_duplicate() -> None:
    """Why routes-duplicate-key exists: PyYAML keeps the last value, flipping a pinned alias to Bedrock."""
    assert yaml.safe_load(DUPLICATE)["aliases"]["a"]["fallback"]["bedrock"]["model"] == "m"


def test_the_gateway_refuses_a_routes_file_with_a_duplicate_key(tmp_path: Path) -> None:
    path = tmp_path / "routes.yaml"
    path.write_text(DUPLICATE)
    with pytest.raises(RoutesConfigError, match="duplicate key 'fallback' on line 5"):
        load_routes(path)
    path.write_text(DUPLICATE.replace("    fallback: none\n", ""))
    assert load_routes(path).aliases["a"].fallback is not None


def test_preflight_results_give_the_same_verdict_to_cli_and_pack(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A live destination list saved by ``paddock preflight`` narrows the profile for both enforcers, in the
    config rules and in the gateway routes alike."""
    case: Case = ("eu-narrow-allowed", [gateway({"llama-8b": {"primary": PRIMARY, "fallback": TO_BEDROCK}})])
    code, before = cli_verdict(capsys, tmp_path, case)
    assert code == 1 and {r for r, _, _ in before} == {"profile-destinations"}
    saved = tmp_path / "pre" / "eu-narrow-allowed" / "profiles.json"
    saved.parent.mkdir(parents=True)
    saved.write_text(json.dumps({"profiles": {SONNET: ["eu-central-1", "eu-west-1"]}}))
    code, after = cli_verdict(capsys, tmp_path, case)
    config = {"stackFile": str(stack_path("eu-narrow-allowed")), "preflightDir": str(tmp_path / "pre")}
    reported: list[str] = []
    r = case[1][0]
    args = ResourceValidationArgs(r["type"], r["inputs"], "urn:x", r["name"], None, None, config)
    for validate in (validate_residency, validate_residency_advisory):
        validate(args, lambda message, urn=None: reported.append(message))
    for validate_stack in (validate_residency_stack, validate_residency_stack_advisory):
        validate_stack(StackValidationArgs([], config), lambda message, urn=None: reported.append(message))
    assert (code, after, reported) == (0, set(), [])


def test_a_resource_under_an_explicit_provider_lives_in_the_providers_region(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A second aws provider (us-west-2) places its resources there, for the CLI's plan records (``provider``)
    as for the pack (``args.provider``)."""
    west = rec("pulumi:providers:aws", "aws-west", region="us-west-2")
    logs = rec("aws:cloudwatch/logGroup:LogGroup", "logs", retentionInDays=7) | {"provider": "aws-west"}
    home = rec("aws:cloudwatch/logGroup:LogGroup", "logs-home", retentionInDays=7)
    case: Case = ("clean-eu", [west, logs, home])
    code, cli = cli_verdict(capsys, tmp_path, case)
    blocked, pack = pack_verdict(case)
    assert cli == pack == {("log-region", "error", "us-west-2")} and code == int(blocked) == 1
