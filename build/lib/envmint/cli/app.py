"""The typer application and the consoles every command prints to."""

import typer
from rich.console import Console

app = typer.Typer(
    help="Synthesize stateful tool environments and serve each as a standalone MCP server.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
errors = Console(stderr=True)
