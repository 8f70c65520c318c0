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


def test_spec_imports_neither_the_cdk_nor_the_manifest(tmp_path: Path):
    # The command in a fresh interpreter, which then names the modules it loaded: building the
    # declarative source needs source_convert.source and the CDK's declarative package.
    probe = (
        "import sys\n"
        "from source_convert.run import run\n"
        "run(['spec'])\n"
        "loaded = sorted(name for name in sys.modules if name == 'source_convert.source' or name.split('.')[0] == 'airbyte_cdk')\n"
        "print('LOADED', loaded, file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    (line,) = [line for line in done.stderr.splitlines() if line.startswith("LOADED ")]
    assert line == "LOADED []"
    assert json.loads(done.stdout)["type"] == "SPEC"


def test_spec_is_the_message_the_cdk_entrypoint_prints_for_the_source(capsys):
    # What the CDK's entrypoint prints for spec when given the whole declarative source; compared as
    # protocol messages (the CDK also writes the protocol's defaults, e.g. supportsDBT false)
    from airbyte_cdk.entrypoint import AirbyteEntrypoint
    from airbyte_cdk.models import AirbyteMessageSerializer

    from source_convert.source import SourceConvert

    entrypoint = AirbyteEntrypoint(SourceConvert())
    (cdk_line,) = [line for line in entrypoint.run(entrypoint.parse_args(["spec"])) if '"SPEC"' in line]
    capsys.readouterr()  # the CDK's own log lines

    run(["spec"])

    (line,) = capsys.readouterr().out.splitlines()
    assert AirbyteMessageSerializer.load(json.loads(line)) == AirbyteMessageSerializer.load(json.loads(cdk_line))
