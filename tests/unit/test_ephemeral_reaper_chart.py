"""serving/charts/paddock-reaper: helm lint, helm template, strict K8s 1.33 schemas, checkov, and the
command it runs being one the CLI accepts."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from scripts.ephemeral import Env, command
from serving.errors import RenderError
from tests import chartcheck
from tests.unit.ephemeral_fakes import NOW, FakeWorkspace

CHART = Path(__file__).resolve().parents[2] / "serving" / "charts" / "paddock-reaper"
S3 = {
    "pulumi": {
        "backendUrl": "s3://acme-pulumi-state?region=us-east-1",
        "passphraseSecret": {"name": "pp", "key": "passphrase"},
    }
}
CLOUD = {
    "image": {"digest": "sha256:" + "a" * 64},
    "pulumi": {"accessTokenSecret": {"name": "pulumi-token", "key": "PULUMI_ACCESS_TOKEN"}},
    "serviceAccount": {
        "annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/paddock-reaper"}
    },
    "dryRun": True,
}


def render(values: dict[str, Any]) -> list[dict[str, Any]]:
    return chartcheck.documents(chartcheck.render(CHART, values, release="reaper", namespace="ops"))


def _container(docs: list[dict[str, Any]]) -> dict[str, Any]:
    cron = next(d for d in docs if d["kind"] == "CronJob")
    [container] = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    return dict(container)


def test_lint() -> None:
    report = chartcheck.lint(CHART, S3)
    assert "1 chart(s) linted, 0 chart(s) failed" in report


def test_s3_backend_render() -> None:
    docs = render(S3)
    assert [d["kind"] for d in docs] == ["ServiceAccount", "CronJob"]
    cron = docs[1]
    assert cron["metadata"]["namespace"] == "ops"
    assert cron["spec"]["schedule"] == "*/15 * * * *"
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    job = cron["spec"]["jobTemplate"]["spec"]
    assert job["backoffLimit"] == 0 and job["activeDeadlineSeconds"] == 10800
    pod = job["template"]["spec"]
    assert pod["serviceAccountName"] == docs[0]["metadata"]["name"] == "reaper-paddock-reaper"
    container = _container(docs)
    assert container["command"] == ["paddock", "ephemeral", "reap", "--yes"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["PULUMI_BACKEND_URL"] == "s3://acme-pulumi-state?region=us-east-1"
    assert env["PULUMI_CONFIG_PASSPHRASE_FILE"] == "/var/run/secrets/pulumi/passphrase"
    assert env["PADDOCK_PROJECT_DIR"] == "/work" and container["workingDir"] == "/work"
    assert "PULUMI_ACCESS_TOKEN" not in env
    assert container["image"] == "ghcr.io/example/paddock-reaper:0.1.0"
    assert pod["initContainers"][0]["env"][0] == {"name": "SRC", "value": "/app"}


def test_pulumi_cloud_render_with_irsa_and_dry_run() -> None:
    docs = render(CLOUD)
    assert docs[0]["metadata"]["annotations"] == {
        "eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/paddock-reaper"
    }
    container = _container(docs)
    assert container["command"] == ["paddock", "ephemeral", "reap", "--yes", "--dry-run"]
    assert container["image"] == "ghcr.io/example/paddock-reaper@sha256:" + "a" * 64
    token = next(e for e in container["env"] if e["name"] == "PULUMI_ACCESS_TOKEN")
    assert token["valueFrom"] == {"secretKeyRef": {"name": "pulumi-token", "key": "PULUMI_ACCESS_TOKEN"}}
    assert "PULUMI_BACKEND_URL" not in {e["name"] for e in container["env"]}


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({}, "set pulumi.backendUrl (self-managed state) or pulumi.accessTokenSecret.name"),
        ({**S3, "image": {"repository": "x", "tag": "latest", "pullPolicy": "Always"}}, "image.tag"),
        ({**S3, "schedule": "every hour"}, "schedule"),
        ({**S3, "aws": {"region": "Frankfurt"}}, "aws.region"),
        ({**S3, "serviceAccount": {"create": False, "name": ""}}, "serviceAccount.name is required"),
    ],
)
def test_bad_values_fail_to_render(values: dict[str, Any], message: str) -> None:
    with pytest.raises(RenderError, match=re.escape(message)):
        render(values)


def test_strict_schemas_and_checkov() -> None:
    s3 = chartcheck.render(CHART, S3, release="reaper", namespace="ops")
    cloud = chartcheck.render(CHART, CLOUD, release="reaper", namespace="ops")
    assert chartcheck.validate_strict(s3) == [] and chartcheck.validate_strict(cloud) == []
    assert chartcheck.unvalidated_kinds(s3 + "\n---\n" + cloud) == []
    report = chartcheck.checkov_report({"s3": s3, "cloud": cloud})
    assert chartcheck.checkov_failures(report) == []
    assert chartcheck.checkov_skipped(report) == [
        ("CKV_K8S_35", "the Pulumi CLI reads its access token only from the PULUMI_ACCESS_TOKEN variable"),
        ("CKV_K8S_43", "pinned tag enforced by values.schema.json; set image.digest to pull by digest"),
    ]
    assert chartcheck.checkov_passed_count(report) > 100


def test_the_chart_command_is_one_the_cli_runs(tmp_path: Path) -> None:
    args = _container(render(CLOUD))["command"]
    assert args[0] == "paddock"
    ws = FakeWorkspace()
    env = Env(workspace_factory=lambda: ws, clock=lambda: NOW, interactive=lambda: False)
    result = CliRunner().invoke(command, args[2:], obj=env)
    assert result.exit_code == 0, result.output
    assert "Reaper (dry run: nothing destroyed)" in result.output
