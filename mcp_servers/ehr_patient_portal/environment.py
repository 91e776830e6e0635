import re
from datetime import date, datetime, timedelta
from typing import Any, Literal

from envmint_runtime import Environment, ToolError


CATEGORIES = frozenset({"diagnosis", "lab_result", "medication", "allergy", "immunization", "clinical_note", "imaging_report", "document"})
SENSITIVITIES = frozenset({"normal", "mental_health", "substance_use", "hiv", "reproductive", "genetic"})
ITEM_STATUSES = frozenset({"active", "resolved", "discontinued", "preliminary", "final", "entered_in_error"})
NEW_ITEM_STATUSES = frozenset({"active", "resolved", "discontinued", "preliminary", "final"})
ABNORMAL_FLAGS = frozenset({"normal", "low", "high", "critical"})
ENCOUNTER_TYPES = frozenset({"office_visit", "telehealth", "emergency", "inpatient", "lab_only", "procedure"})
RELEASE_STATUSES = ("received", "in_review", "approved", "fulfilled", "denied", "cancelled")
REQUESTER_TYPES = ("patient", "provider", "insurer", "attorney", "government_agency", "other")
RELEASE_PURPOSES = ("personal_use", "treatment", "insurance", "legal", "disability", "research", "other")
AUDIT_ACTIONS = ("view", "create", "update", "export", "sign", "grant_access", "revoke_access", "break_glass", "release")
SEXES = ("female", "male", "other", "unknown")
GRANT_PURPOSES = ("treatment", "caregiving", "second_opinion", "care_coordination", "legal_guardian")

STAFF_ROLES = frozenset({"physician", "nurse", "pharmacist", "front_desk", "him_clerk", "admin"})
BREAK_GLASS_ROLES = frozenset({"physician", "nurse"})
RELATIONSHIP_ROLES = frozenset({"physician", "nurse", "pharmacist"})
CLINICAL_READ_ROLES = frozenset({"physician", "nurse", "pharmacist", "him_clerk", "external_provider", "patient", "proxy"})
ENCOUNTER_READ_ROLES = frozenset({"physician", "nurse", "external_provider", "patient", "proxy"})
PROVIDER_GRANTEE_ROLES = frozenset({"physician", "nurse", "pharmacist", "external_provider"})
PHARMACIST_CATEGORIES = frozenset({"medication", "allergy"})
NURSE_WRITE_CATEGORIES = frozenset({"lab_result", "allergy", "immunization"})
OPEN_RELEASE = frozenset({"received", "in_review", "approved"})
BREAK_GLASS_MIN_CHARS = 10


class ElectronicHealthRecordsPortal(Environment):
    """Patient records portal with role-based access, consent grants, release workflow and an immutable audit log.

    Refused access attempts are written to the audit log with outcome 'denied' and reported as a result with
    status "denied" so that the entry is kept; invalid requests raise ToolError and change nothing.
    """

    # ---------------------------------------------------------------- parsing helpers

    def _now(self) -> datetime:
        return self._naive(self.clock.now())

    def _today(self) -> date:
        return self._now().date()

    @staticmethod
    def _naive(dt: datetime) -> datetime:
        off = dt.utcoffset()
        return (dt - off).replace(tzinfo=None) if off is not None else dt

    @staticmethod
    def _fmt(dt: datetime) -> str:
        return dt.strftime("%Y-%m-%dT%H:%M:%SZ")

    def _instant(self, value: Any, field: str) -> datetime:
        try:
            text = value.strip()
            return self._naive(datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text))
        except (AttributeError, ValueError):
            raise ToolError(f"{field} must be an ISO 8601 date-time like 2025-03-14T15:30:00Z, got {value!r}.")

    @staticmethod
    def _date(value: Any, field: str) -> date:
        try:
            return date.fromisoformat(value.strip())
        except (AttributeError, ValueError):
            raise ToolError(f"{field} must be a date in YYYY-MM-DD format, got {value!r}.")

    def _day(self, instant: str) -> date:
        return self._instant(instant, "timestamp").date()

    def _range(self, start: str | None, end: str | None, names: tuple = ("from_date", "to_date")) -> tuple:
        s = self._date(start, names[0]) if start else None
        e = self._date(end, names[1]) if end else None
        if s and e and e < s:
            raise ToolError(f"{names[1]} must be on or after {names[0]}.")
        return s, e

    @staticmethod
    def _enum(value: Any, allowed: Any, field: str) -> None:
        if value not in allowed:
            raise ToolError(f"{field} must be one of: {', '.join(sorted(allowed))}; got {value!r}.")

    @staticmethod
    def _text(value: Any, field: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise ToolError(f"{field} must be a non-empty string.")
        return value.strip()

    @staticmethod
    def _opt_text(value: str | None) -> str | None:
        return value.strip() or None if isinstance(value, str) else None

    @staticmethod
    def _categories(categories: Any) -> list:
        if not isinstance(categories, list) or not categories:
            raise ToolError("categories must be a non-empty list of record categories.")
        for cat in categories:
            if cat not in CATEGORIES:
                raise ToolError(f"Unknown category {cat!r}; use: {', '.join(sorted(CATEGORIES))}.")
        if len(set(categories)) != len(categories):
            raise ToolError("categories must be distinct.")
        return list(categories)

    def _next_id(self, prefix: str, collection: str, width: int) -> str:
        pattern = re.compile(rf"^{prefix}-(\d{{{width}}})$")
        nums = [int(m.group(1)) for k in self.state[collection] if (m := pattern.match(k))]
        return f"{prefix}-{max(nums, default=0) + 1:0{width}d}"

    # ---------------------------------------------------------------- audit and actors

    def _audit(self, user_id: str, patient_id: str | None, action: str, rtype: str, rid: str | None,
               outcome: str = "allowed", reason: str | None = None) -> dict:
        entry_id = self._next_id("AUD", "audit_log", 7)
        self.state["audit_log"][entry_id] = entry = {
            "id": entry_id, "user_id": user_id, "patient_id": patient_id, "action": action,
            "resource_type": rtype, "resource_id": rid, "reason": reason, "outcome": outcome, "at": self.clock.iso(),
        }
        return entry

    def _deny(self, user_id: str, patient_id: str | None, action: str, rtype: str, rid: str | None, message: str) -> ToolError:
        """Record a denied attempt in the audit log and build the error to raise.

        The public tool that catches it (see _refused) reports the refusal as a result instead of letting
        the ToolError escape, because an escaping ToolError makes the runtime discard the call's state
        changes and the rules require the 'denied' audit entry to stay in the log.
        """
        if patient_id not in self.state["patients"]:
            patient_id = None
        self._audit(user_id, patient_id, action, rtype, rid, "denied", message)
        return ToolError(f"Access denied: {message}")

    def _audit_mark(self) -> int:
        """Number of audit entries before a tool call starts; entries after it were written by this call."""
        return len(self.state["audit_log"])

    def _refused(self, error: ToolError, audit_mark: int) -> dict:
        """Turn an access refusal into a result that keeps its 'denied' audit entry; re-raise any other error.

        Input and rule violations (unknown ids, bad values, wrong status) are not access attempts and are
        raised as ToolError, so nothing is changed. A refusal whose 'denied' entry was written during this
        call is reported as {"status": "denied", ...}; the only state change is that audit entry (plus any
        grant that had already passed its expires_on being marked expired).
        """
        new_entries = list(self.state["audit_log"].values())[audit_mark:]
        denied = [e for e in new_entries if e.get("outcome") == "denied"]
        if not denied:
            raise error
        return {"status": "denied", "access_denied": True, "error": str(error), "audit_entry_id": denied[-1]["id"]}

    def _actor(self, user_id: str, patient_id: str | None, action: str, rtype: str, rid: str | None) -> dict:
        today = self._today()
        for grant in self.state["access_grants"].values():
            if grant["status"] == "active" and grant.get("expires_on") and today > self._date(grant["expires_on"], "expires_on"):
                grant["status"] = "expired"
        user = self.state["users"].get(user_id)
        if user is None:
            raise ToolError(f"No user with id {user_id!r}.")
        if not user["is_active"]:
            raise self._deny(user_id, patient_id, action, rtype, rid, f"user {user_id} is deactivated.")
        return user

    def _load(self, acting_user_id: str, collection: str, record_id: str, action: str, rtype: str) -> tuple:
        """Resolve the acting user (auditing refusals against the record's patient) and the target record."""
        record = self.state[collection].get(record_id)
        actor = self._actor(acting_user_id, record and record["patient_id"], action, rtype, record_id)
        if record is None:
            raise ToolError(f"No {rtype.replace('_', ' ')} with id {record_id!r}.")
        return actor, record

    def _patient(self, patient_id: str) -> dict:
        patient = self.state["patients"].get(patient_id)
        if patient is None:
            raise ToolError(f"No patient with id {patient_id!r}; use search_patients.")
        return patient

    def _record(self, collection: str, record_id: str, label: str) -> dict:
        record = self.state[collection].get(record_id)
        if record is None:
            raise ToolError(f"No {label} with id {record_id!r}.")
        return record

    def _name(self, user_id: str | None) -> str | None:
        user = self.state["users"].get(user_id) if user_id else None
        return user["name"] if user else None

    @staticmethod
    def _own(user: dict, patient_id: str) -> bool:
        return user["role"] == "patient" and user.get("linked_patient_id") == patient_id

    def _relationship(self, user: dict, patient: dict) -> bool:
        if user["role"] not in RELATIONSHIP_ROLES:
            return False
        return patient.get("primary_provider_id") == user["id"] or any(
            e["patient_id"] == patient["id"] and e["provider_id"] == user["id"] for e in self.state["encounters"].values()
        )

    def _grant(self, patient_id: str, user_id: str) -> dict | None:
        for grant in self.state["access_grants"].values():
            if grant["patient_id"] == patient_id and grant["grantee_user_id"] == user_id and grant["status"] == "active":
                return grant
        return None

    def _can_manage(self, user: dict, patient_id: str) -> bool:
        if self._own(user, patient_id):
            return True
        grant = self._grant(patient_id, user["id"]) if user["role"] == "proxy" else None
        return grant is not None and grant["access_level"] == "manage"

    def _break_glass(self, user: dict, patient_id: str, reason: Any, action: str, rtype: str, rid: str | None) -> str:
        if user["role"] not in BREAK_GLASS_ROLES:
            raise self._deny(user["id"], patient_id, action, rtype, rid, "only active physicians and nurses can break the glass.")
        if not isinstance(reason, str) or len(reason.strip()) < BREAK_GLASS_MIN_CHARS:
            raise self._deny(user["id"], patient_id, action, rtype, rid,
                             f"break_glass_reason must be at least {BREAK_GLASS_MIN_CHARS} characters.")
        self._audit(user["id"], patient_id, "break_glass", rtype, rid, "allowed", reason.strip())
        return reason.strip()

    # ---------------------------------------------------------------- access decisions

    def _read_scope(self, user: dict, patient: dict, rtype: str, rid: str | None, break_glass_reason: str | None,
                    release_request_id: str | None = None, roles: frozenset = CLINICAL_READ_ROLES) -> dict:
        """Which categories (and which of them including sensitive items) the user may read; denies and audits otherwise."""
        pid, role = patient["id"], user["role"]

        def deny(msg: str) -> ToolError:
            return self._deny(user["id"], pid, "view", rtype, rid, msg)

        scope = {"mode": None, "categories": set(), "sensitive": set(), "from": None, "to": None, "reason": None}
        if role not in roles:
            raise deny(f"role {role} may not read this part of the record.")
        if role == "patient":
            if not self._own(user, pid):
                raise deny("patients can only read their own record.")
            return {**scope, "mode": "self", "categories": set(CATEGORIES), "sensitive": set(CATEGORIES)}
        if break_glass_reason is not None:
            reason = self._break_glass(user, pid, break_glass_reason, "view", rtype, rid)
            return {**scope, "mode": "break_glass", "categories": set(CATEGORIES), "sensitive": set(CATEGORIES), "reason": reason}
        if patient["is_restricted"]:
            raise deny("restricted record; a physician or nurse must supply a break_glass_reason.")
        if role == "him_clerk":
            req = self.state["release_requests"].get(release_request_id or "")
            if req is None or req["patient_id"] != pid or req["status"] not in ("in_review", "approved"):
                raise deny("HIM clerks may read clinical items only for an in-review or approved release request of this patient (release_request_id).")
            cats = set(req["categories"])
            return {**scope, "mode": "release", "categories": cats, "sensitive": cats if req["includes_sensitive"] else set(),
                    "from": self._date(req["date_from"], "date_from") if req["date_from"] else None,
                    "to": self._date(req["date_to"], "date_to") if req["date_to"] else None,
                    "reason": f"processing release request {req['id']}"}
        allowed = PHARMACIST_CATEGORIES if role == "pharmacist" else CATEGORIES
        related = self._relationship(user, patient)
        cats = set(allowed) if related else set()
        sensitive: set = set()
        grant = self._grant(pid, user["id"])
        if grant is not None:
            cats |= set(grant["categories"]) & allowed
            if grant["includes_sensitive"]:
                sensitive = set(grant["categories"]) & allowed
        if not cats:
            hint = " A break_glass_reason may be supplied in an emergency." if role in BREAK_GLASS_ROLES else ""
            raise deny(f"no treatment relationship or active access grant for patient {pid}.{hint}")
        return {**scope, "mode": "treatment" if related else "grant", "categories": cats, "sensitive": sensitive}

    def _withheld(self, scope: dict, item: dict) -> str | None:
        if item["category"] not in scope["categories"]:
            return "category_not_permitted"
        if item["sensitivity"] != "normal" and item["category"] not in scope["sensitive"]:
            return "sensitive"
        day = self._day(item["recorded_at"])
        if (scope["from"] and day < scope["from"]) or (scope["to"] and day > scope["to"]):
            return "outside_release_scope"
        return None

    def _write_access(self, user: dict, patient: dict, category: str, action: str, rid: str | None,
                      break_glass_reason: str | None, sensitivity: str = "normal") -> None:
        """Role, restriction, relationship and sensitivity checks for creating or changing clinical items."""
        pid, role = patient["id"], user["role"]

        def deny(msg: str) -> ToolError:
            return self._deny(user["id"], pid, action, "clinical_item", rid, msg)

        if role == "nurse" and category not in NURSE_WRITE_CATEGORIES:
            raise deny(f"nurses may only record lab_result, allergy and immunization items, not {category}.")
        if role not in ("physician", "nurse"):
            raise deny(f"role {role} cannot create or change clinical items.")
        if break_glass_reason is not None:
            self._break_glass(user, pid, break_glass_reason, action, "clinical_item", rid)
            return
        if patient["is_restricted"]:
            raise deny("restricted record; supply a break_glass_reason.")
        if not self._relationship(user, patient):
            raise deny(f"no treatment relationship with patient {pid}; supply a break_glass_reason in an emergency.")
        if sensitivity != "normal":
            grant = self._grant(pid, user["id"])
            if grant is None or not grant["includes_sensitive"] or category not in grant["categories"]:
                raise deny(f"item is {sensitivity}-sensitive; needs a grant including sensitive data or a break_glass_reason.")

    # ---------------------------------------------------------------- views

    def _encounter_view(self, enc: dict) -> dict:
        return {**enc, "provider_name": self._name(enc["provider_id"])}

    def _item_view(self, item: dict) -> dict:
        return {**item, "recorded_by_name": self._name(item["recorded_by"])}

    @staticmethod
    def _release_view(req: dict) -> dict:
        return {**req, "categories": list(req["categories"])}

    def _amend(self, user: dict, encounter_id: str | None, item_id: str) -> bool:
        enc = self.state["encounters"].get(encounter_id) if encounter_id else None
        if enc is None or enc["status"] != "signed":
            return False
        enc["status"] = "amended"
        self._audit(user["id"], enc["patient_id"], "update", "encounter", enc["id"], reason=f"amended by {item_id}")
        return True

    # ================================================================ queries

    def search_patients(self, acting_user_id: str, name: str | None = None, mrn: str | None = None,
                        date_of_birth: str | None = None) -> dict:
        """Search patients by name, MRN or date of birth, returning identifying fields only.

        Args:
            acting_user_id: User performing the search, e.g. USR-0042.
            name: Case-insensitive substring of first or last name.
            mrn: Exact MRN, e.g. MRN0012345.
            date_of_birth: Exact date of birth, YYYY-MM-DD.
        """
        audit_mark = self._audit_mark()
        try:
            actor = self._actor(acting_user_id, None, "view", "patient", None)
            needle = self._opt_text(name)
            mrn_value = self._opt_text(mrn)
            dob = self._date(date_of_birth, "date_of_birth").isoformat() if date_of_birth else None
            if not (needle or mrn_value or dob):
                raise ToolError("Provide at least one of name, mrn or date_of_birth.")
            visible = None
            if actor["role"] not in STAFF_ROLES:
                visible = {g["patient_id"] for g in self.state["access_grants"].values()
                           if g["grantee_user_id"] == actor["id"] and g["status"] == "active"}
                if actor["role"] == "patient" and actor.get("linked_patient_id"):
                    visible.add(actor["linked_patient_id"])
            fields = ("id", "mrn", "first_name", "last_name", "date_of_birth", "sex", "status", "is_restricted")
            results = []
            for p in self.state["patients"].values():
                full = f"{p['first_name']} {p['last_name']}".lower()
                if (visible is not None and p["id"] not in visible) or (mrn_value and p["mrn"] != mrn_value.upper()) \
                        or (dob and p["date_of_birth"] != dob) or (needle and needle.lower() not in full):
                    continue
                results.append({f: p[f] for f in fields})
            results.sort(key=lambda p: (p["last_name"].lower(), p["first_name"].lower(), p["id"]))
            self._audit(actor["id"], None, "view", "patient", None, reason=f"patient search, {len(results)} result(s)")
            return {"patients": results, "count": len(results)}
        except ToolError as error:
            return self._refused(error, audit_mark)

    def get_patient(self, acting_user_id: str, patient_id: str, break_glass_reason: str | None = None) -> dict:
        """Open a patient's demographic record with primary provider, status, restriction flag and chart counts.

        Args:
            acting_user_id: User opening the record, e.g. USR-0042.
            patient_id: Patient id, e.g. PAT-000123.
            break_glass_reason: Emergency justification (at least 10 characters); only for physicians or nurses opening a restricted record or one they otherwise cannot access.
        """
        audit_mark = self._audit_mark()
        try:
            actor = self._actor(acting_user_id, patient_id, "view", "patient", patient_id)
            patient = self._patient(patient_id)
            role, reason = actor["role"], None

            def deny(msg: str) -> ToolError:
                return self._deny(actor["id"], patient_id, "view", "patient", patient_id, msg)

            if role == "patient":
                if not self._own(actor, patient_id):
                    raise deny("patients can only open their own record.")
            elif break_glass_reason is not None:
                reason = self._break_glass(actor, patient_id, break_glass_reason, "view", "patient", patient_id)
            elif role == "front_desk":
                pass  # demographics-only role: restriction protects clinical content, not registration data
            elif patient["is_restricted"]:
                raise deny("restricted record; a physician or nurse must supply a break_glass_reason.")
            elif role in ("proxy", "external_provider") and self._grant(patient_id, actor["id"]) is None:
                raise deny(f"no active access grant for patient {patient_id}.")
            self._audit(actor["id"], patient_id, "view", "patient", patient_id, reason=reason)
            pp = patient.get("primary_provider_id")
            return {
                "patient": dict(patient),
                "primary_provider": {"id": pp, "name": self._name(pp)} if pp else None,
                "encounter_count": sum(1 for e in self.state["encounters"].values() if e["patient_id"] == patient_id),
                "clinical_item_count": sum(1 for i in self.state["clinical_items"].values()
                                           if i["patient_id"] == patient_id and i["status"] != "entered_in_error"),
                "break_glass": reason is not None,
            }
        except ToolError as error:
            return self._refused(error, audit_mark)

    def list_encounters(self, acting_user_id: str, patient_id: str, status: Literal["open", "signed", "amended"] | None = None,
                        provider_id: str | None = None, encounter_type: Literal["office_visit", "telehealth", "emergency", "inpatient", "lab_only", "procedure"] | None = None,
                        from_date: str | None = None, to_date: str | None = None,
                        break_glass_reason: str | None = None) -> dict:
        """List a patient's encounters, newest first, with provider names and linked item counts.

        Args:
            acting_user_id: Acting user id, e.g. USR-0042.
            patient_id: Patient id, e.g. PAT-000123.
            status: Encounter status filter.
            provider_id: Only encounters of this provider.
            encounter_type: Kind of encounter.
            from_date: Earliest start date, YYYY-MM-DD.
            to_date: Latest start date, YYYY-MM-DD inclusive.
            break_glass_reason: Emergency justification, >= 10 characters (physician/nurse only).
        """
        audit_mark = self._audit_mark()
        try:
            actor = self._actor(acting_user_id, patient_id, "view", "encounter", None)
            patient = self._patient(patient_id)
            if status is not None:
                self._enum(status, ("open", "signed", "amended"), "status")
            if encounter_type is not None:
                self._enum(encounter_type, ENCOUNTER_TYPES, "encounter_type")
            start, end = self._range(from_date, to_date)
            scope = self._read_scope(actor, patient, "encounter", None, break_glass_reason, roles=ENCOUNTER_READ_ROLES)
            results = []
            for enc in self.state["encounters"].values():
                day = self._day(enc["start_at"])
                if enc["patient_id"] != patient_id or (status and enc["status"] != status) \
                        or (provider_id and enc["provider_id"] != provider_id) \
                        or (encounter_type and enc["encounter_type"] != encounter_type) \
                        or (start and day < start) or (end and day > end):
                    continue
                view = self._encounter_view(enc)
                view["linked_item_count"] = sum(1 for i in self.state["clinical_items"].values()
                                                if i.get("encounter_id") == enc["id"] and i["status"] != "entered_in_error")
                results.append(view)
            results.sort(key=lambda e: (e["start_at"], e["id"]), reverse=True)
            self._audit(actor["id"], patient_id, "view", "encounter", None, reason=scope["reason"])
            return {"patient_id": patient_id, "encounters": results, "count": len(results), "access_mode": scope["mode"]}
        except ToolError as error:
            return self._refused(error, audit_mark)

    def list_clinical_items(self, acting_user_id: str, patient_id: str, category: Literal["diagnosis", "lab_result", "medication", "allergy", "immunization", "clinical_note", "imaging_report", "document"] | None = None,
                            status: Literal["active", "resolved", "discontinued", "preliminary", "final", "entered_in_error"] | None = None, encounter_id: str | None = None,
                            recorded_from: str | None = None, recorded_to: str | None = None,
                            include_entered_in_error: bool = False, release_request_id: str | None = None,
                            break_glass_reason: str | None = None) -> dict:
        """List the clinical items of a patient the acting user may see, newest first, with a count of withheld items.

        Args:
            acting_user_id: User requesting the items, e.g. USR-0042.
            patient_id: Patient id, e.g. PAT-000123.
            category: Clinical item category.
            status: Item status.
            encounter_id: Only items linked to this encounter.
            recorded_from: Earliest recorded date, YYYY-MM-DD.
            recorded_to: Latest recorded date, YYYY-MM-DD inclusive.
            include_entered_in_error: Include items marked entered_in_error (default false).
            release_request_id: HIM clerks: release request being processed (limits scope to it).
            break_glass_reason: Emergency justification, >= 10 characters (physician/nurse only).
        """
        audit_mark = self._audit_mark()
        try:
            actor = self._actor(acting_user_id, patient_id, "view", "clinical_item", None)
            patient = self._patient(patient_id)
            if category is not None:
                self._enum(category, CATEGORIES, "category")
            if status is not None:
                self._enum(status, ITEM_STATUSES, "status")
            start, end = self._range(recorded_from, recorded_to, ("recorded_from", "recorded_to"))
            if encounter_id is not None and self.state["encounters"].get(encounter_id, {}).get("patient_id") != patient_id:
                raise ToolError(f"Encounter {encounter_id!r} does not exist for patient {patient_id}.")
            scope = self._read_scope(actor, patient, "clinical_item", None, break_glass_reason, release_request_id)
            show_errors = include_entered_in_error or status == "entered_in_error"
            items, withheld = [], {}
            for item in self.state["clinical_items"].values():
                day = self._day(item["recorded_at"])
                if item["patient_id"] != patient_id or (category and item["category"] != category) \
                        or (status and item["status"] != status) \
                        or (item["status"] == "entered_in_error" and not show_errors) \
                        or (encounter_id and item.get("encounter_id") != encounter_id) \
                        or (start and day < start) or (end and day > end):
                    continue
                why = self._withheld(scope, item)
                if why:
                    withheld[why] = withheld.get(why, 0) + 1
                else:
                    items.append(self._item_view(item))
            items.sort(key=lambda i: (i["recorded_at"], i["id"]), reverse=True)
            self._audit(actor["id"], patient_id, "view", "clinical_item", None, reason=scope["reason"])
            return {"patient_id": patient_id, "items": items, "count": len(items), "withheld_count": sum(withheld.values()),
                    "withheld_reasons": withheld, "access_mode": scope["mode"]}
        except ToolError as error:
            return self._refused(error, audit_mark)

    def get_clinical_item(self, acting_user_id: str, item_id: str, release_request_id: str | None = None,
                          break_glass_reason: str | None = None) -> dict:
        """Get one clinical item with full detail, the recording user's name and its encounter summary.

        Args:
            acting_user_id: User requesting the item, e.g. USR-0042.
            item_id: Clinical item id, e.g. ITM-000456.
            release_request_id: HIM clerks: release request being processed.
            break_glass_reason: Emergency justification, >= 10 characters (physician/nurse only).
        """
        audit_mark = self._audit_mark()
        try:
            actor, item = self._load(acting_user_id, "clinical_items", item_id, "view", "clinical_item")
            patient = self._patient(item["patient_id"])
            scope = self._read_scope(actor, patient, "clinical_item", item_id, break_glass_reason, release_request_id)
            why = self._withheld(scope, item)
            if why:
                messages = {"category_not_permitted": f"your access does not cover {item['category']} items of this patient.",
                            "sensitive": "sensitive item; requires a grant including sensitive data or break-the-glass access.",
                            "outside_release_scope": "item is outside the release request's date range."}
                raise self._deny(actor["id"], patient["id"], "view", "clinical_item", item_id, messages[why])
            enc = self.state["encounters"].get(item.get("encounter_id") or "")
            self._audit(actor["id"], patient["id"], "view", "clinical_item", item_id, reason=scope["reason"])
            return {"item": self._item_view(item), "encounter": self._encounter_view(enc) if enc else None,
                    "access_mode": scope["mode"]}
        except ToolError as error:
            return self._refused(error, audit_mark)

    def list_access_grants(self, acting_user_id: str, patient_id: str | None = None,
                           grantee_user_id: str | None = None, status: Literal["active", "revoked", "expired"] | None = None) -> dict:
        """List access grants of a patient or held by a grantee; grants past expires_on are expired first.

        Args:
            acting_user_id: Acting user id, e.g. USR-0042.
            patient_id: Patient whose grants to list, e.g. PAT-000123.
            grantee_user_id: Only grants held by this user.
            status: Grant status filter.
        """
        audit_mark = self._audit_mark()
        try:
            actor = self._actor(acting_user_id, patient_id, "view", "access_grant", None)
            if patient_id is None and grantee_user_id is None:
                raise ToolError("Provide patient_id and/or grantee_user_id.")
            if patient_id is not None:
                self._patient(patient_id)
            if status is not None:
                self._enum(status, ("active", "revoked", "expired"), "status")
            if not (actor["role"] == "admin" or (patient_id and self._can_manage(actor, patient_id))
                    or grantee_user_id == actor["id"]):
                raise self._deny(actor["id"], patient_id, "view", "access_grant", None,
                                 "only admins, the patient, a managing proxy or the grantee can list these grants.")
            grants = [
                {**g, "categories": list(g["categories"]), "grantee_name": self._name(g["grantee_user_id"])}
                for g in self.state["access_grants"].values()
                if (not patient_id or g["patient_id"] == patient_id)
                and (not grantee_user_id or g["grantee_user_id"] == grantee_user_id)
                and (not status or g["status"] == status)
            ]
            grants.sort(key=lambda g: (g["granted_at"], g["id"]), reverse=True)
            self._audit(actor["id"], patient_id, "view", "access_grant", None)
            return {"grants": grants, "count": len(grants)}
        except ToolError as error:
            return self._refused(error, audit_mark)

    def search_release_requests(self, acting_user_id: str, patient_id: str | None = None,
                                status: Literal["received", "in_review", "approved", "fulfilled", "denied", "cancelled"] | None = None, requester_type: Literal["patient", "provider", "insurer", "attorney", "government_agency", "other"] | None = None,
                                purpose: Literal["personal_use", "treatment", "insurance", "legal", "disability", "research", "other"] | None = None, handled_by: str | None = None,
                                overdue_only: bool = False) -> dict:
        """Search record release requests, sorted by due date ascending; optionally only overdue ones.

        Args:
            acting_user_id: User searching; HIM clerk or admin, or a patient for their own requests.
            patient_id: Only requests for this patient, e.g. PAT-000123.
            status: Request status filter.
            requester_type: Kind of requester.
            purpose: Purpose of the release.
            handled_by: Only requests handled by this user.
            overdue_only: Only requests in received, in_review or approved whose due_date has passed.
        """
        audit_mark = self._audit_mark()
        try:
            actor = self._actor(acting_user_id, patient_id, "view", "release_request", None)
            for value, allowed, field in ((status, RELEASE_STATUSES, "status"),
                                          (requester_type, REQUESTER_TYPES, "requester_type"),
                                          (purpose, RELEASE_PURPOSES, "purpose")):
                if value is not None:
                    self._enum(value, allowed, field)
            if actor["role"] == "patient":
                if patient_id is not None and patient_id != actor.get("linked_patient_id"):
                    raise self._deny(actor["id"], patient_id, "view", "release_request", None,
                                     "patients can only see requests for their own record.")
                patient_id = actor.get("linked_patient_id")
            elif actor["role"] not in ("him_clerk", "admin"):
                raise self._deny(actor["id"], patient_id, "view", "release_request", None,
                                 f"role {actor['role']} cannot search release requests.")
            today = self._today()
            results = []
            for req in self.state["release_requests"].values():
                overdue = req["status"] in OPEN_RELEASE and self._date(req["due_date"], "due_date") < today
                if (patient_id and req["patient_id"] != patient_id) or (status and req["status"] != status) \
                        or (requester_type and req["requester_type"] != requester_type) \
                        or (purpose and req["purpose"] != purpose) or (handled_by and req.get("handled_by") != handled_by) \
                        or (overdue_only and not overdue):
                    continue
                results.append({**self._release_view(req), "overdue": overdue})
            results.sort(key=lambda r: (r["due_date"], r["id"]))
            self._audit(actor["id"], patient_id, "view", "release_request", None)
            return {"requests": results, "count": len(results)}
        except ToolError as error:
            return self._refused(error, audit_mark)

    def get_audit_log(self, acting_user_id: str, patient_id: str | None = None, user_id: str | None = None,
                      action: Literal["view", "create", "update", "export", "sign", "grant_access", "revoke_access", "break_glass", "release"] | None = None, outcome: Literal["allowed", "denied"] | None = None,
                      from_date: str | None = None, to_date: str | None = None, limit: int = 50) -> dict:
        """Query the immutable audit trail, newest first; admins see all, patients see entries about their own record.

        Args:
            acting_user_id: Admin, or patient user, e.g. USR-0042.
            patient_id: Only entries about this patient.
            user_id: Only entries by this user.
            action: Audited action filter.
            outcome: Outcome filter.
            from_date: Earliest date, YYYY-MM-DD.
            to_date: Latest date, YYYY-MM-DD inclusive.
            limit: Maximum entries returned (default 50, at most 500).
        """
        audit_mark = self._audit_mark()
        try:
            rtype = "patient" if patient_id else "user"
            actor = self._actor(acting_user_id, patient_id, "view", rtype, patient_id or acting_user_id)
            if action is not None:
                self._enum(action, AUDIT_ACTIONS, "action")
            if outcome is not None:
                self._enum(outcome, ("allowed", "denied"), "outcome")
            start, end = self._range(from_date, to_date)
            if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 500:
                raise ToolError("limit must be an integer between 1 and 500.")
            if actor["role"] == "patient":
                if patient_id is not None and patient_id != actor.get("linked_patient_id"):
                    raise self._deny(actor["id"], patient_id, "view", rtype, patient_id,
                                     "patients can only see audit entries about their own record.")
                patient_id, rtype = actor.get("linked_patient_id"), "patient"
            elif actor["role"] != "admin":
                raise self._deny(actor["id"], patient_id, "view", rtype, patient_id or actor["id"],
                                 "only admins, or patients for their own record, can read the audit log.")
            entries = []
            for e in self.state["audit_log"].values():
                day = self._day(e["at"])
                if (patient_id and e.get("patient_id") != patient_id) or (user_id and e["user_id"] != user_id) \
                        or (action and e["action"] != action) or (outcome and e["outcome"] != outcome) \
                        or (start and day < start) or (end and day > end):
                    continue
                entries.append({**e, "user_name": self._name(e["user_id"])})
            entries.sort(key=lambda e: (e["at"], e["id"]), reverse=True)
            self._audit(actor["id"], patient_id, "view", rtype, patient_id or actor["id"], reason="audit log query")
            return {"entries": entries[:limit], "count": min(limit, len(entries)), "total_matching": len(entries)}
        except ToolError as error:
            return self._refused(error, audit_mark)

    # ================================================================ demographics

    def _check_physician(self, user_id: str) -> str:
        user = self.state["users"].get(user_id)
        if user is None or user["role"] != "physician" or not user["is_active"]:
            raise ToolError(f"primary_provider_id {user_id!r} must be an active physician user.")
        return user_id

    def register_patient(self, acting_user_id: str, first_name: str, last_name: str, date_of_birth: str, sex: Literal["female", "male", "other", "unknown"],
                         phone: str | None = None, email: str | None = None, address: str | None = None,
                         primary_provider_id: str | None = None) -> dict:
        """Register a new patient with a generated PAT id and unique MRN, status active.

        Args:
            acting_user_id: Front desk user registering the patient, e.g. USR-0042.
            first_name: First name.
            last_name: Last name.
            date_of_birth: YYYY-MM-DD, not in the future.
            sex: Administrative sex.
            phone: Phone number.
            email: Email address.
            address: Postal address.
            primary_provider_id: Active physician user to set as primary provider.
        """
        audit_mark = self._audit_mark()
        try:
            actor = self._actor(acting_user_id, None, "create", "patient", None)
            if actor["role"] != "front_desk":
                raise self._deny(actor["id"], None, "create", "patient", None, "only front desk staff can register patients.")
            first, last = self._text(first_name, "first_name"), self._text(last_name, "last_name")
            dob = self._date(date_of_birth, "date_of_birth")
            if dob > self._today():
                raise ToolError("date_of_birth cannot be in the future.")
            self._enum(sex, SEXES, "sex")
            if primary_provider_id is not None:
                self._check_physician(primary_provider_id)
            mrns = [int(p["mrn"][3:]) for p in self.state["patients"].values() if re.fullmatch(r"MRN\d{7}", p["mrn"])]
            patient_id = self._next_id("PAT", "patients", 6)
            self.state["patients"][patient_id] = patient = {
                "id": patient_id, "mrn": f"MRN{max(mrns, default=0) + 1:07d}", "first_name": first, "last_name": last,
                "date_of_birth": dob.isoformat(), "sex": sex, "phone": self._opt_text(phone), "email": self._opt_text(email),
                "address": self._opt_text(address), "primary_provider_id": primary_provider_id, "is_restricted": False,
                "status": "active", "deceased_date": None, "created_at": self.clock.iso(),
            }
            self._audit(actor["id"], patient_id, "create", "patient", patient_id)
            return {"patient": dict(patient)}
        except ToolError as error:
            return self._refused(error, audit_mark)

    def update_patient_demographics(self, acting_user_id: str, patient_id: str, first_name: str | None = None,
                                    last_name: str | None = None, phone: str | None = None, email: str | None = None,
                                    address: str | None = None, primary_provider_id: str | None = None,
                                    is_restricted: bool | None = None, deceased_date: str | None = None) -> dict:
        """Update a patient's demographic fields or restriction flag, or record the date of death.

        Args:
            acting_user_id: Front desk user making the change, e.g. USR-0042.
            patient_id: Patient id, e.g. PAT-000123.
            first_name: New first name.
            last_name: New last name.
            phone: New phone.
            email: New email.
            address: New address.
            primary_provider_id: New primary provider (active physician).
            is_restricted: Set or clear the restricted-record flag.
            deceased_date: Date of death YYYY-MM-DD; sets status deceased.
        """
        audit_mark = self._audit_mark()
        try:
            actor = self._actor(acting_user_id, patient_id, "update", "patient", patient_id)
            patient = self._patient(patient_id)
            if actor["role"] != "front_desk":
                raise self._deny(actor["id"], patient_id, "update", "patient", patient_id,
                                 "only front desk staff can update demographics.")
            changes: dict = {}
            if first_name is not None:
                changes["first_name"] = self._text(first_name, "first_name")
            if last_name is not None:
                changes["last_name"] = self._text(last_name, "last_name")
            for field, value in (("phone", phone), ("email", email), ("address", address)):
                if value is not None:
                    changes[field] = self._opt_text(value)
            if primary_provider_id is not None:
                changes["primary_provider_id"] = self._check_physician(primary_provider_id)
            if is_restricted is not None:
                changes["is_restricted"] = bool(is_restricted)
            if deceased_date is not None:
                death = self._date(deceased_date, "deceased_date")
                if death > self._today() or death < self._date(patient["date_of_birth"], "date_of_birth"):
                    raise ToolError("deceased_date must be between the date of birth and today.")
                changes.update(deceased_date=death.isoformat(), status="deceased")
            if not changes:
                raise ToolError("Provide at least one field to update.")
            patient.update(changes)
            self._audit(actor["id"], patient_id, "update", "patient", patient_id, reason="updated " + ", ".join(sorted(changes)))
            return {"patient": dict(patient), "updated_fields": sorted(changes)}
        except ToolError as error:
            return self._refused(error, audit_mark)

    # ================================================================ encounters

    def open_encounter(self, acting_user_id: str, patient_id: str, encounter_type: Literal["office_visit", "telehealth", "emergency", "inpatient", "lab_only", "procedure"], facility: str,
                       reason: str, start_at: str | None = None, break_glass_reason: str | None = None) -> dict:
        """Open a new encounter for a patient with the acting physician as provider.

        Args:
            acting_user_id: Physician opening the encounter (becomes provider_id), e.g. USR-0042.
            patient_id: Patient id, e.g. PAT-000123.
            encounter_type: Kind of encounter.
            facility: Facility name.
            reason: Reason for the encounter.
            start_at: Start date-time; defaults to now; not before date_of_birth.
            break_glass_reason: Required when the patient is restricted (at least 10 characters).
        """
        audit_mark = self._audit_mark()
        try:
            actor = self._actor(acting_user_id, patient_id, "create", "encounter", None)
            patient = self._patient(patient_id)
            self._enum(encounter_type, ENCOUNTER_TYPES, "encounter_type")
            facility_text, reason_text = self._text(facility, "facility"), self._text(reason, "reason")
            start = self._instant(start_at, "start_at") if start_at else self._now()
            if start.date() < self._date(patient["date_of_birth"], "date_of_birth") or start > self._now():
                raise ToolError("start_at must be between the patient's date of birth and now.")
            if actor["role"] != "physician":
                raise self._deny(actor["id"], patient_id, "create", "encounter", None, "only physicians can open encounters.")
            if patient["status"] == "deceased":
                raise ToolError(f"Patient {patient_id} is deceased; new encounters cannot be opened.")
            audit_reason = None
            if patient["is_restricted"]:
                if break_glass_reason is None:
                    raise self._deny(actor["id"], patient_id, "create", "encounter", None,
                                     "restricted record; supply a break_glass_reason to open an encounter.")
                audit_reason = self._break_glass(actor, patient_id, break_glass_reason, "create", "encounter", None)
            encounter_id = self._next_id("ENC", "encounters", 6)
            self.state["encounters"][encounter_id] = enc = {
                "id": encounter_id, "patient_id": patient_id, "provider_id": actor["id"], "encounter_type": encounter_type,
                "facility": facility_text, "reason": reason_text, "start_at": self._fmt(start), "end_at": None,
                "status": "open", "signed_at": None,
            }
            self._audit(actor["id"], patient_id, "create", "encounter", encounter_id, reason=audit_reason)
            return {"encounter": dict(enc)}
        except ToolError as error:
            return self._refused(error, audit_mark)

    def sign_encounter(self, acting_user_id: str, encounter_id: str) -> dict:
        """Sign an open encounter: status signed, signed_at now, and end_at now if still empty.

        Args:
            acting_user_id: The encounter's provider, e.g. USR-0042.
            encounter_id: Encounter id, e.g. ENC-000789.
        """
        audit_mark = self._audit_mark()
        try:
            actor, enc = self._load(acting_user_id, "encounters", encounter_id, "sign", "encounter")
            if actor["id"] != enc["provider_id"]:
                raise self._deny(actor["id"], enc["patient_id"], "sign", "encounter", encounter_id,
                                 f"only the encounter's provider ({enc['provider_id']}) can sign it.")
            if enc["status"] != "open":
                raise ToolError(f"Encounter {encounter_id} is already {enc['status']}; only open encounters can be signed.")
            now = self.clock.iso()
            enc.update(status="signed", signed_at=now, end_at=enc["end_at"] or now)
            self._audit(actor["id"], enc["patient_id"], "sign", "encounter", encounter_id)
            return {"encounter": dict(enc)}
        except ToolError as error:
            return self._refused(error, audit_mark)

    # ================================================================ clinical items

    def add_clinical_item(self, acting_user_id: str, patient_id: str, category: Literal["diagnosis", "lab_result", "medication", "allergy", "immunization", "clinical_note", "imaging_report", "document"], title: str,
                          status: Literal["active", "resolved", "discontinued", "preliminary", "final"], encounter_id: str | None = None, code: str | None = None,
                          value: str | None = None, unit: str | None = None, reference_range: str | None = None,
                          abnormal_flag: Literal["normal", "low", "high", "critical"] | None = None, sensitivity: Literal["normal", "mental_health", "substance_use", "hiv", "reproductive", "genetic"] = "normal",
                          recorded_at: str | None = None, break_glass_reason: str | None = None) -> dict:
        """Record a new clinical item; adding one to a signed encounter amends that encounter.

        Args:
            acting_user_id: Physician or nurse recording the item, e.g. USR-0042.
            patient_id: Patient id, e.g. PAT-000123.
            category: Clinical item category.
            title: Item title, e.g. 'Hemoglobin A1c'.
            status: Initial item status.
            encounter_id: Encounter of the same patient to link to.
            code: Clinical code (ICD-10, LOINC, RxNorm, CVX...).
            value: Result value or dose.
            unit: Unit of the value.
            reference_range: Reference range text.
            abnormal_flag: Result interpretation flag.
            sensitivity: Sensitivity class, one of normal, mental_health, substance_use, hiv, reproductive, genetic (default normal).
            recorded_at: Date-time recorded; defaults to now; not before the patient's date_of_birth.
            break_glass_reason: Required for restricted patients or without a treatment relationship (at least 10 characters).
        """
        audit_mark = self._audit_mark()
        try:
            actor = self._actor(acting_user_id, patient_id, "create", "clinical_item", None)
            patient = self._patient(patient_id)
            self._enum(category, CATEGORIES, "category")
            title_text = self._text(title, "title")
            self._enum(status, NEW_ITEM_STATUSES, "status")
            if abnormal_flag is not None:
                self._enum(abnormal_flag, ABNORMAL_FLAGS, "abnormal_flag")
            self._enum(sensitivity, SENSITIVITIES, "sensitivity")
            if encounter_id is not None and self._record("encounters", encounter_id, "encounter")["patient_id"] != patient_id:
                raise ToolError(f"Encounter {encounter_id} belongs to another patient.")
            when = self._instant(recorded_at, "recorded_at") if recorded_at else self._now()
            if when.date() < self._date(patient["date_of_birth"], "date_of_birth") or when > self._now():
                raise ToolError("recorded_at must be between the patient's date of birth and now.")
            self._write_access(actor, patient, category, "create", None, break_glass_reason)
            item_id = self._next_id("ITM", "clinical_items", 6)
            self.state["clinical_items"][item_id] = item = {
                "id": item_id, "patient_id": patient_id, "encounter_id": encounter_id, "category": category,
                "code": self._opt_text(code), "title": title_text, "value": value, "unit": unit,
                "reference_range": reference_range, "abnormal_flag": abnormal_flag, "status": status,
                "sensitivity": sensitivity, "recorded_at": self._fmt(when), "recorded_by": actor["id"], "error_reason": None,
            }
            self._audit(actor["id"], patient_id, "create", "clinical_item", item_id)
            amended = self._amend(actor, encounter_id, item_id)
            return {"item": self._item_view(item), "encounter_amended": amended}
        except ToolError as error:
            return self._refused(error, audit_mark)

    def update_clinical_item_status(self, acting_user_id: str, item_id: str, status: Literal["active", "resolved", "discontinued", "preliminary", "final", "entered_in_error"],
                                    error_reason: str | None = None, break_glass_reason: str | None = None) -> dict:
        """Change a clinical item's status in place, or mark it entered_in_error with a reason.

        Args:
            acting_user_id: Physician or nurse making the change, e.g. USR-0042.
            item_id: Clinical item id, e.g. ITM-000456.
            status: Item status.
            error_reason: Required when status is entered_in_error.
            break_glass_reason: Emergency justification when access would otherwise be refused (at least 10 characters).
        """
        audit_mark = self._audit_mark()
        try:
            actor, item = self._load(acting_user_id, "clinical_items", item_id, "update", "clinical_item")
            patient = self._patient(item["patient_id"])
            self._enum(status, ITEM_STATUSES, "status")
            if item["status"] == "entered_in_error":
                raise ToolError(f"Item {item_id} is entered_in_error and can no longer change.")
            if status == item["status"]:
                raise ToolError(f"Item {item_id} already has status {status}.")
            reason_text = self._text(error_reason, "error_reason") if status == "entered_in_error" else None
            if error_reason is not None and reason_text is None:
                raise ToolError("error_reason is only used when marking an item entered_in_error.")
            enc = self.state["encounters"].get(item.get("encounter_id") or "")
            if reason_text is None and enc is not None and enc["status"] in ("signed", "amended"):
                raise ToolError(f"Item {item_id} belongs to {enc['status']} encounter {enc['id']} and cannot be edited in place; "
                                "mark it entered_in_error or use replace_clinical_item.")
            self._write_access(actor, patient, item["category"], "update", item_id, break_glass_reason, item["sensitivity"])
            previous = item["status"]
            item["status"] = status
            if reason_text:
                item["error_reason"] = reason_text
            self._audit(actor["id"], patient["id"], "update", "clinical_item", item_id,
                        reason=f"status {previous} -> {status}" + (f": {reason_text}" if reason_text else ""))
            return {"item": self._item_view(item), "previous_status": previous}
        except ToolError as error:
            return self._refused(error, audit_mark)

    def replace_clinical_item(self, acting_user_id: str, item_id: str, correction_reason: str,
                              title: str | None = None, code: str | None = None, value: str | None = None,
                              unit: str | None = None, reference_range: str | None = None,
                              abnormal_flag: Literal["normal", "low", "high", "critical"] | None = None, status: Literal["active", "resolved", "discontinued", "preliminary", "final"] | None = None,
                              sensitivity: Literal["normal", "mental_health", "substance_use", "hiv", "reproductive", "genetic"] | None = None) -> dict:
        """Correct a clinical item by creating a replacement and marking the original entered_in_error.

        Args:
            acting_user_id: Physician amending the record, or a nurse for lab_result, allergy and immunization items.
            item_id: Item being replaced, e.g. ITM-000456.
            correction_reason: Why the original is wrong.
            title: Corrected title (default: original).
            code: Corrected code.
            value: Corrected value.
            unit: Corrected unit.
            reference_range: Corrected reference range.
            abnormal_flag: Result interpretation flag.
            status: Corrected status (default: original).
            sensitivity: Corrected sensitivity (default: original).
        """
        audit_mark = self._audit_mark()
        try:
            actor, original = self._load(acting_user_id, "clinical_items", item_id, "update", "clinical_item")
            patient = self._patient(original["patient_id"])
            reason_text = self._text(correction_reason, "correction_reason")
            if original["status"] == "entered_in_error":
                raise ToolError(f"Item {item_id} is already entered_in_error; replace its current version instead.")
            corrections = {"title": title, "code": code, "value": value, "unit": unit, "reference_range": reference_range,
                           "abnormal_flag": abnormal_flag, "status": status, "sensitivity": sensitivity}
            corrections = {k: v for k, v in corrections.items() if v is not None}
            if not corrections:
                raise ToolError("Provide at least one corrected value.")
            if "title" in corrections:
                corrections["title"] = self._text(title, "title")
            for field, allowed in (("abnormal_flag", ABNORMAL_FLAGS), ("status", NEW_ITEM_STATUSES), ("sensitivity", SENSITIVITIES)):
                if field in corrections:
                    self._enum(corrections[field], allowed, field)
            self._write_access(actor, patient, original["category"], "update", item_id, None, original["sensitivity"])
            new_id = self._next_id("ITM", "clinical_items", 6)
            self.state["clinical_items"][new_id] = replacement = {
                **original, **corrections, "id": new_id, "recorded_at": self.clock.iso(), "recorded_by": actor["id"],
                "error_reason": None,
            }
            original.update(status="entered_in_error", error_reason=f"Replaced by {new_id}: {reason_text}")
            self._audit(actor["id"], patient["id"], "create", "clinical_item", new_id, reason=f"replacement for {item_id}")
            self._audit(actor["id"], patient["id"], "update", "clinical_item", item_id, reason=original["error_reason"])
            amended = self._amend(actor, original.get("encounter_id"), new_id)
            return {"original": self._item_view(original), "replacement": self._item_view(replacement),
                    "encounter_amended": amended}
        except ToolError as error:
            return self._refused(error, audit_mark)

    # ================================================================ access grants

    def grant_record_access(self, acting_user_id: str, patient_id: str, grantee_user_id: str,
                            grantee_type: Literal["provider", "proxy"], access_level: Literal["read", "manage"],
                            categories: list[str], purpose: Literal["treatment", "caregiving", "second_opinion", "care_coordination", "legal_guardian"], includes_sensitive: bool = False,
                            expires_on: str | None = None) -> dict:
        """Create a patient consent that gives a provider or proxy access to chosen record categories.

        Args:
            acting_user_id: The patient's own user, or a proxy with an active manage grant, e.g. USR-0042.
            patient_id: Patient whose record is shared, e.g. PAT-000123.
            grantee_user_id: User receiving access.
            grantee_type: Whether the grantee is a provider or a proxy.
            access_level: read, or manage (a proxy may then administer grants).
            categories: Distinct categories, each one of: diagnosis, lab_result, medication, allergy, immunization, clinical_note, imaging_report, document.
            purpose: Why access is shared.
            includes_sensitive: Whether sensitive items are included (default false).
            expires_on: Expiry date YYYY-MM-DD, after today.
        """
        audit_mark = self._audit_mark()
        try:
            actor = self._actor(acting_user_id, patient_id, "grant_access", "access_grant", None)
            self._patient(patient_id)
            self._enum(grantee_type, ("provider", "proxy"), "grantee_type")
            self._enum(access_level, ("read", "manage"), "access_level")
            self._enum(purpose, GRANT_PURPOSES, "purpose")
            cats = self._categories(categories)
            expiry = self._date(expires_on, "expires_on") if expires_on is not None else None
            if expiry is not None and expiry <= self._today():
                raise ToolError("expires_on must be after today.")
            if not self._can_manage(actor, patient_id):
                raise self._deny(actor["id"], patient_id, "grant_access", "access_grant", None,
                                 "only the patient's own account or a proxy with an active manage grant can share this record.")
            grantee = self._record("users", grantee_user_id, "user")
            if not grantee["is_active"] or grantee.get("linked_patient_id") == patient_id:
                raise ToolError("The grantee must be an active user other than the patient.")
            expected = {"proxy"} if grantee_type == "proxy" else PROVIDER_GRANTEE_ROLES
            if grantee["role"] not in expected:
                raise ToolError(f"User {grantee_user_id} has role {grantee['role']}, which does not fit grantee_type {grantee_type}.")
            if access_level == "manage" and grantee_type != "proxy":
                raise ToolError("Only proxies can be given manage access.")
            if self._grant(patient_id, grantee_user_id) is not None:
                raise ToolError(f"User {grantee_user_id} already holds an active grant for {patient_id}; revoke it first.")
            grant_id = self._next_id("GRT", "access_grants", 5)
            self.state["access_grants"][grant_id] = grant = {
                "id": grant_id, "patient_id": patient_id, "grantee_user_id": grantee_user_id, "grantee_type": grantee_type,
                "access_level": access_level, "categories": cats, "includes_sensitive": bool(includes_sensitive),
                "purpose": purpose, "status": "active", "granted_by": actor["id"], "granted_at": self.clock.iso(),
                "expires_on": expiry.isoformat() if expiry else None, "revoked_at": None,
            }
            self._audit(actor["id"], patient_id, "grant_access", "access_grant", grant_id,
                        reason=f"{access_level} access for {grantee_user_id}")
            return {"grant": {**grant, "categories": list(cats), "grantee_name": grantee["name"]}}
        except ToolError as error:
            return self._refused(error, audit_mark)

    def revoke_record_access(self, acting_user_id: str, grant_id: str) -> dict:
        """Revoke an active access grant, setting status revoked and revoked_at now.

        Args:
            acting_user_id: The patient's own user, or a proxy with an active manage grant, e.g. USR-0042.
            grant_id: Grant id, e.g. GRT-00012.
        """
        audit_mark = self._audit_mark()
        try:
            actor, grant = self._load(acting_user_id, "access_grants", grant_id, "revoke_access", "access_grant")
            if not self._can_manage(actor, grant["patient_id"]):
                raise self._deny(actor["id"], grant["patient_id"], "revoke_access", "access_grant", grant_id,
                                 "only the patient's own account or a proxy with an active manage grant can revoke access.")
            if grant["status"] != "active":
                raise ToolError(f"Grant {grant_id} is already {grant['status']}; only active grants can be revoked.")
            grant.update(status="revoked", revoked_at=self.clock.iso())
            self._audit(actor["id"], grant["patient_id"], "revoke_access", "access_grant", grant_id)
            return {"grant": {**grant, "categories": list(grant["categories"]), "grantee_name": self._name(grant["grantee_user_id"])}}
        except ToolError as error:
            return self._refused(error, audit_mark)

    # ================================================================ release requests

    def _release_actor(self, acting_user_id: str, request_id: str, action: str = "update",
                       patient_may: bool = False) -> tuple:
        req = self.state["release_requests"].get(request_id)
        actor = self._actor(acting_user_id, req and req["patient_id"], action, "release_request", request_id)
        req = self._record("release_requests", request_id, "release request")
        ok = actor["role"] == "him_clerk" or (patient_may and self._own(actor, req["patient_id"]))
        if not ok:
            raise self._deny(actor["id"], req["patient_id"], action, "release_request", request_id,
                             f"role {actor['role']} cannot perform this step of the release workflow.")
        return actor, req

    def create_release_request(self, acting_user_id: str, patient_id: str, requester_name: str,
                               requester_type: Literal["patient", "provider", "insurer", "attorney", "government_agency", "other"], recipient: str, purpose: Literal["personal_use", "treatment", "insurance", "legal", "disability", "research", "other"],
                               categories: list[str], includes_sensitive: bool = False, date_from: str | None = None,
                               date_to: str | None = None, authorization_signed: bool = False) -> dict:
        """Log a received request to release copies of a patient's records; due 30 days after receipt.

        Args:
            acting_user_id: HIM clerk logging the request, or the patient's own user, e.g. USR-0042.
            patient_id: Patient whose records are requested, e.g. PAT-000123.
            requester_name: Name of the requester.
            requester_type: Kind of requester.
            recipient: Who or where the copies go.
            purpose: Purpose of the release.
            categories: Distinct record categories requested.
            includes_sensitive: Whether sensitive items are requested (default false).
            date_from: Start of the record period, YYYY-MM-DD.
            date_to: End of the record period, YYYY-MM-DD.
            authorization_signed: Whether a signed patient authorization was received (default false).
        """
        audit_mark = self._audit_mark()
        try:
            actor = self._actor(acting_user_id, patient_id, "create", "release_request", None)
            self._patient(patient_id)
            name_text, recipient_text = self._text(requester_name, "requester_name"), self._text(recipient, "recipient")
            self._enum(requester_type, REQUESTER_TYPES, "requester_type")
            self._enum(purpose, RELEASE_PURPOSES, "purpose")
            cats = self._categories(categories)
            start, end = self._range(date_from, date_to, ("date_from", "date_to"))
            if not (actor["role"] == "him_clerk" or self._own(actor, patient_id)):
                raise self._deny(actor["id"], patient_id, "create", "release_request", None,
                                 "only HIM clerks or the patient's own account can log release requests.")
            if actor["role"] == "patient" and requester_type != "patient":
                raise ToolError("A request logged from the patient's own account must have requester_type patient.")
            now = self._now()
            request_id = self._next_id("REL", "release_requests", 5)
            self.state["release_requests"][request_id] = req = {
                "id": request_id, "patient_id": patient_id, "requester_name": name_text, "requester_type": requester_type,
                "recipient": recipient_text, "purpose": purpose, "categories": cats,
                "includes_sensitive": bool(includes_sensitive), "date_from": start.isoformat() if start else None,
                "date_to": end.isoformat() if end else None, "authorization_signed": bool(authorization_signed),
                "status": "received", "received_at": self._fmt(now), "due_date": (now.date() + timedelta(days=30)).isoformat(),
                "handled_by": None, "page_count": None, "fee_cents": 0, "denial_reason": None, "fulfilled_at": None,
            }
            self._audit(actor["id"], patient_id, "create", "release_request", request_id)
            return {"request": self._release_view(req)}
        except ToolError as error:
            return self._refused(error, audit_mark)

    def start_release_review(self, acting_user_id: str, request_id: str, authorization_signed: bool | None = None) -> dict:
        """Take a received release request into review; optionally record that the signed authorization arrived.

        Args:
            acting_user_id: HIM clerk, e.g. USR-0042.
            request_id: Release request id, e.g. REL-00034.
            authorization_signed: Set true if the signed authorization is now on file.
        """
        audit_mark = self._audit_mark()
        try:
            actor, req = self._release_actor(acting_user_id, request_id)
            if req["status"] != "received":
                raise ToolError(f"Request {request_id} is {req['status']}; only received requests can be taken into review.")
            if authorization_signed is False and req["authorization_signed"]:
                raise ToolError("A signed authorization already on file cannot be withdrawn here.")
            req.update(status="in_review", handled_by=actor["id"])
            if authorization_signed:
                req["authorization_signed"] = True
            self._audit(actor["id"], req["patient_id"], "update", "release_request", request_id, reason="review started")
            return {"request": self._release_view(req)}
        except ToolError as error:
            return self._refused(error, audit_mark)

    def decide_release_request(self, acting_user_id: str, request_id: str, decision: Literal["approve", "deny"],
                               denial_reason: str | None = None) -> dict:
        """Approve an in-review release request, or deny a received or in-review one with a reason.

        Args:
            acting_user_id: HIM clerk, e.g. USR-0042.
            request_id: Release request id, e.g. REL-00034.
            decision: approve or deny.
            denial_reason: Required when denying.
        """
        audit_mark = self._audit_mark()
        try:
            actor, req = self._release_actor(acting_user_id, request_id)
            self._enum(decision, ("approve", "deny"), "decision")
            if decision == "approve":
                if req["status"] != "in_review":
                    raise ToolError(f"Request {request_id} is {req['status']}; only requests in review can be approved.")
                exempt = req["requester_type"] == "patient" or (req["requester_type"] == "provider" and req["purpose"] == "treatment")
                if not req["authorization_signed"] and (req["includes_sensitive"] or not exempt):
                    raise ToolError("A signed patient authorization must be on file before this request can be approved"
                                    + (" (it includes sensitive records)." if req["includes_sensitive"] else "."))
                req["status"], note = "approved", "approved"
            else:
                if req["status"] not in ("received", "in_review"):
                    raise ToolError(f"Request {request_id} is {req['status']}; only received or in-review requests can be denied.")
                reason_text = self._text(denial_reason, "denial_reason")
                req.update(status="denied", denial_reason=reason_text)
                note = f"denied: {reason_text}"
            req["handled_by"] = actor["id"]
            self._audit(actor["id"], req["patient_id"], "update", "release_request", request_id, reason=note)
            return {"request": self._release_view(req)}
        except ToolError as error:
            return self._refused(error, audit_mark)

    def cancel_release_request(self, acting_user_id: str, request_id: str, reason: str | None = None) -> dict:
        """Cancel a release request that is received, in review or approved.

        Args:
            acting_user_id: HIM clerk, or the patient's own user for their own request, e.g. USR-0042.
            request_id: Release request id, e.g. REL-00034.
            reason: Why it is cancelled.
        """
        audit_mark = self._audit_mark()
        try:
            actor, req = self._release_actor(acting_user_id, request_id, patient_may=True)
            if req["status"] not in OPEN_RELEASE:
                raise ToolError(f"Request {request_id} is {req['status']} and can no longer be cancelled.")
            req["status"] = "cancelled"
            if actor["role"] == "him_clerk":
                req["handled_by"] = actor["id"]
            note = "cancelled" + (f": {reason.strip()}" if self._opt_text(reason) else "")
            self._audit(actor["id"], req["patient_id"], "update", "release_request", request_id, reason=note)
            return {"request": self._release_view(req)}
        except ToolError as error:
            return self._refused(error, audit_mark)

    def fulfill_release_request(self, acting_user_id: str, request_id: str, page_count: int) -> dict:
        """Fulfil an approved release: record the page count, compute the fee and set status fulfilled.

        Args:
            acting_user_id: HIM clerk, e.g. USR-0042.
            request_id: Release request id, e.g. REL-00034.
            page_count: Number of pages released, at least 1.
        """
        audit_mark = self._audit_mark()
        try:
            actor, req = self._release_actor(acting_user_id, request_id, action="release")
            if req["status"] != "approved":
                raise ToolError(f"Request {request_id} is {req['status']}; only approved requests can be fulfilled.")
            if isinstance(page_count, bool) or not isinstance(page_count, int) or page_count < 1:
                raise ToolError("page_count must be an integer of at least 1.")
            if req["requester_type"] == "patient":
                fee = 650
            elif req["requester_type"] == "provider" and req["purpose"] == "treatment":
                fee = 0
            else:
                fee = 2500 + 25 * page_count
            req.update(page_count=page_count, fee_cents=fee, status="fulfilled", fulfilled_at=self.clock.iso(),
                       handled_by=actor["id"])
            self._audit(actor["id"], req["patient_id"], "release", "release_request", request_id,
                        reason=f"released {page_count} page(s) to {req['recipient']}")
            return {"request": self._release_view(req), "fee_cents": fee}
        except ToolError as error:
            return self._refused(error, audit_mark)
