"""Pulumi entry point (Pulumi.yaml ``main: stacks/``): ``pulumi up -s <env>`` runs the platform program."""

from stacks.program import main

main()
