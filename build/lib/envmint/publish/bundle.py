"""MCP Bundles (``.mcpb``): a server folder plus its runtime and its Python dependencies, zipped.

We build ``type: "python"`` bundles (MCPB 0.3) with ``mcp`` and its dependencies vendored in
``lib/``, because hosts install Python bundles that way today; the ``uv`` type exists only in the
experimental 0.4 manifest. Vendored packages include compiled extensions (pydantic-core,
cryptography), so a bundle runs on the platform and Python minor version it was built with; the
manifest's ``compatibility`` says so.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from envmint.contract import dump_json
from envmint.emit.folder import RUNTIME_SOURCE

SERVER_FILES = ("server.py", "environment.py", "spec.json", "default_state.json", "README.md", "manifest.json")
SKIP_PACKAGES = {"pip", "setuptools", "_distutils_hack", "pkg_resources", "__pycache__", "distutils-precedence.pth"}
PLATFORMS = {"linux": "linux", "darwin": "darwin", "win32": "win32"}
ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def vendor_dependencies(lib: Path, deps_from: Path | None) -> None:
    """Fill ``lib`` with ``mcp`` and its dependencies: copied from a site-packages folder that holds
    only them, or installed from the package index."""
    lib.mkdir(parents=True, exist_ok=True)
    if deps_from is not None:
        for item in sorted(deps_from.iterdir()):
            if item.name in SKIP_PACKAGES or item.name.startswith(("pip-", "setuptools-")):
                continue
            target = lib / item.name
            if item.is_dir():
                shutil.copytree(item, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
            else:
                shutil.copy2(item, target)
        return
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--target", str(lib),
         "mcp>=2.3,<3"],
        check=True,
    )  # fmt: skip


def bundle_manifest(folder: Path) -> dict[str, Any]:
    manifest: dict[str, Any] = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    manifest["compatibility"] = {
        "platforms": [PLATFORMS.get(sys.platform, "linux")],
        "runtimes": {"python": f">={version},<{sys.version_info.major}.{sys.version_info.minor + 1}"},
    }
    return manifest


def _zip(stage: Path, target: Path) -> None:
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path in sorted(p for p in stage.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(path.relative_to(stage).as_posix(), ZIP_TIME)
            info.external_attr = (path.stat().st_mode & 0o777 | 0o100000) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())


def bundle_name(folder: Path) -> str:
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    return f"{manifest['name']}-{manifest['version']}.mcpb"


def build(folder: Path, out_dir: Path, *, deps_from: Path | None = None) -> Path:
    """Write ``out_dir/<name>-<version>.mcpb`` for the server in ``folder``."""
    manifest = bundle_manifest(folder)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="envmint-bundle-") as temp:
        stage = Path(temp) / "bundle"
        stage.mkdir()
        for name in SERVER_FILES:
            shutil.copy2(folder / name, stage / name)
        (stage / "manifest.json").write_text(dump_json(manifest), encoding="utf-8")
        runtime = stage / "_runtime" / "envmint_runtime"
        runtime.mkdir(parents=True)
        for source in sorted(RUNTIME_SOURCE.glob("*.py")):
            shutil.copy2(source, runtime / source.name)
        vendor_dependencies(stage / "lib", deps_from)
        (stage / ".mcpbignore").write_text("__pycache__/\n*.pyc\nlib/bin/\n", encoding="utf-8")
        target = out_dir / bundle_name(folder)
        _zip(stage, target)
    os.chmod(target, 0o644)
    return target
