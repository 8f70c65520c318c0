"""The commands that need the CDK (``check``, ``discover``, ``read``; ``spec`` with unusual arguments):
inputs validated with clear messages, then the CDK entrypoint."""

from __future__ import annotations

import json
import sys
import time
from typing import Any, List, Optional

import orjson

from airbyte_cdk.entrypoint import AirbyteEntrypoint, launch
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

from source_convert.config import ConfigError, validate_config
from source_convert.source import SourceConvert


def _emit(message: AirbyteMessage) -> None:
    print(orjson.dumps(AirbyteMessageSerializer.dump(message)).decode(), flush=True)


def _config_failure(command: str, text: str) -> int:
    """Report an unusable config the way Airbyte expects: a FAILED status for check, an error trace otherwise."""
    if command == "check":
        _emit(AirbyteMessage(type=Type.CONNECTION_STATUS, connectionStatus=AirbyteConnectionStatus(status=Status.FAILED, message=text)))
        return 0
    trace = AirbyteTraceMessage(
        type=TraceType.ERROR,
        emitted_at=time.time() * 1000,
        error=AirbyteErrorTraceMessage(message=text, internal_message=text, failure_type=FailureType.config_error),
    )
    _emit(AirbyteMessage(type=Type.TRACE, trace=trace))
    return 1


def _read_json_file(path: str, what: str) -> Any:
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"The {what} file {path!r} does not exist.") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"The {what} file {path!r} cannot be read: {error.__class__.__name__}.") from None
    except json.JSONDecodeError as error:
        raise ConfigError(f"The {what} file {path!r} is not valid JSON (line {error.lineno}, column {error.colno}).") from None


def _validated_config(args: Any) -> Optional[dict]:
    if getattr(args, "config", None) is None:
        return None
    return validate_config(_read_json_file(args.config, "config"))


def run_command(arguments: List[str]) -> None:
    """Validate inputs with clear messages, then hand over to the Airbyte CDK entrypoint."""
    args = AirbyteEntrypoint.parse_args(arguments)
    command = args.command
    try:
        config = _validated_config(args)
        catalog = SourceConvert.read_catalog(args.catalog) if getattr(args, "catalog", None) else None
        state = SourceConvert.read_state(args.state) if getattr(args, "state", None) else None
    except ConfigError as error:
        sys.exit(_config_failure(command, str(error)))
    except Exception as error:  # a catalog or state file that is not what Airbyte writes
        sys.exit(_config_failure(command, f"The catalog or state file is not valid: {error.__class__.__name__}: {str(error)[:300]}"))
    launch(SourceConvert(catalog=catalog, config=config, state=state), arguments)
