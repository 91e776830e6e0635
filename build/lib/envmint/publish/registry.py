"""MCP Registry entries (``server.json``) for bundled servers, and their validation.

An entry names the server (``<namespace>/<name>``, where the namespace proves ownership: a GitHub
``io.github.<user>`` namespace needs a GitHub login as that user), describes it, and lists one
``mcpb`` package: the HTTPS download URL of the bundle and its SHA-256. The hash is what makes the
entry a release artifact rather than catalog content: it names the bundle's bytes, which depend on
the Python and platform that built the bundle. So ``envmint bundle`` writes the entry beside the
bundle it just built.

Validation applies the registry's published JSON Schema (2025-12-11; ``server.schema.2025-12-11.json``
keeps its validation keywords and drops only its annotations) plus the rules the registry enforces
when publishing that the schema cannot express.
"""

from __future__ import annotations

import hashlib
import json
import re
from functools import cache
from pathlib import Path
from textwrap import shorten
from typing import Any
from urllib.parse import urlsplit

from jsonschema import Draft7Validator

from envmint.emit.manifest import first_sentence

SCHEMA_URL = "https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json"
SCHEMA_FILE = Path(__file__).with_name("server.schema.2025-12-11.json")
META_KEY = "io.modelcontextprotocol.registry/publisher-provided"
DEFAULT_NAMESPACE = "io.github.envmint"

_NAMESPACE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9.-]*[a-zA-Z0-9]$")
_NAME_PART = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._-]*[a-zA-Z0-9]$")
_NUMBER = r"v?\d+(?:\.\d+){0,3}(?:-[0-9A-Za-z.-]+)?"
_RANGES = (
    re.compile(rf"^\s*(?:\^|~|>=|<=|>|<|=)\s*{_NUMBER}\s*$"),
    re.compile(rf"^\s*{_NUMBER}\s-\s*{_NUMBER}\s*$"),
    re.compile(rf"^\s*{_NUMBER}\s*(?:\|\|\s*{_NUMBER}\s*)+$"),
    re.compile(r"^\s*(?:v?\d+|x|X|\*)(?:\.(?:\d+|x|X|\*)){1,2}(?:-[0-9A-Za-z.-]+)?\s*$"),
)
_GITHUB_REPO = re.compile(r"^https://github\.com/[A-Za-z0-9-]+/[A-Za-z0-9._-]+/?$")


class RegistryEntryError(ValueError):
    """The entry would be rejected by the MCP Registry; the message lists every reason."""


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def default_release_url(namespace: str, name: str, version: str) -> str:
    """Where a GitHub release of this bundle would live, for ``io.github.<owner>`` namespaces."""
    owner = namespace.removeprefix("io.github.") if namespace.startswith("io.github.") else "envmint"
    return f"https://github.com/{owner}/envmint-mcp-servers/releases/download/{name}-v{version}"


def server_entry(
    folder: Path,
    *,
    bundle_name: str,
    bundle_sha256: str,
    namespace: str = DEFAULT_NAMESPACE,
    release_url: str | None = None,
    repository: str | None = None,
) -> dict[str, Any]:
    """The ``server.json`` for the server in ``folder`` published as the bundle ``bundle_name``."""
    manifest: dict[str, Any] = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    spec: dict[str, Any] = json.loads((folder / "spec.json").read_text(encoding="utf-8"))
    name, version = manifest["name"], manifest["version"]
    base = (release_url or default_release_url(namespace, name, version)).rstrip("/")
    entry: dict[str, Any] = {
        "$schema": SCHEMA_URL,
        "name": f"{namespace}/{name}",
        "title": shorten(manifest["display_name"], 100, placeholder="..."),
        "description": shorten(first_sentence(spec["description"], 1000), 100, placeholder="..."),
        "version": version,
    }
    if repository:
        source = urlsplit(repository).netloc.removeprefix("www.").split(".")[0] or "github"
        entry["repository"] = {"url": repository, "source": source, "subfolder": f"mcp_servers/{folder.name}"}
    entry["packages"] = [
        {
            "registryType": "mcpb",
            "identifier": f"{base}/{bundle_name}",
            "version": version,
            "fileSha256": bundle_sha256,
            "transport": {"type": "stdio"},
        }
    ]
    entry["_meta"] = {
        META_KEY: {
            "envmint": {
                "environment": spec["id"],
                "domain": spec["domain"],
                "tools": [tool["name"] for tool in spec["tools"]],
            }
        }
    }
    return entry


@cache
def _validator() -> Draft7Validator:
    return Draft7Validator(json.loads(SCHEMA_FILE.read_text(encoding="utf-8")))


def _where(path: Any) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".") or "(top level)"


def _looks_like_range(version: str) -> bool:
    text = version.strip()
    if not text:
        return False
    if any(pattern.match(text) for pattern in _RANGES[:3]):
        return True
    return bool(_RANGES[3].match(text)) and any(c in text for c in "xX*")


def _version_problems(where: str, version: Any) -> list[str]:
    if not isinstance(version, str):
        return []
    if version == "latest":
        return [f"{where}: 'latest' is reserved; name a specific version"]
    return [f"{where}: {version!r} is a version range; name a specific version"] if _looks_like_range(version) else []


def _https(where: str, url: Any) -> list[str]:
    if not isinstance(url, str):
        return []
    parts = urlsplit(url)
    return [] if parts.scheme == "https" and parts.netloc else [f"{where}: {url!r} must be an absolute https URL"]


def _package_problems(where: str, package: dict[str, Any]) -> list[str]:
    problems = _version_problems(f"{where}.version", package.get("version"))
    identifier = package.get("identifier", "")
    if isinstance(identifier, str) and any(c.isspace() for c in identifier):
        problems.append(f"{where}.identifier: must not contain spaces")
    if package.get("registryType") == "mcpb":
        problems += _https(f"{where}.identifier", identifier)
        if isinstance(identifier, str) and "mcp" not in identifier.lower():
            problems.append(f"{where}.identifier: an MCPB package URL must contain 'mcp'")
        if "fileSha256" not in package:
            problems.append(f"{where}.fileSha256: required for MCPB packages")
    transport = package.get("transport", {})
    if isinstance(transport, dict) and transport.get("type") == "stdio" and transport.get("url"):
        problems.append(f"{where}.transport.url: must be empty for the stdio transport")
    return problems


def problems(entry: Any) -> list[str]:
    """Everything the MCP Registry would reject in ``entry``: schema errors first, then its publish rules."""
    found = [
        f"{_where(error.absolute_path)}: {error.message}"
        for error in sorted(_validator().iter_errors(entry), key=lambda e: list(map(str, e.absolute_path)))
    ]
    if found or not isinstance(entry, dict):
        return found
    namespace, _, name = entry["name"].partition("/")
    if not (_NAMESPACE.match(namespace) and _NAME_PART.match(name)):
        found.append("name: the namespace and the name must start and end with a letter or digit")
    found += _version_problems("version", entry["version"])
    for key in ("$schema", "websiteUrl"):
        found += _https(key, entry.get(key))
    repository = entry.get("repository")
    if repository:
        if repository["source"] == "github" and not _GITHUB_REPO.match(repository["url"]):
            found.append(f"repository.url: {repository['url']!r} is not a GitHub repository URL")
        subfolder = repository.get("subfolder", "")
        if subfolder.startswith("/") or ".." in subfolder.split("/"):
            found.append("repository.subfolder: must be a clean relative path")
    for index, package in enumerate(entry.get("packages", [])):
        found += _package_problems(f"packages[{index}]", package)
    return found


def write_entry(folder: Path, bundle: Path, **options: Any) -> Path:
    """Check and write ``<bundle stem>.server.json`` beside ``bundle``; raise RegistryEntryError instead."""
    entry = server_entry(folder, bundle_name=bundle.name, bundle_sha256=file_sha256(bundle), **options)
    check(entry)
    target = bundle.with_name(bundle.stem + ".server.json")
    target.write_text(json.dumps(entry, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return target


def check(entry: Any) -> None:
    found = problems(entry)
    if found:
        raise RegistryEntryError("the MCP Registry would reject this server.json:\n  " + "\n  ".join(found))
