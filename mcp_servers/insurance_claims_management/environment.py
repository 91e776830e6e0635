from datetime import date, datetime, timedelta
from typing import Any, Literal
import re

from envmint_runtime import Environment, ToolError

LOSS_TYPES = ("collision", "theft", "vandalism", "fire", "water_damage", "wind_hail", "glass",
              "bodily_injury", "property_damage", "medical", "rental")
DOC_TYPES = ("police_report", "photo", "repair_estimate", "invoice", "medical_record",
             "proof_of_ownership", "id_document", "other")
DENIAL_REASONS = ("not_covered", "policy_inactive", "below_deductible", "limit_exhausted",
                  "insufficient_documentation", "late_filing", "excluded_peril", "suspected_fraud")
CLAIM_STATUSES = ("submitted", "under_review", "info_requested", "approved", "denied",
                  "appealed", "paid", "closed", "withdrawn")
OPEN_STATUSES = ("submitted", "under_review", "info_requested", "approved", "appealed")
FINAL_STATUSES = ("closed", "withdrawn")
ALLOWED_TRANSITIONS = frozenset({
    ("submitted", "under_review"), ("submitted", "withdrawn"),
    ("under_review", "info_requested"), ("under_review", "approved"),
    ("under_review", "denied"), ("under_review", "withdrawn"),
    ("info_requested", "under_review"), ("info_requested", "denied"),
    ("info_requested", "withdrawn"),
    ("approved", "paid"),
    ("denied", "appealed"), ("denied", "closed"),
    ("appealed", "approved"), ("appealed", "denied"),
    ("paid", "closed"),
})
DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"
STATE_PATTERN = r"^[A-Z]{2}$"


class InsuranceClaimsManagementSystem(Environment):
    """Property & casualty claims system: policies, coverages, claims, documents, appeals, payments."""

    # ------------------------------------------------------------------ helpers
    def _clone(self, obj: Any) -> Any:
        if isinstance(obj, dict):
            return {k: self._clone(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [self._clone(v) for v in obj]
        return obj

    def _parse_date(self, value: Any, field: str) -> date:
        if not isinstance(value, str) or not re.match(DATE_PATTERN, value):
            raise ToolError(f"{field} must be a date in YYYY-MM-DD format, got {value!r}.")
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise ToolError(f"{field} {value!r} is not a valid calendar date.")

    def _parse_dt(self, value: str) -> datetime:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))

    def _check_enum(self, value: Any, allowed: tuple, field: str) -> None:
        if value not in allowed:
            raise ToolError(f"{field} must be one of: {', '.join(allowed)}; got {value!r}.")

    def _next_id(self, collection: str, prefix: str, width: int) -> str:
        highest = 0
        pattern = re.compile(rf"^{prefix}-(\d+)$")
        for key in self.state[collection]:
            m = pattern.match(key)
            if m:
                highest = max(highest, int(m.group(1)))
        return f"{prefix}-{highest + 1:0{width}d}"

    def _new_reference_number(self, claim_id: str) -> str:
        taken = {c["reference_number"] for c in self.state["claims"].values()}
        digits = claim_id.split("-")[1]
        candidate = f"CL{digits}"
        suffix = 0
        while candidate in taken:
            suffix += 1
            candidate = f"CL{digits}{suffix:02d}"
        return candidate

    def _get_policyholder(self, policyholder_id: str) -> dict:
        ph = self.state["policyholders"].get(policyholder_id)
        if ph is None:
            raise ToolError(f"No policyholder with id {policyholder_id!r}.")
        return ph

    def _get_policy(self, policy_id: str) -> dict:
        policy = self.state["policies"].get(policy_id)
        if policy is None:
            raise ToolError(f"No policy with id {policy_id!r}.")
        return policy

    def _get_coverage(self, coverage_id: str) -> dict:
        cov = self.state["coverages"].get(coverage_id)
        if cov is None:
            raise ToolError(f"No coverage with id {coverage_id!r}.")
        return cov

    def _get_adjuster(self, adjuster_id: str) -> dict:
        adj = self.state["adjusters"].get(adjuster_id)
        if adj is None:
            raise ToolError(f"No adjuster with id {adjuster_id!r}.")
        return adj

    def _get_claim(self, claim_id: str) -> dict:
        claim = self.state["claims"].get(claim_id)
        if claim is None:
            raise ToolError(f"No claim with id {claim_id!r}.")
        return claim

    def _find_claim(self, claim_id: str | None, reference_number: str | None) -> dict:
        if not claim_id and not reference_number:
            raise ToolError("Provide claim_id or reference_number.")
        if claim_id:
            claim = self._get_claim(claim_id)
            if reference_number and claim["reference_number"] != reference_number.strip().upper():
                raise ToolError(f"Claim {claim_id} has reference number {claim['reference_number']}, "
                                f"not {reference_number!r}.")
            return claim
        ref = reference_number.strip().upper()
        for claim in self.state["claims"].values():
            if claim["reference_number"] == ref:
                return claim
        raise ToolError(f"No claim with reference number {reference_number!r}.")

    def _get_appeal(self, appeal_id: str) -> dict:
        appeal = self.state["appeals"].get(appeal_id)
        if appeal is None:
            raise ToolError(f"No appeal with id {appeal_id!r}.")
        return appeal

    def _claim_appeal(self, claim_id: str) -> dict | None:
        for appeal in self.state["appeals"].values():
            if appeal["claim_id"] == claim_id:
                return appeal
        return None

    def _claim_documents(self, claim_id: str) -> list:
        docs = [d for d in self.state["documents"].values() if d["claim_id"] == claim_id]
        return sorted(docs, key=lambda d: (d["uploaded_at"], d["id"]))

    def _claim_payments(self, claim_id: str) -> list:
        pays = [p for p in self.state["payments"].values() if p["claim_id"] == claim_id]
        return sorted(pays, key=lambda p: (p["issued_at"], p["id"]))

    def _remaining_aggregate(self, coverage: dict) -> int:
        return max(0, coverage["aggregate_limit_cents"] - coverage["paid_to_date_cents"])

    def _open_claim_count(self, adjuster_id: str, exclude_claim_id: str | None = None) -> int:
        return sum(1 for c in self.state["claims"].values()
                   if c["adjuster_id"] == adjuster_id and c["status"] in OPEN_STATUSES
                   and c["id"] != exclude_claim_id)

    def _adjuster_issues(self, adjuster: dict, claim: dict, policy: dict) -> list:
        issues = []
        if not adjuster["is_active"]:
            issues.append("adjuster is not active")
        if claim["loss_state"] not in adjuster["licensed_states"]:
            issues.append(f"not licensed in {claim['loss_state']}")
        if policy["line"] not in adjuster["lines"]:
            issues.append(f"does not handle {policy['line']} claims")
        count = self._open_claim_count(adjuster["id"], exclude_claim_id=claim["id"])
        if count >= adjuster["max_open_claims"]:
            issues.append(f"at capacity ({count} of {adjuster['max_open_claims']} open claims)")
        return issues

    def _policy_period_issue(self, policy: dict, loss: date) -> str | None:
        eff = date.fromisoformat(policy["effective_date"])
        exp = date.fromisoformat(policy["expiration_date"])
        if loss < eff:
            return f"loss date {loss.isoformat()} is before the policy effective date {policy['effective_date']}"
        if loss > exp:
            return f"loss date {loss.isoformat()} is after the policy expiration date {policy['expiration_date']}"
        if policy["status"] == "cancelled" and policy.get("cancellation_date"):
            if loss >= date.fromisoformat(policy["cancellation_date"]):
                return (f"loss date {loss.isoformat()} is on or after the policy cancellation date "
                        f"{policy['cancellation_date']}")
        return None

    def _require_transition(self, claim: dict, new_status: str) -> None:
        if (claim["status"], new_status) not in ALLOWED_TRANSITIONS:
            raise ToolError(f"Claim {claim['id']} is {claim['status']}; it cannot move to {new_status}.")

    def _set_status(self, claim: dict, new_status: str, by: str, note: str | None = None) -> None:
        claim["status"] = new_status
        entry = {"status": new_status, "at": self.clock.iso(), "by": by}
        if note:
            entry["note"] = note
        claim["status_history"].append(entry)

    def _actor(self, claim: dict) -> str:
        return claim["adjuster_id"] or "system"

    def _document_check(self, claim: dict) -> dict:
        accepted = {d["doc_type"] for d in self._claim_documents(claim["id"])
                    if d["review_status"] == "accepted"}
        required = []
        if claim["loss_type"] in ("theft", "vandalism"):
            required.append("police_report")
        if claim["loss_type"] in ("bodily_injury", "medical"):
            required.append("medical_record")
        missing = [t for t in required if t not in accepted]
        return {
            "has_accepted_document": bool(accepted),
            "required_doc_types": required,
            "missing_accepted_doc_types": missing,
            "requirements_met": bool(accepted) and not missing,
        }

    def _require_documents(self, claim: dict) -> None:
        check = self._document_check(claim)
        if not check["has_accepted_document"]:
            raise ToolError(f"Claim {claim['id']} has no accepted document; review or request documents first.")
        if check["missing_accepted_doc_types"]:
            raise ToolError(f"Claim {claim['id']} ({claim['loss_type']}) needs an accepted "
                            f"{', '.join(check['missing_accepted_doc_types'])} before approval.")

    def _settlement(self, claim: dict, coverage: dict, approved: int) -> dict:
        deductible = min(coverage["deductible_cents"], approved)
        after_deductible = approved - deductible
        remaining = self._remaining_aggregate(coverage)
        payable = max(0, min(after_deductible, coverage["per_claim_limit_cents"], remaining))
        if payable < after_deductible:
            limiting = "aggregate_remaining" if remaining <= coverage["per_claim_limit_cents"] else "per_claim_limit"
        elif deductible > 0:
            limiting = "deductible"
        else:
            limiting = "none"
        return {
            "approved_amount_cents": approved,
            "deductible_applied_cents": deductible,
            "payable_amount_cents": payable,
            "limiting_factor": limiting,
            "per_claim_limit_cents": coverage["per_claim_limit_cents"],
            "remaining_aggregate_cents": remaining,
        }

    def _validate_approved_amount(self, claim: dict, amount: Any, field: str) -> int:
        if not isinstance(amount, int) or isinstance(amount, bool):
            raise ToolError(f"{field} must be an integer number of cents.")
        if amount < 1 or amount > claim["claimed_amount_cents"]:
            raise ToolError(f"{field} must be between 1 and the claimed amount "
                            f"{claim['claimed_amount_cents']} cents; got {amount}.")
        return amount

    def _zero_payable_error(self, settlement: dict) -> ToolError:
        reason = "below_deductible" if settlement["limiting_factor"] in ("deductible", "none") else "limit_exhausted"
        return ToolError(f"The payable amount would be 0 (limiting factor: {settlement['limiting_factor']}); "
                         f"approval is refused. Deny the claim with reason {reason} instead.")

    def _claim_summary(self, claim: dict) -> dict:
        return {
            "id": claim["id"],
            "reference_number": claim["reference_number"],
            "policy_id": claim["policy_id"],
            "coverage_id": claim["coverage_id"],
            "policyholder_id": claim["policyholder_id"],
            "loss_type": claim["loss_type"],
            "loss_date": claim["loss_date"],
            "filed_date": claim["filed_date"],
            "loss_state": claim["loss_state"],
            "status": claim["status"],
            "adjuster_id": claim["adjuster_id"],
            "claimed_amount_cents": claim["claimed_amount_cents"],
            "payable_amount_cents": claim["payable_amount_cents"],
            "paid_amount_cents": claim["paid_amount_cents"],
            "info_request_due_date": claim["info_request"]["due_date"] if claim.get("info_request") else None,
        }

    def _coverage_view(self, coverage: dict) -> dict:
        view = self._clone(coverage)
        view["remaining_aggregate_cents"] = self._remaining_aggregate(coverage)
        return view

    # ------------------------------------------------------------------ queries
    def search_policyholders(self, policyholder_id: str | None = None, name: str | None = None,
                             email: str | None = None, phone: str | None = None) -> dict:
        """Find policyholders by id, partial name, email or phone, with a summary of their policies.

        Args:
            policyholder_id: Exact policyholder id, e.g. "PH-00012".
            name: Case-insensitive substring of the policyholder name.
            email: Exact email address (case-insensitive).
            phone: Phone number; matched ignoring spaces and punctuation.
        """
        phone_digits = re.sub(r"\D", "", phone) if phone else None
        if phone is not None and not phone_digits:
            raise ToolError("phone must contain digits.")
        results = []
        for ph in self.state["policyholders"].values():
            if policyholder_id and ph["id"] != policyholder_id:
                continue
            if name and name.strip().lower() not in ph["name"].lower():
                continue
            if email and ph["email"].lower() != email.strip().lower():
                continue
            if phone_digits:
                own = re.sub(r"\D", "", ph.get("phone") or "")
                if not own or not (own == phone_digits or (len(phone_digits) >= 7 and own.endswith(phone_digits))
                                   or (len(own) >= 7 and phone_digits.endswith(own))):
                    continue
            policies = [{
                "id": p["id"], "policy_number": p["policy_number"], "line": p["line"],
                "status": p["status"], "effective_date": p["effective_date"],
                "expiration_date": p["expiration_date"],
            } for p in sorted(self.state["policies"].values(), key=lambda p: p["id"])
                if p["policyholder_id"] == ph["id"]]
            entry = self._clone(ph)
            entry["policies"] = policies
            results.append(entry)
        results.sort(key=lambda r: r["id"])
        return {"policyholders": results, "count": len(results)}

    def get_policy(self, policy_id: str | None = None, policy_number: str | None = None) -> dict:
        """Get a policy with its policyholder, coverages (with remaining aggregate) and claim summary.

        Args:
            policy_id: Policy id, e.g. "POL-000123".
            policy_number: Policy number, e.g. "AUT-1234567".
        """
        if not policy_id and not policy_number:
            raise ToolError("Provide policy_id or policy_number.")
        if policy_id:
            policy = self._get_policy(policy_id)
            if policy_number and policy["policy_number"] != policy_number.strip().upper():
                raise ToolError(f"Policy {policy_id} has number {policy['policy_number']}, not {policy_number!r}.")
        else:
            number = policy_number.strip().upper()
            policy = next((p for p in self.state["policies"].values() if p["policy_number"] == number), None)
            if policy is None:
                raise ToolError(f"No policy with number {policy_number!r}.")
        holder = self.state["policyholders"].get(policy["policyholder_id"])
        coverages = [self._coverage_view(c) for c in sorted(self.state["coverages"].values(), key=lambda c: c["id"])
                     if c["policy_id"] == policy["id"]]
        claims = [{
            "id": c["id"], "reference_number": c["reference_number"], "status": c["status"],
            "loss_type": c["loss_type"], "loss_date": c["loss_date"], "coverage_id": c["coverage_id"],
            "claimed_amount_cents": c["claimed_amount_cents"], "paid_amount_cents": c["paid_amount_cents"],
        } for c in sorted(self.state["claims"].values(), key=lambda c: c["id"]) if c["policy_id"] == policy["id"]]
        return {
            "policy": self._clone(policy),
            "policyholder": self._clone(holder) if holder else None,
            "coverages": coverages,
            "claims": claims,
        }

    def check_coverage_eligibility(self, policy_id: str, loss_type: Literal["collision", "theft", "vandalism", "fire", "water_damage", "wind_hail", "glass", "bodily_injury", "property_damage", "medical", "rental"], loss_date: str) -> dict:
        """Check which coverages of a policy would accept a loss of a given type on a given date.

        Args:
            policy_id: Policy id, e.g. "POL-000123".
            loss_type: Type of loss; one of collision, theft, vandalism, fire, water_damage, wind_hail, glass, bodily_injury, property_damage, medical, rental.
            loss_date: Date of loss, YYYY-MM-DD.
        """
        policy = self._get_policy(policy_id)
        self._check_enum(loss_type, LOSS_TYPES, "loss_type")
        loss = self._parse_date(loss_date, "loss_date")
        today = self.clock.today()
        period_issue = self._policy_period_issue(policy, loss)
        filing_issue = None
        if loss > today:
            filing_issue = "loss date is in the future"
        elif (today - loss).days > 365:
            filing_issue = "more than 365 days have passed since the loss (late filing)"
        results = []
        for cov in sorted(self.state["coverages"].values(), key=lambda c: c["id"]):
            if cov["policy_id"] != policy_id:
                continue
            covers = loss_type in cov["covered_loss_types"]
            reasons = []
            if not covers:
                reasons.append(f"{cov['coverage_type']} does not cover {loss_type} losses")
            if period_issue:
                reasons.append(period_issue)
            if filing_issue:
                reasons.append(filing_issue)
            remaining = self._remaining_aggregate(cov)
            warnings = []
            if covers and remaining == 0:
                warnings.append("aggregate limit exhausted; a claim would be denied as limit_exhausted")
            results.append({
                "coverage_id": cov["id"],
                "coverage_type": cov["coverage_type"],
                "covers_loss_type": covers,
                "loss_date_in_coverage_period": period_issue is None,
                "deductible_cents": cov["deductible_cents"],
                "per_claim_limit_cents": cov["per_claim_limit_cents"],
                "remaining_aggregate_cents": remaining,
                "eligible": not reasons,
                "reasons": reasons,
                "warnings": warnings,
            })
        return {
            "policy_id": policy_id,
            "policy_status": policy["status"],
            "loss_type": loss_type,
            "loss_date": loss.isoformat(),
            "coverages": results,
            "eligible_coverage_ids": [r["coverage_id"] for r in results if r["eligible"]],
        }

    def get_claim(self, claim_id: str | None = None, reference_number: str | None = None) -> dict:
        """Get one claim with its policy, coverage, documents, payments and appeal.

        Args:
            claim_id: Claim id, e.g. "CLM-000045".
            reference_number: Claim reference number (6-10 uppercase letters/digits); matched case-insensitively.
        """
        claim = self._find_claim(claim_id, reference_number)
        policy = self.state["policies"].get(claim["policy_id"])
        coverage = self.state["coverages"].get(claim["coverage_id"])
        payments = self._claim_payments(claim["id"])
        appeal = self._claim_appeal(claim["id"])
        return {
            "claim": self._clone(claim),
            "policy": {
                "id": policy["id"], "policy_number": policy["policy_number"], "line": policy["line"],
                "state": policy["state"], "status": policy["status"],
                "effective_date": policy["effective_date"], "expiration_date": policy["expiration_date"],
                "cancellation_date": policy["cancellation_date"],
            } if policy else None,
            "coverage": self._coverage_view(coverage) if coverage else None,
            "documents": self._clone(self._claim_documents(claim["id"])),
            "document_requirements": self._document_check(claim),
            "payments": self._clone(payments),
            "non_voided_payment_total_cents": sum(p["amount_cents"] for p in payments if p["status"] != "voided"),
            "appeal": self._clone(appeal) if appeal else None,
        }

    def search_claims(self, policyholder_id: str | None = None, policy_id: str | None = None,
                      status: Literal["submitted", "under_review", "info_requested", "approved", "denied", "appealed", "paid", "closed", "withdrawn"] | None = None, adjuster_id: str | None = None,
                      unassigned_only: bool | None = None, loss_type: Literal["collision", "theft", "vandalism", "fire", "water_damage", "wind_hail", "glass", "bodily_injury", "property_damage", "medical", "rental"] | None = None,
                      loss_state: str | None = None, filed_from: str | None = None,
                      filed_to: str | None = None, info_request_overdue: bool | None = None) -> dict:
        """Search and filter claims; returns summaries sorted by filed_date descending.

        Args:
            policyholder_id: Only claims of this policyholder, e.g. "PH-00012".
            policy_id: Only claims on this policy, e.g. "POL-000123".
            status: Only claims in this status; one of submitted, under_review, info_requested, approved, denied, appealed, paid, closed, withdrawn.
            adjuster_id: Only claims assigned to this adjuster, e.g. "ADJ-007".
            unassigned_only: If true, only claims with no adjuster.
            loss_type: Only claims of this loss type; one of collision, theft, vandalism, fire, water_damage, wind_hail, glass, bodily_injury, property_damage, medical, rental.
            loss_state: Two-letter state code of the loss.
            filed_from: Earliest filed_date, YYYY-MM-DD, inclusive.
            filed_to: Latest filed_date, YYYY-MM-DD, inclusive.
            info_request_overdue: If true, only info_requested claims whose due date is before today.
        """
        if status is not None:
            self._check_enum(status, CLAIM_STATUSES, "status")
        if loss_type is not None:
            self._check_enum(loss_type, LOSS_TYPES, "loss_type")
        start = self._parse_date(filed_from, "filed_from") if filed_from else None
        end = self._parse_date(filed_to, "filed_to") if filed_to else None
        state_code = loss_state.strip().upper() if loss_state else None
        today = self.clock.today()
        matches = []
        for c in self.state["claims"].values():
            if policyholder_id and c["policyholder_id"] != policyholder_id:
                continue
            if policy_id and c["policy_id"] != policy_id:
                continue
            if status and c["status"] != status:
                continue
            if adjuster_id and c["adjuster_id"] != adjuster_id:
                continue
            if unassigned_only and c["adjuster_id"] is not None:
                continue
            if loss_type and c["loss_type"] != loss_type:
                continue
            if state_code and c["loss_state"] != state_code:
                continue
            filed = date.fromisoformat(c["filed_date"])
            if start and filed < start:
                continue
            if end and filed > end:
                continue
            if info_request_overdue:
                if c["status"] != "info_requested" or not c.get("info_request"):
                    continue
                if date.fromisoformat(c["info_request"]["due_date"]) >= today:
                    continue
            matches.append(c)
        matches.sort(key=lambda c: (c["filed_date"], c["id"]), reverse=True)
        return {"claims": [self._claim_summary(c) for c in matches], "count": len(matches)}

    def list_eligible_adjusters(self, claim_id: str, include_ineligible: bool | None = False) -> dict:
        """List adjusters who may be assigned to a claim (active, licensed, right line, spare capacity).

        Args:
            claim_id: Claim id, e.g. "CLM-000045".
            include_ineligible: Also list non-qualifying adjusters with the reasons. Default false.
        """
        claim = self._get_claim(claim_id)
        policy = self._get_policy(claim["policy_id"])
        eligible, ineligible = [], []
        for adj in sorted(self.state["adjusters"].values(), key=lambda a: a["id"]):
            issues = self._adjuster_issues(adj, claim, policy)
            entry = {
                "id": adj["id"], "name": adj["name"],
                "open_claims": self._open_claim_count(adj["id"], exclude_claim_id=claim["id"]),
                "max_open_claims": adj["max_open_claims"],
                "is_current_assignee": claim["adjuster_id"] == adj["id"],
            }
            if issues:
                entry["reasons"] = issues
                ineligible.append(entry)
            else:
                eligible.append(entry)
        eligible.sort(key=lambda e: (e["open_claims"], e["id"]))
        result = {"claim_id": claim_id, "loss_state": claim["loss_state"], "line": policy["line"],
                  "eligible_adjusters": eligible}
        if include_ineligible:
            result["ineligible_adjusters"] = ineligible
        return result

    def calculate_claim_settlement(self, claim_id: str, approved_amount_cents: int) -> dict:
        """Preview deductible, payable amount and document readiness for a proposed approved amount.

        Args:
            claim_id: Claim id, e.g. "CLM-000045".
            approved_amount_cents: Proposed approved amount in cents, between 1 and the claimed amount.
        """
        claim = self._get_claim(claim_id)
        amount = self._validate_approved_amount(claim, approved_amount_cents, "approved_amount_cents")
        coverage = self._get_coverage(claim["coverage_id"])
        settlement = self._settlement(claim, coverage, amount)
        docs = self._document_check(claim)
        settlement.update({
            "claim_id": claim_id,
            "claim_status": claim["status"],
            "claimed_amount_cents": claim["claimed_amount_cents"],
            "deductible_cents": coverage["deductible_cents"],
            "approvable_now": claim["status"] in ("under_review", "appealed")
                              and docs["requirements_met"] and settlement["payable_amount_cents"] > 0,
            "document_requirements_met": docs["requirements_met"],
            "has_accepted_document": docs["has_accepted_document"],
            "missing_accepted_doc_types": docs["missing_accepted_doc_types"],
        })
        return settlement

    # ------------------------------------------------------------------ mutations
    def file_claim(self, policy_id: str, coverage_id: str, loss_type: Literal["collision", "theft", "vandalism", "fire", "water_damage", "wind_hail", "glass", "bodily_injury", "property_damage", "medical", "rental"], loss_date: str,
                   loss_city: str, loss_state: str, description: str, claimed_amount_cents: int,
                   filed_by: Literal["policyholder", "agent"], filed_date: str | None = None) -> dict:
        """File a new claim against a coverage of a policy; it starts in status submitted.

        Args:
            policy_id: Policy id the claim is filed on, e.g. "POL-000123".
            coverage_id: Coverage id of that policy, e.g. "COV-000456".
            loss_type: One of collision, theft, vandalism, fire, water_damage, wind_hail, glass, bodily_injury, property_damage, medical, rental.
            loss_date: Date of loss, YYYY-MM-DD.
            loss_city: City where the loss occurred.
            loss_state: Two-letter state code where the loss occurred, e.g. "CA".
            description: Description of what happened.
            claimed_amount_cents: Amount claimed in cents, greater than 0.
            filed_by: Who files the claim; one of policyholder, agent.
            filed_date: Filing date YYYY-MM-DD; defaults to today.
        """
        policy = self._get_policy(policy_id)
        coverage = self._get_coverage(coverage_id)
        if coverage["policy_id"] != policy_id:
            raise ToolError(f"Coverage {coverage_id} belongs to policy {coverage['policy_id']}, not {policy_id}.")
        self._check_enum(loss_type, LOSS_TYPES, "loss_type")
        self._check_enum(filed_by, ("policyholder", "agent"), "filed_by")
        if loss_type not in coverage["covered_loss_types"]:
            raise ToolError(f"Coverage {coverage_id} ({coverage['coverage_type']}) does not cover {loss_type} "
                            f"losses; it covers: {', '.join(coverage['covered_loss_types'])}.")
        loss = self._parse_date(loss_date, "loss_date")
        filed = self._parse_date(filed_date, "filed_date") if filed_date else self.clock.today()
        if filed > self.clock.today():
            raise ToolError("filed_date cannot be in the future.")
        issue = self._policy_period_issue(policy, loss)
        if issue:
            raise ToolError(f"Cannot file: {issue}.")
        if filed < loss:
            raise ToolError("filed_date must be on or after loss_date.")
        if (filed - loss).days > 365:
            raise ToolError("Claims must be filed within 365 days of the loss date.")
        if not isinstance(claimed_amount_cents, int) or isinstance(claimed_amount_cents, bool) \
                or claimed_amount_cents <= 0:
            raise ToolError("claimed_amount_cents must be an integer greater than 0.")
        if not isinstance(loss_city, str) or not loss_city.strip():
            raise ToolError("loss_city must be a non-empty string.")
        state_code = loss_state.strip().upper() if isinstance(loss_state, str) else ""
        if not re.match(STATE_PATTERN, state_code):
            raise ToolError("loss_state must be a two-letter state code such as 'CA'.")
        if not isinstance(description, str) or not description.strip():
            raise ToolError("description must describe what happened.")
        if policy["policyholder_id"] not in self.state["policyholders"]:
            raise ToolError(f"Policy {policy_id} references an unknown policyholder.")

        claim_id = self._next_id("claims", "CLM", 6)
        claim = {
            "id": claim_id,
            "reference_number": self._new_reference_number(claim_id),
            "policy_id": policy_id,
            "coverage_id": coverage_id,
            "policyholder_id": policy["policyholder_id"],
            "filed_by": filed_by,
            "loss_date": loss.isoformat(),
            "filed_date": filed.isoformat(),
            "loss_type": loss_type,
            "loss_city": loss_city.strip(),
            "loss_state": state_code,
            "description": description.strip(),
            "claimed_amount_cents": claimed_amount_cents,
            "approved_amount_cents": None,
            "deductible_applied_cents": 0,
            "payable_amount_cents": None,
            "paid_amount_cents": 0,
            "status": "submitted",
            "adjuster_id": None,
            "denial_reason": None,
            "info_request": None,
            "status_history": [{"status": "submitted", "at": self.clock.iso(), "by": filed_by,
                                "note": "Claim filed"}],
        }
        self.state["claims"][claim_id] = claim
        return {"claim": self._clone(claim)}

    def assign_claim_adjuster(self, claim_id: str, adjuster_id: str) -> dict:
        """Assign or reassign an adjuster to an open claim.

        Args:
            claim_id: Claim id, e.g. "CLM-000045".
            adjuster_id: Adjuster id, e.g. "ADJ-007".
        """
        claim = self._get_claim(claim_id)
        adjuster = self._get_adjuster(adjuster_id)
        if claim["status"] not in OPEN_STATUSES:
            raise ToolError(f"Claim {claim_id} is {claim['status']}; only open claims "
                            f"({', '.join(OPEN_STATUSES)}) can be assigned.")
        if claim["adjuster_id"] == adjuster_id:
            raise ToolError(f"Adjuster {adjuster_id} is already assigned to claim {claim_id}.")
        policy = self._get_policy(claim["policy_id"])
        issues = self._adjuster_issues(adjuster, claim, policy)
        if issues:
            raise ToolError(f"Adjuster {adjuster_id} cannot take claim {claim_id}: {'; '.join(issues)}. "
                            f"Use list_eligible_adjusters to find a qualified adjuster.")
        previous = claim["adjuster_id"]
        claim["adjuster_id"] = adjuster_id
        return {
            "claim": self._clone(claim),
            "previous_adjuster_id": previous,
            "adjuster_id": adjuster_id,
            "adjuster_open_claims": self._open_claim_count(adjuster_id),
            "adjuster_max_open_claims": adjuster["max_open_claims"],
        }

    def start_claim_review(self, claim_id: str, note: str | None = None) -> dict:
        """Move a submitted claim to under_review under its assigned adjuster.

        Args:
            claim_id: Claim id, e.g. "CLM-000045".
            note: Optional note for the status history.
        """
        claim = self._get_claim(claim_id)
        self._require_transition(claim, "under_review")
        if claim["status"] != "submitted":
            raise ToolError(f"Claim {claim_id} is {claim['status']}; only submitted claims can start review.")
        if not claim["adjuster_id"]:
            raise ToolError(f"Claim {claim_id} has no adjuster; assign one with assign_claim_adjuster first.")
        adjuster = self._get_adjuster(claim["adjuster_id"])
        issues = self._adjuster_issues(adjuster, claim, self._get_policy(claim["policy_id"]))
        if issues:
            raise ToolError(f"Assigned adjuster {adjuster['id']} no longer qualifies: {'; '.join(issues)}. "
                            f"Reassign the claim first.")
        self._set_status(claim, "under_review", adjuster["id"], note)
        return {"claim": self._clone(claim)}

    def request_claim_information(self, claim_id: str, requested_doc_types: list[Literal["police_report", "photo", "repair_estimate", "invoice", "medical_record", "proof_of_ownership", "id_document", "other"]], due_date: str,
                                  note: str | None = None) -> dict:
        """Request more documents, moving the claim from under_review to info_requested.

        Args:
            claim_id: Claim id, e.g. "CLM-000045".
            requested_doc_types: Non-empty list of distinct document types, each one of police_report, photo, repair_estimate, invoice, medical_record, proof_of_ownership, id_document, other.
            due_date: Due date YYYY-MM-DD, 7 to 30 days after today.
            note: Optional explanation for the claimant.
        """
        claim = self._get_claim(claim_id)
        if claim["status"] != "under_review":
            raise ToolError(f"Claim {claim_id} is {claim['status']}; information can only be requested while under_review.")
        if not isinstance(requested_doc_types, list) or not requested_doc_types:
            raise ToolError("requested_doc_types must be a non-empty list.")
        for t in requested_doc_types:
            self._check_enum(t, DOC_TYPES, "requested_doc_types item")
        if len(set(requested_doc_types)) != len(requested_doc_types):
            raise ToolError("requested_doc_types must not contain duplicates.")
        due = self._parse_date(due_date, "due_date")
        days = (due - self.clock.today()).days
        if days < 7 or days > 30:
            raise ToolError(f"due_date must be 7 to 30 days after today ({self.clock.today().isoformat()}); "
                            f"{due_date} is {days} days away.")
        info = {"requested_doc_types": list(requested_doc_types), "requested_at": self.clock.iso(),
                "due_date": due.isoformat()}
        if note:
            info["note"] = note
        claim["info_request"] = info
        self._set_status(claim, "info_requested", self._actor(claim),
                         note or f"Requested: {', '.join(requested_doc_types)}")
        return {"claim": self._clone(claim)}

    def upload_claim_document(self, claim_id: str, doc_type: Literal["police_report", "photo", "repair_estimate", "invoice", "medical_record", "proof_of_ownership", "id_document", "other"], file_name: str, size_bytes: int,
                              uploaded_by: Literal["policyholder", "agent", "adjuster"]) -> dict:
        """Upload a document to a claim (review_status pending); may complete an information request.

        Args:
            claim_id: Claim id, e.g. "CLM-000045".
            doc_type: One of police_report, photo, repair_estimate, invoice, medical_record, proof_of_ownership, id_document, other.
            file_name: File name, non-empty.
            size_bytes: File size in bytes, at least 1.
            uploaded_by: Who uploads it; one of policyholder, agent, adjuster.
        """
        claim = self._get_claim(claim_id)
        if claim["status"] in FINAL_STATUSES:
            raise ToolError(f"Claim {claim_id} is {claim['status']}; documents can no longer be uploaded.")
        self._check_enum(doc_type, DOC_TYPES, "doc_type")
        self._check_enum(uploaded_by, ("policyholder", "agent", "adjuster"), "uploaded_by")
        if not isinstance(file_name, str) or not file_name.strip():
            raise ToolError("file_name must be a non-empty string.")
        if not isinstance(size_bytes, int) or isinstance(size_bytes, bool) or size_bytes < 1:
            raise ToolError("size_bytes must be an integer of at least 1.")
        doc_id = self._next_id("documents", "DOC", 6)
        doc = {"id": doc_id, "claim_id": claim_id, "doc_type": doc_type, "file_name": file_name.strip(),
               "size_bytes": size_bytes, "uploaded_by": uploaded_by, "uploaded_at": self.clock.iso(),
               "review_status": "pending"}
        self.state["documents"][doc_id] = doc

        satisfied = False
        if claim["status"] == "info_requested" and claim.get("info_request"):
            requested_at = self._parse_dt(claim["info_request"]["requested_at"])
            have = {d["doc_type"] for d in self._claim_documents(claim_id)
                    if d["review_status"] in ("accepted", "pending")
                    and self._parse_dt(d["uploaded_at"]) >= requested_at}
            if all(t in have for t in claim["info_request"]["requested_doc_types"]):
                satisfied = True
                claim["info_request"] = None
                self._set_status(claim, "under_review", "system", "All requested documents received")
        return {"document": self._clone(doc), "claim_status": claim["status"],
                "info_request_satisfied": satisfied, "claim": self._clone(claim)}

    def review_claim_document(self, document_id: str, decision: Literal["accepted", "rejected"]) -> dict:
        """Accept or reject a pending claim document.

        Args:
            document_id: Document id, e.g. "DOC-000321".
            decision: One of accepted, rejected.
        """
        doc = self.state["documents"].get(document_id)
        if doc is None:
            raise ToolError(f"No document with id {document_id!r}.")
        self._check_enum(decision, ("accepted", "rejected"), "decision")
        if doc["review_status"] != "pending":
            raise ToolError(f"Document {document_id} was already {doc['review_status']}.")
        claim = self._get_claim(doc["claim_id"])
        if claim["status"] in FINAL_STATUSES:
            raise ToolError(f"Claim {claim['id']} is {claim['status']}; its documents can no longer be reviewed.")
        doc["review_status"] = decision
        return {"document": self._clone(doc), "claim_id": claim["id"], "claim_status": claim["status"],
                "document_requirements": self._document_check(claim)}

    def approve_claim(self, claim_id: str, approved_amount_cents: int, note: str | None = None) -> dict:
        """Approve a claim under review and compute deductible and payable amounts.

        Args:
            claim_id: Claim id, e.g. "CLM-000045".
            approved_amount_cents: Approved amount in cents, from 1 to the claimed amount.
            note: Optional note for the status history.
        """
        claim = self._get_claim(claim_id)
        if claim["status"] != "under_review":
            raise ToolError(f"Claim {claim_id} is {claim['status']}; only claims under_review can be approved.")
        amount = self._validate_approved_amount(claim, approved_amount_cents, "approved_amount_cents")
        self._require_documents(claim)
        coverage = self._get_coverage(claim["coverage_id"])
        settlement = self._settlement(claim, coverage, amount)
        if settlement["payable_amount_cents"] <= 0:
            raise self._zero_payable_error(settlement)
        claim["approved_amount_cents"] = amount
        claim["deductible_applied_cents"] = settlement["deductible_applied_cents"]
        claim["payable_amount_cents"] = settlement["payable_amount_cents"]
        claim["denial_reason"] = None
        self._set_status(claim, "approved", self._actor(claim), note)
        return {"claim": self._clone(claim), "settlement": settlement}

    def deny_claim(self, claim_id: str, denial_reason: Literal["not_covered", "policy_inactive", "below_deductible", "limit_exhausted", "insufficient_documentation", "late_filing", "excluded_peril", "suspected_fraud"], note: str | None = None) -> dict:
        """Deny a claim that is under review or awaiting information.

        Args:
            claim_id: Claim id, e.g. "CLM-000045".
            denial_reason: One of not_covered, policy_inactive, below_deductible, limit_exhausted, insufficient_documentation, late_filing, excluded_peril, suspected_fraud.
            note: Optional explanation for the status history.
        """
        claim = self._get_claim(claim_id)
        if claim["status"] not in ("under_review", "info_requested"):
            raise ToolError(f"Claim {claim_id} is {claim['status']}; only claims under_review or "
                            f"info_requested can be denied.")
        self._check_enum(denial_reason, DENIAL_REASONS, "denial_reason")
        if claim["status"] == "info_requested" and denial_reason == "insufficient_documentation":
            due = date.fromisoformat(claim["info_request"]["due_date"]) if claim.get("info_request") else None
            if due is not None and self.clock.today() <= due:
                raise ToolError(f"The information request is due {due.isoformat()}; a claim can be denied for "
                                f"insufficient_documentation only after the due date has passed.")
        claim["denial_reason"] = denial_reason
        claim["approved_amount_cents"] = None
        claim["payable_amount_cents"] = None
        claim["deductible_applied_cents"] = 0
        claim["info_request"] = None
        self._set_status(claim, "denied", self._actor(claim), note or f"Denied: {denial_reason}")
        return {"claim": self._clone(claim)}

    def withdraw_claim(self, claim_id: str, requested_by: Literal["policyholder", "agent"],
                       note: str | None = None) -> dict:
        """Withdraw a claim at the claimant's request before a decision; withdrawn is final.

        Args:
            claim_id: Claim id, e.g. "CLM-000045".
            requested_by: Who requests the withdrawal; one of policyholder, agent.
            note: Optional reason.
        """
        claim = self._get_claim(claim_id)
        self._check_enum(requested_by, ("policyholder", "agent"), "requested_by")
        if claim["status"] not in ("submitted", "under_review", "info_requested"):
            raise ToolError(f"Claim {claim_id} is {claim['status']}; only claims not yet decided "
                            f"(submitted, under_review, info_requested) can be withdrawn.")
        claim["info_request"] = None
        self._set_status(claim, "withdrawn", requested_by, note or "Withdrawn at claimant's request")
        return {"claim": self._clone(claim)}

    def issue_claim_payment(self, claim_id: str, amount_cents: int, payee_name: str,
                            method: Literal["direct_deposit", "check", "repair_shop_direct"]) -> dict:
        """Issue a payment on an approved claim; the claim becomes paid when fully paid.

        Args:
            claim_id: Claim id, e.g. "CLM-000045".
            amount_cents: Payment amount in cents, at least 1.
            payee_name: Name of the payee, non-empty.
            method: One of direct_deposit, check, repair_shop_direct.
        """
        claim = self._get_claim(claim_id)
        if claim["status"] != "approved":
            raise ToolError(f"Claim {claim_id} is {claim['status']}; payments can only be issued on approved claims.")
        if not isinstance(amount_cents, int) or isinstance(amount_cents, bool) or amount_cents < 1:
            raise ToolError("amount_cents must be an integer of at least 1.")
        if not isinstance(payee_name, str) or not payee_name.strip():
            raise ToolError("payee_name must be a non-empty string.")
        self._check_enum(method, ("direct_deposit", "check", "repair_shop_direct"), "method")
        payable = claim["payable_amount_cents"] or 0
        paid = sum(p["amount_cents"] for p in self._claim_payments(claim_id) if p["status"] != "voided")
        outstanding = payable - paid
        if amount_cents > outstanding:
            raise ToolError(f"Payment of {amount_cents} cents exceeds the claim's outstanding payable amount "
                            f"of {outstanding} cents (payable {payable}, already paid {paid}).")
        coverage = self._get_coverage(claim["coverage_id"])
        remaining = coverage["aggregate_limit_cents"] - coverage["paid_to_date_cents"]
        if amount_cents > remaining:
            raise ToolError(f"Payment of {amount_cents} cents would exceed coverage {coverage['id']}'s remaining "
                            f"aggregate limit of {max(0, remaining)} cents.")
        pay_id = self._next_id("payments", "PAY", 6)
        payment = {"id": pay_id, "claim_id": claim_id, "amount_cents": amount_cents,
                   "payee_name": payee_name.strip(), "method": method, "status": "issued",
                   "issued_at": self.clock.iso(), "voided_at": None}
        self.state["payments"][pay_id] = payment
        claim["paid_amount_cents"] = paid + amount_cents
        coverage["paid_to_date_cents"] += amount_cents
        if claim["paid_amount_cents"] == payable:
            self._set_status(claim, "paid", self._actor(claim), "Payable amount fully paid")
        return {"payment": self._clone(payment), "claim": self._clone(claim),
                "coverage_paid_to_date_cents": coverage["paid_to_date_cents"],
                "outstanding_payable_cents": payable - claim["paid_amount_cents"]}

    def void_claim_payment(self, payment_id: str, note: str | None = None) -> dict:
        """Void an issued (not yet cleared) payment and reverse its effect on the claim and coverage.

        Args:
            payment_id: Payment id, e.g. "PAY-000088".
            note: Optional reason for voiding.
        """
        payment = self.state["payments"].get(payment_id)
        if payment is None:
            raise ToolError(f"No payment with id {payment_id!r}.")
        if payment["status"] != "issued":
            raise ToolError(f"Payment {payment_id} is {payment['status']}; only issued payments can be voided.")
        claim = self._get_claim(payment["claim_id"])
        if claim["status"] not in ("approved", "paid"):
            raise ToolError(f"Claim {claim['id']} is {claim['status']}; payments can only be voided on "
                            f"approved or paid claims.")
        coverage = self._get_coverage(claim["coverage_id"])
        payment["status"] = "voided"
        payment["voided_at"] = self.clock.iso()
        claim["paid_amount_cents"] = max(0, claim["paid_amount_cents"] - payment["amount_cents"])
        coverage["paid_to_date_cents"] = max(0, coverage["paid_to_date_cents"] - payment["amount_cents"])
        if claim["status"] == "paid":
            self._set_status(claim, "approved", self._actor(claim),
                             note or f"Payment {payment_id} voided")
        return {"payment": self._clone(payment), "claim": self._clone(claim),
                "coverage_paid_to_date_cents": coverage["paid_to_date_cents"]}

    def file_appeal(self, claim_id: str, reason: str, filed_by: Literal["policyholder", "agent"]) -> dict:
        """Appeal a denied claim (once, within 60 days of the denial).

        Args:
            claim_id: Claim id, e.g. "CLM-000045".
            reason: Why the denial should be reconsidered, non-empty.
            filed_by: Who files the appeal; one of policyholder, agent.
        """
        claim = self._get_claim(claim_id)
        self._check_enum(filed_by, ("policyholder", "agent"), "filed_by")
        if not isinstance(reason, str) or not reason.strip():
            raise ToolError("reason must be a non-empty explanation.")
        if claim["status"] != "denied":
            raise ToolError(f"Claim {claim_id} is {claim['status']}; only denied claims can be appealed.")
        existing = self._claim_appeal(claim_id)
        if existing is not None:
            raise ToolError(f"Claim {claim_id} already had appeal {existing['id']} ({existing['status']}); "
                            f"a claim can be appealed only once.")
        denied_entries = [h for h in claim["status_history"] if h["status"] == "denied"]
        if denied_entries:
            denied_on = self._parse_dt(denied_entries[-1]["at"]).date()
            elapsed = (self.clock.today() - denied_on).days
            if elapsed > 60:
                raise ToolError(f"The claim was denied on {denied_on.isoformat()}, {elapsed} days ago; "
                                f"appeals must be filed within 60 days of the denial.")
        appeal_id = self._next_id("appeals", "APL", 5)
        appeal = {"id": appeal_id, "claim_id": claim_id, "filed_at": self.clock.iso(), "reason": reason.strip(),
                  "status": "pending", "decided_by": None, "decided_at": None,
                  "revised_approved_amount_cents": None}
        self.state["appeals"][appeal_id] = appeal
        self._set_status(claim, "appealed", filed_by, f"Appeal {appeal_id} filed")
        return {"appeal": self._clone(appeal), "claim": self._clone(claim)}

    def decide_appeal(self, appeal_id: str, decision: Literal["overturned", "upheld"], decided_by: str,
                      revised_approved_amount_cents: int | None = None, note: str | None = None) -> dict:
        """Decide a pending appeal: overturn (approve at a revised amount) or uphold the denial.

        Args:
            appeal_id: Appeal id, e.g. "APL-00012".
            decision: One of overturned, upheld.
            decided_by: Adjuster id of the deciding adjuster; must differ from the claim's assigned adjuster.
            revised_approved_amount_cents: Required when overturned: approved amount, 1 to the claimed amount.
            note: Optional note for the status history.
        """
        appeal = self._get_appeal(appeal_id)
        self._check_enum(decision, ("overturned", "upheld"), "decision")
        if appeal["status"] != "pending":
            raise ToolError(f"Appeal {appeal_id} is {appeal['status']}; only pending appeals can be decided.")
        claim = self._get_claim(appeal["claim_id"])
        if claim["status"] != "appealed":
            raise ToolError(f"Claim {claim['id']} is {claim['status']}, not appealed.")
        adjuster = self._get_adjuster(decided_by)
        if not adjuster["is_active"]:
            raise ToolError(f"Adjuster {decided_by} is not active and cannot decide appeals.")
        if claim["adjuster_id"] == decided_by:
            raise ToolError(f"Adjuster {decided_by} is assigned to claim {claim['id']}; the appeal must be "
                            f"decided by a different adjuster.")
        settlement = None
        if decision == "overturned":
            if revised_approved_amount_cents is None:
                raise ToolError("revised_approved_amount_cents is required when overturning a denial.")
            amount = self._validate_approved_amount(claim, revised_approved_amount_cents,
                                                    "revised_approved_amount_cents")
            self._require_documents(claim)
            settlement = self._settlement(claim, self._get_coverage(claim["coverage_id"]), amount)
            if settlement["payable_amount_cents"] <= 0:
                raise ToolError(f"Overturning at {amount} cents would leave a payable amount of 0 "
                                f"(limiting factor: {settlement['limiting_factor']}); uphold the denial instead.")
        elif revised_approved_amount_cents is not None:
            raise ToolError("revised_approved_amount_cents applies only when the decision is overturned.")

        appeal["status"] = decision
        appeal["decided_by"] = decided_by
        appeal["decided_at"] = self.clock.iso()
        if decision == "overturned":
            appeal["revised_approved_amount_cents"] = settlement["approved_amount_cents"]
            claim["approved_amount_cents"] = settlement["approved_amount_cents"]
            claim["deductible_applied_cents"] = settlement["deductible_applied_cents"]
            claim["payable_amount_cents"] = settlement["payable_amount_cents"]
            claim["denial_reason"] = None
            self._set_status(claim, "approved", decided_by, note or f"Appeal {appeal_id} overturned")
        else:
            self._set_status(claim, "denied", decided_by, note or f"Appeal {appeal_id} upheld")
        result = {"appeal": self._clone(appeal), "claim": self._clone(claim)}
        if settlement:
            result["settlement"] = settlement
        return result

    def withdraw_appeal(self, appeal_id: str, requested_by: Literal["policyholder", "agent"]) -> dict:
        """Withdraw a pending appeal; the claim returns to denied.

        Args:
            appeal_id: Appeal id, e.g. "APL-00012".
            requested_by: Who requests the withdrawal; one of policyholder, agent.
        """
        appeal = self._get_appeal(appeal_id)
        self._check_enum(requested_by, ("policyholder", "agent"), "requested_by")
        if appeal["status"] != "pending":
            raise ToolError(f"Appeal {appeal_id} is {appeal['status']}; only pending appeals can be withdrawn.")
        claim = self._get_claim(appeal["claim_id"])
        if claim["status"] != "appealed":
            raise ToolError(f"Claim {claim['id']} is {claim['status']}, not appealed.")
        appeal["status"] = "withdrawn"
        self._set_status(claim, "denied", requested_by, f"Appeal {appeal_id} withdrawn")
        return {"appeal": self._clone(appeal), "claim": self._clone(claim)}

    def close_claim(self, claim_id: str, note: str | None = None) -> dict:
        """Close a paid or denied claim; closed is final.

        Args:
            claim_id: Claim id, e.g. "CLM-000045".
            note: Optional closing note.
        """
        claim = self._get_claim(claim_id)
        if claim["status"] not in ("paid", "denied"):
            raise ToolError(f"Claim {claim_id} is {claim['status']}; only paid or denied claims can be closed.")
        self._require_transition(claim, "closed")
        self._set_status(claim, "closed", self._actor(claim), note)
        return {"claim": self._clone(claim)}
