"""Demo: a real ``source-convert read`` of every stream of every project (``project_id: "*"``) against
the bundled simulator.

    python -m integration_tests.demo            # records per stream and project
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
        config = {**sim.config(), "project_id": "*"}
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
        projects = sorted({record["project_id"] for stream in wanted for record in result.records_of(stream)
                           if "project_id" in record})
        width = max(len(name) for name in ["stream", *wanted]) + 2
        print(f"\n{'stream':<{width}}" + "".join(f"{project:>10}" for project in projects) + f"{'total':>10}")
        total = 0
        for stream in wanted:
            records = result.records_of(stream)
            by_project = [sum(1 for record in records if record.get("project_id") == project) for project in projects]
            cells = "".join(f"{count:>10}" if "project_id" in (records or [{}])[0] else f"{'-':>10}" for count in by_project)
            print(f"{stream:<{width}}{cells}{len(records):>10}")
            total += len(records)
        print(f"{'total':<{width}}" + " " * (10 * len(projects)) + f"{total:>10}")
        print(
            f"\n{len(sim.requests)} signed requests, {sim.count(status=401)} rejected (401), "
            f"{elapsed:.1f}s; exit code {result.returncode}"
        )
        for error in result.errors:
            print("ERROR:", error.get("message"))
        return 0 if result.returncode == 0 and not result.errors else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
