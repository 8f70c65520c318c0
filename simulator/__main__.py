"""CLI: ``python -m simulator [--port 8737] [--config-out PATH] ...`` (foreground)."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from typing import List, Optional

from .dataset import Dataset
from .render import HISTORY_ID_STYLES
from .server import ALLOWED_HOSTS, ConvertSimulator


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
    parser.add_argument("--config-out", help="write the connector config JSON here")
    args = parser.parse_args(argv)
    if args.host not in ALLOWED_HOSTS:
        parser.error(f"refusing --host {args.host!r}: only {', '.join(ALLOWED_HOSTS)} are allowed")

    dataset = Dataset.generate(seed=args.seed, experiences=args.experiences)
    sim = ConvertSimulator(dataset=dataset, latency=args.latency, port=args.port, host=args.host,
                           pagination_count=not args.no_count, random_503=args.random_503, seed=args.seed,
                           history_id_style=args.history_id_style)
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
