"""Importing environments written elsewhere: plain Python classes and the seed system's format."""

from envmint.importers.classes import ClassImport, derive_class_tools
from envmint.importers.envscaler import ImportReport, import_class_file, import_envscaler, wrap_check

__all__ = ["ClassImport", "ImportReport", "derive_class_tools", "import_class_file", "import_envscaler", "wrap_check"]
