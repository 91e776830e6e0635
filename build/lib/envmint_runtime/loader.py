"""Loading an emitted server folder: ``spec.json`` plus the environment module beside it."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

from envmint_runtime.environment import Environment

SPEC_FILE = "spec.json"
ENVIRONMENT_FILE = "environment.py"
DEFAULT_STATE_FILE = "default_state.json"


def read_spec(folder: Path) -> dict[str, Any]:
    spec: dict[str, Any] = json.loads((folder / SPEC_FILE).read_text(encoding="utf-8"))
    return spec


def load_environment_class(folder: Path, spec: dict[str, Any]) -> type[Environment]:
    """Import ``environment.py`` from ``folder`` and return the class the spec names."""
    module_name = f"envmint_env_{spec['id']}"
    location = folder / ENVIRONMENT_FILE
    module_spec = importlib.util.spec_from_file_location(module_name, location)
    if module_spec is None or module_spec.loader is None:
        raise ImportError(f"cannot import {location.name}")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[module_name] = module
    module_spec.loader.exec_module(module)
    env_class = getattr(module, spec["code"]["class_name"], None)
    if not (isinstance(env_class, type) and issubclass(env_class, Environment)):
        raise TypeError(f"{location.name} defines no Environment subclass named {spec['code']['class_name']!r}")
    return env_class
