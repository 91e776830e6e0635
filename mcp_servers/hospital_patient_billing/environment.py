import math
import re
from datetime import date, datetime, timedelta
from typing import Any, Literal

from envmint_runtime import Environment, ToolError

ACCOUNT_STATUSES = ("pending_insurance", "self_pay_due", "on_payment_plan", "paid_in_full", "bad_debt")
ENCOUNTER_TYPES = ("inpatient", "outpatient", "emergency", "observation", "infusion", "radiation_therapy")
PAYMENT_METHODS = ("card", "cash", "check", "ach")
DOCUMENT_TYPES = ("pay_stubs", "tax_return", "unemployment_letter", "income_attestation", "bank_statement",
                  "photo_id", "medical_bills")
INCOME_PROOFS = ("pay_stubs", "tax_return", "unemployment_letter", "income_attestation")
ADJUSTMENT_TYPES = ("contractual_adjustment", "self_pay_discount", "financial_assistance_discount",
                    "administrative_write_off", "bad_debt_write_off")
CLOSED_ACCOUNT_STATUSES = ("paid_in_full", "bad_debt")
OPEN_APPLICATION_STATUSES = ("submitted", "pending_documents")
SUPERVISOR_THRESHOLD_CENTS = 50000
SELF_PAY_DISCOUNT_PERCENT = 40
FPL_BASE_CENTS = 1506000
FPL_PER_ADDITIONAL_PERSON_CENTS = 538000
MIN_INSTALLMENT_CENTS = 2500
BAD_DEBT_MIN_STATEMENTS = 3
BAD_DEBT_MIN_DAYS = 120
MISSED_PAYMENTS_TO_DEFAULT = 2
DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"


class HospitalPatientBillingAndFinancialAssistance(Environment):
    """Hospital patient accounts, claims, ledger, statements, payment plans and charity care."""

    # ------------------------------------------------------------------ helpers
    def _clone(self, obj: Any) -> Any:
        if isinstance(obj, dict):
            return {k: self._clone(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [self._clone(v) for v in obj]
        return obj

    def _parse_date(self, value: Any, field: str) -> date:
        if not isinstance(value, str) or not re.match(DATE_PATTERN, value):
            raise ToolError(f"{field} must be a date in YYYY-MM-DD format; got {value!r}.")
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise ToolError(f"{field} {value!r} is not a valid calendar date.")

    def _add_months(self, d: date, months: int) -> date:
        total = d.month - 1 + months
        year, month = d.year + total // 12, total % 12 + 1
        nxt = date(year + (month == 12), month % 12 + 1, 1)
        return date(year, month, min(d.day, (nxt - timedelta(days=1)).day))

    def _int(self, value: Any, field: str, minimum: int | None = None) -> int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise ToolError(f"{field} must be an integer.")
        if minimum is not None and value < minimum:
            raise ToolError(f"{field} must be at least {minimum}; got {value}.")
        return value

    def _next_id(self, collection: str, prefix: str, width: int) -> str:
        highest = 0
        pattern = re.compile(rf"^{prefix}-(\d+)$")
        for key in self.state[collection]:
            m = pattern.match(key)
            if m:
                highest = max(highest, int(m.group(1)))
        return f"{prefix}-{highest + 1:0{width}d}"

    def _get(self, collection: str, key: str, label: str) -> dict:
        record = self.state[collection].get(key) if isinstance(key, str) else None
        if record is None:
            raise ToolError(f"No {label} with id {key!r}.")
        return record

    def _fpl_percent(self, household_size: int, income_cents: int) -> int:
        guideline = FPL_BASE_CENTS + FPL_PER_ADDITIONAL_PERSON_CENTS * (household_size - 1)
        return (income_cents * 100) // guideline

    def _tier(self, fpl: int) -> int:
        if fpl <= 200:
            return 100
        if fpl <= 300:
            return 75
        if fpl <= 400:
            return 50
        return 0

    def _recompute(self, account: dict) -> None:
        account["total_charges_cents"] = sum(c["amount_cents"] for c in self.state["charges"].values()
                                             if c["account_id"] == account["id"] and c["status"] == "posted")
        account["balance_cents"] = (account["total_charges_cents"] - account["insurance_paid_cents"]
                                    - account["adjustments_cents"] - account["patient_paid_cents"])

    def _settle_status(self, account: dict) -> None:
        if account["balance_cents"] == 0 and account["status"] in ("self_pay_due", "on_payment_plan"):
            account["status"] = "paid_in_full"

    def _post_txn(self, account: dict, txn_type: str, amount: int, note: str, posted_by: str,
                  method: str | None = None, claim_id: str | None = None, plan_id: str | None = None,
                  application_id: str | None = None, approved_by: str | None = None) -> dict:
        if amount < 1:
            raise ToolError("Transaction amounts must be at least 1 cent.")
        if txn_type != "insurance_payment" and txn_type != "refund" and amount > account["balance_cents"]:
            raise ToolError(f"{txn_type} of {amount} cents exceeds account {account['id']}'s balance of "
                            f"{account['balance_cents']} cents.")
        txn_id = self._next_id("transactions", "TXN", 6)
        txn = {"id": txn_id, "account_id": account["id"], "type": txn_type, "amount_cents": amount,
               "method": method, "claim_id": claim_id, "payment_plan_id": plan_id,
               "application_id": application_id, "approved_by": approved_by, "note": note,
               "posted_by": posted_by, "posted_at": self.clock.iso()}
        self.state["transactions"][txn_id] = txn
        if txn_type == "insurance_payment":
            account["insurance_paid_cents"] += amount
        elif txn_type == "patient_payment":
            account["patient_paid_cents"] += amount
        elif txn_type in ADJUSTMENT_TYPES:
            account["adjustments_cents"] += amount
        self._recompute(account)
        return txn

    def _reduce_plan(self, account: dict, amount: int) -> None:
        plan_id = account.get("payment_plan_id")
        plan = self.state["payment_plans"].get(plan_id) if plan_id else None
        if plan is None or plan["status"] != "active":
            return
        plan["remaining_balance_cents"] = max(0, plan["remaining_balance_cents"] - amount)
        if plan["remaining_balance_cents"] == 0:
            plan["status"] = "completed"
            plan["next_due_date"] = None

    def _statements_for_account(self, account_id: str) -> list:
        stmts = [s for s in self.state["statements"].values() if account_id in s["account_ids"]]
        return sorted(stmts, key=lambda s: (s["statement_date"], s["sequence_number"], s["id"]))

    def _open_application(self, patient_id: str) -> dict | None:
        for app in self.state["assistance_applications"].values():
            if app["patient_id"] == patient_id and app["status"] in OPEN_APPLICATION_STATUSES:
                return app
        return None

    def _active_plan(self, patient_id: str) -> dict | None:
        for plan in self.state["payment_plans"].values():
            if plan["patient_id"] == patient_id and plan["status"] == "active":
                return plan
        return None

    def _bad_debt_check(self, account: dict) -> dict:
        today = self.clock.today()
        stmts = self._statements_for_account(account["id"])
        first = date.fromisoformat(stmts[0]["statement_date"]) if stmts else None
        days = (today - first).days if first else None
        open_app = self._open_application(account["patient_id"])
        unmet = []
        if account["status"] != "self_pay_due":
            unmet.append(f"account status is {account['status']}, must be self_pay_due")
        if account["balance_cents"] <= 0:
            unmet.append("account has no balance to write off")
        if len(stmts) < BAD_DEBT_MIN_STATEMENTS:
            unmet.append(f"only {len(stmts)} statement(s) issued, at least {BAD_DEBT_MIN_STATEMENTS} required")
        if days is None or days < BAD_DEBT_MIN_DAYS:
            unmet.append(f"{days if days is not None else 0} days since first statement, "
                         f"at least {BAD_DEBT_MIN_DAYS} required")
        if open_app:
            unmet.append(f"patient has open assistance application {open_app['id']} ({open_app['status']})")
        return {"account_id": account["id"], "status": account["status"], "balance_cents": account["balance_cents"],
                "statement_count": len(stmts), "first_statement_date": first.isoformat() if first else None,
                "days_since_first_statement": days, "open_assistance_application": open_app is not None,
                "open_application_id": open_app["id"] if open_app else None,
                "eligible": not unmet, "unmet_conditions": unmet}

    def _account_row(self, a: dict) -> dict:
        return {"id": a["id"], "patient_id": a["patient_id"], "encounter_type": a["encounter_type"],
                "facility": a["facility"], "service_date_from": a["service_date_from"],
                "service_date_to": a["service_date_to"], "total_charges_cents": a["total_charges_cents"],
                "balance_cents": a["balance_cents"], "status": a["status"], "payment_plan_id": a["payment_plan_id"]}

    # ------------------------------------------------------------------ queries
    def find_patients(self, query: str | None = None, date_of_birth: str | None = None) -> dict:
        """Find patients by name, MRN, email or phone, optionally narrowed by date of birth.

        Args:
            query: Text matched case-insensitively against first/last name, MRN, email and phone.
            date_of_birth: Exact date of birth, YYYY-MM-DD.
        """
        dob = self._parse_date(date_of_birth, "date_of_birth").isoformat() if date_of_birth else None
        q = query.strip().lower() if query else ""
        q_digits = re.sub(r"\D", "", q)
        out = []
        for p in sorted(self.state["patients"].values(), key=lambda p: p["id"]):
            if dob and p["date_of_birth"] != dob:
                continue
            if q:
                full = f"{p['first_name']} {p['last_name']}".lower()
                hay = [full, p["first_name"].lower(), p["last_name"].lower(), p["mrn"].lower(), p["email"].lower(),
                       p["phone"].lower()]
                phone_hit = len(q_digits) >= 4 and q_digits in re.sub(r"\D", "", p["phone"])
                if not any(q in h for h in hay) and not phone_hit:
                    continue
            out.append({"id": p["id"], "mrn": p["mrn"], "first_name": p["first_name"], "last_name": p["last_name"],
                        "date_of_birth": p["date_of_birth"], "coverage_type": p["coverage_type"],
                        "insurance_payer": p["insurance_payer"]})
        return {"patients": out, "count": len(out)}

    def get_patient_financial_summary(self, patient_id: str) -> dict:
        """Return a patient's billing profile, accounts, balances by status, plan, applications and statements.

        Args:
            patient_id: Patient id, e.g. "PAT-0042".
        """
        patient = self._get("patients", patient_id, "patient")
        accounts = sorted((a for a in self.state["accounts"].values() if a["patient_id"] == patient_id),
                          key=lambda a: (a["service_date_from"], a["id"]))
        by_status = {s: 0 for s in ACCOUNT_STATUSES}
        for a in accounts:
            by_status[a["status"]] += a["balance_cents"]
        plan = self._active_plan(patient_id)
        plan_view = None
        if plan:
            plan_view = self._clone(plan)
            schedule, remaining, due = [], plan["remaining_balance_cents"], plan["next_due_date"]
            d = date.fromisoformat(due) if due else None
            while remaining > 0 and d is not None and len(schedule) < 24:
                amt = min(plan["installment_cents"], remaining)
                schedule.append({"due_date": d.isoformat(), "amount_cents": amt})
                remaining -= amt
                d = self._add_months(d, 1)
            plan_view["schedule"] = schedule
        apps = [{"id": a["id"], "status": a["status"], "account_ids": list(a["account_ids"]),
                 "fpl_percent": a["fpl_percent"], "discount_percent": a["discount_percent"],
                 "submitted_on": a["submitted_on"], "decision_date": a["decision_date"],
                 "expires_on": a["expires_on"], "denial_reason": a["denial_reason"]}
                for a in sorted(self.state["assistance_applications"].values(), key=lambda a: a["id"])
                if a["patient_id"] == patient_id]
        stmts = [{"id": s["id"], "sequence_number": s["sequence_number"], "statement_date": s["statement_date"],
                  "due_date": s["due_date"], "amount_due_cents": s["amount_due_cents"], "status": s["status"],
                  "account_ids": list(s["account_ids"])}
                 for s in sorted(self.state["statements"].values(), key=lambda s: s["sequence_number"])
                 if s["patient_id"] == patient_id]
        return {"patient": self._clone(patient),
                "accounts": [self._account_row(a) for a in accounts],
                "balance_by_status_cents": by_status,
                "total_balance_cents": sum(a["balance_cents"] for a in accounts),
                "active_payment_plan": plan_view, "assistance_applications": apps, "statements": stmts}

    def get_account(self, account_id: str) -> dict:
        """Return one account with charges, claims, ledger, statements and a balance check.

        Args:
            account_id: Account id, e.g. "ACC-000123".
        """
        a = self._get("accounts", account_id, "account")
        charges = sorted((c for c in self.state["charges"].values() if c["account_id"] == account_id),
                         key=lambda c: (c["service_date"], c["id"]))
        claims = sorted((c for c in self.state["claims"].values() if c["account_id"] == account_id),
                        key=lambda c: (c["submitted_on"], c["id"]))
        txns = sorted((t for t in self.state["transactions"].values() if t["account_id"] == account_id),
                      key=lambda t: (t["posted_at"], t["id"]))
        computed = (a["total_charges_cents"] - a["insurance_paid_cents"] - a["adjustments_cents"]
                    - a["patient_paid_cents"])
        return {"account": self._clone(a), "charges": self._clone(charges), "claims": self._clone(claims),
                "transactions": self._clone(txns),
                "statements": [{"id": s["id"], "sequence_number": s["sequence_number"],
                                "statement_date": s["statement_date"], "status": s["status"]}
                               for s in self._statements_for_account(account_id)],
                "balance_check": {"total_charges_cents": a["total_charges_cents"],
                                  "insurance_paid_cents": a["insurance_paid_cents"],
                                  "adjustments_cents": a["adjustments_cents"],
                                  "patient_paid_cents": a["patient_paid_cents"],
                                  "computed_balance_cents": computed, "balance_cents": a["balance_cents"],
                                  "consistent": computed == a["balance_cents"]}}

    def list_accounts(self, patient_id: str | None = None,
                      status: Literal["pending_insurance", "self_pay_due", "on_payment_plan", "paid_in_full",
                                      "bad_debt"] | None = None,
                      encounter_type: Literal["inpatient", "outpatient", "emergency", "observation", "infusion",
                                              "radiation_therapy"] | None = None,
                      facility: str | None = None, min_balance_cents: int | None = None,
                      service_from: str | None = None, service_to: str | None = None) -> dict:
        """Worklist of billing accounts filtered by patient, status, encounter, facility, balance and dates.

        Args:
            patient_id: Only accounts of this patient, e.g. "PAT-0042".
            status: One of pending_insurance, self_pay_due, on_payment_plan, paid_in_full, bad_debt.
            encounter_type: One of inpatient, outpatient, emergency, observation, infusion, radiation_therapy.
            facility: Facility name (case-insensitive).
            min_balance_cents: Only accounts with at least this balance.
            service_from: Only accounts whose service_date_from is on or after this date (YYYY-MM-DD).
            service_to: Only accounts whose service_date_from is on or before this date (YYYY-MM-DD).
        """
        if status is not None and status not in ACCOUNT_STATUSES:
            raise ToolError(f"status must be one of: {', '.join(ACCOUNT_STATUSES)}.")
        if encounter_type is not None and encounter_type not in ENCOUNTER_TYPES:
            raise ToolError(f"encounter_type must be one of: {', '.join(ENCOUNTER_TYPES)}.")
        lo = self._parse_date(service_from, "service_from") if service_from else None
        hi = self._parse_date(service_to, "service_to") if service_to else None
        rows = []
        for a in self.state["accounts"].values():
            if patient_id and a["patient_id"] != patient_id:
                continue
            if status and a["status"] != status:
                continue
            if encounter_type and a["encounter_type"] != encounter_type:
                continue
            if facility and a["facility"].lower() != facility.strip().lower():
                continue
            if min_balance_cents is not None and a["balance_cents"] < min_balance_cents:
                continue
            start = date.fromisoformat(a["service_date_from"])
            if (lo and start < lo) or (hi and start > hi):
                continue
            rows.append(a)
        rows.sort(key=lambda a: (a["service_date_from"], a["id"]))
        return {"accounts": [self._account_row(a) for a in rows], "count": len(rows),
                "total_balance_cents": sum(a["balance_cents"] for a in rows)}

    def screen_financial_assistance(self, patient_id: str | None = None, household_size: int | None = None,
                                    annual_income_cents: int | None = None) -> dict:
        """Compute the FPL percentage and assistance tier for a household, without changing anything.

        Args:
            patient_id: Patient to screen; their household size and income are used unless overridden.
            household_size: Household size, at least 1.
            annual_income_cents: Annual household income in cents, 0 or more.
        """
        patient = self._get("patients", patient_id, "patient") if patient_id else None
        size = household_size if household_size is not None else (patient["household_size"] if patient else None)
        income = annual_income_cents if annual_income_cents is not None else (
            patient["annual_household_income_cents"] if patient else None)
        if size is None or income is None:
            raise ToolError("Provide household_size and annual_income_cents, or a patient_id whose record has them.")
        self._int(size, "household_size", 1)
        self._int(income, "annual_income_cents", 0)
        fpl = self._fpl_percent(size, income)
        pct = self._tier(fpl)
        result = {"household_size": size, "annual_income_cents": income, "fpl_percent": fpl,
                  "eligible": pct > 0, "discount_percent": pct,
                  "tier": {100: "full charity (<=200% FPL)", 75: "75% discount (201-300% FPL)",
                           50: "50% discount (301-400% FPL)", 0: "not eligible (>400% FPL)"}[pct]}
        if patient:
            estimates = []
            for a in sorted(self.state["accounts"].values(), key=lambda a: (a["service_date_from"], a["id"])):
                if a["patient_id"] != patient_id or a["balance_cents"] <= 0:
                    continue
                estimates.append({"account_id": a["id"], "status": a["status"], "balance_cents": a["balance_cents"],
                                  "eligible_now": a["status"] != "pending_insurance",
                                  "estimated_discount_cents": a["balance_cents"] * pct // 100})
            result["patient_id"] = patient_id
            result["account_estimates"] = estimates
            result["total_estimated_discount_cents"] = sum(e["estimated_discount_cents"] for e in estimates
                                                           if e["eligible_now"])
        return result

    def check_bad_debt_eligibility(self, account_id: str) -> dict:
        """Report whether an account can be written off to bad debt now and which conditions are unmet.

        Args:
            account_id: Account to check, e.g. "ACC-000123".
        """
        return self._bad_debt_check(self._get("accounts", account_id, "account"))

    # ------------------------------------------------------------------ charges and claims
    def post_charge(self, account_id: str, service_date: str, revenue_code: str, description: str, quantity: int,
                    unit_price_cents: int, cpt_code: str | None = None) -> dict:
        """Post an itemized charge to an account and update its totals.

        Args:
            account_id: Account to charge, e.g. "ACC-000123".
            service_date: Date of service, YYYY-MM-DD, within the account's service dates.
            revenue_code: 4-digit revenue code, e.g. "0450".
            description: Charge description.
            quantity: Units, at least 1.
            unit_price_cents: Price per unit in cents, 0 or more.
            cpt_code: Optional 5-character CPT/HCPCS code.
        """
        a = self._get("accounts", account_id, "account")
        if a["status"] in CLOSED_ACCOUNT_STATUSES:
            raise ToolError(f"Account {account_id} is {a['status']}; charges cannot be posted to it.")
        d = self._parse_date(service_date, "service_date")
        if not (date.fromisoformat(a["service_date_from"]) <= d <= date.fromisoformat(a["service_date_to"])):
            raise ToolError(f"service_date must be between {a['service_date_from']} and {a['service_date_to']}.")
        if not isinstance(revenue_code, str) or not re.fullmatch(r"[0-9]{4}", revenue_code):
            raise ToolError("revenue_code must be 4 digits, e.g. 0450.")
        cpt = cpt_code.strip().upper() if cpt_code else None
        if cpt is not None and not re.fullmatch(r"[0-9A-Z]{5}", cpt):
            raise ToolError("cpt_code must be 5 letters or digits, e.g. 99284.")
        if not isinstance(description, str) or not description.strip():
            raise ToolError("description must not be empty.")
        qty = self._int(quantity, "quantity", 1)
        price = self._int(unit_price_cents, "unit_price_cents", 0)
        charge_id = self._next_id("charges", "CHG", 6)
        charge = {"id": charge_id, "account_id": account_id, "service_date": d.isoformat(), "cpt_code": cpt,
                  "revenue_code": revenue_code, "description": description.strip(), "quantity": qty,
                  "unit_price_cents": price, "amount_cents": qty * price, "status": "posted"}
        self.state["charges"][charge_id] = charge
        self._recompute(a)
        return {"charge": self._clone(charge), "account": self._clone(a)}

    def void_charge(self, charge_id: str, reason: str) -> dict:
        """Void a posted charge entered in error and remove its amount from the account.

        Args:
            charge_id: Charge to void, e.g. "CHG-000777".
            reason: Why the charge is voided.
        """
        charge = self._get("charges", charge_id, "charge")
        if not isinstance(reason, str) or not reason.strip():
            raise ToolError("reason must not be empty.")
        if charge["status"] != "posted":
            raise ToolError(f"Charge {charge_id} is already voided.")
        a = self._get("accounts", charge["account_id"], "account")
        if a["status"] in CLOSED_ACCOUNT_STATUSES:
            raise ToolError(f"Account {a['id']} is {a['status']}; its charges cannot be voided.")
        if a["balance_cents"] - charge["amount_cents"] < 0:
            raise ToolError(f"Voiding {charge['amount_cents']} cents would make account {a['id']}'s balance negative "
                            f"(balance {a['balance_cents']} cents); payments or adjustments must be reversed first.")
        charge["status"] = "voided"
        self._recompute(a)
        self._reduce_plan(a, charge["amount_cents"])
        self._settle_status(a)
        return {"charge": self._clone(charge), "account": self._clone(a), "reason": reason.strip()}

    def submit_claim(self, account_id: str) -> dict:
        """Submit an insurance claim for an account, billing its current total charges.

        Args:
            account_id: Account to bill to insurance, e.g. "ACC-000123".
        """
        a = self._get("accounts", account_id, "account")
        patient = self._get("patients", a["patient_id"], "patient")
        if patient["coverage_type"] == "self_pay" or not patient["insurance_payer"]:
            raise ToolError(f"Patient {patient['id']} is self-pay (no insurance on file); claims cannot be created.")
        if a["status"] != "self_pay_due":
            raise ToolError(f"Account {account_id} is {a['status']}; claims can only be submitted for accounts in "
                            f"self_pay_due status.")
        for c in self.state["claims"].values():
            if c["account_id"] == account_id and c["status"] in ("submitted", "appealed", "paid"):
                raise ToolError(f"Account {account_id} already has claim {c['id']} in status {c['status']}.")
        if a["total_charges_cents"] <= 0:
            raise ToolError(f"Account {account_id} has no posted charges to bill.")
        claim_id = self._next_id("claims", "CLM", 6)
        claim = {"id": claim_id, "account_id": account_id, "payer_name": patient["insurance_payer"],
                 "billed_cents": a["total_charges_cents"], "allowed_cents": None, "paid_cents": None,
                 "patient_responsibility_cents": None, "status": "submitted", "denial_reason": None,
                 "submitted_on": self.clock.today().isoformat(), "adjudicated_on": None}
        self.state["claims"][claim_id] = claim
        a["status"] = "pending_insurance"
        return {"claim": self._clone(claim), "account": self._clone(a)}

    def adjudicate_claim(self, claim_id: str, outcome: Literal["paid", "denied"], allowed_cents: int | None = None,
                         paid_cents: int | None = None, denial_reason: str | None = None) -> dict:
        """Record the payer's decision on a submitted or appealed claim.

        Args:
            claim_id: Claim being adjudicated, e.g. "CLM-000045".
            outcome: One of paid, denied.
            allowed_cents: Allowed amount; required when paid.
            paid_cents: Amount paid by the payer; required when paid.
            denial_reason: Payer's denial reason; required when denied.
        """
        claim = self._get("claims", claim_id, "claim")
        if outcome not in ("paid", "denied"):
            raise ToolError("outcome must be one of: paid, denied.")
        if claim["status"] not in ("submitted", "appealed"):
            raise ToolError(f"Claim {claim_id} is {claim['status']}; only submitted or appealed claims can be adjudicated.")
        a = self._get("accounts", claim["account_id"], "account")
        today = self.clock.today().isoformat()
        posted = []
        if outcome == "denied":
            if not isinstance(denial_reason, str) or not denial_reason.strip():
                raise ToolError("denial_reason is required when the claim is denied.")
            claim.update({"status": "denied", "denial_reason": denial_reason.strip(), "adjudicated_on": today,
                          "allowed_cents": None, "paid_cents": None, "patient_responsibility_cents": None})
            a["status"] = "self_pay_due"
            self._settle_status(a)
            return {"claim": self._clone(claim), "transactions": [], "account": self._clone(a)}
        if allowed_cents is None or paid_cents is None:
            raise ToolError("allowed_cents and paid_cents are required when the claim is paid.")
        allowed = self._int(allowed_cents, "allowed_cents", 0)
        paid = self._int(paid_cents, "paid_cents", 0)
        if allowed > claim["billed_cents"]:
            raise ToolError(f"allowed_cents ({allowed}) cannot exceed billed_cents ({claim['billed_cents']}).")
        if paid > allowed:
            raise ToolError(f"paid_cents ({paid}) cannot exceed allowed_cents ({allowed}).")
        contractual = claim["billed_cents"] - allowed
        if paid + contractual > a["balance_cents"]:
            raise ToolError(f"Posting {paid} paid plus {contractual} contractual adjustment would exceed account "
                            f"{a['id']}'s balance of {a['balance_cents']} cents.")
        if paid > 0:
            posted.append(self._post_txn(a, "insurance_payment", paid, f"{claim['payer_name']} payment on {claim_id}",
                                         "system", method="eft", claim_id=claim_id))
        if contractual > 0:
            posted.append(self._post_txn(a, "contractual_adjustment", contractual,
                                         f"Contractual adjustment (billed - allowed) on {claim_id}", "system",
                                         claim_id=claim_id))
        claim.update({"status": "paid", "allowed_cents": allowed, "paid_cents": paid,
                      "patient_responsibility_cents": allowed - paid, "denial_reason": None, "adjudicated_on": today})
        a["status"] = "paid_in_full" if a["balance_cents"] == 0 else "self_pay_due"
        return {"claim": self._clone(claim), "transactions": self._clone(posted), "account": self._clone(a)}

    def appeal_claim(self, claim_id: str, note: str | None = None) -> dict:
        """Appeal a denied claim, putting the account back into pending_insurance.

        Args:
            claim_id: Denied claim to appeal, e.g. "CLM-000045".
            note: Basis of the appeal.
        """
        claim = self._get("claims", claim_id, "claim")
        if claim["status"] != "denied":
            raise ToolError(f"Claim {claim_id} is {claim['status']}; only denied claims can be appealed.")
        a = self._get("accounts", claim["account_id"], "account")
        if a["status"] != "self_pay_due":
            raise ToolError(f"Account {a['id']} is {a['status']}; a claim can only be appealed while the account is "
                            f"self_pay_due (not on a plan, paid or written off).")
        claim["status"] = "appealed"
        a["status"] = "pending_insurance"
        return {"claim": self._clone(claim), "account": self._clone(a), "appeal_note": note or ""}

    # ------------------------------------------------------------------ payments and adjustments
    def post_patient_payment(self, amount_cents: int, method: Literal["card", "cash", "check", "ach"],
                             account_id: str | None = None, payment_plan_id: str | None = None,
                             posted_by: str | None = None) -> dict:
        """Post a patient payment to one account or to an active payment plan (oldest service first).

        Args:
            amount_cents: Payment amount in cents, greater than 0.
            method: One of card, cash, check, ach.
            account_id: Account to pay directly (exclusive with payment_plan_id).
            payment_plan_id: Active plan to pay (exclusive with account_id).
            posted_by: Staff member posting the payment.
        """
        amount = self._int(amount_cents, "amount_cents", 1)
        if method not in PAYMENT_METHODS:
            raise ToolError(f"method must be one of: {', '.join(PAYMENT_METHODS)}.")
        if bool(account_id) == bool(payment_plan_id):
            raise ToolError("Give exactly one of account_id or payment_plan_id.")
        by = posted_by.strip() if posted_by and posted_by.strip() else "billing_office"
        if account_id:
            a = self._get("accounts", account_id, "account")
            if a["status"] == "pending_insurance":
                raise ToolError(f"Account {account_id} is pending insurance; patient payments wait until the claim is adjudicated.")
            if a["status"] == "on_payment_plan":
                raise ToolError(f"Account {account_id} is on payment plan {a['payment_plan_id']}; post the payment to the plan.")
            if a["balance_cents"] <= 0:
                raise ToolError(f"Account {account_id} has no balance due.")
            if amount > a["balance_cents"]:
                raise ToolError(f"Payment of {amount} cents exceeds account {account_id}'s balance of {a['balance_cents']} cents.")
            txn = self._post_txn(a, "patient_payment", amount, "Patient payment", by, method=method)
            self._settle_status(a)
            return {"transactions": [self._clone(txn)], "accounts": [self._clone(a)]}
        plan = self._get("payment_plans", payment_plan_id, "payment plan")
        if plan["status"] != "active":
            raise ToolError(f"Payment plan {payment_plan_id} is {plan['status']}; payments can only be posted to active plans.")
        accounts = sorted((self.state["accounts"][aid] for aid in plan["account_ids"] if aid in self.state["accounts"]),
                          key=lambda a: (a["service_date_from"], a["id"]))
        payable = min(plan["remaining_balance_cents"],
                      sum(a["balance_cents"] for a in accounts if a["status"] == "on_payment_plan"))
        if amount > payable:
            raise ToolError(f"Payment of {amount} cents exceeds the plan's remaining balance of {payable} cents.")
        left, txns, touched = amount, [], []
        for a in accounts:
            if left == 0:
                break
            if a["status"] != "on_payment_plan" or a["balance_cents"] <= 0:
                continue
            part = min(left, a["balance_cents"])
            txns.append(self._post_txn(a, "patient_payment", part, f"Installment payment on {payment_plan_id}", by,
                                       method=method, plan_id=payment_plan_id))
            self._settle_status(a)
            touched.append(a)
            left -= part
        plan["remaining_balance_cents"] -= amount
        if amount >= plan["installment_cents"] or plan["remaining_balance_cents"] == 0:
            plan["installments_paid"] = min(plan["number_of_installments"], plan["installments_paid"] + 1)
            if plan["next_due_date"]:
                plan["next_due_date"] = self._add_months(date.fromisoformat(plan["next_due_date"]), 1).isoformat()
        if plan["remaining_balance_cents"] == 0:
            plan["status"] = "completed"
            plan["next_due_date"] = None
        return {"transactions": self._clone(txns), "accounts": self._clone(touched), "payment_plan": self._clone(plan)}

    def apply_self_pay_discount(self, account_id: str) -> dict:
        """Apply the uninsured (self-pay) 40% discount to an account, once.

        Args:
            account_id: Account to discount, e.g. "ACC-000123".
        """
        a = self._get("accounts", account_id, "account")
        patient = self._get("patients", a["patient_id"], "patient")
        if patient["coverage_type"] != "self_pay":
            raise ToolError(f"Patient {patient['id']} has {patient['coverage_type']} coverage; the self-pay discount is only for uninsured patients.")
        if a["self_pay_discount_applied"]:
            raise ToolError(f"Account {account_id} already received the self-pay discount.")
        if a["status"] in CLOSED_ACCOUNT_STATUSES or a["status"] == "pending_insurance":
            raise ToolError(f"Account {account_id} is {a['status']}; the discount cannot be applied.")
        discount = a["total_charges_cents"] * SELF_PAY_DISCOUNT_PERCENT // 100
        if discount < 1:
            raise ToolError(f"Account {account_id} has no charges to discount.")
        if discount > a["balance_cents"]:
            raise ToolError(f"The {discount}-cent discount exceeds account {account_id}'s balance of {a['balance_cents']} cents.")
        txn = self._post_txn(a, "self_pay_discount", discount,
                             f"Self-pay discount {SELF_PAY_DISCOUNT_PERCENT}% of total charges", "system")
        a["self_pay_discount_applied"] = True
        self._reduce_plan(a, discount)
        self._settle_status(a)
        return {"transaction": self._clone(txn), "account": self._clone(a)}

    def post_administrative_write_off(self, account_id: str, amount_cents: int, note: str,
                                      approved_by: str | None = None) -> dict:
        """Write off part or all of an account balance for administrative reasons.

        Args:
            account_id: Account to adjust, e.g. "ACC-000123".
            amount_cents: Write-off amount, greater than 0.
            note: Reason for the write-off.
            approved_by: Supervisor approving; required above 50000 cents.
        """
        a = self._get("accounts", account_id, "account")
        amount = self._int(amount_cents, "amount_cents", 1)
        if not isinstance(note, str) or not note.strip():
            raise ToolError("note must explain the write-off.")
        if a["status"] in CLOSED_ACCOUNT_STATUSES or a["status"] == "pending_insurance":
            raise ToolError(f"Account {account_id} is {a['status']}; it cannot be written off administratively.")
        if amount > a["balance_cents"]:
            raise ToolError(f"Write-off of {amount} cents exceeds the balance of {a['balance_cents']} cents.")
        approver = approved_by.strip() if approved_by and approved_by.strip() else None
        if amount > SUPERVISOR_THRESHOLD_CENTS and not approver:
            raise ToolError(f"Write-offs above {SUPERVISOR_THRESHOLD_CENTS} cents need approved_by naming a supervisor.")
        txn = self._post_txn(a, "administrative_write_off", amount, note.strip(), approver or "billing_office",
                             approved_by=approver)
        self._reduce_plan(a, amount)
        self._settle_status(a)
        return {"transaction": self._clone(txn), "account": self._clone(a)}

    def write_off_to_bad_debt(self, account_id: str, note: str, approved_by: str | None = None) -> dict:
        """Write an uncollectable account's full remaining balance off to bad debt.

        Args:
            account_id: Account to write off, e.g. "ACC-000123".
            note: Collection history / reason.
            approved_by: Supervisor approving; required when the balance is above 50000 cents.
        """
        a = self._get("accounts", account_id, "account")
        if not isinstance(note, str) or not note.strip():
            raise ToolError("note must describe the collection history.")
        check = self._bad_debt_check(a)
        if not check["eligible"]:
            raise ToolError(f"Account {account_id} cannot go to bad debt: {'; '.join(check['unmet_conditions'])}.")
        approver = approved_by.strip() if approved_by and approved_by.strip() else None
        if a["balance_cents"] > SUPERVISOR_THRESHOLD_CENTS and not approver:
            raise ToolError(f"Balance {a['balance_cents']} cents is above {SUPERVISOR_THRESHOLD_CENTS}; approved_by must name a supervisor.")
        txn = self._post_txn(a, "bad_debt_write_off", a["balance_cents"], note.strip(), approver or "billing_office",
                             approved_by=approver)
        a["status"] = "bad_debt"
        return {"transaction": self._clone(txn), "account": self._clone(a)}

    # ------------------------------------------------------------------ financial assistance
    def submit_assistance_application(self, patient_id: str, account_ids: list[str], household_size: int,
                                      annual_income_cents: int, documents_received: list[str] | None = None,
                                      hardship_reason: str | None = None) -> dict:
        """Open a financial assistance application covering some of a patient's accounts.

        Args:
            patient_id: Applicant patient, e.g. "PAT-0042".
            account_ids: Account ids of this patient to be covered (at least one, no duplicates).
            household_size: Household size, at least 1.
            annual_income_cents: Annual household income in cents, 0 or more.
            documents_received: Documents already received, each one of pay_stubs, tax_return, unemployment_letter, income_attestation, bank_statement, photo_id, medical_bills.
            hardship_reason: Applicant's statement of hardship.
        """
        self._get("patients", patient_id, "patient")
        if not isinstance(account_ids, list) or not account_ids:
            raise ToolError("account_ids must list at least one account.")
        if len(set(account_ids)) != len(account_ids):
            raise ToolError("account_ids must not contain duplicates.")
        for aid in account_ids:
            acc = self._get("accounts", aid, "account")
            if acc["patient_id"] != patient_id:
                raise ToolError(f"Account {aid} does not belong to patient {patient_id}.")
        size = self._int(household_size, "household_size", 1)
        income = self._int(annual_income_cents, "annual_income_cents", 0)
        docs = documents_received or []
        for d in docs:
            if d not in DOCUMENT_TYPES:
                raise ToolError(f"Unknown document type {d!r}; use one of: {', '.join(DOCUMENT_TYPES)}.")
        if len(set(docs)) != len(docs):
            raise ToolError("documents_received must not contain duplicates.")
        existing = self._open_application(patient_id)
        if existing:
            raise ToolError(f"Patient {patient_id} already has open application {existing['id']} ({existing['status']}).")
        app_id = self._next_id("assistance_applications", "FAA", 5)
        fpl = self._fpl_percent(size, income)
        app = {"id": app_id, "patient_id": patient_id, "account_ids": list(account_ids), "household_size": size,
               "annual_income_cents": income, "fpl_percent": fpl, "documents_received": list(docs),
               "hardship_reason": hardship_reason or None, "status": "submitted", "discount_percent": 0,
               "submitted_on": self.clock.today().isoformat(), "decision_date": None, "expires_on": None,
               "decided_by": None, "denial_reason": None}
        self.state["assistance_applications"][app_id] = app
        return {"application": self._clone(app), "estimated_discount_percent": self._tier(fpl),
                "has_income_proof": any(d in INCOME_PROOFS for d in docs)}

    def add_assistance_documents(self, application_id: str, documents: list[str]) -> dict:
        """Record documents received for an open assistance application.

        Args:
            application_id: Application id, e.g. "FAA-00012".
            documents: Documents received, each one of pay_stubs, tax_return, unemployment_letter, income_attestation, bank_statement, photo_id, medical_bills.
        """
        app = self._get("assistance_applications", application_id, "assistance application")
        if app["status"] not in OPEN_APPLICATION_STATUSES:
            raise ToolError(f"Application {application_id} is {app['status']}; documents can only be added to open applications.")
        if not isinstance(documents, list) or not documents:
            raise ToolError("documents must list at least one document type.")
        for d in documents:
            if d not in DOCUMENT_TYPES:
                raise ToolError(f"Unknown document type {d!r}; use one of: {', '.join(DOCUMENT_TYPES)}.")
        added = [d for d in dict.fromkeys(documents) if d not in app["documents_received"]]
        app["documents_received"].extend(added)
        return {"application": self._clone(app), "added": added,
                "has_income_proof": any(d in INCOME_PROOFS for d in app["documents_received"])}

    def decide_assistance_application(self, application_id: str,
                                      decision: Literal["request_documents", "approve", "deny", "withdraw"],
                                      decided_by: str | None = None, denial_reason: str | None = None) -> dict:
        """Request documents for, approve (posting discounts), deny or withdraw an assistance application.

        Args:
            application_id: Application to decide, e.g. "FAA-00012".
            decision: One of request_documents, approve, deny, withdraw.
            decided_by: Staff member deciding; required for approve and deny.
            denial_reason: Reason; required for deny (e.g. income_above_limit, incomplete_documentation).
        """
        app = self._get("assistance_applications", application_id, "assistance application")
        if decision not in ("request_documents", "approve", "deny", "withdraw"):
            raise ToolError("decision must be one of: request_documents, approve, deny, withdraw.")
        today = self.clock.today()
        decider = decided_by.strip() if decided_by and decided_by.strip() else None
        if decision == "request_documents":
            if app["status"] != "submitted":
                raise ToolError(f"Application {application_id} is {app['status']}; documents can only be requested on submitted applications.")
            app["status"] = "pending_documents"
            return {"application": self._clone(app), "transactions": []}
        if app["status"] not in OPEN_APPLICATION_STATUSES:
            raise ToolError(f"Application {application_id} is {app['status']}; it has already been decided.")
        if decision == "withdraw":
            app.update({"status": "withdrawn", "decision_date": today.isoformat(), "decided_by": decider})
            return {"application": self._clone(app), "transactions": []}
        if not decider:
            raise ToolError("decided_by is required to approve or deny an application.")
        if decision == "deny":
            if not denial_reason or not denial_reason.strip():
                raise ToolError("denial_reason is required to deny an application.")
            app.update({"status": "denied", "decision_date": today.isoformat(), "decided_by": decider,
                        "denial_reason": denial_reason.strip(), "discount_percent": 0, "expires_on": None})
            return {"application": self._clone(app), "transactions": []}
        # approve
        if not any(d in INCOME_PROOFS for d in app["documents_received"]):
            raise ToolError("An income proof (pay_stubs, tax_return, unemployment_letter or income_attestation) "
                            "must be received before approval; add documents or request them.")
        fpl = self._fpl_percent(app["household_size"], app["annual_income_cents"])
        pct = self._tier(fpl)
        if pct == 0:
            app.update({"status": "denied", "fpl_percent": fpl, "decision_date": today.isoformat(),
                        "decided_by": decider, "denial_reason": "income_above_limit", "discount_percent": 0,
                        "expires_on": None})
            return {"application": self._clone(app), "transactions": [],
                    "outcome": f"denied: household income is {fpl}% of FPL, above the 400% limit"}
        accounts = []
        for aid in app["account_ids"]:
            acc = self._get("accounts", aid, "account")
            if acc["patient_id"] != app["patient_id"]:
                raise ToolError(f"Account {aid} does not belong to the applicant.")
            if acc["status"] == "pending_insurance":
                raise ToolError(f"Account {aid} is pending insurance; wait for the claim decision before approving.")
            accounts.append(acc)
        txns = []
        for acc in accounts:
            discount = acc["balance_cents"] * pct // 100
            if acc["balance_cents"] > 0 and discount > 0:
                txns.append(self._post_txn(acc, "financial_assistance_discount", discount,
                                           f"Financial assistance {pct}% ({fpl}% FPL) under {application_id}",
                                           decider, application_id=application_id))
                self._reduce_plan(acc, discount)
                self._settle_status(acc)
        app.update({"status": "approved", "fpl_percent": fpl, "discount_percent": pct,
                    "decision_date": today.isoformat(), "expires_on": (today + timedelta(days=365)).isoformat(),
                    "decided_by": decider, "denial_reason": None})
        return {"application": self._clone(app), "transactions": self._clone(txns),
                "accounts": self._clone(accounts)}

    # ------------------------------------------------------------------ plans and statements
    def create_payment_plan(self, patient_id: str, account_ids: list[str], number_of_installments: int,
                            start_date: str | None = None) -> dict:
        """Set up a monthly installment plan for some of a patient's self-pay balances.

        Args:
            patient_id: Patient (guarantor) of the plan, e.g. "PAT-0042".
            account_ids: Accounts of this patient to include (at least one, no duplicates).
            number_of_installments: Number of monthly installments, 2 to 24.
            start_date: Plan start date, YYYY-MM-DD; defaults to today. The first installment is due one month after it.
        """
        self._get("patients", patient_id, "patient")
        active = self._active_plan(patient_id)
        if active:
            raise ToolError(f"Patient {patient_id} already has active payment plan {active['id']}.")
        if not isinstance(account_ids, list) or not account_ids:
            raise ToolError("account_ids must list at least one account.")
        if len(set(account_ids)) != len(account_ids):
            raise ToolError("account_ids must not contain duplicates.")
        accounts = []
        for aid in account_ids:
            acc = self._get("accounts", aid, "account")
            if acc["patient_id"] != patient_id:
                raise ToolError(f"Account {aid} does not belong to patient {patient_id}.")
            if acc["status"] != "self_pay_due" or acc["balance_cents"] <= 0:
                raise ToolError(f"Account {aid} is {acc['status']} with balance {acc['balance_cents']}; only "
                                f"self_pay_due accounts with a positive balance can go on a plan.")
            accounts.append(acc)
        n = self._int(number_of_installments, "number_of_installments", 2)
        if n > 24:
            raise ToolError("number_of_installments must be between 2 and 24.")
        principal = sum(a["balance_cents"] for a in accounts)
        installment = math.ceil(principal / n)
        if installment < MIN_INSTALLMENT_CENTS:
            max_n = max(1, principal // MIN_INSTALLMENT_CENTS)
            raise ToolError(f"Installment would be {installment} cents, below the {MIN_INSTALLMENT_CENTS}-cent minimum; "
                            f"use at most {max_n} installments.")
        start = self._parse_date(start_date, "start_date") if start_date else self.clock.today()
        plan_id = self._next_id("payment_plans", "PLN", 5)
        plan = {"id": plan_id, "patient_id": patient_id, "account_ids": list(account_ids), "principal_cents": principal,
                "installment_cents": installment, "number_of_installments": n, "installments_paid": 0,
                "remaining_balance_cents": principal, "missed_payments": 0, "start_date": start.isoformat(),
                "next_due_date": self._add_months(start, 1).isoformat(), "status": "active"}
        self.state["payment_plans"][plan_id] = plan
        for acc in accounts:
            acc["status"] = "on_payment_plan"
            acc["payment_plan_id"] = plan_id
        return {"payment_plan": self._clone(plan), "accounts": self._clone(accounts)}

    def record_missed_plan_payment(self, payment_plan_id: str) -> dict:
        """Record a missed installment; after 2 misses the plan defaults and its accounts return to self_pay_due.

        Args:
            payment_plan_id: Plan whose installment was missed, e.g. "PLN-00007".
        """
        plan = self._get("payment_plans", payment_plan_id, "payment plan")
        if plan["status"] != "active":
            raise ToolError(f"Payment plan {payment_plan_id} is {plan['status']}, not active.")
        if plan["next_due_date"] and date.fromisoformat(plan["next_due_date"]) >= self.clock.today():
            raise ToolError(f"The installment due {plan['next_due_date']} is not past due yet.")
        plan["missed_payments"] += 1
        released = []
        if plan["missed_payments"] >= MISSED_PAYMENTS_TO_DEFAULT:
            plan["status"] = "defaulted"
            plan["next_due_date"] = None
            for aid in plan["account_ids"]:
                acc = self.state["accounts"].get(aid)
                if acc and acc["status"] == "on_payment_plan" and acc["balance_cents"] > 0:
                    acc["status"] = "self_pay_due"
                    acc["payment_plan_id"] = None
                    released.append(acc)
        elif plan["next_due_date"]:
            plan["next_due_date"] = self._add_months(date.fromisoformat(plan["next_due_date"]), 1).isoformat()
        return {"payment_plan": self._clone(plan), "released_accounts": self._clone(released)}

    def issue_statement(self, patient_id: str, statement_date: str | None = None) -> dict:
        """Issue a patient statement covering all accounts that currently have something due.

        Args:
            patient_id: Patient to bill, e.g. "PAT-0042".
            statement_date: Statement date, YYYY-MM-DD; defaults to today.
        """
        self._get("patients", patient_id, "patient")
        stmt_date = self._parse_date(statement_date, "statement_date") if statement_date else self.clock.today()
        accounts = sorted((a for a in self.state["accounts"].values()
                           if a["patient_id"] == patient_id and a["balance_cents"] > 0
                           and a["status"] in ("self_pay_due", "on_payment_plan")),
                          key=lambda a: (a["service_date_from"], a["id"]))
        if not accounts:
            raise ToolError(f"Patient {patient_id} has no accounts with a balance that is not pending insurance.")
        amount, plans_counted = 0, set()
        for a in accounts:
            plan = self.state["payment_plans"].get(a["payment_plan_id"]) if a["payment_plan_id"] else None
            if a["status"] == "on_payment_plan" and plan and plan["status"] == "active":
                if plan["id"] not in plans_counted:
                    plans_counted.add(plan["id"])
                    amount += min(plan["installment_cents"], plan["remaining_balance_cents"])
            else:
                amount += a["balance_cents"]
        previous = [s for s in self.state["statements"].values() if s["patient_id"] == patient_id]
        for s in previous:
            if s["status"] in ("issued", "past_due"):
                s["status"] = "superseded"
        stmt_id = self._next_id("statements", "STM", 6)
        stmt = {"id": stmt_id, "patient_id": patient_id, "account_ids": [a["id"] for a in accounts],
                "statement_date": stmt_date.isoformat(), "due_date": (stmt_date + timedelta(days=30)).isoformat(),
                "amount_due_cents": amount, "sequence_number": len(previous) + 1, "status": "issued"}
        self.state["statements"][stmt_id] = stmt
        return {"statement": self._clone(stmt)}
