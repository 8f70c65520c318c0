"""HTTP-independent Convert API v2 handlers: route matching and the response of every endpoint.

Options (see ``Api.__init__``): ``daily_totals`` (how daily-report ``totals`` read), ``vanished_experiences``
(ids whose per-experience paths answer 404 while still listed), ``key_projects`` (a key restricted to
some projects: other projects are hidden from the list and their paths answer 403), and the two readings
of what the spec contradicts: ``single_objects`` (single-object GETs bare or wrapped in ``{data}``) and
``error_fields_key`` (a 422 names its bad inputs under ``parameters`` or ``fields``).
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, List, Optional, Set, Tuple

from . import listing
from . import params as P
from . import render, reports
from . import segments as segs
from . import statistics as stats
from . import sections as mvt
from .dataset import Dataset
from .generator import ACCOUNT_ID
from .render import Context

PREFIX = "/api/v2"
COLLECTIONS = ("experiences", "goals", "audiences", "locations", "hypotheses", "knowledge-bases", "observations",
               "tags", "domains", "features", "change-history")
_SINGLE = "|".join(re.escape(c) for c in COLLECTIONS if c != "change-history")
_LIST = "|".join(re.escape(c) for c in COLLECTIONS)
_ACC = r"/accounts/(?P<a>\d+)"
_PRJ = _ACC + r"/projects/(?P<p>\d+)"
_EXP = _PRJ + r"/experiences/(?P<e>\d+)"
DAILY_METRICS = reports.DAILY_METRICS
AGG_METRICS = stats.AGGREGATED_METRICS
DAILY_TOTALS = ("day", "running", "broken")
REPORT_METRICS = ("full", "deprecated_only", "with_unknown")  # aggregated_report: metrics[] as published, none, or more
# Single-object GETs: "documented" answers each as its operation declares (project, experience and the
# other objects bare; account details and report settings wrapped in ``{data}``), "wrapped" every one
# in ``{data}``, "bare" every one bare (the spec declares both shapes for single objects).
SINGLE_OBJECTS = ("documented", "wrapped", "bare")
_SECTION_OPTIONS = ("versions", "versions.changes")
# single-object GET: allowed include / expand query values
_GET_INCLUDE = {"experiences": listing.EXPERIENCE_INCLUDE, "goals": ("triggering_rule", "stats"),
                "locations": ("rules", "trigger", "stats.experiences_usage"),
                "audiences": ("rules", "stats.experiences_usage"), "features": ("stats",)}
_GET_EXPAND = {"experiences": listing.EXPERIENCE_EXPAND, "hypotheses": ("project", "tags", "experiences"),
               "knowledge-bases": ("project", "tags"), "observations": ("project", "tags")}
Response = Tuple[int, Dict[str, Any]]


@dataclass
class ApiRequest:
    """A request that already passed authentication."""

    method: str
    path: str
    query: Dict[str, List[str]]
    body: Optional[Dict[str, Any]]


class Api:
    """Routes requests for one dataset. Thread-safe: every handler runs under ``dataset.lock``."""

    def __init__(self, dataset: Dataset, pagination_count: bool = True, history_id_style: str = "object_id",
                 daily_totals: str = "day", vanished_experiences: Optional[Iterable[int]] = None,
                 key_projects: Optional[Iterable[int]] = None, single_objects: str = "documented",
                 error_fields_key: str = "parameters", ignore_segments: bool = False,
                 report_metrics: str = "full") -> None:
        """``daily_totals``: see ``daily_report``. ``ignore_segments``, ``report_metrics``: see
        ``aggregated_report``. ``vanished_experiences``: a live set of experience ids
        answering 404 on every per-experience path (they stay in lists). ``key_projects``: None (all
        projects) or the only project ids the key may see. ``single_objects``: see ``SINGLE_OBJECTS``.
        ``error_fields_key``: see ``params.ERROR_FIELDS_KEYS``."""
        if history_id_style not in render.HISTORY_ID_STYLES:
            raise ValueError(f"unknown history_id_style {history_id_style!r}; "
                             f"expected one of {', '.join(render.HISTORY_ID_STYLES)}")
        self.ds = dataset
        self.daily_totals = daily_totals
        self.single_objects = single_objects
        self.error_fields_key = error_fields_key
        self.ignore_segments = ignore_segments
        if report_metrics not in REPORT_METRICS:
            raise ValueError(f"unknown report_metrics {report_metrics!r}; expected one of {', '.join(REPORT_METRICS)}")
        self.report_metrics = report_metrics
        self.vanished_experiences: Set[int] = set(vanished_experiences or ())
        self.key_projects: Optional[Set[int]] = None if key_projects is None else set(key_projects)
        self.model = reports.ReportModel(dataset.seed)
        self.pagination_count = pagination_count
        self.history_id_style = history_id_style
        self.routes: List[Tuple[str, re.Pattern, Callable[..., Response]]] = [
            ("GET", re.compile(r"/accounts"), self.accounts),
            ("GET", re.compile(_ACC + r"/details"), self.account_details),
            ("GET", re.compile(_ACC + r"/users-accesses"), self.users_accesses),
            ("GET", re.compile(_ACC + r"/api-keys"), self.api_keys),
            ("POST", re.compile(_ACC + r"/projects"), self.list_projects),
            ("GET", re.compile(_PRJ), self.get_project),
            ("GET", re.compile(_PRJ + r"/sdk-keys"), self.sdk_keys),
            ("POST", re.compile(_PRJ + rf"/(?P<c>{_LIST})"), self.list_collection),
            ("GET", re.compile(_PRJ + rf"/(?P<c>{_SINGLE})/(?P<id>\d+)"), self.get_object),
            ("POST", re.compile(_EXP + r"/aggregated_report"), self.aggregated_report),
            ("POST", re.compile(_EXP + r"/daily_report"), self.daily_report),
            ("POST", re.compile(_EXP + r"/daily_traffic_allocation"), self.daily_traffic_allocation),
            ("GET", re.compile(_EXP + r"/report_settings"), self.report_settings),
            ("POST", re.compile(_EXP + r"/change-history"), self.experience_history),
            ("GET", re.compile(_EXP + r"/sections"), self.sections),
        ]

    @property
    def daily_totals(self) -> str:
        return self._daily_totals

    @daily_totals.setter
    def daily_totals(self, value: str) -> None:
        if value not in DAILY_TOTALS:
            raise ValueError(f"unknown daily_totals {value!r}; expected one of {', '.join(DAILY_TOTALS)}")
        self._daily_totals = value

    @property
    def single_objects(self) -> str:
        return self._single_objects

    @single_objects.setter
    def single_objects(self, value: str) -> None:
        if value not in SINGLE_OBJECTS:
            raise ValueError(f"unknown single_objects {value!r}; expected one of {', '.join(SINGLE_OBJECTS)}")
        self._single_objects = value

    @property
    def error_fields_key(self) -> str:
        return self._error_fields_key

    @error_fields_key.setter
    def error_fields_key(self, value: str) -> None:
        if value not in P.ERROR_FIELDS_KEYS:
            raise ValueError(f"unknown error_fields_key {value!r}; expected one of {', '.join(P.ERROR_FIELDS_KEYS)}")
        self._error_fields_key = value

    def handle(self, req: ApiRequest) -> Response:
        """Answer one request; errors come back as Convert-shaped bodies."""
        try:
            return self._dispatch(req)
        except P.ApiError as err:
            return err.status, err.payload(self._error_fields_key)

    def _single(self, obj: Dict[str, Any], documented_wrapped: bool) -> Dict[str, Any]:
        """One object as a single-object GET answers it under ``single_objects``."""
        wrapped = {"documented": documented_wrapped, "wrapped": True, "bare": False}[self._single_objects]
        return {"data": obj} if wrapped else obj

    def _dispatch(self, req: ApiRequest) -> Response:
        if not req.path.startswith(PREFIX + "/"):
            raise P.ApiError(404, "Not found")
        path = req.path[len(PREFIX):]
        wrong_method = False
        for method, pattern, handler in self.routes:
            match = pattern.fullmatch(path)
            if not match:
                continue
            if method != req.method:
                wrong_method = True
                continue
            args = match.groupdict()
            if "a" in args and int(args.pop("a")) != ACCOUNT_ID:
                raise P.ApiError(403, "You do not have access to this account")
            with self.ds.lock:
                if "p" in args:
                    args["p"] = self._project(args["p"])
                return handler(req, **args)
        if wrong_method:
            raise P.ApiError(405, "Method not allowed")
        raise P.ApiError(404, "Not found")

    # ------------------------------------------------------------------ helpers
    def _project(self, raw: str) -> int:
        pid = int(raw)
        if self.key_projects is not None and pid not in self.key_projects:
            raise P.ApiError(403, "You do not have access to this project")
        if pid not in self.ds.projects:
            raise P.ApiError(404, "Project not found")
        return pid

    def _experience(self, pid: int, raw: str) -> Dict[str, Any]:
        exp = self.ds.find(pid, "experiences", int(raw))
        if exp is None or exp["id"] in self.vanished_experiences:
            raise P.ApiError(404, "Experience not found")
        return exp

    @staticmethod
    def _body(req: ApiRequest) -> Dict[str, Any]:
        if req.body is None:
            return {}
        if not isinstance(req.body, dict):
            raise P.invalid("body", "must be a JSON object")
        return req.body

    # ------------------------------------------------------------------ account level
    def accounts(self, req: ApiRequest) -> Response:
        acc = self.ds.account
        return 200, {"data": [{k: acc[k] for k in ("id", "name", "accountType", "accessRole")}]}

    def account_details(self, req: ApiRequest) -> Response:
        include = P.query_array(req.query, "include", ("stats",))
        acc = self.ds.account
        data = {k: acc[k] for k in ("id", "name", "accountType", "accessRole", "access_all_projects", "settings",
                                    "billing", "limitsAndCapabilities")}
        if "stats" in include:
            data["stats"] = dict(acc["stats"], projects_count=len(self.ds.projects))
        return 200, self._single(_copy(data), documented_wrapped=True)

    def users_accesses(self, req: ApiRequest) -> Response:
        expand = P.query_array(req.query, "expand", ("accesses.project",))
        users = _copy(self.ds.users_accesses)
        if expand:
            for user in users:
                for access in user["accesses"]:
                    if access["project"] in self.ds.projects:
                        ctx = Context(self.ds, self.model, access["project"])
                        access["project"] = render.plain(ctx, "projects", self.ds.projects[access["project"]])
        return 200, {"data": users}

    def api_keys(self, req: ApiRequest) -> Response:
        return 200, {"data": _copy(self.ds.api_keys)}

    # ------------------------------------------------------------------ project level
    def list_projects(self, req: ApiRequest) -> Response:
        lreq = listing.parse(listing.SPECS["projects"], self._body(req))
        ctx = Context(self.ds, self.model, 0)
        visible = [r for pid, r in self.ds.projects.items() if self.key_projects is None or pid in self.key_projects]
        chosen = listing.select("projects", visible, lreq, ctx)
        data = [render.project(ctx, r, lreq.include, lreq.expand) for r in listing.page_slice(chosen, lreq)]
        return 200, listing.envelope(data, len(chosen), lreq, self.pagination_count)

    def get_project(self, req: ApiRequest, p: int) -> Response:
        include = P.query_array(req.query, "include", listing.PROJECT_INCLUDE)
        expand = P.query_array(req.query, "expand", listing.PROJECT_EXPAND)
        return 200, self._single(render.project(Context(self.ds, self.model, p), self.ds.projects[p], include, expand),
                                 documented_wrapped=False)

    def sdk_keys(self, req: ApiRequest, p: int) -> Response:
        return 200, {"data": _copy(self.ds.sdk_keys.get(p, []))}

    def list_collection(self, req: ApiRequest, p: int, c: str) -> Response:
        lreq = listing.parse(listing.SPECS[c], self._body(req))
        ctx = Context(self.ds, self.model, p, self.history_id_style)
        chosen = listing.select(c, self.ds.records(p, c), lreq, ctx)
        page = listing.page_slice(chosen, lreq)
        if c == "experiences":
            data = [render.experience(ctx, r, lreq.include, lreq.expand, lreq.filters.get("goal_id")) for r in page]
        else:
            data = [render.record(ctx, c, r, lreq.include, lreq.expand) for r in page]
        return 200, listing.envelope(data, len(chosen), lreq, self.pagination_count)

    def get_object(self, req: ApiRequest, p: int, c: str, id: str) -> Response:
        include = P.query_array(req.query, "include", _GET_INCLUDE.get(c, ()))
        expand = P.query_array(req.query, "expand", _GET_EXPAND.get(c, ()))
        rec = self.ds.find(p, c, int(id))
        if c == "experiences" and rec is not None and rec["id"] in self.vanished_experiences:
            rec = None
        if rec is None:
            raise P.ApiError(404, f"{c.rstrip('s').replace('-', ' ').capitalize()} not found")
        ctx = Context(self.ds, self.model, p)
        if c == "experiences":
            return 200, self._single(render.experience(ctx, rec, include, expand), documented_wrapped=False)
        return 200, self._single(render.record(ctx, c, rec, include, expand), documented_wrapped=False)

    # ------------------------------------------------------------------ per experience
    def experience_history(self, req: ApiRequest, p: int, e: str) -> Response:
        """The experience's own change history (objects variation/change/report), paged like the project's."""
        exp = self._experience(p, e)
        lreq = listing.parse(listing.SPECS["experience-history"], self._body(req))
        ctx = Context(self.ds, self.model, p, self.history_id_style)
        events = list(self.ds.experience_history.get(exp["id"], {}).values())
        chosen = listing.select("experience-history", events, lreq, ctx)
        data = [render.record(ctx, "change-history", r, (), lreq.expand) for r in listing.page_slice(chosen, lreq)]
        return 200, listing.envelope(data, len(chosen), lreq, self.pagination_count)

    def sections(self, req: ApiRequest, p: int, e: str) -> Response:
        """MVT sections (``sections.py``: stored for generated MVT experiences, else one section "A" whose
        versions mirror the variations); ``[]`` for other types. Answered as the spec declares:
        ``{data, concurrency_key}`` (a digest of the sections as stored)."""
        include = P.query_array(req.query, "include", _SECTION_OPTIONS)
        expand = P.query_array(req.query, "expand", _SECTION_OPTIONS)
        exp = self._experience(p, e)
        if exp.get("type") != "mvt":
            return 200, {"data": [], "concurrency_key": _digest([])}
        return 200, {"data": mvt.sections(self.ds, exp, set(include) | set(expand)),
                     "concurrency_key": _digest(mvt.sections(self.ds, exp, set(_SECTION_OPTIONS)))}

    # ------------------------------------------------------------------ reports
    def _report_days(self, exp: Dict[str, Any], body: Dict[str, Any]) -> Tuple[int, List[int], List[int]]:
        """(utc_offset, every local run day, the run days inside start_time..end_time).

        Days are local midnights in UTC+``utc_offset`` as UTC seconds; a null or absent bound is unbounded.
        """
        offset = P.opt_int(body, "utc_offset", 0, minimum=-43200, maximum=50400)
        start, end = P.opt_number(body, "start_time"), P.opt_number(body, "end_time")
        run = self.ds.run_days(exp, offset)
        return offset, run, [d for d in run if (start is None or d >= start) and (end is None or d <= end)]

    def _goal_is_revenue(self, pid: int, goal_id: int) -> bool:
        goal = self.ds.find(pid, "goals", goal_id) or {}
        return goal.get("type") == "revenue"

    def report_settings(self, req: ApiRequest, p: int, e: str) -> Response:
        """``{data: {campaigns: [{name, visitors_count}], custom_segments: [{id, name}]}}``, as documented
        (``Dataset.report_settings``)."""
        exp = self._experience(p, e)
        return 200, self._single(self.ds.report_settings(p, exp), documented_wrapped=True)

    def aggregated_report(self, req: ApiRequest, p: int, e: str) -> Response:
        """The published shape: ``stats_methodology``, ``variations_data`` and per goal ``srm``, ``srm_pvalue``
        and per variation ``visitors``, the deprecated ``conversion_data/revenue_data/products_data`` and
        ``metrics[]`` (``statistics.py``). ``goals`` and ``metrics`` filter; ``segments`` filters the
        visitors (``segments.py``). conversion_rate is reported for every goal, the revenue and product
        metrics for goals of type revenue. Options: ``ignore_segments`` answers every filtered request
        with the unfiltered numbers; ``report_metrics`` "deprecated_only" leaves out ``metrics[]``,
        "with_unknown" adds a metric type and a statistic the published schema does not have."""
        exp = self._experience(p, e)
        body = self._body(req)
        goals = P.opt_list(body, "goals", "int")
        wanted = P.opt_list(body, "metrics", "str", AGG_METRICS)
        segments_filter = self._segments_filter(body)
        offset, run, days = self._report_days(exp, body)
        method = stats.methodology(exp, body)
        exp_goals = exp.get("goals") or []
        for i, goal_id in enumerate(goals or []):
            if goal_id not in exp_goals:
                raise P.invalid("goals", f"[{i}] is not a goal of experience {exp['id']}")
        variations = exp.get("variations") or []
        segment_ids = self.segmentation_audiences(p)
        report_data = []
        if run:
            for goal_id in goals if goals is not None else exp_goals:
                revenue = self._goal_is_revenue(p, goal_id)
                totals = {v["id"]: segs.filtered(self.model.totals(exp["id"], v, goal_id, revenue, days, offset),
                                                 self.model.seed, exp["id"], v["id"],
                                                 None if self.ignore_segments else segments_filter, segment_ids)
                          for v in variations}
                names = [m for m in AGG_METRICS if (wanted is None or m in wanted)
                         and (m == "conversion_rate" or revenue)]
                goal_srm, metrics = stats.goal_report(method, variations, totals, names)
                base = next((totals[v["id"]] for v in variations if v["is_baseline"]), reports.ZERO)
                rows = []
                for v in variations:
                    row = self._deprecated_figures(totals[v["id"]], base, v["is_baseline"])
                    if self.report_metrics != "deprecated_only":
                        row["metrics"] = metrics[v["id"]]
                        if self.report_metrics == "with_unknown":
                            for item in row["metrics"]:
                                item[stats.UNKNOWN_STATISTIC] = 1.5
                            row["metrics"].append({"metric_type": stats.UNKNOWN_METRIC, "metric_total": 7,
                                                   "metric_value": 3.25, "metric_change": 0.0})
                    rows.append({"id": v["id"], **row})
                report_data.append({"goal_id": goal_id, **goal_srm, "variations": rows})
        variations_data = [{k: v[k] for k in ("id", "name", "description", "is_baseline", "traffic_distribution", "key",
                                              "status")} for v in variations]
        return 200, {"data": {"stats_methodology": method, "variations_data": variations_data, "reportData": report_data}}

    @staticmethod
    def _deprecated_figures(t: reports.Totals, base: reports.Totals, baseline: bool) -> Dict[str, Any]:
        """``visitors`` and the deprecated ``conversion_data``, ``revenue_data``, ``products_data`` (percent)."""
        return {
            "visitors": t.visitors,
            "conversion_data": {
                "conversions": t.conversions,
                "conversion_rate": reports.rate(t.conversions, t.visitors),
                # numbers, not null, as published (the baseline: no change, no confidence)
                "conversion_rate_change": 0.0 if baseline else reports.change(base, t),
                "confidence": 0.0 if baseline else reports.confidence(base, t),
            },
            "revenue_data": {"total_revenue": t.revenue, "revenue_per_visitor": reports.per_visitor(t.revenue, t.visitors)},
            "products_data": {"total_products": t.products},
        }

    def _segments_filter(self, body: Dict[str, Any]) -> Optional[Dict[str, List[Any]]]:
        """``segments`` checked as published: every key optional and nullable, enum values where the spec has an enum."""
        raw = body.get("segments")
        if raw is None:
            return None
        if not isinstance(raw, dict):
            raise P.invalid("segments", "must be an object")
        for key in raw:
            if key not in segs.DIMENSIONS:
                raise P.invalid(f"segments.{key}", "is not allowed")
        checked: Dict[str, List[Any]] = {}
        for dimension in segs.DIMENSIONS:
            values = P.opt_list(raw, dimension, "int" if dimension == "custom_segments" else "str",
                                segs.ENUMS.get(dimension))
            if dimension == "countries":
                for i, code in enumerate(values or []):
                    if len(code) != 2:
                        raise P.invalid("segments.countries", f"[{i}] must be a 2-letter ISO country code")
            if values is not None:
                checked[dimension] = values
        return checked

    def segmentation_audiences(self, pid: int) -> List[int]:
        """The project's audiences of type segmentation (the custom segments a report can filter by)."""
        return sorted(a["id"] for a in self.ds.store[pid]["audiences"].values() if a.get("type") == "segmentation")

    def daily_report(self, req: ApiRequest, p: int, e: str) -> Response:
        """The documented daily report: ``{variations_data, reportData: {variations: [{id, stats}], extra}}``,
        one ``stats`` entry ``{timestamp, value, visitors, totals}`` per run day in the window.

        ``visitors`` and ``value`` are the day's own numbers (report_type non_cumulative) or the running
        sums since the first run day (cumulative); ``value`` is ``reports.daily_value`` (conversion_rate in
        percent). ``totals`` is one number, per the metric (``reports.daily_total``: conversions, revenue,
        products, or the day's average per order), read per ``daily_totals``: "day" = the total ``value`` was
        computed from; "running" = its running sum from the experience's first run day up to and including
        that day, whatever the request's start_time; "broken" = a number fitting neither reading.
        ``extra`` has the day's ``total_visitors`` over all variations.
        """
        exp = self._experience(p, e)
        body = self._body(req)
        name = "goal" if body.get("goal") is not None else "goal_id"
        raw_goal = P.opt_number(body, name)
        if raw_goal is not None and raw_goal != int(raw_goal):
            raise P.invalid(name, "must be an integer")
        goal_id = int(raw_goal) if raw_goal is not None else exp.get("primary_goal")
        if goal_id is None or goal_id not in (exp.get("goals") or []):
            raise P.invalid("goal", f"must be one of the goals of experience {exp['id']}")
        metric = P.opt_enum(body, "metric", DAILY_METRICS, "conversion_rate")
        cumulative = P.opt_enum(body, "report_type", ("cumulative", "non_cumulative"), "non_cumulative") == "cumulative"
        offset, run, days = self._report_days(exp, body)
        window = set(days)
        revenue = self._goal_is_revenue(p, goal_id)
        rows, visitors_by_day = [], {day: 0 for day in days}
        for v in exp.get("variations") or []:
            acc, averages, stats = reports.ZERO, 0.0, []
            for day in run:
                cell = self.model.cell(exp["id"], v["id"], v["is_baseline"], goal_id, revenue, day, offset)
                acc = acc.plus(cell)
                own_total = reports.daily_total(metric, reports.Totals(*cell))
                averages = round(averages + own_total, 6)  # the running sum of the daily averages per order
                running_total = averages if metric in reports.AVERAGE_METRICS else reports.daily_total(metric, acc)
                if day not in window:
                    continue
                shown = acc if cumulative else reports.Totals(*cell)
                visitors_by_day[day] += shown.visitors
                stats.append({"timestamp": day, "value": reports.daily_value(metric, shown), "visitors": shown.visitors,
                              "totals": self._daily_total_of(metric, shown, own_total, running_total, day, cell)})
            rows.append({"id": v["id"], "stats": stats})
        extra = [{"type": "total_visitors", "stats": [{"timestamp": day, "value": visitors_by_day[day]} for day in days]}]
        return 200, {"data": {"variations_data": self._variations_data(exp),
                              "reportData": {"variations": rows, "extra": extra}}}

    def daily_traffic_allocation(self, req: ApiRequest, p: int, e: str) -> Response:
        """The documented daily traffic allocation: ``{variations_data, reportData: {variations: [{id, stats}]}}``,
        one ``stats`` point ``{timestamp, value}`` per run day in the window (the body is a time range only),
        ``value`` the variation's share of the traffic that day in percent (``reports.traffic_allocation``:
        moving for MAB experiences, the set distribution for the others)."""
        exp = self._experience(p, e)
        body = self._body(req)
        unknown = sorted(set(body) - {"utc_offset", "start_time", "end_time"})
        if unknown:
            raise P.invalid(unknown[0], "is not a field of a time range")
        offset, _, days = self._report_days(exp, body)
        variations = exp.get("variations") or []
        shares = {day: reports.traffic_allocation(self.model.seed, exp["id"], variations, day, offset) for day in days}
        rows = [{"id": v["id"], "stats": [{"timestamp": day, "value": shares[day][v["id"]]} for day in days]}
                for v in variations]
        return 200, {"data": {"variations_data": self._variations_data(exp), "reportData": {"variations": rows}}}

    def _daily_total_of(self, metric: str, shown: reports.Totals, own: float, running: float, day: int,
                        cell: reports.Cell) -> float:
        if self._daily_totals == "running":
            return running
        if self._daily_totals == "broken":
            return round(own + running + 1.5 + reports.noise(self.model.seed, day, cell.visitors), 2)
        return reports.daily_total(metric, shown)

    @staticmethod
    def _variations_data(exp: Dict[str, Any]) -> List[Dict[str, Any]]:
        """The report's ``variations_data``: each variation's documented fields."""
        fields = ("id", "name", "description", "is_baseline", "traffic_distribution", "key", "status")
        return [{k: v[k] for k in fields if k in v} for v in exp.get("variations") or []]


def _copy(value: Any) -> Any:
    return copy.deepcopy(value)


def _digest(value: Any) -> str:
    """A stable hash of a JSON value (a ``concurrency_key``)."""
    return hashlib.sha1(json.dumps(value, sort_keys=True).encode("utf-8")).hexdigest()[:16]
