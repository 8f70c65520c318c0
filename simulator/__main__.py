"""CLI: ``python -m simulator [--port 8737] [--config-out PATH] ...`` (foreground).

Data options: ``--no-blog`` (only projects 200002/200003), ``--shared-ids`` (blog 200004 reuses 200002's
ids). Behaviour: ``--daily-totals day|running|broken``, ``--vanish-experience ID`` (repeatable),
``--key-projects 200002,200004``, ``--experience-edits-in-project-history``. Authentication (see
``simulator.signing``; the key's refusal of the other method is inferred): ``--key-auth-type
requestSigning|secretKey``, ``--expires-header Expires|Expire``, ``--signed-url with_query|without_query``.
The spec's contradictions: ``--single-objects documented|wrapped|bare``, ``--error-fields-key
parameters|fields``. Reports: ``--ignore-segments`` (a filtered report answers the unfiltered numbers),
``--report-metrics full|deprecated_only|with_unknown``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from typing import List, Optional, Set

from .dataset import Dataset
from .render import HISTORY_ID_STYLES
from .params import ERROR_FIELDS_KEYS
from .routes import DAILY_TOTALS, REPORT_METRICS, SINGLE_OBJECTS
from .server import ALLOWED_HOSTS, ConvertSimulator
from .signing import AUTH_TYPES, EXPIRES_HEADERS, SIGNED_URL_READINGS


def _ids(text: str) -> Set[int]:
    try:
        return {int(part) for part in text.split(",") if part.strip()}
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated project ids, got {text!r}") from None


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simulator",
                                     description="Strict local Convert API v2 simulator (loopback only).")
    parser.add_argument("--host", default="127.0.0.1", help="127.0.0.1, localhost or ::1 only")
    parser.add_argument("--port", type=int, default=8737, help="0 picks a free port")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--experiences", type=int, default=120)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds slept per request")
    parser.add_argument("--no-count", action="store_true", help="answer lists with extra={} (no pagination)")
    parser.add_argument("--random-503", type=float, default=0.0, help="probability of a seeded random 503")
    parser.add_argument("--history-id-style", choices=HISTORY_ID_STYLES, default="object_id",
                        help="how change-history records name the changed object's id")
    parser.add_argument("--no-blog", action="store_true", help="leave out the small web project 200004")
    parser.add_argument("--shared-ids", action="store_true", help="project 200004 reuses ids of 200002's objects")
    parser.add_argument("--daily-totals", choices=DAILY_TOTALS, default="day",
                        help="daily report totals: the day's own, running since start, or inconsistent")
    parser.add_argument("--vanish-experience", type=int, action="append", default=[], metavar="ID",
                        help="per-experience paths of this experience answer 404 (repeatable)")
    parser.add_argument("--key-projects", type=_ids, default=None, metavar="ID,ID",
                        help="restrict the key to these projects (others: 403)")
    parser.add_argument("--experience-edits-in-project-history", action="store_true",
                        help="variation/change edits are also logged in the project history")
    parser.add_argument("--key-auth-type", choices=AUTH_TYPES, default=AUTH_TYPES[0],
                        help="the key's auth_type; it refuses the other method with a 401 (inferred)")
    parser.add_argument("--expires-header", choices=EXPIRES_HEADERS, default=EXPIRES_HEADERS[0],
                        help="the header a signature's expiry is read from")
    parser.add_argument("--signed-url", choices=SIGNED_URL_READINGS, default=SIGNED_URL_READINGS[0],
                        help="whether a signature covers the query string")
    parser.add_argument("--single-objects", choices=SINGLE_OBJECTS, default="documented",
                        help="single-object GETs: as each operation declares, all wrapped in {data}, or all bare")
    parser.add_argument("--error-fields-key", choices=ERROR_FIELDS_KEYS, default="parameters",
                        help="the key naming a 422's bad inputs")
    parser.add_argument("--ignore-segments", action="store_true",
                        help="answer a report filtered by segments with the unfiltered numbers")
    parser.add_argument("--report-metrics", choices=REPORT_METRICS, default=REPORT_METRICS[0],
                        help="aggregated reports: metrics[] as published, none (deprecated fields only), or with an unknown metric")
    parser.add_argument("--config-out", help="write the connector config JSON here")
    args = parser.parse_args(argv)
    if args.host not in ALLOWED_HOSTS:
        parser.error(f"refusing --host {args.host!r}: only {', '.join(ALLOWED_HOSTS)} are allowed")

    dataset = Dataset.generate(seed=args.seed, experiences=args.experiences, blog_project=not args.no_blog,
                               shared_ids=args.shared_ids)
    sim = ConvertSimulator(dataset=dataset, latency=args.latency, port=args.port, host=args.host,
                           pagination_count=not args.no_count, random_503=args.random_503, seed=args.seed,
                           history_id_style=args.history_id_style, daily_totals=args.daily_totals,
                           vanished_experiences=args.vanish_experience, key_projects=args.key_projects,
                           experience_edits_in_project_history=args.experience_edits_in_project_history,
                           key_auth_type=args.key_auth_type, expires_header=args.expires_header,
                           signed_url=args.signed_url, single_objects=args.single_objects,
                           error_fields_key=args.error_fields_key, ignore_segments=args.ignore_segments,
                           report_metrics=args.report_metrics)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    sim.start()
    try:
        if args.config_out:
            tmp = f"{args.config_out}.tmp"
            with open(tmp, "w", encoding="utf-8") as handle:
                json.dump(sim.config(), handle, indent=2)
            os.replace(tmp, args.config_out)
        print(f"Convert simulator listening on {sim.base_url}", flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
