"""A minimal hand-written Convert client: the CPU baseline for the connector.

    python bench/minimal_client.py --config config.json --streams experiences,daily_reports

Only ``requests``, ``json`` and ``hmac``. It sends the same requests as the connector (same paths,
same compact JSON bodies, same pages, same stop rule: a short page or ``page * 50 >= items_count``)
and writes the same Airbyte RECORD lines to stdout, one stream after the other, on one keep-alive
session. No retries, no state, no schema handling: the cheapest correct way to get the same rows.
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
# Streams the connector makes incremental through the change history: on a first sync they read the
# whole list once and stamp every record with changed_at = sync start - 1 h (the history cursor).
CHANGED_AT_STREAMS = ("experiences", "experience_details", "goals", "audiences", "locations")
FIRST_SYNC_MARGIN_S = 3600
DEFAULT_START = "2010-01-01T00:00:00Z"
DETAIL_INCLUDE = ["goals", "stats", "variations", "locations", "min_running_timestamp", "max_running_timestamp"]
DETAIL_EXPAND = ["project", "goals", "locations", "variations"]
# stream -> (path under the project, sort_by or None)
PROJECT_LISTS: Dict[str, Tuple[str, Optional[str]]] = {
    "experiences": ("experiences", "id"),
    "goals": ("goals", "id"),
    "audiences": ("audiences", "id"),
    "locations": ("locations", "id"),
    "hypotheses": ("hypotheses", "id"),
    "knowledge_bases": ("knowledge-bases", "updated_at"),
    "observations": ("observations", "date_added"),
    "features": ("features", "id"),
    "tags": ("tags", None),
    "domains": ("domains", None),
}


def compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


class Client:
    def __init__(self, config: Dict[str, Any]) -> None:
        self.key_id = config["key_id"]
        self.secret = config["key_secret"].encode("utf-8")
        self.base = (config.get("api_base_url") or "https://api.convert.com/api/v2").rstrip("/")
        self.account = str(config["account_id"])
        self.project = str(config["project_id"])
        self.start = config.get("start_date") or DEFAULT_START
        if len(self.start) == 10:
            self.start += "T00:00:00Z"
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

    # ------------------------------------------------------------------ streams
    def day(self, stamp: Any) -> str:
        """``YYYY-MM-DD`` of a UNIX time (s or ms), remembered: a report repeats its days (as the connector does)."""
        text = self.days.get(stamp)
        if text is None:
            seconds = stamp / 1000 if stamp > 10_000_000_000 else stamp
            text = self.days[stamp] = dt.datetime.fromtimestamp(seconds, tz=dt.timezone.utc).strftime("%Y-%m-%d")
        return text

    def project_path(self, suffix: str) -> str:
        return f"/accounts/{self.account}/projects/{self.project}/{suffix}"

    def stream(self, name: str) -> Iterator[Dict[str, Any]]:
        if name in CHANGED_AT_STREAMS:
            changed_at = int(time.time()) - FIRST_SYNC_MARGIN_S
            for record in self._stream(name):
                record["changed_at"] = changed_at
                yield record
        else:
            yield from self._stream(name)

    def _stream(self, name: str) -> Iterator[Dict[str, Any]]:
        if name == "account":
            yield self.call("GET", f"/accounts/{self.account}/details")["data"]
        elif name == "collaborators":
            yield from self.call("GET", f"/accounts/{self.account}/users-accesses")["data"]
        elif name == "projects":
            yield from self.pages(f"/accounts/{self.account}/projects",
                                  {"sort_by": "id", "sort_direction": "asc", "project_type": ["web", "fullstack"]})
        elif name in PROJECT_LISTS:
            path, sort_by = PROJECT_LISTS[name]
            body = {"sort_by": sort_by, "sort_direction": "asc"} if sort_by else {}
            yield from self.pages(self.project_path(path), body)
        elif name == "experience_details":
            yield from self.pages(self.project_path("experiences"),
                                  {"sort_by": "id", "sort_direction": "asc",
                                   "include": DETAIL_INCLUDE, "expand": DETAIL_EXPAND})
        elif name == "change_history":
            yield from self.change_history()
        elif name == "aggregated_reports":
            yield from self.aggregated_reports()
        elif name == "daily_reports":
            yield from self.daily_reports()
        else:
            raise SystemExit(f"unknown stream {name!r}")

    def change_history(self) -> Iterator[Dict[str, Any]]:
        start = int(dt.datetime.strptime(self.start, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc).timestamp())
        seen = set()

        def reached_start(data: List[Any]) -> bool:
            stamps = [r.get("timestamp") for r in data if isinstance(r.get("timestamp"), (int, float))]
            return bool(stamps) and min(stamps) < start

        for record in self.pages(self.project_path("change-history"), {"sort_by": "timestamp", "sort_direction": "desc"},
                                 stop=reached_start):
            if record["timestamp"] >= start and record["id"] not in seen:
                seen.add(record["id"])
                yield record

    def started_experiences(self) -> Iterator[Dict[str, Any]]:
        body = {"sort_by": "id", "sort_direction": "asc", "include": ["goals"]}
        for experience in self.pages(self.project_path("experiences"), body):
            if (experience.get("start_time") or 0) > 0:
                yield experience

    def aggregated_reports(self) -> Iterator[Dict[str, Any]]:
        for experience in self.started_experiences():
            report = self.call("POST", self.project_path(f"experiences/{experience['id']}/aggregated_report"))["data"]
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
                        "experience_id": experience["id"],
                    }

    def daily_reports(self) -> Iterator[Dict[str, Any]]:
        start = dt.datetime.strptime(self.start, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)
        today = dt.datetime.now(dt.timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
        window = {"start_time": int(start.timestamp()), "end_time": int(today.timestamp())}
        for experience in self.started_experiences():
            for goal in experience.get("goals") or []:
                goal_id = goal.get("id") if isinstance(goal, dict) else goal
                if goal_id is None:
                    continue
                body = {"goal": goal_id, "metric": "conversion_rate", "report_type": "non_cumulative", **window}
                path = self.project_path(f"experiences/{experience['id']}/daily_report")
                report = self.call("POST", path, body)["data"]
                entries = report.get("reportData") or []
                for entry in [entries] if isinstance(entries, dict) else entries:
                    for variation in entry.get("variations") or []:
                        for stat in variation.get("stats") or []:
                            stamp = stat.get("timestamp")
                            yield {
                                "goal_id": entry.get("goal_id", entry.get("goal")),
                                "variation_id": variation.get("id"),
                                "day": self.day(stamp),
                                "timestamp": stamp,
                                "value": stat.get("value"),
                                "visitors": stat.get("visitors"),
                                "conversions": (stat.get("totals") or {}).get("conversions"),
                                "experience_id": experience["id"],
                                "metric": "conversion_rate",
                                "report_type": "non_cumulative",
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
