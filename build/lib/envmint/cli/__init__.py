"""The ``envmint`` command line: one module per command group."""

from envmint.cli import (  # noqa: F401  (register their commands)
    catalog,
    export,
    files,
    importers,
    pipeline,
    publish,
    report,
    runs,
)
from envmint.cli.app import app

__all__ = ["app"]
