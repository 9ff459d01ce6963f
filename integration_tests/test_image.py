"""The Docker image gives the same answers as the pip-installed connector, and is built as declared.

The image (env `AVIDTRAK_IMAGE`, default `source-avidtrak:dev`, built by
`bash .ci/docker.sh build` or `docker build -t source-avidtrak:dev .`) runs as Airbyte runs
it: `docker run` with config, catalog and state mounted read-only, and the host's network, so
it reaches the simulator on 127.0.0.1. Each command is run both in the image and by the
connector installed in this environment, and the two outputs are compared.

The tests marked `image` fail, rather than skip, when no Docker daemon answers or the image is
missing: deselect them (`-m "not image"`) where Docker is not wanted. The metadata.yaml tests
need no Docker.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import uuid
from datetime import date
from importlib.metadata import version
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import pytest
from airbyte_cdk.models.connector_metadata import ConnectorLanguage, MetadataFile

from integration_tests.conftest import (
    PIN,
    STREAMS,
    WRONG_PIN,
    Connector,
    ConnectorRun,
    configured_catalog,
    make_config,
    specific_range,
)
from integration_tests.connector_runner import run_process
from integration_tests.simulator import AvidTrakSimulator, Fault

CONNECTOR_ROOT = Path(__file__).resolve().parent.parent
IMAGE = os.environ.get("AVIDTRAK_IMAGE", "source-avidtrak:dev")
DATA_DIR = "/data"  # where the container sees the mounted config, catalog and state
LEAP_WEEK = specific_range(date(2024, 2, 26), date(2024, 3, 2))
PAGE_SIZE = 7


class ImageConnector(Connector):
    """`Connector`, but each command runs in the image: `docker run --network host IMAGE <verb>`."""

    def __init__(self, workdir: Path, image: str) -> None:
        workdir.mkdir()
        workdir.chmod(0o755)  # the connector runs as uid 1000, not as the owner of the files
        super().__init__(workdir)
        self.workdir = workdir
        self.image = image

    def run_args(self, args: Sequence[str]) -> ConnectorRun:
        """The command in a fresh container, its files mounted read-only where it sees them."""
        in_container = []
        for arg in args:
            if arg.startswith(f"{self.workdir}/"):
                Path(arg).chmod(0o644)
                arg = f"{DATA_DIR}/{Path(arg).name}"
            in_container.append(arg)
        command = ["docker", "run", "--rm", "--network", "host", "-v", f"{self.workdir}:{DATA_DIR}:ro", self.image]
        return run_process(command, in_container)


def docker(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=60, check=False)


@pytest.fixture(scope="module")
def image() -> str:
    """The image under test; fails (never skips) when Docker or the image is missing."""
    if shutil.which("docker") is None:
        pytest.fail("The `docker` command is not installed: install Docker, or deselect these tests (-m 'not image').")
    info = docker("info", "--format", "{{.ServerVersion}}")
    if info.returncode != 0:
        pytest.fail(
            "No Docker daemon answers `docker info` (start one with `bash .ci/docker.sh start`), "
            f"or deselect these tests with -m 'not image'. docker said: {info.stderr.strip()[-500:]}"
        )
    if docker("image", "inspect", IMAGE).returncode != 0:
        pytest.fail(
            f"The image {IMAGE} does not exist: build it with `bash .ci/docker.sh build` (CI) or "
            f"`docker build -t {IMAGE} .`, or name another one in AVIDTRAK_IMAGE."
        )
    return IMAGE


@pytest.fixture
def in_image(tmp_path: Path, image: str) -> ImageConnector:
    return ImageConnector(tmp_path / "image", image)


@pytest.fixture
def installed(tmp_path: Path) -> Connector:
    """This environment's connector, in this process: the console script's answers (test_connector_cli)."""
    return Connector(tmp_path / "installed")


def leap_week_config(simulator: AvidTrakSimulator, **overrides: Any) -> Dict[str, Any]:
    """A week over a month end and a leap day, in a zone west of UTC, read in small pages."""
    options = {"timezone": "America/New_York", "window_days": 2, "page_size": PAGE_SIZE, **overrides}
    return make_config(simulator.base_url, LEAP_WEEK, **options)


def comparable_records(run: ConnectorRun) -> List[Dict[str, Any]]:
    """(stream, data) of every record, sorted: concurrent reads emit them in any order."""
    assert run.returncode == 0 and not run.errors, run.describe()
    records = [{"stream": record["stream"], "data": record["data"]} for record in run.records]
    return sorted(records, key=lambda record: json.dumps(record, sort_keys=True))


def final_states(run: ConnectorRun, streams: Sequence[str] = STREAMS) -> Dict[str, Optional[Dict[str, Any]]]:
    """Each stream's last state, without `sourceStats`: its record count depends on thread timing."""
    states = {stream: run.final_state_of(stream) for stream in streams}
    return {stream: state and state["stream"] for stream, state in states.items()}


def stream_state(stream: str, call_date: str) -> Dict[str, Any]:
    descriptor = {"name": stream}
    return {"type": "STREAM", "stream": {"stream_descriptor": descriptor, "stream_state": {"call_date": call_date}}}


# spec, check, discover


@pytest.mark.image
def test_when_spec_then_image_and_installed_connector_emit_the_same_spec(in_image, installed) -> None:
    from_image, from_installed = in_image.run("spec"), installed.run("spec")

    assert from_image.returncode == 0, from_image.describe()
    assert len(from_image.of_type("SPEC")) == 1
    assert from_image.of_type("SPEC") == from_installed.of_type("SPEC")


@pytest.mark.image
def test_given_valid_pin_when_check_in_image_then_succeeded(in_image, simulator) -> None:
    run = in_image.run("check", config=leap_week_config(simulator))

    assert run.returncode == 0, run.describe()
    assert run.connection_status["status"] == "SUCCEEDED", run.connection_status
    assert simulator.requests, "check succeeded without reaching the simulator"


@pytest.mark.image
def test_given_wrong_pin_when_check_in_image_then_failed_as_when_installed(in_image, installed, simulator) -> None:
    config = leap_week_config(simulator, pin_code=WRONG_PIN)

    from_image = in_image.run("check", config=config)  # also asserts that the pin is not printed

    assert from_image.connection_status["status"] == "FAILED"
    assert from_image.connection_status == installed.run("check", config=config).connection_status


@pytest.mark.image
def test_when_discover_then_image_and_installed_connector_emit_the_same_catalog(in_image, installed, simulator) -> None:
    config = leap_week_config(simulator)

    from_image = in_image.run("discover", config=config)

    assert from_image.returncode == 0, from_image.describe()
    assert [stream["name"] for stream in from_image.catalog["streams"]] == list(STREAMS)
    assert from_image.catalog == installed.run("discover", config=config).catalog


# read


@pytest.mark.image
def test_when_full_refresh_then_image_and_installed_connector_emit_the_same_records_and_state(
    in_image, installed, simulator
) -> None:
    config, catalog = leap_week_config(simulator), configured_catalog("full_refresh")

    from_image = in_image.run("read", config=config, catalog=catalog)
    from_installed = installed.run("read", config=config, catalog=catalog)

    assert len(comparable_records(from_image)) > 2 * PAGE_SIZE, "the read must span several pages"
    assert comparable_records(from_image) == comparable_records(from_installed)
    assert final_states(from_image) == final_states(from_installed)


@pytest.mark.image
def test_given_state_when_incremental_then_image_and_installed_connector_emit_the_same_records_and_state(
    in_image, installed, simulator
) -> None:
    config, catalog = leap_week_config(simulator), configured_catalog("incremental")
    state = [stream_state(stream, "2024-02-29T12:00:00") for stream in STREAMS]

    from_image = in_image.run("read", config=config, catalog=catalog, state=state)
    from_installed = installed.run("read", config=config, catalog=catalog, state=state)

    records = comparable_records(from_image)
    assert records and min(record["data"]["call_date"] for record in records) >= "2024-02-28"
    assert records == comparable_records(from_installed)
    image_states = final_states(from_image)
    assert all(image_states.values()), image_states
    assert image_states == final_states(from_installed)


@pytest.mark.image
def test_given_wrong_pin_when_read_in_image_then_config_error_without_the_pin(in_image, simulator) -> None:
    run = in_image.run("read", config=leap_week_config(simulator, pin_code=WRONG_PIN), catalog=configured_catalog())

    assert run.returncode != 0 and run.records == []
    assert run.errors and run.errors[-1]["failure_type"] == "config_error", run.describe()


@pytest.mark.image
def test_given_api_answers_404_when_read_in_image_then_config_error_and_the_pin_is_nowhere(in_image, simulator) -> None:
    simulator.add_fault(Fault("http_status", times=None, status=404, body=f"no such page: pincode={PIN}"))

    run = in_image.run("read", config=leap_week_config(simulator), catalog=configured_catalog())

    assert run.returncode != 0 and run.records == []
    assert run.errors and run.errors[-1]["failure_type"] == "config_error", run.describe()
    assert simulator.requests, "the read failed before reaching the simulator"


# how the image is built


@pytest.mark.image
def test_image_runs_the_connector_as_uid_1000(image: str) -> None:
    whoami = docker("run", "--rm", "--entrypoint", "id", image, "-u")

    assert whoami.returncode == 0, whoami.stderr
    assert whoami.stdout.strip() == "1000"


@pytest.mark.image
def test_image_entrypoint_labels_and_user_match_metadata(image: str) -> None:
    inspected = docker("image", "inspect", image)
    assert inspected.returncode == 0, inspected.stderr
    config = json.loads(inspected.stdout)[0]["Config"]
    metadata = MetadataFile.from_file(CONNECTOR_ROOT / "metadata.yaml").data

    assert config["Entrypoint"] == ["source-avidtrak"]
    assert "AIRBYTE_ENTRYPOINT=source-avidtrak" in config["Env"]
    assert config["User"] == "airbyte"
    assert config["Labels"]["io.airbyte.name"] == metadata.dockerRepository
    assert config["Labels"]["io.airbyte.version"] == metadata.dockerImageTag


@pytest.mark.image
def test_image_holds_the_installed_connector_only_and_no_tests_or_work_tree_files(image: str) -> None:
    script = (
        "find / -xdev \\( -name unit_tests -o -name integration_tests -o -name '.git' -o -name '.venv*'"
        " -o -name '*.duckdb' -o -name secrets -o -name '*.egg-info' \\) -print;"
        " ls -A /airbyte/integration_code;"
        " python -c 'import source_avidtrak; print(source_avidtrak.__file__)'"
    )
    listed = docker("run", "--rm", "--entrypoint", "sh", image, "-c", script)

    assert listed.returncode == 0, listed.stderr
    installed_package = "/usr/local/lib/python3.11/site-packages/source_avidtrak/__init__.py"
    assert listed.stdout.splitlines() == ["main.py", installed_package]


# metadata.yaml (no Docker needed)


def test_metadata_loads_with_the_cdk_model_and_names_this_connector() -> None:
    metadata = MetadataFile.from_file(CONNECTOR_ROOT / "metadata.yaml")
    data = metadata.data

    assert data.dockerRepository == "airbyte/source-avidtrak"
    assert data.dockerImageTag == version("airbyte-source-avidtrak")
    assert data.language == ConnectorLanguage.PYTHON
    assert metadata.model_extra["metadataSpecVersion"] == "1.0"
    extra = data.model_extra
    assert uuid.UUID(extra["definitionId"]).version == 4
    assert (extra["connectorType"], extra["connectorSubtype"]) == ("source", "api")
    assert extra["allowedHosts"]["hosts"] == ["${base_url}"]


def test_metadata_base_image_is_the_dockerfile_default() -> None:
    dockerfile = (CONNECTOR_ROOT / "Dockerfile").read_text()
    default = re.search(r"^ARG BASE_IMAGE=(\S+)$", dockerfile, re.MULTILINE)
    metadata = MetadataFile.from_file(CONNECTOR_ROOT / "metadata.yaml").data

    assert default is not None, "the Dockerfile must give BASE_IMAGE a default"
    assert metadata.connectorBuildOptions.baseImage == default.group(1)
    assert re.fullmatch(r"docker\.io/airbyte/python-connector-base:[\d.]+@sha256:[0-9a-f]{64}", default.group(1))


# requirements.lock


def locked_versions() -> Dict[str, str]:
    """name -> version of every `name==version` line of requirements.lock."""
    lines = (CONNECTOR_ROOT / "requirements.lock").read_text().splitlines()
    pins = (line.split("==") for line in lines if "==" in line and not line.lstrip().startswith("#"))
    return {name.strip().lower(): version.split()[0] for name, version in pins}


@pytest.mark.image
def test_given_image_when_asked_for_its_packages_then_cdk_and_requests_are_the_locked_versions(image: str) -> None:
    script = "import importlib.metadata as m; print(m.version('airbyte-cdk')); print(m.version('requests'))"
    shown = docker("run", "--rm", "--entrypoint", "python", image, "-c", script)

    assert shown.returncode == 0, shown.stderr
    locked = locked_versions()
    assert shown.stdout.split() == [locked["airbyte-cdk"], locked["requests"]]


def test_given_this_virtualenv_when_compared_with_the_lock_then_every_installed_locked_package_matches() -> None:
    """scripts/setup.sh installs with `-c requirements.lock`: nothing may drift from it."""
    locked = locked_versions()
    drift = {
        name: (version(name), pinned) for name, pinned in locked.items() if _installed(name) and version(name) != pinned
    }
    assert drift == {}
    assert locked["airbyte-cdk"].startswith("7.")


def _installed(name: str) -> bool:
    try:
        version(name)
    except Exception:  # PackageNotFoundError: a locked package of another extra (the demo's)
        return False
    return True
