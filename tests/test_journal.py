"""The write journal behind rollback and reset: every write undone exactly, key order included."""

from __future__ import annotations

import copy
import json
import random
from typing import Any

import pytest
from envmint_runtime.journal import Journal, TrackedDict, TrackedList, to_json_value, to_plain


def _ordered(value: Any) -> Any:
    """A view that also compares dict key order."""
    if isinstance(value, dict):
        return [(key, _ordered(item)) for key, item in value.items()]
    if isinstance(value, list):
        return [_ordered(item) for item in value]
    return value


def _random_op(rng: random.Random, root: TrackedDict) -> None:
    dicts: list[dict[str, Any]] = []
    lists: list[list[Any]] = []
    stack: list[Any] = [root]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            dicts.append(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            lists.append(item)
            stack.extend(item)
    fresh = rng.choice([1, "x", None, 2.5, True, {"k": [1, {"z": 2}]}, [3, (4, 5)]])
    if lists and rng.random() < 0.45:
        target = rng.choice(lists)
        ops = ["append", "extend", "insert", "iadd", "sort", "reverse", "clear", "imul", "setslice"]
        if target:
            ops += ["pop", "remove", "setitem", "delitem"]
        op = rng.choice(ops)
        if op == "append":
            target.append(fresh)
        elif op == "extend":
            target.extend([fresh, 7])
        elif op == "insert":
            target.insert(rng.randrange(len(target) + 1), fresh)
        elif op == "iadd":
            target += [8]
        elif op == "sort":
            target.sort(key=lambda v: json.dumps(v, sort_keys=True))
        elif op == "reverse":
            target.reverse()
        elif op == "clear":
            target.clear()
        elif op == "imul":
            target *= 2
        elif op == "setslice":
            target[0:1] = [fresh]
        elif op == "pop":
            target.pop(rng.randrange(len(target)))
        elif op == "remove":
            target.remove(target[0])
        elif op == "setitem":
            target[rng.randrange(len(target))] = fresh
        else:
            del target[rng.randrange(len(target))]
        return
    target = rng.choice(dicts)
    keys = list(target)
    op = rng.choice(
        ["set", "new", "update", "setdefault", "ior"] + (["del", "pop", "popitem", "clear"] if keys else [])
    )
    if op == "set" and keys:
        target[rng.choice(keys)] = fresh
    elif op in ("set", "new"):
        target[f"k{rng.randrange(1000)}"] = fresh
    elif op == "update":
        target.update({f"u{rng.randrange(5)}": fresh}, extra=1)
    elif op == "setdefault":
        target.setdefault(f"s{rng.randrange(5)}", fresh)
    elif op == "ior":
        target |= {"merged": fresh}
    elif op == "del":
        del target[rng.choice(keys)]
    elif op == "pop":
        target.pop(rng.choice(keys))
    elif op == "popitem":
        target.popitem()
    else:
        target.clear()


@pytest.mark.parametrize("seed", range(40))
def test_any_sequence_of_writes_is_undone_exactly_with_key_order(seed: int) -> None:
    rng = random.Random(seed)
    start = {"a": {"x": 1, "y": [1, 2, {"deep": True}], "z": "s"}, "b": [{"n": 1}, {"n": 2}], "c": {}}
    root = to_json_value(start)
    journal = Journal()
    journal.activate()
    try:
        marks = []
        for _ in range(60):
            marks.append((len(journal), _ordered(root)))
            _random_op(rng, root)
        for mark, expected in reversed(marks[::7]):
            journal.undo_to(mark)
            assert _ordered(root) == expected
    finally:
        journal.deactivate()
    journal.undo_to(0)
    assert _ordered(root) == _ordered(start)


def test_values_stored_are_unshared_tracked_copies_and_tuples_become_lists() -> None:
    root = to_json_value({"a": {}, "b": {}})
    record = {"tags": ("x", "y")}
    root["a"]["r"] = record
    root["b"]["r"] = root["a"]["r"]
    assert isinstance(root["a"]["r"], TrackedDict) and isinstance(root["a"]["r"]["tags"], TrackedList)
    assert root["a"]["r"]["tags"] == ["x", "y"]
    root["a"]["r"]["tags"].append("z")
    assert root["b"]["r"]["tags"] == ["x", "y"]
    record["tags"] = ()
    assert root["a"]["r"]["tags"] == ["x", "y", "z"]


@pytest.mark.parametrize(
    ("value", "problem"),
    [({1, 2}, "a set is not a JSON value"), (float("nan"), "not a JSON number"), ({3: "x"}, "is not a string")],
)
def test_storing_something_that_is_not_json_is_refused_at_once(value: Any, problem: str) -> None:
    root = to_json_value({"a": {}})
    with pytest.raises((TypeError, ValueError), match=problem):
        root["a"]["bad"] = value
    assert root == {"a": {}}


def test_tracked_state_reads_like_plain_json() -> None:
    plain = {"a": [1, {"b": None}], "c": "d"}
    root = to_json_value(plain)
    assert root == plain and isinstance(root, dict) and isinstance(root["a"], list)
    assert json.loads(json.dumps(root)) == plain
    copied = copy.deepcopy(root)
    assert copied == plain and type(copied) is dict and type(copied["a"]) is list
    assert type(to_plain(root)["a"][1]) is dict


def _in_call(root: TrackedDict, write: Any) -> None:
    """Run ``write`` as a tool call does: with the journal active, then carry late changes over."""
    journal = Journal()
    journal.activate()
    try:
        write()
        journal.sync_stored()
    finally:
        journal.deactivate()


def test_a_record_filled_in_after_it_is_stored_keeps_what_was_filled_in() -> None:
    root = to_json_value({"carts": {}})
    cart: dict[str, Any] = {"id": "c1", "items": []}

    def write() -> None:
        root["carts"]["c1"] = cart
        cart["items"].append({"sku": "a"})
        cart["items"].append({"sku": "b"})
        cart["status"] = "active"

    _in_call(root, write)
    assert root["carts"]["c1"] == {"id": "c1", "items": [{"sku": "a"}, {"sku": "b"}], "status": "active"}
    assert isinstance(root["carts"]["c1"]["items"], TrackedList)


def test_writes_made_through_the_state_meanwhile_are_kept_and_deleted_keys_go() -> None:
    root = to_json_value({"notes": {}, "log": []})
    note: dict[str, Any] = {"id": "n1", "draft": True, "text": ""}
    entry: dict[str, Any] = {"event": "created"}

    def write() -> None:
        root["notes"]["n1"] = note
        root["notes"]["n1"]["status"] = "open"  # through the state
        note["text"] = "hello"  # through the local variable
        del note["draft"]
        root["log"].append(entry)
        entry["by"] = "u1"

    _in_call(root, write)
    assert root["notes"]["n1"] == {"id": "n1", "text": "hello", "status": "open"}
    assert root["log"] == [{"event": "created", "by": "u1"}]


def test_a_stored_record_that_left_the_state_is_not_brought_back() -> None:
    root = to_json_value({"items": {}})
    item: dict[str, Any] = {"id": "i1"}

    def write() -> None:
        root["items"]["i1"] = item
        del root["items"]["i1"]
        item["late"] = True

    _in_call(root, write)
    assert root == {"items": {}}


def test_carried_over_changes_are_journaled_so_a_rollback_undoes_them() -> None:
    root = to_json_value({"carts": {}})
    journal = Journal()
    journal.activate()
    try:
        cart: dict[str, Any] = {"items": []}
        root["carts"]["c1"] = cart
        cart["items"].append("x")
        journal.sync_stored()
    finally:
        journal.deactivate()
    assert root["carts"]["c1"]["items"] == ["x"]
    journal.undo_to(0)
    assert root == {"carts": {}}


def test_an_untouched_stored_record_holding_a_tuple_causes_no_extra_writes() -> None:
    root = to_json_value({"slots": {}})
    journal = Journal()
    journal.activate()
    try:
        root["slots"]["s1"] = {"window": (9, 10), "tags": ["a"]}
        writes = len(journal)
        journal.sync_stored()
    finally:
        journal.deactivate()
    assert len(journal) == writes
    assert root["slots"]["s1"] == {"window": [9, 10], "tags": ["a"]}
