"""Helpers for the tests: a private broker node, child-process scripts, test-only messages."""
