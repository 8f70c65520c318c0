"""``source-convert``, the command that Docker, PyAirbyte and the shell run: ``source_convert.run.run``."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import metadata, resources
from pathlib import Path

from source_convert.run import run


def test_the_installed_command_is_the_entrypoint_under_test():
    (script,) = [entry for entry in metadata.entry_points(group="console_scripts") if entry.name == "source-convert"]
    assert script.load() is run


def test_spec_prints_spec_json_without_a_config_from_any_directory(tmp_path: Path):
    command = Path(sys.executable).parent / "source-convert"
    done = subprocess.run([str(command), "spec"], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr[-2000:]
    messages = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert {message["type"] for message in messages} <= {"SPEC", "LOG"}
    (spec,) = [message["spec"] for message in messages if message["type"] == "SPEC"]
    expected = json.loads(resources.files("source_convert").joinpath("spec.json").read_text(encoding="utf-8"))
    assert spec["connectionSpecification"] == expected["connectionSpecification"]
    assert spec["documentationUrl"] == expected["documentationUrl"]
    properties = spec["connectionSpecification"]["properties"]
    assert [name for name, field in properties.items() if field.get("airbyte_secret")] == ["key_secret"]
