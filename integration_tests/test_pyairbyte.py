"""PyAirbyte reads source-convert (the venv's ``source-convert`` executable) into its default DuckDB cache.

PyAirbyte (``airbyte``, the ``pyairbyte`` extra) cannot share the connector's venv: it pins
cryptography<47 and requirements.lock has 50.x. ``scripts/setup.sh`` installs it into ``.venv/pyairbyte``
(``$SOURCE_CONVERT_PYAIRBYTE_PYTHON`` overrides the interpreter), and this test drives it there as a
subprocess, against the simulator of this module (the connector is ``source-convert`` next to this
interpreter, or ``$SOURCE_CONVERT_EXECUTABLE``):

* everything PyAirbyte writes (DuckDB cache, temp files, logs, home) is under the test's tmp_path;
* it runs offline: ``DO_NOT_TRACK=1`` and ``AIRBYTE_OFFLINE_MODE=1`` (no telemetry, no registry lookup,
  no install: ``local_executable`` is used as is), and every HTTP(S) proxy variable points at a local
  trap that must see no connection — so an outbound call fails fast and is reported instead of hanging;
* the rows per stream in the cache equal the simulator dataset's, and a second read is incremental
  for the streams discover marks incremental: they read again only what they re-read by design
  (the change-history second the state was saved in; audiences, whose usage stats change without events).

Without the PyAirbyte venv this test skips locally and fails in CI (``CI`` set).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Dict, Iterator, List

import pytest

from integration_tests.harness import REPO_ROOT
from integration_tests.prerequisites import skip_or_fail
from simulator import WEB_PROJECT_ID

# stream -> how many records the simulator dataset holds for it
STREAMS = {
    "account": lambda ds: 1,
    "projects": lambda ds: len(ds.store),
    "experiences": lambda ds: len(ds.records(WEB_PROJECT_ID, "experiences")),
    "goals": lambda ds: len(ds.records(WEB_PROJECT_ID, "goals")),
    "audiences": lambda ds: len(ds.records(WEB_PROJECT_ID, "audiences")),
    "tags": lambda ds: len(ds.records(WEB_PROJECT_ID, "tags")),
    "change_history": lambda ds: len(ds.records(WEB_PROJECT_ID, "change-history")),
}

# Runs under PyAirbyte's interpreter; the README's snippet, plus two reads and a report.
WORKER = r'''
import json, sys
from pathlib import Path

import airbyte as ab

job = json.loads(Path(sys.argv[1]).read_text())
source = ab.get_source("source-convert", config=job["config"], local_executable=job["executable"])
source.check()
source.select_streams(job["streams"])
modes = {stream.name: [str(getattr(mode, "value", mode)) for mode in stream.supported_sync_modes]
         for stream in source.discovered_catalog.streams}
reads = []
for _ in range(2):
    result = source.read()  # into PyAirbyte's default DuckDB cache
    reads.append({"processed": result.processed_records,
                  "counts": {name: len(result[name]) for name in job["streams"]},
                  "db_path": str(result.cache.db_path)})
frame = result["experiences"].to_pandas()
Path(job["out"]).write_text(json.dumps({"modes": modes, "reads": reads, "pandas_rows": len(frame),
                                        "pandas_ids": sorted(int(i) for i in frame["id"])}))
'''


def pyairbyte_python() -> Path:
    configured = os.environ.get("SOURCE_CONVERT_PYAIRBYTE_PYTHON")
    return Path(configured) if configured else REPO_ROOT / ".venv" / "pyairbyte" / "bin" / "python"


def isolated_env(root: Path, proxy: str) -> Dict[str, str]:
    """PyAirbyte's environment: offline, no telemetry, every file it writes under ``root``, proxies at ``proxy``."""
    env = {key: value for key, value in os.environ.items() if not key.lower().endswith("_proxy")}
    for name in ("project", "cache", "install", "temp", "logs", "home"):
        (root / name).mkdir(parents=True, exist_ok=True)
    env.update({
        "DO_NOT_TRACK": "1",
        "AIRBYTE_OFFLINE_MODE": "1",
        "AIRBYTE_PROJECT_DIR": str(root / "project"),
        "AIRBYTE_CACHE_ROOT": str(root / "cache"),
        "AIRBYTE_INSTALL_DIR": str(root / "install"),
        "AIRBYTE_TEMP_DIR": str(root / "temp"),
        "AIRBYTE_LOGGING_ROOT": str(root / "logs"),
        "HOME": str(root / "home"),
        "HTTP_PROXY": proxy, "HTTPS_PROXY": proxy, "http_proxy": proxy, "https_proxy": proxy,
        "NO_PROXY": "127.0.0.1,localhost,::1", "no_proxy": "127.0.0.1,localhost,::1",
    })
    return env


@pytest.fixture(scope="module")
def pyairbyte(tmp_path_factory: pytest.TempPathFactory) -> Path:
    python = pyairbyte_python()
    if not python.exists():
        skip_or_fail(f"PyAirbyte's venv is missing ({python}); run `bash scripts/setup.sh`")
    root = tmp_path_factory.mktemp("pyairbyte-import")
    check = subprocess.run([str(python), "-c", "import airbyte"], capture_output=True, text=True, timeout=300,
                           cwd=root, env=isolated_env(root, "http://127.0.0.1:9"))
    if check.returncode != 0:
        skip_or_fail(f"PyAirbyte does not import in {python}: {check.stderr[-500:]}")
    return python


@pytest.fixture
def network_trap() -> Iterator[List[str]]:
    """A local 'proxy' that records and drops every connection: any outbound HTTP(S) attempt shows up here."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    server.settimeout(0.2)
    seen: List[str] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(1)
                try:
                    seen.append(conn.recv(200).decode("latin-1").split("\r\n")[0])
                except OSError:
                    seen.append("<no request line>")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    seen.insert(0, f"http://127.0.0.1:{server.getsockname()[1]}")  # the proxy URL; removed before checks
    yield seen
    stop.set()
    thread.join(timeout=5)
    server.close()


def test_pyairbyte_reads_streams_into_duckdb(simulator, pyairbyte: Path, network_trap: List[str], tmp_path: Path) -> None:
    executable = Path(os.environ.get("SOURCE_CONVERT_EXECUTABLE") or Path(sys.executable).parent / "source-convert")
    if not executable.exists():
        skip_or_fail(f"no connector executable at {executable}; run `bash scripts/setup.sh`")
    proxy = network_trap.pop(0)
    env = isolated_env(tmp_path, proxy)
    job = {"config": simulator.config(), "executable": str(executable), "streams": sorted(STREAMS),
           "out": str(tmp_path / "result.json")}
    (tmp_path / "job.json").write_text(json.dumps(job))
    (tmp_path / "worker.py").write_text(WORKER)

    completed = subprocess.run([str(pyairbyte), str(tmp_path / "worker.py"), str(tmp_path / "job.json")],
                               cwd=tmp_path / "project", env=env, capture_output=True, text=True, timeout=900)
    output = completed.stdout[-3000:] + completed.stderr[-3000:]
    assert completed.returncode == 0, output
    assert network_trap == [], f"PyAirbyte or the connector tried to reach the network: {network_trap}"
    assert simulator.key_secret not in completed.stdout + completed.stderr

    report = json.loads((tmp_path / "result.json").read_text())
    first, second = report["reads"]
    expected: Dict[str, int] = {name: count(simulator.dataset) for name, count in STREAMS.items()}
    assert first["counts"] == expected
    assert first["processed"] == sum(expected.values())
    assert Path(first["db_path"]).resolve().is_relative_to(tmp_path.resolve()), first["db_path"]
    assert report["pandas_rows"] == expected["experiences"]
    assert report["pandas_ids"] == sorted(e["id"] for e in simulator.dataset.records(WEB_PROJECT_ID, "experiences"))

    # The second read resumes from the state PyAirbyte kept: full-refresh streams are read whole,
    # incremental ones only re-read what they do by design, and the cache still holds each record once.
    incremental = {name for name in STREAMS if "incremental" in report["modes"][name]}
    assert {"change_history", "experiences", "goals", "audiences"} <= incremental
    events = simulator.dataset.records(WEB_PROJECT_ID, "change-history")
    saved_second = max(event["timestamp"] for event in events)
    at_saved_second = [event for event in events if event["timestamp"] == saved_second]
    read_again = (
        len(at_saved_second)  # change_history: the saved second, inclusive
        + sum(len({e["object_id"] for e in at_saved_second if e["object"] == obj}) for obj in ("experience", "goal"))
        + expected["audiences"]  # read whole on every sync
    )
    assert second["counts"] == expected
    assert second["processed"] == sum(count for name, count in expected.items() if name not in incremental) + read_again
