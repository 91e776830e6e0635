from datetime import date, datetime, timedelta
from typing import Any, Literal
import re

from envmint_runtime import Environment, ToolError

PRIORITIES = ("none", "low", "medium", "high")
COLORS = ("red", "orange", "yellow", "green", "blue", "purple", "gray")
STATUSES = ("open", "snoozed", "completed", "deleted")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
FREQUENCIES = ("daily", "weekly", "monthly", "yearly")
END_TYPES = ("never", "on_date", "after_count")
TRANSITIONS = frozenset({
    ("open", "snoozed"), ("open", "completed"), ("open", "deleted"),
    ("snoozed", "open"), ("snoozed", "snoozed"), ("snoozed", "completed"), ("snoozed", "deleted"),
    ("completed", "open"), ("completed", "deleted"),
    ("deleted", "open"),
})
FREE_MAX_LISTS = 10
FREE_MAX_TAGS = 20
MAX_TAGS_PER_REMINDER = 10
MAX_SUBTASKS = 30
MAX_SNOOZES = 5
RESTORE_DAYS = 30
# IANA zone -> (standard offset in minutes, DST rule)
TZ_TABLE = (
    ("UTC", 0, None), ("Etc/UTC", 0, None), ("GMT", 0, None), ("Etc/GMT", 0, None),
    ("America/New_York", -300, "us"), ("America/Detroit", -300, "us"), ("America/Toronto", -300, "us"),
    ("America/Indiana/Indianapolis", -300, "us"), ("America/Chicago", -360, "us"),
    ("America/Winnipeg", -360, "us"), ("America/Denver", -420, "us"), ("America/Edmonton", -420, "us"),
    ("America/Boise", -420, "us"), ("America/Phoenix", -420, None), ("America/Los_Angeles", -480, "us"),
    ("America/Vancouver", -480, "us"), ("America/Anchorage", -540, "us"), ("Pacific/Honolulu", -600, None),
    ("America/Halifax", -240, "us"), ("America/St_Johns", -210, "us"), ("America/Mexico_City", -360, None),
    ("America/Bogota", -300, None), ("America/Lima", -300, None), ("America/Sao_Paulo", -180, None),
    ("America/Argentina/Buenos_Aires", -180, None),
    ("Europe/London", 0, "eu"), ("Europe/Dublin", 0, "eu"), ("Europe/Lisbon", 0, "eu"),
    ("Europe/Paris", 60, "eu"), ("Europe/Berlin", 60, "eu"), ("Europe/Madrid", 60, "eu"),
    ("Europe/Rome", 60, "eu"), ("Europe/Amsterdam", 60, "eu"), ("Europe/Brussels", 60, "eu"),
    ("Europe/Vienna", 60, "eu"), ("Europe/Zurich", 60, "eu"), ("Europe/Stockholm", 60, "eu"),
    ("Europe/Oslo", 60, "eu"), ("Europe/Copenhagen", 60, "eu"), ("Europe/Warsaw", 60, "eu"),
    ("Europe/Prague", 60, "eu"), ("Europe/Budapest", 60, "eu"), ("Europe/Athens", 120, "eu"),
    ("Europe/Helsinki", 120, "eu"), ("Europe/Kyiv", 120, "eu"), ("Europe/Kiev", 120, "eu"),
    ("Europe/Bucharest", 120, "eu"), ("Europe/Istanbul", 180, None), ("Europe/Moscow", 180, None),
    ("Africa/Lagos", 60, None), ("Africa/Johannesburg", 120, None), ("Africa/Cairo", 120, None),
    ("Africa/Nairobi", 180, None), ("Asia/Jerusalem", 120, "eu"), ("Asia/Dubai", 240, None),
    ("Asia/Tehran", 210, None), ("Asia/Karachi", 300, None), ("Asia/Kolkata", 330, None),
    ("Asia/Calcutta", 330, None), ("Asia/Kathmandu", 345, None), ("Asia/Dhaka", 360, None),
    ("Asia/Bangkok", 420, None), ("Asia/Jakarta", 420, None), ("Asia/Ho_Chi_Minh", 420, None),
    ("Asia/Singapore", 480, None), ("Asia/Shanghai", 480, None), ("Asia/Hong_Kong", 480, None),
    ("Asia/Taipei", 480, None), ("Asia/Manila", 480, None), ("Australia/Perth", 480, None),
    ("Asia/Seoul", 540, None), ("Asia/Tokyo", 540, None), ("Australia/Adelaide", 570, "au"),
    ("Australia/Brisbane", 600, None), ("Australia/Sydney", 600, "au"), ("Australia/Melbourne", 600, "au"),
    ("Pacific/Auckland", 720, "nz"),
)


class PersonalRemindersAndTaskManager(Environment):
    """Personal reminders with lists, tags, subtasks, snoozing and recurring series."""

    # ------------------------------------------------------------ time helpers
    def _now(self) -> datetime:
        now = self.clock.now()
        if now.tzinfo is not None:
            now = now.replace(tzinfo=None) - now.utcoffset()
        return now.replace(microsecond=0)

    def _fmt(self, dt: datetime) -> str:
        return dt.strftime("%Y-%m-%dT%H:%M:%SZ")

    def _parse_utc(self, value: str) -> datetime:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if dt.tzinfo is not None:
            dt = dt.replace(tzinfo=None) - dt.utcoffset()
        return dt

    def _tz_entry(self, tz: str) -> tuple:
        for name, std, rule in TZ_TABLE:
            if name.lower() == (tz or "").lower():
                return std, rule, True
        m = re.fullmatch(r"(?:UTC|GMT)?([+-])(\d{1,2})(?::?(\d{2}))?", (tz or "").strip())
        if m:
            minutes = int(m.group(2)) * 60 + int(m.group(3) or 0)
            return (minutes if m.group(1) == "+" else -minutes), None, True
        return 0, None, False

    def _nth_sunday(self, year: int, month: int, n: int) -> date:
        if n > 0:
            first = date(year, month, 1)
            return first + timedelta(days=(6 - first.weekday()) % 7 + 7 * (n - 1))
        nxt = date(year + (month == 12), month % 12 + 1, 1)
        last = nxt - timedelta(days=1)
        return last - timedelta(days=(last.weekday() - 6) % 7)

    def _offset_minutes(self, tz: str, utc: datetime) -> int:
        std, rule, _ = self._tz_entry(tz)
        if rule is None:
            return std
        y = utc.year
        std_d, dst_d = timedelta(minutes=std), timedelta(minutes=std + 60)
        if rule == "us":
            start = datetime.combine(self._nth_sunday(y, 3, 2), datetime.min.time()) + timedelta(hours=2) - std_d
            end = datetime.combine(self._nth_sunday(y, 11, 1), datetime.min.time()) + timedelta(hours=2) - dst_d
            in_dst = start <= utc < end
        elif rule == "eu":
            start = datetime.combine(self._nth_sunday(y, 3, -1), datetime.min.time()) + timedelta(hours=1)
            end = datetime.combine(self._nth_sunday(y, 10, -1), datetime.min.time()) + timedelta(hours=1)
            in_dst = start <= utc < end
        else:  # southern hemisphere: DST spans the new year
            end = datetime.combine(self._nth_sunday(y, 4, 1), datetime.min.time()) + timedelta(hours=3) - dst_d
            start_day = self._nth_sunday(y, 10, 1) if rule == "au" else self._nth_sunday(y, 9, -1)
            start = datetime.combine(start_day, datetime.min.time()) + timedelta(hours=2) - std_d
            in_dst = utc < end or utc >= start
        return std + 60 if in_dst else std

    def _to_local(self, utc: datetime, tz: str) -> datetime:
        return utc + timedelta(minutes=self._offset_minutes(tz, utc))

    def _local_to_utc(self, local: datetime, tz: str) -> datetime:
        std, _, _ = self._tz_entry(tz)
        guess = local - timedelta(minutes=std)
        utc = local - timedelta(minutes=self._offset_minutes(tz, guess))
        return local - timedelta(minutes=self._offset_minutes(tz, utc))

    def _local_today(self, user: dict) -> date:
        return self._to_local(self._now(), user["timezone"]).date()

    def _parse_instant(self, value: Any, user: dict, field: str) -> datetime:
        if not isinstance(value, str) or not re.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}", value):
            raise ToolError(f"{field} must be an ISO 8601 instant such as 2025-03-14T15:00:00Z; got {value!r}.")
        try:
            dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ToolError(f"{field} {value!r} is not a valid ISO 8601 instant.")
        if dt.tzinfo is None:
            return self._local_to_utc(dt.replace(microsecond=0), user["timezone"])
        return (dt.replace(tzinfo=None) - dt.utcoffset()).replace(microsecond=0)

    def _parse_date(self, value: Any, field: str) -> date:
        if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            raise ToolError(f"{field} must be a date in YYYY-MM-DD format; got {value!r}.")
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise ToolError(f"{field} {value!r} is not a valid calendar date.")

    # ------------------------------------------------------------ state helpers
    def _clone(self, obj: Any) -> Any:
        if isinstance(obj, dict):
            return {k: self._clone(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [self._clone(v) for v in obj]
        return obj

    def _next_id(self, collection: str, prefix: str, width: int) -> str:
        highest = 0
        for key in self.state[collection]:
            m = re.fullmatch(rf"{prefix}-(\d+)", key)
            if m:
                highest = max(highest, int(m.group(1)))
        return f"{prefix}-{highest + 1:0{width}d}"

    def _sync(self) -> None:
        now = self._now()
        for r in self.state["reminders"].values():
            if r["status"] == "snoozed" and r["snoozed_until"] and self._parse_utc(r["snoozed_until"]) <= now:
                r["status"] = "open"
                r["updated_at"] = r["snoozed_until"]
                r["snoozed_until"] = None

    def _check_enum(self, value: Any, allowed: tuple, field: str) -> None:
        if value not in allowed:
            raise ToolError(f"{field} must be one of: {', '.join(allowed)}; got {value!r}.")

    def _user(self, user_id: str) -> dict:
        user = self.state["users"].get(user_id)
        if user is None:
            raise ToolError(f"No user with id {user_id!r}.")
        return user

    def _reminder(self, reminder_id: str) -> dict:
        r = self.state["reminders"].get(reminder_id)
        if r is None:
            raise ToolError(f"No reminder with id {reminder_id!r}.")
        return r

    def _list_for(self, list_id: str, user_id: str) -> dict:
        lst = self.state["lists"].get(list_id)
        if lst is None:
            raise ToolError(f"No list with id {list_id!r}.")
        if lst["user_id"] != user_id:
            raise ToolError(f"List {list_id} belongs to another user.")
        return lst

    def _validate_title(self, title: Any, field: str = "title") -> str:
        if not isinstance(title, str) or not title.strip() or len(title.strip()) > 200:
            raise ToolError(f"{field} must be 1 to 200 characters.")
        return title.strip()

    def _validate_tags(self, tag_ids: Any, user_id: str) -> list:
        if not isinstance(tag_ids, list):
            raise ToolError("tag_ids must be a list of tag ids.")
        if len(set(tag_ids)) != len(tag_ids):
            raise ToolError("tag_ids must not contain duplicates.")
        if len(tag_ids) > MAX_TAGS_PER_REMINDER:
            raise ToolError(f"A reminder can carry at most {MAX_TAGS_PER_REMINDER} tags.")
        for tid in tag_ids:
            tag = self.state["tags"].get(tid)
            if tag is None:
                raise ToolError(f"No tag with id {tid!r}.")
            if tag["user_id"] != user_id:
                raise ToolError(f"Tag {tid} belongs to another user.")
        return list(tag_ids)

    def _transition(self, r: dict, new_status: str) -> None:
        if (r["status"], new_status) not in TRANSITIONS:
            raise ToolError(f"Reminder {r['id']} is {r['status']}; it cannot become {new_status}.")

    def _subtasks(self, reminder_id: str) -> list:
        subs = [s for s in self.state["subtasks"].values() if s["reminder_id"] == reminder_id]
        return sorted(subs, key=lambda s: s["position"])

    def _flags(self, r: dict) -> dict:
        user = self.state["users"][r["user_id"]]
        due_today = overdue = False
        if r["status"] in ("open", "snoozed") and r["due_at"]:
            due = self._parse_utc(r["due_at"])
            due_today = self._to_local(due, user["timezone"]).date() == self._local_today(user)
            overdue = due < self._now()
        return {"is_due_today": due_today, "is_overdue": overdue}

    def _summary(self, r: dict) -> dict:
        lst = self.state["lists"].get(r["list_id"])
        return {"id": r["id"], "title": r["title"], "list_id": r["list_id"],
                "list_name": lst["name"] if lst else None, "due_at": r["due_at"], "all_day": r["all_day"],
                "priority": r["priority"], "status": r["status"], "flagged": r["flagged"],
                "tag_ids": list(r["tag_ids"]), "snoozed_until": r["snoozed_until"],
                "recurrence_rule_id": r["recurrence_rule_id"]}

    def _full(self, r: dict) -> dict:
        out = self._clone(r)
        out["subtasks"] = self._clone(self._subtasks(r["id"]))
        return out

    def _due_from_inputs(self, user: dict, due_at: str | None, due_date: str | None) -> tuple:
        if due_at and due_date:
            raise ToolError("Give either due_at (timed) or due_date (all-day), not both.")
        if due_date:
            d = self._parse_date(due_date, "due_date")
            return self._fmt(self._local_to_utc(datetime.combine(d, datetime.min.time()), user["timezone"])), True
        return self._fmt(self._parse_instant(due_at, user, "due_at")), False

    # ------------------------------------------------------------ recurrence helpers
    def _clamp_day(self, year: int, month: int, day: int) -> date:
        nxt = date(year + (month == 12), month % 12 + 1, 1)
        return date(year, month, min(day, (nxt - timedelta(days=1)).day))

    def _next_local_date(self, rule: dict, current: date) -> date:
        n = rule["interval"]
        if rule["frequency"] == "daily":
            return current + timedelta(days=n)
        if rule["frequency"] == "weekly":
            days = sorted(WEEKDAYS.index(d) for d in rule["by_weekday"]) or [current.weekday()]
            later = [d for d in days if d > current.weekday()]
            if later:
                return current + timedelta(days=later[0] - current.weekday())
            week_start = current - timedelta(days=current.weekday()) + timedelta(weeks=n)
            return week_start + timedelta(days=days[0])
        if rule["frequency"] == "monthly":
            dom = rule["day_of_month"] or current.day
            same = self._clamp_day(current.year, current.month, dom)
            if same > current:
                return same
            total = current.month - 1 + n
            return self._clamp_day(current.year + total // 12, total % 12 + 1, dom)
        return self._clamp_day(current.year + n, current.month, current.day)

    def _generate_next(self, r: dict) -> dict | None:
        rule_id = r["recurrence_rule_id"]
        if not rule_id or r["next_occurrence_id"] or not r["due_at"]:
            return None
        rule = self.state["recurrence_rules"].get(rule_id)
        if rule is None or not rule["active"]:
            return None
        user = self.state["users"][r["user_id"]]
        if rule["end_type"] == "after_count" and rule["max_occurrences"] is not None \
                and rule["occurrences_generated"] >= rule["max_occurrences"]:
            rule["active"] = False
            return None
        local_due = self._to_local(self._parse_utc(r["due_at"]), user["timezone"]).date()
        next_day = self._next_local_date(rule, local_due)
        if rule["end_type"] == "on_date" and rule["end_date"] and next_day > date.fromisoformat(rule["end_date"]):
            rule["active"] = False
            return None
        hh, mm = (int(x) for x in rule["time_of_day"].split(":"))
        local_dt = datetime.combine(next_day, datetime.min.time()) + timedelta(hours=hh, minutes=mm)
        now_s = self._fmt(self._now())
        new_id = self._next_id("reminders", "REM", 4)
        new = {"id": new_id, "user_id": r["user_id"], "list_id": r["list_id"], "title": r["title"],
               "notes": r["notes"], "due_at": self._fmt(self._local_to_utc(local_dt, user["timezone"])),
               "all_day": bool(r["all_day"] and rule["time_of_day"] == "00:00"), "priority": r["priority"],
               "tag_ids": list(r["tag_ids"]), "status": "open", "snoozed_until": None, "snooze_count": 0,
               "recurrence_rule_id": rule_id, "occurrence_index": r["occurrence_index"] + 1,
               "previous_occurrence_id": r["id"], "next_occurrence_id": None, "flagged": r["flagged"],
               "created_at": now_s, "updated_at": now_s, "completed_at": None, "deleted_at": None}
        self.state["reminders"][new_id] = new
        for sub in self._subtasks(r["id"]):
            sid = self._next_id("subtasks", "SUB", 4)
            self.state["subtasks"][sid] = {"id": sid, "reminder_id": new_id, "title": sub["title"],
                                           "done": False, "position": sub["position"], "completed_at": None}
        rule["occurrences_generated"] += 1
        r["next_occurrence_id"] = new_id
        return new

    # ------------------------------------------------------------ queries
    def get_user(self, user_id: str) -> dict:
        """Return a user's profile with list, tag and reminder counts and remaining free-plan allowances.

        Args:
            user_id: User id, e.g. "USR-001".
        """
        self._sync()
        user = self._user(user_id)
        lists = [l for l in self.state["lists"].values() if l["user_id"] == user_id]
        tags = [t for t in self.state["tags"].values() if t["user_id"] == user_id]
        by_status = {s: 0 for s in STATUSES}
        for r in self.state["reminders"].values():
            if r["user_id"] == user_id:
                by_status[r["status"]] += 1
        free = user["plan"] == "free"
        result = {"user": self._clone(user), "list_count": len(lists), "tag_count": len(tags),
                  "reminders_by_status": by_status,
                  "remaining_lists": max(0, FREE_MAX_LISTS - len(lists)) if free else None,
                  "remaining_tags": max(0, FREE_MAX_TAGS - len(tags)) if free else None}
        if not self._tz_entry(user["timezone"])[2]:
            result["timezone_note"] = f"Timezone {user['timezone']!r} is not recognised; UTC is used."
        return result

    def get_reminder(self, reminder_id: str) -> dict:
        """Return one reminder with list name, tag names, ordered subtasks, recurrence rule and due flags.

        Args:
            reminder_id: Reminder id, e.g. "REM-0001".
        """
        self._sync()
        r = self._reminder(reminder_id)
        out = self._full(r)
        lst = self.state["lists"].get(r["list_id"])
        out["list_name"] = lst["name"] if lst else None
        out["tag_names"] = [self.state["tags"][t]["name"] for t in r["tag_ids"] if t in self.state["tags"]]
        rule = self.state["recurrence_rules"].get(r["recurrence_rule_id"]) if r["recurrence_rule_id"] else None
        out["recurrence_rule"] = self._clone(rule) if rule else None
        out.update(self._flags(r))
        return {"reminder": out}

    def search_reminders(self, user_id: str, text: str | None = None, list_id: str | None = None,
                         tag_id: str | None = None,
                         status: Literal["open", "snoozed", "completed", "deleted"] | None = None,
                         priority: Literal["none", "low", "medium", "high"] | None = None,
                         flagged: bool | None = None,
                         due_from: str | None = None, due_to: str | None = None,
                         has_due_date: bool | None = None) -> dict:
        """Search a user's reminders; sorted by due_at ascending with undated last; deleted excluded by default.

        Args:
            user_id: Owner of the reminders, e.g. "USR-001".
            text: Case-insensitive substring matched against title and notes.
            list_id: Only reminders in this list.
            tag_id: Only reminders carrying this tag.
            status: One of open, snoozed, completed, deleted. Omit for all non-deleted statuses.
            priority: One of none, low, medium, high.
            flagged: Only flagged (true) or unflagged (false) reminders.
            due_from: Inclusive lower bound for due_at, ISO 8601 instant.
            due_to: Inclusive upper bound for due_at, ISO 8601 instant.
            has_due_date: true for reminders with a due_at, false for undated ones.
        """
        self._sync()
        user = self._user(user_id)
        if status is not None:
            self._check_enum(status, STATUSES, "status")
        if priority is not None:
            self._check_enum(priority, PRIORITIES, "priority")
        lo = self._parse_instant(due_from, user, "due_from") if due_from else None
        hi = self._parse_instant(due_to, user, "due_to") if due_to else None
        needle = text.lower() if text else None
        found = []
        for r in self.state["reminders"].values():
            if r["user_id"] != user_id:
                continue
            if status is not None and r["status"] != status:
                continue
            if status is None and r["status"] == "deleted":
                continue
            if needle and needle not in r["title"].lower() and needle not in r["notes"].lower():
                continue
            if list_id and r["list_id"] != list_id:
                continue
            if tag_id and tag_id not in r["tag_ids"]:
                continue
            if priority and r["priority"] != priority:
                continue
            if flagged is not None and r["flagged"] != flagged:
                continue
            if has_due_date is not None and bool(r["due_at"]) != has_due_date:
                continue
            if lo or hi:
                if not r["due_at"]:
                    continue
                due = self._parse_utc(r["due_at"])
                if (lo and due < lo) or (hi and due > hi):
                    continue
            found.append(r)
        found.sort(key=lambda r: (r["due_at"] is None, r["due_at"] or "", r["id"]))
        return {"reminders": [self._summary(r) for r in found], "count": len(found)}

    def list_due_reminders(self, user_id: str,
                           view: Literal["today", "overdue", "today_and_overdue"] | None = "today_and_overdue") -> dict:
        """Return reminders due today and/or overdue in the user's timezone, with counts.

        Args:
            user_id: The user whose agenda to compute, e.g. "USR-001".
            view: One of today, overdue, today_and_overdue. Default today_and_overdue.
        """
        self._sync()
        user = self._user(user_id)
        view = view or "today_and_overdue"
        self._check_enum(view, ("today", "overdue", "today_and_overdue"), "view")
        items, n_today, n_overdue = [], 0, 0
        for r in self.state["reminders"].values():
            if r["user_id"] != user_id:
                continue
            flags = self._flags(r)
            n_today += flags["is_due_today"]
            n_overdue += flags["is_overdue"]
            include = (flags["is_due_today"] if view == "today" else flags["is_overdue"] if view == "overdue"
                       else flags["is_due_today"] or flags["is_overdue"])
            if include:
                entry = self._summary(r)
                entry.update(flags)
                items.append(entry)
        items.sort(key=lambda e: (e["due_at"], e["id"]))
        return {"user_id": user_id, "view": view, "local_date": self._local_today(user).isoformat(),
                "timezone": user["timezone"], "reminders": items,
                "due_today_count": n_today, "overdue_count": n_overdue}

    def list_lists(self, user_id: str, include_archived: bool | None = False) -> dict:
        """Return the user's lists with open, snoozed and completed reminder counts.

        Args:
            user_id: Owner of the lists, e.g. "USR-001".
            include_archived: Include archived lists. Default false.
        """
        self._sync()
        self._user(user_id)
        out = []
        for l in sorted(self.state["lists"].values(), key=lambda l: l["id"]):
            if l["user_id"] != user_id or (l["archived"] and not include_archived):
                continue
            counts = {"open": 0, "snoozed": 0, "completed": 0}
            for r in self.state["reminders"].values():
                if r["list_id"] == l["id"] and r["status"] in counts:
                    counts[r["status"]] += 1
            out.append({"id": l["id"], "name": l["name"], "color": l["color"], "is_default": l["is_default"],
                        "archived": l["archived"], "open_count": counts["open"],
                        "snoozed_count": counts["snoozed"], "completed_count": counts["completed"]})
        return {"lists": out, "count": len(out)}

    def list_tags(self, user_id: str) -> dict:
        """Return the user's tags with the number of non-deleted reminders carrying each.

        Args:
            user_id: Owner of the tags, e.g. "USR-001".
        """
        self._sync()
        self._user(user_id)
        out = []
        for t in sorted(self.state["tags"].values(), key=lambda t: t["name"].lower()):
            if t["user_id"] != user_id:
                continue
            n = sum(1 for r in self.state["reminders"].values()
                    if r["status"] != "deleted" and t["id"] in r["tag_ids"])
            out.append({"id": t["id"], "name": t["name"], "color": t["color"], "reminder_count": n})
        return {"tags": out, "count": len(out)}

    def get_recurring_series(self, reminder_id: str) -> dict:
        """Return the recurrence rule and every occurrence of the series a reminder belongs to.

        Args:
            reminder_id: Any occurrence of the series, e.g. "REM-0001".
        """
        self._sync()
        r = self._reminder(reminder_id)
        if not r["recurrence_rule_id"]:
            raise ToolError(f"Reminder {reminder_id} is not part of a recurring series.")
        rule = self.state["recurrence_rules"].get(r["recurrence_rule_id"])
        occ = sorted((x for x in self.state["reminders"].values()
                      if x["recurrence_rule_id"] == r["recurrence_rule_id"]),
                     key=lambda x: (x["occurrence_index"], x["id"]))
        return {"rule": self._clone(rule),
                "occurrences": [{"id": x["id"], "occurrence_index": x["occurrence_index"], "title": x["title"],
                                 "due_at": x["due_at"], "status": x["status"],
                                 "completed_at": x["completed_at"]} for x in occ]}

    # ------------------------------------------------------------ reminder mutations
    def create_reminder(self, user_id: str, title: str, notes: str | None = None, list_id: str | None = None,
                        due_at: str | None = None, due_date: str | None = None,
                        priority: Literal["none", "low", "medium", "high"] | None = "none",
                        tag_ids: list[str] | None = None,
                        flagged: bool | None = False, subtasks: list[str] | None = None) -> dict:
        """Create a new open reminder, optionally dated, tagged, flagged and with checklist subtasks.

        Args:
            user_id: Owner of the reminder, e.g. "USR-001".
            title: 1 to 200 characters.
            notes: Free-text notes. Default empty.
            list_id: Target list; defaults to the user's default list.
            due_at: Due instant, ISO 8601 (e.g. 2025-03-14T15:00:00Z); without an offset it is read as the user's local time.
            due_date: Due date YYYY-MM-DD for an all-day reminder; do not combine with due_at.
            priority: One of none, low, medium, high. Default none.
            tag_ids: Tag ids of the same user, at most 10.
            flagged: Whether the reminder is flagged. Default false.
            subtasks: Subtask titles (1-200 characters each), at most 30, stored at positions 0..n-1.
        """
        self._sync()
        user = self._user(user_id)
        clean_title = self._validate_title(title)
        priority = priority or "none"
        self._check_enum(priority, PRIORITIES, "priority")
        lst = self._list_for(list_id or user["default_list_id"], user_id)
        if lst["archived"]:
            raise ToolError(f"List {lst['id']} ({lst['name']}) is archived; unarchive it or choose another list.")
        tags = self._validate_tags(tag_ids or [], user_id)
        sub_titles = subtasks or []
        if not isinstance(sub_titles, list) or len(sub_titles) > MAX_SUBTASKS:
            raise ToolError(f"subtasks must be a list of at most {MAX_SUBTASKS} titles.")
        sub_titles = [self._validate_title(s, "subtask title") for s in sub_titles]
        due_s, all_day = (None, False)
        if due_at or due_date:
            due_s, all_day = self._due_from_inputs(user, due_at, due_date)
        now_s = self._fmt(self._now())
        rid = self._next_id("reminders", "REM", 4)
        r = {"id": rid, "user_id": user_id, "list_id": lst["id"], "title": clean_title, "notes": notes or "",
             "due_at": due_s, "all_day": all_day, "priority": priority, "tag_ids": tags, "status": "open",
             "snoozed_until": None, "snooze_count": 0, "recurrence_rule_id": None, "occurrence_index": 1,
             "previous_occurrence_id": None, "next_occurrence_id": None, "flagged": bool(flagged),
             "created_at": now_s, "updated_at": now_s, "completed_at": None, "deleted_at": None}
        self.state["reminders"][rid] = r
        for pos, st in enumerate(sub_titles):
            sid = self._next_id("subtasks", "SUB", 4)
            self.state["subtasks"][sid] = {"id": sid, "reminder_id": rid, "title": st, "done": False,
                                           "position": pos, "completed_at": None}
        return {"reminder": self._full(r)}

    def update_reminder(self, reminder_id: str, title: str | None = None, notes: str | None = None,
                        due_at: str | None = None, due_date: str | None = None,
                        priority: Literal["none", "low", "medium", "high"] | None = None,
                        flagged: bool | None = None, list_id: str | None = None,
                        tag_ids: list[str] | None = None) -> dict:
        """Edit fields of an open or snoozed reminder; only provided fields change.

        Args:
            reminder_id: Reminder to edit, e.g. "REM-0001".
            title: New title, 1 to 200 characters.
            notes: New notes.
            due_at: New due instant (ISO 8601) making it a timed reminder, or "" to clear the due date.
            due_date: New all-day due date YYYY-MM-DD; do not combine with due_at.
            priority: One of none, low, medium, high.
            flagged: New flag value.
            list_id: Move the reminder to this list of the same user.
            tag_ids: Replacement set of tag ids (at most 10); pass [] to remove all tags.
        """
        self._sync()
        r = self._reminder(reminder_id)
        if r["status"] not in ("open", "snoozed"):
            raise ToolError(f"Reminder {reminder_id} is {r['status']}; only open or snoozed reminders can be edited.")
        user = self._user(r["user_id"])
        changes = {}
        if title is not None:
            changes["title"] = self._validate_title(title)
        if notes is not None:
            changes["notes"] = notes
        if due_at is not None and due_date is not None:
            raise ToolError("Give either due_at or due_date, not both.")
        if due_at == "":
            if r["recurrence_rule_id"]:
                raise ToolError("A recurring reminder must keep a due date; stop the recurrence first.")
            changes["due_at"], changes["all_day"] = None, False
            if r["status"] == "snoozed":
                changes["status"], changes["snoozed_until"] = "open", None
        elif due_at is not None or due_date is not None:
            changes["due_at"], changes["all_day"] = self._due_from_inputs(user, due_at, due_date)
        if priority is not None:
            self._check_enum(priority, PRIORITIES, "priority")
            changes["priority"] = priority
        if flagged is not None:
            changes["flagged"] = bool(flagged)
        if list_id is not None and list_id != r["list_id"]:
            lst = self._list_for(list_id, r["user_id"])
            if lst["archived"]:
                raise ToolError(f"List {list_id} is archived; reminders cannot be moved into it.")
            changes["list_id"] = list_id
        if tag_ids is not None:
            changes["tag_ids"] = self._validate_tags(tag_ids, r["user_id"])
        if not changes:
            raise ToolError("No changes given; provide at least one field to update.")
        r.update(changes)
        r["updated_at"] = self._fmt(self._now())
        return {"reminder": self._full(r), "changed_fields": sorted(changes)}

    def snooze_reminder(self, reminder_id: str, snoozed_until: str | None = None,
                        minutes: int | None = None) -> dict:
        """Snooze an open or snoozed dated reminder until a later instant; due_at is unchanged.

        Args:
            reminder_id: Reminder to snooze, e.g. "REM-0001".
            snoozed_until: ISO 8601 instant strictly in the future. Default: now plus the user's default_snooze_minutes.
            minutes: Alternative to snoozed_until: snooze for this many minutes from now (1-1440).
        """
        self._sync()
        r = self._reminder(reminder_id)
        if r["status"] not in ("open", "snoozed"):
            raise ToolError(f"Reminder {reminder_id} is {r['status']}; only open or snoozed reminders can be snoozed.")
        if not r["due_at"]:
            raise ToolError(f"Reminder {reminder_id} has no due time; add a due date before snoozing.")
        if r["snooze_count"] >= MAX_SNOOZES:
            raise ToolError(f"Reminder {reminder_id} has already been snoozed {MAX_SNOOZES} times, the maximum.")
        if snoozed_until is not None and minutes is not None:
            raise ToolError("Give either snoozed_until or minutes, not both.")
        user = self._user(r["user_id"])
        now = self._now()
        if snoozed_until is not None:
            until = self._parse_instant(snoozed_until, user, "snoozed_until")
        else:
            if minutes is not None and (not isinstance(minutes, int) or isinstance(minutes, bool)
                                        or not 1 <= minutes <= 1440):
                raise ToolError("minutes must be an integer between 1 and 1440.")
            until = now + timedelta(minutes=minutes if minutes is not None else user["default_snooze_minutes"])
        if until <= now:
            raise ToolError(f"snoozed_until must be strictly in the future (now is {self._fmt(now)}).")
        r["status"] = "snoozed"
        r["snoozed_until"] = self._fmt(until)
        r["snooze_count"] += 1
        r["updated_at"] = self._fmt(now)
        return {"reminder": self._full(r), "snoozes_remaining": MAX_SNOOZES - r["snooze_count"]}

    def complete_reminder(self, reminder_id: str) -> dict:
        """Complete an open or snoozed reminder, check off its subtasks and create the next occurrence if recurring.

        Args:
            reminder_id: Reminder to complete, e.g. "REM-0001".
        """
        self._sync()
        r = self._reminder(reminder_id)
        if r["status"] not in ("open", "snoozed"):
            raise ToolError(f"Reminder {reminder_id} is {r['status']}; only open or snoozed reminders can be completed.")
        now_s = self._fmt(self._now())
        r["status"] = "completed"
        r["completed_at"] = now_s
        r["snoozed_until"] = None
        r["updated_at"] = now_s
        for sub in self._subtasks(reminder_id):
            sub["done"] = True
            sub["completed_at"] = now_s
        new = self._generate_next(r)
        rule = self.state["recurrence_rules"].get(r["recurrence_rule_id"]) if r["recurrence_rule_id"] else None
        return {"reminder": self._full(r), "next_occurrence": self._full(new) if new else None,
                "series_active": rule["active"] if rule else None}

    def reopen_reminder(self, reminder_id: str) -> dict:
        """Reopen a completed reminder (status open, completed_at cleared); subtasks keep their state.

        Args:
            reminder_id: Completed reminder to reopen, e.g. "REM-0001".
        """
        self._sync()
        r = self._reminder(reminder_id)
        if r["status"] != "completed":
            raise ToolError(f"Reminder {reminder_id} is {r['status']}; only completed reminders can be reopened.")
        lst = self.state["lists"].get(r["list_id"])
        if lst and lst["archived"]:
            raise ToolError(f"Reminder {reminder_id} is in archived list {lst['id']}; unarchive the list first.")
        r["status"] = "open"
        r["completed_at"] = None
        r["updated_at"] = self._fmt(self._now())
        return {"reminder": self._full(r)}

    def delete_reminder(self, reminder_id: str, scope: Literal["this", "series"] | None = "this") -> dict:
        """Soft-delete a reminder; for recurring reminders scope 'this' continues the series and 'series' stops it.

        Args:
            reminder_id: Reminder to delete, e.g. "REM-0001".
            scope: For recurring reminders, one of this, series. Default this. Ignored for non-recurring reminders.
        """
        self._sync()
        r = self._reminder(reminder_id)
        scope = scope or "this"
        self._check_enum(scope, ("this", "series"), "scope")
        self._transition(r, "deleted")
        now_s = self._fmt(self._now())
        r["status"] = "deleted"
        r["deleted_at"] = now_s
        r["snoozed_until"] = None
        r["updated_at"] = now_s
        new = None
        rule = self.state["recurrence_rules"].get(r["recurrence_rule_id"]) if r["recurrence_rule_id"] else None
        if rule is not None:
            if scope == "series":
                rule["active"] = False
            else:
                new = self._generate_next(r)
        return {"reminder": self._full(r), "next_occurrence": self._full(new) if new else None,
                "series_active": rule["active"] if rule else None}

    def restore_reminder(self, reminder_id: str) -> dict:
        """Restore a deleted reminder (within 30 days of deletion) to status open.

        Args:
            reminder_id: Deleted reminder to restore, e.g. "REM-0001".
        """
        self._sync()
        r = self._reminder(reminder_id)
        if r["status"] != "deleted":
            raise ToolError(f"Reminder {reminder_id} is {r['status']}, not deleted.")
        if r["deleted_at"] and self._now() - self._parse_utc(r["deleted_at"]) > timedelta(days=RESTORE_DAYS):
            raise ToolError(f"Reminder {reminder_id} was deleted on {r['deleted_at']}; it can only be restored "
                            f"within {RESTORE_DAYS} days.")
        lst = self.state["lists"].get(r["list_id"])
        if lst and lst["archived"]:
            raise ToolError(f"Reminder {reminder_id} is in archived list {lst['id']}; unarchive the list first.")
        r["status"] = "open"
        r["deleted_at"] = None
        r["completed_at"] = None
        r["updated_at"] = self._fmt(self._now())
        return {"reminder": self._full(r)}

    def set_recurrence(self, reminder_id: str, frequency: Literal["daily", "weekly", "monthly", "yearly"],
                       interval: int | None = 1,
                       by_weekday: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] | None = None,
                       day_of_month: int | None = None, time_of_day: str | None = None,
                       end_type: Literal["never", "on_date", "after_count"] | None = "never",
                       end_date: str | None = None, max_occurrences: int | None = None) -> dict:
        """Create a recurrence rule and attach it to an open or snoozed dated reminder (occurrence 1).

        Args:
            reminder_id: Reminder to make recurring, e.g. "REM-0001".
            frequency: One of daily, weekly, monthly, yearly.
            interval: Repeat every N periods, 1 to 365. Default 1.
            by_weekday: Weekdays for weekly rules, each one of mon, tue, wed, thu, fri, sat, sun. Defaults to the due date's weekday.
            day_of_month: Day 1-31 for monthly rules. Defaults to the due date's day.
            time_of_day: HH:MM local time for occurrences. Default: the local time of the reminder's due_at.
            end_type: One of never, on_date, after_count. Default never.
            end_date: YYYY-MM-DD, required when end_type is on_date.
            max_occurrences: At least 1, required when end_type is after_count.
        """
        self._sync()
        r = self._reminder(reminder_id)
        if r["status"] not in ("open", "snoozed"):
            raise ToolError(f"Reminder {reminder_id} is {r['status']}; only open or snoozed reminders can recur.")
        if not r["due_at"]:
            raise ToolError(f"Reminder {reminder_id} has no due time; set one before making it recurring.")
        if r["recurrence_rule_id"]:
            raise ToolError(f"Reminder {reminder_id} already has recurrence rule {r['recurrence_rule_id']}.")
        user = self._user(r["user_id"])
        self._check_enum(frequency, FREQUENCIES, "frequency")
        interval = 1 if interval is None else interval
        if not isinstance(interval, int) or isinstance(interval, bool) or not 1 <= interval <= 365:
            raise ToolError("interval must be an integer between 1 and 365.")
        local_due = self._to_local(self._parse_utc(r["due_at"]), user["timezone"])
        days: list = []
        if by_weekday:
            if frequency != "weekly":
                raise ToolError("by_weekday can only be used with weekly rules.")
            for d in by_weekday:
                self._check_enum(d, WEEKDAYS, "by_weekday item")
            if len(set(by_weekday)) != len(by_weekday):
                raise ToolError("by_weekday must not contain duplicates.")
            days = sorted(by_weekday, key=WEEKDAYS.index)
        elif frequency == "weekly":
            days = [WEEKDAYS[local_due.weekday()]]
        dom = None
        if day_of_month is not None:
            if frequency != "monthly":
                raise ToolError("day_of_month can only be used with monthly rules.")
            if not isinstance(day_of_month, int) or isinstance(day_of_month, bool) or not 1 <= day_of_month <= 31:
                raise ToolError("day_of_month must be an integer between 1 and 31.")
            dom = day_of_month
        elif frequency == "monthly":
            dom = local_due.day
        tod = time_of_day if time_of_day is not None else local_due.strftime("%H:%M")
        if not isinstance(tod, str) or not re.fullmatch(r"([01][0-9]|2[0-3]):[0-5][0-9]", tod):
            raise ToolError("time_of_day must be HH:MM in 24-hour local time, e.g. 08:00.")
        end_type = end_type or "never"
        self._check_enum(end_type, END_TYPES, "end_type")
        end_d, max_occ = None, None
        if end_type == "on_date":
            if not end_date:
                raise ToolError("end_date is required when end_type is on_date.")
            end_d = self._parse_date(end_date, "end_date")
            if end_d < local_due.date():
                raise ToolError("end_date cannot be before the reminder's due date.")
        elif end_date:
            raise ToolError("end_date is only allowed when end_type is on_date.")
        if end_type == "after_count":
            if not isinstance(max_occurrences, int) or isinstance(max_occurrences, bool) or max_occurrences < 1:
                raise ToolError("max_occurrences (at least 1) is required when end_type is after_count.")
            max_occ = max_occurrences
        elif max_occurrences is not None:
            raise ToolError("max_occurrences is only allowed when end_type is after_count.")
        rule_id = self._next_id("recurrence_rules", "RR", 3)
        rule = {"id": rule_id, "user_id": r["user_id"], "frequency": frequency, "interval": interval,
                "by_weekday": days, "day_of_month": dom, "time_of_day": tod, "end_type": end_type,
                "end_date": end_d.isoformat() if end_d else None, "max_occurrences": max_occ,
                "occurrences_generated": 1, "active": True, "created_at": self._fmt(self._now())}
        self.state["recurrence_rules"][rule_id] = rule
        r["recurrence_rule_id"] = rule_id
        r["occurrence_index"] = 1
        r["previous_occurrence_id"] = None
        r["next_occurrence_id"] = None
        r["updated_at"] = self._fmt(self._now())
        return {"reminder": self._full(r), "rule": self._clone(rule)}

    def stop_recurrence(self, reminder_id: str) -> dict:
        """End a recurring series without deleting anything by setting its rule inactive.

        Args:
            reminder_id: Any occurrence of the series, e.g. "REM-0001".
        """
        self._sync()
        r = self._reminder(reminder_id)
        if not r["recurrence_rule_id"]:
            raise ToolError(f"Reminder {reminder_id} is not recurring.")
        rule = self.state["recurrence_rules"].get(r["recurrence_rule_id"])
        if rule is None:
            raise ToolError(f"Recurrence rule {r['recurrence_rule_id']} does not exist.")
        if not rule["active"]:
            raise ToolError(f"The series of {reminder_id} is already stopped.")
        rule["active"] = False
        return {"rule": self._clone(rule), "reminder": self._full(r)}

    # ------------------------------------------------------------ subtasks
    def add_subtask(self, reminder_id: str, title: str, position: int | None = None) -> dict:
        """Add a checklist item to a reminder at the end or at a position, shifting later items down.

        Args:
            reminder_id: Parent reminder, e.g. "REM-0001".
            title: 1 to 200 characters.
            position: 0-based position; default: after the last subtask.
        """
        self._sync()
        r = self._reminder(reminder_id)
        if r["status"] == "deleted":
            raise ToolError(f"Reminder {reminder_id} is deleted; restore it before adding subtasks.")
        clean = self._validate_title(title, "title")
        subs = self._subtasks(reminder_id)
        if len(subs) >= MAX_SUBTASKS:
            raise ToolError(f"Reminder {reminder_id} already has {MAX_SUBTASKS} subtasks, the maximum.")
        pos = len(subs) if position is None else position
        if not isinstance(pos, int) or isinstance(pos, bool) or not 0 <= pos <= len(subs):
            raise ToolError(f"position must be between 0 and {len(subs)}.")
        for s in subs:
            if s["position"] >= pos:
                s["position"] += 1
        sid = self._next_id("subtasks", "SUB", 4)
        self.state["subtasks"][sid] = {"id": sid, "reminder_id": reminder_id, "title": clean, "done": False,
                                       "position": pos, "completed_at": None}
        r["updated_at"] = self._fmt(self._now())
        return {"subtask_id": sid, "subtasks": self._clone(self._subtasks(reminder_id))}

    def set_subtask_done(self, subtask_id: str, done: bool) -> dict:
        """Check or uncheck one subtask; the parent reminder's status does not change.

        Args:
            subtask_id: Subtask id, e.g. "SUB-0001".
            done: true to check, false to uncheck.
        """
        self._sync()
        sub = self.state["subtasks"].get(subtask_id)
        if sub is None:
            raise ToolError(f"No subtask with id {subtask_id!r}.")
        if not isinstance(done, bool):
            raise ToolError("done must be true or false.")
        parent = self._reminder(sub["reminder_id"])
        if parent["status"] == "deleted":
            raise ToolError(f"Reminder {parent['id']} is deleted; restore it first.")
        sub["done"] = done
        sub["completed_at"] = self._fmt(self._now()) if done else None
        return {"subtask": self._clone(sub), "reminder_status": parent["status"]}

    # ------------------------------------------------------------ lists and tags
    def create_list(self, user_id: str, name: str,
                    color: Literal["red", "orange", "yellow", "green", "blue", "purple", "gray"] | None = "blue",
                    ) -> dict:
        """Create a new non-default, non-archived list for a user.

        Args:
            user_id: Owner of the list, e.g. "USR-001".
            name: 1 to 60 characters, unique per user (case-insensitive).
            color: One of red, orange, yellow, green, blue, purple, gray. Default blue.
        """
        self._sync()
        user = self._user(user_id)
        if not isinstance(name, str) or not name.strip() or len(name.strip()) > 60:
            raise ToolError("name must be 1 to 60 characters.")
        color = color or "blue"
        self._check_enum(color, COLORS, "color")
        own = [l for l in self.state["lists"].values() if l["user_id"] == user_id]
        if any(l["name"].lower() == name.strip().lower() for l in own):
            raise ToolError(f"User {user_id} already has a list named {name.strip()!r}.")
        if user["plan"] == "free" and len(own) >= FREE_MAX_LISTS:
            raise ToolError(f"Free-plan users can have at most {FREE_MAX_LISTS} lists; delete one or upgrade.")
        lid = self._next_id("lists", "LST", 3)
        lst = {"id": lid, "user_id": user_id, "name": name.strip(), "color": color, "is_default": False,
               "archived": False, "created_at": self._fmt(self._now())}
        self.state["lists"][lid] = lst
        return {"list": self._clone(lst)}

    def set_list_archived(self, list_id: str, archived: bool) -> dict:
        """Archive or unarchive a list.

        Args:
            list_id: List to change, e.g. "LST-002".
            archived: true to archive, false to unarchive.
        """
        self._sync()
        lst = self.state["lists"].get(list_id)
        if lst is None:
            raise ToolError(f"No list with id {list_id!r}.")
        if not isinstance(archived, bool):
            raise ToolError("archived must be true or false.")
        if lst["archived"] == archived:
            raise ToolError(f"List {list_id} is already {'archived' if archived else 'not archived'}.")
        if archived:
            if lst["is_default"]:
                raise ToolError("The default list cannot be archived.")
            active = [r["id"] for r in self.state["reminders"].values()
                      if r["list_id"] == list_id and r["status"] in ("open", "snoozed")]
            if active:
                raise ToolError(f"List {list_id} still has {len(active)} open or snoozed reminders "
                                f"({', '.join(sorted(active)[:5])}); complete, move or delete them first.")
        lst["archived"] = archived
        return {"list": self._clone(lst)}

    def delete_list(self, list_id: str) -> dict:
        """Permanently delete a list; its deleted reminders move to the user's default list.

        Args:
            list_id: List to delete, e.g. "LST-002".
        """
        self._sync()
        lst = self.state["lists"].get(list_id)
        if lst is None:
            raise ToolError(f"No list with id {list_id!r}.")
        if lst["is_default"]:
            raise ToolError("The default list cannot be deleted.")
        held = [r for r in self.state["reminders"].values() if r["list_id"] == list_id]
        blocking = [r["id"] for r in held if r["status"] != "deleted"]
        if blocking:
            raise ToolError(f"List {list_id} still holds {len(blocking)} non-deleted reminders "
                            f"({', '.join(sorted(blocking)[:5])}); move or delete them first.")
        default_id = self.state["users"][lst["user_id"]]["default_list_id"]
        for r in held:
            r["list_id"] = default_id
        del self.state["lists"][list_id]
        return {"deleted_list_id": list_id, "moved_reminder_ids": sorted(r["id"] for r in held),
                "moved_to_list_id": default_id}

    def create_tag(self, user_id: str, name: str,
                   color: Literal["red", "orange", "yellow", "green", "blue", "purple", "gray"] | None = "gray",
                   ) -> dict:
        """Create a tag for a user.

        Args:
            user_id: Owner of the tag, e.g. "USR-001".
            name: 1 to 40 characters, unique per user (case-insensitive).
            color: One of red, orange, yellow, green, blue, purple, gray. Default gray.
        """
        self._sync()
        user = self._user(user_id)
        if not isinstance(name, str) or not name.strip() or len(name.strip()) > 40:
            raise ToolError("name must be 1 to 40 characters.")
        color = color or "gray"
        self._check_enum(color, COLORS, "color")
        own = [t for t in self.state["tags"].values() if t["user_id"] == user_id]
        if any(t["name"].lower() == name.strip().lower() for t in own):
            raise ToolError(f"User {user_id} already has a tag named {name.strip()!r}.")
        if user["plan"] == "free" and len(own) >= FREE_MAX_TAGS:
            raise ToolError(f"Free-plan users can have at most {FREE_MAX_TAGS} tags; upgrade to add more.")
        tid = self._next_id("tags", "TAG", 3)
        tag = {"id": tid, "user_id": user_id, "name": name.strip(), "color": color}
        self.state["tags"][tid] = tag
        return {"tag": self._clone(tag)}
