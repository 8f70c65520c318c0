"""``source-convert spec|check|discover|read``: the one entrypoint of the shell, the Docker image and PyAirbyte.

Before the CDK's ``launch`` runs the command, the input files are read and ``SourceConvert`` is built
with the config (validated and normalized there), and ``check`` and ``read`` go through
``SourceConvert.ensure_usable``. An input or connection that cannot work is reported once: a FAILED
connection status for ``check``, one error trace and exit code 1 for the other commands.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from typing import Any, List, Optional, Sequence

from airbyte_cdk.entrypoint import AirbyteEntrypoint, launch
from airbyte_cdk.exception_handler import init_uncaught_exception_handler
from airbyte_cdk.models import (
    AirbyteConnectionStatus,
    AirbyteErrorTraceMessage,
    AirbyteMessage,
    AirbyteMessageSerializer,
    AirbyteTraceMessage,
    FailureType,
    Status,
    TraceType,
    Type,
)
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_convert.config import ConfigError
from source_convert.source import SourceConvert


def run(argv: Optional[Sequence[str]] = None) -> None:
    """Build the source from the command's files, make sure it can work, then hand over to the CDK."""
    arguments: List[str] = list(sys.argv[1:] if argv is None else argv)
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


def _source(parsed: argparse.Namespace) -> SourceConvert:
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
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"The config file {path!r} does not exist.") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"The config file {path!r} cannot be read: {error.__class__.__name__}.") from None
    except json.JSONDecodeError as error:
        raise ConfigError(f"The config file {path!r} is not valid JSON (line {error.lineno}, column {error.colno}).") from None


def _refuse(command: str, text: str, failure_type: FailureType) -> int:
    """Print the failure the way Airbyte expects and return the exit code: a FAILED status for check
    (exit 0), one error trace otherwise (exit 1)."""
    if command == "check":
        status = AirbyteConnectionStatus(status=Status.FAILED, message=text)
        _print(AirbyteMessage(type=Type.CONNECTION_STATUS, connectionStatus=status))
        return 0
    error = AirbyteErrorTraceMessage(message=text, internal_message=text, failure_type=failure_type)
    _print(AirbyteMessage(type=Type.TRACE, trace=AirbyteTraceMessage(type=TraceType.ERROR, emitted_at=time.time() * 1000, error=error)))
    return 1


def _print(message: AirbyteMessage) -> None:
    print(json.dumps(AirbyteMessageSerializer.dump(message)), flush=True)


if __name__ == "__main__":
    run()
