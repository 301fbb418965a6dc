"""Paddock's CrossGuard policy pack (``pulumi preview --policy-pack stacks/policy_pack``); rules in
:mod:`stacks.policy_pack.policies`, entry point ``__main__.py``."""
