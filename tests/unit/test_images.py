"""serving/images.py: image reference parsing and the route of every registry under every mode."""

from __future__ import annotations

import pytest

from serving.catalog.charts import list_registries
from serving.images import (
    ImageRouteError,
    ImageRouter,
    default_mode,
    eks_registry_host,
    parse_image,
)

ACCOUNT = "123456789012"
REGION = "eu-central-1"
ECR = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"
DIGEST = "sha256:" + "ab" * 32

#: one image per upstream registry of the catalog (the EKS one lives in another region)
SAMPLES = {
    "docker.io": "vllm/vllm-openai:v0.11.0",
    "ghcr.io": "ghcr.io/kedacore/keda:2.17.2",
    "quay.io": "quay.io/prometheus/prometheus:v3.5.0",
    "registry.k8s.io": "registry.k8s.io/autoscaling/cluster-autoscaler:v1.33.0",
    "public.ecr.aws": "public.ecr.aws/aws-cli/aws-cli:2.27.50",
    "nvcr.io": "nvcr.io/nvidia/k8s-device-plugin:v0.17.1",
    "602401143452.dkr.ecr.us-west-2.amazonaws.com": (
        "602401143452.dkr.ecr.us-west-2.amazonaws.com/eks/aws-efa-k8s-device-plugin:v0.5.20"
    ),
}
#: expected (route, pulled reference) in pull-through mode with credentials and a mirror
PULL_THROUGH = {
    "docker.io": ("pull-through", f"{ECR}/docker-hub/vllm/vllm-openai:v0.11.0"),
    "ghcr.io": ("pull-through", f"{ECR}/github/kedacore/keda:2.17.2"),
    "quay.io": ("pull-through", f"{ECR}/quay/prometheus/prometheus:v3.5.0"),
    "registry.k8s.io": ("pull-through", f"{ECR}/k8s/autoscaling/cluster-autoscaler:v1.33.0"),
    "public.ecr.aws": ("pull-through", f"{ECR}/ecr-public/aws-cli/aws-cli:2.27.50"),
    "nvcr.io": ("mirror", f"{ECR}/paddock-mirror/nvcr.io/nvidia/k8s-device-plugin:v0.17.1"),
    "602401143452.dkr.ecr.us-west-2.amazonaws.com": (
        "ecr",
        f"602401143452.dkr.ecr.{REGION}.amazonaws.com/eks/aws-efa-k8s-device-plugin:v0.5.20",
    ),
}


def router(mode: str, **kw: object) -> ImageRouter:
    args: dict[str, object] = {
        "mirror": "paddock-mirror",
        "docker_hub_credential": True,
        "github_credential": True,
        **kw,
    }
    return ImageRouter(mode=mode, region=REGION, account=ACCOUNT, **args)  # type: ignore[arg-type]


def test_samples_cover_every_catalog_registry() -> None:
    assert set(SAMPLES) == {r.host for r in list_registries()}


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("vllm/vllm-openai:v0.11.0", "docker.io/vllm/vllm-openai:v0.11.0"),
        ("busybox:1.36", "docker.io/busybox:1.36"),
        ("index.docker.io/library/busybox:1.36", "docker.io/library/busybox:1.36"),
        ("localhost/x:1", "localhost/x:1"),
        ("registry:5000/team/x:1", "registry:5000/team/x:1"),
        (f"quay.io/p/q@{DIGEST}", f"quay.io/p/q@{DIGEST}"),
        (f"quay.io/p/q:v1@{DIGEST}", f"quay.io/p/q:v1@{DIGEST}"),
    ],
)
def test_parse_image(image: str, expected: str) -> None:
    assert str(parse_image(image)) == expected


@pytest.mark.parametrize("bad", ["vllm/vllm-openai", "registry:5000/x", "quay.io/p/q@sha256:xyz"])
def test_parse_image_rejects_unpinned_or_malformed(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_image(bad)


@pytest.mark.parametrize("host", sorted(SAMPLES))
def test_direct_pulls_upstream(host: str) -> None:
    pulled = router("direct").route(SAMPLES[host])
    if host.startswith("602401143452"):  # EKS's copy in the stack's region, even with a NAT
        assert (pulled.route, pulled.reference) == PULL_THROUGH[host]
    else:
        assert pulled.route == "direct" and pulled.reference == str(parse_image(SAMPLES[host]))


@pytest.mark.parametrize("host", sorted(SAMPLES))
def test_pull_through(host: str) -> None:
    pulled = router("pull-through").route(SAMPLES[host])
    assert (pulled.route, pulled.reference) == PULL_THROUGH[host]
    assert pulled.upstream == host


@pytest.mark.parametrize("host", sorted(SAMPLES))
def test_mirror(host: str) -> None:
    pulled = router("mirror", mirror="mirror.example.com/team").route(SAMPLES[host])
    if host.startswith("602401143452"):
        assert pulled.route == "ecr"
        return
    ref = parse_image(SAMPLES[host])
    assert pulled.route == "mirror"
    assert pulled.reference == f"mirror.example.com/team/{ref.registry}/{ref.repository}:{ref.tag}"


def test_docker_official_images_get_library_and_digest_is_kept() -> None:
    pulled = router("pull-through").route(f"busybox:1.36@{DIGEST}")
    assert pulled.reference == f"{ECR}/docker-hub/library/busybox:1.36@{DIGEST}"


def test_own_ecr_in_region_is_pulled_as_is_in_every_mode() -> None:
    image = f"{ECR}/paddock-gateway:0.1.0"
    for mode in ("direct", "pull-through", "mirror"):
        pulled = router(mode).route(image)
        assert (pulled.route, pulled.reference) == ("ecr", image)


def test_foreign_ecr_needs_nat_or_mirror() -> None:
    image = "210987654321.dkr.ecr.us-east-1.amazonaws.com/team/x:1"
    assert router("direct").route(image).route == "direct"
    assert router("pull-through").route(image).reference == (
        f"{ECR}/paddock-mirror/210987654321.dkr.ecr.us-east-1.amazonaws.com/team/x:1"
    )
    with pytest.raises(ImageRouteError, match="not reachable"):
        router("pull-through", mirror=None).route(image)


def test_eks_registry_accounts_per_region() -> None:
    assert eks_registry_host("eu-central-1") == "602401143452.dkr.ecr.eu-central-1.amazonaws.com"
    assert eks_registry_host("af-south-1") == "877085696533.dkr.ecr.af-south-1.amazonaws.com"
    assert eks_registry_host("cn-north-1") == "918309763551.dkr.ecr.cn-north-1.amazonaws.com.cn"


def test_nvcr_without_mirror_has_no_route_in_pull_through() -> None:
    with pytest.raises(ImageRouteError, match="nvcr.io has no ECR pull-through") as info:
        router("pull-through", mirror=None).route(SAMPLES["nvcr.io"], key="dcgm")
    assert info.value.field == "paddock:registry.mirror" and "(dcgm)" in str(info.value)


def test_mirror_mode_needs_a_mirror() -> None:
    with pytest.raises(ImageRouteError, match="mirror is not set"):
        router("mirror", mirror=None).route(SAMPLES["quay.io"])


@pytest.mark.parametrize(
    ("host", "flag", "key"),
    [
        ("docker.io", "docker_hub_credential", "paddock:registry.dockerHubCredentialArn"),
        ("ghcr.io", "github_credential", "paddock:registry.githubCredentialArn"),
    ],
)
def test_pull_through_needs_credentials_for_docker_hub_and_ghcr(host: str, flag: str, key: str) -> None:
    with pytest.raises(ImageRouteError, match="ecr-pullthroughcache") as info:
        router("pull-through", **{flag: False}).route(SAMPLES[host])
    assert info.value.field == key
    # the other registries do not need one
    assert router("pull-through", **{flag: False}).route(SAMPLES["quay.io"]).route == "pull-through"


def test_mirror_prefix_forms() -> None:
    assert router("mirror", mirror="paddock-mirror").mirror_prefix == f"{ECR}/paddock-mirror"
    assert router("mirror", mirror="m.example.com:5000/x").mirror_prefix == "m.example.com:5000/x"
    assert router("mirror", mirror=None).mirror_prefix is None


def test_default_mode_follows_nat() -> None:
    assert default_mode(nat_gateway=True) == "direct"
    assert default_mode(nat_gateway=False) == "pull-through"


def test_resolve_keeps_an_unroutable_image_and_says_why() -> None:
    pulled = router("pull-through", mirror=None).resolve(SAMPLES["nvcr.io"], key="dcgm")
    assert pulled.route == "none" and pulled.reference == SAMPLES["nvcr.io"]
    assert "paddock:registry.mirror" in pulled.note
    assert router("pull-through").resolve(SAMPLES["quay.io"]).route == "pull-through"
