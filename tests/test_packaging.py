"""The distribution ships every package and data file the code needs."""

from __future__ import annotations

import tomllib

from tests.conftest import REPO


def test_every_python_package_in_the_source_tree_is_listed_for_the_distribution() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    roots = {"envmint": REPO / "envmint", "generator": REPO / "generator"}
    found = {
        ".".join((name, *init.parent.relative_to(root).parts))
        for name, root in roots.items()
        for init in root.rglob("__init__.py")
    }
    assert found | {"envmint_runtime"} == listed
    assert config["package-dir"]["envmint_runtime"] == "mcp_servers/_runtime/envmint_runtime"
