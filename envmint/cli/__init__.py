"""The ``envmint`` command line: one module per command group."""

from envmint.cli import catalog, export, files, importers, pipeline, report, runs  # noqa: F401  (register their commands)
from envmint.cli.app import app

__all__ = ["app"]
