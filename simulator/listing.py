"""Paged list endpoints: per-collection parameter specs, filtering, sorting and the list envelope."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from . import params as P
from . import render
from .render import Context

EXPERIENCE_STATUSES = ("draft", "active", "paused", "completed", "scheduled", "archived", "deleted")
HYPOTHESIS_STATUSES = ("applied", "archived", "completed", "draft", "proven", "disproven")
EXPERIENCE_TYPES = ("a/b", "a/a", "mvt", "split_url", "multipage", "deploy", "a/b_fullstack", "feature_rollout")
EXPERIENCE_INCLUDE = ("alerts", "goals", "stats", "variations", "variations.changes", "min_running_timestamp",
                      "max_running_timestamp", "audiences", "locations", "collaborators")
EXPERIENCE_EXPAND = ("project", "audiences", "goals", "locations", "variations", "variations.changes", "tags")
PROJECT_INCLUDE = ("global_javascript", "domains", "stats.usage", "stats.active_experiences_count",
                   "stats.active_experiments_count", "stats.experiences_count", "stats.segments_count",
                   "stats.active_segments_count", "stats.active_goals_count", "stats.google_analytics",
                   "default_goals", "default_audiences", "default_locations")
PROJECT_EXPAND = ("default_goals", "default_audiences", "default_locations")
PROJECT_STATUS_FILTER = ("active", "inactive")  # the documented list filter has no "suspended"
EXPERIENCE_HISTORY_OBJECTS = ("report", "variation", "change")
HISTORY_OBJECTS = ("audience", "feature", "domain", "goal", "hypothesis", "experience", "tag", "location")
GOAL_TYPES = ("advanced", "visits_page", "revenue", "clicks_link", "submits_form", "clicks_element",
              "dom_interaction", "scroll_percentage", "ga_import", "code_trigger")
_ACTIVE_ARCHIVED = ("active", "archived")
# Without a ``status`` filter, project lists that document one leave these out: the reference does not say
# what the default is, so the simulator takes the reading that hides the most from a client that omits it.
HIDDEN_BY_DEFAULT = ("archived", "deleted")
_USAGE = ("used", "not_used")

# filter name -> (kind of value, enum, max items); "ints"/"strs" are arrays, others scalars
Filter = Tuple[str, Optional[Tuple[Any, ...]], Optional[int]]


@dataclass(frozen=True)
class ListSpec:
    """What one ``POST .../<collection>`` list call accepts."""

    sort_by: Optional[Tuple[str, ...]]  # None: no sort_by / sort_direction accepted
    default_sort: Optional[str] = None
    include: Tuple[str, ...] = ()
    expand: Tuple[str, ...] = ()
    only_count: bool = True
    max_only: int = 100
    filters: Dict[str, Filter] = field(default_factory=dict)
    hidden_by_default: Tuple[str, ...] = ()  # statuses left out when the body names no status


_SEARCH: Dict[str, Filter] = {"search": ("str", None, 200)}
SPECS: Dict[str, ListSpec] = {
    "projects": ListSpec(("id", "active_tests", "project_name", "project_type", "status", "used_visitors"), "id",
                         PROJECT_INCLUDE, PROJECT_EXPAND,
                         filters={**_SEARCH, "status": ("strs", PROJECT_STATUS_FILTER, None),
                                  "project_type": ("strs", ("web", "fullstack"), None)}),
    "experiences": ListSpec(("id", "conversions", "improvement", "name", "start_time", "end_time", "status",
                             "primary_goal", "key"), "id", EXPERIENCE_INCLUDE, EXPERIENCE_EXPAND,
                            filters={**_SEARCH, "status": ("strs", EXPERIENCE_STATUSES, None),
                                     "type": ("strs", EXPERIENCE_TYPES, None), "tags": ("ints", None, None),
                                     "audiences": ("ints", None, None), "goals": ("ints", None, None),
                                     "features": ("ints", None, None), "hypotheses": ("ints", None, None),
                                     "environments": ("strs", None, None), "goal_id": ("int", None, None)},
                            hidden_by_default=HIDDEN_BY_DEFAULT),
    "goals": ListSpec(("id", "goal_tracking_status", "name", "times_used", "type", "key", "status"), "id",
                      ("triggering_rule", "stats"), max_only=200,
                      filters={**_SEARCH, "status": ("strs", _ACTIVE_ARCHIVED, None), "is_default": ("bool", None, None),
                               "tracking": ("enum", ("tracked", "not_tracked"), None), "usage": ("enum", _USAGE, None),
                               "goal_type": ("strs", GOAL_TYPES, None), "experiences": ("ints", None, 100)},
                      hidden_by_default=HIDDEN_BY_DEFAULT),
    "audiences": ListSpec(("id", "type", "name", "usage", "status", "key"), "id", ("rules", "stats.experiences_usage"),
                          filters={**_SEARCH, "status": ("strs", _ACTIVE_ARCHIVED, None),
                                   "is_default": ("bool", None, None),
                                   "type": ("enum", ("segmentation", "permanent", "transient"), None),
                                   "experiences": ("ints", None, 100), "usage": ("enum", _USAGE, None)},
                          hidden_by_default=HIDDEN_BY_DEFAULT),
    "locations": ListSpec(("id", "name", "usage", "status", "key"), "id", ("rules", "trigger", "stats.experiences_usage"),
                          filters={**_SEARCH, "status": ("strs", _ACTIVE_ARCHIVED, None),
                                   "is_default": ("bool", None, None), "usage": ("enum", _USAGE, None)},
                          hidden_by_default=HIDDEN_BY_DEFAULT),
    "hypotheses": ListSpec(("id", "name", "score", "start_date", "status"), "id", (), ("project", "tags"),
                           filters={**_SEARCH, "status": ("strs", HYPOTHESIS_STATUSES, None),
                                    "scoreMin": ("enum", (0, 1, 2, 3, 4, 5), None),
                                    "scoreMax": ("enum", (0, 1, 2, 3, 4, 5), None),
                                    "experiences": ("ints", None, None), "tags": ("ints", None, None)},
                           hidden_by_default=HIDDEN_BY_DEFAULT),
    "knowledge-bases": ListSpec(("name", "updated_at", "status"), "name", (), ("project", "tags"),
                                filters={**_SEARCH, "status": ("strs", _ACTIVE_ARCHIVED, None),
                                         "tags": ("ints", None, None)},
                                hidden_by_default=HIDDEN_BY_DEFAULT),
    "observations": ListSpec(("name", "created_by", "date_added", "status"), "name", (), ("project", "tags"),
                             filters={**_SEARCH, "status": ("strs", _ACTIVE_ARCHIVED, None),
                                      "tags": ("ints", None, None)},
                             hidden_by_default=HIDDEN_BY_DEFAULT),
    "features": ListSpec(("id", "name", "key", "status"), "id", ("stats",),
                         filters={"search": ("str", None, 100)}),
    "domains": ListSpec(None),
    "tags": ListSpec(None, only_count=False, filters={"search": ("str", None, 100)}),
    "change-history": ListSpec(("timestamp", "project_id", "event", "object"), "timestamp", (), ("project",),
                               filters={"methods": ("strs", ("api", "app"), None),
                                        "objects": ("strs", HISTORY_OBJECTS, None),
                                        **{name: ("ints", None, 100) for name in
                                           ("audiences", "goals", "locations", "hypotheses", "domains", "tags",
                                            "experiences")}}),
    "experience-history": ListSpec(("timestamp", "event", "object"), "timestamp", (), ("project",),
                                   filters={"methods": ("strs", ("api", "app"), None),
                                            "objects": ("strs", EXPERIENCE_HISTORY_OBJECTS, None),
                                            "variations": ("ints", None, 100), "changes": ("ints", None, 100),
                                            "author_id": ("int", None, None)}),
}


@dataclass
class ListRequest:
    """A validated list body."""

    page: int
    results_per_page: int
    sort_by: Optional[str]
    descending: bool
    only_count: bool
    include: List[str]
    expand: List[str]
    only: Optional[List[int]]
    except_: Optional[List[int]]
    filters: Dict[str, Any]
    hidden_statuses: Tuple[str, ...] = ()


def parse(spec: ListSpec, body: Mapping[str, Any]) -> ListRequest:
    """Validate a list body strictly against ``spec`` (unknown keys are ignored, as the API does not list them)."""
    if spec.sort_by is None:
        P.forbid(body, ("sort_by", "sort_direction"))
    if not spec.only_count:
        P.forbid(body, ("onlyCount",))
    if not spec.include:
        P.forbid(body, ("include",))
    if not spec.expand:
        P.forbid(body, ("expand",))
    page = P.opt_int(body, "page", 1, minimum=1)
    rpp = P.opt_int(body, "results_per_page", 30, minimum=0, maximum=50)
    sort_by = P.opt_enum(body, "sort_by", spec.sort_by, spec.default_sort) if spec.sort_by else None
    direction = P.opt_enum(body, "sort_direction", ("asc", "desc"), "desc") if spec.sort_by else "desc"
    only_count = bool(P.opt_bool(body, "onlyCount")) if spec.only_count else False
    include = P.opt_list(body, "include", "str", spec.include) or []
    expand = P.opt_list(body, "expand", "str", spec.expand) or []
    max_only = 50 if "stats" in include and spec.max_only == 200 else spec.max_only
    only = P.opt_list(body, "only", "int", max_items=max_only)
    except_ = P.opt_list(body, "except", "int", max_items=max_only)
    filters: Dict[str, Any] = {}
    for name, (kind, enum, limit) in spec.filters.items():
        if kind == "ints":
            value = P.opt_list(body, name, "int", max_items=limit)
        elif kind == "strs":
            value = P.opt_list(body, name, "str", enum, max_items=limit)
        elif kind == "str":
            value = P.opt_str(body, name, limit or 200)
        elif kind == "bool":
            value = P.opt_bool(body, name)
        elif kind == "int":
            value = P.opt_int(body, name)
        else:
            value = P.opt_enum(body, name, enum)
        if value is not None:
            filters[name] = value
    hidden: Tuple[str, ...] = ()
    if not filters.get("status"):  # absent, null and [] all mean "no status filter"
        filters.pop("status", None)
        hidden = spec.hidden_by_default
    return ListRequest(page, rpp, sort_by, direction == "desc", only_count, include, expand, only, except_, filters,
                       hidden)


# ----------------------------------------------------------------------------- filtering
def _text(rec: Dict[str, Any]) -> str:
    return " ".join(str(rec.get(f) or "") for f in ("name", "description", "summary", "objective", "url")).lower()


def _overlap(values: Optional[List[Any]], wanted: List[Any]) -> bool:
    return bool(set(values or []) & set(wanted))


def _referenced(ctx: Context, kind: str, field: str, ids: List[int]) -> set:
    """Ids in ``field`` of the given records of ``kind``."""
    out: set = set()
    for object_id in ids:
        rec = ctx.ds.find(ctx.pid, kind, object_id)
        out.update(rec.get(field) or [] if rec else [])
    return out


_HISTORY_ID_FILTERS = {"audiences": "audience", "goals": "goal", "locations": "location", "hypotheses": "hypothesis",
                       "domains": "domain", "tags": "tag", "experiences": "experience"}


def matcher(kind: str, req: ListRequest, ctx: Context) -> Callable[[Dict[str, Any]], bool]:
    """A predicate implementing the request's filters for ``kind``."""
    f = req.filters
    checks: List[Callable[[Dict[str, Any]], bool]] = []
    if req.only is not None:
        only = set(req.only)
        checks.append(lambda r: r["id"] in only)
    if req.except_ is not None:
        excluded = set(req.except_)
        checks.append(lambda r: r["id"] not in excluded)
    if "search" in f:
        needle = f["search"].lower()
        checks.append(lambda r: needle in _text(r))
    if "status" in f:
        checks.append(lambda r: r.get("status") in f["status"])
    elif req.hidden_statuses:
        checks.append(lambda r: r.get("status") not in req.hidden_statuses)
    if "is_default" in f:
        checks.append(lambda r: bool(r.get("selected_default")) == f["is_default"])
    if "usage" in f:
        counts = ctx.usage(kind)
        checks.append(lambda r: (counts[r["id"]] > 0) == (f["usage"] == "used"))
    if kind == "projects":
        types = f.get("project_type", ["web"])
        checks.append(lambda r: r["project_type"] in types)
    elif kind == "experiences":
        if "type" in f:
            checks.append(lambda r: r["type"] in f["type"])
        for name in ("tags", "audiences", "goals"):
            if name in f:
                checks.append(lambda r, n=name: _overlap(r.get(n), f[n]))
        if "environments" in f:
            checks.append(lambda r: r.get("environment") in f["environments"])
        if "hypotheses" in f:
            linked = _referenced(ctx, "hypotheses", "experiences", f["hypotheses"])
            checks.append(lambda r: r["id"] in linked)
    elif kind in ("goals", "audiences"):
        if "goal_type" in f:
            checks.append(lambda r: r["type"] in f["goal_type"])
        if "type" in f:
            checks.append(lambda r: r["type"] == f["type"])
        if "tracking" in f:
            checks.append(lambda r: bool(r.get("tracked")) == (f["tracking"] == "tracked"))
        if "experiences" in f:
            linked = _referenced(ctx, "experiences", kind, f["experiences"])
            checks.append(lambda r: r["id"] in linked)
    elif kind in ("hypotheses", "knowledge-bases", "observations"):
        if "tags" in f:
            checks.append(lambda r: _overlap(r.get("tags"), f["tags"]))
        if "experiences" in f:
            checks.append(lambda r: _overlap(r.get("experiences"), f["experiences"]))
        if kind == "hypotheses":
            low, high = f.get("scoreMin", 0), f.get("scoreMax", 5)
            checks.append(lambda r: low <= float(r["prioritization_score"]) <= high)
    elif kind == "change-history":
        if "methods" in f:
            checks.append(lambda r: r["method"] in f["methods"])
        if "objects" in f:
            checks.append(lambda r: r["object"] in f["objects"])
        pairs = {(obj, i) for name, obj in _HISTORY_ID_FILTERS.items() for i in f.get(name, [])}
        if any(name in f for name in _HISTORY_ID_FILTERS):
            checks.append(lambda r: (r["object"], r["object_id"]) in pairs)
    elif kind == "experience-history":
        if "methods" in f:
            checks.append(lambda r: r["method"] in f["methods"])
        if "objects" in f:
            checks.append(lambda r: r["object"] in f["objects"])
        if "variations" in f:
            checks.append(lambda r: r["data"].get("variation_id") in f["variations"])
        if "changes" in f:
            checks.append(lambda r: r["object"] == "change" and r["object_id"] in f["changes"])
        if "author_id" in f:
            checks.append(lambda r: r["author_id"] == f["author_id"])
    return lambda r: all(check(r) for check in checks)


# ----------------------------------------------------------------------------- sorting
def _lower(value: Any) -> str:
    return str(value or "").lower()


def sort_key(kind: str, sort_by: str, ctx: Context, goal_id: Optional[int] = None) -> Callable[[Dict[str, Any]], Any]:
    """Key function for ``sort_by``; ties are broken by id."""
    if sort_by in ("name", "key", "status", "type", "event", "object", "created_by", "project_type"):
        return lambda r: (_lower(r.get(sort_by)), r["id"])
    if sort_by == "project_name":
        return lambda r: (_lower(r["name"]), r["id"])
    if sort_by in ("conversions", "improvement"):
        def stat(r: Dict[str, Any]) -> Any:
            stats = render.experience_stats(ctx, r, goal_id) or {}
            return (stats.get(sort_by) or 0, r["id"])
        return stat
    if sort_by in ("usage", "times_used"):
        counts = ctx.usage(kind)
        return lambda r: (counts[r["id"]], r["id"])
    if sort_by == "goal_tracking_status":
        return lambda r: (bool(r.get("tracked")), r["id"])
    if sort_by == "score":
        return lambda r: (float(r["prioritization_score"]), r["id"])
    if sort_by == "date_added":
        return lambda r: (r["created_at"], r["id"])
    if sort_by == "active_tests":
        return lambda r: (sum(e["status"] == "active" for e in ctx.ds.store[r["id"]]["experiences"].values()), r["id"])
    if sort_by == "used_visitors":
        return lambda r: (len(ctx.ds.store[r["id"]]["experiences"]), r["id"])
    if sort_by == "start_date":
        return lambda r: (r.get("start_date") or "", r["id"])
    return lambda r: (r.get(sort_by) or 0, r["id"])


def select(kind: str, records: List[Dict[str, Any]], req: ListRequest, ctx: Context) -> List[Dict[str, Any]]:
    """Filter and order records (unsorted endpoints keep id ascending)."""
    keep = matcher(kind, req, ctx)
    chosen = [r for r in records if keep(r)]
    if req.sort_by is None:
        return sorted(chosen, key=lambda r: r["id"])
    key = sort_key(kind, req.sort_by, ctx, req.filters.get("goal_id"))
    return sorted(chosen, key=key, reverse=req.descending)


def page_slice(items: List[Any], req: ListRequest) -> List[Any]:
    """The requested page of ``items`` (empty for ``onlyCount``)."""
    if req.only_count:
        return []
    start = (req.page - 1) * req.results_per_page
    return items[start:start + req.results_per_page]


def envelope(data: List[Any], total: int, req: ListRequest, with_count: bool) -> Dict[str, Any]:
    """``{"data": page, "extra": {"pagination": {...}}}`` (``extra`` is ``{}`` when counts are disabled)."""
    rpp = req.results_per_page
    extra: Dict[str, Any] = {}
    if with_count:
        extra["pagination"] = {"items_count": total, "current_page": req.page, "items_per_page": rpp,
                               "pages_count": math.ceil(total / rpp) if rpp else 0}
    return {"data": data, "extra": extra}
