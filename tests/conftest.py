"""Shared fixtures: emitted fixture environments, hosts, and in-memory MCP servers."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from envmint_runtime.host import EnvironmentHost
from envmint_runtime.loader import load_environment_class

from envmint.contract import EnvironmentSpec
from envmint.emit import emit
from tests.fixtures import faulty, library

REPO = Path(__file__).resolve().parents[1]
TOOLS_DIR = REPO / ".tools"
REQUIRE_EXTERNAL = os.environ.get("ENVMINT_REQUIRE_EXTERNAL") == "1"


def need(condition: bool, reason: str) -> None:
    """Skip when an external tool is missing, except in CI, where missing tools are a failure."""
    if not condition:
        if REQUIRE_EXTERNAL:
            pytest.fail(f"required external tool missing: {reason}")
        pytest.skip(reason)


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def servers_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of emitted servers (with its own copy of the runtime), shared by the session."""
    return tmp_path_factory.mktemp("mcp_servers")


@pytest.fixture(scope="session")
def library_spec() -> EnvironmentSpec:
    return library.build_spec()


@pytest.fixture(scope="session")
def faulty_spec() -> EnvironmentSpec:
    return faulty.build_spec()


@pytest.fixture(scope="session")
def library_folder(library_spec: EnvironmentSpec, servers_dir: Path) -> Path:
    return emit(library_spec, servers_dir)


@pytest.fixture(scope="session")
def faulty_folder(faulty_spec: EnvironmentSpec, servers_dir: Path) -> Path:
    return emit(faulty_spec, servers_dir)


HostFactory = Callable[..., EnvironmentHost]


def _factory(spec: EnvironmentSpec, folder: Path) -> HostFactory:
    spec_data = spec.model_dump(mode="json")
    env_class = load_environment_class(folder, spec_data)

    def make(**options: Any) -> EnvironmentHost:
        return EnvironmentHost(spec_data, env_class, **options)

    return make


@pytest.fixture(scope="session")
def library_host_factory(library_spec: EnvironmentSpec, library_folder: Path) -> HostFactory:
    return _factory(library_spec, library_folder)


@pytest.fixture(scope="session")
def faulty_host_factory(faulty_spec: EnvironmentSpec, faulty_folder: Path) -> HostFactory:
    return _factory(faulty_spec, faulty_folder)
