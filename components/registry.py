"""Registry: the ECR side of image routes (serving/images.py).

Creates, in the stack's region: the gateway's ECR repository (scan on push, immutable tags), one ECR
pull-through cache rule per upstream registry the stack's images come from (``paddock:registry.mode:
pull-through``), the private repositories of mirrored images (nvcr.io in pull-through mode, everything in
mirror mode; the user copies the images in: `paddock plan` summary.md lists the commands), and the IAM policy
nodes need for a first pull through a rule (``ecr:BatchImportUpstreamImage`` + ``ecr:CreateRepository`` on
the rules' prefixes only: AWS ECR user guide "IAM permissions required to sync an upstream registry", read
2026-12-04). Without NAT, pulls also need the ECR api/dkr interface endpoints and the S3 gateway endpoint
(components/network.py).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components._common import PKG, aws_partition, child, policy_json, raise_problems

_PREFIX = re.compile(r"[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*")
_SECRET = re.compile(r"arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:ecr-pullthroughcache/.+")


@dataclass(frozen=True, kw_only=True)
class PullThroughRule:
    """One ECR pull-through cache rule."""

    prefix: str
    """``ecrRepositoryPrefix`` (``quay``)."""
    upstream_url: str
    """``upstreamRegistryUrl`` (``quay.io``)."""
    credential_arn: str | None = None
    """Secrets Manager secret (``ecr-pullthroughcache/`` name prefix); required for Docker Hub and ghcr.io."""
    credential_required: bool = False


@dataclass(frozen=True, kw_only=True)
class RegistryArgs:
    """Arguments of :class:`Registry` (built by stacks/core.py from serving.stack_images)."""

    region: str
    account: str
    """The stack's AWS account id (for the IAM resource ARNs)."""
    rules: tuple[PullThroughRule, ...] = ()
    mirror_repositories: tuple[str, ...] = ()
    """Repository names in the stack's registry that mirrored images are copied to."""
    gateway_repository: str | None = None
    """Name of the gateway's repository; None = none (gateway disabled or its image lives elsewhere)."""
    tags: Mapping[str, str] = field(default_factory=dict)

    def problems(self) -> list[tuple[str, str]]:
        found: list[tuple[str, str]] = []
        prefixes = [r.prefix for r in self.rules]
        if len(set(prefixes)) != len(prefixes):
            found.append(("rules", "duplicate ecrRepositoryPrefix"))
        for i, rule in enumerate(self.rules):
            if not _PREFIX.fullmatch(rule.prefix):
                found.append((f"rules[{i}].prefix", f"{rule.prefix!r} is not an ECR repository prefix"))
            if rule.credential_required and rule.credential_arn is None:
                found.append((f"rules[{i}].credential_arn", f"{rule.upstream_url} needs a credential secret"))
            if rule.credential_arn is not None and not _SECRET.fullmatch(rule.credential_arn):
                found.append(
                    (f"rules[{i}].credential_arn", "secret name must start with ecr-pullthroughcache/")
                )
        for i, name in enumerate((*self.mirror_repositories, *filter(None, [self.gateway_repository]))):
            if not _PREFIX.fullmatch(name):
                found.append((f"repositories[{i}]", f"{name!r} is not an ECR repository name"))
        if not re.fullmatch(r"\d{12}", self.account):
            found.append(("account", f"{self.account!r} is not an AWS account id"))
        return found


def first_pull_policy(rules: tuple[PullThroughRule, ...], *, region: str, account: str) -> str:
    """IAM policy a node role needs so its first pull through a rule can create the cache repository and
    import the image: BatchImportUpstreamImage + CreateRepository, only under the rules' prefixes."""
    partition = aws_partition(region)
    resources = [f"arn:{partition}:ecr:{region}:{account}:repository/{r.prefix}/*" for r in rules]
    return policy_json(
        [
            {
                "Sid": "PullThroughFirstPull",
                "Effect": "Allow",
                "Action": ["ecr:BatchImportUpstreamImage", "ecr:CreateRepository"],
                "Resource": sorted(resources),
            }
        ]
    )


class Registry(pulumi.ComponentResource):
    """ECR repositories, pull-through rules and node pull policy (token ``paddock:aws:Registry``).

    Outputs: ``gateway_repository_url`` (None without one), ``node_policy_arn`` (None without rules),
    ``rule_prefixes``, ``mirror_repositories``.
    """

    def __init__(self, name: str, args: RegistryArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        raise_problems("Registry", args.problems())
        super().__init__(f"{PKG}:aws:Registry", name, None, opts)
        tags = dict(args.tags)
        self.gateway_repository_url: pulumi.Output[str] | None = None
        if args.gateway_repository:
            repo = aws.ecr.Repository(
                f"{name}-gateway",
                name=args.gateway_repository,
                image_tag_mutability="IMMUTABLE",
                image_scanning_configuration={"scan_on_push": True},
                encryption_configurations=[{"encryption_type": "AES256"}],
                tags=tags,
                opts=child(self),
            )
            self.gateway_repository_url = repo.repository_url
        for repository in args.mirror_repositories:
            aws.ecr.Repository(
                f"{name}-mirror-{_slug(repository)}",
                name=repository,
                image_tag_mutability="IMMUTABLE",
                image_scanning_configuration={"scan_on_push": True},
                encryption_configurations=[{"encryption_type": "AES256"}],
                tags=tags,
                opts=child(self),
            )
        for rule in args.rules:
            aws.ecr.PullThroughCacheRule(
                f"{name}-ptc-{_slug(rule.prefix)}",
                ecr_repository_prefix=rule.prefix,
                upstream_registry_url=rule.upstream_url,
                credential_arn=rule.credential_arn,
                opts=child(self),
            )
        self.node_policy_arn: pulumi.Output[str] | None = None
        if args.rules:
            policy = aws.iam.Policy(
                f"{name}-first-pull",
                description="nodes: first pull through the stack's ECR pull-through cache rules",
                policy=first_pull_policy(args.rules, region=args.region, account=args.account),
                tags=tags,
                opts=child(self),
            )
            self.node_policy_arn = policy.arn
        self.rule_prefixes = [r.prefix for r in args.rules]
        self.mirror_repositories = list(args.mirror_repositories)
        self.register_outputs(
            {
                "gatewayRepositoryUrl": self.gateway_repository_url,
                "nodePolicyArn": self.node_policy_arn,
                "rulePrefixes": self.rule_prefixes,
                "mirrorRepositories": self.mirror_repositories,
            }
        )


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")
