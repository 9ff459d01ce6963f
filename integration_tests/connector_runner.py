"""The connector run as Airbyte runs it, in this process or as a process, with one result type.

`Connector.run` writes config, catalog and state to files and passes their paths, exactly
as the platform does. In-process (the default) it drives the CDK's `AirbyteEntrypoint`,
which the console script's `launch` drives too, and turns an uncaught exception into what
the CDK's exception hook prints (a FATAL log line, a TRACE error, exit status 1); log
lines are kept in order among the messages, formatted as the process formats them. With
`process=True` it runs the installed `source-avidtrak`: for the few tests that need a real
process (parity, signals, a closed stdout). Both give a `ConnectorRun`, so a test switches
with one argument; every run asserts that the config's pin codes never reach the output.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

import orjson
from airbyte_cdk.entrypoint import AirbyteEntrypoint
from airbyte_cdk.exception_handler import assemble_uncaught_exception
from airbyte_cdk.logger import AirbyteLogFormatter
from airbyte_cdk.models import (
    AirbyteMessageSerializer,
    AirbyteStateMessage,
    AirbyteStateMessageSerializer,
    ConfiguredAirbyteCatalog,
    ConfiguredAirbyteCatalogSerializer,
)
from airbyte_cdk.sources import Source
from airbyte_cdk.utils.airbyte_secrets_utils import filter_secrets

from source_avidtrak.source import SourceAvidtrak

PROCESS_TIMEOUT_SECONDS = 180
REPO = Path(__file__).resolve().parent.parent


def connector_executable() -> str:
    """The installed console script beside this interpreter (the venv's), else on PATH."""
    found = shutil.which("source-avidtrak", path=str(Path(sys.executable).parent)) or shutil.which("source-avidtrak")
    assert found, "`source-avidtrak` is not installed: run `pip install -e .` in this virtualenv first."
    return found


def process_env(extra: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    """This environment, with the repository importable and without a LOG_LEVEL that would add debug lines."""
    env = {**os.environ, **(extra or {})}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.pop("LOG_LEVEL", None)
    return env


def parse_lines(text: str) -> List[Dict[str, Any]]:
    """Every stdout line is JSON (a message, or a `--debug` line); anything else fails the test."""
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@dataclass
class ConnectorRun:
    """One run of a command: exit status, its messages, stderr, and stdout as printed."""

    args: Sequence[str]
    returncode: int
    messages: List[Dict[str, Any]]
    stderr: str = ""
    stdout: str = ""

    @classmethod
    def of_output(cls, args: Sequence[str], returncode: int, stdout: str, stderr: str = "") -> ConnectorRun:
        return cls(list(args), returncode, parse_lines(stdout), stderr, stdout)

    def of_type(self, message_type: str) -> List[Dict[str, Any]]:
        return [message for message in self.messages if message.get("type") == message_type]

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
    def final_states(self) -> List[Dict[str, Any]]:
        """Each stream's last STATE message: what the platform hands the next sync."""
        latest = {state["stream"]["stream_descriptor"]["name"]: state for state in self.states}
        return list(latest.values())

    @property
    def errors(self) -> List[Dict[str, Any]]:
        return [message["trace"]["error"] for message in self.of_type("TRACE") if message["trace"]["type"] == "ERROR"]

    @property
    def logs(self) -> List[str]:
        return [message["log"]["message"] for message in self.of_type("LOG")]

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

    @property
    def output(self) -> str:
        """Everything the run wrote, stdout and stderr: what a leak search reads."""
        return self.stdout + "\n" + self.stderr

    def describe(self) -> str:
        """Exit status, errors and the output's tail: what a failed assertion should show."""
        return f"exit {self.returncode}; errors {self.errors}; output tail {self.output[-2000:]!r}"


class _Lines(logging.Handler):
    """Log records formatted as the connector process prints them, appended to its stdout lines."""

    def __init__(self, lines: List[str], level: int) -> None:
        super().__init__(level)
        self.lines = lines
        self.setFormatter(AirbyteLogFormatter())

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def run_in_process(source: Source, args: Sequence[str]) -> ConnectorRun:
    """`args` through the CDK's entrypoint, as `launch` runs them, and what the process would print."""
    lines: List[str] = []
    debug = "--debug" in args
    airbyte_logger = logging.getLogger("airbyte")
    handler = _Lines(lines, logging.DEBUG if debug else logging.INFO)
    # A fresh process starts at INFO (`--debug` lowers it); another test's `--debug` run may have left it lower.
    level = airbyte_logger.level
    airbyte_logger.setLevel(logging.INFO)
    logging.getLogger().addHandler(handler)
    returncode = 0
    try:
        entrypoint = AirbyteEntrypoint(source)
        for message in entrypoint.run(entrypoint.parse_args(list(args))):
            lines.append(message)
    except Exception as error:  # what the CDK's exception hook does in the process
        airbyte_logger.fatal(error, exc_info=error)
        trace = assemble_uncaught_exception(type(error), error).as_airbyte_message()
        lines.append(filter_secrets(orjson.dumps(AirbyteMessageSerializer.dump(trace)).decode()))
        returncode = 1
    finally:
        logging.getLogger().removeHandler(handler)
        airbyte_logger.setLevel(level)
    return ConnectorRun.of_output(args, returncode, "\n".join(lines))


def run_process(command: Sequence[str], args: Sequence[str], env: Optional[Mapping[str, str]] = None) -> ConnectorRun:
    completed = subprocess.run(
        [*command, *args],
        capture_output=True,
        text=True,
        timeout=PROCESS_TIMEOUT_SECONDS,
        check=False,
        env=dict(env) if env is not None else process_env(),
        cwd=str(REPO),
    )
    return ConnectorRun.of_output(args, completed.returncode, completed.stdout, completed.stderr)


def pins_of(config: Optional[Mapping[str, Any]]) -> List[str]:
    """The config's pin codes, the client accounts' included."""
    if not isinstance(config, Mapping):
        return []
    pins = [config.get("pin_code")]
    clients = config.get("client_accounts")
    if isinstance(clients, list):
        pins += [client.get("pin_code") for client in clients if isinstance(client, Mapping)]
    return [pin for pin in pins if isinstance(pin, str) and len(pin) >= 4]


def state_content(state: Any) -> Any:
    if isinstance(state, (list, tuple)):
        return [
            AirbyteStateMessageSerializer.dump(item) if isinstance(item, AirbyteStateMessage) else item
            for item in state
        ]
    return state


class Connector:
    """Runs `source-avidtrak <verb>` with its files written under `workdir`.

    `source` builds the in-process connector (the tests' clock and retry policy, say);
    `process=True` runs the installed console script instead, on the real clock.
    """

    def __init__(self, workdir: Path, source: Callable[[], Source] = SourceAvidtrak, *, process: bool = False) -> None:
        self._workdir = workdir
        self._source = source
        self.process = process
        self._files = 0

    def write(self, name: str, content: Any) -> str:
        """A file of the command's, `content` as JSON."""
        self._workdir.mkdir(parents=True, exist_ok=True)
        self._files += 1
        path = self._workdir / f"{self._files:02d}-{name}.json"
        path.write_text(json.dumps(content))
        return str(path)

    def run(
        self,
        verb: str,
        config: Optional[Any] = None,
        catalog: Optional[Any] = None,
        state: Optional[Any] = None,
        *,
        debug: bool = False,
    ) -> ConnectorRun:
        """Runs one command; `config`, `catalog` and `state` are written to files first."""
        args = [verb]
        if config is not None:
            args += ["--config", self.write("config", config)]
        if catalog is not None:
            if isinstance(catalog, ConfiguredAirbyteCatalog):
                catalog = ConfiguredAirbyteCatalogSerializer.dump(catalog)
            args += ["--catalog", self.write("catalog", catalog)]
        if state is not None:
            args += ["--state", self.write("state", state_content(state))]
        if debug:
            args.append("--debug")
        run = self.run_args(args)
        for pin in pins_of(config):
            assert pin not in run.output, f"`{verb}` printed a pin code"
        return run

    def run_args(self, args: Sequence[str]) -> ConnectorRun:
        """Runs a command line whose files are already written."""
        if self.process:
            return run_process([connector_executable()], args)
        return run_in_process(self._source(), args)
