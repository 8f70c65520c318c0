"""Acceptance scenarios (acceptance-test-config.yml) through the connector's Python entry point, in this process.

See integration_tests/acceptance.py for the scenarios; here they run ``source_convert.run.run`` directly,
against one simulator for the module.
"""

from __future__ import annotations

import pytest

from integration_tests.acceptance import AcceptanceSuite, InProcessRunner


class TestInProcess(AcceptanceSuite):
    @pytest.fixture(scope="class")
    @classmethod
    def runner(cls) -> InProcessRunner:
        return InProcessRunner()
