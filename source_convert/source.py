"""The Convert source: the low-code manifest, built with the validated, normalized config."""

from __future__ import annotations

import ast
import logging
from typing import Any, List, Mapping, Optional

from airbyte_cdk.models import AirbyteConnectionStatus, AirbyteStateMessage, ConfiguredAirbyteCatalog, FailureType, Status
from airbyte_cdk.sources.declarative.yaml_declarative_source import YamlDeclarativeSource
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_convert.config import validate_config
from source_convert.reachability import wait_until_reachable
from source_convert.state import sanitize_state


class SourceConvert(YamlDeclarativeSource):
    """Convert Experiences source declared in ``manifest.yaml``.

    A config given to the constructor is validated and normalized here, once (``config.validate_config``
    raises ``ConfigError`` naming the field); the CDK keeps that config and hands it to ``check``,
    ``discover``, ``read`` and every component, whatever config file the entrypoint reads later.
    """

    def __init__(
        self,
        catalog: Optional[ConfiguredAirbyteCatalog] = None,
        config: Optional[Mapping[str, Any]] = None,
        state: Optional[List[AirbyteStateMessage]] = None,
    ) -> None:
        state = sanitize_state(state) if state is not None else None
        super().__init__(
            path_to_yaml="manifest.yaml",
            catalog=catalog,
            config=validate_config(config) if config is not None else None,
            state=state,
        )

    def check(self, logger: logging.Logger, config: Mapping[str, Any]) -> AirbyteConnectionStatus:
        """The manifest's check (one signed request), its failure told as the reason itself, not its repr."""
        status = super().check(logger, config)
        if status.status == Status.FAILED:
            status.message = _unquoted(status.message)
        return status

    def ensure_usable(self, logger: logging.Logger, command: str) -> None:
        """What the command line does before ``check`` and ``read``, so a connection that cannot work
        fails once instead of in every stream. Raises an ``AirbyteTracedException`` that says why.

        * The API host must answer: a bounded, logged wait (``reachability.py``), then one error that
          names the host and the reason.
        * Before a ``read``, the first record of the manifest's check streams is read with the
          manifest's requester and error handler (one signed request for a list). A config error
          there (wrong key, account or project) stops the read with the error handler's message; any
          other failure is left to the streams, which report their own errors as before. (``check``
          itself cannot be reused here: it reports a failure as text, without its failure type.)
        """
        unreachable = wait_until_reachable(self._config["api_base_url"], logger)
        if unreachable is not None:
            raise AirbyteTracedException(
                message=unreachable, internal_message=unreachable, failure_type=FailureType.transient_error
            )
        if command != "read":
            return
        logger.info("Checking the key, account and project before reading.")
        try:
            self._read_first_record_of_check_streams()
        except AirbyteTracedException as error:
            if error.failure_type == FailureType.config_error:
                raise
            logger.warning(f"The check before reading failed ({error.message}); reading anyway.")

    def _read_first_record_of_check_streams(self) -> None:
        streams = {stream.name: stream for stream in self.streams(self._config)}
        for name in self.resolved_manifest["check"]["stream_names"]:
            partition = next(iter(streams[name].generate_partitions()), None)
            if partition is not None:
                next(iter(partition.read()), None)


def _unquoted(message: Optional[str]) -> Optional[str]:
    """The CDK reports a failed check as ``repr(reason)``; return the reason itself."""
    if message and len(message) > 1 and message[0] == message[-1] and message[0] in "'\"":
        try:
            value = ast.literal_eval(message)
        except (ValueError, SyntaxError):
            return message
        return value if isinstance(value, str) else message
    return message
