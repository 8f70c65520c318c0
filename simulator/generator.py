"""Deterministic builders for every simulated Convert object (used by ``Dataset``)."""

from __future__ import annotations

import random
import re
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional

if TYPE_CHECKING:  # pragma: no cover
    from .dataset import Dataset

DAY = 86400
ACCOUNT_ID = 100001
WEB_PROJECT_ID = 200002
FULLSTACK_PROJECT_ID = 200003
BLOG_PROJECT_ID = 200004

_NOUNS = ["Checkout", "Hero banner", "Pricing page", "Signup form", "Navigation", "Product grid",
          "Search box", "Footer", "CTA button", "Landing page", "Cart drawer", "Newsletter"]
_ADJECTIVES = ["bold", "calm", "clear", "fast", "fresh", "green", "smart", "simple", "bright", "quiet"]
# A few non-ASCII names exercise UTF-8 / ensure_ascii handling end to end.
_UNICODE_NAMES = ["Página de precios — prueba", "Größentabelle Test", "Café menu “quotes”", "Launch 🚀 banner"]
_GOAL_NAMES = ["Visit thank-you page", "Purchase", "Click add to cart", "Submit lead form", "Scroll 50%",
               "Click pricing link", "Open chat", "Watch video", "Download brochure", "Start trial"]
_GOAL_TYPES = ["advanced", "visits_page", "revenue", "clicks_link", "submits_form", "clicks_element",
               "dom_interaction", "scroll_percentage", "ga_import", "code_trigger"]
_AUDIENCE_TYPES = ["permanent", "transient", "segmentation"]
_TAG_NAMES = ["pricing", "checkout", "mobile", "seo", "q4-campaign", "ux", "copy", "navigation", "retention"]
_PEOPLE = ["Ada Lovelace", "Grace Hopper", "Alan Turing", "Katherine Johnson", "Edsger Dijkstra",
           "Barbara Liskov", "Donald Knuth", "Margaret Hamilton"]
_HYPOTHESIS_STATUSES = ["draft", "applied", "proven", "disproven", "completed", "archived"]
_CHANGE_TYPES = ["richStructure", "customCode", "defaultCode"]
_ROLES = ["owner", "admin", "edit", "browse", "publish", "review"]
WEB_EXPERIENCE_TYPES = ["a/b", "a/b", "a/b", "a/b", "a/a", "split_url", "multipage"]
FULLSTACK_EXPERIENCE_TYPES = ["a/b_fullstack", "feature_rollout"]
_STATUS_CYCLE = ["active", "completed", "draft", "active", "completed", "paused", "archived",
                 "completed", "active", "draft"]


def slug(text: str, limit: int = 32) -> str:
    """Lowercase ASCII slug, at most ``limit`` characters."""
    value = re.sub(r"[^a-z0-9]+", "-", text.lower().encode("ascii", "ignore").decode()).strip("-")
    return value[:limit].strip("-") or "item"


def _person(index: int) -> str:
    return _PEOPLE[index % len(_PEOPLE)]


def _ts_between(rng: random.Random, low: int, high: int) -> int:
    return rng.randint(low, max(low, high))


def _date(ts: int) -> str:
    import time as _time

    return _time.strftime("%Y-%m-%d", _time.gmtime(ts))


def project(project_id: int, project_type: str, name: str, created_at: int, modified_at: int,
            status: str = "active") -> Dict[str, Any]:
    """A project record in its full (all optional fields present) form."""
    return {
        "id": project_id,
        "account_id": ACCOUNT_ID,
        "name": name,
        "project_type": project_type,
        "status": status,
        "type": "own",
        "accessRole": "owner",
        "owner_email": "ada.lovelace@example.com",
        "created_at": created_at,
        "modified_at": modified_at,
        "updateMetadata": {"pendingChanges": {"data": False, "js": False},
                           "lastInvalidation": {"js": modified_at, "data": modified_at},
                           "nextInvalidation": {"js": None, "data": None}},
        "tracking_snippet": f'<script src="//cdn-4.convertexperiments.com/v1/js/{ACCOUNT_ID}-{project_id}.js"></script>',
        "settings": {"allow_crossdomain_tracking": False, "data_anonymization": True, "timezone": "UTC"},
        "reporting_settings": {"currency_symbol": "$", "stats_engine": "frequentist", "confidence_level": 95},
        "integrations_settings": {"google_analytics": {"enabled": project_type == "web"}},
        "custom_domain": ({"domain": "blog.shop-example.com", "status": "active", "ownership_verification": None}
                          if project_id == BLOG_PROJECT_ID else None),
        "environments": {"production": {"label": "Production", "is_default": True},
                         "staging": {"label": "Staging", "is_default": False}},
        "sdk_key": f"{ACCOUNT_ID}{project_id}fs" if project_type == "fullstack" else None,
        "global_javascript": "" if project_type == "web" else None,
        "default_goals": [],
        "default_audiences": [],
        "default_locations": [],
    }


def tag(ds: "Dataset", rng: random.Random, index: int) -> Dict[str, Any]:
    name = _TAG_NAMES[index % len(_TAG_NAMES)] + ("" if index < len(_TAG_NAMES) else f"-{index}")
    return {"id": ds.new_id("tags"), "name": name, "description": f"Tag for {name} work"}


def domain(ds: "Dataset", rng: random.Random, index: int) -> Dict[str, Any]:
    hosts = ["https://www.shop-example.com", "https://blog.shop-example.com", "https://shop-example.de"]
    url = hosts[index] if index < len(hosts) else f"https://site{index}.shop-example.com"
    return {"id": ds.new_id("domains"), "url": url, "code_installed": index % 3 != 2}


def goal(ds: "Dataset", rng: random.Random, index: int) -> Dict[str, Any]:
    gtype = _GOAL_TYPES[index % len(_GOAL_TYPES)]
    name = f"{_GOAL_NAMES[index % len(_GOAL_NAMES)]} {index + 1}"
    return {
        "id": ds.new_id("goals"),
        "name": name,
        "key": slug(f"{name}"),
        "description": f"Tracks '{name}' ({gtype})",
        "is_system": index < 2,
        "selected_default": index < 2,
        "status": "archived" if index % 9 == 8 else "active",
        "type": gtype,
        "triggering_rule": {"OR": [{"AND": [{"OR_WHEN": [{"rule_type": "url",
                                                          "matching": {"match_type": "contains", "negated": False},
                                                          "value": f"/{slug(name)}"}]}]}]},
        "tracked": index % 5 != 4,
        **({"settings": _GOAL_SETTINGS[gtype](name)} if gtype in _GOAL_SETTINGS else {}),
    }


# The documented settings of each goal type that has settings.
_GOAL_SETTINGS = {
    "revenue": lambda name: {"triggering_type": "manual"},
    "clicks_link": lambda name: {"href": f"https://www.shop-example.com/{slug(name)}"},
    "submits_form": lambda name: {"action": f"/forms/{slug(name)}"},
    "clicks_element": lambda name: {"selector": f"#{slug(name)}", "only_where_experience_runs": False},
    "dom_interaction": lambda name: {"tracked_items": [{"selector": f".{slug(name)}", "event": "click"}]},
    "scroll_percentage": lambda name: {"percentage": 50},
    "ga_import": lambda name: {"ga_event": slug(name)},
}


def audience(ds: "Dataset", rng: random.Random, index: int) -> Dict[str, Any]:
    name = ["Mobile visitors", "Returning buyers", "New visitors", "EU traffic", "Paid search",
            "Newsletter subscribers"][index % 6] + f" {index + 1}"
    return {
        "id": ds.new_id("audiences"),
        "name": name,
        "key": slug(name),
        "description": f"Audience {name}",
        "status": "archived" if index % 7 == 6 else "active",
        "preset": index == 0,
        "selected_default": False,
        "type": _AUDIENCE_TYPES[index % 3],
        "stats": {},
        "rules": {"OR": [{"AND": [{"OR_WHEN": [{"rule_type": "is_mobile",
                                               "matching": {"match_type": "equals", "negated": False},
                                               "value": True}]}]}]},
    }


def location(ds: "Dataset", rng: random.Random, index: int) -> Dict[str, Any]:
    name = ["All pages", "Product pages", "Checkout funnel", "Blog", "Homepage", "Pricing"][index % 6] + f" {index + 1}"
    return {
        "id": ds.new_id("locations"),
        "name": name,
        "key": slug(name),
        "description": f"Location {name}",
        "status": "archived" if index % 7 == 6 else "active",
        "preset": index == 0,
        "selected_default": index == 0,
        "stats": {},
        "rules": {"OR": [{"AND": [{"OR_WHEN": [{"rule_type": "url",
                                               "matching": {"match_type": "contains", "negated": False},
                                               "value": f"/{slug(name)}"}]}]}]},
        "trigger": {"type": "upon_run"},
    }


def feature(ds: "Dataset", rng: random.Random, index: int) -> Dict[str, Any]:
    name = ["New checkout", "Dark mode", "Recommendations", "Search v2", "Free shipping banner"][index % 5]
    name = f"{name} {index + 1}"
    return {
        "id": ds.new_id("features"),
        "name": name,
        "key": slug(name),
        "status": "archived" if index % 6 == 5 else "active",
        "description": f"Feature flag for {name}",
        "variables": [{"key": "enabled", "type": "boolean", "default_value": index % 2 == 0},
                      {"key": "copy", "type": "string", "default_value": f"{name} copy"},
                      {"key": "discount", "type": "float", "default_value": None if index % 3 else 0.15}],
    }


def _variations(ds: "Dataset", rng: random.Random, exp_key: str, exp_type: str, running: bool) -> List[Dict[str, Any]]:
    count = 2 if exp_type == "a/a" or rng.random() < 0.6 else 3
    shares = [round(100 / count, 2)] * count
    shares[-1] = round(100 - sum(shares[:-1]), 2)
    out = []
    for i in range(count):
        changes = []
        if i > 0 and exp_type != "a/a":
            for _ in range(rng.randint(1, 2)):
                ctype = rng.choice(_CHANGE_TYPES)
                data = ({"js": "document.title += ' (B)';"} if ctype == "customCode"
                        else {"css": "h1.hero { color: #0a6; }", "js": None, "custom_js": ""} if ctype == "defaultCode"
                        else {"selector": "h1.hero", "page_url": "https://www.shop-example.com/",
                              "html": "<h1 class=\"hero\">Try it free</h1>"})
                change_id = ds.new_id("changes")
                changes.append({"id": change_id, "type": ctype, "data": data, "concurrency_key": f"c{change_id}-1"})
        out.append({
            "id": ds.new_id("variations"),
            "name": "Original" if i == 0 else f"Variation {i}",
            "description": None if i == 0 else f"Variation {i} of {exp_key}",
            "is_baseline": i == 0,
            "traffic_distribution": shares[i],
            "key": f"{exp_key[:26]}-v{i}",
            "status": "running" if running else "stopped",
            "concurrency_key": f"{exp_key[:20]}-v{i}-1",
            "changes": changes,
        })
    return out


def _collaborator(ds: "Dataset", user_id: str, role: str, is_author: bool) -> Dict[str, Any]:
    """An experience collaborator as documented: the account user's name, ``role``, ``user_id``, ``is_author``."""
    user = next(u for u in ds.users_accesses if u["user_id"] == user_id)
    return {"first_name": user["first_name"], "last_name": user["last_name"], "role": role, "user_id": user_id,
            "is_author": is_author}


def experience_times(rng: random.Random, status: str, now: int) -> tuple:
    """(start_time, end_time) consistent with ``status`` relative to the dataset's ``now``."""
    today = now - now % DAY
    if status in ("draft", "scheduled"):
        return 0, 0
    if status == "active":
        return today - rng.randint(3, 60) * DAY + rng.randint(0, DAY - 1), 0
    start = today - rng.randint(45, 400) * DAY + rng.randint(0, DAY - 1)
    end = min(start + rng.randint(5, 35) * DAY + rng.randint(0, DAY - 1), now - 1)
    return start, end


def experience(ds: "Dataset", rng: random.Random, project_id: int, status: str, serial: int) -> Dict[str, Any]:
    """A complete experience (all optional fields present) with fresh ids for it and its variations."""
    fullstack = ds.projects[project_id]["project_type"] == "fullstack"
    exp_id = ds.new_id("experiences")
    if not fullstack and serial % 29 == 3:
        name = f"{_UNICODE_NAMES[(serial // 29) % len(_UNICODE_NAMES)]} #{serial}"
    else:
        name = f"{rng.choice(_NOUNS)}: {rng.choice(_ADJECTIVES)} variant #{serial}"
    exp_type = rng.choice(FULLSTACK_EXPERIENCE_TYPES if fullstack else WEB_EXPERIENCE_TYPES)
    key = f"{slug(name, 24)}-{serial}"
    start, end = experience_times(rng, status, ds.now)
    pool = ds.store[project_id]
    goal_ids = [g["id"] for g in pool["goals"].values() if g["status"] == "active"]
    goals = rng.sample(goal_ids, k=min(len(goal_ids), rng.randint(1, 3))) if goal_ids else []
    audience_ids = list(pool["audiences"])
    location_ids = list(pool["locations"])
    tag_ids = list(pool["tags"])
    users = [u["user_id"] for u in ds.users_accesses if u["user_id"] is not None]
    return {
        "id": exp_id,
        "project": project_id,
        "name": name,
        "key": key,
        "description": (f"Hypothesis: the {name.lower()} lifts conversions.\nSecond line with \"quotes\"."
                        if serial % 17 == 5 else f"Testing {name.lower()}"),
        "objective": f"Increase {rng.choice(['signups', 'revenue', 'engagement', 'clicks'])}",
        "type": exp_type,
        "status": status,
        "start_time": start,
        "end_time": end,
        "primary_goal": goals[0] if goals else None,
        "traffic_distribution": rng.choice([100, 100, 100, 50, 80]),
        "version": rng.randint(1, 25),
        "url": "" if fullstack else f"https://www.shop-example.com/{slug(name, 40)}",
        "global_js": "" if serial % 7 else "window.__sim = true;",
        "global_css": "",
        "settings": {"matching_options": {"audiences": "any", "locations": "any"},
                     "outliers": {"order_value": {"detection_type": "none"}}},
        "site_area": None if serial % 11 else {"include": [{"rule_type": "url", "value": f"/{slug(name, 40)}",
                                                            "matching": {"match_type": "contains", "negated": False}}],
                                               "exclude": []},
        "integrations": [] if serial % 5 else [{"provider": "google_analytics", "enabled": True, "type": "ga4"}],
        "screenshots_info": [],
        "environment": "production",
        "environments": ["production"],
        "customizations": [] if serial % 4 else [{"key": "max_visitors", "value": "5000"}],
        "multipage_pages": ([{"id": f"p{i}", "name": f"Step {i + 1}", "url": f"https://www.shop-example.com/step{i + 1}"}
                             for i in range(2)] if exp_type == "multipage" else []),
        "tags": rng.sample(tag_ids, k=min(len(tag_ids), rng.randint(0, 3))),
        "goals": goals,
        "audiences": rng.sample(audience_ids, k=min(len(audience_ids), rng.randint(0, 2))),
        "locations": [] if fullstack or not location_ids else rng.sample(location_ids, k=1),
        "alerts": ([{"code": "no_conversions_tracked", "title": "No conversions tracked",
                     "description": "No goal of this experience has converted yet."}]
                   if status == "active" and serial % 6 == 0 else []),
        "collaborators": [_collaborator(ds, u, rng.choice(_ROLES[:3]), i == 0)
                          for i, u in enumerate(rng.sample(users, k=min(len(users), rng.randint(1, 2))))]
                         if users else [],
        "concurrency_key": f"{exp_id}-{serial}",
        "variations": _variations(ds, rng, key, exp_type, status == "active"),
    }


def hypothesis(ds: "Dataset", rng: random.Random, project_id: int, index: int) -> Dict[str, Any]:
    attrs = {"potential": rng.randint(1, 5), "importance": rng.randint(1, 5), "ease": rng.randint(1, 5)}
    created = _ts_between(rng, ds.now - 500 * DAY, ds.now - DAY)
    start = created + rng.randint(0, 30) * DAY
    exps = list(ds.store[project_id]["experiences"])
    name = f"Hypothesis {index + 1}: {rng.choice(_NOUNS).lower()} friction"
    return {
        "id": ds.new_id("hypotheses"),
        "name": name,
        "url": None if index % 4 == 3 else f"https://www.shop-example.com/{slug(name, 30)}",
        "project": project_id,
        "prioritization_score": f"{sum(attrs.values()) / 3:.2f}",
        "objective": f"If we simplify the {rng.choice(_NOUNS).lower()}, more visitors convert.",
        "status": _HYPOTHESIS_STATUSES[index % len(_HYPOTHESIS_STATUSES)],
        "start_date": _date(start),
        "end_date": None if index % 3 == 0 else _date(start + rng.randint(7, 60) * DAY),
        "summary": f"Summary of hypothesis {index + 1}",
        "description": None if index % 5 == 4 else f"Why we believe hypothesis {index + 1} holds, and how to test it.",
        "files": _files(f"hypotheses/{index + 1}", index % 3),
        "created_at": created,
        "updated_at": created + (index * 7919) % (ds.now - created),
        "created_by": _person(index),
        "prioritization_score_type": "PIE",
        "prioritization_score_attributes": attrs,
        "experiences": rng.sample(exps, k=min(len(exps), rng.randint(0, 2))),
        "tags": rng.sample(list(ds.store[project_id]["tags"]), k=min(len(ds.store[project_id]["tags"]), rng.randint(0, 2))),
    }


def knowledge_base(ds: "Dataset", rng: random.Random, project_id: int, index: int) -> Dict[str, Any]:
    topic = rng.choice(_NOUNS)
    return {
        "id": ds.new_id("knowledge-bases"),
        "name": f"{topic} learnings {index + 1:02d}",
        "project": project_id,
        "status": "archived" if index % 10 == 9 else "active",
        "summary": f"What we learned about the {topic.lower()}",
        "created_by": _person(index + 1),
        "updated_at": _ts_between(rng, ds.now - 300 * DAY, ds.now - 60),
        **_knowledge_details(ds, project_id, index, topic),
        "tags": rng.sample(list(ds.store[project_id]["tags"]), k=min(len(ds.store[project_id]["tags"]), rng.randint(0, 2))),
    }


def _files(folder: str, count: int) -> List[Dict[str, Any]]:
    """Attached files as documented: ``key``, ``name`` and (read-only) ``url``."""
    return [{"key": f"{folder}/file-{i + 1}.png", "name": f"Screenshot {i + 1}.png",
             "url": f"https://cdn.example.com/{folder}/file-{i + 1}.png"} for i in range(count)]


def _knowledge_details(ds: "Dataset", project_id: int, index: int, topic: str) -> Dict[str, Any]:
    """The documented fields of a knowledge base entry beyond its summary, from their own random stream
    (so the rest of the generated account stays as it was)."""
    rng = random.Random(f"{ds.seed}:knowledge:{project_id}:{index}")
    start = ds.now - rng.randint(60, 400) * DAY
    attrs = {"potential": rng.randint(1, 5), "importance": rng.randint(1, 5), "ease": rng.randint(1, 5)}
    experiences = sorted(ds.store[project_id]["experiences"])
    return {
        "url": None if index % 4 == 3 else f"https://www.shop-example.com/{slug(topic)}",
        "objective": f"Learn what moves the {topic.lower()}",
        "start_date": _date(start),
        "end_date": None if index % 3 == 0 else _date(start + rng.randint(7, 50) * DAY),
        "prioritization_score_type": None if index % 5 == 4 else "PIE",
        "prioritization_score_attributes": None if index % 5 == 4 else attrs,
        "experiences": rng.sample(experiences, k=min(len(experiences), rng.randint(0, 2))),
        "description": f"Notes on the {topic.lower()}: what we tried and what we saw.",
        "files": _files(f"knowledge-bases/{project_id}-{index + 1}", index % 2),
    }


def observation(ds: "Dataset", rng: random.Random, project_id: int, index: int) -> Dict[str, Any]:
    topic = rng.choice(_NOUNS)
    oid = ds.new_id("observations")
    created = _ts_between(rng, ds.now - 400 * DAY, ds.now - 60)
    return {
        "id": oid,
        "name": f"Observation {index + 1:02d}: {topic.lower()} drop-off",
        "description": f"Heatmap shows visitors ignore the {topic.lower()}.",
        "project": project_id,
        "status": "archived" if index % 8 == 7 else "active",
        "url": f"https://www.shop-example.com/{slug(topic)}",
        "created_by": _person(index + 2),
        "created_at": created,
        "updated_at": created + (oid * 3571) % (ds.now - created),
        "images": [] if index % 3 else [{"name": f"shot-{oid}.png", "url": f"https://cdn.example.com/obs/{oid}.png"}],
        "files": _files(f"observations/{oid}", (index + 1) % 3),
        "tags": rng.sample(list(ds.store[project_id]["tags"]), k=min(len(ds.store[project_id]["tags"]), rng.randint(0, 2))),
    }


def collaborators(count: int) -> List[Dict[str, Any]]:
    """Account users; the last one is a pending invite (``user_id`` null)."""
    out = []
    for i in range(count):
        first, last = _person(i).split(" ", 1)
        pending = i == count - 1 and count > 1
        role = _ROLES[min(i, len(_ROLES) - 1)]
        projects = [WEB_PROJECT_ID, FULLSTACK_PROJECT_ID] if i == 0 else [WEB_PROJECT_ID]
        out.append({
            "first_name": first,
            "last_name": last,
            "email": f"{first.lower()}.{last.lower().replace(' ', '')}@example.com",
            "user_id": None if pending else str(5001 + i),
            "accesses": [{"role": role, "status": "pending" if pending else "active",
                          "api_access": i < 2, "project": p} for p in projects],
        })
    return out


def history_user(ds: "Dataset", author_id: int, method: str) -> str:
    """Who made a change, as a history event names it: the user's email, or for an API change the key's name."""
    if method == "api":
        return f"API key {author_id}"
    email = next((u["email"] for u in ds.users_accesses if u["user_id"] == str(author_id)), None)
    return email or f"user {author_id}"


def history_changes(event: str, data: Mapping[str, Any], serial: int) -> Dict[str, Any]:
    """The ``changes`` of an event that says only which fields changed (``data``): ``old`` null for a create,
    ``new`` null for a delete, else each changed field's before and after (made up, unique per event)."""
    fields = list(data.get("changed_fields") or [])
    name = data.get("name")
    action = event.rsplit(".", 1)[-1]
    if action == "create":
        return {"old": None, "new": {"name": name}}
    if action == "delete":
        return {"old": {"name": name}, "new": None}
    return {"old": {field: f"{field} before change {serial}" for field in fields},
            "new": {field: f"{field} after change {serial}" for field in fields}}


def history_event(ds: "Dataset", project_id: int, obj: str, object_id: int, event: str, timestamp: int,
                  method: str = "app", author_id: int = 5001, data: Optional[Dict[str, Any]] = None,
                  changes: Optional[Dict[str, Any]] = None, parent_object_id: Optional[int] = None,
                  request_id: Any = "auto") -> Dict[str, Any]:
    """One change-history record as stored: the documented fields (``render.history_event`` serves them,
    ``object_id`` and ``parent_object_id`` as strings) and, never served, the store key ``id``, the
    ``author_id`` (the experience history's filter), ``project_id`` and ``data`` (what changed, in short).

    ``changes`` defaults to ``history_changes``; ``request_id`` ("auto") to one per API change and null
    for a change made in the app."""
    serial = ds.new_id("change-history")
    data = data if data is not None else {}
    return {
        "id": serial,
        "timestamp": int(timestamp),
        "event": event,
        "object": obj,
        "object_id": object_id,
        "parent_object_id": parent_object_id,
        "method": method,
        "user": history_user(ds, author_id, method),
        "request_id": (f"req-{serial:08x}" if method == "api" else None) if request_id == "auto" else request_id,
        "changes": changes if changes is not None else history_changes(event, data, serial),
        "info": {"isAdminChange": False, "text": f"{event} {obj} {object_id}"},
        "author_id": author_id,
        "project_id": project_id,
        "data": data,
    }


HISTORY_OBJECTS = {  # change-history object name -> store kind
    "experience": "experiences", "goal": "goals", "audience": "audiences", "location": "locations",
    "hypothesis": "hypotheses", "tag": "tags", "domain": "domains", "feature": "features",
}
_HISTORY_WEIGHTS = {"experience": 60, "goal": 12, "audience": 8, "location": 5, "hypothesis": 6,
                    "tag": 4, "domain": 3, "feature": 5}


def history(ds: "Dataset", rng: random.Random, project_id: int, count: int) -> List[Dict[str, Any]]:
    """``count`` events over the last ~400 days, ids ascending with time; a few share a timestamp."""
    pool = ds.store[project_id]
    objects = [o for o in _HISTORY_WEIGHTS if pool[HISTORY_OBJECTS[o]]]
    if not objects:
        return []
    weights = [_HISTORY_WEIGHTS[o] for o in objects]
    stamps = sorted(rng.randint(ds.now - 400 * DAY, ds.now - 3600) for _ in range(count))
    for i in range(1, count, 40):  # bulk edits: two events in the same second
        stamps[i] = stamps[i - 1]
    users = [int(u["user_id"]) for u in ds.users_accesses if u["user_id"]] or [5001]
    events = []
    for ts in stamps:
        obj = rng.choices(objects, weights)[0]
        target = rng.choice(list(pool[HISTORY_OBJECTS[obj]].values()))
        action = "create" if rng.random() < 0.2 else "update"
        data = {"name": target.get("name", target.get("url"))}
        if action == "update":
            data["changed_fields"] = sorted(rng.sample(["name", "status", "description", "settings", "tags"], k=2))
        events.append(history_event(ds, project_id, obj, target["id"], f"{obj}.{action}", ts,
                                    method=rng.choice(["app", "app", "api"]), author_id=rng.choice(users), data=data))
    return events


def experience_history(ds: "Dataset", project_id: int, exps: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Past events of started experiences' own histories (objects variation/change), ids ascending with time.

    Each started experience got its traffic split set half an hour before it started (``variation.update``
    of its last variation, in the app) and, when a variation has changes, one change edited through the API
    an hour before it started.
    """
    plans = []
    for exp in exps:
        start, variations = exp.get("start_time") or 0, exp.get("variations") or []
        if not start or not variations:
            continue
        last = variations[-1]
        plans.append((start - 1800, exp["id"], "variation", last["id"],
                      {"experience_id": exp["id"], "variation_id": last["id"], "name": last["name"],
                       "changed_fields": ["traffic_distribution"]}))
        changed = next(((v, c) for v in variations for c in v.get("changes") or []), None)
        if changed is not None:
            plans.append((start - 3600, exp["id"], "change", changed[1]["id"],
                          {"experience_id": exp["id"], "variation_id": changed[0]["id"], "changed_fields": ["data"]}))
    plans.sort(key=lambda plan: (plan[0], plan[1], plan[2]))
    return [history_event(ds, project_id, obj, object_id, f"{obj}.update", ts, author_id=5001 + exp_id % 3,
                          method="api" if obj == "change" else "app", data=data, parent_object_id=exp_id)
            for ts, exp_id, obj, object_id, data in plans]


def status_cycle(index: int) -> str:
    return _STATUS_CYCLE[index % len(_STATUS_CYCLE)]
