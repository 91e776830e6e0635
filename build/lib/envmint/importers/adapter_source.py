"""The code appended to an imported class's source: JSON encoding of its attributes, and the
``Environment`` subclass that runs each tool call on an instance rebuilt from ``self.state``.

This is text, never executed here: it runs inside the emitted (sandboxed) server, and inside the
sandboxed child that takes initial snapshots (:mod:`envmint.importers.snapshots`).
"""

from __future__ import annotations

import json

HELPERS = '''
import base64 as _em_base64
import datetime as _em_dt
import decimal as _em_decimal
import enum as _em_enum
import math as _em_math
import json as _em_json

_EM_TAG = "$type"


def _em_class(name):
    found = globals().get(name.split(".")[0])
    for part in name.split(".")[1:]:
        found = getattr(found, part, None)
    return found if isinstance(found, type) else None


def _em_key(item):
    return _em_json.dumps(item, sort_keys=True, default=str)


def _em_encode(value):
    """A JSON value that :func:`_em_decode` turns back into an equal Python value."""
    if isinstance(value, _em_enum.Enum):
        return {_EM_TAG: "enum", "class": type(value).__qualname__, "value": _em_encode(value.value)}
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return value if _em_math.isfinite(value) else {_EM_TAG: "float", "value": repr(value)}
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value) and _EM_TAG not in value:
            return {k: _em_encode(v) for k, v in value.items()}
        return {_EM_TAG: "dict", "items": [[_em_encode(k), _em_encode(v)] for k, v in value.items()]}
    if isinstance(value, list):
        return [_em_encode(v) for v in value]
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return {_EM_TAG: "tuple", "items": [_em_encode(v) for v in value]}
    if isinstance(value, (set, frozenset)):
        items = sorted((_em_encode(v) for v in value), key=_em_key)
        return {_EM_TAG: type(value).__name__ if type(value) in (set, frozenset) else "set", "items": items}
    if isinstance(value, _em_dt.datetime):
        return {_EM_TAG: "datetime", "value": value.isoformat()}
    if isinstance(value, _em_dt.date):
        return {_EM_TAG: "date", "value": value.isoformat()}
    if isinstance(value, _em_dt.time):
        return {_EM_TAG: "time", "value": value.isoformat()}
    if isinstance(value, _em_dt.timedelta):
        return {_EM_TAG: "timedelta", "seconds": value.total_seconds()}
    if isinstance(value, _em_decimal.Decimal):
        return {_EM_TAG: "decimal", "value": str(value)}
    if isinstance(value, (bytes, bytearray)):
        return {_EM_TAG: "bytes", "base64": _em_base64.b64encode(bytes(value)).decode()}
    return {_EM_TAG: "object", "class": type(value).__qualname__, "attributes": _em_attributes(value, _em_encode)}


def _em_attributes(value, encode):
    if hasattr(value, "_asdict"):
        source = value._asdict()
    elif hasattr(value, "model_dump"):
        source = {k: getattr(value, k) for k in type(value).model_fields}
    else:
        source = {k: v for k, v in getattr(value, "__dict__", {}).items() if not k.startswith("_")}
    return {str(k): encode(v) for k, v in source.items()}


def _em_decode(value):
    if isinstance(value, list):
        return [_em_decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    tag = value.get(_EM_TAG)
    if tag is None:
        return {k: _em_decode(v) for k, v in value.items()}
    if tag == "enum":
        cls = _em_class(value["class"])
        raw = _em_decode(value["value"])
        return cls(raw) if cls is not None else raw
    if tag == "float":
        return float(value["value"])
    if tag == "dict":
        return {_em_decode(k): _em_decode(v) for k, v in value["items"]}
    if tag == "tuple":
        return tuple(_em_decode(v) for v in value["items"])
    if tag in ("set", "frozenset"):
        items = [_em_decode(v) for v in value["items"]]
        return set(items) if tag == "set" else frozenset(items)
    if tag == "datetime":
        return _em_dt.datetime.fromisoformat(value["value"])
    if tag == "date":
        return _em_dt.date.fromisoformat(value["value"])
    if tag == "time":
        return _em_dt.time.fromisoformat(value["value"])
    if tag == "timedelta":
        return _em_dt.timedelta(seconds=value["seconds"])
    if tag == "decimal":
        return _em_decimal.Decimal(value["value"])
    if tag == "bytes":
        return _em_base64.b64decode(value["base64"])
    if tag == "object":
        cls = _em_class(value["class"])
        attributes = {k: _em_decode(v) for k, v in value["attributes"].items()}
        if cls is None:
            return attributes
        if hasattr(cls, "model_construct"):
            return cls.model_construct(**attributes)
        if hasattr(cls, "_fields"):
            return cls(**attributes)
        instance = cls.__new__(cls)
        instance.__dict__.update(attributes)
        return instance
    return {k: _em_decode(v) for k, v in value.items()}


def _em_result(value):
    """A plain JSON rendering of a return value, for the agent: sets sorted, dates ISO, objects as attributes."""
    if isinstance(value, _em_enum.Enum):
        return _em_result(value.value)
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return value if _em_math.isfinite(value) else repr(value)
    if isinstance(value, dict):
        return {k if isinstance(k, str) else str(_em_result(k)): _em_result(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)) and not hasattr(value, "_asdict"):
        return [_em_result(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted((_em_result(v) for v in value), key=_em_key)
    if isinstance(value, (_em_dt.date, _em_dt.time)):
        return value.isoformat()
    if isinstance(value, _em_dt.timedelta):
        return value.total_seconds()
    if isinstance(value, _em_decimal.Decimal):
        return str(value)
    if isinstance(value, (bytes, bytearray)):
        return _em_base64.b64encode(bytes(value)).decode()
    if hasattr(value, "model_dump"):
        return _em_result(value.model_dump())
    return _em_attributes(value, _em_result)


def _em_argument(kind, value):
    """A JSON argument as the type its hint names (ISO text -> date, list -> set or tuple, ...)."""
    if value is None:
        return None
    if kind == "datetime":
        return _em_dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if kind == "date":
        return _em_dt.date.fromisoformat(value)
    if kind == "time":
        return _em_dt.time.fromisoformat(value)
    if kind == "decimal":
        return _em_decimal.Decimal(str(value))
    if kind == "set":
        return set(_em_decode(value))
    if kind == "frozenset":
        return frozenset(_em_decode(value))
    if kind == "tuple":
        return tuple(_em_decode(value))
    return value


def _em_construct(cls, config):
    """The seed's way: ``cls(config)``, else ``cls()``; then every config key becomes an attribute."""
    try:
        instance = cls(config)
    except TypeError:
        try:
            instance = cls()
        except TypeError:
            instance = cls.__new__(cls)
    for key, value in config.items():
        setattr(instance, key, value)
    return instance


def _em_snapshot(instance):
    return {k: _em_encode(v) for k, v in vars(instance).items() if not k.startswith("_")}


def _em_rebuild(cls, state):
    try:
        instance = cls()
    except TypeError:
        try:
            instance = cls({})
        except TypeError:
            instance = cls.__new__(cls)
    for key, value in state.items():
        setattr(instance, key, _em_decode(value))
    return instance
'''

WRAPPER = '''

from envmint_runtime import Environment as _EmEnvironment
from envmint_runtime import ToolError as _EmToolError

_EM_COERCE = {coercions}


class {env_class}(_EmEnvironment):
    """``{class_name}`` on the envmint runtime: each call rebuilds it from ``self.state`` and writes back."""

    def _em_call(self, name, arguments):
        instance = _em_rebuild({class_name}, self.state)
        kinds = _EM_COERCE.get(name, {{}})
        try:
            arguments = {{k: _em_argument(kinds[k], v) if k in kinds else v for k, v in arguments.items()}}
        except (TypeError, ValueError) as exc:
            raise _EmToolError(f"Invalid argument for `{{name}}`: {{exc}}") from None
        value = getattr(instance, name)(**arguments)
        result = _em_result(value)
        snapshot = _em_snapshot(instance)
        for key in [k for k in self.state if k not in snapshot]:
            del self.state[key]
        for key, item in snapshot.items():
            if key not in self.state or _em_json.dumps(self.state[key], sort_keys=True) != _em_json.dumps(
                item, sort_keys=True
            ):
                self.state[key] = item
        return result
'''

METHOD = """
    def {name}(self, **arguments):
        return self._em_call({name!r}, arguments)
"""

SNAPSHOT_MAIN = """

def _em_main():
    import sys

    request = _em_json.loads(sys.stdin.read())
    cls = globals()[request["class_name"]]
    out = []
    for config in request["configs"]:
        try:
            if request["init"]:
                instance = _em_rebuild(cls, {})
                getattr(instance, request["init"])(config)
            else:
                instance = _em_construct(cls, config)
            out.append({"ok": True, "state": _em_snapshot(instance)})
        except Exception as exc:
            out.append({"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]})
    sys.stdout.write(_em_json.dumps(out))


_em_main()
"""


def environment_source(
    source: str, class_name: str, env_class: str, tools: list[str], coercions: dict[str, dict[str, str]]
) -> str:
    """The emitted ``environment.py``: the original module, the helpers and the runtime subclass."""
    table = json.dumps(coercions, sort_keys=True)
    wrapper = WRAPPER.format(env_class=env_class, class_name=class_name, coercions=table)
    body = source.rstrip("\n") + "\n\n" + HELPERS + wrapper
    return body + "".join(METHOD.format(name=name) for name in tools)


def snapshot_program(source: str) -> str:
    """A script that reads ``{class_name, init, configs}`` as JSON on stdin and prints the snapshots."""
    return source.rstrip("\n") + "\n\n" + HELPERS + SNAPSHOT_MAIN


def snapshot_request(class_name: str, init: str | None, configs: list[dict[str, object]]) -> bytes:
    return json.dumps({"class_name": class_name, "init": init, "configs": configs}).encode()
