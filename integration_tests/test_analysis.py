"""The "Analysing results" query of docs/convert.md, run through PyAirbyte's DuckDB cache on the simulator's data.

The query is read from the docs (the first ``sql`` block of that section), so the documented query is the
one tested. PyAirbyte reads the streams the query names from the simulator of this module into its default
DuckDB cache (in its own venv, offline, as in test_pyairbyte), runs the query there, and the answer must
equal, row for row and value for value, what the simulator's report model says: the revenue per visitor
of each variation, revenue goal and day that the experiences ran.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any, List, Tuple

from integration_tests.harness import REPO_ROOT
from integration_tests.prerequisites import skip_or_fail
from simulator import WEB_PROJECT_ID, Dataset
from simulator.reports import ReportModel, per_visitor
from integration_tests.test_pyairbyte import isolated_env, network_trap, pyairbyte  # noqa: F401 (fixtures)

DOCS = REPO_ROOT / "docs" / "convert.md"
SECTION = "## Analysing results"
STREAMS = ["daily_reports", "goals", "variations"]
COLUMNS = ["experience_id", "goal", "variation", "is_baseline", "day", "visitors", "revenue_per_visitor"]

# Runs under PyAirbyte's interpreter: read the streams into the default DuckDB cache, then run the query.
WORKER = r'''
import json, sys
from pathlib import Path

import airbyte as ab
import sqlalchemy

job = json.loads(Path(sys.argv[1]).read_text())
source = ab.get_source("source-convert", config=job["config"], local_executable=job["executable"])
source.select_streams(job["streams"])
result = source.read()
with result.cache.get_sql_engine().connect() as connection:
    answer = connection.execute(sqlalchemy.text(job["query"]))
    columns, rows = list(answer.keys()), [list(row) for row in answer]
Path(job["out"]).write_text(json.dumps({"columns": columns, "rows": rows}, default=str))
'''


def documented_query() -> str:
    """The first ```sql block of the docs' "Analysing results" section."""
    text = DOCS.read_text(encoding="utf-8")
    assert SECTION in text, f"{DOCS.name} has no '{SECTION}' section"
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    match = re.search(r"```sql\n(.*?)```", section, re.DOTALL)
    assert match, f"the '{SECTION}' section of {DOCS.name} has no sql block"
    return match.group(1).strip()


def expected_rows(dataset: Dataset) -> List[Tuple[Any, ...]]:
    """Every (experience, revenue goal, variation, day) the experiences ran, from a fresh report model."""
    model = ReportModel(dataset.seed)
    with dataset.lock:
        goals = {goal["id"]: goal for goal in dataset.records(WEB_PROJECT_ID, "goals")}
        rows = []
        for experience in dataset.started_experiences(WEB_PROJECT_ID):
            for goal_id in experience["goals"]:
                if goals[goal_id]["type"] != "revenue":
                    continue
                for variation in experience["variations"]:
                    baseline = variation["is_baseline"]
                    for day in dataset.run_days(experience):
                        cell = model.cell(experience["id"], variation["id"], baseline, goal_id, True, day)
                        date = dt.datetime.fromtimestamp(day, tz=dt.timezone.utc).date().isoformat()
                        rows.append((experience["id"], goals[goal_id]["name"], variation["name"], baseline, date,
                                     cell.visitors, per_visitor(cell.revenue, cell.visitors)))
    return rows


def test_documented_query_answers_daily_revenue_per_visitor(
    simulator, pyairbyte: Path, network_trap: List[str], tmp_path: Path  # noqa: F811 (fixtures)
) -> None:
    executable = Path(os.environ.get("SOURCE_CONVERT_EXECUTABLE") or Path(sys.executable).parent / "source-convert")
    if not executable.exists():
        skip_or_fail(f"no connector executable at {executable}; run `bash scripts/setup.sh`")
    query = documented_query()
    for stream in STREAMS:
        assert re.search(rf"\b{stream}\b", query), f"the documented query does not read {stream}"
    proxy = network_trap.pop(0)
    job = {"config": simulator.config(), "executable": str(executable), "streams": STREAMS, "query": query,
           "out": str(tmp_path / "answer.json")}
    (tmp_path / "job.json").write_text(json.dumps(job))
    (tmp_path / "worker.py").write_text(WORKER)

    completed = subprocess.run([str(pyairbyte), str(tmp_path / "worker.py"), str(tmp_path / "job.json")],
                               cwd=tmp_path / "project", env=isolated_env(tmp_path, proxy),
                               capture_output=True, text=True, timeout=900)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    assert network_trap == [], f"PyAirbyte or the connector tried to reach the network: {network_trap}"

    answer = json.loads((tmp_path / "answer.json").read_text())
    assert answer["columns"] == COLUMNS
    expected = sorted(expected_rows(simulator.dataset))
    assert len({row[3] for row in expected}) == 2 and len({row[4] for row in expected}) > 1  # a test with substance
    # visitors is declared a number, as Convert's contract types it: DuckDB keeps it as a decimal
    got = sorted(tuple(row[:5]) + (Decimal(str(row[5])),) + tuple(row[6:]) for row in answer["rows"])
    assert [row[:6] for row in got] == [row[:6] for row in expected]
    wrong = [(have, want) for have, want in zip(got, expected)
             if abs(Decimal(str(have[6])) - Decimal(repr(want[6]))) > Decimal("1e-9")]
    assert not wrong, f"{len(wrong)} of {len(expected)} revenue-per-visitor values differ, e.g. {wrong[:3]}"
