"""Shared fixtures. Pulumi mock fixtures live in tests/components/conftest.py."""
