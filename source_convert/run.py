"""``source-convert spec|check|discover|read``: the one entrypoint of the shell, the Docker image and PyAirbyte.

``spec`` prints the packaged ``spec.json`` as the protocol's SPEC message and imports neither the CDK
nor the manifest: it is the one answer that depends on nothing else.

Every other command goes through the CDK's ``launch``. Before it runs, the input files are read and
``SourceConvert`` is built with the config (validated and normalized there), once, and ``check`` and
``read`` go through ``SourceConvert.ensure_usable``. An input or connection that cannot work is reported
once: a FAILED connection status for ``check``, one error trace and exit code 1 for the other commands.
"""

from __future__ import annotations

import json
import sys
from importlib import resources
from typing import TYPE_CHECKING, Any, List, Optional, Sequence

if TYPE_CHECKING:
    import argparse

    from airbyte_cdk.models import AirbyteMessage, FailureType

    from source_convert.source import SourceConvert

SPEC_FILE = "spec.json"
SPEC_ONLY = ("spec",)
DEBUG_FLAG = "--debug"  # accepted by spec too; it has no logs to make more detailed


def run(argv: Optional[Sequence[str]] = None) -> None:
    """Answer ``spec`` from ``spec.json``; build the source for the other commands and hand over to the CDK."""
    arguments: List[str] = list(sys.argv[1:] if argv is None else argv)
    if _asks_for_spec(arguments):
        print_spec()
        return
    _launch(arguments)


def _asks_for_spec(arguments: Sequence[str]) -> bool:
    return tuple(argument for argument in arguments if argument != DEBUG_FLAG) == SPEC_ONLY


def print_spec() -> None:
    """The SPEC message: ``spec.json`` as it is, one JSON line (what the CDK prints for a connector whose
    spec is its ``spec.json``)."""
    spec = json.loads(resources.files("source_convert").joinpath(SPEC_FILE).read_text(encoding="utf-8"))
    sys.stdout.write(json.dumps({"type": "SPEC", "spec": spec}, ensure_ascii=False, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def _launch(arguments: List[str]) -> None:
    import logging  # noqa: PLC0415 (the CDK and the manifest only for the commands that use them)

    from airbyte_cdk.entrypoint import AirbyteEntrypoint, launch  # noqa: PLC0415
    from airbyte_cdk.exception_handler import init_uncaught_exception_handler  # noqa: PLC0415
    from airbyte_cdk.models import FailureType  # noqa: PLC0415
    from airbyte_cdk.utils.traced_exception import AirbyteTracedException  # noqa: PLC0415

    from source_convert.config import ConfigError  # noqa: PLC0415

    logger = logging.getLogger("airbyte")
    init_uncaught_exception_handler(logger)  # as launch() does: an unexpected crash is a trace, not a bare traceback
    parsed = AirbyteEntrypoint.parse_args(arguments)
    command = parsed.command
    try:
        source = _source(parsed)
        if command in ("check", "read"):
            source.ensure_usable(logger, command)
    except ConfigError as error:
        sys.exit(_refuse(command, str(error), FailureType.config_error))
    except AirbyteTracedException as error:
        sys.exit(_refuse(command, error.message or str(error), error.failure_type))
    launch(source, arguments)


def _source(parsed: "argparse.Namespace") -> "SourceConvert":
    from source_convert.config import ConfigError  # noqa: PLC0415
    from source_convert.source import SourceConvert  # noqa: PLC0415

    config_path, catalog_path, state_path = (getattr(parsed, name, None) for name in ("config", "catalog", "state"))
    config = _read_config(config_path) if config_path else None
    if config_path and not isinstance(config, dict):  # null would read as "no config"
        raise ConfigError(f"The config file {config_path!r} must hold a JSON object, got {type(config).__name__}.")
    try:
        catalog = SourceConvert.read_catalog(catalog_path) if catalog_path else None
        state = SourceConvert.read_state(state_path) if state_path else None
    except Exception as error:  # a catalog or state file that is not what Airbyte writes
        raise ConfigError(f"The catalog or state file is not valid: {error.__class__.__name__}: {str(error)[:300]}") from None
    return SourceConvert(catalog=catalog, config=config, state=state)


def _read_config(path: str) -> Any:
    from source_convert.config import ConfigError  # noqa: PLC0415

    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"The config file {path!r} does not exist.") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"The config file {path!r} cannot be read: {error.__class__.__name__}.") from None
    except json.JSONDecodeError as error:
        raise ConfigError(f"The config file {path!r} is not valid JSON (line {error.lineno}, column {error.colno}).") from None


def _refuse(command: str, text: str, failure_type: "FailureType") -> int:
    """Print the failure the way Airbyte expects and return the exit code: a FAILED status for check
    (exit 0), one error trace otherwise (exit 1)."""
    import time  # noqa: PLC0415

    from airbyte_cdk.models import (  # noqa: PLC0415
        AirbyteConnectionStatus,
        AirbyteErrorTraceMessage,
        AirbyteMessage,
        AirbyteTraceMessage,
        Status,
        TraceType,
        Type,
    )

    if command == "check":
        status = AirbyteConnectionStatus(status=Status.FAILED, message=text)
        _print(AirbyteMessage(type=Type.CONNECTION_STATUS, connectionStatus=status))
        return 0
    error = AirbyteErrorTraceMessage(message=text, internal_message=text, failure_type=failure_type)
    _print(AirbyteMessage(type=Type.TRACE, trace=AirbyteTraceMessage(type=TraceType.ERROR, emitted_at=time.time() * 1000, error=error)))
    return 1


def _print(message: "AirbyteMessage") -> None:
    from airbyte_cdk.models import AirbyteMessageSerializer  # noqa: PLC0415

    print(json.dumps(AirbyteMessageSerializer.dump(message)), flush=True)


if __name__ == "__main__":
    run()
