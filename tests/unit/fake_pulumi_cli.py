"""A stand-in ``pulumi`` executable for tests of stacks/automation.py (the Automation API runs it).

It answers the CLI commands the Automation API issues with the CLI's JSON shapes, keeping stacks in a JSON
file named by $FAKE_PULUMI_STATE: {"url": backend, "stacks": {name: {"tags", "resources", "busy"}},
"fail": {command: stderr text}, "argv": [every call]}. ``up`` and ``destroy`` send engine events to the
``--event-log`` target: a gRPC ``pulumirpc.Events/StreamEvents`` stream for ``tcp://`` (CLI > 3.205, the
default version here) or JSON lines appended to a file (older CLIs; ``"version"`` in the state picks one).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

VERSION = "3.215.0"
RESOURCES = ("aws:ec2/vpc:Vpc::net", "aws:eks/cluster:Cluster::eks", "aws:eks/nodeGroup:NodeGroup::gpu")
STAMP = "2026-11-23T12:00:00.000000Z"


def _opt(args: list[str], name: str) -> str | None:
    return args[args.index(name) + 1] if name in args else None


def _urn(stack: str, resource: str) -> str:
    rtype, name = resource.split("::")
    return f"urn:pulumi:{stack}::paddock::{rtype}::{name}"


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _event_request(event_json: str) -> bytes:
    """protobuf ``pulumirpc.EventRequest{string event = 1}``."""
    data = event_json.encode()
    return b"\x0a" + _varint(len(data)) + data


class Cli:
    def __init__(self, path: Path, args: list[str]) -> None:
        self.path = path
        self.state: dict[str, Any] = json.loads(path.read_text())
        self.args = [a for a in args if a != "--non-interactive"]
        self.state.setdefault("argv", []).append(self.args)
        self.seq = 0
        self.events: list[dict[str, Any]] = []

    def save(self) -> None:
        self.path.write_text(json.dumps(self.state))

    def fail_if_told(self, command: str) -> None:
        text = self.state.get("fail", {}).pop(command, None)
        if text is not None:
            self.save()
            sys.stderr.write(text + "\n")
            raise SystemExit(255)

    def stack(self, name: str | None) -> dict[str, Any]:
        if name is None or name not in self.state["stacks"]:
            sys.stderr.write(f"error: no stack named '{name}' found\n")
            raise SystemExit(255)
        return dict(self.state["stacks"][name])

    def event(self, log: str | None, **body: Any) -> None:
        if log is None:
            return
        self.seq += 1
        self.events.append({"sequence": self.seq, "timestamp": 1795000000 + self.seq, **body})
        if body.get("cancelEvent") is not None:
            self.flush(log)

    def flush(self, log: str) -> None:
        """Deliver the buffered events the way the real CLI does for this target."""
        events, self.events = self.events, []
        if not log.startswith("tcp://"):
            with open(log, "a", encoding="utf-8") as f:
                f.writelines(json.dumps(e) + "\n" for e in events)
            return
        import grpc  # the wire protocol by hand: importing pulumi's stubs costs a second per call

        with grpc.insecure_channel(log.removeprefix("tcp://")) as channel:
            stream = channel.stream_unary(
                "/pulumirpc.Events/StreamEvents",
                request_serializer=_event_request,
                response_deserializer=bytes,
            )
            stream(iter([json.dumps(e) for e in events]))

    def step(self, log: str | None, stack: str, op: str, resource: str) -> None:
        meta = {"op": op, "urn": _urn(stack, resource), "type": resource.split("::")[0], "provider": ""}
        self.event(log, resourcePreEvent={"metadata": meta})
        self.event(log, resOutputsEvent={"metadata": meta})

    def run(self) -> int:
        a = self.args
        stacks = self.state["stacks"]
        if a[:1] == ["version"]:
            print(f"v{self.state.get('version', VERSION)}")
        elif a[:1] == ["whoami"]:
            print(json.dumps({"user": "alice", "url": self.state.get("url", "s3://paddock-state")}))
        elif a[:2] == ["stack", "ls"]:
            self.fail_if_told("ls")
            wanted = _opt(a, "--tag-filter")
            key, _, value = (wanted or "").partition("=")
            rows = [
                {
                    "name": n,
                    "current": False,
                    "updateInProgress": s.get("busy", False),
                    "resourceCount": len(s["resources"]),
                    "url": f"https://app.pulumi.com/acme/paddock/{n}",
                }
                for n, s in stacks.items()
                if wanted is None or s["tags"].get(key) == value
            ]
            print(json.dumps(rows))
        elif a[:3] == ["stack", "tag", "ls"]:
            print(json.dumps({"pulumi:project": "paddock", **self.stack(_opt(a, "--stack"))["tags"]}))
        elif a[:3] == ["stack", "tag", "set"]:
            name = _opt(a, "--stack")
            self.stack(name)
            stacks[name]["tags"][a[3]] = a[4]
        elif a[:2] == ["stack", "init"]:
            if a[2] in stacks:
                sys.stderr.write(f"error: stack '{a[2]}' already exists\n")
                return 255
            self.fail_if_told("init")
            stacks[a[2]] = {"tags": {}, "resources": [], "busy": False}
        elif a[:2] == ["stack", "select"]:
            self.stack(_opt(a, "--stack"))
        elif a[:2] == ["stack", "rm"]:
            name = a[-1]
            if self.stack(name)["resources"]:
                sys.stderr.write(f"error: '{name}' still has resources; removal rejected\n")
                return 255
            del stacks[name]
        elif a[:2] == ["stack", "output"]:
            print(
                json.dumps(
                    {"endpoint": "http://gateway"} if self.stack(_opt(a, "--stack"))["resources"] else {}
                )
            )
        elif a[:2] == ["stack", "history"]:
            self.stack(_opt(a, "--stack"))
            print(
                json.dumps(
                    [
                        {
                            "kind": "update",
                            "startTime": STAMP,
                            "endTime": STAMP,
                            "message": "",
                            "environment": {},
                            "config": {},
                            "result": "succeeded",
                            "version": 1,
                            "resourceChanges": self.state.get("last_changes", {}),
                        }
                    ]
                )
            )
        elif a[:1] in (["up"], ["destroy"]):
            return self.operation(a[0], _opt(a, "--stack") or "", _opt(a, "--event-log"))
        else:
            sys.stderr.write(f"fake pulumi: unsupported command {a}\n")
            return 2
        self.save()
        return 0

    def operation(self, op: str, name: str, log: str | None) -> int:
        stack = self.state["stacks"][self.stack(name) and name]
        if op == "up":
            for i, resource in enumerate(RESOURCES):
                if resource not in stack["resources"]:
                    stack["resources"].append(resource)
                    if i == 1 and "up" in self.state.get("fail", {}):
                        text = self.state["fail"].pop("up")
                        self.event(
                            log, diagnosticEvent={"message": text, "color": "never", "severity": "error"}
                        )
                        self.event(log, cancelEvent={})
                        self.save()
                        sys.stderr.write("error: update failed\n")
                        return 255
                    self.step(log, name, "create", resource)
            changes = {"create": len(RESOURCES)}
        else:
            text = self.state.get("fail", {}).pop("destroy", None)
            if text is not None:
                self.event(log, diagnosticEvent={"message": text, "color": "never", "severity": "error"})
                self.event(log, cancelEvent={})
                self.save()
                sys.stderr.write("error: destroy failed\n")
                return 255
            changes = {"delete": len(stack["resources"])}
            for resource in reversed(stack["resources"]):
                self.step(log, name, "delete", resource)
            stack["resources"] = []
        self.event(
            log,
            summaryEvent={
                "maybeCorrupt": False,
                "durationSeconds": 7,
                "resourceChanges": changes,
                "PolicyPacks": {},
            },
        )
        self.event(log, cancelEvent={})
        self.state["last_changes"] = changes
        self.save()
        return 0


if __name__ == "__main__":
    raise SystemExit(Cli(Path(os.environ["FAKE_PULUMI_STATE"]), sys.argv[1:]).run())
