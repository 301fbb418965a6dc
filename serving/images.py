"""Image routes: from an upstream image reference to what a node really pulls, and over which route.

Pure (no Pulumi). ``paddock:registry.mode`` decides the route:

- ``direct``: nodes pull from the upstream registries themselves (needs internet egress: a NAT gateway);
- ``pull-through``: nodes pull from ECR pull-through cache rules the stack creates
  (``<account>.dkr.ecr.<region>.amazonaws.com/<prefix>/<repository>``), reached through the ECR api/dkr
  interface endpoints and the S3 gateway endpoint. Registries ECR cannot cache (nvcr.io) go to the mirror;
- ``mirror``: the user copies every upstream image to ``<mirror>/<upstream host>/<repository>`` (the
  "Images" section of ``paddock plan``'s summary.md lists the copy commands).

Images already in an ECR registry of the stack's region (the gateway repository the stack creates) are pulled
as they are (route ``ecr``). EKS's own per-region registries (the EFA device plugin) are rewritten to the copy
in the stack's region (route ``ecr``) whatever the mode.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from serving.catalog.charts import RegistrySpec, get_registry
from serving.errors import InputError

RegistryMode = Literal["direct", "pull-through", "mirror"]
Route = Literal["direct", "pull-through", "mirror", "ecr", "none"]
REGISTRY_MODES: tuple[RegistryMode, ...] = ("direct", "pull-through", "mirror")
DOCKER_HUB = "docker.io"
_DOCKER_HUB_ALIASES = ("docker.io", "index.docker.io", "registry-1.docker.io")
_ECR_HOST = re.compile(r"(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(\.cn)?")
#: EKS's per-region image registry accounts where they are not 602401143452 (EKS user guide add-ons-images,
#: read 2026-12-04); every other commercial region uses 602401143452.
EKS_REGISTRY_ACCOUNTS: dict[str, str] = {
    "af-south-1": "877085696533",
    "ap-east-1": "800184023465",
    "ap-southeast-3": "296578399912",
    "ap-south-2": "900889452093",
    "ap-southeast-4": "491585149902",
    "ap-southeast-5": "151610086707",
    "ap-southeast-7": "121268973566",
    "cn-north-1": "918309763551",
    "cn-northwest-1": "961992271922",
}
EKS_REGISTRY_DEFAULT_ACCOUNT = "602401143452"
#: key named in errors about each credential
CREDENTIAL_KEYS = {
    "docker.io": "paddock:registry.dockerHubCredentialArn",
    "ghcr.io": "paddock:registry.githubCredentialArn",
}


class ImageRouteError(InputError):
    """An image has no route from the stack's network under the configured registry mode."""


@dataclass(frozen=True, kw_only=True)
class ImageRef:
    """A parsed image reference: ``registry/repository:tag[@digest]`` (registry always explicit)."""

    registry: str
    repository: str
    tag: str | None
    digest: str | None

    def __str__(self) -> str:
        ref = f"{self.registry}/{self.repository}"
        if self.tag:
            ref += f":{self.tag}"
        if self.digest:
            ref += f"@{self.digest}"
        return ref

    def with_location(self, registry: str, repository: str) -> ImageRef:
        """Same tag and digest, another registry/repository (pull-through and copies keep the digest)."""
        return ImageRef(registry=registry, repository=repository, tag=self.tag, digest=self.digest)


def parse_image(image: str) -> ImageRef:
    """``vllm/vllm-openai:v0.11.0`` -> docker.io/vllm/vllm-openai:v0.11.0 (Docker's reference rules: the first
    segment is a registry when it has a '.' or ':' or is ``localhost``). ValueError without tag or digest."""
    rest, _, digest = image.partition("@")
    first, slash, remainder = rest.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        registry, path = first, remainder
    else:
        registry, path = DOCKER_HUB, rest
    if registry in _DOCKER_HUB_ALIASES:
        registry = DOCKER_HUB
    name, colon, tag = path.rpartition(":")
    if not colon or "/" in tag:
        name, tag = path, ""
    if not name or (not tag and not digest):
        raise ValueError(f"image {image!r} has no tag or digest")
    if digest and not re.fullmatch(r"sha256:[0-9a-f]{64}", digest):
        raise ValueError(f"image {image!r} has a malformed digest")
    return ImageRef(registry=registry, repository=name, tag=tag or None, digest=digest or None)


def ecr_host(account: str, region: str) -> str:
    """The private ECR registry host of ``account`` in ``region``."""
    suffix = ".amazonaws.com.cn" if region.startswith("cn-") else ".amazonaws.com"
    return f"{account}.dkr.ecr.{region}{suffix}"


def eks_registry_host(region: str) -> str:
    """EKS's image registry in ``region`` (EKS user guide add-ons-images)."""
    return ecr_host(EKS_REGISTRY_ACCOUNTS.get(region, EKS_REGISTRY_DEFAULT_ACCOUNT), region)


@dataclass(frozen=True, kw_only=True)
class PulledImage:
    """What a node pulls for one upstream image, and how it gets there."""

    source: str
    """The upstream reference as configured or as the chart names it."""
    pulled: ImageRef
    route: Route
    upstream: str
    """Upstream registry host (``quay.io``)."""
    note: str = ""
    """Why this route (e.g. "nvcr.io has no ECR pull-through: copy it into the mirror")."""

    @property
    def reference(self) -> str:
        return str(self.pulled)


@dataclass(frozen=True, kw_only=True)
class ImageRouter:
    """Maps an upstream image to (pulled reference, route) for one stack. Pure; see :meth:`route`."""

    mode: RegistryMode
    region: str
    account: str
    """AWS account id of the stack (``aws.get_caller_identity`` at deploy time; 123456789012 under mocks)."""
    mirror: str | None = None
    """``paddock:registry.mirror``: ``host/prefix`` or a bare prefix in the stack's own ECR registry."""
    docker_hub_credential: bool = False
    """``paddock:registry.dockerHubCredentialArn`` is set."""
    github_credential: bool = False
    """``paddock:registry.githubCredentialArn`` is set."""

    @property
    def own_registry(self) -> str:
        """The stack's private ECR registry host."""
        return ecr_host(self.account, self.region)

    @property
    def mirror_prefix(self) -> str | None:
        """The mirror as ``host/prefix`` (a bare prefix lives in the stack's own registry)."""
        if not self.mirror:
            return None
        first = self.mirror.split("/", 1)[0]
        return self.mirror if "." in first else f"{self.own_registry}/{self.mirror}"

    def own_image(self, repository: str, tag: str) -> str:
        """An image in the stack's own ECR registry (the gateway repository)."""
        return f"{self.own_registry}/{repository}:{tag}"

    def resolve(self, image: str, *, key: str | None = None) -> PulledImage:
        """:meth:`route`, but an image without a route comes back unchanged with route ``none`` and the reason
        in ``note`` (rendering goes on; the plan's Images section and the bring-up analysis report it)."""
        try:
            return self.route(image, key=key)
        except ImageRouteError as exc:
            ref = parse_image(image)
            return PulledImage(source=image, pulled=ref, route="none", upstream=ref.registry, note=str(exc))

    def route(self, image: str, *, key: str | None = None) -> PulledImage:
        """Where a node pulls ``image`` from. ImageRouteError (naming ``key`` or the registry key) when the
        stack's network has no route to it, e.g. nvcr.io in pull-through mode without a mirror."""
        ref = parse_image(image)
        ecr = _ECR_HOST.fullmatch(ref.registry)
        if ecr is not None:
            return self._route_ecr(image, ref, ecr.group("account"), ecr.group("region"), key)
        if self.mode == "direct":
            return PulledImage(source=image, pulled=ref, route="direct", upstream=ref.registry)
        if self.mode == "mirror":
            return self._mirrored(image, ref, key, "mode mirror")
        spec = get_registry(ref.registry)
        if spec is None or spec.pull_through is None:
            return self._mirrored(
                image, ref, key, f"{ref.registry} has no ECR pull-through cache: copied into the mirror"
            )
        return self._pull_through(image, ref, spec, key)

    def _route_ecr(
        self, image: str, ref: ImageRef, account: str, region: str, key: str | None
    ) -> PulledImage:
        if region == self.region:
            return PulledImage(source=image, pulled=ref, route="ecr", upstream=ref.registry)
        spec = get_registry(ref.registry)
        if account == EKS_REGISTRY_DEFAULT_ACCOUNT or (spec is not None and spec.aws_regional):
            local = ref.with_location(eks_registry_host(self.region), ref.repository)
            return PulledImage(
                source=image,
                pulled=local,
                route="ecr",
                upstream=ref.registry,
                note=f"EKS's copy in {self.region} (EKS replicates its images to every region)",
            )
        if self.mode == "direct":
            return PulledImage(source=image, pulled=ref, route="direct", upstream=ref.registry)
        return self._mirrored(
            image, ref, key, f"ECR in {region} is not reachable through this VPC's endpoints"
        )

    def _mirrored(self, image: str, ref: ImageRef, key: str | None, why: str) -> PulledImage:
        prefix = self.mirror_prefix
        if prefix is None:
            where = f" ({key})" if key else ""
            raise ImageRouteError(
                f"{image}{where}: {why}, but paddock:registry.mirror is not set; set it (paddock-mirror) "
                "and copy the image there (`paddock plan` summary.md, section Images, lists the commands)",
                field="paddock:registry.mirror",
            )
        host, _, path = prefix.partition("/")
        repository = "/".join(p for p in (path, ref.registry, ref.repository) if p)
        return PulledImage(
            source=image,
            pulled=ref.with_location(host, repository),
            route="mirror",
            upstream=ref.registry,
            note=why,
        )

    def _pull_through(self, image: str, ref: ImageRef, spec: RegistrySpec, key: str | None) -> PulledImage:
        upstream = spec.pull_through
        assert upstream is not None
        if upstream.credential == "required" and not self._has_credential(spec.host):
            cred_key = CREDENTIAL_KEYS.get(spec.host, "paddock:registry")
            where = f" ({key})" if key else ""
            raise ImageRouteError(
                f"{image}{where}: the ECR pull-through rule for {spec.host} needs a Secrets Manager secret "
                f"(a secret named ecr-pullthroughcache/...): set {cred_key}",
                field=cred_key,
            )
        repository = ref.repository
        if spec.official_namespace and "/" not in repository:
            repository = f"{spec.official_namespace}/{repository}"
        pulled = ref.with_location(self.own_registry, f"{upstream.prefix}/{repository}")
        return PulledImage(
            source=image,
            pulled=pulled,
            route="pull-through",
            upstream=ref.registry,
            note=f"ECR pull-through rule {upstream.prefix} -> {upstream.upstream_url}",
        )

    def _has_credential(self, host: str) -> bool:
        if host == "docker.io":
            return self.docker_hub_credential
        if host == "ghcr.io":
            return self.github_credential
        return False


def default_mode(*, nat_gateway: bool) -> RegistryMode:
    """``direct`` when the stack has internet egress (NAT), else ``pull-through``."""
    return "direct" if nat_gateway else "pull-through"
