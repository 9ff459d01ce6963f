"""Shared fixtures: real simulators on 127.0.0.1 and the installed connector as a subprocess.

The integration tests run `source-avidtrak` exactly as Airbyte does (a process speaking the
protocol on stdout) against `AvidTrakSimulator`, and compare what it emits with the rows the
simulator serves. Nothing here reaches beyond the loopback interface.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence

import pytest

from integration_tests.simulator import AvidTrakSimulator

# Registers the standard tests' options (--connector-image, ...) and their scenario
# parametrization for test_acceptance.py. Must live in a conftest pytest loads at start-up.
pytest_plugins = ["airbyte_cdk.test.standard_tests.pytest_hooks"]

PIN = "sim-pin-0001"
WRONG_PIN = "wrong-pin-9999"
STREAMS = ("geographical_data", "offline_portal_calls")
CURSOR_FIELD = "call_date"
# The configs under integration_tests/configs/ point here: acceptance-test-config.yml is static.
ACCEPTANCE_SIMULATOR_PORT = 18765
CONNECTOR_TIMEOUT_SECONDS = 180


def connector_executable() -> str:
    """The installed console script: beside this interpreter first, then on PATH."""
    beside = Path(sys.executable).parent / "source-avidtrak"
    found = str(beside) if beside.exists() else shutil.which("source-avidtrak")
    if not found:
        pytest.fail("`source-avidtrak` is not installed: run `pip install -e .` in this virtualenv first.")
    return found


@dataclass
class ConnectorRun:
    """One connector process: its exit code, parsed protocol messages and stderr."""

    args: Sequence[str]
    returncode: int
    messages: List[Dict[str, Any]]
    stderr: str

    def of_type(self, message_type: str) -> List[Dict[str, Any]]:
        return [message for message in self.messages if message["type"] == message_type]

    @property
    def records(self) -> List[Dict[str, Any]]:
        return [message["record"] for message in self.of_type("RECORD")]

    def records_of(self, stream: str) -> List[Dict[str, Any]]:
        return [record["data"] for record in self.records if record["stream"] == stream]

    @property
    def states(self) -> List[Dict[str, Any]]:
        return [message["state"] for message in self.of_type("STATE")]

    def final_state_of(self, stream: str) -> Optional[Dict[str, Any]]:
        """The last STATE message of a stream, as the platform would store it."""
        per_stream = [state for state in self.states if state["stream"]["stream_descriptor"]["name"] == stream]
        return per_stream[-1] if per_stream else None

    @property
    def errors(self) -> List[Dict[str, Any]]:
        return [message["trace"]["error"] for message in self.of_type("TRACE") if message["trace"]["type"] == "ERROR"]

    @property
    def connection_status(self) -> Dict[str, Any]:
        statuses = self.of_type("CONNECTION_STATUS")
        assert len(statuses) == 1, f"expected one CONNECTION_STATUS, got {len(statuses)}: {self.describe()}"
        return statuses[0]["connectionStatus"]

    @property
    def catalog(self) -> Dict[str, Any]:
        catalogs = self.of_type("CATALOG")
        assert len(catalogs) == 1, f"expected one CATALOG, got {len(catalogs)}: {self.describe()}"
        return catalogs[0]["catalog"]

    def describe(self) -> str:
        """Exit code, errors and stderr tail: what a failed assertion should show."""
        return f"exit {self.returncode}; errors {self.errors}; stderr tail {self.stderr[-2000:]!r}"


class Connector:
    """Runs `source-avidtrak <verb>` with config, catalog and state written to a temp folder."""

    def __init__(self, workdir: Path) -> None:
        self._workdir = workdir
        self._files = 0

    def _write(self, name: str, content: Any) -> str:
        self._files += 1
        path = self._workdir / f"{self._files:02d}-{name}.json"
        path.write_text(json.dumps(content))
        return str(path)

    def run(
        self,
        verb: str,
        config: Optional[Mapping[str, Any]] = None,
        catalog: Optional[Mapping[str, Any]] = None,
        state: Optional[Sequence[Mapping[str, Any]]] = None,
    ) -> ConnectorRun:
        """Runs one command; every run also asserts that the pin never reaches the output."""
        args = [connector_executable(), verb]
        if config is not None:
            args += ["--config", self._write("config", config)]
        if catalog is not None:
            args += ["--catalog", self._write("catalog", catalog)]
        if state is not None:
            args += ["--state", self._write("state", list(state))]
        completed = subprocess.run(args, capture_output=True, text=True, timeout=CONNECTOR_TIMEOUT_SECONDS, check=False)
        pin = (config or {}).get("pin_code")
        if pin:
            assert pin not in completed.stdout and pin not in completed.stderr, f"`{verb}` printed the pin code"
        messages = [json.loads(line) for line in completed.stdout.splitlines() if line.startswith("{")]
        return ConnectorRun(args, completed.returncode, messages, completed.stderr)


@pytest.fixture
def connector(tmp_path: Path) -> Connector:
    return Connector(tmp_path)


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


@pytest.fixture(scope="session")
def acceptance_simulator() -> Iterator[AvidTrakSimulator]:
    """The simulator the acceptance configs name: 127.0.0.1 on a fixed port."""
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", ACCEPTANCE_SIMULATOR_PORT)) == 0:
            pytest.fail(
                f"127.0.0.1:{ACCEPTANCE_SIMULATOR_PORT} is already in use, and the configs in "
                "integration_tests/configs/ point there. Stop what listens on it (a simulator left running?)."
            )
    clients = {"client-a": "sim-client-pin-a", "client-b": "sim-client-pin-b"}  # configs/agency_config.json
    with AvidTrakSimulator(pins=(PIN,), port=ACCEPTANCE_SIMULATOR_PORT, clients=clients) as simulator:
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
