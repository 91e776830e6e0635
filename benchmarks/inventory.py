"""The benchmark environment of benchmarks/runtime.py: an inventory system with a ~1 MB state."""

from __future__ import annotations

import random
from typing import Any

from envmint_runtime.state import canonical_json

from envmint.contract import EnvironmentSpec, Provenance

NOW = "2026-03-02T09:30:00Z"
WAREHOUSES = ["WH-ATL", "WH-DEN", "WH-SEA", "WH-BOS"]
TARGET_STATE_BYTES = 1_000_000

# -- the benchmark environment ----------------------------------------------------------------------

ENV_SOURCE = '''
from envmint_runtime import Environment, ToolError


class Inventory(Environment):
    def echo(self, x: int) -> dict:
        """Return x unchanged."""
        return {"x": x}

    def adjust_stock(self, sku: str, warehouse: str, delta: int) -> dict:
        """Change the on-hand quantity of one SKU in one warehouse."""
        entry = self.state["stock"].get(f"{sku}@{warehouse}")
        if entry is None:
            raise ToolError(f"no stock entry for {sku} in {warehouse}")
        if entry["on_hand"] + delta < 0:
            raise ToolError(f"only {entry['on_hand']} of {sku} on hand in {warehouse}")
        entry["on_hand"] += delta
        return {"sku": sku, "warehouse": warehouse, "on_hand": entry["on_hand"]}

    def place_order(self, customer: str, sku: str, warehouse: str, quantity: int) -> dict:
        """Order a quantity of a SKU for a customer from a warehouse (reserves stock)."""
        customers, stock, orders = self.state["customers"], self.state["stock"], self.state["orders"]
        if customer not in customers:
            raise ToolError(f"unknown customer {customer}")
        entry = stock.get(f"{sku}@{warehouse}")
        if entry is None or entry["on_hand"] < quantity:
            raise ToolError(f"not enough {sku} in {warehouse}")
        entry["on_hand"] -= quantity
        entry["reserved"] += quantity
        order_id = self.ids.new("ORD", orders)
        orders[order_id] = {
            "customer": customer, "lines": [{"sku": sku, "quantity": quantity, "warehouse": warehouse}],
            "status": "open", "placed_at": self.clock.iso(),
        }
        customers[customer]["open_orders"] += 1
        return {"order_id": order_id}

    def log_event(self, text: str) -> dict:
        """Append a line to the audit log."""
        self.state["audit"].append({"at": self.clock.iso(), "text": text})
        return {"entries": len(self.state["audit"])}
'''


def _obj(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties) if required is None else required,
        "additionalProperties": False,
    }


STR, INT = {"type": "string"}, {"type": "integer"}
NONNEG = {"type": "integer", "minimum": 0}

STATE_SCHEMA = _obj(
    {
        "warehouses": {"type": "object", "additionalProperties": _obj({"city": STR, "capacity": NONNEG})},
        "suppliers": {
            "type": "object",
            "additionalProperties": _obj({"name": STR, "country": STR, "lead_days": NONNEG, "email": STR}),
        },
        "products": {
            "type": "object",
            "additionalProperties": _obj(
                {
                    "name": STR,
                    "category": STR,
                    "price_cents": NONNEG,
                    "weight_g": NONNEG,
                    "supplier": STR,
                    "tags": {"type": "array", "items": STR},
                    "description": STR,
                }
            ),
        },
        "stock": {
            "type": "object",
            "additionalProperties": _obj({"on_hand": NONNEG, "reserved": NONNEG, "bin": STR}),
        },
        "customers": {
            "type": "object",
            "additionalProperties": _obj({"name": STR, "email": STR, "tier": STR, "open_orders": NONNEG}),
        },
        "orders": {
            "type": "object",
            "additionalProperties": _obj(
                {
                    "customer": STR,
                    "lines": {"type": "array", "items": _obj({"sku": STR, "quantity": NONNEG, "warehouse": STR})},
                    "status": {"enum": ["open", "shipped", "cancelled"]},
                    "placed_at": STR,
                }
            ),
        },
        "audit": {"type": "array", "items": _obj({"at": STR, "text": STR})},
    }
)


def _desc(schema: dict[str, Any], text: str) -> dict[str, Any]:
    return {**schema, "description": text}


TOOLS = [
    {
        "name": "echo",
        "description": "Return x unchanged.",
        "kind": "query",
        "input_schema": _obj({"x": _desc(INT, "Any integer.")}),
    },
    {
        "name": "adjust_stock",
        "description": "Change the on-hand quantity of one SKU in one warehouse.",
        "kind": "mutation",
        "input_schema": _obj(
            {
                "sku": _desc(STR, "Product SKU."),
                "warehouse": _desc(STR, "Warehouse id."),
                "delta": _desc(INT, "Change in on-hand units."),
            }
        ),
    },
    {
        "name": "place_order",
        "description": "Order a quantity of a SKU for a customer from a warehouse (reserves stock).",
        "kind": "mutation",
        "input_schema": _obj(
            {
                "customer": _desc(STR, "Customer id."),
                "sku": _desc(STR, "Product SKU."),
                "warehouse": _desc(STR, "Warehouse id."),
                "quantity": {"type": "integer", "minimum": 1, "description": "Units to order."},
            }
        ),
    },
    {
        "name": "log_event",
        "description": "Append a line to the audit log.",
        "kind": "mutation",
        "input_schema": _obj({"text": _desc(STR, "The line to log.")}),
    },
]


def build_state(products: int, customers: int, orders: int, audit: int, seed: int = 7) -> dict[str, Any]:
    """A deterministic inventory state; sizes scale with the counts."""
    rng = random.Random(seed)
    words = [
        "steel",
        "oak",
        "linen",
        "matte",
        "compact",
        "heavy",
        "deluxe",
        "classic",
        "outdoor",
        "modular",
        "slim",
        "quiet",
        "smart",
        "eco",
    ]
    categories = ["hardware", "kitchen", "garden", "office", "lighting", "storage", "tools", "bath"]
    state: dict[str, Any] = {
        "warehouses": {wh: {"city": wh[3:].title(), "capacity": 50_000} for wh in WAREHOUSES},
        "suppliers": {
            f"SUP-{i:03d}": {
                "name": f"Supplier {i}",
                "country": rng.choice(["US", "DE", "CN", "MX", "VN"]),
                "lead_days": rng.randint(2, 40),
                "email": f"orders@supplier{i}.example.com",
            }
            for i in range(40)
        },
        "products": {},
        "stock": {},
        "customers": {},
        "orders": {},
        "audit": [],
    }
    for i in range(products):
        sku = f"SKU-{i:05d}"
        name = " ".join(rng.sample(words, 3)).title()
        state["products"][sku] = {
            "name": name,
            "category": rng.choice(categories),
            "price_cents": rng.randint(199, 99_999),
            "weight_g": rng.randint(10, 25_000),
            "supplier": f"SUP-{rng.randrange(40):03d}",
            "tags": rng.sample(words, 2),
            "description": f"{name}, {rng.choice(words)} finish, fits {rng.choice(categories)} setups.",
        }
        for wh in WAREHOUSES:
            state["stock"][f"{sku}@{wh}"] = {
                "on_hand": rng.randint(500, 5_000),
                "reserved": rng.randint(0, 50),
                "bin": f"{rng.choice('ABCDEFGH')}{rng.randint(1, 40):02d}-{rng.randint(1, 9)}",
            }
    for i in range(customers):
        state["customers"][f"CUS-{i:05d}"] = {
            "name": f"Customer {i}",
            "email": f"customer{i}@example.com",
            "tier": rng.choice(["basic", "silver", "gold"]),
            "open_orders": 0,
        }
    for i in range(orders):
        customer = f"CUS-{rng.randrange(customers):05d}"
        state["orders"][f"ORD-{i:06X}"] = {
            "customer": customer,
            "lines": [
                {"sku": f"SKU-{rng.randrange(products):05d}", "quantity": rng.randint(1, 5), "warehouse": wh}
                for wh in rng.sample(WAREHOUSES, rng.randint(1, 2))
            ],
            "status": rng.choice(["open", "shipped", "shipped", "cancelled"]),
            "placed_at": f"2026-02-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:00:00Z",
        }
        if state["orders"][f"ORD-{i:06X}"]["status"] == "open":
            state["customers"][customer]["open_orders"] += 1
    state["audit"] = [{"at": NOW, "text": f"event {i}: restocked bin {rng.randint(1, 99)}"} for i in range(audit)]
    return state


def big_state() -> dict[str, Any]:
    """About TARGET_STATE_BYTES of canonical JSON."""
    base = {"products": 1000, "customers": 800, "orders": 1200, "audit": 400}
    size = len(canonical_json(build_state(**base)).encode())
    scale = TARGET_STATE_BYTES / size
    return build_state(**{k: max(1, round(v * scale)) for k, v in base.items()})


def inventory_spec() -> EnvironmentSpec:
    return EnvironmentSpec.model_validate(
        {
            "id": "bench_inventory",
            "name": "Benchmark Inventory",
            "description": "Warehouses, products, stock levels, customers and orders (benchmark environment).",
            "state_schema": STATE_SCHEMA,
            "tools": TOOLS,
            "code": {"class_name": "Inventory", "source": ENV_SOURCE},
            "default_state": build_state(products=3, customers=2, orders=1, audit=1),
            "default_now": NOW,
            "provenance": Provenance(created_by="hand"),
        }
    )


def episode_calls(episode: int, rng: random.Random, state: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """A few mutating calls touching 1, 2 or 3 containers (by episode number)."""
    skus = list(state["products"])
    customers = list(state["customers"])

    def adjust() -> tuple[str, dict[str, Any]]:
        return "adjust_stock", {
            "sku": rng.choice(skus),
            "warehouse": rng.choice(WAREHOUSES),
            "delta": rng.randint(1, 9),
        }

    def order() -> tuple[str, dict[str, Any]]:
        args = {"customer": rng.choice(customers), "sku": rng.choice(skus), "warehouse": rng.choice(WAREHOUSES)}
        return "place_order", {**args, "quantity": rng.randint(1, 3)}

    def log() -> tuple[str, dict[str, Any]]:
        return "log_event", {"text": f"episode {episode} note {rng.randrange(1000)}"}

    kind = episode % 3
    if kind == 0:  # stock
        return [adjust(), adjust(), adjust()]
    if kind == 1:  # stock + audit
        return [adjust(), log(), adjust()]
    return [order(), order(), adjust()]  # stock + orders + customers
