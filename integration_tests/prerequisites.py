"""Test prerequisites that pip does not install (a Docker engine, the connector image, PyAirbyte's venv).

Locally a missing prerequisite skips the tests that need it, with the reason; in CI (``CI`` set)
it fails them, because there nothing may be skipped.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path
from typing import Dict, List, NoReturn, Optional

import pytest

PACKAGE_DIR = Path(__file__).resolve().parent.parent / "source_convert"
REBUILD_HINT = "build it with `bash scripts/docker.sh build` (again after every connector change)"

# Prints {relative path: sha256} of the source_convert package installed in the image.
_PACKAGE_DIGEST_SCRIPT = """
import hashlib, importlib.util, json, pathlib
root = pathlib.Path(importlib.util.find_spec("source_convert").origin).parent
print(json.dumps({str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
                  for p in root.rglob("*") if p.suffix in (".py", ".yaml", ".json") and "__pycache__" not in p.parts}))
"""


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def skip_or_fail(reason: str) -> NoReturn:
    """Skip the current test because ``reason`` is missing, or fail it in CI."""
    if in_ci():
        pytest.fail(f"{reason} (CI is set, so this is a failure, not a skip)", pytrace=False)
    pytest.skip(reason)


def docker(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run the docker CLI and capture its output."""
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)


def package_digests() -> Dict[str, str]:
    """The working tree's source_convert package files, as the image's installed package would list them."""
    return {str(path.relative_to(PACKAGE_DIR)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in PACKAGE_DIR.rglob("*") if path.suffix in (".py", ".yaml", ".json") and "__pycache__" not in path.parts}


@lru_cache(maxsize=None)
def image_problem(image: str) -> Optional[str]:
    """Why ``image`` cannot be tested (no docker CLI or engine, not built, or built from other code), or None."""
    if shutil.which("docker") is None:
        return "the docker CLI is not on PATH"
    engine = docker("version", "--format", "{{.Server.Version}}", timeout=30)
    if engine.returncode != 0:
        return f"no docker engine answers ({engine.stderr.strip()[:200]}); start one with `bash scripts/docker.sh engine`"
    if docker("image", "inspect", image, timeout=30).returncode != 0:
        return f"image {image} not found; {REBUILD_HINT}"
    listed = docker("run", "--rm", "--network=none", "--entrypoint", "python", image, "-c", _PACKAGE_DIGEST_SCRIPT)
    if listed.returncode != 0:
        return f"cannot list the connector package in {image}: {listed.stderr.strip()[-300:]}"
    in_image, local = json.loads(listed.stdout), package_digests()
    differing: List[str] = sorted(name for name in set(in_image) | set(local) if in_image.get(name) != local.get(name))
    if differing:
        return f"image {image} holds other connector code than this tree ({', '.join(differing[:5])}); {REBUILD_HINT}"
    return None


def require_image(image: str) -> None:
    """Skip (fail in CI) unless ``image`` exists in a running engine and holds this tree's connector code."""
    problem = image_problem(image)
    if problem:
        skip_or_fail(problem)
