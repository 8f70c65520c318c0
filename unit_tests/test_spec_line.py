"""``source-convert spec`` answers without the CDK, with the exact line the CDK would write."""

import json
import pkgutil
import subprocess
import sys

import orjson

from airbyte_cdk.models import AirbyteMessage, AirbyteMessageSerializer, ConnectorSpecificationSerializer, Type

from source_convert.run import spec_line


def cdk_spec_line() -> str:
    spec = ConnectorSpecificationSerializer.load(json.loads(pkgutil.get_data("source_convert", "spec.json")))
    return orjson.dumps(AirbyteMessageSerializer.dump(AirbyteMessage(type=Type.SPEC, spec=spec))).decode()


def test_spec_line_is_byte_identical_to_the_cdk_serialisation():
    assert spec_line() == cdk_spec_line()


def test_spec_command_does_not_import_the_cdk():
    probe = (
        "import sys, source_convert.run as entry; entry.run(['spec']); "
        "sys.stderr.write('cdk loaded' if any(m.startswith('airbyte_cdk') for m in sys.modules) else 'cdk not loaded')"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert done.stderr.strip().endswith("cdk not loaded")
    assert done.stdout.strip() == cdk_spec_line()


def test_other_argument_lists_still_go_to_the_cdk_entrypoint():
    probe = (
        "import sys, source_convert.run as entry\n"
        "try:\n    entry.run(['spec', '--unknown-flag'])\nexcept SystemExit as exit_:\n    code = exit_.code\n"
        "sys.stderr.write(f'exit {code}; ' + ('cdk loaded' if 'airbyte_cdk.entrypoint' in sys.modules else 'cdk not loaded'))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.stderr.strip().endswith("exit 2; cdk loaded"), done.stderr[-500:]
    assert done.stdout == ""
