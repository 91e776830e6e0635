from typing import Any, Literal
from datetime import date, datetime, timedelta
import re

from envmint_runtime import Environment, ToolError


CATEGORIES = ("cardio", "yoga", "hiit", "strength", "pilates", "cycling",
              "dance", "meditation", "barre", "boxing")
GOALS = ("weight_loss", "strength", "endurance", "flexibility", "stress_relief", "mobility", "toning")
INTENSITIES = ("low", "moderate", "high")
LEVELS = ("beginner", "all_levels", "intermediate", "advanced")
FORMATS = ("in_person", "virtual", "hybrid")
LOCATION_TYPES = ("studio", "gym", "outdoor", "virtual")
AMENITIES = ("showers", "lockers", "towels", "parking", "mat_rental", "childcare", "sauna")
BOOKING_STATUSES = ("booked", "waitlisted", "checked_in", "cancelled", "late_cancelled", "no_show")
ACTIVE_BOOKING_STATUSES = ("booked", "waitlisted", "checked_in")
SEATED_STATUSES = ("booked", "checked_in")
CREDIT_PLANS = ("class_pack", "monthly_credits")
BOOKING_HORIZON = timedelta(days=7)
FREE_CANCEL_WINDOW = timedelta(hours=12)
CHECKIN_OPENS_BEFORE = timedelta(minutes=30)
CHECKIN_CLOSES_AFTER = timedelta(minutes=15)
LATE_CANCEL_FEE_CENTS = 1500
NO_SHOW_FEE_CENTS = 2000
NO_SHOW_SUSPEND_THRESHOLD = 3
SUSPENSION_DAYS = 7


class FitnessStudioClassBookingSystem(Environment):
    """Class booking for a network of NYC fitness studios plus a virtual studio."""

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
            raise ToolError(f"{field} must be an ISO 8601 instant like 2025-05-01T18:00:00Z.")
        text = value.strip()
        if text[-1:] in ("Z", "z"):
            text = text[:-1] + "+00:00"
        try:
            dt = datetime.fromisoformat(text)
        except ValueError:
            raise ToolError(f"{field} {value!r} is not a valid ISO 8601 instant (e.g. 2025-05-01T18:00:00Z).")
        return self._naive_utc(dt)

    @staticmethod
    def _parse_date(value: Any, field: str) -> date:
        if not isinstance(value, str):
            raise ToolError(f"{field} must be a date YYYY-MM-DD.")
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            raise ToolError(f"{field} {value!r} is not a valid date; use YYYY-MM-DD.")

    def _start(self, session: dict) -> datetime:
        return self._parse_dt(session["start_time"], "start_time")

    def _end(self, session: dict) -> datetime:
        return self._parse_dt(session["end_time"], "end_time")

    def _next_id(self, collection: str, prefix: str, width: int) -> str:
        """Next sequential id in the collection's numeric format, e.g. BK-000042."""
        highest = 0
        pattern = re.compile(rf"^{prefix}-(\d+)$")
        for key in self.state[collection]:
            m = pattern.match(key)
            if m:
                highest = max(highest, int(m.group(1)))
        return f"{prefix}-{highest + 1:0{width}d}"

    def _get(self, collection: str, key: str, label: str, hint: str = "") -> dict:
        record = self.state[collection].get(key)
        if record is None:
            raise ToolError(f"No {label} with id {key!r}.{(' ' + hint) if hint else ''}")
        return record

    def _get_session(self, session_id: str) -> dict:
        return self._get("sessions", session_id, "session", "Use search_sessions to find session ids.")

    def _get_member(self, member_id: str) -> dict:
        return self._get("members", member_id, "member", "Use find_members to look up the id.")

    def _get_booking(self, booking_id: str) -> dict:
        return self._get("bookings", booking_id, "booking", "Use list_member_bookings to find booking ids.")

    def _get_membership(self, membership_id: str) -> dict:
        return self._get("memberships", membership_id, "membership", "Use get_member to see memberships.")

    def _is_virtual_location(self, location_id: str) -> bool:
        loc = self.state["locations"].get(location_id)
        return loc is not None and loc["location_type"] == "virtual"

    def _is_suspended(self, member: dict) -> bool:
        until = member.get("booking_suspended_until")
        if not until:
            return False
        try:
            return date.fromisoformat(until) >= self.clock.today()
        except ValueError:
            return False

    def _current_membership(self, member_id: str) -> dict | None:
        """The member's active or frozen membership (at most one exists)."""
        found = None
        for ms in self.state["memberships"].values():
            if ms["member_id"] == member_id and ms["status"] in ("active", "frozen"):
                if found is None or ms["status"] == "active":
                    found = ms
        return found

    @staticmethod
    def _credit_cost(membership: dict, class_type: dict) -> int:
        if membership["plan_type"] in CREDIT_PLANS:
            return int(class_type["credit_cost"])
        return 0

    def _refund(self, booking: dict) -> int:
        """Return a booking's charged credits to its membership; returns credits refunded."""
        amount = booking["credits_charged"]
        if amount > 0:
            ms = self.state["memberships"].get(booking["membership_id"])
            if ms is not None and ms["credits_remaining"] is not None:
                ms["credits_remaining"] += amount
            booking["credits_charged"] = 0
        return amount

    def _scope_allows(self, membership: dict, member: dict, session: dict) -> str | None:
        scope = membership["access_scope"]
        fmt = session["format"]
        if scope == "virtual_only":
            if fmt not in ("virtual", "hybrid"):
                return "The member's virtual_only membership can book only virtual or hybrid sessions."
        elif scope == "home_location":
            if fmt == "in_person" and session["location_id"] != member["home_location_id"]:
                return (f"The member's home_location membership covers in-person classes only at "
                        f"{member['home_location_id']}; this session is at {session['location_id']}.")
        return None

    def _overlapping_seated(self, member_id: str, session: dict, exclude_booking: str | None = None) -> dict | None:
        s_start, s_end = self._start(session), self._end(session)
        for bk in self.state["bookings"].values():
            if bk["member_id"] != member_id or bk["id"] == exclude_booking:
                continue
            if bk["status"] not in SEATED_STATUSES or bk["session_id"] == session["id"]:
                continue
            other = self.state["sessions"].get(bk["session_id"])
            if other is None or other["status"] == "cancelled":
                continue
            if self._start(other) < s_end and s_start < self._end(other):
                return bk
        return None

    def _session_bookability(self, session: dict) -> str | None:
        if session["status"] != "scheduled":
            return f"Session {session['id']} is {session['status']}."
        now = self._now()
        start = self._start(session)
        if start <= now:
            return f"Session {session['id']} already started at {session['start_time']}."
        if start > now + BOOKING_HORIZON:
            return (f"Session {session['id']} starts {session['start_time']}, more than 7 days ahead; "
                    "booking opens 7 days before the class.")
        return None

    def _evaluate_booking(self, member: dict, session: dict) -> dict:
        reasons = []
        class_type = self.state["class_types"].get(session["class_type_id"])
        timing = self._session_bookability(session)
        if timing:
            reasons.append(timing)
        if self._is_suspended(member):
            reasons.append(f"Member {member['id']} is suspended from booking until {member['booking_suspended_until']}.")

        membership = self._current_membership(member["id"])
        session_day = self._start(session).date()
        usable = None
        if membership is None:
            reasons.append(f"Member {member['id']} has no active membership.")
        elif membership["status"] != "active":
            reasons.append(f"Membership {membership['id']} is {membership['status']} and cannot be used for booking.")
        elif not (date.fromisoformat(membership["start_date"]) <= session_day
                  <= date.fromisoformat(membership["end_date"])):
            reasons.append(f"Membership {membership['id']} is valid {membership['start_date']} to "
                           f"{membership['end_date']} and does not cover the session date {session_day.isoformat()}.")
        else:
            usable = membership
            scope_issue = self._scope_allows(membership, member, session)
            if scope_issue:
                reasons.append(scope_issue)

        for bk in self.state["bookings"].values():
            if (bk["member_id"] == member["id"] and bk["session_id"] == session["id"]
                    and bk["status"] in ACTIVE_BOOKING_STATUSES):
                reasons.append(f"Member already holds booking {bk['id']} ({bk['status']}) for this session.")
                break

        cost = self._credit_cost(usable, class_type) if usable is not None and class_type else 0
        if session["booked_count"] < session["capacity"]:
            outcome, position = "booked", None
        elif session["waitlist_count"] < session["waitlist_capacity"]:
            outcome, position = "waitlisted", session["waitlist_count"] + 1
        else:
            outcome, position = "rejected", None
            reasons.append(f"Session {session['id']} is full and its waitlist is full.")

        if outcome == "booked":
            clash = self._overlapping_seated(member["id"], session)
            if clash is not None:
                reasons.append(f"Member already has booked session {clash['session_id']} (booking {clash['id']}) "
                               "overlapping this time.")
            if usable is not None and usable["plan_type"] in CREDIT_PLANS:
                remaining = usable["credits_remaining"] or 0
                if remaining < cost:
                    reasons.append(f"Not enough credits: the class costs {cost} and membership "
                                   f"{usable['id']} has {remaining} left.")
        if reasons:
            outcome, position = "rejected", None
        return {
            "eligible": not reasons,
            "outcome": outcome,
            "waitlist_position": position,
            "membership_id": usable["id"] if usable else (membership["id"] if membership else None),
            "credit_cost": cost if usable is not None else (class_type["credit_cost"] if class_type else None),
            "credits_remaining": (usable or membership or {}).get("credits_remaining"),
            "reasons": reasons,
        }

    def _recount(self, session: dict) -> None:
        """Renumber waitlist positions 1..n and recompute counters from bookings."""
        waitlisted = [b for b in self.state["bookings"].values()
                      if b["session_id"] == session["id"] and b["status"] == "waitlisted"]
        waitlisted.sort(key=lambda b: (b["waitlist_position"] or 10 ** 9, b["booked_at"], b["id"]))
        for i, b in enumerate(waitlisted, start=1):
            b["waitlist_position"] = i
        session["waitlist_count"] = len(waitlisted)
        session["booked_count"] = sum(1 for b in self.state["bookings"].values()
                                      if b["session_id"] == session["id"] and b["status"] in SEATED_STATUSES)

    def _promote_waitlist(self, session: dict) -> tuple:
        promoted, skipped = [], []
        class_type = self.state["class_types"].get(session["class_type_id"])
        session_day = self._start(session).date()
        while session["booked_count"] < session["capacity"]:
            head = None
            for b in self.state["bookings"].values():
                if b["session_id"] == session["id"] and b["status"] == "waitlisted" and b["waitlist_position"] == 1:
                    head = b
                    break
            if head is None:
                break
            ms = self.state["memberships"].get(head["membership_id"])
            member = self.state["members"].get(head["member_id"])
            cost = self._credit_cost(ms, class_type) if ms and class_type else 0
            ok = (
                ms is not None and member is not None and ms["status"] == "active"
                and date.fromisoformat(ms["start_date"]) <= session_day <= date.fromisoformat(ms["end_date"])
                and (ms["plan_type"] not in CREDIT_PLANS or (ms["credits_remaining"] or 0) >= cost)
                and self._overlapping_seated(head["member_id"], session, exclude_booking=head["id"]) is None
            )
            if ok:
                head["status"] = "booked"
                head["waitlist_position"] = None
                head["credits_charged"] = cost
                if ms["plan_type"] in CREDIT_PLANS:
                    ms["credits_remaining"] -= cost
                promoted.append(dict(head))
            else:
                head["status"] = "cancelled"
                head["waitlist_position"] = None
                head["cancelled_at"] = self.clock.iso()
                skipped.append(dict(head))
            self._recount(session)
        return promoted, skipped

    def _new_charge(self, member_id: str, booking_id: str | None, charge_type: str, amount: int) -> dict:
        charge_id = self._next_id("charges", "CHG", 6)
        charge = {
            "id": charge_id,
            "member_id": member_id,
            "booking_id": booking_id,
            "charge_type": charge_type,
            "amount_cents": amount,
            "status": "pending",
            "created_at": self.clock.iso(),
        }
        self.state["charges"][charge_id] = charge
        return charge

    def _session_view(self, session: dict) -> dict:
        ct = self.state["class_types"].get(session["class_type_id"]) or {}
        ins = self.state["instructors"].get(session["instructor_id"]) or {}
        loc = self.state["locations"].get(session["location_id"]) or {}
        view = dict(session)
        view["class_type"] = {
            "id": ct.get("id"), "name": ct.get("name"), "category": ct.get("category"),
            "intensity": ct.get("intensity"), "duration_minutes": ct.get("duration_minutes"),
            "credit_cost": ct.get("credit_cost"),
        }
        view["instructor_name"] = ins.get("full_name")
        view["location_name"] = loc.get("name")
        view["neighborhood"] = loc.get("neighborhood")
        view["spots_left"] = max(session["capacity"] - session["booked_count"], 0)
        view["waitlist_spots_left"] = max(session["waitlist_capacity"] - session["waitlist_count"], 0)
        return view

    def _check_instructor_for(self, instructor: dict, class_type: dict, location_id: str,
                              start: datetime, end: datetime, exclude_session: str | None = None) -> None:
        if not instructor["active"]:
            raise ToolError(f"Instructor {instructor['id']} is not active.")
        if class_type["category"] not in instructor["specialties"]:
            raise ToolError(f"Instructor {instructor['id']} does not teach {class_type['category']} "
                            f"(specialties: {', '.join(instructor['specialties'])}).")
        if not self._is_virtual_location(location_id) and location_id not in instructor["location_ids"]:
            raise ToolError(f"Instructor {instructor['id']} does not teach at location {location_id}.")
        for other in self.state["sessions"].values():
            if other["id"] == exclude_session or other["instructor_id"] != instructor["id"]:
                continue
            if other["status"] == "cancelled":
                continue
            if self._start(other) < end and start < self._end(other):
                raise ToolError(f"Instructor {instructor['id']} already teaches session {other['id']} "
                                f"({other['start_time']} to {other['end_time']}) at that time.")

    # ------------------------------------------------------------------ queries

    def search_locations(self, neighborhood: str | None = None,
                         location_type: Literal["studio", "gym", "outdoor", "virtual"] | None = None,
                         amenity: Literal["showers", "lockers", "towels", "parking", "mat_rental",
                                          "childcare", "sauna"] | None = None,
                         include_inactive: bool | None = None) -> dict:
        """List studio locations (including the virtual studio) filtered by neighborhood, type or amenity.

        Args:
            neighborhood: Neighborhood name, e.g. "Chelsea" (case-insensitive, partial match).
            location_type: One of: studio, gym, outdoor, virtual.
            amenity: Required amenity, one of: showers, lockers, towels, parking, mat_rental, childcare, sauna.
            include_inactive: Also return inactive locations (default false).
        """
        if location_type is not None and location_type not in LOCATION_TYPES:
            raise ToolError(f"location_type must be one of: {', '.join(LOCATION_TYPES)}.")
        if amenity is not None and amenity not in AMENITIES:
            raise ToolError(f"amenity must be one of: {', '.join(AMENITIES)}.")
        results = []
        for loc in self.state["locations"].values():
            if not include_inactive and not loc["active"]:
                continue
            if neighborhood is not None and neighborhood.strip().lower() not in (loc["neighborhood"] or "").lower():
                continue
            if location_type is not None and loc["location_type"] != location_type:
                continue
            if amenity is not None and amenity not in loc["amenities"]:
                continue
            results.append(dict(loc))
        results.sort(key=lambda l: (l["name"].lower(), l["id"]))
        return {"locations": results, "count": len(results)}

    def search_sessions(self, location_id: str | None = None, neighborhood: str | None = None,
                        category: Literal["cardio", "yoga", "hiit", "strength", "pilates", "cycling", "dance", "meditation", "barre", "boxing"] | None = None,
                        class_type_id: str | None = None,
                        goal: Literal["weight_loss", "strength", "endurance", "flexibility", "stress_relief",
                                      "mobility", "toning"] | None = None,
                        intensity: Literal["low", "moderate", "high"] | None = None,
                        level: Literal["beginner", "all_levels", "intermediate", "advanced"] | None = None,
                        format: Literal["in_person", "virtual", "hybrid"] | None = None,
                        instructor_id: str | None = None, start_from: str | None = None,
                        start_to: str | None = None, bookable_only: bool | None = None,
                        has_open_spots: bool | None = None) -> dict:
        """Search the class timetable and return matching sessions sorted by start time.

        Args:
            location_id: Only sessions at this location, e.g. "LOC-001".
            neighborhood: Only sessions at locations in this neighborhood (case-insensitive).
            category: One of: cardio, yoga, hiit, strength, pilates, cycling, dance, meditation, barre, boxing.
            class_type_id: Only sessions of this class type, e.g. "CT-004".
            goal: Class type goal, one of: weight_loss, strength, endurance, flexibility, stress_relief, mobility, toning.
            intensity: One of: low, moderate, high.
            level: One of: beginner, all_levels, intermediate, advanced.
            format: One of: in_person, virtual, hybrid.
            instructor_id: Only sessions taught by this instructor, e.g. "INS-007".
            start_from: Earliest start time, ISO 8601 instant (default now).
            start_to: Latest start time, ISO 8601 instant.
            bookable_only: Only scheduled sessions starting in the future and at most 7 days ahead (default true).
            has_open_spots: Only sessions with booked_count < capacity.
        """
        if category is not None and category not in CATEGORIES:
            raise ToolError(f"category must be one of: {', '.join(CATEGORIES)}.")
        if goal is not None and goal not in GOALS:
            raise ToolError(f"goal must be one of: {', '.join(GOALS)}.")
        if intensity is not None and intensity not in INTENSITIES:
            raise ToolError("intensity must be one of: low, moderate, high.")
        if level is not None and level not in LEVELS:
            raise ToolError(f"level must be one of: {', '.join(LEVELS)}.")
        if format is not None and format not in FORMATS:
            raise ToolError("format must be one of: in_person, virtual, hybrid.")
        now = self._now()
        lower = self._parse_dt(start_from, "start_from") if start_from is not None else now
        upper = self._parse_dt(start_to, "start_to") if start_to is not None else None
        if upper is not None and upper < lower:
            raise ToolError("start_to must not be earlier than start_from.")
        if bookable_only is None:
            bookable_only = True
        rows = []
        for s in self.state["sessions"].values():
            ct = self.state["class_types"].get(s["class_type_id"])
            loc = self.state["locations"].get(s["location_id"])
            if ct is None or loc is None:
                continue
            start = self._start(s)
            if start < lower or (upper is not None and start > upper):
                continue
            if bookable_only and (s["status"] != "scheduled" or start <= now or start > now + BOOKING_HORIZON):
                continue
            if location_id is not None and s["location_id"] != location_id:
                continue
            if neighborhood is not None and neighborhood.strip().lower() not in (loc["neighborhood"] or "").lower():
                continue
            if category is not None and ct["category"] != category:
                continue
            if class_type_id is not None and s["class_type_id"] != class_type_id:
                continue
            if goal is not None and goal not in ct["goals"]:
                continue
            if intensity is not None and ct["intensity"] != intensity:
                continue
            if level is not None and s["level"] != level:
                continue
            if format is not None and s["format"] != format:
                continue
            if instructor_id is not None and s["instructor_id"] != instructor_id:
                continue
            if has_open_spots and s["booked_count"] >= s["capacity"]:
                continue
            rows.append((start, s["id"], self._session_view(s)))
        rows.sort(key=lambda r: (r[0], r[1]))
        sessions = [r[2] for r in rows]
        return {"sessions": sessions, "count": len(sessions)}

    def get_session(self, session_id: str) -> dict:
        """Return one session with class type, instructor, location, capacity counters and bookability.

        Args:
            session_id: Session id, e.g. "SES-000123".
        """
        s = self._get_session(session_id)
        view = self._session_view(s)
        ct = self.state["class_types"].get(s["class_type_id"])
        ins = self.state["instructors"].get(s["instructor_id"])
        loc = self.state["locations"].get(s["location_id"])
        view["class_type"] = dict(ct) if ct else None
        view["instructor"] = ({"id": ins["id"], "full_name": ins["full_name"], "rating": ins["rating"]}
                              if ins else None)
        view["location"] = dict(loc) if loc else None
        blocker = self._session_bookability(s)
        view["bookable"] = blocker is None and (s["booked_count"] < s["capacity"]
                                                or s["waitlist_count"] < s["waitlist_capacity"])
        view["bookable_note"] = blocker or (None if view["bookable"] else "Session and waitlist are full.")
        return {"session": view}

    def list_session_bookings(self, session_id: str,
                              status: Literal["booked", "waitlisted", "checked_in", "cancelled",
                                              "late_cancelled", "no_show"] | None = None) -> dict:
        """Return a session's roster with member names; waitlisted entries are ordered by position.

        Args:
            session_id: Session whose roster to list, e.g. "SES-000123".
            status: Optional filter, one of: booked, waitlisted, checked_in, cancelled, late_cancelled, no_show.
        """
        s = self._get_session(session_id)
        if status is not None and status not in BOOKING_STATUSES:
            raise ToolError(f"status must be one of: {', '.join(BOOKING_STATUSES)}.")
        order = {"checked_in": 0, "booked": 1, "waitlisted": 2, "late_cancelled": 3, "cancelled": 4, "no_show": 5}
        rows = []
        for b in self.state["bookings"].values():
            if b["session_id"] != session_id or (status is not None and b["status"] != status):
                continue
            member = self.state["members"].get(b["member_id"])
            rows.append({
                "booking_id": b["id"],
                "member_id": b["member_id"],
                "member_name": member["full_name"] if member else None,
                "status": b["status"],
                "waitlist_position": b["waitlist_position"],
                "credits_charged": b["credits_charged"],
                "booked_at": b["booked_at"],
                "checked_in_at": b["checked_in_at"],
                "cancelled_at": b["cancelled_at"],
            })
        rows.sort(key=lambda r: (order.get(r["status"], 9), r["waitlist_position"] or 0, r["booked_at"], r["booking_id"]))
        return {
            "session_id": session_id,
            "capacity": s["capacity"],
            "booked_count": s["booked_count"],
            "waitlist_capacity": s["waitlist_capacity"],
            "waitlist_count": s["waitlist_count"],
            "bookings": rows,
            "count": len(rows),
        }

    def search_instructors(self, category: Literal["cardio", "yoga", "hiit", "strength", "pilates", "cycling", "dance", "meditation", "barre", "boxing"] | None = None,
                           location_id: str | None = None,
                           include_inactive: bool | None = None) -> dict:
        """List instructors with specialties, teaching locations and rating, filtered by category and location.

        Args:
            category: Specialty, one of: cardio, yoga, hiit, strength, pilates, cycling, dance, meditation, barre, boxing.
            location_id: Only instructors who teach at this location (any instructor qualifies for the virtual location).
            include_inactive: Also return inactive instructors (default false).
        """
        if category is not None and category not in CATEGORIES:
            raise ToolError(f"category must be one of: {', '.join(CATEGORIES)}.")
        if location_id is not None and location_id not in self.state["locations"]:
            raise ToolError(f"No location with id {location_id!r}. Use search_locations to find ids.")
        virtual = location_id is not None and self._is_virtual_location(location_id)
        results = []
        for ins in self.state["instructors"].values():
            if not include_inactive and not ins["active"]:
                continue
            if category is not None and category not in ins["specialties"]:
                continue
            if location_id is not None and not virtual and location_id not in ins["location_ids"]:
                continue
            item = dict(ins)
            item["locations"] = [
                {"id": lid, "name": self.state["locations"][lid]["name"]}
                for lid in ins["location_ids"] if lid in self.state["locations"]
            ]
            results.append(item)
        results.sort(key=lambda i: (-i["rating"], i["full_name"].lower(), i["id"]))
        return {"instructors": results, "count": len(results)}

    def find_members(self, query: str) -> dict:
        """Find members whose name, email or phone contains the text (case-insensitive).

        Args:
            query: Text to match against name, email or phone; at least 2 characters.
        """
        if not isinstance(query, str) or len(query.strip()) < 2:
            raise ToolError("query must be at least 2 characters.")
        q = query.strip().lower()
        q_digits = re.sub(r"\D", "", q)
        results = []
        for m in self.state["members"].values():
            phone_digits = re.sub(r"\D", "", m["phone"] or "")
            if (q in m["full_name"].lower() or q in (m["email"] or "").lower() or q in (m["phone"] or "").lower()
                    or (len(q_digits) >= 2 and q_digits == re.sub(r"[\s\-\.\(\)\+]", "", q) and q_digits in phone_digits)):
                loc = self.state["locations"].get(m["home_location_id"])
                results.append({
                    "id": m["id"], "full_name": m["full_name"], "email": m["email"], "phone": m["phone"],
                    "home_location_id": m["home_location_id"],
                    "home_location_name": loc["name"] if loc else None,
                })
        results.sort(key=lambda r: (r["full_name"].lower(), r["id"]))
        return {"members": results, "count": len(results)}

    def get_member(self, member_id: str) -> dict:
        """Return a member's profile, suspension state, memberships, upcoming bookings and pending charges.

        Args:
            member_id: Member id, e.g. "MEM-00042".
        """
        m = self._get_member(member_id)
        loc = self.state["locations"].get(m["home_location_id"])
        memberships = sorted((dict(ms) for ms in self.state["memberships"].values() if ms["member_id"] == member_id),
                             key=lambda ms: (ms["start_date"], ms["id"]), reverse=True)
        current = self._current_membership(member_id)
        now = self._now()
        upcoming = 0
        for b in self.state["bookings"].values():
            if b["member_id"] == member_id and b["status"] in ("booked", "waitlisted"):
                s = self.state["sessions"].get(b["session_id"])
                if s is not None and self._start(s) > now:
                    upcoming += 1
        pending = sum(c["amount_cents"] for c in self.state["charges"].values()
                      if c["member_id"] == member_id and c["status"] == "pending")
        return {
            "member": dict(m),
            "home_location": dict(loc) if loc else None,
            "is_suspended": self._is_suspended(m),
            "current_membership": dict(current) if current else None,
            "memberships": memberships,
            "upcoming_booking_count": upcoming,
            "pending_charges_cents": pending,
        }

    def list_member_bookings(self, member_id: str,
                             status: Literal["booked", "waitlisted", "checked_in", "cancelled",
                                             "late_cancelled", "no_show"] | None = None,
                             from_date: str | None = None, to_date: str | None = None) -> dict:
        """List a member's bookings, newest session first, optionally filtered by status and session dates.

        Args:
            member_id: Member whose bookings to list, e.g. "MEM-00042".
            status: One of: booked, waitlisted, checked_in, cancelled, late_cancelled, no_show.
            from_date: Earliest session date, YYYY-MM-DD.
            to_date: Latest session date, YYYY-MM-DD (inclusive).
        """
        self._get_member(member_id)
        if status is not None and status not in BOOKING_STATUSES:
            raise ToolError(f"status must be one of: {', '.join(BOOKING_STATUSES)}.")
        first = self._parse_date(from_date, "from_date") if from_date is not None else None
        last = self._parse_date(to_date, "to_date") if to_date is not None else None
        if first and last and last < first:
            raise ToolError("to_date must be on or after from_date.")
        rows = []
        for b in self.state["bookings"].values():
            if b["member_id"] != member_id or (status is not None and b["status"] != status):
                continue
            s = self.state["sessions"].get(b["session_id"])
            if s is None:
                continue
            start = self._start(s)
            if (first and start.date() < first) or (last and start.date() > last):
                continue
            ct = self.state["class_types"].get(s["class_type_id"]) or {}
            loc = self.state["locations"].get(s["location_id"]) or {}
            rows.append((start, b["id"], {
                "booking_id": b["id"],
                "session_id": s["id"],
                "class_name": ct.get("name"),
                "start_time": s["start_time"],
                "end_time": s["end_time"],
                "location_id": s["location_id"],
                "location_name": loc.get("name"),
                "format": s["format"],
                "session_status": s["status"],
                "status": b["status"],
                "waitlist_position": b["waitlist_position"],
                "credits_charged": b["credits_charged"],
                "membership_id": b["membership_id"],
            }))
        rows.sort(key=lambda r: (r[0], r[1]), reverse=True)
        items = [r[2] for r in rows]
        return {"bookings": items, "count": len(items)}

    def check_booking_eligibility(self, member_id: str, session_id: str) -> dict:
        """Dry-run a booking and report the outcome, membership, credit cost and every blocking reason.

        Args:
            member_id: Member who wants to book, e.g. "MEM-00042".
            session_id: Session to check, e.g. "SES-000123".
        """
        member = self._get_member(member_id)
        session = self._get_session(session_id)
        result = self._evaluate_booking(member, session)
        result["member_id"] = member_id
        result["session_id"] = session_id
        return result

    def list_member_charges(self, member_id: str,
                            status: Literal["pending", "paid", "waived"] | None = None) -> dict:
        """List a member's charges, optionally by status, with totals per status.

        Args:
            member_id: Member whose charges to list, e.g. "MEM-00042".
            status: One of: pending, paid, waived.
        """
        self._get_member(member_id)
        if status is not None and status not in ("pending", "paid", "waived"):
            raise ToolError("status must be one of: pending, paid, waived.")
        totals = {"pending": 0, "paid": 0, "waived": 0}
        items = []
        for c in self.state["charges"].values():
            if c["member_id"] != member_id:
                continue
            totals[c["status"]] = totals.get(c["status"], 0) + c["amount_cents"]
            if status is None or c["status"] == status:
                items.append(dict(c))
        items.sort(key=lambda c: (c["created_at"], c["id"]), reverse=True)
        return {"charges": items, "count": len(items), "totals_cents": totals}

    # ---------------------------------------------------------------- mutations

    def book_session(self, member_id: str, session_id: str) -> dict:
        """Book a spot in a session with the member's active membership, or join the waitlist if full.

        Args:
            member_id: Member making the booking, e.g. "MEM-00042".
            session_id: Session to book, e.g. "SES-000123".
        """
        member = self._get_member(member_id)
        session = self._get_session(session_id)
        verdict = self._evaluate_booking(member, session)
        if not verdict["eligible"]:
            raise ToolError("Cannot book: " + " ".join(verdict["reasons"]))
        membership = self.state["memberships"][verdict["membership_id"]]
        booking_id = self._next_id("bookings", "BK", 6)
        booked = verdict["outcome"] == "booked"
        cost = verdict["credit_cost"] if booked else 0
        booking = {
            "id": booking_id,
            "session_id": session_id,
            "member_id": member_id,
            "membership_id": membership["id"],
            "status": "booked" if booked else "waitlisted",
            "waitlist_position": None if booked else verdict["waitlist_position"],
            "credits_charged": cost,
            "booked_at": self.clock.iso(),
            "cancelled_at": None,
            "checked_in_at": None,
        }
        self.state["bookings"][booking_id] = booking
        if booked and membership["plan_type"] in CREDIT_PLANS:
            membership["credits_remaining"] -= cost
        self._recount(session)
        return {
            "booking": dict(booking),
            "session": {"id": session_id, "booked_count": session["booked_count"],
                        "waitlist_count": session["waitlist_count"], "capacity": session["capacity"]},
            "credits_remaining": membership["credits_remaining"],
        }

    def cancel_booking(self, booking_id: str) -> dict:
        """Cancel a booked spot or waitlist entry, applying the late-cancel policy and promoting the waitlist.

        Args:
            booking_id: Booking to cancel, e.g. "BK-000321".
        """
        booking = self._get_booking(booking_id)
        session = self._get_session(booking["session_id"])
        if booking["status"] not in ("booked", "waitlisted"):
            raise ToolError(f"Only booked or waitlisted bookings can be cancelled; {booking_id} is {booking['status']}.")
        if session["status"] != "scheduled":
            raise ToolError(f"Session {session['id']} is {session['status']}; its bookings can no longer be cancelled.")
        now = self._now()
        start = self._start(session)
        if now >= start:
            raise ToolError(f"Session {session['id']} already started at {session['start_time']}; it can no longer be cancelled.")

        fee = None
        refunded = 0
        promoted, skipped = [], []
        booking["cancelled_at"] = self.clock.iso()
        if booking["status"] == "waitlisted":
            booking["status"] = "cancelled"
            booking["waitlist_position"] = None
            self._recount(session)
        else:
            if start - now >= FREE_CANCEL_WINDOW:
                booking["status"] = "cancelled"
                refunded = self._refund(booking)
            else:
                booking["status"] = "late_cancelled"
                ms = self.state["memberships"].get(booking["membership_id"])
                if ms is not None and ms["plan_type"] == "unlimited":
                    fee = dict(self._new_charge(booking["member_id"], booking_id, "late_cancel_fee",
                                                LATE_CANCEL_FEE_CENTS))
            self._recount(session)
            promoted, skipped = self._promote_waitlist(session)
        ms = self.state["memberships"].get(booking["membership_id"])
        return {
            "booking": dict(booking),
            "credits_refunded": refunded,
            "credits_remaining": ms["credits_remaining"] if ms else None,
            "fee": fee,
            "promoted_bookings": promoted,
            "skipped_waitlist_bookings": skipped,
            "session": {"id": session["id"], "booked_count": session["booked_count"],
                        "waitlist_count": session["waitlist_count"]},
        }

    def check_in_booking(self, booking_id: str) -> dict:
        """Check a member in for a booked session, from 30 minutes before to 15 minutes after start.

        Args:
            booking_id: Booking to check in, e.g. "BK-000321".
        """
        booking = self._get_booking(booking_id)
        session = self._get_session(booking["session_id"])
        if booking["status"] != "booked":
            raise ToolError(f"Only booked bookings can be checked in; {booking_id} is {booking['status']}.")
        if session["status"] != "scheduled":
            raise ToolError(f"Session {session['id']} is {session['status']}.")
        now = self._now()
        start = self._start(session)
        if now < start - CHECKIN_OPENS_BEFORE:
            raise ToolError(f"Check-in opens 30 minutes before the class ({self._fmt(start - CHECKIN_OPENS_BEFORE)}).")
        if now > start + CHECKIN_CLOSES_AFTER:
            raise ToolError(f"Check-in closed 15 minutes after the class started ({self._fmt(start + CHECKIN_CLOSES_AFTER)}).")
        booking["status"] = "checked_in"
        booking["checked_in_at"] = self.clock.iso()
        self._recount(session)
        return {"booking": dict(booking)}

    def schedule_session(self, class_type_id: str, instructor_id: str, location_id: str, start_time: str,
                         format: Literal["in_person", "virtual", "hybrid"],
                         level: Literal["beginner", "all_levels", "intermediate", "advanced"],
                         capacity: int, waitlist_capacity: int | None = None, room: str | None = None,
                         stream_url: str | None = None) -> dict:
        """Add a new session to the timetable; end_time is derived from the class type's duration.

        Args:
            class_type_id: Class type to run, e.g. "CT-004".
            instructor_id: Instructor teaching the session, e.g. "INS-007".
            location_id: Active location (the virtual location for virtual sessions), e.g. "LOC-002".
            start_time: Start instant, ISO 8601, in the future.
            format: One of: in_person, virtual, hybrid.
            level: One of: beginner, all_levels, intermediate, advanced.
            capacity: Number of spots, at least 1.
            waitlist_capacity: Waitlist size, 0 or more (default 0).
            room: Room name for in-person or hybrid sessions.
            stream_url: Streaming link; required for virtual and hybrid sessions.
        """
        ct = self._get("class_types", class_type_id, "class type")
        instructor = self._get("instructors", instructor_id, "instructor", "Use search_instructors to find ids.")
        loc = self._get("locations", location_id, "location", "Use search_locations to find ids.")
        if format not in FORMATS:
            raise ToolError("format must be one of: in_person, virtual, hybrid.")
        if level not in LEVELS:
            raise ToolError(f"level must be one of: {', '.join(LEVELS)}.")
        if not isinstance(capacity, int) or isinstance(capacity, bool) or capacity < 1:
            raise ToolError("capacity must be an integer of at least 1.")
        if waitlist_capacity is None:
            waitlist_capacity = 0
        if not isinstance(waitlist_capacity, int) or isinstance(waitlist_capacity, bool) or waitlist_capacity < 0:
            raise ToolError("waitlist_capacity must be an integer of 0 or more.")
        if not loc["active"]:
            raise ToolError(f"Location {location_id} is not active.")
        is_virtual_loc = loc["location_type"] == "virtual"
        if is_virtual_loc and format != "virtual":
            raise ToolError("Sessions at the virtual location must have format virtual.")
        if format == "virtual" and not is_virtual_loc:
            raise ToolError("A virtual session must be scheduled at the virtual location.")
        if format in ("virtual", "hybrid") and not (stream_url and stream_url.strip()):
            raise ToolError(f"stream_url is required for {format} sessions.")
        if format == "in_person" and stream_url:
            raise ToolError("In-person sessions do not take a stream_url; use format hybrid to stream.")
        if format == "virtual" and room:
            raise ToolError("Virtual sessions do not have a room.")
        start = self._parse_dt(start_time, "start_time")
        if start <= self._now():
            raise ToolError("start_time must be in the future.")
        end = start + timedelta(minutes=int(ct["duration_minutes"]))
        self._check_instructor_for(instructor, ct, location_id, start, end)

        session_id = self._next_id("sessions", "SES", 6)
        session = {
            "id": session_id,
            "class_type_id": class_type_id,
            "instructor_id": instructor_id,
            "location_id": location_id,
            "room": room.strip() if (room and format != "virtual") else None,
            "start_time": self._fmt(start),
            "end_time": self._fmt(end),
            "format": format,
            "level": level,
            "capacity": capacity,
            "booked_count": 0,
            "waitlist_capacity": waitlist_capacity,
            "waitlist_count": 0,
            "stream_url": stream_url.strip() if (stream_url and format != "in_person") else None,
            "status": "scheduled",
        }
        self.state["sessions"][session_id] = session
        return {"session": self._session_view(session)}

    def reassign_session_instructor(self, session_id: str, instructor_id: str) -> dict:
        """Put a substitute instructor on a scheduled future session.

        Args:
            session_id: Session to change, e.g. "SES-000123".
            instructor_id: New instructor, e.g. "INS-009".
        """
        session = self._get_session(session_id)
        instructor = self._get("instructors", instructor_id, "instructor", "Use search_instructors to find ids.")
        if session["status"] != "scheduled":
            raise ToolError(f"Session {session_id} is {session['status']}; only scheduled sessions can be reassigned.")
        start, end = self._start(session), self._end(session)
        if start <= self._now():
            raise ToolError(f"Session {session_id} has already started.")
        if session["instructor_id"] == instructor_id:
            raise ToolError(f"Instructor {instructor_id} already teaches session {session_id}.")
        ct = self._get("class_types", session["class_type_id"], "class type")
        self._check_instructor_for(instructor, ct, session["location_id"], start, end, exclude_session=session_id)
        previous = session["instructor_id"]
        session["instructor_id"] = instructor_id
        view = self._session_view(session)
        view["previous_instructor_id"] = previous
        return {"session": view}

    def complete_session(self, session_id: str) -> dict:
        """Mark a session completed after it has run, recording no-shows, fees and suspensions.

        Args:
            session_id: Session to complete, e.g. "SES-000123".
        """
        session = self._get_session(session_id)
        if session["status"] != "scheduled":
            raise ToolError(f"Session {session_id} is {session['status']}; only scheduled sessions can be completed.")
        if self._now() < self._end(session):
            raise ToolError(f"Session {session_id} ends at {session['end_time']}; it can be completed only after it has run.")
        attendees, no_shows, fees, suspended, closed_waitlist = [], [], [], [], []
        today = self.clock.today()
        for b in sorted((b for b in self.state["bookings"].values() if b["session_id"] == session_id),
                        key=lambda b: b["id"]):
            if b["status"] == "checked_in":
                attendees.append(b["id"])
            elif b["status"] == "booked":
                b["status"] = "no_show"
                no_shows.append(b["id"])
                member = self.state["members"].get(b["member_id"])
                ms = self.state["memberships"].get(b["membership_id"])
                if ms is not None and ms["plan_type"] == "unlimited":
                    fees.append(dict(self._new_charge(b["member_id"], b["id"], "no_show_fee", NO_SHOW_FEE_CENTS)))
                if member is not None:
                    member["no_show_count"] += 1
                    if member["no_show_count"] >= NO_SHOW_SUSPEND_THRESHOLD:
                        member["booking_suspended_until"] = (today + timedelta(days=SUSPENSION_DAYS)).isoformat()
                        member["no_show_count"] = 0
                        suspended.append({"member_id": member["id"],
                                          "booking_suspended_until": member["booking_suspended_until"]})
            elif b["status"] == "waitlisted":
                b["status"] = "cancelled"
                b["waitlist_position"] = None
                b["cancelled_at"] = self.clock.iso()
                closed_waitlist.append(b["id"])
        session["status"] = "completed"
        self._recount(session)
        return {
            "session": self._session_view(session),
            "attendees": attendees,
            "no_shows": no_shows,
            "fees_created": fees,
            "members_suspended": suspended,
            "waitlist_closed": closed_waitlist,
        }

    def cancel_session(self, session_id: str) -> dict:
        """Cancel a scheduled session, cancelling every reservation, refunding credits and waiving fees.

        Args:
            session_id: Session to cancel, e.g. "SES-000123".
        """
        session = self._get_session(session_id)
        if session["status"] != "scheduled":
            raise ToolError(f"Session {session_id} is {session['status']}; only scheduled sessions can be cancelled.")
        now_iso = self.clock.iso()
        cancelled, refunds, waived = [], [], []
        session_bookings = [b for b in self.state["bookings"].values() if b["session_id"] == session_id]
        for b in sorted(session_bookings, key=lambda b: b["id"]):
            if b["status"] in ("booked", "waitlisted", "checked_in"):
                b["status"] = "cancelled"
                b["waitlist_position"] = None
                b["cancelled_at"] = now_iso
                cancelled.append(b["id"])
            if b["status"] in ("cancelled", "late_cancelled") and b["credits_charged"] > 0:
                amount = self._refund(b)
                refunds.append({"booking_id": b["id"], "membership_id": b["membership_id"], "credits": amount})
        booking_ids = {b["id"] for b in session_bookings}
        for c in self.state["charges"].values():
            if c["booking_id"] in booking_ids and c["status"] == "pending":
                c["status"] = "waived"
                waived.append(c["id"])
        session["status"] = "cancelled"
        self._recount(session)
        return {
            "session": self._session_view(session),
            "cancelled_bookings": cancelled,
            "credit_refunds": refunds,
            "waived_charges": waived,
        }

    def change_membership_status(self, membership_id: str, action: Literal["freeze", "unfreeze", "cancel"]) -> dict:
        """Freeze, unfreeze or cancel a membership.

        Args:
            membership_id: Membership to change, e.g. "MS-00017".
            action: One of: freeze, unfreeze, cancel.
        """
        ms = self._get_membership(membership_id)
        if action not in ("freeze", "unfreeze", "cancel"):
            raise ToolError("action must be one of: freeze, unfreeze, cancel.")
        if action == "freeze":
            if ms["status"] != "active":
                raise ToolError(f"Only active memberships can be frozen; {membership_id} is {ms['status']}.")
            ms["status"] = "frozen"
        elif action == "unfreeze":
            if ms["status"] != "frozen":
                raise ToolError(f"Only frozen memberships can be unfrozen; {membership_id} is {ms['status']}.")
            if date.fromisoformat(ms["end_date"]) < self.clock.today():
                raise ToolError(f"Membership {membership_id} ended on {ms['end_date']} and cannot be reactivated.")
            for other in self.state["memberships"].values():
                if (other["id"] != membership_id and other["member_id"] == ms["member_id"]
                        and other["status"] in ("active", "frozen")):
                    raise ToolError(f"Member already has membership {other['id']} ({other['status']}).")
            ms["status"] = "active"
        else:
            if ms["status"] not in ("active", "frozen"):
                raise ToolError(f"Membership {membership_id} is already {ms['status']}.")
            ms["status"] = "cancelled"
            ms["auto_renew"] = False
        now = self._now()
        upcoming = []
        for b in self.state["bookings"].values():
            if b["membership_id"] == membership_id and b["status"] in ("booked", "waitlisted"):
                s = self.state["sessions"].get(b["session_id"])
                if s is not None and self._start(s) > now:
                    upcoming.append({"booking_id": b["id"], "session_id": s["id"], "start_time": s["start_time"],
                                     "status": b["status"]})
        return {"membership": dict(ms), "upcoming_bookings_on_membership": upcoming}

    def add_class_credits(self, membership_id: str, credits: int, amount_cents: int) -> dict:
        """Buy additional class credits for a credit-based membership and record the purchase charge.

        Args:
            membership_id: Membership to top up, e.g. "MS-00017".
            credits: Number of credits to add, at least 1.
            amount_cents: Price of the pack in cents, 0 or more.
        """
        ms = self._get_membership(membership_id)
        if ms["plan_type"] not in CREDIT_PLANS or ms["credits_remaining"] is None:
            raise ToolError(f"Membership {membership_id} is a {ms['plan_type']} plan without credits; "
                            "credits can be added only to class_pack or monthly_credits plans.")
        if ms["status"] not in ("active", "frozen"):
            raise ToolError(f"Membership {membership_id} is {ms['status']}; credits cannot be added.")
        if not isinstance(credits, int) or isinstance(credits, bool) or credits < 1:
            raise ToolError("credits must be an integer of at least 1.")
        if not isinstance(amount_cents, int) or isinstance(amount_cents, bool) or amount_cents < 0:
            raise ToolError("amount_cents must be an integer of 0 or more.")
        ms["credits_remaining"] += credits
        charge = self._new_charge(ms["member_id"], None, "class_pack_purchase", amount_cents)
        return {"membership": dict(ms), "charge": dict(charge)}

    def resolve_charge(self, charge_id: str, resolution: Literal["paid", "waived"]) -> dict:
        """Mark a pending member charge as paid or waive it.

        Args:
            charge_id: Charge to resolve, e.g. "CHG-000045".
            resolution: One of: paid, waived.
        """
        charge = self._get("charges", charge_id, "charge", "Use list_member_charges to find ids.")
        if resolution not in ("paid", "waived"):
            raise ToolError("resolution must be one of: paid, waived.")
        if charge["status"] != "pending":
            raise ToolError(f"Charge {charge_id} is already {charge['status']}.")
        charge["status"] = resolution
        return {"charge": dict(charge)}
