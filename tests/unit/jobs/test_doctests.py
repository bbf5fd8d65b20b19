"""The examples in the jobs modules' docstrings run."""

import doctest
import importlib

import pytest

MODULES = ["model", "graph", "stats", "schedule", "shapes", "__init__"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module("actors.frameworks.jobs" + ("" if name == "__init__" else f".{name}"))
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0
