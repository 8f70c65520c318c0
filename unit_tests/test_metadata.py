"""metadata.yaml is valid for Airbyte, and the release facts agree everywhere.

* metadata.yaml validates against Airbyte's typed connector metadata model
  (airbyte-connector-models) and says what this connector is;
* one version everywhere: pyproject.toml == metadata dockerImageTag ==
  Dockerfile `io.airbyte.version` label == newest row of the docs changelog;
* one image name: metadata dockerRepository == Dockerfile `io.airbyte.name`;
* the Dockerfile's default base image is the one metadata.yaml declares, and
  requirements.lock pins what pyproject.toml asks for.
"""

from __future__ import annotations

import re
import shlex
import tomllib
import uuid
from pathlib import Path
from typing import Any

import yaml
from packaging.requirements import Requirement
from packaging.version import Version

try:
    from airbyte_connector_models.metadata.v0.connector_metadata_definition_v0 import (
        ConnectorMetadataDefinitionV0,
    )
except ImportError as exc:  # pragma: no cover - environment problem, not a test result
    raise ImportError(
        "airbyte-connector-models is needed to validate metadata.yaml: "
        "pip install -e '.[dev]' (or .venv/bin/pip install airbyte-connector-models)"
    ) from exc

ROOT = Path(__file__).resolve().parent.parent
METADATA = ROOT / "metadata.yaml"
PYPROJECT = ROOT / "pyproject.toml"
DOCKERFILE = ROOT / "Dockerfile"
LOCKFILE = ROOT / "requirements.lock"
DOCS = ROOT / "docs" / "convert.md"

# Generated once for this connector; it must never change, or Airbyte would see
# a different connector.
DEFINITION_ID = "314b03c2-b35d-4360-b5c9-ffa20d2b15f1"


# --------------------------------------------------------------------------- helpers


def load_metadata() -> dict[str, Any]:
    return yaml.safe_load(METADATA.read_text(encoding="utf-8"))


def pyproject() -> dict[str, Any]:
    return tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with comments dropped and `\\` continuations joined."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue  # comment lines inside a continued instruction
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = (pending + line).strip()
        pending = ""
        if full:
            keyword, _, rest = full.partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    return instructions


def dockerfile_labels() -> dict[str, str]:
    labels: dict[str, str] = {}
    for keyword, rest in dockerfile_instructions():
        if keyword == "LABEL":
            for token in shlex.split(rest):
                key, sep, value = token.partition("=")
                assert sep, f"LABEL without key=value form in Dockerfile: {rest!r}"
                labels[key] = value
    return labels


def dockerfile_default_base_image() -> str:
    for keyword, rest in dockerfile_instructions():
        if keyword == "ARG" and rest.startswith("BASE_IMAGE="):
            return shlex.split(rest)[0].partition("=")[2]
    raise AssertionError("Dockerfile declares no `ARG BASE_IMAGE=<default>`")


def changelog_versions() -> list[str]:
    """Versions in the docs changelog table, in the order they appear (newest first)."""
    text = DOCS.read_text(encoding="utf-8")
    heading = re.search(r"^##\s+Changelog\s*$", text, flags=re.MULTILINE | re.IGNORECASE)
    assert heading, "docs/convert.md has no '## Changelog' section"
    versions: list[str] = []
    in_table = False
    for line in text[heading.end():].splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            break  # next section
        if not stripped.startswith("|"):
            if in_table and versions:
                break
            continue
        cells = [cell.strip() for cell in stripped.strip("|").split("|")]
        if cells and cells[0].lower() == "version":
            in_table = True
            continue
        if in_table and cells and set(cells[0]) <= set(":- "):
            continue  # header separator row
        if in_table and cells and cells[0]:
            versions.append(cells[0])
    assert versions, "the docs changelog table has no rows"
    return versions


# --------------------------------------------------------------------------- metadata model


def test_metadata_validates_against_airbyte_model() -> None:
    model = ConnectorMetadataDefinitionV0.model_validate(load_metadata())
    data = model.data
    assert model.metadata_spec_version == "1.0"
    assert data.name == "Convert"
    assert data.connector_type.value == "source"
    assert data.connector_subtype.value == "api"
    assert data.docker_repository == "airbyte/source-convert"
    assert data.release_stage.value == "alpha"
    assert data.support_level is not None and data.support_level.value == "community"
    assert data.license == "MIT"
    assert data.github_issue_label == "source-convert"
    assert str(data.documentation_url) == "https://docs.airbyte.com/integrations/sources/convert"
    assert set(data.tags or []) >= {"language:python", "cdk:low-code"}
    assert data.allowed_hosts is not None and data.allowed_hosts.hosts == ["api.convert.com"]
    assert data.definition_id == uuid.UUID(DEFINITION_ID)


def test_registries_enabled_and_pypi_package_matches_pyproject() -> None:
    data = ConnectorMetadataDefinitionV0.model_validate(load_metadata()).data
    assert data.registry_overrides is not None
    assert data.registry_overrides.cloud is not None and data.registry_overrides.cloud.enabled
    assert data.registry_overrides.oss is not None and data.registry_overrides.oss.enabled
    assert data.remote_registries is not None and data.remote_registries.pypi is not None
    assert data.remote_registries.pypi.enabled
    assert data.remote_registries.pypi.package_name == pyproject()["project"]["name"]


def test_icon_file_exists_and_is_svg() -> None:
    icon = load_metadata()["data"]["icon"]
    path = ROOT / icon
    assert path.is_file(), f"metadata icon {icon!r} does not exist"
    assert "<svg" in path.read_text(encoding="utf-8")


# --------------------------------------------------------------------------- agreement


def test_version_agrees_everywhere() -> None:
    version = pyproject()["project"]["version"]
    Version(version)  # a valid PEP 440 / semver-like version
    seen = {
        "pyproject.toml [project].version": version,
        "metadata.yaml data.dockerImageTag": str(load_metadata()["data"]["dockerImageTag"]),
        "Dockerfile LABEL io.airbyte.version": dockerfile_labels().get("io.airbyte.version"),
        "docs/convert.md newest changelog row": changelog_versions()[0],
    }
    assert len(set(seen.values())) == 1, f"versions disagree: {seen}"


def test_docker_repository_matches_dockerfile_label() -> None:
    labels = dockerfile_labels()
    assert labels.get("io.airbyte.name") == load_metadata()["data"]["dockerRepository"]


def test_changelog_is_newest_first_without_duplicates() -> None:
    versions = changelog_versions()
    parsed = [Version(v) for v in versions]
    assert len(set(parsed)) == len(parsed), f"duplicate changelog versions: {versions}"
    assert parsed == sorted(parsed, reverse=True), f"changelog must be newest first: {versions}"


def test_dockerfile_default_base_image_matches_metadata() -> None:
    build_options = load_metadata()["data"]["connectorBuildOptions"]
    assert dockerfile_default_base_image() == build_options["baseImage"]


def test_dockerfile_entrypoint_is_the_console_script() -> None:
    scripts = pyproject()["project"]["scripts"]
    assert "source-convert" in scripts
    entrypoints = [rest for keyword, rest in dockerfile_instructions() if keyword == "ENTRYPOINT"]
    assert entrypoints and entrypoints[-1] == '["source-convert"]'


def test_lock_pins_exactly_and_matches_pyproject() -> None:
    pins: dict[str, str] = {}
    for line in LOCKFILE.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        req = Requirement(line)
        specs = list(req.specifier)
        assert len(specs) == 1 and specs[0].operator == "==", f"not an exact pin: {line!r}"
        pins[req.name.lower().replace("_", "-")] = specs[0].version
    project = pyproject()["project"]
    assert project["name"] not in pins, "the lock must not pin the package itself"
    for dependency in project["dependencies"]:
        req = Requirement(dependency)
        name = req.name.lower().replace("_", "-")
        assert name in pins, f"{req.name} from pyproject.toml is missing from requirements.lock"
        assert req.specifier.contains(pins[name], prereleases=True), (
            f"requirements.lock pins {name}=={pins[name]}, outside pyproject's {req.specifier}"
        )
