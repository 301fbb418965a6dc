"""Paddock's pure-Python core: catalogs, sizing, values rendering, residency rules, gateway, cost.

Nothing under ``serving/`` imports Pulumi (enforced by ruff TID251 and tests/unit/test_layering.py).
"""
