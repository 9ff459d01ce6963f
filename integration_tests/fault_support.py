"""Shared tools for the fault, bad-config, secrets and resume tests.

- `RecordingSleep`: a stand-in for the `time` module the CDK's retry handlers sleep
  through (`rate_limiting.time.sleep(backoff + 1)` and the `backoff` library's own
  `time.sleep`). It records every wait instead of waiting. Only those two module
  attributes are patched: the simulator stalls with real waits in its own threads.
  `SkippingTime` (unit_tests/skipping_time.py): the rate budget's clock and sleep (sync.Timing); a sleep returns at once
  and moves the clock on by its length, so pauses and pacing cost no wall time.
- `FAULTS`: the fault matrix (simulator fault -> what the error names -> the waits asked).
- Builders for configs, catalogs and states, and `check`/`read` over the CDK's
  in-process entrypoint.
- `connector`: the connector in this process (connector_runner) with NOW and FAST_POLICY.
  `run_connector`: a real subprocess. `launcher=False` runs the installed
  `source-avidtrak` command; `launcher=True` runs this module, which calls the CDK's
  `launch` with a small RetryPolicy, no real waits and the tests' frozen clock (NOW).
- `WindowFailingProxy`: a real HTTP proxy in front of the simulator that answers 503
  for the windows it is told to fail (the simulator's faults narrow by report and page,
  not by date).
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time as real_time
import urllib.error
import urllib.request
from dataclasses import asdict
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence
from urllib.parse import parse_qs, urlsplit

from airbyte_cdk.entrypoint import launch
from airbyte_cdk.models import (
    AirbyteStateMessage,
    ConfiguredAirbyteCatalog,
    ConfiguredAirbyteCatalogSerializer,
    SyncMode,
)
from airbyte_cdk.test.catalog_builder import CatalogBuilder, ConfiguredAirbyteStreamBuilder
from airbyte_cdk.test.entrypoint_wrapper import EntrypointOutput, make_file, read
from airbyte_cdk.test.state_builder import StateBuilder

from integration_tests.connector_runner import (
    Connector,
    ConnectorRun,
    connector_executable,
    process_env,
    run_process,
)
from source_avidtrak.cursor import STATE_INTERVAL_SECONDS
from source_avidtrak.errors import RetryPolicy
from source_avidtrak.source import SourceAvidtrak
from unit_tests.cdk_test_kit import patch_retry_sleeps
from unit_tests.cdk_test_kit import run_check as cdk_run_check
from unit_tests.skipping_time import SkippingTime

PIN = "PIN-Zq9-leak-canary"
NOW = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)
GEO = "geographical_data"
OFFLINE = "offline_portal_calls"
# Small enough that a persistent fault ends in about a second, large enough to see the
# exponential sequence: waits of 0.5, 1.0 (plus the CDK's extra second each).
FAST_POLICY = RetryPolicy(
    max_retries=2,
    max_time_seconds=30,
    base_seconds=0.5,
    cap_seconds=5.0,
    retry_after_floor_seconds=1.0,
    connect_timeout_seconds=1.0,
    read_timeout_seconds=0.3,
)
# kind -> (fault parameters, text the error names, waits the CDK asks for on the 1st and 2nd retry)
EXPONENTIAL = [FAST_POLICY.base_seconds + 1, 2 * FAST_POLICY.base_seconds + 1]
FAULTS = {
    "http_500": ({"kind": "http_status", "status": 500}, "HTTP 500", EXPONENTIAL),
    "http_502": ({"kind": "http_status", "status": 502}, "HTTP 502", EXPONENTIAL),
    "http_503": ({"kind": "http_status", "status": 503}, "HTTP 503", EXPONENTIAL),
    "http_504": ({"kind": "http_status", "status": 504}, "HTTP 504", EXPONENTIAL),
    "http_408": ({"kind": "http_status", "status": 408}, "HTTP 408", EXPONENTIAL),
    "http_429_retry_after_3": ({"kind": "rate_limit", "retry_after": "3"}, "HTTP 429", [4.0, 4.0]),
    "read_timeout": ({"kind": "timeout", "seconds": 5}, "ReadTimeout", EXPONENTIAL),
    "connection_reset": ({"kind": "reset"}, "ConnectionError", EXPONENTIAL),
    "html_page_http_200": ({"kind": "html"}, "not JSON", EXPONENTIAL),
    "html_page_http_502": ({"kind": "html", "status": 502}, "HTTP 502", EXPONENTIAL),
    "truncated_json": ({"kind": "truncated_json"}, "not JSON", EXPONENTIAL),
    "non_object_json": ({"kind": "non_object_json"}, "not an object", EXPONENTIAL),
    "data_not_a_list": ({"kind": "data_not_list"}, "'data' is str", EXPONENTIAL),
}
LAUNCHER_POLICY_ENV = "AVIDTRAK_TEST_RETRY_POLICY"
LAUNCHER_NOW_ENV = "AVIDTRAK_TEST_NOW"
LAUNCHER_STATE_INTERVAL_ENV = "AVIDTRAK_TEST_STATE_INTERVAL_SECONDS"
REPO = Path(__file__).resolve().parent.parent


class RecordingSleep(SimpleNamespace):
    """Quacks like the `time` module for the retry handlers; `sleep` only records."""

    def __init__(self) -> None:
        super().__init__(waits=[])

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)

    def __getattr__(self, name: str) -> Any:
        return getattr(real_time, name)

    @property
    def backoffs(self) -> List[float]:
        """The waits the CDK asked for on our behalf (backoff + 1); the backoff library's 0s dropped."""
        return [seconds for seconds in self.waits if seconds]


def install_recording_sleep(monkeypatch: Any) -> RecordingSleep:
    sleeper = RecordingSleep()
    patch_retry_sleeps(monkeypatch, sleeper)
    return sleeper


def source(policy: RetryPolicy = FAST_POLICY, waits: Optional[SkippingTime] = None) -> SourceAvidtrak:
    """The connector on the tests' clock (NOW) and `policy`; its rate budget waits on `waits`."""
    return SourceAvidtrak(clock=lambda: NOW, retry_policy=policy, timing=(waits or SkippingTime()).timing())


def connector(workdir: Path, policy: RetryPolicy = FAST_POLICY) -> Connector:
    """The connector in this process, on the tests' clock (NOW) with `policy`."""
    return Connector(workdir, lambda: source(policy))


def config(
    base_url: str,
    *,
    pin: str = PIN,
    reports: Sequence[str] = (GEO,),
    first: str = "2026-11-01",
    last: str = "2026-11-03",
    **overrides: Any,
) -> Dict[str, Any]:
    duration = {
        "mode": "date_range",
        "date_from": {"mode": "specific", "specific_date_from": first},
        "date_to": {"mode": "specific", "specific_date_to": last},
    }
    settings = {"pin_code": pin, "base_url": base_url, "reports": list(reports), "duration": duration}
    settings.update(num_workers=1, window_days=1, lookback_days=1)
    settings.update(overrides)
    return settings


def catalog(*streams: str, sync_mode: SyncMode = SyncMode.incremental) -> ConfiguredAirbyteCatalog:
    builder = CatalogBuilder()
    for name in streams or (GEO,):
        stream = ConfiguredAirbyteStreamBuilder().with_name(name).with_sync_mode(sync_mode)
        builder.with_stream(stream.with_primary_key([["account"], ["call_id"]]))
    return builder.build()


def state(**call_dates: str) -> List[AirbyteStateMessage]:
    builder = StateBuilder()
    for name, call_date in call_dates.items():
        builder.with_stream_state(name, {"call_date": call_date})
    return builder.build()


def run_read(
    connector: SourceAvidtrak,
    settings: Mapping[str, Any],
    configured: Optional[ConfiguredAirbyteCatalog] = None,
    states: Optional[List[AirbyteStateMessage]] = None,
) -> EntrypointOutput:
    return read(connector, settings, configured or catalog(), states, expecting_exception=True)


def run_check(connector: SourceAvidtrak, settings: Mapping[str, Any], tmp_path: Path) -> EntrypointOutput:
    """The CDK's test wrapper has `read` and `discover` but no `check`: its runner, as they use it."""
    config_file = make_file(tmp_path / "check_config.json", dict(settings))
    return cdk_run_check(connector, config_file)


def call_ids(output: EntrypointOutput, stream: str = GEO) -> List[str]:
    return [message.record.data["call_id"] for message in output.records if message.record.stream == stream]


def last_error(output: EntrypointOutput) -> Any:
    assert output.errors, "expected a TRACE error"
    return output.errors[-1].trace.error


def state_values(output: EntrypointOutput, stream: str = GEO, account: str = "main") -> List[Optional[str]]:
    """Each STATE's cursor (call_date) for `account`; None where it has none."""
    values = []
    for message in output.state_messages:
        if message.state.stream.stream_descriptor.name == stream:
            entries = message.state.stream.stream_state.__dict__.get("states", [])
            cursors = {entry["partition"]["account"]: entry["cursor"].get("call_date") for entry in entries}
            values.append(cursors.get(account))
    return values


# --- the connector as a subprocess ---------------------------------------------------

Completed = ConnectorRun  # what a process run gives; connector_runner has the in-process twin


def connector_command(launcher: bool) -> List[str]:
    return [sys.executable, "-m", "integration_tests.fault_support"] if launcher else [connector_executable()]


def connector_env(policy: RetryPolicy = FAST_POLICY, state_interval_seconds: Optional[float] = None) -> Dict[str, str]:
    env = {LAUNCHER_POLICY_ENV: json.dumps(asdict(policy)), LAUNCHER_NOW_ENV: NOW.isoformat()}
    if state_interval_seconds is not None:
        env[LAUNCHER_STATE_INTERVAL_ENV] = str(state_interval_seconds)
    return process_env(env)


def write_args(
    tmp_path: Path,
    command: str,
    settings: Mapping[str, Any],
    configured: Optional[ConfiguredAirbyteCatalog] = None,
    states: Optional[Iterable[Mapping[str, Any]]] = None,
    debug: bool = False,
) -> List[str]:
    """The CLI arguments for `command`, its files written under tmp_path."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    args = [command, "--config", make_file(tmp_path / "config.json", dict(settings))]
    if command == "read":
        args += [
            "--catalog",
            make_file(tmp_path / "catalog.json", ConfiguredAirbyteCatalogSerializer.dump(configured or catalog())),
        ]
        if states is not None:
            args += ["--state", make_file(tmp_path / "state.json", list(states))]
    if debug:
        args.append("--debug")
    return args


def run_connector(args: List[str], *, launcher: bool = False) -> ConnectorRun:
    return run_process(connector_command(launcher), args, connector_env())


class _ProcessWide:
    """setattr without undo, for the launcher process (pytest's monkeypatch undoes at teardown)."""

    def setattr(self, target: Any, name: str, value: Any) -> None:
        setattr(target, name, value)


def launch_with_policy(argv: List[str]) -> None:
    """`python -m integration_tests.fault_support read --config ...`: the CDK's `launch`, fast retries."""
    policy = RetryPolicy(**json.loads(os.environ.get(LAUNCHER_POLICY_ENV) or json.dumps(asdict(FAST_POLICY))))
    sleeper = RecordingSleep()
    patch_retry_sleeps(_ProcessWide(), sleeper)  # this process only runs the connector once
    now = datetime.fromisoformat(os.environ.get(LAUNCHER_NOW_ENV) or NOW.isoformat())
    interval = float(os.environ.get(LAUNCHER_STATE_INTERVAL_ENV) or STATE_INTERVAL_SECONDS)
    launch(SourceAvidtrak(clock=lambda: now, retry_policy=policy, timing=SkippingTime().timing(interval)), argv)


# --- a proxy that fails chosen windows -------------------------------------------------


class WindowFailingProxy:
    """Forwards every request to `upstream`, except API requests whose `startdate` day is
    in `failing_days`: those get HTTP 503 every time (a window that keeps failing)."""

    def __init__(self, upstream: str, failing_days: Iterable[date]) -> None:
        self.upstream = upstream.rstrip("/")
        self.failing = {f"{day.isoformat()} 00:00:00" for day in failing_days}
        self.failed_requests = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.01,), daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> WindowFailingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _handler_class(self) -> type:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                """Silent."""

            def do_GET(self) -> None:
                query = parse_qs(urlsplit(self.path).query)
                if query.get("startdate", [""])[0] in proxy.failing:
                    with proxy._lock:
                        proxy.failed_requests += 1
                    self._reply(503, b"Service Unavailable", "text/plain")
                    return
                try:
                    with urllib.request.urlopen(proxy.upstream + self.path, timeout=10) as upstream:
                        self._reply(upstream.status, upstream.read(), upstream.headers.get("Content-Type", ""))
                except urllib.error.HTTPError as error:
                    self._reply(error.code, error.read(), error.headers.get("Content-Type", ""))

            def _reply(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler


if __name__ == "__main__":
    launch_with_policy(sys.argv[1:])
