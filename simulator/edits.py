"""Clock advance with changes in every project, variation edits and hard deletes (mixed into ``Dataset``)."""

from __future__ import annotations

import copy
import random
import threading
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple

from . import generator as gen

VARIATION_EDIT_FIELDS = ("name", "description", "traffic_distribution", "key", "status")
# The default edit of a variation change: a comment in its code (the documented change data are code strings)
_EDIT_MARKS = {"css": "\n/* edited */", "js": "\n// edited", "html": "<!-- edited -->"}


class EditsMixin:
    """Write helpers beyond the basic ones in ``Dataset``; relies on the attributes ``Dataset.__init__`` sets."""

    if TYPE_CHECKING:  # pragma: no cover
        seed: int
        lock: threading.RLock
        _now: int
        _advances: int
        store: Dict[int, Dict[str, Dict[int, Dict[str, Any]]]]
        experience_history: Dict[int, Dict[int, Dict[str, Any]]]
        experience_edits_in_project_history: bool
        report_settings_overrides: Dict[int, Dict[str, Any]]

        def advance_days(self, n: int = 1) -> int: ...
        def locate_experience(self, experience_id: int) -> Tuple[int, Dict[str, Any]]: ...
        def report_settings(self, project_id: int, exp: Dict[str, Any]) -> Dict[str, Any]: ...
        def max_history_timestamp(self) -> int: ...
        def update_experience(self, experience_id: int, **fields: Any) -> Dict[str, Any]: ...
        def update_object(self, kind: str, object_id: int, project_id: int = 0, **fields: Any) -> Dict[str, Any]: ...
        def _put(self, pid: int, kind: str, record: Dict[str, Any]) -> Dict[str, Any]: ...
        def add_history_event(self, object: str = "experience", object_id: Optional[int] = None,
                              event: Optional[str] = None, timestamp: Optional[int] = None,
                              project_id: int = 0, method: str = "api", author_id: int = 5001,
                              data: Optional[Dict[str, Any]] = None) -> Dict[str, Any]: ...

    # ----------------------------------------------------------------- clock
    def advance(self, days: int = 1) -> Dict[int, Dict[str, int]]:
        """Move the data clock ``days`` forward (``advance_days``), then write changes in every project.

        In each project (id ascending), all at the new ``now``, taking the next object of a rotation by id
        (one step per call, deleted experiences skipped):

        * experience: ``version`` + 1 and a new ``description`` via ``update_experience``, so the project
          history gets an ``experience.update`` event (changed_fields ["description", "version"]);
        * goal: a new ``description`` via ``update_object``: a ``goal.update`` event;
        * knowledge base: a new ``summary`` and ``updated_at`` = ``now`` (knowledge bases have no history
          events); a project without any gets a new knowledge base with ``updated_at`` = ``now``;
        * reports: running (active) experiences have report rows up to the new day, as after ``advance_days``.

        A project without experiences or goals skips that part. Returns ``{project_id: {"experience": id,
        "goal": id, "knowledge_base": id}}`` naming the changed objects (keys of skipped parts absent).
        """
        with self.lock:
            self.advance_days(days)
            step, self._advances = self._advances, self._advances + 1
            changed: Dict[int, Dict[str, int]] = {}
            for pid in sorted(self.store):
                pool, out = self.store[pid], changed.setdefault(pid, {})
                exps = [e for _, e in sorted(pool["experiences"].items()) if e["status"] != "deleted"]
                if exps:
                    exp = exps[step % len(exps)]
                    self.update_experience(exp["id"], version=exp.get("version", 0) + 1,
                                           description=f"Edited on day {self._now // gen.DAY}")
                    out["experience"] = exp["id"]
                if pool["goals"]:
                    goal_id = sorted(pool["goals"])[step % len(pool["goals"])]
                    self.update_object("goals", goal_id, project_id=pid,
                                       description=f"Edited on day {self._now // gen.DAY}")
                    out["goal"] = goal_id
                if pool["knowledge-bases"]:
                    kb_id = sorted(pool["knowledge-bases"])[step % len(pool["knowledge-bases"])]
                    self.update_object("knowledge-bases", kb_id, project_id=pid,
                                       summary=f"Revised on day {self._now // gen.DAY}")
                else:
                    rng = random.Random(f"{self.seed}:kb:{pid}:{self._now}")
                    kb = gen.knowledge_base(self, rng, pid, len(pool["knowledge-bases"]))  # type: ignore[arg-type]
                    kb["updated_at"] = self._now
                    kb_id = self._put(pid, "knowledge-bases", kb)["id"]
                out["knowledge_base"] = kb_id
            return changed

    # ----------------------------------------------------------------- experience history
    def experience_events(self, experience_id: int) -> List[Dict[str, Any]]:
        """Copies of the events of one experience's own history, oldest first."""
        with self.lock:
            events = self.experience_history.get(experience_id, {}).values()
            return copy.deepcopy(sorted(events, key=lambda e: (e["timestamp"], e["id"])))

    def add_experience_event(self, experience_id: int, object: str, object_id: int, event: Optional[str] = None,
                             timestamp: Optional[int] = None, method: str = "api", author_id: int = 5001,
                             data: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        """Append an event (object variation/change/report) to one experience's own history only.

        Default timestamp: newer than every event of the project history and of this experience's history.
        """
        with self.lock:
            pid, _ = self.locate_experience(experience_id)
            own = self.experience_history.setdefault(experience_id, {})
            if timestamp is None:
                newest = max((e["timestamp"] for e in own.values()), default=0)
                timestamp = max(self.max_history_timestamp() + 1, newest + 1, self._now)
            record = gen.history_event(self, pid, object, object_id,  # type: ignore[arg-type]
                                       event or f"{object}.update",
                                       timestamp, method=method, author_id=author_id,
                                       data=dict(data or {}, experience_id=experience_id))
            own[record["id"]] = record
            return copy.deepcopy(record)

    def edit_variation(self, experience_id: int, variation_id: Optional[int] = None, **fields: Any) -> Dict[str, Any]:
        """Change fields of one variation (default: the first non-baseline one); returns a copy of it.

        ``fields``: any of name, description, traffic_distribution, key, status (default: the name gets
        " (edited)" appended). Logs ``variation.update`` (object "variation", object_id the variation) in
        the experience's own history only; with ``experience_edits_in_project_history`` also an
        ``experience.update`` event naming the experience in the project history (same timestamp).
        """
        with self.lock:
            pid, exp = self.locate_experience(experience_id)
            variation = _variation(exp, variation_id)
            unknown = sorted(set(fields) - set(VARIATION_EDIT_FIELDS))
            if unknown:
                raise ValueError(f"cannot edit variation fields {unknown}")
            fields = fields or {"name": f"{variation['name']} (edited)"}
            variation.update(fields)
            event = self.add_experience_event(experience_id, "variation", variation["id"], "variation.update",
                                              data={"variation_id": variation["id"], "name": variation["name"],
                                                    "changed_fields": sorted(fields)})
            self._mirror_to_project(pid, exp, event, {"variation_id": variation["id"]})
            return copy.deepcopy(variation)

    def edit_variation_change(self, experience_id: int, change_id: Optional[int] = None,
                              **data: Any) -> Dict[str, Any]:
        """Merge ``data`` into one change's ``data`` (default change: the experience's first; default edit: a
        comment appended to its ``css``, ``js`` or ``html``); returns a copy of the change.

        Logs ``change.update`` (object "change", object_id the change) in the experience's own history only;
        with ``experience_edits_in_project_history`` also ``experience.update`` in the project history.
        ValueError when the experience has no such change (a/a experiences have none).
        """
        with self.lock:
            pid, exp = self.locate_experience(experience_id)
            found = [(v, c) for v in exp.get("variations") or [] for c in v.get("changes") or []
                     if change_id is None or c["id"] == change_id]
            if not found:
                raise ValueError(f"experience {experience_id} has no change {change_id or ''}".rstrip())
            variation, change = found[0]
            if not data:  # a documented field of the change's type, edited: its code gets a comment
                key = next((k for k in _EDIT_MARKS if isinstance(change["data"].get(k), str)), "js")
                data = {key: (change["data"].get(key) or "") + _EDIT_MARKS[key]}
            change["data"].update(data)
            event = self.add_experience_event(experience_id, "change", change["id"], "change.update",
                                              data={"variation_id": variation["id"], "changed_fields": ["data"]})
            self._mirror_to_project(pid, exp, event, {"variation_id": variation["id"], "change_id": change["id"]})
            return copy.deepcopy(change)

    def edit_report_settings(self, experience_id: int, **fields: Any) -> Dict[str, Any]:
        """Change the experience's report settings (``campaigns`` and/or ``custom_segments``: ``GET
        .../report_settings`` answers them in place of the generated ones; default edit: one more campaign,
        "edited_campaign", with 7 visitors); returns the overrides now in force.

        Logs ``report.update`` (object "report", object_id the experience) in the experience's own history
        only; with ``experience_edits_in_project_history`` also ``experience.update`` in the project history.
        """
        unknown = set(fields) - {"campaigns", "custom_segments"}
        if unknown:
            raise ValueError(f"report settings have only campaigns and custom_segments, not {sorted(unknown)}")
        with self.lock:
            pid, exp = self.locate_experience(experience_id)
            if not fields:
                current = self.report_settings(pid, exp)["campaigns"]
                fields = {"campaigns": current + [{"name": "edited_campaign", "visitors_count": 7}]}
            overrides = self.report_settings_overrides.setdefault(experience_id, {})
            overrides.update(copy.deepcopy(fields))
            event = self.add_experience_event(experience_id, "report", experience_id, "report.update",
                                              data={"changed_fields": sorted(fields)})
            self._mirror_to_project(pid, exp, event, {})
            return copy.deepcopy(overrides)

    def _mirror_to_project(self, pid: int, exp: Dict[str, Any], event: Dict[str, Any], ids: Dict[str, int]) -> None:
        if self.experience_edits_in_project_history:
            self.add_history_event("experience", exp["id"], "experience.update", timestamp=event["timestamp"],
                                   project_id=pid, data={"name": exp["name"], "changed_fields": ["variations"], **ids})

    # ----------------------------------------------------------------- hard delete
    def purge_experience(self, experience_id: int, log_event: bool = True) -> Dict[str, Any]:
        """Remove an experience entirely (gone from lists, its paths 404); returns the removed record.

        Unlike ``delete_experience`` (status "deleted", still listed on request). ``log_event`` writes an
        ``experience.delete`` event in the project history; its own history is dropped.
        """
        with self.lock:
            pid, exp = self.locate_experience(experience_id)
            del self.store[pid]["experiences"][experience_id]
            self.experience_history.pop(experience_id, None)
            self.report_settings_overrides.pop(experience_id, None)
            if log_event:
                self.add_history_event("experience", experience_id, "experience.delete", project_id=pid,
                                       data={"name": exp["name"]})
            return copy.deepcopy(exp)


def _variation(exp: Dict[str, Any], variation_id: Optional[int]) -> Dict[str, Any]:
    variations = exp.get("variations") or []
    if variation_id is None:
        chosen = next((v for v in variations if not v["is_baseline"]), variations[0] if variations else None)
    else:
        chosen = next((v for v in variations if v["id"] == variation_id), None)
    if chosen is None:
        raise KeyError(variation_id)
    return chosen
