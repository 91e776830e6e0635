"""Static checks of model-written code: the gate (a lint) and tool schemas derived from code.

:func:`lint_environment`, :func:`lint_validator` and :func:`lint_description` give early,
readable rejections that the repair loop can hand back to the model. They are *not* a security
boundary: generated code only ever runs in the OS sandbox (:mod:`envmint.sandbox`).
:func:`derive_tools` turns an environment class into ``ToolSpec``-shaped dicts without a model.

The gate: :mod:`~generator.codecheck.policy` (what may be imported and named),
:mod:`~generator.codecheck.shared_rules` (the rules all model-written code follows),
:mod:`~generator.codecheck.environment_lint`, :mod:`~generator.codecheck.validator_lint` and
:mod:`~generator.codecheck.description_lint`. Tool derivation: :mod:`~generator.codecheck.tool_specs`,
from :mod:`~generator.codecheck.docstrings`, :mod:`~generator.codecheck.type_schemas` and
:mod:`~generator.codecheck.state_writes`.
"""

from generator.codecheck.description_lint import lint_description
from generator.codecheck.docstrings import ParsedDocstring, parse_docstring
from generator.codecheck.environment_lint import lint_environment
from generator.codecheck.findings import GateFinding, format_findings
from generator.codecheck.policy import ENVIRONMENT_IMPORTS, VALIDATOR_IMPORTS
from generator.codecheck.tool_specs import DerivedTools, derive_tools
from generator.codecheck.type_schemas import annotation_schema
from generator.codecheck.validator_lint import lint_validator

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
