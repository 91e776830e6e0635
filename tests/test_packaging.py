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


def test_every_data_file_beside_the_code_is_shipped_as_package_data() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    globs: dict[str, list[str]] = config.get("package-data", {})
    missing = []
    for root in (REPO / "envmint", REPO / "generator"):
        for path in root.rglob("*"):
            if not path.is_file() or path.suffix in (".py", ".pyc") or "__pycache__" in path.parts:
                continue
            package = ".".join(path.parent.relative_to(REPO).parts)
            while package and not (REPO / package.replace(".", "/") / "__init__.py").exists():
                package = package.rpartition(".")[0]
            relative = path.relative_to(REPO / package.replace(".", "/"))
            if not any(relative.match(pattern) for pattern in globs.get(package, [])):
                missing.append(str(path.relative_to(REPO)))
    assert missing == [], f"not in [tool.setuptools.package-data]: {missing}"
