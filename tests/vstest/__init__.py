"""Shared helpers for vsecret's Python test suites (ctest puts tests/ on PYTHONPATH)."""
