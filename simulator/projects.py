"""Filling, adding and removing projects of the simulated account (mixed into ``Dataset``)."""

from __future__ import annotations

import contextlib
import random
import threading
from typing import TYPE_CHECKING, Any, Dict, Iterator, List, Optional

from . import generator as gen
from .generator import ACCOUNT_ID, BLOG_PROJECT_ID, DAY

# The small web project generated next to 200002/200003 (own random stream, so theirs stay unchanged).
BLOG_SIZES = dict(tags=3, domains=1, goals=4, audiences=2, locations=2, features=0, experiences=6, hypotheses=3,
                  knowledge_bases=4, observations=3, change_history=15)
# Kinds whose ids the blog project reuses from web project 200002 under ``Dataset.generate(shared_ids=True)``.
SHARED_ID_KINDS = ("goals", "audiences", "locations", "tags", "domains", "hypotheses", "knowledge-bases",
                   "observations", "features")
_SIMPLE = [("tags", gen.tag), ("domains", gen.domain), ("goals", gen.goal), ("audiences", gen.audience),
           ("locations", gen.location), ("features", gen.feature)]
_LINKED = [("hypotheses", "hypotheses", gen.hypothesis), ("knowledge-bases", "knowledge_bases", gen.knowledge_base),
           ("observations", "observations", gen.observation)]


class ProjectsMixin:
    """Project-level generation and lifecycle; relies on the attributes ``Dataset.__init__`` sets."""

    if TYPE_CHECKING:  # pragma: no cover
        seed: int
        lock: threading.RLock
        _now: int
        _ids: Dict[str, int]
        projects: Dict[int, Dict[str, Any]]
        store: Dict[int, Dict[str, Dict[int, Dict[str, Any]]]]
        users_accesses: List[Dict[str, Any]]
        account: Dict[str, Any]
        api_keys: List[Dict[str, Any]]
        sdk_keys: Dict[int, List[Dict[str, Any]]]
        report_settings_overrides: Dict[int, Dict[str, Any]]
        experience_history: Dict[int, Dict[int, Dict[str, Any]]]

        def _put(self, pid: int, kind: str, record: Dict[str, Any]) -> Dict[str, Any]: ...
        def _init_project(self, pid: int, ptype: str, name: str, created: int, modified: int,
                          status: str = "active") -> None: ...
        def add_history_event(self, object: str = "experience", object_id: Optional[int] = None,
                              event: Optional[str] = None, timestamp: Optional[int] = None,
                              project_id: int = 0, method: str = "api", author_id: int = 5001,
                              data: Optional[Dict[str, Any]] = None, changes: Optional[Dict[str, Any]] = None,
                              request_id: Any = "auto") -> Dict[str, Any]: ...

    # ----------------------------------------------------------------- generation
    def _fill(self, pid: int, size: Dict[str, int], rng: random.Random, label: Optional[str] = None) -> None:
        """Generate a project's content; ``label`` prefixes the names of its simple objects."""
        for kind, build in _SIMPLE:
            for i in range(size[kind]):
                record = self._put(pid, kind, build(self, rng, i))  # type: ignore[arg-type]
                if label:
                    _relabel(kind, record, label)
        for i in range(size["experiences"]):
            exp = gen.experience(self, rng, pid, gen.status_cycle(i), i + 1)  # type: ignore[arg-type]
            self._put(pid, "experiences", exp)
        for kind, key, build in _LINKED:
            for i in range(size[key]):
                self._put(pid, kind, build(self, rng, pid, i))  # type: ignore[arg-type]
        for event in gen.history(self, rng, pid, size["change_history"]):  # type: ignore[arg-type]
            self._put(pid, "change-history", event)
        self.projects[pid]["default_goals"] = list(self.store[pid]["goals"])[:2]
        self.projects[pid]["default_locations"] = list(self.store[pid]["locations"])[:1]

    def _add_blog(self, shared_ids: bool) -> None:
        """Web project 200004 "Blog" from its own random stream; optionally with ids taken from 200002."""
        rng = random.Random(f"{self.seed}:blog")
        created = self._now - rng.randint(200, 400) * DAY
        self._init_project(BLOG_PROJECT_ID, "web", "Blog", created, self._now - rng.randint(1, 30) * DAY)
        with self._id_space(SHARED_ID_KINDS if shared_ids else ()):
            self._fill(BLOG_PROJECT_ID, BLOG_SIZES, rng, label="Blog")
        self.sdk_keys[BLOG_PROJECT_ID] = [{"name": "Blog default", "sdk_key": f"{ACCOUNT_ID}{BLOG_PROJECT_ID}sdk1",
                                           "sdk_secret": "LEAKED-SECRET-sdk-b10g77", "environment": "production"}]

    @contextlib.contextmanager
    def _id_space(self, kinds: tuple) -> Iterator[None]:
        """While active, new ids of ``kinds`` restart from their bases (so they collide with 200002's)."""
        from .dataset import ID_BASES

        saved = {kind: self._ids[kind] for kind in kinds}
        self._ids.update({kind: ID_BASES[kind] for kind in kinds})
        try:
            yield
        finally:
            self._ids.update(saved)

    def _seed_experience_histories(self) -> None:
        for pid in sorted(self.store):
            exps = sorted(self.store[pid]["experiences"].values(), key=lambda e: e["id"])
            for event in gen.experience_history(self, pid, exps):  # type: ignore[arg-type]
                self.experience_history.setdefault(event["data"]["experience_id"], {})[event["id"]] = event
            for exp in exps:
                self.experience_history.setdefault(exp["id"], {})

    def _sync_stats(self) -> None:
        self.account["stats"]["projects_count"] = len(self.projects)

    # ----------------------------------------------------------------- lifecycle
    def add_project(self, project_type: str = "web", name: Optional[str] = None, status: str = "active",
                    experiences: int = 3, goals: int = 2) -> int:
        """Create a project now (id: highest project id + 1) with a small content set; returns its id.

        Content: 2 tags, ``goals`` goals, 1 audience; web: 1 domain, 1 location, 1 hypothesis, 1 knowledge
        base and 1 observation; fullstack: 2 features. Of ``experiences`` experiences the first is active
        and started at ``now`` (so it has a report day), the others are drafts. Every experience and goal
        gets a ``<object>.create`` event at ``now``. Deterministic from the seed and the new id.
        """
        if project_type not in ("web", "fullstack"):
            raise ValueError("project_type must be 'web' or 'fullstack'")
        if status not in ("active", "inactive", "suspended"):
            raise ValueError("status must be 'active', 'inactive' or 'suspended'")
        with self.lock:
            pid = max(self.projects, default=BLOG_PROJECT_ID) + 1
            rng = random.Random(f"{self.seed}:project:{pid}")
            web = project_type == "web"
            self._init_project(pid, project_type, name or f"Project {pid}", self._now, self._now, status)
            size = dict(tags=2, domains=int(web), goals=goals, audiences=1, locations=int(web),
                        features=0 if web else 2, experiences=0, hypotheses=0, knowledge_bases=0, observations=0, change_history=0)
            self._fill(pid, size, rng)
            for i in range(experiences):
                exp = gen.experience(self, rng, pid, "active" if i == 0 else "draft", i + 1)  # type: ignore[arg-type]
                if i == 0:
                    exp["start_time"], exp["end_time"] = self._now, 0
                self._put(pid, "experiences", exp)
                self.experience_history[exp["id"]] = {}
            for kind, key, build in _LINKED if web else []:
                self._put(pid, kind, build(self, rng, pid, 0))  # type: ignore[arg-type]
            for goal_id in self.store[pid]["goals"]:
                self.add_history_event("goal", goal_id, "goal.create", project_id=pid,
                                       data={"name": self.store[pid]["goals"][goal_id]["name"]})
            for exp_id, exp in self.store[pid]["experiences"].items():
                self.add_history_event("experience", exp_id, "experience.create", project_id=pid,
                                       data={"name": exp["name"]})
            self._sync_stats()
            return pid

    def remove_project(self, project_id: int) -> None:
        """Delete a project and everything in it: its paths then answer 404 "Project not found"."""
        with self.lock:
            if project_id not in self.projects:
                raise KeyError(project_id)
            for exp_id in self.store[project_id]["experiences"]:
                self.experience_history.pop(exp_id, None)
                self.report_settings_overrides.pop(exp_id, None)
            del self.projects[project_id], self.store[project_id]
            self.sdk_keys.pop(project_id, None)
            for user in self.users_accesses:
                user["accesses"] = [a for a in user["accesses"] if a["project"] != project_id]
            for key in self.api_keys:
                key["projects"] = [p for p in key["projects"] if p != project_id]
            self._sync_stats()


def _relabel(kind: str, record: Dict[str, Any], label: str) -> None:
    """Make a generated object visibly the blog's (its id may equal one in 200002 under ``shared_ids``)."""
    if kind == "domains":
        record["url"] = record["url"].replace("shop-example", f"{label.lower()}-example")
        return
    if kind == "tags":
        record["name"] = f"{label.lower()}-{record['name']}"
        return
    record["name"] = f"{label}: {record['name']}"
    if "key" in record:
        record["key"] = gen.slug(record["name"])
