"""Shared fixtures: real simulators on 127.0.0.1, on ports the system picks, and the connector.

The integration tests run `source-avidtrak`'s commands as Airbyte does (connector_runner:
in this process through the CDK's entrypoint, or as the installed console script where a
test needs a real process) against `AvidTrakSimulator`, and compare what it emits with the
rows the simulator serves. Nothing here reaches beyond the loopback interface, and no test
waits for a retry: the CDK's retry sleeps are recorded, not slept.
"""

from __future__ import annotations

import atexit
import functools
import json
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping, Sequence
from urllib.parse import urlsplit, urlunsplit

import pytest

from integration_tests.connector_runner import Connector, ConnectorRun, connector_executable
from integration_tests.fault_support import RecordingSleep, install_recording_sleep
from integration_tests.simulator import AvidTrakSimulator

__all__ = ["Connector", "ConnectorRun", "connector_executable"]  # test_readme.py imports them from here

# Registers the standard tests' options (--connector-image, ...) and their scenario
# parametrization for test_acceptance.py. Must live in a conftest pytest loads at start-up.
pytest_plugins = ["airbyte_cdk.test.standard_tests.pytest_hooks"]

PIN = "sim-pin-0001"
WRONG_PIN = "wrong-pin-9999"
STREAMS = ("geographical_data", "offline_portal_calls")
CURSOR_FIELD = "call_date"
CONNECTOR_ROOT = Path(__file__).resolve().parent.parent
# The configs acceptance-test-config.yml names; they point at 127.0.0.1:18765 for use by hand.
SCENARIO_CONFIGS = CONNECTOR_ROOT / "integration_tests" / "configs"


@pytest.fixture(autouse=True)
def retry_sleeps(monkeypatch: pytest.MonkeyPatch) -> RecordingSleep:
    """The CDK's retry waits, recorded instead of slept (in this process; a subprocess sleeps)."""
    return install_recording_sleep(monkeypatch)


@pytest.fixture
def connector(tmp_path: Path) -> Connector:
    """The connector in this process, on the real clock and its default retry policy."""
    return Connector(tmp_path)


@pytest.fixture
def console_script(tmp_path: Path) -> Connector:
    """The installed `source-avidtrak` as a process: for the tests that need a real one."""
    return Connector(tmp_path / "process", process=True)


def make_config(base_url: str, duration: Mapping[str, Any], **overrides: Any) -> Dict[str, Any]:
    """A connector config for a simulator; `overrides` are the optional keys (page_size, ...)."""
    return {"pin_code": PIN, "base_url": base_url, "duration": dict(duration), "timezone": "UTC", **overrides}


def specific_range(first: date, last: date) -> Dict[str, Any]:
    return {
        "mode": "date_range",
        "date_from": {"mode": "specific", "specific_date_from": first.isoformat()},
        "date_to": {"mode": "specific", "specific_date_to": last.isoformat()},
    }


def configured_catalog(sync_mode: str = "full_refresh", streams: Sequence[str] = STREAMS) -> Dict[str, Any]:
    """A configured catalog naming the streams; read only uses names, modes and cursor."""
    schema = {"type": "object", "properties": {}}
    incremental = sync_mode == "incremental"
    return {
        "streams": [
            {
                "stream": {
                    "name": name,
                    "json_schema": schema,
                    "supported_sync_modes": ["full_refresh", "incremental"],
                    "source_defined_cursor": True,
                    "default_cursor_field": [CURSOR_FIELD],
                    "source_defined_primary_key": [["call_id"]],
                },
                "sync_mode": sync_mode,
                "destination_sync_mode": "append_dedup" if incremental else "overwrite",
                **({"cursor_field": [CURSOR_FIELD]} if incremental else {}),
                "primary_key": [["call_id"]],
            }
            for name in streams
        ]
    }


def utc_today() -> date:
    """Today in the configs' time zone (UTC): what relative dates count back from."""
    return datetime.now(UTC).date()


@dataclass
class SimulatorPool:
    """Simulators started on demand, one per distinct set of options, stopped at session end."""

    running: Dict[tuple, AvidTrakSimulator] = field(default_factory=dict)

    def get(self, **options: Any) -> AvidTrakSimulator:
        key = tuple(sorted(options.items()))
        if key not in self.running:
            self.running[key] = AvidTrakSimulator(pins=(PIN,), **options).start()
        simulator = self.running[key]
        simulator.clear_requests()
        simulator.clear_faults()
        return simulator

    def stop_all(self) -> None:
        for simulator in self.running.values():
            simulator.stop()


@pytest.fixture(scope="session")
def simulators() -> Iterator[SimulatorPool]:
    pool = SimulatorPool()
    yield pool
    pool.stop_all()


@pytest.fixture
def simulator(simulators: SimulatorPool) -> AvidTrakSimulator:
    """The default account (seed 42, 20 calls a day, some empty days), with a clean request log."""
    return simulators.get()


@functools.cache
def scenario_config_dir() -> Path:
    """Where this test process keeps the scenario configs, aimed at its own acceptance simulator.

    The standard tests collect their scenarios (and the paths of their configs) before any
    fixture runs, so the folder is chosen at collection and filled by `acceptance_simulator`.
    """
    folder = Path(tempfile.mkdtemp(prefix="avidtrak-scenarios-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def aimed_at(config: Dict[str, Any], simulator: AvidTrakSimulator) -> Dict[str, Any]:
    """The config with its Base URL's host and port the simulator's, its path kept."""
    url = urlsplit(config["base_url"])
    return {**config, "base_url": urlunsplit(url._replace(netloc=urlsplit(simulator.base_url).netloc))}


def scenario_config(name: str) -> Dict[str, Any]:
    """A scenario config by file name, as `acceptance_simulator` wrote it for this session."""
    return json.loads((scenario_config_dir() / name).read_text())


@pytest.fixture(scope="session")
def acceptance_simulator() -> Iterator[AvidTrakSimulator]:
    """The simulator the scenario configs name: 127.0.0.1 on a free port, configs written for it."""
    clients = {"client-a": "sim-client-pin-a", "client-b": "sim-client-pin-b"}  # configs/agency_config.json
    folder = scenario_config_dir()
    with AvidTrakSimulator(pins=(PIN,), clients=clients) as simulator:
        for path in sorted(SCENARIO_CONFIGS.glob("*.json")):
            (folder / path.name).write_text(json.dumps(aimed_at(json.loads(path.read_text()), simulator)))
        yield simulator


@pytest.fixture(autouse=True)
def cdk_image_tests_on_host_network(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs the containers of the CDK's `image_tests` with `--network host`.

    The CDK's `docker run` calls name no network. On a daemon without a bridge (CI: see
    .ci/docker.sh) a container then has only its own loopback, and cannot reach the simulator
    on the host's 127.0.0.1. A `docker run` that names a network keeps it.
    """
    if request.node.get_closest_marker("image_tests") is None:
        return
    from airbyte_cdk.test.standard_tests import docker_base
    from airbyte_cdk.utils import docker as cdk_docker

    run_docker_command = cdk_docker.run_docker_command

    def on_host_network(cmd: List[str], **kwargs: Any) -> Any:
        if cmd[:2] == ["docker", "run"] and not any(arg.startswith("--network") for arg in cmd):
            cmd = [*cmd[:2], "--network", "host", *cmd[2:]]
        return run_docker_command(cmd, **kwargs)

    # `run_docker_airbyte_command` looks the helper up in its own module; `docker_base` imported it by name.
    monkeypatch.setattr(cdk_docker, "run_docker_command", on_host_network)
    monkeypatch.setattr(docker_base, "run_docker_command", on_host_network)
