"""What model-written code may import and name: the allow-lists, and what to write instead.

Environment code and checks share one policy shape (:class:`Policy`) with different lists and
hints. The import allow-list for environment code, entry by entry:

- ``envmint_runtime``: ``Environment``, ``ToolError`` and ``JSON`` only.
- ``__future__``: ``annotations``.
- ``typing`` and ``collections.abc``: for annotations (``typing.get_type_hints`` is left out: it
  evaluates strings).
- ``datetime``: ``date``/``datetime``/``time``/``timedelta``/``timezone``/``UTC``, for arithmetic
  on dates from ``self.clock`` (``now``/``today``/``utcnow``/``fromtimestamp`` are refused).
- ``math``, and ``decimal`` for money (``getcontext``/``setcontext`` are left out: they change
  process-wide state).
- ``re``: validating ids and formats (its stray module attributes such as ``re.enum`` are not).
- ``copy``: deep copies, so a result or a new record does not alias the state.
- ``collections``: ``Counter``, ``defaultdict``, ``OrderedDict`` (dict subclasses, still JSON).

Left out on purpose: ``json`` (the runtime serialises results), ``dataclasses``/``enum`` (state is
plain JSON; use ``Literal`` for fixed choices), ``functools``/``itertools``/``operator``
(``operator.attrgetter`` reads any attribute by name), ``string`` (``string.Formatter``), and
everything that does I/O or reads the clock or a random source. Checks may import only ``math``,
``re``, ``datetime`` and ``copy`` (the grader's own read-only error suggests ``copy.deepcopy``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "BASE_EXCEPTIONS",
    "CHECK",
    "CLOCK_ATTRS",
    "ENVIRONMENT",
    "ENVIRONMENT_IMPORTS",
    "FROM_ONLY",
    "INTROSPECTION_ATTRS",
    "VALIDATOR_IMPORTS",
    "Policy",
]

_TYPING = frozenset(
    {
        "Any",
        "Literal",
        "Optional",
        "Union",
        "Annotated",
        "Final",
        "ClassVar",
        "TypedDict",
        "NotRequired",
        "Required",
        "TypeAlias",
        "Self",
        "cast",
        "List",
        "Dict",
        "Tuple",
        "Set",
        "FrozenSet",
        "Iterable",
        "Iterator",
        "Sequence",
        "Mapping",
        "MutableMapping",
        "Callable",
    }
)
_COLLECTIONS_ABC = frozenset(
    {
        "Callable",
        "Collection",
        "Container",
        "Hashable",
        "Iterable",
        "Iterator",
        "Mapping",
        "MutableMapping",
        "MutableSequence",
        "MutableSet",
        "Sequence",
        "Set",
        "Sized",
    }
)
_DATETIME = frozenset({"date", "datetime", "time", "timedelta", "timezone", "UTC"})
_MATH = frozenset(name for name in dir(math) if not name.startswith("_"))
_RE = frozenset(
    {
        "compile",
        "match",
        "fullmatch",
        "search",
        "sub",
        "subn",
        "split",
        "findall",
        "finditer",
        "escape",
        "error",
        "Pattern",
        "Match",
        "NOFLAG",
        "IGNORECASE",
        "I",
        "MULTILINE",
        "M",
        "DOTALL",
        "S",
        "VERBOSE",
        "X",
        "ASCII",
        "A",
    }
)
_DECIMAL = frozenset(
    {
        "Decimal",
        "InvalidOperation",
        "DivisionByZero",
        "localcontext",
        "ROUND_UP",
        "ROUND_DOWN",
        "ROUND_CEILING",
        "ROUND_FLOOR",
        "ROUND_HALF_UP",
        "ROUND_HALF_DOWN",
        "ROUND_HALF_EVEN",
        "ROUND_05UP",
    }
)
_COPY = frozenset({"copy", "deepcopy"})

ENVIRONMENT_IMPORTS: Mapping[str, frozenset[str]] = {
    "__future__": frozenset({"annotations"}),
    "envmint_runtime": frozenset({"Environment", "ToolError", "JSON"}),
    "typing": _TYPING,
    "collections.abc": _COLLECTIONS_ABC,
    "collections": frozenset({"Counter", "defaultdict", "OrderedDict"}),
    "datetime": _DATETIME,
    "math": _MATH,
    "re": _RE,
    "decimal": _DECIMAL,
    "copy": _COPY,
}
"""Module -> the names environment code may import from it (``import m`` binds only these)."""

VALIDATOR_IMPORTS: Mapping[str, frozenset[str]] = {
    "__future__": frozenset({"annotations"}),
    "math": _MATH,
    "re": _RE,
    "datetime": _DATETIME,
    "copy": _COPY,
}
"""Module -> the names a check may import from it."""

FROM_ONLY = frozenset({"__future__", "envmint_runtime", "collections.abc"})
"""Modules that may be imported from (``from m import name``) but not imported whole."""

CLOCK_ATTRS = frozenset({"now", "today", "utcnow", "fromtimestamp", "utcfromtimestamp"})
"""Attributes that read the wall clock (``datetime.now``, ``date.today``, ...)."""

INTROSPECTION_ATTRS = frozenset(
    {
        "gi_frame",
        "gi_code",
        "gi_yieldfrom",
        "gi_running",
        "gi_suspended",
        "cr_frame",
        "cr_code",
        "cr_await",
        "cr_origin",
        "ag_frame",
        "ag_code",
        "ag_await",
        "f_globals",
        "f_locals",
        "f_builtins",
        "f_back",
        "f_code",
        "f_trace",
        "tb_frame",
        "tb_next",
        "co_code",
        "co_consts",
        "co_names",
        "func_globals",
        "func_code",
        "func_closure",
        "im_func",
        "im_self",
        "cell_contents",
        "mro",
        "with_traceback",
    }
)
"""Attributes that reach into frames, code objects and closures."""

BASE_EXCEPTIONS = frozenset({"BaseException", "SystemExit", "KeyboardInterrupt", "GeneratorExit"})
"""Exceptions outside ``Exception``: the runtime's time limit and interpreter exits."""

_IMPORT_HINTS: dict[str, tuple[str, str]] = {  # module -> (rule, why), formatted by Policy.import_hint
    "time": ("nondeterminism", "it reads the wall clock; {clock}"),
    "random": ("nondeterminism", "it is the unseeded global random source; {random}"),
    "uuid": ("nondeterminism", "it makes random identifiers; {ids}"),
    "secrets": ("nondeterminism", "it draws from the OS random source; {ids}"),
    "os": ("import", "it does I/O and reads the host (files, os.environ, os.urandom); {data}"),
    "operator": ("import", "operator.attrgetter and itemgetter look values up by computed names; write a lambda"),
    "string": ("import", "string.Formatter reads attributes by name; use f-strings"),
    "functools": ("import", "it is not on the allow-list; write the loop or comprehension out"),
    "itertools": ("import", "it is not on the allow-list; write the loop or comprehension out"),
    "json": ("import", "it is not needed: tools return dicts and the runtime serialises them"),
    "dataclasses": ("import", "state is plain JSON dicts; use dicts, and typing.Literal for fixed choices"),
    "enum": ("import", "state is plain JSON; use typing.Literal['a', 'b'] or a tuple of allowed strings"),
}

Context = Literal["environment", "check"]


@dataclass(frozen=True)
class Policy:
    """The allow-list of one kind of code, and the hints its findings give."""

    context: Context
    imports: Mapping[str, frozenset[str]]
    clock_hint: str
    random_hint: str
    ids_hint: str
    set_order: bool

    @property
    def code(self) -> str:
        """What findings call the code: ``environment code`` or ``a check``."""
        return "environment code" if self.context == "environment" else "a check"

    def allowed_list(self, module: str) -> str:
        """The names that may be imported from ``module``, as a finding lists them."""
        names = sorted(self.imports[module])
        return ", ".join(names) if len(names) <= 30 else "its functions and constants"

    def modules_list(self) -> str:
        """The modules that may be imported from, as a finding lists them."""
        return ", ".join(m for m in self.imports if m != "__future__")

    def import_hint(self, module: str) -> tuple[str, str]:
        """(rule, why) for a module that may not be imported."""
        top = module.split(".")[0]
        rule, hint = _IMPORT_HINTS.get(top, ("import", "{what} does no I/O, starts no processes and loads no code"))
        data = "keep data in self.state" if self.context == "environment" else "a check only reads its two inputs"
        return rule, hint.format(
            clock=self.clock_hint, random=self.random_hint, ids=self.ids_hint, data=data, what=self.code
        )

    def builtin_hints(self) -> dict[str, tuple[str, str]]:
        """Forbidden built-in names -> (rule, what to do instead)."""
        data = "keep data in self.state" if self.context == "environment" else "read initial_state and final_state"
        result = "return the information in the result dict" if self.context == "environment" else "return True/False"
        refuse = (
            "refuse with `raise ToolError('message for the agent')`"
            if self.context == "environment"
            else "return False, or let an ordinary exception propagate"
        )
        return {
            "open": ("builtin", f"it does file I/O; {data}"),
            "exec": ("builtin", "it runs dynamic code; write the logic out"),
            "eval": ("builtin", "it runs dynamic code; write the logic out (int(text) or float(text) parse numbers)"),
            "compile": ("builtin", "it builds dynamic code; write the logic out (re.compile is fine)"),
            "globals": ("introspection", f"it exposes the module namespace; {data}"),
            "locals": ("introspection", "it exposes the frame; use the variables directly"),
            "vars": ("introspection", "it exposes an object's namespace; use the values directly"),
            "dir": ("introspection", "it lists an object's attributes; use the values directly"),
            "input": ("builtin", "nothing can be read from a terminal; take the value as a parameter"),
            "print": ("builtin", f"nobody reads printed output; {result}"),
            "breakpoint": ("builtin", "there is no debugger; remove it"),
            "help": ("builtin", "remove it"),
            "exit": ("builtin", f"it stops the process; {refuse}"),
            "quit": ("builtin", f"it stops the process; {refuse}"),
            "setattr": ("dynamic-attribute", f"it sets attributes by name; {data} (e.g. record['field'] = value)"),
            "delattr": ("dynamic-attribute", f"it deletes attributes by name; {data} (e.g. del record['field'])"),
            "hash": (
                "nondeterminism",
                "string hashes change between runs (PYTHONHASHSEED); compare the values themselves",
            ),
            "id": ("nondeterminism", f"object ids are memory addresses and change between runs; {self.ids_hint}"),
            "BaseException": ("builtin", refuse),
            "SystemExit": ("builtin", refuse),
            "KeyboardInterrupt": ("builtin", refuse),
            "GeneratorExit": ("builtin", refuse),
        }


ENVIRONMENT = Policy(
    context="environment",
    imports=ENVIRONMENT_IMPORTS,
    clock_hint="use self.clock.now(), self.clock.today() or self.clock.iso()",
    random_hint="use self.rng, the environment's seeded random.Random (e.g. self.rng.choice(options))",
    ids_hint='use self.ids.new("PREFIX", taken=self.state["things"])',
    set_order=True,
)
CHECK = Policy(
    context="check",
    imports=VALIDATOR_IMPORTS,
    clock_hint="compare with fixed dates written in the check, or with values in initial_state",
    random_hint="a check is a pure function of initial_state and final_state",
    ids_hint="a check is a pure function of initial_state and final_state",
    set_order=False,
)
