"""The pin code never leaves the connector: not in stdout, stderr, logs or traces.

The pin travels in every request URL (the API's only credential), URL-encoded. Every
scenario of the fault, bad-row and bad-config tests runs here with a distinctive pin, and
with one whose URL-encoded forms differ from it; the whole output is searched for the pin,
its encoded forms and a distinctive fragment, as raw text and as decoded JSON strings.

Every scenario runs in this process (the CDK's entrypoint, `--debug` ones too), its
output searched as the connector process would print it, with every log record at DEBUG;
one run of the console script with `--debug` covers what only a real process does (the
CDK's uncaught-exception hook as installed, anything written to stderr).
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
from typing import Any, Iterable, List
from urllib.parse import quote, quote_plus

import orjson
import pytest
from airbyte_cdk.logger import AirbyteLogFormatter
from airbyte_cdk.models import AirbyteMessageSerializer
from airbyte_cdk.test.mock_http import HttpMocker, HttpRequest, HttpResponse

from integration_tests.connector_runner import Connector, ConnectorRun
from integration_tests.fault_support import (
    FAULTS,
    GEO,
    OFFLINE,
    catalog,
    config,
    connector,
    install_recording_sleep,
    last_error,
    run_check,
    run_read,
    source,
)
from integration_tests.simulator import AvidTrakSimulator, Fault

PINS = {
    "canary": ("PIN-Zq9-leak-canary", ["Zq9-leak"]),
    "url_encoding": ("p@ss word/+", ["ss word", "ss+word", "ss%20word", "p%40ss", "word%2F"]),
}
REJECTED_CLIENT_PIN = ("p@ss word/+ rejected", [])  # searched for beside either pin case
OTHER_PIN = "the-valid-pin-is-another"


def leak_forms(pin: str, fragments: List[str]) -> List[str]:
    return sorted({pin, quote(pin, safe=""), quote_plus(pin), quote(pin), json.dumps(pin)[1:-1], *fragments})


def strings_in(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from strings_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings_in(item)


def assert_no_leak(text: str, pin_case: str) -> None:
    assert_none_of(text, *PINS[pin_case])


def assert_none_of(text: str, pin: str, fragments: List[str]) -> None:
    """Searches the raw text, and every string of every JSON line decoded (escapes undone)."""
    decoded = []
    for line in text.splitlines():
        with contextlib.suppress(ValueError):  # not a JSON line: the raw search covers it
            decoded.extend(strings_in(json.loads(line)))
    haystack = text + "\n" + "\n".join(decoded)
    for form in leak_forms(pin, fragments):
        at = haystack.find(form)
        assert at < 0, f"{form!r} leaked: ...{haystack[max(0, at - 150) : at + 50]}..."


@pytest.fixture(params=sorted(PINS))
def pin_case(request) -> str:
    return request.param


@pytest.fixture
def pin(pin_case) -> str:
    return PINS[pin_case][0]


@pytest.fixture
def sim(pin):
    with AvidTrakSimulator(pins=(pin,), empty_day_ratio=0.0) as simulator:
        yield simulator


class Captured(list):
    """The in-process outputs of a test, and everything else the process printed or logged."""

    def __init__(self, capfd, caplog, pin_case: str) -> None:
        super().__init__()
        self._capfd, self._caplog, self._pin_case = capfd, caplog, pin_case

    def run(self, workdir, verb: str, *inputs: Any, debug: bool = False) -> ConnectorRun:
        """A command as the console script runs it, in this process (FAST_POLICY, NOW); its output kept."""
        run = connector(workdir).run(verb, *inputs, debug=debug)
        self.append(run)
        return run

    def assert_no_leak(self) -> None:
        formatter = AirbyteLogFormatter()  # as the connector process formats its log records
        texts = [
            o.output
            if isinstance(o, ConnectorRun)
            else "\n".join(orjson.dumps(AirbyteMessageSerializer.dump(m)).decode() for m in o.get_message_iterator())
            for o in self
        ]
        texts += [formatter.format(record) for record in self._caplog.records]
        out, err = self._capfd.readouterr()
        assert_no_leak("\n".join(texts + [out, err]), self._pin_case)


@pytest.fixture
def captured(monkeypatch, capfd, caplog, pin_case) -> Captured:
    install_recording_sleep(monkeypatch)
    caplog.set_level(logging.DEBUG)
    return Captured(capfd, caplog, pin_case)


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


# --- in process: every scenario ----------------------------------------------------------


def test_given_successful_sync_of_both_reports_then_pin_nowhere(sim, pin, captured):
    captured.append(
        run_read(source(), config(sim.base_url, pin=pin, reports=(GEO, OFFLINE), num_workers=2), catalog(GEO, OFFLINE))
    )
    assert captured[0].records and not captured[0].errors
    captured.assert_no_leak()


@pytest.mark.parametrize("name", FAULTS)
def test_given_persistent_fault_then_pin_nowhere(sim, pin, captured, name):
    params = dict(FAULTS[name][0])
    sim.add_fault(Fault(params.pop("kind"), times=None, **params))
    captured.append(run_read(source(), config(sim.base_url, pin=pin, last="2026-11-01")))
    assert captured[0].errors
    captured.assert_no_leak()


@pytest.mark.parametrize("name", ["http_503", "read_timeout", "connection_reset"])
def test_given_single_fault_then_pin_nowhere(sim, pin, captured, name):
    params = dict(FAULTS[name][0])
    sim.add_fault(Fault(params.pop("kind"), times=1, **params))
    captured.append(run_read(source(), config(sim.base_url, pin=pin, last="2026-11-01")))
    assert captured[0].records and not captured[0].errors
    captured.assert_no_leak()


@pytest.mark.parametrize(
    "code, status",
    [(404, "Invalid Request Method"), (6, "Invalid Response Format"), (99, "Odd"), (3, "Authentication Required")],
)
def test_given_error_envelope_then_pin_nowhere(sim, pin, captured, code, status):
    sim.add_fault(Fault("envelope", times=None, code=code, status=status))
    captured.append(run_read(source(), config(sim.base_url, pin=pin, last="2026-11-01")))
    assert captured[0].errors
    captured.assert_no_leak()


def test_given_wrong_pin_then_pin_nowhere_in_read_or_check(pin, captured, tmp_path):
    with AvidTrakSimulator(pins=(OTHER_PIN,)) as other_account:
        captured.append(
            run_read(source(), config(other_account.base_url, pin=pin, reports=(GEO, OFFLINE)), catalog(GEO, OFFLINE))
        )
        captured.append(run_check(source(), config(other_account.base_url, pin=pin), tmp_path))
    assert captured[0].errors and captured[1].connection_status_messages
    captured.assert_no_leak()


def test_given_avidtrak_down_then_pin_nowhere_in_read_or_check(pin, captured, tmp_path):
    down = closed_port_url()
    captured.append(run_read(source(), config(down, pin=pin)))
    captured.append(run_check(source(), config(down, pin=pin), tmp_path))
    assert captured[0].errors and captured[1].connection_status_messages
    captured.assert_no_leak()


def test_given_persistent_503_when_check_then_pin_nowhere(sim, pin, captured, tmp_path):
    sim.add_fault(Fault("http_status", times=None, status=503))
    captured.append(run_check(source(), config(sim.base_url, pin=pin), tmp_path))
    assert captured[0].connection_status_messages
    captured.assert_no_leak()


@pytest.mark.parametrize(
    "overrides",
    [
        {"base_url": "https://avidtrak.com/?pincode=PIN"},
        {"base_url": "https://avid trak.com"},
        {"timezone": "Mars/Olympus_Mons"},
        {"duration": {"mode": "single_date", "report_date": {"mode": "specific", "specific_date": "11/01/2026"}}},
        {"lookback_days": 31},
    ],
    ids=["pin_in_base_url_query", "space_in_host", "unknown_zone", "schema_rejected_date", "schema_bound"],
)
def test_given_invalid_config_then_pin_nowhere_in_read_or_check(sim, pin, captured, tmp_path, overrides):
    settings = config(sim.base_url, pin=pin)
    settings.update(
        {
            key: value.replace("PIN", quote_plus(pin)) if isinstance(value, str) else value
            for key, value in overrides.items()
        }
    )
    captured.append(run_read(source(), settings))
    captured.append(run_check(source(), settings, tmp_path))
    assert captured[0].errors and captured[1].errors  # check fails as read does: a config_error TRACE
    captured.assert_no_leak()


def test_given_rows_that_cannot_be_typed_then_pin_nowhere(pin, captured):
    base = "https://avidtrak.example"
    rows = [{"call_date": "soon", "duration": "12s"}]
    with HttpMocker() as http:
        http.get(
            HttpRequest(
                f"{base}/webservice/api.php",
                query_params={
                    "pincode": pin,
                    "method": OFFLINE,
                    "format": "json",
                    "startdate": "2026-11-01 00:00:00",
                    "enddate": "2026-11-01 23:59:59",
                    "use_paging": "TRUE",
                    "perpage": "500",
                    "page": "1",
                },
            ),
            HttpResponse(json.dumps({"code": 1, "status": "Success", "data": rows})),
        )
        captured.append(
            run_read(source(), config(base, pin=pin, reports=(OFFLINE,), last="2026-11-01"), catalog(OFFLINE))
        )
    assert captured[0].records
    captured.assert_no_leak()


# --- agency accounts: the pin of a client account ------------------------------------------

MAIN_PIN = "the-agency-main-pin"


def agency_config(base_url: str, client_pin: str, **overrides: Any) -> dict:
    clients = [{"name": "client-7", "pin_code": client_pin}, {"name": "client-8", "pin_code": "client-8-pin"}]
    return config(base_url, pin=MAIN_PIN, client_accounts=clients, **overrides)


@pytest.fixture
def agency_sim(pin):
    clients = {"client-7": pin, "client-8": "client-8-pin"}
    with AvidTrakSimulator(pins=(MAIN_PIN,), clients=clients, empty_day_ratio=0.0) as simulator:
        yield simulator


def test_given_agency_sync_then_no_client_pin_anywhere(agency_sim, pin, captured):
    captured.append(run_read(source(), agency_config(agency_sim.base_url, pin, num_workers=3)))

    assert {m.record.data["account"] for m in captured[0].records} == {"main", "client-7", "client-8"}
    assert not captured[0].errors
    captured.assert_no_leak()


def test_given_rejected_client_pin_then_pin_nowhere_in_read_or_check(pin, captured, tmp_path):
    with AvidTrakSimulator(pins=(MAIN_PIN,), clients={"client-8": "client-8-pin"}) as agency:
        captured.append(run_read(source(), agency_config(agency.base_url, pin)))
        captured.append(run_check(source(), agency_config(agency.base_url, pin), tmp_path))

    assert "AvidTrak rejected the pin code of account 'client-7'" in last_error(captured[0]).message
    assert "account 'client-7'" in captured[1].connection_status_messages[-1].connectionStatus.message
    captured.assert_no_leak()


def test_given_client_pin_not_text_when_check_then_config_error_without_the_value(pin, captured, tmp_path):
    settings = {
        **config("https://avidtrak.com", pin=pin),
        "client_accounts": [{"name": "client-7", "pin_code": 918273645}],
    }

    run = captured.run(tmp_path, "check", settings)

    assert run.errors[-1]["failure_type"] == "config_error"
    message = run.errors[-1]["message"]
    assert "Client account 1 ('client-7')" in message and "pin code must be text" in message
    assert "918273645" not in run.output
    captured.assert_no_leak()


# --- with --debug: request URLs are logged, and an uncaught error goes through the CDK's hook ---


def test_given_debug_when_an_agency_with_a_rejected_client_syncs_then_no_pin_anywhere(pin, captured, tmp_path):
    with AvidTrakSimulator(pins=(MAIN_PIN,), clients={"client-8": pin}) as agency:
        run = captured.run(tmp_path, "read", rejected_client_config(agency, pin), catalog(), debug=True)

    assert_rejected_client_sync(run)
    captured.assert_no_leak()
    assert_none_of(run.output, *REJECTED_CLIENT_PIN)


def rejected_client_config(agency: AvidTrakSimulator, pin: str) -> dict:
    """client-8's pin is accepted, client-7's rejected."""
    settings = agency_config(agency.base_url, REJECTED_CLIENT_PIN[0], last="2026-11-01")
    settings["client_accounts"][1]["pin_code"] = pin
    return settings


def assert_rejected_client_sync(run: ConnectorRun) -> None:
    assert run.returncode == 1 and run.errors[-1]["failure_type"] == "config_error", run.describe()
    assert "pincode=****" in run.stdout  # the request URLs are in the output, masked
    assert {record["data"]["account"] for record in run.records} == {"main", "client-8"}


def test_given_debug_when_the_console_script_syncs_an_agency_with_a_rejected_client_then_no_pin_anywhere(tmp_path):
    """The one process run: the CDK's exception hook and whatever else a real process writes, stderr included."""
    pin = PINS["url_encoding"][0]
    with AvidTrakSimulator(pins=(MAIN_PIN,), clients={"client-8": pin}) as agency:
        run = Connector(tmp_path, process=True).run("read", rejected_client_config(agency, pin), catalog(), debug=True)

    assert_rejected_client_sync(run)
    assert_no_leak(run.output, "url_encoding")
    assert_none_of(run.output, *REJECTED_CLIENT_PIN)


def test_given_debug_when_syncs_then_pin_nowhere_though_request_urls_are_logged(sim, pin, captured, tmp_path):
    run = captured.run(tmp_path, "read", config(sim.base_url, pin=pin, last="2026-11-01"), catalog(), debug=True)

    assert run.returncode == 0
    assert "Making outbound API request" in run.stdout and "pincode=****" in run.stdout
    captured.assert_no_leak()


def test_given_debug_and_wrong_pin_when_read_and_check_then_pin_nowhere(pin, captured, tmp_path):
    with AvidTrakSimulator(pins=(OTHER_PIN,)) as other_account:
        settings = config(other_account.base_url, pin=pin, last="2026-11-02")
        read = captured.run(tmp_path / "read", "read", settings, catalog(), debug=True)
        check = captured.run(tmp_path / "check", "check", settings, debug=True)

    assert read.returncode == 1 and read.errors[-1]["failure_type"] == "config_error"  # the uncaught-exception hook
    assert check.returncode == 0 and "rejected the pin code" in check.connection_status["message"]
    captured.assert_no_leak()


@pytest.mark.parametrize(
    "fault", [Fault("http_status", times=None, status=503), Fault("reset", times=None)], ids=["503", "reset"]
)
def test_given_debug_and_persistent_fault_when_read_then_pin_nowhere(sim, pin, captured, tmp_path, fault):
    sim.add_fault(fault)

    run = captured.run(tmp_path, "read", config(sim.base_url, pin=pin, last="2026-11-01"), catalog(), debug=True)

    assert run.returncode != 0 and run.errors[-1]["failure_type"] == "transient_error"
    captured.assert_no_leak()


def test_given_debug_and_avidtrak_down_when_read_and_check_then_pin_nowhere(pin, captured, tmp_path):
    settings = config(closed_port_url(), pin=pin, last="2026-11-01")

    read = captured.run(tmp_path / "read", "read", settings, catalog(), debug=True)
    check = captured.run(tmp_path / "check", "check", settings, debug=True)

    assert read.returncode != 0 and "ConnectionError" in read.stdout
    assert check.connection_status["status"] == "FAILED"
    captured.assert_no_leak()


def test_given_debug_and_invalid_config_when_read_then_pin_nowhere(pin, captured, tmp_path):
    settings = config(f"https://avidtrak.com/?pincode={quote_plus(pin)}", pin=pin)

    run = captured.run(tmp_path, "read", settings, catalog(), debug=True)

    assert run.returncode == 1 and run.errors[-1]["failure_type"] == "config_error"
    captured.assert_no_leak()
