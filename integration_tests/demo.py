"""Demo: a real ``source-convert read`` of every stream against the bundled simulator.

    python -m integration_tests.demo            # records per stream
    python -m integration_tests.demo goals      # print that stream's records as JSON lines
"""

from __future__ import annotations

import json
import sys
import time

from integration_tests.harness import configured_catalog, run_connector
from simulator import ConvertSimulator, Dataset


def main(argv: list[str]) -> int:
    with ConvertSimulator(dataset=Dataset.generate(seed=7)) as sim:
        config = sim.config()
        discovered = run_connector("discover", config).catalog
        names = [stream["name"] for stream in discovered["streams"]]
        wanted = [name for name in argv if name in names] or names
        print(f"Convert simulator on {sim.base_url}; reading {len(wanted)} stream(s) with `source-convert read`...", flush=True)
        started = time.monotonic()
        result = run_connector("read", config, configured_catalog(wanted, discovered=discovered))
        elapsed = time.monotonic() - started
        if argv:
            for stream in wanted:
                for record in result.records_of(stream):
                    print(json.dumps({"stream": stream, "data": record}, ensure_ascii=False))
        counts = result.counts()
        print(f"\n{'stream':<22}{'records':>9}")
        for stream in wanted:
            print(f"{stream:<22}{counts.get(stream, 0):>9}")
        print(f"{'total':<22}{sum(counts.values()):>9}")
        print(
            f"\n{len(sim.requests)} signed requests, {sim.count(status=401)} rejected (401), "
            f"{elapsed:.1f}s; exit code {result.returncode}"
        )
        for error in result.errors:
            print("ERROR:", error.get("message"))
        return 0 if result.returncode == 0 and not result.errors else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
