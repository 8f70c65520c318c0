"""Sample one connector read with py-spy and say where the time goes.

    .venv/bin/python -m bench.profile --streams daily_reports --experiences 1000    # from the repository root

Starts bench/simproc.py (zero latency) in its own process, runs ``source-convert read`` under
``py-spy record --format raw`` (py-spy from PyPI, installed into the venv, not into pyproject),
then prints the share of samples per category (leaf-most matching frame wins) and the top frames.
By default only the thread holding the GIL is sampled (``py-spy --gil``), so shares approximate
Python CPU time; ``--no-gil`` samples every non-idle thread (threads blocked in socket calls or
waiting for the GIL then show up too).
``--connector-src DIR`` profiles a modified copy of the connector instead of the repo.
``spec`` alone is profiled with ``--spec``.
"""

from __future__ import annotations

import argparse
import collections
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import List, Optional, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import run as bench_run  # noqa: E402

# (category, substrings of a py-spy frame "function (file:line)"); checked from the leaf frame upwards.
CATEGORIES: List[Tuple[str, Tuple[str, ...]]] = [
    ("imports / module set-up", ("<module>", "_find_and_load", "_call_with_frames_removed")),
    ("waiting (queue, locks)", ("Condition.wait", "Queue.get", "Event.wait", "Thread.join", "time.sleep",
                                "_worker (concurrent/futures")),
    ("authenticator (signing, body re-serialisation)", ("ConvertAuthenticator",)),
    ("JSON parse of response bodies", ("parsed_body (source_convert",)),
    ("record extraction (source_convert extractors)", ("extract_records (source_convert", "utc_day (source_convert")),
    ("AddFields transformations (Jinja per record)", ("AddFields.transform",)),
    ("schema normalisation (TypeTransformer)", ("_normalize_by_schema", "TypeTransformer")),
    ("record filter (Jinja condition)", ("RecordFilter.filter_records", "DistinctRecordFilter")),
    ("cursor observe / state (per record)", ("Cursor.observe", "cursor.observe", "ConcurrentPerPartitionCursor",
                                             "state_converter", "ConcurrentCursor")),
    ("HTTP request (requests/urllib3, CDK HttpClient)", ("HttpClient._send", "HttpClient.send_request",
                                                         "Session.send", "HttpRequester.send_request")),
    ("request building (Jinja paths/bodies, paginator)", ("HttpRequester._request", "_request_body_json",
                                                          "get_request_body_json", "_get_request_options",
                                                          "get_path", "next_page_token", "_next_page_token")),
    ("record -> AirbyteMessage, slice/record objects", ("stream_data_to_airbyte_message", "Record.__init__",
                                                        "SliceHasher", "PartitionReader", "DeclarativePartition")),
    ("main thread: queue consumer, serialise + print messages", ("_consume_from_queue", "airbyte_message_to_string",
                                                                 "AirbyteEntrypoint", "ConcurrentReadProcessor",
                                                                 "_on_record", "on_record")),
    ("partition generation (parent stream, slices)", ("generate_partitions", "stream_slices")),
    ("source construction (manifest, components)", ("SourceConvert.__init__", "ModelToComponentFactory",
                                                    "ManifestComponentTransformer", "ManifestReferenceResolver")),
]


def categorize(frames: List[str]) -> str:
    for frame in reversed(frames):
        for name, markers in CATEGORIES:
            if any(marker in frame for marker in markers):
                return name
    return "other"


def summarize(raw_path: str, top: int) -> str:
    total = 0
    by_category: collections.Counter = collections.Counter()
    inclusive: collections.Counter = collections.Counter()
    own: collections.Counter = collections.Counter()
    with open(raw_path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            if not stack:
                continue
            n = int(count)
            frames = [f for f in stack.split(";") if f]
            if not frames:
                continue
            total += n
            by_category[categorize(frames)] += n
            own[frames[-1]] += n
            for frame in set(frames):
                inclusive[frame] += n
    lines = [f"{total} samples (py-spy raw)", "", "By category (leaf-most match):"]
    for name, n in by_category.most_common():
        lines.append(f"  {n / total:6.1%}  {name}")
    lines += ["", f"Top {top} inclusive frames:"]
    for frame, n in inclusive.most_common(top):
        lines.append(f"  {n / total:6.1%}  {frame}")
    lines += ["", f"Top {top // 2} self frames:"]
    for frame, n in own.most_common(top // 2):
        lines.append(f"  {n / total:6.1%}  {frame}")
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Profile one connector read with py-spy.")
    parser.add_argument("--streams", default="daily_reports")
    parser.add_argument("--experiences", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--rate", type=int, default=200, help="py-spy samples per second")
    parser.add_argument("--spec", action="store_true", help="profile `source-convert spec` instead of a read")
    parser.add_argument("--connector-src", help="directory put first on the connector's PYTHONPATH")
    parser.add_argument("--raw-out", help="keep the py-spy raw file here")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--no-gil", dest="gil", action="store_false",
                        help="sample every running thread, not only the one holding the GIL (wall-time view)")
    args = parser.parse_args(argv)
    pyspy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if not pyspy:
        parser.error("py-spy not found: .venv/bin/pip install py-spy")
    bench_run.CONNECTOR_SRC = str(Path(args.connector_src).resolve()) if args.connector_src else None
    work = bench_run.Workdir()
    raw = args.raw_out or os.path.join(work.path, "profile.raw")
    try:
        if args.spec:
            command = bench_run.connector_command() + ["spec"]
            sim = None
        else:
            sim = bench_run.SimProcess(args.experiences, 0.0, args.seed)
            streams = args.streams.split(",")
            cfg = work.write("config.json", dict(sim.config, max_concurrent_requests=args.concurrency))
            cat = work.write("catalog.json", bench_run.catalog(streams))
            command = bench_run.connector_command() + ["read", "--config", cfg, "--catalog", cat]
        try:
            subprocess.run([pyspy, "record", "--rate", str(args.rate), "--format", "raw", "--output", raw,
                            "--nonblocking"] + (["--gil"] if args.gil else []) + ["--"] + command, cwd=work.path, env=bench_run._env(connector=True),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        finally:
            if sim is not None:
                sim.close()
        print(summarize(raw, args.top))
    finally:
        if not args.raw_out:
            work.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
