"""The simulated account: deterministic generation, lookup and thread-safe mutation helpers.

Projects: web 200002 "Main website" (large), fullstack 200003 "Mobile app (fullstack)" (small) and web
200004 "Blog" (small, its own random stream; ``generate(blog_project=False)`` leaves it out). More with
``add_project``; ``remove_project`` deletes one. Clock and change helpers live in ``edits.EditsMixin``.
"""

from __future__ import annotations

import calendar
import copy
import random
import threading
from typing import Any, Dict, List, Optional, Tuple

from . import generator as gen
from . import reports, segments
from . import sections as mvt
from .edits import EditsMixin
from .generator import ACCOUNT_ID, BLOG_PROJECT_ID, DAY, FULLSTACK_PROJECT_ID, WEB_PROJECT_ID
from .projects import ProjectsMixin

DEFAULT_NOW = calendar.timegm((2026, 11, 1, 0, 0, 0))
KINDS = ("experiences", "goals", "audiences", "locations", "hypotheses", "knowledge-bases",
         "observations", "tags", "domains", "features", "change-history")
ID_BASES = {
    "experiences": 300001, "variations": 400001, "changes": 500001, "goals": 600001,
    "audiences": 610001, "locations": 620001, "hypotheses": 630001, "knowledge-bases": 640001,
    "observations": 650001, "tags": 660001, "domains": 670001, "features": 680001,
    "change-history": 700001,
}
_ID_BASES = ID_BASES  # former name
_FULLSTACK_SIZES = {"goals": 3, "audiences": 2, "tags": 2, "change_history": 12}


def local_day_start(timestamp: int, utc_offset: int = 0) -> int:
    """UTC seconds of the local midnight (UTC+``utc_offset`` seconds) that starts the day containing ``timestamp``."""
    return timestamp - (timestamp + utc_offset) % DAY


# utm_campaign names the generated report settings draw on
class Dataset(ProjectsMixin, EditsMixin):
    """All data of account 100001. Hold ``lock`` while reading records from another thread.

    ``experience_history`` maps each experience id to its own change history (``{store key: record}``,
    objects variation/change/report); these events are not in the project's ``change-history``.
    ``experience_edits_in_project_history`` (default False): ``edit_variation*`` also log an
    ``experience.update`` event in the project history.
    """

    def __init__(self, seed: int = 7, now: int = DEFAULT_NOW) -> None:
        self.seed = seed
        self.lock = threading.RLock()
        self._now = int(now)
        self._ids: Dict[str, int] = dict(ID_BASES)
        self.projects: Dict[int, Dict[str, Any]] = {}
        self.store: Dict[int, Dict[str, Dict[int, Dict[str, Any]]]] = {}
        self.users_accesses: List[Dict[str, Any]] = []
        self.account: Dict[str, Any] = {
            "id": ACCOUNT_ID,
            "name": "Simulated Shop Inc.",
            "accountType": "main",
            "accessRole": "owner",
            "access_all_projects": True,
            "settings": {"timezone": "UTC", "data_retention_days": 730, "mfa_required": False},
            "billing": {"plan": {"id": 7, "name": "Pro"}, "billing_cycle": "yearly"},
            "limitsAndCapabilities": {"max_projects": 10, "max_tested_visitors": 500000, "fullstack": True},
            "stats": {"used_visitors": 123456, "projects_count": 2},
        }
        self.api_keys: List[Dict[str, Any]] = []
        self.sdk_keys: Dict[int, List[Dict[str, Any]]] = {}
        self.report_settings_overrides: Dict[int, Dict[str, Any]] = {}
        self.experience_history: Dict[int, Dict[int, Dict[str, Any]]] = {}
        self.mvt_sections: Dict[int, List[Dict[str, Any]]] = {}  # sections.py: stored sections of MVT experiences
        self.experience_edits_in_project_history = False
        self._advances = 0

    # ----------------------------------------------------------------- generation
    @classmethod
    def generate(cls, seed: int = 7, *, experiences: int = 120, goals: int = 37, audiences: int = 12,
                 locations: int = 8, hypotheses: int = 23, knowledge_bases: int = 51, observations: int = 50,
                 tags: int = 9, domains: int = 3, features: int = 0, collaborators: int = 4,
                 change_history: int = 260, fullstack_experiences: int = 4, fullstack_features: int = 5,
                 now: int = DEFAULT_NOW, blog_project: bool = True, shared_ids: bool = False) -> "Dataset":
        """Build the whole account from ``seed``; sizes are for web project 200002 unless prefixed.

        Projects 200002 and 200003 come from ``random.Random(seed)`` exactly as before the blog existed.
        ``blog_project`` adds web project 200004 (``projects.BLOG_SIZES``, names prefixed "Blog"); its
        ids are distinct from the other projects' unless ``shared_ids``: then its goals, audiences,
        locations, tags, domains, hypotheses, knowledge bases and observations reuse ids of 200002's
        (experiences, variations, changes and history events never collide). Started experiences get a
        short own history (``experience_history``).
        """
        ds = cls(seed=seed, now=now)
        rng = random.Random(seed)
        ds.users_accesses = gen.collaborators(collaborators)
        ds._add_project(WEB_PROJECT_ID, "web", "Main website", rng)
        ds._add_project(FULLSTACK_PROJECT_ID, "fullstack", "Mobile app (fullstack)", rng)
        sizes = {
            WEB_PROJECT_ID: dict(tags=tags, domains=domains, goals=goals, audiences=audiences, locations=locations,
                                 features=features, experiences=experiences, hypotheses=hypotheses,
                                 knowledge_bases=knowledge_bases, observations=observations,
                                 change_history=change_history),
            FULLSTACK_PROJECT_ID: dict(tags=_FULLSTACK_SIZES["tags"], domains=0, goals=_FULLSTACK_SIZES["goals"],
                                       audiences=_FULLSTACK_SIZES["audiences"], locations=0,
                                       features=fullstack_features, experiences=fullstack_experiences,
                                       hypotheses=0, knowledge_bases=0, observations=0,
                                       change_history=_FULLSTACK_SIZES["change_history"]),
        }
        for pid, size in sizes.items():
            ds._fill(pid, size, rng)
        ds._make_keys()
        if blog_project:
            ds._add_blog(shared_ids)
            mvt.make_mvt(ds, BLOG_PROJECT_ID)  # two of the blog's experiences are multivariate, with sections
        ds._seed_experience_histories()
        ds._sync_stats()
        return ds

    def _add_project(self, pid: int, ptype: str, name: str, rng: random.Random) -> None:
        created = self._now - rng.randint(500, 900) * DAY
        self._init_project(pid, ptype, name, created, self._now - rng.randint(1, 30) * DAY)

    def _init_project(self, pid: int, ptype: str, name: str, created: int, modified: int,
                      status: str = "active") -> None:
        self.projects[pid] = gen.project(pid, ptype, name, created, modified, status)
        self.store[pid] = {kind: {} for kind in KINDS}

    def _make_keys(self) -> None:
        self.api_keys = [
            {"name": "Warehouse sync", "projects": [], "key_id": "ak_3f9a1c2d",
             "key_secret": "LEAKED-SECRET-apikey-7d1e0b4c9a", "auth_type": "request_signing", "role": "browse"},
            {"name": "CI deploys", "projects": [WEB_PROJECT_ID], "key_id": "ak_b81e55f0",
             "key_secret": "LEAKED-SECRET-apikey-52aa9e10c3", "auth_type": "request_signing", "role": "edit"},
        ]
        self.sdk_keys = {
            WEB_PROJECT_ID: [{"name": "Web default", "sdk_key": f"{ACCOUNT_ID}{WEB_PROJECT_ID}sdk1",
                              "sdk_secret": "LEAKED-SECRET-sdk-0c44e1", "environment": "production"}],
            FULLSTACK_PROJECT_ID: [
                {"name": "iOS production", "sdk_key": f"{ACCOUNT_ID}{FULLSTACK_PROJECT_ID}sdk1",
                 "sdk_secret": "LEAKED-SECRET-sdk-9b7f21", "environment": "production"},
                {"name": "Staging (no secret)", "sdk_key": f"{ACCOUNT_ID}{FULLSTACK_PROJECT_ID}sdk2",
                 "sdk_secret": None, "environment": "staging"},
            ],
        }

    # ----------------------------------------------------------------- time
    @property
    def now(self) -> int:
        """The dataset's fixed 'current' unix time (not the wall clock)."""
        return self._now

    @now.setter
    def now(self, value: int) -> None:
        with self.lock:
            self._now = int(value)

    @property
    def today(self) -> int:
        """Unix time of 00:00 UTC of the day containing ``now``."""
        return local_day_start(self._now)

    def local_today(self, utc_offset: int) -> int:
        """UTC seconds of the local midnight (UTC+``utc_offset``) that starts the local day containing ``now``."""
        return local_day_start(self._now, utc_offset)

    def advance_days(self, n: int = 1) -> int:
        """Move ``now``/``today`` forward by ``n`` days; active experiences gain daily rows. Returns ``now``.

        No record changes; ``advance`` also writes changes in every project.
        """
        with self.lock:
            self._now += int(n) * DAY
            return self._now

    def add_report_day(self) -> int:
        """Shortcut for ``advance_days(1)``."""
        return self.advance_days(1)

    # ----------------------------------------------------------------- lookup
    def new_id(self, kind: str) -> int:
        with self.lock:
            value = self._ids[kind]
            self._ids[kind] = value + 1
            return value

    def _put(self, pid: int, kind: str, record: Dict[str, Any]) -> Dict[str, Any]:
        self.store[pid][kind][record["id"]] = record
        return record

    def records(self, project_id: int, kind: str) -> List[Dict[str, Any]]:
        """Live records of one kind in one project (hold ``lock``; do not mutate)."""
        return list(self.store[project_id][kind].values())

    def started_experiences(self, project_id: int = WEB_PROJECT_ID) -> List[Dict[str, Any]]:
        """Experiences that have run (``start_time`` > 0): the ones with reports (hold ``lock``; do not mutate)."""
        return [exp for exp in self.records(project_id, "experiences") if (exp.get("start_time") or 0) > 0]

    def find(self, project_id: int, kind: str, object_id: int) -> Optional[Dict[str, Any]]:
        return self.store.get(project_id, {}).get(kind, {}).get(object_id)

    def report_settings(self, project_id: int, exp: Dict[str, Any]) -> Dict[str, Any]:
        """An experience's report settings as documented: ``{campaigns: [{name, visitors_count}],
        custom_segments: [{id, name}]}``, a copy (hold ``lock``). They name what the segment model
        (``segments``) splits its reports by: the campaigns its visitors came with (only for experiences
        that have run) and the project's audiences of type segmentation; ``edit_report_settings`` replaces
        either list."""
        campaigns: List[Dict[str, Any]] = []
        if (exp.get("start_time") or 0) > 0:
            campaigns = [{"name": name, "visitors_count": 10 + reports.noise(self.seed, exp["id"], i)}
                         for i, name in enumerate(segments.campaigns_of(self.seed, exp["id"]))]
        audiences = sorted((a for a in self.records(project_id, "audiences") if a.get("type") == "segmentation"),
                           key=lambda a: a["id"])
        settings = {"campaigns": campaigns, "custom_segments": [{"id": a["id"], "name": a["name"]} for a in audiences]}
        settings.update(copy.deepcopy(self.report_settings_overrides.get(exp["id"], {})))
        return settings

    def locate_experience(self, experience_id: int) -> Tuple[int, Dict[str, Any]]:
        """(project_id, live record) of an experience anywhere in the account; KeyError if unknown."""
        for pid, kinds in self.store.items():
            if experience_id in kinds["experiences"]:
                return pid, kinds["experiences"][experience_id]
        raise KeyError(experience_id)

    def run_days(self, exp: Dict[str, Any], utc_offset: int = 0) -> List[int]:
        """Local days (UTC+``utc_offset``) on which the experience ran, as UTC seconds of each local midnight.

        From the day of ``start_time`` to the day of ``end_time``, or of the data clock ``now`` while running.
        """
        start = exp.get("start_time") or 0
        if not start:
            return []
        end = exp.get("end_time") or self._now
        return list(range(local_day_start(start, utc_offset), local_day_start(end, utc_offset) + 1, DAY))

    def max_history_timestamp(self) -> int:
        stamps = [e["timestamp"] for kinds in self.store.values() for e in kinds["change-history"].values()]
        return max(stamps, default=0)

    # ----------------------------------------------------------------- mutation
    def add_history_event(self, object: str = "experience", object_id: Optional[int] = None,
                          event: Optional[str] = None, timestamp: Optional[int] = None,
                          project_id: int = WEB_PROJECT_ID, method: str = "api", author_id: int = 5001,
                          data: Optional[Dict[str, Any]] = None, changes: Optional[Dict[str, Any]] = None,
                          request_id: Any = "auto") -> Dict[str, Any]:
        """Append a change-history event (default timestamp: newer than every existing event); ``changes``
        and ``request_id`` as ``generator.history_event`` says. Returns a copy of the stored record."""
        with self.lock:
            if object_id is None:
                object_id = min(self.store[project_id][gen.HISTORY_OBJECTS[object]])
            if timestamp is None:
                timestamp = max(self.max_history_timestamp() + 1, self._now)
            record = gen.history_event(self, project_id, object, object_id, event or f"{object}.update",
                                       timestamp, method=method, author_id=author_id, data=data,
                                       changes=changes, request_id=request_id)
            self._put(project_id, "change-history", record)
            return copy.deepcopy(record)

    def add_experience(self, project_id: int = WEB_PROJECT_ID, **fields: Any) -> Dict[str, Any]:
        """Create an experience (default status draft) plus an ``experience.create`` event; returns a copy."""
        with self.lock:
            project_id = int(fields.pop("project", project_id))
            status = fields.get("status", "draft")
            rng = random.Random(f"{self.seed}:add:{self._ids['experiences']}")
            serial = len(self.store[project_id]["experiences"]) + 1
            exp = gen.experience(self, rng, project_id, status, serial)
            if status == "active":
                exp["start_time"], exp["end_time"] = self._now, 0
            exp.update(fields)
            if "goals" in fields and "primary_goal" not in fields:
                exp["primary_goal"] = exp["goals"][0] if exp["goals"] else None
            self._put(project_id, "experiences", exp)
            self.add_history_event("experience", exp["id"], "experience.create", project_id=project_id,
                                   data={"name": exp["name"]})
            return copy.deepcopy(exp)

    def update_experience(self, experience_id: int, **fields: Any) -> Dict[str, Any]:
        """Change fields of an experience (archiving included) plus an ``experience.update`` event; returns a copy."""
        with self.lock:
            pid, exp = self.locate_experience(experience_id)
            before = {field: copy.deepcopy(exp.get(field)) for field in sorted(fields)}
            self._change_experience(exp, fields)
            self.add_history_event("experience", experience_id, "experience.update", project_id=pid,
                                   data={"name": exp["name"], "changed_fields": sorted(fields)},
                                   changes=_before_after(before, exp))
            return copy.deepcopy(exp)

    def delete_experience(self, experience_id: int) -> Dict[str, Any]:
        """Set an experience's status to ``deleted`` plus an ``experience.delete`` event; returns a copy.

        The record stays in the project: lists return it only when ``status`` names ``deleted``.
        """
        with self.lock:
            pid, exp = self.locate_experience(experience_id)
            self._change_experience(exp, {"status": "deleted"})
            self.add_history_event("experience", experience_id, "experience.delete", project_id=pid,
                                   data={"name": exp["name"]})
            return copy.deepcopy(exp)

    def _change_experience(self, exp: Dict[str, Any], fields: Dict[str, Any]) -> None:
        self._apply_status_times(exp, fields)
        exp.update({k: v for k, v in fields.items() if k not in ("id", "project")})
        if "status" in fields:
            for variation in exp.get("variations", []):
                variation["status"] = "running" if fields["status"] == "active" else "stopped"

    def _apply_status_times(self, exp: Dict[str, Any], fields: Dict[str, Any]) -> None:
        status = fields.get("status")
        if status == "active" and not exp.get("start_time") and "start_time" not in fields:
            fields["start_time"] = self._now
        if status in ("completed", "paused", "archived", "deleted") and exp.get("start_time") \
                and not exp.get("end_time") and "end_time" not in fields:
            fields["end_time"] = self._now
        if status == "active" and exp.get("end_time") and "end_time" not in fields:
            fields["end_time"] = 0

    def update_object(self, kind: str, object_id: int, project_id: int = WEB_PROJECT_ID,
                      **fields: Any) -> Dict[str, Any]:
        """Change fields of any non-experience object (``kind`` as in the URL, e.g. "knowledge-bases").

        Knowledge bases get ``updated_at = now`` unless given. Objects the change history covers get a
        ``<object>.update`` event for any change, archiving included; knowledge bases and observations are
        not change-history objects and get none.
        """
        if kind == "experiences":
            return self.update_experience(object_id, **fields)
        with self.lock:
            record = self.store[project_id][kind][object_id]
            if kind == "knowledge-bases" and "updated_at" not in fields:
                fields["updated_at"] = max(self._now, record["updated_at"] + 1)
            before = {field: copy.deepcopy(record.get(field)) for field in sorted(fields) if field != "id"}
            record.update({k: v for k, v in fields.items() if k != "id"})
            obj = next((o for o, k in gen.HISTORY_OBJECTS.items() if k == kind), None)
            if obj:
                self.add_history_event(obj, object_id, f"{obj}.update", project_id=project_id,
                                       data={"changed_fields": sorted(fields)}, changes=_before_after(before, record))
            return copy.deepcopy(record)


def _before_after(before: Dict[str, Any], after: Dict[str, Any]) -> Dict[str, Any]:
    """A history event's ``changes`` for the fields in ``before``: their old and new values."""
    return {"old": before, "new": {field: copy.deepcopy(after.get(field)) for field in before}}
