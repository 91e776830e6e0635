"""`envmint bundle`: an MCPB bundle that mcpb accepts and that runs where envmint is not installed."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import anyio
import pytest
from mcp import Client, StdioServerParameters

from envmint.publish.bundle import build
from envmint.publish.registry import problems, write_entry
from tests.conftest import TOOLS_DIR, need
from tests.test_external_clients import MCPB, NODE_BIN, _node_env

SITE_PACKAGES = (
    TOOLS_DIR / "mcp-only" / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
)
SYSTEM_PYTHON = Path("/usr/bin/python3")

pytestmark = pytest.mark.external


@pytest.fixture(scope="module")
def bundled(library_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    need(SITE_PACKAGES.exists(), "run scripts/setup to create .tools/mcp-only")
    out = tmp_path_factory.mktemp("dist")
    path = build(library_folder, out, deps_from=SITE_PACKAGES)
    unpacked = out / "unpacked"
    with zipfile.ZipFile(path) as archive:
        archive.extractall(unpacked)
    for script in unpacked.rglob("*.py"):
        script.chmod(0o644)
    return path, unpacked


def test_mcpb_validates_the_bundled_manifest(bundled: tuple[Path, Path]) -> None:
    need(MCPB.exists() and NODE_BIN.exists(), "run scripts/setup --with-node to install mcpb")
    _, unpacked = bundled
    result = subprocess.run(
        [str(MCPB), "validate", str(unpacked / "manifest.json")],
        capture_output=True, text=True, timeout=60, env=_node_env(), stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.anyio
async def test_an_unpacked_bundle_serves_its_manifest_tools_under_a_python_without_envmint(
    bundled: tuple[Path, Path],
) -> None:
    need(SYSTEM_PYTHON.exists(), "a system python3 (without envmint or mcp) is needed")
    probe = subprocess.run([str(SYSTEM_PYTHON), "-c", "import mcp"], capture_output=True, timeout=30, cwd="/")
    if probe.returncode == 0:
        pytest.skip("the system python3 has mcp installed, so it cannot show the vendored lib/ is used")
    _, unpacked = bundled
    manifest = json.loads((unpacked / "manifest.json").read_text())
    config = manifest["server"]["mcp_config"]
    args = [a.replace("${__dirname}", str(unpacked)) for a in config["args"]]
    env = {k: v.replace("${__dirname}", str(unpacked)) for k, v in config["env"].items()}
    params = StdioServerParameters(command=str(SYSTEM_PYTHON), args=args, env=env, cwd="/")
    with anyio.fail_after(60):
        async with Client(params) as client:
            listed = [tool.name for tool in (await client.list_tools()).tools]
    assert listed == [tool["name"] for tool in manifest["tools"]]


def test_the_bundle_carries_the_runtime_and_the_vendored_mcp(bundled: tuple[Path, Path]) -> None:
    path, _ = bundled
    names = zipfile.ZipFile(path).namelist()
    assert "_runtime/envmint_runtime/host.py" in names and "lib/mcp/__init__.py" in names
    assert not any(n.startswith(("lib/pip/", "lib/setuptools/")) for n in names)


def test_the_registry_entry_beside_a_bundle_names_its_url_and_hash(
    bundled: tuple[Path, Path], library_folder: Path
) -> None:
    path, _ = bundled
    written = write_entry(library_folder, path, namespace="io.github.acme",
                          release_url="https://github.com/acme/envs/releases/download/v1/")  # fmt: skip
    entry = json.loads(written.read_text(encoding="utf-8"))
    assert written.name == path.stem + ".server.json" and problems(entry) == []
    (package,) = entry["packages"]
    assert package["fileSha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert package["identifier"] == f"https://github.com/acme/envs/releases/download/v1/{path.name}"
