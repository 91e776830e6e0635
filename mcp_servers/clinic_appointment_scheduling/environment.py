from typing import Any, Literal
from datetime import date, datetime, timedelta
import re

from envmint_runtime import Environment, ToolError


SPECIALTIES = (
    "primary_care", "cardiology", "dermatology", "neurology", "gynecology",
    "pediatrics", "orthopedics", "psychiatry", "endocrinology",
    "gastroenterology", "ophthalmology", "otolaryngology",
)
APPOINTMENT_STATUSES = ("scheduled", "confirmed", "checked_in", "completed", "cancelled", "no_show")
ACTIVE_APPOINTMENT_STATUSES = ("scheduled", "confirmed", "checked_in")
VISIT_TYPES = ("new_patient", "follow_up", "check_up", "consultation", "procedure")
PATIENT_STATUSES = ("active", "restricted", "inactive")
PROVIDER_STATUSES = ("active", "on_leave", "inactive")
WAITLIST_STATUSES = ("waiting", "booked", "expired", "cancelled")
LATE_CANCEL_FEE_CENTS = 5000
LATE_CANCEL_WINDOW_HOURS = 24
RESCHEDULE_MIN_NOTICE_HOURS = 2
MAX_RESCHEDULES = 3
NO_SHOW_RESTRICT_THRESHOLD = 3
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


class ClinicAppointmentSchedulingSystem(Environment):
    """Multi-provider outpatient scheduling for a network of clinics."""

    # ------------------------------------------------------------------ helpers

    @staticmethod
    def _naive_utc(dt: datetime) -> datetime:
        if dt.tzinfo is not None:
            offset = dt.utcoffset() or timedelta(0)
            dt = dt.replace(tzinfo=None) - offset
        return dt

    def _now(self) -> datetime:
        return self._naive_utc(self.clock.now())

    @staticmethod
    def _fmt(dt: datetime) -> str:
        return dt.strftime("%Y-%m-%dT%H:%M:%SZ")

    def _parse_dt(self, value: Any, field: str) -> datetime:
        if not isinstance(value, str) or not value.strip():
            raise ToolError(f"{field} must be a date-time string like 2025-03-14T09:30:00Z.")
        text = value.strip()
        if text.endswith("Z") or text.endswith("z"):
            text = text[:-1] + "+00:00"
        try:
            dt = datetime.fromisoformat(text)
        except ValueError:
            raise ToolError(f"{field} {value!r} is not a valid date-time; use YYYY-MM-DDTHH:MM:SSZ.")
        return self._naive_utc(dt)

    @staticmethod
    def _parse_date(value: Any, field: str) -> date:
        if not isinstance(value, str):
            raise ToolError(f"{field} must be a date string YYYY-MM-DD.")
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            raise ToolError(f"{field} {value!r} is not a valid date; use YYYY-MM-DD.")

    @staticmethod
    def _digits(value: str) -> str:
        return re.sub(r"\D", "", value or "")

    def _get_patient(self, patient_id: str) -> dict:
        patient = self.state["patients"].get(patient_id)
        if patient is None:
            raise ToolError(f"No patient with id {patient_id!r}. Use find_patients to look up the id.")
        return patient

    def _get_provider(self, provider_id: str) -> dict:
        provider = self.state["providers"].get(provider_id)
        if provider is None:
            raise ToolError(f"No provider with id {provider_id!r}. Use search_providers to look up the id.")
        return provider

    def _get_clinic(self, clinic_id: str) -> dict:
        clinic = self.state["clinics"].get(clinic_id)
        if clinic is None:
            raise ToolError(f"No clinic with id {clinic_id!r}. Use list_clinics to look up the id.")
        return clinic

    def _get_slot(self, slot_id: str) -> dict:
        slot = self.state["slots"].get(slot_id)
        if slot is None:
            raise ToolError(f"No slot with id {slot_id!r}. Use search_available_slots to find slots.")
        return slot

    def _get_appointment(self, appointment_id: str) -> dict:
        appt = self.state["appointments"].get(appointment_id)
        if appt is None:
            raise ToolError(f"No appointment with id {appointment_id!r}.")
        return appt

    def _check_specialty(self, specialty: str | None) -> None:
        if specialty is not None and specialty not in SPECIALTIES:
            raise ToolError(f"Unknown specialty {specialty!r}; use one of: {', '.join(SPECIALTIES)}.")

    def _provider_city_set(self, provider: dict) -> set:
        cities = set()
        for cid in provider.get("clinic_ids", []):
            clinic = self.state["clinics"].get(cid)
            if clinic is not None:
                cities.add(clinic["city"].strip().lower())
        return cities

    def _clinic_brief(self, clinic_id: str | None) -> dict | None:
        if clinic_id is None:
            return None
        clinic = self.state["clinics"].get(clinic_id)
        if clinic is None:
            return {"id": clinic_id, "name": None, "city": None}
        return {"id": clinic["id"], "name": clinic["name"], "city": clinic["city"]}

    def _bookable_modes(self, slot: dict) -> list:
        """Visit modes in which a slot can be booked right now (empty if not bookable)."""
        if slot["status"] != "open" or slot.get("appointment_id") is not None:
            return []
        if self._parse_dt(slot["start"], "slot start") <= self._now():
            return []
        provider = self.state["providers"].get(slot["provider_id"])
        if provider is None or provider["status"] != "active":
            return []
        modes = []
        if slot["mode"] in ("in_person", "either") and slot.get("clinic_id"):
            clinic = self.state["clinics"].get(slot["clinic_id"])
            if clinic is not None and clinic["active"] and slot["clinic_id"] in provider["clinic_ids"]:
                modes.append("in_person")
        if slot["mode"] in ("virtual", "either") and "virtual" in provider["visit_modes"]:
            modes.append("virtual")
        return modes

    def _resolve_mode(self, slot: dict, provider: dict, mode: str | None) -> str:
        """Pick and validate the visit mode for booking a slot; raise with a precise reason."""
        if mode is not None and mode not in ("in_person", "virtual"):
            raise ToolError("mode must be one of: in_person, virtual.")
        if mode is None:
            if slot["mode"] == "either":
                raise ToolError(
                    f"Slot {slot['id']} supports both in_person and virtual visits; specify mode."
                )
            mode = slot["mode"]
        if mode == "virtual":
            if slot["mode"] not in ("virtual", "either"):
                raise ToolError(f"Slot {slot['id']} is in-person only and cannot be booked as a virtual visit.")
            if "virtual" not in provider["visit_modes"]:
                raise ToolError(f"Provider {provider['id']} does not offer virtual visits.")
        else:
            if slot["mode"] not in ("in_person", "either"):
                raise ToolError(f"Slot {slot['id']} is virtual only and cannot be booked in person.")
            clinic_id = slot.get("clinic_id")
            if not clinic_id:
                raise ToolError(f"Slot {slot['id']} has no clinic, so it cannot be booked in person.")
            clinic = self.state["clinics"].get(clinic_id)
            if clinic is None:
                raise ToolError(f"Slot {slot['id']} refers to unknown clinic {clinic_id}.")
            if not clinic["active"]:
                raise ToolError(f"Clinic {clinic_id} ({clinic['name']}) is not active; in-person visits cannot be booked there.")
            if clinic_id not in provider["clinic_ids"]:
                raise ToolError(f"Provider {provider['id']} does not practise at clinic {clinic_id}.")
        return mode

    def _check_slot_bookable(self, slot: dict, provider: dict) -> None:
        if slot["status"] != "open" or slot.get("appointment_id") is not None:
            raise ToolError(f"Slot {slot['id']} is not open (status {slot['status']}); choose another slot.")
        if self._parse_dt(slot["start"], "slot start") <= self._now():
            raise ToolError(f"Slot {slot['id']} starts at {slot['start']}, which is not in the future.")
        if provider["status"] != "active":
            raise ToolError(
                f"Provider {provider['id']} is {provider['status']} and cannot receive new bookings."
            )

    def _patient_conflict(self, patient_id: str, start: datetime, end: datetime,
                          exclude_id: str | None = None) -> dict | None:
        for appt in self.state["appointments"].values():
            if appt["patient_id"] != patient_id or appt["id"] == exclude_id:
                continue
            if appt["status"] not in ACTIVE_APPOINTMENT_STATUSES:
                continue
            a_start = self._parse_dt(appt["start"], "appointment start")
            a_end = self._parse_dt(appt["end"], "appointment end")
            if a_start < end and start < a_end:
                return appt
        return None

    def _is_established(self, patient_id: str, provider_id: str) -> bool:
        return any(
            a["patient_id"] == patient_id and a["provider_id"] == provider_id and a["status"] == "completed"
            for a in self.state["appointments"].values()
        )

    def _next_id(self, prefix: str, collection: dict, width: int = 4) -> str:
        """Next sequential id like PREFIX-0007: one above the highest numeric suffix in use."""
        pattern = re.compile(rf"^{re.escape(prefix)}-([0-9]+)$")
        highest = 0
        for key, record in collection.items():
            for candidate in (key, record.get("id") if isinstance(record, dict) else None):
                if isinstance(candidate, str):
                    match = pattern.match(candidate)
                    if match:
                        highest = max(highest, int(match.group(1)))
        new_id = f"{prefix}-{highest + 1:0{width}d}"
        while new_id in collection:
            highest += 1
            new_id = f"{prefix}-{highest + 1:0{width}d}"
        return new_id

    @staticmethod
    def _meeting_url(appointment_id: str) -> str:
        return f"https://telehealth.clinicnetwork.example/visit/{appointment_id}"

    def _expire_waitlist(self) -> None:
        today = self.clock.today()
        for entry in self.state["waitlist_entries"].values():
            if entry["status"] == "waiting":
                try:
                    latest = date.fromisoformat(entry["latest_date"])
                except ValueError:
                    continue
                if latest < today:
                    entry["status"] = "expired"

    def _waitlist_matches(self, entry: dict, appt: dict, provider: dict) -> bool:
        if entry["status"] != "waiting" or entry["patient_id"] != appt["patient_id"]:
            return False
        if entry["provider_id"] is not None:
            if entry["provider_id"] != appt["provider_id"]:
                return False
        else:
            if entry["specialty"] != provider["specialty"]:
                return False
            if entry.get("city") and appt["mode"] == "in_person":
                clinic = self.state["clinics"].get(appt["clinic_id"] or "")
                if clinic is None or clinic["city"].strip().lower() != entry["city"].strip().lower():
                    return False
        if entry["mode"] != "either" and entry["mode"] != appt["mode"]:
            return False
        appt_day = self._parse_dt(appt["start"], "appointment start").date()
        try:
            earliest = date.fromisoformat(entry["earliest_date"])
            latest = date.fromisoformat(entry["latest_date"])
        except ValueError:
            return False
        return earliest <= appt_day <= latest

    def _appointment_view(self, appt: dict) -> dict:
        patient = self.state["patients"].get(appt["patient_id"])
        provider = self.state["providers"].get(appt["provider_id"])
        clinic = self.state["clinics"].get(appt["clinic_id"]) if appt.get("clinic_id") else None
        view = dict(appt)
        view["patient_name"] = patient["name"] if patient else None
        view["provider_name"] = provider["name"] if provider else None
        view["specialty"] = provider["specialty"] if provider else None
        view["clinic"] = dict(clinic) if clinic else None
        return view

    # ------------------------------------------------------------------ queries

    def get_patient(self, patient_id: str) -> dict:
        """Return a patient's full record plus their number of upcoming scheduled or confirmed appointments.

        Args:
            patient_id: Patient id, e.g. "PAT-0001".
        """
        patient = self._get_patient(patient_id)
        now = self._now()
        upcoming = sum(
            1 for a in self.state["appointments"].values()
            if a["patient_id"] == patient_id
            and a["status"] in ("scheduled", "confirmed")
            and self._parse_dt(a["start"], "appointment start") > now
        )
        return {"patient": dict(patient), "upcoming_appointment_count": upcoming}

    def find_patients(self, name: str | None = None, date_of_birth: str | None = None,
                      email: str | None = None, phone: str | None = None,
                      status: Literal["active", "restricted", "inactive"] | None = None) -> dict:
        """Search patients by name substring, date of birth, email, phone or status, sorted by name.

        Args:
            name: Part of the patient's name (case-insensitive).
            date_of_birth: Exact date of birth, YYYY-MM-DD.
            email: Exact email address (case-insensitive).
            phone: Phone number; compared on digits only.
            status: Patient status, one of: active, restricted, inactive.
        """
        if status is not None and status not in PATIENT_STATUSES:
            raise ToolError("status must be one of: active, restricted, inactive.")
        if date_of_birth is not None:
            date_of_birth = self._parse_date(date_of_birth, "date_of_birth").isoformat()
        phone_digits = self._digits(phone) if phone is not None else None
        if phone is not None and not phone_digits:
            raise ToolError("phone must contain digits.")
        results = []
        for p in self.state["patients"].values():
            if name is not None and name.strip().lower() not in p["name"].lower():
                continue
            if date_of_birth is not None and p["date_of_birth"] != date_of_birth:
                continue
            if email is not None and p["email"].strip().lower() != email.strip().lower():
                continue
            if phone_digits is not None and self._digits(p["phone"]) != phone_digits:
                continue
            if status is not None and p["status"] != status:
                continue
            results.append(dict(p))
        results.sort(key=lambda r: (r["name"].lower(), r["id"]))
        return {"patients": results, "count": len(results)}

    def search_providers(self, specialty: Literal["primary_care", "cardiology", "dermatology", "neurology", "gynecology", "pediatrics", "orthopedics", "psychiatry", "endocrinology", "gastroenterology", "ophthalmology", "otolaryngology"] | None = None, city: str | None = None,
                         visit_mode: Literal["in_person", "virtual"] | None = None,
                         language: str | None = None, clinic_id: str | None = None,
                         accepting_new_patients: bool | None = None,
                         include_unavailable: bool | None = None) -> dict:
        """Search providers by specialty, clinic city, visit mode, language, clinic and new-patient acceptance.

        Args:
            specialty: Provider specialty, one of: primary_care, cardiology, dermatology, neurology, gynecology, pediatrics, orthopedics, psychiatry, endocrinology, gastroenterology, ophthalmology, otolaryngology.
            city: City of one of the provider's clinics (case-insensitive).
            visit_mode: One of: in_person, virtual; keeps providers whose visit_modes include it.
            language: A language the provider speaks (case-insensitive).
            clinic_id: Only providers practising at this clinic, e.g. "CLN-001".
            accepting_new_patients: Filter on whether the provider accepts new patients.
            include_unavailable: Include providers who are on_leave or inactive (default false: active only).
        """
        self._check_specialty(specialty)
        if visit_mode is not None and visit_mode not in ("in_person", "virtual"):
            raise ToolError("visit_mode must be one of: in_person, virtual.")
        results = []
        for prov in self.state["providers"].values():
            if not include_unavailable and prov["status"] != "active":
                continue
            if specialty is not None and prov["specialty"] != specialty:
                continue
            if city is not None and city.strip().lower() not in self._provider_city_set(prov):
                continue
            if visit_mode is not None and visit_mode not in prov["visit_modes"]:
                continue
            if language is not None and language.strip().lower() not in [l.lower() for l in prov["languages"]]:
                continue
            if clinic_id is not None and clinic_id not in prov["clinic_ids"]:
                continue
            if accepting_new_patients is not None and prov["accepting_new_patients"] != accepting_new_patients:
                continue
            item = dict(prov)
            item["clinics"] = [self._clinic_brief(cid) for cid in prov["clinic_ids"]]
            results.append(item)
        results.sort(key=lambda r: (r["name"].lower(), r["id"]))
        return {"providers": results, "count": len(results)}

    def get_provider(self, provider_id: str) -> dict:
        """Return a provider's record with full clinic details and counts of open future slots by mode.

        Args:
            provider_id: Provider id, e.g. "PRV-001".
        """
        provider = self._get_provider(provider_id)
        clinics = [dict(self.state["clinics"][cid]) for cid in provider["clinic_ids"]
                   if cid in self.state["clinics"]]
        now = self._now()
        counts = {"in_person": 0, "virtual": 0, "either": 0}
        for slot in self.state["slots"].values():
            if (slot["provider_id"] == provider_id and slot["status"] == "open"
                    and slot.get("appointment_id") is None
                    and self._parse_dt(slot["start"], "slot start") > now):
                counts[slot["mode"]] = counts.get(slot["mode"], 0) + 1
        return {
            "provider": dict(provider),
            "clinics": clinics,
            "open_future_slots_by_mode": counts,
            "open_future_slots_total": sum(counts.values()),
        }

    def list_clinics(self, city: str | None = None, supports_telehealth: bool | None = None,
                     active_only: bool | None = None) -> dict:
        """List clinic locations, optionally filtered by city, telehealth support and active flag.

        Args:
            city: City (case-insensitive).
            supports_telehealth: Filter on supports_telehealth.
            active_only: Return only active clinics (default true).
        """
        if active_only is None:
            active_only = True
        results = []
        for clinic in self.state["clinics"].values():
            if active_only and not clinic["active"]:
                continue
            if city is not None and clinic["city"].strip().lower() != city.strip().lower():
                continue
            if supports_telehealth is not None and clinic["supports_telehealth"] != supports_telehealth:
                continue
            results.append(dict(clinic))
        results.sort(key=lambda c: (c["city"].lower(), c["name"].lower(), c["id"]))
        return {"clinics": results, "count": len(results)}

    def search_available_slots(self, provider_id: str | None = None, specialty: Literal["primary_care", "cardiology", "dermatology", "neurology", "gynecology", "pediatrics", "orthopedics", "psychiatry", "endocrinology", "gastroenterology", "ophthalmology", "otolaryngology"] | None = None,
                               city: str | None = None, clinic_id: str | None = None,
                               mode: Literal["in_person", "virtual"] | None = None,
                               start_date: str | None = None, end_date: str | None = None,
                               limit: int | None = None) -> dict:
        """Find bookable slots (open, future, active provider) filtered by provider, specialty, place, mode and dates.

        Args:
            provider_id: Only slots of this provider, e.g. "PRV-001".
            specialty: Provider specialty, one of: primary_care, cardiology, dermatology, neurology, gynecology, pediatrics, orthopedics, psychiatry, endocrinology, gastroenterology, ophthalmology, otolaryngology.
            city: City of the slot's clinic; virtual-only slots are excluded when a city is given unless mode is virtual.
            clinic_id: Only slots at this clinic, e.g. "CLN-001".
            mode: Requested visit mode, one of: in_person, virtual.
            start_date: Earliest slot date, YYYY-MM-DD (default today).
            end_date: Latest slot date, YYYY-MM-DD inclusive.
            limit: Maximum number of slots to return (default 20).
        """
        self._check_specialty(specialty)
        if mode is not None and mode not in ("in_person", "virtual"):
            raise ToolError("mode must be one of: in_person, virtual.")
        if provider_id is not None:
            self._get_provider(provider_id)
        if clinic_id is not None:
            self._get_clinic(clinic_id)
        first_day = self._parse_date(start_date, "start_date") if start_date is not None else self.clock.today()
        last_day = self._parse_date(end_date, "end_date") if end_date is not None else None
        if last_day is not None and last_day < first_day:
            raise ToolError("end_date must be on or after start_date.")
        if limit is None:
            limit = 20
        if not isinstance(limit, int) or limit < 1:
            raise ToolError("limit must be a positive integer.")
        city_key = city.strip().lower() if city is not None else None

        matches = []
        for slot in self.state["slots"].values():
            modes = self._bookable_modes(slot)
            if not modes:
                continue
            if mode is not None:
                if mode not in modes:
                    continue
                modes = [mode]
            provider = self.state["providers"][slot["provider_id"]]
            if provider_id is not None and slot["provider_id"] != provider_id:
                continue
            if specialty is not None and provider["specialty"] != specialty:
                continue
            if clinic_id is not None and slot.get("clinic_id") != clinic_id:
                continue
            clinic = self.state["clinics"].get(slot["clinic_id"]) if slot.get("clinic_id") else None
            if city_key is not None:
                in_city = clinic is not None and clinic["city"].strip().lower() == city_key
                if mode == "virtual":
                    if clinic is not None and not in_city:
                        continue
                elif not in_city:
                    continue
            start_dt = self._parse_dt(slot["start"], "slot start")
            if start_dt.date() < first_day:
                continue
            if last_day is not None and start_dt.date() > last_day:
                continue
            item = dict(slot)
            item["provider_name"] = provider["name"]
            item["specialty"] = provider["specialty"]
            item["clinic_name"] = clinic["name"] if clinic else None
            item["clinic_city"] = clinic["city"] if clinic else None
            item["bookable_modes"] = modes
            matches.append((start_dt, slot["id"], item))
        matches.sort(key=lambda m: (m[0], m[1]))
        slots = [m[2] for m in matches[:limit]]
        return {"slots": slots, "count": len(slots), "total_matching": len(matches)}

    def get_appointment(self, appointment_id: str) -> dict:
        """Return an appointment with patient name, provider name and specialty, clinic details, status and fees.

        Args:
            appointment_id: Appointment id, e.g. "APT-0001".
        """
        appt = self._get_appointment(appointment_id)
        return {"appointment": self._appointment_view(appt)}

    def list_patient_appointments(self, patient_id: str,
                                  status: Literal["scheduled", "confirmed", "checked_in", "completed",
                                                  "cancelled", "no_show"] | None = None,
                                  from_date: str | None = None, to_date: str | None = None,
                                  upcoming_only: bool | None = None) -> dict:
        """List a patient's appointments sorted by start time, optionally filtered by status and dates.

        Args:
            patient_id: Patient id, e.g. "PAT-0001".
            status: One of: scheduled, confirmed, checked_in, completed, cancelled, no_show.
            from_date: Start date filter, YYYY-MM-DD.
            to_date: End date filter, YYYY-MM-DD inclusive.
            upcoming_only: Only appointments starting in the future in status scheduled or confirmed.
        """
        self._get_patient(patient_id)
        if status is not None and status not in APPOINTMENT_STATUSES:
            raise ToolError(f"status must be one of: {', '.join(APPOINTMENT_STATUSES)}.")
        first_day = self._parse_date(from_date, "from_date") if from_date is not None else None
        last_day = self._parse_date(to_date, "to_date") if to_date is not None else None
        if first_day and last_day and last_day < first_day:
            raise ToolError("to_date must be on or after from_date.")
        now = self._now()
        rows = []
        for appt in self.state["appointments"].values():
            if appt["patient_id"] != patient_id:
                continue
            if status is not None and appt["status"] != status:
                continue
            start_dt = self._parse_dt(appt["start"], "appointment start")
            if first_day is not None and start_dt.date() < first_day:
                continue
            if last_day is not None and start_dt.date() > last_day:
                continue
            if upcoming_only and (start_dt <= now or appt["status"] not in ("scheduled", "confirmed")):
                continue
            provider = self.state["providers"].get(appt["provider_id"])
            rows.append((start_dt, appt["id"], {
                "id": appt["id"],
                "status": appt["status"],
                "start": appt["start"],
                "end": appt["end"],
                "mode": appt["mode"],
                "visit_type": appt["visit_type"],
                "reason": appt["reason"],
                "provider_id": appt["provider_id"],
                "provider_name": provider["name"] if provider else None,
                "specialty": provider["specialty"] if provider else None,
                "clinic": self._clinic_brief(appt.get("clinic_id")),
                "meeting_url": appt["meeting_url"],
                "slot_id": appt["slot_id"],
                "late_cancellation": appt["late_cancellation"],
                "fee_cents": appt["fee_cents"],
                "reschedule_count": appt["reschedule_count"],
            }))
        rows.sort(key=lambda r: (r[0], r[1]))
        items = [r[2] for r in rows]
        return {"appointments": items, "count": len(items)}

    def list_waitlist_entries(self, patient_id: str | None = None, provider_id: str | None = None,
                              specialty: Literal["primary_care", "cardiology", "dermatology", "neurology", "gynecology", "pediatrics", "orthopedics", "psychiatry", "endocrinology", "gastroenterology", "ophthalmology", "otolaryngology"] | None = None, city: str | None = None,
                              status: Literal["waiting", "booked", "expired", "cancelled"] | None = None) -> dict:
        """List waitlist entries by patient, provider, specialty, city or status, expiring stale waiting entries first.

        Args:
            patient_id: Patient id, e.g. "PAT-0001".
            provider_id: Provider id, e.g. "PRV-001".
            specialty: Specialty enum value, e.g. "cardiology".
            city: City (case-insensitive).
            status: One of: waiting, booked, expired, cancelled.
        """
        self._check_specialty(specialty)
        if status is not None and status not in WAITLIST_STATUSES:
            raise ToolError("status must be one of: waiting, booked, expired, cancelled.")
        self._expire_waitlist()
        results = []
        for entry in self.state["waitlist_entries"].values():
            if patient_id is not None and entry["patient_id"] != patient_id:
                continue
            if provider_id is not None and entry["provider_id"] != provider_id:
                continue
            if specialty is not None and entry["specialty"] != specialty:
                continue
            if city is not None and (entry.get("city") or "").strip().lower() != city.strip().lower():
                continue
            if status is not None and entry["status"] != status:
                continue
            results.append(dict(entry))
        results.sort(key=lambda e: (e["created_at"], e["id"]))
        return {"waitlist_entries": results, "count": len(results)}

    # ---------------------------------------------------------------- mutations

    def register_patient(self, name: str, date_of_birth: str, email: str, phone: str, city: str,
                         insurance_plan: str | None = None) -> dict:
        """Register a new active patient with no_show_count 0 and return the created record.

        Args:
            name: Full name.
            date_of_birth: Date of birth, YYYY-MM-DD, not in the future.
            email: Email address, e.g. "ana@example.com".
            phone: Phone number.
            city: City of residence.
            insurance_plan: Insurance plan name; omit for self-pay.
        """
        if not isinstance(name, str) or not name.strip():
            raise ToolError("name must not be empty.")
        dob = self._parse_date(date_of_birth, "date_of_birth")
        if dob > self.clock.today():
            raise ToolError("date_of_birth cannot be in the future.")
        if not isinstance(email, str) or not re.match(EMAIL_PATTERN, email.strip()):
            raise ToolError(f"email {email!r} is not a valid email address.")
        if not isinstance(phone, str) or len(self._digits(phone)) < 7:
            raise ToolError("phone must contain at least 7 digits.")
        if not isinstance(city, str) or not city.strip():
            raise ToolError("city must not be empty.")
        if insurance_plan is not None and not insurance_plan.strip():
            insurance_plan = None
        for p in self.state["patients"].values():
            if p["name"].strip().lower() == name.strip().lower() and p["date_of_birth"] == dob.isoformat():
                raise ToolError(
                    f"A patient named {p['name']} with date of birth {p['date_of_birth']} is already "
                    f"registered as {p['id']}; use that record instead."
                )
        patient_id = self._next_id("PAT", self.state["patients"])
        patient = {
            "id": patient_id,
            "name": name.strip(),
            "date_of_birth": dob.isoformat(),
            "email": email.strip(),
            "phone": phone.strip(),
            "city": city.strip(),
            "insurance_plan": insurance_plan.strip() if insurance_plan else None,
            "no_show_count": 0,
            "status": "active",
        }
        self.state["patients"][patient_id] = patient
        return {"patient": dict(patient)}

    def reactivate_patient(self, patient_id: str) -> dict:
        """Set a restricted or inactive patient back to active and reset their no_show_count to 0.

        Args:
            patient_id: Patient id, e.g. "PAT-0001".
        """
        patient = self._get_patient(patient_id)
        if patient["status"] == "active":
            raise ToolError(f"Patient {patient_id} is already active.")
        patient["status"] = "active"
        patient["no_show_count"] = 0
        return {"patient": dict(patient)}

    def update_provider_status(self, provider_id: str,
                               status: Literal["active", "on_leave", "inactive"] | None = None,
                               accepting_new_patients: bool | None = None) -> dict:
        """Change a provider's status and/or new-patient acceptance; lists future booked appointments to review.

        Args:
            provider_id: Provider id, e.g. "PRV-001".
            status: New status, one of: active, on_leave, inactive.
            accepting_new_patients: New value for accepting_new_patients.
        """
        provider = self._get_provider(provider_id)
        if status is None and accepting_new_patients is None:
            raise ToolError("Give status and/or accepting_new_patients to change.")
        if status is not None and status not in PROVIDER_STATUSES:
            raise ToolError("status must be one of: active, on_leave, inactive.")
        if status is not None:
            provider["status"] = status
        if accepting_new_patients is not None:
            provider["accepting_new_patients"] = bool(accepting_new_patients)
        now = self._now()
        affected = []
        for appt in self.state["appointments"].values():
            if (appt["provider_id"] == provider_id and appt["status"] in ("scheduled", "confirmed")
                    and self._parse_dt(appt["start"], "appointment start") > now):
                patient = self.state["patients"].get(appt["patient_id"])
                affected.append({
                    "id": appt["id"],
                    "patient_id": appt["patient_id"],
                    "patient_name": patient["name"] if patient else None,
                    "start": appt["start"],
                    "mode": appt["mode"],
                    "status": appt["status"],
                })
        affected.sort(key=lambda a: (a["start"], a["id"]))
        return {"provider": dict(provider), "future_booked_appointments": affected}

    def create_slot(self, provider_id: str, start: str, duration_minutes: int,
                    mode: Literal["in_person", "virtual", "either"], clinic_id: str | None = None) -> dict:
        """Publish a new open availability slot for a provider; end is start plus duration_minutes.

        Args:
            provider_id: Provider id, e.g. "PRV-001".
            start: Start instant, YYYY-MM-DDTHH:MM:SSZ, in the future.
            duration_minutes: Length in minutes, at least 5.
            mode: One of: in_person, virtual, either.
            clinic_id: Clinic for in_person or either slots, e.g. "CLN-001"; omit for virtual slots.
        """
        provider = self._get_provider(provider_id)
        if provider["status"] == "inactive":
            raise ToolError(f"Provider {provider_id} is inactive; slots cannot be published for them.")
        if mode not in ("in_person", "virtual", "either"):
            raise ToolError("mode must be one of: in_person, virtual, either.")
        if not isinstance(duration_minutes, int) or isinstance(duration_minutes, bool) or duration_minutes < 5:
            raise ToolError("duration_minutes must be an integer of at least 5.")
        if duration_minutes > 720:
            raise ToolError("duration_minutes cannot exceed 720 (12 hours).")
        start_dt = self._parse_dt(start, "start")
        if start_dt <= self._now():
            raise ToolError("start must be in the future.")
        end_dt = start_dt + timedelta(minutes=duration_minutes)

        if mode == "virtual":
            if clinic_id is not None:
                raise ToolError("Virtual slots must not have a clinic_id; omit clinic_id or use mode either.")
            if "virtual" not in provider["visit_modes"]:
                raise ToolError(f"Provider {provider_id} does not offer virtual visits.")
        else:
            if clinic_id is None:
                raise ToolError(f"A clinic_id is required for {mode} slots.")
            clinic = self._get_clinic(clinic_id)
            if clinic_id not in provider["clinic_ids"]:
                raise ToolError(f"Provider {provider_id} does not practise at clinic {clinic_id}.")
            if not clinic["active"]:
                raise ToolError(f"Clinic {clinic_id} is not active.")
            if "in_person" not in provider["visit_modes"]:
                raise ToolError(f"Provider {provider_id} does not offer in-person visits.")
            if mode == "either" and "virtual" not in provider["visit_modes"]:
                raise ToolError(
                    f"Provider {provider_id} does not offer virtual visits; use mode in_person instead of either."
                )

        for other in self.state["slots"].values():
            if other["provider_id"] != provider_id:
                continue
            o_start = self._parse_dt(other["start"], "slot start")
            o_end = self._parse_dt(other["end"], "slot end")
            if o_start < end_dt and start_dt < o_end:
                raise ToolError(
                    f"The new slot overlaps slot {other['id']} ({other['start']} to {other['end']}) "
                    f"of provider {provider_id}."
                )

        slot_id = self._next_id("SLT", self.state["slots"])
        slot = {
            "id": slot_id,
            "provider_id": provider_id,
            "clinic_id": clinic_id if mode != "virtual" else None,
            "start": self._fmt(start_dt),
            "end": self._fmt(end_dt),
            "duration_minutes": duration_minutes,
            "mode": mode,
            "status": "open",
            "appointment_id": None,
        }
        self.state["slots"][slot_id] = slot
        return {"slot": dict(slot)}

    def block_slot(self, slot_id: str, blocked: bool | None = None) -> dict:
        """Block an open slot so it cannot be booked, or reopen a blocked slot.

        Args:
            slot_id: Slot id, e.g. "SLT-0001".
            blocked: True to block an open slot, false to reopen a blocked slot (default true).
        """
        slot = self._get_slot(slot_id)
        if blocked is None:
            blocked = True
        if blocked:
            if slot["status"] != "open" or slot.get("appointment_id") is not None:
                raise ToolError(
                    f"Only open slots can be blocked; slot {slot_id} is {slot['status']}. "
                    "Cancel or reschedule its appointment first."
                )
            slot["status"] = "blocked"
        else:
            if slot["status"] != "blocked":
                raise ToolError(f"Slot {slot_id} is {slot['status']}, not blocked; nothing to reopen.")
            slot["status"] = "open"
            slot["appointment_id"] = None
        return {"slot": dict(slot)}

    def book_appointment(self, patient_id: str, slot_id: str,
                         visit_type: Literal["new_patient", "follow_up", "check_up", "consultation", "procedure"],
                         reason: str, mode: Literal["in_person", "virtual"] | None = None) -> dict:
        """Book an open slot for a patient, creating a scheduled appointment and booking the slot.

        Args:
            patient_id: Patient id, e.g. "PAT-0001".
            slot_id: Open slot to book, e.g. "SLT-0001".
            visit_type: One of: new_patient, follow_up, check_up, consultation, procedure.
            reason: Reason for the visit.
            mode: One of: in_person, virtual. Optional when the slot mode is in_person or virtual; required when it is either.
        """
        patient = self._get_patient(patient_id)
        slot = self._get_slot(slot_id)
        provider = self._get_provider(slot["provider_id"])
        if visit_type not in VISIT_TYPES:
            raise ToolError(f"visit_type must be one of: {', '.join(VISIT_TYPES)}.")
        if not isinstance(reason, str) or not reason.strip():
            raise ToolError("reason must not be empty.")
        if patient["status"] != "active":
            raise ToolError(
                f"Patient {patient_id} is {patient['status']} and cannot book; staff must reactivate the patient first."
            )
        self._check_slot_bookable(slot, provider)
        chosen_mode = self._resolve_mode(slot, provider, mode)

        if not self._is_established(patient_id, provider["id"]):
            if visit_type != "new_patient":
                raise ToolError(
                    f"Patient {patient_id} has no completed visit with provider {provider['id']}, "
                    "so visit_type must be new_patient."
                )
            if not provider["accepting_new_patients"]:
                raise ToolError(f"Provider {provider['id']} is not accepting new patients.")

        start_dt = self._parse_dt(slot["start"], "slot start")
        end_dt = self._parse_dt(slot["end"], "slot end")
        conflict = self._patient_conflict(patient_id, start_dt, end_dt)
        if conflict is not None:
            raise ToolError(
                f"Patient {patient_id} already has appointment {conflict['id']} "
                f"({conflict['start']} to {conflict['end']}) overlapping this slot."
            )

        self._expire_waitlist()
        appointment_id = self._next_id("APT", self.state["appointments"])
        appt = {
            "id": appointment_id,
            "patient_id": patient_id,
            "provider_id": provider["id"],
            "slot_id": slot_id,
            "clinic_id": slot["clinic_id"] if chosen_mode == "in_person" else None,
            "mode": chosen_mode,
            "visit_type": visit_type,
            "reason": reason.strip(),
            "status": "scheduled",
            "start": slot["start"],
            "end": slot["end"],
            "meeting_url": self._meeting_url(appointment_id) if chosen_mode == "virtual" else None,
            "created_at": self.clock.iso(),
            "confirmed_at": None,
            "cancelled_at": None,
            "cancellation_reason": None,
            "late_cancellation": False,
            "fee_cents": 0,
            "reschedule_count": 0,
        }
        self.state["appointments"][appointment_id] = appt
        slot["status"] = "booked"
        slot["appointment_id"] = appointment_id

        fulfilled = []
        for entry in self.state["waitlist_entries"].values():
            if self._waitlist_matches(entry, appt, provider):
                entry["status"] = "booked"
                entry["appointment_id"] = appointment_id
                fulfilled.append(dict(entry))
        return {
            "appointment": self._appointment_view(appt),
            "slot": dict(slot),
            "waitlist_entries_booked": fulfilled,
        }

    def confirm_appointment(self, appointment_id: str) -> dict:
        """Confirm a scheduled appointment before it starts; sets status confirmed and confirmed_at.

        Args:
            appointment_id: Appointment id, e.g. "APT-0001".
        """
        appt = self._get_appointment(appointment_id)
        if appt["status"] != "scheduled":
            raise ToolError(f"Only scheduled appointments can be confirmed; {appointment_id} is {appt['status']}.")
        if self._now() >= self._parse_dt(appt["start"], "appointment start"):
            raise ToolError(f"Appointment {appointment_id} has already started ({appt['start']}); it can no longer be confirmed.")
        appt["status"] = "confirmed"
        appt["confirmed_at"] = self.clock.iso()
        return {"appointment": self._appointment_view(appt)}

    def check_in_appointment(self, appointment_id: str) -> dict:
        """Check the patient in for a confirmed appointment from its start time onward.

        Args:
            appointment_id: Appointment id, e.g. "APT-0001".
        """
        appt = self._get_appointment(appointment_id)
        if appt["status"] != "confirmed":
            raise ToolError(
                f"Only confirmed appointments can be checked in; {appointment_id} is {appt['status']}."
            )
        if self._now() < self._parse_dt(appt["start"], "appointment start"):
            raise ToolError(f"Check-in opens at the appointment start time ({appt['start']}).")
        appt["status"] = "checked_in"
        return {"appointment": self._appointment_view(appt)}

    def complete_appointment(self, appointment_id: str) -> dict:
        """Mark a checked-in appointment as completed, making the patient established with the provider.

        Args:
            appointment_id: Appointment id, e.g. "APT-0001".
        """
        appt = self._get_appointment(appointment_id)
        if appt["status"] != "checked_in":
            raise ToolError(
                f"Only checked-in appointments can be completed; {appointment_id} is {appt['status']}."
            )
        appt["status"] = "completed"
        return {"appointment": self._appointment_view(appt)}

    def cancel_appointment(self, appointment_id: str, reason: str) -> dict:
        """Cancel a scheduled or confirmed appointment before it starts, applying the late fee within 24 hours.

        Args:
            appointment_id: Appointment id, e.g. "APT-0001".
            reason: Cancellation reason.
        """
        appt = self._get_appointment(appointment_id)
        if not isinstance(reason, str) or not reason.strip():
            raise ToolError("reason must not be empty.")
        if appt["status"] not in ("scheduled", "confirmed"):
            raise ToolError(
                f"Only scheduled or confirmed appointments can be cancelled; {appointment_id} is {appt['status']}."
            )
        now = self._now()
        start_dt = self._parse_dt(appt["start"], "appointment start")
        if now >= start_dt:
            raise ToolError(f"Appointment {appointment_id} has already started ({appt['start']}); it cannot be cancelled.")
        late = (start_dt - now) < timedelta(hours=LATE_CANCEL_WINDOW_HOURS)
        appt["status"] = "cancelled"
        appt["cancelled_at"] = self.clock.iso()
        appt["cancellation_reason"] = reason.strip()
        appt["late_cancellation"] = late
        appt["fee_cents"] = LATE_CANCEL_FEE_CENTS if late else 0
        slot = self.state["slots"].get(appt["slot_id"])
        if slot is not None and slot.get("appointment_id") == appointment_id and start_dt > now:
            slot["status"] = "open"
            slot["appointment_id"] = None
        return {"appointment": self._appointment_view(appt), "slot": dict(slot) if slot else None}

    def reschedule_appointment(self, appointment_id: str, new_slot_id: str,
                               mode: Literal["in_person", "virtual"] | None = None) -> dict:
        """Move a scheduled or confirmed appointment to another open slot of the same provider.

        Args:
            appointment_id: Appointment id, e.g. "APT-0001".
            new_slot_id: Open future slot of the same provider, e.g. "SLT-0002".
            mode: One of: in_person, virtual. Defaults to the current mode if compatible with the new slot.
        """
        appt = self._get_appointment(appointment_id)
        new_slot = self._get_slot(new_slot_id)
        patient = self._get_patient(appt["patient_id"])
        provider = self._get_provider(appt["provider_id"])
        if appt["status"] not in ("scheduled", "confirmed"):
            raise ToolError(
                f"Only scheduled or confirmed appointments can be rescheduled; {appointment_id} is {appt['status']}."
            )
        if patient["status"] != "active":
            raise ToolError(
                f"Patient {patient['id']} is {patient['status']} and cannot reschedule; staff must reactivate the patient first."
            )
        if appt["reschedule_count"] >= MAX_RESCHEDULES:
            raise ToolError(
                f"Appointment {appointment_id} has already been rescheduled {MAX_RESCHEDULES} times; "
                "cancel it and book a new appointment instead."
            )
        now = self._now()
        old_start = self._parse_dt(appt["start"], "appointment start")
        if old_start - now < timedelta(hours=RESCHEDULE_MIN_NOTICE_HOURS):
            raise ToolError(
                f"Appointment {appointment_id} starts at {appt['start']}; rescheduling requires at least 2 hours' notice."
            )
        if new_slot_id == appt["slot_id"]:
            raise ToolError("new_slot_id is the appointment's current slot; choose a different slot.")
        if new_slot["provider_id"] != appt["provider_id"]:
            raise ToolError(
                f"Slot {new_slot_id} belongs to provider {new_slot['provider_id']}, not {appt['provider_id']}; "
                "an appointment can only be moved to a slot of the same provider."
            )
        self._check_slot_bookable(new_slot, provider)

        if mode is None:
            compatible = ("in_person", "either") if appt["mode"] == "in_person" else ("virtual", "either")
            if new_slot["mode"] in compatible:
                mode = appt["mode"]
            else:
                raise ToolError(
                    f"Slot {new_slot_id} is {new_slot['mode']} and does not support the current mode "
                    f"{appt['mode']}; pass mode explicitly."
                )
        chosen_mode = self._resolve_mode(new_slot, provider, mode)

        new_start = self._parse_dt(new_slot["start"], "slot start")
        new_end = self._parse_dt(new_slot["end"], "slot end")
        conflict = self._patient_conflict(appt["patient_id"], new_start, new_end, exclude_id=appointment_id)
        if conflict is not None:
            raise ToolError(
                f"Patient {appt['patient_id']} already has appointment {conflict['id']} "
                f"({conflict['start']} to {conflict['end']}) overlapping slot {new_slot_id}."
            )

        old_slot = self.state["slots"].get(appt["slot_id"])
        if old_slot is not None and old_slot.get("appointment_id") == appointment_id:
            old_slot["status"] = "open"
            old_slot["appointment_id"] = None
        new_slot["status"] = "booked"
        new_slot["appointment_id"] = appointment_id
        appt["slot_id"] = new_slot_id
        appt["start"] = new_slot["start"]
        appt["end"] = new_slot["end"]
        appt["mode"] = chosen_mode
        appt["clinic_id"] = new_slot["clinic_id"] if chosen_mode == "in_person" else None
        appt["meeting_url"] = self._meeting_url(appointment_id) if chosen_mode == "virtual" else None
        appt["status"] = "scheduled"
        appt["confirmed_at"] = None
        appt["reschedule_count"] += 1
        return {
            "appointment": self._appointment_view(appt),
            "old_slot": dict(old_slot) if old_slot else None,
            "new_slot": dict(new_slot),
        }

    def mark_no_show(self, appointment_id: str) -> dict:
        """Record a no-show from the start time onward; increments no_show_count and restricts at 3.

        Args:
            appointment_id: Appointment id, e.g. "APT-0001".
        """
        appt = self._get_appointment(appointment_id)
        if appt["status"] not in ("scheduled", "confirmed"):
            raise ToolError(
                f"Only scheduled or confirmed appointments can be marked no_show; {appointment_id} is {appt['status']}."
            )
        if self._now() < self._parse_dt(appt["start"], "appointment start"):
            raise ToolError(f"Appointment {appointment_id} has not started yet ({appt['start']}); it cannot be a no-show.")
        patient = self._get_patient(appt["patient_id"])
        appt["status"] = "no_show"
        patient["no_show_count"] += 1
        if patient["no_show_count"] >= NO_SHOW_RESTRICT_THRESHOLD and patient["status"] == "active":
            patient["status"] = "restricted"
        return {"appointment": self._appointment_view(appt), "patient": dict(patient)}

    def add_to_waitlist(self, patient_id: str, latest_date: str, provider_id: str | None = None,
                        specialty: Literal["primary_care", "cardiology", "dermatology", "neurology", "gynecology", "pediatrics", "orthopedics", "psychiatry", "endocrinology", "gastroenterology", "ophthalmology", "otolaryngology"] | None = None, city: str | None = None,
                        mode: Literal["in_person", "virtual", "either"] | None = None,
                        earliest_date: str | None = None) -> dict:
        """Create a waiting waitlist entry for a patient, for a specific provider or for a specialty and city.

        Args:
            patient_id: Patient id, e.g. "PAT-0001".
            latest_date: Latest acceptable date, YYYY-MM-DD, on or after earliest_date and not in the past.
            provider_id: Desired provider, e.g. "PRV-001"; when given, specialty is taken from the provider.
            specialty: Specialty enum value; required when provider_id is omitted.
            city: Preferred city (for specialty-based requests).
            mode: One of: in_person, virtual, either (default either).
            earliest_date: Earliest acceptable date, YYYY-MM-DD (default today).
        """
        patient = self._get_patient(patient_id)
        if patient["status"] != "active":
            raise ToolError(f"Patient {patient_id} is {patient['status']}; only active patients can join a waitlist.")
        self._check_specialty(specialty)
        if mode is None:
            mode = "either"
        if mode not in ("in_person", "virtual", "either"):
            raise ToolError("mode must be one of: in_person, virtual, either.")
        city_value = city.strip() if isinstance(city, str) and city.strip() else None

        if provider_id is not None:
            provider = self._get_provider(provider_id)
            if provider["status"] == "inactive":
                raise ToolError(f"Provider {provider_id} is inactive and no longer takes appointments.")
            if specialty is not None and specialty != provider["specialty"]:
                raise ToolError(
                    f"Provider {provider_id} is in {provider['specialty']}, not {specialty}; omit specialty or fix it."
                )
            if mode != "either" and mode not in provider["visit_modes"]:
                raise ToolError(f"Provider {provider_id} does not offer {mode} visits.")
            specialty = provider["specialty"]
        elif specialty is None:
            raise ToolError("Give either provider_id or specialty.")

        today = self.clock.today()
        first_day = self._parse_date(earliest_date, "earliest_date") if earliest_date is not None else today
        last_day = self._parse_date(latest_date, "latest_date")
        if last_day < today:
            raise ToolError("latest_date cannot be in the past.")
        if last_day < first_day:
            raise ToolError("latest_date must be on or after earliest_date.")

        self._expire_waitlist()
        for entry in self.state["waitlist_entries"].values():
            if entry["patient_id"] != patient_id or entry["status"] != "waiting":
                continue
            if provider_id is not None:
                if entry["provider_id"] == provider_id:
                    raise ToolError(
                        f"Patient {patient_id} already has waiting entry {entry['id']} for provider {provider_id}."
                    )
            elif (entry["provider_id"] is None and entry["specialty"] == specialty
                  and (entry.get("city") or "").lower() == (city_value or "").lower()):
                raise ToolError(
                    f"Patient {patient_id} already has waiting entry {entry['id']} for {specialty}"
                    f"{' in ' + city_value if city_value else ''}."
                )

        entry_id = self._next_id("WL", self.state["waitlist_entries"])
        entry = {
            "id": entry_id,
            "patient_id": patient_id,
            "provider_id": provider_id,
            "specialty": specialty,
            "city": city_value,
            "mode": mode,
            "earliest_date": first_day.isoformat(),
            "latest_date": last_day.isoformat(),
            "status": "waiting",
            "created_at": self.clock.iso(),
            "appointment_id": None,
        }
        self.state["waitlist_entries"][entry_id] = entry
        return {"waitlist_entry": dict(entry)}

    def cancel_waitlist_entry(self, entry_id: str) -> dict:
        """Cancel a waiting waitlist entry.

        Args:
            entry_id: Waitlist entry id, e.g. "WL-0001".
        """
        entry = self.state["waitlist_entries"].get(entry_id)
        if entry is None:
            raise ToolError(f"No waitlist entry with id {entry_id!r}.")
        self._expire_waitlist()
        if entry["status"] != "waiting":
            raise ToolError(f"Only waiting entries can be cancelled; {entry_id} is {entry['status']}.")
        entry["status"] = "cancelled"
        return {"waitlist_entry": dict(entry)}
