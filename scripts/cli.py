"""Entry point of the ``paddock`` command: a click group whose subcommands load lazily.

Each subcommand lives in ``scripts/<module>.py`` and exposes a module-level ``command`` (a
``click.Command`` or ``click.Group``). Loading lazily keeps ``paddock size`` fast (it never imports
Pulumi or the gateway) and lets each command's module own its flags.

Exit codes shared by every command: 0 success/clean, 1 findings or nothing fits, 2 bad input.
"""

from __future__ import annotations

import importlib
import json
import sys
from typing import Any

import click

from serving.errors import InputError, PaddockError

#: subcommand name -> (module under ``scripts``, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "size": ("size", "Size GPU memory for a model, or recommend an instance (VRAM calculator)."),
    "cost": ("cost", "Self-hosted $/1M tokens vs Bedrock Claude tiers, and the break-even volume."),
    "plan": ("plan", "Render a stack offline (Pulumi mock runtime): resources, values, manifests."),
    "audit": ("audit", "Report every region a prompt, response, weights or logs can reach."),
    "preflight": ("preflight", "Check Bedrock inference profiles and model access live (needs AWS)."),
    "ephemeral": ("ephemeral", "Short-lived developer GPU stacks: up, list, extend, down, reap."),
    "gateway": ("gateway", "Run the OpenAI-compatible fallback gateway locally."),
}


class LazyGroup(click.Group):
    """A click group that imports a subcommand's module only when that subcommand runs."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module_name, _ = COMMANDS[cmd_name]
        module = importlib.import_module(f"scripts.{module_name}")
        command = module.command
        if not isinstance(command, click.Command):
            raise TypeError(f"scripts.{module_name}.command is not a click command")
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, help_text) for name, (_, help_text) in sorted(COMMANDS.items())]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup)
@click.version_option(package_name="paddock")
def cli() -> None:
    """Paddock: self-hosted Llama on EKS, sized by a VRAM calculator, with Claude on Bedrock as fallback."""


def error_document(exc: PaddockError, code: int) -> dict[str, Any]:
    """The JSON form of an error (``--json``): the flag or key, the message, each config problem."""
    problems = getattr(exc, "problems", None) or ([(exc.field, exc.message)] if exc.field else [])
    return {
        "error": {
            "field": exc.field,
            "message": exc.message,
            "problems": [{"key": key, "message": message} for key, message in problems],
        },
        "exitCode": code,
    }


def main(argv: list[str] | None = None) -> Any:
    """Run the CLI. A :class:`PaddockError` escaping a command prints one line per problem on stderr (no
    traceback): exit 2 for bad input, 1 otherwise; with ``--json`` stdout also gets :func:`error_document`."""
    args = sys.argv[1:] if argv is None else argv
    try:
        return cli.main(args=args, prog_name="paddock", standalone_mode=True)
    except PaddockError as exc:
        code = 2 if isinstance(exc, InputError) else 1
        click.echo(f"error: {exc}", err=True)
        if "--json" in args and not exc.json_reported:
            click.echo(json.dumps(error_document(exc, code), indent=2))
        sys.exit(code)
    except UnicodeDecodeError as exc:  # a file a command reads without naming it in its own error
        click.echo(
            f"error: an input file is not UTF-8 text (byte {exc.start}: {exc.reason}); save it as UTF-8",
            err=True,
        )
        sys.exit(2)


if __name__ == "__main__":
    main()
