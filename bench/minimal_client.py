"""A minimal hand-written Convert client: the CPU and request baseline for the connector.

    python bench/minimal_client.py --config config.json --streams experiences,daily_reports

Only ``requests``, ``json`` and ``hmac``. For each stream it makes the fewest requests that return
the same records as a first (stateless) sync of the connector, and writes the same Airbyte RECORD
lines to stdout, one stream after the other, on one keep-alive session:

* lists of 50 a page that stop on a short page or once ``page * 50 >= items_count``, naming every
  status the API documents for the object (Convert may leave archived and deleted objects out of a
  list that names none);
* for the change-driven lists (experiences, experience_details, variations, goals, audiences,
  locations), first the newest change-history event: its ``timestamp`` is the records' ``changed_at``,
  a time only Convert can tell (the local clock is not Convert's);
* for the report streams, the started experiences (every status but ``deleted``), then one report
  per experience (aggregated) or per experience goal and metric that applies (daily).

Each stream is read as if it were alone: a stream's prerequisites (the newest-event request, the
started-experiences list) are not shared between streams, as in the benchmark's minimum model.
No credentials check, no retries, no state, no schema handling. One project (``project_id`` a single id):
the records of project-level streams carry it as ``project_id``, where the connector puts it (after
the object's own fields, before ``changed_at``; in report rows before ``experience_id``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import hmac
import json
import sys
import time
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import requests

PAGE_SIZE = 50
DEFAULT_START = "2010-01-01T00:00:00Z"
ALL_METRICS = ("conversion_rate", "avg_revenue_per_visitor", "avg_products_ordered_per_visitor")
REVENUE_ONLY_METRICS = ("avg_revenue_per_visitor", "avg_products_ordered_per_visitor")
EXPERIENCE_STATUSES = ["draft", "active", "paused", "completed", "scheduled", "archived", "deleted"]
ACTIVE_ARCHIVED = ["active", "archived"]
DETAIL_INCLUDE = ["goals", "stats", "variations", "locations", "min_running_timestamp", "max_running_timestamp"]
DETAIL_EXPAND = ["project", "goals", "locations", "variations"]
# stream -> (path under the project, list options); "status" names every documented status.
PROJECT_LISTS: Dict[str, Tuple[str, Dict[str, Any]]] = {
    "experiences": ("experiences", {"sort_by": "id", "sort_direction": "asc", "status": EXPERIENCE_STATUSES}),
    "experience_details": ("experiences", {"sort_by": "id", "sort_direction": "asc", "status": EXPERIENCE_STATUSES,
                                           "include": DETAIL_INCLUDE, "expand": DETAIL_EXPAND}),
    "goals": ("goals", {"sort_by": "id", "sort_direction": "asc", "status": ACTIVE_ARCHIVED}),
    "audiences": ("audiences", {"sort_by": "id", "sort_direction": "asc", "status": ACTIVE_ARCHIVED}),
    "locations": ("locations", {"sort_by": "id", "sort_direction": "asc", "status": ACTIVE_ARCHIVED}),
    "hypotheses": ("hypotheses", {"sort_by": "id", "sort_direction": "asc",
                                  "status": ["applied", "archived", "completed", "draft", "proven", "disproven"]}),
    "observations": ("observations", {"sort_by": "date_added", "sort_direction": "asc", "status": ACTIVE_ARCHIVED}),
    "features": ("features", {"sort_by": "id", "sort_direction": "asc"}),
    "tags": ("tags", {}),
    "domains": ("domains", {}),
}
STAMPED_WITH_NEWEST_CHANGE = ("experiences", "experience_details", "variations", "goals", "audiences", "locations")
REPORT_STREAMS = ("aggregated_reports", "daily_reports")  # project_id goes before experience_id in their rows


def compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def seconds(value: Any) -> Optional[int]:
    """A positive UNIX time in seconds (Convert sends some in milliseconds); ``None`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        return None
    return int(value / 1000) if value > 10_000_000_000 else int(value)


class Client:
    def __init__(self, config: Dict[str, Any]) -> None:
        self.key_id = config["key_id"]
        self.secret = config["key_secret"].encode("utf-8")
        self.base = (config.get("api_base_url") or "https://api.convert.com/api/v2").rstrip("/")
        self.account = str(config["account_id"])
        self.project = str(config["project_id"]).strip()
        if not self.project.isdigit():
            raise SystemExit(f"minimal_client reads one project; project_id is {config['project_id']!r}")
        self.project_number = int(self.project)
        start = config.get("start_date") or DEFAULT_START
        start = start + "T00:00:00Z" if len(start) == 10 else start
        self.start = int(dt.datetime.strptime(start, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc).timestamp())
        self.utc_offset = int(float(config.get("report_utc_offset_hours") or 0) * 3600)
        self.metrics = [m for m in ALL_METRICS if m in (config.get("daily_report_metrics") or ALL_METRICS)]
        self.session = requests.Session()
        self.requests = 0
        self.days: Dict[Any, str] = {}

    def call(self, method: str, path: str, body: Optional[Dict[str, Any]] = None) -> Any:
        url = self.base + path
        text = compact(body) if body is not None else ""
        expires = str(int(time.time()) + 300)
        message = "\n".join((self.key_id, expires, url, text)).encode("utf-8")
        signature = hmac.new(self.secret, message, hashlib.sha256).hexdigest()
        headers = {"Convert-Application-ID": self.key_id, "Expires": expires, "Accept": "application/json",
                   "Authorization": f"Convert-HMAC-SHA256 Signature={signature}"}
        if text:
            headers["Content-Type"] = "application/json"
        self.requests += 1
        response = self.session.request(method, url, data=text.encode("utf-8") if text else None,
                                        headers=headers, timeout=60)
        response.raise_for_status()
        return json.loads(response.content)

    def pages(self, path: str, body: Dict[str, Any], stop: Optional[Callable[[List[Any]], bool]] = None
              ) -> Iterator[Any]:
        page = 1
        while True:
            payload = self.call("POST", path, dict(body, page=page, results_per_page=PAGE_SIZE))
            data = payload.get("data") or []
            yield from data
            total = ((payload.get("extra") or {}).get("pagination") or {}).get("items_count")
            if len(data) < PAGE_SIZE or (isinstance(total, int) and page * PAGE_SIZE >= total):
                return
            if stop is not None and stop(data):
                return
            page += 1

    def project_path(self, suffix: str) -> str:
        return f"/accounts/{self.account}/projects/{self.project}/{suffix}"

    # ------------------------------------------------------------------ streams
    def stream(self, name: str) -> Iterator[Dict[str, Any]]:
        project_level = name not in ("account", "collaborators", "projects")
        changed_at = None
        if name in STAMPED_WITH_NEWEST_CHANGE:
            changed_at = self.newest_change()  # asked before the list: later changes come again next time
        for record in self._stream(name):
            if project_level and name not in REPORT_STREAMS:
                record["project_id"] = self.project_number
            if changed_at is not None:
                record["changed_at"] = changed_at
            yield record

    def _stream(self, name: str) -> Iterator[Dict[str, Any]]:
        if name == "account":
            yield self.call("GET", f"/accounts/{self.account}/details")["data"]
        elif name == "collaborators":
            yield from self.call("GET", f"/accounts/{self.account}/users-accesses")["data"]
        elif name == "projects":
            yield from self.pages(f"/accounts/{self.account}/projects",
                                  {"sort_by": "id", "sort_direction": "asc", "project_type": ["web", "fullstack"],
                                   "status": ["active", "inactive", "suspended"]})
        elif name in PROJECT_LISTS:
            path, body = PROJECT_LISTS[name]
            yield from self.pages(self.project_path(path), body)
        elif name == "variations":
            yield from self.variations()
        elif name == "knowledge_bases":
            yield from self.newest_first("knowledge-bases", "updated_at", {"status": ACTIVE_ARCHIVED}, since=0)
        elif name == "change_history":
            yield from self.newest_first("change-history", "timestamp", {}, since=self.start)
        elif name == "aggregated_reports":
            yield from self.aggregated_reports()
        elif name == "daily_reports":
            yield from self.daily_reports()
        else:
            raise SystemExit(f"unknown stream {name!r}")

    def newest_change(self) -> int:
        """``timestamp`` of the project's newest change-history event (0 for an empty history)."""
        body = {"sort_by": "timestamp", "sort_direction": "desc", "page": 1, "results_per_page": 1}
        data = self.call("POST", self.project_path("change-history"), body).get("data") or []
        return int(data[0]["timestamp"]) if data else 0

    def newest_first(self, path: str, field: str, body: Dict[str, Any], since: int) -> Iterator[Dict[str, Any]]:
        """A list sorted by ``field`` descending, down to ``since``; each record once (pages may shift)."""
        seen = set()

        def reached_since(data: List[Any]) -> bool:
            return any(isinstance(r.get(field), (int, float)) and r[field] < since for r in data)

        for record in self.pages(self.project_path(path), dict(body, sort_by=field, sort_direction="desc"),
                                 stop=reached_since):
            # a history event has no id: the whole event is what tells it from another
            key = record["id"] if "id" in record else json.dumps(record, sort_keys=True)
            if record[field] >= since and key not in seen:
                seen.add(key)
                yield record

    def variations(self) -> Iterator[Dict[str, Any]]:
        body = {"sort_by": "id", "sort_direction": "asc", "status": EXPERIENCE_STATUSES,
                "include": ["variations"], "expand": ["variations"]}
        for experience in self.pages(self.project_path("experiences"), body):
            for variation in experience["variations"] or []:
                record = dict(variation)
                changes = record.pop("changes", None)
                record["experience_id"] = experience["id"]
                record["change_ids"] = None if changes is None else [c["id"] if isinstance(c, dict) else c
                                                                      for c in changes]
                yield record

    def started_experiences(self) -> Iterator[Dict[str, Any]]:
        """Experiences that have run, with expanded goals and ``ran_until`` (their latest running time)."""
        body = {"sort_by": "id", "sort_direction": "asc", "status": EXPERIENCE_STATUSES[:-1],  # not deleted
                "include": ["goals", "max_running_timestamp"], "expand": ["goals"]}
        for experience in self.pages(self.project_path("experiences"), body):
            if (experience.get("start_time") or 0) > 0:
                times = [t for t in (seconds(experience.get("max_running_timestamp")),
                                     seconds(experience.get("end_time"))) if t is not None]
                experience["ran_until"] = max(times) if times else None
                yield experience

    def aggregated_reports(self) -> Iterator[Dict[str, Any]]:
        for experience in self.started_experiences():
            path = self.project_path(f"experiences/{experience['id']}/aggregated_report")
            report = self.call("POST", path, {"utc_offset": self.utc_offset})["data"]
            names = {v.get("id"): v for v in report.get("variations_data") or []}
            entries = report.get("reportData") or []
            for entry in [entries] if isinstance(entries, dict) else entries:
                for variation in entry.get("variations") or []:
                    conversion = variation.get("conversion_data") or {}
                    revenue = variation.get("revenue_data") or {}
                    described = names.get(variation.get("id"), {})
                    yield {
                        "goal_id": entry.get("goal_id", entry.get("goal")),
                        "variation_id": variation.get("id"),
                        "variation_name": described.get("name"),
                        "is_baseline": described.get("is_baseline"),
                        "visitors": variation.get("visitors"),
                        "conversions": conversion.get("conversions"),
                        "conversion_rate": conversion.get("conversion_rate"),
                        "conversion_rate_change": conversion.get("conversion_rate_change"),
                        "confidence": conversion.get("confidence"),
                        "total_revenue": revenue.get("total_revenue"),
                        "revenue_per_visitor": revenue.get("revenue_per_visitor"),
                        "total_products": (variation.get("products_data") or {}).get("total_products"),
                        "project_id": self.project_number,
                        "experience_id": experience["id"],
                        "ran_until": experience["ran_until"],
                    }

    def day(self, stamp: Any) -> str:
        """The report-time-zone date of a day's timestamp, remembered (a report repeats its days)."""
        text = self.days.get(stamp)
        if text is None:
            local = seconds(stamp) + self.utc_offset
            text = self.days[stamp] = dt.datetime.fromtimestamp(local, tz=dt.timezone.utc).strftime("%Y-%m-%d")
        return text

    def daily_reports(self) -> Iterator[Dict[str, Any]]:
        # From the midnight of the day before the start date (a baseline day, never a row), taken early
        # enough for either reading of start_time (UTC or local); totals are each day's own numbers.
        first_day = dt.datetime.fromtimestamp(self.start, tz=dt.timezone.utc).date()
        baseline = first_day - dt.timedelta(days=1)
        midnight = int(dt.datetime.combine(baseline, dt.time(), tzinfo=dt.timezone.utc).timestamp())
        window = {"start_time": midnight - max(self.utc_offset, 0), "end_time": None}
        self.baseline = baseline.isoformat()
        for experience in self.started_experiences():
            path = self.project_path(f"experiences/{experience['id']}/daily_report")
            for goal in experience.get("goals") or []:
                for metric in self.metrics:
                    if metric in REVENUE_ONLY_METRICS and goal.get("type") != "revenue":
                        continue
                    body = {"goal": goal["id"], "metric": metric, "report_type": "non_cumulative",
                            "utc_offset": self.utc_offset, **window}
                    yield from self.daily_rows(experience["id"], goal["id"], metric, self.call("POST", path, body)["data"])

    def daily_rows(self, experience_id: int, goal_id: int, metric: str, report: Dict[str, Any]) -> Iterator[Dict[str, Any]]:
        entries = report.get("reportData") or []
        for entry in [entries] if isinstance(entries, dict) else entries:
            for variation in entry.get("variations") or []:
                for stat in variation.get("stats") or []:
                    stamp = stat.get("timestamp")
                    if self.day(stamp) <= self.baseline:
                        continue
                    yield {
                        "goal_id": goal_id,
                        "variation_id": variation.get("id"),
                        "day": self.day(stamp),
                        "timestamp": stamp,
                        "value": stat.get("value"),
                        "visitors": stat.get("visitors"),
                        "totals": stat.get("totals"),  # one number per metric: the day's own (simulator default)
                        "project_id": self.project_number,
                        "experience_id": experience_id,
                        "metric": metric,
                        "report_type": "non_cumulative",
                        "utc_offset": self.utc_offset,
                    }


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--streams", required=True, help="comma-separated stream names")
    args = parser.parse_args(argv)
    with open(args.config, encoding="utf-8") as handle:
        client = Client(json.load(handle))
    write = sys.stdout.write
    for name in args.streams.split(","):
        for data in client.stream(name):
            # Like the CDK's message serializer (omit_none), top-level null fields are left out.
            data = {key: value for key, value in data.items() if value is not None}
            write(json.dumps({"type": "RECORD", "record": {"stream": name, "data": data,
                                                           "emitted_at": int(time.time() * 1000)}},
                             separators=(",", ":"), ensure_ascii=False) + "\n")
    sys.stdout.flush()
    print(f"requests={client.requests}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
