from typing import Any, Literal
from datetime import date, datetime, timedelta
import math
import re

from envmint_runtime import Environment, ToolError


CATEGORIES = (
    "treadmills", "exercise_bikes", "rowers", "ellipticals", "dumbbells", "kettlebells",
    "barbells_plates", "benches", "racks", "yoga", "cardio_accessories",
    "strength_accessories", "recovery",
)
ORDER_STATUSES = ("placed", "processing", "shipped", "delivered", "cancelled")
RETURN_STATUSES = ("requested", "approved", "rejected", "received", "refunded")
RETURN_REASONS = ("defective", "damaged", "wrong_item", "no_longer_needed", "not_as_described", "changed_mind")
NO_RESTOCK_REASONS = ("defective", "damaged")
NO_FEE_REASONS = ("defective", "damaged", "wrong_item")
CARRIERS = ("UPS", "FedEx", "USPS", "FreightLine")

FREIGHT_CENTS = 14900
STANDARD_CENTS = 999
EXPEDITED_CENTS = 2499
FREE_SHIPPING_THRESHOLD_CENTS = 9900
TAX_PERCENT = 8
RESTOCKING_FEE_PERCENT = 15


class SportingGoodsECommerceStore(Environment):
    """Online store for fitness and sporting goods: catalogue, carts, promotions, orders and returns."""

    # ------------------------------------------------------------------ helpers: time and ids

    def _now(self) -> datetime:
        now = self.clock.now()
        if now.tzinfo is not None:
            now = (now - now.utcoffset()).replace(tzinfo=None)
        return now

    def _now_iso(self) -> str:
        return self.clock.iso()

    @staticmethod
    def _parse_dt(value: str) -> datetime:
        text = value.strip()
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        dt = datetime.fromisoformat(text)
        if dt.tzinfo is not None:
            dt = (dt - dt.utcoffset()).replace(tzinfo=None)
        return dt

    @staticmethod
    def _fmt_dt(dt: datetime) -> str:
        return dt.strftime("%Y-%m-%dT%H:%M:%SZ")

    @staticmethod
    def _parse_date(value: str, name: str) -> date:
        try:
            return date.fromisoformat(value)
        except (TypeError, ValueError):
            raise ToolError(f"{name} must be a date in YYYY-MM-DD format, got {value!r}.")

    def _next_id(self, prefix: str, collection: dict, width: int) -> str:
        pattern = re.compile(r"^" + re.escape(prefix) + r"-(\d+)$")
        highest = 0
        for key in collection:
            m = pattern.match(key)
            if m:
                highest = max(highest, int(m.group(1)))
        return f"{prefix}-{highest + 1:0{width}d}"

    # ------------------------------------------------------------------ helpers: lookups

    def _customer(self, customer_id: str) -> dict:
        customer = self.state["customers"].get(customer_id)
        if customer is None:
            raise ToolError(f"No customer with id {customer_id!r}.")
        return customer

    def _product(self, product_id: str) -> dict:
        product = self.state["products"].get(product_id)
        if product is None:
            raise ToolError(f"No product with id {product_id!r}.")
        return product

    def _variant(self, variant_id: str) -> dict:
        variant = self.state["variants"].get(variant_id)
        if variant is None:
            raise ToolError(f"No variant with id {variant_id!r}.")
        return variant

    def _order(self, order_id: str) -> dict:
        order = self.state["orders"].get(order_id)
        if order is None:
            raise ToolError(f"No order with id {order_id!r}.")
        return order

    def _return(self, return_id: str) -> dict:
        ret = self.state["returns"].get(return_id)
        if ret is None:
            raise ToolError(f"No return with id {return_id!r}.")
        return ret

    def _active_cart(self, customer_id: str) -> dict | None:
        for cart in self.state["carts"].values():
            if cart["customer_id"] == customer_id and cart["status"] == "active":
                return cart
        return None

    def _require_active_cart(self, customer_id: str) -> dict:
        cart = self._active_cart(customer_id)
        if cart is None:
            raise ToolError(f"Customer {customer_id} has no active cart.")
        return cart

    def _find_promotion(self, code: str | None) -> dict | None:
        if not code:
            return None
        wanted = code.strip().upper()
        for promo in self.state["promotions"].values():
            if promo["code"].upper() == wanted:
                return promo
        return None

    def _warehouse_active(self, warehouse_id: str) -> bool:
        wh = self.state["warehouses"].get(warehouse_id)
        return bool(wh and wh["active"])

    def _available_stock(self, variant: dict) -> int:
        return sum(
            entry["quantity"] for entry in variant["stock"]
            if self._warehouse_active(entry["warehouse_id"])
        )

    def _product_of(self, variant: dict) -> dict | None:
        return self.state["products"].get(variant["product_id"])

    # ------------------------------------------------------------------ helpers: pricing

    def _eligible_subtotal(self, items: list, promo: dict) -> int:
        eligible = set(promo["eligible_categories"])
        total = 0
        for line in items:
            variant = self.state["variants"].get(line["variant_id"])
            product = self._product_of(variant) if variant else None
            if product is None:
                continue
            if not eligible or product["category"] in eligible:
                total += line["unit_price_cents"] * line["quantity"]
        return total

    def _promo_issues(self, promo: dict, customer_id: str, items: list) -> list:
        issues = []
        now = self._now()
        if not promo["active"]:
            issues.append("inactive: the promotion is not active")
        if not (self._parse_dt(promo["starts_at"]) <= now <= self._parse_dt(promo["ends_at"])):
            issues.append(f"outside dates: valid from {promo['starts_at']} to {promo['ends_at']}")
        if promo["max_redemptions"] is not None and promo["redemption_count"] >= promo["max_redemptions"]:
            issues.append("redemption limit reached")
        eligible = self._eligible_subtotal(items, promo)
        if eligible < promo["min_subtotal_cents"]:
            issues.append(
                f"eligible subtotal below minimum: {eligible} cents < {promo['min_subtotal_cents']} cents"
            )
        if promo["once_per_customer"]:
            for order in self.state["orders"].values():
                if (order["customer_id"] == customer_id and order["status"] != "cancelled"
                        and (order["promotion_code"] or "").upper() == promo["code"].upper()):
                    issues.append(f"already used by this customer on order {order['id']}")
                    break
        return issues

    def _discount(self, promo: dict | None, items: list) -> int:
        if promo is None:
            return 0
        eligible = self._eligible_subtotal(items, promo)
        if promo["discount_type"] == "percent":
            return (eligible * promo["percent_off"]) // 100
        if promo["discount_type"] == "fixed_amount":
            return min(promo["amount_off_cents"], eligible)
        return 0

    def _has_oversized(self, items: list) -> bool:
        for line in items:
            variant = self.state["variants"].get(line["variant_id"])
            product = self._product_of(variant) if variant else None
            if product and product["oversized"]:
                return True
        return False

    def _shipping_cents(self, method: str, oversized: bool, net: int, free_shipping: bool) -> int:
        if oversized:
            if method != "freight":
                raise ToolError("The order contains oversized products, so shipping_method must be 'freight'.")
            return FREIGHT_CENTS
        if method == "freight":
            raise ToolError("Freight shipping is only used for oversized products; choose 'standard' or 'expedited'.")
        if method == "standard":
            return 0 if (free_shipping or net >= FREE_SHIPPING_THRESHOLD_CENTS) else STANDARD_CENTS
        if method == "expedited":
            return EXPEDITED_CENTS
        raise ToolError(f"Unknown shipping_method {method!r}; use standard, expedited or freight.")

    @staticmethod
    def _tax(taxable: int) -> int:
        return (taxable * TAX_PERCENT + 50) // 100

    def _quote(self, items: list, promo: dict | None, shipping_method: str | None) -> dict:
        """Price lines with an already-validated promotion (or None)."""
        subtotal = sum(line["unit_price_cents"] * line["quantity"] for line in items)
        discount = self._discount(promo, items)
        oversized = self._has_oversized(items)
        method = shipping_method or ("freight" if oversized else "standard")
        net = subtotal - discount
        free_ship = promo is not None and promo["discount_type"] == "free_shipping"
        shipping = self._shipping_cents(method, oversized, net, free_ship) if items else 0
        tax = self._tax(net)
        return {
            "subtotal_cents": subtotal,
            "discount_cents": discount,
            "shipping_method": method,
            "shipping_cents": shipping,
            "tax_cents": tax,
            "total_cents": net + shipping + tax,
        }

    def _current_lines(self, cart: dict) -> list:
        """Cart lines repriced at current variant prices (without changing the cart)."""
        lines = []
        for line in cart["items"]:
            variant = self.state["variants"].get(line["variant_id"])
            price = variant["price_cents"] if variant else line["unit_price_cents"]
            lines.append({"variant_id": line["variant_id"], "quantity": line["quantity"], "unit_price_cents": price})
        return lines

    def _refresh_prices(self, cart: dict) -> None:
        for line in cart["items"]:
            variant = self.state["variants"].get(line["variant_id"])
            if variant is not None:
                line["unit_price_cents"] = variant["price_cents"]

    def _cart_view(self, cart: dict, shipping_method: str | None = None) -> dict:
        lines = self._current_lines(cart)
        view_lines = []
        issues = []
        for line in lines:
            variant = self.state["variants"].get(line["variant_id"])
            product = self._product_of(variant) if variant else None
            available = self._available_stock(variant) if variant else 0
            if variant is None or product is None:
                issues.append(f"{line['variant_id']}: variant no longer exists")
            else:
                if variant["status"] != "active" or product["status"] != "active":
                    issues.append(f"{line['variant_id']}: variant or product is no longer available")
                if line["quantity"] > available:
                    issues.append(f"{line['variant_id']}: only {available} in stock")
                if line["quantity"] > variant["max_per_order"]:
                    issues.append(f"{line['variant_id']}: max {variant['max_per_order']} per order")
            view_lines.append({
                "variant_id": line["variant_id"],
                "product_id": product["id"] if product else None,
                "product_name": product["name"] if product else None,
                "option_label": variant["option_label"] if variant else None,
                "oversized": product["oversized"] if product else False,
                "quantity": line["quantity"],
                "unit_price_cents": line["unit_price_cents"],
                "line_total_cents": line["unit_price_cents"] * line["quantity"],
                "available_stock": available,
            })
        promo = self._find_promotion(cart["promotion_code"])
        applied = None
        if cart["promotion_code"]:
            if promo is None:
                issues.append(f"promotion {cart['promotion_code']} no longer exists")
            else:
                promo_issues = self._promo_issues(promo, cart["customer_id"], lines)
                if promo_issues:
                    issues.extend(f"promotion {promo['code']}: {p}" for p in promo_issues)
                else:
                    applied = promo
        preview = self._quote(lines, applied, shipping_method)
        return {
            "cart": cart,
            "lines": view_lines,
            "promotion_code": cart["promotion_code"],
            "promotion_applies": applied is not None,
            "preview": preview,
            "issues": issues,
        }

    def _validate_line(self, variant: dict, quantity: int) -> None:
        product = self._product_of(variant)
        if product is None:
            raise ToolError(f"Variant {variant['id']} references missing product {variant['product_id']}.")
        if variant["status"] != "active":
            raise ToolError(f"Variant {variant['id']} is not active and cannot be purchased.")
        if product["status"] != "active":
            raise ToolError(f"Product {product['id']} ({product['name']}) is discontinued.")
        if quantity > variant["max_per_order"]:
            raise ToolError(
                f"Quantity {quantity} exceeds the limit of {variant['max_per_order']} per order for {variant['id']}."
            )
        available = self._available_stock(variant)
        if quantity > available:
            raise ToolError(f"Only {available} units of {variant['id']} are in stock; requested {quantity}.")

    def _recheck_cart_promotion(self, cart: dict) -> dict | None:
        """Drop the cart's promotion if it no longer qualifies; report what was removed."""
        if not cart["promotion_code"]:
            return None
        promo = self._find_promotion(cart["promotion_code"])
        reasons = ["promotion no longer exists"] if promo is None else self._promo_issues(
            promo, cart["customer_id"], cart["items"])
        if reasons:
            removed = {"code": cart["promotion_code"], "reasons": reasons}
            cart["promotion_code"] = None
            return removed
        return None

    # ------------------------------------------------------------------ helpers: returns

    def _returned_in_open(self, order_id: str, exclude_return_id: str | None = None) -> dict:
        used: dict = {}
        for ret in self.state["returns"].values():
            if ret["order_id"] != order_id or ret["status"] == "rejected" or ret["id"] == exclude_return_id:
                continue
            for item in ret["items"]:
                used[item["line_id"]] = used.get(item["line_id"], 0) + item["quantity"]
        return used

    def _restock(self, variant_id: str, warehouse_id: str, quantity: int) -> None:
        variant = self._variant(variant_id)
        for entry in variant["stock"]:
            if entry["warehouse_id"] == warehouse_id:
                entry["quantity"] += quantity
                return
        variant["stock"].append({"warehouse_id": warehouse_id, "quantity": quantity})

    # ------------------------------------------------------------------ queries

    def get_customer(self, customer_id: str) -> dict:
        """Return a customer's profile, active cart id and order counts by status.

        Args:
            customer_id: Customer id, e.g. "CUS-0001".
        """
        customer = self._customer(customer_id)
        counts = {s: 0 for s in ORDER_STATUSES}
        for order in self.state["orders"].values():
            if order["customer_id"] == customer_id:
                counts[order["status"]] = counts.get(order["status"], 0) + 1
        cart = self._active_cart(customer_id)
        return {
            "customer": customer,
            "active_cart_id": cart["id"] if cart else None,
            "order_counts": counts,
        }

    def search_products(
        self,
        query: str | None = None,
        category: Literal["treadmills", "exercise_bikes", "rowers", "ellipticals", "dumbbells",
                          "kettlebells", "barbells_plates", "benches", "racks", "yoga",
                          "cardio_accessories", "strength_accessories", "recovery"] | None = None,
        brand: str | None = None,
        min_price_cents: int | None = None,
        max_price_cents: int | None = None,
        min_rating: float | None = None,
        in_stock_only: bool = False,
        include_discontinued: bool = False,
    ) -> dict:
        """Search the catalogue by text, category, brand, price, rating and stock.

        Args:
            query: Free text matched case-insensitively against product name, brand, description and variant option labels.
            category: Product category to filter on.
            brand: Exact brand name (case-insensitive).
            min_price_cents: Only products with an active variant priced at or above this many cents.
            max_price_cents: Only products with an active variant priced at or below this many cents.
            min_rating: Minimum product rating, 0-5.
            in_stock_only: If true, only products with an active variant in stock in an active warehouse.
            include_discontinued: If true, discontinued products are also returned.
        """
        if category is not None and category not in CATEGORIES:
            raise ToolError(f"Unknown category {category!r}; use one of: {', '.join(CATEGORIES)}.")
        if min_price_cents is not None and min_price_cents < 0:
            raise ToolError("min_price_cents cannot be negative.")
        if max_price_cents is not None and max_price_cents < 0:
            raise ToolError("max_price_cents cannot be negative.")
        if min_price_cents is not None and max_price_cents is not None and min_price_cents > max_price_cents:
            raise ToolError("min_price_cents cannot be greater than max_price_cents.")
        if min_rating is not None and not (0 <= min_rating <= 5):
            raise ToolError("min_rating must be between 0 and 5.")

        tokens = [t for t in re.split(r"\s+", (query or "").lower().strip()) if t]
        phrase = (query or "").lower().strip()
        variants_by_product: dict = {}
        for variant in self.state["variants"].values():
            variants_by_product.setdefault(variant["product_id"], []).append(variant)

        results = []
        for product in self.state["products"].values():
            if product["status"] != "active" and not include_discontinued:
                continue
            if category is not None and product["category"] != category:
                continue
            if brand is not None and product["brand"].lower() != brand.strip().lower():
                continue
            if min_rating is not None and product["rating"] < min_rating:
                continue
            variants = sorted(variants_by_product.get(product["id"], []), key=lambda v: v["id"])
            active_variants = [v for v in variants if v["status"] == "active"]
            if min_price_cents is not None or max_price_cents is not None:
                if not any(
                    (min_price_cents is None or v["price_cents"] >= min_price_cents)
                    and (max_price_cents is None or v["price_cents"] <= max_price_cents)
                    for v in active_variants
                ):
                    continue
            if in_stock_only and not any(self._available_stock(v) > 0 for v in active_variants):
                continue
            score = 0
            if tokens:
                name = product["name"].lower()
                brand_l = product["brand"].lower()
                desc = product["description"].lower()
                labels = " ".join(v["option_label"].lower() for v in variants)
                matched_all = True
                for tok in tokens:
                    tok_score = 0
                    if tok in name:
                        tok_score += 3
                    if tok in brand_l:
                        tok_score += 2
                    if tok in labels:
                        tok_score += 1
                    if tok in desc:
                        tok_score += 1
                    if tok_score == 0:
                        matched_all = False
                        break
                    score += tok_score
                if not matched_all:
                    continue
                if phrase and phrase in name:
                    score += 5
            results.append((score, product, variants))

        results.sort(key=lambda r: (-r[0], -r[1]["rating"], r[1]["name"]))
        out = []
        for score, product, variants in results:
            out.append({
                "id": product["id"],
                "name": product["name"],
                "brand": product["brand"],
                "category": product["category"],
                "rating": product["rating"],
                "review_count": product["review_count"],
                "oversized": product["oversized"],
                "returnable": product["returnable"],
                "return_window_days": product["return_window_days"],
                "status": product["status"],
                "variants": [{
                    "id": v["id"],
                    "sku": v["sku"],
                    "option_label": v["option_label"],
                    "price_cents": v["price_cents"],
                    "compare_at_price_cents": v["compare_at_price_cents"],
                    "status": v["status"],
                    "available_stock": self._available_stock(v),
                } for v in variants],
            })
        return {"count": len(out), "products": out}

    def get_product(self, product_id: str) -> dict:
        """Return one product with all variants and their per-warehouse stock.

        Args:
            product_id: Product id, e.g. "PRD-0001".
        """
        product = self._product(product_id)
        variants = []
        for variant in sorted(self.state["variants"].values(), key=lambda v: v["id"]):
            if variant["product_id"] != product_id:
                continue
            stock = []
            for entry in variant["stock"]:
                wh = self.state["warehouses"].get(entry["warehouse_id"])
                stock.append({
                    "warehouse_id": entry["warehouse_id"],
                    "warehouse_name": wh["name"] if wh else None,
                    "state": wh["state"] if wh else None,
                    "active": bool(wh and wh["active"]),
                    "ships_oversized": bool(wh and wh["ships_oversized"]),
                    "quantity": entry["quantity"],
                })
            variants.append({
                **{k: variant[k] for k in ("id", "sku", "option_label", "price_cents",
                                           "compare_at_price_cents", "weight_lbs", "max_per_order", "status")},
                "stock": stock,
                "available_stock": self._available_stock(variant),
            })
        return {"product": product, "variants": variants}

    def get_cart(
        self,
        customer_id: str,
        shipping_method: Literal["standard", "expedited", "freight"] | None = None,
    ) -> dict:
        """Return the customer's active cart with lines and a full price preview.

        Args:
            customer_id: Customer id, e.g. "CUS-0001".
            shipping_method: Shipping method to preview; defaults to freight if any product is oversized, otherwise standard.
        """
        self._customer(customer_id)
        cart = self._active_cart(customer_id)
        if cart is None:
            return {"cart": None, "lines": [], "preview": None,
                    "message": f"Customer {customer_id} has no active cart."}
        return self._cart_view(cart, shipping_method)

    def validate_promotion_code(self, code: str, customer_id: str) -> dict:
        """Check whether a promotion code could be applied to the customer's active cart now.

        Args:
            code: Promotion code, e.g. "SPRING20" (case-insensitive).
            customer_id: Customer whose active cart is evaluated, e.g. "CUS-0001".
        """
        self._customer(customer_id)
        promo = self._find_promotion(code)
        if promo is None:
            raise ToolError(f"No promotion with code {code!r}.")
        cart = self._active_cart(customer_id)
        lines = self._current_lines(cart) if cart else []
        reasons = self._promo_issues(promo, customer_id, lines)
        if not lines:
            reasons.append("customer has no active cart with items")
        applicable = not reasons
        eligible = self._eligible_subtotal(lines, promo)
        return {
            "promotion": promo,
            "applicable": applicable,
            "reasons": reasons,
            "eligible_subtotal_cents": eligible,
            "discount_cents": self._discount(promo, lines) if applicable else 0,
            "free_shipping": applicable and promo["discount_type"] == "free_shipping",
        }

    def get_order(self, order_id: str) -> dict:
        """Return a full order with its lines, totals, shipping details and returns.

        Args:
            order_id: Order id, e.g. "ORD-00001".
        """
        order = self._order(order_id)
        lines = []
        for line in order["items"]:
            product = self.state["products"].get(line["product_id"])
            variant = self.state["variants"].get(line["variant_id"])
            wh = self.state["warehouses"].get(line["warehouse_id"])
            lines.append({
                **line,
                "product_name": product["name"] if product else None,
                "option_label": variant["option_label"] if variant else None,
                "warehouse_name": wh["name"] if wh else None,
            })
        returns = [
            {"id": r["id"], "status": r["status"], "refund_amount_cents": r["refund_amount_cents"]}
            for r in sorted(self.state["returns"].values(), key=lambda r: r["id"])
            if r["order_id"] == order_id
        ]
        return {"order": order, "lines": lines, "returns": returns}

    def list_customer_orders(
        self,
        customer_id: str,
        status: Literal["placed", "processing", "shipped", "delivered", "cancelled"] | None = None,
        placed_from: str | None = None,
        placed_to: str | None = None,
    ) -> dict:
        """List a customer's orders, newest first, with optional status and date filters.

        Args:
            customer_id: Customer id, e.g. "CUS-0001".
            status: Only orders with this status.
            placed_from: Only orders placed on or after this date (YYYY-MM-DD).
            placed_to: Only orders placed on or before this date (YYYY-MM-DD).
        """
        self._customer(customer_id)
        if status is not None and status not in ORDER_STATUSES:
            raise ToolError(f"Unknown status {status!r}; use one of: {', '.join(ORDER_STATUSES)}.")
        d_from = self._parse_date(placed_from, "placed_from") if placed_from else None
        d_to = self._parse_date(placed_to, "placed_to") if placed_to else None
        if d_from and d_to and d_from > d_to:
            raise ToolError("placed_from cannot be after placed_to.")
        rows = []
        for order in self.state["orders"].values():
            if order["customer_id"] != customer_id:
                continue
            if status is not None and order["status"] != status:
                continue
            placed = self._parse_dt(order["placed_at"]).date()
            if d_from and placed < d_from:
                continue
            if d_to and placed > d_to:
                continue
            rows.append({
                "id": order["id"],
                "status": order["status"],
                "placed_at": order["placed_at"],
                "item_count": sum(line["quantity"] for line in order["items"]),
                "total_cents": order["total_cents"],
                "refunded_cents": order["refunded_cents"],
                "carrier": order["carrier"],
                "tracking_number": order["tracking_number"],
            })
        rows.sort(key=lambda r: (r["placed_at"], r["id"]), reverse=True)
        return {"count": len(rows), "orders": rows}

    def list_returns(
        self,
        return_id: str | None = None,
        order_id: str | None = None,
        customer_id: str | None = None,
        status: Literal["requested", "approved", "rejected", "received", "refunded"] | None = None,
    ) -> dict:
        """List return requests by return, order or customer, optionally by status.

        Args:
            return_id: A specific return id, e.g. "RET-00001".
            order_id: Returns for this order, e.g. "ORD-00001".
            customer_id: Returns for this customer, e.g. "CUS-0001".
            status: Only returns with this status.
        """
        if not (return_id or order_id or customer_id):
            raise ToolError("Provide at least one of return_id, order_id or customer_id.")
        if status is not None and status not in RETURN_STATUSES:
            raise ToolError(f"Unknown status {status!r}; use one of: {', '.join(RETURN_STATUSES)}.")
        if return_id:
            self._return(return_id)
        if order_id:
            self._order(order_id)
        if customer_id:
            self._customer(customer_id)
        rows = []
        for ret in sorted(self.state["returns"].values(), key=lambda r: r["id"]):
            if return_id and ret["id"] != return_id:
                continue
            if order_id and ret["order_id"] != order_id:
                continue
            if customer_id and ret["customer_id"] != customer_id:
                continue
            if status and ret["status"] != status:
                continue
            rows.append(ret)
        return {"count": len(rows), "returns": rows}

    def get_return_eligibility(self, order_id: str) -> dict:
        """Report whether a return can be requested for an order and what remains returnable per line.

        Args:
            order_id: Order id, e.g. "ORD-00001".
        """
        order = self._order(order_id)
        now = self._now()
        reasons = []
        if order["status"] != "delivered" or not order["delivered_at"]:
            reasons.append(f"order status is {order['status']}; only delivered orders can be returned")
        open_returns = [r["id"] for r in self.state["returns"].values()
                        if r["order_id"] == order_id and r["status"] in ("requested", "approved")]
        if open_returns:
            reasons.append(f"return {open_returns[0]} is still open (requested or approved)")
        used = self._returned_in_open(order_id)
        delivered = self._parse_dt(order["delivered_at"]) if order["delivered_at"] else None
        lines = []
        any_line_ok = False
        for line in order["items"]:
            product = self.state["products"].get(line["product_id"])
            returnable = bool(product and product["returnable"])
            deadline = None
            within = False
            if delivered is not None and product is not None:
                deadline_dt = delivered + timedelta(days=product["return_window_days"])
                deadline = self._fmt_dt(deadline_dt)
                within = now <= deadline_dt
            remaining = max(0, line["quantity"] - used.get(line["line_id"], 0))
            line_ok = returnable and within and remaining > 0
            any_line_ok = any_line_ok or line_ok
            lines.append({
                "line_id": line["line_id"],
                "variant_id": line["variant_id"],
                "product_id": line["product_id"],
                "product_name": product["name"] if product else None,
                "ordered_quantity": line["quantity"],
                "returnable": returnable,
                "return_deadline": deadline,
                "within_window": within,
                "returnable_quantity": remaining,
                "restocking_fee_for_non_defect_reasons": bool(product and product["oversized"]),
                "can_return_now": line_ok and not reasons,
            })
        if not reasons and not any_line_ok:
            reasons.append("no line is returnable, inside its return window and with quantity left")
        return {
            "order_id": order_id,
            "status": order["status"],
            "delivered_at": order["delivered_at"],
            "can_request_return": not reasons,
            "reasons": reasons,
            "lines": lines,
        }

    # ------------------------------------------------------------------ cart mutations

    def add_cart_item(self, customer_id: str, variant_id: str, quantity: int) -> dict:
        """Add units of a variant to the customer's active cart, creating the cart if needed.

        Args:
            customer_id: Customer id, e.g. "CUS-0001".
            variant_id: Variant id, e.g. "VAR-00001".
            quantity: Units to add, at least 1.
        """
        customer = self._customer(customer_id)
        if customer["status"] != "active":
            raise ToolError(f"Customer {customer_id} is {customer['status']} and cannot shop.")
        if not isinstance(quantity, int) or quantity < 1:
            raise ToolError("quantity must be an integer of at least 1.")
        variant = self._variant(variant_id)
        cart = self._active_cart(customer_id)
        existing = 0
        if cart is not None:
            for line in cart["items"]:
                if line["variant_id"] == variant_id:
                    existing = line["quantity"]
        self._validate_line(variant, existing + quantity)

        now = self._now_iso()
        if cart is None:
            cart = {
                "id": self._next_id("CRT", self.state["carts"], 5),
                "customer_id": customer_id,
                "items": [],
                "promotion_code": None,
                "status": "active",
                "created_at": now,
                "updated_at": now,
            }
            self.state["carts"][cart["id"]] = cart
        for line in cart["items"]:
            if line["variant_id"] == variant_id:
                line["quantity"] = existing + quantity
                break
        else:
            cart["items"].append({"variant_id": variant_id, "quantity": quantity,
                                  "unit_price_cents": variant["price_cents"]})
        self._refresh_prices(cart)
        removed = self._recheck_cart_promotion(cart)
        cart["updated_at"] = now
        result = self._cart_view(cart)
        result["promotion_removed"] = removed
        return result

    def update_cart_item(self, customer_id: str, variant_id: str, quantity: int) -> dict:
        """Set the quantity of a variant in the customer's active cart; 0 removes the line.

        Args:
            customer_id: Customer id, e.g. "CUS-0001".
            variant_id: Variant id of the cart line, e.g. "VAR-00001".
            quantity: New quantity; 0 removes the line.
        """
        self._customer(customer_id)
        if not isinstance(quantity, int) or quantity < 0:
            raise ToolError("quantity must be an integer of 0 or more.")
        cart = self._require_active_cart(customer_id)
        index = next((i for i, line in enumerate(cart["items"]) if line["variant_id"] == variant_id), None)
        if index is None:
            raise ToolError(f"Variant {variant_id} is not in the active cart of {customer_id}.")
        if quantity > 0:
            self._validate_line(self._variant(variant_id), quantity)
            cart["items"][index]["quantity"] = quantity
        else:
            cart["items"].pop(index)
        self._refresh_prices(cart)
        removed = self._recheck_cart_promotion(cart)
        cart["updated_at"] = self._now_iso()
        result = self._cart_view(cart)
        result["promotion_removed"] = removed
        return result

    def apply_promotion_code(self, customer_id: str, code: str) -> dict:
        """Apply a promotion code to the customer's active cart, replacing any previous code.

        Args:
            customer_id: Customer id, e.g. "CUS-0001".
            code: Promotion code (case-insensitive), e.g. "SPRING20".
        """
        self._customer(customer_id)
        cart = self._require_active_cart(customer_id)
        if not cart["items"]:
            raise ToolError("The cart is empty; add items before applying a promotion code.")
        promo = self._find_promotion(code)
        if promo is None:
            raise ToolError(f"No promotion with code {code!r}.")
        lines = self._current_lines(cart)
        issues = self._promo_issues(promo, customer_id, lines)
        if issues:
            raise ToolError(f"Promotion {promo['code']} cannot be applied: " + "; ".join(issues) + ".")
        previous = cart["promotion_code"]
        self._refresh_prices(cart)
        cart["promotion_code"] = promo["code"]
        cart["updated_at"] = self._now_iso()
        result = self._cart_view(cart)
        result["replaced_code"] = previous if previous and previous != promo["code"] else None
        return result

    def remove_promotion_code(self, customer_id: str) -> dict:
        """Remove the promotion code from the customer's active cart.

        Args:
            customer_id: Customer id, e.g. "CUS-0001".
        """
        self._customer(customer_id)
        cart = self._require_active_cart(customer_id)
        if not cart["promotion_code"]:
            raise ToolError("The active cart has no promotion code applied.")
        removed = cart["promotion_code"]
        cart["promotion_code"] = None
        self._refresh_prices(cart)
        cart["updated_at"] = self._now_iso()
        result = self._cart_view(cart)
        result["removed_code"] = removed
        return result

    # ------------------------------------------------------------------ checkout and orders

    def checkout(
        self,
        customer_id: str,
        shipping_method: Literal["standard", "expedited", "freight"],
        payment_method: Literal["card", "paypal", "store_credit"],
        shipping_address: dict | None = None,
    ) -> dict:
        """Convert the customer's active cart into a placed order, allocating stock from warehouses.

        Args:
            customer_id: Customer id, e.g. "CUS-0001".
            shipping_method: One of standard, expedited, freight; must be freight if any product is oversized.
            payment_method: One of card, paypal, store_credit.
            shipping_address: Optional {line1, city, state (2 letters), zip (5 digits)}; defaults to the customer's default_address.
        """
        customer = self._customer(customer_id)
        if customer["status"] != "active":
            raise ToolError(f"Customer {customer_id} is {customer['status']} and cannot check out.")
        if shipping_method not in ("standard", "expedited", "freight"):
            raise ToolError("shipping_method must be one of: standard, expedited, freight.")
        if payment_method not in ("card", "paypal", "store_credit"):
            raise ToolError("payment_method must be one of: card, paypal, store_credit.")
        cart = self._require_active_cart(customer_id)
        if not cart["items"]:
            raise ToolError("The active cart is empty.")

        if shipping_address is None:
            address = dict(customer["default_address"])
        else:
            if not isinstance(shipping_address, dict):
                raise ToolError("shipping_address must be an object {line1, city, state, zip}.")
            extra = set(shipping_address) - {"line1", "city", "state", "zip"}
            if extra:
                raise ToolError(f"Unexpected shipping_address fields: {', '.join(sorted(extra))}.")
            address = {k: str(shipping_address.get(k, "")).strip() for k in ("line1", "city", "state", "zip")}
            if not address["line1"] or not address["city"]:
                raise ToolError("shipping_address needs non-empty line1 and city.")
            if not re.fullmatch(r"[A-Z]{2}", address["state"]):
                raise ToolError("shipping_address.state must be 2 uppercase letters, e.g. 'NY'.")
            if not re.fullmatch(r"[0-9]{5}", address["zip"]):
                raise ToolError("shipping_address.zip must be 5 digits.")

        # Re-validate lines at current prices (no state change yet).
        lines = self._current_lines(cart)
        for line in lines:
            self._validate_line(self._variant(line["variant_id"]), line["quantity"])

        promo = None
        if cart["promotion_code"]:
            promo = self._find_promotion(cart["promotion_code"])
            if promo is None:
                raise ToolError(f"Promotion {cart['promotion_code']} no longer exists; remove it and retry.")
            issues = self._promo_issues(promo, customer_id, lines)
            if issues:
                raise ToolError(f"Promotion {promo['code']} no longer applies: " + "; ".join(issues)
                                + ". Remove it and retry.")

        totals = self._quote(lines, promo, shipping_method)

        # Allocate each line to one warehouse.
        allocations = []
        for line in lines:
            variant = self._variant(line["variant_id"])
            product = self._product_of(variant)
            best = None
            for entry in variant["stock"]:
                wh = self.state["warehouses"].get(entry["warehouse_id"])
                if wh is None or not wh["active"]:
                    continue
                if product["oversized"] and not wh["ships_oversized"]:
                    continue
                if entry["quantity"] < line["quantity"]:
                    continue
                if best is None or entry["quantity"] > best["quantity"] or (
                        entry["quantity"] == best["quantity"] and entry["warehouse_id"] < best["warehouse_id"]):
                    best = entry
            if best is None:
                raise ToolError(
                    f"No single eligible warehouse holds {line['quantity']} units of {variant['id']}"
                    + (" (oversized items ship only from oversized-capable warehouses)" if product["oversized"] else "")
                    + ". Reduce the quantity and retry."
                )
            allocations.append((line, variant, product, best))

        if payment_method == "store_credit" and customer["store_credit_cents"] < totals["total_cents"]:
            raise ToolError(
                f"Store credit of {customer['store_credit_cents']} cents does not cover the total of "
                f"{totals['total_cents']} cents."
            )

        # Apply changes.
        now = self._now_iso()
        order_items = []
        for i, (line, variant, product, entry) in enumerate(allocations, start=1):
            entry["quantity"] -= line["quantity"]
            order_items.append({
                "line_id": f"L{i}",
                "variant_id": variant["id"],
                "product_id": product["id"],
                "quantity": line["quantity"],
                "unit_price_cents": line["unit_price_cents"],
                "warehouse_id": entry["warehouse_id"],
                "returned_quantity": 0,
            })
        if payment_method == "store_credit":
            customer["store_credit_cents"] -= totals["total_cents"]
        order_id = self._next_id("ORD", self.state["orders"], 5)
        order = {
            "id": order_id,
            "customer_id": customer_id,
            "cart_id": cart["id"],
            "items": order_items,
            "promotion_code": promo["code"] if promo else None,
            "subtotal_cents": totals["subtotal_cents"],
            "discount_cents": totals["discount_cents"],
            "shipping_cents": totals["shipping_cents"],
            "tax_cents": totals["tax_cents"],
            "total_cents": totals["total_cents"],
            "refunded_cents": 0,
            "shipping_method": shipping_method,
            "shipping_address": address,
            "payment_method": payment_method,
            "status": "placed",
            "carrier": None,
            "tracking_number": None,
            "placed_at": now,
            "shipped_at": None,
            "delivered_at": None,
            "cancelled_at": None,
        }
        self.state["orders"][order_id] = order
        for cart_line, line in zip(cart["items"], lines):
            cart_line["unit_price_cents"] = line["unit_price_cents"]
        cart["status"] = "converted"
        cart["updated_at"] = now
        if promo is not None:
            promo["redemption_count"] += 1
        return {"order": order, "store_credit_remaining_cents": customer["store_credit_cents"]}

    def mark_order_processing(self, order_id: str) -> dict:
        """Move a placed order to processing.

        Args:
            order_id: Order id, e.g. "ORD-00001".
        """
        order = self._order(order_id)
        if order["status"] != "placed":
            raise ToolError(f"Order {order_id} is {order['status']}; only placed orders can move to processing.")
        order["status"] = "processing"
        return {"order": order}

    def ship_order(
        self,
        order_id: str,
        carrier: Literal["UPS", "FedEx", "USPS", "FreightLine"],
        tracking_number: str,
    ) -> dict:
        """Mark a processing order as shipped with carrier and tracking number.

        Args:
            order_id: Order id, e.g. "ORD-00001".
            carrier: One of UPS, FedEx, USPS, FreightLine.
            tracking_number: Carrier tracking number, non-empty.
        """
        order = self._order(order_id)
        if order["status"] != "processing":
            raise ToolError(f"Order {order_id} is {order['status']}; only processing orders can be shipped.")
        if carrier not in CARRIERS:
            raise ToolError(f"Unknown carrier {carrier!r}; use one of: {', '.join(CARRIERS)}.")
        tracking = (tracking_number or "").strip()
        if not tracking:
            raise ToolError("tracking_number must not be empty.")
        order["status"] = "shipped"
        order["carrier"] = carrier
        order["tracking_number"] = tracking
        order["shipped_at"] = self._now_iso()
        return {"order": order}

    def mark_order_delivered(self, order_id: str) -> dict:
        """Mark a shipped order as delivered, starting its return window.

        Args:
            order_id: Order id, e.g. "ORD-00001".
        """
        order = self._order(order_id)
        if order["status"] != "shipped":
            raise ToolError(f"Order {order_id} is {order['status']}; only shipped orders can be marked delivered.")
        order["status"] = "delivered"
        order["delivered_at"] = self._now_iso()
        return {"order": order}

    def cancel_order(self, order_id: str) -> dict:
        """Cancel an unshipped order, restocking its lines and refunding the full total.

        Args:
            order_id: Order id, e.g. "ORD-00001".
        """
        order = self._order(order_id)
        if order["status"] not in ("placed", "processing"):
            raise ToolError(
                f"Order {order_id} is {order['status']}; only placed or processing orders can be cancelled."
            )
        customer = self._customer(order["customer_id"])
        for line in order["items"]:
            self._variant(line["variant_id"])
        for line in order["items"]:
            self._restock(line["variant_id"], line["warehouse_id"], line["quantity"])
        refund = max(0, order["total_cents"] - order["refunded_cents"])
        order["refunded_cents"] = order["total_cents"]
        if order["payment_method"] == "store_credit":
            customer["store_credit_cents"] += refund
        order["status"] = "cancelled"
        order["cancelled_at"] = self._now_iso()
        promo = self._find_promotion(order["promotion_code"])
        if promo is not None and promo["redemption_count"] > 0:
            promo["redemption_count"] -= 1
        return {
            "order": order,
            "refund_cents": refund,
            "refunded_to": "store_credit" if order["payment_method"] == "store_credit" else order["payment_method"],
        }

    # ------------------------------------------------------------------ returns

    def request_return(
        self,
        order_id: str,
        items: list,
        refund_method: Literal["original_payment", "store_credit"] = "original_payment",
    ) -> dict:
        """Create a return request for lines of a delivered order and compute its refund.

        Args:
            order_id: Order id, e.g. "ORD-00001".
            items: Lines to return, objects {line_id, quantity, reason}; reason one of defective, damaged, wrong_item, no_longer_needed, not_as_described, changed_mind.
            refund_method: One of original_payment, store_credit.
        """
        order = self._order(order_id)
        if refund_method not in ("original_payment", "store_credit"):
            raise ToolError("refund_method must be original_payment or store_credit.")
        if order["status"] != "delivered" or not order["delivered_at"]:
            raise ToolError(f"Order {order_id} is {order['status']}; returns are only possible for delivered orders.")
        for ret in self.state["returns"].values():
            if ret["order_id"] == order_id and ret["status"] in ("requested", "approved"):
                raise ToolError(f"Order {order_id} already has open return {ret['id']} ({ret['status']}).")
        if not isinstance(items, list) or not items:
            raise ToolError("items must be a non-empty list of {line_id, quantity, reason}.")

        lines_by_id = {line["line_id"]: line for line in order["items"]}
        used = self._returned_in_open(order_id)
        delivered = self._parse_dt(order["delivered_at"])
        now = self._now()
        requested: dict = {}
        ret_items = []
        for raw in items:
            if not isinstance(raw, dict):
                raise ToolError("Each item must be an object {line_id, quantity, reason}.")
            line_id = raw.get("line_id")
            qty = raw.get("quantity")
            reason = raw.get("reason")
            line = lines_by_id.get(line_id)
            if line is None:
                raise ToolError(f"Order {order_id} has no line {line_id!r}.")
            if not isinstance(qty, int) or isinstance(qty, bool) or qty < 1:
                raise ToolError(f"Quantity for line {line_id} must be an integer of at least 1.")
            if reason not in RETURN_REASONS:
                raise ToolError(f"Reason for line {line_id} must be one of: {', '.join(RETURN_REASONS)}.")
            product = self._product(line["product_id"])
            if not product["returnable"]:
                raise ToolError(f"{product['name']} (line {line_id}) is not returnable.")
            deadline = delivered + timedelta(days=product["return_window_days"])
            if now > deadline:
                raise ToolError(
                    f"The return window for line {line_id} ended at {self._fmt_dt(deadline)}."
                )
            requested[line_id] = requested.get(line_id, 0) + qty
            remaining = line["quantity"] - used.get(line_id, 0)
            if requested[line_id] > remaining:
                raise ToolError(
                    f"Line {line_id} has only {max(0, remaining)} units left to return; requested {requested[line_id]}."
                )
            ret_items.append({"line_id": line_id, "variant_id": line["variant_id"], "quantity": qty,
                              "reason": reason})

        merchandise = 0
        fee_base = 0
        for item in ret_items:
            line = lines_by_id[item["line_id"]]
            value = line["unit_price_cents"] * item["quantity"]
            merchandise += value
            product = self.state["products"][line["product_id"]]
            if product["oversized"] and item["reason"] not in NO_FEE_REASONS:
                fee_base += value
        fee = (fee_base * RESTOCKING_FEE_PERCENT) // 100
        if order["subtotal_cents"] > 0:
            paid_goods = order["subtotal_cents"] - order["discount_cents"] + order["tax_cents"]
            gross = (paid_goods * merchandise) // order["subtotal_cents"]
        else:
            gross = 0
        refund = max(0, gross - fee)

        return_id = self._next_id("RET", self.state["returns"], 5)
        ret = {
            "id": return_id,
            "order_id": order_id,
            "customer_id": order["customer_id"],
            "items": ret_items,
            "status": "requested",
            "refund_method": refund_method,
            "restocking_fee_cents": fee,
            "refund_amount_cents": refund,
            "created_at": self._now_iso(),
            "resolved_at": None,
        }
        self.state["returns"][return_id] = ret
        return {"return": ret, "returned_merchandise_value_cents": merchandise}

    def review_return(self, return_id: str, decision: Literal["approve", "reject"]) -> dict:
        """Approve or reject a requested return.

        Args:
            return_id: Return id, e.g. "RET-00001".
            decision: One of approve, reject.
        """
        ret = self._return(return_id)
        if decision not in ("approve", "reject"):
            raise ToolError("decision must be 'approve' or 'reject'.")
        if ret["status"] != "requested":
            raise ToolError(f"Return {return_id} is {ret['status']}; only requested returns can be reviewed.")
        if decision == "approve":
            ret["status"] = "approved"
        else:
            ret["status"] = "rejected"
            ret["resolved_at"] = self._now_iso()
        return {"return": ret}

    def receive_return(self, return_id: str) -> dict:
        """Record that returned goods arrived and restock resellable units.

        Args:
            return_id: Return id, e.g. "RET-00001".
        """
        ret = self._return(return_id)
        if ret["status"] != "approved":
            raise ToolError(f"Return {return_id} is {ret['status']}; only approved returns can be received.")
        order = self._order(ret["order_id"])
        lines_by_id = {line["line_id"]: line for line in order["items"]}
        for item in ret["items"]:
            if item["line_id"] not in lines_by_id:
                raise ToolError(f"Order {order['id']} no longer has line {item['line_id']}.")
            self._variant(item["variant_id"])
        restocked = []
        for item in ret["items"]:
            if item["reason"] in NO_RESTOCK_REASONS:
                continue
            line = lines_by_id[item["line_id"]]
            self._restock(item["variant_id"], line["warehouse_id"], item["quantity"])
            restocked.append({"variant_id": item["variant_id"], "warehouse_id": line["warehouse_id"],
                              "quantity": item["quantity"]})
        ret["status"] = "received"
        return {"return": ret, "restocked": restocked}

    def refund_return(self, return_id: str) -> dict:
        """Issue the refund for a received return and update the order and customer.

        Args:
            return_id: Return id, e.g. "RET-00001".
        """
        ret = self._return(return_id)
        if ret["status"] != "received":
            raise ToolError(f"Return {return_id} is {ret['status']}; only received returns can be refunded.")
        order = self._order(ret["order_id"])
        customer = self._customer(ret["customer_id"])
        amount = min(ret["refund_amount_cents"], max(0, order["total_cents"] - order["refunded_cents"]))
        lines_by_id = {line["line_id"]: line for line in order["items"]}
        for item in ret["items"]:
            line = lines_by_id.get(item["line_id"])
            if line is None:
                raise ToolError(f"Order {order['id']} no longer has line {item['line_id']}.")
        for item in ret["items"]:
            line = lines_by_id[item["line_id"]]
            line["returned_quantity"] = min(line["quantity"], line["returned_quantity"] + item["quantity"])
        order["refunded_cents"] += amount
        if ret["refund_method"] == "store_credit":
            customer["store_credit_cents"] += amount
        ret["refund_amount_cents"] = amount
        ret["status"] = "refunded"
        ret["resolved_at"] = self._now_iso()
        return {
            "return": ret,
            "refunded_cents": amount,
            "order": {"id": order["id"], "total_cents": order["total_cents"],
                      "refunded_cents": order["refunded_cents"], "items": order["items"]},
            "store_credit_cents": customer["store_credit_cents"],
        }
