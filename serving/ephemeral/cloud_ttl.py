"""Pulumi Cloud Deployments TTL schedules over the REST API (only when the backend is Pulumi Cloud).

A TTL schedule makes Pulumi Cloud itself run ``destroy`` on the stack at a time, and with
``deleteAfterDestroy`` delete the stack afterwards — the managed counterpart of ``paddock ephemeral reap``.
API (https://www.pulumi.com/docs/pulumi-cloud/deployments/ttl/ and the REST reference,
``CreateScheduledTTLDeploymentRequest``):

    POST {api}/api/stacks/{org}/{project}/{stack}/deployments/ttl/schedules          create
    POST {api}/api/stacks/{org}/{project}/{stack}/deployments/ttl/schedules/{id}     update
    body {"timestamp": "2026-11-23T18:00:00Z", "deleteAfterDestroy": true}
    headers Authorization: token $PULUMI_ACCESS_TOKEN, Accept: application/vnd.pulumi+8

The stack must have Deployments settings (source + credentials, e.g. AWS OIDC) for the schedule to run;
without them Pulumi Cloud refuses the schedule and ``paddock ephemeral reap`` remains the safety net.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote, urlsplit

import httpx

from serving.ephemeral.errors import CredentialsError, StackOperationError
from serving.ephemeral.ttl import format_timestamp

ACCEPT = "application/vnd.pulumi+8"
_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class StackRef:
    """A Pulumi Cloud stack: organization, project, stack."""

    org: str
    project: str
    stack: str

    @classmethod
    def from_console_url(cls, url: str) -> StackRef:
        """Parse ``https://app.pulumi.com/<org>/<project>/<stack>`` (the url ``pulumi stack ls`` gives)."""
        parts = [p for p in urlsplit(url).path.split("/") if p]
        if len(parts) < 3:
            raise StackOperationError(f"cannot read org/project/stack from the stack URL {url!r}")
        return cls(parts[0], parts[1], parts[2])


def api_base(console_or_api_url: str) -> str:
    """REST base for a backend URL: ``https://app.pulumi.com`` -> ``https://api.pulumi.com``; a
    self-hosted Pulumi Cloud (``https://pulumi.example.com``) keeps its own host."""
    parts = urlsplit(console_or_api_url)
    host = parts.netloc
    if host == "app.pulumi.com":
        host = "api.pulumi.com"
    return f"{parts.scheme or 'https'}://{host}"


class TtlScheduleClient:
    """Creates or moves the TTL schedule of a stack."""

    def __init__(self, *, base_url: str, token: str | None, http: httpx.Client | None = None) -> None:
        if not token:
            raise CredentialsError(
                "PULUMI_ACCESS_TOKEN is not set: export a Pulumi Cloud access token to set the TTL schedule"
            )
        self.base_url = base_url.rstrip("/")
        self.http = http or httpx.Client(timeout=_TIMEOUT_S)
        self.headers = {
            "Authorization": f"token {token}",
            "Accept": ACCEPT,
            "Content-Type": "application/json",
        }

    def _path(self, ref: StackRef) -> str:
        org, project, stack = (quote(p, safe="") for p in (ref.org, ref.project, ref.stack))
        return f"{self.base_url}/api/stacks/{org}/{project}/{stack}/deployments/ttl/schedules"

    def set(self, ref: StackRef, *, expires_at: datetime, schedule_id: str | None = None) -> str:
        """Create the schedule (or update ``schedule_id``) to destroy and delete the stack at
        ``expires_at``; return the schedule id."""
        url = self._path(ref) + (f"/{quote(schedule_id, safe='')}" if schedule_id else "")
        body = {"timestamp": format_timestamp(expires_at), "deleteAfterDestroy": True}
        try:
            response = self.http.post(url, json=body, headers=self.headers)
        except httpx.HTTPError as exc:
            raise StackOperationError(f"Pulumi Cloud unreachable ({exc})") from exc
        if response.status_code in (401, 403):
            raise CredentialsError(
                f"Pulumi Cloud refused the token ({response.status_code}): check PULUMI_ACCESS_TOKEN"
            )
        if response.status_code >= 400:
            detail = response.text.strip()[:300]
            raise StackOperationError(f"Pulumi Cloud answered {response.status_code}: {detail}")
        data = response.json() if response.content else {}
        found = data.get("id") if isinstance(data, dict) else None
        return str(found or schedule_id or "")
