"""Data-residency rules (pure): stack facts and resource records → findings, places, IAM documents.

Shared by ``paddock audit``, ``paddock preflight``, the CrossGuard pack (``stacks/policy_pack``) and
``components/bedrock_fallback.py``. Every rule, its severity, what it reads and its config key are declared
once in :data:`serving.residency.rule_table.RULE_TABLE`: config rules in ``rules.py``, resource rules in
``resource_rules.py`` and gateway routes in ``route_rules.py``.
"""

from serving.residency.model import Finding, Place, ResidencyPolicy
from serving.residency.report import StackAudit, audit_stack, render_markdown
from serving.residency.resource_rules import check_resource
from serving.residency.rule_table import RULE_TABLE, RULES, Rule
from serving.residency.rules import check_profile, check_stack
from serving.residency.stack import StackFacts, facts_from_stack_config, load_stack_facts

__all__ = [
    "RULES",
    "RULE_TABLE",
    "Rule",
    "Finding",
    "Place",
    "ResidencyPolicy",
    "StackAudit",
    "StackFacts",
    "audit_stack",
    "check_profile",
    "check_resource",
    "check_stack",
    "facts_from_stack_config",
    "load_stack_facts",
    "render_markdown",
]
