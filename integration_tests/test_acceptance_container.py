"""Acceptance scenarios (acceptance-test-config.yml) against the built connector image, through the docker SDK.

The image is ``$SOURCE_CONVERT_IMAGE`` or the config's ``connector_image`` (``airbyte/source-convert:dev``,
built by ``bash scripts/docker.sh build``). Containers use the host network, so the simulator on
127.0.0.1 is reachable; config, catalog and state are mounted read-only from a temp dir.

Without a docker engine or the image these tests skip locally and fail in CI (``CI`` set).
"""

from __future__ import annotations

import shlex
from typing import Any, Dict

import pytest
import yaml

from integration_tests.acceptance import ACCEPTANCE, REPO_ROOT, AcceptanceSuite, ContainerRunner, skip_or_fail

IMAGE = ACCEPTANCE.connector_image
REBUILD_HINT = "build it with `bash scripts/docker.sh build` (rebuild after connector changes)"


@pytest.fixture(scope="module")
def docker_client() -> Any:
    try:
        import docker
        from docker.errors import ImageNotFound
    except ImportError:  # pragma: no cover - the dev extra installs it
        skip_or_fail("the docker SDK is not installed (pip install -e '.[dev]')")
    try:
        client = docker.from_env()
        client.ping()
    except Exception as error:
        skip_or_fail(f"no docker engine reachable ({error.__class__.__name__}); start one with `bash scripts/docker.sh engine`")
    try:
        client.images.get(IMAGE)
    except ImageNotFound:
        skip_or_fail(f"image {IMAGE} not found; {REBUILD_HINT}")
    yield client
    client.close()


@pytest.fixture(scope="module")
def image_config(docker_client: Any) -> Dict[str, Any]:
    return docker_client.images.get(IMAGE).attrs["Config"]


class TestContainer(AcceptanceSuite):
    @pytest.fixture(scope="class")
    @classmethod
    def runner(cls, docker_client: Any) -> ContainerRunner:
        return ContainerRunner(docker_client, IMAGE)


def test_entrypoint_is_airbyte_entrypoint(image_config: Dict[str, Any]) -> None:
    env = dict(item.split("=", 1) for item in image_config.get("Env") or [])
    assert env.get("AIRBYTE_ENTRYPOINT"), "the image must set AIRBYTE_ENTRYPOINT"
    assert image_config.get("Entrypoint") == shlex.split(env["AIRBYTE_ENTRYPOINT"]), (
        f"ENTRYPOINT {image_config.get('Entrypoint')} differs from AIRBYTE_ENTRYPOINT {env['AIRBYTE_ENTRYPOINT']!r}"
    )


def test_image_runs_as_non_root(docker_client: Any, image_config: Dict[str, Any]) -> None:
    user = (image_config.get("User") or "").split(":")[0]
    assert user not in ("", "0", "root"), f"the image's USER is {image_config.get('User')!r}"
    output = docker_client.containers.run(IMAGE, ["-u"], entrypoint="id", network_mode="none", remove=True)
    assert int(output.decode().strip()) != 0, "the connector process runs as root"


def test_image_labels_match_metadata(image_config: Dict[str, Any]) -> None:
    """A stale image (built before a version bump) is caught here, not by confusing scenario failures."""
    metadata = yaml.safe_load((REPO_ROOT / "metadata.yaml").read_text(encoding="utf-8"))["data"]
    labels = image_config.get("Labels") or {}
    assert labels.get("io.airbyte.name") == metadata["dockerRepository"]
    assert labels.get("io.airbyte.version") == metadata["dockerImageTag"], REBUILD_HINT


def test_image_holds_the_current_connector(docker_client: Any) -> None:
    """The packaged manifest in the image is the working tree's, so the scenarios test this code."""
    local = (REPO_ROOT / "source_convert" / "manifest.yaml").read_bytes()
    # find_spec locates the installed package without importing it (no CDK start-up cost).
    script = ("import importlib.util, pathlib, sys; spec = importlib.util.find_spec('source_convert'); "
              "sys.stdout.buffer.write((pathlib.Path(spec.origin).parent / 'manifest.yaml').read_bytes())")
    output = docker_client.containers.run(IMAGE, ["-c", script], entrypoint="python", network_mode="none", remove=True)
    assert output == local, f"the image's manifest.yaml differs from source_convert/manifest.yaml: {REBUILD_HINT}"
