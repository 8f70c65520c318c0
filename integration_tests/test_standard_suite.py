"""Airbyte's standard connector tests (``airbyte_cdk.test.standard_tests``), in-process and against the image.

The scenarios are those of ``acceptance-test-config.yml``. Their configs must reach the simulator this
module starts, whose port is chosen at run time: the scenarios read copies of the config files, written
at the start of the class with the simulator's address. The image tests (marked ``image_tests``) run
``airbyte/source-convert:dev`` (or ``$SOURCE_CONVERT_IMAGE``), built by ``bash scripts/docker.sh build``,
on the host network.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any, Callable, Iterator, List

import pytest
import yaml

from airbyte_cdk.test.models import ConnectorTestScenario
from airbyte_cdk.test.standard_tests import SourceTestSuiteBase, docker_base
from airbyte_cdk.test.standard_tests._job_runner import IConnector
from integration_tests.prerequisites import docker, require_image
from simulator import ConvertSimulator
from source_convert.source import SourceConvert

# The CDK's documented way to load its fixtures (--connector-image, --read-from-streams, ...) and its
# scenario parametrization.
pytest_plugins = ["airbyte_cdk.test.standard_tests.pytest_hooks"]

# Problems the CDK only warns about today are failures for this connector.
pytestmark = pytest.mark.filterwarnings("error::airbyte_cdk.test.standard_tests.DiscoveredCatalogWarning")

# Where this session writes the scenario configs; known at collection, filled by the class fixture.
SCENARIO_CONFIG_DIR = Path(tempfile.gettempdir()) / f"source-convert-scenarios-{uuid.uuid4().hex[:12]}"


def on_host_network(run: Callable[..., Any]) -> Callable[..., Any]:
    """``run`` (a CDK docker helper) with ``--network=host`` added to its ``docker run`` commands."""

    def run_on_host_network(cmd: List[str], **kwargs: Any) -> Any:
        assert cmd[:2] == ["docker", "run"], f"expected a `docker run` command, got {cmd[:2]}"
        return run([*cmd[:2], "--network=host", *cmd[2:]], **kwargs)

    return run_on_host_network


def docker_repository() -> str:
    metadata = yaml.safe_load((Path(__file__).resolve().parent.parent / "metadata.yaml").read_text(encoding="utf-8"))
    return metadata["data"]["dockerRepository"]


def connector_image() -> str:
    """The image ``bash scripts/docker.sh build`` makes: ``$SOURCE_CONVERT_IMAGE``, else ``<dockerRepository>:dev``."""
    return os.environ.get("SOURCE_CONVERT_IMAGE") or f"{docker_repository()}:dev"


class TestSourceConvert(SourceTestSuiteBase):
    """Every standard test, for every scenario of ``acceptance-test-config.yml``."""

    connector_name = docker_repository().split("/")[-1]  # the CDK would take the repository directory's name

    @classmethod
    def get_scenarios(cls) -> List[ConnectorTestScenario]:
        """The declared scenarios, reading their configs from this session's copies."""
        return [scenario.model_copy(update={"config_path": SCENARIO_CONFIG_DIR / scenario.config_path})
                for scenario in super().get_scenarios()]

    @classmethod
    def create_connector(cls, scenario: ConnectorTestScenario | None) -> IConnector:
        """The source built with the scenario's config, as the command line builds it."""
        config = scenario.get_config_dict(connector_root=cls.get_connector_root_dir(), empty_if_missing=True) if scenario else {}
        return SourceConvert(config=config or None)

    @pytest.fixture(scope="class", autouse=True)
    @classmethod
    def scenario_configs(cls, simulator: ConvertSimulator) -> Iterator[None]:
        """Write each scenario's config, pointed at the running simulator, where the scenario reads it."""
        root = cls.get_connector_root_dir()
        for scenario in cls.get_scenarios():
            assert scenario.config_path is not None
            declared = json.loads((root / scenario.config_path.relative_to(SCENARIO_CONFIG_DIR)).read_text(encoding="utf-8"))
            scenario.config_path.parent.mkdir(parents=True, exist_ok=True)
            scenario.config_path.write_text(json.dumps({**declared, "api_base_url": simulator.base_url}), encoding="utf-8")
        yield
        shutil.rmtree(SCENARIO_CONFIG_DIR, ignore_errors=True)

    @pytest.fixture(autouse=True)
    def host_network(self, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
        """Image tests run their containers on the host network.

        The CDK's docker tests call ``docker run`` with no network option, and this machine's engine
        has no bridge network (see scripts/docker.sh): only on the host network does a container reach
        the simulator on 127.0.0.1.
        """
        if request.node.get_closest_marker("image_tests"):
            monkeypatch.setattr(docker_base, "run_docker_airbyte_command", on_host_network(docker_base.run_docker_airbyte_command))

    @pytest.fixture
    def connector_image_override(self) -> str:
        """The image under test: the built one, never a fresh CDK build (which needs Airbyte's registry)."""
        image = connector_image()
        require_image(image)
        return image

    @pytest.fixture
    def connector_base_image_override(self) -> None:
        return None

    @pytest.fixture
    def read_from_streams(self) -> str:
        """The image's read covers every stream (the CDK reads none unless told to)."""
        return "all"

    @pytest.mark.image_tests
    def test_docker_image_spec_backward_compatibility(self) -> None:  # type: ignore[override]
        pytest.skip("not applicable: source-convert has no version in Airbyte's connector registry to compare "
                    "its spec with, and these tests talk to nothing but the local simulator")


@pytest.fixture(scope="module")
def image_config() -> dict:
    image = connector_image()
    require_image(image)
    inspected = docker("image", "inspect", image)
    assert inspected.returncode == 0, inspected.stderr
    return json.loads(inspected.stdout)[0]["Config"]


@pytest.mark.image_tests
def test_image_entrypoint_is_airbyte_entrypoint(image_config: dict) -> None:
    env = dict(item.split("=", 1) for item in image_config.get("Env") or [])
    assert env.get("AIRBYTE_ENTRYPOINT"), "the image must set AIRBYTE_ENTRYPOINT"
    assert image_config.get("Entrypoint") == shlex.split(env["AIRBYTE_ENTRYPOINT"])


@pytest.mark.image_tests
def test_image_runs_the_connector_as_non_root(image_config: dict) -> None:
    assert (image_config.get("User") or "").split(":")[0] not in ("", "0", "root"), image_config.get("User")
    result = docker("run", "--rm", "--network=none", "--entrypoint", "id", connector_image(), "-u")
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.strip()) != 0, "the connector process runs as root"


@pytest.mark.image_tests
def test_image_check_refuses_a_malformed_config_naming_the_field(image_config: dict) -> None:
    """Not a standard scenario: the command line refuses it before a source exists to run in-process."""
    config = Path(__file__).resolve().parent / "invalid_config_format.json"
    result = docker("run", "--rm", "--network=none", "-v", f"{config}:/secrets/config.json:ro",
                    connector_image(), "check", "--config", "/secrets/config.json")
    messages = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    statuses = [m["connectionStatus"] for m in messages if m.get("type") == "CONNECTION_STATUS"]
    assert result.returncode == 0 and len(statuses) == 1, f"exit code {result.returncode}, output: {result.stdout[-1500:]}"
    assert statuses[0]["status"] == "FAILED" and "'project_id'" in statuses[0]["message"], statuses[0]
    assert "Traceback" not in result.stdout + result.stderr
