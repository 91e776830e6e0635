import re
from datetime import date, datetime, timedelta
from typing import Any, Literal

from envmint_runtime import Environment, ToolError

SPECIALTIES = frozenset({
    "primary_care", "urgent_care", "pediatrics", "dermatology", "cardiology", "psychiatry",
    "psychology", "neurology", "gynecology", "endocrinology", "dentistry", "nutrition",
})
PRIMARY_COPAY_SPECIALTIES = frozenset({"primary_care", "pediatrics", "urgent_care"})
APPOINTMENT_STATUSES = frozenset({"scheduled", "checked_in", "in_progress", "completed", "cancelled", "no_show"})
ACTIVE_STATUSES = frozenset({"scheduled", "checked_in", "in_progress"})
VISIT_TYPES = frozenset({"new_patient", "follow_up", "urgent"})
OUTCOMES = frozenset({
    "resolved", "follow_up_needed", "referred_in_person", "prescription_issued", "escalated_to_emergency",
})
VISIT_CHARGE_TYPES = frozenset({"copay", "self_pay_fee"})

LATE_CANCELLATION_FEE_CENTS = 2500
NO_SHOW_FEE_CENTS = 5000
NO_SHOW_LIMIT = 3
MAX_RESCHEDULES = 2
CHECK_IN_OPENS_BEFORE = timedelta(minutes=15)
CHECK_IN_CLOSES_AFTER = timedelta(minutes=10)
NO_SHOW_AFTER = timedelta(minutes=15)
FREE_CANCELLATION_WINDOW = timedelta(hours=24)
RESCHEDULE_WINDOW = timedelta(hours=24)

STATE_RE = r"^[A-Z]{2}$"


class TelehealthConsultationPlatform(Environment):
    """Virtual care platform: providers, licenses, slots, video visits, notes and charges."""

    # ------------------------------------------------------------------ helpers

    @staticmethod
    def _naive_utc(dt: datetime) -> datetime:
        offset = dt.utcoffset()
        if offset is not None:
            dt = (dt - offset).replace(tzinfo=None)
        return dt

    def _now(self) -> datetime:
        return self._naive_utc(self.clock.now())

    def _today(self) -> date:
        return self._now().date()

    @staticmethod
    def _fmt(dt: datetime) -> str:
        return dt.strftime("%Y-%m-%dT%H:%M:%SZ")

    def _parse_instant(self, value: Any, field: str) -> datetime:
        if not isinstance(value, str) or not value.strip():
            raise ToolError(f"{field} must be an ISO 8601 instant like 2025-03-14T15:30:00Z.")
        text = value.strip()
        if text.endswith("Z") or text.endswith("z"):
            text = text[:-1] + "+00:00"
        try:
            dt = datetime.fromisoformat(text)
        except ValueError:
            raise ToolError(f"{field} must be an ISO 8601 instant like 2025-03-14T15:30:00Z, got {value!r}.")
        return self._naive_utc(dt)

    @staticmethod
    def _parse_date(value: Any, field: str) -> date:
        if not isinstance(value, str):
            raise ToolError(f"{field} must be a date in YYYY-MM-DD format.")
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            raise ToolError(f"{field} must be a date in YYYY-MM-DD format, got {value!r}.")

    def _new_id(self, prefix: str, collection: str, width: int) -> str:
        highest = 0
        pattern = re.compile(rf"^{prefix}-(\d{{{width}}})$")
        for key in self.state[collection]:
            match = pattern.match(key)
            if match:
                highest = max(highest, int(match.group(1)))
        candidate = highest + 1
        if candidate >= 10 ** width:
            raise ToolError(f"No free {prefix} ids remain.")
        return f"{prefix}-{candidate:0{width}d}"

    def _get_patient(self, patient_id: str) -> dict:
        patient = self.state["patients"].get(patient_id)
        if patient is None:
            raise ToolError(f"No patient with id {patient_id!r}. Use find_patients to look the patient up.")
        return patient

    def _get_provider(self, provider_id: str) -> dict:
        provider = self.state["providers"].get(provider_id)
        if provider is None:
            raise ToolError(f"No provider with id {provider_id!r}. Use search_providers to find providers.")
        return provider

    def _get_appointment(self, appointment_id: str) -> dict:
        appointment = self.state["appointments"].get(appointment_id)
        if appointment is None:
            raise ToolError(f"No appointment with id {appointment_id!r}.")
        return appointment

    def _get_slot(self, slot_id: str) -> dict:
        slot = self.state["availability_slots"].get(slot_id)
        if slot is None:
            raise ToolError(f"No availability slot with id {slot_id!r}. Use list_open_slots to find open slots.")
        return slot

    @staticmethod
    def _check_specialty(specialty: str) -> None:
        if specialty not in SPECIALTIES:
            raise ToolError(f"Unknown specialty {specialty!r}. Use one of: {', '.join(sorted(SPECIALTIES))}.")

    @staticmethod
    def _normalize_state(value: str, field: str) -> str:
        if not isinstance(value, str):
            raise ToolError(f"{field} must be a two-letter US state code such as CA.")
        code = value.strip().upper()
        if not re.match(STATE_RE, code):
            raise ToolError(f"{field} must be a two-letter US state code such as CA, got {value!r}.")
        return code

    def _valid_license(self, provider_id: str, state_code: str, on_date: date) -> dict | None:
        for lic in self.state["licenses"].values():
            if (
                lic["provider_id"] == provider_id
                and lic["state"] == state_code
                and lic["status"] == "active"
                and self._parse_date(lic["expiration_date"], "expiration_date") >= on_date
            ):
                return lic
        return None

    def _has_completed_visit(self, patient_id: str, provider_id: str) -> bool:
        return any(
            a["patient_id"] == patient_id and a["provider_id"] == provider_id and a["status"] == "completed"
            for a in self.state["appointments"].values()
        )

    def _patient_conflict(self, patient_id: str, start: datetime, end: datetime, exclude_id: str | None = None) -> dict | None:
        for appt in self.state["appointments"].values():
            if appt["id"] == exclude_id or appt["patient_id"] != patient_id:
                continue
            if appt["status"] not in ACTIVE_STATUSES:
                continue
            a_start = self._parse_instant(appt["start_time"], "start_time")
            a_end = self._parse_instant(appt["end_time"], "end_time")
            if a_start < end and start < a_end:
                return appt
        return None

    def _billing(self, patient: dict, provider: dict, specialty: str) -> dict:
        fee = provider["consult_fee_cents"]
        plan_id = patient.get("insurance_plan_id")
        plan = self.state["insurance_plans"].get(plan_id) if plan_id else None
        if plan is None:
            reason = "no insurance plan on file"
        elif not plan["active"]:
            reason = "plan inactive"
        elif not plan["telehealth_covered"]:
            reason = "telehealth not covered"
        elif plan_id not in provider["accepted_plan_ids"]:
            reason = "plan not accepted"
        else:
            copay = plan["primary_care_copay_cents"] if specialty in PRIMARY_COPAY_SPECIALTIES else plan["specialist_copay_cents"]
            amount = min(copay, fee)
            return {
                "billing_type": "insurance",
                "patient_responsibility_cents": amount,
                "charge_type": "copay",
                "reason": "copay used" + (" (capped at the consult fee)" if copay > fee else ""),
                "insurance_plan_id": plan_id,
                "consult_fee_cents": fee,
            }
        return {
            "billing_type": "self_pay",
            "patient_responsibility_cents": fee,
            "charge_type": "self_pay_fee",
            "reason": reason,
            "insurance_plan_id": plan_id,
            "consult_fee_cents": fee,
        }

    def _visit_charge(self, appointment_id: str) -> dict | None:
        found = None
        for charge in self.state["charges"].values():
            if charge["appointment_id"] == appointment_id and charge["charge_type"] in VISIT_CHARGE_TYPES:
                if found is None or charge["created_at"] > found["created_at"]:
                    found = charge
        return found

    def _create_charge(self, patient_id: str, appointment_id: str, charge_type: str, amount: int) -> dict:
        charge_id = self._new_id("CHG", "charges", 6)
        charge = {
            "id": charge_id,
            "patient_id": patient_id,
            "appointment_id": appointment_id,
            "charge_type": charge_type,
            "amount_cents": int(amount),
            "status": "pending",
            "created_at": self.clock.iso(),
        }
        self.state["charges"][charge_id] = charge
        return charge

    def _note_for(self, appointment_id: str) -> dict | None:
        for note in self.state["visit_notes"].values():
            if note["appointment_id"] == appointment_id:
                return note
        return None

    def _appointment_summary(self, appt: dict) -> dict:
        provider = self.state["providers"].get(appt["provider_id"], {})
        patient = self.state["patients"].get(appt["patient_id"], {})
        return {
            "id": appt["id"],
            "patient_id": appt["patient_id"],
            "patient_name": patient.get("full_name"),
            "provider_id": appt["provider_id"],
            "provider_name": provider.get("full_name"),
            "specialty": appt["specialty"],
            "visit_type": appt["visit_type"],
            "start_time": appt["start_time"],
            "end_time": appt["end_time"],
            "status": appt["status"],
        }

    def _date_range(self, from_date: str | None, to_date: str | None, default_from: date | None) -> tuple[date | None, date | None]:
        start = self._parse_date(from_date, "from_date") if from_date else default_from
        end = self._parse_date(to_date, "to_date") if to_date else None
        if start is not None and end is not None and end < start:
            raise ToolError("to_date must be on or after from_date.")
        return start, end

    @staticmethod
    def _check_status_filter(status: str | None) -> None:
        if status is not None and status not in APPOINTMENT_STATUSES:
            raise ToolError(f"Unknown status {status!r}. Use one of: {', '.join(sorted(APPOINTMENT_STATUSES))}.")

    # ------------------------------------------------------------------ queries

    def find_patients(self, query: str | None = None, date_of_birth: str | None = None) -> dict:
        """Find patients by name, email, phone or date of birth.

        Args:
            query: Text matched case-insensitively against full_name, email and phone (at least 2 characters).
            date_of_birth: Exact date of birth, YYYY-MM-DD.
        """
        text = query.strip().lower() if isinstance(query, str) else ""
        if query is not None and len(text) < 2:
            raise ToolError("query must contain at least 2 characters.")
        if not text and date_of_birth is None:
            raise ToolError("Provide a query (name, email or phone) and/or a date_of_birth.")
        dob = self._parse_date(date_of_birth, "date_of_birth").isoformat() if date_of_birth else None
        digits = re.sub(r"\D", "", text)
        matches = []
        for patient in self.state["patients"].values():
            if dob is not None and patient["date_of_birth"] != dob:
                continue
            if text:
                hit = (
                    text in patient["full_name"].lower()
                    or text in patient["email"].lower()
                    or text in patient["phone"].lower()
                    or (len(digits) >= 2 and digits in re.sub(r"\D", "", patient["phone"]))
                )
                if not hit:
                    continue
            matches.append({
                "id": patient["id"],
                "full_name": patient["full_name"],
                "date_of_birth": patient["date_of_birth"],
                "state": patient["state"],
                "email": patient["email"],
            })
        matches.sort(key=lambda p: (p["full_name"].lower(), p["id"]))
        return {"patients": matches, "count": len(matches)}

    def get_patient(self, patient_id: str) -> dict:
        """Return a patient's profile, insurance, booking eligibility, upcoming appointments and pending charges.

        Args:
            patient_id: Patient id, e.g. PT-00123.
        """
        patient = self._get_patient(patient_id)
        plan = self.state["insurance_plans"].get(patient["insurance_plan_id"]) if patient["insurance_plan_id"] else None
        now = self._now()
        upcoming = []
        for appt in self.state["appointments"].values():
            if appt["patient_id"] != patient_id or appt["status"] not in ACTIVE_STATUSES:
                continue
            if self._parse_instant(appt["end_time"], "end_time") <= now and appt["status"] == "scheduled":
                continue
            upcoming.append(self._appointment_summary(appt))
        upcoming.sort(key=lambda a: a["start_time"])
        pending = sorted(
            (dict(c) for c in self.state["charges"].values() if c["patient_id"] == patient_id and c["status"] == "pending"),
            key=lambda c: c["created_at"],
        )
        return {
            "patient": dict(patient),
            "insurance_plan": None if plan is None else {
                "id": plan["id"],
                "name": plan["name"],
                "payer": plan["payer"],
                "telehealth_covered": plan["telehealth_covered"],
                "primary_care_copay_cents": plan["primary_care_copay_cents"],
                "specialist_copay_cents": plan["specialist_copay_cents"],
                "active": plan["active"],
            },
            "insurance_member_id": patient["insurance_member_id"],
            "no_show_count": patient["no_show_count"],
            "can_book": patient["no_show_count"] < NO_SHOW_LIMIT,
            "upcoming_appointments": upcoming,
            "pending_charges": pending,
            "total_due_cents": sum(c["amount_cents"] for c in pending),
        }

    def search_providers(
        self,
        specialty: Literal["primary_care", "urgent_care", "pediatrics", "dermatology", "cardiology", "psychiatry", "psychology", "neurology", "gynecology", "endocrinology", "dentistry", "nutrition"] | None = None,
        license_state: str | None = None,
        insurance_plan_id: str | None = None,
        practice_state: str | None = None,
        practice_city: str | None = None,
        language: str | None = None,
        accepts_new_patients: bool | None = None,
        min_rating: float | None = None,
    ) -> dict:
        """Search active providers by specialty, licensure, insurance, location, language and rating.

        Args:
            specialty: One of: primary_care, urgent_care, pediatrics, dermatology, cardiology, psychiatry, psychology, neurology, gynecology, endocrinology, dentistry, nutrition.
            license_state: Two-letter state where the patient will be; only providers with an active, unexpired license there are returned.
            insurance_plan_id: Only providers whose accepted_plan_ids include this plan, e.g. PLAN-001.
            practice_state: Two-letter practice state.
            practice_city: Practice city (case-insensitive).
            language: Language the provider speaks, e.g. Spanish.
            accepts_new_patients: Filter on accepting new patients.
            min_rating: Minimum rating, 0-5.
        """
        if specialty is not None:
            self._check_specialty(specialty)
        lic_state = self._normalize_state(license_state, "license_state") if license_state else None
        prac_state = self._normalize_state(practice_state, "practice_state") if practice_state else None
        if insurance_plan_id is not None and insurance_plan_id not in self.state["insurance_plans"]:
            raise ToolError(f"No insurance plan with id {insurance_plan_id!r}.")
        if min_rating is not None and not (0 <= min_rating <= 5):
            raise ToolError("min_rating must be between 0 and 5.")
        city = practice_city.strip().lower() if practice_city else None
        lang = language.strip().lower() if language else None
        today = self._today()
        now = self._now()
        open_counts: dict[str, int] = {}
        for slot in self.state["availability_slots"].values():
            if slot["status"] == "open" and slot["appointment_id"] is None and self._parse_instant(slot["start_time"], "start_time") > now:
                open_counts[slot["provider_id"]] = open_counts.get(slot["provider_id"], 0) + 1
        results = []
        for provider in self.state["providers"].values():
            if not provider["active"]:
                continue
            if specialty is not None and specialty not in provider["specialties"]:
                continue
            if lic_state is not None and self._valid_license(provider["id"], lic_state, today) is None:
                continue
            if insurance_plan_id is not None and insurance_plan_id not in provider["accepted_plan_ids"]:
                continue
            if prac_state is not None and provider["practice_state"] != prac_state:
                continue
            if city is not None and provider["practice_city"].strip().lower() != city:
                continue
            if lang is not None and lang not in [l.lower() for l in provider["languages"]]:
                continue
            if accepts_new_patients is not None and provider["accepts_new_patients"] != accepts_new_patients:
                continue
            if min_rating is not None and provider["rating"] < min_rating:
                continue
            results.append({
                "id": provider["id"],
                "full_name": provider["full_name"],
                "credential": provider["credential"],
                "specialties": list(provider["specialties"]),
                "languages": list(provider["languages"]),
                "practice_city": provider["practice_city"],
                "practice_state": provider["practice_state"],
                "consult_fee_cents": provider["consult_fee_cents"],
                "visit_duration_minutes": provider["visit_duration_minutes"],
                "accepts_new_patients": provider["accepts_new_patients"],
                "rating": provider["rating"],
                "insurance_accepted": None if insurance_plan_id is None else insurance_plan_id in provider["accepted_plan_ids"],
                "open_future_slots": open_counts.get(provider["id"], 0),
            })
        results.sort(key=lambda p: (-p["rating"], p["full_name"].lower(), p["id"]))
        return {"providers": results, "count": len(results)}

    def get_provider(self, provider_id: str) -> dict:
        """Return a provider's full profile with licenses and accepted insurance plans.

        Args:
            provider_id: Provider id, e.g. PRV-0042.
        """
        provider = self._get_provider(provider_id)
        licenses = sorted(
            (
                {
                    "id": lic["id"],
                    "state": lic["state"],
                    "license_number": lic["license_number"],
                    "status": lic["status"],
                    "expiration_date": lic["expiration_date"],
                }
                for lic in self.state["licenses"].values()
                if lic["provider_id"] == provider_id
            ),
            key=lambda l: (l["state"], l["id"]),
        )
        plans = []
        for plan_id in provider["accepted_plan_ids"]:
            plan = self.state["insurance_plans"].get(plan_id)
            plans.append({
                "id": plan_id,
                "name": plan["name"] if plan else None,
                "payer": plan["payer"] if plan else None,
                "active": plan["active"] if plan else False,
            })
        return {"provider": dict(provider), "licenses": licenses, "accepted_plans": plans}

    def list_open_slots(self, provider_id: str, from_date: str | None = None, to_date: str | None = None) -> dict:
        """List a provider's open future availability slots, optionally within a date range.

        Args:
            provider_id: Provider whose calendar to read, e.g. PRV-0042.
            from_date: Earliest slot date, YYYY-MM-DD. Default today.
            to_date: Latest slot date, YYYY-MM-DD (inclusive).
        """
        self._get_provider(provider_id)
        start_d, end_d = self._date_range(from_date, to_date, self._today())
        now = self._now()
        slots = []
        for slot in self.state["availability_slots"].values():
            if slot["provider_id"] != provider_id or slot["status"] != "open" or slot["appointment_id"] is not None:
                continue
            start = self._parse_instant(slot["start_time"], "start_time")
            if start <= now:
                continue
            if start_d is not None and start.date() < start_d:
                continue
            if end_d is not None and start.date() > end_d:
                continue
            slots.append(dict(slot))
        slots.sort(key=lambda s: s["start_time"])
        return {"provider_id": provider_id, "slots": slots, "count": len(slots)}

    def estimate_visit_cost(
        self,
        patient_id: str,
        provider_id: str,
        specialty: Literal[
            "primary_care", "urgent_care", "pediatrics", "dermatology", "cardiology", "psychiatry",
            "psychology", "neurology", "gynecology", "endocrinology", "dentistry", "nutrition",
        ],
    ) -> dict:
        """Work out what a patient would owe for a visit with a provider in a specialty.

        Args:
            patient_id: Patient who would be billed, e.g. PT-00123.
            provider_id: Provider to be seen, e.g. PRV-0042.
            specialty: Visit specialty, one of the provider's specialties.
        """
        patient = self._get_patient(patient_id)
        provider = self._get_provider(provider_id)
        self._check_specialty(specialty)
        if specialty not in provider["specialties"]:
            raise ToolError(
                f"Provider {provider_id} does not practise {specialty}; their specialties are {', '.join(provider['specialties'])}."
            )
        billing = self._billing(patient, provider, specialty)
        return {"patient_id": patient_id, "provider_id": provider_id, "specialty": specialty, **billing}

    def get_appointment(self, appointment_id: str) -> dict:
        """Return an appointment with names, its visit note and all linked charges.

        Args:
            appointment_id: Appointment id, e.g. APT-000321.
        """
        appt = self._get_appointment(appointment_id)
        patient = self.state["patients"].get(appt["patient_id"], {})
        provider = self.state["providers"].get(appt["provider_id"], {})
        note = self._note_for(appointment_id)
        charges = sorted(
            (dict(c) for c in self.state["charges"].values() if c["appointment_id"] == appointment_id),
            key=lambda c: (c["created_at"], c["id"]),
        )
        return {
            "appointment": dict(appt),
            "patient_name": patient.get("full_name"),
            "provider_name": provider.get("full_name"),
            "visit_note": dict(note) if note else None,
            "charges": charges,
        }

    def list_patient_appointments(
        self,
        patient_id: str,
        status: Literal["scheduled", "checked_in", "in_progress", "completed", "cancelled", "no_show"] | None = None,
        from_date: str | None = None,
        to_date: str | None = None,
    ) -> dict:
        """List a patient's appointments, newest first, optionally filtered by status and date range.

        Args:
            patient_id: Patient whose appointments to list, e.g. PT-00123.
            status: One of: scheduled, checked_in, in_progress, completed, cancelled, no_show.
            from_date: Earliest appointment date, YYYY-MM-DD.
            to_date: Latest appointment date, YYYY-MM-DD (inclusive).
        """
        self._get_patient(patient_id)
        self._check_status_filter(status)
        start_d, end_d = self._date_range(from_date, to_date, None)
        items = []
        for appt in self.state["appointments"].values():
            if appt["patient_id"] != patient_id:
                continue
            if status is not None and appt["status"] != status:
                continue
            day = self._parse_instant(appt["start_time"], "start_time").date()
            if start_d is not None and day < start_d:
                continue
            if end_d is not None and day > end_d:
                continue
            items.append(self._appointment_summary(appt))
        items.sort(key=lambda a: a["start_time"], reverse=True)
        return {"patient_id": patient_id, "appointments": items, "count": len(items)}

    def list_provider_appointments(
        self,
        provider_id: str,
        from_date: str | None = None,
        to_date: str | None = None,
        status: Literal["scheduled", "checked_in", "in_progress", "completed", "cancelled", "no_show"] | None = None,
    ) -> dict:
        """Return a provider's appointments on a date or date range, sorted by start time.

        Args:
            provider_id: Provider whose schedule to list, e.g. PRV-0042.
            from_date: Earliest date, YYYY-MM-DD. Default today.
            to_date: Latest date, YYYY-MM-DD (inclusive). Default same as from_date.
            status: One of: scheduled, checked_in, in_progress, completed, cancelled, no_show.
        """
        self._get_provider(provider_id)
        self._check_status_filter(status)
        start_d = self._parse_date(from_date, "from_date") if from_date else self._today()
        end_d = self._parse_date(to_date, "to_date") if to_date else start_d
        if end_d < start_d:
            raise ToolError("to_date must be on or after from_date.")
        items = []
        for appt in self.state["appointments"].values():
            if appt["provider_id"] != provider_id:
                continue
            if status is not None and appt["status"] != status:
                continue
            day = self._parse_instant(appt["start_time"], "start_time").date()
            if day < start_d or day > end_d:
                continue
            items.append(self._appointment_summary(appt))
        items.sort(key=lambda a: (a["start_time"], a["id"]))
        return {
            "provider_id": provider_id,
            "from_date": start_d.isoformat(),
            "to_date": end_d.isoformat(),
            "appointments": items,
            "count": len(items),
        }

    # ------------------------------------------------------------------ mutations

    def book_appointment(
        self,
        patient_id: str,
        provider_id: str,
        slot_id: str,
        specialty: Literal["primary_care", "urgent_care", "pediatrics", "dermatology", "cardiology", "psychiatry", "psychology", "neurology", "gynecology", "endocrinology", "dentistry", "nutrition"],
        visit_type: Literal["new_patient", "follow_up", "urgent"],
        reason: str,
        patient_location_state: str | None = None,
        follow_up_of: str | None = None,
    ) -> dict:
        """Book a video visit in one of a provider's open slots and create the pending visit charge.

        Args:
            patient_id: Patient being booked, e.g. PT-00123.
            provider_id: Provider to see, e.g. PRV-0042.
            slot_id: Open slot of that provider, e.g. SLOT-000120.
            specialty: Visit specialty, one of the provider's specialties: primary_care, urgent_care, pediatrics, dermatology, cardiology, psychiatry, psychology, neurology, gynecology, endocrinology, dentistry, nutrition.
            visit_type: One of: new_patient, follow_up, urgent.
            reason: Reason for the visit.
            patient_location_state: Two-letter state the patient will be in during the visit. Default: the patient's residence state.
            follow_up_of: Id of the earlier appointment of this patient that this visit follows up.
        """
        patient = self._get_patient(patient_id)
        provider = self._get_provider(provider_id)
        slot = self._get_slot(slot_id)
        self._check_specialty(specialty)
        if visit_type not in VISIT_TYPES:
            raise ToolError(f"visit_type must be one of: {', '.join(sorted(VISIT_TYPES))}.")
        if not isinstance(reason, str) or not reason.strip():
            raise ToolError("reason must describe why the patient is being seen.")
        if patient["no_show_count"] >= NO_SHOW_LIMIT:
            raise ToolError(
                f"Patient {patient_id} has {patient['no_show_count']} no-shows and cannot book until staff reset the count."
            )
        if not provider["active"]:
            raise ToolError(f"Provider {provider_id} is not active and cannot be booked.")
        if specialty not in provider["specialties"]:
            raise ToolError(
                f"Provider {provider_id} does not practise {specialty}; their specialties are {', '.join(provider['specialties'])}."
            )
        if slot["provider_id"] != provider_id:
            raise ToolError(f"Slot {slot_id} belongs to provider {slot['provider_id']}, not {provider_id}.")
        if slot["status"] != "open" or slot["appointment_id"] is not None:
            raise ToolError(f"Slot {slot_id} is {slot['status']} and cannot be booked; pick another open slot.")
        start = self._parse_instant(slot["start_time"], "start_time")
        end = self._parse_instant(slot["end_time"], "end_time")
        if start <= self._now():
            raise ToolError(f"Slot {slot_id} starts in the past; pick a future slot.")
        location = (
            self._normalize_state(patient_location_state, "patient_location_state")
            if patient_location_state else patient["state"]
        )
        if self._valid_license(provider_id, location, start.date()) is None:
            raise ToolError(
                f"Provider {provider_id} has no active license in {location} valid on {start.date().isoformat()}; "
                "choose a provider licensed in the state where the patient will be."
            )
        if visit_type == "new_patient" and not provider["accepts_new_patients"] and not self._has_completed_visit(patient_id, provider_id):
            raise ToolError(f"Provider {provider_id} is not accepting new patients.")
        if follow_up_of is not None:
            original = self.state["appointments"].get(follow_up_of)
            if original is None:
                raise ToolError(f"No appointment with id {follow_up_of!r} to follow up.")
            if original["patient_id"] != patient_id:
                raise ToolError(f"Appointment {follow_up_of} belongs to a different patient.")
            if original["status"] != "completed":
                raise ToolError(f"Appointment {follow_up_of} is {original['status']}; only completed visits can be followed up.")
            if original["specialty"] != specialty:
                raise ToolError(
                    f"A follow-up of {follow_up_of} must be in the same specialty ({original['specialty']}), not {specialty}."
                )
            if self._parse_instant(original["start_time"], "start_time") >= start:
                raise ToolError("A follow-up visit must take place after the original visit.")
        conflict = self._patient_conflict(patient_id, start, end)
        if conflict is not None:
            raise ToolError(
                f"Patient {patient_id} already has appointment {conflict['id']} from {conflict['start_time']} to {conflict['end_time']} overlapping this slot."
            )

        billing = self._billing(patient, provider, specialty)
        appointment_id = self._new_id("APT", "appointments", 6)
        appointment = {
            "id": appointment_id,
            "patient_id": patient_id,
            "provider_id": provider_id,
            "slot_id": slot_id,
            "specialty": specialty,
            "visit_type": visit_type,
            "reason": reason.strip(),
            "patient_location_state": location,
            "start_time": slot["start_time"],
            "end_time": slot["end_time"],
            "status": "scheduled",
            "video_link": None,
            "patient_responsibility_cents": billing["patient_responsibility_cents"],
            "billing_type": billing["billing_type"],
            "reschedule_count": 0,
            "follow_up_of": follow_up_of,
            "checked_in_at": None,
            "cancelled_at": None,
            "cancelled_by": None,
            "created_at": self.clock.iso(),
        }
        self.state["appointments"][appointment_id] = appointment
        slot["status"] = "booked"
        slot["appointment_id"] = appointment_id
        charge = self._create_charge(patient_id, appointment_id, billing["charge_type"], billing["patient_responsibility_cents"])
        return {"appointment": dict(appointment), "charge": dict(charge), "billing_reason": billing["reason"]}

    def reschedule_appointment(self, appointment_id: str, new_slot_id: str) -> dict:
        """Move a scheduled appointment to another open slot of the same provider.

        Args:
            appointment_id: Appointment to move, e.g. APT-000321.
            new_slot_id: Open future slot of the same provider, e.g. SLOT-000455.
        """
        appt = self._get_appointment(appointment_id)
        new_slot = self._get_slot(new_slot_id)
        if appt["status"] != "scheduled":
            raise ToolError(f"Only scheduled appointments can be rescheduled; {appointment_id} is {appt['status']}.")
        now = self._now()
        old_start = self._parse_instant(appt["start_time"], "start_time")
        if old_start - now < RESCHEDULE_WINDOW:
            raise ToolError("Appointments can only be rescheduled at least 24 hours before their start time.")
        if appt["reschedule_count"] >= MAX_RESCHEDULES:
            raise ToolError(f"Appointment {appointment_id} has already been rescheduled {MAX_RESCHEDULES} times; cancel and book a new one instead.")
        if new_slot_id == appt["slot_id"]:
            raise ToolError("The new slot is the appointment's current slot.")
        if new_slot["provider_id"] != appt["provider_id"]:
            raise ToolError(f"Slot {new_slot_id} belongs to another provider; rescheduling must keep provider {appt['provider_id']}.")
        if new_slot["status"] != "open" or new_slot["appointment_id"] is not None:
            raise ToolError(f"Slot {new_slot_id} is {new_slot['status']} and cannot be booked.")
        new_start = self._parse_instant(new_slot["start_time"], "start_time")
        new_end = self._parse_instant(new_slot["end_time"], "end_time")
        if new_start <= now:
            raise ToolError(f"Slot {new_slot_id} starts in the past; pick a future slot.")
        provider = self._get_provider(appt["provider_id"])
        if not provider["active"]:
            raise ToolError(f"Provider {provider['id']} is no longer active.")
        if self._valid_license(appt["provider_id"], appt["patient_location_state"], new_start.date()) is None:
            raise ToolError(
                f"Provider {appt['provider_id']} has no active license in {appt['patient_location_state']} valid on {new_start.date().isoformat()}."
            )
        if appt["follow_up_of"]:
            original = self.state["appointments"].get(appt["follow_up_of"])
            if original and self._parse_instant(original["start_time"], "start_time") >= new_start:
                raise ToolError("A follow-up visit must take place after the original visit.")
        conflict = self._patient_conflict(appt["patient_id"], new_start, new_end, exclude_id=appointment_id)
        if conflict is not None:
            raise ToolError(f"The patient already has appointment {conflict['id']} overlapping slot {new_slot_id}.")

        old_slot = self.state["availability_slots"].get(appt["slot_id"])
        if old_slot is not None:
            old_slot["status"] = "open"
            old_slot["appointment_id"] = None
        new_slot["status"] = "booked"
        new_slot["appointment_id"] = appointment_id
        appt["slot_id"] = new_slot_id
        appt["start_time"] = new_slot["start_time"]
        appt["end_time"] = new_slot["end_time"]
        appt["reschedule_count"] += 1
        return {
            "appointment": dict(appt),
            "previous_slot": dict(old_slot) if old_slot else None,
            "new_slot": dict(new_slot),
        }

    def cancel_appointment(self, appointment_id: str, cancelled_by: Literal["patient", "provider", "staff"]) -> dict:
        """Cancel a scheduled appointment, reopen its slot and apply the cancellation fee policy.

        Args:
            appointment_id: Appointment to cancel, e.g. APT-000321.
            cancelled_by: Who is cancelling, one of: patient, provider, staff. Only patient cancellations under 24 hours incur a fee.
        """
        appt = self._get_appointment(appointment_id)
        if cancelled_by not in ("patient", "provider", "staff"):
            raise ToolError("cancelled_by must be one of: patient, provider, staff.")
        if appt["status"] != "scheduled":
            raise ToolError(f"Only scheduled appointments can be cancelled; {appointment_id} is {appt['status']}.")
        now = self._now()
        start = self._parse_instant(appt["start_time"], "start_time")
        late = cancelled_by == "patient" and start - now < FREE_CANCELLATION_WINDOW

        appt["status"] = "cancelled"
        appt["cancelled_at"] = self.clock.iso()
        appt["cancelled_by"] = cancelled_by
        appt["video_link"] = None
        slot = self.state["availability_slots"].get(appt["slot_id"])
        if slot is not None and slot["appointment_id"] == appointment_id:
            slot["status"] = "open"
            slot["appointment_id"] = None
        visit_charge = self._visit_charge(appointment_id)
        if visit_charge is not None and visit_charge["status"] == "pending":
            visit_charge["status"] = "waived"
        fee = None
        if late:
            fee = self._create_charge(appt["patient_id"], appointment_id, "late_cancellation_fee", LATE_CANCELLATION_FEE_CENTS)
        return {
            "appointment": dict(appt),
            "late_cancellation": late,
            "fee_charge": dict(fee) if fee else None,
            "visit_charge": dict(visit_charge) if visit_charge else None,
            "slot": dict(slot) if slot else None,
        }

    def check_in_appointment(self, appointment_id: str) -> dict:
        """Check the patient in to their video visit and collect the visit charge.

        Args:
            appointment_id: Appointment to check in, e.g. APT-000321.
        """
        appt = self._get_appointment(appointment_id)
        if appt["status"] != "scheduled":
            raise ToolError(f"Only scheduled appointments can be checked in; {appointment_id} is {appt['status']}.")
        now = self._now()
        start = self._parse_instant(appt["start_time"], "start_time")
        if now < start - CHECK_IN_OPENS_BEFORE:
            raise ToolError(f"Check-in opens 15 minutes before the visit, at {self._fmt(start - CHECK_IN_OPENS_BEFORE)}.")
        if now > start + CHECK_IN_CLOSES_AFTER:
            raise ToolError("Check-in closed 10 minutes after the start time; the appointment can be marked no_show 15 minutes after start.")
        appt["status"] = "checked_in"
        appt["checked_in_at"] = self.clock.iso()
        charge = self._visit_charge(appointment_id)
        if charge is not None and charge["status"] == "pending":
            charge["status"] = "paid"
        return {"appointment": dict(appt), "visit_charge": dict(charge) if charge else None}

    def start_visit(self, appointment_id: str) -> dict:
        """Mark a checked-in appointment as in progress when the provider joins the video call.

        Args:
            appointment_id: Appointment whose visit starts, e.g. APT-000321.
        """
        appt = self._get_appointment(appointment_id)
        if appt["status"] != "checked_in":
            raise ToolError(f"Only checked-in appointments can be started; {appointment_id} is {appt['status']}.")
        appt["status"] = "in_progress"
        return {"appointment": dict(appt)}

    def mark_no_show(self, appointment_id: str) -> dict:
        """Record that the patient did not attend, add the no-show fee and increment the no-show counter.

        Args:
            appointment_id: Appointment the patient missed, e.g. APT-000321.
        """
        appt = self._get_appointment(appointment_id)
        if appt["status"] not in ("scheduled", "checked_in"):
            raise ToolError(f"Only scheduled or checked-in appointments can be marked no_show; {appointment_id} is {appt['status']}.")
        start = self._parse_instant(appt["start_time"], "start_time")
        if self._now() < start + NO_SHOW_AFTER:
            raise ToolError(f"An appointment can be marked no_show only from 15 minutes after its start, i.e. {self._fmt(start + NO_SHOW_AFTER)}.")
        patient = self._get_patient(appt["patient_id"])

        appt["status"] = "no_show"
        visit_charge = self._visit_charge(appointment_id)
        if visit_charge is not None:
            if visit_charge["status"] == "pending":
                visit_charge["status"] = "waived"
            elif visit_charge["status"] == "paid":
                visit_charge["status"] = "refunded"
        fee = self._create_charge(patient["id"], appointment_id, "no_show_fee", NO_SHOW_FEE_CENTS)
        patient["no_show_count"] += 1
        return {
            "appointment": dict(appt),
            "fee_charge": dict(fee),
            "visit_charge": dict(visit_charge) if visit_charge else None,
            "no_show_count": patient["no_show_count"],
            "booking_blocked": patient["no_show_count"] >= NO_SHOW_LIMIT,
        }

    def save_visit_note(
        self,
        appointment_id: str,
        chief_complaint: str,
        assessment: str,
        plan: str,
        outcome: Literal["resolved", "follow_up_needed", "referred_in_person", "prescription_issued", "escalated_to_emergency"],
        follow_up_in_days: int | None = None,
    ) -> dict:
        """Create or update the unsigned visit note of an appointment in progress.

        Args:
            appointment_id: Appointment being documented, e.g. APT-000321.
            chief_complaint: Chief complaint.
            assessment: Clinical assessment.
            plan: Treatment plan.
            outcome: One of: resolved, follow_up_needed, referred_in_person, prescription_issued, escalated_to_emergency.
            follow_up_in_days: Days until follow-up (1-180); required when outcome is follow_up_needed, otherwise omitted.
        """
        appt = self._get_appointment(appointment_id)
        if appt["status"] != "in_progress":
            raise ToolError(f"Visit notes can only be written for appointments in progress; {appointment_id} is {appt['status']}.")
        for field, value in (("chief_complaint", chief_complaint), ("assessment", assessment), ("plan", plan)):
            if not isinstance(value, str) or not value.strip():
                raise ToolError(f"{field} must not be empty.")
        if outcome not in OUTCOMES:
            raise ToolError(f"outcome must be one of: {', '.join(sorted(OUTCOMES))}.")
        if outcome == "follow_up_needed":
            if follow_up_in_days is None:
                raise ToolError("follow_up_in_days is required when outcome is follow_up_needed.")
            if isinstance(follow_up_in_days, bool) or not isinstance(follow_up_in_days, int) or not 1 <= follow_up_in_days <= 180:
                raise ToolError("follow_up_in_days must be an integer between 1 and 180.")
        elif follow_up_in_days is not None:
            raise ToolError("follow_up_in_days may only be set when outcome is follow_up_needed.")
        note = self._note_for(appointment_id)
        if note is not None and note["signed"]:
            raise ToolError(f"The visit note {note['id']} is signed and can no longer be edited.")
        if note is None:
            note_id = self._new_id("NOTE", "visit_notes", 6)
            note = {
                "id": note_id,
                "appointment_id": appointment_id,
                "provider_id": appt["provider_id"],
                "chief_complaint": "",
                "assessment": "",
                "plan": "",
                "outcome": outcome,
                "follow_up_in_days": None,
                "signed": False,
                "signed_at": None,
            }
            self.state["visit_notes"][note_id] = note
            created = True
        else:
            created = False
        note["chief_complaint"] = chief_complaint.strip()
        note["assessment"] = assessment.strip()
        note["plan"] = plan.strip()
        note["outcome"] = outcome
        note["follow_up_in_days"] = follow_up_in_days if outcome == "follow_up_needed" else None
        return {"visit_note": dict(note), "created": created}

    def sign_visit_note(self, appointment_id: str) -> dict:
        """Sign an appointment's visit note, locking it against further edits.

        Args:
            appointment_id: Appointment whose note to sign, e.g. APT-000321.
        """
        appt = self._get_appointment(appointment_id)
        note = self._note_for(appointment_id)
        if note is None:
            raise ToolError(f"Appointment {appointment_id} has no visit note; save one with save_visit_note first.")
        if note["signed"]:
            raise ToolError(f"The visit note {note['id']} is already signed.")
        if note["provider_id"] != appt["provider_id"]:
            raise ToolError("Only the appointment's own provider can sign its visit note.")
        if appt["status"] != "in_progress":
            raise ToolError(f"Notes are signed while the visit is in progress; {appointment_id} is {appt['status']}.")
        note["signed"] = True
        note["signed_at"] = self.clock.iso()
        return {"visit_note": dict(note)}

    def complete_appointment(self, appointment_id: str) -> dict:
        """Mark a visit as completed after its visit note has been signed.

        Args:
            appointment_id: Appointment to complete, e.g. APT-000321.
        """
        appt = self._get_appointment(appointment_id)
        if appt["status"] != "in_progress":
            raise ToolError(f"Only appointments in progress can be completed; {appointment_id} is {appt['status']}.")
        note = self._note_for(appointment_id)
        if note is None or not note["signed"] or note["provider_id"] != appt["provider_id"]:
            raise ToolError("The visit needs a visit note signed by its provider before it can be completed.")
        appt["status"] = "completed"
        return {"appointment": dict(appt), "visit_note": dict(note)}

    def generate_video_link(self, appointment_id: str) -> dict:
        """Create the secure video visit link for an appointment, or return the existing one.

        Args:
            appointment_id: Appointment needing a link, e.g. APT-000321.
        """
        appt = self._get_appointment(appointment_id)
        if appt["status"] not in ("scheduled", "checked_in"):
            raise ToolError(f"Video links exist only for scheduled or checked-in appointments; {appointment_id} is {appt['status']}.")
        if appt["video_link"]:
            return {"appointment_id": appointment_id, "video_link": appt["video_link"], "created": False}
        token = "".join(self.rng.choice("abcdefghjkmnpqrstuvwxyz23456789") for _ in range(10))
        appt["video_link"] = f"https://visit.telehealth.example/join/{appointment_id.lower()}-{token}"
        return {"appointment_id": appointment_id, "video_link": appt["video_link"], "created": True}

    def reset_no_show_count(self, patient_id: str) -> dict:
        """Staff action that sets a patient's no_show_count back to 0 so they can book again.

        Args:
            patient_id: Patient to reset, e.g. PT-00123.
        """
        patient = self._get_patient(patient_id)
        previous = patient["no_show_count"]
        patient["no_show_count"] = 0
        return {"patient": dict(patient), "previous_no_show_count": previous, "can_book": True}

    def create_availability_slot(self, provider_id: str, start_time: str) -> dict:
        """Publish a new open slot on a provider's calendar lasting the provider's visit duration.

        Args:
            provider_id: Provider offering the slot, e.g. PRV-0042.
            start_time: Slot start, ISO 8601 instant in the future, e.g. 2025-03-14T15:30:00Z.
        """
        provider = self._get_provider(provider_id)
        if not provider["active"]:
            raise ToolError(f"Provider {provider_id} is not active and cannot publish availability.")
        start = self._parse_instant(start_time, "start_time")
        if start <= self._now():
            raise ToolError("start_time must be in the future.")
        end = start + timedelta(minutes=provider["visit_duration_minutes"])
        for slot in self.state["availability_slots"].values():
            if slot["provider_id"] != provider_id:
                continue
            s_start = self._parse_instant(slot["start_time"], "start_time")
            s_end = self._parse_instant(slot["end_time"], "end_time")
            if s_start < end and start < s_end:
                raise ToolError(
                    f"The new slot would overlap slot {slot['id']} ({slot['start_time']} to {slot['end_time']})."
                )
        slot_id = self._new_id("SLOT", "availability_slots", 6)
        slot = {
            "id": slot_id,
            "provider_id": provider_id,
            "start_time": self._fmt(start),
            "end_time": self._fmt(end),
            "status": "open",
            "appointment_id": None,
        }
        self.state["availability_slots"][slot_id] = slot
        return {"slot": dict(slot)}
