"""Write an offline plan to disk (``build/plan/<env>/``) from the records of a mock run. Pure: no Pulumi.

Files: resources.json (``{type, name, parent, inputs}`` list), plans.json (ServingPlan dict per alias),
stack_config.json, values/<release>.yaml (Helm values of every release), manifests/<release>.yaml (our
own charts rendered with ``helm template``), iam/<resource>.json (every IAM/endpoint policy) and summary.md.
"""

from __future__ import annotations

import datetime
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from serving import helm
from serving.autoscaling.timeline import cold_start_warnings, timeline_section
from serving.bringup import CHECKS, Finding, verdicts
from serving.cluster_warnings import cluster_warnings
from serving.monitoring.alerting import alert_warnings
from serving.release_values import rollout_strategy, startup_budget
from serving.stack_config_models import RESERVED_CAPACITY_TYPES

RELEASE_TYPE = "kubernetes:helm.sh/v3:Release"
INDEX = ".paddock-plan-files"
"""Relative paths of the files the last write_plan wrote into a plan folder (the only ones it deletes)."""
#: (resource type, input key, file suffix) of policy documents written to iam/
POLICY_INPUTS = (
    ("aws:iam/rolePolicy:RolePolicy", "policy", ""),
    ("aws:iam/policy:Policy", "policy", ""),
    ("aws:iam/role:Role", "assumeRolePolicy", ".trust"),
    ("aws:ec2/vpcEndpoint:VpcEndpoint", "policy", ".endpoint"),
)


def releases(resources: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Helm release records."""
    return [r for r in resources if r["type"] == RELEASE_TYPE]


def local_chart(release: Mapping[str, Any], root: Path) -> Path | None:
    """The chart directory when the release uses one of our charts (a path under the repo), else None."""
    chart = str(release["inputs"].get("chart", ""))
    path = root / chart
    return path if "/" in chart and (path / "Chart.yaml").is_file() else None


def policy_documents(resources: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """``{file stem: parsed policy}`` for every IAM policy, trust policy and endpoint policy in the plan."""
    docs: dict[str, Any] = {}
    for r in resources:
        for typ, key, suffix in POLICY_INPUTS:
            text = r["inputs"].get(key) if r["type"] == typ else None
            if isinstance(text, str) and text:
                docs[f"{r['name']}{suffix}"] = json.loads(text)
    return docs


def render_manifests(resources: Sequence[Mapping[str, Any]], root: Path) -> dict[str, str]:
    """``{release name: helm template output}`` for every release of one of our charts."""
    out: dict[str, str] = {}
    for release in releases(resources):
        chart = local_chart(release, root)
        if chart is None:
            continue
        inputs = release["inputs"]
        name = str(inputs.get("name") or release["name"])
        out[name] = helm.template(
            chart, inputs.get("values") or {}, release=name, namespace=str(inputs.get("namespace", "default"))
        )
    return out


def _dump(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".json":
        path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    else:
        path.write_text(yaml.safe_dump(data, sort_keys=True))


def write_plan(
    out_dir: Path,
    *,
    stack: str,
    config: Mapping[str, Any],
    plans: Mapping[str, Mapping[str, Any]],
    resources: Sequence[Mapping[str, Any]],
    root: Path,
    manifests: bool = True,
    manifest_texts: Mapping[str, str] | None = None,
    bringup: Sequence[Finding] | None = None,
    sections: Sequence[str] = (),
) -> list[Path]:
    """Write every plan file under ``out_dir``; return the written paths, sorted. Files a previous write_plan
    listed in ``.paddock-plan-files`` are removed first; nothing else in ``out_dir`` is deleted.
    ``manifests=False`` skips ``helm template`` (no helm binary available); ``manifest_texts`` are manifests
    already rendered (:func:`render_manifests`); ``bringup`` the findings of the bring-up analysis."""
    remove_previous(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    files: dict[Path, Any] = {
        out_dir / "resources.json": list(resources),
        out_dir / "plans.json": dict(plans),
        out_dir / "stack_config.json": dict(config),
    }
    for release in releases(resources):
        inputs = release["inputs"]
        name = str(inputs.get("name") or release["name"])
        files[out_dir / "values" / f"{name}.yaml"] = inputs.get("values") or {}
    for stem, doc in policy_documents(resources).items():
        files[out_dir / "iam" / f"{stem}.json"] = doc
    for path, data in files.items():
        _dump(path, data)
    texts = manifest_texts
    if texts is None and manifests:
        texts = render_manifests(resources, root)
    written = list(files)
    for name, text in sorted((texts or {}).items()):
        path = out_dir / "manifests" / f"{name}.yaml"
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
        written.append(path)
    (out_dir / "summary.md").write_text(summary(stack, config, plans, resources, bringup, sections=sections))
    written.append(out_dir / "summary.md")
    (out_dir / INDEX).write_text("".join(f"{p.relative_to(out_dir)}\n" for p in sorted(written)))
    return sorted(written)


def remove_previous(out_dir: Path) -> None:
    """Delete the files listed by a previous write_plan (then their folders, when left empty)."""
    index = out_dir / INDEX
    if not index.is_file():
        return
    folders: set[Path] = set()
    for line in index.read_text().splitlines():
        path = out_dir / line
        if line and ".." not in Path(line).parts and path.is_file():
            path.unlink()
            folders.add(path.parent)
    index.unlink()
    for folder in sorted(folders, key=lambda p: len(p.parts), reverse=True):
        if folder != out_dir and not any(folder.iterdir()):
            folder.rmdir()


def _model_rows(config: Mapping[str, Any], plans: Mapping[str, Mapping[str, Any]]) -> list[str]:
    rows = [
        "| alias | model | engine | instance | GPUs × nodes | TP/PP | max-model-len | max-num-seqs "
        "| load time | startup budget | $/h per replica | fallback |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for model in config.get("models", []):
        p = plans.get(model["alias"], {})
        budget = startup_budget(float(p.get("load_time_seconds", 0)))
        cost = p.get("hourly_cost_usd")
        price = "n/a" if cost is None else f"{cost:.2f}"
        rows.append(
            f"| {model['alias']} | {p.get('model_id')} | {p.get('engine')} {p.get('engine_version')} "
            f"| {p.get('instance_type')} | {p.get('gpus_per_node')} × {p.get('nodes_per_replica')} "
            f"| {p.get('tensor_parallel_size')}/{p.get('pipeline_parallel_size')} | {p.get('max_model_len')} "
            f"| {p.get('max_num_seqs')} | {float(p.get('load_time_seconds', 0)):.0f} s "
            f"| {budget.budget_seconds} s | {price} | {model['fallback']} |"
        )
    return rows


def warnings(
    config: Mapping[str, Any],
    plans: Mapping[str, Mapping[str, Any]],
    today: datetime.date | None = None,
) -> list[str]:
    """Things a reviewer should see, each naming the key to edit: a replica ceiling below what the requested
    concurrency needs, an instance type not sold On-Demand in the region without reserved capacity, a rollout
    that takes the alias down (one replica, no room to surge), and the cluster's reachability and EKS support
    window (:func:`serving.cluster_warnings.cluster_warnings`, judged on ``today``; default: the current
    date)."""
    found: list[str] = []
    for i, model in enumerate(config.get("models", [])):
        plan = plans.get(model["alias"], {})
        reserved = model.get("capacity_type") in RESERVED_CAPACITY_TYPES
        if plan.get("offered_on_demand") is False and not reserved:
            found.append(
                f"paddock:models[{i}].gpu: {plan.get('instance_type')} is not sold On-Demand in "
                f"{config.get('region')}: reserve capacity (Capacity Block/ODCR) first ({model['alias']})"
            )
        needed = int(plan.get("replicas", 1))
        if model["replicas_max"] < needed:
            found.append(
                f"paddock:models[{i}].replicas.max: {model['replicas_max']} < {needed} replicas the sizing "
                f"engine needs for concurrency {model['concurrency']} ({model['alias']})"
            )
        rollout = rollout_strategy(
            replicas_min=model["replicas_min"],
            replicas_max=model["replicas_max"],
            multi_node=int(plan.get("nodes_per_replica", 1)) > 1,
        )
        if rollout.outage_on_update:
            found.append(
                f"paddock:models[{i}].replicas.max: every rollout of {model['alias']} is an outage "
                f"({rollout.reason}); set replicas.max above replicas.min to surge a replica"
            )
    found += alert_warnings(config.get("monitoring", {})) + cold_start_warnings(config, plans)
    return found + cluster_warnings(config, today or datetime.date.today())


def summary(
    stack: str,
    config: Mapping[str, Any],
    plans: Mapping[str, Mapping[str, Any]],
    resources: Sequence[Mapping[str, Any]],
    bringup: Sequence[Finding] | None = None,
    *,
    sections: Sequence[str] = (),
) -> str:
    """Markdown summary: stack facts, models with their plans, bring-up verdicts, Helm releases,
    ``sections`` (markdown blocks others compute, e.g. serving.stack_images.images_markdown), resource counts
    per type."""
    counts = Counter(r["type"] for r in resources)
    lines = [
        f"# Offline plan: stack `{stack}`",
        "",
        f"- region: `{config.get('region')}`; cluster: `{config.get('cluster', {}).get('name')}`",
        f"- residency: allowed regions {', '.join(config.get('residency', {}).get('allowed_regions', []))}",
        f"- resources: {len(resources)} ({len(counts)} types)",
        "",
        "## Models",
        "",
        *_model_rows(config, plans),
        "",
        *(
            ["## Warnings", "", *(f"- {w}" for w in warnings(config, plans)), ""]
            if warnings(config, plans)
            else []
        ),
        *(bringup_section(bringup) if bringup is not None else []),
        *timeline_section(config, plans),
        "## Helm releases",
        "",
    ]
    for r in releases(resources):
        inputs = r["inputs"]
        source = inputs.get("repositoryOpts", {}).get("repo") or "local chart"
        lines.append(
            f"- `{inputs.get('name')}`: chart `{inputs.get('chart')}` {inputs.get('version', '')} ({source})"
        )
    for section in sections:
        lines += ["", section.rstrip("\n")]
    lines += ["", "## Resources by type", "", "| type | count |", "|---|---|"]
    lines += [f"| `{typ}` | {n} |" for typ, n in sorted(counts.items())]
    return "\n".join(lines) + "\n"


def bringup_section(findings: Sequence[Finding]) -> list[str]:
    """``## Bring-up``: one row per check with its verdict, then every failing/assumed finding."""
    marks = verdicts(findings)
    lines = ["## Bring-up", "", "| check | proves | verdict | reason |", "|---|---|---|---|"]
    for check, (_, proves) in CHECKS.items():
        mine = [f for f in findings if f.check == check and f.verdict == marks[check]]
        reason = mine[0].message if mine else ""
        more = f" (+{len(mine) - 1} more)" if len(mine) > 1 else ""
        lines.append(f"| `{check}` | {proves} | **{marks[check]}** | {reason.replace('|', '/')}{more} |")
    problems = [f for f in findings if f.verdict != "pass"]
    if problems:
        lines += ["", *(f"- {f.verdict}: {f.line()}" for f in problems)]
    return [*lines, ""]
