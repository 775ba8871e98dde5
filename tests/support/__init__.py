"""Helpers shared by the test suite (not fixtures: those live in the conftest files)."""
