"""Static checks of model-written code: the gate (a lint) and tool schemas derived from code.

:func:`lint_environment`, :func:`lint_validator` and :func:`lint_description` give early,
readable rejections that the repair loop can hand back to the model. They are *not* a security
boundary: generated code only ever runs in the OS sandbox (:mod:`envmint.sandbox`).
:func:`derive_tools` turns an environment class into ``ToolSpec``-shaped dicts without a model.
"""

from generator.codecheck.gate import (
    ENVIRONMENT_IMPORTS,
    VALIDATOR_IMPORTS,
    GateFinding,
    format_findings,
    lint_description,
    lint_environment,
    lint_validator,
)
from generator.codecheck.schemas import DerivedTools, ParsedDocstring, annotation_schema, derive_tools, parse_docstring

__all__ = [
    "ENVIRONMENT_IMPORTS",
    "VALIDATOR_IMPORTS",
    "DerivedTools",
    "GateFinding",
    "ParsedDocstring",
    "annotation_schema",
    "derive_tools",
    "format_findings",
    "lint_description",
    "lint_environment",
    "lint_validator",
    "parse_docstring",
]
