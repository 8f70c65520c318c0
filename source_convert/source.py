"""The Convert source: the low-code manifest, built with the validated, normalized config."""

from __future__ import annotations

import logging
from typing import Any, Dict, Iterator, List, Mapping, Optional

from airbyte_cdk.models import (
    AirbyteConnectionStatus,
    AirbyteMessage,
    AirbyteStateMessage,
    ConfiguredAirbyteCatalog,
    FailureType,
    Status,
)
from airbyte_cdk.sources.declarative.yaml_declarative_source import YamlDeclarativeSource
from airbyte_cdk.sources.streams.concurrent.abstract_stream import AbstractStream
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_convert.components import shared_reads, signed_url
from source_convert.components.project_state import partitions_by_project
from source_convert.config import ALL_PROJECTS_FLAG, PROJECT_IDS, validate_config
from source_convert.reachability import wait_until_reachable
from source_convert.state import sanitize_state

PROJECTS_STREAM = "projects"
PROBE_STREAM = "tags"  # a plain project list: the cheapest request that proves one project is readable


class SourceConvert(YamlDeclarativeSource):
    """Convert Experiences source declared in ``manifest.yaml``.

    A config given to the constructor is validated and normalized here, once (``config.validate_config``
    raises ``ConfigError`` naming the field); the CDK keeps that config and hands it to ``check``,
    ``discover``, ``read`` and every component, whatever config file the entrypoint reads later.

    The configured projects are settled once per sync (``settle_projects``): one read of the account's
    projects list proves the key and the account, names every listed project the account lacks, and
    gives the project IDs of ``*``. ``check`` does it; the command line does it before a ``read``
    (``ensure_usable``), and ``read`` itself for ``*`` when that has not happened (an in-process read).
    The streams then read ``project_ids`` of the config.

    The streams are built once per config (``streams``): the projects check and the read that follows
    it read the same stream objects. Only ``*`` builds them twice, since the project IDs are part of
    every project-level stream (its partition router's list is fixed when the stream is built) and are
    known only after the projects list has been read with the first build.
    """

    def __init__(
        self,
        catalog: Optional[ConfiguredAirbyteCatalog] = None,
        config: Optional[Mapping[str, Any]] = None,
        state: Optional[List[AirbyteStateMessage]] = None,
    ) -> None:
        shared_reads.clear()  # a new source is a new sync: nothing read for another one is reused
        signed_url.reset()  # nor the signed-URL reading another sync settled
        state = sanitize_state(state) if state is not None else None
        super().__init__(
            path_to_yaml="manifest.yaml",
            catalog=catalog,
            config=validate_config(config) if config is not None else None,
            state=state,
        )
        self._projects_settled = False
        self._streams: Optional[List[AbstractStream]] = None
        self._streams_config: Optional[Mapping[str, Any]] = None

    def streams(self, config: Mapping[str, Any]) -> List[AbstractStream]:  # type: ignore[override]
        """The CDK's streams of the source's config, built on the first call for that config and then reused.

        The CDK builds them from the source's own config (the ``config`` argument is not read); a new
        config (``settle_projects`` for ``*``) means a new build.
        """
        if self._streams is None or self._streams_config is not self._config:
            self._streams, self._streams_config = super().streams(config), self._config
        return self._streams

    def check(self, logger: logging.Logger, config: Mapping[str, Any]) -> AirbyteConnectionStatus:
        """The configured projects settled (see the class docstring); a failure is the reason itself."""
        try:
            projects = self.settle_projects(logger)
        except AirbyteTracedException as error:
            return AirbyteConnectionStatus(status=Status.FAILED, message=error.message or str(error))
        logger.info(f"Convert answered for account {self._config['account_id']}: projects {', '.join(projects)}.")
        return AirbyteConnectionStatus(status=Status.SUCCEEDED)

    def read(
        self,
        logger: logging.Logger,
        config: Mapping[str, Any],
        catalog: ConfiguredAirbyteCatalog,
        state: Optional[List[AirbyteStateMessage]] = None,
    ) -> Iterator[AirbyteMessage]:
        """Reads every configured project; ``*`` is resolved first (once, if the pre-read check has not).

        The catalog's streams are the ones that share answers (``shared_reads.select_streams``); what
        they shared is forgotten when the read ends.
        """
        if self._config.get(ALL_PROJECTS_FLAG):
            self.settle_projects(logger)
        shared_reads.select_streams(configured.stream.name for configured in catalog.streams)
        try:
            yield from super().read(logger, config, catalog, state)
        finally:
            shared_reads.clear()

    def ensure_usable(self, logger: logging.Logger, command: str) -> None:
        """What the command line does before ``check`` and ``read``, so a connection that cannot work
        fails once instead of in every stream. Raises an ``AirbyteTracedException`` that says why.

        * The API host must answer: a bounded, logged wait (``reachability.py``), then one error that
          names the host and the reason.
        * Before a ``read``, the projects are settled. A config error there (wrong key or account, a
          listed project that does not exist) stops the read with one message; any other failure is
          left to the streams, which report their own errors (for ``*`` the read cannot go on without
          the list, so it fails).
        """
        unreachable = wait_until_reachable(self._config["api_base_url"], logger)
        if unreachable is not None:
            raise AirbyteTracedException(
                message=unreachable, internal_message=unreachable, failure_type=FailureType.transient_error
            )
        if command != "read":
            return
        logger.info("Checking the key, account and projects before reading.")
        try:
            self.settle_projects(logger)
        except AirbyteTracedException as error:
            if error.failure_type == FailureType.config_error or self._config.get(ALL_PROJECTS_FLAG):
                raise
            logger.warning(f"The check before reading failed ({error.message}); reading anyway.")

    def settle_projects(self, logger: logging.Logger) -> List[str]:
        """The configured project IDs, proved against the account's projects list (read once per sync)."""
        config: Mapping[str, Any] = self._config
        if self._projects_settled:
            return list(config[PROJECT_IDS])
        streams = {stream.name: stream for stream in self.streams(config)}
        try:
            listed = [str(record.data["id"]) for partition in streams[PROJECTS_STREAM].generate_partitions()
                      for record in partition.read()]
        except AirbyteTracedException as error:
            if not _is_refusal(error) or config.get(ALL_PROJECTS_FLAG):
                raise
            self._probe_each_project(streams, logger, error)
        else:
            matched = self._matched(config, listed)
            if matched != list(config[PROJECT_IDS]):
                # Rebinding the source's config reaches every component built from now on (the CDK's own
                # check overlays values the same way); the streams built for this read are then rebuilt.
                self._config = {**config, PROJECT_IDS: matched}
        self._projects_settled = True
        return list(self._config[PROJECT_IDS])

    @staticmethod
    def _matched(config: Mapping[str, Any], listed: List[str]) -> List[str]:
        """The project IDs to read: the account's for ``*``, else the configured ones, all of which it must have."""
        account = config["account_id"]
        if config.get(ALL_PROJECTS_FLAG):
            if not listed:
                raise _config_error(f"Account {account} has no project that this API key can see, so '*' selects nothing. "
                                    "Check the Account ID and the key's project permissions.")
            return listed
        missing = [project for project in config[PROJECT_IDS] if project not in listed]
        if missing:
            named = "Project " + missing[0] + " is" if len(missing) == 1 else "Projects " + ", ".join(missing) + " are"
            raise _config_error(
                f"{named} not among the projects of account {account} that this API key can see "
                f"({', '.join(listed) or 'none'}). Check the Project ID and the key's project permissions."
            )
        return list(config[PROJECT_IDS])

    @staticmethod
    def _probe_each_project(streams: Dict[str, Any], logger: logging.Logger, refused: AirbyteTracedException) -> None:
        """When the key may not list the account's projects: one request of each configured project."""
        logger.warning(
            f"Convert refused the account's projects list ({refused.message}); checking each configured project "
            "with one request of its own instead."
        )
        for project, partition in partitions_by_project(streams[PROBE_STREAM].generate_partitions()).items():
            next(iter(partition.read()), None)
            logger.info(f"Project {project} answered.")


def _is_refusal(error: AirbyteTracedException) -> bool:
    """Whether Convert answered 403 (the key lacks a permission): the error handler's message says so."""
    return error.failure_type == FailureType.config_error and "HTTP 403" in (error.message or "")


def _config_error(message: str) -> AirbyteTracedException:
    return AirbyteTracedException(message=message, internal_message=message, failure_type=FailureType.config_error)
