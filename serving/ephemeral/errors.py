"""Errors of ``paddock ephemeral``: each names the problem and what to do about it.

They subclass :mod:`serving.errors` (one error tree). :func:`classify_failure` maps the text of a failed
Pulumi command (its stderr and engine diagnostics) to the error a user can act on: missing cloud
credentials, a Pulumi backend login, or an EC2 quota / capacity refusal.
"""

from __future__ import annotations

import re

from serving.errors import InputError, PaddockError


class EphemeralError(PaddockError):
    """Base of the errors the ephemeral workflow raises on purpose (CLI exit 1)."""


class PulumiCliMissingError(EphemeralError):
    """The ``pulumi`` binary is not on PATH (the Automation API drives it)."""

    def __init__(self, detail: str = "") -> None:
        super().__init__(
            "the Pulumi CLI is not installed or not on PATH (the Automation API runs the `pulumi` binary). "
            "Install it (https://www.pulumi.com/docs/install/, "
            "e.g. `curl -fsSL https://get.pulumi.com | sh`), "
            "open a new shell, check `pulumi version`, then run this command again"
            + (f" [{detail}]" if detail else "")
        )


class PulumiCliTooOldError(EphemeralError):
    """The Pulumi CLI cannot keep stack tags on a self-managed backend (needs 3.211 or newer)."""


class CredentialsError(EphemeralError):
    """No usable AWS credentials, or no login to the Pulumi state backend."""


class QuotaError(EphemeralError):
    """AWS refused capacity: a vCPU service quota, instance capacity, or a spot limit."""


class StackOperationError(EphemeralError):
    """A Pulumi operation failed for another reason; the message carries the engine's last lines."""


class NotEphemeralError(InputError):
    """The named stack is not an ephemeral stack (``down``/``extend`` refuse to touch it)."""


class ConfirmationRequiredError(InputError):
    """Confirmation is needed but there is no terminal to ask on and ``--yes`` was not given."""


_CREDENTIAL_PATTERNS = (
    r"NoCredentialProviders",
    r"no valid credential sources",
    r"Unable to locate credentials",
    r"failed to refresh cached credentials",
    r"ExpiredToken",
    r"InvalidClientTokenId",
    r"UnrecognizedClientException",
    r"SignatureDoesNotMatch",
    r"The security token included in the request is (invalid|expired)",
    r"failed to get shared config profile",
)
_PULUMI_LOGIN_PATTERNS = (
    r"PULUMI_ACCESS_TOKEN must be set",
    r"pulumi login",
    r"passphrase must be set with PULUMI_CONFIG_PASSPHRASE",
    r"incorrect passphrase",
)
_QUOTA_PATTERNS = (
    r"VcpuLimitExceeded",
    r"InsufficientInstanceCapacity",
    r"MaxSpotInstanceCountExceeded",
    r"InstanceLimitExceeded",
    r"You have requested more vCPU capacity than your current vCPU limit",
    r"AsgInstanceLaunchFailures",
    r"Could not launch (On-Demand|Spot) Instances",
    r"UnfulfillableCapacity",
)

_QUOTA_ADVICE = (
    "Ask for a higher quota in the Service Quotas console (EC2 > 'Running On-Demand G and VT instances' or "
    "'Running On-Demand P instances', or the 'All ... Spot Instance Requests' quota with --spot), "
    "pick another "
    "region with --region, or a smaller/other GPU with --gpu"
)


def _first_match(patterns: tuple[str, ...], text: str) -> str | None:
    for pattern in patterns:
        found = re.search(pattern, text, flags=re.IGNORECASE)
        if found:
            return found.group(0)
    return None


def classify_failure(text: str, *, operation: str, stack: str) -> EphemeralError:
    """The error a user can act on for a failed Pulumi ``operation`` on ``stack`` whose output is ``text``.

    Quota and capacity refusals come first (they also mention credentials-free AWS error codes), then AWS
    credentials, then the Pulumi backend login; anything else is a :class:`StackOperationError` carrying
    the last lines of the output.
    """
    quota = _first_match(_QUOTA_PATTERNS, text)
    if quota:
        return QuotaError(
            f"{operation} of stack {stack!r} hit an AWS capacity or quota limit ({quota}). {_QUOTA_ADVICE}"
        )
    creds = _first_match(_CREDENTIAL_PATTERNS, text)
    if creds:
        return CredentialsError(
            f"{operation} of stack {stack!r} failed: no valid AWS credentials ({creds}). Run `aws sso login` "
            "or `aws configure`, or export AWS_PROFILE / AWS_ACCESS_KEY_ID, "
            "check `aws sts get-caller-identity`, "
            "then run again"
        )
    login = _first_match(_PULUMI_LOGIN_PATTERNS, text)
    if login:
        return CredentialsError(
            f"{operation} of stack {stack!r} failed: not logged in to a Pulumi state backend ({login}). "
            "Run `pulumi login` (Pulumi Cloud, or `pulumi login s3://bucket` for a self-managed backend) "
            "or set "
            "PULUMI_ACCESS_TOKEN; for a passphrase secrets provider set PULUMI_CONFIG_PASSPHRASE"
        )
    tail = " | ".join(line.strip() for line in text.strip().splitlines()[-3:] if line.strip())
    return StackOperationError(f"{operation} of stack {stack!r} failed: {tail or 'no output from pulumi'}")
