"""Writing a server folder: ``server.py``, ``environment.py``, ``spec.json``, ``default_state.json``,
``README.md`` and ``manifest.json``. Writes are atomic per file and deterministic."""

from __future__ import annotations

import filecmp
import os
import tempfile
from pathlib import Path

import envmint_runtime

from envmint.contract import EnvironmentSpec, dump_json, model_json
from envmint.emit.card import card
from envmint.emit.manifest import manifest
from envmint.emit.templates import SERVER_PY

RUNTIME_SOURCE = Path(envmint_runtime.__file__).resolve().parent
RUNTIME_DIR = "_runtime"


def write_text(path: Path, text: str) -> None:
    """Replace ``path`` atomically; leave it untouched when the content is already the same."""
    data = text.encode("utf-8")
    if path.exists() and path.read_bytes() == data:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def ensure_runtime(servers_dir: Path) -> Path:
    """Make ``servers_dir/_runtime/envmint_runtime`` a copy of the runtime, unless it is the source itself."""
    target = servers_dir / RUNTIME_DIR / "envmint_runtime"
    if target.resolve() == RUNTIME_SOURCE:
        return target
    for source in sorted(RUNTIME_SOURCE.glob("*.py")):
        destination = target / source.name
        if not (destination.exists() and filecmp.cmp(source, destination, shallow=False)):
            write_text(destination, source.read_text(encoding="utf-8"))
    for stale in target.glob("*.py"):
        if not (RUNTIME_SOURCE / stale.name).exists():
            stale.unlink()
    return target


def _safe_docstring(text: str) -> str:
    return text.replace("\\", "/").replace('"', "'")


def render(spec: EnvironmentSpec) -> dict[str, str]:
    """Every file of the folder, by name."""
    version = envmint_runtime.__version__
    return {
        "server.py": SERVER_PY.format(name=_safe_docstring(spec.name)),
        "environment.py": spec.code.source if spec.code.source.endswith("\n") else spec.code.source + "\n",
        "spec.json": model_json(spec),
        "default_state.json": dump_json(spec.default_state),
        "README.md": card(spec, version),
        "manifest.json": dump_json(manifest(spec, version)),
    }


def emit(spec: EnvironmentSpec, servers_dir: Path) -> Path:
    """Write ``servers_dir/<spec.id>/`` and make sure the shared runtime sits beside it."""
    servers_dir = Path(servers_dir)
    folder = servers_dir / spec.id
    for name, text in sorted(render(spec).items()):
        write_text(folder / name, text)
    (folder / "server.py").chmod(0o755)
    ensure_runtime(servers_dir)
    return folder
