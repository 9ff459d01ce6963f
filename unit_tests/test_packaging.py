"""Packaging: one PyPI name, the icon, three locks with one runtime, a self-contained checkout.

- metadata.yaml's `remoteRegistries.pypi.packageName` is setup.py's `name`.
- metadata.yaml's `icon` is an SVG file beside it.
- requirements.lock is the runtime alone (what the image installs); requirements-dev.lock and
  requirements-demo.lock pin every runtime package at the same version, so neither the test
  tools nor PyAirbyte decide the image's versions (scripts/lock.sh writes all three).
- Nothing in the repository points outside it: no path into the reference folder beside the
  checkout, no absolute path of the machine it was written on, in any text file or lock.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Dict, Iterator

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
RUNTIME_LOCK = "requirements.lock"
OTHER_LOCKS = ("requirements-dev.lock", "requirements-demo.lock")
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", re.M)
# Without git: folders of a checkout that are not the repository's (virtualenvs, caches, outputs).
SKIPPED = {".git", ".demo", ".cache", ".pytest_cache", ".hypothesis", ".mypy_cache", ".ruff_cache", "build", "results"}
TEXT_SUFFIXES = {".py", ".md", ".sh", ".yml", ".yaml", ".json", ".lock", ".toml", ".ini", ".cfg", ".txt", ".svg", ""}
# The reference folder beside the checkout (spelled in pieces, so that this line does not
# name it), and this machine's absolute paths.
SIBLING = "sha" + "red"
OUTSIDE = re.compile("|".join((re.escape(f"../{SIBLING}"), f"{SIBLING}/", "/work/", "/opt/", "/home/")))


def setup_keyword(name: str) -> str:
    tree = ast.parse((ROOT / "setup.py").read_text())
    calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "setup"]
    [value] = [keyword.value for keyword in calls[0].keywords if keyword.arg == name]
    assert isinstance(value, ast.Constant)
    return str(value.value)


def pins(lock: str) -> Dict[str, str]:
    return {name.lower(): version for name, version in PIN.findall((ROOT / lock).read_text())}


@pytest.fixture(scope="module")
def metadata() -> Dict:
    return yaml.safe_load((ROOT / "metadata.yaml").read_text())["data"]


def test_given_metadata_when_its_pypi_name_is_read_then_it_is_the_distribution_setup_py_builds(metadata):
    package = metadata["remoteRegistries"]["pypi"]["packageName"]

    assert package == setup_keyword("name")
    assert package == "airbyte-" + metadata["dockerRepository"].removeprefix("airbyte/"), "Airbyte's naming"


def test_given_metadata_when_its_icon_is_read_then_an_svg_beside_it(metadata):
    root = ElementTree.parse(ROOT / metadata["icon"]).getroot()

    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.get("viewBox")


def test_given_the_locks_when_compared_then_every_runtime_package_has_one_version_everywhere():
    runtime = pins(RUNTIME_LOCK)

    for lock in OTHER_LOCKS:
        other = pins(lock)
        assert {
            name: (version, other.get(name)) for name, version in runtime.items() if other.get(name) != version
        } == {}
    assert "airbyte-cdk" in runtime and "requests" in runtime


def test_given_the_runtime_lock_when_read_then_it_holds_no_test_tool_and_no_demo_client():
    runtime = pins(RUNTIME_LOCK)

    assert {"airbyte", "pytest", "ruff", "mypy", "pip-tools"} & runtime.keys() == set()
    assert "airbyte" in pins("requirements-demo.lock") and "pytest" in pins("requirements-dev.lock")


def test_given_the_dockerfile_when_read_then_it_installs_from_the_runtime_lock_alone():
    dockerfile = (ROOT / "Dockerfile").read_text()
    admitted = [line for line in (ROOT / ".dockerignore").read_text().splitlines() if line.startswith("!")]

    assert re.search(r"pip install [^\n]*-c requirements\.lock \.", dockerfile)
    assert not any(lock in dockerfile for lock in OTHER_LOCKS)
    assert [line for line in admitted if "lock" in line] == ["!requirements.lock"]


def repository_files() -> Iterator[Path]:
    """The repository's text files: git's tracked files (a checkout may hold other people's
    untracked trees, such as a bench baseline), or a walk of the folder without git."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=False)
    if listed.returncode == 0 and listed.stdout:
        paths = [ROOT / name for name in listed.stdout.decode().split("\0") if name]
    else:
        paths = []
        for folder, subfolders, files in os.walk(ROOT):
            subfolders[:] = [name for name in subfolders if name not in SKIPPED and not name.startswith(".venv")]
            paths += [Path(folder) / name for name in files if name != ".git"]
    yield from (
        path for path in paths if path.suffix in TEXT_SUFFIXES and path.is_file() and path.name != Path(__file__).name
    )


def test_given_the_checkout_when_searched_then_nothing_points_outside_the_repository():
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in repository_files()
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), start=1)
        if OUTSIDE.search(line)
    ]

    assert found == [], "a clone of this repository alone must be complete"
