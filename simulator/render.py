"""Response shapes: default fields, optional (include) fields and expanded references per object type.

Rule (reference 3.4): ``expand`` replaces ids with the referenced object's default form; an ``include``
of a field that is also expandable returns it expanded too (the vendor's ``variations.changes`` example).
"""

from __future__ import annotations

import copy
from collections import Counter
from typing import Any, Dict, Iterable, List, Optional

from . import reports
from .dataset import Dataset

DEFAULT_FIELDS: Dict[str, tuple] = {
    "projects": ("id", "account_id", "name", "project_type", "status", "type", "accessRole", "owner_email",
                 "created_at", "modified_at", "updateMetadata", "tracking_snippet", "settings", "reporting_settings",
                 "integrations_settings", "custom_domain", "environments", "sdk_key"),
    "experiences": ("id", "project", "name", "key", "description", "objective", "type", "status", "start_time",
                    "end_time", "primary_goal", "traffic_distribution", "version", "url", "global_js", "global_css",
                    "settings", "site_area", "integrations", "screenshots_info", "environment", "environments",
                    "customizations", "multipage_pages", "tags", "concurrency_key"),
    "goals": ("id", "name", "key", "description", "is_system", "selected_default", "status", "type", "settings"),
    "locations": ("id", "name", "description", "status", "preset", "selected_default", "stats"),
    "audiences": ("id", "name", "description", "status", "preset", "selected_default", "type", "stats"),
    "hypotheses": ("id", "name", "url", "project", "prioritization_score", "objective", "status", "start_date",
                   "end_date", "summary", "description", "files", "created_at", "updated_at", "created_by",
                   "prioritization_score_type", "prioritization_score_attributes", "experiences", "tags"),
    "knowledge-bases": ("id", "name", "project", "status", "summary", "url", "objective", "start_date", "end_date",
                        "prioritization_score_type", "prioritization_score_attributes", "experiences",
                        "description", "files", "created_by", "updated_at", "tags"),
    "observations": ("id", "name", "description", "project", "status", "url", "created_by", "created_at",
                     "updated_at", "images", "files", "tags"),
    "features": ("id", "name", "key", "status", "description", "variables"),
    "tags": ("id", "name", "description"),
    "domains": ("id", "url", "code_installed"),
}
# A change-history event as the contract documents it (``ChangeHistory``): no id of its own, ids as strings.
HISTORY_FIELDS = ("event", "info", "changes", "method", "object", "object_id", "parent_object_id", "user",
                  "timestamp", "request_id", "project")
# How a change-history record names the changed object. "object_id" is the contract's
# {"object": "experience", "object_id": "1"}; the others leave the contract, to test the connector's
# fallbacks: "objectId" {"objectId": "1"}; "object_mapping" {"object": {"type": "experience", "id": "1"}};
# "typed" {"experience_id": "1"}; "none" {"object": "experience"} (no id of the changed object anywhere).
HISTORY_ID_STYLES = ("object_id", "objectId", "object_mapping", "typed", "none")
VARIATION_FIELDS = ("id", "name", "description", "is_baseline", "traffic_distribution", "key", "status",
                    "concurrency_key")
_REF_KIND = {"goals": "goals", "audiences": "audiences", "locations": "locations", "tags": "tags",
             "default_goals": "goals", "default_audiences": "audiences", "default_locations": "locations"}


class Context:
    """Per-request view of one project with lazily computed usage counts."""

    def __init__(self, ds: Dataset, model: reports.ReportModel, project_id: int,
                 history_id_style: str = "object_id") -> None:
        self.ds, self.model, self.pid = ds, model, project_id
        self.history_id_style = history_id_style
        self._usage: Dict[str, Counter] = {}

    def usage(self, field: str) -> Counter:
        """How many experiences of the project reference each id in ``field`` (goals/audiences/locations)."""
        if field not in self._usage:
            counter: Counter = Counter()
            for exp in self.ds.store[self.pid]["experiences"].values():
                counter.update(set(exp.get(field) or []))
            self._usage[field] = counter
        return self._usage[field]


def _pick(record: Dict[str, Any], fields: Iterable[str]) -> Dict[str, Any]:
    return {f: copy.deepcopy(record[f]) for f in fields if f in record}


def plain(ctx: Context, kind: str, record: Dict[str, Any]) -> Dict[str, Any]:
    """The default (get-object) form of any record, without optional fields."""
    return _pick(record, DEFAULT_FIELDS[kind])


def _refs(ctx: Context, kind: str, ids: Optional[List[int]]) -> List[Dict[str, Any]]:
    out = []
    for object_id in ids or []:
        record = ctx.ds.find(ctx.pid, kind, object_id)
        if record is not None:
            out.append(plain(ctx, kind, record))
    return out


def project(ctx: Context, record: Dict[str, Any], include: Iterable[str] = (), expand: Iterable[str] = ()) -> Dict[str, Any]:
    include, expand = set(include), set(expand)
    out = plain(ctx, "projects", record)
    pool = ctx.ds.store[record["id"]]
    if "global_javascript" in include:
        out["global_javascript"] = record.get("global_javascript")
    if "domains" in include:
        out["domains"] = [plain(ctx, "domains", d) for d in pool["domains"].values()]
    stats_keys = sorted(i.split(".", 1)[1] for i in include if i.startswith("stats."))
    if stats_keys:
        exps = list(pool["experiences"].values())
        values = {
            "usage": {"tested_visitors": 1000 * len(exps), "quota": 500000},
            "active_experiences_count": sum(e["status"] == "active" for e in exps),
            "active_experiments_count": sum(e["status"] == "active" for e in exps),
            "experiences_count": len(exps),
            "segments_count": len(pool["audiences"]),
            "active_segments_count": sum(a["status"] == "active" for a in pool["audiences"].values()),
            "active_goals_count": sum(g["status"] == "active" for g in pool["goals"].values()),
            "google_analytics": {"enabled": record["project_type"] == "web"},
        }
        out["stats"] = {k: values[k] for k in stats_keys}
    sub = Context(ctx.ds, ctx.model, record["id"])
    for field in ("default_goals", "default_audiences", "default_locations"):
        if field in expand or field in include:
            out[field] = _refs(sub, _REF_KIND[field], record.get(field))
    return out


def experience_stats(ctx: Context, exp: Dict[str, Any], goal_id: Optional[int]) -> Dict[str, Any]:
    """Condensed stats for one goal (default the primary goal), as documented (``goal_id``, ``conversions``,
    ``visitors``, ``variations_observed_results``), with zeros for experiences that never started."""
    days = ctx.ds.run_days(exp)
    goal_id = goal_id if goal_id in (exp.get("goals") or []) else exp.get("primary_goal")
    if not days or goal_id is None:  # nothing observed yet: the documented object, with zeros
        return {**({"goal_id": goal_id} if goal_id is not None else {}), "conversions": 0, "visitors": 0,
                "variations_observed_results": []}
    goal = ctx.ds.find(ctx.pid, "goals", goal_id) or {}
    revenue_goal = goal.get("type") == "revenue"
    variations = exp.get("variations") or []
    totals = {v["id"]: ctx.model.totals(exp["id"], v, goal_id, revenue_goal, days) for v in variations}
    base = next((totals[v["id"]] for v in variations if v["is_baseline"]), reports.ZERO)
    observed = []
    for variation in variations:
        own = totals[variation["id"]]
        improvement = 0.0 if variation["is_baseline"] else (reports.change(base, own) or 0.0)
        chance = 50.0 if variation["is_baseline"] else reports.confidence(base, own)
        result = ("noChange" if variation["is_baseline"] else "winner" if chance >= 95 and improvement > 0
                  else "losing" if chance >= 95 else "notConcluded")
        observed.append({
            "variation_id": variation["id"], "improvement": improvement, "probability_beat_control": chance,
            "test_result": result,
            "revenue_per_visitor": reports.per_visitor(own.revenue, own.visitors),
            "mab_allocation": variation["traffic_distribution"],
        })
    return {"goal_id": goal_id, "visitors": sum(t.visitors for t in totals.values()),
            "conversions": sum(t.conversions for t in totals.values()), "variations_observed_results": observed}


def experience(ctx: Context, exp: Dict[str, Any], include: Iterable[str] = (), expand: Iterable[str] = (),
               goal_id: Optional[int] = None) -> Dict[str, Any]:
    include, expand = set(include), set(expand)
    wanted = include | expand
    out = plain(ctx, "experiences", exp)
    if "project" in expand:
        out["project"] = plain(ctx, "projects", ctx.ds.projects[exp["project"]])
    if "tags" in expand:
        out["tags"] = _refs(ctx, "tags", exp.get("tags"))
    for field in ("goals", "audiences", "locations"):
        if field in wanted:
            out[field] = _refs(ctx, field, exp.get(field))
    if "variations" in wanted or "variations.changes" in wanted:
        with_changes = "variations.changes" in wanted
        out["variations"] = [
            dict(_pick(v, VARIATION_FIELDS),
                 changes=copy.deepcopy(v["changes"]) if with_changes else [c["id"] for c in v["changes"]])
            for v in exp.get("variations") or []
        ]
    for field in ("alerts", "collaborators"):
        if field in include:
            out[field] = copy.deepcopy(exp.get(field) or [])
    stats = experience_stats(ctx, exp, goal_id) if "stats" in include else None
    if stats is not None:  # the contract's stats is an object, never null: a never-started experience has none
        out["stats"] = stats
    if "min_running_timestamp" in include or "max_running_timestamp" in include:
        days = ctx.ds.run_days(exp)
        if "min_running_timestamp" in include:
            out["min_running_timestamp"] = exp["start_time"] if days else 0
        if "max_running_timestamp" in include:
            out["max_running_timestamp"] = (exp["end_time"] or ctx.ds.now) if days else 0
    return out


def record(ctx: Context, kind: str, rec: Dict[str, Any], include: Iterable[str] = (),
           expand: Iterable[str] = ()) -> Dict[str, Any]:
    """Render any list/get record except experiences and projects."""
    include, expand = set(include), set(expand)
    if kind == "change-history":
        return history_event(ctx, rec, expand)
    out = plain(ctx, kind, rec)
    if kind == "goals":
        if "triggering_rule" in include:
            out["triggering_rule"] = copy.deepcopy(rec.get("triggering_rule"))
        if "stats" in include:
            out["stats"] = {"conversions_last_48h": rec.get("conversions_last_48h", 0),
                            "times_used": ctx.usage("goals")[rec["id"]]}
    elif kind in ("locations", "audiences"):
        for field in ("rules", "trigger"):
            if field in include and field in rec:
                out[field] = copy.deepcopy(rec[field])
        if "stats.experiences_usage" in include:
            out["stats"] = {"experiences_usage": ctx.usage(kind)[rec["id"]]}
    elif kind == "features" and "stats" in include:
        out["stats"] = {"times_used": rec.get("times_used", 0)}
    if "project" in expand:
        out["project"] = plain(ctx, "projects", ctx.ds.projects[rec["project"]])
    if "tags" in expand:
        out["tags"] = _refs(ctx, "tags", rec.get("tags"))
    if "experiences" in expand:
        out["experiences"] = [{f: e[f] for f in ("id", "name", "key", "status", "type")}
                              for e in (ctx.ds.find(ctx.pid, "experiences", i) for i in rec.get("experiences") or [])
                              if e is not None]
    return out


def history_event(ctx: Context, rec: Dict[str, Any], expand: Iterable[str] = ()) -> Dict[str, Any]:
    """A stored change-history event in the contract's shape (``object_id`` and ``parent_object_id`` as text;
    ``project`` the id, or the project's short form with ``expand: ["project"]``)."""
    parent = rec.get("parent_object_id")
    out = {
        "event": rec["event"],
        "info": copy.deepcopy(rec["info"]),
        "changes": copy.deepcopy(rec["changes"]),
        "method": rec["method"],
        "object": rec["object"],
        "object_id": str(rec["object_id"]),
        "parent_object_id": None if parent is None else str(parent),
        "user": rec["user"],
        "timestamp": rec["timestamp"],
        "request_id": rec["request_id"],
        "project": rec["project_id"],
    }
    if "project" in expand:
        out["project"] = simple_project(ctx.ds.projects[rec["project_id"]])
    return history_ids(out, ctx.history_id_style)


def simple_project(project: Dict[str, Any]) -> Dict[str, Any]:
    """A project expanded in a history event (the contract's ``SimpleProjectExpandable`` object form)."""
    settings = project.get("settings") or {}
    return {"id": project["id"], "name": project["name"],
            "reporting_settings": {"currency_symbol": (project.get("reporting_settings") or {}).get("currency_symbol", "$")},
            "settings": {"time_zone": settings.get("timezone", "UTC"), "utc_offset": 0, "time_format": "24h"}}


def history_ids(event: Dict[str, Any], style: str) -> Dict[str, Any]:
    """A rendered change-history record with the changed object's id named as ``style`` says (key order kept)."""
    out: Dict[str, Any] = {}
    for key, value in event.items():
        if key == "object" and style == "object_mapping":
            out["object"] = {"type": value, "id": event["object_id"]}
        elif key != "object_id":
            out[key] = value
        elif style == "object_id":
            out["object_id"] = value
        elif style == "objectId":
            out["objectId"] = value
        elif style == "typed":
            out[f"{event['object']}_id"] = value
    return out
